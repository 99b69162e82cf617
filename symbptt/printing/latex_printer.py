"""The LaTeX format: SymPy's LaTeX, with the notation's spellings (h_{3}, a^{f}_{3}, W^{(2)}_{f,12},
\\delta_{t-1}), the transpose as ^{\\top}, and products side by side as in print."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sympy import Function, Pow, Symbol
from sympy.printing.latex import LatexPrinter as SympyLatexPrinter

from .dispatch import (
    NotationPrinting,
    WrittenSums,
    compound,
    delimited,
    leading_minus,
    unsorted,
)


def factor_joint(left: str, right: str) -> str:
    """What goes between two LaTeX factors of a product: a space, as in print (w h_{t-1}), or a \\cdot
    between two numbers (juxtaposed they read as one number) and before a ∑ or a ∏ (neither shows where
    it ends, so nothing may seem to run into it; a cases block is closed by its own parentheses)."""
    apart = (left[-1:].isdigit() and right[:1].isdigit()) or right.startswith((r"\sum", r"\prod"))
    return r" \cdot " if apart else " "


CALL = re.compile(r"\\[A-Za-z]+(?:\^\{[^{}]*\})?\{\\left\(.*\\right\)\}")  # \tanh{\left(c\right)}, \cos^{2}{…}


def braced_call(text: str) -> str:
    """A function written as a command, \\tanh{\\left(c\\right)}, in braces: another factor after it is then
    not read as part of its argument (SymPy's LaTeX parser reads \\tanh{(c)} x as tanh(c·x)); the braces do
    not show.  Any other factor as it is."""
    return f"{{{text}}}" if CALL.fullmatch(text) else text


def side_by_side(parts: list[str]) -> str:
    """LaTeX factors of a product written side by side, as in print: w h_{t-1}, (h_T - y) w (1 - h_T^2),
    joined as factor_joint says; a function call that another factor follows in braces (braced_call)."""
    parts = [braced_call(p) for p in parts[:-1]] + parts[-1:]
    out = parts[0] if parts else ""
    for left, right in zip(parts, parts[1:], strict=False):
        out += factor_joint(left, right) + right
    return out


def _called(expr: Any) -> bool:
    """Whether a factor is a function application (tanh(c), or tanh(c)² printed \\tanh^{2}{…})."""
    return isinstance(expr.base if isinstance(expr, Pow) else expr, Function)


class LatexPrinter(NotationPrinting, WrittenSums, SympyLatexPrinter):
    """LaTeX as the snippets, documents and notebook print it."""

    def _print_Name(self, expr: Any) -> str:
        return expr.parts.latex()

    _print_MatrixName = _print_Name

    def _print_Label(self, expr: Any) -> str:
        return expr.spellings[0]

    def _print_Seq(self, expr: Any, exp: str | None = None) -> str:
        text = expr.parts.latex()
        return f"{text}^{{{exp}}}" if exp else text

    def _print_MatSeq(self, expr: Any) -> str:
        text = expr.parts.latex()
        return f"{{{text}}}^{{\\top}}" if expr.transposed else text

    def _print_Dots(self, expr: Any) -> str:
        return r"\cdots"

    def _print_OrderedMul(self, expr: Any) -> str:
        start = leading_minus(expr)
        return "-" * start + side_by_side([rf"\left({self._print(arg)}\right)" if delimited(expr, i)
                                           else self._print(arg) for i, arg in enumerate(expr.args) if i >= start])

    def _print_Transposed(self, expr: Any) -> str:
        inner = self._print(expr.args[0])
        return rf"\left({inner}\right)^{{\top}}" if compound(expr.args[0]) else f"{{{inner}}}^{{\\top}}"

    def _print_H(self, expr: Any) -> str:
        return rf"H\left({self._print(expr.args[0])}\right)"

    def _print_Piecewise(self, expr: Any) -> str:
        # closed by parentheses: a cases block shows no end, and "\cdot h_{k-1}" after it was set beside its
        # middle row, where it read as part of the condition (a_k ≤ 1 · h_{k-1})
        return rf"\left({SympyLatexPrinter._print_Piecewise(self, expr)}\right)"

    def _print_Logistic(self, expr: Any, exp: str | None = None) -> str:
        name = r"\operatorname{sigmoid}" if expr.by_name else r"\sigma"
        text = rf"{name}\left({self._print(expr.args[0])}\right)"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_Primitive(self, expr: Any, exp: str | None = None) -> str:
        text = self._print(expr.shown())
        return rf"\left({text}\right)^{{{exp}}}" if exp else text

    def _print_ReadingSum(self, expr: Any) -> str:
        return unsorted(self, SympyLatexPrinter._print_Add, expr)

    def _print_ReadingProduct(self, expr: Any) -> str:
        # a function call another factor follows is printed in braces (braced_call): SymPy's product printer
        # is run with a placeholder symbol in its place, whose printed name is then swapped for the call
        printed = {i: self._print(arg) for i, arg in enumerate(expr.args[:-1]) if _called(arg)}
        calls = {i: f"{{{text}}}" for i, text in printed.items() if CALL.fullmatch(text)}
        if not calls:
            return unsorted(self, SympyLatexPrinter._print_Mul, expr)
        stand = {i: Symbol(f"BracedCall{'I' * (i + 1)}", commutative=expr.args[i].is_commutative) for i in calls}
        product = type(expr)._from_args(tuple(stand.get(i, arg) for i, arg in enumerate(expr.args)))
        text = unsorted(self, SympyLatexPrinter._print_Mul, product)
        for i in sorted(calls, reverse=True):  # the longest name first: BracedCallI is BracedCallII's prefix
            text = text.replace(self._print(stand[i]), calls[i], 1)
        return text


def latex(expr: Any, **settings: Any) -> str:
    """``expr`` in LaTeX (settings as SymPy's ``latex`` takes them, e.g. mat_symbol_style="plain").

    Args:
        expr: a SymPy expression, possibly holding the notation's symbols, sums and products.
        **settings: printer settings.

    Returns:
        The LaTeX source, without math delimiters.
    """
    try:
        printer = _kept_printer(tuple(sorted(settings.items())))
    except TypeError:  # a setting that cannot be a key (a dict of symbol names): a printer of its own
        printer = LatexPrinter(settings)
    if printer._print_level:  # the kept one is printing (a call from inside one of its methods)
        printer = LatexPrinter(settings)
    return printer.doprint(expr)


@lru_cache(maxsize=64)
def _kept_printer(settings: tuple) -> LatexPrinter:
    """One printer per settings, made once: SymPy's LatexPrinter reads its settings when made (about a
    third of the time a leaf such as h_{3} takes to print), and holds nothing between two doprint calls."""
    return LatexPrinter(dict(settings))
