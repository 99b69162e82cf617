"""The plain-NumPy BPTT reference against the symbolic forms, finite differences and mpmath."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt.config import Config
from symbptt.model import RNN
from symbptt.numeric import lambdify_gradient, mp_gradients
from symbptt.reference import bptt, finite_differences

_COMPILED: dict = {}


def test_reference_imports_nothing_from_the_symbolic_code():
    tree = ast.parse(Path("symbptt/reference.py").read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert imported <= {"__future__", "numpy"}


@st.composite
def configs(draw):
    act = draw(st.sampled_from(["tanh", "sigmoid", "relu", "linear"]))
    n, layers, T = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 4))
    loss = draw(st.sampled_from(["last", "sum"]))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.floats(0.1, 2.0))
    rng = np.random.default_rng(seed)
    params = [{"W": rng.normal(0, scale, (n, n)), "U": rng.normal(0, scale, (n, 1)), "b": rng.normal(0, 0.5, n),
               "h0": rng.uniform(-1, 1, n)} for _ in range(layers)]
    for p in params[1:]:
        p["U"] = rng.normal(0, scale, (n, n))
    x = rng.uniform(-2, 2, (T, 1))
    y = rng.uniform(-1, 1, n) if loss == "last" else rng.uniform(-1, 1, (T, n))
    return Config(act, params, x, y, loss)


def _flat(grads):
    return np.concatenate([np.ravel(g[k]) for g in grads for k in ("W", "U", "b", "h0")])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(configs())
def test_reference_agrees_with_lambdified_symbolic_gradients(cfg):
    rnn = RNN(T=cfg.T, n=cfg.n, layers=len(cfg.layers), activation=cfg.activation, loss=cfg.loss)
    key = (rnn.T, rnn.n, rnn.layers, rnn.activation, rnn.loss)
    if key not in _COMPILED:
        _COMPILED[key] = lambdify_gradient(rnn, "recursive")
    symbolic = _flat(_COMPILED[key](cfg))
    reference = _flat(bptt(cfg.layers, cfg.x, cfg.y, cfg.activation, cfg.loss)[1])
    assert np.max(np.abs(symbolic - reference)) <= 1e-12 * max(1.0, np.max(np.abs(reference)))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(configs())
def test_central_differences_agree_within_1e6_relative(cfg):
    """Central differences with ε = 1e-6 carry O(ε²) truncation and O(1e-16/ε) rounding error: 1e-6 of
    the gradient's scale is a safe bound (relu is excluded: its kink can sit within ε of a sample)."""
    if cfg.activation == "relu":
        return
    reference = _flat(bptt(cfg.layers, cfg.x, cfg.y, cfg.activation, cfg.loss)[1])
    fd = _flat(finite_differences(cfg.layers, cfg.x, cfg.y, cfg.activation, cfg.loss))
    assert np.max(np.abs(fd - reference)) <= 1e-6 * max(1.0, np.max(np.abs(reference)))


@settings(max_examples=20, deadline=None, derandomize=True)
@given(configs())
def test_reference_agrees_with_50_digit_mpmath_to_1e12(cfg):
    exact = np.array([float(v) for v in _flat(mp_gradients(cfg, 50)[1])])
    reference = _flat(bptt(cfg.layers, cfg.x, cfg.y, cfg.activation, cfg.loss)[1])
    assert np.max(np.abs(reference - exact)) <= 1e-12 * max(1e-300, np.max(np.abs(exact)))
