#!/usr/bin/env bash
# A real Slurm cluster on this machine for brix's tests: a private munged, slurmctld and 4
# emulated nodes (n1..n4, multiple-slurmd mode) on loopback, all in one temporary directory.
# It installs nothing: `slurm-wlm` and `munge` come from scripts/packages.txt.
#
#   scripts/local-slurm.sh start [DIR]   starts everything; prints DIR (use DIR/env: SLURM_CONF)
#   scripts/local-slurm.sh stop DIR      cancels jobs, stops the daemons (TERM, then KILL by the
#                                        PIDs in their pid files) and removes DIR
# Environment: BRIX_SLURM_NODES (default 4), BRIX_SLURM_CPUS per node (default 8),
# BRIX_SLURM_PORT (controller port; nodes use the next ones; default: a free range).
# Exit codes: 0 ok, 77 cannot run here (not root, packages missing), 1 failed to start.
set -uo pipefail

die() { echo "local-slurm: $*" >&2; exit 1; }
skip() { echo "local-slurm: cannot run: $*" >&2; exit 77; }

# pids_of_dir DIR: every process that inherited SLURM_CONF=DIR/slurm.conf (slurmstepd, job tasks).
pids_of_dir() {
  local conf="SLURM_CONF=$1/slurm.conf" p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "$conf" && echo "${p#/proc/}"
  done
}

# stop_pids NAME=PID...: SIGTERM to all at once, up to 5 s for all of them, then SIGKILL to the
# ones left; never waits forever (a slurmd without munge ignores SIGTERM).
stop_pids() {
  local entry pid left
  for entry in "$@"; do kill -TERM "${entry#*=}" 2>/dev/null; done
  for _ in $(seq 50); do
    left=0
    for entry in "$@"; do kill -0 "${entry#*=}" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && return 0
    sleep 0.1
  done
  for entry in "$@"; do
    pid=${entry#*=}
    if kill -0 "$pid" 2>/dev/null; then
      echo "local-slurm: ${entry%%=*} (pid $pid) ignored SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  done
}

stop() {
  local dir=$1 f pid
  [ -f "$dir/slurm.conf" ] || [ -d "$dir/munge" ] || die "stop: $dir is not a local-slurm directory"
  export SLURM_CONF=$dir/slurm.conf
  if [ -f "$dir/slurmctld.pid" ]; then
    timeout 5 scancel --quiet --full --user="$(id -un)" 2>/dev/null
  fi
  local daemons=()
  for f in "$dir"/slurmd-*.pid "$dir/slurmctld.pid"; do
    [ -f "$f" ] && daemons+=("$(basename "$f" .pid)=$(cat "$f")")
  done
  [ "${#daemons[@]}" -gt 0 ] && stop_pids "${daemons[@]}"
  # Job steps outlive slurmd (slurmstepd and their tasks): stop them by their inherited SLURM_CONF.
  for pid in $(pids_of_dir "$dir"); do
    kill -KILL "$pid" 2>/dev/null
  done
  [ -f "$dir/munge/munged.pid" ] && stop_pids "munged=$(cat "$dir/munge/munged.pid")"
  case "$dir" in /tmp/brix-slurm.*) rm -rf "$dir" ;; esac
}

free_port_base() {
  # A range of nodes+1 ports no socket uses (listening or connected: a port held by a connection
  # cannot be bound either), from a random start below the kernel's ephemeral range
  # (/proc/sys/net/ipv4/ip_local_port_range), where outgoing connections of earlier tests sit.
  local count=$1 base p used low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 50); do
    base=$((10000 + RANDOM % (low - 10000 - count - 1)))
    used=0
    for p in $(seq "$base" $((base + count))); do
      ss -Htan "sport = :$p" 2>/dev/null | grep -q . && used=1
    done
    [ "$used" = 0 ] && { echo "$base"; return; }
  done
  die "no free port range found"
}

