"""What every figure shares: the data kept beside it, checks of its ranges, an honest diverging colour
scale, labels placed only where the data agree with them, and byte-identical files."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

from ..activations import get_activation
from ..errors import SymbpttError

SUFFIXES = (".png", ".svg", ".pdf")
METADATA = {".png": {"Software": None}, ".svg": {"Date": None, "Creator": None},
            ".pdf": {"Creator": None, "Producer": None, "CreationDate": None}}
FLOAT64_DECADES = 308.0  # log10 of the largest float64: colours stop there, and the figure says so
BOX = {"facecolor": "white", "alpha": 0.8, "linewidth": 0, "pad": 1.5}


def decimals(value: float, places: int = 3, sign: bool = False) -> str:
    """``value`` with ``places`` decimals while that stays short (|value| < 10^5), else in scientific
    notation with places + 1 significant digits: a slope of −8.5·10^299 decades per step (tanh at
    w = 10^300) was printed as a 300-digit number that ran off the figure."""
    plus = "+" if sign else ""
    short = not math.isfinite(value) or abs(value) < 1e5
    return f"{value:{plus}.{places}f}" if short else f"{value:{plus}.{places + 1}g}"


@dataclass
class Plotted:
    """The arrays a figure shows, kept for tests and for the API user."""

    values: dict


class Drawn(NamedTuple):
    """What a plot function returns: the figure and the arrays it draws.  It unpacks as before
    (``fig, data = plots.regimes()``), and as a notebook cell's value it shows the figure, not a tuple."""

    figure: Figure
    data: Plotted

    def _repr_png_(self) -> bytes:
        return self.figure._repr_png_()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"Drawn(figure, data with {', '.join(self.data.values)})"


class ShownFigure(Figure):
    """A matplotlib figure that shows itself inline in Jupyter without pyplot (a PNG at the files' dpi)."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", metadata=METADATA[".png"], dpi=110)
        return buffer.getvalue()


def new_figure(rows: int = 1, cols: int = 1, figsize: tuple[float, float] = (7.0, 5.0),
               squeeze: bool = True) -> tuple[Figure, Any]:
    """A figure outside pyplot (no global state, any backend: files here, inline in Jupyter).

    Returns:
        The figure and its axes: one ``Axes`` for a 1 × 1 grid (``squeeze``), else an array of them
        (typed Any, as matplotlib's own ``Figure.subplots`` is)."""
    fig = ShownFigure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=squeeze)


def colour_map(name: str) -> Colormap:
    """A named colour map with −∞ and NaN (masked) drawn grey."""
    return matplotlib.colormaps[name].with_extremes(bad="#b0b0b0")


AXIS_LIMIT = 1e300  # the largest |end| of a figure's range: matplotlib lays an axis out in float64, scaling its
# ends by small factors (ticks, margins, contour labels), and failed from about 5e307 (benchmarks/cli_fuzz.py)
AXIS_WIDTH = 1e-280  # the narrowest range: below about 1e-289 matplotlib drew its own axis (±0.055) instead
RELATIVE_WIDTH = 1e-12  # the narrowest range for the size of its ends: matplotlib's tick labels were rounded
# (0.1998 for 0.2) at 1e-13 and its axis its own at 1e-15


def check_range(name: str, low: float, high: float) -> None:
    """Refuse a figure's range that is empty, reversed or not finite, that has an end beyond ±AXIS_LIMIT, or
    too narrow for matplotlib to draw its axis faithfully (narrower than AXIS_WIDTH, or than RELATIVE_WIDTH
    of its largest end)."""
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise SymbpttError(f"{name} range is empty or reversed: {low} .. {high}")
    largest = max(abs(low), abs(high))
    if largest > AXIS_LIMIT:
        raise SymbpttError(f"{name} range {low} .. {high} reaches beyond ±{AXIS_LIMIT:g}, where a figure's axis "
                           "can no longer be laid out in float64; narrow it")
    if high - low < max(AXIS_WIDTH, RELATIVE_WIDTH * largest):
        raise SymbpttError(f"{name} range {low} .. {high} is too narrow to draw: its width must be at least "
                           f"{RELATIVE_WIDTH:g} of its largest end and at least {AXIS_WIDTH:g}; widen it")


def check_steps(T: int) -> None:
    if T < 1:
        raise SymbpttError(f"T (steps) must be at least 1, got {T}")


def gamma_of(activation: str) -> float:
    return float(get_activation(activation).gamma)


def diverging(values: np.ndarray) -> tuple[TwoSlopeNorm, str]:
    """A colour scale centred at 10^0 and symmetric, reaching the largest |log10| in the data, stopped
    at ±308 (float64's range) only if the data go beyond it; the second value says so for the label."""
    finite = values[np.isfinite(values)]
    limit = float(np.max(np.abs(finite))) if finite.size else 1.0
    note = ""
    if limit > FLOAT64_DECADES:
        limit, note = FLOAT64_DECADES, " (colour stops at ±308: beyond float64)"
    limit = max(limit, 1e-3)
    return TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit), note


