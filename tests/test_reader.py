"""Printed formulas read as a reader outside the project reads them: SymPy's own LaTeX parser."""

from __future__ import annotations

import functools

import mpmath
import numpy as np
import pytest
import sympy as sp

from symbptt import RNN, derive
from symbptt.check import Exact, random_trial, read_latex
from symbptt.check.reader import ReadError, factors, parse, terms
from symbptt.latex import snippet
from symbptt.render import render_text


def _trials(keep, count: int, T_max: int = 4):
    found, seed = [], 0
    while len(found) < count:
        trial = random_trial(np.random.default_rng(seed), T_max)
        if keep(trial):
            found.append(trial)
        seed += 1
    return found


def _read_errors(trial, form: str) -> float:
    rnn = RNN(T=trial.T, n=trial.n, m=trial.m, layers=trial.layers, activation=trial.activation,
              loss=trial.loss, cell=trial.cell)
    exact = Exact(trial)
    with mpmath.workdps(exact.dps):
        found = read_latex(snippet(derive(rnn, form, "all")), trial)
    return max(float(abs(f - e) / max(abs(e), 1e-30)) for f, e in zip(found, exact.grads, strict=True))


@functools.cache
def _scalar_trials() -> list:
    return _trials(lambda t: t.cell == "rnn" and t.n == 1 and t.layers == 1, 6)


@functools.cache
def _stacked_trials() -> list:
    return _trials(lambda t: t.layers > 1, 4, T_max=3)


# the trials are drawn when a test first needs them, not while the suite is collected (a custom
# activation in a trial costs a second to build, and every worker collects)
@pytest.mark.parametrize("index", range(6))
def test_the_general_scalar_form_reads_as_it_is_meant(index):
    trial = _scalar_trials()[index]
    assert _read_errors(trial, "general") < 1e-25, trial.describe()


@pytest.mark.parametrize("index", range(4))
def test_stacked_layers_read_with_each_layer_s_own_definitions(index):
    trial = _stacked_trials()[index]
    assert _read_errors(trial, "explicit" if trial.T <= 2 else "recursive") < 1e-25, trial.describe()


def test_the_old_unbracketed_general_form_is_read_another_way():
    """What the tool printed before: SymPy's parser puts (1 − h_k²)·h_{k−1} inside the product."""
    old = r"\sum_{k=1}^{T}\prod_{j=k+1}^{T} w\cdot(1-h_j^2)\cdot(1-h_k^2)\cdot h_{k-1}"
    [(sign, [(tree, _)])] = parse(old)  # one term, one factor: the ∑ reaches to its end
    product = tree.args[0]
    assert type(product).__name__ == "Product" and len(product.args[0].free_symbols) >= 3


def test_printed_general_form_brackets_every_product_that_other_factors_follow():
    d = derive(RNN(T=3), form="general", wrt="W")
    tex = snippet(d)
    assert r"\left(\prod_{j=k + 1}^{T}" in tex
    assert "⎜  │  │" in render_text(d, pretty=True)  # the product drawn inside a bracket


def test_layer_definitions_name_their_layer():
    text = render_text(derive(RNN(T=2, layers=2), form="explicit", wrt="W", named=True))
    assert "J^(2)_t = w^(2)*(1 - h^(2)_t**2)" in text and "V^(2)_t = u^(2)*(1 - h^(2)_t**2)" in text
    assert "J^(1)_t = w^(1)*(1 - h^(1)_t**2)" in text and "J_t =" not in text
    gru = snippet(derive(RNN(T=2, cell="gru", n=1, m=2, layers=2), form="explicit", wrt="W_r"))
    assert r"V^{(2)}_{t} &= u^{(2)}_{r}" in gru and "u_{r}^{(1)}" not in gru


def test_factors_split_only_at_the_top_level_and_never_under_a_big_operator():
    assert factors(r"\left(a \cdot b\right) \cdot c \cdot \frac{d}{e \cdot f}") == [
        r"\left(a \cdot b\right)", "c", r"\frac{d}{e \cdot f}"]
    assert factors(r"\sum_{k=1}^{T} a_k \cdot b") == [r"\sum_{k=1}^{T} a_k \cdot b"]


def test_terms_split_only_at_the_top_level():
    assert terms(r"\left(a - b\right) c + \sum_{k=1}^{T} d_k - e^{-x}") == [
        (1, r"\left(a - b\right) c"), (1, r"\sum_{k=1}^{T} d_k"), (-1, "e^{-x}")]


