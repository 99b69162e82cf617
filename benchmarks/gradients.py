"""`symbptt.gradients` against the floor and its peers, in one run (issue 28's grid).

The floor is BPTT written by hand with NumPy over the batch axis, one function per cell, in the cell's
own equations (the numbers are compared, so a floor that computed something else would show).  The
peers are PyTorch's autograd in float64 on the same equations (optional) and JAX (reported when
installed).  Times are wall-clock time per call (the median of blocks of calls, each timed whole); each
row also says which path symbptt took (float64, or the digits mpmath carried where float64 did not hold).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the helpers beside it, however it is loaded
    sys.path.insert(0, str(HERE))

from peers import HAND, jax_gradient, random_params, torch_loss  # noqa: E402  (benchmarks/peers.py)
from report_cases import REPORT_HEADER, report, report_note  # noqa: E402  (benchmarks/report_cases.py)
from timing import PASSES, median, side_by_side, table  # noqa: E402  (benchmarks/timing.py)


def _numpy_kernel(func: Callable[[], object]) -> Callable[[], object]:
    """func with the compiled kernel turned off (symbptt.gradients then runs the NumPy step kernel)."""
    from symbptt.numeric import jit

    def run() -> object:
        with jit.turned_off():
            return func()

    return run


def compile_times(smoke: bool) -> list[list[str]]:
    """The compiled kernel's one-time cost, each in a new process: compiling into an empty cache
    folder, then loading from it (what every later process pays), for rnn, lstm and gru."""
    import subprocess
    import sys
    import tempfile

    from symbptt.numeric import jit

    if not jit.available():
        return [["compiled kernel", "not run (Numba not installed, or SYMBPTT_JIT=0)", "—"]]
    code = ("import sys, time, numpy as np, symbptt; sys.path.insert(0, {folder!r}); import peers; "
            "p = peers.random_params('{cell}', 2, 1, np.random.default_rng(0)); "
            "x, y = np.ones((3, 1, 1)), np.ones((2, 1)); "
            "t = time.perf_counter(); r = symbptt.gradients(p, x, y, cell='{cell}'); assert r.kernel == 'compiled'; "
            "print(time.perf_counter() - t)")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "SYMBPTT_CACHE": folder}
        for cell in ("rnn",) if smoke else ("rnn", "lstm", "gru"):
            spent = []
            for _ in range(2):  # cold, then warm
                out = subprocess.run([sys.executable, "-c", code.format(cell=cell, folder=str(HERE))], env=env,
                                     capture_output=True, text=True, check=True)
                spent.append(float(out.stdout.split()[-1]))
            rows.append([f"{cell}: the first symbptt.gradients call (forward pass and δ recursion, one layer, "
                         "loss 'last')", f"{spent[0]:.1f} s",
                         f"{spent[1]:.2f} s"])
    return rows


def grid(smoke: bool, costs: dict[str, tuple[float, float, float, float]] | None = None) -> list[list[str]]:
    """One row per cell, n, T and batch: symbptt.gradients, the floor, torch f64, the ratios; ``costs``, when
    given, gets ``step_costs`` of each row over the floor target, timed right after the row."""
    import symbptt

    try:
        if smoke:  # importing torch alone costs seconds
            raise ImportError
        import torch
    except ImportError:
        torch = None
    jaxes = {cell: jax_gradient(cell) for cell in ("rnn", "lstm", "gru")} if not smoke else {}
    sizes = ([(1, 10, 1), (4, 10, 4)] if smoke else
             [(n, T, B) for n in (1, 4, 16, 64) for T in (10, 100, 1000) for B in (1, 32)])
    rows = []
    for cell in ("rnn", "lstm", "gru"):
        for n, T, B in sizes:
            p, x, y = _case(cell, n, T, B)
            repeats = 1 if smoke else (3 if n * T * B > 10**5 else 7)
            got = symbptt.gradients(p, x, y, cell=cell)
            floor_g = HAND[cell](p, x, y)
            worst = max(float(np.max(np.abs(got.grads[k] - floor_g[k]))) / max(1.0, float(np.max(np.abs(floor_g[k]))))
                        for k in p)
            funcs: dict[str, Callable[[], object]] = {
                "ours": lambda: symbptt.gradients(p, x, y, cell=cell),  # noqa: B023
                "numpy": _numpy_kernel(lambda: symbptt.gradients(p, x, y, cell=cell)),  # noqa: B023
                "floor": lambda: HAND[cell](p, x, y)}  # noqa: B023
            if jaxes.get(cell) is not None:
                jg = jaxes[cell]
                funcs["jax"] = lambda: jg(p, x, y)  # noqa: B023  (its compile is the warm call, not timed)
            if torch is not None:
                tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
                tx, ty = torch.tensor(x), torch.tensor(y)
                funcs["torch"] = lambda: torch_loss(cell, tp, tx, ty).backward()  # noqa: B023
            spent = side_by_side(funcs, repeats, most=1 if smoke else 75)
            ours, numpy_kernel, floor = spent["ours"], spent["numpy"], spent["floor"]
            to_jax = ours / spent["jax"] if "jax" in spent else None
            jaxed = "—" if to_jax is None else f"{to_jax:.1f}×"
            theirs = f"{ours / spent['torch']:.2f}×" if "torch" in spent else "—"
            rows.append([f"{cell} n = {n}, T = {T}, batch {B}", f"{ours * 1e3:.2f} ms", f"{ours / floor:.2f}×",
                         f"{numpy_kernel / floor:.2f}×", theirs, jaxed, _path(got, kernel=True), f"{worst:.0e}",
                         _status(ours <= FLOOR_TARGET * floor,
                                 None if to_jax is None or n > JAX_UP_TO else to_jax <= JAX_TARGET)])
            if costs is not None and ours > FLOOR_TARGET * floor:
                costs[rows[-1][0]] = step_costs(cell, p, x, y, smoke)
    return rows


def _case(cell: str, n: int, T: int, B: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The parameters, x and y of a row of the grid (m = n; seeded by the row's sizes)."""
    rng = np.random.default_rng(n * 1000 + T + B)
    p = random_params(cell, n, n, rng)
    return p, rng.normal(size=(T, n, B)), rng.normal(size=(n, B))


