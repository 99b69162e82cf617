"""An exact forward pass read in float64 (numeric/split.py): the report's gradients and norms from it, the
digits it claims against reference.py, and what sends the report back to mpmath."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
from conftest import benchmark_script, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from mpmath.libmp import dps_to_prec

from symbptt.config import parse_config
from symbptt.numeric import arbforward, grad_report, reruns, split
from symbptt.numeric.cancelled import difference_digits
from symbptt.numeric.exact import exact_forward
from symbptt.numeric.factors import ArrayFactors, gradient_blocks
from symbptt.numeric.forward import ROUNDING, Trajectory, UlpNoise
from symbptt.reference import bptt


def _sweep() -> Any:
    """benchmarks/split_sweep.py."""
    return benchmark_script("split_sweep")


def _chaotic(n: int = 16, T: int = 80, gain: float = 4.0) -> tuple[dict, dict]:
    """A tanh network of the benchmark's kind (W = gain·N(0, 1/n), x = 0.1): its config and parameters."""
    rng = np.random.default_rng(0)
    W = gain * rng.normal(size=(n, n)) / np.sqrt(n)
    U = rng.normal(size=(n, 1))
    params = {"W": W, "U": U, "b": np.zeros(n), "h0": np.full(n, 0.3)}
    data = {"activation": "tanh", "x": [[0.1]] * T, "y": [0.0] * n} | {k: v.tolist() for k, v in params.items()}
    return data, params


def _digits_held(got: dict, want: list[dict]) -> tuple[float, float]:
    """(digits relative to each gradient's largest entry, digits of the worst entry) of a report's
    gradients against reference.py's."""
    block = entry = 0.0
    for name, values in want[0].items():
        exact = np.array([float(v) for v in np.ravel(values)])
        mine = np.ravel(np.asarray(got[name], dtype=float))
        block = max(block, float(np.max(np.abs(mine - exact)) / np.max(np.abs(exact))))
        entry = max(entry, float(np.max(np.abs(mine - exact) / np.abs(exact))))
    return -math.log10(max(block, 1e-300)), -math.log10(max(entry, 1e-300))  # 300: every digit held


@pytest.mark.parametrize("engine", ["Arb", "mpmath"])
def test_a_chaotic_network_computes_only_its_forward_pass_exactly_and_holds_the_digits_it_claims(engine, monkeypatch):
    """Rounding amplified by about 10^7: the forward pass with Arb (or, turned off, mpmath) at 30 digits
    more, the rest in float64 from it, holding the digits its reruns claim against reference.py; the norms
    are the ones the all-mpmath report gives, to 10 digits of their log10."""
    monkeypatch.setenv("SYMBPTT_ARB", "1" if engine == "Arb" else "0")
    data, params = _chaotic()
    report = grad_report.grad_report(parse_config(data))
    precision = report["precision"]
    dps = int(precision.split()[2])
    assert precision.startswith(f"{engine} at {dps} digits for the forward pass, float64 from its trajectory")
    assert dps > grad_report.DPS  # amplified: more than the digits an exact pass starts from
    claim = report["float64_digits"]
    with mpmath.workdps(dps + 30):
        want = bptt([params], np.full((80, 1), 0.1), np.zeros(16), "tanh", "last", "rnn", kind="mp")[1]
    held = _digits_held(report["grad"], want)
    assert held[0] >= claim["relative_to_largest"] and held[1] >= claim["worst_entry"], (held, claim)
    assert claim["relative_to_largest"] >= grad_report.DIGITS
    all_mp = grad_report.grad_report(parse_config(data), digits=15)  # the split keeps fewer: mpmath throughout
    assert not grad_report.gradients_in_float64(all_mp) and "float64_digits" not in all_mp
    assert all_mp["precision"].startswith(f"{engine} at {dps} digits (float64 would keep about ")
    mine = [row["log10"] for row in report["log10_jacobian_norms"]]
    exact = [row["log10"] for row in all_mp["log10_jacobian_norms"]]
    assert np.allclose(mine, exact, rtol=0, atol=1e-10)
    assert _digits_held(all_mp["grad"], want)[1] >= grad_report.DIGITS


