#!/usr/bin/env bash
# Usage: bash tools/distill/dist_cache_teacher.sh CONFIG GPUS [cache_teacher.py args, e.g. --out DIR]
# Each rank writes its share of the images (rank r: images r, r + GPUS, ...).
# Multi-node: NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/distill/dist_cache_teacher.sh ...
# Without GPUs, GPUS is the number of CPU processes (gloo backend).
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/../..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    "$(dirname "$0")/cache_teacher.py" \
    $CONFIG \
    --launcher pytorch ${@:3}
