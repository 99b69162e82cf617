"""Numbers at the edges: the `grad` report against an independent high-precision BPTT, log-space norms,
sweeps, regimes, truncation, the configuration file."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from conftest import saturated_gru_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt import SymbpttError
from symbptt.check import reference_activation
from symbptt.config import parse_config
from symbptt.numeric.factors import ArrayFactors, NumericModel, gradients
from symbptt.numeric.grad_report import grad_report
from symbptt.numeric.logspace import log10_jacobian_norms, regime
from symbptt.numeric.spectral import spectral_norms
from symbptt.numeric.sweeps import (
    bare_forward,
    random_recurrent_matrix,
    sweep_gain,
    sweep_grad,
    sweep_scalar,
)
from symbptt.output import strict_json
from symbptt.reference import bptt

EXACT_DPS = 60
CELLS = Path(__file__).parent / "cells"


def exact(cfg, truncate: int | None = None) -> tuple:
    """Loss and gradients from the reference BPTT at 60 digits (σ' from a; shares nothing with the engine)."""
    with mpmath.workdps(EXACT_DPS):
        act = reference_activation(cfg.act_name, "mp")
        return bptt(cfg.layers, cfg.x, cfg.y, act, cfg.loss, cfg.spec.name, kind="mp", truncate=truncate)


def assert_report_matches(report_grad, report_log, grads, params, rel=1e-12):
    """Each entry: a number within ``rel`` of the exact value, or {sign, log10} with the exact sign and its
    log10 within ``rel``."""
    layers = report_grad if isinstance(report_grad, list) else [report_grad]
    logs = report_log if isinstance(report_log, list) else [report_log]
    for g, lg, want in zip(layers, logs, grads, strict=True):
        for p in params:
            for value, log, e in zip(np.ravel(np.array(g[p], dtype=object)), np.ravel(np.array(lg[p], dtype=object)),
                                     np.ravel(want[p]), strict=True):
                if e == 0:
                    assert value == 0 and log is None
                    continue
                exact_log = float(mpmath.log10(abs(e)))
                assert log is not None and abs(log - exact_log) < rel * max(1.0, abs(exact_log)) * 10
                if abs(exact_log) < 307.5:
                    assert value is not None and abs(value - float(e)) <= rel * abs(float(e)), (p, value, e)
                else:
                    assert value == {"sign": int(mpmath.sign(e)), "log10": log}, (p, value, e)


CASES = {
    # 1. saturated units: σ' from a keeps every digit (the old 30-digit fallback used 1 − tanh²)
    "tanh a=40": {"activation": "tanh", "W": 1, "U": 1, "b": 0, "h0": 0, "x": [40], "y": 0},
    "tanh w=60 u=40 T=200": {"activation": "tanh", "W": 60, "U": 40, "b": 0, "h0": 0.3,
                             "x": [1.0, -1.0] * 100, "y": 0},
    "sigmoid a=-60": {"activation": "sigmoid", "W": 1, "U": 1, "b": 0, "h0": 0, "x": [-60, 3], "y": 0},
    "linear T=1000": {"activation": "linear", "W": 0.1, "U": 1, "b": 0, "h0": 1, "x": [0.0] * 1000, "y": 0},
    "custom a/(1+|a|) a=1e8": {"activation": "a/(1+abs(a))", "W": 1, "U": 1, "b": 0, "h0": 0, "x": [1e8, 1],
                               "y": 0},
    # 2. a subnormal intermediate (σ' = e^{-724}) must not leak a wrong digit
    "sigmoid subnormal": {"activation": "sigmoid", "W": 40, "U": 1, "b": 0, "h0": 0.5, "x": [-20] * 39 + [724],
                          "y": 0},
    "tanh subnormal": {"activation": "tanh", "W": 2, "U": 1, "b": 0, "h0": 0.5, "x": [1, 362], "y": 0},
    "erf deep": {"activation": "erf(a)", "W": 1, "U": 1, "b": 0, "h0": 0, "x": [26.5, 0.5], "y": 0},
    # 3. a loss below float64's range, gradients between 1e-300 and 1e-308
    "linear tiny loss": {"activation": "linear", "W": 1, "U": 1, "b": -2, "h0": 1, "x": [1], "y": 1e-200},
    "linear 1e-303": {"activation": "linear", "W": 1, "U": 1, "b": 0, "h0": 0, "x": [1e-303], "y": 0},
    "tanh exploding": {"activation": "linear", "W": 10, "U": 1, "b": 0, "h0": 1, "x": [1] * 400, "y": 0},
    "lstm saturated forget gate": {"cell": "lstm", "W_i": 0.5, "W_f": 0.5, "W_g": 0.5, "W_o": 0.5, "U_i": 1,
                                   "U_f": 30, "U_g": 1, "U_o": 1, "b_i": 0, "b_f": 0, "b_g": 0, "b_o": 0, "h0": 0.1,
                                   "c0": 0.2, "x": [-30, 1, 0.5], "y": 0},
    "gru saturated update gate": {"cell": "gru", "W_r": 0.5, "W_z": 0.5, "W_n": 0.5, "U_r": 1, "U_z": 40,
                                  "U_n": 1, "b_r": 0, "b_z": 0, "b_n": 0, "b_hn": 0, "h0": 0.3, "x": [20, 1, 0.5],
                                  "y": 0},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_report_keeps_every_digit_at_the_extremes(name):
    cfg = parse_config(CASES[name])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = json.loads(strict_json(grad_report(cfg)))
    loss, grads = exact(cfg)
    assert_report_matches(report["grad"], report["grad_log10"], grads, cfg.spec.params)
    if loss == 0:
        assert report["loss"] == 0 and report["loss_log10"] is None
    else:
        assert abs(report["loss_log10"] - float(mpmath.log10(loss))) < 1e-12 * max(1, abs(report["loss_log10"]))
        assert isinstance(report["loss"], dict) == (abs(float(mpmath.log10(loss))) >= 307.5)


def test_exact_numbers_of_the_issue():
    """The values a 60-digit BPTT gives for the reported cases, independently of the engine."""
    report = grad_report(parse_config(CASES["tanh a=40"]))
    assert report["grad"]["b"] == pytest.approx(7.2194055513816e-35, rel=1e-12)
    assert report["grad"]["U"] == pytest.approx(2.887762220552664e-33, rel=1e-12)
    assert report["grad"]["W"] == 0.0  # h0 = 0 multiplies it: exactly zero
    sub = grad_report(parse_config(CASES["sigmoid subnormal"]))
    assert sub["grad"]["h0"] == pytest.approx(3.068777881671992e-283, rel=1e-12)
    tiny = grad_report(parse_config(CASES["linear tiny loss"]))
    assert tiny["loss"] == {"sign": 1, "log10": pytest.approx(-400.30102999566395, abs=1e-12)}
    assert tiny["loss_log10"] == pytest.approx(-400.30102999566395, abs=1e-12)
    zero = grad_report(parse_config({"activation": "tanh", "W": 0.5, "U": 0, "b": 0, "h0": 0, "x": [1], "y": 0}))
    assert zero["loss"] == 0.0 and zero["loss_log10"] is None


def test_an_exact_zero_entry_does_not_send_the_report_to_mpmath():
    """An input column that is always 0 gives exactly-zero gradient entries: float64 is exact there."""
    rng = np.random.default_rng(0)
    n = 16
    cfg = parse_config({"activation": "tanh", "W": (rng.normal(0, 0.3, (n, n))).tolist(),
                        "U": rng.normal(0, 1, (n, 2)).tolist(), "b": [0.0] * n, "h0": [0.1] * n,
                        "x": [[float(v), 0.0] for v in rng.uniform(-1, 1, 30)], "y": [0.0] * n})
    report = grad_report(cfg)
    assert report["precision"].startswith("float64")
    assert all(row[1] == 0.0 for row in report["grad"]["U"])
    assert all(row[1] is None for row in report["grad_log10"]["U"])


@pytest.mark.parametrize("w,expected", [(0.1, 1.0e-5), (10.0, 0.995)])
def test_truncated_report_beyond_float64(w, expected):
    cfg = parse_config({"activation": "linear", "W": w, "U": 1, "b": 0, "h0": 1, "x": [1.0] * 1000, "y": 0,
                        "truncate": 5})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = grad_report(cfg)
    _, full = exact(cfg)
    _, cut = exact(cfg, truncate=5)
    with mpmath.workdps(EXACT_DPS):
        a = [v for p in ("W", "U", "b", "h0") for v in np.ravel(cut[0][p])]
        b = [v for p in ("W", "U", "b", "h0") for v in np.ravel(full[0][p])]
        rel = mpmath.sqrt(sum((u - v) ** 2 for u, v in zip(a, b, strict=True))) / mpmath.sqrt(sum(v * v for v in b))
    assert report["truncated"]["relative_difference"] == pytest.approx(float(rel), rel=1e-10)
    assert report["truncated"]["relative_difference"] == pytest.approx(expected, rel=2e-2)
    assert_report_matches(report["truncated"]["grad"], report["truncated"]["grad_log10"], cut, ["W", "U", "b", "h0"])


@pytest.mark.parametrize("loss", ["last", "sum"])
def test_truncation_through_every_step_is_the_full_gradient_without_a_walk(loss, monkeypatch):
    """truncate = T drops no path: the truncated gradients are the full ones and differ by exactly 0, read
    without walking the T·k steps of truncated BPTT (planted: a walk raises); reference.py agrees that
    truncating at T changes nothing but the order of the sums."""
    from symbptt.numeric import grad_report as report_module
    from symbptt.reference import bptt

    T = 9
    data = {"activation": "tanh", "W": 1.1, "U": 0.7, "b": 0.1, "h0": 0.2, "x": [0.3 * (-1) ** t for t in range(T)],
            "y": [0.1] * T if loss == "sum" else 0.1, "loss": loss, "truncate": T}
    monkeypatch.setattr(report_module, "evaluate_truncated", lambda *a: 1 / 0)
    report = grad_report(parse_config(data))
    assert report["truncated"]["relative_difference"] == 0.0 and report["truncated"]["k"] == T
    assert report["truncated"]["grad"] == report["grad"]
    layers = [{"W": np.array([[1.1]]), "U": np.array([[0.7]]), "b": np.array([0.1]), "h0": np.array([0.2])}]
    x, y = np.array(data["x"]).reshape(T, 1), np.array(data["y"], dtype=float).reshape(-1, 1)[:, 0]
    y = y.reshape(T, 1) if loss == "sum" else y
    full, cut = bptt(layers, x, y, "tanh", loss)[1][0], bptt(layers, x, y, "tanh", loss, truncate=T)[1][0]
    assert all(np.allclose(full[p], cut[p], rtol=1e-14, atol=0) for p in full)  # summed in another order


def test_matrix_norms_in_log_space():
    """tanh, W = 0.5·I, x = [0.2, 400]: σ' ≈ 10^-347.6 on both units; the norms keep it."""
    cfg = parse_config({"activation": "tanh", "W": [[0.5, 0], [0, 0.5]], "U": [[1], [1]], "b": [0, 0],
                        "h0": [0.1, 0.1], "x": [0.2, 400], "y": [0, 0]})
    report = grad_report(cfg)
    logs = [row["log10"] for row in report["log10_jacobian_norms"]]
    assert logs[0] == pytest.approx(-347.5688176322757, abs=1e-9)
    assert logs[1] == pytest.approx(-347.2409223505345, abs=1e-9)
    assert logs[2] == 0.0
    assert report["lyapunov_rate"] == pytest.approx(-347.5688176322757 * math.log(10) / 2, rel=1e-12)


def test_matrix_norm_is_spectral_norm_of_the_whole_product():
    cfg = parse_config({"activation": "tanh", "W": [[0.9, -1.2], [0.4, 0.7]], "U": [[1.0], [0.3]], "b": [0.1, 0],
                        "h0": [0.2, -0.1], "x": list(np.linspace(-1, 1, 12)), "y": [0, 0]})
    values = ArrayFactors(NumericModel.of(cfg))
    from symbptt.paths import Step

    product = np.eye(2)
    for t in range(12, 0, -1):
        product = product @ values.factor(Step("J", 1, t))
    ours = log10_jacobian_norms(values)["state"]
    assert abs(ours[0] - math.log10(np.linalg.norm(product, 2))) < 1e-12
    per_step = sum(math.log10(np.linalg.norm(values.factor(Step("J", 1, t)), 2)) for t in range(1, 13))
    assert per_step > ours[0] + 1e-3  # the product of per-step norms is only an upper bound


@settings(max_examples=25)
@given(st.integers(1, 16), st.integers(1, 40), st.sampled_from([1.0, 1e-150, 1e150]), st.integers(0, 2**32 - 1))
def test_small_blocks_take_the_same_norms_from_one_svd_call_as_one_norm_each(m, count, scale, seed):
    """The report's norms of a stack of small blocks, from one batched SVD, are np.linalg.norm(·, 2) of
    each block to the bit (so the printed logs do not depend on how many products a batch held)."""
    from symbptt.numeric.logspace import _batch_norms

    mats = np.random.default_rng(seed).normal(size=(count, m, m)) * scale
    each = np.array([float(np.linalg.norm(a, 2)) if m > 1 else abs(float(a[0, 0])) for a in mats])
    assert np.array_equal(_batch_norms(mats), each)
    blocks = np.random.default_rng(seed).normal(size=(count, 2 * m, 2 * m))[:, m:, :m]  # a strided block
    assert np.array_equal(_batch_norms(blocks), [float(np.linalg.norm(a, 2)) if m > 1 else abs(float(a[0, 0]))
                                                 for a in blocks])


@pytest.mark.parametrize("cell,seed", [("rnn", 0), ("lstm", 1), ("gru", 2)])
def test_norms_over_T_of_a_wide_state_are_the_svd_norms_of_the_product(cell, seed):
    """log10‖∂s_t/∂s_0‖₂ for every t with warm-started power iteration (states above 16 units) equals the
    SVD of the product multiplied out step by step, every block and every t."""
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.logspace import StepMatrices, log10_norms_by_T, log_coefficients

    values = ArrayFactors(NumericModel.of(example_config(cell, 40, 20, gain=1.3, seed=seed)))
    seen: list[int] = []
    ours = log10_norms_by_T(values, on_step=seen.append)
    assert seen == list(range(1, 41))
    steps, n = StepMatrices(values, 1, log_coefficients(values, 1)), 20
    product, scale = np.eye(len(values.model.cell.states) * n), 0.0
    for t in range(1, 41):
        step, m = steps(t)
        product, scale = step @ product, scale + m
        for i, name in enumerate(values.model.cell.states):
            block = product[i * n:(i + 1) * n, i * n:(i + 1) * n]
            assert ours[name][t - 1] == pytest.approx(scale + math.log10(np.linalg.norm(block, 2)), abs=1e-11)
        assert ours["state"][t - 1] == pytest.approx(scale + math.log10(np.linalg.norm(product, 2)), abs=1e-11)


@pytest.mark.parametrize("cell,seed,T", [("rnn", 0, 30), ("lstm", 1, 30), ("gru", 2, 230), ("indrnn", 3, 30),
                                         ("mingru", 4, 30), ("minlstm", 5, 230), ("lru", 6, 30),
                                         ("diagpair.toml", 7, 30)])
def test_report_norms_of_a_wide_state_are_the_svd_norms_of_the_product(cell, seed, T, monkeypatch):
    """log10‖∂s_T/∂s_k‖₂ as the report lists it (states above 16 units: the largest eigenvalue of PᵀP,
    a batch at a time; for T = 230 at 201 spread k) equals the SVD of the product multiplied out step by
    step from T down, every block and every listed k.  Cells whose every block is diagonal (IndRNN,
    minGRU, minLSTM, LRU, and a file cell with two such states) are multiplied unit by unit there
    (logspace._unit_norms): the same norms."""
    from symbptt.numeric import logspace
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.logspace import StepMatrices, listed_steps, log_coefficients

    cell = str(CELLS / cell) if cell.endswith(".toml") else cell
    values = ArrayFactors(NumericModel.of(example_config(cell, T, 20, gain=1.3, seed=seed)))
    ks = listed_steps(T)
    unit_by_unit: list[int] = []
    original = logspace._unit_norms
    monkeypatch.setattr(logspace, "_unit_norms", lambda *a: unit_by_unit.append(1) or original(*a))
    ours = log10_jacobian_norms(values, ks=ks)
    assert bool(unit_by_unit) == (cell not in ("rnn", "lstm", "gru"))
    steps, n = StepMatrices(values, 1, log_coefficients(values, 1)), 20
    product, scale, checked = np.eye(len(values.model.cell.states) * n), 0.0, 0
    for k in range(T, -1, -1):
        if k < T:
            step, m = steps(k + 1)
            product, scale = product @ step, scale + m
        if k not in ks:
            continue
        i_k, checked = ks.index(k), checked + 1
        for i, name in enumerate(values.model.cell.states):
            block = product[i * n:(i + 1) * n, i * n:(i + 1) * n]
            assert ours[name][i_k] == pytest.approx(scale + math.log10(np.linalg.norm(block, 2)), abs=1e-12)
        assert ours["state"][i_k] == pytest.approx(scale + math.log10(np.linalg.norm(product, 2)), abs=1e-12)
    assert checked == len(ks) == min(T + 1, 201)


@settings(max_examples=40, deadline=None)
@given(cell=st.sampled_from(["indrnn", "mingru", "lru"]), seed=st.integers(0, 10**6), T=st.integers(1, 700),
       n=st.integers(1, 9), gain=st.floats(0.2, 4.0), drive=st.floats(0.5, 30.0))
def test_one_state_norms_summed_in_logs_are_the_products_multiplied_out(cell, seed, T, n, gain, drive):
    """Property: for cells with one state whose step is diagonal, the norms the report takes by summing each
    unit's logs from T down (logspace._one_state_logs, chunks of steps at a time: T up to 700 crosses
    several) are those of the exact products of the float64 coefficients, unit by unit (their logs summed
    in mpmath), the largest unit's being the norm."""
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.logspace import StepMatrices, _one_state_logs, listed_steps, log_coefficients

    values = ArrayFactors(NumericModel.of(example_config(cell, T, n, gain=gain, drive=drive, seed=seed)))
    logs = log_coefficients(values, 1)
    steps = StepMatrices(values, 1, logs, units=True)
    steps.chunk = 97  # several chunks (the default holds every step of these runs at once)
    ks = listed_steps(T)
    ours = _one_state_logs(steps, ks)
    assert ours is not None
    (key,) = {(route.target, leaf) for route, leaf, _ in steps.used}  # one route back: h_t's own coefficient
    lg = logs[key][1]
    with mpmath.workdps(40):  # each unit's Σ_{t>k} log10|c_t| from T down, every partial sum exact
        tails, sums = {T: 0.0}, [mpmath.mpf(0)] * n
        for k in range(T - 1, -1, -1):
            sums = [total + mpmath.mpf(float(lg[k + 1, i])) for i, total in enumerate(sums)]
            tails[k] = float(max(sums))
    for i_k, k in enumerate(ks):
        assert ours[i_k] == pytest.approx(tails[k], abs=1e-12 * max(1.0, abs(tails[k]))), (k, T)
    assert _one_state_logs(steps, ks[::-1]) == ours[::-1]  # in the order the steps are asked for


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0), st.just(-0.0),
                          st.floats(min_value=1e-320, max_value=1e-300)), min_size=1, max_size=12))
