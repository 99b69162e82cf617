"""Plain-text and Unicode rendering of a Derivation (LaTeX lives in latex.py)."""

from __future__ import annotations

import sympy as sp
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm

from .derive import Derivation, Equation

FORMATS = ("pretty", "text", "latex")


def text_equation(eq: Equation) -> str:
    """One line: lhs = rhs, factors in the order the form built them."""
    return f"{sp.sstr(eq.lhs, order='none')} = {sp.sstr(eq.rhs, order='none')}"


def summands(expr: sp.Basic) -> tuple[sp.Basic, ...]:
    """The terms of a top-level sum in the order they were built (one term for anything else)."""
    return expr.args if isinstance(expr, (sp.Add, sp.MatAdd)) else (expr,)


def pretty_equation(eq: Equation, width: int = 100) -> str:
    """SymPy's 2-D Unicode picture of lhs = rhs, one term of a sum per block: lhs = t1 / + t2 / + t3."""
    printer = PrettyPrinter({"use_unicode": True, "order": "none", "num_columns": width})
    lhs = printer._print(eq.lhs)
    pad = " " * lhs.width()
    blocks = []
    for i, term in enumerate(summands(eq.rhs)):
        head = prettyForm(*lhs.right(" = ")) if i == 0 else prettyForm(pad + " + ")
        form = printer._print(term)
        if i > 0 and isinstance(term, sp.Mul) and term.args and term.args[0] == -1:
            head, form = prettyForm(pad + " - "), printer._print(-term)
        joined = prettyForm(*head.right(form))
        blocks.append(joined.render(wrap_line=True, num_columns=width, use_unicode=True))
    return "\n".join(blocks)


def render_text(derivation: Derivation, pretty: bool = False) -> str:
    """The title, one equation per line (pretty: one block per equation), then the notes."""
    lines = [f"# {derivation.title}"]
    for eq in derivation.equations:
        lines.append(pretty_equation(eq) if pretty else text_equation(eq))
    lines.extend(f"# {note}" for note in derivation.notes)
    return "\n".join(lines) + "\n"
