"""A float64 pass that underflowed, kept in float64 where what underflow cost it is bounded
(numeric/underflow.py and kernel.Ledger): the entries found by halving, the kept passes against
reference.py's mpmath pass, and the passes the check must send to mpmath (a planted check that never
fails gets them wrong)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from conftest import benchmark_script, examples
from hypothesis import given, settings
from hypothesis import strategies as st

import symbptt
from symbptt.activations import get_activation
from symbptt.cells import get_cell
from symbptt.numeric import kernel, underflow
from symbptt.numeric.exact import DPS
from symbptt.numeric.factors import ArrayFactors, FloatWatch, NumericModel
from symbptt.numeric.flags import underflowing
from symbptt.reference import bptt

TINY = np.finfo(float).tiny
REFERENCE_DIGITS = 400  # a saturated GRU's differences cancel about 2|a|/ln 10 digits: |a| ≈ 300 here


@settings(max_examples=examples(40), deadline=None)
@given(st.integers(1, 600), st.data())
def test_halving_finds_exactly_the_entries_whose_evaluation_underflows(size, data):
    """Entries of 1e-300 times 1e-10 land below the normal range and raise the flag; 1.0 does not."""
    tiny = data.draw(st.sets(st.integers(0, size - 1), max_size=min(size, 12)))
    values = np.ones(size)
    values[list(tiny)] = 1e-300
    found = underflowing(lambda v: [v * 1e-10, v + 1.0], [values], np.arange(size))
    assert found == sorted(tiny)


def test_the_ledger_stands_a_bound_below_a_quarter_ulp_of_the_sum():
    """2⁻¹⁰⁷⁵ units against Σ|terms|: S·2¹⁰²⁰ units of room; one unit more than that does not stand."""
    ledger = kernel.Ledger([{}])
    size = np.array([TINY, 1.0, 0.0])
    ledger.check(np.array([2.0**-2, 1e300, 0.0]), size, "fits")  # TINY·2¹⁰²⁰ = 2⁻² units
    assert ledger.held
    ledger.check(np.array([2.0**-2 * (1 + 2**-52), 0.0, 0.0]), size, "over")
    assert not ledger.held and ledger.where == "over"
    zero = kernel.Ledger([{}])
    zero.check(np.array([0.0, 0.0, 1.0]), size, "a bound beside a sum of nothing")
    assert not zero.held


def _saturated(cell: str, seed: int, scale: float, batch: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """A GRU or LSTM of 3 units driven hard: its gates saturate and some coefficients underflow."""
    rng = np.random.default_rng(seed)
    n = 3
    gates = ("r", "z", "n") if cell == "gru" else ("i", "f", "g", "o")
    params = {f"W_{g}": rng.normal(size=(n, n)) / np.sqrt(n) for g in gates}
    params |= {f"U_{g}": rng.normal(size=(n, 1)) for g in gates}
    params |= {f"b_{g}": rng.normal(size=n) * 0.1 for g in gates}
    params |= {"b_hn": rng.normal(size=n) * 0.1} if cell == "gru" else {"c0": np.zeros(n)}
    params["h0"] = np.zeros(n)
    return params, rng.normal(size=(40, 1, batch)) * scale, rng.normal(size=(n, batch))


def _reference(cell: str, params: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """Each gradient summed over the batch, from reference.py's mpmath pass (one sequence at a time)."""
    total: dict = {}
    with mpmath.workdps(REFERENCE_DIGITS):
        for b in range(x.shape[2]):
            grads = bptt([params], x[..., b], y[..., b], "tanh", "last", cell, kind="mp")[1][0]
            total = {k: grads[k] + total.get(k, 0) for k in grads}
    return total


