"""The step kernel compiled to machine code (Numba, when installed): the float64 forward pass with its
step coefficients, the δ recursion and the sums over t, for any cell whose equations use functions it
can compile (numeric/jit_source.py prints them: the forward pass per cell, the δ recursion and the sums per
cell structure).

The source is written once to the cache folder (its name is its hash) and compiled by Numba with its
on-disk cache, so a later process loads machine code instead of compiling.  Products with a weight are
loops for one sequence and a small batch, and BLAS calls for a larger batch (jit_source.BLAS_UNITS);
beyond the sizes where that wins (``worth_it``) the NumPy kernel runs.

Float64 events are read from the processor's status flags (fenv: underflow, overflow, invalid, divide
by zero), cleared when a kernel starts and read when it ends: a kernel that raised one gives no result,
and the caller runs the watched NumPy pass, which finds the blocks that need more digits.  Without
Numba (or on a processor whose flag bits are not known here, or with SYMBPTT_JIT=0) nothing here runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import importlib.util
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..cells import INPUT, Cell
from .extended import exact_entries
from .flags import matmul
from .forward import CompiledCell, Trajectory, compiled
from .jit_source import (
    BLAS_WORK,
    HEADER,
    SHARED_NAMES,
    SHARED_SOURCE,
    Unsupported,
    delta_source,
    forward_source,
    sums_source,
)
from .kernel import HIGH, LOW, RESCALE_EVERY, plan
from .memory import keep_freed_memory

MAX_SEQUENCE_UNITS = 128  # one sequence: the loops beat NumPy's call per product up to here


def worth_it(n: int, batch: int) -> bool:
    """Whether the compiled kernel beats the NumPy kernel (CPU medians of both on 2 cores, rnn, LSTM and
    GRU at T = 100).  One sequence: up to n = 128, where its loops (column by column: jit_lines.column_lines)
    took 0.84–1.0× (the plain cell), 0.69–0.78× (LSTM) and 0.70–0.75× (GRU) NumPy's time (wall-clock
    medians, three runs), against 0.21–0.44× at n = 64, 0.91–1.22× at n = 160 and 1.05–1.7× at n = 192–256;
    its nudged reruns (jit_nudge) took 0.31–0.54× the NumPy reruns' time at n = 96–128.  A batch: while n² × batch ≤
    jit_source.BLAS_WORK, a step's products by BLAS from jit_source.BLAS_UNITS units — 0.12–0.82× NumPy's time
    from n = 16 with batch 2 to n = 16 with batch 1024 and n = 256 with batch 4 (0.57–0.74× at n = 64,
    batch 32).  Beyond it BLAS would hand each product to threads, the kernel keeps its loops, and they
    took up to 1.5× (n = 128, batch 32)."""
    if batch == 1:
        return n <= MAX_SEQUENCE_UNITS
    return n * n * batch <= BLAS_WORK


FE_EVENTS = 0x01 | 0x04 | 0x08 | 0x10  # x86-64: invalid, divide by zero, overflow, underflow

@lru_cache(maxsize=1)
def _fenv() -> tuple[Any, Any] | None:
    """fetestexcept and feclearexcept of the C library, on a processor whose flag bits are FE_EVENTS."""
    if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32":
        return None
    name = ctypes.util.find_library("m") or ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name)
        test, clear = lib.fetestexcept, lib.feclearexcept
    except (OSError, AttributeError):
        return None
    for fn in (test, clear):
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return test, clear


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether the compiled kernel can run here: Numba importable, SciPy beside it (Numba takes its
    BLAS for a batch's products from SciPy), the flags readable, not turned off."""
    if os.environ.get("SYMBPTT_JIT", "1") == "0" or _fenv() is None:
        return False
    if importlib.util.find_spec("scipy") is None:
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def one_command() -> AbstractContextManager[None]:
    """What a command line's one process runs under (`symbptt grad`, `symbptt train`): the compiled kernels
    off (turned_off) unless SYMBPTT_JIT=1 is set.  One command pays for loading them from the cache
    (0.5–0.7 s with Numba's import) and saves less than that with them.  `grad` took 1.75–1.82× as long
    with them at T = 100 from n = 4 to 64, 0.97–1.58× at T = 1000 and 0.98–1.07× at T = 3000 (rnn, LSTM and
    GRU, up to 128 units).  `train` with its defaults (rnn, n = 16, T = 20, batch 32, 1000 iterations)
    took 2.3 s against 1.4–1.6, 3.3 against 2.5 for 2000 iterations, 4.6 against 4.1 with n = 32 and
    T = 100, and 14.2 against 14.6 for an LSTM with n = 64 and T = 100 (300 iterations).  A process that
    makes many passes (symbptt.gradients, symbptt.grad_report, symbptt.learn.train) loads them once."""
    return nullcontext() if os.environ.get("SYMBPTT_JIT") == "1" else turned_off()


