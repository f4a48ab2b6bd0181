#!/usr/bin/env bash
# Training on a slurm cluster (one task per GPU):
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py options]
# A WORK_DIR that starts with "-" is taken as the first train.py option.
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
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

# shellcheck disable=SC2086  # SRUN_ARGS holds several words on purpose
PYTHONPATH="${TOOLS_DIR}/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "${PYTHON:-python}" -u "${TOOLS_DIR}/train.py" "$CONFIG" "${WORK_DIR_ARGS[@]}" \
    --launcher slurm "$@"
