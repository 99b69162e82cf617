"""The dispatch every printer of the notation shares, and the facts of a product or sum it prints."""

from __future__ import annotations

from typing import Any

import sympy as sp


class NotationPrinting:
    """Mixin for a SymPy printer: an object whose class states ``printed_as = "Kind"`` is printed by the
    printer's ``_print_Kind`` when it has one, anything else by SymPy's own dispatch."""

    def _print(self, expr: Any, **kwargs: Any) -> Any:
        kind = getattr(type(expr), "printed_as", None)
        if kind is not None:
            method = getattr(self, f"_print_{kind}", None)
            if method is not None:
                return method(expr, **kwargs)
        return super()._print(expr, **kwargs)  # type: ignore[misc]


class WrittenSums:
    """Mixin for the printers that write strings (text, LaTeX): sums spelled alike, term by term in the
    order they hold, a negative term after " - " and never as "+ -".  (The methods use nothing but
    ``_print``: the hooks of hooks.Printed run them with SymPy's own printer as ``self``.)"""

    def _print_OrderedSum(self, expr: Any) -> str:
        return written(self, joined(signed_terms(expr)))

    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        return written(self, joined(signed_matrix_terms(expr)))

    def _print_OrderedMatSum(self, expr: Any) -> str:
        return " + ".join(self._print(a) for a in expr.args)  # type: ignore[attr-defined]


def written(printer: Any, parts: list[Any]) -> str:
    """The pieces of ``joined`` as one string: operators as they are, terms through the printer."""
    return "".join(p if isinstance(p, str) else printer._print(p) for p in parts)


def negative(arg: sp.Basic) -> bool:
    """A factor printed with a leading minus: a negative number, or a product that starts with one (−1, −1/2)."""
    return bool((arg.is_Number and arg.is_negative)
                or (isinstance(arg, sp.Mul) and arg.args and arg.args[0].is_Number and arg.args[0].is_negative))


def delimited(product: sp.Basic, i: int, big: bool = True) -> bool:
    """Whether factor ``i`` of a product kept in built order is printed in parentheses: a sum, a negative
    factor after the first (x·(−y), never x·−y), and (``big``: where a big operator is drawn, not spelled
    as a call) a ∑ or ∏ that other factors follow — read the usual way, a big operator reaches to the end
    of its term."""
    arg = product.args[i]
    return (isinstance(arg, sp.Add) or (i > 0 and negative(arg))
            or (big and isinstance(arg, (sp.Sum, sp.Product)) and i < len(product.args) - 1))


def leading_minus(product: sp.Basic) -> int:
    """1 when the product is −1 times other factors (printed −x·y, not (−1)·x·y), else 0."""
    return 1 if len(product.args) > 1 and product.args[0] == -1 else 0


def signed_terms(expr: sp.Basic) -> list[tuple[bool, sp.Basic]]:
    """The terms of a sum kept in built order as (printed with a minus, the term without it)."""
    out = []
    for arg in expr.args:
        minus = isinstance(arg, sp.Mul) and bool(arg.args) and arg.args[0] == -1
        out.append((minus, -arg if minus else arg))
    return out


def signed_matrix_terms(expr: sp.MatAdd) -> list[tuple[bool, sp.Basic]]:
    """The terms of a matrix sum as (printed with a minus, the term without its −1): A − J δ, never
    A + (−1) J δ."""
    out = []
    for arg in expr.args:
        minus = isinstance(arg, sp.MatMul) and bool(arg.args) and arg.args[0] == -1
        out.append((minus, (sp.MatMul(*arg.args[1:]) if len(arg.args) > 2 else arg.args[1]) if minus else arg))
    return out


def joined(parts: list[tuple[bool, Any]], plus: str = " + ", minus: str = " - ") -> list[Any]:
    """The pieces of a sum written out: the first term (with a leading "-" when negative), then the
    operator and the term of each other one."""
    out: list[Any] = []
    for i, (negative, body) in enumerate(parts):
        out += [minus if negative else plus, body] if i else (["-", body] if negative else [body])
    return out


def unsorted(printer: Any, method: Any, expr: sp.Basic) -> Any:
    """Print with SymPy's ``method`` and the printer's term order off, so that the order the arguments
    hold is kept (a sum or product already put in reading order)."""
    saved = printer._settings.get("order")
    printer._settings["order"] = "none"
    try:
        return method(printer, expr)
    finally:
        printer._settings["order"] = saved


def compound(expr: sp.Basic) -> bool:
    """A sum or product: bracketed under a transpose."""
    return isinstance(expr, (sp.MatMul, sp.MatAdd, sp.Mul, sp.Add))
