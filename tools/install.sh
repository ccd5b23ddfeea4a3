#!/usr/bin/env bash
# Idempotent install of the pinned stack into ./.venv (CPU build of mmcv ops).
# A second run reuses pip's wheel cache for mmcv and finishes in about a minute.
# Usage: bash tools/install.sh            (CPU; set MMCV_WITH_OPS=1 FORCE_CUDA=1 on a GPU box)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
$PIP install -q --upgrade 'pip>=23,<26'
$PIP install -q -r requirements/build.txt
# mmcv 2.1.0: compiled ops (mmseg needs them; mmcv-lite has none). Built against the
# torch above, hence --no-build-isolation. pip caches the built wheel.
if ! $VENV/bin/python -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP install -q --no-build-isolation -r requirements/mmcv.txt
fi
$PIP install -q -r requirements/runtime.txt -r requirements/tests.txt
$PIP install -q --no-build-isolation --no-deps -e .
$VENV/bin/python -c "import torch, mmcv, mmengine, mmseg, mmmtl; from mmcv.ops import nms; \
print(f'torch {torch.__version__} mmcv {mmcv.__version__} mmengine {mmengine.__version__} mmseg {mmseg.__version__} mmmtl {mmmtl.__version__}')"
echo "install finished in $(( $(date +%s) - start ))s"