CASE = re.compile(r"(\w+) n = (\d+), T = (\d+), batch (\d+)")
FLOOR_TARGET, JAX_TARGET, JAX_UP_TO = 1.5, 5.0, 16  # ≤ 1.5× the floor; ≤ 5× JAX for n ≤ 16 (issue 28)


def step_costs(cell: str, p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, smoke: bool
               ) -> tuple[float, float, float, float]:
    """A row timed again in one block: ours and the floor's with all T steps and with the first step only
    (wall-clock per call, seconds) — what a call costs before its steps, and each step after."""
    import symbptt

    spent = side_by_side({"ours": lambda: symbptt.gradients(p, x, y, cell=cell),
                          "floor": lambda: HAND[cell](p, x, y),
                          "ours1": lambda: symbptt.gradients(p, x[:1], y, cell=cell),
                          "floor1": lambda: HAND[cell](p, x[:1], y)}, 1 if smoke else 7, most=1 if smoke else 75)
    return spent["ours"], spent["floor"], spent["ours1"], spent["floor1"]


def grid_note(rows: list[list[str]], costs: dict[str, tuple[float, float, float, float]]) -> str:
    """The sentences under the grid, from its rows and their ``step_costs``: which rows miss a target, and
    for those over the floor whether their steps or the call around them cost more than the floor's — or
    that the row, timed again, was within the target (a miss that did not repeat)."""
    jax = [f"{row[0]} ({row[5]} JAX)" for row in rows if "JAX" in row[-1]]
    floor = [row[0] for row in rows if "floor" in row[-1]]
    if not jax and not floor:
        return "Every row is within both targets.\n"
    parts = []
    for case in floor:
        ours, theirs, ours1, theirs1 = costs[case]
        T = int(CASE.fullmatch(case).group(3))  # type: ignore[union-attr]
        step, their_step = (ours - ours1) / (T - 1), (theirs - theirs1) / (T - 1)
        if ours <= FLOOR_TARGET * theirs:
            where = f"within the target this time ({ours / theirs:.2f}×): the row's miss did not repeat"
        elif step <= FLOOR_TARGET * their_step:
            where = "its steps are within the target and the call's fixed cost is what is over"
        else:
            where = f"its steps alone cost {step / their_step:.1f}× the floor's"
        parts.append(f"{case}, timed again: {ours * 1e3:.2f} ms against the floor's {theirs * 1e3:.2f} ms; with "
                     f"its first step only {ours1 * 1e3:.2f} ms against {theirs1 * 1e3:.2f} ms, so each further "
                     f"step costs {step * 1e6:.1f} µs against {their_step * 1e6:.1f} µs: {where}")
    text = ""
    if floor:
        text += f"Over the floor target: {'; '.join(parts)}. "
    if jax:
        text += f"Over the JAX target: {', '.join(jax)}."
    return text.rstrip() + "\n"


