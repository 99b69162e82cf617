"""The independent reference for cell files (reference_files.py) and the check's trials on cell files: the
reference agrees with reference.py where a file writes a built-in cell again, a wrong chain-rule line in
it is caught, and the check run on the files catches what it was built to catch."""

from __future__ import annotations

import ast
from pathlib import Path

import mpmath
import numpy as np
import pytest

from symbptt import reference, reference_files
from symbptt.activations import get_activation
from symbptt.cells import get_cell
from symbptt.check import TOLERANCE, _clear_caches, run_checks
from symbptt.check.trials import FILE_CELLS, WITH_FILES, draw_layers, random_trial

SAME = [("tests/cells/vgru.toml", "gru"), ("docs/cells/vindrnn.toml", "indrnn")]  # a file and its built-in twin


def test_it_imports_nothing_from_the_engine():
    tree = ast.parse(Path("symbptt/reference_files.py").read_text())
    found = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    found |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert found <= {"__future__", "ast", "sys", "collections.abc", "typing", "mpmath", "numpy", "tomllib", "tomli",
                     "reference"}, found


def _network(path: str, builtin: str, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    spec = get_cell(builtin, get_activation("tanh"))
    n, m, layers, T = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 6))
    loss = str(rng.choice(["last", "sum"]))
    params = draw_layers(spec, n, m, layers, rng)
    x = rng.uniform(-1, 1, (T, m))
    y = rng.uniform(-1, 1, n) if loss == "last" else rng.uniform(-1, 1, (T, n))
    truncate = int(rng.integers(1, T + 1)) if rng.random() < 0.5 else None
    return Path(path).read_text(), params, x, y, loss, truncate


def _largest_gap(a: list, b: list) -> mpmath.mpf:
    gaps = [abs(u - v) for g, h in zip(a, b, strict=True) for k in g
            for u, v in zip(np.ravel(g[k]), np.ravel(h[k]), strict=True)]
    return max(gaps, default=mpmath.mpf(0))


@pytest.mark.parametrize("path,builtin", SAME)
@pytest.mark.parametrize("seed", range(6))
def test_a_file_that_writes_a_builtin_cell_again_gets_the_same_numbers(path, builtin, seed):
    """Loss, gradients (full and truncated) and every ∂s_T/∂s_k block, to 35 of the 40 digits."""
    text, params, x, y, loss, truncate = _network(path, builtin, seed)
    with mpmath.workdps(40):
        mine, grads = reference_files.bptt(text, params, x, y, loss)
        theirs, want = reference.bptt(params, x, y, "tanh", loss, builtin, kind="mp")
        assert abs(mine - theirs) < mpmath.mpf(10) ** -35 * max(1, abs(theirs))
        assert _largest_gap(grads, want) < mpmath.mpf(10) ** -35
        if truncate:
            _, cut = reference_files.bptt(text, params, x, y, loss, truncate)
            _, cut_want = reference.bptt(params, x, y, "tanh", loss, builtin, kind="mp", truncate=truncate)
            assert _largest_gap(cut, cut_want) < mpmath.mpf(10) ** -35
        blocks = reference_files.jacobians(text, params, x, layer=-1)
        blocks_want = reference.jacobians(builtin, params, x, layer=-1)
        for k, (got, ref) in enumerate(zip(blocks, blocks_want, strict=True)):
            assert np.max(np.abs(got[("h", "h")] - ref[("h", "h")])) < mpmath.mpf(10) ** -35, k


@pytest.mark.parametrize("seed", range(3))
def test_the_sum_over_paths_bounds_the_gradient_and_the_builtin_sum(seed):
    """Σ|paths| over the file's own operations is at least |∂L/∂θ| and at least reference.py's sum over the
    chain-rule paths of the same cell (a finer split of the same paths adds up to more, never less)."""
    text, params, x, y, loss, truncate = _network(*SAME[0], seed=seed)
    with mpmath.workdps(40):
        _, grads, mags = reference_files.bptt(text, params, x, y, loss, truncate, magnitudes=True)
        _, _, coarse = reference.bptt(params, x, y, "tanh", loss, "gru", kind="mp", truncate=truncate,
                                      magnitudes=True)
    for g, m, c in zip(grads, mags, coarse, strict=True):
        for name in g:
            assert np.all(np.abs(g[name]) <= m[name] * (1 + 1e-30)), name
            assert np.all(c[name] <= m[name] * (1 + 1e-30)), name


