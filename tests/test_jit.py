"""The compiled step kernel (numeric/jit.py): the same numbers as the NumPy kernel, no result where
float64 raised an event, and nothing compiled for what it cannot compile.

The suite runs with SYMBPTT_JIT=0 (conftest: a cold compile costs seconds per cell); the tests here turn
it on for three structures — the plain cell stacked with loss 'sum', the LSTM and the GRU (whose
saturated gates take the exact path) — and `-m slow` runs every built-in cell.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys

import numpy as np
import pytest
from conftest import random_layers, random_model
from hypothesis import given
from hypothesis import strategies as st

import symbptt
from symbptt.activations import get_activation
from symbptt.cells import BUILTIN, get_cell
from symbptt.numeric import extended, jit, kernel
from symbptt.numeric.factors import ArrayFactors, FloatWatch, NumericModel
from symbptt.numeric.jit_source import BLAS_UNITS, BLAS_WORK


def _disagreement(model: NumericModel, fast: jit.FastPass) -> float:
    """The largest difference, relative to each array's size, between the compiled pass and the NumPy
    kernel's: every linear map, node and coefficient, every δ_t with its exponent, the loss and every
    gradient."""
    values = ArrayFactors(model, watch=FloatWatch())
    worst = 0.0
    for ours, theirs in zip(fast.trajectory.values + fast.trajectory.coefs, values.traj.values + values.traj.coefs,
                            strict=True):
        for key, arr in theirs.items():
            worst = max(worst, float(np.max(np.abs(ours[key] - arr))) / max(1.0, float(np.max(np.abs(arr)))))
    store, exps = kernel.deltas(values, kernel.plan(model.cell, model.layers, model.loss), rescale=True)
    their_store, their_exps = fast.deltas
    if not np.array_equal(exps, their_exps):
        return np.inf
    for key, arr in store.items():
        worst = max(worst, float(np.max(np.abs(their_store[key] - arr))) / max(1e-300, float(np.max(np.abs(arr)))))
    if fast.result is None:
        return np.inf
    loss, grads = kernel.gradients(values)
    worst = max(worst, abs(fast.result[0] - loss) / max(1.0, abs(loss)))
    for ours, theirs in zip(fast.result[1], grads, strict=True):
        for key, arr in theirs.items():
            scale = max(1e-300, float(np.max(np.abs(arr))))
            worst = max(worst, float(np.max(np.abs(ours[key] - arr))) / scale)
    return worst


CASES = [("rnn", 2, "sum"), ("lstm", 1, "last"), ("gru", 1, "last")]


# a batch, one sequence (its products column by column), a batch whose products go to BLAS (n ≥ BLAS_UNITS),
# and one sequence of as many units as the compiled kernel takes
@pytest.mark.parametrize(("n", "B"), [(4, 3), (4, 1), (BLAS_UNITS, 2), (jit.MAX_SEQUENCE_UNITS, 1)])
@pytest.mark.parametrize(("cell", "layers", "loss"), CASES)
def test_the_compiled_pass_equals_the_numpy_kernel(compiled_kernel, cell, layers, loss, n, B):
    params, x, y, model = random_model(cell, n, layers, loss, T=12 if n < BLAS_UNITS else 5, B=B, seed=1)
    fast = jit.float_pass(model.cell, model.params, model.x, model.y, loss)
    assert fast is not None
    # the loops and NumPy's BLAS add a product's n terms in different orders: what that can change grows
    # with n (a sum of n terms rounds n − 1 times; 4.9e-13 was seen at n = 128)
    assert _disagreement(model, fast) < 1e-13 * max(1, n // BLAS_UNITS)


def test_products_go_to_blas_only_for_a_batch_from_blas_units_within_blas_work(compiled_kernel):
    """The rule the kernels' loops read (jit_source._blas), and the sizes jit.worth_it gives the kernel."""
    blas = jit._shared()._blas
    assert blas(BLAS_UNITS, BLAS_UNITS, 2) and not blas(BLAS_UNITS - 1, BLAS_UNITS - 1, 2)
    assert not blas(BLAS_UNITS, BLAS_UNITS, 1) and blas(64, 64, 64) and not blas(64, 64, 65)
    assert not blas(64, BLAS_WORK // 64 // 2 + 1, 2)  # an input weight's sums with a wide input: loops


def _in_order(M: np.ndarray, s: np.ndarray) -> list[float]:
    """M · s with each entry's terms added one by one in the order of j from 0 (Python's floats)."""
    out = []
    for row in M.tolist():
        total = 0.0
        for w, v in zip(row, s.tolist(), strict=True):
            total += w * v
        out.append(total)
    return out


def test_a_product_column_by_column_adds_each_sum_in_the_order_a_row_adds_it(compiled_kernel):
    """Property (60 draws of sizes 1–70 and entries over 16 decades, where the order of additions shows
    in the last bits): the column-by-column loops of one sequence (jit_lines.column_lines, compiled here as
    a kernel writes them out) and of the nudged reruns (jit_nudge._columns, with each sum's size |M|·|s|)
    give every sum bit for bit as adding a row's terms in order does; adding them in the other order differs
    somewhere, so the comparison can fail."""
    from numba import njit

    from symbptt.numeric import jit_nudge
    from symbptt.numeric.jit_lines import column_lines

    text = "def column(MT, S, Q):\n    n = MT.shape[0]\n" + "".join(
        f"    {line}\n" for line in column_lines("MT", "S[j, 0]", "Q"))
    space: dict = {}
    exec(compile(text, "<column_lines>", "exec"), space)  # the generated lines, as a kernel holds them
    column = njit(space["column"])
    nudged = sys.modules[jit_nudge._helpers()[0]]
    rng = np.random.default_rng(11)
    reversed_differs = False
    for _ in range(60):
        n, B = int(rng.integers(1, 71)), int(rng.integers(1, 4))
        M = rng.normal(size=(n, n)) * 10.0 ** rng.integers(-8, 9, size=(n, n))
        S = rng.normal(size=(n, B)) * 10.0 ** rng.integers(-8, 9, size=(n, B))
        MT = np.ascontiguousarray(M.T)
        Q = np.empty((n, 1))
        column(MT, np.ascontiguousarray(S[:, :1]), Q)
        assert Q[:, 0].tolist() == _in_order(M, S[:, 0])
        V, Z = np.empty((B, n)), np.empty((B, n))
        nudged._columns(MT, np.abs(MT), S, V, Z)
        for bb in range(B):
            assert V[bb].tolist() == _in_order(M, S[:, bb])
            assert Z[bb].tolist() == _in_order(np.abs(M), np.abs(S[:, bb]))
        reversed_differs |= Q[:, 0].tolist() != _in_order(M[:, ::-1], S[::-1, 0])
    assert reversed_differs


@pytest.mark.parametrize(("cell", "layers", "loss"), [("rnn", 1, "sum"), ("lstm", 1, "last"), ("gru", 1, "last")])
def test_one_sequence_gets_the_bits_it_gets_in_a_batch(compiled_kernel, cell, layers, loss):
    """A sequence run alone (its products column by column) and the same sequence beside another in a
    batch of two (the batch's loops, n below BLAS_UNITS) store every linear map, node, coefficient and
    δ_t (times 2 to its step's exponent, which the batch shares) bit for bit alike.  One layer with one
    input (m = 1), so that U·x_t, which NumPy multiplies before the loops, has no sum whose order could
    differ."""
    rng = np.random.default_rng(4)
    spec = get_cell(cell, get_activation("tanh"))
    params = [{k: (np.asarray(v, dtype=float).reshape(-1, 1) if np.ndim(v) < 2 else np.asarray(v, dtype=float))
               for k, v in p.items()} for p in random_layers(spec, 12, 1, layers, rng, 0.8)]
    x = rng.normal(size=(30, 1, 2))
    y = rng.normal(size=(12, 2) if loss == "last" else (30, 12, 2))
    both = jit.float_pass(spec, params, x, y, loss)
    alone = jit.float_pass(spec, params, np.ascontiguousarray(x[..., :1]), np.ascontiguousarray(y[..., :1]), loss)
    assert both is not None and alone is not None
    for ours, theirs in zip(alone.trajectory.values + alone.trajectory.coefs,
                            both.trajectory.values + both.trajectory.coefs, strict=True):
        for key, arr in theirs.items():
            assert np.array_equal(ours[key][..., 0], arr[..., 0]), key
    (store, exps), (their_store, their_exps) = alone.deltas, both.deltas
    for key, arr in their_store.items():
        steps = np.arange(arr.shape[0])
        assert np.array_equal(np.ldexp(store[key][..., 0], exps[steps, None]),
                              np.ldexp(arr[..., 0], their_exps[steps, None])), key


@given(seed=st.integers(0, 10**6), T=st.integers(1, 40), B=st.integers(1, 4), n=st.integers(1, 6))
def test_gradients_agree_with_and_without_the_compiled_kernel(seed, T, B, n):
    """Property: for random stacks of the plain cell, symbptt.gradients gives the same loss and gradients
    (to float64 rounding) with the compiled kernel and without it."""
    jit.available.cache_clear()
    os.environ["SYMBPTT_JIT"] = "1"
    try:
        params, x, y, _ = random_model("rnn", n, 2, "sum", T, B, seed)
        with_jit = symbptt.gradients(params, x, y, loss="sum")
    finally:
        os.environ["SYMBPTT_JIT"] = "0"
        jit.available.cache_clear()
    without = symbptt.gradients(params, x, y, loss="sum")
    assert abs(with_jit.loss - without.loss) <= 1e-13 * max(1.0, abs(without.loss))
    for ours, theirs in zip(with_jit.grads, without.grads, strict=True):
        for k, v in theirs.items():
            assert np.max(np.abs(ours[k] - v)) <= 1e-12 * max(1.0, float(np.max(np.abs(v)))), k


@pytest.mark.parametrize(("n", "B"), [(4, 3), (BLAS_UNITS, 2)])  # loops, and BLAS
def test_a_planted_transpose_is_caught(compiled_kernel, n, B):
    """The comparison above can fail: the δ kernel given W instead of Wᵀ disagrees with the NumPy kernel."""
    params, x, y, model = random_model("rnn", n, 2, "sum", T=12, B=B, seed=2)
    k = jit.kernels(model.cell, 2, "sum")
    assert k is not None
    original = k.deltas

    def untransposed(*args):
        args = list(args)
        first_weight = 6 + len(k.coefs)
        for i in range(first_weight, first_weight + len(k.weights)):
            args[i] = np.ascontiguousarray(args[i].T)
        return original(*args)

    planted = dataclasses.replace(k, deltas=untransposed)
    original_kernels = jit.kernels
    jit.kernels = lambda *a: planted  # type: ignore[assignment]
    try:
        fast = jit.float_pass(model.cell, model.params, model.x, model.y, "sum")
    finally:
        jit.kernels = original_kernels  # type: ignore[assignment]
    assert fast is not None and _disagreement(model, fast) > 1e-3


def test_a_float64_event_gives_no_result_and_the_watched_pass_takes_over(compiled_kernel):
    """A gate driven to −800 underflows σ'(a): the compiled pass says so (None), and symbptt.gradients
    comes back with the exact values the NumPy pass finds (mpmath digits)."""
    params, x, y, model = random_model("lstm", 2, 1, "last", T=5, B=1, seed=3)
    params[0]["b_f"] = np.array([-800.0, 0.3])
    model.params[0]["b_f"] = params[0]["b_f"].reshape(-1, 1)
    assert jit.float_pass(model.cell, model.params, model.x, model.y, "last") is None
    got = symbptt.gradients(params[0], x, y, cell="lstm")
    assert got.digits > 0


@pytest.mark.parametrize(("n", "m", "B"), [(BLAS_UNITS, BLAS_UNITS, 2), (64, 64, 64), (128, 128, 16)])
def test_an_underflow_in_a_corner_of_a_blas_product_raises_this_thread_s_flag(compiled_kernel, n, m, B):
    """The kernel reads float64 events from this thread's flags, so a product it gives BLAS (at most
    BLAS_WORK multiplications) must be computed on this thread: one entry of the result underflows, in
    the corner another thread would take, and the flag is raised here."""
    from numba import njit

    assert n * m * B <= BLAS_WORK

    @njit
    def product(a, b, out):
        np.dot(a, b, out)

    a, b, out = np.ones((n, m)), np.ones((m, B)), np.empty((n, B))
    a[-1, :], b[:, -1] = 1e-160, 1e-160
    test, clear = jit._fenv()
    product(np.ones((1, 1)), np.ones((1, 2)), np.empty((1, 2)))  # compiled before the flags are cleared
    clear(jit.FE_EVENTS)
    product(a, b, out)
    assert test(jit.FE_EVENTS) and 0 < out[-1, -1] < 1e-300 and out[0, 0] == m


def _underflowed_minlstm(T: int = 3) -> tuple[dict, np.ndarray, np.ndarray, float]:
    """A minLSTM whose gates f = σ(−1000), i = σ(−1001) are 0 in float64, so f/(f + i) is 0/0 there,
    though it is 1/(1 + e^−1) exactly; with ã = 0, h_T = (1/(1 + e^−1))^T h_0 (the expected loss)."""
    spec = get_cell("minlstm", get_activation("tanh"))
    n = 2
    p = {q: np.zeros((n, 1)) if spec.kind(q) == "input" else np.zeros(n) for q in spec.params}
    p["b_f"], p["b_i"], p["h0"] = np.full(n, -1000.0), np.full(n, -1001.0), np.full(n, 0.5)
    h_T = 0.5 * (1.0 / (1.0 + np.exp(-1.0))) ** T
    return p, np.ones((T, 1)), np.zeros(n), n * 0.5 * h_T**2


@pytest.mark.parametrize("on", [True, False])
def test_gates_that_underflow_to_0_over_0_take_the_exact_path(on, request):
    """The compiled pass raised ZeroDivisionError (a traceback from symbptt.gradients) and the NumPy pass
    called the cell "not defined on these data"; both now hand the step to mpmath."""
    if on:
        request.getfixturevalue("compiled_kernel")
    p, x, y, loss = _underflowed_minlstm()
    got = symbptt.gradients(p, x, y, cell="minlstm")
    assert got.digits > 0 and got.loss == pytest.approx(loss, rel=1e-14)
    assert np.allclose(got.grads["b_f"], -got.grads["b_i"], rtol=1e-14)  # f and i enter only through f/(f + i)


def test_what_it_cannot_compile_is_left_to_numpy(compiled_kernel, tmp_path, monkeypatch):
    """A custom activation's primitive has no compiled form: no source is written, the pass is None."""
    monkeypatch.setenv("SYMBPTT_CACHE", str(tmp_path))
    spec = get_cell("rnn", get_activation("a/(1+abs(a))"))
    assert jit.kernels(spec, 1, "last") is None
    assert not (tmp_path / "jit").exists() or not list((tmp_path / "jit").glob("*.py"))
    assert jit.worth_it(128, 1) and not jit.worth_it(129, 1) and jit.worth_it(16, 1024) and not jit.worth_it(16, 1025)
    assert jit.worth_it(64, 64) and not jit.worth_it(64, 65) and jit.worth_it(256, 4) and not jit.worth_it(256, 5)


def test_without_scipy_the_kernel_is_not_used(compiled_kernel, monkeypatch):
    """Numba takes the BLAS of a batch's products from SciPy: without it nothing compiled runs."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a))
    jit.available.cache_clear()
    assert not jit.available()
    monkeypatch.setattr(importlib.util, "find_spec", real)
    jit.available.cache_clear()
    assert jit.available()


def test_the_source_is_written_once_and_loaded_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBPTT_CACHE", str(tmp_path))
    source = "VALUE = 41 + 1\n"
    first, fresh = jit._load(source)
    files = list((tmp_path / "jit").glob("kernel_*.py"))
    assert first.VALUE == 42 and fresh and len(files) == 1 and files[0].read_text() == source
    again, fresh = jit._load(source)
    assert again.VALUE == 42 and not fresh and list((tmp_path / "jit").glob("kernel_*.py")) == files
    files[0].write_text("VALUE = 0\n")  # a cached file changed since it was written is written again
    mended, fresh = jit._load(source)
    assert mended.VALUE == 42 and fresh and files[0].read_text() == source


def test_the_suite_runs_without_the_kernel_and_symbptt_does_not_import_numba():
    """Numba's import (and any compile) is paid only by a call that uses the kernel."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import symbptt, sys; symbptt.derive; print('numba' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert os.environ.get("SYMBPTT_JIT") == "0"


def test_a_report_too_short_for_the_compiled_reruns_does_not_import_numba(compiled_kernel):
    """`symbptt grad` on the shipped example (T = 3, far below jit_nudge.MIN_STEPS) with the kernel turned
    on: the rule's sizes are read before jit.available, whose import of Numba (a quarter to half a second
    of every such command) the report would not use.  (It imported Numba before: the rule asked first.)"""
    import subprocess

    code = ("import sys; from symbptt.numeric.examples import example_config; "
            "from symbptt.numeric.grad_report import grad_report; "
            "grad_report(example_config('rnn', 3, 4, seed=0)); print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=os.environ | {"SYMBPTT_JIT": "1"})
    assert out.stdout.strip() == "False", (out.stdout, out.stderr[-500:])


@pytest.mark.parametrize("command", ["grad", "train"])
@pytest.mark.parametrize(("setting", "compiled"), [(None, False), ("1", True), ("0", False)])
def test_a_command_runs_on_numpy_unless_the_kernel_is_asked_for(compiled_kernel, monkeypatch, tmp_path, command,
                                                                setting, compiled):
    """`symbptt grad` and `symbptt train` (one process each, which would pay for loading the kernels) run
    with the compiled kernel off unless SYMBPTT_JIT=1 is set — `grad` on a run long enough for the compiled
    reruns (T = MIN_STEPS) — and leave the setting as they found it."""
    import json

    from conftest import run_in_process

    import symbptt.learn
    from symbptt.numeric import grad_report as module
    from symbptt.numeric import jit_nudge

    if setting is None:
        monkeypatch.delenv("SYMBPTT_JIT")
    else:
        monkeypatch.setenv("SYMBPTT_JIT", setting)
    jit.available.cache_clear()
    seen: list[bool] = []
    owner, name = (module, "grad_report") if command == "grad" else (symbptt.learn, "train")
    original = getattr(owner, name)

    def recorded(*args: object, **kwargs: object) -> object:
        seen.append(jit.available())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    if command == "grad":
        params = {"W": [[0.5, -0.3], [0.2, 0.4]], "U": [[1.0], [0.5]], "b": [0.0, 0.1], "h0": [0.0, 0.0],
                  "x": [[0.1 * math.sin(t)] for t in range(jit_nudge.MIN_STEPS)], "y": [0.2, -0.1]}
        path = tmp_path / "p.json"
        path.write_text(json.dumps(params))
        ran = run_in_process("grad", "--params", str(path))
    else:
        ran = run_in_process("train", "-n", "4", "-T", "6", "--iterations", "3", "-o", str(tmp_path / "run.csv"))
    assert ran.returncode == 0, ran.stderr
    assert seen == [compiled] and os.environ.get("SYMBPTT_JIT") == setting


def test_sums_over_many_exponents_equal_the_numpy_kernel(compiled_kernel):
    """A saturated unit over 1500 steps: δ is rescaled by powers of two every few steps, so the sums over t
    run in many pieces, each with its exponent; h0's gradient (about 10^-700) keeps its size and digits."""
    one = {"W": np.array([[3.0]]), "U": np.array([[1.0]]), "b": np.zeros(1), "h0": np.zeros(1)}
    x, y = np.ones((1500, 1)), np.array([0.5])
    shaped = [{k: v.reshape(-1, 1) if v.ndim < 2 else v for k, v in one.items()}]
    model = NumericModel(get_cell("rnn", get_activation("tanh")), shaped, x[:, :, None], y[:, None], "last")
    fast = jit.float_pass(model.cell, model.params, model.x, model.y, "last")
    assert fast is not None and len(set(fast.deltas[1].tolist())) > 10
    assert _disagreement(model, fast) < 1e-13
    got = symbptt.gradients(one, x, y)
    assert got.kernel == "compiled" and got.log10["h0"][0] < -600 and got.exact is not None
    assert set(got.exact) == {"h0"} and all(got.grads[k].dtype == np.float64 for k in one)  # the rest in range


@given(st.lists(st.integers(-3, 3), min_size=2, max_size=80))
def test_runs_of_equal_exponents_cover_every_step_once(exps):
    """kernel.run_bounds: consecutive runs tile the steps 1..T, each holds one exponent, neighbours differ."""
    arr = np.array(exps, dtype=np.int64)
    starts, stops, values = kernel.run_bounds(arr)
    assert starts[0] == 0 and stops[-1] == len(exps) - 1 and np.array_equal(starts[1:], stops[:-1])
    for a, b, e in zip(starts, stops, values, strict=True):
        assert a < b and set(arr[1:][a:b].tolist()) == {e}
    assert np.all(values[1:] != values[:-1])
    assert kernel._runs(arr) == list(zip(starts.tolist(), stops.tolist(), values.tolist(), strict=True))


def test_the_compiled_runs_are_the_numpy_runs(compiled_kernel):
    """The sums kernel finds the runs itself (jit_source's _runs): the same bounds as kernel.run_bounds
    for one step, one run, a change at every step and 300 seeded random exponent sequences."""
    shared = jit._shared()
    rng = np.random.default_rng(5)
    cases = [[0, 4], [2, 2, 2, 2], [0, 1, 2, 3, 4, 5], [7, 0, 0, 1, 1, 0]]
    cases += [rng.integers(-2, 3, size=int(rng.integers(2, 60))).tolist() for _ in range(300)]
    for exps in cases:
        arr = np.array(exps, dtype=np.int64)
        got = shared._runs(arr, len(exps) - 1)
        for a, b in zip(got, kernel.run_bounds(arr), strict=True):
            assert np.array_equal(a, b), exps


@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(-5000, 5000))
def test_exact_entries_hold_mantissa_times_a_power_of_two_exactly(value, exponent):
    """extended.exact_entries (a gradient beyond float64's range as mpf entries) against mpmath's own
    ldexp, at any float64 (subnormals, −0.0 and the largest included) and exponent."""
    import mpmath

    got = extended.exact_entries(np.array([[value, -value]]), np.array([[exponent, exponent]]))
    assert got.shape == (1, 2) and got.dtype == object
    for entry, v in zip(got.flat, (value, -value), strict=True):
        assert entry == mpmath.ldexp(mpmath.mpf(v), exponent)



@pytest.mark.parametrize(("rexps", "scale"), [([0], 1.0), ([0], 2.0**-1060), ([0], 2.0**-1000), ([0, 3], 1.0),
                                              ([5], 1.0)])
def test_a_weight_s_sum_keeps_what_the_mantissa_and_exponent_path_keeps(compiled_kernel, rexps, scale):
    """jit_source._outer writes a single run's normal sums at exponent 0 as they are (no frexp, no
    ldexp): every entry and the count of those beyond float64's normal range must be what _add and
    _finish make of the same sums — a subnormal sum stays (mantissa, exponent), whatever the run."""
    import mpmath

    jit.kernels(get_cell("rnn", get_activation("tanh")), 1, "last")  # the shared loops' module, loaded
    shared = jit._shared()
    rng = np.random.default_rng(3)
    n, m, B, T = 5, 4, 3, 6
    R, Z = rng.normal(size=(T + 1, n, B)) * scale, rng.normal(size=(T, m, B))
    R[:, 0, :] = 0.0  # a row of exact zeros
    starts, stops = np.array([0, 3][:len(rexps)]), np.array([3, T][-len(rexps):] if len(rexps) > 1 else [T])
    GM, GX = np.empty((n, m)), np.empty((n, m), dtype=np.int64)
    shared._clear(GM, GX)
    shared._outer(R, Z, starts, stops, np.array(rexps), GM, GX)
    outside = shared._finish(GM, GX)
    runs = []  # each run's sums in the kernel's order (over the batch, then step by step), in Python floats
    for a, b in zip(starts, stops, strict=True):
        S = np.zeros((n, m))
        for idx in range(a, b):
            for i in range(n):
                for k in range(m):
                    s = 0.0
                    for bb in range(B):
                        s += float(R[idx + 1, i, bb]) * float(Z[idx, k, bb])
                    S[i, k] += s
        runs.append(S)
    with mpmath.workdps(60):
        expected = [sum((mpmath.ldexp(mpmath.mpf(float(S.flat[j])), int(e)) for S, e in zip(runs, rexps, strict=True)),
                        mpmath.mpf(0)) for j in range(n * m)]
        got = [mpmath.ldexp(mpmath.mpf(float(v)), int(e)) for v, e in zip(GM.flat, GX.flat, strict=True)]
        normal = [v == 0 or mpmath.ldexp(1, -1022) <= abs(v) < mpmath.ldexp(1, 1024) for v in expected]
        assert outside == normal.count(False)
        assert all(int(e) == 0 for e, kept in zip(GX.flat, normal, strict=True) if kept)
        tolerance = 0 if len(rexps) == 1 else 2.0**-52  # one run: exact; runs added: one rounding each
        assert all(abs(g - v) <= tolerance * abs(v) for g, v in zip(got, expected, strict=True))
    if scale < 2.0**-1022 and rexps == [0]:
        assert outside > 0  # the case the shortcut must not take

@pytest.mark.slow
@pytest.mark.parametrize("n", [3, BLAS_UNITS])  # a batch's products as loops, and by BLAS
@pytest.mark.parametrize("loss", ["last", "sum"])
@pytest.mark.parametrize("cell", BUILTIN)
def test_every_cell_compiled_equals_the_numpy_kernel(compiled_kernel, cell, loss, n):
    params, x, y, model = random_model(cell, n, 2, loss, T=10, B=2, seed=4)
    fast = jit.float_pass(model.cell, model.params, model.x, model.y, loss)
    assert fast is not None
    assert _disagreement(model, fast) < 1e-13


def test_training_takes_the_compiled_forward_pass_and_ignores_events(compiled_kernel):
    """A training batch (LSTM n = 4, batch 8): the compiled trajectory gives the iteration's gradients to
    float64 rounding; with a gate at −800 (an underflow) it still runs, since training asks for no exact
    numbers, where the exact path's strict pass says None."""
    from symbptt.learn.train import batch_gradients, forward

    params, x, y, model = random_model("lstm", 4, 1, "last", T=15, B=8, seed=6)
    model.params[0]["b_f"] = np.full((4, 1), -800.0)
    assert jit.trajectory(model.cell, model.params, model.x) is None
    with np.errstate(all="ignore"):
        values = forward(model)
        assert values.traj.values is not None and jit.trajectory(model.cell, model.params, model.x, strict=False)
        fast = batch_gradients(values, model, model.cell, 5, None)
        slow = batch_gradients(ArrayFactors(model), model, model.cell, 5, None)
    assert abs(fast[0] - slow[0]) <= 1e-13 * max(1.0, abs(slow[0])) and abs(fast[2] - slow[2]) < 1e-12
    for key, arr in slow[1][0].items():
        assert np.max(np.abs(fast[1][0][key] - arr)) <= 1e-12 * max(1.0, float(np.max(np.abs(arr)))), key


def test_a_command_knows_before_the_wait_that_it_compiles(compiled_kernel, tmp_path, monkeypatch):
    """compiles_first: true where the kernel's source is new to the cache folder (`symbptt train` and
    `symbptt grad` then say they compile, on a terminal), false once it is there, and false where the
    kernel would not run."""
    from symbptt.numeric import jit_nudge

    monkeypatch.setenv("SYMBPTT_CACHE", str(tmp_path))
    spec = get_cell("rnn", get_activation("tanh"))
    caches = (jit.kernels, jit._forward, jit._shared, jit_nudge.nudged_kernels, jit_nudge._helpers)
    for cache in caches:
        cache.cache_clear()
    try:
        assert jit.compiles_first(spec, 1, 4, 32)
        assert not jit.compiles_first(spec, 1, 64, 65)  # the NumPy kernel runs there
        # `symbptt grad`: the reruns that measure the digits kept (one sequence, up to 128 units)
        assert jit_nudge.compiles_first(spec, 2, "sum", 128, 50)
        assert not jit_nudge.compiles_first(spec, 2, "sum", 129, 50)  # the NumPy reruns run there
        assert not jit_nudge.compiles_first(spec, 2, "sum", 128, 49)  # and for a run this short
        for cache in caches:
            cache.cache_clear()
        assert not jit.compiles_first(spec, 1, 4, 32)
        assert not jit_nudge.compiles_first(spec, 2, "sum", 64, 50)
    finally:
        for cache in caches:
            cache.cache_clear()


def _ulps(got: np.ndarray, args: np.ndarray) -> np.ndarray:
    """|got − tanh(x)| in units in the last place of the exact value (mpmath at 120 bits)."""
    import math

    import mpmath

    with mpmath.workprec(120):
        exact = [mpmath.tanh(mpmath.mpf(float(v))) for v in args]
        return np.array([float(abs(mpmath.mpf(float(g)) - e)) / math.ulp(float(e)) if e else float(g != 0)
                         for g, e in zip(got, exact, strict=True)])


def test_the_compiled_tanh_is_as_accurate_as_the_c_librarys(compiled_kernel):
    """The kernel's tanh (made from the e^{−2|x|} its derivative uses) against mpmath, from 1e-300 to 40 on
    both sides of the switch at |x| = 0.35: within 2.5 units in the last place (the C library's, which it
    replaced, is within 2.0); signed zeros, ±inf and NaN as math.tanh gives them.  Written with the
    (1 − e)/(1 + e) branch everywhere, the small arguments lose about log10(1/|x|) digits and this fails."""
    import math

    from numba import njit

    from symbptt import primitives as P
    from symbptt.numeric.jit_source import SCALAR

    namespace: dict = {"math": math, "njit": njit}
    exec("@njit\ndef each(A, out):\n    for i in range(A.shape[0]):\n        out[i] = "  # noqa: S102
         + SCALAR[P.tanh].replace("X", "(A[i])") + "\n", namespace)
    rng = np.random.default_rng(3)
    spans = [(1e-300, 1e-10), (1e-10, 0.3), (0.3, 0.4), (0.4, 5.0), (5.0, 40.0)]
    args = np.concatenate([np.exp(rng.uniform(np.log(a), np.log(b), 300)) for a, b in spans])
    args = np.concatenate([args, -args, [0.34, 0.35, 0.36]])
    got = np.empty_like(args)
    namespace["each"](args, got)
    assert float(np.max(_ulps(got, args))) <= 2.5
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])
    namespace["each"](special, got := np.empty(5))
    want = np.array([math.tanh(v) for v in special])
    assert np.array_equal(got[:4], want[:4]) and list(np.signbit(got[:4])) == list(np.signbit(want[:4]))
    assert np.isnan(got[4])


