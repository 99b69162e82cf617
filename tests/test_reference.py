"""The independent references: they import nothing from the engine and agree with it, with finite
differences and with themselves at 50 digits."""

from __future__ import annotations

import ast
from pathlib import Path

import mpmath
import numpy as np
import pytest
from conftest import examples, random_layers
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt.activations import get_activation
from symbptt.cells import get_cell
from symbptt.config import Config
from symbptt.numeric.compiled import CompiledForm
from symbptt.numeric.factors import NumericModel, gradients
from symbptt.reference import bptt, finite_differences, jacobians, log10_norms


def test_reference_imports_nothing_from_the_engine():
    tree = ast.parse(Path("symbptt/reference.py").read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert imported <= {"__future__", "numpy", "mpmath", "math", "collections.abc", "typing"}


@st.composite
def configs(draw):
    cell = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    act = draw(st.sampled_from(["tanh", "sigmoid", "relu", "linear"])) if cell == "rnn" else None
    n, m, layers, T = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 5))
    loss = draw(st.sampled_from(["last", "sum"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    spec = get_cell(cell, get_activation(act or "tanh"))
    params = random_layers(spec, n, m, layers, rng, scale=draw(st.floats(0.1, 2.0)))
    x = rng.uniform(-2, 2, (T, m))
    y = rng.uniform(-1, 1, n) if loss == "last" else rng.uniform(-1, 1, (T, n))
    return Config(cell, act, params, x, y, loss)


def _flat(grads, params):
    return np.concatenate([np.ravel(np.asarray(g[k], dtype=float)) for g in grads for k in params])


@settings(max_examples=examples(40))
@given(configs())
def test_engine_and_compiled_forms_agree_with_the_reference(cfg):
    params = cfg.spec.params
    reference = _flat(bptt(cfg.layers, cfg.x, cfg.y, cfg.act_name, cfg.loss, cfg.spec.name)[1], params)
    engine = _flat(gradients(cfg)[1], params)
    model = NumericModel.of(cfg)
    compiled = _flat(CompiledForm(model.structure(), "recursive")(model), params)
    scale = max(1.0, float(np.max(np.abs(reference))))
    assert np.max(np.abs(engine - reference)) <= 1e-12 * scale
    assert np.max(np.abs(compiled - reference)) <= 1e-12 * scale


@settings(max_examples=examples(15))
@given(configs())
def test_central_differences_agree_within_1e6(cfg):
    """Central differences with ε = 1e-6 carry O(ε²) truncation and O(1e-16/ε) rounding error (relu is
    excluded: its kink can sit within ε of a sample)."""
    if cfg.activation == "relu":
        return
    reference = _flat(bptt(cfg.layers, cfg.x, cfg.y, cfg.act_name, cfg.loss, cfg.spec.name)[1], cfg.spec.params)
    fd = _flat(finite_differences(cfg.layers, cfg.x, cfg.y, cfg.act_name, cfg.loss, cfg.spec.name), cfg.spec.params)
    assert np.max(np.abs(fd - reference)) <= 1e-6 * max(1.0, np.max(np.abs(reference)))


@settings(max_examples=examples(12))
@given(configs())
def test_reference_at_float64_agrees_with_itself_at_50_digits(cfg):
    with mpmath.workdps(50):
        exact = bptt(cfg.layers, cfg.x, cfg.y, cfg.act_name, cfg.loss, cfg.spec.name, kind="mp")[1]
    exact = _flat(exact, cfg.spec.params)
    reference = _flat(bptt(cfg.layers, cfg.x, cfg.y, cfg.act_name, cfg.loss, cfg.spec.name)[1], cfg.spec.params)
    assert np.max(np.abs(reference - exact)) <= 1e-12 * max(1e-300, np.max(np.abs(exact)))


def test_magnitudes_bound_every_entry():
    rng = np.random.default_rng(2)
    spec = get_cell("lstm", get_activation("tanh"))
    params = random_layers(spec, 3, 2, 2, rng)
    x, y = rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, 3)
    _, grads, mags = bptt(params, x, y, "tanh", "last", "lstm", magnitudes=True)
    for g, m in zip(grads, mags, strict=True):
        for k in g:
            assert np.all(np.abs(g[k]) <= m[k] + 1e-15)


def test_reference_jacobians_are_the_product_of_step_jacobians():
    """For the vanilla cell ∂h_T/∂h_k = J_T ⋯ J_{k+1}, J_t = diag(σ'(a_t)) W, built by hand here."""
    rng = np.random.default_rng(1)
    W, U, b, h0 = rng.normal(0, 0.7, (3, 3)), rng.normal(0, 1, (3, 1)), rng.normal(0, 0.2, 3), rng.uniform(-0.5, 0.5, 3)
    x = rng.uniform(-1, 1, (5, 1))
    blocks = jacobians("rnn", [{"W": W, "U": U, "b": b, "h0": h0}], x, "tanh")
    h, product = h0, np.eye(3)
    factors = []
    for t in range(5):
        a = W @ h + U @ x[t] + b
        factors.append((1 - np.tanh(a) ** 2)[:, None] * W)
        h = np.tanh(a)
    for k in range(4, -1, -1):
        product = product @ factors[k]
        got = np.array(blocks[k][("h", "h")], dtype=float)
        assert np.allclose(got, product, rtol=1e-12, atol=1e-15)
    assert abs(log10_norms(blocks[0])["h"] - np.log10(np.linalg.norm(product, 2))) < 1e-12


@pytest.mark.parametrize("cell", ["mingru", "minlstm", "indrnn", "lru"])
def test_the_newer_cells_agree_with_their_reference_and_finite_differences(cell):
    """minGRU, minLSTM, IndRNN and the LRU: the engine's gradients against reference.py's own
    step and backward pass, and both against central differences, on random sizes, layers and losses."""
    from symbptt.check import random_trial, reference_activation
    from symbptt.numeric.factors import gradients
    from symbptt.reference import finite_differences

    rng = np.random.default_rng(7)
    for _ in range(4):
        trial = random_trial(rng, 5, (cell,))
        cfg, act = trial.config, reference_activation(trial.activation or "tanh", "float")
        _, ref = bptt(cfg.layers, cfg.x, cfg.y, act, cfg.loss, cell)
        _, eng = gradients(cfg)
        fd = finite_differences(cfg.layers, cfg.x, cfg.y, act, cfg.loss, cell)
        for ell, layer in enumerate(ref):
            for name, value in layer.items():
                scale = max(1.0, float(np.max(np.abs(value))))
                assert np.max(np.abs(np.asarray(eng[ell][name]) - value)) <= 1e-12 * scale, (name, ell)
                assert np.max(np.abs(fd[ell][name] - value)) <= 1e-6 * scale, (name, ell)
