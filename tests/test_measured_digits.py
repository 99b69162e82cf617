"""The digits a float64 report says it keeps: the nudged reruns that measure them (rounding sizes, nudges drawn
in blocks, the margin), the words of the precision line, and when the report goes to an exact pass instead."""

from __future__ import annotations

import math
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from conftest import assert_report_matches, examples, saturated_gru_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt import SymbpttError
from symbptt.config import parse_config
from symbptt.numeric.factors import ArrayFactors, NumericModel
from symbptt.numeric.grad_report import grad_report

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


@settings(max_examples=examples(60), deadline=None)
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


@settings(max_examples=examples(40), deadline=None)
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


@settings(max_examples=examples(60), deadline=None, derandomize=True)
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


def test_a_rerun_that_makes_a_value_undefined_counts_as_no_digit_kept():
    """A NaN from a nudged rerun is a change without bound, not none at all (Python's max passes a NaN
    over, which counted it as 0 and claimed every digit), in float64 arrays and in mpf ones."""
    from symbptt.numeric import reruns

    assert reruns._changes(np.array([1.0, 2.0, 3.0]), np.array([1.0, np.nan, 3.0])) == (math.inf, math.inf)
    mp = np.array([mpmath.mpf(1), mpmath.mpf(2)], dtype=object)
    assert reruns._changes(mp, np.array([mpmath.mpf("1.1"), mpmath.mpf("nan")], dtype=object)) == (math.inf, math.inf)
    assert reruns._widest([(np.ones(2), np.array([np.nan, 1.0]))], 2.0, 0.0, 0.0) == (math.inf, math.inf)
    assert reruns._digits(math.inf) == -math.inf and reruns.shown_digits((-math.inf, -17.04)) == (-math.inf, -17.1)


_ENTRY = st.one_of(st.floats(-1e300, 1e300), st.sampled_from([0.0, -0.0, 1e-310, np.nan, np.inf, -np.inf]))


@settings(max_examples=examples(200), deadline=None)
@given(blocks=st.lists(st.tuples(st.lists(st.tuples(_ENTRY, _ENTRY), max_size=6), st.booleans()), min_size=1,
                       max_size=6),
       margin=st.sampled_from([1.0, 2.0, 4.0]), start=st.sampled_from([0.0, 1e-3, 7.0]))
def test_blocks_read_together_widen_as_each_block_read_alone(blocks, margin, start):
    """_widest reads a rerun's float64 blocks together (_float_changes: one array, one reduceat per
    quantity): the same two counts, to the bit, as each block read by _changes and widened in turn, and the
    same counts block by block; with empty blocks, zeros (plain, rerun or both), NaN, ±∞, subnormals and
    a block of mpf entries among them."""
    from symbptt.numeric import reruns

    pairs = []
    for entries, exact in blocks:
        a, b = np.array([p for p, _ in entries], dtype=float), np.array([q for _, q in entries], dtype=float)
        if exact and entries and np.all(np.isfinite(a)) and np.all(np.isfinite(b)):
            a, b = (np.array([mpmath.mpf(v) for v in arr], dtype=object) for arr in (a, b))
        pairs.append((a, b))
    block = entry = start
    for plain, moved in pairs:  # block by block, as _widest read them before
        each, whole = reruns._changes(plain, moved)
        entry, block = max(entry, margin * each), max(block, margin * whole)
    assert reruns._widest(pairs, margin, start, start) == (block, entry)
    floats = [(a, b) for a, b in pairs if a.dtype == float and a.size]
    if floats:  # and block by block: each block's own two counts
        each, whole = reruns._float_changes(floats)
        assert list(zip(each.tolist(), whole.tolist(), strict=True)) == [reruns._changes(a, b) for a, b in floats]
