"""The network unrolled in time, for any cell: inputs x_t, one row of nodes per state and layer, the
forward arrows of one step, and with ``backward`` the BPTT pass: from L back through every state,
each arrow labelled with the factor it multiplies by (J_t, F^{cc}_t = diag(f_t), V_t down a layer)."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from ..activations import get_activation
from ..cells import get_cell
from ..escape import plot_text
from ..step import StepGraph, state_edges
from .common import Drawn, Plotted, check_steps, new_figure

RADIUS = 0.27  # every node the same size, at any T
BACK = "#c0392b"
MAX_DRAWN = 8


def drawn_steps(T: int) -> list[int | None]:
    """0..T, or the first and last few with an ellipsis (None) in between beyond 8 steps."""
    return list(range(T + 1)) if T <= MAX_DRAWN else [0, 1, 2, 3, None, T - 1, T]


def step_edges(cell_name: str) -> list[tuple[str, str, str]]:
    return state_edges(StepGraph(get_cell(cell_name, get_activation("tanh"))))


def _factor_tex(cell_states: tuple[str, ...], target: str, source: str, kinds: str, t: str, layer: str = "") -> str:
    tag = f"{target}{source}" if len(cell_states) > 1 else ""
    tag = f"^{{{tag}{layer}}}" if tag or layer else ""
    return "$" + " + ".join(f"{k}{tag}_{{{t}}}" for k in kinds.split("+")) + "$"


def unrolled(T: int = 3, layers: int = 1, cell: str = "rnn", backward: bool = False) -> Drawn:
    from ..validate import flag, integer

    check_steps(integer("T (-T)", T))
    backward = bool(flag("backward (--backward)", backward))
    layers = integer("layers (--layers)", layers, 1, 3)
    spec = get_cell(cell, get_activation("tanh"))
    states, edges = spec.states, step_edges(cell)
    steps = drawn_steps(T)
    rows = {(ell, s): 1.0 + (ell - 1) * (len(states) + 0.35) * 1.2 + i * 1.2
            for ell in range(1, layers + 1) for i, s in enumerate(states)}
    top = max(rows.values())
    width, height = len(steps) + 1.6, top + 1.1
    fig, ax = new_figure(figsize=(1.25 * width + 0.4, 1.25 * height + 0.5))
    ax.set_aspect("equal")
    counts = {"nodes": 0, "forward": 0, "backward": 0, "J": 0, "V": 0}
    sup = (lambda ell: f"^{{({ell})}}") if layers > 1 else (lambda ell: "")
    for col, t in enumerate(steps):
        if t is None:
            for y in rows.values():
                ax.text(col, y, r"$\cdots$", ha="center", va="center", fontsize=14)
            continue
        if t > 0:
            _node(ax, col, 0.0, f"$x_{{{t}}}$", square=True)
            counts["nodes"] += 1
        for (ell, s), y in rows.items():
            _node(ax, col, y, f"${s}{sup(ell)}_{{{t}}}$")
            counts["nodes"] += 1
            if t == 0:
                continue
            below = 0.0 if ell == 1 else rows[(ell - 1, "h")]
            bend = 0.0 if s == states[0] else 0.35  # around the state drawn below it
            name = "U, b" if spec.elman else ""
            _arrow(ax, (col, below), (col, y), label=f"${name}{sup(ell)}$" if name and bend == 0 else "", bend=bend)
            counts["forward"] += 1
            if backward and ell > 1 and s == "h":
                _arrow(ax, (col, y), (col, below), color=BACK, bend=-0.5, label=f"$V{sup(ell)}_{{{t}}}$")
                counts["backward"] += 1
                counts["V"] += 1
            if steps[col - 1] is None:
                continue
            for target, source, kinds in edges:
                if target != s:
                    continue
                y0 = rows[(ell, source)]
                label = ""
                if source == target:
                    arrow = f"W{sup(ell)}" if spec.elman else dict(spec.arrow_labels).get(s, "")
                    label = f"${arrow}$" if arrow else ""
                _arrow(ax, (col - 1, y0), (col, y), label=label, bend=0.0)
                counts["forward"] += 1
                if backward:
                    factor = _factor_tex(states, target, source, kinds, str(t), f"({ell})" if layers > 1 else "")
                    above = s == states[-1] and len(states) > 1  # the top row of a layer bends up, others down
                    _arrow(ax, (col, y), (col - 1, y0), color=BACK, label=factor if source == target else "",
                           bend=(0.6 if above else -0.45) if source == target else 0.2)
                    counts["backward"] += 1
                    counts["J"] += 1
    last = len(steps) - 1
    h_top = rows[(layers, "h")]
    _node(ax, last + 1.2, h_top, "$L$", fill="#fde9d9")
    _node(ax, last + 1.2, h_top - 1.2, "$y$", square=True)
    _arrow(ax, (last, h_top), (last + 1.2, h_top))
    _arrow(ax, (last + 1.2, h_top - 1.2), (last + 1.2, h_top))
    counts["nodes"] += 2
    if backward:
        _arrow(ax, (last + 1.2, h_top), (last, h_top), color=BACK, bend=-0.45,
               label=rf"$\partial L/\partial h_{{{T}}}$")
        counts["backward"] += 1
    ax.set_xlim(-0.7, last + 1.8)
    ax.set_ylim(-0.7, top + 0.8)
    ax.axis("off")
    what = (f"{plot_text(spec.title)} unrolled for T = {T}, {layers} layer{'s' if layers > 1 else ''}, "
            f"loss on $h_{{{T}}}$")
    if backward:
        what += "\nred: the backward pass; each arrow multiplies δ by the transpose of its factor"
    ax.set_title(what, fontsize=9)
    return Drawn(fig, Plotted({**counts, "columns": len(steps), "radius": RADIUS, "rows": len(rows)}))


def _node(ax: Axes, x: float, y: float, text: str, square: bool = False, fill: str = "#e8f0ff") -> None:
    if square:
        ax.add_patch(Rectangle((x - RADIUS, y - RADIUS), 2 * RADIUS, 2 * RADIUS, facecolor="white",
                               edgecolor="black", linewidth=0.9, zorder=3))
    else:
        ax.add_patch(Circle((x, y), RADIUS, facecolor=fill, edgecolor="black", linewidth=0.9, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=4)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], label: str = "", color: str = "black",
           bend: float = 0.0) -> None:
    """An arrow between node rims; a bent one follows matplotlib's arc3 (control point at the midpoint
    plus bend·(dy, −dx)), and its label sits just outside the arc's middle; a straight one's label sits
    on its left (above a left-to-right arrow)."""
    patch = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, color=color, linewidth=0.9,
                            connectionstyle=f"arc3,rad={bend}", shrinkA=RADIUS * 72, shrinkB=RADIUS * 72, zorder=2)
    ax.add_patch(patch)
    if not label:
        return
    (x1, y1), (x2, y2) = start, end
    dx, dy = x2 - x1, y2 - y1
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    if bend:
        sign = 1.0 if bend > 0 else -1.0
        ox, oy = 0.5 * bend * dy + sign * 0.17 * dy / length, -0.5 * bend * dx - sign * 0.17 * dx / length
    else:
        ox, oy = -0.17 * dy / length, 0.17 * dx / length
    ax.text((x1 + x2) / 2 + ox, (y1 + y2) / 2 + oy, label, ha="center", va="center", fontsize=7.5, color=color,
            zorder=5, bbox={"facecolor": "white", "alpha": 0.75, "linewidth": 0, "pad": 0.5})
