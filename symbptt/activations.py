"""Activation table: one row per activation with σ, σ', σ' written in h = σ(a), γ = sup|σ'|, numeric code.

Each row is the whole chain-rule fact the engine needs about that nonlinearity; the engine never
special-cases an activation by name.  Numbers are computed from a, stably: σ'(a) and log10|σ'(a)| never
go through 1 − h², so a saturated unit gives a tiny, exact σ' instead of 0.

    name     σ(a)        σ'(a)                     σ' in h = σ(a)    γ = sup|σ'|
    tanh     tanh a      sech² a                   1 − h²            1
    sigmoid  1/(1+e^−a)  e^−|a|/(1 + e^−|a|)²      h(1 − h)          1/4
    relu     max(a, 0)   H(a) = 1 if a > 0 else 0  —                 1
    linear   a           1                         1                 1

Custom activations are parsed by the whitelist in safeexpr.py; σ' comes from ``sympy.diff`` and is
simplified; γ is found from the critical points of σ' (``solveset``) where SymPy can solve them, else
by a refined search whose bound is stated, and an unbounded σ' gives γ = ∞ (gamma.py).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import mpmath
import sympy as sp

from . import primitives as P
from .errors import SymbpttError
from .gamma import GAMMA_EXACT, SYMPY_MAX_OPS, SYMPY_SECONDS, Array, find_gamma
from .lazy import numpy as np
from .limits import time_limit
from .safeexpr import A, parse_activation, shown
from .validate import text

OUTPUT = sp.Symbol("h", real=True)  # an activation's output h, in which σ' is written: tanh' = 1 − h²


@dataclass(frozen=True)
class Activation:
    """σ and what BPTT needs of it.  ``dsigma_h`` is σ'(a) rewritten in h = σ(a), when it exists."""

    name: str
    sigma: sp.Expr  # σ(a), written with the primitives of primitives.py
    dsigma: sp.Expr  # σ'(a), the same
    dsigma_h: sp.Expr | None
    gamma_found: Callable[[], tuple[float, str]]  # (γ, how it was found), computed when first asked for
    np_sigma: Callable[[Array], Array]
    np_dsigma: Callable[[Array], Array]
    np_log10_dsigma: Callable[[Array], Array]
    mp_sigma: Callable[[mpmath.mpf], mpmath.mpf]
    mp_dsigma: Callable[[mpmath.mpf], mpmath.mpf]
    function: type | None = None  # the primitive σ, None for the identity
    shown: sp.Expr | None = None  # σ(a) as printed, where it is not ``sigma`` in plain SymPy

    @cached_property
    def _gamma(self) -> tuple[float, str]:
        return self.gamma_found()

    @property
    def gamma(self) -> float:
        """sup|σ'| (math.inf when σ' is unbounded); found once, when first asked for (printing a form
        never needs it; a custom activation's search costs about a second)."""
        return self._gamma[0]

    @property
    def gamma_status(self) -> str:
        """"exact", or how γ was estimated."""
        return self._gamma[1]

    def apply(self, x: sp.Expr) -> sp.Expr:
        """σ(x) as it enters a cell's equations."""
        return x if self.function is None else self.function(x)

    @property
    def gamma_exact(self) -> bool:
        return self.gamma_status == GAMMA_EXACT

    @property
    def sigma_plain(self) -> sp.Expr:
        return P.plain(self.sigma) if self.shown is None else self.shown

    @property
    def dsigma_plain(self) -> sp.Expr:
        return P.plain(self.dsigma)

    def dsigma_at(self, a: sp.Expr, h: sp.Expr) -> sp.Expr:
        """σ'(a_t) for display, written in h_t where the activation allows (tanh: 1 − h_t²)."""
        if self.dsigma_h is not None:
            return swap_symbol(self.dsigma_h, OUTPUT, h)
        return swap_symbol(self.dsigma_plain, A, a)