def _status(floor_met: bool, jax_met: bool | None) -> str:
    """The row's status against both targets: ≤ 1.5× the floor, and ≤ 5× JAX where n ≤ 16 and JAX ran."""
    missed = (["floor"] if not floor_met else []) + (["JAX"] if jax_met is False else [])
    return "met" if not missed else f"NOT met ({', '.join(missed)})"


def _path(got: Any, kernel: bool = False) -> str:
    """The path a symbptt.gradients result took, as the tables show it (with the float64 kernel that ran)."""
    if got.digits:
        return f"mpmath {got.digits} digits"
    return f"float64 ({got.kernel})" if kernel else "float64"


MP_SEEDS = 16  # seeds tried for a saturated GRU whose pass needs mpmath (at 7938b8a none of 7–22 does)


def fallback(smoke: bool) -> list[list[str]]:
    """Cases plain float64 does not hold: δ that underflows over long sequences (the kernel's scaled δ keeps
    them in float64; where one unit's δ dies out while the others' do not — the IndRNN and minGRU of 64
    units — the ledger carries what it costs the sums and ∂L/∂h_0 is computed again unit by unit,
    kernel.unit_initial) and saturated GRUs whose h_{t-1} − n_t cancels digits: one the distances to ±1 keep in
    float64 (their bound promises the digits), the more strongly driven seed 7, whose coefficients
    underflow (numeric/underflow.py follows them), and the first of MP_SEEDS such seeds whose pass still
    needs mpmath, so that mpmath carries the digits it needs; the time against the float64 pass of the
    same case (the kernel alone)."""
    import symbptt
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric import kernel
    from symbptt.numeric.factors import ArrayFactors, NumericModel
    from symbptt.primitives import forget_mp_values

    rows = []
    long, short = (50, 10) if smoke else (1000, 100)
    cases = [("lstm", 1, long, 1, 1.0, False), ("gru", 1, long, 2 if smoke else 32, 1.0, False),
             ("rnn", 1, 3 * long, 1, 1.0, False), ("indrnn", 64, long, 1, 1.0, False),
             ("mingru", 64, long, 1, 1.0, False), ("gru", 4, short, 1, 40.0, False), ("gru", 4, short, 1, 100.0, False),
             ("gru", 4, short, 1, 100.0, True)]
    for cell, n, T, B, drive, needs_mp in cases:
        for seed in range(7, 7 + MP_SEEDS):  # the last case: the first seed whose pass needs mpmath
            rng = np.random.default_rng(seed)
            p = random_params(cell, n, 1, rng)
            if cell == "rnn":
                p["W"][:] = 3.0  # a saturated unit: δ underflows on the way back
            elif cell == "lstm":
                p["b_f"][:] = -3.0  # a forget gate near 0.05: the memory of h_0 vanishes below float64's range
            elif n == 1:
                p["b_z"][:] = -4.0
            # drive > 1: saturated gates, where h_{t-1} − n_t cancels digits (the distances to ±1 recover them
            # where their bound promises 10 digits; else mpmath)
            x, y = rng.normal(size=(T, 1, B)) * drive, rng.normal(size=(n, B))
            got = symbptt.gradients(p, x, y, cell=cell)
            if not needs_mp or got.digits:
                break
        spec = get_cell(cell, get_activation("tanh"))
        model = NumericModel(spec, [{k: (v.reshape(-1, 1) if v.ndim < 2 else v) for k, v in p.items()}], x, y, "last")
        repeats = 1 if smoke else 3

        def fresh() -> object:  # the exponentials mpmath kept from the run before are forgotten first
            forget_mp_values()
            return symbptt.gradients(p, x, y, cell=cell)  # noqa: B023

        ours = median(fresh, repeats)
        plain = median(lambda: kernel.gradients(ArrayFactors(model)), repeats)  # noqa: B023
        inputs = "" if drive == 1 else f", inputs × {drive:g} (seed {seed})"
        if needs_mp and not got.digits:  # said as it is: no seed tried needs the exact pass at this size
            inputs += f"; none of seeds 7–{seed} needs mpmath"
        rows.append([f"{cell} n = {n}, T = {T}, batch {B}{inputs}", _path(got), f"{ours * 1e3:.0f} ms",
                     f"{ours / plain:.2g}× the NumPy float64 pass", "met" if ours <= 5 * plain else "NOT met (≤ 5×)"])
    return rows


