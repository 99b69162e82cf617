"""The Unicode format: SymPy's pretty printer, with the notation's spellings (h₃, a³ᶠ, W_f⁽²⁾₁₂, δₜ₋₁)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.pretty_symbology import pretty_use_unicode
from sympy.printing.pretty.stringpict import prettyForm

from .dispatch import (
    NotationPrinting,
    compound,
    delimited,
    joined,
    leading_minus,
    signed_matrix_terms,
    signed_terms,
    unsorted,
)


class UnicodePrinter(NotationPrinting, PrettyPrinter):
    """Pictures as `--format pretty` draws them (Unicode on by default)."""

    _default_settings = {**PrettyPrinter._default_settings, "use_unicode": True}

    def _print_Name(self, expr: Any) -> prettyForm:
        return prettyForm(expr.parts.unicode())

    _print_MatrixName = _print_Seq = _print_Name

    def _print_Label(self, expr: Any) -> prettyForm:
        return prettyForm(expr.spellings[1])

    def _print_MatSeq(self, expr: Any) -> prettyForm:
        return prettyForm(expr.parts.unicode() + ("ᵀ" if expr.transposed else ""))

    def _print_Dots(self, expr: Any) -> prettyForm:
        return prettyForm("⋯")

    def _print_OrderedMul(self, expr: Any) -> prettyForm:
        forms, start = [], leading_minus(expr)
        for i, arg in enumerate(expr.args[start:], start):
            form = self._print(arg)
            forms.append(prettyForm(*form.parens()) if delimited(expr, i) else form)
        out = forms[0]
        for form in forms[1:]:
            out = prettyForm(*out.right("⋅"))
            out = prettyForm(*out.right(form))
        return prettyForm(*out.left("-")) if start else out

    def _print_OrderedSum(self, expr: Any) -> prettyForm:
        out = None
        for minus, term in signed_terms(expr):
            form = self._print(term)
            if out is None:
                out = prettyForm(*form.left("-")) if minus else form
            else:
                out = prettyForm(*out.right(" - " if minus else " + "))
                out = prettyForm(*out.right(form))
        return out

    def _print_MatAdd(self, expr: Any) -> prettyForm:
        """A matrix sum on one line: each term's picture flattened (matrix terms are one line high)."""
        pieces = joined(signed_matrix_terms(expr))
        return prettyForm("".join("".join(self._print(p).picture) if not isinstance(p, str) else p for p in pieces))

    def _print_OrderedMatSum(self, expr: Any) -> prettyForm:
        out = self._print(expr.args[0])
        for arg in expr.args[1:]:
            out = prettyForm(*out.right(" + "))
            out = prettyForm(*out.right(self._print(arg)))
        return out

    def _print_Transposed(self, expr: Any) -> prettyForm:
        form = self._print(expr.args[0])
        if compound(expr.args[0]):
            form = prettyForm(*form.parens())
        return prettyForm(*form.right("ᵀ"))

    def _print_H(self, expr: Any) -> prettyForm:
        return self._print_Function(expr)

    def _print_Max(self, expr: Any) -> prettyForm:  # SymPy's pretty printer falls back to str: Max(a_2, a_2**2)
        return self._print_Function(expr, func_name="max")

    def _print_Min(self, expr: Any) -> prettyForm:
        return self._print_Function(expr, func_name="min")

    def _print_Piecewise(self, expr: Any) -> prettyForm:
        # closed by parentheses: its brace shows no end, and a factor after it joined its middle row
        # ("2 for a₁ ≤ 1⋅h₀" read as the condition a₁ ≤ h₀)
        return prettyForm(*PrettyPrinter._print_Piecewise(self, expr).parens())

    def _print_Logistic(self, expr: Any) -> prettyForm:
        inner = self._print(expr.args[0])
        return prettyForm(*prettyForm(*inner.parens()).left("sigmoid" if expr.by_name else "σ"))

    def _print_Primitive(self, expr: Any) -> prettyForm:
        return self._print(expr.shown())

    def _print_ReadingSum(self, expr: Any) -> prettyForm:
        return unsorted(self, PrettyPrinter._print_Add, expr)

    def _print_ReadingProduct(self, expr: Any) -> prettyForm:
        return unsorted(self, PrettyPrinter._print_Mul, expr)


@contextmanager
def unicode_tables() -> Iterator[None]:
    """SymPy draws some parts of a picture (a Σ's sign, tall brackets) from tables chosen by a switch of its
    own, which it sets from sys.stdout's encoding: under an ASCII stdout a Σ looked up 'sum' in the ASCII
    table and raised KeyError.  Inside this block the switch is on; after it, as it was."""
    previous = pretty_use_unicode(True)
    try:
        yield
    finally:
        pretty_use_unicode(previous)


def unicode(expr: Any, **settings: Any) -> str:
    """``expr`` as a Unicode picture (several lines for a fraction or a big operator).

    Args:
        expr: a SymPy expression, possibly holding the notation's symbols, sums and products.
        **settings: PrettyPrinter settings.

    Returns:
        The picture's lines joined by newlines.
    """
    with unicode_tables():
        return UnicodePrinter(settings).doprint(expr)
