"""log10|∂L/∂θ| over the value of one parameter θ and the sequence length T, for any cell: every value of
the grid is one network of a batch, and each T one exact backward pass (float64) through the engine.

For the LRU and θ = ν it shows the parameterisation's own vanishing: the factor back through time is
λ = exp(−exp(ν)), so the gradient reaches far only as λ → 1, while ∂λ/∂ν = λ ln λ → 0 there.
"""

from __future__ import annotations

import math

import numpy as np

from ..activations import get_activation
from ..budget import GRADMAP_POINT, GRADMAP_STEP, check_grid, estimate
from ..errors import SymbpttError
from ..escape import plot_text
from ..validate import integer, number
from ..validate import seed as checked_seed
from .common import Drawn, Plotted, caption, check_range, check_steps, new_figure

T_LINES = 40  # values of T drawn (log-spaced from 1 to T_max)


def gradient_map(cell: str = "lru", param: str | None = None, low: float | None = None, high: float | None = None,
                 points: int = 60, T_max: int = 200, n: int = 1, drive: float = 1.0, seed: int = 0) -> Drawn:
    """The figure and its arrays: ``log10_grad`` (T values × grid points) of ‖∂L/∂θ‖ for θ = ``param``
    set to each grid value (every entry), the other parameters as `plot curves --cell` draws them,
    inputs x_t ~ U(−1, 1) times ``drive``, y = 0, the loss at T."""
    from ..cells import get_cell
    from ..numeric.cost import held_per_step
    from ..numeric.examples import example_config
    from ..numeric.factors import ArrayFactors, NumericModel
    from ..paths import evaluate_recursive

    points, T_max = integer("points (--points)", points, 2, 2000), integer("T (-T)", T_max)
    n = integer("n (-n)", n, 1, 64)
    drive, seed = number("drive (-u)", drive), checked_seed(seed)
    if param is not None and not isinstance(param, str):
        raise SymbpttError(f"param must be a parameter's name, got {type(param).__name__}")
    check_steps(T_max)
    spec = get_cell(cell, get_activation("tanh"))
    choices = sorted((p for p in spec.params if spec.kind(p) in ("unit", "bias", "scalar")),
                     key=lambda p: spec.kind(p) != "unit")  # per-unit parameters first: the default
    param = (spec.param_named(param) or param) if param else (choices[0] if choices else "")
    if param not in choices:
        raise SymbpttError(f"plot gradmap draws a bias or a per-unit parameter of {spec.name}; choose one of "
                           f"{', '.join(choices) or '(none)'}, not {param!r}")
    lo_init, hi_init = spec.init_range(param) if spec.kind(param) == "unit" else (-3.0, 3.0)
    low = number("--min", low) if low is not None else lo_init - (5.0 if spec.kind(param) == "unit" else 0.0)
    high = number("--max", high) if high is not None else hi_init + (2.0 if spec.kind(param) == "unit" else 0.0)
    check_range(param, low, high)
    check_grid("plot gradmap", points, T_max)
    # the longest pass, every grid value a sequence of its batch: the walk back (paths.evaluate_recursive)
    # holds about 1.5 times what a pass and its δ recursion do (tracemalloc: lstm 36 and gru 25 floats a
    # step, unit and value against 25 and 17); an LSTM of 64 units at 2000 values and T = 2443 took 23 GiB
    estimate(f"plot gradmap of {points} values over T = 1..{T_max:,}", "lower -T, -n or --points",
             seconds=T_max * (GRADMAP_STEP + GRADMAP_POINT * points),
             floats=1.5 * held_per_step(spec) * T_max * points * n)
    cfg = example_config(spec, T_max, n, drive=drive, seed=seed)
    grid = np.linspace(low, high, points)
    base = {k: (v if v.ndim == 2 else v.reshape(-1, 1)) for k, v in cfg.layers[0].items()}
    rows = base[param].shape[0]
    params = [dict(base) | {param: np.ascontiguousarray(np.broadcast_to(grid, (rows, points)))}]
    Ts = sorted({int(round(v)) for v in np.geomspace(1, T_max, T_LINES)})
    out = np.empty((len(Ts), points))
    with np.errstate(all="ignore"):
        for i, T in enumerate(Ts):
            x = np.ascontiguousarray(np.broadcast_to(cfg.x[:T, :, None], (T, cfg.x.shape[1], points)))
            model = NumericModel(spec, params, x, np.zeros((n, points)), "last")
            values = ArrayFactors(model)
            g = np.asarray(evaluate_recursive(model.structure(), param, 1, values), dtype=float)
            out[i] = np.log10(np.linalg.norm(g.reshape(-1, points), axis=0))
    fig, ax = new_figure(figsize=(7.6, 5.6))
    fig.subplots_adjust(bottom=0.27, top=0.84)
    shown = np.ma.masked_invalid(np.where(np.isneginf(out), np.nan, out))
    mesh = ax.pcolormesh(grid, Ts, shown, cmap="viridis", shading="nearest", rasterized=True)
    fig.colorbar(mesh, ax=ax, label=rf"$\log_{{10}}\,\|\partial L/\partial {_tex(param)}\|$")
    ax.set_yscale("log")
    ax.set_xlabel(f"${_tex(param)}$ (every entry)")
    ax.set_ylabel("$T$ (the loss at step T)")
    factors = _factor_axis(ax, spec, base, param, grid)
    title = f"{plot_text(spec.title)}, n = {n}, inputs U(-1, 1) × {drive:g}, seed {seed}, y = 0, loss at T"
    ax.set_title(title, fontsize=9, pad=28 if factors else 6)
    caption(fig, _sentence(out, grid, Ts, param) + (" Top axis: the constant factor ∂h_t/∂h_(t-1) at each "
                                                    "value (largest over the units)." if factors else ""))
    return Drawn(fig, Plotted({"grid": grid, "T": np.array(Ts), "log10_grad": out}))


