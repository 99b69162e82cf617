"""`derive --format numpy`: the explicit or recursive form as a standalone NumPy module, executed here
against the independent reference BPTT for every cell, sizes up to 4 and up to 3 layers."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from conftest import run_in_process

from symbptt.check import random_trial, reference_activation
from symbptt.model import RNN
from symbptt.numeric.code import numpy_source
from symbptt.reference import CELLS, bptt


def _run(source: str, cfg) -> dict:
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # the code this test is about
    return namespace["gradient"](cfg.layers, cfg.x, cfg.y)


@pytest.mark.parametrize("form", ["explicit", "recursive"])
@pytest.mark.parametrize("cell", sorted(set(CELLS)))
def test_the_generated_module_computes_the_gradient(cell, form):
    rng = np.random.default_rng(5)
    for _ in range(3):
        trial = random_trial(rng, 3, (cell,))
        cfg = trial.config
        rnn = RNN(T=trial.T, n=trial.n, m=trial.m, layers=trial.layers, activation=trial.activation,
                  loss=trial.loss, cell=cell)
        source = numpy_source(rnn, form)
        assert max(len(line) for line in source.splitlines()) <= 100  # readable in an editor or a listing
        got = _run(source, cfg)
        _, want = bptt(cfg.layers, cfg.x, cfg.y, reference_activation(trial.activation or "tanh", "float"),
                       cfg.loss, cell)
        for layer, params in enumerate(want, 1):
            for name, value in params.items():
                scale = max(1.0, float(np.max(np.abs(value))))
                assert np.max(np.abs(got[(name, layer)] - value)) <= 1e-10 * scale, (trial.describe(), name)


@pytest.mark.parametrize("form", ["explicit", "recursive"])
def test_the_generated_module_of_a_cell_file_computes_the_gradient(form):
    """The check's cell files (one with a number every unit shares) against reference_files.py."""
    import mpmath

    from symbptt.check.trials import FILE_CELLS
    from symbptt.reference_files import bptt as file_bptt

    rng = np.random.default_rng(8)
    for name in FILE_CELLS:
        for _ in range(2):
            trial = random_trial(rng, 3, (name,))
            cfg = trial.config
            rnn = RNN(T=trial.T, n=trial.n, m=trial.m, layers=trial.layers, loss=trial.loss, cell=cfg.cell)
            got = _run(numpy_source(rnn, form), cfg)
            with mpmath.workdps(30):
                _, want = file_bptt(FILE_CELLS[name], cfg.layers, cfg.x, cfg.y, cfg.loss)
            for layer, params in enumerate(want, 1):
                for param, value in params.items():
                    value = np.asarray(value, dtype=float)
                    scale = max(1.0, float(np.max(np.abs(value))))
                    found = np.asarray(got[(param, layer)], dtype=float)
                    assert found.size == value.size, (trial.describe(), param)
                    gap = np.max(np.abs(found.reshape(value.shape) - value))
                    assert gap <= 1e-10 * scale, (trial.describe(), param)


def test_the_module_needs_numpy_only_and_names_its_command():
    ran = run_in_process("derive", "-T", "3", "--cell", "lstm", "-n", "2", "--form", "recursive", "--format",
                         "numpy")
    assert ran.returncode == 0, ran.stderr
    tree = ast.parse(ran.stdout)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"numpy", "math", "functools"}
    assert "LSTM, T = 3, n = 2" in ran.stdout and "def gradient(params, x, y):" in ran.stdout


def test_a_cell_file_and_a_single_parameter(tmp_path):
    """A scalar cell file (its scalar parameters are arguments of the factors) and --wrt of one name."""
    from symbptt.config import parse_config

    rnn = RNN(T=3, cell="docs/cells/mgu.toml")
    source = numpy_source(rnn, "recursive", "w_f")
    cfg = parse_config({"cell": "docs/cells/mgu.toml", "w_f": 0.7, "u_f": -0.4, "b_f": 0.2, "w_n": 1.1, "u_n": 0.8,
                        "b_n": -0.1, "h0": 0.3, "x": [0.5, -1.0, 0.25], "y": 0.2})
    got = _run(source, cfg)
    from symbptt.numeric.factors import gradients

    _, exact = gradients(cfg)
    assert list(got) == [("w_f", 1)]
    assert abs(float(np.ravel(got[("w_f", 1)])[0]) - float(np.ravel(exact[0]["w_f"])[0])) <= 1e-12


@pytest.mark.parametrize("args,message", [
    (["--form", "general"], "explicit or the recursive form"),
    (["-T", "5000", "--form", "explicit"], "more than the limit"),
])
def test_what_cannot_be_written_is_refused_in_one_line(args, message):
    ran = run_in_process("derive", *args, "--format", "numpy")
    assert ran.returncode == 2 and message in ran.stderr and "Traceback" not in ran.stderr


def test_long_lines_are_broken_inside_brackets_only():
    """The wrapper breaks after ', ' or before ' + ' inside brackets, never in a string or comment, and a
    top-level sum gets brackets of its own; the pieces still compile to the same code."""
    import ast

    from symbptt.numeric.code import _wrap_code

    long_sum = "    V['x'] = " + " + ".join(f"_c(values(0, {k}))[:, 0] * params[0]['W']" for k in range(6))
    call = "    return f(" + ", ".join(f"'a, b + c {k}'" for k in range(12)) + ")  # a, b + c"
    for line in (long_sum, call):
        pieces = _wrap_code(line)
        assert len(pieces) > 1 and all(len(p) <= 100 for p in pieces)
        body = "def g():\n" + "\n".join(pieces)
        assert ast.dump(ast.parse(body)) == ast.dump(ast.parse("def g():\n" + (line if "return" in line else
                                                                                 line.replace(" = ", " = (", 1) + ")")))
    assert _wrap_code("    short = 1") == ["    short = 1"]
