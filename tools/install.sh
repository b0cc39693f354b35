#!/usr/bin/env bash
# Set up mmdsb on a machine that has only CPython (>= 3.10) and pip:
# the pinned torch/torchvision pair, the OpenMMLab stack, the runtime
# requirements (plus the test ones with --tests) and mmdsb in editable mode.
# Safe to re-run; steps already satisfied are skipped.
#
#   bash tools/install.sh [--tests]        PYTHON=python3.11 to pick the interpreter
set -euo pipefail

TORCH_VERSION=2.13.0
TORCHVISION_VERSION=0.28.0
PYTHON=${PYTHON:-python3}

usage() {
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
}

with_tests=0
for arg in "$@"; do
    case "$arg" in
        --tests) with_tests=1 ;;
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

requirements=(-r requirements/mminstall.txt -r requirements/runtime.txt)
if [ "$with_tests" = 1 ]; then
    requirements+=(-r requirements/tests.txt)
fi
pip_install "${requirements[@]}"

# Editable install only when mmdsb does not already point at this checkout.
location=$({ "$PYTHON" -m pip show mmdsb 2>/dev/null || true; } \
    | sed -n 's/^Editable project location: //p')
if [ -z "$location" ] || [ "$(cd "$location" 2>/dev/null && pwd -P)" != "$repo_root" ]; then
    pip_install --no-deps -e .
fi

"$PYTHON" -I -c 'import mmdsb, mmpretrain, torch; print(f"install.sh: mmdsb {mmdsb.__version__}, mmpretrain {mmpretrain.__version__}, torch {torch.__version__}")'
