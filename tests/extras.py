"""Skip markers for tests that need an optional extra which the `test` extra does not install.

`make test` installs every extra, so nothing is skipped there; a bare ``pip install
'dpsynth[test]'`` skips the NOT PRIVATE SDV references (the ``reference`` extra) instead of
failing on them.
"""

from __future__ import annotations

from importlib.util import find_spec

import pytest


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it: sdv alone takes seconds)."""
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[module] is None (a test hid it)
        return False


needs_sdv = pytest.mark.skipif(not installed("sdv"),
                               reason="needs the NOT PRIVATE references: pip install 'dpsynth[reference]'")
