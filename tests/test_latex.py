"""LaTeX that renders: every form and format compiles with a real pdflatex without missing characters or
undefined commands, and every LaTeX formula read back equals the API's expression."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest
import sympy as sp
from conftest import compile_tex, exhaustive, require_program

from symbptt import RNN, SymbpttError
from symbptt import primitives as P
from symbptt.document import PREAMBLE, standalone, tikz_diagram
from symbptt.forms import derive
from symbptt.latex import snippet
from symbptt.readback import Evaluator, latex_equations, text_equations
from symbptt.render import render_text

MODELS = {
    "rnn": [dict(activation=a) for a in ("tanh", "sigmoid", "relu", "linear", "a/(1+abs(a))", "max(a, 0.1*a)")]
    + [dict(n=2, m=2), dict(n=2, layers=2, loss="sum"), dict(layers=3), dict(n=3, m=3)],
    "lstm": [dict(), dict(n=2, layers=2, loss="sum")],
    "gru": [dict(), dict(n=2, m=2, layers=2)],
    "docs/cells/mgu.toml": [dict(), dict(layers=2, loss="sum")],
}
FORMS = ("unroll", "factors", "general", "explicit", "recursive", "expanded")


def every_snippet(cell: str, T: int) -> str:
    parts = []
    for kwargs in MODELS[cell]:
        for form in FORMS:
            # the expanded form holds the same constructs at T = 1 (the LSTM's at T = 2 is 370 kB of LaTeX)
            rnn = RNN(T=1 if form == "expanded" else T, cell=cell, **kwargs)
            for named in (None, True) if form in ("explicit", "recursive") else (None,):
                try:
                    parts.append(snippet(derive(rnn, form, "all", named=named)))
                except SymbpttError as exc:
                    assert "limited" in str(exc) or "limit" in str(exc)
    return "\n".join(parts)


@pytest.mark.parametrize("cell", exhaustive(sorted(MODELS), lambda cell: cell == "rnn"))  # all: -m slow
def test_every_form_compiles(tmp_path, cell):
    """One document per cell with every form of every model (both factor styles), then the standalone
    article with its diagram."""
    body = every_snippet(cell, T=2)
    compile_tex(tmp_path, "forms", PREAMBLE + "\\begin{document}\n" + body + "\\end{document}\n")
    rnn = RNN(T=3, cell=cell, **MODELS[cell][-1])
    compile_tex(tmp_path, "article", standalone(rnn, wrt="all", diagram=True))


def test_long_diagrams_and_three_layers_compile(tmp_path):
    pics = "".join(tikz_diagram(RNN(T=T, layers=layers)) + "\n\n" for T in (1, 8, 50) for layers in (1, 3))
    compile_tex(tmp_path, "diagrams", PREAMBLE + "\\begin{document}\n" + pics + "\\end{document}\n")


def test_same_command_same_bytes(tmp_path):
    outs = []
    for i in range(2):
        path = tmp_path / f"doc{i}.tex"
        subprocess.run([sys.executable, "-m", "symbptt", "latex", "-T", "3", "--standalone", "--diagram",
                        "-o", str(path)], check=True, timeout=300)
        outs.append(path.read_bytes())
    assert outs[0] == outs[1]


def test_no_raw_markup_leaks_into_latex():
    text = every_snippet("rnn", T=2) + every_snippet("lstm", T=2)
    for leak in ("delta", "__", "^(", "_(", "θ", "Heaviside", "**"):
        assert leak not in text.replace("\\delta", ""), leak


def test_a_name_of_several_letters_is_one_symbol():
    """A cell file's leak or gate is \\mathit{leak}, which SymPy's own LaTeX parser reads as one symbol (as
    leak it reads l·e·a·k), and the check's reader as one name with its step; a Greek name stays its letter,
    and a name SymPy would decorate (xdot → ẋ) or turn into another letter (lamda → λ) keeps its spelling."""
    from symbptt import notation
    from symbptt.check.reader import _scan
    from symbptt.check.sympy_latex import parse_latex

    for name in ("leak", "gate"):
        assert parse_latex(notation.Parts(name, is_param=True).latex()) == sp.Symbol(name), name
    assert parse_latex("leak").free_symbols == set(sp.symbols("l e a k"))  # what the plain spelling reads as
    for name in ("leak", "gate", "xdot", "lamda"):
        text = notation.Parts(name, step="t").latex()
        assert text == rf"\mathit{{{name}}}_{{t}}"
        assert [(found.base, found.sub) for _, _, found in _scan(text)] == [(name, ("t",))], name
    assert notation.Parts("delta", step="t").latex() == r"\delta_{t}" and notation.Parts("nu").latex() == r"\nu"


def _value(token: str) -> float:
    """A reproducible number in (−0.9, 0.9) for each printed symbol."""
    digest = hashlib.sha256(token.encode()).digest()
    return (int.from_bytes(digest[:8], "big") / 2**64 - 0.5) * 1.8


@pytest.mark.parametrize("cell,kwargs", [(c, k) for c, ks in MODELS.items() for k in ks if k.get("n", 1) == 1])
@pytest.mark.parametrize("form", ["unroll", "factors", "explicit", "recursive",
                                  pytest.param("expanded", marks=pytest.mark.slow)])  # expanded: 1–3 s each
def test_latex_read_back_equals_the_api_expression(cell, kwargs, form):
    """Each LaTeX formula, read back, evaluates to the value of the API's SymPy expression (and of the
    text output) at the same random point; the left-hand sides agree too."""
    rnn = RNN(T=2, cell=cell, **kwargs)
    if form == "expanded" and cell.endswith(".toml") and rnn.layers > 1:  # refused, with the reason
        with pytest.raises(SymbpttError, match="expanded form is limited to T <= 1"):
            derive(rnn, form, "all")
        return
    derivation = derive(rnn, form, "all", named=True if form in ("explicit", "recursive") and cell != "rnn"
                        else None)
    tex = latex_equations(snippet(derivation))
    text = text_equations(render_text(derivation, width=10_000))
    evaluate = Evaluator(_value)
    assert len(tex) == len(text) == len(derivation.equations) + len(derivation.definitions)
    for (tex_lhs, tex_rhs), (lhs, rhs), eq in zip(tex, text, [*derivation.equations, *derivation.definitions],
                                                   strict=True):
        assert tex_lhs == lhs
        if "_t" in rhs or "_(t" in rhs:
            continue  # a definition at a generic step t
        api = P.plain(eq.rhs).xreplace({s: _value(sp.sstr(s)) for s in eq.rhs.free_symbols})
        want = complex(sp.N(api, 20)).real
        for got in (evaluate(tex_rhs), evaluate(rhs)):
            assert abs(float(got) - want) <= 1e-10 * max(1.0, abs(want)), (lhs, tex_rhs)


def test_the_logistic_inside_a_custom_activation_is_named_sigmoid_not_sigma():
    """σ names the activation.  A custom activation that calls the logistic function wrote it σ too, so the
    Model section read σ(a) = σ(a)·tanh(a) and every J_t held a σ that was not the σ of J_t = w σ'(a_t).
    Inside such an activation the logistic is now sigmoid in LaTeX and Unicode, as it was in text, and the
    formulas read back to the API's values.  The built-in sigmoid activation is the logistic and keeps σ;
    its Model section gives the formula where it read σ(a) = σ(a)."""
    from symbptt.render import render_text

    rnn = RNN(T=2, activation="tanh(a)*sigmoid(a)")
    derivation = derive(rnn, "explicit", "all")
    tex, pretty = snippet(derivation), render_text(derivation, pretty=True, width=10_000)
    assert r"\operatorname{sigmoid}\left(a_{1}\right)" in tex and r"\sigma" not in tex
    assert "sigmoid(a₁)" in pretty and "σ" not in pretty
    model = standalone(rnn).split(r"\section*{Model}")[1].split(r"\section")[0]
    assert re.search(r"\\sigma\(a\) &?= \\operatorname\{sigmoid\}\\left\(a\\right\) \\tanh", model)
    assert r"\sigma\left(" not in model  # σ appears only as the activation's own name, σ(a) and σ'(a)
    evaluate = Evaluator(_value)
    for (lhs, tex_rhs), (_, rhs), eq in zip(latex_equations(tex), text_equations(render_text(derivation, width=10_000)),
                                             [*derivation.equations, *derivation.definitions], strict=True):
        api = P.plain(eq.rhs).xreplace({s: _value(sp.sstr(s)) for s in eq.rhs.free_symbols})
        want = complex(sp.N(api, 20)).real
        for got in (evaluate(tex_rhs), evaluate(rhs)):
            assert abs(float(got) - want) <= 1e-10 * max(1.0, abs(want)), (lhs, tex_rhs)
    # the built-in sigmoid is σ itself: σ(a) is its formula (not σ(a) = σ(a)), and σ' is written in σ
    builtin = standalone(RNN(T=2, activation="sigmoid")).split(r"\section*{Model}")[1].split(r"\section")[0]
    assert re.search(r"\\sigma\(a\) &?= \\frac\{1\}\{1 \+ e\^\{-a\}\}", builtin)
    assert r"\sigma'(a) &= \left(1 - \sigma\left(a\right)\right)" in builtin and "operatorname" not in builtin


def test_factors_stay_in_time_order_in_latex():
    text = snippet(derive(RNN(T=4), "explicit", "W"))
    first = text.splitlines()[2]
    assert [int(m) for m in re.findall(r"h_\{(\d)\}\^\{2\}", first)] == [4, 3, 2, 1]


def test_diagram_draws_every_step_and_layer():
    pic = tikz_diagram(RNN(T=3, layers=2))
    assert pic.count("node[input]") == 3
    assert pic.count("node[state]") == 8  # (T + 1) columns × 2 layers
    long = tikz_diagram(RNN(T=50))
    assert "\\cdots" in long and "x_{50}" in long


def test_a_cell_title_with_latex_markup_prints_literally(tmp_path):
    """A cell file whose name and title hold every character LaTeX would read as markup: the standalone
    document compiles, pulls in no file, and its PDF shows the title as typed."""
    pdftotext = require_program("pdftotext")
    (tmp_path / "s.txt").write_text("SECRET-CONTENTS")
    title = r"\input{s.txt} 50% $x$ & #1 a_b c^d e~f {g}"
    cell = tmp_path / "evil.toml"
    cell.write_text('name = "a}\\\\end{document}"\n'
                    f"title = {json.dumps(title)}\n"
                    'states = ["h"]\nparams = ["w"]\n[update]\nh = "tanh(w*h + x)"\n')
    text = standalone(RNN(T=2, cell=str(cell)))
    compile_tex(tmp_path, "evil", text)
    subprocess.run([pdftotext, "evil.pdf", "evil.txt"], cwd=tmp_path, check=True)
    pdf = (tmp_path / "evil.txt").read_text().replace("ˆ", "^").replace("˜", "~")
    assert "SECRET-CONTENTS" not in pdf
    # the default OT1 font draws \_ as a rule, which pdftotext reads as a space
    assert " ".join(title.replace("_", " ").split()) in " ".join(pdf.split())


def test_plot_labels_of_a_cell_name_are_not_mathtext():
    from symbptt.escape import plot_text

    assert plot_text("$\\frac{$") == "\\$\\frac{\\$" and plot_text("a\nb") == "a b"


def _model_block(doc: str) -> str:
    return doc[doc.index(r"\section*{Model}"):doc.index(r"\section*{", doc.index(r"\section*{Model}") + 5)]


@pytest.mark.parametrize("cell,defined", [("lstm", True), ("gru", True), ("rnn", False),
                                          ("docs/cells/mgu.toml", True)])
def test_the_logistic_function_is_defined_where_a_cell_uses_it(cell, defined):
    """σ in the gates of an LSTM, GRU or cell file is said to be the logistic function; the vanilla cell
    defines its σ (the activation) with γ instead."""
    model = _model_block(standalone(RNN(T=2, cell=cell)))
    assert ("is the logistic function" in model) is defined
    if not defined:
        assert r"\sigma(a) = \tanh" in model


@pytest.mark.parametrize("n,cell", [(1, "rnn"), (2, "rnn"), (2, "gru"), (1, "lstm")])
def test_a_stacked_model_writes_every_layer_with_its_own_symbols(n, cell):
    """One block of equations per layer: layer ℓ's weights, bias and state, layer 1 reading x_t and layer 2
    reading h^(1)_t; a bias is the vector b^(ℓ), never one of its entries."""
    model = _model_block(standalone(RNN(T=2, n=n, layers=2, cell=cell)))
    for layer in (1, 2):
        assert f"h^{{({layer})}}_{{t}} &=" in model
        assert f"b^{{({layer})}}" in model
    first, second = model.split("^{(2)}", 1)
    assert "x_{t}" in first and "x_{t}" not in second and "h^{(1)}_{t}" in second
    assert not re.search(r"b(\^\{\(\d\)\})?_\{[a-z]*,?\d\}", model)  # no bias entry such as b_{1}, b_{r,1}


def test_a_single_layer_model_writes_the_textbook_equation():
    model = _model_block(standalone(RNN(T=2, n=2)))
    assert "a_{t} &= W h_{t-1} + U x_{t} + b \\\\" in model


def test_standalone_honours_the_form_asked_for():
    from conftest import run_in_process

    doc = run_in_process("latex", "-T", "3", "--standalone", "--form", "general").stdout
    sections = re.findall(r"\\section\*\{([^}]*)\}", doc)
    assert sections == ["Model", "General-$T$ formula", "Bound"]
    full = run_in_process("latex", "-T", "3", "--standalone").stdout
    assert len(re.findall(r"\\section\*", full)) == 7
    named = run_in_process("latex", "-T", "2", "--standalone", "--form", "explicit", "--factors", "named").stdout
    assert "J_{2}" in named and r"\text{where }" in named
    with pytest.raises(SymbpttError, match="unknown form"):
        standalone(RNN(T=2), forms=("tables",))


def test_a_scalar_document_states_the_bound_without_matrix_notions():
    """|J_j| ≤ γ|w| for one unit; σ_max, ρ and ‖·‖₂ belong to matrices."""
    scalar = standalone(RNN(T=3))
    bound = scalar[scalar.index(r"\section*{Bound}"):]
    assert r"\gamma\,|w|" in bound and r"\sigma_{\max}" not in bound and r"\rho" not in bound
    matrix = standalone(RNN(T=2, n=2))
    assert r"\sigma_{\max}(W)" in matrix[matrix.index(r"\section*{Bound}"):]


@pytest.mark.parametrize("cell,state,gate", [("lstm", "c", "f"), ("gru", "h", "z")])
def test_a_gated_document_names_the_path_its_own_step_carries(cell, state, gate):
    """The bound section of a gated cell is read off its step: the LSTM's c-path multiplies by f, the
    GRU's h-path by z (it once said 'cell state' and 'forget gate' for every gated cell)."""
    bound = standalone(RNN(T=2, n=2, cell=cell)).split(r"\section*{Bound}")[1]
    product = rf"\prod_{{j=k+1}}^{{t}} \operatorname{{diag}}\bigl({gate}_{{j}}\bigr)"
    assert rf"\partial {state}_t/\partial {state}_k = {product}" in bound
    other = {"lstm": "z_{j}", "gru": "f_{j}"}[cell]
    assert other not in bound and ("forget" in bound) is False


