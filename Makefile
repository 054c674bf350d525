# The README's two commands: `make demo` and `make test`. Both create .venv and install the
# pinned stack from constraints.txt (torch 2.13.0 is the local CPU build; no CUDA download).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[all,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dpsynth demo --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs build dist *.egg-info
