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
