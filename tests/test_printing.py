"""One printer per format: the package's printers and SymPy's own print every derived expression alike,
dispatch goes by the kind a class states, and printing lives in printing/ only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy as sp

from symbptt import RNN, notation, printing
from symbptt import primitives as P
from symbptt.forms import derive

PACKAGE = Path(__file__).resolve().parent.parent / "symbptt"


def _expressions():
    for cell, form, layers in [("rnn", "explicit", 1), ("rnn", "general", 1), ("lstm", "recursive", 1),
                               ("gru", "factors", 2), ("mingru", "explicit", 1), ("rnn", "unroll", 2)]:
        rnn = RNN(T=2, cell=cell, layers=layers)
        for eq in derive(rnn, form, "all").equations:
            yield f"{cell}-{form}-{eq.lhs}", eq.lhs, eq.rhs


CASES = list(_expressions())


@pytest.mark.parametrize("name,lhs,rhs", CASES, ids=[c[0] for c in CASES])
def test_sympy_s_printers_print_what_the_package_s_print(name, lhs, rhs):
    for expr in (lhs, rhs):
        assert sp.latex(expr) == printing.latex(expr)
        assert sp.sstr(expr) == printing.text(expr)
        assert sp.pretty(expr, use_unicode=True) == printing.unicode(expr)


def test_dispatch_goes_by_the_stated_kind_not_the_class_name():
    """Name sorts as SymPy's Symbol (its class name is "Symbol"), yet prints through _print_Name."""
    h = notation.name("h", layer=2, step=3, unit=(1,))
    assert type(h).__name__ == "Symbol" and type(h).printed_as == "Name"
    assert (printing.text(h), printing.latex(h), printing.unicode(h)) == ("h^(2)_3[1]", "h^{(2)}_{3,1}", "h⁽²⁾₃,₁")

    class Loud(printing.LatexPrinter):
        def _print_Name(self, expr):
            return expr.name.upper()

    assert Loud().doprint(h + 1) == "H^(2)_3[1] + 1"


def test_a_product_keeps_its_built_order_and_brackets_in_every_format():
    h3, w, y = notation.name("h", step=3), notation.name("w"), notation.name("y")
    product = notation.OrderedMul._from_args((h3 - y, w, 1 - h3**2, -w))
    assert printing.text(product) == "(h_3 - y)*w*(1 - h_3**2)*(-w)"
    assert printing.latex(product) == r"\left(h_{3} - y\right) w \left(1 - h_{3}^{2}\right) \left(- w\right)"
    assert printing.unicode(product).splitlines()[-1].startswith("(h₃ - y)⋅w⋅")


def test_primitives_print_as_their_plain_spelling():
    a = sp.Symbol("a")
    assert printing.text(P.dtanh(a)) == "1 - tanh(a)**2"
    assert printing.latex(P.sigmoid(a)) == r"\sigma\left(a\right)"
    assert printing.text(P.step(a)) == "H(a)" and printing.latex(P.step(a)) == r"H\left(a\right)"


def test_printing_is_done_in_printing_only():
    """No module outside printing/ defines a SymPy print hook (_latex, _pretty, _sympystr) or a printer
    method, except the Derivation's own (forms.py) and generated code's printer (numeric/code.py)."""
    hook = re.compile(r"def (_latex|_pretty|_sympystr)\(")
    found = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if "printing" not in p.parts and hook.search(p.read_text()))
    assert found == ["forms.py"]
    imports = [line for p in (PACKAGE / "printing").glob("*.py") for line in p.read_text().splitlines()
               if re.match(r"\s*from \.\.|\s*import symbptt|\s*from symbptt", line)]
    assert imports == []  # the printers read everything from the objects they print


def test_a_matrix_sum_prints_every_factor_of_a_negative_term():
    """One MatAdd printer per format (there were three, and the LaTeX and Unicode ones printed only the
    first factor after the −1: A − B C came out as A − B)."""
    A, B, C = (notation.MatrixName(name, 2, 2) for name in ("J_2", "W", "D_1"))
    total = sp.MatAdd(A, sp.MatMul(-1, B, C, evaluate=False), evaluate=False)
    assert printing.text(total, numpy_operators=True) == "J_2 - W@D_1"
    assert printing.latex(total) == "J_{2} - W D_{1}"
    assert printing.unicode(total) == "J₂ - W⋅D₁"


