"""The independent reference for cell files (reference_files.py): it agrees with reference.py where a file
writes a built-in cell again, and a wrong chain-rule line in it is caught."""

from __future__ import annotations

import ast
from pathlib import Path

import mpmath
import numpy as np
import pytest

from symbptt import reference, reference_files
from symbptt.activations import get_activation
from symbptt.cells import get_cell
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


def test_a_wrong_chain_rule_line_is_caught(monkeypatch):
    """Planted: tanh' written as 1 − tanh (not sech²); the agreement above fails by far."""
    wrong = reference_files._unary(mpmath.tanh, lambda v: 1 - mpmath.tanh(v))
    monkeypatch.setitem(reference_files.FUNCTIONS, "tanh", wrong)
    text, params, x, y, loss, _ = _network(*SAME[0], seed=1)
    with mpmath.workdps(40):
        _, grads = reference_files.bptt(text, params, x, y, loss)
        _, want = reference.bptt(params, x, y, "tanh", loss, "gru", kind="mp")
        assert _largest_gap(grads, want) > 1e-3


def test_the_check_draws_every_cell_file():
    rng = np.random.default_rng(0)
    drawn = [random_trial(rng, 6, WITH_FILES) for _ in range(200)]
    assert {t.cell for t in drawn} >= set(FILE_CELLS)
    files = [t for t in drawn if t.text is not None]
    assert all(t.n == t.m == 1 for t in files if "[shapes]" not in FILE_CELLS[t.cell])
    assert any(t.n > 1 for t in files if t.cell == "leaky.toml")  # a shared number among several units
    assert not any(t.saturated for t in files)
