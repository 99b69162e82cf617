"""Log-space magnitudes, regimes, truncation, sweeps and the JSON report."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt import SymbpttError
from symbptt.config import parse_config
from symbptt.numeric import (
    bare_forward,
    grad_report,
    gradients,
    log10_jacobian_norms,
    regime,
    sweep_gain,
    sweep_scalar,
    truncated_gradients,
)
from symbptt.output import strict_json


def mp_log10_product(w: float, activation: str, T: int, x: list[float], u=1.0, b=0.0, h0=0.0) -> float:
    """log10 |Π_t w σ'(a_t)| at 50 digits, straight from the definition."""
    with mpmath.workdps(50):
        h, total = mpmath.mpf(h0), mpmath.mpf(0)
        for t in range(T):
            a = mpmath.mpf(w) * h + mpmath.mpf(u) * mpmath.mpf(x[t]) + mpmath.mpf(b)
            if activation == "tanh":
                h, d = mpmath.tanh(a), mpmath.sech(a) ** 2
            elif activation == "sigmoid":
                h = 1 / (1 + mpmath.exp(-a))
                d = h * (1 - h)
            else:
                h, d = a, mpmath.mpf(1)
            total += mpmath.log10(abs(mpmath.mpf(w) * d))
        return float(total)


@pytest.mark.parametrize("w,act,T", [(0.1, "tanh", 1000), (0.1, "linear", 1000), (10.0, "linear", 1000),
                                     (3.0, "tanh", 1000), (0.5, "sigmoid", 1000)])
def test_log10_magnitudes_far_outside_float64_within_1e9(w, act, T):
    """w = 0.1, T = 1000 gives about 10^-1000; w = 10 linear about 10^+1000: both stay finite numbers."""
    x = list(np.random.default_rng(1).uniform(-1, 1, T))
    ours = sweep_scalar(np.array([w]), T, act, x=np.array(x))[-1, 0]
    assert np.isfinite(ours)
    assert abs(ours - mp_log10_product(w, act, T, x)) < 1e-9 * max(1.0, abs(ours))
    if (w, act) == (0.1, "linear"):
        assert abs(ours + 1000) < 1e-9
    if (w, act) == (10.0, "linear"):
        assert abs(ours - 1000) < 1e-9


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.floats(-4, 4).filter(lambda w: abs(w) > 1e-3), st.integers(1, 300),
       st.sampled_from(["tanh", "sigmoid", "linear"]))
def test_sweep_matches_50_digit_product(w, T, act):
    x = np.random.default_rng(T).uniform(-1, 1, T)
    ours = sweep_scalar(np.array([w]), T, act, x=x)[:, 0]
    exact = mp_log10_product(w, act, T, list(x))
    assert abs(ours[-1] - exact) < 1e-9 * max(1.0, abs(exact))


def test_sweep_gives_every_T_for_every_weight_in_one_pass():
    grid = np.linspace(-2, 2, 9)
    values = sweep_scalar(grid, 50, "tanh", seed=3)
    assert values.shape == (50, 9)
    for i, w in enumerate(grid):
        if w == 0:
            assert np.all(values[:, i] == -np.inf)
            continue
        x = np.random.default_rng(3).uniform(-1, 1, 50)
        assert abs(values[29, i] - mp_log10_product(w, "tanh", 30, list(x))) < 1e-9


def test_bare_forward_is_the_same_forward_pass():
    grid = np.linspace(-2, 2, 5)
    h = bare_forward(grid, 20, seed=2)
    x = np.random.default_rng(2).uniform(-1, 1, 20)
    for i, w in enumerate(grid):
        state = 0.0
        for t in range(20):
            state = math.tanh(w * state + x[t])
        assert abs(h[i] - state) < 1e-14


