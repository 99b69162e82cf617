"""The text format: SymPy's str, with the notation's spellings (h_3, a^f_3, W_f^(2)[1,2], delta_(t-1))."""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from .dispatch import (
    NotationPrinting,
    WrittenSums,
    compound,
    delimited,
    leading_minus,
    unsorted,
)


class TextPrinter(NotationPrinting, WrittenSums, StrPrinter):
    """Text as `--format text` prints it.  Setting ``numpy_operators``: matrix products as A@B and the
    transpose as A.T at the tightest precedence (what the printed forms and generated code use)."""

    _default_settings = {**StrPrinter._default_settings, "numpy_operators": False}

    def _print_Name(self, expr: Any) -> str:
        return expr.name

    _print_MatrixName = _print_Label = _print_Name

    def _print_Seq(self, expr: Any) -> str:
        return expr.parts.text()

    def _print_MatSeq(self, expr: Any) -> str:
        return expr.parts.text() + (".T" if expr.transposed else "")

    def _print_Dots(self, expr: Any) -> str:
        return "..."

    def _print_OrderedMul(self, expr: Any) -> str:
        start = leading_minus(expr)
        return "-" * start + "*".join(f"({self._print(arg)})" if delimited(expr, i, big=False) else self._print(arg)
                                      for i, arg in enumerate(expr.args) if i >= start)

    def _print_Transposed(self, expr: Any) -> str:
        inner = self._print(expr.args[0])
        return f"({inner}).T" if compound(expr.args[0]) else f"{inner}.T"

    def _print_H(self, expr: Any) -> str:
        return f"H({self._print(expr.args[0])})"

    def _print_Logistic(self, expr: Any) -> str:
        return f"sigmoid({self._print(expr.args[0])})"

    def _print_Primitive(self, expr: Any) -> str:
        return self._print(expr.shown())

    def _print_ReadingSum(self, expr: Any) -> str:
        return unsorted(self, StrPrinter._print_Add, expr)

    def _print_ReadingProduct(self, expr: Any) -> str:
        return unsorted(self, StrPrinter._print_Mul, expr)

    def _print_MatMul(self, expr: sp.MatMul) -> str:
        if not self._settings["numpy_operators"]:
            return super()._print_MatMul(expr)
        return "@".join(self.parenthesize(a, PRECEDENCE["Mul"]) for a in expr.args)

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        if not self._settings["numpy_operators"]:
            return super()._print_Transpose(expr)
        return f"{self.parenthesize(expr.arg, PRECEDENCE['Atom'])}.T"


def text(expr: Any, **settings: Any) -> str:
    """``expr`` as text (settings as SymPy's ``sstr`` takes them, and ``numpy_operators``).

    Args:
        expr: a SymPy expression, possibly holding the notation's symbols, sums and products.
        **settings: printer settings.

    Returns:
        One line of text.
    """
    return TextPrinter(settings).doprint(expr)
