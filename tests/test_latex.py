"""LaTeX output: every combination compiles with a real pdflatex; the numbers survive the round trip."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from conftest import ACTIVATIONS, require_program

from symbptt import RNN, SymbpttError, derive
from symbptt.derive import FORMS, SymbolicFactors
from symbptt.latex import snippet, standalone, tikz_diagram
from symbptt.paths import evaluate_recursive

COMBOS = list(itertools.product(ACTIVATIONS, (1, 2), (1, 2), (1, 3, 8)))


def compile_tex(tmp_path, name: str, text: str) -> None:
    pdflatex = require_program("pdflatex")
    (tmp_path / f"{name}.tex").write_text(text)
    proc = subprocess.run([pdflatex, "-halt-on-error", "-interaction=nonstopmode", f"{name}.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert proc.returncode == 0 and not errors, errors[:5] or proc.stdout[-2000:]
    assert (tmp_path / f"{name}.pdf").stat().st_size > 1000


def all_form_snippets(rnn: RNN) -> str:
    """Every form's snippet (those within their size limits) in one body."""
    parts = []
    for form in FORMS:
        try:
            parts.append(snippet(derive(rnn, form, "all")))
        except SymbpttError:
            assert form == "expanded"
    return "\n".join(parts)


@pytest.mark.parametrize("act,n,layers,T", COMBOS)
def test_every_combination_compiles(tmp_path, act, n, layers, T):
    """Standalone with and without the diagram, and every form's snippet, under pdflatex -halt-on-error."""
    rnn = RNN(T=T, n=n, layers=layers, activation=act)
    plain = standalone(rnn, wrt="all", diagram=False)
    plain = plain.replace("\\end{document}", "\\section*{All forms}\n" + all_form_snippets(rnn) + "\\end{document}")
    compile_tex(tmp_path, "plain", plain)
    compile_tex(tmp_path, "diagram", standalone(rnn, wrt="W", diagram=True))


def test_same_command_same_bytes(tmp_path):
    outs = []
    for i in range(2):
        path = tmp_path / f"doc{i}.tex"
        subprocess.run([sys.executable, "-m", "symbptt", "latex", "-T", "3", "--standalone", "--diagram",
                        "-o", str(path)], check=True, timeout=300)
        outs.append(path.read_bytes())
    assert outs[0] == outs[1]


def test_output_folder_must_exist(tmp_path):
    target = tmp_path / "missing" / "x.tex"
    proc = subprocess.run([sys.executable, "-m", "symbptt", "latex", "-T", "3", "-o", str(target)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and not target.parent.exists()


def test_factors_stay_in_time_order_in_latex():
    text = snippet(derive(RNN(T=4), "explicit", "W"))
    first = text.splitlines()[2]
    steps = [int(m) for m in re.findall(r"h_\{(\d)\}\^\{2\}", first)]
    assert steps == [4, 3, 2, 1]


def test_diagram_draws_every_step_and_layer():
    pic = tikz_diagram(RNN(T=3, layers=2))
    assert pic.count("node[input]") == 3
    assert pic.count("node[state]") == 8  # (T + 1) columns × 2 layers
    assert pic.count("$W^{(1)}$") == 3 and pic.count("$U^{(2)}$") == 3
    long = tikz_diagram(RNN(T=50))
    assert "\\cdots" in long and "x_{50}" in long


def parse_our_latex(text: str) -> sp.Expr:
    """Read back the LaTeX this tool writes for scalar products (test-only; our own output, not user text)."""
    from sympy.parsing.sympy_parser import implicit_multiplication, parse_expr, standard_transformations

    for old, new in ((r"\left(", "("), (r"\right)", ")"), (r"\cdot", "*"), ("^{", "**{")):
        text = text.replace(old, new)
    text = re.sub(r"([a-z])_\{(\d+)\}", r"\1_\2", text).replace("{", "(").replace("}", ")")
    names = {name: sp.Symbol(name, real=True) for name in re.findall(r"[a-z]_\d+|\b[wuby]\b", text)}
    return parse_expr(text, local_dict=names, transformations=(*standard_transformations, implicit_multiplication))


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("wrt", ["W", "U", "b", "h0"])
def test_explicit_latex_parsed_back_equals_recursive_form(act, wrt):
    """Each line of the explicit LaTeX is parsed back into SymPy; their sum evaluates, at random points,
    to the recursive form's value."""
    rnn = RNN(T=3, activation=act)
    lines = snippet(derive(rnn, "explicit", wrt)).splitlines()[2:-1]
    total = sp.Integer(0)
    for line in lines:
        body = line.split("&", 1)[1].removeprefix("= ").removeprefix("\\quad + ").rstrip(" \\")
        total += parse_our_latex(body)
    recursive = evaluate_recursive(rnn, wrt, 1, SymbolicFactors(rnn))[0, 0]
    rng = np.random.default_rng(7)
    for _ in range(3):
        point = {s: sp.Float(rng.uniform(-1, 1)) for s in recursive.free_symbols | total.free_symbols}
        a, b = float(total.xreplace(point)), float(recursive.xreplace(point))
        assert abs(a - b) <= 1e-12 * max(1.0, abs(b))
