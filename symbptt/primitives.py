"""Primitive functions and their derivative rules: one line per primitive, apart from the engine.

Cells and activations are written with these SymPy functions.  Each knows its derivative as another
primitive (so ``sympy.diff`` of a cell's one-step equations stays inside the table), a NumPy and an
mpmath implementation that are stable for any argument (σ' from a, never 1 − tanh², never σ(1 − σ)),
and a plain SymPy spelling for display (``plain``).

    primitive   derivative rule                 stable numeric value
    tanh(x)     dtanh(x)                        np.tanh
    dtanh(x)    −2·tanh(x)·dtanh(x)             sech²x = 4e^{−2|x|}/(1 + e^{−2|x|})²
    sigmoid(x)  dsigmoid(x)                     ½(1 + tanh(x/2))
    dsigmoid(x) dsigmoid(x)·(1 − 2·sigmoid(x))  e^{−|x|}/(1 + e^{−|x|})²
    relu(x)     step(x)                         max(x, 0)
    step(x)     0                               1 if x > 0 else 0   (the kink convention: step(0) = 0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import mpmath
import sympy as sp
from mpmath.libmp import (
    fone,
    from_float,
    from_int,
    from_man_exp,
    mpf_abs,
    mpf_add,
    mpf_div,
    mpf_exp,
    mpf_ln2,
    mpf_lt,
    mpf_mul,
    mpf_neg,
    mpf_pos,
    mpf_pow_int,
    mpf_shift,
    mpf_sub,
    round_nearest,
    to_int,
)

from .caching import Bounded
from .errors import RunFailed
from .lazy import numpy as np
from .printing import Printed

if TYPE_CHECKING:
    import numpy

Array: TypeAlias = "numpy.ndarray"  # numpy itself is imported lazily (start-up time)
LN10 = math.log(10.0)


# ---------------------------------------------------------------- stable NumPy implementations


def np_sech2(x: Array) -> Array:
    """sech²x = 4e^{−2|x|} / (1 + e^{−2|x|})²: no overflow, no 1 − tanh² cancellation."""
    e = np.abs(np.asarray(x, dtype=float))
    e *= -2.0
    np.exp(e, out=e)
    d = e + 1.0
    d *= d
    e *= 4.0
    e /= d
    return e if e.ndim else e[()]


def np_log10_sech2(x: Array) -> Array:
    """log10 sech²x = (ln 4 − 2|x| − 2 ln(1 + e^{−2|x|})) / ln 10, finite for every finite x."""
    ax = np.abs(x)
    return (np.log(4.0) - 2.0 * ax - 2.0 * np.log1p(np.exp(-2.0 * ax))) / LN10


def _exp_minus_abs(x: Array) -> Array:
    """e^{−|x|} of an array of at least one dimension, in one new array (abs, negate, exp in place)."""
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    return e


def np_sigmoid(x: Array) -> Array:
    """1/(1 + e^{−x}), relatively exact on both sides (no 1 + tanh cancellation for x ≪ 0): with
    e = e^{−|x|}, 1/(1 + e) for x ≥ 0 and e/(1 + e) below (one division, three arrays)."""
    x = np.asarray(x, dtype=float)
    if not x.ndim:
        return np_sigmoid(x.reshape(1))[0]
    e = _exp_minus_abs(x)
    d = e + 1.0
    np.divide(np.where(x >= 0, 1.0, e), d, out=d)  # one division: 1/(1 + e) or e/(1 + e)
    return d


def np_dsigmoid(x: Array) -> Array:
    """σ'(x) = e^{−|x|} / (1 + e^{−|x|})² = sech²(x/2)/4 (in place, as np_sech2)."""
    x = np.asarray(x, dtype=float)
    if not x.ndim:
        return np_dsigmoid(x.reshape(1))[0]
    e = _exp_minus_abs(x)
    d = e + 1.0
    d *= d
    e /= d
    return e


def np_log10_dsigmoid(x: Array) -> Array:
    return np_log10_sech2(0.5 * np.asarray(x, dtype=float)) - 2.0 * np.log10(2.0)


def np_step(x: Array) -> Array:
    return (np.asarray(x) > 0).astype(float)


def np_relu(x: Array) -> Array:
    return np.maximum(x, 0.0)


# ---------------------------------------------------------------- mpmath implementations (from x)


_KEPT = Bounded[tuple, Any](1 << 16)  # exponentials by (which, |x|, precision): a node's value and slope share one