def test_an_exact_forward_pass_is_checked_where_growth_peaks_before_the_last_step(monkeypatch):
    """benchmarks/split_sweep.py --long found it (seed 26): a chaotic network (n = 13, T = 848, loss sum)
    whose ‖∂s_T/∂s_k‖ reach 10^1.7 while its gradients reach 10^43. The report's exact pass at 30 digits
    (the digits those norms ask for) gave W's gradient 10^47; checked by a pass with 20 digits more
    (exact.exact_forward), it is made again with the digits the check asks for, and every gradient is the
    exact value rounded to float64, as a pass at 120 digits gives it; the words give the amplification the
    check measured, not the norms' bound it broke.  Planted: unchecked, it is not."""
    from symbptt.numeric import exact

    case = ("chaotic", "tanh", 13, 1, 848, "sum", 4.966641901249281, 0.0, 284709663)
    cfg = parse_config(_sweep().build(case)[0])
    _, want = exact.exact_gradients_at(grad_report.NumericModel.of(cfg), 120)

    def exact_everywhere(report: dict) -> bool:
        return all(np.array_equal(np.ravel(report["grad"][name]), [float(v) for v in np.ravel(block)])
                   for name, block in want[0].items())

    report = grad_report.grad_report(cfg)
    assert exact_everywhere(report) and int(report["precision"].split()[2]) > 30
    # the words give what the check measured (carried along the pass: numeric/tangent.py), and it agrees
    # with what a second pass measures: Arb's pass at the report's digits shares `held` digits with one at
    # CHECK more, its values rounded at its working bits (GUARD beyond the digits')
    found = float(report["precision"].split("rounding amplified by about 10^")[1].split()[0])
    digits = int(report["precision"].split()[2])
    model = grad_report.NumericModel.of(cfg)
    held = exact._agreeing_digits(model.cell.states, arbforward.forward(model, digits),
                                  arbforward.forward(model, digits + exact.CHECK))
    assert -1.0 < found - ((dps_to_prec(digits) + arbforward.GUARD) * math.log10(2) - held) < 4.0
    assert "up to" not in report["precision"] and "kept no digit" in report["precision"]
    quoted = " ".join((Path(__file__).resolve().parent.parent / "docs" / "reference.md").read_text().split())
    assert f"about 10^{found:g} in the states, as measured by carrying" in quoted  # the docs quote this report
    assert f"(n = 13, T = 848) 10^4 times off at 30 digits; it now runs at {digits}." in quoted
    monkeypatch.setattr(exact, "HELD", -math.inf)
    unchecked = grad_report.grad_report(cfg)
    assert unchecked["precision"].startswith("Arb at 30 digits") and not exact_everywhere(unchecked)
    assert "about 10^" not in unchecked["precision"]


LOSES_RANGE = [("chaotic", "tanh", 13, 1, 848, "sum", 4.966641901249281, 0.0, 284709663),
               ("chaotic", "tanh", 14, 1, 898, "last", 4.92836, 0.0, 1013433688)]


@pytest.mark.parametrize("case", LOSES_RANGE, ids=["growth before T", "a cancelling δ"])
def test_where_float64_loses_range_every_block_comes_from_a_checked_exact_pass(case, monkeypatch):
    """Networks of split_sweep.py's --long family with targets of 10^160: the loss overflows float64, so
    the report makes an exact pass for it.  It made it unchecked, at 30 digits, and kept beside it the
    float64 gradients nothing had measured: on the seed-26 network above (rounding amplified 10^32.6
    before T, the norms to T 10^0.4) every one was wrong in its first digit; on the second (found by
    `split_sweep.py --long --targets 1e160 --seed 29`; its states hold their digits) h0's float64 gradient
    was off by 2e-9 of its largest entry.  Now the pass is checked and every block comes from it: report
    and `symbptt.gradients` both give the exact values rounded to float64, and where the check raised the
    digits the words say what it measured.  Planted: with the pass unchecked, the first is wrong again."""
    import symbptt
    from symbptt.numeric import exact

    data = _sweep().build(case, targets=1e160)[0]
    cfg = parse_config(data)
    _, want = exact.exact_gradients_at(grad_report.NumericModel.of(cfg), 120)
    expected = {name: np.array([float(v) for v in np.ravel(block)]) for name, block in want[0].items()}
    params = {name: np.asarray(v, dtype=float) for name, v in data["layers"][0].items()}
    x, y = np.asarray(data["x"], dtype=float)[:, :, None], np.asarray(data["y"], dtype=float)
    y = y[:, :, None] if case[5] == "sum" else y[:, None]

    def exact_everywhere() -> tuple[bool, str]:
        report = grad_report.grad_report(cfg)
        _, grads = symbptt.gradients(params, x, y, loss=case[5])
        return all(np.array_equal(np.ravel(report["grad"][name]), want) and np.array_equal(np.ravel(grads[name]), want)
                   for name, want in expected.items()), report["precision"]

    right, words = exact_everywhere()
    assert right and words.endswith("(float64 lost range)") == (int(words.split()[2]) == 30)
    if case[5] == "sum":
        assert int(words.split()[2]) > 30 and "rounding amplified by about 10^" in words
        monkeypatch.setattr(exact, "HELD", -math.inf)  # the pass unchecked: at 30 digits, every block from it
        assert not exact_everywhere()[0]


