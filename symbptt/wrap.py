"""Sentences wrapped for a terminal or a figure without breaking a relation: "T = 3", "σ_w = 1.5" and
"γσ_max < 1" stay on one line, as a reader takes each for one word.

textwrap breaks at any space; here the spaces around each " = " (and " < ", " > ", " ≤ ", " ≥ ",
" ≈ ", " ≠ ", and the one after "½" in "½ ln χ") are swapped for a character that is not
in the text and that textwrap does not break at (it breaks only at ASCII whitespace), and given back
after, so a line may end before "T = 3" or after it, never at "T =".  Everything else is textwrap's,
except that a word is never broken at its hyphens (−0.89, 10^-4.64); a word longer than a whole line is
still cut, so that no line is wider than asked.
"""

from __future__ import annotations

import textwrap

_MARKS = "\ue000\ue001\ue002\u00a0"  # private-use characters (then a no-break space) to stand for a kept space


_RELATIONS = "=<>≤≥≈≠"


def wrap(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> list[str]:
    """The lines of ``text`` at most ``width`` columns wide, no line broken inside "name = value" (or another
    relation).

    Args:
        text: one paragraph (newlines are treated as spaces, as textwrap does).
        width: the most columns a line takes, its indent included.
        initial_indent: put before the first line.
        subsequent_indent: put before every other line.

    Returns:
        The lines, without newlines.
    """
    mark = next((m for m in _MARKS if m not in text), None)
    kept = text
    if mark is not None:
        for relation in _RELATIONS:
            kept = kept.replace(f" {relation} ", f"{mark}{relation}{mark}")
        kept = kept.replace("½ ", f"½{mark}")  # ½ ln χ: a coefficient and what it multiplies
    lines = textwrap.wrap(kept, width, initial_indent=initial_indent, subsequent_indent=subsequent_indent,
                          break_on_hyphens=False)
    return lines if mark is None else [line.replace(mark, " ") for line in lines]


def fill(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> str:
    """``wrap``'s lines joined by newlines.

    Args:
        text: one paragraph.
        width: the most columns a line takes.
        initial_indent: put before the first line.
        subsequent_indent: put before every other line.

    Returns:
        The paragraph on as many lines as it needs.
    """
    return "\n".join(wrap(text, width, initial_indent, subsequent_indent))


__all__ = ["fill", "wrap"]
