#!/usr/bin/env bash
# Distributed training through torch DDP (mmengine's 'pytorch' launcher).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py options]
# On a CPU-only machine the processes use the gloo backend; with GPUs, one
# process per GPU uses nccl. Multi-node: set NNODES, NODE_RANK, MASTER_ADDR.
set -euo pipefail
CONFIG=$1
NPROCS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
exec "$PY" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$NPROCS" \
  tools/train.py "$CONFIG" --launcher pytorch "$@"
