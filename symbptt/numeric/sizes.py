"""What float64 rounding inside one expression can cost it where a sum in it cancels or a function's slope
amplifies it, as an expression.

A nudged rerun (numeric/reruns.py) moves every stored value by one rounding; a value computed from them
then moves as its inputs do.  That models the roundings inside the expression that its inputs carry,
and one rounding of the result; what it misses are the sums computed inside.  Each term float64
computes is rounded relative to itself, so a sum carries about ROUNDING·Σ|such terms|, far more than
one rounding of the sum where it cancels — and where those terms read only parameters and constants (a
user's ∂h_t/∂h_{t−1} = (4·w·e^p + 3)/12), or read stored values through a flat function, no nudged
input moves them at all.  ``rounding_size(expr)`` is the first-order size of those roundings, in units
of ROUNDING, by one convention:

    a + b + …     |t| for each term t float64 computes (a product, a function, a number it does not
                  hold), plus what each term carries; a term it holds exactly (a stored value, a
                  parameter, 3 or 1/4, −n or h/2) adds nothing.  A sum inside the expression is rounded
                  once more, |a + b + …| (the stored value's own rounding is its nudge): the GRU's 1 − z
                  and h_{t−1} − n_t, whose error is their inputs' (the nudges), add one rounding of
                  themselves, while sin(w·h + u·x + b) with b = 10^6 adds |cos(…)|·10^6
    a · b · …     each factor's size times |the other factors|
    f(a), a^k     |f′(a)| times a's size (k a number; a power with a symbol in its exponent also adds
                  |a^k·log a| times the exponent's size); a function's argument that float64 computes
                  as a product, function or power adds its own rounding, |f′(a)|·|a|, which a large
                  slope makes many roundings of f(a) (the LRU's λ = exp(−exp(ν)) moves by exp(ν) of
                  its own, about 550 at ν = 6.3, though it reads ν alone); a power's number exponent
                  multiplies its base's rounding k-fold at most, which the reruns' margins cover
    leaf, number  0: a stored value's own rounding is its nudge, a parameter is exact

so an expression without a sum, and without a function of a value it computes, has size 0 and its nudge
is one rounding, as before; the rerun moves the value by ROUNDING times the size besides
(forward.nudged_coefficients, the nudged forward pass, jit_source.unit_lines).  A function it cannot
differentiate (Max, Min) counts its arguments' sizes.
"""

from __future__ import annotations

import sympy as sp


def rounding_size(expr: sp.Expr) -> sp.Expr:
    """The first-order size, in units of ROUNDING, of what computing ``expr``'s sums in float64 can move
    it by (see the module); 0 (sympy's zero) where it has no sum.

    Args:
        expr: a step coefficient or node, in the symbols the compiled cell reads.

    Returns:
        A nonnegative expression in the same symbols, or sp.S.Zero.
    """
    return _size(expr, top=True)


def _size(expr: sp.Expr, top: bool = False) -> sp.Expr:
    """rounding_size of ``expr``; ``top``: ``expr`` is the stored value itself, whose own rounding is its
    nudge (a sum inside is rounded once more, to ROUNDING·|sum|, which no nudge carries)."""
    if isinstance(expr, sp.Add):
        return sp.Add(*[sp.Abs(term) for term in expr.args if not _exact(term)],
                      *[_size(term) for term in expr.args], *([] if top else [sp.Abs(expr)]))
    if isinstance(expr, sp.Mul):
        parts = []
        for i, factor in enumerate(expr.args):
            size = _size(factor)
            if size != 0:
                rest = sp.Mul(*[other for j, other in enumerate(expr.args) if j != i])
                parts.append(size * sp.Abs(rest))
        return sp.Add(*parts)
    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        size, raised = _size(base), _size(exponent)
        total = sp.Abs(exponent * base ** (exponent - 1)) * size if size != 0 else sp.S.Zero
        if raised != 0:
            total += sp.Abs(expr * sp.log(base)) * raised
        return total
    if isinstance(expr, sp.Function) and expr.args:
        sizes = [_size(arg) + _own(arg) for arg in expr.args]
        if all(size == 0 for size in sizes):
            return sp.S.Zero
        if len(expr.args) == 1:
            try:
                slope = expr.fdiff(1)
            except (sp.core.function.ArgumentIndexError, NotImplementedError, AttributeError):
                slope = None
            if slope is not None:  # a step's slope is 0 but at its kink, where no rounding size says more
                slope = slope.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
                return sp.Abs(slope) * sizes[0]
        return sp.Add(*sizes)
    return sp.S.Zero


def _own(arg: sp.Expr) -> sp.Expr:
    """The rounding of a function's argument that float64 computes as a product, function or power: |arg|,
    which the function's slope turns into its own error (exp(−exp(ν)) moves by exp(ν) roundings of
    itself); 0 for a value float64 holds (_exact) and for a sum, whose rounding _size counts already."""
    return sp.S.Zero if _exact(arg) or isinstance(arg, sp.Add) else sp.Abs(arg)


def _exact(term: sp.Expr) -> bool:
    """Whether float64 holds ``term`` without rounding it: a stored value or parameter, a number float64
    represents, either times ±2^k (negated, halved: an exact operation)."""
    if isinstance(term, sp.Symbol):
        return True
    if isinstance(term, sp.Float):
        return True
    if isinstance(term, sp.Rational):
        return abs(term.p) < 2**53 and term.q & (term.q - 1) == 0
    if isinstance(term, sp.Mul) and len(term.args) == 2:
        scale, other = term.args
        return (isinstance(scale, sp.Rational) and _exact(scale) and abs(scale.p) & (abs(scale.p) - 1) == 0
                and _exact(other))
    return False


__all__ = ["rounding_size"]
