#!/usr/bin/env bash
# Training on a slurm cluster (one task per GPU):
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   [SIGNAL=USR1@120] [RESUBMITS=3] [REQUEUE=0] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py options]
# A WORK_DIR that starts with "-" is taken as the first train.py option.
#
# Preemption (docs/train_test.md, "Preemption and time limits"): srun asks slurm to send
# SIGNAL to every task that long before the time limit (empty: not at all); train.py then
# finishes its iteration, saves a checkpoint and exits with 75. A USR1 or TERM sent to this
# script is passed on to srun (and so to the tasks). On exit status 75:
#   - REQUEUE=1 inside a batch job (submitted with `sbatch --requeue`): `scontrol requeue`
#     puts the job back in the queue; when it runs again (SLURM_RESTART_COUNT > 0) this
#     script adds --resume;
#   - otherwise srun runs again with --resume, at most RESUBMITS times.
# Any other exit status ends the script with that status.
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py options]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
WORK_DIR_ARGS=()
if [ "$#" -gt 0 ] && [[ "$1" != -* ]]; then
    WORK_DIR_ARGS=(--work-dir "$1")
    shift 1
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
SIGNAL=${SIGNAL-USR1@120}
RESUBMITS=${RESUBMITS:-3}
REQUEUE=${REQUEUE:-0}
PREEMPTED=75  # train.py's exit status after a stop signal and a saved checkpoint
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)
SIGNAL_ARGS=()
if [ -n "$SIGNAL" ]; then
    SIGNAL_ARGS=(--signal="$SIGNAL")
fi
RESUME_ARGS=()
if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then
    RESUME_ARGS=(--resume)  # a requeued job continues from its newest checkpoint
fi

run_srun() {
    # srun in the background, so that a signal to this script reaches it at once
    # shellcheck disable=SC2086  # SRUN_ARGS holds several words on purpose
    PYTHONPATH="${TOOLS_DIR}/..${PYTHONPATH:+:$PYTHONPATH}" \
    srun -p "$PARTITION" \
        --job-name="$JOB_NAME" \
        --gres=gpu:"$GPUS_PER_NODE" \
        --ntasks="$GPUS" \
        --ntasks-per-node="$GPUS_PER_NODE" \
        --cpus-per-task="$CPUS_PER_TASK" \
        --kill-on-bad-exit=1 \
        "${SIGNAL_ARGS[@]}" \
        ${SRUN_ARGS} \
        "${PYTHON:-python}" -u "${TOOLS_DIR}/train.py" "$CONFIG" "${WORK_DIR_ARGS[@]}" \
        --launcher slurm "$@" "${RESUME_ARGS[@]}" &
    SRUN_PID=$!
    trap 'kill -USR1 "$SRUN_PID" 2>/dev/null || true' USR1
    trap 'kill -TERM "$SRUN_PID" 2>/dev/null || true' TERM
    while kill -0 "$SRUN_PID" 2>/dev/null; do
        wait "$SRUN_PID" || true  # returns early when a trapped signal arrives
    done
    STATUS=0
    wait "$SRUN_PID" || STATUS=$?
    trap - USR1 TERM
}

attempt=0
while true; do
    run_srun "$@"
    if [ "$STATUS" -ne "$PREEMPTED" ]; then
        exit "$STATUS"
    fi
    echo "slurm_train.sh: training stopped on a signal after saving a checkpoint" >&2
    if [ "$REQUEUE" = 1 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
        echo "slurm_train.sh: requeueing job $SLURM_JOB_ID; it resumes when it runs again" >&2
        scontrol requeue "$SLURM_JOB_ID"
        exit 0
    fi
    if [ "$attempt" -ge "$RESUBMITS" ]; then
        echo "slurm_train.sh: $RESUBMITS resubmission(s) done; continue with --resume" >&2
        exit "$STATUS"
    fi
    attempt=$((attempt + 1))
    echo "slurm_train.sh: resubmission $attempt of $RESUBMITS with --resume" >&2
    RESUME_ARGS=(--resume)
done
