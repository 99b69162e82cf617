"""Benchmarks: each case beside its baseline, measured in the same run; writes docs/performance.md.

    python benchmarks/run.py            # full run (a few minutes)
    python benchmarks/run.py --smoke    # tiny sizes, used by the test suite to keep this script working
"""

from __future__ import annotations

import argparse
import copy
import gc
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gradients as numbers  # noqa: E402  (benchmarks/gradients.py: issue 28's grid)
from timing import median, table  # noqa: E402  (benchmarks/timing.py)

from symbptt import RNN, __version__, derive  # noqa: E402
from symbptt.model import unrolled_loss  # noqa: E402
from symbptt.numeric.compiled import CompiledForm  # noqa: E402
from symbptt.numeric.sweeps import bare_forward, random_recurrent_matrix, sweep_gain, sweep_grad, sweep_scalar  # noqa: E402  # noqa: E402
from symbptt.paths import explicit_factor_count  # noqa: E402
from symbptt.symbolic.derivation import Derivation, Equation  # noqa: E402


def build(rnn: RNN, form: str, wrt: str) -> None:
    """Derive and build every equation, every term of a streamed sum included (what printing needs)."""
    from symbptt.symbolic.derivation import LazySum

    for eq in derive(rnn, form, wrt).stream():
        if isinstance(eq.rhs, LazySum):
            for _ in eq.rhs.terms():
                pass


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


SMOKE = {"on": False}  # a smoke run checks that every case runs: one repeat each, no warm-up


def median_time(func, repeats: int, clock=time.perf_counter) -> float:
    """Median seconds of ``repeats`` calls by ``clock`` (wall by default); one call in a smoke run."""
    return median(func, 1 if SMOKE["on"] else repeats, clock)


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
        ours = median_time(lambda T=T: build(RNN(T=T), "explicit", "W"), 3)
        rec = median_time(lambda T=T: build(RNN(T=T), "recursive", "W"), 3)
        rows.append([f"T={T}", _fmt(diff_time) if diff_time else status, _fmt(ours), _fmt(rec),
                     f"{diff_time / ours:.0f}×" if diff_time else "baseline failed"])
        if status != "ok":
            break
    return rows


