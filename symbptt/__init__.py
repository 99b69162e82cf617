"""symbptt: exact symbolic and numeric backpropagation through time for small RNNs.

    >>> from symbptt import RNN, derive
    >>> d = derive(RNN(T=3, activation="tanh"), form="explicit", wrt="W")

Names are imported on first use, so ``import symbptt`` (and ``symbptt --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

try:  # the version is written once, in pyproject.toml
    from importlib.metadata import version as _version

    __version__ = _version("symbptt")
except Exception:  # pragma: no cover - running from a checkout that was never installed
    __version__ = "unknown"
_LAZY = {
    "FORMS": "forms", "Derivation": "forms", "Equation": "forms", "derive": "forms",
    "SymbpttError": "errors", "RNN": "model", "explore": "explorer",
}
__all__ = [*sorted(_LAZY), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in ("plots", "latex", "numeric", "cells", "reference", "check", "config", "render", "learn"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'symbptt' has no attribute {name!r}")