def test_a_gradient_block_is_written_as_each_entry_would_be(values):
    """The report writes a float64 block at once: the same JSON value and log10, entry by entry, as
    grad_report.entry gives (0 → 0 and null, subnormal → null and its log10, inf/NaN → null and null)."""
    from symbptt.numeric.grad_report import _split, entry

    block = np.array(values, dtype=float)
    vals, logs = _split(block, (block.size,), False)
    for x, v, lg in zip(block, vals, logs, strict=True):
        want_v, want_log = entry(x)
        assert (v, lg) == (want_v, want_log) or (v is None and want_v is None and lg == want_log)
        assert type(v) is type(want_v) and type(lg) is type(want_log)


def test_report_is_strict_json_with_sign_and_log10_beyond_float64():
    cfg = parse_config({"activation": "linear", "W": 5.0, "U": 1.0, "b": 0.0, "h0": 0.1, "x": [0.5] * 1000, "y": 0})
    text = strict_json(grad_report(cfg))
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["grad"]["h0"]["sign"] == 1 and data["grad"]["h0"]["log10"] == data["grad_log10"]["h0"] > 600
    rows = data["log10_jacobian_norms"]
    assert rows[0]["k"] == 0 and abs(rows[0]["log10"] - 1000 * math.log10(5)) < 1e-9
    assert len(rows) == 201 and rows[-1]["k"] == 1000  # long runs list 201 k spread over 0..T


def test_report_states_the_bound_beside_what_was_observed():
    data = grad_report(parse_config(json.loads(open("docs/example.json").read())))
    assert data["regime"]["label"] == "exploding possible"
    assert data["observed"].startswith("vanishing: 10^")
    assert "bound: exploding possible; observed: vanishing" in data["summary"]


@pytest.mark.parametrize("w", [0.3, 0.95, 1.0, 2.5])
def test_the_observed_rate_says_its_logarithm_and_agrees_with_the_power_beside_it(w):
    """"10^P over T = N, rate R per step": R is a natural-log rate (the JSON's lyapunov_rate), which a
    reader of the power of 10 beside it would take for P/N unless told.  The words say so, and R is
    P·ln 10/N to the digits both show."""
    cfg = json.loads(open("docs/example.json").read()) | {"W": w}
    data = grad_report(parse_config(cfg))
    found = re.fullmatch(r"\w+: 10\^(\S+) over T = (\d+), rate (\S+) per step \(natural log\)", data["observed"])
    assert found, data["observed"]
    power, T, rate = float(found[1]), int(found[2]), float(found[3])
    assert rate == pytest.approx(data["lyapunov_rate"], rel=5e-3, abs=5e-4)
    assert rate == pytest.approx(power * math.log(10) / T, rel=1e-2, abs=1e-3)


def test_regime_label_comes_from_sigma_max_not_spectral_radius():
    """A W with ρ < 1 but σ_max > 1 is not labelled 'vanishing guaranteed'."""
    W = np.array([[0.5, 3.0], [0.0, 0.5]])
    r = regime(W, "tanh")
    assert r["spectral_radius"] < 1 < r["sigma_max"]
    assert r["label"] == "exploding possible"
    assert regime(np.array([[0.5, 0.1], [0.0, 0.5]]), "tanh")["label"] == "vanishing guaranteed"
    assert regime(np.array([[3.0]]), "sigmoid")["label"] == "vanishing guaranteed"  # γ = 1/4


@pytest.mark.parametrize("text,gamma,label", [
    ("tanh(a-40)", 1.0, "vanishing guaranteed"),
    ("atan(1000000*(a-0.00025))", 1e6, "exploding possible"),
    ("a**3/1000", None, "no bound (σ' is unbounded)"),
    ("a*sin(a)", None, "no bound (σ' is unbounded)"),  # σ' = sin a + a cos a oscillates without bound
    ("a*log(1+a**2)", None, "no bound (σ' is unbounded)"),  # σ' ≈ 2 ln|a|: was 57.26 "exact"
    ("a/(1+abs(a))", 1.0, "vanishing likely (γ estimated)"),
])
def test_custom_gamma_found_or_honestly_estimated(text, gamma, label):
    r = regime(np.array([[0.5]]), text)
    if gamma is None:
        assert r["gamma"] is None
    else:
        assert r["gamma"] == pytest.approx(gamma, rel=1e-6)
    assert r["label"] == label


def test_a_periodic_slope_is_estimated_without_asking_sympy_for_its_critical_points(monkeypatch):
    """The slope of atan(cos(a) + π) + 2 is periodic: its critical points on the real line are endless,
    and SymPy's solveset did not come back within 25 s (found by benchmarks/activation_fuzz.py's draws;
    γ took the 20 s net).  γ is estimated without asking (planted: solveset records its calls), to the
    largest |σ'| on a fine grid over one period; erf's, whose slope has no sine, is still proved."""
    from symbptt.activations import GAMMA_EXACT, _custom

    asked: list[sp.Expr] = []
    real = sp.solveset
    monkeypatch.setattr(sp, "solveset", lambda *args, **kwargs: asked.append(args[0]) or real(*args, **kwargs))
    gamma, how = _custom("atan(cos(a) + pi) + 2.0").gamma_found()
    assert not asked and how.startswith("estimated")
    v = np.linspace(0.0, 2 * np.pi, 2_000_001)
    assert abs(gamma - float(np.max(np.abs(np.sin(v) / ((np.cos(v) + np.pi) ** 2 + 1))))) < 1e-9
    assert _custom("erf(a)").gamma_found() == (pytest.approx(2 / math.sqrt(math.pi)), GAMMA_EXACT) and asked


@pytest.mark.parametrize("activation", ["erf(a)", "a**2", "sin(a)"])
def test_custom_activations_work_in_grad_and_sweep(activation):
    cfg = parse_config({"activation": activation, "W": [[0.5, 0.2], [0.1, 0.3]], "U": [[1], [2]], "b": [0, 0],
                        "h0": [0.1, 0.2], "x": [0.5, 2.0, 30.0, -1], "y": [0, 0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        json.loads(strict_json(grad_report(cfg)))
        values = sweep_scalar(np.linspace(-2, 2, 5), 20, activation, seed=1)
    assert values.shape == (20, 5)


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


@settings(max_examples=25)
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


@settings(max_examples=30, deadline=None)
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


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 5), st.integers(0, 2**31), st.floats(-30, 30))
def test_block_power_iteration_equals_the_svd(n, G, seed, log_scale):
    """The spectral norms of the gain sweep against LAPACK's SVD, from a cold start, a random block
    and a block orthogonal to the top right singular vector (the iteration must still find it)."""
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(G, n, n)) * 10.0 ** log_scale
    P[0, :, 0] = 0.0  # a zero column: e₁ is in the null space of P₀
    exact = np.linalg.norm(P, 2, axis=(1, 2))
    k = min(4, n)
    complement = np.linalg.svd(P)[2][:, 1:k + 1, :].swapaxes(1, 2)  # right singular vectors 2..k+1
    starts = [np.broadcast_to(np.eye(n, k), (G, n, k)).copy(), np.linalg.qr(rng.normal(size=(G, n, k)))[0]]
    if n > k:
        starts.append(complement)
    for start in starts:
        found, block = spectral_norms(P, start)
        assert block.shape == (G, n, k)
        assert np.allclose(found, exact, rtol=1e-11, atol=0)


@pytest.mark.parametrize("seed", range(4))
def test_certified_norms_are_the_svd_norms_where_given_and_prove_long_products(seed):
    """Products of 1 to 60 random steps (m = 24 to 48): where certified_norms gives a norm it is LAPACK's
    SVD norm to a few roundings.  Steps that shrink all but one direction (as an RNN's contracting
    Jacobians do) make products whose σ₁ dominates: past the first few, every one is proven; the
    identity (singular values all alike) is left to the eigensolver."""
    from symbptt.numeric.spectral import certified_norms

    rng = np.random.default_rng(seed)
    m = 24 + 8 * seed
    basis = np.linalg.qr(rng.normal(size=(m, m)))[0]
    shrink = (basis * np.r_[1.0, np.full(m - 1, 0.5)]) @ basis.T
    for kind in ("gaussian", "shrinking"):
        products, product = [np.eye(m)], np.eye(m)
        for _ in range(60):
            step = rng.normal(size=(m, m)) / np.sqrt(m)
            step = shrink @ (np.eye(m) + 0.3 * step) if kind == "shrinking" else step
            product = product @ step
            product /= np.max(np.abs(product))
            products.append(product.copy())
        P = np.stack(products)
        found = certified_norms(P)
        exact = np.linalg.norm(P, 2, axis=(1, 2))
        given = ~np.isnan(found)
        assert np.all(np.abs(found[given] / exact[given] - 1) <= 16 * 2.0**-53)
        assert not given[0]
        if kind == "shrinking":
            assert given[10:].all()


