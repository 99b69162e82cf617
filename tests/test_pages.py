"""LaTeX that keeps to the page: long products, notes and columns are displayed or broken where one line
of a standalone document cannot hold them, compiled with a real pdflatex and read back."""

from __future__ import annotations

import re

import numpy as np
import sympy as sp
from conftest import TIE_CELL, compile_tex
from test_latex import _value

from symbptt import RNN
from symbptt import primitives as P
from symbptt.document import standalone
from symbptt.forms import derive
from symbptt.latex import notes_tex, snippet
from symbptt.readback import Evaluator, latex_equations


def test_a_long_carried_coefficient_is_displayed_and_keeps_to_the_page(tmp_path):
    """The Bound section set a cell file's ∏ (coefficient_j) inline in its sentence, however long: for the
    file below it ran 62 pt past the right margin (97 pt for docs/cells/mgu.toml).  A long one is now
    displayed, broken over rows as the definitions are, with no row holding a closing bracket alone; a
    short one (the LSTM's diag(f_j)) stays in the sentence."""
    path = tmp_path / "tie.toml"
    path.write_text(TIE_CELL)
    doc = standalone(RNN(T=3, cell=str(path)))
    bound = doc.split(r"\section*{Bound}")[1]
    assert r"\prod_{j=k+1}^{t} \bigl(" in bound.split(r"\begin{align*}")[1] and "$\\partial h_t" not in bound
    assert bound.count(r"\bigl(") == bound.count(r"\bigr)")
    two = standalone(RNN(T=2, layers=2, cell=str(path)))  # its definitions' last terms filled their rows
    assert two.count(r"\bigl(") == two.count(r"\bigr)") and not re.search(r"&\\qquad \\bigr\)", two)
    log = compile_tex(tmp_path, "tie", doc)
    assert not [float(pt) for pt in re.findall(r"Overfull \\hbox \(([\d.]+)pt", log) if float(pt) > 3.0]
    lstm = standalone(RNN(T=2, n=2, cell="lstm")).split(r"\section*{Bound}")[1]
    assert r"\begin{align*}" not in lstm and r"\prod_{j=k+1}^{t} \operatorname{diag}\bigl(f_{j}\bigr)$" in lstm


def test_a_nested_activation_keeps_its_document_on_the_page(tmp_path):
    """tanh(tanh(tanh(a)))·sigmoid(a): its σ' set beside σ and γ on one row ran 412 pt past the margin, the
    general form's ∏ w σ'(a_j) 800 pt, and the general form's note, σ'(a_j) inline, 11 pt (41 pt with the
    logistic written sigmoid).  σ, σ' and γ now stand one below the other, σ' broken over rows; the ∏ is
    broken inside its body; the note displays its σ'(a_j), broken over rows, where the forms' readers do
    not take it for a form's equation, and it reads back as the activation's σ'."""
    from symbptt.readback import latex_to_text

    rnn = RNN(T=3, activation="tanh(tanh(tanh(a)))*sigmoid(a)")
    doc = standalone(rnn)
    model = doc.split(r"\section*{Model}")[1].split(r"\section*")[0]
    assert r"\sigma'(a) &= \bigl(" in model and r"\gamma &= \sup_a" in model
    log = compile_tex(tmp_path, "nested", doc)
    assert not re.findall(r"Overfull \\hbox \(([\d.]+)pt", log)
    general = derive(rnn, "general", "w")
    note = notes_tex(general)
    assert note.startswith(r"\noindent valid for every $T \geq 1$, where") and r"\begin{align*}" not in note
    rows = note.split(r"\begin{aligned}")[1].split(r"\end{aligned}")[0].strip().split(" \\\\\n")
    assert rows[0].startswith(r"\sigma'(a_j) &= ") and all(row.startswith(r"&\qquad ") for row in rows[1:])
    read = latex_to_text(" ".join([rows[0].split("&= ", 1)[1], *(row[len(r"&\qquad "):] for row in rows[1:])]))
    want = float(rnn.act.np_dsigma(np.array([0.37]))[0])
    assert abs(float(Evaluator(lambda token: 0.37)(read)) - want) <= 1e-12  # a_j = 0.37
    forms = re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", snippet(general), re.S)
    assert len(forms) == 1 and "sigma'(a_j)" not in forms[0]  # the note is no equation of the form
    short = standalone(RNN(T=3, activation="a/(1+abs(a))")).split(r"\section*{Model}")[1]
    assert r"\qquad \sigma'(a) = " in short.split(r"\section*")[0]  # a short one keeps its one row


def test_a_stacked_cell_file_s_carried_products_keep_to_the_page(tmp_path):
    """Each of the two layers' products of tests/cells/sinshift.toml, w^{(ℓ)} cos(w^{(ℓ)} h^{(ℓ)}_{j−1} + …),
    was short enough to stay in the sentence by its coefficient's length (under 100 characters), but the
    formula with its layer marks was not: it ran 64 pt past the margin.  The whole formula's length decides
    now; one layer's product and an LSTM's diag(f_j) stay in the sentence."""
    from pathlib import Path

    cell = str(Path(__file__).parent / "cells" / "sinshift.toml")
    doc = standalone(RNN(T=2, layers=2, cell=cell))
    bound = doc.split(r"\section*{Bound}")[1]
    assert r"\begin{align*}" in bound and "$\\partial h" not in bound
    log = compile_tex(tmp_path, "stacked", doc)
    assert not [float(pt) for pt in re.findall(r"Overfull \\hbox \(([\d.]+)pt", log) if float(pt) > 3.0]
    one = standalone(RNN(T=2, cell=cell)).split(r"\section*{Bound}")[1]
    assert r"\begin{align*}" not in one and r"$\partial h_t/\partial h_k = \prod_{j=k+1}^{t}" in one


