"""Shared helpers: random points, and evaluation of symbolic gradients at them."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import sympy as sp

from symbptt.model import RNN

ACTIVATIONS = ["tanh", "sigmoid", "relu", "linear", "a/(1+abs(a))"]


def random_point(rnn: RNN, seed: int) -> dict[sp.Symbol, float]:
    """Every parameter and input symbol at a reproducible random value in (-1, 1)."""
    rng = np.random.default_rng(seed)
    return {sym: float(rng.uniform(-1.0, 1.0)) for sym in rnn.symbols.parameters()}


def normwise_error(a: np.ndarray, b: np.ndarray) -> float:
    """max|a − b| / max|b|: the relative error of a gradient as a whole."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(float(np.max(np.abs(b))), 1e-300)
    return float(np.max(np.abs(a - b))) / scale


def require_program(name: str) -> str:
    """Path of an external program; fail under CI=true when it is missing, skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required in CI but is not installed")
        pytest.skip(f"{name} is not installed on this machine")
    return path