def test_one_layout_decides_terms_and_signs_for_every_format(monkeypatch):
    """The text, Unicode and LaTeX renderers take an equation's terms and signs from layout.py: a negative
    path is written "- …" in all three, a pair shares one line, and a change to the layout's sign rule
    changes all three outputs at once."""
    from symbptt import layout as L
    from symbptt import notation
    from symbptt.latex import equation_lines, latex_cache
    from symbptt.render import pretty_equation, text_equation
    from symbptt.symbolic.derivation import Equation, label, ordered_product, ordered_sum

    h2, h1, w = notation.name("h", step=2), notation.name("h", step=1), notation.param_name("w")
    paths = [ordered_product(h2, w), ordered_product(sp.S.NegativeOne, h1, w, h2), ordered_product(w, h1)]
    eq = Equation(label("g", "g", "g"), ordered_sum(paths))
    lay = L.layout(eq)
    assert [t.sign for t in lay.terms()] == ["", "-", "+"] and lay.several and not lay.pair
    assert L.layout(Equation(eq.lhs, ordered_sum(paths[:2]))).pair

    def outputs() -> tuple[str, str, str]:
        return (text_equation(eq), pretty_equation(eq, width=200),
                " ".join(equation_lines(eq, latex_cache())))

    text, pretty, tex = outputs()
    assert "- h_1*w*h_2" in text and "- h₁⋅w⋅h₂" in pretty and r"- h_{1} w h_{2}" in tex
    monkeypatch.setattr(L, "term", lambda expr, i: L.Term("+" if i else "", expr, L.PRODUCT))
    flipped = outputs()
    assert all(a != b for a, b in zip((text, pretty, tex), flipped, strict=True))
    assert "+ (-h_1)*w*h_2" in flipped[0] and "+ (-h₁)⋅w⋅h₂" in flipped[1]


def test_a_cases_block_followed_by_a_factor_is_closed_and_max_is_drawn_not_spelled():
    """In the pretty picture and the LaTeX, "⋅h₀" after a cases block stood beside its middle row and read
    as part of its condition ("2 for a₁ ≤ 1⋅h₀"); the Unicode printer spelled Max as SymPy's str does
    (Max(a_2, a_2**2)).  The block is now closed by parentheses in both, max drawn as a function."""
    from click.testing import CliRunner

    from symbptt.cli import main

    pretty = CliRunner().invoke(main, ["derive", "-T", "1", "-a", "min(a, 1) + max(a, -1, 0)"]).output
    middle = next(line for line in pretty.splitlines() if "⎨" in line)
    assert re.search(r"≤ 1\s*⎟⋅h₀", middle), pretty
    latex = CliRunner().invoke(main, ["derive", "-T", "1", "-a", "min(a, 1) + max(a, -1, 0)",
                                      "--format", "latex"]).output
    assert r"\left(\begin{cases}" in latex and r"\end{cases}\right)" in latex, latex
    drawn = CliRunner().invoke(main, ["derive", "-T", "1", "-a", "max(a, a**2, a**3)"]).output
    assert "**" not in drawn and "Max(" not in drawn and "max⎝" in drawn, drawn


def test_the_latex_printer_kept_per_settings_prints_as_a_new_one_would():
    """latex() keeps one printer per settings: what it prints equals a fresh printer's, for every
    expression of a derivation and under two settings; settings that cannot be a key get a printer of
    their own; and a call made while the kept printer is printing (from inside one of its methods) gets a
    new one, so the outer print is not disturbed."""
    from symbptt.printing import latex_printer as L

    exprs = [e for pair in _expressions() for e in pair[1:]] + [sp.MatrixSymbol("W", 2, 2) * sp.MatrixSymbol("v", 2, 1)]
    assert L.latex(exprs[-1], mat_symbol_style="bold") != L.latex(exprs[-1])
    for settings in ({}, {"mat_symbol_style": "bold"}):
        assert [L.latex(e, **settings) for e in exprs] == [L.LatexPrinter(settings).doprint(e) for e in exprs]
    h = notation.name("h", step=3)
    names = {h: "hidden"}
    assert L.latex(h, symbol_names=names) == L.LatexPrinter({"symbol_names": names}).doprint(h)

    class Nested(sp.Function):
        def _latex(self, printer):  # prints its argument through latex() while the outer print runs
            return r"\langle " + L.latex(self.args[0]) + r"\rangle"

    expr = Nested(h) + notation.name("a", step=2)
    assert L.latex(expr) == L.LatexPrinter({}).doprint(expr)
    assert r"\langle" in L.latex(expr) and L._kept_printer(())._print_level == 0


@pytest.mark.parametrize("symbol", [notation.name("h", step=3), notation.name("delta", tag="c", layer=2, step=12),
                                    notation.name("a", tag="f", step="t-1"), notation.name("h", step=7, unit=(2,)),
                                    notation.param_name("W", tag="f", layer=2, unit=(1, 2)),
                                    notation.name("nu", unit=(3,)), notation.name("J", tag="hc", step=10)])
