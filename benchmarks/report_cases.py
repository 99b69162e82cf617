"""The `grad` report against the gradients alone, for benchmarks/gradients.py's section 12: what the report
costs beside the plain gradients and beside the gradients with their digits measured, which of its norms
power iterations prove and which an eigensolve takes, and the sentences under its table, computed from
its rows."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the helpers beside it, however it is loaded
    sys.path.insert(0, str(HERE))

from timing import median  # noqa: E402  (benchmarks/timing.py)


def unproven(values: Any, T: int, repeats: int) -> tuple[int, int, float] | None:
    """None where every block of the step is diagonal (the report multiplies unit by unit and solves
    nothing: logspace._unit_norms).  Else, of the listed products ∂s_T/∂s_k (and each state's own block)
    whose 2-norms the report takes: how
    many power iterations do not prove (spectral.certified_norms: a short product, whose σ₁² is not the
    larger half of ‖P‖_F², or one whose residual shrinks too slowly; every one up to SMALL_SVD rows, which
    LAPACK's SVD takes), how many there are in all, and the wall-clock median of the solves those take
    (symmetric eigensolves of their Gram matrices, the Gram products included; SVDs up to SMALL_SVD rows)."""
    from symbptt.numeric.logspace import SMALL_SVD, StepMatrices, listed_steps, log_coefficients
    from symbptt.numeric.spectral import certified_norms

    logs = log_coefficients(values, 1)
    if StepMatrices(values, 1, logs, units=True).units:
        return None
    steps, states = StepMatrices(values, 1, logs), values.model.cell.states
    wanted, n = set(listed_steps(T)), values.n
    product, kept = np.eye(len(states) * n), []
    for k in range(T, -1, -1):  # as log10_jacobian_norms walks them: renormalised, from k = T down
        if k < T:
            product = product @ steps(k + 1)[0]
            product = product / np.max(np.abs(product))
        if k in wanted:
            kept.append(product)
    stack = np.stack(kept)
    blocks = [stack] + ([stack[:, i * n:(i + 1) * n, i * n:(i + 1) * n] for i in range(len(states))]
                        if len(states) > 1 else [])
    # up to SMALL_SVD rows every norm is LAPACK's SVD (no power iterations are tried)
    left = [mats if mats.shape[1] <= SMALL_SVD else mats[np.isnan(certified_norms(mats))] for mats in blocks]

    def solve() -> None:
        for mats in left:
            if mats.shape[1] <= SMALL_SVD:
                [np.linalg.norm(m, 2) for m in mats]
            else:
                np.linalg.eigvalsh(np.matmul(np.swapaxes(mats, 1, 2), mats))

    return sum(len(m) for m in left), sum(len(m) for m in blocks), median(solve, repeats, time.perf_counter)


UNIT_BY_UNIT = "none (diagonal steps: unit by unit)"  # the report table's cell for logspace._unit_norms


def report(smoke: bool) -> list[list[str]]:
    """The whole `grad` report against the gradients alone — symbptt.gradients on the same parameters, the
    public call users time (compiled where Numba runs it), its loss and gradients checked against the
    report's — n = 64, T = 100, with three of the report's parts timed alone: the Jacobian norms at every k,
    within them the eigensolves of the products power iterations do not prove (unproven), and the
    nudged reruns that measure the digits float64 kept; and beside it the gradients as `grad` prints them,
    their digits measured (``digits=12``).  Wall-clock medians: LAPACK's eigensolver runs on every core,
    which CPU time would count twice."""
    import math

    import symbptt
    from symbptt.numeric.exact import exact_gradients
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.factors import ArrayFactors, FloatWatch, NumericModel
    from symbptt.numeric.grad_report import grad_report
    from symbptt.numeric.logspace import listed_steps, log10_jacobian_norms
    from symbptt.numeric.reruns import kept_digits

    n, T = (8, 10) if smoke else (64, 100)
    rows = []
    for cell in ("rnn", "lstm", "gru", "mingru", "lru"):  # the last two: every block of their step diagonal
        cfg = example_config(cell, T, n, seed=0, **({"forget_bias": 1.0} if cell == "lstm" else {}))
        model = NumericModel.of(cfg)
        values = ArrayFactors(model, watch=FloatWatch())
        loss, grads, _ = exact_gradients(model)
        repeats = 1 if smoke else 5
        whole = median(lambda: grad_report(cfg), repeats, time.perf_counter)  # noqa: B023
        p = {k: np.asarray(v, dtype=float) for k, v in cfg.layers[0].items()}
        public = symbptt.gradients(p, cfg.x, cfg.y, cell=cell)
        assert math.isclose(public.loss, float(loss), rel_tol=1e-12)
        for k, v in public.grads.items():  # the same numbers the report computes (to float64 rounding)
            theirs = np.asarray(grads[0][k], dtype=float).reshape(v.shape)
            assert np.max(np.abs(v - theirs)) <= 1e-10 * max(1e-300, float(np.max(np.abs(theirs)))), (cell, k)
        alone = median(lambda: symbptt.gradients(p, cfg.x, cfg.y, cell=cell), repeats, time.perf_counter)  # noqa: B023
        # the gradients as `grad` prints them: their digits measured by the same reruns (its --digits default)
        digits = median(lambda: symbptt.gradients(p, cfg.x, cfg.y, cell=cell, digits=12), repeats,  # noqa: B023
                        time.perf_counter)
        norms = median(lambda: log10_jacobian_norms(values, 1, listed_steps(T)), repeats, time.perf_counter)  # noqa: B023
        solved = unproven(values, T, repeats)
        kept = median(lambda: kept_digits(model, loss, grads), repeats, time.perf_counter)  # noqa: B023
        rows.append([f"{cell} n = {n}, T = {T}", f"{whole * 1e3:.0f} ms", f"{alone * 1e3:.1f} ms",
                     f"{whole / alone:.1f}×", f"{norms * 1e3:.0f} ms ({norms / alone:.1f}×)",
                     UNIT_BY_UNIT if solved is None else
                     f"{solved[0]} of {solved[1]}: {solved[2] * 1e3:.1f} ms ({solved[2] / alone:.1f}×)",
                     f"{kept * 1e3:.0f} ms ({kept / alone:.1f}×)",
                     f"{digits * 1e3:.1f} ms (report {whole / digits:.1f}×)",
                     "met" if whole <= 2 * alone else "NOT met"])
    return rows


REPORT_HEADER = ["case", "report", "gradients (`symbptt.gradients`)", "ratio", "Jacobian norms (every k)",
                 "of them: eigensolved (not proven by power iterations)", "kept-digit reruns",
                 "gradients with their digits measured (`digits=12`)", "status"]


def report_note(rows: list[list[str]]) -> str:
    """The sentences under the report table, from its rows: whether the Jacobian norms alone — exact 2-norms
    at every k, the product multiplied out step by step and its norm proven by power iterations or taken
    from a symmetric eigensolve — already cost more than the 2× target, and whether the eigensolves of the
    products power iterations do not prove do so by themselves."""
    from symbptt.symbolic.shown import in_series

    alone = {row[0].split()[0]: _ratio(row[4]) for row in rows}
    units = [row[0].split()[0] for row in rows if row[5] == UNIT_BY_UNIT]
    solved = {row[0].split()[0]: (row[5].split(":")[0], _ratio(row[5]))
              for row in rows if row[5] != UNIT_BY_UNIT}
    over = [cell for cell, ratio in alone.items() if ratio > 2]  # in the table's order
    each = ", ".join(f"{cell} {ratio:.1f}×" for cell, ratio in alone.items())
    one = len(units) == 1
    diagonal = (f" ({in_series(units)}, whose steps are diagonal in every block, {'multiplies' if one else 'multiply'} "
                f"unit by unit, n·S³ a step, and {'solves' if one else 'solve'} nothing)") if units else ""
    if not over:
        return (f"The Jacobian norms alone cost {each} the gradients{diagonal}: within the 2× target by "
                "themselves. " + _rest_note(rows) + " " + _measured_note(rows) + "\n")
    which = "every cell" if len(over) == len(alone) else in_series(over)
    note = (f"The Jacobian norms alone (exact 2-norms at every k: the product multiplied out step by step, n³ "
            f"work per step, and its norm proven by power iterations or from a symmetric eigensolve) cost {each} "
            f"the gradients{diagonal}, over the 2× target by themselves for {which}: with norms computed "
            "this way the report cannot meet it there.")
    heavy = [cell for cell in alone if cell in over and cell in solved and solved[cell][1] > 2]
    if heavy:
        parts = ", ".join(f"{cell} {solved[cell][0]} ({solved[cell][1]:.1f}×)" for cell in heavy)
        note += (f" Power iterations prove the norm of a long product only (its σ₁² the larger half of ‖P‖_F²); "
                 f"the eigensolves of the products they leave — {parts} the gradients — cost more by themselves "
                 "than the target allows the whole report.")
    return note + " " + _rest_note(rows) + " " + _measured_note(rows) + "\n"


def _ratio(text: str) -> float:
    """The last parenthesised ratio of a table cell: "16 ms (13.1×)" → 13.1."""
    return float(text.split("(")[-1].split()[-1].rstrip("×)"))


def _reruns(cells: list[str]) -> str:
    """How many nudged reruns measure each cell's digits (reruns.nudged_runs: a fourth, outward, for a cell
    whose step coefficient reads its parameters alone), in words: "three", or "three (four for lru)"."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.reruns import nudged_runs
    from symbptt.symbolic.shown import in_series

    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    counts = {cell: len(nudged_runs(get_cell(cell, get_activation("tanh")))) for cell in cells}
    usual = max(set(counts.values()), key=list(counts.values()).count)
    other = {c: k for c, k in counts.items() if k != usual}
    by = {k: [c for c in other if other[c] == k] for k in sorted(set(other.values()))}
    aside = "; ".join(f"{words.get(k, str(k))} for {in_series(names)}" for k, names in by.items())
    return words.get(usual, str(usual)) + (f" ({aside})" if aside else "")


def _rest_note(rows: list[list[str]]) -> str:
    """What the report costs besides the norms (its ratio less theirs), and within it the reruns that
    measure the digits float64 kept: whether that rest alone is over the 2× target."""
    from symbptt.symbolic.shown import in_series

    rest = {row[0].split()[0]: _ratio(row[3]) - _ratio(row[4]) for row in rows}
    count = _reruns(list(rest))
    reruns = ", ".join(f"{row[0].split()[0]} {_ratio(row[6]):.1f}×" for row in rows)
    each = ", ".join(f"{cell} {value:.1f}×" for cell, value in rest.items())
    over = [cell for cell, value in rest.items() if value > 2]
    if not over:
        return (f"Without the norms the rest of the report costs {each} the gradients (the {count} reruns that "
                f"measure the digits float64 kept among it: {reruns}): within the target.")
    which = "every cell" if len(over) == len(rest) else in_series(over)
    return (f"Without the norms the rest of the report costs {each} the gradients (the gradients themselves, the "
            f"{count} reruns that measure the digits float64 kept — {reruns} — and the forward pass the norms read), "
            f"over the 2× target by itself for {which}: norms at no cost would still leave the report over it "
            "there.")


def _measured_note(rows: list[list[str]]) -> str:
    """The report against the gradients as `grad` prints them (`digits=12`: the same reruns measure their
    digits), from the table's column of that ratio: which cells it leaves within 2× of them."""
    from symbptt.symbolic.shown import in_series

    against = {row[0].split()[0]: _ratio(row[7]) for row in rows}
    each = ", ".join(f"{cell} {value:.1f}×" for cell, value in against.items())
    within = [cell for cell, value in against.items() if value <= 2]
    verdict = ("within 2× of them for every cell" if len(within) == len(against) else
               "over 2× of them for every cell" if not within else f"within 2× of them for {in_series(within)} only")
    return (f"Against the gradients as `grad` prints them, their digits measured by the same reruns "
            f"(`symbptt.gradients(..., digits=12)`), the report costs {each}: {verdict}.")
