"""A printed piece the layout takes whole (a cell file's coefficient, a nested activation) is cut to the width
after SymPy printed it (symbptt/printing/breaks.py): before an operator, outside brackets first, never
through a fraction, and the pieces joined again are what was printed."""

from __future__ import annotations

import re

import pytest
import sympy as sp
from conftest import TIE_CELL, examples, run_in_process
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt.printing import breaks
from symbptt.printing.unicode_printer import UnicodePrinter

A, B, C, D = sp.symbols("a b c d")


def _rejoined(pieces: list[tuple[list[str], int]]) -> list[str]:
    """Pieces placed side by side again on their baselines, trailing blanks dropped."""
    above = max(base for _, base in pieces)
    below = max(len(rows) - base - 1 for rows, base in pieces)
    out = [""] * (above + below + 1)
    for rows, base in pieces:
        width = max(len(r) for r in rows)
        padded = [""] * (above - base) + rows + [""] * (below - (len(rows) - base - 1))
        out = [o + p.ljust(width) for o, p in zip(out, padded, strict=True)]
    return [line.rstrip() for line in out]


def _picture(expr: sp.Basic) -> tuple[list[str], int]:
    form = UnicodePrinter({"use_unicode": True})._print(expr)
    lines = form.picture
    width = max(len(line) for line in lines)
    return [line.ljust(width) for line in lines], form.baseline


def _expressions() -> st.SearchStrategy[sp.Basic]:
    leaf = st.sampled_from([A, B, C, D, sp.Integer(2), A**2, sp.exp(B), sp.tanh(C)])
    return st.recursive(leaf, lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: p[0] + p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] - p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] * p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] / (1 + p[1])),
        inner.map(lambda e: sp.log(1 + sp.exp(e))),
        inner.map(lambda e: sp.Heaviside(e - A))), max_leaves=14)


@settings(max_examples=examples(60), deadline=None)
@given(_expressions(), st.integers(8, 60), st.integers(8, 60))
def test_a_cut_picture_placed_side_by_side_again_is_the_picture(expr, first, rest):
    lines, baseline = _picture(expr)
    pieces = breaks.cut_picture(lines, baseline, first, rest)
    assert _rejoined(pieces) == [line.rstrip() for line in lines]
    bounds, start = [], 0
    for rows, _ in pieces:
        bounds.append((start, start + max(len(r) for r in rows)))
        start += max(len(r) for r in rows)
    starts = [a for a, _ in bounds[1:]]
    found = dict(breaks.picture_breaks(lines, baseline))
    assert all(c in found for c in starts)
    for row in lines:  # a fraction's bar is never cut
        for bar in re.finditer("─+", row):
            assert any(a <= bar.start() and bar.end() <= b for a, b in bounds), (row, bounds)
    for k, (a, b) in enumerate(bounds):
        room = first if k == 0 else rest
        if b - a > room:  # wider than its room only where no break inside it would have fitted
            assert not any(a < c <= a + room for c in found), (k, a, b, room)


@settings(max_examples=examples(60), deadline=None)
@given(_expressions(), st.integers(8, 60), st.integers(8, 60))
def test_cut_text_joined_again_reads_as_the_text(expr, first, rest):
    line = str(expr)
    pieces = breaks.cut_text(line, first, rest)
    assert " ".join(pieces).replace(" ", "") == line.replace(" ", "")
    assert sp.sympify(" ".join(pieces), locals={"H": sp.Heaviside}) == expr
    found = dict(breaks.text_breaks(line))
    start = 0
    for k, piece in enumerate(pieces):
        start = line.index(piece, start)
        room = first if k == 0 else rest
        if len(piece) > room:
            assert not any(start < c <= start + room for c in found), (k, piece, room)
        start += len(piece)


