"""The exact forward pass with Arb's balls (numeric/arbforward.py): the same trajectory as mpmath's to
the working precision, every value proven or refused, rounded to float64 to the nearest, and the words
that name it."""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from conftest import examples, random_layers
from flint import arb, ctx
from hypothesis import given, settings
from hypothesis import strategies as st
from mpmath.libmp import dps_to_prec

from symbptt import primitives as P
from symbptt.activations import get_activation
from symbptt.cells import BUILTIN, get_cell
from symbptt.config import parse_config
from symbptt.errors import SymbpttError
from symbptt.numeric import arbforward, exact, grad_report, split
from symbptt.numeric.exact import exact_forward
from symbptt.numeric.factors import NumericModel
from symbptt.numeric.forward import compiled, forward

ACTIVATIONS = ["tanh", "sigmoid", "relu", "sin(a)", "a/(1 + abs(a))", "log(1 + exp(a))", "erf(a)", "atan(a)",
               "pi*tanh(a)/E"]
# those whose node mpmath's pass rounds inside (1 + e^a under the log; tanh(a) times π, then over e), where
# Arb's pass, which proves the node, loses less
ROUNDED_INSIDE = ["log(1 + exp(a))", "pi*tanh(a)/E"]


def _model(cell: str, activation: str, n: int, layers: int, T: int, seed: int, scale: float = 0.8,
           batch: int = 1) -> NumericModel:
    """A cell's model with parameters drawn as `check` draws them, inputs in (−1, 1), targets 0."""
    spec = get_cell(cell, get_activation(activation))
    rng = np.random.default_rng(seed)
    params = [{k: (v if np.ndim(v) == 2 else np.reshape(v, (-1, 1))) for k, v in p.items()}
              for p in random_layers(spec, n, 2, layers, rng, scale)]
    x = rng.uniform(-1, 1, size=(T, 2, batch))
    return NumericModel(spec, params, x, np.zeros((n, batch)))


@given(cell=st.sampled_from(BUILTIN), activation=st.sampled_from(ACTIVATIONS), n=st.integers(1, 4),
       layers=st.integers(1, 2), seed=st.integers(0, 2**32 - 1), dps=st.sampled_from([20, 30, 60]),
       batch=st.integers(1, 2))
def test_arb_stores_what_mpmath_stores_to_the_working_precision(cell, activation, n, layers, seed, dps, batch):
    """Every stored value of Arb's pass (linear maps, nodes, states, every layer, every sequence of a
    batch) within a few units in the last place of mpmath's working precision of mpmath's own pass, for
    every built-in cell."""
    model = _model(cell, activation, n, layers, 6, seed, batch=batch)
    got = arbforward.forward(model, dps)
    assert got is not None and arbforward.made_with_arb(got)
    with mpmath.workdps(dps):
        mp_model = model.as_mp()
        want = forward(compiled(model.cell, "mp"), mp_model.params, mp_model.x)
        mine = arbforward.as_mpf(got, mp_model)
        ulp = mpmath.mpf(2) ** -dps_to_prec(dps)
        for layer, other in zip(mine.values, want.values, strict=True):
            assert layer.keys() == other.keys()
            for name in layer:
                for a, b in zip(layer[name].flat, other[name].flat, strict=True):
                    assert abs(a - b) <= 64 * ulp * max(1, abs(b)), (cell, name, a, b)


# σ and σ' written out in mpmath: an independent BPTT of one unit for activations reference.py does not have
WRITTEN = {"erf(a)": (mpmath.erf, lambda a: 2 * mpmath.exp(-a * a) / mpmath.sqrt(mpmath.pi)),
           "atan(a)": (mpmath.atan, lambda a: 1 / (1 + a * a)),
           "tanh(a)/E": (lambda a: mpmath.tanh(a) / mpmath.e, lambda a: mpmath.sech(a) ** 2 / mpmath.e),
           "sqrt(2)*tanh(a) + log(2)*pi": (lambda a: mpmath.sqrt(2) * mpmath.tanh(a) + mpmath.log(2) * mpmath.pi,
                                           lambda a: mpmath.sqrt(2) * mpmath.sech(a) ** 2)}


