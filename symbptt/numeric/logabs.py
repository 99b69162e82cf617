"""ln|g| of a SymPy expression computed in log space, so that it stays finite where g itself underflows.

A gate's factor such as σ(−a) or σ(a_f)/(σ(a_f) + σ(a_i)) is 0 in float64 once |a| passes ~745, while
its logarithm is an ordinary number (ln σ(−a) = −a − ln(1 + e^{−a})).  The rules, one per kind of node:

    c (a number)         ln|c|
    x·y, x/y, x^n        ln|x| + ln|y|, ln|x| − ln|y|, n·ln|x|        (n a number)
    e^x                  x
    σ(x)                 −ln(1 + e^{−x})                               (numpy.logaddexp(0, −x))
    1 ∓ tanh(x)          ln 2 − ln(1 + e^{±2x})                        (= ln 2σ(∓2x))
    x + y + …            ln(e^{ln x} + e^{ln y} + …)                   (numpy.logaddexp; every term > 0)

A sum whose terms are not all positive by construction (a difference can cancel) and any other function
are outside the rules: ``log_abs`` then returns None and the caller evaluates g itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from .. import primitives as P

Env = dict[str, np.ndarray]
LogFn = Callable[[Env], Any]
LN2 = float(np.log(2.0))


def _positive(expr: sp.Expr) -> bool:
    """Whether ``expr`` is > 0 for every real value of its symbols, by its structure alone."""
    if expr.is_Number:
        return bool(expr > 0)
    if isinstance(expr, (sp.exp, P.sigmoid)):
        return True
    if isinstance(expr, (sp.Mul, sp.Add)):
        return all(_positive(arg) for arg in expr.args)
    if isinstance(expr, sp.Pow):
        return expr.exp.is_Number and _positive(expr.base)
    return False


def _value(expr: sp.Expr) -> LogFn:
    """expr itself, evaluated with the stable primitives (a leaf of the log-space form)."""
    from ..activations import numpy_functions

    names = sorted(expr.free_symbols, key=lambda s: s.name)
    fn = sp.lambdify(names, expr, numpy_functions(expr))
    return lambda env: fn(*[env[s.name] for s in names])


def _one_minus_tanh(expr: sp.Expr) -> tuple[float, LogFn] | None:
    """(+1, x) for 1 − tanh(x), (−1, x) for 1 + tanh(x), else None."""
    if not isinstance(expr, sp.Add) or len(expr.args) != 2 or 1 not in expr.args:
        return None
    other = expr.args[1] if expr.args[0] == 1 else expr.args[0]
    for sign, term in ((1.0, -other), (-1.0, other)):
        if isinstance(term, (sp.tanh, P.tanh)):
            return sign, _value(term.args[0])
    return None


def log_abs(expr: sp.Expr) -> LogFn | None:
    """A function of the symbols' arrays (by name) giving ln|expr|, or None when a node of ``expr`` is
    outside the rules in the module docstring.

    Args:
        expr: an expression in real symbols.

    Returns:
        ``f(env) -> ln|expr|`` (an array, or a number for a constant), or None.
    """
    if expr.is_Number:
        constant = float(np.log(abs(float(expr)))) if expr != 0 else -np.inf
        return lambda env: constant
    if isinstance(expr, sp.Mul):
        parts = [log_abs(arg) for arg in expr.args]
        if any(p is None for p in parts):
            return None
        return lambda env: sum(p(env) for p in parts)  # type: ignore[misc]
    if isinstance(expr, sp.Pow) and expr.exp.is_Number:
        base = log_abs(expr.base)
        power = float(expr.exp)
        return None if base is None else (lambda env: power * base(env))
    if isinstance(expr, sp.exp):
        return _value(expr.args[0])
    if isinstance(expr, P.sigmoid):
        inner = _value(expr.args[0])
        return lambda env: -np.logaddexp(0.0, -np.asarray(inner(env), dtype=float))
    saturating = _one_minus_tanh(expr)
    if saturating is not None:  # 1 ∓ tanh(x) = 2σ(∓2x)
        sign, inner = saturating
        return lambda env: LN2 - np.logaddexp(0.0, sign * 2.0 * np.asarray(inner(env), dtype=float))
    if isinstance(expr, sp.Add) and all(_positive(arg) for arg in expr.args):
        terms = [log_abs(arg) for arg in expr.args]
        if any(t is None for t in terms):
            return None

        def total(env: Env) -> Any:
            out = terms[0](env)  # type: ignore[misc]
            for t in terms[1:]:
                out = np.logaddexp(out, t(env))  # type: ignore[misc]
            return out

        return total
    return None


__all__ = ["log_abs"]