def _fmt(seconds: float | None) -> str:
    return "—" if seconds is None else (f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s")


def targets(smoke: bool) -> tuple[list[list[str]], str]:
    """Section 2's targets, and the sentence under them (its numbers are these)."""
    T_exp, T_rec, T_lam = (50, 200, 20) if smoke else (1000, 10_000, 200)
    explicit = median_time(lambda: build(RNN(T=T_exp), "explicit", "W"), 3)
    recursive = median_time(lambda: build(RNN(T=T_rec), "recursive", "W"), 3)
    general = median_time(lambda: build(RNN(T=T_rec), "general", "W"), 3)
    lam = median_time(lambda: lambdify_gradient(RNN(T=T_lam), "explicit", "W"), 3)
    lam_all = median_time(lambda: lambdify_gradient(RNN(T=T_lam), "explicit", "all"), 3)
    note = (f"The recursive form at T = {T_rec:,} took {_fmt(recursive)}: {recursive / T_rec * 1e6:.0f} µs per "
            "step, which makes one δ equation and one term of the sum (the step's symbols, and its small "
            "product rebuilt from a template), with Python's full garbage collections held back while the "
            f"form is iterated (symbptt/collector.py); {'within' if recursive <= 1.0 else 'over'} the 1 s target.")
    return [
        [f"explicit form, T = {T_exp}", _fmt(explicit), "≤ 2 s", _met(explicit <= 2.0)],
        [f"recursive form, T = {T_rec}", _fmt(recursive), "≤ 1 s", _met(recursive <= 1.0)],
        [f"general form, T = {T_rec}", _fmt(general), "—", "—"],
        [f"lambdify explicit ∂L/∂w, T = {T_lam}", _fmt(lam), "≤ 0.5 s", _met(lam <= 0.5)],
        [f"lambdify explicit gradient of all four parameters, T = {T_lam}", _fmt(lam_all), "—", "—"],
    ], note


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
    """The scalar sweep against the bare forward pass, and against the least any exact sweep must add
    to it here: storing every a_t and evaluating one expm1 and one log per cell."""
    G, T = (50, 50) if smoke else (1000, 1000)
    w = np.linspace(-3, 3, G)
    x = np.random.default_rng(0).uniform(-1, 1, T)
    ours = _cpu_median(lambda: sweep_scalar(w, T, "tanh", x=x), 7)
    bare = _cpu_median(lambda: bare_forward(w, T, x=x), 7)

    def floor() -> None:
        stored = np.empty((T, G))
        h = np.zeros(G)
        for t in range(T):
            np.multiply(w, h, out=stored[t])
            stored[t] += x[t]
            h = np.tanh(stored[t])
        np.log(np.expm1(-np.abs(stored)) + 2.0)

    least = _cpu_median(floor, 7)
    T_base = T if smoke else 200  # the per-T baseline grows as T²: timed to 200, scaled by (1000/200)² below
    base = median_time(lambda: per_T_bptt(w, T_base, x), 1)
    scale = (T / T_base) ** 2
    per_T = base * scale
    rows = [
        [f"sweep {G} w × T = 1..{T} (ours)", _fmt(ours), "—"],
        ["bare tanh forward pass, same grid", _fmt(bare), f"ours / bare = {ours / bare:.2f} (target ≤ 2)"],
        ["bare pass + stored a_t + one expm1 and one log per cell (floor of an exact sweep)", _fmt(least),
         f"floor / bare = {least / bare:.2f}; ours / floor = {ours / least:.2f}"],
        [f"re-run vectorised BPTT per T{'' if scale == 1 else f' (to T=200, × {scale:.0f})'}", _fmt(per_T),
         f"per-T / ours = {per_T / ours:.0f}× (target ≥ 100×)"],
    ]
    return rows, {"ratio_bare": ours / bare, "ratio_floor": ours / least, "floor": least / bare,
                  "ratio_per_T": per_T / ours}


def case_torch(smoke: bool) -> list[list[str]]:
    if smoke:  # importing torch alone costs seconds; the bridge's own tests run it
        return [["PyTorch autograd", "not run in the smoke run", "—"]]
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


def torch_bridge(smoke: bool) -> list[list[str]]:
    """`grad --torch` on a 2-layer nn.LSTM (hidden 64, T = 1000): reading the module and the whole report,
    against torch autograd's float64 forward + backward on the same weights (medians, CPU time), at the
    default 12 digits: this network's forward pass cancels ~4.7 digits, which the kept-digit reruns
    measure (12 kept), so the report stays in float64."""
    if smoke:
        return [["grad --torch", "not run in the smoke run", "—", "—"]]
    try:
        import torch
    except ImportError:
        return [["grad --torch", "PyTorch not installed (optional)", "—", "—"]]
    from symbptt.bridges import from_torch
    from symbptt.numeric import kernel
    from symbptt.numeric.factors import ArrayFactors, NumericModel
    from symbptt.numeric.grad_report import grad_report

    n, T = 64, 1000
    torch.manual_seed(0)
    module = torch.nn.LSTM(8, n, num_layers=2)
    x, y = torch.randn(T, 8), torch.randn(n)
    repeats = 5

    def ours() -> None:
        grad_report(from_torch(module, x, y))

    def gradient_only() -> None:
        model = NumericModel.of(from_torch(module, x, y))
        kernel.gradients(ArrayFactors(model))

    double, xd, yd = copy.deepcopy(module).double(), x.double(), y.double()

    def theirs() -> None:
        double.zero_grad()
        out = double(xd[:, None])[0]
        (0.5 * ((out[-1, 0] - yd) ** 2).sum()).backward()

    base = median_time(theirs, repeats, time.process_time)
    whole = median_time(ours, repeats, time.process_time)
    wall = median_time(ours, repeats)  # BLAS threads add CPU time but not wall time
    grads = median_time(gradient_only, repeats, time.process_time)
    return [[f"read + whole report, LSTM 2 × {n}, T = {T}", f"{_fmt(whole)} CPU, {_fmt(wall)} wall",
             f"{whole / base:.1f}× torch f64 (CPU)", _met(wall <= 2.0) + " (≤ 2 s wall)"],
            ["read + gradients only, same", _fmt(grads), f"{grads / base:.1f}× torch f64",
             _met(grads / base <= 3.0) + " (≤ 3×)"],
            ["torch autograd float64 forward + backward, same", _fmt(base), "1×", "—"]]


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


def _cpu_of(cmd: list[str], repeats: int) -> float:
    """Median CPU seconds (user + system) of a child process (see _cpu_of_each)."""
    return _cpu_of_each([cmd], repeats)[0]


def _cpu_of_each(cmds: list[list[str]], repeats: int) -> list[float]:
    """Median CPU seconds (user + system) of each command as a child process, run as on an installed
    machine: bytecode caches written (PYTHONDONTWRITEBYTECODE unset) by one untimed warm-up run of each.
    The commands take turns, one run of each per round, so a change in the machine's speed during the
    minute this takes falls on every command alike (a ratio's two sides come from the same rounds)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if not SMOKE["on"]:
        for cmd in cmds:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(1 if SMOKE["on"] else repeats):
        for cmd, spent in zip(cmds, times, strict=True):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return [statistics.median(spent) for spent in times]


def startup(smoke: bool) -> list[list[str]]:
    """Start-up of the command line against Python and SymPy themselves (CPU time, child processes)."""
    repeats = 3 if smoke else 15
    py = sys.executable
    cli = [py, "-m", "symbptt"]
    baselines = {"pass": [py, "-c", "pass"], "sympy": [py, "-c", "import sympy"],
                 "ready": [py, "-c", "import sympy; sympy.Symbol('x') + 1"],
                 "notebook": [py, "-c", "import symbptt; from symbptt import RNN, derive, plots, explore; "
                                        "derive(RNN(T=3), 'explicit', 'W')"]}
    cases = [["--help"], ["derive", "--help"], ["plot", "--help"], ["derive", "-T", "3"]]
    if smoke:  # the main command and its baseline only: each process costs about 0.6 s
        baselines, cases = {"sympy": baselines["sympy"]}, cases[3:]
    spent = _cpu_of_each(list(baselines.values()) + [cli + args for args in cases], repeats)
    base = dict(zip(baselines, spent[:len(baselines)], strict=True))
    ours = dict(zip([" ".join(args) for args in cases], spent[len(baselines):], strict=True))
    rows = []
    if not smoke:
        notebook = base["notebook"]
        rows.append(["a notebook's imports: RNN, derive, plots, explore, one derive", _fmt(notebook),
                     f"import sympy: {_fmt(base['sympy'])}", f"+{_fmt(notebook - base['sympy'])} (target ≤ +1 s)",
                     _met(notebook - base["sympy"] <= 1.0)])
    checks = [("--help", "pass", "python -c pass", 3.0), ("derive --help", "pass", "python -c pass", 3.0),
              ("plot --help", "pass", "python -c pass", 3.0), ("derive -T 3", "sympy", "import sympy", 1.3),
              ("derive -T 3", "ready", "import sympy; x + 1", 1.3)]
    for args, key, base_name, target in checks:
        if args not in ours or key not in base:
            continue
        ratio = ours[args] / base[key]
        rows.append([f"symbptt {args}", _fmt(ours[args]), f"{base_name}: {_fmt(base[key])}",
                     f"{ratio:.2f}× (target ≤ {target:g}×)", _met(ratio <= target)])
    return rows


RENDER_CASES = [  # (form, model) at sizes that take seconds; --full adds the largest T each accepts
    ("explicit", {"T": 814}), ("recursive", {"T": 10_000}), ("factors", {"T": 10_000}),
    ("unroll", {"T": 10_000}), ("recursive", {"T": 3000, "n": 4}), ("factors", {"T": 3000, "n": 4}),
    ("unroll", {"T": 3000, "n": 4}), ("explicit", {"T": 11, "cell": "lstm"}),
    ("recursive", {"T": 3000, "cell": "lstm", "n": 2}), ("factors", {"T": 3000, "cell": "gru", "n": 2}),
]


def _build_and_render(form: str, model: dict) -> list[float]:
    """CPU seconds: building every equation (and every term of a streamed sum), then printing the
    built equations as Unicode, text and LaTeX."""
    from symbptt.latex import snippet
    from symbptt.render import render_lines
    from symbptt.symbolic.derivation import LazySum

    rnn = RNN(**model)
    start = time.process_time()
    derivation = derive(rnn, form, "all")
    equations = [Equation(eq.lhs, eq.rhs.materialize()) if isinstance(eq.rhs, LazySum) else eq
                 for eq in derivation.stream()]
    build = time.process_time() - start
    built = Derivation(derivation.title, equations, derivation.notes, derivation.definitions)
    times = [build]
    for show in (lambda: sum(map(len, render_lines(built, pretty=True, width=100))),
                 lambda: sum(map(len, render_lines(built, pretty=False, width=100))),
                 lambda: len(snippet(built))):
        start = time.process_time()
        show()
        times.append(time.process_time() - start)
    return times


def rendering(smoke: bool) -> list[list[str]]:
    cases = [("explicit", {"T": 20}), ("recursive", {"T": 50})] if smoke else RENDER_CASES
    rows = []
    for form, model in cases:  # each time the median of three runs (a single run of 1–2 s varies by ±20% here)
        runs = [_build_and_render(form, model) for _ in range(1 if smoke else 3)]
        build, pretty, text, latex = (float(np.median(column)) for column in zip(*runs, strict=True))
        name = ", ".join(f"{k}={v}" for k, v in model.items())
        rows.append([form, name, _fmt(build), f"{_fmt(pretty)} ({pretty / build:.2f}×)",
                     f"{_fmt(text)} ({text / build:.2f}×)", f"{_fmt(latex)} ({latex / build:.2f}×)",
                     _met(pretty <= 2 * build and latex <= build)])
    return rows


def long_recursive(smoke: bool) -> list[list[str]]:
    """`symbptt derive --form recursive --wrt all` at T = 10^5 as a user runs it: wall time and the
    peak resident memory of the whole process."""
    T = 500 if smoke else 100_000
    rows = []
    for fmt in ("text",) if smoke else ("text", "pretty", "latex"):
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "symbptt", "derive", "-T",
                               str(T), "--form", "recursive", "--wrt", "all", "--format", fmt],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        del before
        seconds = time.perf_counter() - start
        peak = int(proc.stderr.strip().splitlines()[-1]) / 1024
        rows.append([f"T = {T:,}, --format {fmt}", f"{seconds:.1f} s", f"{peak:.0f} MB",
                     _met(peak <= 300)])
    return rows


def gain_sweep(smoke: bool) -> list[list[str]]:
    """The matrix sweep (n = 64, 30 gains, T = 200) against the bare batched forward pass, the
    batched products alone (its floor) and the SVD-per-step sweep it replaced."""
    n, G, T = (8, 5, 20) if smoke else (64, 30, 200)
    gains = np.linspace(0.5, 3.0, G)
    W0 = random_recurrent_matrix(n, 0)
    drive = np.random.default_rng(0).normal(0.0, 1.0, (T, n))
    Ws = gains[:, None, None] * W0[None]

    def bare() -> None:
        h = np.zeros((G, n))
        for t in range(T):
            h = np.tanh(np.einsum("gij,gj->gi", Ws, h) + drive[t])

    def products() -> None:
        P = np.broadcast_to(np.eye(n), (G, n, n)).copy()
        for _ in range(T):
            P = np.matmul(Ws, P)
            P /= np.abs(P).max()

    def svd_sweep() -> None:
        P = np.broadcast_to(np.eye(n), (G, n, n)).copy()
        for _ in range(T):
            P = np.matmul(Ws, P)
            P /= np.abs(P).max()
            np.linalg.norm(P, 2, axis=(1, 2))

    repeats = 3 if smoke else 5
    base = _cpu_median(bare, repeats)
    rows = [["bare batched forward pass (h only)", _fmt(base), "1"]]
    for name, func in (("batched Jacobian products only (the floor)", products),
                       ("products + an SVD per gain and step (before)", svd_sweep),
                       ("sweep_gain: products + block power iteration (ours)",
                        lambda: sweep_gain(gains, T, "tanh", n, seed=0))):
        seconds = _cpu_median(func, repeats)
        rows.append([name, _fmt(seconds), f"{seconds / base:.1f}×"])
    return rows


def theory_figure(smoke: bool) -> list[list[str]]:
    """Issue 26's target: the prediction-beside-exact figure (plot spectrum --theory) for n = 256, T = 200,
    10 seeds and 30 gains in at most 60 s wall, beside the gain sweep it replaced (one seed, timed; the
    tool refuses ten of them: ~100 s each by its own estimate)."""
    from symbptt import plots
    from symbptt.numeric import sweeps

    n, T, seeds, points = (16, 20, 2, 5) if smoke else (256, 200, 10, 30)
    start = time.perf_counter()
    plots.spectrum(n=n, T=T, seeds=seeds, points=points, theory=True)
    figure = time.perf_counter() - start
    gains = np.linspace(0.1, 3.0, points)
    start = time.perf_counter()
    if T * points * 2.0 * n**3 <= 2e11:  # what check_sweep allows in one call: else the products by hand
        sweeps.sweep_gain(gains, T, "tanh", n, seed=0)
    else:
        P = np.broadcast_to(np.eye(n), (points, n, n)).copy()
        Ws = gains[:, None, None] * random_recurrent_matrix(n, 0)[None]
        for _ in range(T):
            P = np.matmul(Ws, P)
            P /= np.abs(P).max()
    one_sweep = time.perf_counter() - start
    return [[f"plot spectrum --theory, n = {n}, T = {T}, {seeds} seeds, {points} gains", _fmt(figure), "≤ 60 s",
             _met(figure <= 60.0)],
            [f"the n×n products of one seed's gain sweep (before: × {seeds} seeds)", _fmt(one_sweep), "", ""]]


def _cpu_median(func, repeats: int) -> float:
    return median_time(func, repeats, time.process_time)


def grad_sweep(smoke: bool) -> list[list[str]]:
    """log10|∂L/∂w| over 1000 weights × T = 1..1000 in one forward-mode pass, against `grad` per
    (w, T) (the report a user would otherwise call) extrapolated from a sample."""
    from symbptt.config import parse_config
    from symbptt.numeric.grad_report import grad_report

    G, T = (20, 50) if smoke else (1000, 1000)
    w = np.linspace(-3, 3, G)
    x = np.random.default_rng(0).uniform(-1, 1, T)
    ours = _cpu_median(lambda: sweep_grad(w, T, "tanh", x=x, y=0.5), 3)
    jac = _cpu_median(lambda: sweep_scalar(w, T, "tanh", x=x), 3)
    sample = 3
    start = time.process_time()
    for wi in w[:sample]:
        grad_report(parse_config({"activation": "tanh", "W": float(wi), "U": 1.0, "b": 0.0, "h0": 0.0,
                                  "x": [float(v) for v in x], "y": 0.5}))
    per_call = (time.process_time() - start) / sample
    per_grid = per_call * G * T
    return [[f"sweep_grad, {G} w × T = 1..{T} (ours)", _fmt(ours), "—"],
            ["sweep_scalar (log10|∂h_T/∂h_0|), same grid", _fmt(jac), f"grad / jacobian = {ours / jac:.1f}×"],
            [f"`grad` once per (w, T): {_fmt(per_call)} per call × {G * T:,}", _fmt(per_grid),
             f"{per_grid / ours:.0f}× slower than ours"]]


def gated_cells(smoke: bool) -> list[list[str]]:
    """The LSTM targets: derive at T = 1000, explicit at its limit, `grad` with n = 64 and T = 1000
    against the plain NumPy reference's own time, and the compile-time exponent of an LSTM gradient."""
    from symbptt.config import Config
    from symbptt.numeric.exact import exact_gradients
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.factors import NumericModel
    from symbptt.numeric.grad_report import grad_report
    from symbptt.reference import bptt

    T_rec, T_grad, n = (50, 50, 8) if smoke else (1000, 1000, 64)
    rows = []
    recursive = _cpu_median(lambda: build(RNN(T=T_rec, cell="lstm"), "recursive", "all"), 3)
    rows.append([f"LSTM derive --form recursive --wrt all, T = {T_rec}", _fmt(recursive), "≤ 2 s",
                 _met(recursive <= 2.0)])
    for wrt, T in (("W_f", 11 if smoke else 14), ("all", 11)):
        seconds = _cpu_median(lambda wrt=wrt, T=T: build(RNN(T=T, cell="lstm"), "explicit", wrt), 3)
        rows.append([f"LSTM derive --form explicit --wrt {wrt}, T = {T} (its limit)", _fmt(seconds), "≤ 2 s",
                     _met(seconds <= 2.0)])
    cfg: Config = example_config("lstm", T_grad, n, forget_bias=1.0, seed=0)
    grad_report(cfg)  # the cell's compiled step, once per process
    ours = _cpu_median(lambda: grad_report(cfg), 3)
    wall = median_time(lambda: grad_report(cfg), 3)
    grads = _cpu_median(lambda: exact_gradients(NumericModel.of(cfg)), 3)
    ref = _cpu_median(lambda: bptt(cfg.layers, cfg.x, cfg.y, loss="last", cell="lstm"), 3)
    rows.append([f"LSTM grad, n = {n}, T = {T_grad}: the whole report (gradients and 201 Jacobian norms)",
                 f"{_fmt(ours)} CPU, {_fmt(wall)} wall", "≤ 1 s", _met(wall <= 1.0)])
    rows.append(["  of which the gradients (loss and every parameter, exact)", _fmt(grads), "≤ 3× reference",
                 f"{grads / ref:.2f}× — {_met(grads <= 3 * ref)}"])
    rows.append(["NumPy reference BPTT, same model (gradients only)", _fmt(ref), "—", "—"])
    points = []
    CompiledForm(RNN(T=2, cell="lstm"), "recursive")  # untimed: the cell's one-step derivation, made once
    for T in ((2, 4) if smoke else (5, 10, 20, 40, 80)):
        count = CompiledForm(RNN(T=T, cell="lstm"), "recursive").factor_count
        points.append((count, _cpu_median(lambda T=T: CompiledForm(RNN(T=T, cell="lstm"), "recursive"), 3)))
    k = float(np.polyfit(np.log([f for f, _ in points]), np.log([max(s, 1e-6) for _, s in points]), 1)[0])
    rows.append([f"compile an LSTM gradient (recursive, all parameters), T = "
                 f"{', '.join(str(T) for T in ((2, 4) if smoke else (5, 10, 20, 40, 80)))}",
                 f"{points[-1][0]:,} factors in {_fmt(points[-1][1])}", "exponent ≤ 1.2",
                 f"k = {k:.2f} — {_met(k <= 1.2)}"])
    return rows


def check_budget(smoke: bool) -> list[list[str]]:
    """`symbptt check` at its defaults (cells drawn among the trials) as a user runs it, wall time."""
    if smoke:  # a new process that imports everything for one trial: 2 s of a smoke run for no new code path
        return [["symbptt check --trials 100", "not run in a smoke run", "≤ 60 s", "—"]]
    trials = 100
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "symbptt", "check", "--trials", str(trials)],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    return [[f"symbptt check --trials {trials}", f"{seconds:.1f} s (wall)", "≤ 60 s",
             _met(seconds <= 60 and proc.returncode == 0)]]


