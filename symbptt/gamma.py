"""γ = sup_a |σ'(a)| of a custom activation: proven where SymPy can (σ' continuous, or piecewise with
continuous pieces; its limits at ±∞ and its values at the real critical points found by SymPy), else
estimated by a refined numeric search, and the result says which.  An unbounded σ' gives γ = ∞.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import mpmath
import sympy as sp

from . import primitives as P
from .lazy import numpy as np
from .limits import time_limit
from .safeexpr import A

if TYPE_CHECKING:
    import numpy

Array: TypeAlias = "numpy.ndarray"  # numpy itself is imported lazily (start-up time)
GAMMA_EXACT = "exact"
# SymPy's simplify and limit have no bound of their own on the work they do, and some σ' keep them busy for
# minutes (the derivative of max(a, a², a³) held simplify 30 s).  What decides whether they are tried is
# the size of σ' (count_ops), so the same σ' gets the same printed form and the same "exact" everywhere;
# the wall-clock limit is only a net, about nine times what the slowest σ' within the size took here
# (erf(a)·a·tanh(a): simplify 2.3 s; a·tanh(log(1 + eᵃ)): limits 2.1 s), so that a slower machine does
# not reach it
SYMPY_MAX_OPS = 20
SYMPY_SECONDS = 20.0


def find_gamma(dsigma: sp.Expr, np_dsigma: Callable[[Array], Array], mp_dsigma: Callable) -> tuple[float, str]:
    """γ = sup_a |σ'(a)|, "exact" only with a proof: σ' continuous on the real line (or piecewise with
    pieces that are), its limits at ±∞ found by SymPy, and its values at the real critical points (or on
    each piece) found by SymPy.  An infinite limit at ±∞, or a numerically unbounded tail, gives γ = ∞;
    anything else is an estimate from a refined search, and says so."""
    limits = _limits_at_infinity(dsigma)
    if limits is not None and any(v == math.inf for v in limits):
        return math.inf, "σ' is unbounded as |a| → ∞ (SymPy's limit)"
    tails = _tail_values(mp_dsigma)
    if tails is None:
        return math.inf, "σ' is unbounded (it keeps growing as |a| grows)"
    exact = _gamma_by_proof(dsigma, limits)
    if exact is not None:
        return exact, GAMMA_EXACT
    return _refined_search(np_dsigma), "estimated by a refined search over [-1e6, 1e6]"


def _limits_at_infinity(dsigma: sp.Expr) -> list[float] | None:
    """|lim σ'| at −∞ and +∞ (math.inf for an infinite limit or an unbounded oscillation), or None when
    SymPy does not find both."""
    out = []
    plain = P.plain(dsigma)
    if sp.count_ops(plain) > SYMPY_MAX_OPS:  # too large for SymPy's limit (see SYMPY_MAX_OPS): no proof
        return None
    # tanh and the logistic written in exp are SymPy's fastest road (2.4 s → 0.4 s for tanh(a)·sigmoid(a));
    # not where the rewrite brings in i (sin, cos), which SymPy's limit then refuses
    in_exp = plain.rewrite(sp.exp)
    forms = ([in_exp] if in_exp != plain and not in_exp.has(sp.I) else []) + [plain, plain.rewrite(sp.Piecewise)]
    with time_limit(SYMPY_SECONDS) as ok:
        for end in (-sp.oo, sp.oo):
            found = None
            for form in forms:
                try:
                    found = _magnitude(sp.limit(form, A, end))
                except Exception:  # SymPy gives up in many ways
                    found = None
                if found is not None or not ok():
                    break
            if found is None or not ok():
                return None
            out.append(found)
    return out


def _magnitude(value: sp.Basic) -> float | None:
    """|value| of a limit: a number, ∞, or the larger end of an AccumBounds (None if not a real bound)."""
    if value in (sp.oo, -sp.oo, sp.zoo):
        return math.inf
    if isinstance(value, sp.AccumBounds):
        ends = [_magnitude(value.min), _magnitude(value.max)]
        return None if None in ends else max(e for e in ends if e is not None)
    if isinstance(value, sp.Mul) and any(f in (sp.oo, -sp.oo) for f in value.args):
        # ∞·sign(AccumBounds(-1, 1)): an oscillation whose amplitude grows without bound (a·cos a)
        rest = [f for f in value.args if f not in (sp.oo, -sp.oo)]
        if all(isinstance(f, sp.sign) and isinstance(f.args[0], sp.AccumBounds)
               and (f.args[0].min < 0 < f.args[0].max or f.args[0].min > 0 or f.args[0].max < 0) for f in rest):
            return math.inf
    try:
        number = complex(value)
    except TypeError:
        return None
    return abs(number.real) if number.imag == 0 else None


def _gamma_by_proof(dsigma: sp.Expr, limits: list[float] | None) -> float | None:
    """sup |σ'| when it can be proved: the larger of the limits at ±∞ and, on each piece of σ' (one piece
    when σ' has no kink), |σ'| at the piece's real critical points and at the ends of its interval; each
    piece must be continuous on its interval."""
    if limits is None:
        return None
    plain = P.plain(dsigma)
    if plain.has(sp.Heaviside, sp.Abs, sp.sign, sp.Max, sp.Min):
        plain = sp.piecewise_fold(plain.rewrite(sp.Piecewise))
    pieces = plain.args if isinstance(plain, sp.Piecewise) else ((plain, sp.true),)
    values, covered = list(limits), sp.S.EmptySet
    with time_limit(SYMPY_SECONDS) as ok:
        for value, cond in pieces:
            try:
                region = sp.Complement(sp.S.Reals if cond is sp.true else cond.as_set(), covered)
                covered = sp.Union(covered, region)
                found = _sup_on(value, region)
            except Exception:  # SymPy gives up in many ways; the numeric search takes over
                return None
            if found is None or not ok():
                return None
            values.extend(found)
    return max(values, default=0.0)


def _sup_on(value: sp.Expr, region: sp.Set) -> list[float] | None:
    """|value| at its critical points inside ``region`` and at the region's finite ends (one-sided
    limits), or None when continuity on the region or the critical points cannot be established."""
    if region is sp.S.EmptySet:
        return []
    if value.has(sp.Piecewise, sp.Heaviside, sp.Abs, sp.sign, sp.Max, sp.Min):
        return None
    if value.is_number:
        return [abs(float(value))]
    intervals = region.args if isinstance(region, sp.Union) else (region,)
    out: list[float] = []
    for interval in intervals:
        if isinstance(interval, sp.FiniteSet):
            out.extend(abs(float(value.subs(A, p))) for p in interval)
            continue
        if not isinstance(interval, sp.Interval):
            return None
        if (interval.is_left_unbounded or interval.is_right_unbounded) and value.has(sp.sin, sp.cos, sp.tan):
            # no finite list of critical points to be had, and SymPy's solveset may not come back with
            # the endless one (the slope of atan(cos(a) + π): stopped at 25 s)
            return None
        if sp.calculus.util.continuous_domain(value, A, interval) != interval:
            return None
        roots = sp.solveset(sp.diff(value, A), A, interval)
        if roots is sp.S.EmptySet:
            roots = sp.FiniteSet()
        if not isinstance(roots, sp.FiniteSet) or len(roots) > 50:
            return None
        out.extend(abs(complex(sp.N(value.subs(A, r), 30))) for r in roots)
        for end, side in ((interval.start, "+"), (interval.end, "-")):
            if end.is_finite:
                edge = _magnitude(sp.limit(value, A, end, side))
                if edge is None:
                    return None
                out.append(edge)
    return out


def _tail_values(mp_dsigma: Callable) -> list[float] | None:
    """|σ'| far out on both sides (mpmath, so nothing overflows), or None when it keeps growing."""
    out = []
    with mpmath.workdps(30):
        for sign in (-1, 1):
            values = []
            for k in range(4, 49):
                try:
                    values.append(abs(mp_dsigma(mpmath.mpf(sign) * mpmath.mpf(10) ** (k / 4))))
                except P.BeyondReach:  # further out mpmath cannot reach (tanh(sinh(a))): the tail ends here
                    break
                except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                    return None
            if any(not mpmath.isfinite(v) or isinstance(v, mpmath.mpc) for v in values):
                return None
            tail = values[-8:]
            if all(b > a for a, b in zip(tail, tail[1:], strict=False)) and tail[-1] > 10 * max(tail[0], 1e-300):
                return None
            out.append(float(values[-1]) if values else math.nan)
    return out