@contextmanager
def turned_off() -> Iterator[None]:
    """The compiled kernels off within the block, as SYMBPTT_JIT=0 turns them off, and as they were after it
    (one_command)."""
    before = os.environ.get("SYMBPTT_JIT")
    os.environ["SYMBPTT_JIT"] = "0"
    available.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SYMBPTT_JIT", None)
        else:
            os.environ["SYMBPTT_JIT"] = before
        available.cache_clear()


def cache_folder() -> Path:
    """Where the kernels' source (and Numba's cache beside it) is kept: $SYMBPTT_CACHE, else the user's
    cache folder."""
    given = os.environ.get("SYMBPTT_CACHE")
    if given:
        return Path(given) / "jit"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "symbptt" / "jit"


# ---------------------------------------------------------------- loading and running


@dataclass(frozen=True)
class Kernels:
    """The compiled forward pass of one layer, the δ recursion and the sums of one structure, with the
    order in which the δ kernel and the sums take their arrays (the gradients in kernel.plan's order)."""

    forward_layer: Callable[..., None]
    deltas: Callable[..., None]
    outs: tuple[tuple[int, str], ...]  # the δ arrays, by (layer, state)
    coefs: tuple[tuple[int, int], ...]  # the coefficient arrays the δ kernel reads: (layer, index in cc.keys)
    weights: tuple[tuple[int, str], ...]  # the transposed weights it reads: (layer, matrix)
    sums: Callable[..., float]
    sum_coefs: tuple[tuple[int, int], ...]  # the coefficient arrays the sums read
    fresh: bool  # the source was new in the cache folder: the first call compiles (seconds)


