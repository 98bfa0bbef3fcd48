# Helpers for the `brix launch` CLI tests; source after lib.sh.
: "${BRIX_BUILD_DIR:?}"
WORKER=$BRIX_BUILD_DIR/brix-worker

# free_port: a TCP port nobody listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# no_process_left PATTERN: fails when a process whose command line matches PATTERN still runs.
no_process_left() {
  checks=$((checks + 1))
  local left
  for _ in $(seq 30); do
    left=$(pgrep -f -- "$1" | grep -vx "$$" || true)
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  fail "processes left matching '$1': $(ps -o pid,args -p "$(echo $left | tr ' ' ,)" 2>/dev/null)"
  pkill -KILL -f -- "$1" || true
}

# count_files GLOB: how many files match.
count_files() { compgen -G "$1" | wc -l; }

# have_files N GLOB: whether exactly N files match.
have_files() { [ "$(count_files "$2")" -eq "$1" ]; }

# expect_count WHAT ACTUAL EXPECTED
expect_count() { checks=$((checks + 1)); [ "$2" -eq "$3" ] || fail "$1: $2, expected $3"; }

# start_slurm: a private Slurm cluster (scripts/local-slurm.sh) for this test, stopped on exit.
# Skips (exit 77) with the reason when Slurm cannot run here.
start_slurm() {
  local rc=0
  slurm_dir=$(BRIX_SLURM_KILLWAIT=${BRIX_SLURM_KILLWAIT:-15} "$BRIX_SOURCE_DIR/scripts/local-slurm.sh" start 2>"$work/slurm.err") || rc=$?
  if [ "$rc" -eq 77 ]; then
    echo "SKIP: $(cat "$work/slurm.err")"
    exit 77
  fi
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: local Slurm did not start: $(cat "$work/slurm.err")" >&2
    exit 1
  fi
  trap '"$BRIX_SOURCE_DIR/scripts/local-slurm.sh" stop "$slurm_dir"; rm -rf "$work"' EXIT
  export SLURM_CONF=$slurm_dir/slurm.conf
}

# wait_job ID SECONDS: waits until the job left the queue; sets $job_state and $job_exit.
wait_job() {
  local id=$1 limit=$2 i state
  for i in $(seq $((limit * 5))); do
    state=$(squeue -h -j "$id" -o %T 2>/dev/null)
    [ -z "$state" ] && break
    sleep 0.2
  done
  job_state=$(scontrol show job "$id" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
  job_exit=$(scontrol show job "$id" | grep -o ' ExitCode=[0-9:]*' | cut -d= -f2)
  if [ -n "$(squeue -h -j "$id" -o %T 2>/dev/null)" ]; then
    fail "job $id still running after $limit s"
    scancel --signal=KILL --full "$id"
  fi
}
