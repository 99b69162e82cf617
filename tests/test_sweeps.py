"""Sweeps over weights × T (log10|∂h_T/∂h_0|, log10|∂L/∂w|, the gain sweep, parameter sweeps) against
products and BPTTs at 50 digits, and where they say rounding decides."""


from __future__ import annotations

import math
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt.numeric.sweeps import (
    bare_forward,
    random_recurrent_matrix,
    sweep_gain,
    sweep_grad,
    sweep_scalar,
)


def mp_log10_product(w: float, activation: str, T: int, x: list[float]) -> float:
    """log10 |Π_t w σ'(a_t)| at 50 digits, straight from the definition (σ' from a)."""
    with mpmath.workdps(50):
        h, total = mpmath.mpf(0), mpmath.mpf(0)
        for t in range(T):
            a = mpmath.mpf(w) * h + mpmath.mpf(x[t])
            if activation == "tanh":
                h, d = mpmath.tanh(a), mpmath.sech(a) ** 2
            elif activation == "sigmoid":
                h = 1 / (1 + mpmath.exp(-a))
                d = mpmath.exp(-abs(a)) / (1 + mpmath.exp(-abs(a))) ** 2
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


@settings(max_examples=examples(25))
@given(st.floats(-4, 4).filter(lambda w: abs(w) > 1e-3), st.integers(1, 300),
       st.sampled_from(["tanh", "sigmoid", "linear"]))
def test_sweep_matches_50_digit_product(w, T, act):
    x = np.random.default_rng(T).uniform(-1, 1, T)
    ours = sweep_scalar(np.array([w]), T, act, x=x)[:, 0]
    exact_value = mp_log10_product(w, act, T, list(x))
    assert abs(ours[-1] - exact_value) < 1e-9 * max(1.0, abs(exact_value))