def test_short_sums_stay_on_one_row_without_parentheses_nobody_writes():
    """The lecture-ready issue's examples: δ^h_T = h_T − y on one row (it was split after h_T), the GRU's
    δ_{t−1} = J_t δ_t + F_t δ_t on one row, D_t = 1 − h_t² and c_1 = c_0 f_1 + g_1 i_1 without
    parentheses around the whole right-hand side; a sum of three paths keeps one path per row."""
    lstm = snippet(derive(RNN(T=3, cell="lstm"), "general", "W_f"))
    assert r"\delta^{h}_{T} &= h_{T} - y \\" in lstm
    gru = snippet(derive(RNN(T=2, cell="gru"), "recursive", "W_z"))
    assert r"\delta_{1} &= J_{2} \delta_{2} + F_{2} \delta_{2} \\" in gru
    named = snippet(derive(RNN(T=3), "explicit", "W", named=True))
    assert r"D_{t} &= 1 - h_{t}^{2}" in named and r"D_{t} &= \left(" not in named
    unrolled = snippet(derive(RNN(T=2, cell="lstm"), "unroll", None))
    assert r"c_{1} &= f_{1} c_{0} + i_{1} g_{1}" in unrolled
    three = snippet(derive(RNN(T=3), "explicit", "W", named=True))
    assert three.count(r"&\quad + ") == 2  # three paths, one per row