def sequential(values: np.ndarray) -> Normalize:
    """The data's own range (a gradient's size has no natural centre)."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return Normalize(vmin=low, vmax=high if high > low else low + 1.0)


def masked(values: np.ndarray) -> np.ma.MaskedArray:
    """−∞ (an exact 0) and NaN (a state beyond float64) masked, drawn in the colour map's 'bad' grey."""
    return np.ma.masked_invalid(values)


def hatch_decided(ax: Axes, x: np.ndarray, y: np.ndarray, decided: np.ndarray) -> None:
    """Hatch the cells of a grid (``decided``: y by x) whose values rounding decides, not the model: the
    one mark regimes, surface and gates draw there (nothing where none is)."""
    if decided.any():
        ax.contourf(x, y, decided.astype(float), levels=[0.5, 1.5], colors="none", hatches=["////"])


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The [start, stop) index ranges where ``mask`` holds."""
    out, start = [], None
    for i, flag in enumerate(list(mask) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i))
            start = None
    return out


def label_region(ax: Axes, x: np.ndarray, where: np.ndarray, text: str, y: float, color: str = "black",
                 taken: list[tuple[float, float, float, float]] | None = None) -> bool:
    """Write ``text`` over every run of x where ``where`` holds that is at least an eighth of the axis
    wide (over the widest one if none is): nothing where the data never agree with it.  A label stays
    inside the axes; with ``taken`` (the boxes of the labels written before, which it extends) one that
    would overlap another moves down until it does not."""
    spans = runs(where)
    if not spans:
        return False
    wide = [s for s in spans if s[1] - s[0] >= len(x) / 8] or [max(spans, key=lambda s: s[1] - s[0])]
    (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
    figure = ax.figure
    inches = figure.get_size_inches() if isinstance(figure, Figure) else np.array([6.4, 4.8])
    size = np.asarray(ax.get_position().size) * inches * 72.0  # the axes in points
    lines = text.split("\n")
    half_w = (max(map(len, lines)) * 0.55 * 7.5 + 6) / 2 * (right - left) / size[0]  # ~0.55 em a character
    half_h = (len(lines) * 1.2 * 7.5 + 6) / 2 * (top - bottom) / size[1]
    for start, stop in wide:
        at = min(max(float(np.mean(x[start:stop])), left + half_w), right - half_w)
        level = y
        while taken is not None and any(abs(at - ox) < half_w + ow and abs(level - oy) < half_h + oh
                                        for ox, oy, ow, oh in taken) and level - 2 * half_h > bottom:
            level -= 2 * half_h
        if taken is not None:
            taken.append((at, level, half_w, half_h))
        ax.text(at, level, text, ha="center", va="center", fontsize=7.5, color=color, bbox=BOX)
    return True


def check_plot_path(path: str | Path) -> Path:
    from ..output import check_output_path

    if not isinstance(path, (str, Path)):
        raise SymbpttError(f"the figure's path must be a str or a Path, got {type(path).__name__}")
    path = check_output_path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise SymbpttError(f"unknown file suffix {path.suffix!r}; use one of {', '.join(SUFFIXES)}")
    return path


def save(fig: Figure, path: str | Path) -> None:
    """Write the figure atomically with dates and software names stripped (same input, same bytes)."""
    from ..output import atomic_write

    if not isinstance(fig, Figure):
        raise SymbpttError(f"save takes a matplotlib Figure (what a plot function drew), got {type(fig).__name__}")
    path = check_plot_path(path)
    suffix = path.suffix.lower()
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "symbptt", "pdf.compression": 6}):
        fig.savefig(buffer, format=suffix[1:], metadata=METADATA[suffix], dpi=110)
    atomic_write(path, buffer.getvalue())


def caption(fig: Figure, text: str) -> None:
    """A caption under the axes, wrapped to the figure's width."""
    from ..wrap import wrap

    width = int(fig.get_figwidth() * 15)
    fig.text(0.01, 0.01, "\n".join(wrap(text, width)), fontsize=7.5, va="bottom", ha="left",
             color="#333333")


def drawn_weights(specs: list, gain: float, init: str = "gaussian") -> tuple[str, list[str]]:
    """How the random weights of ``specs`` (cells) were drawn, in a figure's words: the recurrent matrices
    (only if some cell has one; the law as ``init`` says) and each cell's per-unit parameters on their
    interval (times the gain where the gain scales them).

    Args:
        specs: the cells drawn.
        gain: the scale of the recurrent weights (train's --scale, a plot's --gain).
        init: gaussian, orthogonal or identity (numeric.examples.INITS).

    Returns:
        The matrices' clause ("W ~ N(0, 1.5²/n)"; empty when no cell has a recurrent matrix) and one clause
        per per-unit parameter ("indrnn w ~ 1.5·U(0, 1)").
    """
    from ..escape import plot_text
    from ..notation import GREEK
    from ..numeric.examples import INITS

    matrices = ""
    if any(spec.kind(p) == "recurrent" for spec in specs for p in spec.params):
        matrices = f"W ~ N(0, {gain:g}²/n)" if init == "gaussian" else f"W = {gain:g}·W0, {INITS[init]}"
    units = [f"{plot_text(spec.name)} {GREEK.get(param, plot_text(param))} ~ "
             + (f"{gain:g}·" if param in spec.gain_scaled and gain != 1 else "") + f"U({low:g}, {high:g})"
             for spec in specs for param, low, high in spec.init]
    return matrices, units