def _interleaved(first, second, repeats: int) -> tuple[float, float]:
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


def precision_cases(smoke: bool) -> list[list[str]]:
    """The grad report where conditioning sends it to an exact forward pass (a chaotic sin unit, a chaotic
    tanh network: every field from one exact trajectory) against the float64 report of a calm
    configuration of the same size."""
    from symbptt.config import Config, parse_config
    from symbptt.numeric.grad_report import grad_report as report
    from symbptt.primitives import forget_mp_values

    def grad_report(cfg: Config) -> dict:  # each run pays for its own exponentials, as a first call does
        forget_mp_values()
        return report(cfg)

    rows = []
    for T in ([60] if smoke else [100, 1000]):
        base = {"activation": "sin(a)", "U": 1, "b": 0, "h0": 0.3, "x": [0.1] * T, "y": 0}
        chaotic, calm = parse_config(base | {"W": 3.0}), parse_config(base | {"W": 0.9})
        exact = median_time(lambda c=chaotic: grad_report(c), 5, time.process_time)
        plain = median_time(lambda c=calm: grad_report(c), 5, time.process_time)
        used = grad_report(chaotic)["precision"].split(" (")[0]
        ratio = exact / plain
        rows.append([f"sin(a), w = 3 (chaotic) vs w = 0.9, T = {T}: {used}", f"{exact * 1e3:.0f} ms",
                     f"{ratio:.1f}× the float64 report", _met(ratio <= 10), _met(ratio <= 5)])
    n = 4 if smoke else 16
    for T in ([20] if smoke else [300, 1000]):  # a chaotic tanh network of 16 units: W = 4·N(0, 1/n) vs 0.5·…
        rng = np.random.default_rng(0)
        W = rng.normal(size=(n, n)) / np.sqrt(n)
        base = {"activation": "tanh", "U": rng.normal(size=(n, 1)).tolist(), "b": [0.0] * n, "h0": [0.3] * n,
                "x": [[0.1]] * T, "y": [0.0] * n}
        chaotic, calm = parse_config(base | {"W": (4.0 * W).tolist()}), parse_config(base | {"W": (0.5 * W).tolist()})
        exact, plain = _interleaved(lambda c=chaotic: grad_report(c), lambda c=calm: grad_report(c), 1 if smoke else 5)
        used = grad_report(chaotic)["precision"].split(" (")[0]
        rows.append([f"tanh, n = {n}, W = 4·N(0, 1/n) (chaotic) vs 0.5·…, T = {T}: {used}", f"{exact * 1e3:.0f} ms",
                     f"{exact / plain:.1f}× the float64 report", _met(exact / plain <= 10), _met(exact / plain <= 5)])
    return rows