def _overlapping_words(bbox_html: str) -> list[list[tuple[str, str]]]:
    """Per page of `pdftotext -bbox` output: the pairs of words whose boxes overlap (each box shrunk by
    15% on every side, so that a subscript touching its base does not count)."""
    import itertools

    pages = []
    for page in bbox_html.split("<page ")[1:]:
        boxes = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page)]
        bad = []
        for p, q in itertools.combinations(boxes, 2):
            sx, sy = 0.15 * min(p[2] - p[0], q[2] - q[0]), 0.15 * min(p[3] - p[1], q[3] - q[1])
            if p[0] + sx < q[2] - sx and q[0] + sx < p[2] - sx and p[1] + sy < q[3] - sy and q[1] + sy < p[3] - sy:
                bad.append((p[4], q[4]))
        pages.append(bad)
    return pages


def test_diagram_labels_do_not_collide(tmp_path):
    """The TikZ diagrams as typeset: no two words of a label overlap (U^(2), b^(2), V^(2)_t and J^(2)_t
    piled up between two layers; "U, b" sat on ∂L/∂h_3 with one layer)."""
    pdftotext = require_program("pdftotext")
    models = [dict(T=4, layers=2), dict(T=3), dict(T=3, cell="lstm", layers=2), dict(T=3, layers=3, cell="gru"),
              dict(T=3, n=2, cell="lru", layers=2)]
    body = "\n\\newpage\n".join(tikz_diagram(RNN(**kwargs)) for kwargs in models)
    compile_tex(tmp_path, "diagrams", PREAMBLE + "\\begin{document}\n" + body + "\\end{document}\n")
    html = subprocess.run([pdftotext, "-bbox", str(tmp_path / "diagrams.pdf"), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    pages = _overlapping_words(html)
    assert len(pages) == len(models)
    assert all(not bad for bad in pages), [(m, bad[:4]) for m, bad in zip(models, pages, strict=True) if bad]


def test_the_model_block_writes_unit_by_unit_products_with_odot_for_vectors():
    """c_t = c_{t−1} ⊙ f_t + g_t ⊙ i_t for n = 2 (a product of two vectors written side by side reads as a
    matrix product); one unit keeps plain products."""
    two = standalone(RNN(T=2, n=2, cell="lstm"), wrt="W_f")
    one = standalone(RNN(T=2, n=1, cell="lstm"), wrt="W_f")
    assert r"c_{t} &= f_{t} \odot c_{t-1} + i_{t} \odot g_{t}" in two
    assert r"c_{t} &= f_{t} c_{t-1} + i_{t} g_{t}" in one and r"\odot" not in one.split("Unrolled")[0]


@pytest.mark.parametrize("cell,layers,rows", [
    ("rnn", 2, [r"h^{(1)}_{1} &= \tanh{\left(w^{(1)} h^{(1)}_{0} + u^{(1)} x_{1} + b^{(1)} \right)}",
                r"h^{(2)}_{1} &= \tanh{\left(w^{(2)} h^{(2)}_{0} + u^{(2)} h^{(1)}_{1} + b^{(2)} \right)}"]),
    ("lstm", 1, [r"f_{1} &= \sigma\left(w_{f} h_{0} + u_{f} x_{1} + b_{f}\right)",
                 r"c_{1} &= f_{1} c_{0} + i_{1} g_{1}"]),
    ("gru", 1, [r"n_{1} &= \tanh{\left(r_{1} \left(w_{n} h_{0} + b_{hn}\right) + u_{n} x_{1} + b_{n} \right)}",
                r"h_{1} &= z_{1} h_{0} + \left(1 - z_{1}\right) n_{1}"]),
    ("mingru", 1, [r"h_{1} &= \left(1 - z_{1}\right) h_{0} + z_{1} \left(u_{h} x_{1} + b_{h}\right)"]),
    ("lru", 1, [r"h_{1} &= e^{- e^{\nu}} h_{0} + u x_{1}"]),
])
def test_equations_print_in_reading_order(cell, layers, rows):
    """Weight before state, recurrent term before input term before bias, gate before state: as a textbook
    writes the cell, in every format (text shown for the LSTM)."""
    got = snippet(derive(RNN(T=1, cell=cell, layers=layers), "unroll", None))
    for row in rows:
        assert row in got, got
    if cell == "lstm":
        assert "c_1 = f_1*c_0 + i_1*g_1" in derive(RNN(T=1, cell=cell), "unroll", None).text()


def test_matrix_entries_print_in_reading_order_in_every_format():
    """n = 2: each entry of the unrolled pass reads as the scalar one does, W h + U x + b and r (W_n h + b_hn)
    + U_n x + b_n, in Unicode, text and LaTeX (SymPy's order put U x first in all three, and the bracket
    of r (…) must stay); the entries keep their values (the matrix read back entry by entry)."""
    import random

    from symbptt.model import unrolled_equations
    from symbptt.reading import in_reading_order
    from symbptt.render import render_text

    rnn, gru = RNN(T=1, n=2), RNN(T=1, n=2, cell="gru")
    assert "tanh(W₁₁⋅h₀,₁ + W₁₂⋅h₀,₂ + U₁₁⋅x₁ + b₁)" in render_text(derive(rnn, "unroll", None), pretty=True)
    assert "tanh(W[1,1]*h_0[1] + W[1,2]*h_0[2] + U[1,1]*x_1 + b[1])" in render_text(derive(rnn, "unroll", None))
    assert (r"\tanh{\left(W_{11} h_{0,1} + W_{12} h_{0,2} + U_{11} x_{1} + b_{1} \right)}"
            in snippet(derive(rnn, "unroll", None)))
    assert "tanh(r₁,₁⋅(W_n₁₁⋅h₀,₁ + W_n₁₂⋅h₀,₂ + b_hn₁) + U_n₁₁⋅x₁ + b_n₁)" in render_text(
        derive(gru, "unroll", None), pretty=True, width=200)
    rng = random.Random(7)
    for _, rhs in unrolled_equations(RNN(T=2, n=2, cell="gru", layers=2)):
        ordered = in_reading_order(rhs)
        point = {s: rng.uniform(-1, 1) for s in rhs.free_symbols}
        assert [float(e.xreplace(point)) for e in ordered] == pytest.approx([float(e.xreplace(point)) for e in rhs],
                                                                           rel=1e-12)


def test_reading_order_changes_the_order_only():
    """Every sum and product rebuilt in reading order has the value it had, at random points (property),
    and an index such as k + 1 is left as SymPy writes it."""
    import random

    from symbptt.model import unrolled_equations
    from symbptt.reading import in_reading_order

    rng = random.Random(5)
    for cell in ("rnn", "lstm", "gru", "mingru", "minlstm", "lru", "indrnn"):
        for _, rhs in unrolled_equations(RNN(T=2, cell=cell, layers=2)):
            expr = rhs[0, 0]
            ordered = in_reading_order(expr)
            point = {s: rng.uniform(-1, 1) for s in expr.free_symbols}
            assert float(ordered.xreplace(point)) == pytest.approx(float(expr.xreplace(point)), rel=1e-12)
    k = sp.Symbol("k")
    assert in_reading_order(k + 1) == k + 1 and sp.latex(in_reading_order(k + 1)) == "k + 1"


def test_a_document_of_matrices_defines_each_factor_once_for_any_step():
    """With n > 1 the article's factor section gives J_t, V_t, D_t of each layer once, at a generic step t
    (per step they filled pages with the same pattern); a scalar article keeps the factors of every step."""
    from symbptt.document import standalone

    two = standalone(RNN(T=3, n=2, layers=2))
    section = two.split(r"\section*{Chain-rule factors (at any step $t$)}")[1].split(r"\section*")[0]
    assert r"J^{(2)}_{t} &=" in section and r"J^{(1)}_{t} &=" in section and r"V^{(2)}_{t} &=" in section
    assert "_{1} &=" not in section and r"V^{(1)}_{t}" not in section
    one = standalone(RNN(T=3))
    assert r"\section*{Chain-rule factors}" in one and r"J_{1} &=" in one


def test_latex_code_puts_the_numpy_function_in_the_document_and_it_compiles(tmp_path):
    """`latex --standalone --code`: the document compiles and ends with the code of the chosen form, in
    ASCII; the snippet gets the same block.  A cell title that would end a docstring or the verbatim
    environment is data: the Python still runs and the LaTeX still compiles with the title in it."""
    from conftest import run_in_process

    pdftotext = require_program("pdftotext")
    title = 'a """ b \\end{verbatim} c é \\n'
    cell = tmp_path / "odd.toml"
    cell.write_text(f"name = \"odd\"\ntitle = {json.dumps(title)}\nstates = [\"h\"]\nparams = [\"w\"]\n"
                    "[update]\nh = \"tanh(w*h + x)\"\n")
    ran = run_in_process("latex", "-T", "2", "--cell", str(cell), "--standalone", "--code", "--form", "explicit")
    assert ran.returncode == 0, ran.stderr
    text = ran.stdout
    block = text[text.index("\\begin{verbatim}"):text.index("\\end{verbatim}")]
    assert block.isascii() and "by the explicit form" in " ".join(block.split())
    assert "def gradient(params, x, y):" in block
    assert text.count("\\end{verbatim}") == 1
    compile_tex(tmp_path, "code", text)
    subprocess.run([pdftotext, "code.pdf", "code.txt"], cwd=tmp_path, check=True)
    assert "def gradient(params, x, y):" in (tmp_path / "code.txt").read_text()
    source = run_in_process("derive", "-T", "2", "--cell", str(cell), "--form", "explicit", "--format", "numpy").stdout
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # the title did not end the docstring
    assert title.replace("\\", "\\\\").replace('"', '\\"') in source
    assert "gradient" in namespace
    snippet_text = run_in_process("latex", "-T", "2", "--code", "--form", "general").stdout
    assert "\\begin{verbatim}" in snippet_text and "by the recursive form" in " ".join(snippet_text.split())


def test_code_given_to_standalone_from_python_is_typeset_verbatim_never_read_as_latex():
    """standalone(code=…) takes Python source, not LaTeX: text that would end the verbatim block and
    input a file stays inside the block, as characters."""
    from symbptt.document import standalone

    hostile = "x = 1  # \\end{verbatim}\\input{/etc/passwd} é"
    text = standalone(RNN(T=2), code=hostile, code_form="explicit")
    inside, after = text.split("\\begin{verbatim}\n", 1)[1].split("\n\\end{verbatim}", 1)
    assert "\\input{/etc/passwd}" in inside and inside.isascii() and "<U+00E9>" in inside
    assert "\\input" not in after and text.count("\\end{verbatim}") == 1
    assert "by the explicit form" in " ".join(text.split())


@pytest.mark.parametrize("n,layers", [(1, 1), (1, 2), (2, 1), (2, 2)])
def test_the_factors_note_says_only_what_the_document_has(n, layers):
    """Rows of W and diag only with matrices, V_t (the path to the layer below) only in a stack."""
    from symbptt.document import standalone

    text = standalone(RNN(T=2, n=n, layers=layers))
    note = next(line for line in text.splitlines() if line.startswith(r"\noindent $J_t"))
    assert ("scales row" in note) == (n > 1) and ("operatorname{diag}" in note) == (n > 1)
    assert ("reaches the layer below" in note) == (layers > 1)


CALLS_CELL = """states = ["h", "c"]
params = ["v_g0h", "v_g0c", "u_g0", "b_g0", "v_g1h", "v_g1c", "u_g1"]
[intermediates]
g = "sin(v_g0h*h + v_g0c*c + u_g0*x + b_g0)"
gate = "erf(g*(v_g1h*h + v_g1c*c + u_g1*x))"
[update]
h = "g*h/2 + g"
c = "gate*c/2 + gate"
"""


def test_a_call_that_a_factor_follows_is_braced(tmp_path):
    """SymPy's LaTeX parser reads \\\\tanh{(c)} (v c + u) as tanh(c·(v c + u)) and \\\\cos{(…)} e^{…} as cos(…·e^{…}):
    a function call that another factor follows is printed in braces, which do not show, in a product printed
    whole and in one the layout breaks over lines (a cell file's F^ch_t here), and the document compiles."""
    from symbptt import notation, printing
    from symbptt.check.sympy_latex import parse_latex
    from symbptt.reading import in_reading_order

    c, x, v = notation.name("c", step="t-1"), notation.name("x", step="t"), notation.name("v")
    text = printing.latex(in_reading_order(sp.tanh(c) * (v * c + x)))  # the step t − 1 first: tanh(c) leads
    assert text.startswith(r"{\tanh{") and text.count("{") == text.count("}"), text
    read = parse_latex(text)
    assert [len(f.args[0].free_symbols) for f in read.atoms(sp.tanh)] == [1]  # its argument c_{t-1} alone
    assert sp.latex(sp.tanh(c) * (v * c + x)) == printing.latex(sp.tanh(c) * (v * c + x))  # SymPy's order: as was
    cell = tmp_path / "calls.toml"
    cell.write_text(CALLS_CELL)
    latex = snippet(derive(RNN(T=2, cell=str(cell)), "recursive", "all"))
    row = next(line for line in latex.splitlines() if r"\cos{" in line and "e^{" in line)
    assert r"{\cos{\left(" in row, row
    compile_tex(tmp_path, "calls", PREAMBLE + "\\begin{document}\n" + latex + "\\end{document}\n")


def test_a_negative_factor_after_the_first_keeps_its_parentheses(tmp_path):
    """n = 1: J_t = w_r·(−½ p_r r_t (1 − r_t²) e^{−r_t²}) was printed w_{r} - \\\\frac{1}{2} p_{r} …, a difference;
    the factor that opens with a minus is in parentheses, and SymPy's parser reads one product."""
    from symbptt.check.sympy_latex import parse_latex

    cell = tmp_path / "neg.toml"
    cell.write_text('states = ["h"]\nparams = ["W_r", "U_r", "p_r"]\n[shapes]\nW_r = ["n", "n"]\nU_r = ["n", "m"]\n'
                    'p_r = []\n[intermediates]\nr = "tanh(p_r*(W_r @ h + U_r @ x))"\n'
                    '[update]\nh = "exp(-r*r)/4 + h/2"\n')
    latex = snippet(derive(RNN(T=2, cell=str(cell)), "recursive", "all"))
    row = next(line for line in latex.splitlines() if "J_{t} &=" in line)
    rhs = row.split("&=", 1)[1].rstrip("\\ ")
    assert rhs.startswith(r" w_{r} \left(- \frac{1}{2}\right) p_{r}"), row
    assert not isinstance(parse_latex(rhs), sp.Add)


DROPPED_CELL = """states = ["h", "m"]
params = ["w_gah", "U_ga", "b_ga", "w_ooh", "U_oo", "b_oo"]
[shapes]
w_gah = ["n"]
U_ga = ["n", "m"]
b_ga = ["n"]
w_ooh = ["n"]
U_oo = ["n", "m"]
b_oo = ["n"]
[intermediates]
gate = "sigmoid(w_gah*h + U_ga @ x + b_ga)"
o = "tanh(gate*(w_ooh*h + U_oo @ x + b_oo))"
[update]
h = "o*tanh(m) + h/4 + o/(1 + abs(o))"
m = "o*m/2 + o + exp(-o*o)/4"
"""


def test_a_call_broken_over_lines_keeps_every_factor_of_its_argument(tmp_path):
    """F^{mh}_t = diag((A + B)·C), too long for a line: the layout took the sum's \\\\bigl( for the whole
    argument's and dropped its last piece, the factor C = (1 − o e^{−o²}/2 + m/2), printing diag(A + B)."""
    cell = tmp_path / "dropped.toml"
    cell.write_text(DROPPED_CELL)
    latex = snippet(derive(RNN(T=2, n=4, m=3, layers=2, cell=str(cell)), "recursive", "all"))
    rows = latex.splitlines()
    start = next(i for i, row in enumerate(rows) if r"F^{mh(1)}_{t} &=" in row)
    end = next(i for i in range(start + 1, len(rows)) if "&=" in rows[i])
    definition = " ".join(rows[start:end])
    assert r"\frac{m^{(1)}_{t-1}}{2}" in definition, definition
    assert definition.count(r"\bigl(") == definition.count(r"\bigr)"), definition
