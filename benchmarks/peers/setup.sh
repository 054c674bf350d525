#!/usr/bin/env bash
# Creates benchmarks/peers/.venv-synthcity: synthcity's own environment.
# synthcity pins torch<2.3 and numpy<2, which cannot live beside dpsynth's stack
# (torch 2.13, numpy 2.4), so the peers run in their own venv and only exchange CSV
# files with dpsynth. This downloads a few GB from PyPI (torch 2.2 with its CUDA
# wheels); it is not part of `make test`.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="$HERE/.venv-synthcity"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --disable-pip-version-check -c "$HERE/constraints-synthcity.txt" synthcity
"$VENV/bin/python" -c "import importlib.metadata as m, torch, numpy; print('synthcity', m.version('synthcity'), 'torch', torch.__version__, 'numpy', numpy.__version__)"