@pytest.mark.parametrize("scale", [0, -200, -320, -5000])
@pytest.mark.parametrize("kind", ["mpf", "arb"])
def test_the_check_of_an_exact_pass_compares_states_at_every_magnitude(scale, kind):
    """Two passes whose states agree to 5 digits at one step, the states there 10^scale: the check finds
    the 5 digits, whether the step is within float64's range, below it (10^−320 is subnormal, 10^−5000 is
    0 as a float64) or not; equal passes share every digit.  Planted: compared in float64 alone, the two
    steps below its range read as equal."""
    from types import SimpleNamespace

    from symbptt.numeric import arbforward, exact

    flint = arbforward.flint_module()  # a dependency: Arb's passes store exact midpoints
    make = (lambda v: flint.arb(str(v)).mid()) if kind == "arb" else (lambda v: v)
    with mpmath.workdps(40):
        base = [mpmath.mpf(10) ** scale * mpmath.mpf(f"1.{i}23456789") for i in range(6)]
        states = np.array([make(v) for v in base], dtype=object).reshape(3, 2, 1)  # (T + 1, n, B)
        moved = states.copy()
        moved[2, 1, 0] = make(base[5] * (1 + mpmath.mpf("3e-6")))
    one, two = (SimpleNamespace(values=[{"h": v}]) for v in (states, moved))
    held = exact._agreeing_digits(("h",), one, two)
    assert 5.0 <= held <= 5.6
    assert exact._agreeing_digits(("h",), one, SimpleNamespace(values=[{"h": states.copy()}])) == math.inf


def test_the_check_compares_states_whose_exponents_are_beyond_a_machine_word():
    """States of about 2^(−10^300) (an LSTM whose input gate is exp(−10^299)) agreeing to 400 digits: the
    check finds the 400.  Their difference is Arb's, to 62 bits, but the log10s of it and of the state, as
    float64, were equal (their spacing there is 10^283): read as sharing no digit, the pass was made
    again up to 5,000 digits and refused after 50 s (an LSTM of one unit over 200 steps)."""
    from types import SimpleNamespace

    from symbptt.numeric import arbforward, exact

    flint = arbforward.flint_module()
    exponent = -(10**300)
    with flint.ctx.workprec(1500):
        base = [flint.arb((flint.fmpz(3**800 + i), exponent)) for i in range(4)]
        states = np.array(base, dtype=object).reshape(2, 2, 1)  # (T + 1, n, B)
        moved = states.copy()
        moved[1, 1, 0] = (base[3] * (1 + flint.arb(10) ** -400)).mid()
    with flint.ctx.workprec(64):
        gap, state = ((int(e) + int(m).bit_length()) * math.log10(2) for m, e in
                      ((base[3] - moved[1, 1, 0]).mid().man_exp(), base[3].man_exp()))
    assert gap == state  # as float64, their log10s are one number: the ratio has to come from the exponents
    one, two = (SimpleNamespace(values=[{"h": v}]) for v in (states, moved))
    held = exact._agreeing_digits(("h",), one, two)
    assert 399.5 <= held <= 400.5


def test_a_gap_whose_binary_exponent_is_beyond_a_float_apart_is_read_as_infinitely_apart():
    """A step whose difference is 2^(±2^1025) times its largest state (gaps two exponents apart by more
    than a float holds: api_fuzz's minGRU with a bias of 2^62): −∞ or +∞, not an OverflowError (math.copysign
    made a float of the gap's exponent)."""
    from symbptt.numeric import exact

    huge = 1 << 1025
    one = mpmath.mpf((0, 1, 0, 1))  # 1
    for gap_exponent, want in ((-huge, -math.inf), (huge, math.inf)):
        gap = mpmath.mpf((0, 1, gap_exponent, 1))
        got = exact._relative_log10s(np.array([[gap]], dtype=object), np.array([[one]], dtype=object))
        assert got.tolist() == [want]


