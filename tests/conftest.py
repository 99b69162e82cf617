"""Shared helpers: random points, errors, external programs, and a fixed hypothesis profile."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, settings

from symbptt.model import RNN

settings.register_profile("symbptt", deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("symbptt")

ACTIVATIONS = ["tanh", "sigmoid", "relu", "linear", "a/(1+abs(a))"]


@pytest.fixture(autouse=True)
def _no_inherited_columns(monkeypatch):
    """Output width does not depend on the developer's COLUMNS (a test that wants one sets it)."""
    monkeypatch.delenv("COLUMNS", raising=False)


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


def random_layers(spec, n: int, m: int, layers: int, rng: np.random.Generator, scale: float = 0.8) -> list[dict]:
    """Parameters of every layer of a cell, drawn at random (initial states in (−½, ½))."""
    out = []
    for ell in range(layers):
        width = m if ell == 0 else n
        p = {}
        for name in spec.params:
            kind = spec.kind(name)
            shape = {"recurrent": (n, n), "input": (n, width), "bias": (n,), "initial": (n,), "scalar": (1,)}[kind]
            p[name] = rng.uniform(-0.5, 0.5, shape) if kind == "initial" else rng.normal(0, scale, shape)
        out.append(p)
    return out