def _mp_unit(activation: str, a: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
    if activation == "tanh":
        return mpmath.tanh(a), mpmath.sech(a) ** 2
    if activation == "sigmoid":
        return 1 / (1 + mpmath.exp(-a)), mpmath.exp(-abs(a)) / (1 + mpmath.exp(-abs(a))) ** 2
    if activation == "relu":
        return max(a, mpmath.mpf(0)), mpmath.mpf(1 if a > 0 else 0)
    return a, mpmath.mpf(1)


def mp_grad_by_T(w: float, activation: str, T_max: int, x: list[float], y: float, loss: str, wrt: str,
                 u: float = 1.0, b: float = 0.0, h0: float = 0.0, last_only: bool = False
                 ) -> list[tuple[mpmath.mpf, mpmath.mpf]]:
    """(∂L/∂θ, Σ|terms|) for every T at 50 digits (``last_only``: for T = T_max alone, loss "last"), by
    reverse mode (backpropagation through time, δ_{k−1} = δ_k σ'(a_k) w), independent of the forward-mode
    sweep."""
    with mpmath.workdps(50):
        W, h = mpmath.mpf(w), [mpmath.mpf(h0)]
        d = []
        for t in range(T_max):
            state, slope = _mp_unit(activation, W * h[-1] + mpmath.mpf(u) * x[t] + b)
            h.append(state)
            d.append(slope)
        direct = {"w": lambda k: h[k - 1], "u": lambda k: mpmath.mpf(x[k - 1]), "b": lambda k: mpmath.mpf(1),
                  "h0": lambda k: mpmath.mpf(0)}[wrt]
        out, total, size = [], mpmath.mpf(0), mpmath.mpf(0)
        for T in [T_max] if last_only else range(1, T_max + 1):
            delta = h[T] - y
            grad, terms = mpmath.mpf(0), mpmath.mpf(0)
            for k in range(T, 0, -1):
                grad += delta * d[k - 1] * direct(k)
                terms += abs(delta * d[k - 1] * direct(k))
                delta *= d[k - 1] * W
            if wrt == "h0":
                grad, terms = delta, abs(delta)
            if loss == "sum":
                total, size = total + grad, size + terms
                out.append((total, size))
            else:
                out.append((grad, terms))
        return out


@settings(max_examples=examples(30), deadline=None)
@given(st.floats(-4, 4), st.integers(1, 60), st.sampled_from(["tanh", "sigmoid", "linear", "relu"]),
       st.sampled_from(["last", "sum"]), st.sampled_from(["w", "u", "b", "h0"]), st.floats(-1, 1))
def test_grad_sweep_equals_reverse_mode_at_50_digits(w, T, act, loss, wrt, y):
    """Forward mode over the grid against reverse mode in mpmath, every T: the error is at most 1e-10
    of the sum of the path magnitudes (cancelling paths cannot be resolved better in float64)."""
    x = list(np.random.default_rng(T).uniform(-1, 1, T))
    ours = sweep_grad(np.array([w]), T, act, x=np.array(x), y=y, loss=loss, wrt=wrt)[:, 0]
    for value, (exact, size) in zip(ours, mp_grad_by_T(w, act, T, x, y, loss, wrt), strict=True):
        if size == 0:
            assert value == -np.inf
            continue
        found = mpmath.mpf(10) ** mpmath.mpf(float(value)) if np.isfinite(value) else mpmath.mpf(0)
        assert abs(found - abs(exact)) <= mpmath.mpf(1e-10) * size + mpmath.mpf(1e-9) * abs(exact)


@pytest.mark.parametrize("w,act,wrt", [(0.1, "linear", "w"), (0.1, "tanh", "h0"), (0.1, "sigmoid", "h0"),
                                       (3.0, "tanh", "b"), (1.5, "tanh", "u")])
def test_grad_sweep_keeps_magnitudes_float64_cannot_hold(w, act, wrt):
    """10^-1000 and 10^+1000 at T = 1000 come out as finite log10 values equal to the 50-digit ones."""
    T = 1000
    x = list(np.random.default_rng(4).uniform(-1, 1, T))
    ours = sweep_grad(np.array([w]), T, act, x=np.array(x), y=0.25, wrt=wrt)[-1, 0]
    exact, _ = mp_grad_by_T(w, act, T, x, 0.25, "last", wrt, last_only=True)[-1]
    assert np.isfinite(ours)
    assert abs(ours - float(mpmath.log10(abs(exact)))) < 1e-9 * max(1.0, abs(ours))


def test_grad_sweep_is_nan_only_where_the_state_overflows():
    """Linear, w = 10: h_t passes 1.8e308 near t = 308, and only from there on is the value NaN
    (at T = 1 the exact ∂L/∂w = (h_1 − y)·h_0 is 0, log10 −∞)."""
    values = sweep_grad(np.array([10.0, 0.5]), 400, "linear", seed=1)
    assert np.all(values[0] == -np.inf)
    assert np.all(np.isfinite(values[1:300])) and np.all(np.isnan(values[320:, 0]))
    assert np.all(np.isfinite(values[1:, 1]))


def test_bare_forward_is_the_same_forward_pass():
    grid = np.linspace(-2, 2, 5)
    h = bare_forward(grid, 20, seed=2)
    x = np.random.default_rng(2).uniform(-1, 1, 20)
    for i, w in enumerate(grid):
        state = 0.0
        for t in range(20):
            state = math.tanh(w * state + x[t])
        assert abs(h[i] - state) < 1e-14


def test_matrix_sweep_has_no_overflow_and_matches_direct_product():
    gains = np.array([0.2, 1.0, 4.0])
    values = sweep_gain(gains, 400, "linear", n=8, seed=0)
    assert np.all(np.isfinite(values))
    W0 = random_recurrent_matrix(8, 0)
    direct = np.linalg.norm(np.linalg.matrix_power(4.0 * W0, 20), 2)
    assert abs(values[19, 2] - math.log10(direct)) < 1e-9


def _gain_sweep_by_svd(gains, T, activation, n, seed):
    """Per gain, one time step at a time: the full product of J_t = diag(σ'(a_t))·gW0 (rescaled by its
    largest entry) and LAPACK's 2-norm of it."""
    from symbptt.activations import get_activation

    act = get_activation(activation)
    rng = np.random.default_rng(seed)
    W0 = random_recurrent_matrix(n, seed)
    drive = rng.normal(0.0, 1.0, (T, n))
    out = np.full((T, len(gains)), -np.inf)
    for k, g in enumerate(gains):
        W = g * W0
        h, P, scale = np.zeros(n), np.eye(n), 0.0
        for t in range(T):
            a = np.einsum("ij,j->i", W, h) + drive[t]
            h = act.np_sigma(a)
            P = (10.0 ** act.np_log10_dsigma(a))[:, None] * W @ P
            top = np.abs(P).max()
            if top == 0:
                break
            P, scale = P / top, scale + math.log10(top)
            out[t, k] = scale + math.log10(np.linalg.norm(P, 2))
    return out


@pytest.mark.parametrize("activation,n", [("tanh", 16), ("sigmoid", 5), ("linear", 6), ("relu", 7)])
def test_gain_sweep_equals_svd_of_the_full_product(activation, n):
    """Gains below the edge of chaos (above it, float64 trajectories that differ in the last bit part
    ways, whatever computes them), T = 120: equal to 1e-10 in log10, −∞ where the product vanishes."""
    gains = np.array([-1.2, 0.0, 0.3, 0.9, 1.0, 1.1])
    ours = sweep_gain(gains, 120, activation, n, seed=3)
    exact = _gain_sweep_by_svd(gains, 120, activation, n, seed=3)
    assert np.array_equal(np.isinf(ours), np.isinf(exact))
    finite = np.isfinite(exact)
    assert np.max(np.abs(ours[finite] - exact[finite])) < 1e-10


@pytest.mark.parametrize("cell,param,n", [("lstm", "b_f", 1), ("lstm", "W_o", 2), ("gru", "b_z", 2),
                                          ("rnn", "U", 2)])
def test_parameter_sweep_equals_the_reference_jacobians(cell, param, n):
    """Every T and every grid value of the one-pass sweep against ∂s_T/∂s_0 from the hand-written
    mpmath reference (a backward pass per unit vector, a model of each length T)."""
    from symbptt.numeric.examples import example_config, with_param
    from symbptt.numeric.sweeps import sweep_param
    from symbptt.reference import jacobians, log10_norms

    T, grid = 6, np.array([-2.0, 0.5, 3.0])
    cfg = example_config(cell, T, n, gain=1.3, seed=7)
    swept = sweep_param(cfg, param, grid)
    assert set(swept) == ({"state", "h", "c"} if cell == "lstm" else {"h"})
    for j, value in enumerate(grid):
        varied = with_param(cfg, param, float(value))
        for t in range(1, T + 1):
            blocks = jacobians(cell, varied.layers, varied.x[:t], activation="tanh")[0]
            exact = log10_norms(blocks)
            for name, values in swept.items():
                assert abs(values[t - 1, j] - exact[name]) < 1e-9 * max(1.0, abs(exact[name]))


def test_a_long_scalar_sweep_reports_progress_on_a_terminal(monkeypatch):
    """A sweep estimated at minutes (T in the millions) draws `sweep t/T (m:ss left)` on a terminal, every
    PROGRESS_EVERY steps (65,536; 1,024 here, to keep the test short)."""
    import io

    from symbptt.numeric import sweeps
    from symbptt.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sweeps, "PROGRESS_EVERY", 1024)
    for activation in ("tanh", "sigmoid"):
        screen = Terminal()
        with Progress(2_500, "sweep", after=0.0, stream=screen) as bar:
            sweeps.sweep_scalar(np.array([0.5, 1.5]), 2_500, activation, progress=bar.update)
        lines = [line.strip() for line in screen.getvalue().split("\r") if line.strip()]
        assert lines and all(re.fullmatch(r"sweep \d+/2500 \(\d+:\d\d left\)", line) for line in lines), lines
        assert "sweep 1024/2500" in lines[0] and "sweep 2048/2500" in lines[1]


