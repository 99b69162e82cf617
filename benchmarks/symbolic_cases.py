"""The symbolic side's benchmark cases for run.py: derivation against plain sympy.diff of the unrolled loss,
the targets of the forms, printing against building, lambdify, compiling a form against its factors, and
the gated cells' derivations and reports.  Each case returns the rows of its table."""

from __future__ import annotations

import multiprocessing as mp
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import cpu_median, fmt, median_time, met  # noqa: E402  (benchmarks/timing.py)

from symbptt import RNN, derive  # noqa: E402
from symbptt.model import unrolled_loss  # noqa: E402
from symbptt.numeric.compiled import CompiledForm  # noqa: E402
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
                                     fmt(seconds)])
    fits = {}
    for form, data in points.items():
        x = np.log([f for f, _ in data])
        y = np.log([max(s, 1e-6) for _, s in data])
        fits[form] = float(np.polyfit(x, y, 1)[0]) if len(data) > 2 else float("nan")
    return rows, fits


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
        rows.append([f"T={T}", fmt(diff_time) if diff_time else status, fmt(ours), fmt(rec),
                     f"{diff_time / ours:.0f}×" if diff_time else "baseline failed"])
        if status != "ok":
            break
    return rows


def targets(smoke: bool) -> tuple[list[list[str]], str]:
    """Section 2's targets, and the sentence under them (its numbers are these)."""
    T_exp, T_rec, T_lam = (50, 200, 20) if smoke else (1000, 10_000, 200)
    explicit = median_time(lambda: build(RNN(T=T_exp), "explicit", "W"), 3)
    recursive = median_time(lambda: build(RNN(T=T_rec), "recursive", "W"), 3)
    general = median_time(lambda: build(RNN(T=T_rec), "general", "W"), 3)
    lam = median_time(lambda: lambdify_gradient(RNN(T=T_lam), "explicit", "W"), 3)
    lam_all = median_time(lambda: lambdify_gradient(RNN(T=T_lam), "explicit", "all"), 3)
    note = (f"The recursive form at T = {T_rec:,} took {fmt(recursive)}: {recursive / T_rec * 1e6:.0f} µs per "
            "step, which makes one δ equation and one term of the sum (the step's symbols, and its small "
            "product rebuilt from a template), with Python's full garbage collections held back while the "
            f"form is iterated (symbptt/collector.py); {'within' if recursive <= 1.0 else 'over'} the 1 s target.")
    return [
        [f"explicit form, T = {T_exp}", fmt(explicit), "≤ 2 s", met(explicit <= 2.0)],
        [f"recursive form, T = {T_rec}", fmt(recursive), "≤ 1 s", met(recursive <= 1.0)],
        [f"general form, T = {T_rec}", fmt(general), "—", "—"],
        [f"lambdify explicit ∂L/∂w, T = {T_lam}", fmt(lam), "≤ 0.5 s", met(lam <= 0.5)],
        [f"lambdify explicit gradient of all four parameters, T = {T_lam}", fmt(lam_all), "—", "—"],
    ], note


def lambdify_vs_naive(smoke: bool) -> list[list[str]]:
    rows = []
    for T in ([4, 8] if smoke else [8, 16, 32, 48]):
        status, _, naive_lam = naive(T, lam=True)
        start = time.perf_counter()
        lambdify_gradient(RNN(T=T), "explicit")
        ours = time.perf_counter() - start
        rows.append([f"T={T}", fmt(naive_lam) if naive_lam else status, fmt(ours)])
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
        rows.append([form, name, fmt(build), f"{fmt(pretty)} ({pretty / build:.2f}×)",
                     f"{fmt(text)} ({text / build:.2f}×)", f"{fmt(latex)} ({latex / build:.2f}×)",
                     met(pretty <= 2 * build and latex <= build)])
    return rows


def long_recursive(smoke: bool) -> list[list[str]]:
    """`symbptt derive --form recursive --wrt all` at T = 10^5 as a user runs it: wall time and the
    peak resident memory of the whole process."""
    T = 500 if smoke else 100_000
    rows = []
    for style in ("text",) if smoke else ("text", "pretty", "latex"):
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "symbptt", "derive", "-T",
                               str(T), "--form", "recursive", "--wrt", "all", "--format", style],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        del before
        seconds = time.perf_counter() - start
        peak = int(proc.stderr.strip().splitlines()[-1]) / 1024
        rows.append([f"T = {T:,}, --format {style}", f"{seconds:.1f} s", f"{peak:.0f} MB",
                     met(peak <= 300)])
    return rows


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
    recursive = cpu_median(lambda: build(RNN(T=T_rec, cell="lstm"), "recursive", "all"), 3)
    rows.append([f"LSTM derive --form recursive --wrt all, T = {T_rec}", fmt(recursive), "≤ 2 s",
                 met(recursive <= 2.0)])
    for wrt, T in (("W_f", 11 if smoke else 14), ("all", 11)):
        seconds = cpu_median(lambda wrt=wrt, T=T: build(RNN(T=T, cell="lstm"), "explicit", wrt), 3)
        rows.append([f"LSTM derive --form explicit --wrt {wrt}, T = {T} (its limit)", fmt(seconds), "≤ 2 s",
                     met(seconds <= 2.0)])
    cfg: Config = example_config("lstm", T_grad, n, forget_bias=1.0, seed=0)
    grad_report(cfg)  # the cell's compiled step, once per process
    ours = cpu_median(lambda: grad_report(cfg), 3)
    wall = median_time(lambda: grad_report(cfg), 3)
    grads = cpu_median(lambda: exact_gradients(NumericModel.of(cfg)), 3)
    ref = cpu_median(lambda: bptt(cfg.layers, cfg.x, cfg.y, loss="last", cell="lstm"), 3)
    rows.append([f"LSTM grad, n = {n}, T = {T_grad}: the whole report (gradients and 201 Jacobian norms)",
                 f"{fmt(ours)} CPU, {fmt(wall)} wall", "≤ 1 s", met(wall <= 1.0)])
    rows.append(["  of which the gradients (loss and every parameter, exact)", fmt(grads), "≤ 3× reference",
                 f"{grads / ref:.2f}× — {met(grads <= 3 * ref)}"])
    rows.append(["NumPy reference BPTT, same model (gradients only)", fmt(ref), "—", "—"])
    points = []
    CompiledForm(RNN(T=2, cell="lstm"), "recursive")  # untimed: the cell's one-step derivation, made once
    for T in ((2, 4) if smoke else (5, 10, 20, 40, 80)):
        count = CompiledForm(RNN(T=T, cell="lstm"), "recursive").factor_count
        points.append((count, cpu_median(lambda T=T: CompiledForm(RNN(T=T, cell="lstm"), "recursive"), 3)))
    k = float(np.polyfit(np.log([f for f, _ in points]), np.log([max(s, 1e-6) for _, s in points]), 1)[0])
    rows.append([f"compile an LSTM gradient (recursive, all parameters), T = "
                 f"{', '.join(str(T) for T in ((2, 4) if smoke else (5, 10, 20, 40, 80)))}",
                 f"{points[-1][0]:,} factors in {fmt(points[-1][1])}", "exponent ≤ 1.2",
                 f"k = {k:.2f} — {met(k <= 1.2)}"])
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
             met(seconds <= 60 and proc.returncode == 0)]]
