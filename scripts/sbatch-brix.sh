#!/usr/bin/env bash
# sbatch-brix.sh: run a multi-node job under Slurm with `brix launch`. Copy it next to your
# training script and adapt the #SBATCH lines. Everything after the script name goes to
# `brix launch`: its options, then `--`, then the command every worker runs.
#
#   sbatch -N 4 --gpus-per-node=8 sbatch-brix.sh --nproc-per-node 8 -- python train.py --cfg x
#   sbatch -N 2 sbatch-brix.sh --nproc-per-node 4 --max-restarts 2 -- brix-worker train
#
# What it does: one `brix launch` agent per node (srun --ntasks-per-node=1). Node 0's agent
# hosts the rendezvous (port 29400); every worker gets torchrun's environment (RANK, WORLD_SIZE,
# MASTER_ADDR, MASTER_PORT=29500, ...), so PyTorch scripts run unchanged. Worker logs go to
# --log-dir (default $TMPDIR/brix-slurm-$SLURM_JOB_ID/attempt_N/rank_R.{out,err}).
#
# Signals: `scancel` and the time limit send SIGTERM; the agents forward it to every worker and
# SIGKILL what is left after --grace seconds (default 30). Keep --grace below Slurm's KillWait
# (ask `scontrol show config | grep KillWait`), or Slurm kills first. For a warning before the
# time limit, add `#SBATCH --signal=USR1@300`: USR1 reaches every worker 300 s before the end.
#
# Requeue: with `#SBATCH --requeue`, `scontrol requeue $SLURM_JOB_ID` restarts the job; brix
# launch sees SLURM_RESTART_COUNT.
#
#SBATCH --job-name=brix
#SBATCH --ntasks-per-node=1
#SBATCH --open-mode=append
set -euo pipefail

# The brix binary: on PATH, or set BRIX=/path/to/brix when submitting (sbatch exports it).
BRIX=${BRIX:-brix}

# A secret shared by this job's agents and workers: clients of the rendezvous store without it
# are refused. srun passes it on in the environment.
if [ -z "${BRIX_JOB_TOKEN:-}" ]; then
  BRIX_JOB_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  export BRIX_JOB_TOKEN
fi

# --kill-on-bad-exit: an agent that fails to start ends the step at once instead of leaving the
# others waiting for it until the rendezvous timeout.
# exec: scancel's SIGTERM to the batch shell reaches srun, which forwards it to the agents.
exec srun --ntasks-per-node=1 --kill-on-bad-exit=1 "$BRIX" launch "$@"