@settings(max_examples=40, deadline=None)
@given(st.integers(17, 40), st.integers(1, 40), st.floats(0.05, 0.95), st.floats(-30, 30), st.integers(0, 2**31))
def test_certified_norms_are_the_svd_norm_or_nothing(m, steps, spread, log_scale, seed):
    """Any product of ``steps`` random steps that shrink all but one direction by ``spread`` (some
    dominate, some do not), at any scale: certified_norms gives LAPACK's SVD norm to 16 roundings, or NaN
    (the eigensolver's case) — never a wrong number."""
    from symbptt.numeric.spectral import certified_norms

    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(m, m)))[0]
    shrink = (basis * np.r_[1.0, np.full(m - 1, spread)]) @ basis.T
    product = np.eye(m)
    for _ in range(steps):
        product = product @ shrink @ (np.eye(m) + 0.5 * rng.normal(size=(m, m)) / np.sqrt(m))
        product /= np.max(np.abs(product))
    P = product[None] * 10.0**log_scale
    found = certified_norms(P)[0]
    assert np.isnan(found) or abs(found / np.linalg.norm(P[0], 2) - 1) <= 16 * 2.0**-53


def test_certified_norms_do_not_take_a_lower_singular_value_for_the_norm():
    """The start P·1 is exactly the second left singular vector, where the iteration stands still with no
    residual: its Rayleigh quotient is σ₂², not below half of ‖P‖_F², so no norm is given (a check
    without that condition would give σ₂ = 0.9 for ‖P‖₂ = 1)."""
    from symbptt.numeric.spectral import certified_norms

    rng = np.random.default_rng(3)
    m = 20
    Q = np.linalg.qr(rng.normal(size=(m, m)))[0]
    V = np.linalg.qr(np.column_stack([np.ones(m), rng.normal(size=(m, m - 1))]))[0]
    V = V[:, [1, 0, *range(2, m)]]  # v₁ ⊥ 1, v₂ ∝ 1: P·1 = s₂·√m·u₂
    s = np.array([1.0, 0.9] + [1e-3] * (m - 2))
    P = (Q * s) @ V.T
    found = certified_norms(P[None])
    assert np.isnan(found[0]) or abs(found[0] - 1.0) <= 4 * 2.0**-53


def test_certified_norms_prove_a_dominant_norm_from_a_start_nearly_orthogonal_to_it():
    """σ₁² is 98% of ‖P‖_F², but the start P·1 meets the leading left singular vector at a cosine of about
    0.003 (v₁ nearly ⊥ 1, as signed columns that cancel make it): the first Rayleigh quotients lie far
    below half of ‖P‖_F², and two iterations later the iteration has turned to u₁.  The norm is proven
    (LAPACK's SVD norm to 16 roundings), not left to the eigensolver — as it was while a matrix not yet
    past half of ‖P‖_F² at the first iteration was given up."""
    from symbptt.numeric.spectral import certified_norms

    rng = np.random.default_rng(5)
    m = 40
    Q = np.linalg.qr(rng.normal(size=(m, m)))[0]
    ones = np.ones(m) / np.sqrt(m)
    away = np.linalg.qr(np.column_stack([ones, rng.normal(size=(m, m - 1))]))[0][:, 1]  # ⊥ 1
    v1 = away + 0.00005 * ones  # P·1 = Σ sᵢ (vᵢ·1) uᵢ: its u₁ part is s₁·0.00005·√m
    V = np.linalg.qr(np.column_stack([v1, rng.normal(size=(m, m - 1))]))[0]
    s = np.array([1.0, 0.12] + [0.01] * (m - 2))
    P = (Q * s) @ V.T
    start = P @ np.ones(m)
    assert abs(start @ Q[:, 0]) / np.linalg.norm(start) < 0.01  # nearly orthogonal, as intended
    found = certified_norms(P[None])[0]
    assert not np.isnan(found) and abs(found / np.linalg.norm(P, 2) - 1) <= 16 * 2.0**-53


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