def precision_section(smoke: bool) -> list[str]:
    """Section 10b: precision_cases' table and what it shows."""
    from symbptt.numeric.exact import CHECK, DPS
    from symbptt.numeric.grad_report import DIGITS

    return ["\n## 10b. Precision that follows conditioning\n",
            "Targets: the report where float64 does not hold its digits at most 10× the float64 report of a calm "
            "run of the same size, and at most 5× (the compiled-speed issue's target for cases that need more "
            "than float64). CPU time, medians of 5 runs (the tanh rows interleaved with their calm run), each "
            "paying for its own exponentials (the ones mpmath kept from the run before are forgotten first).\n",
            table(["case", "time", "ratio", "≤ 10×", "≤ 5×"], precision_cases(smoke)),
            "\nThe report measures ‖∂s_T/∂s_k‖ on the float64 trajectory first; the chaotic run amplifies "
            f"rounding beyond float64's digits, so its forward pass is recomputed exactly at {DPS} + "
            "log10(amplification) digits, with Arb's balls where they serve (numeric/arbforward.py), else with "
            "mpmath: the rows name the pass that ran. The rest of the report is read in float64 from that "
            f"trajectory where the reruns that hold it measure the {DIGITS} digits asked for (numeric/split.py; "
            "the rows that say \"float64 from its trajectory\"), else computed exactly from it: with Arb's balls "
            "where they prove it (numeric/arbbackward.py), else with mpmath (\"mpmath for the rest\"); at "
            f"{DPS} digits beyond what the reruns measured rounding cost the float64 rest, where that is fewer "
            "than the forward pass's and saves more than the reruns cost (numeric/reruns.py; the rows that say "
            "\"Arb at M digits for the rest\"), else at the forward pass's (the rows that say only \"Arb at N "
            f"digits\"). Each exact forward pass is made with {CHECK} digits more and checked (numeric/exact.py): "
            "Arb's by carrying its proven rounding along it (numeric/tangent.py), mpmath's "
            "by a second pass at the digits asked for. The calm run stays in float64 except for blocks that "
            "lose range.\n"]