@pytest.mark.parametrize("activation", list(WRITTEN))
def test_every_function_and_constant_a_user_may_write_is_served_by_arb(activation, tmp_path):
    """Arb has a line for every function and constant a custom activation may use: erf and atan, and π
    and e (arguments of its lines at the precision of each try).  A number the printer writes inside a
    function (1/E is exp(−1)) is made a ball first: it raised AttributeError from the exact pass, a
    traceback from `grad`.  The report at --digits 15 (an exact pass) says Arb made it, and its loss and
    gradients are those of a BPTT written out here in mpmath at 60 digits, to 1e-14."""
    from conftest import run_in_process

    w, u, b, h0, x = 3.0, 1.0, 0.1, 0.3, [0.1 * (-1) ** t for t in range(40)]
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"activation": activation, "W": w, "U": u, "b": b, "h0": h0, "x": x, "y": 0}))
    ran = run_in_process("grad", "--params", str(params), "--digits", "15")
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    report = json.loads(ran.stdout)
    assert report["precision"].startswith("Arb at")
    sigma, slope = WRITTEN[activation]
    with mpmath.workdps(60):
        hs, pre = [mpmath.mpf(h0)], []
        for v in x:
            pre.append(w * hs[-1] + u * mpmath.mpf(v) + b)
            hs.append(sigma(pre[-1]))
        want, delta = {"W": 0, "U": 0, "b": 0}, hs[-1]  # L = ½h_T², δ_T = h_T
        for t in range(len(x) - 1, -1, -1):
            da = delta * slope(pre[t])
            want["W"], want["U"], want["b"] = want["W"] + da * hs[t], want["U"] + da * x[t], want["b"] + da
            delta = da * w
        want["h0"] = delta
        assert abs(report["loss"] - hs[-1] ** 2 / 2) <= 1e-14 * hs[-1] ** 2 / 2
        for name, value in want.items():
            got = report["grad"][name]
            if isinstance(got, dict):  # beyond float64's range: its sign and log10
                assert got["sign"] == mpmath.sign(value) and abs(got["log10"] - mpmath.log10(abs(value))) < 1e-13
            else:
                assert abs(got - value) <= 1e-14 * abs(value), name


@given(seed=st.integers(0, 2**32 - 1), dps=st.sampled_from([20, 40]), scale=st.sampled_from([0.5, 3.0]))
@settings(max_examples=examples(8), deadline=None)
def test_a_cell_of_nodes_only_is_served_by_arb(seed, dps, scale):
    """docs/cells/mgu.toml has no linear map (its nodes read every parameter themselves): Arb's pass
    multiplied an empty matrix, raised, and every such cell went to mpmath's pass (3-7× slower).  It now
    serves them: every stored value within a few units in the last place of mpmath's pass, and the rest
    from it, Arb's too, gives mpmath's loss and gradients."""
    from pathlib import Path

    from symbptt.cells.userfile import load_cell_file

    spec = load_cell_file(Path(__file__).resolve().parent.parent / "docs" / "cells" / "mgu.toml")
    model = _model(spec, "tanh", 1, 1, 12, seed, scale)
    got = arbforward.forward(model, dps)
    assert got is not None and arbforward.made_with_arb(got)
    with mpmath.workdps(dps):
        mp_model = model.as_mp()
        want = forward(compiled(spec, "mp"), mp_model.params, mp_model.x)
        mine = arbforward.as_mpf(got, mp_model)
        ulp = mpmath.mpf(2) ** -dps_to_prec(dps)
        for name in want.values[0]:
            for a, b in zip(mine.values[0][name].flat, want.values[0][name].flat, strict=True):
                assert abs(a - b) <= 64 * ulp * max(1, abs(b)), (name, a, b)
        _, loss, grads, engine = split.exact_pass(model, got)
    assert engine == "Arb"
    reference_loss, reference = exact.mp_gradients(model, dps)
    with mpmath.workdps(dps):
        assert abs(loss - reference_loss) <= 1e4 * ulp * max(1, abs(reference_loss))
        for name, values in reference[0].items():
            for a, b in zip(np.ravel(grads[0][name]), np.ravel(values), strict=True):
                assert abs(a - b) <= 1e4 * ulp * max(1, abs(b)), (name, a, b)


@pytest.mark.parametrize("lost,tries,served", [(10, [0, 1], True), (150, [0, 4], True), (500, [0], False),
                                               (None, [0, 1, 4], False)])
def test_a_try_with_too_few_bits_more_is_skipped(lost, tries, served):
    """A value that cancels ``lost`` bits beyond the guard falls short by them at any precision (GiveUp.short):
    ``attempt`` skips a try whose bits more are fewer (prec = 100: 100 more, then 400), runs the one that
    holds it, and gives up at once where none would; a value whose shortfall is unknown (a ball about 0)
    takes every try."""
    from flint import ctx as flint_ctx

    prec, guard, seen = 100, 32, []

    def run(flint):
        extra = (flint.ctx.prec - prec - guard) // prec
        seen.append(extra)
        if lost is None or lost > extra * prec:  # short by what the extra bits do not cover
            raise arbforward.GiveUp(None if lost is None else lost - extra * prec)
        return "proven"

    before = flint_ctx.prec
    assert (arbforward.attempt(prec, guard, run) == "proven") == served
    assert seen == tries and flint_ctx.prec == before