def test_rounding_decides_where_the_trajectory_amplifies_rounding_beyond_float64():
    """The mark is a lower bound made of the sweep's own numbers: ‖∂h_T/∂h_k‖ ≥ 10^(v_T − v_k), for the
    steps k ≥ 1 where rounding is made (h_0 is given): the second column grows 14 decades from h_0 but at
    most 9 from h_1, so no rounding of it is amplified past 10^13."""
    from symbptt.numeric.sweeps import rounding_decides

    v = np.array([[-1.0, 5.0], [-20.0, 10.0], [-6.0, 14.0], [-6.5, 13.5]])  # T = 1..4, two grid values
    mask = rounding_decides(v, "tanh")
    assert mask.tolist() == [[False, False], [False, False], [True, False], [True, False]]
    assert rounding_decides(v + [[0.0, 0.0], [0.0, -10.0], [0.0, 0.0], [0.0, 0.0]], "tanh")[2:, 1].all()  # from h_2
    assert not rounding_decides(v, "linear").any()  # σ' = 1: the value does not depend on the trajectory


def test_a_chaotic_gain_sweep_says_where_rounding_decides():
    """n = 64 tanh at gains near 3 is chaotic by T = 200 (another summation order moves such cells by
    decades): the CSV ends with a note, the JSON marks each cell, calm gains are not marked."""
    from symbptt.numeric.sweep_request import SweepRequest, run_sweep

    result = run_sweep(SweepRequest(n=64, low=0.5, high=3.0, points=6, T=200))
    mask = np.array(result.as_json()["rounding_decides"])
    assert mask[:, 0].sum() == 0 and mask[-1, -1]
    assert result.as_csv().splitlines()[-1].startswith(f"# rounding decides {int(mask.sum())} of 1200 values")
    calm = run_sweep(SweepRequest(n=8, low=0.5, high=0.9, points=3, T=50))
    assert not np.array(calm.as_json()["rounding_decides"]).any() and not calm.as_csv().endswith("decides\n")


