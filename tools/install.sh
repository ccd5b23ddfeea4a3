#!/usr/bin/env bash
# Idempotent install of the pinned stack into ./.venv (CPU build of mmcv ops).
# A second run reuses pip's wheel cache for mmcv and finishes in about a minute.
# Usage: bash tools/install.sh              (CPU)
#        FORCE_CUDA=1 bash tools/install.sh (GPU: CUDA ops; rebuilds a CPU-only mmcv, no pip cache)
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
if [ "${FORCE_CUDA:-0}" = "1" ]; then
  # GPU route: an mmcv without CUDA ops (a CPU build, possibly a wheel that an earlier CPU
  # install left in pip's cache) reports 'not available'; remove it and compile mmcv again,
  # bypassing pip's cache so that the cached CPU wheel cannot be picked up.
  if ! $VENV/bin/python -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'; \
assert mmcv.ops.get_compiling_cuda_version() != 'not available'" 2>/dev/null; then
    $PIP uninstall -q -y mmcv 2>/dev/null || true
    MMCV_WITH_OPS=1 FORCE_CUDA=1 MAX_JOBS=${MAX_JOBS:-2} \
      $PIP install -q --no-build-isolation --no-cache-dir -r requirements/mmcv.txt
  fi
elif ! $VENV/bin/python -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP install -q --no-build-isolation -r requirements/mmcv.txt
fi
$PIP install -q -r requirements/runtime.txt -r requirements/tests.txt
$PIP install -q --no-build-isolation --no-deps -e .
$VENV/bin/python -c "import torch, mmcv, mmengine, mmseg, mmmtl; from mmcv.ops import nms; \
print(f'torch {torch.__version__} mmcv {mmcv.__version__} mmengine {mmengine.__version__} mmseg {mmseg.__version__} mmmtl {mmmtl.__version__}')"
echo "install finished in $(( $(date +%s) - start ))s"