start() {
  [ "$(id -u)" = 0 ] || skip "slurmd must run as root (this is uid $(id -u))"
  local tool
  for tool in munged munge unmunge slurmctld slurmd sbatch srun scontrol sinfo squeue runuser; do
    command -v "$tool" >/dev/null || skip "'$tool' is not installed (scripts/packages.txt: slurm-wlm munge)"
  done
  id munge >/dev/null 2>&1 || skip "no 'munge' user (is the munge package installed?)"
  [ -r /etc/munge/munge.key ] || skip "no /etc/munge/munge.key"

  local nodes=${BRIX_SLURM_NODES:-4} cpus=${BRIX_SLURM_CPUS:-8}
  local dir=${1:-$(mktemp -d /tmp/brix-slurm.XXXXXX)}
  mkdir -p "$dir" && chmod 755 "$dir"
  local base=${BRIX_SLURM_PORT:-$(free_port_base "$nodes")}

  # A private munged: its own socket, so runs do not share (or stop) another one.
  mkdir -p "$dir/munge" && chown munge:munge "$dir/munge" && chmod 755 "$dir/munge"
  runuser -u munge -- munged --socket="$dir/munge/socket" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed" \
    || { echo "local-slurm: munged: $(tail -1 "$dir/munge/munged.log" 2>/dev/null)" >&2; stop "$dir"; die "munged failed to start"; }
  local ok=0
  for _ in $(seq 50); do
    munge -S "$dir/munge/socket" -n 2>/dev/null | unmunge -S "$dir/munge/socket" >/dev/null 2>&1 && { ok=1; break; }
    sleep 0.1
  done
  [ "$ok" = 1 ] || { stop "$dir"; die "munge -n | unmunge fails with the private munged"; }

  mkdir -p "$dir/state" "$dir/spool"
  chown slurm:slurm "$dir/state" 2>/dev/null || true
  local host
  host=$(hostname)
  {
    echo "ClusterName=brixtest"
    echo "SlurmctldHost=localhost"
    echo "SlurmctldPort=$base"
    echo "SlurmUser=root"
    echo "AuthType=auth/munge"
    echo "CredType=cred/munge"
    echo "AuthInfo=socket=$dir/munge/socket"
    echo "MpiDefault=none"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "SchedulerType=sched/backfill"
    echo "AccountingStorageType=accounting_storage/none"
    echo "JobAcctGatherType=jobacct_gather/none"
    echo "JobCompType=jobcomp/none"
    echo "StateSaveLocation=$dir/state"
    echo "SlurmdSpoolDir=$dir/spool/%n"
    echo "SlurmctldPidFile=$dir/slurmctld.pid"
    echo "SlurmdPidFile=$dir/slurmd-%n.pid"
    echo "SlurmctldLogFile=$dir/slurmctld.log"
    echo "SlurmdLogFile=$dir/slurmd-%n.log"
    echo "SlurmdParameters=config_overrides"
    echo "ReturnToService=2"
    echo "SlurmdTimeout=10"
    echo "InactiveLimit=0"
    echo "KillWait=${BRIX_SLURM_KILLWAIT:-10}"
    echo "MinJobAge=300"
    echo "MailProg=/bin/true"
    local i
    for i in $(seq "$nodes"); do
      echo "NodeName=n$i NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + i)) CPUs=$cpus RealMemory=4000 State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  } >"$dir/slurm.conf"
  echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env"
  export SLURM_CONF=$dir/slurm.conf

  slurmctld -i || { stop "$dir"; die "slurmctld failed: $(tail -5 "$dir/slurmctld.log")"; }
  for i in $(seq "$nodes"); do
    slurmd -N "n$i" || { stop "$dir"; die "slurmd n$i failed: $(tail -5 "$dir/slurmd-n$i.log")"; }
  done
  # Nodes register within a second or two; a slurmd that died on the way (its log says why) is
  # started once more after 10 s, and the controller is asked to ping the nodes again.
  local waited restarted=0 pid
  for waited in $(seq 600); do
    if [ "$(sinfo -h -o '%t' 2>/dev/null | sort -u | tr -d ' \n')" = idle ]; then
      echo "$dir"
      return 0
    fi
    if [ "$waited" = 100 ] && [ "$restarted" = 0 ]; then
      restarted=1
      for i in $(seq "$nodes"); do
        pid=$(cat "$dir/slurmd-n$i.pid" 2>/dev/null)
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
          echo "local-slurm: slurmd n$i is not running ($(tail -1 "$dir/slurmd-n$i.log" 2>/dev/null)); starting it again" >&2
          slurmd -N "n$i" || true
        fi
      done
      scontrol update NodeName=ALL State=RESUME >/dev/null 2>&1 || true
    fi
    sleep 0.1
  done
  echo "local-slurm: nodes did not become idle within 60 s:" >&2
  sinfo >&2
  for i in $(seq "$nodes"); do
    echo "--- slurmd n$i (pid file: $(cat "$dir/slurmd-n$i.pid" 2>/dev/null || echo none)):" >&2
    tail -5 "$dir/slurmd-n$i.log" >&2 2>/dev/null
  done
  echo "--- slurmctld:" >&2
  tail -8 "$dir/slurmctld.log" >&2 2>/dev/null
  stop "$dir"
  exit 1
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) [ -n "${2:-}" ] || die "usage: $0 stop DIR"; stop "$2" ;;
*) echo "usage: $0 start [DIR] | stop DIR" >&2; exit 2 ;;
esac