def test_an_lstm_gate_of_exp_minus_10_to_the_299_is_found_its_digits_in_a_few_passes(monkeypatch):
    """U_i = −10^300: the input gate is exp(−10^299·x), whose relative error is 10^299 times its argument's,
    so a pass shares no digit with its check below about 300 digits.  Where none is shared the digits are
    doubled: 30, 60, 120, 240, 480 (five checks, where adding 30 at a time took eleven, to 319; each check
    a second pass, as the gate's e^(−10^299) is beyond what numeric/tangent.py carries in float64), and the
    amplification the line gives is the one measured where they agreed, not a bound from a pass that
    shared nothing (with a negative count of shared digits, that bound read 10^(10^134))."""
    from symbptt.numeric import exact

    made = []
    forward_at = exact._forward_at
    monkeypatch.setattr(exact, "_forward_at", lambda model, dps: made.append(dps) or forward_at(model, dps))
    cfg = parse_config({"cell": "lstm", "W_i": 0.13, "W_f": -0.13, "W_g": 0.64, "W_o": 0.1, "U_i": -1e300,
                        "U_f": 0.36, "U_g": 1.3, "U_o": 0.95, "b_i": 0.0, "b_f": 1.0, "b_g": 0.0, "b_o": 0.0,
                        "h0": 0.0, "c0": 0.0, "x": [0.78, 0.11, 0.6, 0.91], "y": 0.0})
    words = grad_report.grad_report(cfg)["precision"]
    assert made == [d + more for d in (30, 60, 120, 240, 480) for more in (exact.CHECK, 0)]
    assert words.startswith("Arb at 480 digits")
    amplified = float(words.split("amplified by about 10^")[1].split()[0])
    assert 280 <= amplified <= 300


def test_the_rest_takes_the_digits_the_reruns_of_a_short_read_ask_for(monkeypatch):
    """The benchmark's chaotic network at T = 1000 (forward pass at 130 digits): its float64 rest keeps
    about 11 of the 12 digits asked for, so the rest is computed exactly at DPS beyond what its reruns
    measured rounding cost the worst entry, and the words give those digits.  Counted with margins ten
    times as large, the reruns say a digit more was lost: the rest takes one digit more, and the words
    change with it."""
    data, _ = _chaotic(T=1000)
    first = grad_report.grad_report(parse_config(data))["precision"]
    monkeypatch.setattr(reruns, "HELD_RUNS", tuple((*run[:3], 10 * run[3]) for run in reruns.HELD_RUNS))
    second = grad_report.grad_report(parse_config(data))["precision"]
    dps = int(first.split()[2])
    costs = []
    for words in (first, second):
        rest_at = int(words.split(", ")[1].split()[2])
        cost = int(words.split("rounding cost it up to ")[1].split()[0])
        assert rest_at == grad_report.DPS + cost < dps
        costs.append(cost)
    assert costs[1] == costs[0] + 1
    margins = sorted({run[3] for run in reruns.HELD_RUNS})  # the patched ones
    counted = f"counting {margins[0]:g}× to {margins[-1]:g}× the changes they show"
    assert counted in second and counted not in first


def test_whole_pays_prices_the_rest_the_engine_that_serves_would_run(monkeypatch):
    """At T = 300 (60 digits) the fewer digits save Arb's rest less than three reruns cost, and mpmath's rest
    (SYMBPTT_ARB=0: arbforward does not serve) more: the decision follows the engine's price."""
    model = grad_report.NumericModel.of(parse_config(_chaotic(T=300)[0]))
    assert not reruns.whole_pays(model, 60)
    monkeypatch.setenv("SYMBPTT_ARB", "0")
    assert reruns.whole_pays(model, 60)


def test_a_short_read_is_measured_whole_only_where_the_digits_it_saves_pay_for_the_reruns(monkeypatch):
    """whole_pays: the chaotic network at T = 1000 (123–130 digits) saves more Arb work than three reruns cost,
    and its rest takes fewer digits than its forward pass; at T = 80 (37 digits) nothing is saved, the
    reruns stop at the first that shows the read short, and the rest is computed at the pass's digits.
    With reruns priced a thousand times as high, the long run takes that path too, and says so."""
    long, short = _chaotic(T=1000)[0], _chaotic(T=80)[0]
    models = [grad_report.NumericModel.of(parse_config(d)) for d in (long, short)]
    words = grad_report.grad_report(parse_config(long))["precision"]
    dps = int(words.split()[2])  # the float64 norms decide it: 123–130 digits, as the float64 pass rounds
    assert words.startswith(f"Arb at {dps} digits for the forward pass, Arb at ")
    assert reruns.whole_pays(models[0], dps) and not reruns.whole_pays(models[1], 37)
    words = grad_report.grad_report(parse_config(short), digits=15)["precision"]
    assert words.startswith("Arb at 37 digits (float64 would keep about ")
    monkeypatch.setattr(reruns, "RERUN_STEP", 1000 * reruns.RERUN_STEP)
    assert not reruns.whole_pays(models[0], dps)
    words = grad_report.grad_report(parse_config(long))["precision"]
    assert words.startswith(f"Arb at {dps} digits (float64 would keep no digit")