def test_gradients_of_every_cell_equal_the_reference():
    from conftest import random_layers

    from symbptt.cells import get_cell
    from symbptt.config import Config

    rng = np.random.default_rng(5)
    for cell in ("rnn", "lstm", "gru"):
        spec = get_cell(cell, None if cell != "rnn" else __import__("symbptt.activations").activations.get_activation(
            "tanh"))
        layers = random_layers(spec, 3, 2, 2, rng)
        cfg = Config(cell, None, layers, rng.uniform(-1, 1, (5, 2)), rng.uniform(-1, 1, (5, 3)), "sum")
        _, ours = gradients(cfg)
        _, ref = bptt(cfg.layers, cfg.x, cfg.y, "tanh", "sum", cell)
        for mine, theirs in zip(ours, ref, strict=True):
            for p in spec.params:
                assert np.allclose(mine[p], theirs[p], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("data,field", [
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "y": 0}, "x"),
    ({"W": [[1, 2]], "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}, "W"),
    ({"W": 1, "U": [[1, 2]], "b": 0, "h0": 0, "x": [1], "y": 0}, "U"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [[1, 2]], "y": 0}, "U"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0, "activation": "nope"}, "activation"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1, 2], "y": 0, "truncate": 3}, "truncate"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1, 2], "y": [1], "loss": "sum"}, "y"),
    ({"W": "0.9", "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}, "W"),
    ({"W": True, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}, "W"),
    ({"U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}, "W"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0, "los": "sum"}, "did you mean 'loss'"),
    ({"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0, "truncte": 2}, "did you mean 'truncate'"),
    ({"cell": "lstm", "W": 1, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}, "W_i"),
    ({"cell": "gru", "activation": "relu"}, "activation"),
])
def test_config_errors_name_the_field(data, field):
    with pytest.raises(SymbpttError, match=field):
        parse_config(data)


def test_lower_case_names_of_the_scalar_model_are_accepted():
    cfg = parse_config({"w": 0.9, "u": 1, "b": 0, "h0": 0, "x": [1, 2], "y": 0})
    assert cfg.layers[0]["W"][0, 0] == 0.9


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


def test_precision_follows_the_conditioning_the_report_measures():
    """sin(a) with W = 3 is chaotic: the float64 trajectory amplifies rounding by ~10^14, so the report is
    recomputed exactly, and every field (loss, gradient, norms) comes from that one trajectory.  The
    values of the issue: loss 0.026758072839092109 (float64 printed 0.02546…), ∂L/∂W 1.8961e13."""
    cfg = parse_config({"activation": "sin(a)", "W": 3, "U": 1, "b": 0, "h0": 0.3, "x": [0.1] * 60, "y": 0})
    report = grad_report(cfg)
    assert report["precision"].startswith(("Arb at ", "mpmath at ")) and "rounding amplified by up to 10^14" in \
        report["precision"]
    assert report["loss"] == pytest.approx(0.026758072839092109, rel=1e-15)
    assert report["grad"]["W"] == pytest.approx(1.8961e13, rel=1e-4)
    from symbptt.numeric.exact import exact_gradients_mp
    from symbptt.numeric.factors import NumericModel

    with mpmath.workdps(80):  # the same BPTT at 80 digits: the 45 the report chose kept 12 or more
        grads = exact_gradients_mp(NumericModel.of(cfg).as_mp())
    assert report["grad"]["W"] == pytest.approx(float(np.ravel(grads[0]["W"])[0]), rel=1e-12)
    calm = grad_report(parse_config({"activation": "tanh", "W": 0.5, "U": 1, "b": 0, "h0": 0.3, "x": [0.1] * 60,
                                     "y": 0}))
    assert calm["precision"].startswith("float64 (kept about 1") and calm["float64_digits"]["worst_entry"] >= 13


def test_norms_beyond_float64_are_numbers_not_null():
    """a**2 explodes past 10^308 in a dozen steps: the norms are recomputed from the exact trajectory
    (they used to be null and the verdict 'beyond any range')."""
    cfg = parse_config({"activation": "a**2", "W": 1.5, "U": 1, "b": 0, "h0": 0.9, "x": [0.5] * 12, "y": 0})
    report = grad_report(cfg)
    first = report["log10_jacobian_norms"][0]["log10"]
    assert first is not None and first > 1000
    assert report["observed"].startswith("exploding: 10^") and "beyond" not in report["observed"]
    digits = int(report["precision"].split()[2])
    assert digits >= 30 + first


def test_norms_beyond_any_exponent_are_one_line_not_a_traceback():
    """exp(a) with W = 50: h_3 = exp(50·e^12200), whose log10 is beyond float64 — a refusal that says so
    (it was OverflowError after a minute, then "amplifies rounding by 10^inf")."""
    from symbptt.errors import RunFailed

    cfg = parse_config({"activation": "exp(a)", "W": 50, "U": 1, "b": 0, "h0": 0.1, "x": [0.5] * 3, "y": 0})
    with pytest.raises(RunFailed, match="beyond float64's range") as failed:
        grad_report(cfg)
    assert "inf" not in str(failed.value) and "\n" not in str(failed.value)


def test_a_stack_s_summary_names_each_layer_and_the_worst():
    """Layer 1 explodes (w = 3) under a layer that vanishes (w = 0.1): the summary used to report the top
    layer only; now each layer's bound and observation, and the worst layer, come from the norms."""
    layer = {"U": [[1.0]], "b": [0.0], "h0": [0.1]}
    data = {"activation": "linear", "layers": [{"W": [[3.0]], **layer}, {"W": [[0.1]], **layer}],
            "x": [0.1] * 50, "y": 0}
    report = grad_report(parse_config(data))
    assert report["observed"][0].startswith("exploding: 10^23.9") and report["observed"][1].startswith("vanishing")
    assert "layer 1: bound exploding possible, observed exploding" in report["summary"]
    assert report["summary"].endswith("worst: layer 2")  # 10^-50 lies further from 1 than 10^23.9
    data["layers"][0]["W"] = [[30.0]]
    assert grad_report(parse_config(data))["summary"].endswith("worst: layer 1")


def test_a_gated_cell_is_observed_through_its_whole_state():
    """An LSTM with b_f = 6 keeps its cell state (‖∂s_T/∂s_0‖ near 1) while ∂h_T/∂h_0 alone vanishes: the
    verdict comes from the whole state, the h block beside it."""
    data = {"cell": "lstm", **{f"W_{g}": 0.5 for g in "ifgo"}, **{f"U_{g}": 1 for g in "ifgo"},
            "b_i": 0, "b_f": 6, "b_g": 0, "b_o": 0, "h0": 0, "c0": 0, "x": [0.5] * 30, "y": 0}
    report = grad_report(parse_config(data))
    assert report["observed"].startswith("neither") and report["observed_h"].startswith("vanishing")
    shown = float(report["observed"].split("^")[1].split()[0])
    assert report["log10_jacobian_norms"][0]["log10"] == pytest.approx(shown, abs=5e-3)


def test_cancellation_in_the_forward_pass_is_measured_and_the_truncated_gradient_computed_exactly():
    """Trial 85 of `check --seed 3` when check drew rnn, lstm and gru only: an LSTM whose cell state
    c_t = f c_{t-1} + i g nearly cancels (6.3 digits), so c and everything proportional to it keep fewer
    digits in float64.  The reruns measure what that costs the full gradients (13 digits here, and every
    entry holds what the report claims against the exact values); the truncated gradient, which no rerun
    measures, is computed exactly (in float64 it was 4e-11 off)."""
    from symbptt.check import Exact, _json_report, digits_claimed, random_trial, truncated_json

    rng = np.random.default_rng(3)
    for _ in range(86):
        trial = random_trial(rng, 6, ("rnn", "rnn", "rnn", "lstm", "gru"))
    report = _json_report(trial)
    assert report["precision"].startswith("float64 (kept about 13 digits")
    assert "6.3 digits cancelled in a sum" in report["precision"]
    exact = Exact(trial)
    assert max(digits_claimed(trial, exact, {"report": report})) == 0.0
    assert max(truncated_json(trial, exact, {})) < 1e-13


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


def test_relative_difference_keeps_its_digits_where_float64_rounds_it_to_zero():
    """w = 1e-20: the steps truncation drops carry ~1e-40 of the gradient; float64 subtraction gave 0.0.
    Checked against the independent reference BPTT at 150 digits."""
    data = {"activation": "tanh", "W": 1e-20, "U": 1, "b": 0, "h0": 0.1, "x": [0.5, 0.3, 0.2, 0.4], "y": 0,
            "truncate": 2}
    cfg = parse_config(data)
    found = grad_report(cfg)["truncated"]["relative_difference"]
    with mpmath.workdps(150):
        _, full = bptt(cfg.layers, cfg.x, cfg.y, "tanh", cfg.loss, "rnn", kind="mp")
        _, cut = bptt(cfg.layers, cfg.x, cfg.y, "tanh", cfg.loss, "rnn", kind="mp", truncate=2)
        a = [v for p in cfg.spec.params for v in np.ravel(cut[0][p])]
        b = [v for p in cfg.spec.params for v in np.ravel(full[0][p])]
        want = mpmath.sqrt(sum((u - v) ** 2 for u, v in zip(a, b, strict=True))) / mpmath.sqrt(sum(v * v for v in b))
    assert 1e-42 < found < 1e-38 and found == pytest.approx(float(want), rel=1e-12)


def test_a_user_cell_s_tanh_node_is_saturated_near_plus_or_minus_one_whatever_its_name(tmp_path):
    """The saturation rule reads each node's range from its expression: a GRU written as a cell file with
    its tanh node named m (not n) is not 'saturated' by values below 0 (a σ node would be, near 0), and
    is by inputs that drive it to ±1 — as the built-in GRU is."""
    from pathlib import Path

    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.exact import saturation_digits

    text = Path(__file__).parent.joinpath("cells", "vgru.toml").read_text()
    renamed = text.replace('n = "tanh', 'm = "tanh').replace("(1 - z)*n", "(1 - z)*m").replace('"vgru"', '"vgru_m"')
    (tmp_path / "vgru_m.toml").write_text(renamed)
    rng = np.random.default_rng(4)
    n = 3
    params = {k: rng.normal(size=(n, n)) * 0.5 for k in ("W_r", "W_z", "W_n")}
    params |= {k: rng.normal(size=(n, 1)) for k in ("U_r", "U_z", "U_n", "b_r", "b_z", "b_n", "b_hn")}
    params["h0"] = np.zeros((n, 1))
    for scale, saturated in ((1.0, False), (60.0, True)):
        x = rng.normal(size=(12, 1, 1)) * scale
        found = []
        for cell in (str(tmp_path / "vgru_m.toml"), "gru"):
            spec = get_cell(cell, get_activation("tanh"))
            values = ArrayFactors(NumericModel(spec, [params], x, np.zeros((n, 1)), "last"))
            tanh_node = "m" if cell != "gru" else "n"
            assert values.traj.values[0][tanh_node][1:].min() < 0
            found.append(saturation_digits(values))
        assert (found[0] > 0) == saturated and found[0] == found[1]


NUDGED = ("as measured by 3 reruns with every stored value nudged by one rounding, counting 2× to 4× the changes "
          "they show")


@pytest.mark.parametrize("args,words", [
    ((0, 0.0, 0.0, 4.0, (15.2, 15.9)), f"float64 (kept about 15 digits in every entry, {NUDGED})"),
    ((0, 0.4, 0.4, 4.0, (14.9, 12.3)), "float64 (kept about 14 digits relative to each gradient's largest entry, "
                                       f"12 in the worst entry, {NUDGED})"),
    ((0, 2.0, 0.0, 4.0, (13.5, 13.5)), f"float64 (kept about 13 digits in every entry, {NUDGED}; rounding "
                                       "amplified by up to 10^2)"),
    ((30, 0.1, 0.0, 4.0, (11.7, 9.2)), "mpmath at 30 digits (float64 kept only about 11 digits relative to each "
                                       f"gradient's largest entry, 9 in the worst entry, {NUDGED}; rounding "
                                       "amplified by up to 10^0.1)"),
    ((45, 14.4, 0.0), "mpmath at 45 digits (float64 would keep about 2 digits: rounding amplified by up to 10^14.4)"),
    ((45, 14.4, 0.0, 4.0, None, None, None, "Arb"), "Arb at 45 digits for the forward pass, mpmath for the rest "
                                                    "(float64 would keep about 2 digits: rounding amplified by up to "
                                                    "10^14.4)"),
    ((45, 14.4, 0.0, 4.0, None, None, None, "Arb", "Arb"), "Arb at 45 digits (float64 would keep about 2 digits: "
                                                           "rounding amplified by up to 10^14.4)"),
    ((37, 6.3, 6.3), "mpmath at 37 digits (float64 would keep about 10 digits: 6.3 digits cancelled in a sum)"),
    ((30, 1.2, 0.0), "mpmath at 30 digits (float64 lost range)"),
    ((80, 1.2, 0.0, 4.0, None, 49.6), "mpmath at 80 digits (saturated gates: their differences cancel up to 50 "
                                      "digits)"),
    ((60, 1.2, 0.0, 4.0, None, 12.2), "mpmath at 60 digits (saturated gates: their differences cancel up to 12 "
                                      "digits)"),
    ((99, 9.0, 0.0, 4.0, None, 20.0), "mpmath at 99 digits (float64 would keep about 7 digits: rounding amplified "
                                      "by up to 10^9; saturated gates: their differences cancel up to 20 digits)"),
])
def test_the_precision_sentence_is_made_of_what_was_measured(args, words):
    from symbptt.numeric.grad_report import _precision

    assert _precision(*args) == words


@pytest.mark.parametrize("kept,words", [
    ((-16.6, -16.6), "kept no digit of some gradient, rounding having cost about 33 digits"),
    ((0.4, 0.2), "kept no digit of some gradient, rounding having cost about 16 digits"),
    ((6.2, 0.7), "kept only about 6 digits relative to each gradient's largest entry, none in the worst entry"),
    ((6.2, 3.9), "kept only about 6 digits relative to each gradient's largest entry, 3 in the worst entry"),
])
def test_what_float64_kept_is_never_a_negative_count_of_digits(kept, words):
    """A count of kept digits below 1 (rounding cost more than float64 carries) is said as none kept and
    what rounding cost, from the count; never "about -17 digits"."""
    from symbptt.numeric.reruns import kept_words

    assert kept_words(kept, only=True) == words


@pytest.mark.parametrize("found", [12.25, 32.6, 1234.5])
@pytest.mark.parametrize("how", ["against a pass with 20 digits more",
                                 "by carrying the rounding Arb proved for each stored value along the pass"])
def test_the_amplification_a_check_measured_replaces_the_bound_it_broke(found, how):
    """Where the check of an exact forward pass raised its digits, ‖∂s_T/∂s_k‖ did not bound what rounding
    was amplified by: the sentence gives what the check measured beside them (no "up to") and how it
    measured it (exact.AGAINST, exact.CARRIED), and what float64 throughout would keep follows the measure."""
    from symbptt.numeric import exact
    from symbptt.numeric.grad_report import _power, _precision

    assert how in (exact.AGAINST, exact.CARRIED)
    words = _precision(63, 6.4, 0.0, 4.0, found=(found, how))
    keeps = "would keep about 4 digits" if found < 12.5 else "would keep no digit"
    assert words == (f"mpmath at 63 digits (float64 {keeps}: rounding amplified by about 10^{_power(found)} in the "
                     f"states, as measured {how}, "
                     "though the Jacobian norms ‖∂s_T/∂s_k‖ reach only 10^6.4)")
    assert "up to" not in words and "up to 10^6.4" in _precision(63, 6.4, 0.0, 4.0)


@pytest.mark.parametrize("kept,rest_at,cost", [((11.31, 11.28), 35, 5), ((13.2, 12.1), 34, 4), ((9.0, 2.5), 44, 14)])
def test_the_precision_sentence_of_a_short_read_gives_what_rounding_cost_it(kept, rest_at, cost):
    """A read whose float64 rest fell short: the sentence gives the rest's digits, what the held reruns
    measured (floored as kept_words floors it) and what rounding cost the worst entry, ⌈15.95 − kept⌉."""
    from symbptt.numeric.grad_report import _precision
    from symbptt.numeric.reruns import kept_words, measured_words

    words = _precision(130, 85.4, 0.0, 4.0, None, None, None, "Arb", "Arb", short=(kept, rest_at))
    assert words == (f"Arb at 130 digits for the forward pass, Arb at {rest_at} digits for the rest (float64 from "
                     f"that trajectory {kept_words(kept, only=True)}, {measured_words(held=True)}: rounding cost it "
                     f"up to {cost} digits, and the rest carries {rest_at - cost} beyond them; float64 throughout "
                     "would keep no digit: rounding amplified by up to 10^85.4)")


def test_the_measuring_words_and_counts_follow_the_reruns_and_the_margin(monkeypatch):
    """The sentence says how many reruns measured and with what margins, as they are set; a count never
    exceeds what a float64 holds, and each rerun's change is counted times its own margin."""
    from symbptt.numeric import grad_report as R
    from symbptt.numeric import kernel, reruns
    from symbptt.numeric.examples import example_config

    assert reruns._digits(1e-14) == pytest.approx(14) and reruns._digits(0.0) == pytest.approx(15.95, abs=0.01)
    monkeypatch.setattr(reruns, "NUDGED_RUNS", ((*reruns.NUDGED_RUNS[0][:3], 3.0), (*reruns.NUDGED_RUNS[1][:3], 10.0)))
    assert R._precision(0, 0.0, 0.0, 4.0, (13.5, 13.5)) == (
        "float64 (kept about 13 digits in every entry, as measured by 2 reruns with every stored value nudged "
        "by one rounding, counting 3× to 10× the changes they show)")
    monkeypatch.setattr(reruns, "NUDGED_RUNS", tuple((*run[:3], 10.0) for run in reruns.NUDGED_RUNS))
    assert R._precision(0, 0.0, 0.0, 4.0, (13.5, 13.5)).endswith("counting 10× the changes they show)")
    model = NumericModel.of(example_config("rnn", 20, 3, seed=1))
    loss, grads = kernel.gradients(ArrayFactors(model))
    once = reruns.kept_digits(model, loss, grads)
    monkeypatch.setattr(reruns, "NUDGED_RUNS", tuple((*run[:3], 100.0) for run in reruns.NUDGED_RUNS[:2]))
    assert reruns.kept_digits(model, loss, grads) == pytest.approx((once[0] - 1, once[1] - 1))


def _long_lstm() -> tuple:
    """The benchmark's long report (docs/performance.md): an LSTM with n = 64, T = 1000, its model, loss,
    float64 gradients and each entry's Σ|terms|."""
    from symbptt.numeric.exact import exact_gradients
    from symbptt.numeric.examples import example_config

    model = NumericModel.of(example_config("lstm", 1000, 64, forget_bias=1.0, seed=0))
    sizes: list[dict] = [{}]
    loss, grads, used = exact_gradients(model, magnitudes=sizes)
    assert not used
    return model, loss, grads, sizes


def test_a_long_pass_whose_all_up_rerun_overstates_stays_in_float64(monkeypatch):
    """The LSTM with n = 64, T = 1000 holds 14.2 digits relative to each gradient's largest entry (the slow
    test below); its all-up rerun shows 12.6, since the changes of a long pass nudged one way add up.
    Counted twice, that leaves 12.2 and the report stays in float64; counted 4 times as the reruns of
    signs of their own are, it fell below 12 and the report took 20 s of mpmath."""
    from symbptt.numeric import reruns

    model, loss, grads, sizes = _long_lstm()
    assert reruns.kept_digits(model, loss, grads, sizes)[0] >= 12
    monkeypatch.setattr(reruns, "NUDGED_RUNS", tuple((*run[:3], 4.0) for run in reruns.NUDGED_RUNS))
    monkeypatch.setattr(reruns, "sum_allowance", lambda terms: 2.0 ** -50)
    assert reruns.kept_digits(model, loss, grads, sizes)[0] < 12


@pytest.mark.slow
def test_a_long_pass_holds_the_digits_it_claims():
    """The LSTM above against its 30-digit pass (16 s of mpmath): every gradient holds, relative to its
    largest entry and in its worst entry, at least the digits the reruns claim (14.2 and 11.1 held)."""
    from symbptt.check.claims import held_digits
    from symbptt.numeric import reruns
    from symbptt.numeric.exact import mp_gradients

    model, loss, grads, sizes = _long_lstm()
    claim = reruns.kept_digits(model, loss, grads, sizes)
    exact = mp_gradients(model, 30)[1]
    for param, block in grads[0].items():
        found, want = np.ravel(np.asarray(block, dtype=float)), np.ravel(np.asarray(exact[0][param], dtype=object))
        held = held_digits(found, want)
        assert held[0] >= claim[0] and held[1] >= claim[1], (param, held, claim)


def test_the_digits_asked_for_decide_float64_or_mpmath():
    """Trial 353 of `check --seed 3` (rnn, lstm and gru drawn), an LSTM whose float64 forward pass loses
    about 4.7 digits to cancellation: at the default 12 digits its forward pass is exact; at 10 it stays in
    float64, says it keeps about 10 digits, and every entry keeps what it claims against the 40-digit
    reference."""
    from symbptt.check import random_trial

    rng = np.random.default_rng(3)
    for _ in range(354):
        trial = random_trial(rng, 6, ("rnn", "lstm", "gru"))
    from symbptt.check import Exact
    from symbptt.check import _entries as entries

    assert " at 30 digits for the forward pass" in grad_report(trial.config)["precision"]  # Arb's, or mpmath's
    report = grad_report(trial.config, digits=10)
    assert report["precision"].startswith("float64 (kept about 10 digits in every entry")
    claim = report["float64_digits"]["worst_entry"]
    assert claim >= 10
    found = entries(report["grad"] if trial.layers > 1 else [report["grad"]], trial.config.spec.params)
    for f, e in zip(found, Exact(trial).grads, strict=True):
        assert abs(mpmath.mpf(f) - e) <= mpmath.mpf(10) ** -claim * abs(e), (f, e)
    with pytest.raises(SymbpttError, match="digits must be from 1 to 15, got 16"):
        grad_report(trial.config, digits=16)
    with pytest.raises(SymbpttError, match="digits must be a whole number, got bool"):
        grad_report(trial.config, digits=True)


@pytest.mark.parametrize("init", ["orthogonal", "identity"])
@settings(max_examples=8, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 1000), T=st.integers(1, 40))
def test_an_orthogonal_or_identity_init_keeps_every_singular_value(init, n, seed, T):
    """With a linear unit, ∂h_T/∂h_0 = (g·W0)^T: for an orthogonal W0 (or the identity) its norm is g^T exactly,
    so the gain sweep reads T·log10 g at every gain (a Gaussian W0 does not)."""
    from symbptt.numeric.sweeps import recurrent_matrix, sweep_gain

    W0 = recurrent_matrix(n, seed, init)
    assert np.allclose(W0 @ W0.T, np.eye(n), atol=1e-12)
    gains = np.array([0.5, 1.0, 1.7])
    logs = sweep_gain(gains, T, "linear", n, seed=seed, init=init)
    assert np.allclose(logs[-1], T * np.log10(gains), atol=1e-9)
    gaussian = sweep_gain(gains, T, "linear", n, seed=seed)
    assert not np.allclose(gaussian[-1], T * np.log10(gains), atol=1e-9)  # a Gaussian W0 is not orthogonal


def test_an_unknown_init_is_refused_in_one_line():
    from symbptt.numeric.examples import unit_recurrent

    with pytest.raises(SymbpttError, match="unknown init 'xavier'"):
        unit_recurrent(np.random.default_rng(0), 3, "xavier")


def test_train_starts_from_the_init_asked_for():
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.learn.train import TrainSettings, initial_params

    spec = get_cell("lstm", get_activation("tanh"))
    for init, check in (("identity", lambda W: np.array_equal(W, 0.9 * np.eye(5))),
                        ("orthogonal", lambda W: np.allclose(W @ W.T, 0.81 * np.eye(5))),
                        ("gaussian", lambda W: not np.allclose(W @ W.T, 0.81 * np.eye(5)))):
        params = initial_params(spec, TrainSettings(cell="lstm", n=5, scale=0.9, init=init), 1)
        assert all(check(params[0][w]) for w in ("W_i", "W_f", "W_g", "W_o")), init


def test_a_forward_pass_that_leaves_float64_in_a_saturated_gated_stack_is_measured_exactly():
    """Trial 74 of `check --seed 5`: a three-layer minLSTM with inputs near ±60 whose float64 forward pass
    turns to inf and NaN in layer 2; the saturation measure read those values and crashed, and the Jacobian
    norms of layers 2 and 3 came back null. A forward pass that leaves float64 sends the whole report to
    the exact path; since f + i is computed as written this one stays in float64, and every gradient entry
    and norm agrees with the 40-digit reference within check's tolerances (3e-12 at worst: the report's
    conditioning estimate does not see it, see the session note)."""
    from symbptt.check import Exact, grad_json, jacobian_norms, random_trial

    rng = np.random.default_rng(5)
    for _ in range(74):
        trial = random_trial(rng, 6)
    report = grad_report(trial.config)
    # the minLSTM's f + i is computed as written now (it was 2 − σ(−a_f) − σ(−a_i), 0/0 here): float64 holds
    # this forward pass, and whichever path the report takes, its numbers must be the reference's
    assert report["precision"].startswith(("Arb", "float64"))
    exact = Exact(trial)
    assert max(grad_json(trial, exact, {"last report": report})) < 1e-11  # check's own tolerance
    # the norms of layers 2 and 3 come from the exact pass too (they were null: float64 had NaN there)
    assert max(jacobian_norms(trial, exact, {"last report": report})) < 1e-9


def test_a_saturated_min_lstm_gets_the_digits_its_gates_cancel():
    """Trial 693 of `check --seed 5`: a three-layer minLSTM whose gates sit at 10^-37 and 10^-42; the
    stable form of f + i (2 − σ(−a_f) − σ(−a_i)) cancels 37 digits, so the exact pass at 30 digits divided
    by zero. The digits a saturated gate needs now decide every exact pass, and the entries agree with the
    40-digit reference."""
    from symbptt.check import Exact, grad_json, random_trial

    rng = np.random.default_rng(5)
    for _ in range(693):
        trial = random_trial(rng, 6)
    report = grad_report(trial.config)  # float64 now that f + i is not rewritten (see the test above)
    assert max(grad_json(trial, Exact(trial), {"last report": report})) < 1e-13


def test_the_norms_of_a_saturated_gated_cell_come_from_the_exact_pass():
    """Trial 77 of `check --seed 5`: a minLSTM whose saturated gates cost the float64 coefficients digits;
    the gradients were recomputed exactly but the Jacobian norms kept float64's (1e-4 off). Now every field
    comes from the exact pass."""
    from symbptt.check import Exact, jacobian_norms, random_trial

    rng = np.random.default_rng(5)
    for _ in range(77):
        trial = random_trial(rng, 6)
    report = grad_report(trial.config)
    assert max(jacobian_norms(trial, Exact(trial), {"last report": report})) < 1e-9


def test_min_lstm_coefficients_do_not_cancel_where_one_gate_dominates():
    """∂h/∂a_f of the minLSTM at f ≈ 1, i ≈ 1e-12: as written, h/(f + i) − (f h + i ã)/(f + i)² cancels
    twelve digits; compiled, it is i (h − ã)/(f + i)² and keeps them (check --seed 7, trial 806).  And 1 − f
    is replaced only where it is written: f + i stays f + i (SymPy's subs made it 2 − σ(−a_f) − σ(−a_i))."""
    import mpmath

    from symbptt.activations import get_activation
    from symbptt.cells import get_cell, unit
    from symbptt.numeric.forward import compiled, stable_form

    cell = get_cell("minlstm", get_activation("tanh"))
    f, i = unit("f"), unit("i")
    assert stable_form(f + i, cell) == f + i and stable_form(1 - f, cell) != 1 - f
    cc = compiled(cell, "float")
    key = next(k for k in cc.keys if k == ("h", "a_f"))
    names = [str(a) for a in cc.args]
    a_f, a_i, a_h, prev_h = 27.0, -27.5, 0.3, -0.7
    with mpmath.workdps(50):
        F, I = 1 / (1 + mpmath.exp(-a_f)), 1 / (1 + mpmath.exp(-a_i))
        h = (F * prev_h + I * a_h) / (F + I)
        want = F * (1 - F) * I * (prev_h - a_h) / (F + I) ** 2
        point = {"f": F, "i": I, "h": h, "prev_h": prev_h, "a_f": a_f, "a_i": a_i, "a_h": a_h}
        row = [np.array([[float(point.get(name, 0.0))]]) for name in names]
    got = float(np.asarray(cc.coefficients[key](*row)).reshape(-1)[0])
    assert abs(got / float(want) - 1) < 1e-13, (got, float(want))


def test_jacobian_norms_keep_a_unit_whose_factor_float64_would_drop():
    """check --seed 7, trial 724: an IndRNN with erf units, some saturated (σ' ≈ 10^-600) beside others:
    scaled to its step's largest, a factor underflowed to 0 in float64 and the product of ∂s_5/∂s_0 died.
    The layer is now multiplied in mpmath; every listed norm agrees with reference.py's own Jacobians."""
    import math

    from symbptt.check import DPS, DRAWN, _json_report, random_trial, reference_activation
    from symbptt.reference import jacobians, log10_norms

    rng = np.random.default_rng(7)
    for _ in range(725):
        trial = random_trial(rng, 6, DRAWN)
    assert trial.cell == "indrnn" and trial.saturated
    report = _json_report(trial)
    act = reference_activation(trial.activation or "tanh", "mp")
    for layer, listed in enumerate(report["log10_jacobian_norms"]):
        blocks = jacobians(trial.cell, trial.config.layers, trial.config.x, act, layer=layer, dps=DPS)
        for row in listed:
            want = log10_norms(blocks[row["k"]])["state"]
            assert row["log10"] is not None and math.isfinite(want)
            assert abs(row["log10"] - want) <= 1e-9 * max(1.0, abs(want)), (layer, row["k"])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 600), st.integers(0, 2**32 - 1))
def test_the_norm_of_an_exact_product_is_its_svd_norm_to_float64s_digits(rows, cols, spread, seed):
    """logspace._mp_log_norm (the exact products' norms: entries 10^±600 apart, beyond float64's range)
    reads the product scaled by its largest entry into float64 and takes LAPACK's norm: within 2e-15 of
    log10 of mpmath's 40-digit SVD of the matrix itself, relative to the norm (a planted scale that drops
    the largest entry's exponent, or a norm of the unscaled matrix, is off by orders of magnitude)."""
    from symbptt.numeric.logspace import _mp_log_norm

    rng = np.random.default_rng(seed)
    mant, expo = rng.normal(size=(rows, cols)), rng.integers(-spread, spread + 1, size=(rows, cols))
    with mpmath.workdps(40):
        matrix = mpmath.matrix([[mpmath.mpf(float(mant[i, j])) * mpmath.mpf(10) ** int(expo[i, j])
                                 for j in range(cols)] for i in range(rows)])
        want = mpmath.log10(max(mpmath.svd_r(matrix, compute_uv=False)))
        with mpmath.workdps(30):
            got = _mp_log_norm(matrix)
    # 2e-15 of the norm, plus half a unit in the last place of the log10 itself
    assert abs(got - float(want)) <= 2e-15 / math.log(10) + 1.2e-16 * abs(float(want)), (got, float(want))


def test_a_one_state_cells_exact_norms_are_taken_once_per_k(monkeypatch):
    """The exact products' norms of a cell with one state: its own block is the whole state, so each listed
    k takes one norm, and 'h' is 'state' (each k's norm was taken twice, doubling the 4 ms mpmath SVDs).
    The IndRNN of check --seed 7, trial 724 multiplies in mpmath."""
    from symbptt.check import DRAWN, random_trial
    from symbptt.numeric import logspace

    rng = np.random.default_rng(7)
    for _ in range(725):
        trial = random_trial(rng, 6, DRAWN)
    calls = []
    original = logspace._mp_log_norm
    monkeypatch.setattr(logspace, "_mp_log_norm", lambda m: calls.append(1) or original(m))
    values = ArrayFactors(NumericModel.of(trial.config))
    ks = list(range(trial.config.T + 1))
    norms = log10_jacobian_norms(values, 1, ks)
    assert len(calls) == len(ks) and norms["h"] == norms["state"]


@pytest.mark.parametrize("seed", [5, 10])
def test_exact_products_read_the_exact_coefficients_not_their_logs(seed, monkeypatch):
    """A saturated GRU (n = 3, T = 30, inputs × 100; 15 digits asked, more than its float64 pass keeps, so
    the exact pass runs) whose steps float64 would drop is multiplied in mpmath
    from the exact pass's coefficients themselves: every listed log10 norm is within 4e-16 of
    max(1, |log10|) of reference.py's 160-digit Jacobians (built from the float64 logs, 10^log10|c| cost
    6.1e-15 and 1.8e-15 here, and 1.1e-13 on the benchmark's GRU)."""
    from symbptt.numeric import logspace
    from symbptt.reference import jacobians, log10_norms

    rng = np.random.default_rng(seed)
    layer = saturated_gru_layer(rng, 3)
    x = rng.normal(size=(30, 1)) * 100
    cfg = parse_config({"cell": "gru", **{k: v.tolist() for k, v in layer.items()}, "x": x.tolist(), "y": [0.0] * 3})
    used = []
    original = logspace._mp_jacobian_norms
    monkeypatch.setattr(logspace, "_mp_jacobian_norms", lambda *a: used.append(1) or original(*a))
    report = grad_report(cfg, digits=15)
    want = [log10_norms(block)["state"] for block in jacobians("gru", [layer], x, dps=160)]
    assert used and report["precision"].startswith("Arb")
    for row in report["log10_jacobian_norms"]:
        assert abs(row["log10"] - want[row["k"]]) <= 4e-16 * max(1.0, abs(want[row["k"]])), row["k"]


def test_a_saturated_truncated_report_reads_the_reports_own_exact_pass(exact_passes):
    """A saturated GRU (n = 3, T = 30, inputs × 40, truncate 5; 15 digits asked, more than its float64 pass
    keeps): the truncated gradient and its distance
    from the full one come from the exact pass the report made, the only one (it made two or three of its
    own: 60 digits, then more), and agree with reference.py's truncated BPTT at 160 digits."""
    from symbptt.reference import bptt as reference_bptt

    rng = np.random.default_rng(2)
    n, T = 3, 30
    layer = saturated_gru_layer(rng, n)
    x, y = rng.normal(size=(T, 1)) * 40, rng.normal(size=n)
    cfg = parse_config({"cell": "gru", **{k: v.tolist() for k, v in layer.items()}, "x": x.tolist(), "y": y.tolist(),
                        "truncate": 5})
    report = grad_report(cfg, digits=15)
    assert report["precision"].startswith("Arb") and len(exact_passes) == 1
    with mpmath.workdps(160):
        _, full = reference_bptt([layer], x, y, "tanh", "last", "gru", kind="mp")
        _, cut = reference_bptt([layer], x, y, "tanh", "last", "gru", kind="mp", truncate=5)
        a = [v for p in cfg.spec.params for v in np.ravel(cut[0][p])]
        b = [v for p in cfg.spec.params for v in np.ravel(full[0][p])]
        rel = mpmath.sqrt(sum((u - v) ** 2 for u, v in zip(a, b, strict=True))) / mpmath.sqrt(sum(v * v for v in b))
    assert report["truncated"]["relative_difference"] == pytest.approx(float(rel), rel=1e-12)
    assert_report_matches(report["truncated"]["grad"], report["truncated"]["grad_log10"], cut, cfg.spec.params)


def test_a_saturated_report_takes_its_norms_from_the_exact_pass_only(monkeypatch):
    """A saturated GRU's report whose float64 pass falls short of the digits asked (15 here) goes to the
    exact pass for every field; the float64 norms are not taken first (and thrown away): the reruns that
    measure the float64 pass come before them, and every log10_jacobian_norms call reads the exact
    trajectory (on the benchmark's GRU with inputs × 100 the float64 ones, multiplied in mpmath, were 1.2
    of its 2.7 s).  Asked for 12 digits, which its float64 pass keeps, the report takes its norms from that
    pass, once, and no exact pass runs."""
    from symbptt.numeric import grad_report as report_module

    rng = np.random.default_rng(2)
    n, T = 3, 30
    layer = saturated_gru_layer(rng, n)
    x = rng.normal(size=(T, 1)) * 40
    cfg = parse_config({"cell": "gru", **{k: v.tolist() for k, v in layer.items()}, "x": x.tolist(), "y": [0.0] * n})
    kinds = []
    original = report_module.log10_jacobian_norms
    monkeypatch.setattr(report_module, "log10_jacobian_norms",
                        lambda values, *a: kinds.append(values.kind) or original(values, *a))
    report = grad_report(cfg, digits=15)
    assert report["precision"].startswith("Arb") and "saturated" in report["precision"]
    assert kinds == ["mp"]
    kinds.clear()
    report = grad_report(cfg)
    assert report["precision"].startswith("float64 (kept about") and kinds == ["float"]


def test_an_indrnn_example_takes_the_activation_it_is_given():
    """example_config passed -a to the vanilla cell only, so IndRNN sweeps and curves drew tanh whatever
    was asked; now its relu run has relu's zeros and tanh's does not."""
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.factors import ArrayFactors, NumericModel

    hs = {}
    for act in ("tanh", "relu"):
        cfg = example_config("indrnn", 20, 4, seed=1, activation=act)
        assert cfg.act_name == act
        hs[act] = ArrayFactors(NumericModel.of(cfg)).traj.values[0]["h"][1:]
    assert np.any(hs["relu"] == 0) and not np.any(hs["tanh"] == 0) and np.all(hs["relu"] >= 0)


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
    at_T, decides = final_gain_rates(gains, 80, activation, n, seed=seed, W0=W0)
    finite = np.isfinite(every[-1])
    assert np.array_equal(np.isfinite(at_T), finite) and at_T[0] == every[-1][0] == -np.inf
    assert np.allclose(at_T[finite], every[-1][finite], rtol=0, atol=1e-11 * (1 + np.abs(every[-1][finite]).max()))
    assert not np.any(rounding_decides(every, activation)[-1] & ~decides)
    if activation == "linear":
        assert not decides.any()


def _check_mp_dot(rng: np.random.Generator, trials: int, plus: bool = False) -> float:
    """The worst error of mpdot.dot on mpf matrices (entries over 800 decades, some zero) against a
    sum at three times the digits, in units of 2^-prec · Σ|products| (≤ 2 is what one rounding allows);
    ``plus``: with two addends (one a column, one per entry) folded into each sum, Σ|terms| counting them."""
    import mpmath

    from symbptt.numeric.mpdot import dot

    worst = 0.0
    for dps in (20, 60):
        with mpmath.workdps(dps):
            for _ in range(trials):
                n, k, b = (int(v) for v in rng.integers(1, 6, 3))
                a = np.array([[mpmath.mpf(float(v)) * mpmath.mpf(10) ** int(rng.integers(-400, 400))
                               if rng.random() > 0.2 else mpmath.mpf(0) for v in row]
                              for row in rng.normal(size=(n, k))], dtype=object)
                c = np.array([[mpmath.mpf(float(v)) for v in row] for row in rng.normal(size=(k, b))], dtype=object)
                added = [np.array([[mpmath.mpf(float(v)) * mpmath.mpf(10) ** int(rng.integers(-400, 400))]
                                   for v in rng.normal(size=n)], dtype=object),
                         np.array([[mpmath.mpf(float(v)) for v in row] for row in rng.normal(size=(n, b))],
                                  dtype=object)] if plus else []
                got = dot(a, c, plus=added) if plus else dot(a, c)
                unit = mpmath.mpf(2) ** -mpmath.mp.prec
                with mpmath.workdps(3 * dps + 900):
                    for i in range(n):
                        for j in range(b):
                            extra = [v[i, min(j, v.shape[1] - 1)] for v in added]
                            size = mpmath.fsum([abs(a[i, m] * c[m, j]) for m in range(k)] + [abs(e) for e in extra])
                            exact = mpmath.fsum([a[i, m] * c[m, j] for m in range(k)] + extra)
                            if size:
                                worst = max(worst, float(abs(got[i, j] - exact) / (unit * size)))
    return worst


def test_mp_linear_maps_fold_their_bias_and_inputs_into_one_rounding(monkeypatch):
    """mpdot.dot with addends (an mpmath pass's bias and input terms): each entry the exact sum of the
    products and the addends, rounded once where the integers over one exponent serve (and at most three
    times where the entries span too many bits); an addend lost, planted, is caught."""
    from symbptt.numeric import mpdot

    assert _check_mp_dot(np.random.default_rng(9), 60, plus=True) <= 3.0
    real = mpdot._fold
    monkeypatch.setattr(mpdot, "_fold", lambda total, exp, addends: real(total, exp, addends[:-1]))
    assert _check_mp_dot(np.random.default_rng(9), 20, plus=True) > 1e6


def test_mp_products_are_rounded_once_and_a_planted_loss_is_seen(monkeypatch):
    """mpdot.dot (the mpmath pass's matrix products): within one rounding of Σ|products| of the exact
    sum for entries spread over 800 decades, on both of its paths (integers over one exponent, and term
    by term when the entries span too many bits); inf and NaN go through mpmath.fdot; a product that
    loses a term, or keeps 8 bits, is caught."""
    import mpmath

    from symbptt.numeric import mpdot

    assert _check_mp_dot(np.random.default_rng(5), 60) <= 2.0
    inf_row = np.array([[mpmath.inf, mpmath.mpf(1)]], dtype=object)
    assert mpmath.isnan(mpdot.dot(inf_row, np.array([[mpmath.mpf(0)], [mpmath.mpf(2)]], dtype=object))[0, 0])
    assert mpdot.dot(inf_row, np.array([[mpmath.mpf(1)], [mpmath.mpf(2)]], dtype=object))[0, 0] == mpmath.inf
    real_aligned, real_dot = mpdot._aligned, mpdot._mp_dot
    with monkeypatch.context() as planted:
        planted.setattr(mpdot, "_aligned", lambda parts: (lambda r: r if r is None else (r[0][:-1] + [0], r[1]))(
            real_aligned(parts)))
        assert _check_mp_dot(np.random.default_rng(5), 20) > 1e6
    monkeypatch.setattr(mpdot, "SPREAD_BITS", -1)  # every product term by term
    assert _check_mp_dot(np.random.default_rng(6), 30) <= 2.0
    monkeypatch.setattr(mpdot, "_mp_dot", lambda xs, ys, prec: real_dot(xs, ys, 8))
    assert _check_mp_dot(np.random.default_rng(5), 20) > 1e6


def test_mp_log10_and_sech2_agree_with_mpmath_to_their_last_digits():
    """primitives.mp_log10_abs (log10|v| from an mpf's parts) is within one float ulp of
    float(mpmath.log10|v|) over exponents of ±10^6 decades and at several precisions, gives ±inf beyond
    float64's range of logs and −inf for 0; mp_tanh and mp_dtanh (one exponential shared) are within a
    few units of the working precision of tanh x and sech²x computed 30 digits finer, from |x| = 10^-300
    to 80 and across the switch between expm1 and exp."""
    import mpmath

    from symbptt.primitives import mp_dtanh, mp_log10_abs, mp_tanh

    rng = np.random.default_rng(9)
    for dps in (15, 40, 123):
        with mpmath.workdps(dps):
            for _ in range(300):
                v = mpmath.mpf(float(rng.uniform(-1, 1))) * mpmath.mpf(10) ** int(rng.integers(-10**6, 10**6))
                want = float(mpmath.log10(abs(v)))
                assert abs(mp_log10_abs(v) - want) <= 2.5e-16 * abs(want) + 1e-300
                for x in (mpmath.mpf(float(rng.uniform(-80, 80))), mpmath.mpf(float(10 ** rng.uniform(-300, 0.5))),
                          mpmath.mpf(0.34) * (1 + mpmath.mpf(float(rng.uniform(-1e-9, 1e-9))))):
                    with mpmath.workdps(dps + 30):
                        exact, slope = mpmath.tanh(x), mpmath.sech(x) ** 2
                    unit = 8 * mpmath.mpf(2) ** -mpmath.mp.prec
                    assert abs(mp_dtanh(x) - slope) <= unit * slope and abs(mp_tanh(x) - exact) <= unit * abs(exact)
    assert mp_log10_abs(0) == -np.inf and mp_log10_abs(mpmath.mpf(1000)) == 3.0
    assert mp_log10_abs(mpmath.mpf(2) ** (2**1100)) == np.inf and mp_log10_abs(mpmath.mpf(2) ** -(2**1100)) == -np.inf


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50))
def test_the_in_place_sigmoids_are_the_plain_formulas_bit_for_bit(values):
    """np_sigmoid and np_dsigmoid work in place; their values are those of the plain formulas with
    e = e^{−|x|}: 1/(1 + e) or e/(1 + e), and e/(1 + e)², bit for bit (scalars too)."""
    from symbptt import primitives as P

    x = np.array(values + [0.0, -0.0, 800.0, -800.0])
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(x))
        assert np.array_equal(P.np_sigmoid(x), np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))
        assert np.array_equal(P.np_dsigmoid(x), e / (1.0 + e) ** 2)
        assert P.np_sigmoid(x[0]) == P.np_sigmoid(x)[0] and P.np_dsigmoid(x[0]) == P.np_dsigmoid(x)[0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=2, max_size=40))
