"""User text (a cell file's name and title, anything typed) made safe for where it is written.

Every character that LaTeX or matplotlib's mathtext would read as markup is written so that it prints
as itself; nothing of the user's text is ever interpreted.
"""

from __future__ import annotations

import re

LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "%": r"\%", "$": r"\$", "&": r"\&", "#": r"\#",
    "_": r"\_", "^": r"\^{}", "~": r"\~{}",
}
_LATEX = re.compile("|".join(re.escape(c) for c in LATEX_SPECIAL))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def latex_text(text: str) -> str:
    """``text`` as LaTeX text that prints literally (one pass: a replacement is never escaped again).

    Args:
        text: any string.

    Returns:
        The string with ``\\ { } % $ & # _ ^ ~`` written as LaTeX text commands and control characters
        as spaces.
    """
    return _LATEX.sub(lambda m: LATEX_SPECIAL[m.group()], _CONTROL.sub(" ", text))


def plot_text(text: str) -> str:
    """``text`` for a matplotlib label: dollar signs escaped so that no mathtext is parsed.

    Args:
        text: any string.

    Returns:
        The string with ``$`` written ``\\$`` and control characters as spaces.
    """
    return _CONTROL.sub(" ", text).replace("$", r"\$")


def docstring_text(text: str) -> str:
    """``text`` inside a generated Python docstring: backslashes doubled and quotes escaped, so that it
    can neither end the string nor start an escape sequence.

    Args:
        text: any string.

    Returns:
        The string with ``\\`` written ``\\\\``, ``"`` written ``\\"`` and control characters as spaces.
    """
    return _CONTROL.sub(" ", text).replace("\\", "\\\\").replace('"', '\\"')


ASCII = {"∂": "d", "θ": "theta", "δ": "delta", "σ": "sigma", "γ": "gamma", "ε": "eps", "ρ": "rho", "χ": "chi",
         "ξ": "xi", "ν": "nu", "λ": "lambda", "ℓ": "l", "²": "^2", "ᵀ": "^T", "·": "*", "⊙": "*", "−": "-",
         "→": "->", "≤": "<=", "≥": ">=", "≈": "~", "‖": "||", "…": "...", "′": "'", "—": "--", "–": "-"}


def verbatim_text(text: str, environment: str = "verbatim") -> str:
    """``text`` for a LaTeX ``verbatim`` environment compiled by pdflatex: ASCII only (the notation's
    symbols spelled out, any other character as <U+XXXX>) and never the environment's own end.

    Args:
        text: any string (generated code, which may quote a user's cell title).
        environment: the environment it goes in.

    Returns:
        ASCII text without ``\\end{environment}``.
    """
    out = "".join(ch if ord(ch) < 128 else ASCII.get(ch, f"<U+{ord(ch):04X}>") for ch in text)
    out = "".join(ch if ch in "\n\t" or ord(ch) >= 32 else " " for ch in out)
    return out.replace(f"\\end{{{environment}}}", f"\\end {{{environment}}}")