def test_the_compiled_growth_reads_what_the_numpy_reading_reads(compiled_kernel):
    """Property (80 draws: one sequence or a batch of up to 4, T from 1 to 150, h alone or h and c, the
    steps' δ spread over 10^±0.5 to 10^±175, so that some squares leave float64's normal range and some
    batches have squares in range whose ratios do not): jit_growth.growth gives amplification._all_normal's
    growth and step (another step only where it grows as much), and None exactly where that does."""
    from symbptt.numeric import amplification, jit_growth

    rng = np.random.default_rng(8)
    taken = 0
    for _ in range(80):
        n, B, T = int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 151))
        spread, states = float(rng.choice([2.0, 300.0, 560.0, 700.0])), [("h",), ("h", "c")][int(rng.integers(0, 2))]
        scale = 10.0 ** rng.uniform(-spread / 4, spread / 4, size=(T + 1, 1, B))
        store = {(1, s): rng.normal(size=(T + 1, n, B)) * scale for s in states}
        exps = rng.integers(-5, 5, size=T + 1)
        squares = sum(np.einsum("tnb,tnb->tb", block, block) for block in store.values())
        with np.errstate(all="ignore"):
            want = amplification._all_normal(squares, exps, T)
        got = jit_growth.growth((store, exps), states)
        assert (got is None) == (want is None), (T, B, spread)
        if got is not None and want is not None:
            taken += 1
            assert got[0] == pytest.approx(want[0], abs=1e-12)
            logs = (np.log10(squares[:-1, 0]) - np.log10(squares[-1, 0]) if B == 1  # each step's growth
                    else np.log10((squares[:-1] / squares[-1]).max(axis=1)))
            steps = 0.5 * logs + amplification.LOG10_2 * (exps[:-1] - exps[-1])
            assert got[1] == want[1] or abs(steps[got[1]] - want[0]) < 1e-12, (got, want)
    assert 20 < taken < 80  # both outcomes were drawn