# exp, sin, cos, sinh and cosh of x reduce x by ln 2 or π to about log2|x| bits: beyond 2^MAX_MAG that
# is more than a second per value (exp(−2^40000) takes 50 ms), and an argument such as sinh(10^12), which
# the mpmath evaluation of a custom activation like tanh(sinh(a)) meets, would never finish
MAX_MAG = 1 << 15


class BeyondReach(RunFailed):
    """An mpmath exp, sin, cos, sinh or cosh (or a primitive made of them) was asked for an argument of
    magnitude beyond 2^MAX_MAG (from a custom activation that nests them, e.g. tanh(sinh(a)))."""


def reachable(x: Any) -> None:
    """Raise BeyondReach when |x| (an mpf) is beyond 2^MAX_MAG, before an exponential or a sine tries."""
    # mpmath's own parts: a finite nonzero mpf has a mantissa, and |x| < 2^(exponent + bits) (mpmath.mag);
    # 0, inf and NaN have none (read directly: isfinite and mag cost 5 µs a call on the exact path)
    if isinstance(x, mpmath.mpf) and x._mpf_[1] and x._mpf_[2] + x._mpf_[3] > MAX_MAG:
        digits = int(mpmath.mag(x) * LOG10_2_HI)
        raise BeyondReach(f"the exact (mpmath) evaluation needs exp, sin, cos, sinh or cosh of a number of about "
                          f"10^{digits:,}, beyond the 10^{int(MAX_MAG * LOG10_2_HI):,} it can reduce in reasonable "
                          "time (an activation that nests them, such as tanh(sinh(a))); shrink the weights")