def swap_symbol(expr: sp.Basic, old: sp.Symbol, new: sp.Basic) -> sp.Basic:
    """``expr`` with ``old`` replaced by the atom ``new``, rebuilt without re-simplifying.

    The template is already in canonical form and only one symbol changes, so nothing would simplify;
    skipping SymPy's evaluation makes this ~10× faster than xreplace (it runs once per time step).
    """
    if expr is old:  # OUTPUT and A are module constants, so the template holds these very objects
        return new
    if not expr.args:
        return expr
    args = tuple(swap_symbol(arg, old, new) for arg in expr.args)
    if isinstance(expr, (sp.Add, sp.Mul)):
        return type(expr)._from_args(args)
    return expr.func(*args, evaluate=False)


def _zeros(a: Array) -> Array:
    return np.zeros_like(np.asarray(a, dtype=float))


def _ones(a: Array) -> Array:
    return np.ones_like(np.asarray(a, dtype=float))


def _relu_log10(a: Array) -> Array:
    return np.where(np.asarray(a) > 0, 0.0, -np.inf)


#            σ(a)            σ' in h            γ                 numpy σ'      numpy log10|σ'|       mpmath σ, σ'
BUILTIN = {
    "tanh": (P.tanh(A), 1 - OUTPUT**2, 1.0, P.np_sech2, P.np_log10_sech2, P.mp_tanh, P.mp_dtanh),
    "sigmoid": (P.sigmoid(A), OUTPUT * (1 - OUTPUT), 0.25, P.np_dsigmoid, P.np_log10_dsigmoid, P.mp_sigmoid,
                P.mp_dsigmoid),
    "relu": (P.relu(A), None, 1.0, P.np_step, _relu_log10, P.mp_relu, P.mp_step),
    "linear": (A, sp.Integer(1), 1.0, _ones, _zeros, lambda a: a, lambda a: mpmath.mpf(1)),
}
NAMES = tuple(BUILTIN)


def _builtin(name: str) -> Activation:
    sigma, dsigma_h, gamma, np_d, np_logd, mp_s, mp_d = BUILTIN[name]
    function = None if sigma is A else type(sigma)
    np_sigma = _identity if function is None else function.implementations[1]
    return Activation(name, sigma, sp.diff(sigma, A), dsigma_h, lambda: (gamma, GAMMA_EXACT), _vectorised(np_sigma),
                      np_d, np_logd, mp_s, mp_d, function)


def _identity(a: Array) -> Array:
    return np.asarray(a, dtype=float).copy()


def _vectorised(f: Callable) -> Callable[[Array], Array]:
    """A float array of the argument's shape, whatever ``f`` returns (a constant becomes an array)."""

    def call(a: Array) -> Array:
        a = np.asarray(a, dtype=float)
        return np.broadcast_to(np.asarray(f(a), dtype=float), a.shape).copy()

    return call


def numpy_functions(*exprs: Any) -> list:
    """lambdify modules for ``exprs``: the stable primitives (those of custom activations found in
    ``exprs`` too), erf (NumPy has none), then NumPy."""
    erf = np.frompyfunc(math.erf, 1, 1)
    return [P.numpy_module(*exprs) | {"erf": lambda x: erf(x).astype(float)}, "numpy"]


def simplify_derivative(expr: sp.Expr) -> sp.Expr:
    """σ' as a person would write it: piecewise-aware simplification, the shorter of what is found.
    At a kink σ' is the derivative from the left, as in PyTorch (relu'(0) = 0, leaky'(0) = its slope):
    a simpler form is taken only where it has that value at every kink."""
    left = left_kinks(expr)
    kinks = _kink_points(expr)
    candidates = [left]
    if sp.count_ops(expr) > SYMPY_MAX_OPS:  # too large to search (see SYMPY_MAX_OPS): as derived
        return left.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: P.H(e.args[0]))
    with time_limit(SYMPY_SECONDS) as ok:
        for start in (left, expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Heaviside(e.args[0], 0))):
            rewritten = start.replace(sp.sign, lambda x: x / sp.Abs(x)) if start.has(sp.sign) else start
            for candidate in (sp.simplify(rewritten), sp.factor(sp.together(rewritten))):
                if ok():
                    candidates.append(candidate)
        if _polynomial_kinks(left) and ok():
            pw = sp.piecewise_fold(sp.simplify(left.rewrite(sp.Piecewise)))
            candidates.append(_prune(sp.simplify(pw)))
    fitting = [c for c in candidates if c is left or all(_same_at(c, left, p) for p in kinks)]
    best = min(fitting, key=lambda e: (sp.count_ops(e), len(sp.srepr(e))))
    return best.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: P.H(e.args[0]))


