#!/usr/bin/env bash
# Set up mmdsb on a machine that has only CPython (>= 3.10) and pip:
# the pinned torch/torchvision pair, the OpenMMLab stack, the runtime
# requirements (plus the test ones with --tests) and mmdsb in editable mode.
# --det adds detection: mmcv 2.1.0 built with its compiled ops (in place of
# mmcv-lite; CUDA ops where torch sees a GPU, or with FORCE_CUDA=1), mmdet,
# pycocotools and the LVIS API. Safe to re-run; steps already satisfied are
# skipped.
#
#   bash tools/install.sh [--tests] [--det]    PYTHON=python3.11 to pick the interpreter
set -euo pipefail

TORCH_VERSION=2.13.0
TORCHVISION_VERSION=0.28.0
PYTHON=${PYTHON:-python3}

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
}

with_tests=0
with_det=0
for arg in "$@"; do
    case "$arg" in
        --tests) with_tests=1 ;;
        --det) with_det=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo_root"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install.sh: interpreter '$PYTHON' not found (set PYTHON=...)" >&2
    exit 1
fi
"$PYTHON" - <<'EOF'
import sys
if sys.version_info < (3, 10):
    sys.exit(f'install.sh: Python >= 3.10 is required, found {sys.version.split()[0]}')
EOF

pip_install() {
    "$PYTHON" -m pip install --disable-pip-version-check "$@"
}

# torch and torchvision must come from the same build; a CPU torch next to a
# CUDA torchvision fails on import ("operator torchvision::nms does not
# exist"). --isolated ignores local find-links that may hold a torch wheel
# without its torchvision twin, so both come from the index as one pair.
# The CUDA builds also run on CPU-only machines.
torch_ok() {
    "$PYTHON" -I - "$TORCH_VERSION" "$TORCHVISION_VERSION" <<'EOF' >/dev/null 2>&1
import sys
import torch
import torchvision
from torchvision.ops import nms
want = tuple(sys.argv[1:3])
have = tuple(v.split('+')[0] for v in (torch.__version__, torchvision.__version__))
nms(torch.zeros(1, 4), torch.ones(1), 0.5)
sys.exit(0 if have == want else 1)
EOF
}

if torch_ok; then
    echo "install.sh: torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION already work"
else
    echo "install.sh: installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
    pip_install --isolated "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
    if ! torch_ok; then
        echo "install.sh: torch/torchvision still fail to import after install" >&2
        exit 1
    fi
fi

MMCV_VERSION=2.1.0
# True when the full mmcv (with compiled ops) of the pinned version works.
mmcv_ops_ok() {
    "$PYTHON" -I - "$MMCV_VERSION" <<'EOF' >/dev/null 2>&1
import sys
import mmcv
import mmcv.ops
sys.exit(0 if mmcv.__version__ == sys.argv[1] else 1)
EOF
}

# mmcv-lite and mmcv install the same 'mmcv' package: never both. The full
# mmcv, once built, also serves classification.
mm_requirements=requirements/mminstall.txt
if [ "$with_det" = 1 ] || mmcv_ops_ok; then
    mm_requirements=$(mktemp)
    trap 'rm -f "$mm_requirements"' EXIT
    grep -v '^mmcv-lite' requirements/mminstall.txt >"$mm_requirements"
fi
requirements=(-r "$mm_requirements" -r requirements/runtime.txt)
if [ "$with_tests" = 1 ]; then
    requirements+=(-r requirements/tests.txt)
fi
pip_install "${requirements[@]}"

if [ "$with_det" = 1 ]; then
    if mmcv_ops_ok; then
        echo "install.sh: mmcv==$MMCV_VERSION with compiled ops already works"
    else
        # No wheel of mmcv 2.1.0 matches this torch: build it from source
        # against the installed torch (--no-build-isolation), with ops. pip
        # caches the wheel, so only the first build takes minutes.
        echo "install.sh: building mmcv==$MMCV_VERSION with its ops" \
            "(several minutes on the first run)"
        "$PYTHON" -m pip uninstall -y --disable-pip-version-check \
            mmcv-lite mmcv >/dev/null 2>&1 || true
        # ninja lets torch's extension builder compile on all cores.
        pip_install ninja
        MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} pip_install \
            --no-build-isolation --no-deps "mmcv==$MMCV_VERSION"
        if ! mmcv_ops_ok; then
            echo "install.sh: mmcv==$MMCV_VERSION ops still fail to import" >&2
            exit 1
        fi
    fi
    pip_install -r requirements/det.txt
fi

# Editable install only when mmdsb does not already point at this checkout.
location=$({ "$PYTHON" -m pip show mmdsb 2>/dev/null || true; } \
    | sed -n 's/^Editable project location: //p')
if [ -z "$location" ] || [ "$(cd "$location" 2>/dev/null && pwd -P)" != "$repo_root" ]; then
    pip_install --no-deps -e .
fi

"$PYTHON" -I -c 'import mmdsb, mmpretrain, torch; print(f"install.sh: mmdsb {mmdsb.__version__}, mmpretrain {mmpretrain.__version__}, torch {torch.__version__}")'
if [ "$with_det" = 1 ]; then
    "$PYTHON" -I -c 'import mmdsb.det, mmdet, mmcv; print(f"install.sh: mmdet {mmdet.__version__}, mmcv {mmcv.__version__} with ops")'
fi
