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
import warnings

import numpy as np
import pytest
from conftest import random_layers
from hypothesis import given
from hypothesis import strategies as st

import symbptt
from symbptt.activations import get_activation
from symbptt.cells import BUILTIN, get_cell
from symbptt.numeric import extended, jit, kernel
from symbptt.numeric.factors import ArrayFactors, FloatWatch, NumericModel
from symbptt.numeric.jit_source import BLAS_UNITS, BLAS_WORK


@pytest.fixture
def compiled_kernel(monkeypatch):
    """The compiled kernel turned on (the suite turns it off); Numba and SciPy are required under CI=true."""
    try:
        import numba  # noqa: F401
        import scipy  # noqa: F401
    except ImportError as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing.name} is required in CI (the test extra installs it) but is not installed")
        pytest.skip(f"{missing.name} is not installed")
    jit.available.cache_clear()
    monkeypatch.setenv("SYMBPTT_JIT", "1")
    assert jit.available()
    yield
    jit.available.cache_clear()


def _model(cell: str, n: int, layers: int, loss: str, T: int, B: int, seed: int, scale: float = 0.8):
    rng = np.random.default_rng(seed)
    spec = get_cell(cell, get_activation("tanh"))
    m = min(spec.max_input or 3, 3)
    params = random_layers(spec, n, m, layers, rng, scale)
    x = rng.normal(size=(T, m, B))
    y = rng.normal(size=(n, B) if loss == "last" else (T, n, B))
    shaped = [{k: (np.asarray(v, dtype=float).reshape(-1, 1) if np.ndim(v) < 2 else np.asarray(v, dtype=float))
               for k, v in p.items()} for p in params]
    return params, x, y, NumericModel(spec, shaped, x, y, loss)


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
    params, x, y, model = _model(cell, n, layers, loss, T=12 if n < BLAS_UNITS else 5, B=B, seed=1)
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
    in the last bits): the column-by-column loops of one sequence (jit_source._column) and of the nudged
    reruns (jit_nudge._columns, with each sum's size |M|·|s|) give every sum bit for bit as adding a row's
    terms in order does; adding them in the other order differs somewhere, so the comparison can fail."""
    from symbptt.numeric import jit_nudge

    shared, nudged = jit._shared(), sys.modules[jit_nudge._helpers()[0]]
    rng = np.random.default_rng(11)
    reversed_differs = False
    for _ in range(60):
        (n, k), B = (int(v) for v in rng.integers(1, 71, size=2)), int(rng.integers(1, 4))
        M = rng.normal(size=(n, k)) * 10.0 ** rng.integers(-8, 9, size=(n, k))
        S = rng.normal(size=(k, B)) * 10.0 ** rng.integers(-8, 9, size=(k, B))
        MT = np.ascontiguousarray(M.T)
        Q = np.empty((n, 1))
        shared._column(MT, np.ascontiguousarray(S[:, :1]), Q)
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
        params, x, y, _ = _model("rnn", n, 2, "sum", T, B, seed)
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
    params, x, y, model = _model("rnn", n, 2, "sum", T=12, B=B, seed=2)
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
    params, x, y, model = _model("lstm", 2, 1, "last", T=5, B=1, seed=3)
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
    params, x, y, model = _model(cell, n, 2, loss, T=10, B=2, seed=4)
    fast = jit.float_pass(model.cell, model.params, model.x, model.y, loss)
    assert fast is not None
    assert _disagreement(model, fast) < 1e-13


def test_training_takes_the_compiled_forward_pass_and_ignores_events(compiled_kernel):
    """A training batch (LSTM n = 4, batch 8): the compiled trajectory gives the iteration's gradients to
    float64 rounding; with a gate at −800 (an underflow) it still runs, since training asks for no exact
    numbers, where the exact path's strict pass says None."""
    from symbptt.learn.train import batch_gradients, forward

    params, x, y, model = _model("lstm", 4, 1, "last", T=15, B=8, seed=6)
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


# ---------------------------------------------------------------- the report's nudged reruns, compiled


def _moved(values, sign, size=None):
    """One nudge as the report defines it (forward.UlpNoise): one unit in the last place towards sign·∞,
    a sum also sign·2⁻⁵³·Σ|terms|; an exact 0 (with a size of 0) stays."""
    from symbptt.numeric.forward import ROUNDING

    values = np.asarray(values)
    out = np.nextafter(values, sign * np.inf)
    if size is not None:
        out = out + sign * ROUNDING * size
    zero = (values == 0) if size is None else (values == 0) & (np.asarray(size) == 0)
    return np.where(zero, values, out)


class _Replay:
    """The NumPy rerun's noise, moving each value by the sign the compiled rerun drew for it: the seeded
    stream read array by array (each layer's linear maps, nodes and coefficients, then each δ), handed
    out in the order NumPy's pass moves its values (step by step: the maps together, then each node; the
    coefficients after the pass; δ from t = T down)."""

    def __init__(self, model: NumericModel, direction: int, scattered: bool, seed: int) -> None:
        from symbptt.numeric.forward import compiled

        rng = np.random.default_rng(seed) if scattered else None

        def draw(shape):
            return np.full(shape, float(direction)) if rng is None else direction * (
                2.0 * rng.integers(0, 2, size=shape) - 1.0)

        cell, cc, T = model.cell, compiled(model.cell), model.T
        shape = (T + 1, model.params[0][f"{cell.states[0]}0"].shape[0], model.x.shape[2])
        self.queue: list = []
        coefs = []
        for _ in model.params:
            maps, nodes = [draw(shape) for _ in cell.linears], [draw(shape) for _ in cc.node_names]
            coefs += [draw(shape) for _ in cc.keys]
            for t in range(1, T + 1):
                self.queue += [[g[t] for g in maps], *[g[t] for g in nodes]]
        deltas = [draw(shape) for _ in kernel.plan(cell, model.layers, model.loss).order]
        self.queue += coefs + [g[t] for t in range(T, -1, -1) for g in deltas]
        self.queue.reverse()

    def together(self, values, sizes):
        return [_moved(v, g, z) for v, g, z in zip(values, self.queue.pop(), sizes, strict=True)]

    def __call__(self, values, size=None):
        return _moved(values, self.queue.pop(), size)


def _numpy_exp_is_libms() -> bool:
    """Whether NumPy's exp is the C library's, as the compiled code's is (Numba calls libm): on a CPU with
    AVX-512, NumPy dispatches float64 exp to a SIMD loop of its own that differs in the last bit."""
    x = np.random.default_rng(0).normal(size=4096) * 5
    return bool(np.array_equal(np.exp(x), np.array([math.exp(v) for v in x])))


def test_the_compiled_reruns_nudge_every_value_the_numpy_rerun_nudges(compiled_kernel):
    """The report's reruns (kept_digits) run compiled where the kernel does (numeric/jit_nudge.py).  On
    a 2-layer minLSTM with the identity for g and loss 'sum' — sums as nodes (h = f h + i g), gates, both
    layers' routes, an error at every step — the compiled arithmetic is NumPy's operation for operation,
    so with the same signs every linear map, node, coefficient and δ_t agrees bit for bit with the NumPy
    rerun: a nudge left out, put in twice or given the wrong size moves a value by an ulp and fails here.
    All up, and scattered for one sequence and for a batch of three (each sequence its own column of every
    loop), with the seed of the first scattered rerun and of the second.  Where NumPy's exp is not the C
    library's (AVX-512), the check runs in a child process whose NumPy is told not to dispatch beyond its
    baseline (NPY_DISABLE_CPU_FEATURES), where it is."""
    import subprocess

    from numpy._core._multiarray_umath import __cpu_dispatch__

    if _numpy_exp_is_libms() or "NPY_DISABLE_CPU_FEATURES" in os.environ:  # (the child: never a grandchild)
        from symbptt.numeric.forward import UlpNoise

        seed = UlpNoise.SEED
        for direction, scattered, B, s in [(1, False, 1, seed), (-1, True, 1, seed), (-1, True, 3, seed),
                                           (1, True, 3, seed + 1)]:
            _check_compiled_nudges(direction, scattered, B, s)
        return
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=" ".join(__cpu_dispatch__))
    this = f"{__file__}::test_the_compiled_reruns_nudge_every_value_the_numpy_rerun_nudges"
    child = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", this],
                           env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0 and " passed" in child.stdout, child.stdout[-3000:] + child.stderr[-2000:]