def test_a_value_arb_does_not_prove_sends_the_pass_to_mpmath(monkeypatch):
    """Planted: Arb working with 64 bits fewer than mpmath's precision, and no second try.  Its radii do
    not prove the values to that precision, so the pass is refused (None) and the report's exact forward
    pass is mpmath's.  With its tries (RETRIES), the second, with the precision's bits more, proves them:
    the same pass as with the guard bits, each step's roundings apart (a few units in the last place at
    first; this unit is chaotic, and they grow to 10^−20 by T = 60)."""
    data = {"activation": "sin(a)", "W": 3.0, "U": 1, "b": 0, "h0": 0.3, "x": [0.1] * 60, "y": 0}
    model = NumericModel.of(parse_config(data))
    first = arbforward.forward(model, 45)
    assert first is not None
    monkeypatch.setattr(arbforward, "GUARD", -64)
    again = arbforward.forward(model, 45)
    assert again is not None
    with mpmath.workdps(45):
        ulp = mpmath.mpf(2) ** -dps_to_prec(45)
        mp_model = model.as_mp()
        mine = arbforward.as_mpf(first, mp_model).values[0]["h"]
        other = arbforward.as_mpf(again, mp_model).values[0]["h"]
        for t, (a, b) in enumerate(zip(mine.flat, other.flat, strict=True)):
            assert abs(a - b) <= (4 * ulp if t <= 5 else mpmath.mpf(10) ** -20) * abs(b), t
    monkeypatch.setattr(arbforward, "RETRIES", (0,))
    assert arbforward.forward(model, 45) is None
    assert grad_report.grad_report(parse_config(data))["precision"].startswith("mpmath at 45 digits for the forward")


def test_what_arb_is_not_given_is_left_to_mpmath(monkeypatch, tmp_path):
    """A constant outside the table (a cell made with SymPy's Euler γ), a ball astride 0 at a kink, the
    square root of a negative number (a user's cell), SYMBPTT_ARB=0: None, and mpmath's pass says what is
    wrong where something is."""
    assert not arbforward._supported(sp.EulerGamma * sp.Symbol("a")) and arbforward._supported(sp.pi * sp.E)
    assert arbforward.forward(_model("rnn", "tanh", 2, 1, 4, 1), 30) is not None
    with pytest.raises(arbforward.GiveUp):
        arbforward._positive(arb("0.1") - arb("0.1"))  # [0 ± ε]: which side of the kink is not decided
    assert arbforward._positive(arb(2) ** -1000) and not arbforward._positive(arb(0))
    table = arbforward._table(arbforward._installed())
    for name in ("exp", "sin", "cos", "sinh", "cosh"):  # beyond mpmath's reach: its pass raises BeyondReach
        assert table[name](arb(3)).is_finite()
        with pytest.raises(arbforward.Refused):
            table[name](arb(2) ** (P.MAX_MAG + 1))
    cell = tmp_path / "d.toml"
    cell.write_text('states = ["h"]\nparams = ["w"]\n[update]\nh = "sqrt(w*h + x)"\n')
    bad = NumericModel.of(parse_config({"cell": str(cell), "w": 0.5, "h0": 0.0, "x": [1, 0.5, -2], "y": 0.1}))
    assert arbforward.forward(bad, 30) is None
    with pytest.raises(SymbpttError, match=r"the step h = sqrt\(h\*w \+ x\) has no finite real value"):
        exact_forward(bad, 30)
    fresh = _model("rnn", "0.5*a + sin(a)", 2, 1, 4, 1)  # a cell no call has seen: nothing cached for it
    monkeypatch.setenv("SYMBPTT_ARB", "0")
    assert arbforward.forward(_model("rnn", "tanh", 2, 1, 4, 1), 30) is None
    assert arbforward.forward(fresh, 30) is None
    monkeypatch.setenv("SYMBPTT_ARB", "1")  # turned on again: what was asked while off is not remembered
    assert arbforward.forward(fresh, 30) is not None


def _via_integers(value: arb) -> float:
    man, exp = value.man_exp()
    return math.ldexp(float(int(man)), int(exp))  # Python rounds an int to the nearest float64


@pytest.mark.parametrize("nearest", [True, False])
def test_arb_values_round_once_to_the_nearest_float64(nearest, monkeypatch):
    """to_float against Python's rounding of the exact mantissa, on random 200-bit values and on values
    half a unit from a float64 (ties to even) and a hair beside it, either route (float() where
    python-flint rounds to the nearest, else the integers)."""
    monkeypatch.setattr(arbforward, "_rounds_to_nearest", lambda: nearest)
    rng = np.random.default_rng(7)
    old, ctx.prec = ctx.prec, 400
    try:
        values = [arb(int(rng.integers(1, 2**62)) * 2**138 + int(rng.integers(0, 2**62))) * arb(2) ** int(e)
                  for e in rng.integers(-400, 300, 300)]
        for base in (1.0, 1.5, -3.0, 2.0**-1000, 1.7e300):
            half = arb(math.ulp(base)) / 2
            values += [arb(base) + half, arb(base) + half + arb(2) ** -300 * abs(arb(base)),
                       arb(base) + half - arb(2) ** -300 * abs(arb(base)), arb(base) - half]
        array = np.array(values, dtype=object)
        got = arbforward.to_float(array)
        assert got.tolist() == [_via_integers(v) for v in values]
        assert split._float(array).tolist() == got.tolist()
    finally:
        ctx.prec = old