def _tex(param: str) -> str:
    from ..notation import GREEK

    base, _, tag = param.partition("_")
    base = f"\\{base}" if base in GREEK else base
    return f"{base}_{{{tag}}}" if tag else base


def _factor_axis(ax, spec, base: dict, param: str, grid: np.ndarray) -> bool:
    """Where the factor back through time depends on parameters only (the LRU's λ), its value at a few
    positions of the grid along the top; nothing for other cells."""
    from ..numeric.logspace import constant_factor
    from ..primitives import BeyondReach

    ticks = np.linspace(grid[0], grid[-1], 5)
    labels = []
    for v in ticks:
        try:
            values = constant_factor(spec, {k: (np.full(a.shape, v) if k == param else a) for k, a in base.items()})
        except BeyondReach:  # a value its exact evaluation cannot reach: no axis rather than a wrong one
            return False
        if values is None:
            return False
        largest = max(abs(f) for f in values)
        gap = 1 - float(largest)
        labels.append(f"1 − {gap:.1e}" if 0 < gap < 1e-3 else f"{float(largest):.4g}")
    top = ax.secondary_xaxis("top")
    top.set_xticks(ticks, labels, fontsize=7.5)
    return True


def _sentence(out: np.ndarray, grid: np.ndarray, Ts: list[int], param: str) -> str:
    """What the map shows, read off it: at the longest T, where the gradient is largest and how it falls
    towards the ends of the grid; how many cells float64 could not hold."""
    last = out[-1]
    finite = np.isfinite(last)
    from ..notation import GREEK

    base, _, tag = param.partition("_")
    name = GREEK.get(base, plot_text(base)) + (f"_{plot_text(tag)}" if tag else "")
    if not finite.any():
        return f"At T = {Ts[-1]} every ∂L/∂{name} is below float64's range."
    best = int(np.nanargmax(np.where(finite, last, -np.inf)))
    text = (f"At T = {Ts[-1]}, ‖∂L/∂{name}‖ is largest at {name} = {grid[best]:.3g} (10^{last[best]:.3g}); "
            f"at {name} = {grid[0]:.3g} it is {_power(last[0])}, and at {name} = {grid[-1]:.3g} it is "
            f"{_power(last[-1])}.")
    zeros, beyond = int(np.sum(np.isneginf(out))), int(np.sum(~np.isfinite(out) & ~np.isneginf(out)))
    if zeros:  # float64 made the norm 0 (σ' of a saturated unit underflows): the exact gradient need not be
        text += f" {zeros} of {out.size} cells {'holds' if zeros == 1 else 'hold'} a gradient that is 0 in float64"
        text += " (left blank)." if not beyond else ","
    if beyond:  # a norm that overflowed, or a NaN from inf·0 on the way
        text += (f"{' and' if zeros else ''} {beyond} of {out.size} cells {'holds' if beyond == 1 else 'hold'} "
                 f"one beyond float64's range{' (all left blank)' if zeros else ' (left blank)'}.")
    return text


def _power(value: float) -> str:
    return "0 in float64" if not math.isfinite(value) else f"10^{value:.3g}"
