"""The report's nudged reruns on the compiled kernel (numeric/jit_nudge.py, jit_units.py): every value they
nudge, the digits they measure, the held reruns and the unit-by-unit initial gradient, each against the
NumPy reruns, bit for bit where the arithmetic is the same."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import warnings

import numpy as np
import pytest
from conftest import random_layers, random_model

import symbptt
from symbptt.activations import get_activation
from symbptt.cells import BUILTIN, get_cell
from symbptt.numeric import jit, kernel
from symbptt.numeric.factors import ArrayFactors, FloatWatch, NumericModel


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

    _, _, _, model = random_model("rnn", 6, 2, "sum", 60, B, seed=seed)
    compiled_digits, numpy_digits = _compiled_and_numpy_digits(model, monkeypatch)
    assert max(compiled_digits + numpy_digits) < reruns.FLOAT64_DIGITS
    assert abs(compiled_digits[0] - numpy_digits[0]) <= 0.5, (compiled_digits, numpy_digits)
    assert abs(compiled_digits[1] - numpy_digits[1]) <= 1.0, (compiled_digits, numpy_digits)
    _, _, _, short = random_model("rnn", 6, 2, "sum", 49, B, seed=seed)  # 98 steps × layers: NumPy's reruns
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

    _, _, _, model = random_model(cell, 5, layers, loss, 120, B, seed=1)
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


# the minGRU and the LRU with `-m slow` (each structure compiled here costs seconds with an empty cache folder;
# the slow tests run every cell's reruns and truncated report compiled)
@pytest.mark.parametrize(("cell", "drive"), [("rnn", 1.0), ("lstm", 1.0), ("gru", 1.0), ("gru", 100.0),
                                             *[pytest.param(c, 1.0, marks=pytest.mark.slow)
                                               for c in ("mingru", "lru")]])
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
    run compiled (a GRU, n = 5, T = 120: the structure the report's test compiles); the same gradients to
    float64 rounding as with the kernel off, and digits within one of those measured there."""
    params, x, y, _ = random_model("gru", 5, 1, "last", 120, 1, seed=8)
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