@pytest.mark.parametrize("nearest", [True, False])
def test_arb_values_with_long_mantissas_or_beyond_range_round_to_the_nearest_float64(nearest, monkeypatch):
    """Mantissas of more than 1024 bits (a 1200-bit pass's values: the integers route made a float of the
    mantissa and overflowed for a value of 1), and values beyond float64's range (±∞), either route:
    the nearest float64 of the exact value, as Python's exact fractions round it."""
    from fractions import Fraction

    monkeypatch.setattr(arbforward, "_rounds_to_nearest", lambda: nearest)
    old, ctx.prec = ctx.prec, 1300
    try:
        third = arb(2**1200 // 3) * arb(2) ** -1200  # a third to 1200 bits, exactly
        values = [third, -(1 + third * arb(2) ** -50), third * arb(2) ** 2000, -third * arb(2) ** 2000,
                  third * arb(2) ** -900]
        assert all(v.is_exact() for v in values)
        want = []
        for v in values:
            man, exp = (int(part) for part in v.man_exp())
            exact = Fraction(man) * Fraction(2) ** exp
            try:
                want.append(float(exact))  # rounded once to the nearest
            except OverflowError:
                want.append(math.inf if man > 0 else -math.inf)
        assert arbforward.to_float(np.array(values, dtype=object)).tolist() == want
    finally:
        ctx.prec = old


def test_the_split_report_is_the_same_from_either_pass_but_for_the_name(monkeypatch):
    """A chaotic network read in float64 after Arb's pass and after mpmath's: every field the same, the
    precision line naming the pass that ran."""
    rng = np.random.default_rng(0)
    n, T = 8, 120
    W = 4.0 * rng.normal(size=(n, n)) / np.sqrt(n)
    cfg = parse_config({"activation": "tanh", "W": W.tolist(), "U": rng.normal(size=(n, 1)).tolist(), "b": [0.0] * n,
                        "h0": [0.3] * n, "x": [[0.1]] * T, "y": [0.0] * n})
    with_arb = grad_report.grad_report(cfg)
    monkeypatch.setenv("SYMBPTT_ARB", "0")
    with_mpmath = grad_report.grad_report(cfg)
    words = with_arb.pop("precision"), with_mpmath.pop("precision")
    assert with_arb == with_mpmath
    assert words[0].startswith("Arb at ") and words[1] == "mpmath" + words[0].removeprefix("Arb")
    assert grad_report.READ_IN_FLOAT64 in words[0]


@pytest.mark.slow  # 3–4 s of Arb and mpmath passes: the exhaustive run (`pytest -m slow`) keeps the benchmark working
def test_the_benchmark_of_exact_passes_runs_and_says_which_path_ran():
    """benchmarks/exact_passes.py in its smoke sizes: Arb's pass and rest serve the drawn rnn (its rest
    within 1e-25 of mpmath's at 30 digits), and the gradients call on the chaotic network reads its exact
    forward pass in float64 for one sequence and runs Arb's pass and rest for a batch of two, each row
    saying so beside the mpmath call."""
    from conftest import benchmark_script

    bench = benchmark_script("exact_passes")
    (row,) = bench.forward_rows(True)
    assert row.startswith("| rnn n = 4, T = 20, 30 digits | ") and row.count("×") == 2
    (row,) = bench.rest_rows(True)
    assert row.startswith("| rnn n = 4, T = 20, 30 digits | ") and float(row.split("|")[-2]) < 1e-25
    (row,) = bench.estimate_rows(True)  # the budget's estimate beside the time (no claim on a smoke size)
    assert row.startswith("| rnn n = 4, batch 1, 1 layer(s), T = 20, 30 digits | ") and row.count(" s |") == 2
    (row,) = bench.report_rows(True)  # the report made exact, with Arb and with mpmath, beside float64's
    assert "(Arb at 30 digits)" not in row and "×, Arb at 30 digits) | " in row and "×, mpmath at 30 digits) |" in row
    one, two = bench.gradients_rows(True)
    assert "(exact forward pass read in float64, " in one and "(Arb's forward pass and rest, " in two
    assert "(mpmath, " in one and "(mpmath, " in two
