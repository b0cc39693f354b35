#!/usr/bin/env bash
# Train on a Slurm cluster, one task per GPU:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# GPUS is the total number of GPUs (tasks); GPUS_PER_NODE defaults to
# GPUS up to 8. SRUN_ARGS is split into words and passed to srun, e.g.
# SRUN_ARGS="--quotatype=auto". mmengine reads MASTER_PORT (default 29500).
set -euo pipefail

usage() {
    echo "usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...]" \
        "bash $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]" >&2
}
if [ $# -lt 4 ]; then
    usage
    exit 2
fi

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
check_count() {
    if ! [[ ${!1} =~ ^[1-9][0-9]*$ ]]; then
        echo "$0: $1 must be a positive integer, got '${!1}'" >&2
        usage
        exit 2
    fi
}
GPUS=${GPUS:-8}
check_count GPUS
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
check_count GPUS_PER_NODE
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
check_count CPUS_PER_TASK
SRUN_ARGS=${SRUN_ARGS:-}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

# SRUN_ARGS is meant to be split into words.
# shellcheck disable=SC2086
PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$TOOLS_DIR/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
    --launcher=slurm "${@:5}"