def _agree(got: symbptt.Gradients, exact: dict, layer: int | None = None) -> float:
    """The worst disagreement: relative for entries in float64's normal range, in log10 beyond it (of one
    ``layer`` of a stack)."""
    grads, logs = (got.grads, got.log10) if layer is None else (got.grads[layer], got.log10[layer])
    worst = 0.0
    for k, want in exact.items():
        for value, log, e in zip(np.ravel(grads[k]), np.ravel(logs[k]), np.ravel(want), strict=True):
            if e == 0:
                assert value == 0
                continue
            if abs(float(e)) >= TINY:
                worst = max(worst, abs(value - float(e)) / abs(float(e)))
            else:
                worst = max(worst, abs(log - float(mpmath.log10(abs(e)))))
    return worst


@pytest.fixture
def kept(monkeypatch) -> list[bool]:
    """Whether each float64 pass numeric/underflow.py was asked to keep was kept, in order."""
    results: list[bool] = []
    made = underflow.recover

    def counted(*args, **kwargs):
        out = made(*args, **kwargs)
        results.append(out is not None)
        return out

    monkeypatch.setattr(underflow, "recover", counted)
    return results


CASES = [("gru", 7, 100.0, 1), ("gru", 3, 150.0, 2), ("gru", 11, 120.0, 3), ("lstm", 4, 200.0, 1),
         ("lstm", 5, 300.0, 2)]


def test_saturated_passes_kept_in_float64_agree_with_the_reference(kept):
    """Driven GRUs and LSTMs (batches of 1–3): whichever path each takes, every gradient agrees with
    reference.py's 400-digit pass to 1e-12 (log10 to 1e-9 beyond float64's range); most are kept in
    float64 by the check, so the agreement is the check's."""
    kept_in_float64 = 0
    for cell, seed, scale, batch in CASES:
        params, x, y = _saturated(cell, seed, scale, batch)
        before = len(kept)
        got = symbptt.gradients(params, x, y, cell=cell)
        kept_in_float64 += got.digits == 0 and any(kept[before:])
        assert _agree(got, _reference(cell, params, x, y)) < 1e-12, (cell, seed)
    assert kept_in_float64 >= 3


@settings(max_examples=examples(8), deadline=None)
@given(st.sampled_from(["gru", "lstm"]), st.integers(0, 10_000), st.sampled_from([60.0, 100.0, 150.0, 250.0]),
       st.integers(1, 2))
def test_any_driven_pass_agrees_with_the_reference_whichever_path_it_takes(cell, seed, scale, batch):
    """Random driven GRUs and LSTMs: kept in float64 by the check or computed with mpmath, every gradient
    agrees with reference.py's 400-digit pass to 1e-12 (log10 to 1e-9 beyond float64's range)."""
    params, x, y = _saturated(cell, seed, scale, batch)
    got = symbptt.gradients(params, x, y, cell=cell)
    assert _agree(got, _reference(cell, params, x, y)) < 1e-12


@pytest.mark.parametrize("seed", [5, 7])
def test_a_kept_stack_with_a_loss_at_every_step_agrees_with_the_reference(seed, kept):
    """Two GRU layers (the upper one driven hard by the lower's h), loss 'sum': δ reads the layer above
    and the loss error at every step, each with its share of the ledger; kept in float64, the gradients
    of both layers agree with reference.py's 400-digit pass to 1e-12."""
    lower, x, _ = _saturated("gru", seed, 120.0, 1)
    upper = _saturated("gru", seed + 100, 1.0, 1)[0]
    upper |= {f"U_{g}": np.random.default_rng(seed).normal(size=(3, 3)) * 30 for g in "rzn"}
    y = np.random.default_rng(seed).normal(size=(40, 3, 1))
    got = symbptt.gradients([lower, upper], x, y, cell="gru", loss="sum")
    assert got.digits == 0 and kept == [True]
    with mpmath.workdps(REFERENCE_DIGITS):
        exact = bptt([lower, upper], x[..., 0], y[..., 0], "tanh", "sum", "gru", kind="mp")[1]
    assert max(_agree(got, want, layer) for layer, want in enumerate(exact)) < 1e-12