def test_runs_of_equal_exponents_are_found_whether_there_is_one_run_or_many(exps):
    from symbptt.numeric.kernel import _runs

    steps = exps[1:]
    naive, start = [], 0
    for i in range(1, len(steps) + 1):
        if i == len(steps) or steps[i] != steps[start]:
            naive.append((start, i, steps[start]))
            start = i
    assert _runs(np.array(exps, dtype=np.int64)) == naive


@settings(max_examples=60, deadline=None)
@given(st.floats(-900, 900, allow_nan=False), st.sampled_from([15, 40, 300]))
def test_mp_sigmoid_and_its_derivative_share_one_exp_at_each_precision(a, dps):
    from symbptt import primitives as P

    x = mpmath.mpf(a)
    with mpmath.workdps(15):  # a value kept at another precision is not the one returned below
        P.mp_sigmoid(x)
    with mpmath.workdps(dps):
        e = mpmath.exp(-abs(x))
        want_s = 1 / (1 + e) if x >= 0 else e / (1 + e)
        assert P.mp_sigmoid(x) == want_s
        assert P.mp_sigmoid(-x) == (1 / (1 + e) if -x >= 0 else e / (1 + e))
        assert P.mp_dsigmoid(x) == e / (1 + e) ** 2
        assert abs(P.mp_sigmoid(x) - 1 / (1 + mpmath.exp(-x))) <= mpmath.mpf(2) ** (4 - mpmath.mp.prec)


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.floats(-900, 900, allow_nan=False), st.floats(-0.35, 0.35),
                 st.sampled_from([0.0, 0.34, -0.34, 5e-324, 1e300, float("inf"), float("-inf"), float("nan")])),
       st.sampled_from([15, 30, 123, 400]))