def _guarded(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call(x: Any) -> Any:
        reachable(x)
        return f(x)

    call.__name__ = f.__name__
    return call


# mpmath's mpf_exp of an integer x above 600 bits of precision raises e to the power x: one squaring per
# bit of x, each at prec + 1.45·log2|x| bits (e^(−2^500) at 5000 digits 44 ms where e^(−2^500 − ⅓) takes 9;
# e^(−2^30000) a minute) — and past 2^prec every number is an integer.  Beyond 2^POWER_MAG, exp_parts
# reduces such an x by ln 2, as mpf_exp reduces every other argument.
POWER_MAG = 64


def exp_parts(x: tuple, prec: int, rnd: str = round_nearest) -> tuple:
    """e^x of raw parts x at ``prec`` bits, as libmp's mpf_exp gives it, except where mpf_exp would raise e
    to an integer power of more than POWER_MAG bits: there x = n·ln 2 + r with ln 2 to prec + mag + 24
    bits (|x| < 2^mag), so that n·ln 2 is off by less than 2^−(prec+20) and r is that close; e^r at
    prec + 20 bits (|r| < 1: mpf_exp's own reduction), shifted by n (exactly) and rounded to ``prec``."""
    sign, man, exp, bc = x
    mag = exp + bc
    if not man or exp < 0 or prec <= 600 or mag <= POWER_MAG:
        return mpf_exp(x, prec, rnd)
    wp = prec + 20
    ln2 = mpf_ln2(wp + mag + 4)
    n = to_int(mpf_div(x, ln2, mag + 8), round_nearest)
    r = mpf_sub(x, mpf_mul(from_int(n), ln2), wp)  # n·ln 2 exact, the difference rounded once
    return mpf_pos(mpf_shift(mpf_exp(r, wp, round_nearest), n), prec, rnd)


def _mp_exp(x: Any) -> mpmath.mpf:
    """mpmath.exp, through exp_parts where x is a large integer."""
    x = x if isinstance(x, mpmath.mpf) else mpmath.mpf(x)
    return mpmath.mp.make_mpf(exp_parts(x._mpf_, mpmath.mp.prec))


def _hyperbolic(f: Callable[[Any], Any], odd: bool) -> Callable[[Any], Any]:
    """mpmath's sinh (``odd``) or cosh, except for a large integer x, where mpmath's would take e^|x| by
    mpf_exp's powers: there e^−|x| < 2^(−2^POWER_MAG) is far below any precision, so both are ±e^|x|/2."""
    def call(x: Any) -> Any:
        x = x if isinstance(x, mpmath.mpf) else mpmath.mpf(x)
        sign, man, exp, bc = x._mpf_
        if not man or exp < 0 or exp + bc <= POWER_MAG:
            return f(x)
        half = mpf_shift(exp_parts(mpf_abs(x._mpf_), mpmath.mp.prec), -1)
        return mpmath.mp.make_mpf(mpf_neg(half) if odd and sign else half)

    call.__name__ = f.__name__
    return call


MP_GUARDED = {name: _guarded(f) for name, f in (("exp", _mp_exp), ("sin", mpmath.sin), ("cos", mpmath.cos),
                                                 ("sinh", _hyperbolic(mpmath.sinh, True)),
                                                 ("cosh", _hyperbolic(mpmath.cosh, False)))}


def _kept(which: str, x: mpmath.mpf, make: Callable[[tuple, int], Any]) -> Any:
    """make(|x|, prec) at the working precision, computed once per value and precision; |x| and what
    make returns are mpmath's raw parts (sign, mantissa, exponent, bits), which libmp's functions take
    without the few microseconds each mpf operation spends on dispatch."""
    x = x if isinstance(x, mpmath.mpf) else mpmath.mpf(x)
    ax = mpf_abs(x._mpf_)  # the sign cleared (−∞ has parts of its own: libmp's abs knows them)
    prec = mpmath.mp.prec
    key = (which, ax, prec)
    if key in _KEPT:
        return _KEPT[key]
    reachable(x)  # only for a value not kept yet: one kept was in reach
    return _KEPT.remember(key, make(ax, prec))


# libmp's correctly rounded operations on raw parts, to the nearest: the same numbers the mpf operators
# give (each operation is rounded once, whatever the order of its operands), at a fraction of their cost
_NEAR = round_nearest
_SMALL = from_float(0.34)  # below it e^{−2|x|} > ½: e − 1 would cancel, so expm1


def _pair(ax: tuple, prec: int) -> tuple[tuple, tuple]:
    if mpf_lt(ax, _SMALL):  # e^{-0.68} > ½
        m = mpmath.expm1(mpmath.mp.make_mpf(mpf_shift(mpf_neg(ax), 1)))._mpf_
        return mpf_add(fone, m, prec, _NEAR), m
    e = exp_parts(mpf_shift(mpf_neg(ax), 1), prec, _NEAR)
    return e, mpf_sub(e, fone, prec, _NEAR)


def _exp_pair(x: mpmath.mpf) -> tuple[tuple, tuple]:
    """(e, m) = (e^{−2|x|}, e^{−2|x|} − 1), both to the working precision from one transcendental: m by
    expm1 when e ≥ ½ (then 1 + m does not cancel), e by exp otherwise (then e − 1 does not); tanh x and
    sech²x share it.  Raw parts (see _kept)."""
    return _kept("pair", x, _pair)


def mp_tanh(x: mpmath.mpf) -> mpmath.mpf:
    """tanh x = −sign(x)·m/(2 + m), m = e^{−2|x|} − 1 (see _exp_pair): no cancellation anywhere, and the
    quotient of m's exact parts rounded once (_tanh_of)."""
    value = _tanh_of(_exp_pair(x)[1], mpmath.mp.prec)
    return mpmath.mp.make_mpf(mpf_neg(value) if _negative(x) else value)


def _tanh_of(m: tuple, prec: int) -> tuple:
    """|m|/(2 − |m|) for m = e^{−2|x|} − 1 in [−1, 0] (raw parts), which is tanh|x|, rounded once to the
    nearest at ``prec`` bits: |m| = man·2^exp and 2 − |m| = (2^(1−exp) − man)·2^exp are exact integers
    over one exponent, and their quotient carries prec + 3 bits and a sticky bit for whatever remains."""
    _, man, exp, _ = m
    if not man:
        return m  # tanh 0 = 0
    if man.bit_length() + exp < -(prec + 8):  # |m| < 2^−(prec+8): |m|/(2 − |m|) = (|m|/2)(1 + ε) with
        # 0 < ε < 2^−(prec+8), so |m|/2 and a sticky bit far below its last place (2 − |m| over one
        # exponent would be an integer of −exp bits: billions where |x| is 10^−(10^8))
        return from_man_exp((man << (prec + 4)) | 1, exp - 1 - (prec + 4), prec, _NEAR)
    den = (1 << (1 - exp)) - man  # |m| ≤ 1, so exp ≤ 0 and den ≥ 1
    shift = max(0, prec + 4 - man.bit_length() + den.bit_length())
    quotient, rest = divmod(man << shift, den)
    return from_man_exp((quotient << 1) | bool(rest), -shift - 1, prec, _NEAR)


def mp_dtanh(x: mpmath.mpf) -> mpmath.mpf:
    """sech²x = 4e/(1 + e)², e = e^{−2|x|} (the e of mp_tanh's pair): no cancellation, any precision."""
    e = _exp_pair(x)[0]
    prec = mpmath.mp.prec
    square = mpf_pow_int(mpf_add(fone, e, prec, _NEAR), 2, prec, _NEAR)
    return mpmath.mp.make_mpf(mpf_div(mpf_shift(e, 2), square, prec, _NEAR))


def _negative(x: Any) -> bool:
    """x < 0 for an mpf (or a number): its sign bit (mpmath has no −0; NaN's is clear)."""
    return bool((x if isinstance(x, mpmath.mpf) else mpmath.mpf(x))._mpf_[0])


def mp_finite(value: mpmath.mpf) -> bool:
    """Whether an mpf is finite, from its raw parts: a nonzero finite value has a mantissa, and 0 is all
    zeros, while ±∞ and NaN have no mantissa and an exponent of their own (mpmath.isfinite, without its
    dispatch: it costs more than the arithmetic of a unit's step)."""
    _, man, exp, _ = value._mpf_
    return bool(man) or not exp


def mp_sign_value(value: Any) -> float:
    """sign(v) of an mpf as a float, from its raw parts where it has a mantissa (mpmath.sign's dispatch
    costs more than the rest of a coefficient's logs); 0, ±∞, NaN and plain numbers through mpmath."""
    parts = getattr(value, "_mpf_", None)  # a constant coefficient may be a Python number
    if parts is None or not parts[1]:
        return float(mpmath.sign(value))
    return -1.0 if parts[0] else 1.0


LOG10_2_HI, LOG10_2_LO = 0.30102999566398120, -2.8037281277851704e-18  # log10(2) as a sum of two floats


def mp_log10_abs(value: object) -> float:
    """log10|v| of an mpf (or any number) as the float nearest it, to about one rounding: from its own
    parts — the top 53 bits of the mantissa and the binary exponent — without an mpmath logarithm; −inf
    for 0; inf and NaN through mpmath."""
    number = value if isinstance(value, mpmath.mpf) else mpmath.mpf(value)
    sign, man, exp, bits = number._mpf_
    if not man:
        return float(mpmath.log10(abs(number))) if exp or bits else -math.inf
    return log10_of_parts(int(man), int(exp))


def log10_of_parts(man: int, exp: int) -> float:
    """log10(man·2^exp) for an integer man > 0, as the float nearest it to about one rounding: the top 53
    bits of man and the binary exponent, without a logarithm of the whole; ±inf beyond float64's range.
    The same number gives the same float however it is written (an mpf's man is odd, a product's need not be)."""
    zeros = (man & -man).bit_length() - 1
    man, exp = man >> zeros, exp + zeros
    shift = max(man.bit_length() - 53, 0)
    e = exp + shift
    if abs(e) > 1 << 1020:  # log10 beyond float64's range, as float(mpmath.log10(…)) gives it
        return math.inf if e > 0 else -math.inf
    return math.log10(man >> shift) + e * LOG10_2_HI + e * LOG10_2_LO


def _mp_exp_minus_abs(x: mpmath.mpf) -> tuple:
    """e^{−|x|} to the working precision (raw parts), computed once for a gate's σ(a), 1 − σ(a) = σ(−a)
    and σ'(a)."""
    return _kept("exp", x, lambda ax, prec: exp_parts(mpf_neg(ax), prec, _NEAR))


def forget_mp_values() -> None:
    """Empty the kept exponentials (what a benchmark does between runs, so a repeat pays what the first
    run paid)."""
    _KEPT.clear()


def mp_sigmoid(x: mpmath.mpf) -> mpmath.mpf:
    """1/(1 + e) for x ≥ 0 and e/(1 + e) below, e = e^{−|x|}: no cancellation on either side."""
    e = _mp_exp_minus_abs(x)
    prec = mpmath.mp.prec
    return mpmath.mp.make_mpf(mpf_div(e if _negative(x) else fone, mpf_add(fone, e, prec, _NEAR), prec, _NEAR))


def mp_dsigmoid(x: mpmath.mpf) -> mpmath.mpf:
    e = _mp_exp_minus_abs(x)
    prec = mpmath.mp.prec
    return mpmath.mp.make_mpf(mpf_div(e, mpf_pow_int(mpf_add(fone, e, prec, _NEAR), 2, prec, _NEAR), prec, _NEAR))


def mp_step(x: mpmath.mpf) -> mpmath.mpf:
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)