@pytest.mark.parametrize("kept", [(11.3, 11.28), (13.0, 12.05), (9.0, 0.99), (12.0, 1.0), (15.95, 15.95)])
def test_a_short_read_asks_for_dps_beyond_what_rounding_cost_its_worst_entry(kept):
    """ReadIn.rest_digits: DPS + ⌈15.95 − the worst entry's digits⌉, below the forward pass's digits; none
    where the worst entry kept less than a digit (what rounding cost it is not measured) or where it
    would not be below the pass's digits."""
    read = reruns.ReadIn(None, None, [], [], kept)  # type: ignore[arg-type]  # only its digits are read
    want = grad_report.DPS + math.ceil(reruns.FLOAT64_DIGITS - kept[1])
    assert read.rest_digits(want + 1) == (want if kept[1] >= 1 else None)
    assert read.rest_digits(want) is None
    assert read.holds(12) == (kept[0] >= 12)


def test_the_words_say_how_the_digits_of_a_split_pass_were_measured(monkeypatch):
    """The precision sentence counts HELD_RUNS and their margins: one rerun more, the words change."""
    data, _ = _chaotic(n=8, T=100)
    report = grad_report.grad_report(parse_config(data))
    words, kept = report["precision"], report["float64_digits"]
    runs = len(reruns.HELD_RUNS)
    assert f"float64 from its trajectory for the rest (kept about {math.floor(kept['relative_to_largest'])} digits " \
           in words
    assert f", as measured by {runs} reruns with every stored value of that trajectory nudged by one rounding, " \
           "counting 2× to 4× the changes they show; float64 throughout kept only about " in words
    monkeypatch.setattr(reruns, "HELD_RUNS", reruns.HELD_RUNS + ((0, False, 1, 8.0),))
    words = grad_report.grad_report(parse_config(data))["precision"]
    assert f"as measured by {runs + 1} reruns" in words and "counting 2× to 8× the changes" in words


def test_a_trajectory_without_its_spare_digits_is_not_read_in_float64(monkeypatch):
    """Where the exact pass's digits do not leave split.SPARE beyond what amplification costs, the report
    takes mpmath's numbers from that same pass — the numbers of an all-mpmath pass, bit for bit."""
    data, _ = _chaotic()
    split_report = grad_report.grad_report(parse_config(data))
    monkeypatch.setattr(split, "SPARE", 10_000)
    report = grad_report.grad_report(parse_config(data))
    dps = int(report["precision"].split()[2])
    assert grad_report.READ_IN_FLOAT64 not in report["precision"]
    assert dps == int(split_report["precision"].split()[2])
    cfg = parse_config(data)
    model = grad_report.NumericModel.of(cfg)
    with mpmath.workdps(dps):
        mp_model = model.as_mp()
        _, grads = gradient_blocks(ArrayFactors(mp_model, "mp"), mp_model)
    again = grad_report._split_layers(grads, cfg)[0][0]
    assert report["grad"] == again


def _held_over_claim(case: tuple) -> tuple[float, float]:
    """The largest error of a case of benchmarks/split_sweep.py's, read in float64 from its forward pass
    at 30 digits, over what its measured digits claim (1: a claim just held), against reference.py; and
    the claim relative to the largest entry."""
    sweep = _sweep()
    model = grad_report.NumericModel.of(parse_config(sweep.build(case)[0]))
    exact = exact_forward(model, 30)
    read = reruns.read_in_float64(model, exact, grad_report.listed_steps(model.T), 1, 30)
    assert read is not None
    block, entry = sweep.errors(case, read[2], 70)
    claim = reruns.shown_digits(read[4])
    return max(block / 10.0 ** -claim[0], entry / 10.0 ** -claim[1]), claim[0]


