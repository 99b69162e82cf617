"""SymPy's LaTeX parser, driven the fast way ANTLR documents: SLL prediction first, full LL on failure.

``sympy.parsing.latex.parse_latex`` runs its ANTLR parser in full-context (LL) prediction mode.  On the
formulas this project prints, most of the parse time goes to full-context prediction, which ANTLR does not
cache.  ANTLR's SLL mode ignores the parser's call stack when it predicts; its documented contract is
that it either returns the same parse tree LL would, or reports a syntax error (for a real error, or for
an input that needs LL's extra power).  So this module parses with SLL and, on any error, hands the text
to SymPy's own ``parse_latex`` unchanged, whose answer (a tree or its error) is then the answer.

The grammar, the lexer, the error messages and the conversion of the tree to SymPy objects are SymPy's;
only the prediction mode differs.  If SymPy's internal modules move, the fast path is skipped and every
text goes to ``parse_latex``.  The tests compare both paths on every formula the reader meets.
"""

from __future__ import annotations

from typing import Any

import sympy as sp


def _fast_parser() -> Any:
    """A function parsing in SLL mode, or None when SymPy's internals are not where they were."""
    try:
        import antlr4
        from antlr4.atn.PredictionMode import PredictionMode
        from sympy.parsing.latex import _parse_latex_antlr as antlr_parse
        from sympy.parsing.latex._antlr.latexlexer import LaTeXLexer
        from sympy.parsing.latex._antlr.latexparser import LaTeXParser

        listener, convert = antlr_parse.MathErrorListener, antlr_parse.convert_relation
    except (ImportError, AttributeError):  # pragma: no cover - a SymPy without these modules
        return None

    def parse(text: str) -> sp.Basic:
        text = text.strip()
        errors = listener(text)
        lexer = LaTeXLexer(antlr4.InputStream(text))
        lexer.removeErrorListeners()
        lexer.addErrorListener(errors)
        parser = LaTeXParser(antlr4.CommonTokenStream(lexer))
        parser._interp.predictionMode = PredictionMode.SLL
        parser.removeErrorListeners()
        parser.addErrorListener(errors)
        return convert(parser.math().relation())

    return parse


_SLL = _fast_parser()


def parse_latex(text: str, *, fast: bool = True) -> sp.Basic:
    """The SymPy expression SymPy's LaTeX parser reads from ``text``.

    Args:
        text: LaTeX of one expression or relation.
        fast: try ANTLR's SLL prediction first (the same tree or an error, by ANTLR's contract); False
            goes straight to ``sympy.parsing.latex.parse_latex``.

    Returns:
        The unevaluated SymPy expression, exactly as ``sympy.parsing.latex.parse_latex(text)`` gives it.

    Raises:
        LaTeXParsingError, TypeError, ValueError: whatever ``sympy.parsing.latex.parse_latex`` raises.
    """
    from sympy.parsing.latex import parse_latex as sympy_parse_latex

    if fast and _SLL is not None:
        try:
            return _SLL(text)
        except Exception:  # noqa: BLE001 - any failure of the fast path: SymPy's own parse decides
            pass
    return sympy_parse_latex(text)
