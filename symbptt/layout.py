"""The layout of an equation, decided once for every format: which terms it has, in the order the form
built them, with which sign, and how each may be broken across lines.

    lhs = t₁ + t₂ − t₃        Layout(lhs, terms = (Term('', t₁), Term('+', t₂), Term('-', t₃)))

A term is a *product* (broken between its factors when a line is full), an explicit *matrix*, or an
*atom* (printed whole).  A product that starts with −1 is written as its sign and the rest of the
product in built order: "− h_2 ⋯", never "(−1)·h_2 ⋯".  A sum of exactly two terms is a *pair*: a
format may keep it on one line when both fit (δ_T = h_T − y, J_t δ_t + F_t δ_t); longer sums keep one
path per line when they wrap.

render.py (text, Unicode) and latex.py (LaTeX) render a Layout; none of them decides signs, terms or
pairs for itself.  This module is beside them rather than in printing/ because it reads the form's
own sums (derivation.LazySum, TermSum), which printing/ does not import.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import sympy as sp

from . import notation
from .symbolic.derivation import Equation, LazySum, MatTermSum, TermSum

PRODUCT, MATRIX, ATOM = "product", "matrix", "atom"


def summands(expr: sp.Basic) -> Iterator[sp.Basic]:
    """The terms of a top-level sum in the order they were built (one term for anything else); a long
    lazy sum yields its terms as they are made."""
    if isinstance(expr, LazySum):
        return expr.terms()
    return iter(expr.args if isinstance(expr, (TermSum, MatTermSum)) else (expr,))


def is_sum(expr: sp.Basic) -> bool:
    """A sum of paths or steps as the form built it (not a SymPy Add inside a factor)."""
    return isinstance(expr, (TermSum, MatTermSum, LazySum))


def factors_of(expr: sp.Basic) -> tuple[sp.Basic, ...]:
    """The factors of a product in the order they were built (one factor for anything else)."""
    return expr.args if isinstance(expr, (sp.Mul, sp.MatMul)) else (expr,)


def is_matrix(expr: sp.Basic) -> bool:
    return isinstance(expr, (sp.MatrixExpr, sp.MatrixBase))


@dataclass(frozen=True)
class Term:
    """One term: its sign ('' for a first term that is not negative, else '+' or '-'), the term without
    a leading −1, and how it may be broken (PRODUCT, MATRIX or ATOM)."""

    sign: str
    body: sp.Basic
    kind: str


def term(expr: sp.Basic, i: int) -> Term:
    """The ``i``-th term of a sum (0: the first) as it is written."""
    sign = "+" if i else ""
    if isinstance(expr, sp.Mul) and len(expr.args) > 1 and expr.args[0] is sp.S.NegativeOne:
        rest = expr.args[1:]
        sign, expr = "-", rest[0] if len(rest) == 1 else type(expr)._from_args(rest)
    if isinstance(expr, (sp.Mul, sp.MatMul, sp.Transpose)):
        return Term(sign, expr, PRODUCT)
    return Term(sign, expr, MATRIX if isinstance(expr, sp.MatrixBase) else ATOM)


@dataclass(frozen=True)
class Layout:
    """An equation as every format lays it out: the left-hand side, its terms (streamed for a long
    form), whether the right-hand side is a sum and whether it is a pair."""

    lhs: sp.Basic
    rhs: sp.Basic
    several: bool
    pair: bool

    def terms(self) -> Iterator[Term]:
        """The terms in built order with their signs (made as they are read: a long form streams)."""
        return (term(t, i) for i, t in enumerate(summands(self.rhs)))


def layout(eq: Equation) -> Layout:
    """The layout of one equation."""
    several = is_sum(eq.rhs)
    pair = several and not isinstance(eq.rhs, LazySum) and len(eq.rhs.args) == 2
    return Layout(eq.lhs, eq.rhs, several, pair)


def column_entries(eq: Equation) -> list[Equation] | None:
    """h_t = [entries] (a column of two or more entries, each named by a symbol) as one equation per entry,
    h_{t,1} = …, h_{t,2} = …: what a printer writes where the column is too wide to keep to the line or
    page, since a matrix's entries cannot be broken and an equation's can.  None for any other equation."""
    lhs, rhs = eq.lhs, eq.rhs
    if not (isinstance(lhs, sp.MatrixBase) and isinstance(rhs, sp.MatrixBase)) or lhs.shape != rhs.shape \
            or lhs.shape[1] != 1 or lhs.shape[0] < 2 or not all(isinstance(s, sp.Symbol) for s in lhs):
        return None
    return [Equation(s, v) for s, v in zip(lhs, rhs, strict=True)]


def matrix_entries(eq: Equation) -> list[Equation] | None:
    """A column as ``column_entries`` gives it; a named matrix written out (J^hh_1 = [entries], two or
    more) as one equation per entry, named as the notation names an entry of a step's vector (h_{0,1}):
    J^hh_{1,1,2} = …, row then column.  None for any other equation."""
    entries = column_entries(eq)
    lhs, rhs = eq.lhs, eq.rhs
    if entries is not None or not isinstance(lhs, notation.MatrixName) or not isinstance(rhs, sp.MatrixBase) \
            or rhs.shape != lhs.shape or len(rhs) < 2:
        return entries
    parts, make = lhs.parts, (notation.ParamName if isinstance(lhs, notation.ParamMatrixName) else notation.Name)
    rows, cols = rhs.shape
    return [Equation(make.of_parts(replace(parts, unit=(i + 1,) if cols == 1 else (i + 1, j + 1)).text()),
                     rhs[i, j]) for i in range(rows) for j in range(cols)]


__all__ = ["ATOM", "MATRIX", "PRODUCT", "Layout", "Term", "column_entries", "factors_of", "is_matrix", "is_sum",
           "layout", "matrix_entries", "summands", "term"]
