"""Benchmarks: each case beside its baseline, measured in the same run; writes docs/performance.md.

    python benchmarks/run.py            # full run (a few minutes)
    python benchmarks/run.py --smoke    # tiny sizes, used by the test suite to keep this script working
"""

from __future__ import annotations

import argparse
import copy
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
from numeric_cases import (  # noqa: E402  (benchmarks/numeric_cases.py)
    case_sweep,
    gain_sweep,
    grad_sweep,
    precision_section,
    theory_figure,
    training_cases,
)
from symbolic_cases import (  # noqa: E402  (benchmarks/symbolic_cases.py)
    case_derivation,
    check_budget,
    compile_scaling,
    gated_cells,
    lambdify_vs_naive,
    long_recursive,
    rendering,
    targets,
)
from timing import SMOKE, fmt, median_time, met, table  # noqa: E402  (benchmarks/timing.py)

from symbptt import RNN, __version__, derive  # noqa: E402
from symbptt.numeric.sweeps import sweep_scalar  # noqa: E402


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

    return [[f"PyTorch autograd backward, {G} w, T = {T} (one T only)", fmt(median_time(run, 3)), "—"]]


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
    return [[f"read + whole report, LSTM 2 × {n}, T = {T}", f"{fmt(whole)} CPU, {fmt(wall)} wall",
             f"{whole / base:.1f}× torch f64 (CPU)", met(wall <= 2.0) + " (≤ 2 s wall)"],
            ["read + gradients only, same", fmt(grads), f"{grads / base:.1f}× torch f64",
             met(grads / base <= 3.0) + " (≤ 3×)"],
            ["torch autograd float64 forward + backward, same", fmt(base), "1×", "—"]]


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
        rows.append(["a notebook's imports: RNN, derive, plots, explore, one derive", fmt(notebook),
                     f"import sympy: {fmt(base['sympy'])}", f"+{fmt(notebook - base['sympy'])} (target ≤ +1 s)",
                     met(notebook - base["sympy"] <= 1.0)])
    checks = [("--help", "pass", "python -c pass", 3.0), ("derive --help", "pass", "python -c pass", 3.0),
              ("plot --help", "pass", "python -c pass", 3.0), ("derive -T 3", "sympy", "import sympy", 1.3),
              ("derive -T 3", "ready", "import sympy; x + 1", 1.3)]
    for args, key, base_name, target in checks:
        if args not in ours or key not in base:
            continue
        ratio = ours[args] / base[key]
        rows.append([f"symbptt {args}", fmt(ours[args]), f"{base_name}: {fmt(base[key])}",
                     f"{ratio:.2f}× (target ≤ {target:g}×)", met(ratio <= target)])
    return rows


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
        rows.append([f"verify: {name}, T = 1..6, 3 networks each (in a session)", fmt(seconds),
                     f"≤ {target:g} s", met(seconds <= target)])
        if not smoke and not rows[1:]:  # the first formula also as a user runs it: a new process, wall time
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "symbptt", "verify", formula], capture_output=True,
                                  text=True, check=False)
            wall = time.perf_counter() - start
            rows.append([f"symbptt verify: {name} (new process, wall)", f"{wall:.2f} s", "≤ 1 s + start-up",
                         met(proc.returncode == 0 and wall <= 1.0 + 1.5)])
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
                     fmt(spent), "no false equal", met(confirmed_wrong == 0)])
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