def test_matrix_norm_is_spectral_norm_of_the_whole_product():
    cfg = parse_config({"activation": "tanh", "W": [[0.9, -1.2], [0.4, 0.7]], "U": [[1.0], [0.3]], "b": [0.1, 0],
                        "h0": [0.2, -0.1], "x": list(np.linspace(-1, 1, 12)), "y": [0, 0]})
    from symbptt.numeric import NumpyFactors
    from symbptt.paths import Step

    values = NumpyFactors(cfg)
    product = np.eye(2)
    for t in range(12, 0, -1):
        product = product @ values.factor(Step("J", 1, t))
    ours = log10_jacobian_norms(cfg)
    assert abs(ours[0] - math.log10(np.linalg.norm(product, 2))) < 1e-12
    per_step = sum(math.log10(np.linalg.norm(values.factor(Step("J", 1, t)), 2)) for t in range(1, 13))
    assert per_step > ours[0] + 1e-3  # the product of per-step norms is only an upper bound


def test_matrix_sweep_has_no_overflow_and_matches_direct_product():
    gains = np.array([0.2, 1.0, 4.0])
    values = sweep_gain(gains, 400, "linear", n=8, seed=0)
    assert np.all(np.isfinite(values))
    from symbptt.numeric import random_recurrent_matrix

    W0 = random_recurrent_matrix(8, 0)
    direct = np.linalg.norm(np.linalg.matrix_power(4.0 * W0, 20), 2)
    assert abs(values[19, 2] - math.log10(direct)) < 1e-9


def test_regime_label_comes_from_sigma_max_not_spectral_radius():
    """A nilpotent-like W with ρ < 1 but σ_max > 1 is not labelled 'vanishing guaranteed'."""
    W = np.array([[0.5, 3.0], [0.0, 0.5]])
    r = regime(W, "tanh")
    assert r["spectral_radius"] < 1 < r["sigma_max"]
    assert r["label"] == "exploding possible"
    assert regime(np.array([[0.5, 0.1], [0.0, 0.5]]), "tanh")["label"] == "vanishing guaranteed"
    assert regime(np.array([[3.0]]), "sigmoid")["label"] == "vanishing guaranteed"  # γ = 1/4


def test_truncation_to_T_is_the_full_gradient_and_to_1_keeps_only_the_last_step():
    cfg = parse_config({"activation": "tanh", "W": 0.8, "U": 0.5, "b": 0.1, "h0": 0.3, "x": [1, -1, 0.5, 0.2],
                        "y": [0.1, 0.2, 0.3, 0.4], "loss": "sum"})
    full = gradients(cfg)[1][0]
    same = truncated_gradients(cfg, cfg.T)[0]
    for k in full:
        assert np.allclose(full[k], same[k], rtol=1e-13, atol=0)
    one = truncated_gradients(cfg, 1)[0]
    from symbptt.numeric import NumpyFactors

    v = NumpyFactors(cfg)
    expected_w = sum((v.h[0][t, 0] - cfg.y[t - 1, 0]) * v.dsigma[0][t, 0] * v.h[0][t - 1, 0] for t in range(1, 5))
    assert abs(one["W"][0, 0] - expected_w) < 1e-14


def test_report_is_strict_json_with_null_and_log10_beyond_float64():
    cfg = parse_config({"activation": "linear", "W": 5.0, "U": 1.0, "b": 0.0, "h0": 0.1, "x": [0.5] * 1000, "y": 0})
    text = strict_json(grad_report(cfg))
    assert "NaN" not in text and "Infinity" not in text
    import json

    data = json.loads(text)
    assert data["grad"]["h0"] is None
    assert data["grad_log10"]["h0"] > 600
    assert abs(data["log10_jacobian_norms"][0] - 1000 * math.log10(5)) < 1e-9


@pytest.mark.parametrize("data,field", [
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "y": 0}, "x"),
    ({"W": [[1, 2]], "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}, "W"),
    ({"W": 1, "U": [[1, 2]], "b": 0, "h0": 0, "x": [1], "y": 0}, "U"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [[1, 2]], "y": 0}, "U"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0, "activation": "nope"}, "activation"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1, 2], "y": 0, "truncate": 3}, "truncate"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1, 2], "y": [1], "loss": "sum"}, "y"),
    ({"W": "a", "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}, "W"),
    ({"U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}, "W"),
])
def test_config_errors_name_the_field(data, field):
    with pytest.raises(SymbpttError, match=field):
        parse_config(data)
