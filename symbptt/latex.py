"""LaTeX for derivations: amsmath snippets and standalone documents."""

from __future__ import annotations

import sympy as sp

from .derive import TEX_NAMES, Derivation, Equation


def tex(expr: sp.Basic) -> str:
    """SymPy's LaTeX with our label names and factors kept in the order they were built."""
    return sp.latex(expr, order="none", symbol_names=TEX_NAMES)


def equation_line(eq: Equation) -> str:
    return f"{tex(eq.lhs)} &= {tex(eq.rhs)}"


def snippet(derivation: Derivation) -> str:
    """An align* environment, one equation per line."""
    body = " \\\\\n".join(equation_line(eq) for eq in derivation.equations)
    return f"% {derivation.title}\n\\begin{{align*}}\n{body}\n\\end{{align*}}\n"
