"""Reading order: sums and products of a cell's equations printed as a textbook writes them.

SymPy sorts the terms of a sum and the factors of a product by its own canonical key, which gives
``b + h_0 w + u x_1`` and ``c_0 f_1 + g_1 i_1``.  A lecturer writes ``w h_0 + u x_1 + b`` and
``f_1 c_0 + i_1 g_1``.  ``in_reading_order`` rebuilds an expression so that every printer (text,
Unicode, LaTeX) keeps one stated convention:

- a product: numbers, then parameters (and functions of parameters only, such as e^{−e^ν}), then the
  cell's nodes (gates, in the order the built-in cells list them: i, f, g, o, r, z, n, …), then states
  (h, c) and what holds them, then inputs x, then targets y: ``w h_{t-1}``, ``f_t c_{t-1}``,
  ``o_t tanh(c_t)``, ``z_t (u x_t + b)``;
- a sum: numbers first (``1 − h²``), then terms that carry a state, then terms of nodes only, then input
  terms, then terms of parameters alone (biases), and targets last (an expanded ``w h + u x + b − y``);
  among terms of one kind, the one with the recurrent weight before the one with the input weight; and
  no sum opens with a minus when one of its terms has none: ``w h + u x + b``,
  ``W^{(2)} h^{(2)}_{t-1} + U^{(2)} h^{(1)}_t + b^{(2)}``, ``f c + i g``, ``h_T − y``, ``n_t − h_{t-1}``.

Ties keep SymPy's order.  Only commutative (scalar) sums and products of the notation's symbols are
reordered (an index such as k + 1 stays as SymPy writes it); matrix products, and
the products and sums a form builds in time order (notation.OrderedMul, OrderedSum), are left as built.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sympy as sp

from . import notation
from .printing import Printed

NUMBER, PARAMETER, NODE, STATE, INPUT, TARGET = range(6)
SUM_RANK = {NUMBER: 0, STATE: 1, NODE: 2, INPUT: 3, PARAMETER: 4, TARGET: 5}


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[frozenset[str], frozenset[str], dict[str, int]]:
    """(state names, parameter bases, node order) read off the built-in cells."""
    from .activations import get_activation
    from .cells import MAKERS

    states: set[str] = set()
    params: set[str] = set()
    order: dict[str, int] = {}
    for make in MAKERS.values():
        cell = make(get_activation("tanh"))
        states.update(cell.states)
        for p in cell.params:
            if cell.kind(p) != "initial":
                base = p.partition("_")[0]
                params.update({base, base.lower()})
        for name, _ in cell.nodes:
            if name not in cell.states:
                order.setdefault(name, len(order))
    return frozenset(states), frozenset(params), order


def _category(symbol: sp.Basic) -> tuple[int, int]:
    """(category, node order) of one symbol of the notation; other symbols count as nodes."""
    states, params, order = _vocabulary()
    parts = symbol.parts if isinstance(symbol, (notation.Name, notation.MatrixName)) else None
    base = parts.base if parts is not None else str(symbol)
    if base in states:
        return STATE, 0
    if base == "x":
        return INPUT, 0
    if base == "y":
        return TARGET, 0
    if base in params:
        return PARAMETER, 0
    return NODE, order.get(base, len(order))


WEIGHT_ORDER = {"W": 0, "w": 0, "U": 1, "u": 1}  # recurrent weight, input weight, then the rest


def _weight(symbols: set[sp.Basic]) -> int:
    """Which weight a term with these free symbols carries: the recurrent one (W h_{t-1}) before the input
    one (U x_t, or U h from the layer below), others (biases) after."""
    bases = [s.parts.base for s in symbols if isinstance(s, notation.Name) and _category(s)[0] == PARAMETER]
    return min((WEIGHT_ORDER.get(b, 2) for b in bases), default=3)


def _rank(symbols: set[sp.Basic]) -> tuple[int, int]:
    """The category of an expression with these free symbols: that of its most dynamic symbol (NUMBER
    for none)."""
    ranks = [_category(s) for s in symbols]
    if not ranks:
        return NUMBER, 0
    top = max(c for c, _ in ranks)
    return top, min(i for c, i in ranks if c == top)


def _plain(symbols: list[set[sp.Basic]]) -> bool:
    """Whether a scalar sum or product, its arguments' free symbols given, holds one of the notation's
    symbols (an index such as k + 1 is left as SymPy has it)."""
    return any(isinstance(s, notation.Name) for arg in symbols for s in arg)


def in_reading_order(expr: Any) -> Any:
    """``expr`` with every scalar sum and product (at any depth) rebuilt unevaluated in reading order
    (see the module docstring); anything else unchanged."""
    if not isinstance(expr, sp.Basic) or expr.is_Atom or isinstance(expr, sp.MatrixBase):
        return expr
    return _reordered(expr)


@lru_cache(maxsize=8192)
def _reordered(expr: sp.Basic) -> sp.Basic:
    """in_reading_order of one expression (cached: the factors of step t and t + 1 recur in every form)."""
    args = [in_reading_order(a) for a in expr.args]
    # the free symbols of each argument, walked once (SymPy walks the tree again on every call)
    symbols = [a.free_symbols for a in args] if type(expr) in (sp.Add, sp.Mul) and expr.is_commutative else []
    if symbols and _plain(symbols):
        ranks = [_rank(s) for s in symbols]
        if type(expr) is sp.Add:
            order = sorted(range(len(args)), key=lambda i: (SUM_RANK[ranks[i][0]], _weight(symbols[i]), ranks[i][1], i))
            terms = [args[i] for i in order]
            first = next((i for i, a in enumerate(terms) if not a.could_extract_minus_sign()), 0)
            if first:  # a sum does not open with a minus when a term without one can: n_t − h_{t-1}
                terms.insert(0, terms.pop(first))
            return ReadingSum._from_args(tuple(terms))
        return ReadingProduct._from_args(tuple(args[i] for i in sorted(range(len(args)), key=lambda i: (ranks[i], i))))
    if all(a is b for a, b in zip(args, expr.args, strict=True)):
        return expr
    if isinstance(expr, (notation.OrderedMul, notation.OrderedSum)):  # built in time order: kept
        return expr.func._from_args(tuple(args))
    if isinstance(expr, (sp.Sum, sp.Product)):  # their constructors fold a Piecewise body: keep it as built
        made = sp.Expr.__new__(type(expr), *args)
        made.is_commutative = args[0].is_commutative
        return made
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:
        return expr.func(*args)


class ReadingSum(Printed, sp.Add):
    """A sum printed in the order its terms hold (reading order): every printer of printing/ prints it
    with SymPy's own Add printer and its term order off."""

    printed_as = "ReadingSum"


class ReadingProduct(Printed, sp.Mul):
    """A product printed in the order its factors hold (reading order), likewise."""

    printed_as = "ReadingProduct"