def test_what_the_parser_cannot_read_is_an_error():
    with pytest.raises(ReadError):
        parse(r"\left(a + ")


def test_a_power_of_a_parameter_is_a_power_and_index_letters_take_their_bound_values():
    """Trial 244 of `check --trials 1000` when check drew rnn, lstm and gru only: the general form of a
    linear unit writes Π_j w as w^{t - k}
    and Σ_t w^{t}·(h_t − y_t); the reader took w^{t} for a tag (like a^{f}_{t}) and a bare k for a symbol
    with no value.  A letter superscript with no subscript after it is a power."""
    import numpy as np

    from symbptt.check import Exact, random_trial, read_latex
    from symbptt.forms import derive
    from symbptt.latex import snippet
    from symbptt.model import RNN

    rng = np.random.default_rng(0)
    for _ in range(245):
        trial = random_trial(rng, 6, ("rnn", "rnn", "rnn", "lstm", "gru"))
    assert (trial.cell, trial.activation, trial.loss, trial.n) == ("rnn", "linear", "sum", 1)
    tex = snippet(derive(RNN(T=trial.T, activation="linear", loss="sum"), "general", "all"))
    assert "w^{t}" in tex and "w^{- k + t}" in tex
    import mpmath

    exact = Exact(trial)
    with mpmath.workdps(exact.dps):
        found = read_latex(tex, trial)
    assert all(abs(f - e) <= 1e-25 * max(1, abs(e)) for f, e in zip(found, exact.grads, strict=True))


def _prepared_texts(rnn: RNN, form: str) -> list[str]:
    """Every text the reader hands SymPy's parser for one printed derivation."""
    from symbptt.check.reader import Placeholders, _prepare, equations

    out = []
    for eq in equations(snippet(derive(rnn, form, "all"))):
        out += [_prepare(f, Placeholders()) for _, term in terms(eq.rhs) for f in factors(term)]
    return list(dict.fromkeys(out))


@pytest.mark.parametrize("rnn,form", [
    (RNN(T=3), "general"),
    pytest.param(RNN(T=2, n=2, layers=2), "recursive", marks=pytest.mark.slow),
    (RNN(T=2, cell="lstm"), "recursive"),
    pytest.param(RNN(T=2, cell="gru", loss="sum"), "explicit", marks=pytest.mark.slow)])
def test_the_fast_parse_is_the_tree_sympy_s_own_parse_gives(rnn, form):
    """ANTLR's SLL prediction (tried first) gives the very tree of SymPy's full LL parse on what the
    reader meets (every cell and form with ``-m slow``), and a text it cannot read gets SymPy's error."""
    from sympy.parsing.latex.errors import LaTeXParsingError

    from symbptt.check.sympy_latex import parse_latex

    texts = _prepared_texts(rnn, form)
    assert texts
    for text in texts:
        assert sp.srepr(parse_latex(text)) == sp.srepr(parse_latex(text, fast=False)), text
    for bad in (r"\frac{1}{", r"\sum_{k=1}", "(x"):
        with pytest.raises(LaTeXParsingError) as fast:
            parse_latex(bad)
        with pytest.raises(LaTeXParsingError) as slow:
            parse_latex(bad, fast=False)
        assert str(fast.value) == str(slow.value)


def test_when_the_fast_parse_fails_sympy_s_own_parse_decides(monkeypatch):
    from symbptt.check import sympy_latex

    def refuses(text):
        raise RuntimeError("SLL needs full context here")

    monkeypatch.setattr(sympy_latex, "_SLL", refuses)
    assert sympy_latex.parse_latex(r"\frac{a}{b} c") == sympy_latex.parse_latex(r"\frac{a}{b} c", fast=False)


def test_the_reader_and_its_evaluation_import_nothing_from_the_engine():
    """check/reader.py and check/evaluation.py read a printed formula as a reader outside the project
    would: besides each other and the parser's wrapper (sympy_latex), only the standard library, NumPy,
    mpmath and SymPy."""
    import ast
    from pathlib import Path

    allowed = {"__future__", "re", "collections.abc", "dataclasses", "functools", "typing", "numpy", "mpmath",
               "sympy", "sympy.parsing.latex.errors", "reader", "sympy_latex"}
    for name in ("reader", "evaluation"):
        tree = ast.parse(Path(f"symbptt/check/{name}.py").read_text())
        imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        assert imported <= allowed, (name, imported - allowed)
