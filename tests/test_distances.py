"""Distances to ±1 (numeric/distances.py): a saturated GRU's h_{t−1} − n_t kept in float64, against
reference.py's mpmath pass; the float64 pass without them, the refusal when the bound does not promise
the digits, and the cells that do not qualify."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from conftest import exhaustive

import symbptt
from symbptt.activations import get_activation
from symbptt.cells import get_cell
from symbptt.numeric import distances, kernel
from symbptt.numeric.factors import ArrayFactors, FloatWatch, NumericModel
from symbptt.numeric.wide import Wide
from symbptt.reference import Numbers, bptt
from symbptt.reference import forward as reference_forward

REFERENCE_DIGITS = 150  # far beyond the ~30 digits the differences below cancel (the fixed-point run's 2^{1−t})
# reference.py's passes of the GRUs driven or scaled × 100 below (their exact paths took 134–250 digits): at
# 400 digits their gradients agree with a 1000-digit pass to 10^−353 or closer, entry by entry (seeds 8,
# 12, 15, 18, 24 and 36), at a quarter of its time
SATURATED_DIGITS = 400


def _saturated(seed: int, n: int, T: int, scale: float) -> tuple[dict, np.ndarray, np.ndarray]:
    """A GRU whose gates and tanh saturate: inputs scaled up, so h_{t−1} and n_t both sit near ±1."""
    rng = np.random.default_rng(seed)
    params = {"W_r": rng.normal(size=(n, n)) / np.sqrt(n), "W_z": rng.normal(size=(n, n)) / np.sqrt(n),
              "W_n": rng.normal(size=(n, n)) / np.sqrt(n), "U_r": rng.normal(size=(n, 1)),
              "U_z": rng.normal(size=(n, 1)), "U_n": rng.normal(size=(n, 1)), "b_r": rng.normal(size=n) * 0.1,
              "b_z": rng.normal(size=n) * 0.1, "b_n": rng.normal(size=n) * 0.1, "b_hn": rng.normal(size=n) * 0.1,
              "h0": np.zeros(n)}
    return params, rng.normal(size=(T, 1, 1)) * scale, rng.normal(size=(n, 1))


def _model(params: dict, x: np.ndarray, y: np.ndarray) -> NumericModel:
    spec = get_cell("gru", get_activation("tanh"))
    return NumericModel(spec, [{k: (v.reshape(-1, 1) if v.ndim < 2 else v) for k, v in params.items()}], x, y, "last")


def _worst(got: dict, exact: dict) -> float:
    worst = 0.0
    for k, want in exact.items():
        e = np.array([float(v) for v in np.ravel(want)])
        a = np.ravel(np.asarray(got[k], dtype=float))
        worst = max(worst, float(np.max(np.abs(a - e) / np.where(e != 0, np.abs(e), 1.0))))
    return worst


CASES = [(7, 4, 60, 40.0), (2, 6, 80, 20.0)]


@pytest.mark.parametrize(("seed", "n", "T", "scale"), CASES)
def test_the_coefficient_that_reads_the_difference_is_exact_from_the_distances(seed, n, T, scale):
    """∂h_t/∂a_z = (h_{t−1} − n_t)·σ'(a_z) from the distances agrees with the exact one entry by entry;
    the plain float64 pass gets it wrong by orders of magnitude where the difference is below 2⁻⁵³ —
    the check would catch a pass that did not carry them."""
    params, x, y = _saturated(seed, n, T, scale)
    model = _model(params, x, y)
    with np.errstate(all="ignore"):
        plain = ArrayFactors(model).traj.coefs[0][("h", "a_z")][1:, :, 0].copy()
        values = ArrayFactors(model)
        assert distances.carried(values.cc, values.traj)
    carried = values.traj.coefs[0][("h", "a_z")][1:, :, 0]
    num = Numbers("mp")
    with mpmath.workdps(REFERENCE_DIGITS):
        layer = [{k: num.array(v) for k, v in params.items()}]
        _, _, k = reference_forward("gru", layer, num.array(x[..., 0]), num, None)
        exact = np.array([[float(v) for v in np.ravel(k[0][t]["h_minus_n"] * k[0][t]["dz"])] for t in range(1, T + 1)])
    scale_of = np.where(exact != 0, np.abs(exact), 1.0)
    assert np.max(np.abs(carried - exact) / scale_of) < 1e-13
    assert np.max(np.abs(plain - exact) / scale_of) > 1e-3  # float64 alone: what the distances mend


@pytest.mark.parametrize(("seed", "n", "T", "scale"), CASES)
def test_a_saturated_gru_stays_in_float64_to_twelve_digits(seed, n, T, scale):
    """The default call keeps float64 (digits 0) where a saturated gate would have sent it to mpmath, and
    every gradient entry agrees with reference.py's mpmath pass to 1e-12 of itself here (the distances'
    bound promises 10 digits in each difference; these runs keep more)."""
    params, x, y = _saturated(seed, n, T, scale)
    got = symbptt.gradients(params, x, y, cell="gru")
    with mpmath.workdps(REFERENCE_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
    assert got.digits == 0
    assert _worst(got.grads, exact) < 1e-12


def test_distances_that_do_not_keep_the_digits_leave_it_to_mpmath(monkeypatch):
    """Asked for more digits than float64 has (a planted KEPT_DIGITS of 17), the distances refuse and
    leave the trajectory as it was, the pass goes to mpmath as before, and the gradients are still the
    exact ones."""
    params, x, y = _saturated(*CASES[0])
    monkeypatch.setattr(distances, "KEPT_DIGITS", 17)
    values = ArrayFactors(_model(params, x, y))
    before = {key: v.copy() for key, v in values.traj.coefs[0].items()}
    assert not distances.carried(values.cc, values.traj)
    assert all(np.array_equal(before[key], v) for key, v in values.traj.coefs[0].items())  # untouched
    got = symbptt.gradients(params, x, y, cell="gru")
    with mpmath.workdps(REFERENCE_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
    assert got.digits > 0 and _worst(got.grads, exact) < 1e-14


def test_only_cells_whose_differences_have_distances_qualify():
    """The GRU's one difference, h_{t−1} − n_t, is a previous state minus a tanh: it qualifies; the cells
    without a difference of computed values have nothing to carry.  Measured digits (digits=12) keep
    their own way: the nudged reruns decide, as `grad` does — here float64 without the distances, whose
    gradients hold the digits the reruns claim against reference.py (the coefficient that reads the
    difference is wrong in float64 by orders of magnitude, above, but weighs too little to cost them); 15
    digits asked, which the reruns do not measure, take the exact pass."""
    forms = distances.DistanceForms.of(get_cell("gru", get_activation("tanh")))
    assert forms is not None and [str(p[0]) for p in forms.pairs] == ["-n + prev_h"]
    assert list(forms.states) == ["h"] and list(forms.tanh_args) == ["n"] and forms.keys == [("h", "a_z")]
    for name in ("rnn", "lstm", "mingru", "minlstm", "indrnn", "lru"):
        assert distances.DistanceForms.of(get_cell(name, get_activation("tanh"))) is None, name
    params, x, y = _saturated(*CASES[0])
    measured = symbptt.gradients(params, x, y, cell="gru", digits=12)
    with mpmath.workdps(REFERENCE_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
    assert measured.digits == 0 and measured.kept is not None and measured.kept[1] >= 10
    assert _worst(measured.grads, exact) <= 10.0 ** -measured.kept[1]
    assert symbptt.gradients(params, x, y, cell="gru", digits=15).digits > 0


def test_a_gru_settling_on_its_fixed_point_is_refused_once_the_distances_cancel():
    """n_t = tanh(20) every step and z = ½: h_t closes on n_t by half a step, so h_{t−1} − n_t = 2^{1−t}·n
    while both distances stay near 8e-18.  Over 30 steps the distances keep the difference (float64);
    over 100 it has fallen to 1e-30, thirteen digits below the distances, and the bound refuses: the exact
    pass, as before.  Both agree with reference.py (a check that ignored the bound would keep float64)."""
    spec = get_cell("gru", get_activation("tanh"))
    for T, in_float64 in ((30, True), (100, False)):
        params = {k: np.zeros(spec.shape(k, 1, 1)) for k in spec.params}
        params["U_n"][:] = 20.0
        x, y = np.ones((T, 1, 1)), np.zeros((1, 1))
        values = ArrayFactors(_model(params, x, y))
        assert distances.carried(values.cc, values.traj) == in_float64
        got = symbptt.gradients(params, x, y, cell="gru")
        assert (got.digits == 0) == in_float64
        with mpmath.workdps(REFERENCE_DIGITS):
            exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
        assert _worst(got.grads, exact) < 1e-12


def test_a_distance_below_float64s_normal_range_is_carried_with_a_wider_exponent():
    """tanh(400) is within 10^-347 of 1, and with z ≈ 10⁻⁵ each step h_t follows n_t to within 10⁻⁵ of its
    last distance: by T = 66 the distances are far below float64's normal range.  They are carried with
    an exponent of their own (numeric/wide.py's Wide), and every ∂h_t/∂a_z = σ'(a_z)(h_{t−1} − n_t) agrees with
    a 2000-digit pass: to 1e-10 where it is a normal number, within 2⁻¹⁰⁷⁴ (one rounding) below.  The
    plain float64 coefficients, not carried, get 60 of the 66 wrong."""
    spec = get_cell("gru", get_activation("tanh"))
    params = {k: np.zeros(spec.shape(k, 2, 1)) for k in spec.params}
    params["U_n"][:], params["U_z"][:], params["h0"][:] = 400.0, -11.5, 0.5
    model = _model(params, np.ones((66, 1, 1)), np.zeros((2, 1)))
    with np.errstate(all="ignore"):
        plain = ArrayFactors(model).traj.coefs[0][("h", "a_z")].copy()
        values = ArrayFactors(model)
        assert distances.carried(values.cc, values.traj)
    with mpmath.workdps(2000):
        exact = ArrayFactors(model.as_mp(), "mp").traj.coefs[0][("h", "a_z")]
    tiny = mpmath.mpf(2) ** -1074

    def wrong(got: np.ndarray) -> int:
        return sum(not (abs(mpmath.mpf(float(g)) - e) <= max(abs(e) * mpmath.mpf(1e-10), tiny))
                   for g, e in zip(got[1:].ravel(), exact[1:].ravel(), strict=True))

    below = sum(abs(e) < np.finfo(float).tiny for e in exact[1:].ravel())
    assert below >= 8 and wrong(values.traj.coefs[0][("h", "a_z")]) == 0 and wrong(plain) >= 60


@pytest.mark.parametrize("seed", exhaustive([8, 12], lambda seed: seed == 8))  # seed 12 with -m slow
def test_a_pass_carried_with_a_wider_exponent_agrees_with_the_reference(seed, exact_passes):
    """GRUs driven × 100 whose tanh nodes reach |a| = 590–800 (distances down to 10⁻⁶⁹⁵): carried with a
    wider exponent, their coefficients below float64's range rounded once and checked as underflow
    (numeric/underflow.py), they stay in float64 (no exact pass) and agree with reference.py's
    400-digit pass to 1e-13 (these used to take about 250 digits of mpmath)."""
    params, x, y = _saturated(seed, 4, 100, 100.0)
    with np.errstate(all="ignore"):
        values = ArrayFactors(_model(params, x, y))
    assert np.max(np.abs(values.traj.values[0]["a_n"])) > 500  # e^{−2|a|}: far below the normal range
    got = symbptt.gradients(params, x, y, cell="gru")
    assert got.digits == 0 and exact_passes == []
    with mpmath.workdps(SATURATED_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
    assert _worst(got.grads, exact) < 1e-13


@pytest.mark.parametrize(("seed", "n", "T", "scale"), [*CASES, (7, 4, 100, 100.0), (3, 3, 50, 60.0)])
def test_the_cancellation_read_from_the_distances_is_the_exact_passs(seed, n, T, scale):
    """distances.cancellation, read off the float64 pass, is the count cancelled.difference_digits measures
    on an exact pass at 150 digits, to 1e-9 digits (a planted |u| + |v| of 1, or a gap read from the
    values, moves it by 0.3 digits or more); it leaves the trajectory as it was."""
    from symbptt.numeric.cancelled import difference_digits

    params, x, y = _saturated(seed, n, T, scale)
    model = _model(params, x, y)
    with np.errstate(all="ignore"):
        values = ArrayFactors(model)
    before = {key: v.copy() for key, v in values.traj.coefs[0].items()}
    got = distances.cancellation(values.cc, values.traj)
    assert all(np.array_equal(before[key], v) for key, v in values.traj.coefs[0].items())
    with mpmath.workdps(REFERENCE_DIGITS):
        exact = ArrayFactors(model.as_mp(), "mp")
        want = difference_digits(exact.cc, exact.traj)
    assert got is not None and want > 15  # more than float64 holds: the values alone would not tell
    assert abs(got - want) < 1e-9


def test_a_coefficient_that_underflowed_leaves_the_pass_in_float64(exact_passes):
    """Where the distances hold the differences and a few coefficients underflow (their evaluation raised
    the flag), those entries are computed again exactly and every sum is checked for what underflow cost
    it (numeric/underflow.py): no exact pass runs, and the gradients agree with reference.py's 150-digit
    pass to 1e-13 (2.8e-14 measured)."""
    params, x, y = _saturated(7, 4, 100, 100.0)
    watch = FloatWatch()  # the case still underflows in its coefficients, so the path is exercised
    ArrayFactors(_model(params, x, y), watch=watch)
    assert watch.events == {(("coef", 1), "underflow")}
    got = symbptt.gradients(params, x, y, cell="gru")
    assert got.digits == 0 and exact_passes == []
    with mpmath.workdps(REFERENCE_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
    assert _worst(got.grads, exact) < 1e-13


def _driven(seed: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """The GRU of docs/performance.md's fallback table driven × 100 (n = 4, T = 100): benchmarks/gradients.py
    draws every parameter, h0 included, from N(0, 1/n) (weights), N(0, 1) (input weights) or N(0, 0.1²)."""
    rng = np.random.default_rng(seed)
    spec = get_cell("gru", get_activation("tanh"))
    shapes, scale = {"recurrent": (4, 4), "input": (4, 1)}, {"recurrent": 0.5, "input": 1.0}
    params = {p: rng.normal(0, scale.get(spec.kind(p), 0.1), shapes.get(spec.kind(p), (4,))) for p in spec.params}
    return params, rng.normal(size=(100, 1, 1)) * 100.0, rng.normal(size=(4, 1))


def _per_run(ledger, units, size, z, runs, what):  # the check before the runs' totals (planted below)
    with np.errstate(all="ignore"):
        for a, b, _ in runs:
            if z is None:
                ledger.check(units[a:b].sum(axis=(0, 2)), size[a:b].sum(axis=(0, 2)), what)
            else:
                magnitude = np.abs(z[a:b])
                ledger.check(kernel.summed_outer(units[a:b], magnitude) + (b - a) * z.shape[2],
                             kernel.summed_outer(size[a:b], magnitude), what)


def _within_rounding(got: symbptt.Gradients, params: dict, x: np.ndarray, y: np.ndarray, exact: dict) -> None:
    """Every gradient within 1e-13 of its Σ|terms| (as the kept pass summed them) of ``exact``."""
    from symbptt.numeric.exact import exact_gradients

    sizes: list[dict[str, np.ndarray]] = [{}]
    assert exact_gradients(_model(params, x, y), magnitudes=sizes)[2] == 0
    for name, want in exact.items():
        size = np.asarray(sizes[0][name], dtype=float).reshape(np.shape(got.grads[name]))
        for value, e, s in zip(np.ravel(got.grads[name]), np.ravel(want), np.ravel(size), strict=True):
            assert abs(mpmath.mpf(float(value)) - e) <= 1e-13 * s + 2.0**-1074, name


@pytest.mark.parametrize(("made", "planted"), [(lambda: _driven(15), ("CHECKED_EVERY", kernel.RESCALE_EVERY)),
                                               (lambda: _saturated(36, 4, 100, 100.0), ("_check_sum", _per_run))])
def test_a_step_that_shrinks_delta_by_hundreds_of_decades_stays_in_float64(monkeypatch, exact_passes, made, planted):
    """Saturated steps can shrink δ by about 10^-300 between two of the plain pass's looks at its size
    (every 16 steps): the products that make the next δ then fall below float64's normal range and the
    check sends the pass to mpmath (the fallback table's seed 15: 178 digits).  The checked pass looks at
    every step (kernel.CHECKED_EVERY); δ then changes exponent often, and each gradient's check adds up
    the runs of steps that share one before comparing (a run of tiny rows alone fails where the whole sum
    stands: seed 36).  Both stay in float64, and every gradient is within 1e-13 of its Σ|terms| of
    reference.py's 400-digit pass; with either change undone (planted), the pass goes to mpmath."""
    params, x, y = made()
    got = symbptt.gradients(params, x, y, cell="gru")
    assert got.digits == 0 and exact_passes == []
    with mpmath.workdps(SATURATED_DIGITS):  # beyond what the differences cancel (the exact path took 178)
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
    _within_rounding(got, params, x, y, exact)
    monkeypatch.setattr(kernel, *planted)
    assert symbptt.gradients(params, x, y, cell="gru").digits > 0 and len(exact_passes) == 1


@pytest.mark.parametrize("seed", exhaustive([18, 24], lambda seed: seed == 18))  # seed 24 with -m slow
def test_a_gate_that_underflows_in_the_forward_pass_leaves_the_pass_in_float64(monkeypatch, exact_passes, seed):
    """Seeds 18 and 24 of the GRUs driven × 100: one z gate reads a_z < −708, so σ(a_z) underflows to 0 in
    the forward pass (the float64 pass raises 'forward' underflow), and its σ'(a_z) underflows too.  Every
    state stored at that step is checked against its exact value from the step's float64 leaves
    (underflow._forward_entries), that entry's coefficients are computed again exactly, and the distances
    to ±1 take the gate and the factor there from mpmath (distances._Exact): the pass stays in float64 and
    agrees with reference.py's 400-digit pass within rounding of each Σ|terms|.  These took 134 and 175
    digits of mpmath; with the forward pass's events not followed (planted), they do again."""
    from symbptt.numeric import underflow

    params, x, y = _driven(seed)
    watch = FloatWatch()
    ArrayFactors(_model(params, x, y), watch=watch)
    assert ("forward", "underflow") in watch.events
    got = symbptt.gradients(params, x, y, cell="gru")
    assert got.digits == 0 and exact_passes == []
    with mpmath.workdps(SATURATED_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
    _within_rounding(got, params, x, y, exact)
    followed = underflow.recoverable
    monkeypatch.setattr(underflow, "recoverable", lambda w: followed(w) and not w.touched("forward"))
    assert symbptt.gradients(params, x, y, cell="gru").digits > 0 and len(exact_passes) == 1


def test_a_state_the_underflowed_gate_moved_is_not_kept():
    """underflow._forward_entries: where a node underflowed, every state the step stored must be within
    STATE_ULPS of its exact value; seed 18's is, and the same pass with that state moved by 100 units in
    the last place (planted) is refused."""
    from symbptt.numeric import underflow

    params, x, y = _driven(18)
    with np.errstate(all="ignore"):
        values = ArrayFactors(_model(params, x, y))
    flat = distances.flattened(distances.step_rows(values.cc, values.traj, 1))[0]
    entries = underflow._forward_entries(values, 1, flat)
    assert entries  # the z gate's, and where a tanh's e^{−2|a|} underflowed on the way to ±1
    t, i, b = np.unravel_index(entries[0], values.traj.values[0]["h"][1:].shape)
    h = values.traj.values[0]["h"]
    h[t + 1, i, b] = h[t + 1, i, b] - 100 * np.spacing(h[t + 1, i, b])
    flat = distances.flattened(distances.step_rows(values.cc, values.traj, 1))[0]
    assert underflow._forward_entries(values, 1, flat) is None


def test_the_distances_read_a_gate_that_underflowed_exactly():
    """A GRU of one unit whose z gate reads a_z = −800 at step 2 (σ(a_z) = e^{−800}, stored as 0 by the
    forward pass) while its state sits 10⁻¹³ from 1: the distance of h_2 is z·d_1 ≈ 10⁻³⁶¹, not the
    (1 − z)·d_n ≈ 10⁻¹⁰⁵⁶ that the stored z = 0 would give.  distances._Exact finds the entry and
    evaluates the forms' z there with mpmath (as a Wide number): e^{−800} to 1e-15."""
    p = {"W_r": [[0.0]], "W_z": [[0.0]], "W_n": [[0.0]], "U_r": [[0.0]], "U_z": [[1.0]], "U_n": [[-1.0]],
         "b_r": [0.0], "b_z": [415.0], "b_n": [0.0], "b_hn": [0.0], "h0": [0.0]}
    params = {k: np.array(v) for k, v in p.items()}
    x, y = np.array([-445.0, -1215.0, -415.0]).reshape(3, 1, 1), np.zeros((1, 1))
    with np.errstate(all="ignore"):
        values = ArrayFactors(_model(params, x, y))
    forms = distances.DistanceForms.of(values.cc.cell)
    row = distances.step_rows(forms.cc, values.traj, 1)
    exact = distances._Exact(forms, row)
    assert exact.flagged.tolist() == [1] and values.traj.values[0]["z"][2, 0, 0] == 0.0
    z = [str(arg) for arg in forms.cc.args].index("z")  # the node z among the forms' arguments
    made = exact.wide(lambda *v: v[z], lambda *v: v[z])
    with mpmath.workdps(40):
        want = mpmath.exp(-800) / (1 + mpmath.exp(-800))
        got = mpmath.ldexp(mpmath.mpf(float(made.m[1, 0, 0])), int(made.e[1, 0, 0]))
        assert abs(got / want - 1) < 1e-15


def test_float64_keeps_few_digits_of_a_cancelling_sum_and_digits_12_says_so():
    """A saturated GRU kept in float64 whose W_z's first row sums steps of ±3·10⁻²⁹ to 6·10⁻⁴¹: float64
    keeps only a few of its digits (a sum is within rounding of its Σ|terms|, no closer), and digits=12,
    which measures what float64 kept, computes the gradients again exactly (to 1e-13 of reference.py's
    400-digit pass)."""
    params, x, y = _saturated(15, 4, 100, 100.0)
    with mpmath.workdps(SATURATED_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
    assert _worst(symbptt.gradients(params, x, y, cell="gru").grads, exact) > 1e-6
    measured = symbptt.gradients(params, x, y, cell="gru", digits=12)
    assert measured.digits > 0 and _worst(measured.grads, exact) < 1e-13


def test_the_exact_pass_starts_at_the_digits_the_distances_read(monkeypatch, exact_passes):
    """Where the distances hold the differences but a coefficient lost range and the pass is not kept in
    float64 (here withheld: numeric/underflow.py returns None), the exact pass runs once, at
    DPS + ⌈cancellation⌉ + 1 digits (before, a 60-digit pass measured the count, then a second ran at 120);
    the gradients agree with reference.py's 150-digit pass to 1e-14.  Without the count (a planted None)
    it probes as before, and passes twice."""
    from symbptt.numeric import underflow
    from symbptt.numeric.exact import DPS

    monkeypatch.setattr(underflow, "recover", lambda *args, **kwargs: None)
    params, x, y = _saturated(7, 4, 100, 100.0)  # a coefficient underflows; the distances hold every difference
    passes = exact_passes
    got = symbptt.gradients(params, x, y, cell="gru")
    with np.errstate(all="ignore"):
        values = ArrayFactors(_model(params, x, y))
    count = distances.cancellation(values.cc, values.traj)
    assert count is not None and passes == [DPS + int(np.ceil(count)) + 1] == [got.digits]
    with mpmath.workdps(REFERENCE_DIGITS):
        exact = bptt([params], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
    assert _worst(got.grads, exact) < 1e-14
    passes.clear()
    monkeypatch.setattr("symbptt.numeric.exact.cancellation", lambda cc, traj: None)
    again = symbptt.gradients(params, x, y, cell="gru")
    assert len(passes) == 2 and passes[0] == 2 * DPS
    assert _worst(again.grads, exact) < 1e-14


def test_a_carried_coefficient_whose_evaluation_underflowed_is_not_carried(monkeypatch):
    """The coefficients made from the distances are evaluated watching underflow: one that left the normal
    range there has no bound, so the pass is not carried (more digits will do), while the count of what
    the differences cancel stands.  Planted: the forms' ∂h/∂a_z scaled by 1e-300 on the way."""
    params, x, y = _saturated(7, 4, 60, 40.0)
    with np.errstate(all="ignore"):
        values = ArrayFactors(_model(params, x, y))
    count = distances.cancellation(values.cc, values.traj)
    forms = distances.DistanceForms.of(values.cc.cell)
    assert forms is not None and distances.carried(values.cc, values.traj)
    made = dict(forms.coefficients)
    monkeypatch.setattr(forms, "coefficients", {key: (lambda *a, fn=fn: fn(*a) * 1e-300 * 1e-20)
                                                for key, fn in made.items()})
    with np.errstate(all="ignore"):
        values = ArrayFactors(_model(params, x, y))
    before = {key: v.copy() for key, v in values.traj.coefs[0].items()}
    assert not distances.carried(values.cc, values.traj)
    assert all(np.array_equal(before[key], v) for key, v in values.traj.coefs[0].items())
    assert distances.cancellation(values.cc, values.traj) == count


def test_a_carried_coefficient_below_every_subnormal_stays_visible_to_the_underflow_check():
    """A coefficient formed from a wide difference of 2⁻²⁰⁰¹ rounds below the smallest subnormal: it is
    kept as ±2⁻¹⁰⁷⁴ (off by at most that, as any value rounded below the range), not 0, so that
    underflow.mark_carried sees it and the pass goes through the underflow check; an exact 0 stays 0."""
    difference = Wide(np.array([0.5, -0.5, 0.0]), np.array([-2000, -2000, 0]))
    made = distances._formed(lambda: np.ones(3), [], difference, (3,))
    assert list(made) == [2.0**-1074, -(2.0**-1074), 0.0]


def _random_wide(rng: np.random.Generator, shape: tuple, spread: int) -> Wide:
    """Wide numbers with mantissas of either sign, a few exact zeros and exponents ±spread apart."""
    out = Wide(rng.normal(size=shape) * (rng.random(size=shape) > 0.1))
    out.e = np.where(out.m == 0, out.e, out.e + rng.integers(-spread, spread + 1, size=shape))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_a_distance_carried_entry_by_entry_is_the_arrays_to_the_bit(seed, monkeypatch):
    """wide.carry runs small steps entry by entry in Python floats: d, and the bound on its error, come
    out bit for bit as the array arithmetic gives them — own as Wide numbers or as float64, exponents from
    alike to 2,000 apart (sums that drop an addend, products that underflow the mantissa's range, a bound
    over a zero distance)."""
    from symbptt.numeric import wide

    rng = np.random.default_rng(seed)
    T, shape = 30, (3, 2)
    spread = (0, 40, 2000)[seed % 3]
    d0 = _random_wide(rng, shape, spread)
    d0.m = np.abs(d0.m)
    fixed, held, size = (_random_wide(rng, (T, *shape), spread) for _ in range(3))
    own = _random_wide(rng, (T, *shape), spread) if seed < 3 else rng.normal(size=(T, *shape))
    gate_error = rng.random(size=(T, *shape)) * 1e-15
    monkeypatch.setattr(wide, "PER_ENTRY", 1 << 30)
    d, error = wide.carry(d0, fixed, own, held, size, 1e-16, gate_error, 4e-16)
    monkeypatch.setattr(wide, "PER_ENTRY", 0)
    with np.errstate(invalid="ignore"):  # a bound over a zero distance: inf, and inf·0 where one follows
        d_arrays, error_arrays = wide.carry(d0, fixed, own, held, size, 1e-16, gate_error, 4e-16)
    assert np.array_equal(d.m, d_arrays.m) and np.array_equal(d.e, d_arrays.e)
    assert np.array_equal(error, error_arrays, equal_nan=True)
    assert np.any(d.m[1:] != 0) and np.any(np.isfinite(error[1:]) & (error[1:] > 0))
