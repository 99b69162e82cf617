"""mpmath arithmetic of the exact passes (numeric/mpdot.py, the mp primitives, the joint coefficients,
forward.to_mp): each rounded as the formula says, to the last digit of the working precision."""


from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from conftest import examples
from hypothesis import example, given, settings
from hypothesis import strategies as st

from symbptt.numeric.factors import ArrayFactors, NumericModel


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


@settings(max_examples=examples(100), deadline=None)
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


@settings(max_examples=examples(60), deadline=None)
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


@settings(max_examples=examples(80), deadline=None)
@given(st.one_of(st.floats(-900, 900, allow_nan=False), st.floats(-0.35, 0.35),
                 st.sampled_from([0.0, 0.34, -0.34, 5e-324, 1e300, float("inf"), float("-inf"), float("nan")])),
       st.sampled_from([15, 30, 123, 400]))
def test_mp_tanh_and_sech2_on_raw_parts_are_the_mpf_formulas_bit_for_bit(a, dps):
    """mp_tanh and mp_dtanh compute on mpmath's raw parts (libmp, each operation rounded once to the
    nearest): their values are those of the formulas written with mpf operators — e = e^{−2|x|},
    m = e − 1 (expm1 below |x| = 0.34), tanh = −sign(x)·m/(2 + m) with 2 + m exact and the quotient
    rounded once, sech² = 4e/(1 + e)² — to the last bit, ±∞ and NaN included."""
    from mpmath.libmp import mpf_abs, mpf_div, mpf_neg, mpf_shift

    from symbptt import primitives as P

    with mpmath.workprec(200):
        x = mpmath.mpf(a) * (1 + mpmath.mpf(2) ** -70)  # more bits than a float (or 15 digits) holds
    with mpmath.workdps(dps):
        # |x| and −2|x| exactly (abs() and unary minus of an mpf round to the working precision): only the
        # exponential is rounded
        ax = mpmath.mp.make_mpf(mpf_abs(x._mpf_))
        twice = mpmath.mp.make_mpf(mpf_shift(mpf_neg(ax._mpf_), 1))
        if ax < 0.34:
            m = mpmath.expm1(twice)
            e = 1 + m
        else:
            e = mpmath.exp(twice)
            m = e - 1
        with mpmath.workprec(2 * mpmath.mp.prec + 8):
            denominator = 2 + m  # exact
        value = mpmath.mp.make_mpf(mpf_div((-m)._mpf_, denominator._mpf_, mpmath.mp.prec, "n"))
        want_tanh, want_slope = (-value if x < 0 else value), 4 * e / (1 + e) ** 2
        got_tanh, got_slope = P.mp_tanh(x), P.mp_dtanh(x)
        assert got_tanh._mpf_ == want_tanh._mpf_ and got_slope._mpf_ == want_slope._mpf_
        minus_x = mpmath.mp.make_mpf(mpf_neg(x._mpf_))
        assert P.mp_tanh(minus_x)._mpf_ == mpf_neg(want_tanh._mpf_) or mpmath.isnan(want_tanh)


@settings(max_examples=examples(60), deadline=None)
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


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=True, allow_subnormal=True), min_size=1, max_size=12),
       st.integers(4, 300))
@example([-0.0, 0.0, 5e-324, -1.7976931348623157e308], 4)
def test_to_mp_holds_every_float64_exactly_at_any_working_precision(values, prec):
    """forward.to_mp, which every exact pass reads its float64 parameters and inputs through: each entry is
    the float64 itself (its mantissa and exponent and its sign; mpmath has one zero, so −0.0 is 0), even
    where the working precision is below float64's 53 bits, in the array's shape."""
    from symbptt.numeric.forward import to_mp

    array = np.array(values).reshape(len(values), 1)
    with mpmath.workprec(prec):
        got = to_mp(array)
    assert got.shape == array.shape and got.dtype == object
    with mpmath.workprec(2000):
        for mine, v in zip(got.ravel(), array.ravel(), strict=True):
            assert type(mine) is mpmath.mpf and mine == mpmath.mpf(v) and float(mine) == v
            assert v == 0 or math.copysign(1.0, float(mine)) == math.copysign(1.0, v)