def test_a_column_of_long_entries_is_written_entry_by_entry_and_reads_back(tmp_path):
    """The unrolled forward pass sets each state as a column of its entries, and a matrix's entries cannot
    be broken over rows: a GRU's second layer with n = 3 ran 21 pt past the margin, an rnn with
    a + sin(a) 267 pt.  A column whose longest entry passes ENTRY_CHARS is now one equation per entry,
    each broken as any long right-hand side; short columns stay matrices.  Each entry's row reads back
    to the API's value of that entry."""
    from symbptt.latex import ENTRY_CHARS, tex

    rnn = RNN(T=1, cell="gru", n=3, layers=2)
    derivation = derive(rnn, "unroll", "all")
    read = dict(latex_equations(snippet(derivation)))
    evaluate, entries = Evaluator(_value), 0
    for eq in derivation.equations:
        if not isinstance(eq.lhs, sp.MatrixBase):
            continue
        long = max(len(tex(v)) for v in eq.rhs) > ENTRY_CHARS
        for symbol, value in zip(eq.lhs, eq.rhs, strict=True):
            assert (sp.sstr(symbol) in read) == long, sp.sstr(symbol)
            if long:
                entries += 1
                api = P.plain(value).xreplace({s: _value(sp.sstr(s)) for s in value.free_symbols})
                want = complex(sp.N(api, 20)).real
                assert abs(float(evaluate(read[sp.sstr(symbol)])) - want) <= 1e-10 * max(1.0, abs(want))
    assert entries >= 9  # layer 2's r, z and n at least
    log = compile_tex(tmp_path, "column", standalone(RNN(T=2, cell="gru", n=3, layers=2)))
    assert not [float(pt) for pt in re.findall(r"Overfull \\hbox \(([\d.]+)pt", log) if float(pt) > 3.0]


def test_a_matrix_too_wide_for_the_page_is_written_entry_by_entry_and_reads_back():
    """The LSTM's J^hh_1 at n = 2 is a 2 × 2 matrix whose entries are sums of four products: set as a matrix
    it ran 1161 pt past the margin.  A named matrix whose columns' widest entries add up past ENTRY_CHARS is
    one equation per entry, J^{hh}_{1,i,j}, each reading back to the API's value of that entry; the rnn's
    short J_1 stays a matrix."""
    from symbptt.latex import ENTRY_CHARS, tex

    derivation = derive(RNN(T=1, cell="lstm", n=2), "factors", None)
    text = snippet(derivation)
    read = dict(latex_equations(text))
    evaluate, split = Evaluator(_value), 0
    for eq in derivation.equations:
        if not isinstance(eq.rhs, sp.MatrixBase) or eq.rhs.shape[1] < 2:
            continue
        widths = [max(len(tex(eq.rhs[i, j])) for i in range(eq.rhs.rows)) for j in range(eq.rhs.cols)]
        wide = sum(widths) > ENTRY_CHARS
        split += wide
        for i in range(eq.rhs.rows):
            for j in range(eq.rhs.cols):
                name = f"{eq.lhs.name}[{i + 1},{j + 1}]"
                assert (name in read) == wide, name
                if wide:
                    value = eq.rhs[i, j]
                    api = P.plain(value).xreplace({s: _value(sp.sstr(s)) for s in value.free_symbols})
                    want = complex(sp.N(api, 20)).real
                    assert abs(float(evaluate(read[name])) - want) <= 1e-10 * max(1.0, abs(want))
    assert split >= 2 and r"J^{hh}_{1,1,2} &= " in text
    assert r"J_{1} &= \left[\begin{matrix}" in snippet(derive(RNN(T=1, n=2), "factors", None))


def test_a_stacked_document_gives_each_layer_its_own_carried_path(tmp_path):
    """With two layers the Bound section wrote layer 1's coefficient for ∂h_t/∂h_k, whatever the layer:
    the LRU's ∏ e^{−e^{ν^{(1)}}}, and for a cell file w^{(1)} beside an h_{j-1} of no layer.  Each layer now
    has its own product, in its own symbols (layer 2 reads h^{(1)}_j where layer 1 reads x_j)."""
    lru = standalone(RNN(T=2, layers=2, cell="lru")).split(r"\section*{Bound}")[1]
    for layer in (1, 2):
        assert (rf"\partial h^{{({layer})}}_{{t}}/\partial h^{{({layer})}}_{{k}} = \prod_{{j=k+1}}^{{t}} "
                rf"\bigl(e^{{- e^{{\nu^{{({layer})}}}}}}\bigr)") in lru
    assert "each layer's state Jacobian" in lru
    path = tmp_path / "tie.toml"
    path.write_text(TIE_CELL)
    bound = standalone(RNN(T=2, layers=2, cell=str(path))).split(r"\section*{Bound}")[1]
    second = bound[bound.index(r"\frac{\partial h^{(2)}_{t}}"):]
    assert "u^{(2)} h^{(1)}_{j}" in second and "x_{j}" not in second
    assert not re.search(r"h_\{j(-1)?\}", bound)  # every state carries its layer