def test_a_saturated_sigmoid_holds_its_claim_by_the_outward_rerun(monkeypatch):
    """An rnn (sigmoid, W × 10, T = 237) whose ∂L/∂h0 is a long product of saturated slopes: read in
    float64 it holds what it claims, and the outward rerun is what lowers the claim to that.  Without it
    (planted back) the claim relative to the largest entry is higher: where benchmarks/split_sweep.py
    found the case it was 14.0 digits and held 13.78; on an AMD EPYC host it is 12.8 against 12.5 with
    the outward rerun, both held (13.64): how far the plain reruns overclaim follows each machine's
    rounding, that the outward rerun lowers the claim does not."""
    case = ("rnn", "sigmoid", 7, 1, 237, "last", 10.0, 0.5, 313446444)
    ratio, claim = _held_over_claim(case)
    assert ratio <= 1
    monkeypatch.setattr(reruns, "HELD_RUNS", reruns.NUDGED_RUNS)
    assert _held_over_claim(case)[1] >= claim + 0.2


@settings(max_examples=examples(200), deadline=None)
@given(st.integers(1, 1 << 400), st.integers(-1300, 1300), st.booleans(), st.sampled_from([60, 113, 200, 430]))
def test_an_exact_value_is_rounded_once_to_the_nearest_float64(man, exp, negative, prec):
    """split._float rounds as mpmath's own float() does (to the nearest); rounded() refuses a trajectory
    with a value beyond float64's normal range, where its last bits would be lost."""
    with mpmath.workprec(prec):
        value = mpmath.mpf(-man if negative else man) * mpmath.mpf(2) ** exp
        array = np.array([value, mpmath.mpf(0)], dtype=object)
        got = split._float(array)
        assert got[1] == 0.0
        if mpmath.mpf(2) ** -1022 <= abs(value) < mpmath.mpf(2) ** 1024:
            assert got[0] == float(value) and np.isfinite(got[0])
        traj = Trajectory([{"h": array.reshape(2, 1, 1)}], [{}], np.zeros((1, 1, 1)), [{}])
        fits = mpmath.mpf(2) ** -1022 <= abs(value) and got[0] != math.inf
        assert (split.rounded(traj) is not None) == fits


def test_the_outward_nudge_moves_every_value_away_from_zero():
    """UlpNoise(0): each nonzero value one unit in its last place further from 0, and a sum by
    ROUNDING·Σ|terms| more; an exact 0 stays."""
    values = np.array([1.5, -2.0, 0.0, 1e-300, -3e200])
    moved = UlpNoise(0)(values)
    assert np.array_equal(moved, np.nextafter(values, np.copysign(np.inf, values)) * (values != 0))
    size = np.array([4.0, 4.0, 0.0, 0.0, 0.0])
    summed = UlpNoise(0)(values, size)
    assert summed[0] == np.nextafter(1.5, 2) + 4 * ROUNDING and summed[1] == np.nextafter(-2.0, -3) - 4 * ROUNDING
    assert summed[2] == 0.0


@pytest.mark.parametrize("loss", ["last", "sum"])
def test_the_held_reruns_move_the_gradients_by_about_what_rounding_costs(loss):
    """Each rerun with the trajectory held changes the gradients, by no more than a few thousand roundings
    (a long product of 80 steps), and a rerun without noise (a zero nudge) changes nothing."""
    data, _ = _chaotic(n=8, T=80)
    if loss == "sum":
        data = data | {"loss": "sum", "y": [[0.0] * 8] * 80}
    cfg = parse_config(data)
    model = grad_report.NumericModel.of(cfg)
    exact = exact_forward(model, 60)
    values = split.float_values(model, exact)
    assert values is not None
    loss_value, grads = split.gradients(values)
    for direction, scattered, seed, _margin in reruns.HELD_RUNS:
        _, nudged = split.nudged_on(values, UlpNoise(direction, scattered, seed))
        change = max(float(np.max(np.abs(nudged[0][p] - g)) / np.max(np.abs(g))) for p, g in grads[0].items())
        assert 0 < change < 1e4 * ROUNDING, (direction, scattered, change)


def test_check_holds_a_split_report_to_its_claim():
    """`check`'s "digits claimed" row (check/claims.py) reads a split report's claim as a float64 report's,
    and an mpmath report's not at all: a claim of 16 digits, planted, falls short."""
    from symbptt.check.claims import shortfall

    data, params = _chaotic()
    report = grad_report.grad_report(parse_config(data))
    with mpmath.workdps(80):
        want = bptt([params], np.full((80, 1), 0.1), np.zeros(16), "tanh", "last", "rnn", kind="mp")[1]
    names = list(want[0])
    held = shortfall(report, want, names)
    assert len(held) == 2 * len(names) and max(held) == 0
    planted = report | {"float64_digits": {"relative_to_largest": 16.0, "worst_entry": 16.0}}
    assert max(shortfall(planted, want, names)) > 1
    all_mp = grad_report.grad_report(parse_config(data), digits=15)
    assert shortfall(all_mp | {"float64_digits": planted["float64_digits"]}, want, names) == []