VERIFY_RIGHT = {  # right formulas, each with its model, that the mutation run starts from
    "closed form, one tanh unit": (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) \left(\prod_{j=k+1}^{T} "
                                   r"w (1-h_j^2)\right) (1-h_k^2) h_{k-1}", {}),
    "δ recursion, n = 3": (r"\frac{\partial L}{\partial W} = \sum_{t=1}^{T} \operatorname{diag}(\sigma'(a_t)) \delta_t "
                           r"h_{t-1}^\top \\ \delta_T = h_T - y \\ \delta_{t-1} = W^\top \operatorname{diag}"
                           r"(\sigma'(a_t)) \delta_t", {"n": 3}),
    "δ recursion, n = 3, two layers": (
        r"\frac{\partial L}{\partial W^{(1)}} = \sum_{t=1}^{T} \operatorname{diag}(\sigma'(a^{(1)}_t)) \delta^{(1)}_t "
        r"(h^{(1)}_{t-1})^\top \\ \delta^{(2)}_T = h^{(2)}_T - y \\ \delta^{(2)}_{t-1} = (W^{(2)})^\top "
        r"\operatorname{diag}(\sigma'(a^{(2)}_t)) \delta^{(2)}_t \\ \delta^{(1)}_{T} = (U^{(2)})^\top "
        r"\operatorname{diag}(\sigma'(a^{(2)}_T)) \delta^{(2)}_T \\ \delta^{(1)}_{t-1} = (W^{(1)})^\top "
        r"\operatorname{diag}(\sigma'(a^{(1)}_t)) \delta^{(1)}_t + (U^{(2)})^\top \operatorname{diag}"
        r"(\sigma'(a^{(2)}_{t-1})) \delta^{(2)}_{t-1}", {"n": 3, "layers": 2}),
}