def test_a_sum_of_underflowed_terms_goes_to_mpmath_and_a_planted_check_would_lose_it(monkeypatch, kept):
    """One input of 1000 saturates every tanh unit at step 20: their 1 − h² (below 10⁻³⁰⁰) underflow, so
    δ_19 = Wᵀ((1 − h_20²) ⊙ δ_20) has nothing left in float64, and neither has every δ before it (the
    gradient of h0 is about 10⁻⁹⁰⁰).  The check sends the pass to mpmath, whose log10 agrees with the
    reference; a check planted to stand everything keeps the pass in float64, and its −inf is caught."""
    rng = np.random.default_rng(1)
    n, T = 3, 40
    params = {"W": rng.normal(size=(n, n)), "U": rng.normal(size=(n, 1)) + 1.0, "b": np.zeros(n),
              "h0": np.zeros(n)}
    x, y = rng.normal(size=(T, 1, 1)), rng.normal(size=(n, 1))
    x[19] = 1000.0
    with mpmath.workdps(60):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "rnn", kind="mp")[1][0]
    got = symbptt.gradients(params, x, y)
    assert kept == [False] and got.digits == DPS
    assert _agree(got, exact) < 1e-9 and np.all(got.log10["h0"] < -300)
    monkeypatch.setattr(kernel.Ledger, "check", lambda self, units, size, what: None)
    planted = symbptt.gradients(params, x, y)
    assert planted.digits == 0 and np.all(np.isneginf(planted.log10["h0"]))
    assert _agree(planted, exact) == np.inf


def test_a_gradient_only_underflowed_terms_feed_goes_to_mpmath(monkeypatch, kept):
    """One unit of 24 held at a ≈ 400 for every step: every δ keeps its other units' terms, but the unit's
    own bias and weight rows sum only its 1 − h² (about 10⁻³⁴⁸, 0 in float64): the gradients' check fails
    and mpmath computes the pass; planted away, the bias gradient comes back as −inf and is caught."""
    rng = np.random.default_rng(2)
    n, T = 24, 40
    b = np.zeros(n)
    b[0] = 400.0
    params = {"W": rng.normal(size=(n, n)) / np.sqrt(n), "U": rng.normal(size=(n, 1)), "b": b, "h0": np.zeros(n)}
    x, y = rng.normal(size=(T, 1, 1)), rng.normal(size=(n, 1))
    with mpmath.workdps(60):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "rnn", kind="mp")[1][0]
    where: list[str] = []
    checked = kernel.Ledger.check

    def watched(self, units, size, what):
        checked(self, units, size, what)
        where.append(self.where)

    monkeypatch.setattr(kernel.Ledger, "check", watched)
    got = symbptt.gradients(params, x, y)
    assert kept == [False] and got.digits == DPS and where[-1].startswith("∂L/∂")
    assert _agree(got, exact) < 1e-9 and got.log10["b"][0] < -300
    monkeypatch.setattr(kernel.Ledger, "check", lambda self, units, size, what: None)
    planted = symbptt.gradients(params, x, y)
    assert planted.digits == 0 and np.isneginf(planted.log10["b"][0])
    assert _agree(planted, exact) == np.inf