def test_the_held_reruns_stop_once_the_digits_asked_for_are_out_of_reach(monkeypatch):
    """kept_digits(least=…): the outward rerun first, and no further rerun once the count is below
    ``least`` (what is returned is then only known to be below it); without it, every rerun runs."""
    data, _ = _chaotic(n=8, T=80)
    model = grad_report.NumericModel.of(parse_config(data))
    exact = exact_forward(model, 60)
    values = split.float_values(model, exact)
    assert values is not None
    magnitudes: list[dict] = [{}]
    loss, grads = split.gradients(values, magnitudes)
    calls: list[int] = []
    real = split.nudged_on
    monkeypatch.setattr(split, "nudged_on", lambda v, noise, *m: calls.append(noise.direction) or real(v, noise, *m))
    every = reruns.kept_digits(model, loss, grads, magnitudes, fixed=values)
    assert calls == [run[0] for run in reruns.HELD_RUNS] and calls[0] == 0
    calls.clear()
    early = reruns.kept_digits(model, loss, grads, magnitudes, fixed=values, least=15.9)
    assert calls == [0] and early[0] < 15.9 and early[0] >= every[0]
    calls.clear()
    assert reruns.kept_digits(model, loss, grads, magnitudes, fixed=values, least=1.0) == every
    assert len(calls) == len(reruns.HELD_RUNS)


def test_a_read_that_falls_short_runs_every_held_rerun_only_when_measured_whole(monkeypatch):
    """read_in_float64(whole=True) on a read that keeps fewer digits than asked runs every held rerun (the
    digits its exact rest takes come from the whole count, ReadIn.rest_digits) and returns the read;
    whole=False stops at the outward rerun, which shows it short, and returns None."""
    data, _ = _chaotic(n=8, T=80)
    model = grad_report.NumericModel.of(parse_config(data))
    exact = exact_forward(model, 60)
    calls: list[int] = []
    real = split.nudged_on
    monkeypatch.setattr(split, "nudged_on", lambda v, noise, *m: calls.append(noise.direction) or real(v, noise, *m))
    ks = grad_report.listed_steps(model.T)
    read = reruns.read_in_float64(model, exact, ks, 15, 60, whole=True)
    assert read is not None and not read.holds(15)
    assert calls == [run[0] for run in reruns.HELD_RUNS]
    calls.clear()
    assert reruns.read_in_float64(model, exact, ks, 15, 60, whole=False) is None and calls == [0]


def test_a_difference_that_cancels_more_than_float64_spares_is_not_read_in_float64(monkeypatch):
    """A 2-layer GRU (n = 4, T = 238) whose float64 pass kept 10 digits: on its exact pass layer 2's
    h_{t−1} − n_t cancels 13 digits.  Read in float64 it claimed 5.7 digits in its worst entry and held
    4.8 (benchmarks/split_sweep.py, seed 6, found it 7.6× outside its claim); the difference is measured
    on the trajectory read in float64 first, and the rest is mpmath's, holding every digit it gives."""
    case = ("gru", "tanh", 4, 2, 238, "last", 2.0, 0.1, 150854980)
    sweep = _sweep()
    drawn, error, path = sweep.measured(case)
    assert path == "mpmath" and error <= 1, drawn
    model = grad_report.NumericModel.of(parse_config(sweep.build(case)[0]))
    exact = exact_forward(model, 30)
    values = split.float_values(model, exact)
    assert values is not None
    counted = reruns.float_difference_digits(values.cc, values.traj)
    with mpmath.workdps(30):
        exact_pass = split.exact_values(model, exact)
        assert abs(counted - difference_digits(exact_pass.cc, exact_pass.traj)) < 0.01 and 12 < counted < 14
    monkeypatch.setattr(reruns, "float_difference_digits", lambda *args: 0.0)  # planted: not measured
    drawn, error, path = sweep.measured(case)
    assert path == "split" and error > 1, drawn