def _polynomial_kinks(expr: sp.Expr) -> bool:
    """Whether ``expr`` has a step, sign or absolute value and each one's argument is a polynomial in a:
    what the piecewise route of simplify_derivative can solve for a.  Where one is not (sign(sin(a))),
    SymPy spent 13.6 s on the piecewise form of erf(|sin(|a|)|)' and found nothing shorter."""
    kinks = expr.atoms(sp.Heaviside, sp.Abs, sp.sign)
    return bool(kinks) and all(kink.args[0].is_polynomial(A) for kink in kinks)


def _kink_points(expr: sp.Expr) -> list[sp.Expr]:
    """Where a step or sign in σ' switches (its argument linear in a); None-free list."""
    points = []
    for e in expr.atoms(sp.Heaviside, sp.sign):
        g = e.args[0]
        slope = sp.diff(g, A)
        if slope.is_number and slope != 0:
            points.append(sp.nsimplify(-g.subs(A, 0) / slope))
    return points


def _same_at(candidate: sp.Expr, reference: sp.Expr, point: sp.Expr) -> bool:
    try:
        return bool(sp.simplify(candidate.subs(A, point) - reference.subs(A, point)) == 0)
    except (TypeError, ValueError):
        return False


def left_kinks(expr: sp.Expr) -> sp.Expr:
    """σ' with every step and sign taking the value of the derivative from the left at its kink."""
    expr = expr.replace(sp.sign, lambda g: 2 * sp.Heaviside(g) - 1)
    return expr.replace(lambda e: isinstance(e, sp.Heaviside), _left_step)


def _left_step(step: sp.Heaviside) -> sp.Expr:
    """H(g) as the derivative from the left sees it where g = 0: 0 if g rises with a, 1 if it falls
    (g linear in a; any other argument keeps H(0) = 0)."""
    g = step.args[0]
    slope = sp.diff(g, A)
    if slope.is_number and slope.is_negative:
        return 1 - sp.Heaviside(-g, 0)
    return sp.Heaviside(g, 0)


def _prune(expr: sp.Expr) -> sp.Expr:
    """Drop the branches of a Piecewise in ``a`` that earlier branches already cover; ``expr`` as it is
    where SymPy cannot solve a branch's condition for a (sin(a) > 0: solutions without end)."""
    if not isinstance(expr, sp.Piecewise):
        return expr
    try:
        return _pruned(expr)
    except NotImplementedError:
        return expr


def _pruned(expr: sp.Piecewise) -> sp.Expr:
    kept, covered = [], sp.S.EmptySet
    for value, cond in expr.args:
        region = sp.S.Reals if cond is sp.true else cond.as_set()
        if sp.Complement(region, covered) is sp.S.EmptySet:
            continue
        kept.append((value, cond))
        covered = sp.Union(covered, region)
        if covered == sp.S.Reals:
            break
    kept[-1] = (kept[-1][0], sp.true)
    return sp.Piecewise(*kept)