def test_a_sigmoid_unit_that_underflows_at_one_step_is_kept_in_float64(monkeypatch, kept):
    """A sigmoid cell whose first unit reads a ≈ −800 at one step: σ(a) = e^{−800} underflows to 0 in the
    forward pass (the nearest float64), and σ'(a) with it, while the other units carry δ past that step.
    The forward pass's event is followed (underflow._forward_entries: every stored state within 4 ulps of
    its exact value, or of 0 below the range), the entry's coefficients are computed again, and the pass
    stays in float64, agreeing with reference.py's 400-digit pass to 1e-12.  It used to take the exact
    pass, as it does with the forward pass's events not followed (planted)."""
    rng = np.random.default_rng(2)
    params = {"W": rng.normal(size=(3, 3)), "U": np.array([[-8.0], [0.01], [0.01]]), "b": np.zeros(3),
              "h0": np.zeros(3)}
    x, y = rng.normal(size=(30, 1, 1)), rng.normal(size=(3, 1))
    x[12] = 100.0
    spec = get_cell("rnn", get_activation("sigmoid"))
    watch = FloatWatch()
    with watch.watch(None):
        ArrayFactors(NumericModel(spec, [{k: v.reshape(-1, 1) if v.ndim < 2 else v for k, v in params.items()}],
                                  x, y, "last"), watch=watch)
    assert ("forward", "underflow") in watch.events
    got = symbptt.gradients(params, x, y, activation="sigmoid")
    assert kept == [True] and got.digits == 0
    with mpmath.workdps(REFERENCE_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "sigmoid", "last", "rnn", kind="mp")[1][0]
    assert _agree(got, exact) < 1e-12
    followed = underflow.recoverable
    monkeypatch.setattr(underflow, "recoverable", lambda w: followed(w) and not w.touched("forward"))
    assert symbptt.gradients(params, x, y, activation="sigmoid").digits == DPS


def test_a_forward_pass_whose_products_can_underflow_is_not_followed(kept):
    """The sigmoid unit above, with one weight of 10⁻³⁰⁰: W·h can now hold products below the normal range,
    which only the nodes' re-evaluation would not see (underflow._products_may_underflow), so the forward
    pass's underflow is not followed and the pass takes the exact path; it agrees with the reference."""
    rng = np.random.default_rng(2)
    params = {"W": rng.normal(size=(3, 3)), "U": np.array([[-8.0], [0.01], [0.01]]), "b": np.zeros(3),
              "h0": np.zeros(3)}
    params["W"][1, 2] = 1e-310
    x, y = rng.normal(size=(30, 1, 1)), rng.normal(size=(3, 1))
    x[12] = 100.0
    got = symbptt.gradients(params, x, y, activation="sigmoid")
    assert kept == [False] and got.digits == DPS
    with mpmath.workdps(REFERENCE_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "sigmoid", "last", "rnn", kind="mp")[1][0]
    assert _agree(got, exact) < 1e-12


def test_a_pass_with_too_many_underflowed_entries_is_left_to_mpmath_before_any_is_recomputed(monkeypatch, kept):
    """Every tanh unit held at a ≈ 400 for all 40 steps: all 120 coefficient entries underflow, more than
    a quarter of them, so none is recomputed and no sum is checked: the exact pass is cheaper."""
    from symbptt.numeric import logspace

    recomputed: list[tuple] = []
    monkeypatch.setattr(underflow, "mp_coefficients", lambda *args, **kwargs: recomputed.append(args))
    monkeypatch.setattr(kernel.Ledger, "check", lambda *args: pytest.fail("a sum was checked"))
    rng = np.random.default_rng(1)
    params = {"W": rng.normal(size=(3, 3)), "U": rng.normal(size=(3, 1)), "b": np.full(3, 400.0), "h0": np.zeros(3)}
    got = symbptt.gradients(params, rng.normal(size=(40, 1, 1)), rng.normal(size=(3, 1)))
    assert kept == [False] and got.digits == DPS and recomputed == []
    assert logspace.mp_coefficients is not underflow.mp_coefficients  # the planted one was the one in use


