"""Where a printed expression too wide for the width may be broken: a line of text, or a Unicode picture.

A form's sums and products are broken by the layout (render.py), term by term and factor by factor.  What
the layout takes whole — a cell file's coefficient, a nested activation — is printed by SymPy in one
piece, and may be wider than the terminal.  Such a piece is cut here, after it was printed, so that what
SymPy drew is kept character for character:

- a break comes before a binary operator: `` + `` or `` - `` (and ``*`` or ``@`` in text, ``⋅`` in a
  picture, not ``**``), so the continued line opens with the operator, as a wrapped product already does;
  or after the comma between two arguments (of a call, a Sum's limits, a Piecewise's pairs);
- in a picture, the operator stands on the baseline with nothing above or below it, so no fraction, power
  or tall bracket is cut through, and never inside a matrix's brackets (its columns would part);
- a break outside every bracket is taken before one inside, and at one depth a break between terms before
  one between factors, as long as the line it ends is at least half full; else the line is filled.  So
  a bracket is left open at a line's end (and closed on a line after it: one expression continued, as a
  written derivation breaks a long one) only where a break outside it would leave the line half empty.

Joined again — text lines with one space, picture pieces side by side on their baselines — the pieces
are what was printed.  A piece with no break that fits stays wider than the width.
"""

from __future__ import annotations

OPENING = "([{⎛⎜⎝⎡⎢⎣⎧⎨⎩"
CLOSING = ")]}⎞⎟⎠⎤⎥⎦⎫⎬⎭"
MATRIX_OPENING, MATRIX_CLOSING = "[⎡⎢⎣", "]⎤⎥⎦"  # a picture's matrix: never cut (its columns would part)
SUMS = ("+", "-")
Break = tuple[int, int]  # (index at which the continued piece starts, rank: 2 × brackets open, + 1 at a product)


def text_breaks(line: str) -> list[Break]:
    """Where a line of text may continue on the next one: before the operator of `` + ``/`` - `` (the
    space before it is dropped), after the space of ``, ``, and before a ``@`` or a ``*`` that is not half
    of ``**``.

    Args:
        line: one printed expression (SymPy's str: spaces around + and −, none around * and **).

    Returns:
        (index, rank) pairs in order: the continued piece starts at ``line[index]``; the rank is twice the
        brackets open there, one more before a product's operator.
    """
    out: list[Break] = []
    depth = 0
    for i, ch in enumerate(line):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in SUMS and 0 < i < len(line) - 1 and line[i - 1] == " " and line[i + 1] == " ":
            out.append((i, 2 * depth))
        elif ch == "," and line[i + 1:i + 2] == " " and i + 2 < len(line):
            out.append((i + 2, 2 * depth))
        elif (ch == "*" and i and line[i - 1] != "*" and line[i + 1:i + 2] != "*") or (ch == "@" and i):
            out.append((i, 2 * depth + 1))
    return out


def cut_text(line: str, first: int, rest: int) -> list[str]:
    """A line of text in pieces: the first at most ``first`` characters, each other at most ``rest``.

    Args:
        line: the printed expression.
        first: room on the line where it starts.
        rest: room on each continued line.

    Returns:
        The pieces, without the space at a break; joined with single spaces they read as ``line`` (a
        space stands before a continued ``*``).
    """
    starts = _choose(text_breaks(line), len(line), first, rest)
    bounds = [0, *starts, len(line)]
    return [line[a:b].rstrip() for a, b in zip(bounds, bounds[1:], strict=False)]


def picture_breaks(lines: list[str], baseline: int) -> list[Break]:
    """Where a picture may be cut into pieces placed one under the other: before a `` + ``/`` - `` or a
    ``⋅``, or after a ``, ``, on the baseline with only blanks above and below it, outside every matrix.

    Args:
        lines: the picture's rows, all of one width.
        baseline: the row its operators stand on.

    Returns:
        (column, rank) pairs in order, ranked as text_breaks ranks them.
    """
    if not lines:
        return []
    row, width = lines[baseline], len(lines[0])
    others = [line for k, line in enumerate(lines) if k != baseline]
    depth, matrices, out = 0, 0, []
    for c in range(width):
        depth += _runs(lines, c, OPENING)
        matrices += _runs(lines, c, MATRIX_OPENING)
        ch = row[c]
        if ch in SUMS and 0 < c < width - 1 and row[c - 1] == " " and row[c + 1] == " ":
            span, rank = range(c - 1, c + 2), 2 * depth
        elif ch == "," and c + 2 < width and row[c + 1] == " ":  # the piece after it starts at c + 2
            span, rank = range(c, c + 2), 2 * depth
        elif ch == "⋅" and 0 < c < width - 1:
            span, rank = range(c, c + 1), 2 * depth + 1
        else:
            span, rank = range(0), -1
        if rank >= 0 and not matrices and all(line[k] == " " for line in others for k in span):
            out.append((c + 2 if ch == "," else c, rank))
        depth -= _runs(lines, c, CLOSING)
        matrices -= _runs(lines, c, MATRIX_CLOSING)
    return out


def _runs(lines: list[str], c: int, glyphs: str) -> int:
    """How many brackets of ``glyphs`` column ``c`` holds: a tall bracket is one run of rows."""
    count, inside = 0, False
    for line in lines:
        here = line[c] in glyphs
        if here and not inside:
            count += 1
        inside = here
    return count


def cut_picture(lines: list[str], baseline: int, first: int, rest: int) -> list[tuple[list[str], int]]:
    """A picture in pieces to be placed one under the other: the first at most ``first`` columns wide,
    each other at most ``rest``.

    Args:
        lines: the picture's rows, all of one width.
        baseline: the row of its operators.
        first: room beside what precedes the picture.
        rest: room on each continued row.

    Returns:
        (rows, baseline) of each piece: its columns of the picture (the blank before an operator ends the
        piece before it), without the rows blank across the piece above and below it.
    """
    width = len(lines[0]) if lines else 0
    starts = _choose(picture_breaks(lines, baseline), width, first, rest)
    bounds = [0, *starts, width]
    pieces = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        rows = [line[a:b] for line in lines]
        top = next(k for k in range(len(rows)) if rows[k].strip() or k == baseline)
        bottom = max(k for k in range(len(rows)) if rows[k].strip() or k == baseline)
        pieces.append((rows[top:bottom + 1], baseline - top))
    return pieces


def _choose(breaks: list[Break], end: int, first: int, rest: int) -> list[int]:
    """Where the pieces start (after the first): from each start, the furthest break that fits the room
    among those of the least rank that fill half of it (all of them where none of any rank does); where
    none fits, the nearest break."""
    starts: list[int] = []
    start, room = 0, first
    while end - start > room:
        ahead = [(i, d) for i, d in breaks if i > start]
        if not ahead:
            break
        fitting = [(i, rank) for i, rank in ahead if i - start <= room]
        if fitting:
            chosen = max(i for i, _ in fitting)
            for least in sorted({rank for _, rank in fitting}):
                furthest = max(i for i, rank in fitting if rank <= least)
                if 2 * (furthest - start) >= room:
                    chosen = furthest
                    break
        else:
            chosen = ahead[0][0]
        starts.append(chosen)
        start, room = chosen, rest
    return starts


__all__ = ["Break", "cut_picture", "cut_text", "picture_breaks", "text_breaks"]