def _binary(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every max and min of three or more arguments nested two at a time (max(x, max(y, z)),
    left unevaluated), so that each switch of σ' is one pair of steps (slope_of)."""
    def nested(node: sp.Expr) -> sp.Expr:
        out = node.args[-1]
        for arg in reversed(node.args[:-1]):
            out = type(node)(arg, out, evaluate=False)
        return out

    return expr.replace(lambda e: isinstance(e, (sp.Max, sp.Min)) and len(e.args) > 2, nested)


def slope_of(expr: sp.Expr, var: sp.Symbol = A, linear_from_left: bool = True) -> sp.Expr:
    """sympy.diff of ``expr`` by ``var`` with each max's or min's pair of steps made one, so that wherever
    the two branches tie the derivative is one branch's slope.  SymPy's steps are ½ at 0, so its pair
    H(d)·f' + H(−d)·g' averages the two slopes at a tie; with each step 0 there (the kink convention) it
    would be 0, neither branch's.  At a tie the slope of the branch SymPy lists first is taken (H(d) is
    written 1 − H(−d)), except, for an activation (``linear_from_left``), where d is linear in a:
    left_kinks takes the slope from the left there.  A tie may be one only to the digits carried
    (min(a, log(1 + eᵃ)) at a = 10^24, whose branches differ by e^(−10^24)), and there the two slopes
    agree as well.  For a cell (``linear_from_left`` False) the steps come back as H, printed and computed
    as every step is."""
    if not expr.has(sp.Max, sp.Min):
        return sp.diff(expr, var)
    pairs = _binary(expr)
    one = {}
    for node in pairs.atoms(sp.Max, sp.Min):
        f, g = node.args
        d = g - f if isinstance(node, sp.Min) else f - g  # f is taken where d > 0
        if not linear_from_left or not sp.diff(d, var).is_number:
            one[sp.Heaviside(d)] = 1 - sp.Heaviside(-d)
    raw = sp.diff(pairs, var).xreplace(one)
    # a cell's steps as every step is printed and computed (H, 0 at 0); an activation's go through left_kinks
    return raw if linear_from_left else raw.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: P.H(e.args[0]))


def _custom(text: str) -> Activation:
    """A user expression in a: σ' by sympy.diff (simplified), γ from its critical points."""
    sigma = parse_activation(text)
    raw = slope_of(sigma)
    dsigma = left_kinks(raw)
    shown_dsigma = P.plain(simplify_derivative(P.plain(raw)))
    np_sigma = _vectorised(sp.lambdify(A, sigma, numpy_functions(sigma)))
    mp_sigma = sp.lambdify(A, sigma, [P.mpmath_module(sigma), "mpmath"])
    numeric = _stablest(dsigma, shown_dsigma)
    np_dsigma = _vectorised(sp.lambdify(A, numeric, numpy_functions(numeric)))
    mp_dsigma = sp.lambdify(A, numeric, [P.mpmath_module(numeric), "mpmath"])
    _require_real(text, (np_sigma, np_dsigma), (mp_sigma, mp_dsigma))
    _require_distinct_branches(text, sigma)

    def log10_dsigma(a: Array) -> Array:
        """log10|σ'(a)|; entries that float64 cannot hold are recomputed with mpmath: −∞ only where σ' is
        0, NaN where it is not but its log10 is beyond float64's range (σ' = 10^(−10^400) and the like)."""
        with np.errstate(all="ignore"):
            values = np.abs(np_dsigma(a))
            out = np.log10(values)
        bad = ~np.isfinite(out) | ((values < np.finfo(float).tiny) & (values > 0))
        for idx in zip(*np.nonzero(bad), strict=True):
            with mpmath.workdps(30):
                v = mp_dsigma(mpmath.mpf(float(np.asarray(a)[idx])))
                out[idx] = P.mp_log10_abs(v) if v == 0 or mpmath.isfinite(P.mp_log10_abs(v)) else math.nan
        return out

    # shown: the logistic function inside by its name (σ is the activation's own name)
    plain_sigma, second = P.logistic_by_name(P.plain(sigma)), P.plain(sp.diff(dsigma, A))
    shown_dsigma = P.logistic_by_name(shown_dsigma)
    import hashlib  # only custom activations need it (keeps start-up short)

    key = hashlib.sha1(text.encode()).hexdigest()[:10]
    function = P.custom_primitive(
        key, lambda x: plain_sigma.xreplace({A: x}), lambda x: shown_dsigma.xreplace({A: x}),
        lambda x: second.xreplace({A: x}), (np_sigma, np_dsigma), (mp_sigma, mp_dsigma))
    return Activation(text, sigma, shown_dsigma, None, lambda: find_gamma(dsigma, np_dsigma, mp_dsigma), np_sigma,
                      np_dsigma, log10_dsigma, mp_sigma, mp_dsigma, function, plain_sigma)