def test_a_symbol_drawn_from_its_spelling_is_what_the_printer_draws(symbol):
    """The factor caches draw a notation symbol from its spelling alone (FactorCache.symbol), skipping the
    printer: in text, Unicode and LaTeX that must be exactly what the printer gives for the symbol."""
    from symbptt.latex import latex_cache
    from symbptt.render import pretty_cache, text_cache

    for cache in (text_cache(), latex_cache(), pretty_cache()):
        assert cache.symbol is not None
        drawn, printed = cache.symbol(cache.atom(symbol)), cache.show(symbol)
        if hasattr(drawn, "lines"):
            drawn, printed = (drawn.lines, drawn.baseline), (printed.lines, printed.baseline)
        assert drawn == printed


@pytest.mark.parametrize("pretty", [True, False])
def test_a_long_form_prints_each_steps_factor_once(pretty, monkeypatch):
    """T = 3000, every parameter: 1 − h_t² stands in the δ recursion and in the three gradients' sums,
    thousands of equations apart.  The factor cache keeps it between its uses (symbols, spelled from
    their own cache, do not crowd it), so each factor is drawn once, not once per use."""
    from symbptt import render

    drawn: dict[sp.Basic, int] = {}
    made = render.FactorCache._print

    def counted(self, expr):
        drawn[expr] = drawn.get(expr, 0) + 1
        return made(self, expr)

    monkeypatch.setattr(render.FactorCache, "_print", counted)
    lines = render.render_lines(derive(RNN(T=3000), "recursive", "all"), pretty=pretty)
    assert sum(len(line) for line in lines) > 0
    steps = [expr for expr in drawn if not isinstance(expr, notation.Name)]
    assert len(steps) >= 3000 and max(drawn[expr] for expr in steps) == 1


def test_a_tag_with_a_suffix_s_digits_is_read_back(tmp_path):
    """A cell file's parameter w_z0h names the route D^wz0h_t: its spelling parses back to its parts (the
    pretty printer reads every symbol's parts), and derive --format pretty prints it."""
    from conftest import run_in_process

    parts = notation.Parts("D", "hwz0h", 2, "1")
    assert notation.parse(parts.text()) == parts
    cell = tmp_path / "digits.toml"
    cell.write_text('states = ["h"]\nparams = ["w_z0h", "U_z0", "p_z0"]\n[shapes]\nw_z0h = ["n"]\nU_z0 = ["n", "m"]\n'
                    'p_z0 = []\n[intermediates]\nz = "tanh(p_z0*(w_z0h*h + U_z0 @ x))"\n[update]\nh = "z*h/2 + z"\n')
    ran = run_in_process("derive", "-T", "2", "-n", "2", "--cell", str(cell), "--form", "recursive", "--format",
                         "pretty")
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    assert "Dʷᶻ⁰ʰ₁" in ran.stdout


def test_pictures_are_drawn_in_unicode_whatever_sympy_s_own_switch_says():
    """SymPy draws a Σ's sign and tall brackets from tables chosen by a switch it sets from sys.stdout's
    encoding.  In a process whose stdout is ASCII (PYTHONIOENCODING=ascii, a StringIO) the switch was off,
    and render_text(pretty=True) of a form with a Σ raised KeyError('sum').  The printer turns it on while
    it draws: the picture is the one a UTF-8 process draws, and the switch is left as it was."""
    from sympy.printing.pretty.pretty_symbology import pretty_use_unicode

    from symbptt.printing import unicode
    from symbptt.render import render_text

    derivation = derive(RNN(T=3, cell="lru", n=3), "general", "all")
    total = sp.Sum(sp.Symbol("x"), (sp.Symbol("k"), 1, 3))
    want, want_sum = render_text(derivation, pretty=True), unicode(total)
    assert "Σ" not in want_sum and "╲" in want_sum
    previous = pretty_use_unicode(False)
    try:
        assert render_text(derivation, pretty=True) == want and unicode(total) == want_sum
        assert pretty_use_unicode() is False
    finally:
        pretty_use_unicode(previous)


def test_the_expanded_form_reads_in_reading_order_in_every_format():
    """The factors of a long product (the expanded form, drawn factor by factor) read as the unrolled pass
    does: w h + u x + b, the target last, in Unicode as in text (Unicode drew SymPy's order, `-y + tanh(b +
    h₀⋅w + u⋅x₁)`)."""
    from symbptt.render import render_text

    derivation = derive(RNN(T=2), "expanded", "W")
    pretty, text = render_text(derivation, pretty=True), render_text(derivation)
    assert "(tanh(w⋅tanh(w⋅h₀ + u⋅x₁ + b) + u⋅x₂ + b) - y)" in pretty, pretty
    assert "(tanh(w*tanh(w*h_0 + u*x_1 + b) + u*x_2 + b) - y)" in text, text
    matrix = render_text(derive(RNN(T=2, n=2, activation="linear"), "expanded", "W"), pretty=True, width=200)
    assert "+ U₂₁⋅x₂ + b₂ - y₂)" in matrix, matrix