def test_symbptt_gradients_reads_the_exact_forward_pass_in_float64_as_grad_does():
    """symbptt.gradients(digits=12) on the chaotic network of one sequence: the float64 pass kept too few
    digits, so its forward pass is computed exactly at the digits `grad`'s report takes and the rest read
    in float64 from it — the report's gradients bit for bit, its digits and its claim, which
    reference.py holds.  Asked for 15 digits (which the float64 rest does not keep), or for a batch of
    two, every number is mpmath's, as before."""
    import symbptt

    data, params = _chaotic()
    report = grad_report.grad_report(parse_config(data))
    x, y = np.full((80, 1), 0.1), np.zeros(16)
    got = symbptt.gradients(params, x, y, digits=12)
    assert got.exact is None and got.digits == int(report["precision"].split()[2])
    assert got.kept == tuple(report["float64_digits"].values())
    for name, block in got.grads.items():
        assert np.array_equal(block, np.reshape(report["grad"][name], block.shape)), name
    with mpmath.workdps(got.digits + 30):
        want = bptt([params], x, y, "tanh", "last", "rnn", kind="mp")[1]
    held = _digits_held(got.grads, want)
    assert held[0] >= got.kept[0] and held[1] >= got.kept[1], (held, got.kept)
    assert symbptt.gradients(params, x, y, digits=15).exact is not None
    both = symbptt.gradients(params, np.repeat(x[:, :, None], 2, axis=2), np.repeat(y[:, None], 2, axis=1), digits=12)
    assert both.exact is not None and np.allclose(both.grads["W"], 2 * got.grads["W"], rtol=1e-11, atol=0)


def test_the_truncated_gradients_of_a_float64_report_are_measured(monkeypatch):
    """A two-layer GRU (split_sweep.py's family, seed 687168920, truncated at 9 steps) whose full gradients
    kept 12.1 digits while its float64 truncated ones kept 10.6: the reruns that measure the first do not
    cover the second, so reruns of their own measure them (about 9 digits, short of the 12 asked) and
    they are computed exactly, within 10^-12 of their largest entry against reference.py's truncated BPTT.
    Planted: unmeasured, they are 26 times outside that."""
    sweep = _sweep()
    case = ("gru", "tanh", 2, 2, 178, "last", 3.0, 0.1, 687168920)
    cfg = parse_config(sweep.build(case, True)[0])

    def error() -> float:
        report = grad_report.grad_report(cfg)
        assert report["precision"].startswith("float64") and report["float64_digits"]["relative_to_largest"] >= 12
        return sweep.errors(case, report["truncated"]["grad"], 70, cfg.truncate)[0]

    assert error() <= 1e-12
    monkeypatch.setattr(grad_report, "kept_by_reruns", lambda *args: (16.0, 16.0))
    assert error() > 1e-11


@pytest.mark.parametrize("T", [100, 300])
def test_the_read_of_a_cell_without_linear_maps_moves_its_parameters_and_inputs(T, monkeypatch):
    """A chaotic scalar cell file whose sum w·h + u·x + b (b = 10^6) no stored value holds: read in float64
    from its exact trajectory, the coefficients compute that sum again, rounding it by about 10^-10.  The
    reruns that measure the read now move the parameters and inputs as well as the stored values, as the
    float64 pass's own reruns do; they find the read short, the rest is computed exactly, and every
    gradient is the exact value rounded to float64 (a 200-digit pass).  The coefficients' rounding sizes
    (numeric/sizes.py: |cos(…)|·10^6 for the rounding of that sum) find it short too, with the
    parameters and inputs held.  Planted: with both left out, the read claimed 12.9 (T = 100) and 12.5
    (T = 300) digits and was off by 1e-9."""

    from symbptt.numeric import exact

    cell = str(Path(__file__).parent / "cells" / "sinshift.toml")
    cfg = parse_config({"cell": cell, "w": 3.0, "u": 1.0, "b": 1e6, "h0": 0.3, "x": [0.1] * T, "y": 0.0})
    _, want = exact.exact_gradients_at(grad_report.NumericModel.of(cfg), 200)

    def worst(report: dict) -> float:
        return max(abs(float(np.ravel(report["grad"][name])[0]) - float(block.flat[0])) / abs(float(block.flat[0]))
                   for name, block in want[0].items())

    report = grad_report.grad_report(cfg)
    assert worst(report) <= 2**-52
    monkeypatch.setattr(reruns, "_inputs_moved", lambda model, *args: model)
    assert grad_report.grad_report(cfg)["grad"] == report["grad"]  # the sizes alone find the read short
    monkeypatch.setattr(split, "nudged_coefficients", lambda cc, traj, layer, coefs, noise:
                        {key: noise(value) for key, value in coefs.items()})
    held = grad_report.grad_report(cfg)
    assert "float64 from its trajectory" in held["precision"] and held["float64_digits"]["worst_entry"] >= 12
    assert worst(held) > 1e-10