def _mutations(formula: str, rng: np.random.Generator, count: int) -> list[str]:
    """Random one-edit changes of a formula: an index shifted (k → k-1, t-1 → t, j=k+1 → j=k), a
    transpose removed, a factor dropped, a sign flipped."""
    import re

    edits = []
    for m in re.finditer(r"_\{?(k|t|j)(-1)?\}?", formula):
        shifted = "_{" + m.group(1) + ("" if m.group(2) else "-1") + "}"
        edits.append((m.start(), m.end(), shifted))
    for m in re.finditer(r"=k\+1|=k(?!\+)", formula):
        edits.append((m.start(), m.end(), "=k" if "+1" in m.group() else "=k+1"))
    for m in re.finditer(r"\^\\top|\)\^\\top", formula):
        edits.append((m.start(), m.end(), ")" if m.group().startswith(")") else ""))
    for m in re.finditer(r" \(1-h_[jk]\^2\)| w | h_\{k-1\}", formula):
        edits.append((m.start(), m.end(), " "))
    for m in re.finditer(r"h_T - y|h\^\{\(2\)\}_T - y", formula):
        edits.append((m.start(), m.end(), "y - " + m.group().split(" - ")[0]))
    picks = rng.integers(0, len(edits), count)
    return [formula[:edits[i][0]] + edits[i][2] + formula[edits[i][1]:] for i in picks]


def verify_cases(smoke: bool) -> list[list[str]]:
    """`symbptt verify` on right formulas (time per verdict against its target) and on random mutations
    of them: a mutation called equal is checked again on 20 other networks per T."""
    from symbptt.check.verify import Model, verify

    rows = []
    rng = np.random.default_rng(0)
    per_formula = 0 if smoke else 334
    for name, (formula, model) in VERIFY_RIGHT.items():
        if smoke and "two layers" in name:
            continue
        verify(formula, Model(**model))  # parser caches warm, as in a session
        seconds = median_time(lambda f=formula, m=model: verify(f, Model(**m)), 3, time.process_time)
        target = 5.0 if model else 1.0
        rows.append([f"verify: {name}, T = 1..6, 3 networks each (in a session)", _fmt(seconds),
                     f"≤ {target:g} s", _met(seconds <= target)])
        if not smoke and not rows[1:]:  # the first formula also as a user runs it: a new process, wall time
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "symbptt", "verify", formula], capture_output=True,
                                  text=True, check=False)
            wall = time.perf_counter() - start
            rows.append([f"symbptt verify: {name} (new process, wall)", f"{wall:.2f} s", "≤ 1 s + start-up",
                         _met(proc.returncode == 0 and wall <= 1.0 + 1.5)])
        mutated = [m for m in _mutations(formula, rng, per_formula) if m != formula]
        equal = differs = unreadable = 0
        confirmed_wrong = 0
        start = time.process_time()
        for text in mutated:
            try:
                verdict = verify(text, Model(**model))
            except Exception:  # noqa: BLE001 - an unreadable mutation (h_{-1}) is not a verdict
                unreadable += 1
                continue
            if verdict.equal:
                equal += 1
                recheck = verify(text, Model(**model), points=20)
                confirmed_wrong += not recheck.equal
            else:
                differs += 1
        spent = time.process_time() - start
        rows.append([f"{len(mutated)} random mutations of it: {differs} differ, {equal} equal (same value; "
                     f"{confirmed_wrong} of them differ on 20 more networks), {unreadable} unreadable",
                     _fmt(spent), "no false equal", _met(confirmed_wrong == 0)])
    return rows


