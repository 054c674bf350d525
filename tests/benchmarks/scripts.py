"""Load a benchmark script (not an installed module) by its path under benchmarks/, with its own
folder and benchmarks/ importable, as the script sees them when run."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(relative: str) -> ModuleType:
    """``load_script("peers/compare.py")``: the script executed as a fresh module."""
    path = BENCHMARKS / relative
    for folder in {path.parent, BENCHMARKS}:
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass in the script looks its module up there
    spec.loader.exec_module(module)
    return module