def coefficients_underflow(seed: int, drive: float, smoke: bool) -> bool:
    """Whether the float64 pass of the fallback table's GRU (n = 4) driven × ``drive`` at ``seed`` raises
    underflow in its step coefficients (what the sentence under the table says of seed 7)."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.factors import ArrayFactors, FloatWatch, NumericModel

    rng = np.random.default_rng(seed)
    p = random_params("gru", 4, 1, rng)
    x, y = rng.normal(size=(10 if smoke else 100, 1, 1)) * drive, rng.normal(size=(4, 1))
    model = NumericModel(get_cell("gru", get_activation("tanh")),
                         [{k: (v.reshape(-1, 1) if v.ndim < 2 else v) for k, v in p.items()}], x, y, "last")
    watch = FloatWatch()
    with watch.watch(None):
        ArrayFactors(model, watch=watch)
    return any(kind == "underflow" and isinstance(label, tuple) and label[0] == "coef" for label, kind in watch.events)


def fallback_note(rows: list[list[str]], underflows: bool) -> str:
    """The sentences under the fallback table, read off its last two rows (the GRU driven × 100 at seed 7,
    and the first seed from 7 whose pass needs mpmath, or the words that none tried does), whether seed
    7's coefficients underflow (coefficients_underflow), and the paths of its IndRNN and minGRU rows."""
    seven, last = rows[-2], rows[-1]
    kept = seven[1].startswith("float64")
    first = ("the last row is the first seed from 7 whose pass still needs mpmath" if last[1].startswith("mpmath")
             else "no seed tried needs mpmath (the last row)")
    how = ("raises underflow in a few step coefficients: those entries are computed again exactly and every sum "
           "is checked for what underflow can have cost it (symbptt/numeric/underflow.py), and the pass"
           if underflows else "raises no underflow in its step coefficients, and the pass")
    dying = [row for row in rows if row[0].split()[0] in ("indrnn", "mingru")]
    units = ""
    if dying:  # each row's path, as it ran: float64 where the unit-by-unit δ_0 and the carried bounds held it
        paths = "; ".join(f"the {row[0].split(',')[0]} took {row[1]}" for row in dying)
        units = (" Of the diagonal cells of 64 units, some of whose units' δ die out below float64's range while "
                 f"the others' do not (the underflow check carries what they cost the sums, and ∂L/∂h_0 is "
                 f"computed unit by unit: kernel.unit_initial), {paths}.")
    return (f"The GRU driven × 100 at seed 7 {how} {'stays in float64' if kept else 'took ' + seven[1]}; "
            f"{first}.{units}")