def mp_relu(x: mpmath.mpf) -> mpmath.mpf:
    return x if x > 0 else mpmath.mpf(0)


# ---------------------------------------------------------------- the SymPy functions


class H(Printed, sp.Function):
    """The unit step as printed: H(x) = 1 for x > 0, else 0 (one kink convention everywhere: H(0) = 0)."""

    nargs = 1
    is_real = True
    printed_as = "H"  # H(x) in text and LaTeX (see printing/)

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_positive:
            return sp.S.One
        if x.is_nonpositive:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    def _eval_rewrite_as_Heaviside(self, x: sp.Expr, **kwargs) -> sp.Expr:  # noqa: N802 - SymPy's hook name
        return sp.Heaviside(x, 0)



class Logistic(Printed, sp.Function):
    """The logistic sigmoid as printed: σ(x) (text: sigmoid(x)); rewrites to 1/(1 + e^{−x})."""

    nargs = 1
    is_real = True
    printed_as = "Logistic"
    by_name = False  # σ(x) in Unicode and LaTeX; sigmoid(x) where True (NamedLogistic)

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_Number:
            return 1 / (1 + sp.exp(-x))
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))


class NamedLogistic(Logistic):
    """The logistic sigmoid inside a custom activation, printed by its name: sigmoid(x) in every format
    (LaTeX: \\operatorname{sigmoid}).  There σ names the activation itself, and σ(a) = σ(a)·tanh(a) would
    read as an equation σ solves; computed as Logistic is (the printers ask ``by_name``)."""

    by_name = True


