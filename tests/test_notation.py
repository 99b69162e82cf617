"""One notation: every symbol spelled consistently in text, LaTeX and Unicode, and read back."""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from symbptt import RNN, notation
from symbptt.forms import derive
from symbptt.readback import latex_name
from symbptt.render import render_text

EXAMPLES = [
    ("h_3", "h_{3}", "h₃"), ("h^(2)_3[1]", "h^{(2)}_{3,1}", "h⁽²⁾₃,₁"), ("a^f_3", "a^{f}_{3}", "aᶠ₃"),
    ("J^hc(2)_3", "J^{hc(2)}_{3}", "Jʰᶜ⁽²⁾₃"), ("delta_(t-1)", r"\delta_{t-1}", "δₜ₋₁"),
    ("W_f^(2)[1,2]", "W^{(2)}_{f,12}", "W_f⁽²⁾₁₂"), ("W[1,2]", "W_{12}", "W₁₂"), ("b_hn[1]", "b_{hn,1}", "b_hn₁"),
]


@pytest.mark.parametrize("text,tex,uni", EXAMPLES)
def test_three_spellings_of_one_symbol(text, tex, uni):
    parts = notation.parse(text)
    assert parts.text() == text and parts.latex() == tex and parts.unicode() == uni
    assert sp.latex(notation.Name(text)) == tex and sp.pretty(notation.Name(text)) == uni


def test_unit_indices_cannot_be_mistaken_for_matrix_entries():
    unit, entry = notation.parse("h_2[1]"), notation.parse("W[2,1]")
    assert unit.latex() == "h_{2,1}" and entry.latex() == "W_{21}"
    assert unit.step == "2" and unit.unit == (1,) and entry.unit == (2, 1)


@given(st.sampled_from(["h", "c", "a", "J", "D", "delta", "i", "f"]), st.sampled_from(["", "f", "hc"]),
       st.sampled_from([None, 2, 3]), st.sampled_from(["", "3", "t", "t-1", "k+1", "T"]),
       st.sampled_from([(), (1,), (2,)]))
def test_latex_spelling_reads_back_to_the_same_symbol(base, tag, layer, step, unit):
    parts = notation.Parts(base, tag, layer, step, unit if step else ())
    m = __import__("re").fullmatch(r"(\\?[a-zA-Z]+)(\^\{[^{}]*\})?(_\{[^{}]*\})?", parts.latex())
    assert m and latex_name(*m.groups()) == parts.text()


@pytest.mark.parametrize("args", [dict(T=3), dict(T=2, n=2, layers=2), dict(T=2, cell="lstm"),
                                  dict(T=2, cell="gru", n=2)])
def test_every_form_uses_the_notation_and_no_markup_leaks(args):
    for form in ("unroll", "factors", "general", "explicit", "recursive"):
        for pretty in (True, False):
            out = render_text(derive(RNN(**args), form, "all"), pretty=pretty)
            for leak in ("__(", "h[", "[k", "-1 + k", "1 + k", "-y + h", "θ", "Heaviside", "Matrix(", "e_1", "e₁"):
                assert leak not in out, (form, leak)
            if pretty:
                assert "ᵀ" in out or args.get("n", 1) == 1 or form in ("unroll", "factors")


def test_the_transpose_is_never_the_letter_T():
    out = render_text(derive(RNN(T=2, n=2), "explicit", "all"), pretty=True)
    assert "ᵀ" in out and "T\n" not in out and " T" not in out.split("\n", 1)[1].split("#")[0]
    text = render_text(derive(RNN(T=2, n=2), "explicit", "all"))
    assert ".T" in text
