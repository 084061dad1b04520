#!/usr/bin/env bash
# The PyTorch peer of bench/cpu: a venv under .cache/bench-cpu (ignored) with torch from PyPI.
# PyPI's Linux torch wheel is the CUDA build: it needs the nvidia-* wheels to import even when
# it only computes on the CPU, so they come along (several GB, downloaded once).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.cache/bench-cpu/venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "torch==2.15.0" "numpy" "safetensors"
fi
"$VENV/bin/python" -c "import torch; print('torch', torch.__version__)"