def _check_compiled_nudges(direction: int, scattered: bool, B: int, seed: int) -> None:
    from symbptt.numeric.factors import Unwatched
    from symbptt.numeric.jit_nudge import nudged_pass

    spec = get_cell("minlstm", get_activation("linear"))
    rng = np.random.default_rng(4)
    T, n, layers = 50, 1, 2  # 100 steps × layers: the shortest run whose reruns run compiled
    params = random_layers(spec, n, 2, layers, rng, 0.8)
    shaped = [{k: np.asarray(v, dtype=float).reshape(-1, 1) if np.ndim(v) < 2 else np.asarray(v, dtype=float)
               for k, v in p.items()} for p in params]
    model = NumericModel(spec, shaped, rng.normal(size=(T, 2, B)), rng.normal(size=(T, n, B)), "sum")
    got = nudged_pass(model, direction, scattered, seed)
    assert got is not None
    noise = _Replay(model, direction, scattered, seed)
    with np.errstate(all="ignore"):
        values = ArrayFactors(model, watch=Unwatched(), noise=noise)  # type: ignore[arg-type]
        store, exps = kernel.deltas(values, kernel.plan(spec, layers, "sum"), rescale=True)
    assert not noise.queue
    for ell in range(layers):
        for name, arr in got.values[ell].items():
            assert np.array_equal(arr, values.traj.values[ell][name]), (ell, name)
            assert not np.array_equal(arr[1:], ArrayFactors(model).traj.values[ell][name][1:]), (ell, name)
        for key, arr in got.coefs[ell].items():
            assert np.array_equal(arr, values.traj.coefs[ell][key]), (ell, key)
    for (key, _, _), arr in zip(kernel.plan(spec, layers, "sum").order, got.deltas, strict=True):
        assert np.array_equal(arr, store[key]), key
    assert np.array_equal(got.exps, exps)