def test_mp_tanh_and_sech2_on_raw_parts_are_the_mpf_formulas_bit_for_bit(a, dps):
    """mp_tanh and mp_dtanh compute on mpmath's raw parts (libmp, each operation rounded once to the
    nearest): their values are those of the formulas written with mpf operators — e = e^{−2|x|},
    m = e − 1 (expm1 below |x| = 0.34), tanh = −sign(x)·m/(2 + m) with 2 + m exact and the quotient
    rounded once, sech² = 4e/(1 + e)² — to the last bit, ±∞ and NaN included."""
    from mpmath.libmp import mpf_div

    from symbptt import primitives as P

    x = mpmath.mpf(a) * (1 + mpmath.mpf(2) ** -70)  # more bits than a float holds
    with mpmath.workdps(dps):
        ax = abs(x)
        if ax < 0.34:
            m = mpmath.expm1(-2 * ax)
            e = 1 + m
        else:
            e = mpmath.exp(-2 * ax)
            m = e - 1
        with mpmath.workprec(2 * mpmath.mp.prec + 8):
            denominator = 2 + m  # exact
        value = mpmath.mp.make_mpf(mpf_div((-m)._mpf_, denominator._mpf_, mpmath.mp.prec, "n"))
        want_tanh, want_slope = (-value if x < 0 else value), 4 * e / (1 + e) ** 2
        got_tanh, got_slope = P.mp_tanh(x), P.mp_dtanh(x)
        assert got_tanh._mpf_ == want_tanh._mpf_ and got_slope._mpf_ == want_slope._mpf_
        assert P.mp_tanh(-x)._mpf_ == (-want_tanh)._mpf_ or mpmath.isnan(want_tanh)


@settings(max_examples=60, deadline=None)
@given(st.integers(-30000, -60), st.integers(1, 2**200), st.sampled_from([15, 30, 123]))
def test_mp_tanh_of_a_value_far_below_float64_is_the_formula_s_value_without_its_long_integer(exp, man, dps):
    """Far below 2^−(prec+8), tanh x = x(1 − x²/3 …) and mp_tanh takes |m|/2 with a sticky bit instead of
    putting 2 − |m| over m's exponent (an integer of −exp bits): the same bits as the formula of the test
    above, and 2^−(10^9) in microseconds, where the integer had a billion bits (plot gates with inputs
    × 10^9 took 26 s on its LSTM's tiny cell states)."""
    from mpmath.libmp import mpf_div

    from symbptt import primitives as P

    with mpmath.workdps(dps):
        x = mpmath.mpf(man) * mpmath.mpf(2) ** exp
        m = mpmath.expm1(-2 * abs(x))
        with mpmath.workprec(2 * mpmath.mp.prec - 2 * exp + 8):
            denominator = 2 + m  # exact
        want = mpmath.mp.make_mpf(mpf_div((-m)._mpf_, denominator._mpf_, mpmath.mp.prec, "n"))
        assert P.mp_tanh(x)._mpf_ == want._mpf_ and P.mp_tanh(-x)._mpf_ == (-want)._mpf_
        tiny = mpmath.mpf(2) ** -(10**9)
        assert P.mp_tanh(tiny) == tiny and P.mp_tanh(-3 * tiny) == -3 * tiny  # at once: no long integer


