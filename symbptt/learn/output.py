"""A training run as CSV (one row per iteration, the summary as # lines) or JSON, and in one line."""

from __future__ import annotations

from .train import TrainResult

COLUMNS = ("iteration", "loss", "grad_norm", "far_share", "clipped", "eval_loss", "gamma_sigma_max", "bound")


def run_json(result: TrainResult) -> dict:
    return {"settings": result.settings, "rows": result.rows, "summary": result.summary}


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _as_text(value: object) -> str:
    """A summary value in words: yes/no, none, or the number."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else _cell(value)


def run_csv(result: TrainResult) -> str:
    columns = [c for c in COLUMNS if any(c in row for row in result.rows)] or list(COLUMNS[:6])
    lines = [",".join(columns)]
    lines += [",".join(_cell(row.get(c)) for c in columns) for row in result.rows]
    lines += [f"# {key}: {_as_text(value)}" for key, value in result.summary.items()]
    return "\n".join(lines) + "\n"


def summary_line(result: TrainResult) -> str:
    s = result.summary
    head = f"{s['task']}, T = {s['T']}, {s['cell']}: "
    ratio = s["final_over_baseline"]
    tail = "" if ratio is None else f" (held-out loss {ratio:.3g} of the mean predictor's)"
    first = s["first_below_at_iteration"]
    if s["solved"]:
        return head + f"solved (first below the threshold at iteration {first}){tail}"
    if first is not None:
        return head + f"not solved: below the threshold at iteration {first}, above it at the end{tail}"
    return head + f"not solved in {s['iterations']} iterations{tail}"
