#!/usr/bin/env bash
# Distributed training with torchrun:
#   bash tools/dist_train.sh CONFIG NPROC [train.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
# Elastic (a lost worker or node restarts the group, which resumes from the newest complete
# checkpoint in the work dir by itself): set NNODES=MIN:MAX (e.g. 1:4) and/or MAX_RESTARTS=N
# (default 3 when elastic), MASTER_ADDR:PORT is the c10d rendezvous endpoint (RDZV_ID names
# the job, the same on every node); NODE_RANK is not used then (the rendezvous assigns ranks).
# Without CUDA the processes use gloo on the CPU. PYTHON selects the interpreter.
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: bash $0 CONFIG NPROC [train.py options]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)
# torchrun passes these signals on to the training processes, which then save a checkpoint
# and stop (docs/train_test.md, "Preemption and time limits"); USR1 is slurm's early warning
export TORCHELASTIC_SIGNALS_TO_HANDLE=${TORCHELASTIC_SIGNALS_TO_HANDLE:-SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1}

if [[ "$NNODES" == *:* || -n "${MAX_RESTARTS:-}" ]]; then
    if ! [[ "${MAX_RESTARTS:-3}" =~ ^[0-9]+$ ]]; then
        echo "$0: MAX_RESTARTS must be a number of restarts (0, 1, ...), got '${MAX_RESTARTS}'" >&2
        exit 2
    fi
    # A fresh worker store per rendezvous round: torch shares one TCPStore across rounds
    # by default, and restarted gloo workers then read the addresses of the dead ones
    export TORCH_DISABLE_SHARE_RDZV_TCP_STORE=${TORCH_DISABLE_SHARE_RDZV_TCP_STORE:-1}
    NODE_ARGS=(--nnodes="$NNODES" --max-restarts="${MAX_RESTARTS:-3}"
               --rdzv-backend=c10d --rdzv-endpoint="$MASTER_ADDR:$PORT"
               --rdzv-id="${RDZV_ID:-fcn_mm}")
else
    NODE_ARGS=(--nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR"
               --master_port="$PORT")
fi

PYTHONPATH="${TOOLS_DIR}/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
    "${NODE_ARGS[@]}" \
    --nproc_per_node="$NPROC" \
    "${TOOLS_DIR}/train.py" "$CONFIG" --launcher pytorch "$@"