def _refined_search(np_dsigma: Callable) -> float:
    """Largest |σ'| on a dense grid near 0 and a logarithmic grid out to ±10⁶, each local maximum
    refined by golden-section search on its bracket."""
    near = np.linspace(-60.0, 60.0, 240001)
    far = np.logspace(np.log10(60.0), 6, 4000)
    grid = np.unique(np.concatenate([-far[::-1], near, far]))
    with np.errstate(all="ignore"):
        values = np.nan_to_num(np.abs(np_dsigma(grid)), nan=0.0)
    best = float(values.max())
    peaks = np.argsort(values)[-5:]
    for i in peaks:
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        best = max(best, _golden_max(np_dsigma, lo, hi))
    return best


def _golden_max(f: Callable, lo: float, hi: float, steps: int = 80) -> float:
    ratio = (math.sqrt(5) - 1) / 2
    best = 0.0
    for _ in range(steps):
        x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        with np.errstate(all="ignore"):
            f1, f2 = float(abs(f(np.array([x1]))[0])), float(abs(f(np.array([x2]))[0]))
        best = max(best, f1 if math.isfinite(f1) else 0.0, f2 if math.isfinite(f2) else 0.0)
        if f1 > f2:
            hi = x2
        else:
            lo = x1
    return best


__all__ = ["GAMMA_EXACT", "SYMPY_MAX_OPS", "SYMPY_SECONDS", "Array", "find_gamma"]