def _load(source: str) -> tuple[Any, bool]:
    """The module of this source, written once to the cache folder (Numba caches its machine code
    beside it; a temporary folder when the cache folder cannot be written), and whether the source was
    new there (its first call compiles)."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    folder = cache_folder()
    fresh = True
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"kernel_{digest}.py"
        fresh = not path.exists() or path.read_bytes() != source.encode()  # missing, or changed since written
        if fresh:
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(source)
            os.replace(tmp, path)  # another process writing the same source writes the same bytes
    except OSError:
        path = Path(tempfile.mkdtemp(prefix="symbptt-jit-")) / f"kernel_{digest}.py"
        path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"symbptt_kernel_{digest}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Numba's cache finds a kernel's module by its name
    spec.loader.exec_module(module)
    return module, fresh


@lru_cache(maxsize=1)
def _shared() -> Any:
    """The module of the loops all kernels share (jit_source.SHARED_SOURCE): its source never
    changes with the cell, so Numba compiles it once per machine and every kernel links to it."""
    return _load(SHARED_SOURCE)[0]


def _header() -> str:
    """The imports every kernel module starts with: Numba, and the loops all kernels share."""
    return HEADER + f"from {_shared().__name__} import {', '.join(SHARED_NAMES)}\n"


@lru_cache(maxsize=32)
def _forward(cell: Cell) -> tuple[Callable[..., None], bool] | None:
    """The compiled forward pass of one layer of a cell and whether its source was new here, or None
    when its equations use a function it does not compile.  Its source depends on the cell alone, so every
    structure of the cell (layers, loss) shares one module and one compile."""
    try:
        source = forward_source(compiled(cell))
    except Unsupported:
        return None
    module, fresh = _load(_header() + "\n\n" + source)
    return module.forward_layer, fresh


@lru_cache(maxsize=32)
def kernels(cell: Cell, layers: int, loss: str) -> Kernels | None:
    """The compiled kernels of a structure, or None when its equations use a function they do not compile."""
    cc = compiled(cell)
    forward = _forward(cell)
    if forward is None:
        return None
    try:
        delta_src, outs, coefs, weights = delta_source(cc, plan(cell, layers, loss), loss)
        sums_src, sum_coefs = sums_source(cc, plan(cell, layers, loss), loss)
    except Unsupported:
        return None
    constants = f"RESCALE, LOW, HIGH = {RESCALE_EVERY}, {LOW!r}, {HIGH!r}\n"
    module, fresh = _load(_header() + constants + "\n\n" + delta_src + "\n\n" + sums_src)
    keys = tuple(key for key, _, _ in plan(cell, layers, loss).order)
    assert [f"D_{a}_{b}" for a, b in keys] == outs
    run_here = bool(getattr(forward[0], "signatures", None))  # another structure of the cell ran it already
    return Kernels(forward[0], module.deltas, keys, tuple(coefs), tuple(weights), module.sums,
                   tuple(sum_coefs), fresh or (forward[1] and not run_here))


@dataclass
class FastPass:
    """What the compiled kernels computed: the trajectory with its coefficients, and every δ_t as
    kernel.deltas returns it (arrays and the power-of-two exponent of each step) — None where the δ
    recursion raised a float64 event (a unit's δ dying out below the range): the watched NumPy recursion
    then computes them from this trajectory, which raised none."""

    trajectory: Trajectory
    deltas: tuple[dict[tuple[int, str], np.ndarray], np.ndarray] | None
    result: tuple[float, list[dict[str, np.ndarray]]] | None  # the loss and gradients, unless the sums raised


def compiles_first(cell: Cell, layers: int, n: int, batch: int) -> bool:
    """Whether a run of this cell would use the kernel and compile it first (its source is new here):
    what a command says before a wait of seconds."""
    if not worth_it(n, batch) or not available():  # the size first: available() imports Numba
        return False
    k = kernels(cell, layers, "last")
    return k is not None and k.fresh


def layer_arrays(cc: CompiledCell, p: dict[str, np.ndarray], inputs: np.ndarray, n: int, B: int
                 ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray],
                            dict[str, np.ndarray], list[np.ndarray]]:
    """What the compiled forward pass of one layer reads and writes, in the order its arguments take
    them: U·x_t of every step for each input weight, the recurrent weights, the biases and the per-unit
    parameters as contiguous float64; each linear map's and node's rows (T + 1, n, B), a state's row 0
    its initial value, and the coefficients' rows (row 0 is 0).

    Args:
        cc: the cell, compiled for float64.
        p: the layer's parameters.
        inputs: the layer's input, (T, m, B), contiguous.
        n: the units.
        B: the batch.

    Returns:
        (reads, weights, biases, per-unit parameters, {name: rows} of maps and nodes, coefficient rows).
    """
    T, (ins, recs, biases_of, units_of, rows, initial, keys) = inputs.shape[0], _layout(cc)
    reads = [np.ascontiguousarray(matmul(p[m], inputs)) for m in ins]
    mats = [np.ascontiguousarray(p[m], dtype=float) for m in recs]
    biases = [np.ascontiguousarray(p[b], dtype=float).reshape(-1, 1) for b in biases_of]
    units = [np.ascontiguousarray(p[u], dtype=float).reshape(-1, 1) for u in units_of]
    layer = {name: np.empty((T + 1, n, B)) for name in rows}
    for name, arr in layer.items():
        arr[0] = p[initial[name]].reshape(n, 1) if name in initial else 0.0
    cs = [np.empty((T + 1, n, B)) for _ in range(keys)]
    for arr in cs:
        arr[0] = 0.0
    return reads, mats, biases, units, layer, cs


@lru_cache(maxsize=32)
def _layout(cc: CompiledCell) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...],
                                      tuple[str, ...], dict[str, str], int]:
    """What layer_arrays reads of a cell, in its order, found once: the input weights, the recurrent
    weights, the biases, the per-unit parameters, the rows (maps, then nodes), each state's initial
    parameter, and the number of coefficient rows."""
    cell = cc.cell
    return (tuple(m for lin in cell.linears for m, s in lin.terms if s == INPUT),
            tuple(m for lin in cell.linears for m, s in lin.terms if s != INPUT),
            tuple(lin.bias for lin in cell.linears if lin.bias), tuple(cell.unit_params),
            tuple([lin.name for lin in cell.linears] + list(cc.node_names)),
            {s: f"{s}0" for s in cell.states}, len(cc.keys))


def trajectory(cell: Cell, params: list[dict[str, np.ndarray]], x: np.ndarray, strict: bool = True
               ) -> Trajectory | None:
    """The float64 forward pass with its step coefficients by the compiled kernel, or None when it does
    not apply (no Numba, n where loops lose to BLAS, a function it does not compile) or — when
    ``strict`` — when float64 raised an underflow, overflow or invalid operation on the way.  Training,
    which does not ask for exact numbers, passes strict=False."""
    if not available():
        return None
    n = params[0][f"{cell.states[0]}0"].shape[0]
    if (not worth_it(n, x.shape[2]) or x.dtype != np.float64
            or any(v.ndim > 2 for p in params for v in p.values())):
        return None
    k = kernels(cell, len(params), "last")  # the forward pass does not depend on the loss
    if k is None:
        return None
    keep_freed_memory()  # the arrays below are reused from the last pass instead of faulted in anew
    fenv = _fenv()
    assert fenv is not None
    test, clear = fenv
    cc = compiled(cell)
    T, _, B = x.shape
    values: list[dict[str, np.ndarray]] = []
    coefs: list[dict[tuple[str, str], np.ndarray]] = []
    try:
        with np.errstate(all="raise" if strict else "ignore"):
            for ell, p in enumerate(params):
                inputs = np.ascontiguousarray(x if ell == 0 else values[-1]["h"][1:])
                reads, mats, biases, units, layer, cs = layer_arrays(cc, p, inputs, n, B)
                clear(FE_EVENTS)
                k.forward_layer(T, n, B, inputs.shape[1] == n, inputs, *reads, *mats, *biases, *units,
                                *[layer[lin.name] for lin in cell.linears], *[layer[m] for m in cc.node_names], *cs)
                if strict and test(FE_EVENTS):
                    return None
                values.append(layer)
                coefs.append(dict(zip(cc.keys, cs, strict=True)))
    except (FloatingPointError, ZeroDivisionError):  # compiled code raises on x/0 as Python does: the
        return None  # NumPy pass then runs (the minLSTM's f/(f + i) with both gates underflowed to 0)
    scalars = [{s: np.broadcast_to(p[s].reshape(1, -1), (n, B)) for s in cell.scalar_params}
               | {s: np.broadcast_to(p[s].reshape(n, -1), (n, B)) for s in cell.vector_params} for p in params]
    return Trajectory(values, coefs, x, scalars)


def float_pass(cell: Cell, params: list[dict[str, np.ndarray]], x: np.ndarray, y: np.ndarray,
               loss: str) -> FastPass | None:
    """The float64 forward pass, δ recursion and sums by the compiled kernels, or None when they do not
    apply or float64 raised an event in the forward pass (see ``trajectory``) — the caller then runs the
    watched NumPy pass; its δ None where the recursion raised one (the caller's NumPy recursion follows
    it from the compiled trajectory)."""
    traj = trajectory(cell, params, x)
    if traj is None:
        return None
    k = kernels(cell, len(params), loss)
    fenv = _fenv()
    assert k is not None and fenv is not None
    test, clear = fenv
    cc = compiled(cell)
    T, _, B = x.shape
    n = params[0][f"{cell.states[0]}0"].shape[0]
    values, coefs = traj.values, traj.coefs
    exps = np.zeros(T + 2, dtype=np.int64)
    outs = [np.empty((T + 1, n, B)) for _ in k.outs]
    clear(FE_EVENTS)
    k.deltas(T, n, B, values[-1]["h"], y, exps, *[coefs[layer - 1][cc.keys[i]] for layer, i in k.coefs],
             *[np.ascontiguousarray(params[layer - 1][m].T, dtype=float) for layer, m in k.weights], *outs)
    if test(FE_EVENTS):
        return FastPass(traj, None, None)
    exps = exps[:T + 1]
    return FastPass(traj, (dict(zip(k.outs, outs, strict=True)), exps),
                    _sums(k, cc, params, x, y, loss, values, coefs, outs, exps))


def _sums(k: Kernels, cc: CompiledCell, params: list[dict[str, np.ndarray]], x: np.ndarray, y: np.ndarray,
          loss: str, values: list[dict[str, np.ndarray]], coefs: list[dict[tuple[str, str], np.ndarray]],
          outs: list[np.ndarray], exps: np.ndarray) -> tuple[float, list[dict[str, np.ndarray]]] | None:
    """The loss and every gradient by the compiled sums (None when they raised a float64 event)."""
    fenv = _fenv()
    assert fenv is not None
    test, clear = fenv
    the_plan = plan(cc.cell, len(params), loss)
    T, n, B = x.shape[0], outs[0].shape[1], x.shape[2]
    zs, gm, gx = [], [], []
    for param, layer, kind, _, source in the_plan.grads:
        shape = params[layer - 1][param].shape
        gm.append(np.empty(shape))
        gx.append(np.empty(shape, dtype=np.int64))
        if source is not None and kind != "initial":  # a weight's z_t (as kernel.gradients reads it)
            z = (x if layer == 1 else values[layer - 2]["h"][1:]) if source == INPUT else values[layer - 1][source][:-1]
            zs.append(np.ascontiguousarray(z))
    outside = np.zeros(len(gm), dtype=np.int64)  # per gradient: its entries beyond float64's range
    clear(FE_EVENTS)
    value = k.sums(T, n, B, exps, values[-1]["h"], y,
                   *[coefs[layer - 1][cc.keys[i]] for layer, i in k.sum_coefs], *outs, *zs, *gm, *gx, outside)
    if test(FE_EVENTS):
        return None
    grads: list[dict[str, np.ndarray]] = [{} for _ in params]
    for (param, layer, _, _, _), m, e, beyond in zip(the_plan.grads, gm, gx, outside.tolist(), strict=True):
        # _finish left the entries beyond float64's range as (mantissa, exponent): the block as mpf entries
        grads[layer - 1][param] = exact_entries(m, e) if beyond else m
    return float(value), grads


__all__ = ["FastPass", "Kernels", "MAX_SEQUENCE_UNITS", "available", "cache_folder", "compiles_first",
           "layer_arrays", "float_pass", "kernels", "one_command", "trajectory", "turned_off", "worth_it"]
