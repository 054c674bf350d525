#!/usr/bin/env bash
# Creates benchmarks/peers/.venv-smartnoise: smartnoise-synth's own environment for the
# marginal-method peers AIM and MST. smartnoise-synth 1.0.8 pins mbi<2 and opacus<0.15,
# which cannot live beside dpsynth's stack, so the peers run in their own venv and only
# exchange CSV files of category codes with dpsynth (benchmarks/peers/smartnoise_peer.py).
# torch is held at the CPU wheel that lies on this machine's disk (see the constraints);
# this is not part of `make test`.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="$HERE/.venv-smartnoise"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --disable-pip-version-check -c "$HERE/constraints-smartnoise.txt" smartnoise-synth
"$VENV/bin/python" -c "import importlib.metadata as m; print(*(f'{p} {m.version(p)}' for p in ('smartnoise-synth', 'mbi', 'opendp', 'numpy', 'pandas')))"