PROBES = [sign * 10.0 ** (k / 2) for sign in (-1.0, 1.0) for k in range(-6, 25)] + [0.0]


def _stablest(*candidates: sp.Expr) -> sp.Expr:
    """Of equal expressions for σ', the one float64 evaluates best: each is compared, at points out to
    |a| = 10^12, with the first evaluated at 60 digits (a − a·sign(a)/(1 + |a|) cancels, 1/(1 + |a|)² does not;
    1 − tanh² cancels, the primitive sech² does not)."""
    mods = numpy_functions(*candidates)
    probes, exact = [], []
    with mpmath.workdps(60):
        exact_fn = sp.lambdify(A, candidates[0], [P.mpmath_module(candidates[0]), "mpmath"])
        for a in PROBES:
            try:
                exact.append(exact_fn(mpmath.mpf(float(a))))
            except P.BeyondReach:  # tanh(sinh(a)) far out: no exact value to compare with there
                continue
            except (ValueError, ZeroDivisionError, TypeError):
                return candidates[0]
            probes.append(a)
    best, best_error = candidates[0], math.inf
    for candidate in candidates:
        with np.errstate(all="ignore"):
            try:
                values = _vectorised(sp.lambdify(A, candidate, mods))(np.array(probes))
            except (TypeError, ValueError, ZeroDivisionError):
                continue
        error = 0.0
        for v, e in zip(values, exact, strict=True):
            e = complex(e).real
            if not math.isfinite(v):
                error = max(error, math.inf if math.isfinite(e) and abs(e) < 1e300 else 0.0)
            elif e != 0:
                error = max(error, abs(v - e) / abs(e)) if abs(e) > 1e-300 else error
            else:
                error = max(error, abs(v))
        if error < best_error:
            best, best_error = candidate, error
    return best




def _require_real(text: str, float64: tuple[Callable, Callable], exact: tuple[Callable, Callable]) -> None:
    """σ and σ' must be real and finite on the real line, and float64 must evaluate them so (checked on a
    dense grid over [−50, 50]).  Where float64 does not, the same function at 30 digits (``exact``: σ and
    σ' with mpmath) tells which is the case: it is not real and finite there, its value is beyond
    float64's range, or a value on the way is (sigmoid(log(1 + exp(a²))) at a = −50: e^2500)."""
    samples = _grid()
    found = None
    with np.errstate(all="ignore"):
        try:
            for which, f, g in zip(("", "the slope of "), float64, exact, strict=True):
                bad = ~np.isfinite(f(samples))
                if np.any(bad):
                    found = (which, float(samples[np.argmax(bad)]), g)
                    break
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
            raise SymbpttError(f"custom activation {shown(text)} cannot be evaluated: {exc}") from None
    if found is None:
        return
    which, where, g = found
    value = _real_value(g, where)
    if value is None:
        raise SymbpttError(f"{which}custom activation {shown(text)} is not real and finite at a = {where:g}")
    if abs(value) > sys.float_info.max:
        power = float(mpmath.log10(abs(value)))
        size = f"{power:.4g}" if power < 1e4 else f"{power:.0f}"
        raise SymbpttError(f"{which}custom activation {shown(text)} is about 10^{size} at a = {where:g}, beyond "
                           "float64's range")
    raise SymbpttError(f"{which}custom activation {shown(text)} cannot be evaluated in float64 at a = {where:g}: a "
                       "value on the way there is beyond float64's range, though the result is not; write it so that "
                       "none is")


