"""Templates: an expression written once in placeholder symbols (a step's factor in h_t, a^f_t, …) and
instantiated at each step by putting that step's symbols in place of the placeholders, without SymPy
re-simplifying a tree that is already in canonical form."""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp


def swap(expr: sp.Basic, mapping: dict[sp.Basic, sp.Basic]) -> sp.Basic:
    """``expr`` with atoms replaced by ``mapping``, rebuilt without re-simplifying (a template already in
    canonical form only changes its step symbols, so nothing would simplify; ~10× faster than xreplace)."""
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    args = tuple(swap(arg, mapping) for arg in expr.args)
    if isinstance(expr, (sp.Add, sp.Mul)):
        return type(expr)._from_args(args)
    if type(expr) is sp.Pow:  # what Pow(b, e, evaluate=False) builds, without its constructor's cache
        power = sp.Expr.__new__(sp.Pow, *args)
        power.is_commutative = args[0].is_commutative and args[1].is_commutative
        return power
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:  # a few classes (Piecewise pairs) take no ``evaluate``
        return expr.func(*args)


def swap_builder(template: sp.Basic, symbols: tuple[sp.Basic, ...]) -> Callable[[tuple], sp.Basic]:
    """``swap`` compiled for one template: a function of the new values of ``symbols`` (in that order)
    that rebuilds only the nodes above them; the rest of the tree is shared as it is."""
    index = {sym: i for i, sym in enumerate(symbols)}

    def build(expr: sp.Basic, known: bool) -> Callable[[tuple], sp.Basic]:
        """The rebuilding function of one node; ``known``: the new values are commutative as the symbols
        they replace are, so each rebuilt node is commutative exactly when the template's node is (what
        SymPy would otherwise work out again from every node's arguments)."""
        if expr in index:
            i = index[expr]
            return lambda values: values[i]
        if not expr.args or not any(sym in index for sym in expr.free_symbols):
            return lambda values: expr
        parts = tuple(build(arg, known) for arg in expr.args)
        if isinstance(expr, (sp.Add, sp.Mul)):
            make = type(expr)._from_args
            if known:
                commutative = expr.is_commutative
                return lambda values: make(tuple(part(values) for part in parts), commutative)
            return lambda values: make(tuple(part(values) for part in parts))
        if type(expr) is sp.Pow:
            base, exponent = parts

            def power(values: tuple) -> sp.Basic:  # as in swap: Pow without its constructor
                b, e = base(values), exponent(values)
                made = sp.Expr.__new__(sp.Pow, b, e)
                made.is_commutative = b.is_commutative and e.is_commutative
                return made

            return power
        return lambda values: swap(expr, dict(zip(symbols, values, strict=True)))  # rare nodes

    general = build(template, False)
    if not all(sym.is_commutative for sym in symbols):
        return general
    fast = build(template, True)

    def instantiate(values: tuple) -> sp.Basic:
        return fast(values) if all(value.is_commutative for value in values) else general(values)

    return instantiate
