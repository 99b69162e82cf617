"""The report's Jacobian norms ‖∂s_T/∂s_k‖: in log space beyond float64, as the SVD of the whole product,
proven by power iterations (spectral.certified_norms) or taken from an eigensolve, and from the exact pass
where float64 did not hold."""


from __future__ import annotations

import math
from pathlib import Path

import mpmath
import numpy as np
import pytest
from conftest import examples, saturated_gru_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt.check import reference_activation
from symbptt.config import parse_config
from symbptt.numeric.factors import ArrayFactors, NumericModel
from symbptt.numeric.grad_report import grad_report
from symbptt.numeric.logspace import log10_jacobian_norms
from symbptt.numeric.spectral import spectral_norms

CELLS = Path(__file__).parent / "cells"


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


@settings(max_examples=examples(25))
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


@settings(max_examples=examples(40), deadline=None)
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


@settings(max_examples=examples(30), deadline=None)
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


@settings(max_examples=examples(40), deadline=None)
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


def test_jacobian_norms_keep_a_unit_whose_factor_float64_would_drop():
    """check --seed 7, trial 724: an IndRNN with erf units, some saturated (σ' ≈ 10^-600) beside others:
    scaled to its step's largest, a factor underflowed to 0 in float64 and the product of ∂s_5/∂s_0 died.
    The layer is now multiplied in mpmath; every listed norm agrees with reference.py's own Jacobians."""
    import math

    from symbptt.check import DPS, DRAWN, _json_report, random_trial
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


@settings(max_examples=examples(40), deadline=None)
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
