"""The exact backward pass with Arb's balls (numeric/arbbackward.py) and the Arb step coefficients
(arbforward.coefficients): the numbers mpmath's rest computes, to the working precision, every value
proven or the rest left to mpmath, and the words that name what ran."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import mpmath
import numpy as np
import pytest
from flint import arb, ctx, fmpz
from hypothesis import given
from hypothesis import strategies as st
from mpmath.libmp import dps_to_prec
from test_arbforward import ACTIVATIONS, _model

from symbptt import primitives as P
from symbptt.cells import BUILTIN
from symbptt.config import parse_config
from symbptt.numeric import arbbackward, arbforward, grad_report, kernel, split
from symbptt.numeric.factors import NumericModel, gradient_blocks
from symbptt.numeric.forward import Trajectory, compiled, step_coefficients
from symbptt.numeric.logspace import listed_steps

PLAIN = {"tanh", "sigmoid", "relu", "sin(a)"}  # activations whose coefficients Arb always has a line for


@given(cell=st.sampled_from(BUILTIN), activation=st.sampled_from(ACTIVATIONS), n=st.integers(1, 3),
       layers=st.integers(1, 2), seed=st.integers(0, 2**32 - 1), dps=st.sampled_from([20, 30, 60]),
       batch=st.integers(1, 2), loss=st.sampled_from(["last", "sum"]))
def test_arb_computes_the_rest_mpmath_computes(cell, activation, n, layers, seed, dps, batch, loss):
    """From one Arb forward pass: every step coefficient within a few units in the last place of
    mpmath's (step_coefficients), the loss within a few, and every gradient entry within a few units of
    the largest entry of its parameter (factors.gradient_blocks on the same pass), for every built-in
    cell, one or two layers, a batch of one or two, both losses."""
    assert _worst(_model(cell, activation, n, layers, 5, seed, batch=batch), dps, loss) <= 1


def _worst(model: NumericModel, dps: int, loss: str = "last") -> float:
    """The largest difference between Arb's rest and mpmath's on one Arb forward pass, over what the test
    above allows: 64 units in the last place of a coefficient or the loss, 1024 of a gradient's largest
    entry (its sums over t and the batch are added in another order).  The coefficients are held to
    mpmath's with 20 digits more, the exact coefficients of the stored values, which Arb proves: mpmath's
    at the digits asked rounds inside a node (IndRNN's cos(a + w·h_{t−1}) near a zero, 206 units off
    where Arb's was 0.14)."""
    if loss == "sum":
        model = NumericModel(model.cell, model.params, model.x, np.zeros((model.T, *model.y.shape)), "sum")
    traj = arbforward.forward(model, dps)
    assert traj is not None
    worst = mpmath.mpf(0)
    with mpmath.workdps(dps):
        ulp = mpmath.mpf(2) ** -dps_to_prec(dps)
        traj = _rounded(traj)  # what mpmath reads: each value at the working precision, for Arb to read too
        balls = arbforward.coefficients(model, traj)
        assert balls is not None
        mp_traj = arbforward.as_mpf(traj, model.as_mp())
        cc = compiled(model.cell, "mp")
        for layer, mine in enumerate(balls, start=1):
            with mpmath.workdps(dps + 20):
                want = step_coefficients(cc, mp_traj, layer)
            assert mine.keys() == want.keys()
            for key in mine:
                for a, b in zip(arbforward.as_mpf_array(mine[key][1:]).flat, want[key][1:].flat, strict=True):
                    worst = max(worst, abs(a - b) / (64 * ulp * abs(b)) if a != b else 0)
        got = arbbackward.gradients(model, traj, balls)
        assert got is not None
        values = split.exact_values(model, traj)
        loss_want, grads_want = gradient_blocks(values, values.model)
        worst = max(worst, abs(got[0] - loss_want) / (64 * ulp * abs(loss_want)) if got[0] != loss_want else 0)
        for mine, want in zip(got[1], grads_want, strict=True):
            assert mine.keys() == want.keys()
            for name in mine:
                assert mine[name].shape == np.shape(want[name]), name
                largest = max(abs(v) for v in np.asarray(want[name]).flat)
                for a, b in zip(mine[name].flat, np.asarray(want[name]).flat, strict=True):
                    worst = max(worst, abs(a - b) / (1024 * ulp * largest) if a != b else 0)
    return float(worst)


def _rounded(traj: Trajectory) -> Trajectory:
    """An Arb trajectory with every stored midpoint rounded to mpmath's working precision (as mpmath holds
    it), each still an exact Arb number."""
    def exact(v: mpmath.mpf) -> arb:
        man, exp = mpmath.mpf(v).man_exp
        return arb(fmpz(int(man))) * arb(2) ** int(exp)

    old = ctx.prec
    ctx.prec = 4 * mpmath.mp.prec  # every product above exactly
    try:
        back = np.frompyfunc(exact, 1, 1)
        values = [{name: back(arbforward.as_mpf_array(v)) for name, v in layer.items()} for layer in traj.values]
    finally:
        ctx.prec = old
    return Trajectory(values, traj.coefs, traj.inputs, traj.scalars)


def _chaotic(T: int = 120) -> dict:
    """A tanh network of 8 units whose rounding is amplified beyond float64's digits by T = 120."""
    n = 8
    rng = np.random.default_rng(0)
    W = 4.0 * rng.normal(size=(n, n)) / np.sqrt(n)
    return {"activation": "tanh", "W": W.tolist(), "U": rng.normal(size=(n, 1)).tolist(), "b": [0.0] * n,
            "h0": [0.3] * n, "x": [[0.1]] * T, "y": [0.0] * n}


def test_the_words_name_the_pass_that_computed_the_rest(monkeypatch):
    """The rest of an exact report from Arb's pass: Arb's balls, and the line says "Arb at N digits";
    planted, Arb working 64 bits short in the backward pass, without a second try: its δ are refused,
    mpmath computes the rest, and the line says so — with the same numbers."""
    data = _chaotic()
    report = grad_report.grad_report(parse_config(data), digits=15)
    dps = int(report["precision"].split()[2])
    assert report["precision"].startswith(f"Arb at {dps} digits (float64 would keep about ")
    monkeypatch.setattr(arbbackward, "GUARD", -64)
    monkeypatch.setattr(arbforward, "RETRIES", (0,))  # and no second try with more bits
    other = grad_report.grad_report(parse_config(data), digits=15)
    assert other["precision"].startswith(f"Arb at {dps} digits for the forward pass, mpmath for the rest (")
    for name, g in report["grad"].items():
        assert np.allclose(g, other["grad"][name], rtol=1e-14, atol=0), name
    assert report["loss"] == other["loss"] and report["log10_jacobian_norms"] == other["log10_jacobian_norms"]


def test_a_planted_error_in_the_backward_pass_is_caught(monkeypatch):
    """Planted: the δ recursion skips the steps through the weights of a layer's own past (the J parts of
    the plan), as if the loss at T reached step T only.  The check of the property above fails."""
    model = _model("rnn", "tanh", 3, 1, 6, 7)
    assert _worst(model, 30) <= 1

    def no_past(*args: object) -> kernel._Plan:
        real = kernel.plan(*args)
        return replace(real, order=tuple((key, tuple(p for p in parts if p.up), err) for key, parts, err in real.order))

    monkeypatch.setattr(arbbackward, "plan", no_past)
    assert _worst(model, 30) > 1e6


def test_a_sum_that_cancels_is_kept_within_an_ulp_of_its_terms():
    """A gradient entry whose ball is wide relative to itself (its sum cancelled) is kept where the radius
    is within an ulp of Σ|terms| at the working precision, and refused beyond it."""
    old = ctx.prec
    ctx.prec = 200
    try:
        prec = 100
        tiny = arb(2) ** -90
        g = np.array([[arb(tiny, arb(2) ** -102)]], dtype=object)  # about 12 bits of its own: not proven alone
        assert g[0, 0].rel_accuracy_bits() < prec
        kept = arbbackward._kept(arb, g, lambda: np.array([[arb(1)]], dtype=object), prec)
        assert kept[0, 0] == arbforward.as_mpf_value(tiny)
        wide = np.array([[arb(tiny, arb(2) ** -95)]], dtype=object)  # radius 2^-95 > 2^-100 · Σ|terms|
        with pytest.raises(arbforward.GiveUp):
            arbbackward._kept(arb, wide, lambda: np.array([[arb(1)]], dtype=object), prec)
        with pytest.raises(arbforward.GiveUp):  # no Σ|terms| to read (a gradient that is 0): refused
            arbbackward._kept(arb, g, None, prec)
    finally:
        ctx.prec = old


def test_without_flint_the_rest_is_mpmath(monkeypatch):
    """SYMBPTT_ARB=0: no Arb coefficients, no Arb backward pass."""
    model = _model("lstm", "tanh", 2, 1, 4, 3)
    traj = arbforward.forward(model, 30)
    with mpmath.workdps(30):
        balls = arbforward.coefficients(model, traj)
        monkeypatch.setenv("SYMBPTT_ARB", "0")
        assert arbforward.coefficients(model, traj) is None
        assert arbbackward.gradients(model, traj, balls) is None


SHARED = '''name = "shared"
states = ["h"]
params = ["w", "U", "b", "beta"]
[shapes]
w = ["n"]
U = ["n", "m"]
b = ["n"]
beta = []
[update]
h = "tanh(beta*(w*h + U @ x + b))"
'''


@pytest.mark.parametrize("engine", ["Arb", "mpmath"])
def test_a_number_every_unit_shares_has_one_gradient_on_the_exact_path(engine, tmp_path, monkeypatch):
    """A user's cell with a scalar parameter (shape []) read by three units: its gradient sums over the
    units on either exact rest as the float64 kernel sums it, and so does the truncated gradient.  mpmath's
    rest once returned one entry per unit, and the report then stopped with a traceback (cannot reshape
    array of size 3 into shape (1,)); so did every truncated report of such a cell."""
    monkeypatch.setenv("SYMBPTT_ARB", "1" if engine == "Arb" else "0")
    cell = tmp_path / "shared.toml"
    cell.write_text(SHARED)
    rng = np.random.default_rng(3)
    data = {"cell": str(cell), "w": rng.normal(size=3).tolist(), "U": rng.normal(size=(3, 2)).tolist(),
            "b": [0.1] * 3, "beta": 1.3, "h0": [0.2] * 3, "x": rng.normal(size=(5, 2)).tolist(), "y": [0.1] * 3}
    plain = grad_report.grad_report(parse_config(data))
    exact = grad_report.grad_report(parse_config(data), digits=15)
    assert plain["precision"].startswith("float64") and exact["precision"].startswith(f"{engine} at 30 digits (")
    for name, g in plain["grad"].items():
        assert np.shape(g) == np.shape(exact["grad"][name]), name
        assert np.allclose(g, exact["grad"][name], rtol=1e-11, atol=0), name
    if engine == "Arb":  # and Arb's rest agrees with mpmath's on the same pass
        assert _worst(NumericModel.of(parse_config(data)), 30) <= 1
    cut = grad_report.grad_report(parse_config(data | {"truncate": 2}))["truncated"]  # summed there too
    assert np.shape(cut["grad"]["beta"]) == np.shape(plain["grad"]["beta"]) and 0 < cut["relative_difference"] < 1


@pytest.mark.parametrize("engine", ["Arb", "mpmath"])
def test_symbptt_gradients_computes_a_batch_again_exactly_with_arb_where_it_serves(engine, monkeypatch):
    """A chaotic tanh network, a batch of two (the split reads one sequence only): digits=12 finds float64
    keeps none and computes every number again exactly — with Arb's balls where they serve, else mpmath
    (SYMBPTT_ARB=0) — and both hold 12 digits of every entry against reference.py, the loss summed over
    the batch."""
    from symbptt import gradients
    from symbptt.reference import bptt

    monkeypatch.setenv("SYMBPTT_ARB", "1" if engine == "Arb" else "0")
    ran: list[bool] = []
    real = arbbackward.gradients
    monkeypatch.setattr(arbbackward, "gradients", lambda *a: ran.append(True) or real(*a))  # type: ignore[func-returns-value]
    n, T = 8, 120
    rng = np.random.default_rng(0)
    params = {"W": 4.0 * rng.normal(size=(n, n)) / np.sqrt(n), "U": rng.normal(size=(n, 1)), "b": np.zeros(n),
              "h0": np.full(n, 0.3)}
    x = np.stack([np.full((T, 1), 0.1), np.full((T, 1), 0.2)], axis=2)
    got = gradients(params, x, np.zeros((n, 2)), digits=12)
    assert got.digits > 30 and got.kept is not None and got.kept[1] < 12  # float64 kept fewer: exactly
    assert bool(ran) == (engine == "Arb")
    with mpmath.workdps(got.digits + 30):
        each = [bptt([params], x[:, :, b], np.zeros(n), "tanh", "last", "rnn", kind="mp") for b in range(2)]
    assert abs(float(got.loss) - float(each[0][0] + each[1][0])) <= 1e-14 * float(got.loss)
    for name, g in got.grads.items():
        want = np.array([float(u + v) for u, v in zip(np.ravel(each[0][1][0][name]), np.ravel(each[1][1][0][name]),
                                                       strict=True)]).reshape(g.shape)
        assert np.all(np.abs(g - want) <= 1e-12 * np.abs(want)), name


@given(mantissa=st.integers(-(2**300), 2**300), exponent=st.integers(-(2**70), 2**70))
def test_the_logs_the_norms_read_from_arb_are_mpmaths(mantissa, exponent):
    """sign and log10|v| of an exact Arb number (what the norms read of Arb's coefficients, unconverted)
    are what primitives.mp_log10_abs gives for the same number as an mpf: to the bit, from 0 to far beyond
    float64's range (±inf there, as mpmath's log10 rounded to float64 gives it)."""
    old = ctx.prec
    ctx.prec = 400
    try:
        value = arb(fmpz(mantissa)) * arb(2) ** exponent if abs(exponent) < 2**20 else None
    finally:
        ctx.prec = old
    if value is None:  # beyond what a test should build in Arb: the parts themselves
        sign, logs = (1.0 if mantissa > 0 else -1.0, P.log10_of_parts(abs(mantissa), exponent)) if mantissa \
            else (0.0, -math.inf)
    else:
        (sign,), (logs,) = arbforward.sign_log10(np.array([value], dtype=object))
    with mpmath.workprec(400):
        want = mpmath.mpf(mantissa) * mpmath.mpf(2) ** exponent if mantissa else mpmath.mpf(0)
        assert sign == P.mp_sign_value(want)
        assert logs == P.mp_log10_abs(want)


def test_symbptt_gradients_reads_the_rest_from_the_splits_own_exact_pass(monkeypatch):
    """One chaotic sequence (n = 16, T = 1000) whose split keeps fewer digits than asked (11.3 of 12): the
    rest is computed exactly from the exact forward pass the split made (at 30 digits more than the
    amplification, and CHECK more for its check, which carries its rounding along it: numeric/tangent.py),
    not from a pass made again, at DPS digits
    beyond what the split's reruns measured rounding cost it (ReadIn.rest_digits: 35, where the pass has
    130); its numbers are the exact values rounded to float64, as a pass with 30 digits more than the
    forward pass's gives them.  With too few digits for the rest (planted: 10), they are not."""
    from symbptt import gradients
    from symbptt.numeric import exact, reruns

    made: list[int] = []
    real = arbforward.forward
    monkeypatch.setattr(arbforward, "forward", lambda model, dps: made.append(dps) or real(model, dps))
    n, T = 16, 1000
    rng = np.random.default_rng(0)
    params = {"W": 4.0 * rng.normal(size=(n, n)) / np.sqrt(n), "U": rng.normal(size=(n, 1)), "b": np.zeros(n),
              "h0": np.full(n, 0.3)}
    got = gradients(params, np.full((T, 1), 0.1), np.zeros(n), digits=12)
    assert got.kept is not None and got.kept[1] < 1 and got.exact is not None
    (ran,) = made  # one pass, checked without a second
    dps = ran - exact.CHECK
    assert exact.DPS < got.digits < dps - 30
    model = NumericModel.of(parse_config({"activation": "tanh", "x": [[0.1]] * T, "y": [0.0] * n}
                                         | {k: v.tolist() for k, v in params.items()}))
    read = reruns.read_in_float64(model, real(model, ran), listed_steps(T), 12, dps)
    assert read is not None and not read.holds(12) and got.digits == read.rest_digits(dps)
    loss, grads = exact.exact_gradients_at(model, made[0] + 30)

    def rounded(result: Any) -> bool:
        return result.loss == float(loss) and all(
            np.array_equal(g, np.array([float(v) for v in np.ravel(grads[0][name])]).reshape(g.shape))
            for name, g in result.grads.items())

    assert rounded(got)
    monkeypatch.setattr(reruns.ReadIn, "rest_digits", lambda self, dps: 10)
    assert not rounded(gradients(params, np.full((T, 1), 0.1), np.zeros(n), digits=12))


def test_a_chaotic_truncated_report_reads_the_reports_own_exact_pass():
    """A chaotic network (rounding amplified by 10^32) with truncate = 5: the truncated gradients and
    ‖g_k − g‖/‖g‖ come from the report's own exact pass, at its digits, and agree with reference.py's.  They
    were computed again at 30 digits, on a trajectory that had become another one: every printed entry
    of the truncated gradients was wrong."""
    from symbptt.reference import bptt

    n, T = 16, 400
    rng = np.random.default_rng(0)
    params = {"W": 4.0 * rng.normal(size=(n, n)) / np.sqrt(n), "U": rng.normal(size=(n, 1)), "b": np.zeros(n),
              "h0": np.full(n, 0.3)}
    data = {"activation": "tanh", "x": [[0.1]] * T, "y": [0.0] * n, "truncate": 5} | {k: v.tolist()
                                                                                      for k, v in params.items()}
    report = grad_report.grad_report(parse_config(data))
    dps = int(report["precision"].split()[2])
    assert dps > 60 and "rounding amplified by up to 10^3" in report["precision"]
    with mpmath.workdps(dps + 30):
        x = np.full((T, 1), 0.1)
        cut = bptt([params], x, np.zeros(n), "tanh", "last", "rnn", kind="mp", truncate=5)[1][0]
        full = bptt([params], x, np.zeros(n), "tanh", "last", "rnn", kind="mp")[1][0]
        a = [v for k in ("W", "U", "b", "h0") for v in np.ravel(cut[k])]
        b = [v for k in ("W", "U", "b", "h0") for v in np.ravel(full[k])]
        relative = float(mpmath.sqrt(sum((u - v) ** 2 for u, v in zip(a, b, strict=True)) / sum(v * v for v in b)))
    for name in ("W", "U", "b", "h0"):
        want = np.array([float(v) for v in np.ravel(cut[name])])
        got = np.ravel(np.asarray(report["truncated"]["grad"][name], dtype=float))
        assert np.max(np.abs(got - want)) <= 1e-13 * np.max(np.abs(want)), name
    assert abs(report["truncated"]["relative_difference"] - relative) <= 1e-13 * relative


def _worst_truncated(model: NumericModel, k: int, dps: int = 30) -> float:
    """The largest difference between Arb's truncated BPTT and the mpmath walk (grad_report.truncated_gradients,
    paths.evaluate_truncated) on one Arb forward pass, over 1024 units in the last place of each parameter's
    largest entry."""
    traj = arbforward.forward(model, dps)
    assert traj is not None
    worst = 0.0
    with mpmath.workdps(dps):
        ulp = mpmath.mpf(2) ** -dps_to_prec(dps)
        traj = _rounded(traj)
        balls = arbforward.coefficients(model, traj)
        assert balls is not None
        mine = arbbackward.truncated(model, traj, balls, k)
        assert mine is not None
        values = split.exact_values(model, traj)
        want = grad_report.truncated_gradients(values.model, k, "mp", values=values)
        for got, expected in zip(mine, want, strict=True):
            assert got.keys() == expected.keys()
            for name in got:
                assert got[name].shape == np.shape(expected[name]), name
                flat = np.ravel(np.asarray(expected[name], dtype=object))
                largest = max(abs(v) for v in flat)
                for a, b in zip(got[name].flat, flat, strict=True):
                    if a != b:
                        worst = max(worst, float(abs(a - b) / (1024 * ulp * max(largest, ulp))))
    return worst


@given(cell=st.sampled_from(BUILTIN), n=st.integers(1, 3), layers=st.integers(1, 2), seed=st.integers(0, 2**32 - 1),
       batch=st.integers(1, 2), loss=st.sampled_from(["last", "sum"]), k=st.integers(1, 7))
def test_arb_truncates_as_the_walk_truncates(cell, n, layers, seed, batch, loss, k):
    """Truncated BPTT with Arb's balls (arbbackward.truncated: each loss term's window of k steps, an initial
    state's δ_0 only from terms within k of it) gives the mpmath walk's numbers on the same pass, for every
    built-in cell, one or two layers, a batch of one or two, both losses and k from 1 to beyond T = 6."""
    model = _model(cell, "tanh", n, layers, 6, seed, batch=batch)
    if loss == "sum":
        model = NumericModel(model.cell, model.params, model.x, np.zeros((model.T, *model.y.shape)), "sum")
    assert _worst_truncated(model, k) <= 1


def test_a_planted_error_in_the_truncated_windows_is_caught(monkeypatch):
    """Planted: every window reads the loss at every step (the full recursion, not its term alone).  The
    check above fails."""
    model = _model("rnn", "tanh", 3, 1, 6, 7)
    model = NumericModel(model.cell, model.params, model.x, np.zeros((model.T, *model.y.shape)), "sum")
    assert _worst_truncated(model, 2) <= 1
    deltas = arbbackward._Walk.deltas
    monkeypatch.setattr(arbbackward._Walk, "deltas", lambda self, last, first, steps: deltas(self, last, first,
                                                                                             set(self.errors)))
    assert _worst_truncated(model, 2) > 1e6