def logistic_by_name(expr: sp.Basic) -> sp.Basic:
    """``expr`` with every logistic function (σ) written as NamedLogistic (sigmoid)."""
    return expr.replace(lambda e: type(e) is Logistic, lambda e: NamedLogistic(e.args[0]))



class Primitive(Printed, sp.Function):
    """A real function of one real argument whose derivative is given by the table below."""

    nargs = 1
    is_real = True
    printed_as = "Primitive"
    # (plain SymPy spelling for display, stable NumPy, mpmath): the built-ins' from TABLE below, a custom
    # activation's given when its class is made (custom_primitive); each class owns its own.
    implementations: tuple[Callable[[sp.Expr], sp.Expr], Callable, Callable]

    @classmethod
    def derivative(cls, x: sp.Expr) -> sp.Expr:  # overridden per primitive
        raise NotImplementedError

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return type(self).derivative(self.args[0])

    def shown(self) -> sp.Basic:
        """What the printers print: this primitive in plain SymPy (tanh, σ, Max, H)."""
        return plain(self)


class tanh(Primitive):  # noqa: N801 - printed and lambdified under its mathematical name
    @classmethod
    def derivative(cls, x):
        return dtanh(x)


class dtanh(Primitive):  # noqa: N801
    @classmethod
    def derivative(cls, x):
        return -2 * tanh(x) * dtanh(x)


class sigmoid(Primitive):  # noqa: N801
    @classmethod
    def derivative(cls, x):
        return dsigmoid(x)


class dsigmoid(Primitive):  # noqa: N801
    @classmethod
    def derivative(cls, x):
        return dsigmoid(x) * (1 - 2 * sigmoid(x))


class relu(Primitive):  # noqa: N801
    @classmethod
    def derivative(cls, x):
        return step(x)


class step(Primitive):  # noqa: N801
    @classmethod
    def derivative(cls, x):
        return sp.S.Zero


#           name         plain SymPy spelling (display)                  NumPy (stable)  mpmath (from x)
TABLE: dict[type[Primitive], tuple[Callable[[sp.Expr], sp.Expr], Callable, Callable]] = {
    tanh: (lambda x: sp.tanh(x), lambda x: np.tanh(x), mp_tanh),
    dtanh: (lambda x: 1 - sp.tanh(x) ** 2, np_sech2, mp_dtanh),
    sigmoid: (lambda x: Logistic(x), np_sigmoid, mp_sigmoid),
    dsigmoid: (lambda x: Logistic(x) * (1 - Logistic(x)), np_dsigmoid, mp_dsigmoid),
    relu: (lambda x: sp.Max(0, x), np_relu, mp_relu),
    step: (lambda x: H(x), np_step, mp_step),
}
for _cls, _impl in TABLE.items():
    _cls.implementations = _impl