def test_a_cell_sweep_says_where_rounding_decides_when_it_knows_how_the_state_grows():
    """IndRNN with sin(a) at gains 2 to 3 (T = 300) is chaotic in some units: the sweep's CSV and JSON mark
    the cells whose norm's growth from some step on passes 10^13 (read off its own values), as the fast
    sweeps do; a relu network that explodes keeps its digits (its state grows as the errors do) and is not
    marked (an rnn with relu, W = 3·W0, swept over its bias: 10^21.8 at T = 60).  An LSTM's state grows at
    most linearly (Cell.bounded): at gains 6 to 9, T = 800, its whole state's norm marks every block; a
    cell file, whose growth is not known, claims nothing either way (no mark, no key)."""
    from symbptt.numeric.sweep_request import SweepRequest, run_sweep
    from symbptt.numeric.sweeps import rounding_decides

    chaotic = run_sweep(SweepRequest(cell="indrnn", n=8, activation="sin(a)", low=2.0, high=3.0, points=3, T=300))
    mask = np.array(chaotic.as_json()["rounding_decides"])
    (values,) = chaotic.values.values()
    with np.errstate(invalid="ignore"):
        by_hand = (values - np.fmin.accumulate(values, axis=0)) > 13
    assert mask.any() and np.array_equal(mask, by_hand) and np.array_equal(mask, rounding_decides(values, "sin(a)"))
    assert chaotic.as_csv().splitlines()[-1].startswith(f"# rounding decides {int(mask.sum())} of 900 values")
    relu = run_sweep(SweepRequest(cell="rnn", n=8, activation="relu", param="b", low=0.5, high=1.0, points=2, T=60,
                                  gain=3.0))
    (grown,) = relu.values.values()
    assert np.nanmax(grown[-1]) > 13 and not np.array(relu.as_json()["rounding_decides"]).any()
    gated = run_sweep(SweepRequest(cell="lstm", n=8, low=6.0, high=9.0, points=3, T=800))
    marked = np.array(gated.as_json()["rounding_decides"])
    assert marked.any() and np.array_equal(marked, rounding_decides(gated.values["state"], None))
    assert gated.as_csv().splitlines()[-1].startswith(f"# rounding decides {int(marked.sum())} of 2400 (T, g) cells, "
                                                      "every block of each")
    unknown = run_sweep(SweepRequest(cell=str(Path(__file__).parent.parent / "docs" / "cells" / "mgu.toml"),
                                     param="w_f", low=0.5, high=1.0, points=2, T=20))
    assert "rounding_decides" not in unknown.as_json() and "rounding decides" not in unknown.as_csv()