def _compiled_and_numpy_digits(model: NumericModel, monkeypatch) -> tuple[tuple, tuple]:
    """The digits kept_digits measures with the compiled reruns (every one of them run compiled) and with the
    NumPy reruns."""
    from symbptt.numeric import exact, jit_nudge, reruns

    loss, grads, _ = exact.exact_gradients(model)
    return _compiled_then_numpy(monkeypatch, reruns, "nudged_gradients", jit_nudge.nudged_gradients,
                                lambda: reruns.kept_digits(model, loss, grads), len(reruns.NUDGED_RUNS))


def _compiled_then_numpy(monkeypatch, where, name: str, compiled_rerun, measure, runs: int) -> tuple[tuple, tuple]:
    """What ``measure()`` counts with every rerun run compiled by ``compiled_rerun`` (``where.name``: each
    call counted, none falling back to NumPy), then with ``where.name`` turned off (the NumPy reruns)."""
    calls = []

    def counted(*args):
        calls.append(compiled_rerun(*args))
        return calls[-1]

    monkeypatch.setattr(where, name, counted)
    compiled_digits = measure()
    assert len(calls) == runs and all(c is not None for c in calls)
    monkeypatch.setattr(where, name, lambda *args: None)
    return compiled_digits, measure()


@pytest.mark.parametrize(("B", "seed"), [(1, 5), (5, 6)])
def test_the_compiled_reruns_measure_the_digits_the_numpy_reruns_measure(compiled_kernel, monkeypatch, B, seed):
    """Two stacked tanh cells, n = 6, T = 60, one sequence and a batch of 5 (the compiled tanh rounds
    differently from NumPy's, so the reruns cannot agree bit for bit): the digits kept_digits measures with
    the compiled reruns are within half a digit of those the NumPy reruns measure relative to each
    gradient's largest entry, and within a digit in the worst entry (one entry's change, which the
    machine's rounding moves most: 0.52 apart on an AMD EPYC host, as the slow test below allows), and
    below what a float64 holds (what reruns that nudged nothing would measure).  A shorter run, and a
    batch beyond LOOP_WORK, keep NumPy's."""
    from symbptt.numeric import jit_nudge, reruns

    _, _, _, model = _model("rnn", 6, 2, "sum", 60, B, seed=seed)
    compiled_digits, numpy_digits = _compiled_and_numpy_digits(model, monkeypatch)
    assert max(compiled_digits + numpy_digits) < reruns.FLOAT64_DIGITS
    assert abs(compiled_digits[0] - numpy_digits[0]) <= 0.5, (compiled_digits, numpy_digits)
    assert abs(compiled_digits[1] - numpy_digits[1]) <= 1.0, (compiled_digits, numpy_digits)
    _, _, _, short = _model("rnn", 6, 2, "sum", 49, B, seed=seed)  # 98 steps × layers: NumPy's reruns
    assert jit_nudge.nudged_pass(short, 1, False) is None
    n = 8
    batch = jit_nudge.LOOP_WORK // (n * n)
    assert jit_nudge.applies(model.cell, 2, "sum", n, batch, 60)
    assert not jit_nudge.applies(model.cell, 2, "sum", n, batch + 1, 60)


