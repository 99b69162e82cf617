"""A verify verdict as a notebook shows it: the formula typeset with the verdict, what was tested, and
the counterexample as a table (Markdown with math, which Jupyter renders before LaTeX or plain text).

The formula is the user's text: it is written only inside $$…$$ with every character that could end the
math or start HTML replaced (``$``, ``<``, ``>``, ``&``), and table cells are escaped the same way.
"""

from __future__ import annotations

from typing import Any

__all__ = ["verdict_markdown"]


def math_safe(formula: str) -> str:
    """``formula`` for a $$…$$ block of Markdown: it cannot close the block, open HTML, or break the block
    with a blank line.

    Args:
        formula: LaTeX as the user wrote it.

    Returns:
        The same mathematics (``\\$``, ``\\lt``, ``\\gt``, ``\\&`` for the characters that would escape).
    """
    swaps = {"$": r"\$", "<": r"\lt ", ">": r"\gt ", "&": r"\&"}
    out = "".join(swaps.get(ch, ch) for ch in formula)
    return "\n".join(line for line in out.splitlines() if line.strip())


def _cell(text: str) -> str:
    return "".join({"|": r"\|", "<": "&lt;", ">": "&gt;", "&": "&amp;", "\n": " "}.get(ch, ch) for ch in str(text))


def verdict_markdown(verdict: Any) -> str:
    """The verdict as Markdown: typeset formula and verdict, the test in words, the counterexample as a
    table of every symbol's value and both sides, the diagnosis and the corrected formula.

    Args:
        verdict: a check.verify.Verdict.

    Returns:
        Markdown text.
    """
    word = "equal" if verdict.equal else "differs"
    lines = [f"$$\n{math_safe(verdict.formula)}\\qquad\\text{{{word}}}\n$$", ""]
    said = verdict.text(10_000).splitlines()  # one line per statement: the first two say what and how
    lines += [_cell(said[0]) + ".", "", _cell(said[1][0].upper() + said[1][1:]) + ".", ""]
    c = verdict.counterexample
    if c:
        noun = "the gradient" if verdict.quantity.startswith("∂L") else "the Jacobian"
        lines += [f"Counterexample at T = {c['T']}:", "", "| | value |", "| --- | --- |"]
        lines += [f"| {_cell(name)} | {_cell(value)} |" for name, value in c["values"].items()]
        lines += [f"| the formula gives | {_cell(c['formula'])} |", f"| {noun} is | {_cell(c['exact'])} |", ""]
    if not verdict.equal:
        diagnosis = next((line for line in said if line.startswith("diagnosis:")), None)
        if diagnosis:
            lines += [_cell(diagnosis[0].upper() + diagnosis[1:]), ""]
    if verdict.corrected:
        lines += ["Corrected:", "", f"$$\n{math_safe(verdict.corrected)}\n$$", ""]
    return "\n".join(lines).rstrip() + "\n"