def test_the_report_keeps_an_underflowed_pass_in_float64_and_its_measured_digits_hold():
    """`grad`'s report on a driven LSTM whose coefficients underflow: the pass stands in float64 (its
    precision says so, with the digits the nudged reruns measured), and every gradient holds the digits
    the report claims for its worst entry, against reference.py's 400-digit pass."""
    from symbptt.config import parse_config
    from symbptt.numeric.grad_report import grad_report

    params, x, y = _saturated("lstm", 4, 200.0, 1)
    cfg = parse_config({"cell": "lstm", **{k: v.tolist() for k, v in params.items()},
                        "x": x[:, :, 0].tolist(), "y": y[:, 0].tolist(), "loss": "last"})
    report = grad_report(cfg)
    assert report["precision"].startswith("float64"), report["precision"]
    claimed = report["float64_digits"]["worst_entry"]
    exact = _reference("lstm", params, x, y)
    worst = 0.0
    for key, want in exact.items():
        for value, e in zip(np.ravel(np.asarray(report["grad"][key], dtype=object)), np.ravel(want), strict=True):
            if e != 0 and abs(float(e)) >= TINY:
                worst = max(worst, abs(float(value) - float(e)) / abs(float(e)))
    assert claimed >= 10 and worst <= 10.0 ** -claimed


