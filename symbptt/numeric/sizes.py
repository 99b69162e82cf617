"""What float64 rounding inside one expression can cost it where a sum in it cancels, as an expression.

A nudged rerun (numeric/reruns.py) moves every stored value by one rounding; a value computed from them
then moves as its inputs do.  That models every rounding inside the expression except the ones no input
carries: the sums it computes.  A sum is rounded to about ROUNDING·Σ|terms|, which is far more than one
rounding of the sum where it cancels — and where its terms read only parameters and constants (a user's
∂h_t/∂h_{t−1} = (4·w·e^p + 3)/12), or read stored values through a flat function, no nudged input moves
it at all.  ``rounding_size(expr)`` is the first-order size of those roundings, one convention:

    a + b + …     |a| + |b| + … , plus what each term carries
    a · b · …     each factor's size times |the other factors|
    f(a), a^k     |f′(a)| times a's size (k a number; a power with a symbol in its exponent also adds
                  |a^k·log a| times the exponent's size)
    leaf, number  0: a stored value's own rounding is its nudge, a parameter is exact

so an expression without a sum has size 0 and its nudge is one rounding, as before; the rerun moves the
value by ROUNDING times the size besides (forward.nudged_coefficients, jit_source.unit_lines).  An
expression it cannot differentiate (Max, Min, a Piecewise) counts its arguments' sizes as they are.
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
    if isinstance(expr, sp.Add):
        return sp.Add(*[sp.Abs(term) for term in expr.args], *[rounding_size(term) for term in expr.args])
    if isinstance(expr, sp.Mul):
        parts = []
        for i, factor in enumerate(expr.args):
            size = rounding_size(factor)
            if size != 0:
                rest = sp.Mul(*[other for j, other in enumerate(expr.args) if j != i])
                parts.append(size * sp.Abs(rest))
        return sp.Add(*parts)
    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        size, raised = rounding_size(base), rounding_size(exponent)
        total = sp.Abs(exponent * base ** (exponent - 1)) * size if size != 0 else sp.S.Zero
        if raised != 0:
            total += sp.Abs(expr * sp.log(base)) * raised
        return total
    if isinstance(expr, sp.Function) and expr.args:
        sizes = [rounding_size(arg) for arg in expr.args]
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


__all__ = ["rounding_size"]