@pytest.mark.parametrize("cell", ["lstm", "gru", "mingru", "minlstm", "indrnn"])
def test_the_joint_mpmath_coefficients_are_each_coefficient_s_own_value_to_the_working_precision(cell):
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.forward import _joint_mp, compiled, step_rows

    cfg = example_config(cell, 12, 3, seed=4)
    model = NumericModel.of(cfg).as_mp()
    with mpmath.workdps(60):
        values = ArrayFactors(model, "mp")
        cc = compiled(get_cell(cell, get_activation("tanh")), "mp")
        row = step_rows(cc, values.traj, 1)
        joint = _joint_mp(cc, row)
        assert joint is not None
        for got, fn in zip(joint, cc.coefficients.values(), strict=True):
            alone = fn(*row)
            assert got.shape == alone.shape
            # common subexpressions change how a coefficient is grouped, not what it is: within a few units
            # of the working precision's last place (measured: under 4)
            ulp = mpmath.mpf(2) ** (10 - mpmath.mp.prec)
            assert all(abs(a - b) <= ulp * abs(b) for a, b in zip(got.ravel(), alone.ravel(), strict=True))


def test_a_coefficient_undefined_somewhere_leaves_the_joint_call_to_the_one_by_one_path(tmp_path):
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.forward import _joint_mp, compiled

    path = tmp_path / "d.toml"
    path.write_text('states = ["h"]\nparams = ["w"]\n[update]\nh = "log(w*h + x)"\n')
    cc = compiled(get_cell(str(path), get_activation("tanh")), "mp")
    args = {"w": 0.5, "prev_h": 2.0, "x": 1.0}  # ∂h/∂h = w/(w h + x): defined here …
    row = [np.array([[mpmath.mpf(args.get(s.name, 0.0))]], dtype=object) for s in cc.args]
    assert _joint_mp(cc, row) is not None
    args["x"] = -1.0  # … and 1/0 here: no joint values, so each coefficient alone names the one at fault
    row = [np.array([[mpmath.mpf(args.get(s.name, 0.0))]], dtype=object) for s in cc.args]
    assert _joint_mp(cc, row) is None


def test_a_constant_coefficient_is_an_mpf_in_the_joint_call_too(tmp_path):
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.forward import _joint_mp, compiled

    path = tmp_path / "lin.toml"
    path.write_text('states = ["h"]\nparams = ["w"]\n[update]\nh = "w*h + x"\n')  # ∂h/∂x = 1
    cc = compiled(get_cell(str(path), get_activation("tanh")), "mp")
    values = {"w": 0.5, "prev_h": 2.0, "x": 1.0, "h": 2.0}
    row = [np.array([[mpmath.mpf(values[s.name])] * 2], dtype=object) for s in cc.args]
    joint = _joint_mp(cc, row)
    assert joint is not None
    for got, fn in zip(joint, cc.coefficients.values(), strict=True):
        assert all(isinstance(v, mpmath.mpf) for v in got.ravel())
        assert list(got.ravel()) == list(fn(*row).ravel())


def test_an_exploding_relu_network_keeps_its_digits_and_is_not_marked_rounding_decides():
    """relu at gain 3 (n = 16, T = 200): ‖∂h_T/∂h_0‖ grows by 10^106, and `plot spectrum` crossed it out as
    "rounding decides the value (chaotic trajectory)".  A relu network's state grows as the errors do: W
    moved by one ulp moves the value by 0 here, so it is not marked (tanh keeps the mark where it
    applies); `sweep`'s marks follow the same rule (activations.positively_homogeneous)."""
    from symbptt.activations import positively_homogeneous
    from symbptt.numeric.final_gain import final_gain_rates
    from symbptt.numeric.sweeps import ROUNDING_DIGITS, recurrent_matrix, rounding_decides

    W0 = recurrent_matrix(16, 0)
    value, decides = final_gain_rates(np.array([3.0]), 200, "relu", 16, seed=0, W0=W0)
    nudged, _ = final_gain_rates(np.array([3.0]), 200, "relu", 16, seed=0, W0=np.nextafter(W0, np.inf))
    assert value[0] > 5 * ROUNDING_DIGITS and not decides[0]
    assert abs(nudged[0] - value[0]) <= 1e-12 * abs(value[0])
    assert positively_homogeneous("relu") and positively_homogeneous("max(0.01*a, a)")
    assert not positively_homogeneous("tanh") and not positively_homogeneous("a/(1+abs(a))")
    steep = np.array([[0.0], [20.0], [40.0]])  # 40 decades up from step 1
    assert rounding_decides(steep, "tanh")[-1, 0] and not rounding_decides(steep, "relu").any()


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


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 9), st.integers(2, 9), st.integers(0, 2**31),
       st.integers(1, 2000))
def test_summed_outer_in_chunks_adds_in_the_same_order(T, n, k, B, seed, limit):
    """The products a chunk at a time (kernel.OUTER_BYTES) give the same bits as all T at once."""
    from symbptt.numeric import kernel

    rng = np.random.default_rng(seed)
    row = rng.normal(size=(T, n, B)) * 10.0 ** rng.integers(-8, 8, size=(T, 1, 1))
    z = rng.normal(size=(T, k, B))
    whole = np.matmul(row, z.transpose(0, 2, 1)).sum(axis=0)
    saved = kernel.OUTER_BYTES
    try:
        kernel.OUTER_BYTES = limit  # from one step per chunk to all of them
        got = kernel.summed_outer(row, z)
    finally:
        kernel.OUTER_BYTES = saved
    assert np.array_equal(got, whole)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "indrnn", "mingru", "minlstm", "lru"])
def test_step_coefficients_in_chunks_are_the_same_numbers(cell, monkeypatch):
    """Computed a few steps at a time (forward.COEF_BYTES), every coefficient has the same bits as in one call."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric import forward as F

    spec = get_cell(cell, get_activation("tanh"))
    rng = np.random.default_rng(len(cell))
    n, T, B = 3, 23, 5
    m = n if spec.max_input is None else min(n, spec.max_input)
    params = {p: rng.normal(size=() if spec.kind(p) == "scalar" else spec.shape(p, n, m)) * 2.0 for p in spec.params}
    model = NumericModel(spec, [{k: (v.reshape(-1, 1) if v.ndim < 2 else v) for k, v in params.items()}],
                         rng.normal(size=(T, m, B)) * 3.0, rng.normal(size=(n, B)), "last")
    cc = F.compiled(spec)
    traj = F.forward(cc, model.params, model.x)
    monkeypatch.setattr(F, "COEF_BYTES", 1 << 40)
    whole = F.step_coefficients(cc, traj, 1)
    for size in (8, 8 * n * B * 4, 8 * n * B * 22):  # one step, four, and all but the last
        monkeypatch.setattr(F, "COEF_BYTES", size)
        got = F.step_coefficients(cc, traj, 1)
        assert got.keys() == whole.keys()
        assert all(np.array_equal(got[key], whole[key], equal_nan=True) for key in whole), size


def _noise_one_call_at_a_time(direction, scattered):
    """UlpNoise as it was first written: a draw of the seeded generator per call, ufuncs in plain order."""
    from symbptt.numeric.forward import ROUNDING, UlpNoise

    signs = np.random.default_rng(UlpNoise.SEED) if scattered else None

    def move(values, size=None):
        sign = direction if signs is None else direction * (2.0 * signs.integers(0, 2, size=np.shape(values)) - 1.0)
        moved = np.nextafter(values, sign * np.inf)
        if size is None:
            return np.where(values == 0, values, moved)
        return np.where((values == 0) & (size == 0), values, moved + sign * ROUNDING * size)
    return move


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([1, -1]), st.booleans(), st.integers(0, 2**32 - 1), st.sampled_from([1, 7, 64, 1000, None]),
       st.lists(st.tuples(st.integers(1, 300), st.integers(1, 3), st.booleans()), min_size=1, max_size=12))
def test_nudges_drawn_in_blocks_are_the_nudges_drawn_one_call_at_a_time(direction, scattered, seed, drawn, calls):
    """The kept-digit reruns draw their signs a block at a time (a draw per call was most of a nudged pass):
    every value moves to the same bits as with a draw per call — across a block's end, for calls larger
    than a block, for exact zeros and sums of zeros; blocks of 1 to 1000 signs and the one used."""
    from symbptt.numeric.forward import UlpNoise

    class Blocks(UlpNoise):
        DRAWN = drawn or UlpNoise.DRAWN

    rng = np.random.default_rng(seed)
    ours, plain = Blocks(direction, scattered), _noise_one_call_at_a_time(direction, scattered)
    for rows, cols, with_size in calls * 8:
        shape = (rows, cols)
        values = rng.normal(size=shape) * 10.0 ** rng.integers(-320, 300)
        values[rng.random(shape) < 0.2] = 0.0
        size = np.abs(rng.normal(size=shape)) * (rng.random(shape) < 0.6) if with_size else None
        got, want = ours(values, size), plain(values, size)
        assert np.array_equal(got.view(np.int64), want.view(np.int64))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([1, -1]), st.booleans(), st.integers(0, 2**32 - 1),
       st.lists(st.lists(st.tuples(st.integers(1, 70), st.integers(1, 3)), min_size=1, max_size=5), min_size=1,
                max_size=8))
def test_maps_moved_together_move_as_one_call_each(direction, scattered, seed, groups):
    """The nudged forward pass moves a step's linear maps in one call (UlpNoise.together): each array
    gets the bits that one call per array, in order, gives it — shapes differing within a call."""
    from symbptt.numeric.forward import UlpNoise

    rng = np.random.default_rng(seed)
    ours, plain = UlpNoise(direction, scattered), _noise_one_call_at_a_time(direction, scattered)
    for shapes in groups * 4:
        values = [rng.normal(size=shape) * 10.0 ** rng.integers(-300, 300) for shape in shapes]
        sizes = [np.abs(rng.normal(size=shape)) * (rng.random(shape) < 0.6) for shape in shapes]
        for v in values:
            v[rng.random(v.shape) < 0.2] = 0.0
        got = ours.together(values, sizes)
        for g, v, z in zip(got, values, sizes, strict=True):
            assert g.shape == v.shape and np.array_equal(g.view(np.int64), plain(v, z).view(np.int64))


def test_an_addend_far_from_the_products_is_added_term_by_term():
    """mpdot._fold declines an addend more than SPREAD_BITS bits above or below the products' exponent (its
    integer would be thousands of bits long), and dot adds it after the rounded products instead: the
    sum is still within a rounding of the exact one."""
    import mpmath

    from symbptt.numeric import mpdot

    with mpmath.workdps(30):
        w = np.array([[mpmath.mpf(3)]], dtype=object)
        h = np.array([[mpmath.mpf(1) / 7]], dtype=object)
        for far in (mpmath.mpf(2) ** 6000, mpmath.mpf(2) ** -6000):
            exp = mpdot._parts(w[0, 0])[2] + mpdot._parts(h[0, 0])[2]
            assert mpdot._fold(3, exp, [far]) is None
            got = mpdot.dot(w, h, plus=[np.array([[far]], dtype=object)])[0, 0]
            with mpmath.workdps(4000):
                exact = w[0, 0] * h[0, 0] + far
            assert abs(got - exact) <= abs(exact) * mpmath.mpf(2) ** (1 - mpmath.mp.prec)


def _raised_check_cases() -> list[tuple[str, dict]]:
    rng = np.random.default_rng(2)
    layer = {k: v.tolist() for k, v in saturated_gru_layer(rng, 3).items()}
    x = (rng.normal(size=(30, 1)) * 40).tolist()
    return [("saturated", {"cell": "gru", **layer, "x": x, "y": [0.0] * 3}),
            ("saturated, truncated", {"cell": "gru", **layer, "x": x, "y": [0.0] * 3, "truncate": 5}),
            ("truncated, its own passes", {"activation": "tanh", "W": 0.1, "U": 1, "b": 0, "h0": 1, "x": [1.0] * 50,
                                           "y": 0, "truncate": 20})]


@pytest.mark.parametrize("name,data", _raised_check_cases(), ids=[c[0] for c in _raised_check_cases()])
def test_an_exact_pass_whose_check_raised_its_digits_is_read_at_them(name, data, monkeypatch):
    """Where the check of an exact forward pass asks for more digits than its caller did (here its first
    comparison made to find 5 digits shared), every reading of the pass — a saturated report's, whose
    digits its differences decide, and a truncated report's walks — works at the digits the pass was
    checked at, and the precision line names them.  Planted: the saturated report read its pass at the
    70 digits first asked for, naming them, and the truncated walk at 30 where the pass ran at 55."""
    from symbptt.numeric import exact, split

    read, first = [], [True]
    original_values, original_checked = split.exact_values, exact._checked

    def values(model, traj):
        read.append((mpmath.mp.dps, traj.digits))
        return original_values(model, traj)

    def checked(*args):  # the first check (carried along the pass, or by a second one) finds 5 digits kept
        held, how = original_checked(*args)
        if first[0]:
            first[0] = False
            return 5.0, how
        return held, how

    monkeypatch.setattr(split, "exact_values", values)
    monkeypatch.setattr(exact, "_checked", checked)
    # 15 digits asked of the saturated GRU: more than its float64 pass keeps, so the exact pass runs
    report = grad_report(parse_config(data), digits=15 if name.startswith("saturated") else 12)
    assert read and not first[0] and all(dps == digits for dps, digits in read), read
    if report["precision"].startswith("Arb"):
        assert int(report["precision"].split()[2]) == read[0][1]


def test_a_saturated_run_whose_float64_pass_left_its_range_is_measured_on_a_checked_exact_pass(monkeypatch):
    """A saturated GRU whose float64 forward pass makes NaN (a row of U_n with ±1e308 over two equal inputs:
    ∞ − ∞ in float64, exactly 0): what its gates can cancel is bounded on an exact pass, which is checked
    as every exact pass is (exact_forward at DPS digits first), and the report agrees with reference.py's
    BPTT at 160 digits.  Planted: the bound read an unchecked mpmath pass, and the first checked pass was
    the report's own."""
    from symbptt.numeric import exact
    from symbptt.reference import bptt as reference_bptt

    rng = np.random.default_rng(2)
    layer = saturated_gru_layer(rng, 3, 2)
    layer["U_n"][0] = [1e308, -1e308]
    x = rng.normal(size=(30, 2)) * 40
    x[:, 1] = x[:, 0]
    cfg = parse_config({"cell": "gru", **{k: v.tolist() for k, v in layer.items()}, "x": x.tolist(), "y": [0.0] * 3})
    asked, original = [], exact.exact_forward
    monkeypatch.setattr(exact, "exact_forward", lambda model, dps: asked.append(dps) or original(model, dps))
    report = grad_report(cfg)
    assert asked[0] == exact.DPS and report["precision"].startswith("Arb")
    with mpmath.workdps(160):
        _, full = reference_bptt([layer], x, np.zeros(3), "tanh", "last", "gru", kind="mp")
    assert_report_matches(report["grad"], report["grad_log10"], full, cfg.spec.params)


