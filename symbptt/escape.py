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


def latex_text(text: str) -> str:
    """``text`` as LaTeX text that prints literally (one pass: a replacement is never escaped again).

    Args:
        text: any string.

    Returns:
        The string with ``\\ { } % $ & # _ ^ ~`` written as LaTeX text commands and control characters
        as spaces.
    """
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text)
    return _LATEX.sub(lambda m: LATEX_SPECIAL[m.group()], text)


def plot_text(text: str) -> str:
    """``text`` for a matplotlib label: dollar signs escaped so that no mathtext is parsed.

    Args:
        text: any string.

    Returns:
        The string with ``$`` written ``\\$`` and control characters as spaces.
    """
    return re.sub(r"[\x00-\x1f\x7f]", " ", text).replace("$", r"\$")