def test_a_wrong_chain_rule_line_is_caught(monkeypatch):
    """Planted: tanh' written as 1 − tanh (not sech²); the agreement above fails by far."""
    wrong = reference_files._unary(mpmath.tanh, lambda v: 1 - mpmath.tanh(v))
    monkeypatch.setitem(reference_files.FUNCTIONS, "tanh", wrong)
    text, params, x, y, loss, _ = _network(*SAME[0], seed=1)
    with mpmath.workdps(40):
        _, grads = reference_files.bptt(text, params, x, y, loss)
        _, want = reference.bptt(params, x, y, "tanh", loss, "gru", kind="mp")
        assert _largest_gap(grads, want) > 1e-3


def test_a_shared_number_and_a_leaf_that_no_loss_reaches_start_from_zero():
    """A [] parameter is one number (its gradient sums over the units: central differences agree), and a
    truncated window's leaves that a term does not reach keep a gradient of 0, not the one before: with
    k = 1, h0 hears only the step-1 term, as in a run of one step."""
    text = FILE_CELLS["leaky.toml"]
    rng = np.random.default_rng(4)
    spec = random_trial(rng, 3, ("leaky.toml",)).config.spec
    params = draw_layers(spec, 3, 2, 1, rng)
    x, y = rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (4, 3))
    with mpmath.workdps(30):
        _, grads = reference_files.bptt(text, params, x, y, "sum")
        plus = [{**params[0], "leak": params[0]["leak"] + 1e-6}]
        minus = [{**params[0], "leak": params[0]["leak"] - 1e-6}]
        up, down = reference_files.bptt(text, plus, x, y, "sum")[0], reference_files.bptt(text, minus, x, y, "sum")[0]
        fd = (up - down) / 2e-6
        assert grads[0]["leak"].shape == (1,) and abs(grads[0]["leak"][0] - fd) < 1e-8
        _, cut = reference_files.bptt(text, params, x, y, "sum", truncate=1)
        _, first = reference_files.bptt(text, params, x[:1], y[:1], "sum")
        assert np.max(np.abs(cut[0]["h0"] - first[0]["h0"])) < 1e-25


def test_the_check_draws_every_cell_file():
    rng = np.random.default_rng(0)
    drawn = [random_trial(rng, 6, WITH_FILES) for _ in range(200)]
    assert {t.cell for t in drawn} >= set(FILE_CELLS)
    files = [t for t in drawn if t.text is not None]
    assert all(t.n == t.m == 1 for t in files if "[shapes]" not in FILE_CELLS[t.cell])
    assert any(t.n > 1 for t in files if t.cell == "leaky.toml")  # a shared number among several units
    assert not any(t.saturated for t in files)


def _file_run(cells: tuple[str, ...] = tuple(FILE_CELLS), trials: int = 8, seed: int = 2):
    return run_checks(trials=trials, seed=seed, T_max=4, cells=cells)


def test_the_check_agrees_everywhere_on_the_cell_files():
    report = _file_run()
    assert report.ok, report.table()
    for method in ("printed text", "printed LaTeX", "compiled forms", "grad JSON", "Jacobian norms"):
        assert report.entries[method] > 0, method
    assert report.entries["NumPy reference"] == 0  # the references for the built-in cells are not run on files


def test_a_shared_number_printed_as_a_diagonal_is_caught(monkeypatch):
    """Planted: D for a [] parameter as the diagonal a per-unit one has (what the forms printed before):
    ∂L/∂leak then has one entry per unit, and the check reports the printed and compiled forms."""
    from symbptt.cells import Cell

    monkeypatch.setattr(Cell, "shared", lambda self, leaf: False)
    _clear_caches()
    seed = next(s for s in range(100) if random_trial(np.random.default_rng(s), 4, ("leaky.toml",)).n > 1)
    report = run_checks(trials=1, seed=seed, T_max=4, cells=("leaky.toml",),
                        methods=("compiled forms", "printed text", "printed LaTeX"))
    _clear_caches()
    for method in ("compiled forms", "printed text", "printed LaTeX"):
        assert report.worst[method] > 1e3 * TOLERANCE[method], method


