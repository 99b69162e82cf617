"""What vanishing and exploding gradients do to learning, from `symbptt train` runs: loss and gradient
norm against iteration for a few runs that differ in one setting, and the learnable horizon (how often
a task is solved against T, for each cell, over several seeds)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..budget import estimate
from ..errors import RunFailed, SymbpttError
from ..escape import plot_text
from ..learn import TrainSettings, train
from ..learn.tasks import SOLVED
from ..learn.train import EVAL_SIZE
from ..progress import Progress
from ..validate import integer
from .common import Drawn, Plotted, caption, drawn_weights, new_figure

MAX_RUNS = 60


VARIED = ("T", "clip", "forget_bias", "cell")  # what a training figure's runs differ in: its legend's words


def _label(settings: TrainSettings, varied: str) -> str:
    if varied == "T":
        return f"T = {settings.T}"
    if varied == "clip":
        return "no clipping" if settings.clip is None else f"clip at {settings.clip:g}"
    if varied == "forget_bias":
        return f"b_f = {settings.forget_bias:g}"
    return _cell_label(settings.cell, settings.forget_bias)


def _cell_label(cell: str, forget_bias: float | None) -> str:
    """The cell's own name (a cell file's `name`, not its path), and the forget bias it was trained with
    when it has one (the LSTM's b_f) and ``forget_bias`` is given."""
    from ..activations import get_activation
    from ..cells import get_cell

    spec = get_cell(cell, get_activation("tanh"))
    name = plot_text(spec.name)
    return name if spec.forget_bias is None or forget_bias is None else f"{name} ({spec.forget_bias} = {forget_bias:g})"


def _common_settings(runs: list[TrainSettings], varied: str) -> str:
    """What every run shares, in a title's words: the cell (unless it is what varies), the sizes, the
    optimiser and how each drawn cell's weights start (only the parameters it has)."""
    from ..activations import get_activation
    from ..cells import get_cell

    s = runs[0]
    specs = list({r.cell: get_cell(r.cell, get_activation("tanh")) for r in runs}.values())
    matrices, units = drawn_weights(specs, s.scale, s.init)
    cell = [] if varied == "cell" else [_cell_label(s.cell, None if varied == "forget_bias" else s.forget_bias)]
    return ", ".join([*cell, f"n = {s.n}", f"batch {s.batch}", f"{s.optimizer} lr {s.lr:g}",
                      *filter(None, [matrices]), *units, f"seed {s.seed}"])


def applied_norms(norms: np.ndarray, clip: float | None) -> np.ndarray:
    """The norm of the step each update applied: ‖g‖ clipped to at most ``clip`` (clip_by_norm rescales
    g to norm ``clip`` when it is longer)."""
    return norms.copy() if clip is None else np.minimum(norms, clip)


WINDOW = 15  # iterations in the running median of far_share


def running_median(values: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """The median of the last ``window`` values at each point (fewer at the start)."""
    return np.array([float(np.median(values[max(0, i + 1 - window):i + 1])) for i in range(len(values))])


def far_sentence(kept: list[dict], last: int = 100) -> str:
    """The median far_share of each run over its last ``last`` iterations (all of them in a shorter run), from
    the rows drawn, and over how many: each run's count beside it where the runs' counts differ."""
    runs = [r for r in kept if len(r["far_share"])]
    if not runs:
        return ""
    counts = [min(last, len(r["far_share"])) for r in runs]
    medians = [f"{float(np.median(r['far_share'][-last:])):.2g}" for r in runs]
    if len(set(counts)) > 1:
        parts = [f"{r['label']}: {m} (last {c})" for r, m, c in zip(runs, medians, counts, strict=True)]
        return " Median far_share over each run's last iterations: " + ", ".join(parts) + "."
    span = f"the last {last} iterations" if counts[0] == last else (
        f"all {counts[0]} iterations" if counts[0] > 1 else "its one iteration")
    return (f" Median far_share over {span}: "
            + ", ".join(f"{r['label']}: {m}" for r, m in zip(runs, medians, strict=True)) + ".")


def training(runs: list[TrainSettings], varied: str) -> Drawn:
    """Held-out loss over the mean predictor's (left) against iteration, one line per run; right, the
    share of each gradient from far back (far_share) — or, when a run clips, the norm of the step each
    update applied beside the gradient before clipping."""
    if not isinstance(runs, (list, tuple)) or not all(isinstance(r, TrainSettings) for r in runs):
        raise SymbpttError("training takes a list of TrainSettings, e.g. training([TrainSettings(T=10)], 'T')")
    if not runs or len(runs) > 8:
        raise SymbpttError("plot training compares 1 to 8 runs")
    if not isinstance(varied, str) or varied not in VARIED:
        raise SymbpttError(f"varied must be one of {', '.join(VARIED)} (what the legend names), "
                           f"got {str(varied)[:30]!r}")
    _check_total(runs, "plot training")
    fig, (left, right) = new_figure(1, 2, figsize=(12, 5.0))
    fig.subplots_adjust(bottom=0.25, top=0.86, wspace=0.25)
    left.sharex(right)  # both panels span the run's iterations (the loss is evaluated at only some of them)
    shows_norms = any(r.clip is not None for r in runs)  # clipping is about the step; else what it carries
    kept: list[dict[str, Any]] = []
    progress = Progress(len(runs), "plot training")
    for done, settings in enumerate(runs, 1):
        result = train(settings, stop=_no_stop)
        progress.update(done)
        if done == len(runs):
            progress.clear()
        _finished(result, settings)
        rows = result.rows
        it = np.array([r["iteration"] for r in rows])
        norms = np.array([r["grad_norm"] for r in rows])
        evals = [(r["iteration"], r["eval_loss"]) for r in rows if r.get("eval_loss") is not None]
        base = result.summary["baseline_loss"]
        label = _label(settings, varied)
        first, solved = result.summary["first_below_at_iteration"], result.summary["solved"]
        said = f"solved (first at {first})" if solved else "not solved" + (
            f" (below at {first}, above at the end)" if first else "")
        line, = left.plot([e[0] for e in evals], [e[1] / base for e in evals], marker="o", markersize=2.5,
                          label=f"{label}: {said}")
        applied = applied_norms(norms, settings.clip)
        far = np.array([r["far_share"] for r in rows], dtype=float)
        if not shows_norms:  # every iteration faint, its running median solid
            right.plot(it, far, color=line.get_color(), linewidth=0.5, alpha=0.3)
            right.plot(it, running_median(far), color=line.get_color(), linewidth=1.2, label=label)
        elif settings.clip is None:
            right.plot(it, norms, color=line.get_color(), linewidth=0.8, label=label)
        else:  # what the update used (clipped) solid; the gradient before clipping faint beside it
            right.plot(it, norms, color=line.get_color(), linewidth=0.6, alpha=0.35, label=f"{label}: before clipping")
            right.plot(it, applied, color=line.get_color(), linewidth=1.0, label=f"{label}: applied")
        kept.append({"label": label, "iteration": it, "updates": len(it), "grad_norm": norms, "applied_norm": applied,
                     "far_share": far, "far": settings.horizon,
                     "eval": evals,
                     "summary": result.summary, "clipped": int(sum(r["clipped"] for r in rows))})
    left.axhline(SOLVED, color="grey", linestyle=":", linewidth=1.0)
    left.text(0.99, SOLVED, "solved below", transform=left.get_yaxis_transform(), ha="right", va="bottom",
              fontsize=7.5, color="grey")
    right_label = "gradient norm ‖∂L/∂θ‖" if shows_norms else "far_share: share of ‖g‖ from far back"
    for ax, ylabel in ((left, "held-out loss / mean predictor's loss"), (right, right_label)):
        ax.set_yscale("log" if ax is left or shows_norms else "linear")
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # whole iterations, however short
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7.5)
    if not shows_norms:
        right.set_ylim(0, 1)
    s = runs[0]
    fig.suptitle(f"symbptt train --task {s.task}: " + _common_settings(runs, varied), fontsize=10)
    clipping = [r for r in kept if r["clipped"]]
    farthest = sorted({r.horizon for r in runs})
    halves = "half of T" if all(r.far is None for r in runs) else "--far"
    # a run shorter than the window has medians of fewer iterations (running_median: fewer at the start)
    window = WINDOW if min(r["updates"] for r in kept) >= WINDOW else f"up to {WINDOW}"
    right_words = ("the norm of the step each update applied (solid: ‖g‖·min(1, c/‖g‖) for a run that clips at c; "
                   "faint: ‖g‖ before clipping)" if shows_norms
                   else "far_share, the share of each update's gradient that comes from more than K steps back "
                        f"(K = {', '.join(map(str, farthest))}: {halves}; faint: every iteration, solid: the "
                        f"running median of {window})." + far_sentence(kept).rstrip("."))
    clipped = "".join(f" The run “{r['label']}” clipped {r['clipped']} of {r['updates']} updates."
                      for r in clipping)
    cut = [f"“{r['label']}” through its last {s_.truncate} steps" for r, s_ in zip(kept, runs, strict=True)
           if s_.truncate is not None]
    others = "the others take" if len(cut) < len(runs) else "no run takes"
    gradients = (" Every gradient is the full BPTT gradient (every path back), in float64." if not cut else
                 f" Truncated BPTT: {'; '.join(cut)}; {others} the full gradient; all in float64.")
    caption(fig, f"Left: the loss on {EVAL_SIZE} held-out sequences, divided by the loss of always predicting the "
                 f"mean target; a run whose last point is below {SOLVED:g} solved the task. Right: {right_words}."
                 f"{clipped}{gradients}")
    return Drawn(fig, Plotted({"runs": kept, "varied": varied}))


DASHES = ("-", "--", "-.", ":")


def horizon(base: TrainSettings, cells: list[str], lengths: list[int], seeds: int,
            forget_bias: float | None = None) -> Drawn:
    """The share of seeds that solve the task against T, one line per cell (same budget for all)."""
    if not isinstance(base, TrainSettings):
        raise SymbpttError("horizon takes TrainSettings as its base, e.g. horizon(TrainSettings(), ['rnn'], [10], 2)")
    if isinstance(cells, str) or not isinstance(cells, (list, tuple)) or not cells:
        raise SymbpttError(f"cells must be a non-empty list of cell names, got {cells!r:.40}")
    if isinstance(lengths, str) or not isinstance(lengths, (list, tuple)) or not lengths:
        raise SymbpttError(f"lengths must be a non-empty list of sequence lengths T, got {lengths!r:.40}")
    lengths = [integer("a length T (--lengths)", T) for T in lengths]
    seeds = integer("seeds (--seeds)", seeds)
    if len(cells) * len(lengths) * seeds > MAX_RUNS:
        raise SymbpttError(f"plot horizon would train {len(cells) * len(lengths) * seeds} runs; keep cells × "
                           f"lengths × seeds at most {MAX_RUNS}")
    from dataclasses import replace

    runs = {(cell, T, seed): replace(base, cell=cell, T=T, seed=seed,
                                     forget_bias=base.forget_bias if forget_bias is None else forget_bias)
            for cell in cells for T in lengths for seed in range(base.seed, base.seed + seeds)}
    _check_total(list(runs.values()), "plot horizon")
    progress = Progress(len(runs), "plot horizon")
    fig, ax = new_figure(figsize=(7.4, 4.8))
    fig.subplots_adjust(bottom=0.26, top=0.88)
    table: dict[str, list[float]] = {}
    for cell in cells:
        shares = []
        for T in lengths:
            solved = 0
            for seed in range(base.seed, base.seed + seeds):
                settings = runs[(cell, T, seed)]
                result = train(settings, stop=_no_stop)
                progress.update(progress.done + 1)
                if progress.done == len(runs):
                    progress.clear()
                _finished(result, settings)
                solved += bool(result.summary["solved"])
            shares.append(solved / seeds)
        bias = base.forget_bias if forget_bias is None else forget_bias
        label = _cell_label(cell, bias)
        k = len(table)  # cells that solve alike draw on top of each other: each its own marker, size and dashes
        ax.plot(lengths, shares, marker="osD^v"[k % 5], markersize=9 - 1.5 * (k % 5), linestyle=DASHES[k % 4],
                label=label)
        table[_cell_label(cell, None)] = shares  # the cell's own name, escaped: a path is not a label
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(lengths, [str(T) for T in lengths])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("T: how many steps back the answer lies")
    ax.set_ylabel(f"share of {seeds} seeds solved" if seeds > 1 else "solved (one seed)")
    ax.legend(fontsize=8)
    ax.set_title(f"{base.task}: n = {base.n}, {base.steps} iterations of batch {base.batch}, {base.optimizer} "
                 f"lr {base.lr:g}", fontsize=9)
    caption(fig, "Each point trains the cell from a fresh random start for the same number of iterations and "
                 f"asks whether the final held-out loss is below {SOLVED:g} of the mean predictor's. "
                 + horizon_sentence(lengths, table))
    return Drawn(fig, Plotted({"lengths": lengths, "solved": table}))


def _no_stop() -> bool:
    return False


def _check_total(runs: list[TrainSettings], what: str) -> None:
    """Refuse, before the first run, a figure whose runs together would take too long or hold too much."""
    total = {"seconds": 0.0, "flops": 0.0, "floats": 0.0}
    for settings in runs:
        cost = settings.cost(settings.validate(check_cost=False))
        total = {"seconds": total["seconds"] + cost["seconds"], "flops": total["flops"] + cost["flops"],
                 "floats": max(total["floats"], cost["floats"])}
    longest = max(s.T for s in runs)
    plural = "s" if len(runs) > 1 else ""
    estimate(f"{what} ({len(runs)} training run{plural} of {runs[0].steps} iterations, T up to {longest})",
             "lower --iterations, --lengths, --batch, --seeds or -n", **total)


def _finished(result, settings: TrainSettings) -> None:
    """A run that stopped on non-finite numbers has no loss curve to draw: refuse the figure, naming it."""
    if result.stopped and result.stopped != "interrupted":
        raise RunFailed(f"the {settings.cell} run at T = {settings.T}, seed {settings.seed}: {result.stopped}; "
                        "no figure written")


def horizon_sentence(lengths: list[int], table: dict[str, list[float]]) -> str:
    """What the horizon figure shows, in words computed from its shares: for each cell, the lengths at
    which every seed, some seeds or no seed solved the task."""
    parts = []
    for cell, shares in table.items():
        every = [T for T, s in zip(lengths, shares, strict=True) if s == 1]
        none = [T for T, s in zip(lengths, shares, strict=True) if s == 0]
        some = [T for T, s in zip(lengths, shares, strict=True) if 0 < s < 1]
        said = [f"{what} at T = {', '.join(map(str, Ts))}" for what, Ts in
                (("every seed solved it", every), ("some seeds", some), ("no seed", none)) if Ts]
        parts.append(f"{cell}: {'; '.join(said)}")
    return ". ".join(parts) + "."