@pytest.mark.slow
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize(("layers", "loss"), [(1, "last"), (2, "sum")])
@pytest.mark.parametrize("cell", BUILTIN)
def test_every_cell_s_reruns_run_compiled_and_measure_what_numpy_s_measure(compiled_kernel, monkeypatch, cell, layers,
                                                                            loss, B):
    """Every built-in cell's nudged reruns compile and run (none falls back), for one sequence and a batch
    of three, and the digits they measure are within a digit of the NumPy reruns' (n = 5, T = 120;
    measured: at most 0.6 apart for one sequence, 0.48 for the batch)."""
    from symbptt.numeric import exact, jit_nudge, reruns

    _, _, _, model = _model(cell, 5, layers, loss, 120, B, seed=1)
    assert jit_nudge.nudged_gradients(model, 1, True) is not None
    value, grads, _ = exact.exact_gradients(model)
    compiled_digits = reruns.kept_digits(model, value, grads)
    monkeypatch.setattr(reruns, "nudged_gradients", lambda *args: None)
    numpy_digits = reruns.kept_digits(model, value, grads)
    assert all(abs(a - b) <= 1.0 for a, b in zip(compiled_digits, numpy_digits, strict=True)), (compiled_digits,
                                                                                               numpy_digits)


def _report_numbers(report: dict) -> dict:
    """The report's numbers that come from the float64 pass (loss, gradients, Jacobian norms), flattened."""
    return {key: _flat_numbers(report[key]) for key in ("loss", "grad", "grad_log10", "log10_jacobian_norms")}


@pytest.mark.parametrize(("cell", "drive"), [("rnn", 1.0), ("lstm", 1.0), ("gru", 1.0), ("mingru", 1.0), ("lru", 1.0),
                                             ("gru", 100.0)])
def test_the_report_reads_the_compiled_pass_and_says_what_numpy_s_says(compiled_kernel, monkeypatch, cell, drive):
    """`grad`'s report takes its float64 forward pass and δ from the compiled kernel where it runs (n = 5,
    T = 120): the same fields, precision and bound as with the kernel off, its numbers equal to float64
    rounding (the compiled exp and tanh round differently from NumPy's), the digits it measured within
    one.  A GRU whose inputs × 100 saturate its gates raises a float64 event in the compiled δ recursion:
    the watched NumPy recursion takes over from the compiled trajectory, and both reports are the same
    exact report."""
    from symbptt.numeric import grad_report
    from symbptt.numeric.examples import example_config

    cfg = example_config(cell, 120, 5, seed=3, drive=drive)
    passes: list[object] = []
    float_pass = jit.float_pass

    def counted(*args, **kwargs):
        passes.append(done := float_pass(*args, **kwargs))
        return done

    monkeypatch.setattr(jit, "float_pass", counted)
    with_jit = grad_report.grad_report(cfg)
    assert len(passes) == 1 and passes[0] is not None and (passes[0].deltas is None) == (drive > 1)
    monkeypatch.setenv("SYMBPTT_JIT", "0")
    jit.available.cache_clear()
    without = grad_report.grad_report(cfg)
    assert sorted(with_jit) == sorted(without)
    if drive > 1:
        assert with_jit == without and with_jit["precision"].startswith("Arb")
        return
    assert with_jit["precision"].startswith("float64") and without["precision"].startswith("float64")
    assert with_jit.get("regime") == without.get("regime") and with_jit["summary"] == without["summary"]
    ours, theirs = _report_numbers(with_jit), _report_numbers(without)
    for key, expected in theirs.items():
        got = ours[key]
        assert got.shape == expected.shape and np.array_equal(np.isnan(got), np.isnan(expected)), key
        kept = ~np.isnan(expected)
        scale = np.maximum(np.abs(expected[kept]), 1e-300 if key == "grad" else 1.0)
        assert np.all(np.abs(got[kept] - expected[kept]) <= 1e-10 * scale), key
    for key, digits in without["float64_digits"].items():
        assert abs(with_jit["float64_digits"][key] - digits) <= 1.0, key