def test_the_ledger_counts_a_recomputed_coefficients_own_error_times_the_delta_it_meets():
    """One tanh unit, T = 2, δ_2 = h_2 − y = 2³⁰⁰ (inside the range δ is kept in), and σ' at step 2 set to
    10⁻³²⁰, a subnormal that holds about 3 digits.  δ_1 = w·σ'·δ_2 is then normal (10⁻²³⁰) and its
    products raise no doubt, but the coefficient's own error (2⁻¹⁰⁷⁴ times 2³⁰⁰) is most of it: with that
    error on the ledger δ_1 does not stand and its bound is carried into the sums that read it, δ_0
    (∂L/∂h_0, which no unit_initial serves for a cell with a weight matrix) among them, and the pass does
    not stand; without it (planted) δ_1 carries nothing and the pass stands."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.factors import ArrayFactors, NumericModel

    spec = get_cell("rnn", get_activation("tanh"))
    params = {"W": np.array([[0.5]]), "U": np.array([[1.0]]), "b": np.array([[0.0]]), "h0": np.array([[0.0]])}
    x = np.array([[[0.3]], [[0.2]]])
    plain = ArrayFactors(NumericModel(spec, [params], x, np.zeros((1, 1)), "last"))
    target = plain.traj.values[0]["h"][-1] - 2.0**300
    values = ArrayFactors(NumericModel(spec, [params], x, target, "last"))
    key = ("h", "a")
    values.traj.coefs[0][key][2, 0, 0] = 1e-320
    eta = np.zeros_like(values.traj.coefs[0][key])
    eta[2, 0, 0] = underflow.BELOW_RANGE
    plan = kernel.plan(spec, 1, "last")
    held, carried = [], []
    for errors in ({key: eta}, {}):
        ledger = kernel.Ledger([errors])
        with np.errstate(all="ignore"):
            store, exps = kernel.deltas(values, plan, rescale=True, ledger=ledger)
            carried.append(float(ledger.carried[(1, "h")][1, 0, 0]))
            whole = kernel.Ledger([errors])
            kernel.gradients(values, ledger=whole)
        held.append((whole.held, whole.where))
    assert 1e-240 < abs(math.ldexp(store[(1, "h")][1, 0, 0], int(exps[1]))) < 1e-220  # kept times 2^exps[1]
    assert carried[0] > 2.0**300 and carried[1] == 0.0
    assert held == [(False, "δ_0"), (True, "")]


def test_a_delta_that_did_not_stand_carries_its_bound_into_the_sums_that_read_it(monkeypatch):
    """Two tanh units, W = diag(3, 0.5), T = 80, δ_T = (1, 1), σ' 1 at every step except the first unit's
    at steps T and T − 1, set to 10⁻¹⁶⁰ (a normal number): the second unit keeps the step's shared
    exponent near 1, so the first unit's δ_{T−2} ≈ 10⁻³¹⁹ is subnormal and holds about 3 digits, and
    W = 3 grows it back to about 10⁻²⁸² at δ_0 = ∂L/∂h_0, which keeps those digits only.  From about
    δ_{T−8} down each of its δ entries is normal and its own products raise no doubt: what fails δ_0 is
    the bound δ_{T−2} carried, grown 3-fold a step, and the pass does not stand (a cell with a weight
    matrix has no unit_initial).  Planted without the carried bound, every sum stands and δ_0, off by
    far more than rounding, would have been kept."""
    spec = get_cell("rnn", get_activation("tanh"))
    T = 80
    params = {"W": np.diag([3.0, 0.5]), "U": np.ones((2, 1)), "b": np.zeros((2, 1)), "h0": np.zeros((2, 1))}
    x = np.full((T, 1, 1), 0.1)
    plain = ArrayFactors(NumericModel(spec, [params], x, np.zeros((2, 1)), "last"))
    values = ArrayFactors(NumericModel(spec, [params], x, plain.traj.values[0]["h"][-1] - 1.0, "last"))
    slopes = values.traj.coefs[0][("h", "a")]
    slopes[1:] = 1.0
    slopes[T - 1:, 0] = 1e-160
    error = float(values.traj.values[0]["h"][-1, 0, 0] - values.model.y[0, 0])  # δ_T of the first unit: 1
    with mpmath.workdps(40):
        exact = mpmath.mpf(3) ** T * mpmath.mpf(1e-160) ** 2 * error
    results = []
    for planted in (False, True):
        if planted:
            monkeypatch.setattr(kernel.Ledger, "carried_bound", staticmethod(lambda units, short, k: 0.0 * units))
        ledger = kernel.Ledger([{}])
        with np.errstate(all="ignore"):
            _, grads = kernel.gradients(values, ledger=ledger)
        results.append((ledger.held, ledger.where))
    assert abs(mpmath.mpf(float(grads[0]["h0"][0, 0])) / exact - 1) > 1e-10  # the planted pass's δ_0
    assert results == [(False, "δ_0"), (True, "")]


def _held(got: symbptt.Gradients, exact: dict) -> tuple[float, float]:
    """The digits ``got`` holds of ``exact`` (mpf): relative to each gradient's largest entry, and in its
    worst entry, as reruns.kept_digits counts them (benchmarks/dying_sweep.py's count, at 80 digits)."""
    return benchmark_script("dying_sweep").held(got, exact)


def _within(got: symbptt.Gradients, exact: dict) -> bool:
    """Whether both of ``got``'s claims (relative to each gradient's largest entry, and in its worst entry)
    are held against ``exact``, each by itself (tuples compare their first members alone where those
    differ)."""
    held = _held(got, exact)
    assert got.kept is not None
    return held[0] >= got.kept[0] and held[1] >= got.kept[1]


def _dying(cell: str, batch: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Three units of a diagonal cell over 300 steps; the first one's δ shrinks about 20-fold a step
    (IndRNN: w = 0.05; minGRU: 1 − z ≈ 0.05 from b_z = 3), so its ∂L/∂h_0 is about 10⁻³⁹⁰, below float64's
    range, while the others' are not."""
    rng = np.random.default_rng(3)
    n, T = 3, 300
    if cell == "indrnn":
        params = {"w": np.array([0.05, 0.9, -0.7]), "U": rng.normal(size=(n, 1)), "b": rng.normal(size=n) * 0.1}
    else:
        params = {"U_z": rng.normal(size=(n, 1)) * 0.1, "U_h": rng.normal(size=(n, 1)),
                  "b_z": np.array([3.0, -2.0, -1.0]), "b_h": rng.normal(size=n) * 0.1}
    params["h0"] = np.zeros(n)
    return params, rng.normal(size=(T, 1, batch)) * 0.5, rng.normal(size=(n, batch))


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("cell", ["indrnn", "mingru"])
def test_a_unit_whose_delta_dies_out_stays_in_float64_and_agrees_with_the_reference(monkeypatch, kept, cell, batch):
    """A diagonal cell whose first unit's δ dies out below float64's range: the pass raises underflow in
    δ, the entries that did not stand carry their bounds into the sums (which stand), and ∂L/∂h_0 is
    computed again with each unit at an exponent of its own (kernel.unit_initial): the pass stays in
    float64 and every gradient agrees with reference.py's 60-digit pass to 1e-12, ∂L/∂h_0's first entry
    (about 10⁻³⁹⁰) in log10 to 1e-9.  digits=11 measures it in float64 too (11.8–13.0 digits kept), its
    reruns computing ∂L/∂h_0 unit by unit as the pass did (reruns._deep_initial), and its claims hold
    against the reference; with
    the reruns' ∂L/∂h_0 planted back to the shared exponent's (0 there), the worst entry keeps no digit.
    Without unit_initial (planted) the pass takes the exact one, as it did before; without it and with
    the check planted to stand everything, that entry comes back as 0."""
    params, x, y = _dying(cell, batch)
    with mpmath.workdps(60):
        total: dict = {}
        for b in range(batch):
            grads = bptt([params], x[..., b], y[..., b], "tanh", "last", cell, kind="mp")[1][0]
            total = {k: grads[k] + total.get(k, 0) for k in grads}
    got = symbptt.gradients(params, x, y, cell=cell)
    assert got.digits == 0 and kept == [True]
    assert got.log10["h0"][0] < -350 and np.all(got.log10["h0"][1:] > -300)
    assert _agree(got, total) < 1e-12
    measured = symbptt.gradients(params, x, y, cell=cell, digits=11)
    assert measured.digits == 0 and measured.kept is not None and measured.kept[0] >= 11
    assert _within(measured, total)
    monkeypatch.setattr(kernel, "initial_by_unit", lambda values, noise=None, by_unit=None: None)
    unmeasured = symbptt.gradients(params, x, y, cell=cell, digits=11).kept
    assert unmeasured is not None and measured.kept[1] >= 10 and not unmeasured[1] >= 1
    monkeypatch.setattr(kernel, "unit_initial", lambda values, the_plan, noise=None: None)
    assert symbptt.gradients(params, x, y, cell=cell).digits == DPS and kept[-1] is False
    monkeypatch.setattr(kernel.Ledger, "check", lambda self, units, size, what: None)
    planted = symbptt.gradients(params, x, y, cell=cell)
    assert planted.digits == 0 and planted.log10["h0"][0] == -np.inf and _agree(planted, total) == np.inf


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_a_driven_min_cell_whose_units_die_out_stays_in_float64(kept, cell):
    """The example minGRU and minLSTM of 8 units over 300 steps with inputs × 10: some units' δ die out
    (∂L/∂h_0 down to about 10⁻⁴⁵⁰) and the minLSTM's gates saturate.  The plain call used to take the
    exact pass (30 and 60 digits); it now stays in float64 — the minLSTM's measured by its reruns, which
    compute ∂L/∂h_0 unit by unit — and agrees with reference.py's 200-digit pass to 1e-10 relative (log10
    to 1e-9 beyond float64's range), the minLSTM within the digits its reruns claim."""
    from symbptt.numeric.examples import example_config

    cfg = example_config(cell, 300, 8, drive=10.0)
    params, x, y = cfg.layers[0], cfg.x[:, :, None], cfg.y[:, None]
    got = symbptt.gradients(params, x, y, cell=cell)
    with mpmath.workdps(200):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", cell, kind="mp")[1][0]
    assert got.digits == 0 and np.min(got.log10["h0"]) < -400
    assert _agree(got, exact) < 1e-10
    assert (got.kept is not None) == (cell == "minlstm")
    if got.kept is not None:
        assert _within(got, exact)


def test_an_lru_whose_lambda_to_the_t_lies_far_below_float64_claims_what_computing_lambda_left(monkeypatch):
    """An LRU unit with exp(ν) = 545 (λ = exp(−545)) over 219 steps: its ∂L/∂h_0 is about 10⁻⁵¹⁷⁹⁵, computed
    unit by unit; computing λ cost it about 545 roundings, which λ^219 multiplies, so it holds 11.0 digits.
    The reruns move λ by that cost (numeric/sizes.py counts the rounding of exp(ν) under the outer exp) and
    compute ∂L/∂h_0 unit by unit as the pass did, so `digits=12` claims a digit count of that entry, below
    12 and within what reference.py says it holds.  Planted to count λ as one rounding, as before, the reruns
    claim 12.6 digits of it, which the check catches."""
    from symbptt.numeric import forward, sizes

    rng = np.random.default_rng(4)
    params = {"nu": np.array([-1.0, 6.3, 0.0]), "U": rng.normal(size=(3, 1)), "h0": np.zeros(3)}
    x, y = rng.normal(size=(219, 1, 1)), rng.normal(size=(3, 1))
    with mpmath.workdps(80):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "lru", kind="mp")[1][0]
    got = symbptt.gradients(params, x, y, cell="lru", digits=12)
    assert got.digits == 0 and got.log10["h0"][1] < -50_000 and got.kept is not None
    held = _held(got, exact)
    assert _within(got, exact) and 9 < got.kept[1] < 12 and held[1] < 12
    monkeypatch.setattr(sizes, "_own", lambda arg: 0)
    forward.compiled.cache_clear()  # the compiled cell keeps its sizes: made again with the planted rule
    try:
        planted = symbptt.gradients(params, x, y, cell="lru", digits=12)
    finally:
        monkeypatch.undo()
        forward.compiled.cache_clear()
    assert planted.kept is not None and not _held(planted, exact)[1] >= planted.kept[1]


def test_a_coefficient_every_step_shares_is_measured_by_the_outward_rerun_too(monkeypatch):
    """The LRU's λ = exp(−exp(ν)) reads ν alone: float64 computes it with a rounding every step shares, and
    λ^405 multiplies it 405 times.  All up, the reruns move λ up and a negative δ towards 0, which cancel
    where the rounding does not; so the LRU's plain pass is measured by the outward rerun too
    (reruns.nudged_runs), and its claims hold against reference.py.  Planted without it, `digits=13`
    claims 13.4 digits of an entry that holds 13.3, which the check catches.  The words follow: 4 reruns
    for the LRU's report, 3 for an rnn's."""
    from symbptt.numeric import reruns
    from symbptt.numeric.examples import example_config

    rng = np.random.default_rng(0)  # an LRU of 2 units over 405 steps, a batch of 2 (found by a search)
    n, T, B = 2, int(rng.integers(150, 450)), int(rng.integers(1, 3))
    params = {"nu": rng.normal(size=n) * 0.2, "U": rng.normal(size=(n, 1)), "h0": rng.normal(size=n) * 0.3}
    x, y = rng.normal(size=(T, 1, B)), rng.normal(size=(n, B))
    total: dict = {}
    with mpmath.workdps(80):
        for b in range(B):
            grads = bptt([params], x[..., b], y[..., b], "tanh", "last", "lru", kind="mp")[1][0]
            total = {k: grads[k] + total.get(k, 0) for k in grads}
    assert reruns.shared_rounding(get_cell("lru", get_activation("tanh")))
    assert not reruns.shared_rounding(get_cell("indrnn", get_activation("tanh")))
    got = symbptt.gradients(params, x, y, cell="lru", digits=13)
    assert got.kept is not None and _within(got, total)
    monkeypatch.setattr(reruns, "nudged_runs", lambda cell: reruns.NUDGED_RUNS)
    planted = symbptt.gradients(params, x, y, cell="lru", digits=13)
    assert planted.kept is not None and not _within(planted, total)
    monkeypatch.undo()
    words = {cell: symbptt.grad_report(example_config(cell, 20, 2))["precision"] for cell in ("lru", "rnn")}
    assert "by 4 reruns" in words["lru"] and "by 3 reruns" in words["rnn"]