def training(smoke: bool) -> list[list[str]]:
    """One training iteration (forward, backward, far share) for rnn and LSTM at n = 32, T = 100, batch 32
    against torch autograd float64 on the same equations (target ≤ 1×), side by side in wall-clock time."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.learn.train import batch_gradients, forward
    from symbptt.numeric.factors import NumericModel

    try:
        if smoke:
            raise ImportError
        import torch
    except ImportError:
        return [["training iteration", "torch not run (smoke run or not installed)", "—", "—"]]
    n, T, B = 32, 100, 32
    rows = []
    for cell in ("rnn", "lstm"):
        rng = np.random.default_rng(3)
        p = random_params(cell, n, 1, rng)
        x, y = rng.normal(size=(T, 1, B)), rng.normal(size=(n, B))
        spec = get_cell(cell, get_activation("tanh"))
        params = [{k: (v.reshape(-1, 1) if v.ndim < 2 else v) for k, v in p.items()}]

        def ours() -> None:
            model = NumericModel(spec, params, x, y, "last")  # noqa: B023
            batch_gradients(forward(model), model, spec, T // 2, None)  # noqa: B023

        tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
        tx, ty = torch.tensor(x), torch.tensor(y)
        spent = side_by_side({"ours": ours, "torch": lambda: torch_loss(cell, tp, tx, ty).backward()}, 7)  # noqa: B023
        mine, theirs = spent["ours"], spent["torch"]
        rows.append([f"one iteration, {cell} n = {n}, T = {T}, batch {B}", f"{mine * 1e3:.1f} ms",
                     f"{mine / theirs:.2f}× torch f64 ({theirs * 1e3:.1f} ms)", "met" if mine <= theirs else "NOT met"])
    return rows


def measured(smoke: bool) -> list[list[str]]:
    """symbptt.gradients with digits=12 (float64 rounding measured by nudged reruns, mpmath below 12
    digits) against the same call without it, and against that call on the NumPy kernel (SYMBPTT_JIT=0):
    what measuring costs."""
    import symbptt
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric import jit_nudge

    cases = [("rnn", 1, 1000, 1), ("lstm", 4, 300, 1), ("rnn", 16, 100, 8), ("lstm", 8, 200, 4), ("gru", 32, 100, 1),
             ("rnn", 64, 100, 32)]
    rows = []
    for cell, n, T, B in cases if not smoke else [("rnn", 4, 10, 2)]:
        p, x, y = _case(cell, n, T, B)
        got = symbptt.gradients(p, x, y, cell=cell, digits=12)
        spent = side_by_side({"plain": lambda: symbptt.gradients(p, x, y, cell=cell),  # noqa: B023
                              "numpy": _numpy_kernel(lambda: symbptt.gradients(p, x, y, cell=cell)),  # noqa: B023
                              "measured": lambda: symbptt.gradients(p, x, y, cell=cell, digits=12)},  # noqa: B023
                             1 if smoke else 5, most=1 if smoke else 30)
        rows.append([f"{cell} n = {n}, T = {T}, batch {B}", f"{spent['measured'] * 1e3:.1f} ms",
                     f"{spent['measured'] / spent['plain']:.1f}×", f"{spent['measured'] / spent['numpy']:.1f}×",
                     f"{got.kept[0]:.1f} ({got.kept[1]:.1f} worst entry)" if got.kept else "—", _path(got),
                     "compiled" if jit_nudge.applies(get_cell(cell, get_activation("tanh")), 1, "last", n, B, T)
                     else "NumPy"])
    return rows


SATURATED = [("gru", 16, 100, 10.0), ("gru", 64, 300, 10.0), ("gru", 64, 300, 30.0), ("mingru", 16, 100, 10.0),
             ("minlstm", 16, 100, 10.0)]  # example_config(cell, T, n, drive=…): gates saturated by the inputs


def saturated(smoke: bool) -> list[list[str]]:
    """symbptt.gradients with digits=12 where a gate saturates (its bound sent every such call to an exact
    pass at the digits the differences need, before anything was measured): now measured first by the
    nudged reruns, against that exact pass timed in the same run (exact.exact_gradients without the
    distances, as digits= called it), and whether the measured call kept float64."""
    import symbptt
    from symbptt.numeric import exact
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.factors import NumericModel
    from symbptt.numeric.gradients import _settled as settled

    rows = []
    for cell, n, T, drive in SATURATED if not smoke else [("gru", 4, 20, 10.0)]:
        cfg = example_config(cell, T, n, drive=drive)
        p, x, y = dict(cfg.layers[0]), cfg.x, cfg.y
        model = NumericModel.of(cfg)

        def before(model: NumericModel = model) -> object:  # as digits= made it: the pass, checked by one at twice
            values, computed = exact.float64_pass(model)  # its digits until two agree (gradients._settled)
            loss, grads, used = exact.exact_gradients(model, values, computed=computed, carry=False)
            return settled(exact, model, used, loss, grads)

        got = symbptt.gradients(p, x, y, cell=cell, digits=12)
        bound = exact.saturation_digits(exact.float64_pass(model)[0])
        spent = side_by_side({"measured": lambda: symbptt.gradients(p, x, y, cell=cell, digits=12),  # noqa: B023
                              "exact": before}, 1, most=1 if smoke else 5)
        rows.append([f"{cell} n = {n}, T = {T}, inputs × {drive:g} (bound {bound} digits)",
                     f"{spent['measured'] * 1e3:.1f} ms", f"{spent['exact'] * 1e3:.1f} ms",
                     f"{spent['measured'] / spent['exact']:.2f}×",
                     f"{got.kept[0]:.1f} ({got.kept[1]:.1f} worst entry)" if got.kept else "—", _path(got)])
    return rows


def measured_note(rows: list[list[str]]) -> str:
    """The sentence under the measured-digits table, from its rows: what measuring cost, against the NumPy
    kernel's plain call and against the plain call as it ran."""
    numpy_ratios = [float(row[3].rstrip("×")) for row in rows]
    plain_ratios = [float(row[2].rstrip("×")) for row in rows]
    compiled = max(plain_ratios) > max(numpy_ratios)  # the plain call ran faster than on the NumPy kernel
    faster = " (there the compiled kernel's plain call is the faster one)" if compiled else ""
    compiled_runs = [row[0] for row in rows if row[6] == "compiled"]
    where = ("on the NumPy kernel" if not compiled_runs else "compiled" if len(compiled_runs) == len(rows)
             else f"compiled for {'; '.join(compiled_runs)} and on the NumPy kernel for the others")
    return (f"Measuring cost {min(numpy_ratios):.1f}–{max(numpy_ratios):.1f}× the plain call on the NumPy kernel "
            f"and up to {max(plain_ratios):.0f}× the plain call as it ran{faster}; the nudged reruns ran {where}, "
            "and the sums over t add up each sum's Σ|terms|.\n")