def test_a_name_of_several_letters_is_one_symbol_in_latex(monkeypatch):
    """leak is printed \\mathit{leak}, which SymPy's LaTeX parser reads as one symbol; planted: SymPy's own
    spelling, leak, which it reads as l·e·a·k, and the check reports the printed LaTeX."""
    import sympy as sp

    from symbptt import notation
    from symbptt.check.sympy_latex import parse_latex

    assert parse_latex(notation.Parts("leak", is_param=True).latex()) == sp.Symbol("leak")
    assert notation.Parts("delta", step="t").latex() == r"\delta_{t}"  # a Greek name stays a Greek letter
    monkeypatch.setattr(notation, "_latex_base", lambda base: sp.latex(sp.Symbol(base)))
    _clear_caches()
    report = run_checks(trials=1, seed=0, T_max=3, cells=("leaky.toml",), methods=("printed LaTeX",))
    _clear_caches()
    assert report.worst["printed LaTeX"] > 1e3 * TOLERANCE["printed LaTeX"]


def test_the_check_reads_a_cell_whose_derivatives_hold_calls_and_sigmas(monkeypatch):
    """mixed.toml: routes named from digits (D^hvr1_t), a state m, σ(h − m) of a sum it does not name, e (1 − r)
    and tanh(m) followed by another factor; its printed forms read right, and planted: the call printed bare
    (\\\\tanh{(m)} (…), read by SymPy's parser as tanh(m·(…))) is caught."""
    from symbptt import latex as layout
    from symbptt.printing import latex_printer

    cells, methods = ("mixed.toml",), ("printed text", "printed LaTeX")
    report = run_checks(trials=2, seed=1, T_max=3, cells=cells, methods=methods)
    assert report.ok and report.entries["printed LaTeX"] > 0, report.table()
    monkeypatch.setattr(latex_printer, "braced_call", lambda text: text)
    monkeypatch.setattr(layout, "braced_call", lambda text: text)
    monkeypatch.setattr(latex_printer, "_called", lambda expr: False)
    _clear_caches()
    planted = run_checks(trials=2, seed=1, T_max=3, cells=cells, methods=("printed LaTeX",))
    _clear_caches()
    assert planted.worst["printed LaTeX"] > 1e3 * TOLERANCE["printed LaTeX"]


def test_a_sum_inside_a_cell_file_s_node_that_cancels_is_not_claimed(tmp_path):
    """g = tanh(v·(u·x + b)) with u·x + b cancelling 2.2 digits: a scalar cell file has no linear maps, so
    no stored value holds the sum, and reruns that nudge stored values alone claimed 14.6 digits where the
    gradients hold 14.0 against reference_files.py; moving every parameter and input one rounding too
    shows what the sum loses, and the claim stays within what is held (the words say what was moved)."""
    import json

    from symbptt.config import load_config
    from symbptt.numeric.grad_report import grad_report

    text = 'states = ["h"]\nparams = ["w", "u", "b", "v"]\n[intermediates]\ng = "tanh(v*(u*x + b))"\n' \
           '[update]\nh = "tanh(w*h) + g/3"\n'
    (tmp_path / "c.toml").write_text(text)
    data = {"cell": str(tmp_path / "c.toml"), "w": 0.7, "u": 1.4475274248666012, "b": -0.7799947485789008, "v": 0.4,
            "h0": 0.1, "x": [0.5357653422762165], "y": 0.2}
    (tmp_path / "p.json").write_text(json.dumps(data))
    report = grad_report(load_config(str(tmp_path / "p.json")))
    assert "every stored value, parameter and input nudged" in report["precision"]
    layers = [{k: np.array([data[k]]) for k in ("w", "u", "b", "v", "h0")}]
    with mpmath.workdps(40):
        _, want = reference_files.bptt(text, layers, np.array([[data["x"][0]]]), np.array([data["y"]]))
    held = min(-mpmath.log10(abs(mpmath.mpf(report["grad"][k]) - want[0][k][0]) / abs(want[0][k][0]))
               for k in layers[0])
    assert report["float64_digits"]["worst_entry"] <= held
