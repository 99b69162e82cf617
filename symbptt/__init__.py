"""symbptt: exact symbolic and numeric backpropagation through time for small RNNs.

    >>> from symbptt import RNN, derive
    >>> d = derive(RNN(T=3, activation="tanh"), form="explicit", wrt="W")

The public API is the names in ``__all__``; everything else is internal and may move.  Names are
imported on first use, so ``import symbptt`` (and ``symbptt --help``) stays fast; type checkers and IDEs
read the explicit imports below.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# mpmath's GMP backend (taken when gmpy2 is installed) aborts the whole process when an integer
# overflows — exp(exp(exp(a))) at a = 10¹² — where the pure-Python backend raises an error that the tool
# reports in one line.  A process that imports symbptt before mpmath gets the pure-Python backend.
os.environ.setdefault("MPMATH_NOGMPY", "1")

if TYPE_CHECKING:
    from . import bridges, check, learn, numeric, plots
    from .bridges import from_torch
    from .check import run_checks
    from .check.verify import verify
    from .config import Config, load_config, parse_config
    from .document import standalone, tikz_diagram
    from .errors import RoundingWarning, SymbpttError
    from .explorer import explore
    from .forms import FORMS, Derivation, Equation, derive
    from .latex import snippet
    from .learn.train import TrainSettings, train
    from .model import RNN
    from .numeric.grad_report import grad_report
    from .numeric.gradients import Gradients, gradients
    from .numeric.sweeps import sweep_gain, sweep_grad, sweep_param, sweep_scalar
    from .numeric.theory import theory
    from .render import render_text

_LAZY = {
    "FORMS": "forms", "Derivation": "forms", "Equation": "forms", "derive": "forms",
    "SymbpttError": "errors", "RoundingWarning": "errors", "RNN": "model", "explore": "explorer",
    "Config": "config", "load_config": "config", "parse_config": "config",
    "grad_report": "numeric.grad_report", "sweep_scalar": "numeric.sweeps", "sweep_grad": "numeric.sweeps",
    "sweep_gain": "numeric.sweeps", "sweep_param": "numeric.sweeps",
    "render_text": "render", "snippet": "latex", "standalone": "document", "tikz_diagram": "document",
    "run_checks": "check", "verify": "check.verify", "theory": "numeric.theory",
    "TrainSettings": "learn.train", "train": "learn.train", "from_torch": "bridges.pytorch",
    "gradients": "numeric.gradients", "Gradients": "numeric.gradients",
}
_MODULES = ("plots", "learn", "check", "numeric", "bridges")
__all__ = [
    "FORMS", "RNN", "Config", "Derivation", "Equation", "Gradients", "RoundingWarning", "SymbpttError", "TrainSettings",
    "__version__",
    "bridges", "check", "derive", "explore", "from_torch", "grad_report", "gradients", "learn", "load_config",
    "numeric", "parse_config", "plots", "render_text", "run_checks", "snippet", "standalone", "sweep_gain",
    "sweep_grad", "sweep_param", "sweep_scalar", "theory", "tikz_diagram", "train", "verify",
]


def _version() -> str:
    """The version, written once in pyproject.toml and read from the installed metadata when first asked
    for (importlib.metadata costs about 18 ms of imports, which `--help` and `derive` do not need)."""
    try:
        from importlib.metadata import version

        return version("symbptt")
    except Exception:  # pragma: no cover - running from a checkout that was never installed
        return "unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = _version()
        return globals()[name]
    if name in _LAZY:  # imported on first use, then an attribute like any other
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'symbptt' has no attribute {name!r}")
