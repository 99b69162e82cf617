"""Where users work: rich display in Jupyter, the tutorial notebook executed by a real kernel, the
interactive explorer driven headless, and the command line's conveniences."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symbptt import RNN, derive, explore

ROOT = Path(__file__).resolve().parent.parent


def test_equations_display_as_maths_and_hand_over_plain_sympy():
    d = derive(RNN(T=3), "explicit", "W")
    eq = d.equations[0]
    latex = eq._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and "\\frac{\\partial L}{\\partial w}" in latex
    assert repr(eq).startswith("Equation(∂L/∂w = (h_3 - y)*w*") and len(repr(eq)) < 90
    plain = eq.as_sympy()
    assert isinstance(plain, sp.Eq) and type(plain.rhs) is sp.Add
    assert all(type(t) is sp.Mul for t in plain.rhs.args)
    point = {s: v for s, v in zip(sorted(plain.rhs.free_symbols, key=str), (0.1, 0.4, -0.2, 0.6, 1.3, 0.3),
                                  strict=True)}
    assert float(plain.rhs.subs(point)) == pytest.approx(float(eq.rhs.subs(point)))
    assert sp.simplify(plain.rhs - eq.rhs) == 0


def test_derivations_display_typeset_pretty_and_short():
    from IPython.lib.pretty import pretty

    d = derive(RNN(T=3), "recursive", "W")
    assert repr(d) == "Derivation('recursive BPTT (backward pass), T = 3', … equations)" or repr(d).startswith(
        "Derivation('recursive")
    assert "\\delta" in d._repr_latex_() and "text{recursive BPTT" in d._repr_latex_()
    assert pretty(d).splitlines()[0] == "# recursive BPTT (backward pass), T = 3"
    long = derive(RNN(T=500), "recursive", "W")._repr_latex_()
    assert "more equations" in long and long.count("\\\\") < 60


def test_explorer_redraws_what_the_maths_says():
    """Linear unit: log10‖∂h_T/∂h_k‖ = (T − k)·log10|w| exactly; moving the slider moves the curve."""
    e = explore(T=6, activation="linear", w=0.5)
    k = np.arange(7)
    assert np.allclose(e.data["log10_norms"], (6 - k) * np.log10(0.5))
    e.w.value = 2.0
    assert np.allclose(e.data["log10_norms"], (6 - k) * np.log10(2.0))
    e.T.value = 3
    assert len(e.data["log10_norms"]) == 4 and e.data["formula"].startswith("$$")
    e.T.value = 30
    assert e.data["formula"] is None and len(e.data["terms"]) == 30
    e.cell.value = "lstm"
    before = e.data["log10_norms"].copy()
    e.b.value = 4.0  # a larger forget bias keeps ∂h_T/∂h_0 larger
    assert e.data["wrt"] == "W_i" and e.data["log10_norms"][0] > before[0]
    assert e.w.max == 3.0 and e.T.max == 200  # bounded sliders: out-of-range values cannot be set
    e.T.value = 500
    assert e.T.value == 200


def test_explorer_bars_grow_with_the_term_from_a_floor():
    """A larger |term| is a taller bar (bars hung from 0 made the smallest term the longest), coloured by
    sign, with a legend saying so."""
    from symbptt.explorer import figure

    terms = np.array([-1e-6, 2e-3, 0.5, 0.0])
    data = {"k": np.arange(5), "log10_norms": np.zeros(5), "term_k": np.arange(1, 5), "terms": terms, "wrt": "w"}
    fig = figure(data)
    right = fig.axes[1]
    bars = right.patches
    tops = [b.get_y() + b.get_height() for b in bars]
    assert all(b.get_y() == -7.0 for b in bars)  # the floor: a decade below the smallest term, 10^-6
    assert tops[:3] == pytest.approx([-6.0, np.log10(2e-3), np.log10(0.5)]) and bars[3].get_height() == 0
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["term > 0", "term < 0"]


def test_explorer_shows_a_refusal_as_one_line(monkeypatch):
    from symbptt import explorer
    from symbptt.errors import SymbpttError

    e = explore(T=4)
    monkeypatch.setattr(explorer, "compute", lambda *a: (_ for _ in ()).throw(SymbpttError("too far")))
    e.w.value = 1.0
    assert "too far" in e.message.value and "Traceback" not in e.message.value


@pytest.mark.parametrize("kwargs,words", [
    ({"T": "a"}, "T must be a whole number"), ({"T": 500}, "T must be from 1 to 200"),
    ({"w": 5.0}, "w must be from -3 to 3"), ({"b": float("nan")}, "b must be finite")])
def test_explorer_refuses_what_its_sliders_cannot_hold(kwargs, words):
    """A T, w or b outside its slider was moved into it without a word (or raised the widgets' own error):
    now one line names it."""
    from symbptt.errors import SymbpttError

    with pytest.raises(SymbpttError, match=words):
        explore(**kwargs)


def test_tutorial_is_stored_without_outputs_and_its_cells_parse():
    """Every suite: the notebook is valid, has no stored outputs (readable diffs), and each code cell is
    Python; running it (7–16 s) is left to the two tests below, run with -m slow."""
    import ast

    import nbformat

    nb = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert len(code) >= 10 and all(not cell.get("outputs") for cell in code)
    for cell in code:
        ast.parse(cell.source)


@pytest.mark.slow  # 12–16 s: a kernel starts
def test_tutorial_notebook_runs_in_a_kernel():
    """Every cell of docs/tutorial.ipynb executed by a real Jupyter kernel, no errors; stored without
    outputs so that its diffs stay readable."""
    import nbclient
    import nbformat

    path = ROOT / "docs" / "tutorial.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("text/latex" in o.get("data", {}) for o in outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs)


@pytest.mark.slow  # 7–9 s, most of it the tutorial's own `check` and `train` cells
def test_tutorial_code_runs(monkeypatch):
    """The tutorial's code cells run in order in one namespace, as the kernel runs them, and the value
    each cell ends on shows as the notebook shows it (LaTeX for equations, a PNG for figures)."""
    import ast
    import io

    import matplotlib
    import nbformat

    matplotlib.use("Agg")
    monkeypatch.chdir(ROOT)
    nb = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    namespace: dict = {}
    shown = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        tree = ast.parse(cell.source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
            if hasattr(value, "_repr_latex_"):
                shown.append(("latex", value._repr_latex_()))
            elif hasattr(value, "savefig"):
                buffer = io.BytesIO()
                value.savefig(buffer, format="png")
                shown.append(("png", buffer.getvalue()))
    assert any(kind == "latex" and text.startswith("$$") for kind, text in shown)
    assert any(kind == "png" and data.startswith(b"\x89PNG") for kind, data in shown)


def test_every_command_has_examples_in_its_help():
    from click.testing import CliRunner

    from symbptt.cli import main

    for command in ("derive", "latex", "grad", "sweep", "check", "plot", "train"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output, command


def test_python_dash_m_and_shell_completion():
    version = subprocess.run([sys.executable, "-m", "symbptt", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "symbptt" in version.stdout
    env = dict(os.environ, _SYMBPTT_COMPLETE="bash_source")
    script = subprocess.run(["symbptt"], capture_output=True, text=True, env=env)
    assert script.returncode == 0 and "_symbptt_completion" in script.stdout
    env = dict(os.environ, _SYMBPTT_COMPLETE="bash_complete", COMP_WORDS="symbptt der", COMP_CWORD="1")
    words = subprocess.run(["symbptt"], capture_output=True, text=True, env=env)
    assert "derive" in words.stdout


def test_bash_completes_kinds_cells_wrt_and_lists():
    """In bash itself (the function click writes for it): plot kinds, cells, the --wrt of the cell given
    so far, the next cell of a comma-separated list."""
    import shutil

    bash = shutil.which("bash")
    assert bash, "bash is needed for this test"
    cases = [("symbptt plot sp", "spectrum"), ("symbptt derive --cell lstm --wrt W_", "W_i W_f W_g W_o"),
             ("symbptt theory --cell min", "mingru minlstm"), ("symbptt plot curves --cell rnn,l",
                                                               "rnn,lstm rnn,lru")]
    script = 'eval "$(_SYMBPTT_COMPLETE=bash_source symbptt)"\n'
    for words, _ in cases:
        n = len(words.split()) - (0 if words.endswith(" ") else 1)
        script += (f'COMPREPLY=(); COMP_WORDS=({words}{" " if words.endswith(" ") else ""}); COMP_CWORD={n}; '
                   f'[[ "{words}" == *" " ]] && COMP_WORDS+=(""); _symbptt_completion symbptt; '
                   'echo "${COMPREPLY[*]}"\n')
    ran = subprocess.run([bash, "-c", script], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [want for _, want in cases]


def test_a_derivation_prints_as_sympy_objects_do():
    """str(d) and sympy.pretty(d) are the Unicode form, sympy.latex(d) the snippet, each also by name."""
    from symbptt.latex import snippet
    from symbptt.render import render_text

    d = derive(RNN(T=2), "explicit", "W")
    assert str(d) == d.pretty() == render_text(d, pretty=True)
    assert sp.latex(d) == d.latex() == snippet(d) and "\\frac{\\partial L}{\\partial w}" in d.latex()
    assert d.text().splitlines()[1].startswith("∂L/∂w = (h_2 - y)*")
    pretty = sp.pretty(d).splitlines()
    assert pretty[0].startswith("# explicit BPTT") and [p.rstrip() for p in pretty] == d.pretty().splitlines()


def test_a_plot_shows_itself_and_still_unpacks():
    """A plot function's value displays as the figure in a notebook (not a tuple of arrays) and unpacks
    into the figure and the arrays it draws."""
    from symbptt import plots

    drawn = plots.regimes(T_max=8, points=5)
    fig, data = drawn
    assert fig is drawn.figure and data is drawn.data and "weights" in data.values
    assert drawn._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert repr(drawn).startswith("Drawn(figure, data with weights")


def test_completing_a_plot_kind_lists_every_kind_without_importing_the_figure_code():
    """Tab after `symbptt plot` took 2.7 s: listing the kinds imported the plots (matplotlib and all).
    The plot command lists them itself; they are the kinds plots draws."""
    from symbptt import plots
    from symbptt.plotcli import KIND_OPTIONS

    assert tuple(KIND_OPTIONS) == tuple(plots.KINDS)
    code = ("import sys\nfrom symbptt.cli import main\ntry:\n    main(prog_name='symbptt')\nfinally:\n"
            "    print('imported' if 'matplotlib' in sys.modules else 'not imported', file=sys.stderr)\n")
    env = dict(os.environ, _SYMBPTT_COMPLETE="bash_complete", COMP_WORDS="symbptt plot ", COMP_CWORD="2")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert [line.split(",")[1] for line in ran.stdout.split()] == list(plots.KINDS)
    assert ran.stderr.strip().endswith("not imported"), ran.stderr