def _quarter(T: int, closeness: float) -> tuple[dict, list[dict]]:
    """tests/cells/quarter.toml, whose ∂h_t/∂h_{t−1} = (4·w·e^p + 3)/12 cancels about −log10(closeness)
    digits in its first unit: w·e^p = −3/4·(1 + closeness); its report and reference_files.py's gradients
    at 60 digits."""
    from symbptt import reference_files

    path = Path(__file__).parent / "cells" / "quarter.toml"
    p = 0.7
    w = [float(-0.75 / mpmath.exp(p)) * (1 + closeness), 0.3]
    layer = {"U": [[1.0], [0.5]], "b": [0.1, -0.2], "w": w, "p": p, "h0": [0.3, 0.2]}
    cfg = parse_config({"cell": str(path), **layer, "x": [[0.4]] * T, "y": [0.9, 0.1]})
    arrays = [{k: np.asarray(v, dtype=float) for k, v in layer.items()}]
    with mpmath.workdps(60):
        _, want = reference_files.bptt(path.read_text(), arrays, np.full((T, 1), 0.4), np.array([0.9, 0.1]))
    return grad_report(cfg), want


@pytest.mark.parametrize(("T", "closeness"), [(1, 1e-3), (5, 1e-2), (5, 1e-4)])
def test_a_step_coefficient_cancelling_a_sum_of_parameters_is_measured_at_its_rounding_size(T, closeness, monkeypatch):
    """A step coefficient computed from parameters alone, (4·w·e^p + 3)/12, near 0: float64 rounds it by
    about 2⁻⁵³·(|4·w·e^p| + 3)/12, far more than one rounding of the small result, and no nudged stored
    value moves it.  The reruns now move it by its rounding size (numeric/sizes.py), and every entry
    holds what the report claims against reference_files.py at 60 digits, relative to its gradient's
    largest entry and in itself.  Planted: nudged by one rounding only, as before, the report claimed 14.2
    digits in the worst entry where it held 11.6."""
    from symbptt.check.claims import held_digits
    from symbptt.numeric import factors

    def outside(report: dict, want: list[dict]) -> float:
        """How many digits the worst entry holds fewer than the report claims (≤ 0 where it holds)."""
        assert report["precision"].startswith("float64"), report["precision"]
        claim = report["float64_digits"]
        short = -math.inf
        for name, block in want[0].items():
            block_digits, entry = held_digits(np.ravel(report["grad"][name]), np.ravel(block))
            short = max(short, claim["relative_to_largest"] - block_digits, claim["worst_entry"] - entry)
        return short

    assert outside(*_quarter(T, closeness)) <= 0
    if closeness == 1e-4:  # planted where the old claim was furthest out
        monkeypatch.setattr(factors, "nudged_coefficients", lambda cc, traj, layer, coefs, noise:
                            {key: noise(value) for key, value in coefs.items()})
        assert outside(*_quarter(T, closeness)) > 2


SIZED = ["(4*w*exp(p) + 3)/12", "tanh(w*p + z)*z - 1/3", "exp(-(w + p)**2)*z + 1/4", "sqrt(w*w + p) - z"]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(SIZED), st.floats(-2, 2), st.floats(0.1, 2), st.floats(-1, 1))
def test_an_expression_s_float64_error_is_within_its_rounding_size(text, w, p, z):
    """numeric/sizes.py's rounding size bounds what float64 loses computing an expression whose sums
    cancel: evaluated in float64 (lambdify, NumPy) and at 50 digits from the same float64 inputs, the two
    differ by at most 8·2⁻⁵³·(size + |value|) — the size for the sums, |value| for the few roundings of
    the rest."""
    from symbptt.numeric.forward import ROUNDING
    from symbptt.numeric.sizes import rounding_size

    names = sp.symbols("w p z")
    expr = sp.sympify(text, locals=dict(zip("wpz", names, strict=True)))
    args = (w, p, z)
    got = float(sp.lambdify(names, expr, "numpy")(*[np.float64(v) for v in args]))
    size = float(sp.lambdify(names, rounding_size(expr), "numpy")(*args))
    with mpmath.workdps(50):
        want = sp.lambdify(names, expr, "mpmath")(*[mpmath.mpf(v) for v in args])
        assert abs(got - want) <= 8 * ROUNDING * (size + abs(want))


def test_without_its_rounding_size_a_cancelling_sum_is_outside_a_few_roundings():
    """The size is what makes the bound above hold where the sum cancels: (4·w·e^p + 3)/12 with w·e^p
    within 10^−9 of −3/4 is off in float64 by far more than 8 roundings of its value."""
    from symbptt.numeric.forward import ROUNDING
    from symbptt.numeric.sizes import rounding_size

    w, p = sp.symbols("w p")
    expr = (4 * w * sp.exp(p) + 3) / 12
    wv = float(-0.75 / mpmath.exp(0.7)) * (1 + 1e-9)
    got = float(sp.lambdify((w, p), expr, "numpy")(np.float64(wv), np.float64(0.7)))
    with mpmath.workdps(50):
        want = (4 * mpmath.mpf(wv) * mpmath.exp(mpmath.mpf(0.7)) + 3) / 12
    assert abs(got - want) > 8 * ROUNDING * abs(want)
    assert float(rounding_size(expr).subs({w: wv, p: 0.7})) == pytest.approx(0.25, rel=1e-6)  # |4·w·e^p|/12
    assert rounding_size(w * sp.exp(p) * sp.tanh(w) / 12) == 0  # no sum: one rounding, the nudge's


def _shifted(T: int) -> tuple[dict, list[dict]]:
    """tests/cells/shifted.toml (n = 2, m = 1, drawn from seed 1): its report and reference_files.py's
    gradients at 60 digits."""
    from symbptt import reference_files

    path = Path(__file__).parent / "cells" / "shifted.toml"
    rng = np.random.default_rng(1)
    layer = {"W": (0.3 * rng.normal(size=(2, 2))).tolist(), "U": rng.normal(size=(2, 1)).tolist(),
             "b": rng.normal(size=2).tolist(), "h0": [0.3, 0.2]}
    x, y = rng.normal(size=(T, 1)), [0.5, -0.5]
    cfg = parse_config({"cell": str(path), **layer, "x": x.tolist(), "y": y})
    arrays = [{k: np.asarray(v, dtype=float) for k, v in layer.items()}]
    with mpmath.workdps(60):
        _, want = reference_files.bptt(path.read_text(), arrays, x, np.array(y))
    return grad_report(cfg), want


def _short_of_claim(report: dict, want: list[dict]) -> float:
    """How many digits the report's gradients hold fewer than it claims, relative to each gradient's
    largest entry or in the worst entry (≤ 0 where they hold it); an exact report must hold 12."""
    from symbptt.check.claims import held_digits

    float64 = report["precision"].startswith("float64")
    claim = report["float64_digits"] if float64 else {"relative_to_largest": 12.0, "worst_entry": 12.0}
    short = -math.inf
    for name, block in want[0].items():
        whole, entry = held_digits(np.ravel(report["grad"][name]), np.ravel(block))
        short = max(short, claim["relative_to_largest"] - whole, claim["worst_entry"] - entry if float64 else -1)
    return short


@pytest.mark.parametrize("T", [3, 30])
def test_a_sum_inside_an_activation_that_float64_rounds_is_measured(T, monkeypatch):
    """sin(W h + U x + b + 10^6): the shifted pre-activation is computed inside the node and its
    coefficient, rounded to about 1e-10, and no stored value holds it.  The nudged reruns move both by
    their rounding sizes; float64 is measured at about 8 digits, the report is computed exactly, and it
    holds every digit against reference_files.py.  Planted: nudged by one rounding each, as before, the
    report claimed 13 to 14.4 digits in float64 where it held 8.6 to 10.1."""
    from symbptt.numeric import factors, forward

    assert _short_of_claim(*_shifted(T)) <= 0
    monkeypatch.setattr(factors, "nudged_coefficients", lambda cc, traj, layer, coefs, noise:
                        {key: noise(value) for key, value in coefs.items()})
    monkeypatch.setattr(forward.CompiledCell, "node_sizes", property(lambda self: {}))
    assert _short_of_claim(*_shifted(T)) > 3


def test_the_nudged_pass_moves_a_node_by_its_rounding_size():
    """The nudged forward pass moves sin(a + 10^6) (a = W h + U x + b, stored) by one rounding and by
    2⁻⁵³·|cos(a + 10^6)|·|a + 10^6|, the rounding of its shifted argument: all up, each h_t moves by
    that much to within the rounding of the size itself, though its inputs (a nudged by one rounding)
    moved far less."""
    from symbptt.numeric.forward import ROUNDING, UlpNoise, compiled, forward

    path = Path(__file__).parent / "cells" / "shifted.toml"
    rng = np.random.default_rng(2)
    cfg = parse_config({"cell": str(path), "W": [[0.0]], "U": [[1.0]], "b": [0.2], "h0": [0.3],
                        "x": rng.normal(size=(5, 1)).tolist(), "y": [0.0]})
    model = NumericModel.of(cfg)
    cc = compiled(model.cell)
    nudged = forward(cc, model.params, model.x, UlpNoise(1))
    a = nudged.values[0]["a"][1:]  # W h + U x + b: the cell's one linear map, stored (and nudged by one rounding)
    moved = nudged.values[0]["h"][1:] - np.sin(a + 1e6)
    size = ROUNDING * np.abs(np.cos(a + 1e6)) * np.abs(a + 1e6)
    assert np.all(np.abs(moved - size) <= 1e-3 * size + 4 * np.spacing(np.abs(np.sin(a + 1e6))))
    assert np.all(size > 1e4 * np.spacing(1.0) * np.abs(np.cos(a + 1e6)))


def test_a_target_equal_to_the_float64_output_is_reported_exactly():
    """y set to the network's own float64 output: every float64 gradient is exactly 0, and a rerun moves
    them off 0, a change no count of digits bounds.  The report used to stop on it (OverflowError in its
    words); now float64 keeps no digit, −∞ (null in JSON), in words that say why, and the exact gradients (about
    1e-17, from h_T − y that float64 rounded to 0) equal reference.py's to 12 digits."""
    import symbptt

    h1 = math.tanh(0.5 * 0.3 + 1.0 * 0.2 + 0.1)
    report = grad_report(parse_config({"W": 0.5, "U": 1.0, "b": 0.1, "h0": 0.3, "x": [0.2], "y": h1}))
    assert report["float64_digits"] == {"relative_to_largest": -math.inf, "worst_entry": -math.inf}
    assert '"relative_to_largest": null' in strict_json(report)  # no count bounds it
    assert "float64 kept no digit of some gradient, one rounding having moved a gradient float64 gives as 0" \
        in report["precision"]
    strict_json(report)
    params = {"W": np.array([[0.5]]), "U": np.array([[1.0]]), "b": np.array([0.1]), "h0": np.array([0.3])}
    with mpmath.workdps(50):
        _, want = bptt([params], np.array([[0.2]]), np.array([h1]), "tanh", "last", "rnn", kind="mp")
    got = symbptt.gradients(params, np.array([[[0.2]]]), np.array([[h1]]), digits=12)
    assert got.kept == (-math.inf, -math.inf)
    for name, block in want[0].items():
        exact = mpmath.mpf(np.ravel(block)[0])
        assert exact != 0
        for found in (report["grad"][name], got.grads[name]):
            assert float(abs(mpmath.mpf(float(np.ravel(found)[0])) - exact) / abs(exact)) < 1e-12


def test_a_rerun_that_makes_a_value_undefined_counts_as_no_digit_kept():
    """A NaN from a nudged rerun is a change without bound, not none at all (Python's max passes a NaN
    over, which counted it as 0 and claimed every digit), in float64 arrays and in mpf ones."""
    from symbptt.numeric import reruns

    assert reruns._changes(np.array([1.0, 2.0, 3.0]), np.array([1.0, np.nan, 3.0])) == (math.inf, math.inf)
    mp = np.array([mpmath.mpf(1), mpmath.mpf(2)], dtype=object)
    assert reruns._changes(mp, np.array([mpmath.mpf("1.1"), mpmath.mpf("nan")], dtype=object)) == (math.inf, math.inf)
    assert reruns._widest([(np.ones(2), np.array([np.nan, 1.0]))], 2.0, 0.0, 0.0) == (math.inf, math.inf)
    assert reruns._digits(math.inf) == -math.inf and reruns.shown_digits((-math.inf, -17.04)) == (-math.inf, -17.1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=True, allow_subnormal=True), min_size=1, max_size=12),
       st.integers(4, 300))
def test_to_mp_holds_every_float64_exactly_at_any_working_precision(values, prec):
    """forward.to_mp, which every exact pass reads its float64 parameters and inputs through: each entry is
    the float64 itself (its mantissa and exponent, sign of a zero included), even where the working
    precision is below float64's 53 bits, in the array's shape."""
    from symbptt.numeric.forward import to_mp

    array = np.array(values).reshape(len(values), 1)
    with mpmath.workprec(prec):
        got = to_mp(array)
    assert got.shape == array.shape and got.dtype == object
    with mpmath.workprec(2000):
        for mine, v in zip(got.ravel(), array.ravel(), strict=True):
            assert type(mine) is mpmath.mpf and mine == mpmath.mpf(v) and float(mine) == v
            assert math.copysign(1.0, float(mine)) == math.copysign(1.0, v)