def test_a_chaotic_gradient_sweep_says_where_rounding_decides():
    """--quantity grad runs the scalar sweep's forward pass, so the cells where rounding decides ∂L/∂w are
    the Jacobian sweep's (for loss 'sum', every T from the first decided step on): a chaotic sin(a) unit
    (w near 3) is marked from T = 49 in the CSV note and the JSON, and those marks mean something — moving
    h_0 by one ulp moves the marked values by a median of decades and the others by a median under 1e-9 —
    while a calm tanh sweep carries no mark.  (The gradient sweep printed ten digits of every such cell.)"""
    from symbptt.numeric.sweep_request import SweepRequest, run_sweep
    from symbptt.numeric.sweeps import rounding_decides, sweep_grad, sweep_scalar

    grid = np.linspace(2.9, 3.1, 3)
    result = run_sweep(SweepRequest(quantity="grad", activation="sin(a)", low=2.9, high=3.1, points=3, T=300, h0=0.3))
    mask = np.array(result.as_json()["rounding_decides"])
    assert np.array_equal(mask, rounding_decides(sweep_scalar(grid, 300, "sin(a)", h0=0.3), "sin(a)"))
    first = int(np.argmax(mask.any(axis=1))) + 1
    assert result.as_csv().splitlines()[-1].startswith(f"# rounding decides {int(mask.sum())} of 900 values "
                                                       f"(from T = {first})")
    moved = np.abs(sweep_grad(grid, 300, "sin(a)", h0=0.3) - sweep_grad(grid, 300, "sin(a)", h0=np.nextafter(0.3, 1)))
    assert np.median(moved[mask]) > 0.1 and np.median(moved[~mask]) < 1e-9
    summed = run_sweep(SweepRequest(quantity="grad", loss="sum", activation="sin(a)", low=2.9, high=3.1, points=3,
                                    T=300, h0=0.3))
    assert np.array_equal(np.array(summed.as_json()["rounding_decides"]), np.logical_or.accumulate(mask, axis=0))
    calm = run_sweep(SweepRequest(quantity="grad", low=-1.0, high=1.0, points=5, T=200))
    assert not np.array(calm.as_json()["rounding_decides"]).any() and not calm.as_csv().endswith("decides\n")


@pytest.mark.parametrize("activation,init,n,seed", [("tanh", "gaussian", 24, 0), ("relu", "gaussian", 16, 1),
                                                    ("sigmoid", "orthogonal", 12, 2), ("linear", "gaussian", 9, 3),
                                                    ("tanh", "orthogonal", 2, 4)])
def test_the_rate_at_T_without_the_product_is_the_sweep_s_last_row(activation, init, n, seed):
    """final_gain_rates (block power iteration through the T steps, no n×n product) gives the gain sweep's
    log10‖∂h_T/∂h_0‖₂ at T, and marks rounding wherever the sweep does (its lower bound is never smaller)."""
    from symbptt.numeric.final_gain import final_gain_rates
    from symbptt.numeric.sweeps import recurrent_matrix, rounding_decides, sweep_gain

    gains = np.concatenate([[0.0], np.linspace(0.1, 3.5, 15)])  # g = 0: a product exactly 0
    W0 = recurrent_matrix(n, seed, init)
    every = sweep_gain(gains, 80, activation, n, seed=seed, W0=W0)
    at_T, decides, _ = final_gain_rates(gains, 80, activation, n, seed=seed, W0=W0)
    finite = np.isfinite(every[-1])
    assert np.array_equal(np.isfinite(at_T), finite) and at_T[0] == every[-1][0] == -np.inf
    assert np.allclose(at_T[finite], every[-1][finite], rtol=0, atol=1e-11 * (1 + np.abs(every[-1][finite]).max()))
    assert not np.any(rounding_decides(every, activation)[-1] & ~decides)
    if activation == "linear":
        assert not decides.any()


def test_a_sweep_value_past_float64s_logs_is_nan_and_an_exact_zero_stays_minus_infinity():
    """tanh at w = 1e308: Σ_t log10|w σ'(a_t)| passes −1.8e308 at T = 4 and was printed −inf, the mark of an
    exact 0 (which `plot regimes` labels "exactly 0"); it is NaN now.  w = 0 and relu's switched-off
    steps, exact zeros, stay −∞."""
    from symbptt.numeric.sweeps import sweep_scalar

    tanh = sweep_scalar(np.array([0.0, 1e307, 1e308]), 4, "tanh")
    assert np.isneginf(tanh[:, 0]).all() and np.isfinite(tanh[:, 1]).all()
    assert np.isfinite(tanh[:3, 2]).all() and np.isnan(tanh[3, 2])
    relu = sweep_scalar(np.array([-1.0, 0.0, 1e308]), 3, "relu")
    assert np.isneginf(relu[:, 1]).all() and np.isneginf(relu[-1, 0]) and not np.isnan(relu).any()
    huge = sweep_scalar(np.array([1e308]), 4, "a/(1+abs(a))")  # the generic pass: σ' ~ 1/a² each step
    assert not np.isneginf(huge).any()