def test_the_compiled_nudge_moves_a_value_as_numpy_s_nextafter_does(compiled_kernel):
    """The compiled reruns move a value by its bits (no branch on the sign drawn for it).  For 200,000
    random bit patterns (every exponent, both signs, subnormals, NaNs) and the edges — ±0, the smallest
    subnormal and normal, powers of two (whose step towards 0 is half the step away), the largest float,
    ±∞ — the result is NumPy's nextafter towards g·∞ plus g·ROUNDING·z, bit for bit, for g = ±1 and three
    sizes z."""
    import numba

    from symbptt.numeric import jit_nudge
    from symbptt.numeric.forward import ROUNDING

    module, _ = jit._load(jit_nudge.NUDGE_SOURCE)
    nudge = module._nudge

    @numba.njit
    def moved(values, z, g):
        out = np.empty_like(values)
        for i in range(values.size):
            out[i] = nudge(values[i], z, g[i])
        return out

    rng = np.random.default_rng(11)
    edges = np.array([0.0, -0.0, 5e-324, -5e-324, 2.0**-1022, -(2.0**-1022), 2.0**-1022 - 5e-324, 0.5, 1.0, -1.0,
                      2.0**1023, -(2.0**1023), np.finfo(float).max, -np.finfo(float).max, np.inf, -np.inf, np.nan])
    values = np.concatenate([edges, rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, 200_000,
                                                 dtype=np.int64).view(np.float64)])
    g = np.where(rng.integers(0, 2, values.size) == 1, 1.0, -1.0)
    for z in (0.0, 1.0, 1e-300):
        got = moved(values, z, g)
        with np.errstate(all="ignore"):
            want = np.where((values == 0.0) & (z == 0.0), values, np.nextafter(values, g * np.inf) + g * ROUNDING * z)
        same = (got.view(np.int64) == want.view(np.int64)) | (np.isnan(got) & np.isnan(want))
        assert same.all(), (z, values[~same][:5], got[~same][:5], want[~same][:5])