def _require_distinct_branches(text: str, sigma: sp.Expr) -> None:
    """No max or min of σ may have two arguments equal on a whole interval (max(a, |a|) for a ≥ 0): its
    slope there takes neither branch (the steps H(a − |a|) and H(|a| − a) are both 0 on it), and σ' would
    be 0 where the function rises.  Checked on the grid of _require_real, three neighbours equal in float64,
    then at 30 digits (tanh(a) and σ(a) round to one float64 from a ≈ 37 on, and differ)."""
    samples = _grid()
    for node in sigma.atoms(sp.Max, sp.Min):
        for i, first in enumerate(node.args):
            for second in node.args[i + 1:]:
                gap = first - second
                with np.errstate(all="ignore"):
                    zero = np.broadcast_to(sp.lambdify(A, gap, numpy_functions(gap))(samples), samples.shape) == 0
                exact = sp.lambdify(A, gap, [P.mpmath_module(gap), "mpmath"])
                equal = np.flatnonzero(zero[:-2] & zero[1:-1] & zero[2:])
                with mpmath.workdps(30):
                    equal = [k for k in equal[:64]
                             if all(exact(mpmath.mpf(float(samples[k + j]))) == 0 for j in range(3))]
                if equal:
                    where = float(samples[equal[0] + 1])
                    name = "max" if isinstance(node, sp.Max) else "min"
                    raise SymbpttError(f"custom activation {shown(text)}: the arguments {P.plain(first)} and "
                                       f"{P.plain(second)} of its {name} are equal, to 30 digits, on a whole "
                                       f"interval (around a = {where:g}), where its slope would take neither; "
                                       "write the one they share")


def _grid() -> Array:
    """The points of a over which a custom activation is checked: [−50, 50] in steps of 0.005."""
    return np.linspace(-50.0, 50.0, 20001)


def _real_value(g: Callable, where: float) -> mpmath.mpf | None:
    """``g`` (an mpmath function) at ``where`` at 30 digits, or None where it is not a real, finite number."""
    with mpmath.workdps(30):
        try:
            value = g(mpmath.mpf(where))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, ArithmeticError):
            return None
    return value if isinstance(value, mpmath.mpf) and mpmath.isfinite(value) else None


def get_activation(name: str) -> Activation:
    """Look up a built-in activation by name, or parse a custom expression in ``a`` (made once per name)."""
    text("activation", name, "a name or an expression in a (a str)")  # before the cache: a list is unhashable
    return _activation(str(name))


@lru_cache(maxsize=64)
def _activation(name: str) -> Activation:
    if name in BUILTIN:
        return _builtin(name)
    if not name.isidentifier() or name == "a":
        try:
            return _custom(name)
        except (OverflowError, MemoryError, RecursionError):  # e.g. exp(exp(exp(a))) at a = 10^12
            raise SymbpttError(f"the activation {shown(name)} grows beyond any number format this tool can "
                               "hold on the range it is analysed over (|a| ≤ 10^12); choose one that "
                               "grows more slowly") from None
    raise SymbpttError(
        f"unknown activation {shown(name)}; choose one of {', '.join(NAMES)} or give an expression in a, "
        "for example 'a/(1+abs(a))'"
    )


@lru_cache(maxsize=64)
def positively_homogeneous(name: str) -> bool:
    """Whether σ(c·a) = c·σ(a) for every c > 0 (linear, relu, a leaky relu), checked exactly in float64
    at c = 2 (a power of two: no rounding) on a grid of both signs.  A network of such units scales its
    state with ‖∂h_T/∂h_k‖ where that grows, so an error made at step k keeps its size relative to the
    state: amplification alone does not make rounding decide its value, as it does for a bounded σ."""
    act = get_activation(name)
    a = np.concatenate([-np.logspace(-8, 8, 97), [0.0], np.logspace(-8, 8, 97)])
    with np.errstate(all="ignore"):
        return bool(np.array_equal(act.np_sigma(2.0 * a), 2.0 * act.np_sigma(a)))
