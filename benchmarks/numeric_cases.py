"""The numeric side's benchmark cases for run.py: the scalar and gain sweeps, the theory figure, the
forward-mode gradient sweep, the precision that follows conditioning, and training against its hand-written
floor.  Each case returns the rows of its table."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import cpu_median, fmt, interleaved, median_time, met, table  # noqa: E402  (benchmarks/timing.py)

from symbptt.numeric.sweeps import bare_forward, random_recurrent_matrix, sweep_gain, sweep_grad, sweep_scalar  # noqa: E402


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
    ours = cpu_median(lambda: sweep_scalar(w, T, "tanh", x=x), 7)
    bare = cpu_median(lambda: bare_forward(w, T, x=x), 7)

    def floor() -> None:
        stored = np.empty((T, G))
        h = np.zeros(G)
        for t in range(T):
            np.multiply(w, h, out=stored[t])
            stored[t] += x[t]
            h = np.tanh(stored[t])
        np.log(np.expm1(-np.abs(stored)) + 2.0)

    least = cpu_median(floor, 7)
    T_base = T if smoke else 200  # the per-T baseline grows as T²: timed to 200, scaled by (1000/200)² below
    base = median_time(lambda: per_T_bptt(w, T_base, x), 1)
    scale = (T / T_base) ** 2
    per_T = base * scale
    rows = [
        [f"sweep {G} w × T = 1..{T} (ours)", fmt(ours), "—"],
        ["bare tanh forward pass, same grid", fmt(bare), f"ours / bare = {ours / bare:.2f} (target ≤ 2)"],
        ["bare pass + stored a_t + one expm1 and one log per cell (floor of an exact sweep)", fmt(least),
         f"floor / bare = {least / bare:.2f}; ours / floor = {ours / least:.2f}"],
        [f"re-run vectorised BPTT per T{'' if scale == 1 else f' (to T=200, × {scale:.0f})'}", fmt(per_T),
         f"per-T / ours = {per_T / ours:.0f}× (target ≥ 100×)"],
    ]
    return rows, {"ratio_bare": ours / bare, "ratio_floor": ours / least, "floor": least / bare,
                  "ratio_per_T": per_T / ours}


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
    base = cpu_median(bare, repeats)
    rows = [["bare batched forward pass (h only)", fmt(base), "1"]]
    for name, func in (("batched Jacobian products only (the floor)", products),
                       ("products + an SVD per gain and step (before)", svd_sweep),
                       ("sweep_gain: products + block power iteration (ours)",
                        lambda: sweep_gain(gains, T, "tanh", n, seed=0))):
        seconds = cpu_median(func, repeats)
        rows.append([name, fmt(seconds), f"{seconds / base:.1f}×"])
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
    return [[f"plot spectrum --theory, n = {n}, T = {T}, {seeds} seeds, {points} gains", fmt(figure), "≤ 60 s",
             met(figure <= 60.0)],
            [f"the n×n products of one seed's gain sweep (before: × {seeds} seeds)", fmt(one_sweep), "", ""]]


def grad_sweep(smoke: bool) -> list[list[str]]:
    """log10|∂L/∂w| over 1000 weights × T = 1..1000 in one forward-mode pass, against `grad` per
    (w, T) (the report a user would otherwise call) extrapolated from a sample."""
    from symbptt.config import parse_config
    from symbptt.numeric.grad_report import grad_report

    G, T = (20, 50) if smoke else (1000, 1000)
    w = np.linspace(-3, 3, G)
    x = np.random.default_rng(0).uniform(-1, 1, T)
    ours = cpu_median(lambda: sweep_grad(w, T, "tanh", x=x, y=0.5), 3)
    jac = cpu_median(lambda: sweep_scalar(w, T, "tanh", x=x), 3)
    sample = 3
    start = time.process_time()
    for wi in w[:sample]:
        grad_report(parse_config({"activation": "tanh", "W": float(wi), "U": 1.0, "b": 0.0, "h0": 0.0,
                                  "x": [float(v) for v in x], "y": 0.5}))
    per_call = (time.process_time() - start) / sample
    per_grid = per_call * G * T
    return [[f"sweep_grad, {G} w × T = 1..{T} (ours)", fmt(ours), "—"],
            ["sweep_scalar (log10|∂h_T/∂h_0|), same grid", fmt(jac), f"grad / jacobian = {ours / jac:.1f}×"],
            [f"`grad` once per (w, T): {fmt(per_call)} per call × {G * T:,}", fmt(per_grid),
             f"{per_grid / ours:.0f}× slower than ours"]]


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
                     f"{ratio:.1f}× the float64 report", met(ratio <= 10), met(ratio <= 5)])
    n = 4 if smoke else 16
    for T in ([20] if smoke else [300, 1000]):  # a chaotic tanh network of 16 units: W = 4·N(0, 1/n) vs 0.5·…
        rng = np.random.default_rng(0)
        W = rng.normal(size=(n, n)) / np.sqrt(n)
        base = {"activation": "tanh", "U": rng.normal(size=(n, 1)).tolist(), "b": [0.0] * n, "h0": [0.3] * n,
                "x": [[0.1]] * T, "y": [0.0] * n}
        chaotic, calm = parse_config(base | {"W": (4.0 * W).tolist()}), parse_config(base | {"W": (0.5 * W).tolist()})
        exact, plain = interleaved(lambda c=chaotic: grad_report(c), lambda c=calm: grad_report(c), 1 if smoke else 5)
        used = grad_report(chaotic)["precision"].split(" (")[0]
        rows.append([f"tanh, n = {n}, W = 4·N(0, 1/n) (chaotic) vs 0.5·…, T = {T}: {used}", f"{exact * 1e3:.0f} ms",
                     f"{exact / plain:.1f}× the float64 report", met(exact / plain <= 10), met(exact / plain <= 5)])
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
    floor = cpu_median(lambda: _hand_rnn_step(p["W"], p["U"], p["b"], batch.x, y), 5)
    mine = cpu_median(ours, 5)
    rows = [[f"one iteration: rnn, n = {n}, T = {T}, batch {B} (ours: gradients + far share)", fmt(mine),
             f"{mine / floor:.2f}× the floor (target ≤ 3×)", met(mine <= 3 * floor)],
            ["hand-written NumPy forward + backward, same model (the floor)", fmt(floor), "—", "—"]]
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

        torch_time = cpu_median(step, 5)
        rows.append(["PyTorch CPU float64 step, same model", fmt(torch_time),
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
                 met(wall <= 60 and proc.returncode == 0)])
    return rows