def test_a_break_outside_brackets_comes_before_one_inside_and_a_sum_before_a_product():
    line = "a*(b + c) + d*(e + f)"
    assert breaks.cut_text(line, 16, 40) == ["a*(b + c)", "+ d*(e + f)"]  # not "a*(b + c) + d" / "*(e + f)"
    assert breaks.cut_text(line, 8, 40) == ["a*(b", "+ c) + d*(e + f)"]  # inside, where nothing outside fits
    ranks = dict(breaks.text_breaks(line))
    assert ranks[line.index("+ d")] < ranks[line.index("*(e")] < ranks[line.index("+ f")]
    assert breaks.text_breaks("a**2*b") == [(4, 1)]  # ** is one operator, never a break
    # after the comma between a Sum's term and its limits (its + and its limits' commas lie deeper or later)
    assert breaks.cut_text("Sum(a*b + c*d, (t, 1, T))", 20, 40) == ["Sum(a*b + c*d,", "(t, 1, T))"]
    lines, baseline = _picture(sp.Max(A + B, C))
    assert lines == ["max(c, a + b)"] and breaks.picture_breaks(lines, baseline) == [(7, 2), (9, 2)]


def test_a_picture_breaks_where_nothing_stands_over_the_operator_and_ranks_its_brackets():
    lines, baseline = _picture(sp.Mul(A, sp.Add(B / (1 + C), D, evaluate=False), evaluate=False) + sp.Symbol("e"))
    assert lines[baseline].startswith("a⋅⎜───── + d⎟ + e")  # a tall bracket around a fraction and d
    found = breaks.picture_breaks(lines, baseline)
    # the product's dot (rank 1), the sum inside the bracket (2), the outer sum (0); never inside the bar
    assert found == [(1, 1), (9, 2), (14, 0)]
    drawn = ["      2  ", "a + b + c"]  # something over the second +: only the first is a break
    assert breaks.picture_breaks(drawn, 1) == [(2, 0)]
    row, _ = _picture(sp.Matrix([[A + B, C + D]]))
    assert row == ["[a + b  c + d]"] and breaks.picture_breaks(row, 0) == []  # a matrix is never cut
    product = sp.MatMul(sp.ImmutableMatrix([[A + B, C + D]]), sp.ImmutableMatrix([[A], [B]]), evaluate=False)
    lines, baseline = _picture(product)  # between two matrices, their product's dot is a break
    assert breaks.picture_breaks(lines, baseline) == [(lines[baseline].index("⋅"), 1)]


@pytest.mark.parametrize("fmt", ["pretty", "text"])
def test_a_cell_files_long_coefficient_fits_the_width(tmp_path, fmt):
    """The definitions of a cell file's coefficients were printed on one line each (117 and 124 columns in
    an 80-column terminal for this file); now they are cut, and read back as they were printed."""
    from symbptt.readback import text_equations

    path = tmp_path / "tie.toml"
    path.write_text(TIE_CELL)
    out = run_in_process("derive", "-T", "3", "--cell", str(path), "--format", fmt, "--width", "80").stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert ("F_t = " if fmt == "text" else "Fₜ = ") in out and "# where" in out  # the definitions, cut
    if fmt == "text":
        wide = run_in_process("derive", "-T", "3", "--cell", str(path), "--format", fmt, "--width", "1000").stdout
        assert max(len(line) for line in wide.splitlines()) > 150
        got, want = dict(text_equations(out)), dict(text_equations(wide))
        assert {k: v.replace(" ", "") for k, v in got.items()} == {k: v.replace(" ", "") for k, v in want.items()}
        first = next(line for line in out.splitlines() if line.startswith("F_t = "))
        assert first.count("(") == first.count(")")  # cut between the outer terms, not inside a bracket


def test_a_column_wider_than_the_line_is_drawn_one_equation_per_entry():
    """The unrolled forward pass of a GRU's two layers with n = 3 drew each gate as a column of its entries,
    162 columns wide at --width 80: a matrix cannot be cut.  A column wider than the line is now one
    equation per entry, each cut as any long right-hand side; at a width it fits, it stays a column."""
    from symbptt import RNN
    from symbptt.forms import derive
    from symbptt.render import render_text

    derivation = derive(RNN(T=1, cell="gru", n=3, layers=2), "unroll", "all")
    narrow = render_text(derivation, pretty=True, width=80)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert re.search(r"^z⁽²⁾₁,₂ = σ\(", narrow, re.M) and "⎡z⁽²⁾₁,₁⎤" not in narrow
    wide = render_text(derivation, pretty=True, width=400)
    assert "⎡z⁽²⁾₁,₁⎤" in wide and not re.search(r"^z⁽²⁾₁,₂ = ", wide, re.M)