def _hand_rnn_step(W: np.ndarray, U: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple:
    """The floor: forward and backward of h_t = tanh(W h_{t-1} + U x_t + b), L = ½‖h_T − y‖² summed over
    the batch, written by hand with NumPy over the batch axis."""
    T, n, B = x.shape[0], W.shape[0], x.shape[2]
    hs = [np.zeros((n, B))]
    for t in range(T):
        hs.append(np.tanh(W @ hs[-1] + U @ x[t] + b))
    delta = hs[-1] - y
    gW, gU, gb = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    for t in range(T, 0, -1):
        da = delta * (1.0 - hs[t] ** 2)
        gW += da @ hs[t - 1].T
        gU += da @ x[t - 1].T
        gb += da.sum(axis=1, keepdims=True)
        delta = W.T @ da
    return gW, gU, gb


def training_cases(smoke: bool) -> list[list[str]]:
    """One training iteration (rnn, n = 32, T = 100, batch 32) against the hand-written NumPy floor, and
    the default `symbptt train` run as a user starts it."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.learn.tasks import make_batch
    from symbptt.learn.train import TrainSettings, batch_gradients, initial_params
    from symbptt.numeric.factors import ArrayFactors, NumericModel

    n, T, B = (8, 10, 4) if smoke else (32, 100, 32)
    settings = TrainSettings(n=n, T=T, batch=B)
    spec = get_cell("rnn", get_activation("tanh"))
    params = initial_params(spec, settings, 1)
    batch = make_batch("remember", T, B, np.random.default_rng(0))
    y = np.broadcast_to(batch.target, (n, B)).copy()

    def ours() -> None:
        model = NumericModel(spec, params, batch.x, y, "last")
        batch_gradients(ArrayFactors(model), model, spec, T // 2, None)

    p = params[0]
    floor = _cpu_median(lambda: _hand_rnn_step(p["W"], p["U"], p["b"], batch.x, y), 5)
    mine = _cpu_median(ours, 5)
    rows = [[f"one iteration: rnn, n = {n}, T = {T}, batch {B} (ours: gradients + far share)", _fmt(mine),
             f"{mine / floor:.2f}× the floor (target ≤ 3×)", _met(mine <= 3 * floor)],
            ["hand-written NumPy forward + backward, same model (the floor)", _fmt(floor), "—", "—"]]
    try:
        if smoke:  # importing torch alone costs seconds: not in the smoke run
            raise ImportError
        import torch

        W = torch.tensor(p["W"], requires_grad=True)
        U = torch.tensor(p["U"], requires_grad=True)
        bb = torch.tensor(p["b"], requires_grad=True)
        xt, yt = torch.tensor(batch.x), torch.tensor(y)

        def step() -> None:
            h = torch.zeros((n, B), dtype=torch.float64)
            for t in range(T):
                h = torch.tanh(W @ h + U @ xt[t] + bb)
            (0.5 * ((h - yt) ** 2).sum()).backward()

        torch_time = _cpu_median(step, 5)
        rows.append(["PyTorch CPU float64 step, same model", _fmt(torch_time),
                     f"ours / torch = {mine / torch_time:.2f}", "—"])
    except ImportError:
        rows.append(["PyTorch CPU float64 step", "not run in the smoke run" if smoke else "not installed (optional)",
                     "—", "—"])
    steps = 20 if smoke else 1000
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "symbptt", "train", "--task", "remember", "-T", "20", "--iterations",
                           str(steps), "-n", "16", "-o", "/dev/null"], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    rows.append([f"symbptt train --task remember -T 20 --iterations {steps} -n 16", f"{wall:.1f} s (wall)", "≤ 60 s",
                 _met(wall <= 60 and proc.returncode == 0)])
    return rows


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else the platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; do not touch docs/")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    args = parser.parse_args()
    SMOKE["on"] = args.smoke

    target_rows, target_note = targets(args.smoke)
    sections = [
        "# Performance\n",
        f"Measured by `python benchmarks/run.py` on {cpu_name()} ({platform.machine()}, {mp.cpu_count()} cores), "
        f"Python {platform.python_version()}, SymPy {sp.__version__}, NumPy {np.__version__}, "
        f"symbptt {__version__}. Times are CPU-time medians of repeated runs unless marked wall; every ratio "
        "compares two numbers measured in the same run, so it carries over to other machines better than "
        "the seconds do (the ratios to NumPy's vectorised tanh depend on the CPU's SIMD units).\n",
        "## 1. Start-up of the command line\n",
        table(["command", "CPU time", "baseline", "ratio", "status"], startup(args.smoke)),
        "\nThe floor is Python itself for `--help` (nothing but click is imported) and SymPy for "
        "`derive`. `import sympy` alone leaves two costs for later that any SymPy program pays on its "
        "first sum: `Add` imports `sympy.tensor.tensor` (about 20 ms); the second baseline includes it. "
        "An editable install (`pip install -e`) adds its import finder (about 10 ms) to every run. Each "
        "command runs once untimed first, so that its bytecode caches exist, as on an installed machine.\n",
        "## 2. Derivation against plain `sympy.diff` of the nested unrolled loss (tanh, ∂L/∂w)\n",
        table(["T", "sympy.diff (baseline)", "explicit (ours)", "recursive (ours)", "speed-up"],
              case_derivation(args.smoke)),
        "\n### Targets\n",
        table(["case", "time", "target", "status"], target_rows),
        "\nEach time covers building every equation and every term of the gradient's sum (what printing "
        f"needs), not only the lazy derivation object. {target_note}\n",
        "\n## 3. Printing against building (every parameter, `--wrt all`)\n",
        table(["form", "model", "build", "Unicode", "text", "LaTeX", "pretty ≤ 2×, LaTeX ≤ 1× build"],
              rendering(args.smoke)),
        "\nBuild is the derivation with every equation and every term of a streamed sum made; the three "
        "printers then print the built equations (each time the median of three runs). Each factor is "
        "printed once per template (the factor of step t with its step numbers replaced by placeholders) "
        "and its step numbers are swapped in "
        "the printed string, so printing costs about one dictionary lookup and one string copy per "
        "factor.\n",
        table(["symbptt derive --form recursive --wrt all", "wall time", "peak memory (RSS)",
               "≤ 300 MB"], long_recursive(args.smoke)),
        "\n## 4. lambdify: the naive derivative against our explicit form (compile time)\n",
        table(["T", "lambdify of sympy.diff (baseline)", "lambdify of explicit form, all parameters (ours)"],
              lambdify_vs_naive(args.smoke)),
    ]
    rows, fits = compile_scaling(args.smoke)
    sections += ["\n## 5. Compiling a form: time against the number of factors\n",
                 table(["model (largest T)", "form", "factors", "compile time (CPU)"], rows),
                 "\nFitted exponent k of compile time ∝ factors^k over every n, layers and T measured: "
                 + ", ".join(f"{form} {k:.2f}" for form, k in fits.items()) + " (target ≤ 1.2).\n"]
    sweep_rows, ratios = case_sweep(args.smoke)
    sections += ["\n## 6. Sweep of log10|∂h_T/∂h_0| over weight × T (scalar)\n",
                 table(["case", "time", "ratio"], sweep_rows),
                 "\nThe bare pass evaluates one vectorised tanh per cell. An exact sweep must also keep "
                 "every a_t and evaluate log σ'(a) stably, which for tanh means one expm1 (m = e^{−2|a|} − 1, "
                 "from which the state is −sign(a)·m/(2 + m)) and one log (log sech² a = log 4 − 2|a| − "
                 "2 log(2 + m)) per cell; that floor alone is "
                 f"{ratios['floor']:.2f}× the bare pass on this CPU, and the sweep is {ratios['ratio_floor']:.2f}× "
                 "the floor (the remaining cost: the cumulative sum and the arithmetic around the two "
                 "transcendental functions). Computing log(1 − h²) from a stored h instead would be cheaper "
                 "but loses every digit once |a| > 19, so the accuracy test (1e-9 against mpmath) rules it "
                 "out.\n"]
    sections += ["\n## 7. Gain sweep log10‖∂h_T/∂h_0‖₂ (n = 64, 30 gains, T = 200)\n",
                 table(["case", "time", "ratio to bare"], gain_sweep(args.smoke)),
                 "\nThe bare pass costs n² per gain and step; the norm of the product J_T ⋯ J_1 needs the "
                 "product, n³ per gain and step, so the batched products alone are the floor (about n/6 "
                 "times the bare pass here). The spectral norm of each product is found by a block power "
                 "iteration started from the previous step's block (a few products of an n×4 block per "
                 "step, stopped at a relative change of 1e-13, the SVD for any gain not settled in 30 "
                 "iterations), which the tests check against LAPACK's SVD to 1e-11.\n"]
    sections += ["\n## 7b. Theory beside the exact rates (issue 26)\n",
                 table(["case", "time (wall)", "target", "status"], theory_figure(args.smoke)),
                 "\nThe figure needs ‖∂h_T/∂h_0‖₂ at T only: block power iteration through the T steps, each "
                 "step one BLAS product of W0 with the blocks of all gains (numeric/final_gain.py), instead "
                 "of the n×n product of every gain at every step.\n"]
    sections += ["\n## 8. log10|∂L/∂w| over weight × T in one forward-mode pass\n",
                 table(["case", "time", "note"], grad_sweep(args.smoke))]
    sections += ["\n## 9. Gated cells\n", table(["case", "time", "target", "status"], gated_cells(args.smoke)),
                 "\n", table(["cross-check", "time", "target", "status"], check_budget(args.smoke))]
    sections += ["\n## 10. Training\n", table(["case", "time", "ratio", "status"], training_cases(args.smoke)),
                 "\nOurs runs the generic path: the cell's compiled step, its coefficients for every step, the δ "
                 "recursion over route factors and one contribution per parameter, plus the far part of the "
                 "gradient (steps more than T/2 back) from the same δ; the floor is the vanilla cell written out "
                 "by hand.\n"]
    sections += precision_section(args.smoke)
    sections += ["\n## 10c. Checking a hand-written formula (`symbptt verify`)\n",
                 table(["case", "time", "target", "status"], verify_cases(args.smoke)),
                 "\nEach verdict evaluates both sides on 3 random networks at each T = 1..6 at 40 digits against "
                 "the reference BPTT; a wrong formula also tries the known mistakes. A mutation that verify calls "
                 "equal has the same value as the right formula (a transpose of a scalar, a reordered product); "
                 "it is checked again on 20 other networks per T.\n"]
    sections += ["\n## 11. PyTorch (optional)\n", table(["case", "time", "note"], case_torch(args.smoke)),
                 "\n### `grad --torch`: a torch module read and reported\n",
                 table(["case", "time", "ratio", "status"], torch_bridge(args.smoke))]

    sections += numbers.section(args.smoke)
    sections += ["\n## Memory (tracemalloc peak)\n", table(["case", "peak"], memory(args.smoke))]
    text = "\n".join(sections)
    print(text)
    if not args.smoke:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
