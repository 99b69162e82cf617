"""Timing helpers the benchmarks share: the median of repeated calls (one call in a smoke run), functions
timed side by side in blocks, a Markdown table of rows, and the words a row uses for a time and a target."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import numpy as np


def median(func: Callable[[], object], repeats: int, clock: Callable[[], float] = time.process_time) -> float:
    """The median time of ``repeats`` calls, CPU time unless another clock is given (median_time is this one,
    with one call in a smoke run)."""
    times = []
    for _ in range(repeats):
        start = clock()
        func()
        times.append(clock() - start)
    return float(np.median(times))


SMOKE = {"on": False}  # a smoke run checks that every case runs: one repeat each, no warm-up


def median_time(func, repeats: int, clock=time.perf_counter) -> float:
    """Median seconds of ``repeats`` calls by ``clock`` (wall by default); one call in a smoke run."""
    return median(func, 1 if SMOKE["on"] else repeats, clock)


def fmt(seconds: float | None) -> str:
    return "—" if seconds is None else (f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s")


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def cpu_median(func, repeats: int) -> float:
    return median_time(func, repeats, time.process_time)


def interleaved(first, second, repeats: int) -> tuple[float, float]:
    """CPU-time medians of two functions run alternately, so that a change in the machine's speed during
    the run falls on both sides of their ratio; each from a collected heap (gc.collect, untimed), so that
    neither pays for collecting what the other left (a pass read after mpmath's took 280 ms, 140 alone)."""
    a, b = [], []
    for _ in range(repeats):
        for func, times in ((first, a), (second, b)):
            gc.collect()
            start = time.process_time()
            func()
            times.append(time.process_time() - start)
    return float(np.median(a)), float(np.median(b))


PASSES = 3  # side_by_side times every function's block this many times, in turn


def side_by_side(funcs: dict[str, Callable[[], object]], least: int, budget: float = 0.03,
                 most: int = 75) -> dict[str, float]:
    """The wall-clock time per call of each function: the median over PASSES blocks of calls, each block
    timed whole and divided by its calls, the blocks taking turns (every function's block, then every
    function's block again, …), each block after one untimed call (a JIT's compile for these shapes on
    the first pass, the caches and the memory the function reuses on all).  Calls per block: enough for
    about ``budget`` seconds, at least ``least`` and at most ``most`` (a call of 0.1 ms is timed many
    times, where a few timings would be mostly the clock's and the scheduler's noise).

    Wall clock, on a quiet machine, because the process's CPU clock cannot tell the libraries apart: it
    counts another thread's time only as the kernel accounts it (at a context switch or a scheduler tick,
    every few ms), and JAX and torch compute on threads of their own that keep running between calls.
    Timed call by call in CPU time, JAX's gradient of an rnn with n = 4, T = 100, batch 32 came out at
    0.07 ms, the calling thread's share, where a block of its calls took 0.72 ms per call; timed by the
    block in CPU time, ours came out at 1.12 ms there, the 0.55 ms it takes plus torch's threads still
    spinning from the block before.  Torch then takes both cores where it can, as it does for its users.

    Calls are not interleaved one by one: a call right after another library's runs cold, up to 4× slower
    at 0.1 ms (caches), and with the long calls interleaved one by one an LSTM with n = 64, T = 1000,
    batch 32 came out 1.42× apart in two columns that run the same code (one follows torch): that measures
    the order of the calls.  The passes keep a change in the machine's speed from falling on one column
    only."""
    blocks: dict[str, list[float]] = {name: [] for name in funcs}
    calls: dict[str, int] = {}
    for _ in range(PASSES):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()  # untimed: after another library's calls, the first call runs cold
            if name not in calls:
                once = time.perf_counter() - start
                if once < budget:  # timed again: the untimed call may have compiled
                    start = time.perf_counter()
                    func()
                    once = time.perf_counter() - start
                calls[name] = max(least, min(most, int(budget / max(once, 1e-6))))
            start = time.perf_counter()
            for _ in range(calls[name]):
                func()
            blocks[name].append((time.perf_counter() - start) / calls[name])
    return {name: float(np.median(spent)) for name, spent in blocks.items()}


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: ``header`` and ``rows`` of cells, a "|" inside a cell escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


__all__ = ["PASSES", "median", "side_by_side", "table"]