# A derivative written in the output y of its primitive, as people write it: tanh' = 1 − y².
IN_OUTPUT: dict[type, tuple[type, Callable[[sp.Expr], sp.Expr]]] = {
    dtanh: (tanh, lambda y: 1 - y**2),
    dsigmoid: (sigmoid, lambda y: y * (1 - y)),
}


def in_outputs(expr: sp.Basic, outputs: dict[sp.Basic, sp.Symbol]) -> sp.Basic:
    """Rewrite dtanh(x) as 1 − y² (and the like) wherever ``outputs`` names a y = tanh(x)."""
    def swap(e: sp.Basic) -> sp.Basic:
        primitive, form = IN_OUTPUT[type(e)]
        y = outputs.get(primitive(e.args[0]))
        return form(y) if y is not None else e

    return expr.replace(lambda e: type(e) in IN_OUTPUT, swap)


def custom_primitive(key: str, shown: Callable, shown_derivative: Callable, second: Callable,
                     numpy_pair: tuple[Callable, Callable], mpmath_pair: tuple[Callable, Callable]) -> type:
    """A primitive for a custom activation σ and its derivative; each class carries its implementations
    (nothing is registered anywhere: lambdify finds them in the expressions it is given)."""
    derivative_class = type(f"dsigma_{key}", (Primitive,), {
        "derivative": classmethod(lambda cls, x: second(x)),
        "implementations": (shown_derivative, numpy_pair[1], mpmath_pair[1])})
    value_class = type(f"sigma_{key}", (Primitive,), {
        "derivative": classmethod(lambda cls, x: derivative_class(x)),
        "implementations": (shown, numpy_pair[0], mpmath_pair[0])})
    return value_class


def plain(expr: sp.Basic) -> sp.Basic:
    """``expr`` with every primitive written in plain SymPy (tanh, exp, Max, Heaviside)."""
    if isinstance(expr, Primitive):
        return type(expr).implementations[0](plain(expr.args[0]))
    if not expr.args or not expr.has(Primitive):
        return expr
    return expr.func(*[plain(arg) for arg in expr.args])


def _np_heaviside(x: Array, h0: float = 0.0) -> Array:
    return np.heaviside(x, 0.0)  # one kink convention everywhere: H(0) = 0


def _mp_heaviside(x: mpmath.mpf, h0: float = 0.0) -> mpmath.mpf:
    return mp_step(x)


def _mp_sign(x: mpmath.mpf) -> mpmath.mpf:
    return mpmath.mpf(mpmath.sign(x))


def _mp_max(*xs: mpmath.mpf) -> mpmath.mpf:
    return max(xs)


def _mp_min(*xs: mpmath.mpf) -> mpmath.mpf:
    return min(xs)


def _primitives_in(exprs: tuple[Any, ...]) -> dict[str, tuple[Callable, Callable, Callable]]:
    """The built-in primitives and every primitive class that occurs in ``exprs``, by printed name."""
    found = {cls.__name__: cls.implementations for cls in TABLE}
    for expr in exprs:
        for item in (expr if isinstance(expr, (list, tuple)) else [expr]):
            if isinstance(item, sp.Basic):
                found.update((type(f).__name__, type(f).implementations) for f in item.atoms(Primitive))
    return found


def numpy_module(*exprs: Any) -> dict[str, Callable]:
    """Names lambdify prints for ``exprs``, bound to stable NumPy code (for ``sympy.lambdify(..., [this,
    "numpy"])``): the built-in primitives, those of custom activations found in ``exprs``, H and σ."""
    table = {name: impl for name, (_, impl, _) in _primitives_in(exprs).items()}
    return table | {"Heaviside": _np_heaviside, "H": np_step, "Logistic": np_sigmoid,
                    "NamedLogistic": np_sigmoid}


def mpmath_module(*exprs: Any) -> dict[str, Callable]:
    """As numpy_module, bound to mpmath (any precision)."""
    table = {name: impl for name, (_, _, impl) in _primitives_in(exprs).items()}
    return MP_GUARDED | table | {"Heaviside": _mp_heaviside, "H": mp_step, "Logistic": mp_sigmoid,
                                 "NamedLogistic": mp_sigmoid, "sign": _mp_sign, "Max": _mp_max, "Min": _mp_min}