def test_measured_digits_read_the_compiled_pass_as_the_report_does(compiled_kernel, monkeypatch):
    """symbptt.gradients(..., digits=12) measures the pass `grad` measures: the compiled one where its reruns
    run compiled (two stacked GRUs, n = 5, T = 60); the same gradients to float64 rounding as with the
    kernel off, and digits within one of those measured there."""
    params, x, y, _ = _model("gru", 5, 2, "last", 60, 1, seed=8)
    passes: list[object] = []
    float_pass = jit.float_pass
    monkeypatch.setattr(jit, "float_pass", lambda *a: passes.append(float_pass(*a)) or passes[-1])
    with_jit = symbptt.gradients(params, x, y, cell="gru", digits=12)
    assert len(passes) == 1 and passes[0] is not None and with_jit.kept is not None
    monkeypatch.setenv("SYMBPTT_JIT", "0")
    jit.available.cache_clear()
    without = symbptt.gradients(params, x, y, cell="gru", digits=12)
    assert abs(with_jit.loss - without.loss) <= 1e-13 * abs(without.loss)
    for ours, theirs in zip(with_jit.grads, without.grads, strict=True):
        for k, v in theirs.items():
            assert np.max(np.abs(ours[k] - v)) <= 1e-12 * float(np.max(np.abs(v))), k
    assert all(abs(a - b) <= 1.0 for a, b in zip(with_jit.kept, without.kept, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("cell", BUILTIN)
def test_a_stacked_truncated_report_with_a_loss_at_every_step_reads_the_compiled_pass_alike(compiled_kernel,
                                                                                             monkeypatch, cell):
    """Every built-in cell, two layers, loss 'sum' and truncate 7 (n = 5, T = 120): the report with the
    compiled pass has the fields, precision path and numbers (to 1e-9) of the report with the kernel off."""
    import dataclasses

    from symbptt.numeric import grad_report
    from symbptt.numeric.examples import example_config

    cfg = example_config(cell, 120, 5, seed=4)
    rng = np.random.default_rng(1)
    top = {k: (rng.normal(size=(5, 5)) * 0.5 if cfg.spec.kind(k) == "input" else v.copy())
           for k, v in cfg.layers[0].items()}
    cfg = dataclasses.replace(cfg, layers=[cfg.layers[0], top], loss="sum", y=rng.normal(size=(120, 5)), truncate=7)
    with_jit = grad_report.grad_report(cfg)
    monkeypatch.setenv("SYMBPTT_JIT", "0")
    jit.available.cache_clear()
    without = grad_report.grad_report(cfg)
    assert sorted(with_jit) == sorted(without) and "truncated" in without
    assert with_jit["precision"].split(" (")[0] == without["precision"].split(" (")[0]
    for key in ("loss", "grad", "log10_jacobian_norms", "truncated"):
        ours, theirs = _flat_numbers(with_jit[key]), _flat_numbers(without[key])
        assert ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=1e-9, atol=0.0, equal_nan=True), key


def _flat_numbers(value: object) -> np.ndarray:
    """Every number of a report field in a fixed order (None as NaN; text left out)."""
    def walk(v: object) -> list[float]:
        if isinstance(v, dict):
            return [x for k in sorted(v) for x in walk(v[k])]
        if isinstance(v, list):
            return [x for e in v for x in walk(e)]
        if v is None or isinstance(v, (int, float)):
            return [math.nan if v is None else float(v)]
        return []

    return np.array(walk(value))


def test_a_long_compiled_sum_is_charged_what_a_random_walk_of_roundings_costs(compiled_kernel, monkeypatch):
    """The compiled sums over t add step by step: an LSTM's (2 layers, T = 55, a batch of 2, inputs × 20;
    a cell benchmarks/claims_sweep.py found) is off by 10.7·2⁻⁵³·Σ|terms| in an entry of ∂L/∂U_i.  The
    reruns do not nudge the sums; charged SUM_SPREAD·√110·2⁻⁵³·Σ|terms|, the sums alone claim 13.1 digits,
    and the gradients hold 13.47; charged 4·2⁻⁵³, as before, they claimed 13.5."""
    from test_gradients import _over_claim

    from symbptt.numeric import reruns

    case = ("lstm", "tanh", 2, 2, 2, 55, "last", 0.8, 20.0, 494196998)
    assert _over_claim(case) <= 1
    monkeypatch.setattr(reruns, "NUDGED_RUNS", ())  # the sums' charge alone
    assert _over_claim(case) <= 1
    monkeypatch.setattr(reruns, "sum_allowance", lambda terms: 2.0 ** -51)
    assert _over_claim(case) > 1


def _held_model(n: int = 4, layers: int = 1) -> NumericModel:
    """A tanh network (W = 4·N(0, 1/n): chaotic for n = 4; T = 120, so its reruns run compiled) for the
    held reruns."""
    spec = get_cell("rnn", get_activation("tanh"))
    rng = np.random.default_rng(3)
    T = 120
    params = [{"W": 4.0 * rng.normal(size=(n, n)) / np.sqrt(n), "U": rng.normal(size=(n, 1 if ell == 0 else n)),
               "b": np.zeros((n, 1)), "h0": np.full((n, 1), 0.3)} for ell in range(layers)]
    return NumericModel(spec, params, np.full((T, 1, 1), 0.1), np.zeros((n, 1)))


@pytest.mark.parametrize(("direction", "scattered"), [(0, False), (1, False), (1, True)])
def test_the_compiled_held_rerun_moves_every_delta_as_the_numpy_one(compiled_kernel, direction, scattered):
    """A split pass's rerun (split.nudged_on) nudges the exact trajectory where it is, then its δ recursion:
    compiled (jit_nudge.held_gradients) with the signs drawn as whole arrays from the noise's stream, every
    δ_t and exponent agrees bit for bit with the NumPy δ recursion given the same signs step by step —
    outward (direction 0: each δ away from 0, the compiled _nudge's g = 0), all up and scattered.  One
    unit in each of two layers, as in the test above: NumPy's products of n > 1 add in another order."""
    from symbptt.numeric import jit_nudge, split
    from symbptt.numeric.exact import exact_forward
    from symbptt.numeric.forward import Trajectory, UlpNoise

    model = _held_model(n=1, layers=2)
    values = split.float_values(model, exact_forward(model, 60))
    assert values is not None
    noise = UlpNoise(direction, scattered, UlpNoise.SEED)
    traj = values.traj
    moved = Trajectory([{name: noise(v) for name, v in layer.items()} for layer in traj.values],
                       [{} for _ in traj.values], traj.inputs, traj.scalars)
    split.with_coefficients(model, moved, noise)
    drawn: list[np.ndarray] = []

    def signs(shape):
        drawn.append(noise.signs(shape))
        return drawn[-1]

    k = jit_nudge.nudged_kernels(model.cell, 2, "last")
    contiguous = [{name: np.ascontiguousarray(v, dtype=float) for name, v in layer.items()} for layer in moved.coefs]
    outs, exps = jit_nudge._nudged_deltas(k, model, moved.values, contiguous, signs)
    the_plan = kernel.plan(model.cell, 2, "last")
    order = the_plan.order
    queue = [g[t] for t in range(model.T, -1, -1) for g in drawn][::-1]

    class Replay:  # NumPy's δ recursion moves δ_t step by step: the compiled rerun's signs, handed out in turn
        def __call__(self, values, size=None):
            g = queue.pop()
            return _moved(values, np.where(g == 0, np.copysign(1.0, values), g), size)

    with np.errstate(all="ignore"):
        store, numpy_exps = kernel.deltas(ArrayFactors(model, noise=Replay(), trajectory=moved),  # type: ignore[arg-type]
                                          the_plan, rescale=True)
    assert not queue
    for (key, _, _), arr in zip(order, outs, strict=True):
        assert np.array_equal(arr, store[key]), key
        plain = kernel.deltas(values, the_plan, rescale=True)[0][key]
        assert not np.array_equal(arr, plain)  # nudged: the rerun moved them
    assert np.array_equal(exps, numpy_exps)


def test_the_held_reruns_run_compiled_and_measure_what_numpy_measures(compiled_kernel, monkeypatch):
    """kept_digits on a split pass: every held rerun runs compiled (none falls back to NumPy), and the
    digits it counts are within half a digit of what the NumPy reruns count."""
    from symbptt.numeric import jit_nudge, reruns, split
    from symbptt.numeric.exact import exact_forward

    model = _held_model()
    values = split.float_values(model, exact_forward(model, 60))
    assert values is not None
    sizes: list[dict] = [{}]
    loss, grads = split.gradients(values, sizes)
    compiled_digits, numpy_digits = _compiled_then_numpy(
        monkeypatch, jit_nudge, "held_gradients", jit_nudge.held_gradients,
        lambda: reruns.kept_digits(model, loss, grads, sizes, fixed=values), len(reruns.HELD_RUNS))
    assert max(compiled_digits + numpy_digits) < reruns.FLOAT64_DIGITS
    assert all(abs(a - b) <= 0.5 for a, b in zip(compiled_digits, numpy_digits, strict=True)), (compiled_digits,
                                                                                               numpy_digits)


def _dying(seed: int) -> tuple[ArrayFactors, kernel._Plan]:
    """A float64 pass of benchmarks/dying_sweep.py's draw ``seed`` (a diagonal cell whose units' δ die out at
    rates decades apart), and its plan."""
    from conftest import benchmark_script

    cell, params, x, y, loss = benchmark_script("dying_sweep").draw(np.random.default_rng(seed))
    spec = get_cell(cell, get_activation("tanh"))
    shaped = {k: (np.asarray(v).reshape(-1, 1) if np.ndim(v) < 2 else v) for k, v in params.items()}
    with np.errstate(all="ignore"):
        values = ArrayFactors(NumericModel(spec, [shaped], x, y, loss), watch=FloatWatch())
    return values, kernel.plan(spec, 1, loss)


@pytest.mark.parametrize("seed", [2, 11, 12, 21])  # an LRU, an IndRNN, a minLSTM (batch 2), a minGRU (batch 2)
def test_the_compiled_unit_by_unit_initial_gradient_is_numpys_bit_for_bit(compiled_kernel, monkeypatch, seed):
    """jit_units.unit_initial against kernel.unit_initial on passes whose δ die out below float64's range:
    every mantissa and exponent the same; planted, one mantissa an ulp off is caught."""
    from symbptt.numeric import jit_units

    values, plan = _dying(seed)
    want, got = kernel.unit_initial(values, plan), jit_units.unit_initial(values, plan)
    assert want is not None and got is not None and want.keys() == got.keys()
    assert min(int(np.min(e)) for _, e in want.values()) < -1022  # some unit lies below float64's range
    for key in want:
        assert np.array_equal(want[key][0], got[key][0]) and np.array_equal(want[key][1], got[key][1]), key
    real = jit_units._kernel()

    def off_by_an_ulp(*args: object) -> None:
        real(*args)
        mant = args[-3]
        assert isinstance(mant, np.ndarray)
        mant[0, 0, 0] = np.nextafter(mant[0, 0, 0], 2.0)

    monkeypatch.setattr(jit_units, "_kernel", lambda: off_by_an_ulp)
    planted = jit_units.unit_initial(values, plan)
    assert planted is not None and not all(np.array_equal(want[k][0], planted[k][0]) for k in want)


def test_the_compiled_unit_by_unit_initial_gradient_gives_up_where_numpy_raises(compiled_kernel):
    """An error read after δ grew past 2^1000 (a target of 1e308 at the last step, loss 'sum') is scaled
    below float64's range, inexactly: NumPy raises there and kernel.unit_initial returns None; the compiled
    loop reads the processor's underflow flag and returns None too."""
    from symbptt.numeric import jit_units

    spec = get_cell("indrnn", get_activation("tanh"))
    rng = np.random.default_rng(0)
    params = {"w": np.array([[0.5], [0.3]]), "U": np.array([[0.5], [1.0]]), "b": np.zeros((2, 1)),
              "h0": np.zeros((2, 1))}
    y = rng.normal(size=(50, 2, 1)) * 0.3
    y[-1] = 1e308
    with np.errstate(all="ignore"):
        values = ArrayFactors(NumericModel(spec, [params], rng.uniform(-1, 1, (50, 1, 1)), y, "sum"),
                              watch=FloatWatch())
    plan = kernel.plan(spec, 1, "sum")
    assert kernel.unit_initial(values, plan) is None and jit_units.unit_initial(values, plan) is None
    y[-1] = 1.0  # the same pass with an ordinary target: both give δ_0
    with np.errstate(all="ignore"):
        values = ArrayFactors(NumericModel(spec, [params], values.model.x, y, "sum"), watch=FloatWatch())
    assert kernel.unit_initial(values, plan) is not None and jit_units.unit_initial(values, plan) is not None


@pytest.mark.parametrize("seed", [2, 11, 12, 21])
def test_the_compiled_nudged_unit_by_unit_initial_gradient_is_numpys_bit_for_bit(compiled_kernel, seed):
    """With a rerun's noise (all up, scattered up or down, outward): every mantissa and exponent the same
    as kernel.unit_initial's, the signs drawn from the same stream in the same order (so both leave it at
    the same place); a target equal to a unit's h_T makes a δ exactly 0, which NumPy's nudge refuses
    (nextafter raises underflow there), and both return None."""
    from symbptt.numeric import jit_units
    from symbptt.numeric.forward import UlpNoise

    values, plan = _dying(seed)
    for direction, scattered in [(1, False), (1, True), (0, False), (-1, True)]:
        ours, theirs = UlpNoise(direction, scattered, 5), UlpNoise(direction, scattered, 5)
        want, got = kernel.unit_initial(values, plan, ours), jit_units.unit_initial(values, plan, theirs)
        assert want is not None and got is not None
        for key in want:
            assert np.array_equal(want[key][0], got[key][0]) and np.array_equal(want[key][1], got[key][1])
        assert np.array_equal(ours.signs((3,)), theirs.signs((3,)))  # the stream left at the same place
    model = values.model
    if model.loss == "last":
        y = model.y.copy()
        y[0] = values.traj.values[0]["h"][-1][0]  # unit 1's error at T exactly 0
        with np.errstate(all="ignore"):
            zeroed = ArrayFactors(NumericModel(model.cell, model.params, model.x, y, "last"), watch=FloatWatch())
        assert kernel.unit_initial(zeroed, plan, UlpNoise(1)) is None
        assert jit_units.unit_initial(zeroed, plan, UlpNoise(1)) is None


def test_a_rerun_whose_compiled_sums_raise_reads_its_compiled_deltas(compiled_kernel, monkeypatch):
    """benchmarks/unit_fallback.py's IndRNN at its smoke size (8 units, 200 steps, a batch of 2, 14 digits
    asked): some units' δ die out below float64's range, so every nudged rerun's compiled sums raise an
    underflow.  The NumPy sums then read the δ the compiled rerun made (no NumPy δ recursion runs for a
    rerun), and the digits claimed are held against reference.py at 80 digits.  Planted, the compiled δ
    not handed on: the NumPy recursion runs again for each rerun, and the count catches it."""
    from conftest import benchmark_script

    from symbptt.numeric import jit_nudge, reruns

    params, x, y = benchmark_script("unit_fallback")._case("indrnn", 8, 200, 2)
    sweep = benchmark_script("dying_sweep")
    real_sums, real_deltas = jit._sums, kernel.deltas
    raised, recursions = [], []

    def sums(*args):
        out = real_sums(*args)
        raised.append(out is None)
        return out

    def deltas(values, *args, **kwargs):
        recursions.append(values.noise is not None)  # a rerun's recursion on NumPy
        return real_deltas(values, *args, **kwargs)

    monkeypatch.setattr(jit, "_sums", sums)
    monkeypatch.setattr(kernel, "deltas", deltas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = symbptt.gradients(params, x, y, cell="indrnn", digits=14)
    runs = len(reruns.nudged_runs(get_cell("indrnn", get_activation("tanh"))))
    assert raised.count(True) == runs  # each rerun's compiled sums raised
    assert not any(recursions), recursions
    want = sweep.reference(params, x, y, "indrnn", "last")
    block, entry = sweep.held(got, want)
    assert got.kept is not None and block >= got.kept[0] and entry >= got.kept[1], (got.kept, block, entry)

    real_gradients = jit_nudge.nudged_gradients
    monkeypatch.setattr(reruns, "nudged_gradients", lambda *args: real_gradients(*args[:5]))  # δ not handed on
    recursions.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        symbptt.gradients(params, x, y, cell="indrnn", digits=14)
    assert recursions.count(True) == runs