def section(smoke: bool) -> list[str]:
    """Section 12 of docs/performance.md: the grid, the compiled kernel's one-time cost, the cases float64
    does not hold, a training iteration."""
    import unit_fallback as fallback_units  # beside this script (HERE is on the path)

    return ["\n## 12. `symbptt.gradients` against the hand-written floor, torch float64 and JAX\n",
            f"Wall-clock time per call on a quiet machine, each library on the threads it takes: each column of a "
            "row timed in blocks of calls (about 30 ms of them, 7 to 75; 3 for the largest cases), each block "
            f"whole after one untimed call, the median of {PASSES} blocks taken in turn. *floor*: BPTT written by "
            "hand with NumPy over the batch, in the cell's own equations; "
            "*NumPy kernel*: symbptt.gradients with the compiled kernel turned off (SYMBPTT_JIT=0), against the "
            "floor; *torch*, *JAX*: ours / torch autograd float64 and ours / JAX jit(grad) float64 (lax.scan) on "
            "the same equations, JAX's compile time not counted (blank when absent); *path*: the kernel that ran; "
            "*worst*: the largest difference from the floor's gradients (relative to max(1, |g|)). "
            f"Target: ≤ {FLOOR_TARGET:g}× the floor; ≤ {JAX_TARGET:g}× JAX for n ≤ {JAX_UP_TO}.\n",
            table(["case", "ours", "/ floor", "NumPy kernel / floor", "/ torch", "/ JAX", "path", "worst", "status"],
                  rows := grid(smoke, costs := {})),
            "\n" + grid_note(rows, costs),
            "\n### The compiled kernel's one-time cost (a new process each; the second reads Numba's disk cache; "
            "the first row also compiles the loops every kernel shares)\n",
            table(["kernel", "compile", "load"], compile_times(smoke)),
            "\n### Cases float64 does not hold (target: ≤ 5× the float64 pass of the same case; each repeat pays "
            "for its own exponentials: the ones mpmath kept from the run before are forgotten)\n",
            table(["case", "path", "time", "ratio", "status"], fallback_rows := fallback(smoke)),
            "\n" + fallback_note(fallback_rows, coefficients_underflow(7, 100.0, smoke)),
            "\n### The `grad` report against the gradients alone (`symbptt.gradients` on the same parameters, compiled "
            "where it runs; wall-clock medians; target ≤ 2×)\n",
            table(REPORT_HEADER, reported := report(smoke)),
            "\n" + report_note(reported),
            "\n### Measured digits: `symbptt.gradients(..., digits=12)` against the same call without them\n",
            table(["case", "measured", "/ plain call", "/ plain call on the NumPy kernel", "digits float64 kept",
                   "path", "reruns"], digit_rows := measured(smoke)),
            "\n" + measured_note(digit_rows),
            "\n### Short in a few units: `digits=12` computing those units exactly, against the whole model "
            "exactly as before (benchmarks/unit_fallback.py)\n",
            table(fallback_units.HEADER, unit_rows := fallback_units.rows(smoke)),
            "\n" + fallback_units.note(unit_rows),
            "\n### Saturated gates measured first: `digits=12` against the exact pass they took before\n",
            table(["case", "measured", "exact pass at the digits the differences need, and its check", "ratio",
                   "digits float64 kept", "path"], saturated(smoke)),
            "\nA saturated gate's differences used to send `digits=` and the `grad` report to that exact pass before "
            "anything was measured; the nudged reruns now measure such a pass first, as any float64 pass (each "
            "coefficient that reads a difference moved by its rounding size), and the exact pass runs where they "
            "find float64 short.\n",
            "\n### A training iteration against torch float64 (target ≤ 1×)\n",
            table(["case", "time", "ratio", "status"], training(smoke))]


def splice(path: str, smoke: bool) -> None:
    """Replace section 12 of the performance page with a fresh run of it (the rest stays as it was)."""
    page = Path(path).read_text()
    start, end = page.index("\n## 12. "), page.index("\n## Memory")
    page = page[:start] + "\n".join(section(smoke)) + page[end:]
    Path(path).write_text(page)


if __name__ == "__main__":
    import sys

    if "--splice" in sys.argv:
        splice(sys.argv[sys.argv.index("--splice") + 1], "--smoke" in sys.argv)
    else:
        print("\n".join(section("--smoke" in sys.argv)))
