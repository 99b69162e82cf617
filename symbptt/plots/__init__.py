"""Figures of where gradients vanish or explode, one module per kind.  Every function returns
(figure, Plotted) so tests can check the numbers that were drawn; ``save`` writes byte-identical files
for identical input; ``draw`` is what `symbptt plot KIND` calls, with the command line's defaults."""

from __future__ import annotations

import math

from ..errors import SymbpttError
from ..validate import integer
from .common import Plotted, check_plot_path, save
from .contributions import contributions
from .curves import cell_curves, curves
from .gates import gates
from .gradmap import gradient_map
from .isometry import isometry
from .meanfield import meanfield_gap
from .regimes import regimes
from .spectrum import spectrum
from .surface import surface
from .training import horizon, training
from .units import units
from .unrolled import unrolled

KINDS = ("regimes", "curves", "contributions", "spectrum", "surface", "unrolled", "gates", "training", "horizon",
         "gradmap", "isometry", "meanfield", "units")
__all__ = ["KINDS", "Plotted", "cell_curves", "check_plot_path", "contributions", "curves", "draw", "gates",
           "gradient_map", "horizon", "isometry", "meanfield_gap", "regimes", "save", "spectrum", "surface", "units",
           "training", "unrolled"]


def numbers(text: str, option: str, most: int = 12) -> tuple[float, ...]:
    """Comma-separated finite numbers (at most ``most``)."""
    if any(not v.strip() for v in text.split(",")):
        raise SymbpttError(f"{option} has an empty item: {text[:40]!r}")
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise SymbpttError(f"{option} must be comma-separated numbers, got {text[:40]!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise SymbpttError(f"{option} must be finite numbers, got {text[:40]!r}")
    if len(values) > most:
        raise SymbpttError(f"{option} takes at most {most} values")
    return values


def names(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(","))
    if not all(values) or len(values) > 6:
        raise SymbpttError(f"--cell takes one to six comma-separated cells, got {text[:40]!r}")
    return values


def clips(text: str) -> tuple[float | None, ...]:
    """--clip for plot training: numbers or 'none', comma-separated."""
    out: list[float | None] = []
    for piece in (p.strip() for p in text.split(",") if p.strip()):
        if piece == "none":
            out.append(None)
            continue
        (value,) = numbers(piece, "--clip")
        if value <= 0:
            raise SymbpttError(f"--clip must be positive or 'none', got {piece!r}")
        out.append(value)
    if not out or len(out) > 8:
        raise SymbpttError("--clip takes 1 to 8 values (numbers or 'none')")
    return tuple(out)


def _training_figure(kind: str, cell: str | None, lengths: str, clip: str, task: str, n: int | None,
                     activation: str, iterations: int, batch: int, lr: float, optimizer: str, scale: float,
                     forget_bias: float, seed: int, seeds: int):
    from dataclasses import replace

    from ..learn import TrainSettings

    cells = names(cell or "rnn")
    given = numbers(lengths, "--lengths", most=8)
    if any(T < 1 or T != int(T) or T > 10_000 for T in given):
        raise SymbpttError(f"--lengths must be whole numbers of steps from 1 to 10000, got {lengths[:40]!r}")
    Ts = tuple(int(T) for T in given)
    base = TrainSettings(cell=cells[0], activation=activation, n=n or 8, task=task, T=Ts[0], batch=batch,
                         steps=iterations, lr=lr, optimizer=optimizer, scale=scale, forget_bias=forget_bias,
                         seed=seed)
    if kind == "horizon":
        for c in cells:
            for T in Ts:
                replace(base, cell=c, T=T).validate(check_cost=False)
        return horizon(base, list(cells), list(Ts), seeds)[0]
    cut = clips(clip)
    varied = [name for name, values in (("T", Ts), ("cell", cells), ("clip", cut)) if len(values) > 1]
    if len(varied) > 1:
        raise SymbpttError("plot training compares runs that differ in one of --lengths, --cell, --clip; "
                           f"{' and '.join(varied)} both vary")
    runs = [replace(base, T=T, cell=c, clip=k) for T in Ts for c in cells for k in cut]
    for settings in runs:
        settings.validate(check_cost=False)
    return training(runs, varied[0] if varied else "T")[0]


def draw(kind: str, activation: str = "tanh", T: int | None = None, low: float | None = None,
         high: float | None = None, points: int | None = None, u: float | None = None, b: float = 0.0,
         h0: float = 0.0,
         seed: int = 0, quantity: str = "jacobian", weights: str = "0.5,1,1.5", n: int | None = None,
         params_file: str | None = None, b_min: float = -3.0, b_max: float = 3.0, target: float = 0.5,
         layers: int = 1, beside: str = "linear", cell: str | None = None, gain: float | None = None,
         forget_bias: float = 1.0, backward: bool = False, wrt: str | None = None, a0: float = 0.5,
         task: str = "remember", lengths: str | None = None, clip: str = "none", iterations: int = 300,
         batch: int = 32, lr: float = 0.01, optimizer: str = "adam", scale: float = 1.0, seeds: int | None = None,
         theory: bool = False, sizes: str = "4,8,16,32,64,128", init: str = "gaussian"):
    """The figure of one kind with the command line's defaults (what `symbptt plot KIND` draws); an option
    left None takes the kind's own default (isometry: weak inputs u = 0.1, the gain at the edge of chaos)."""
    from ..activations import get_activation
    from ..budget import check_grid, check_sweep

    if not isinstance(kind, str) or kind not in KINDS:
        raise SymbpttError(f"unknown kind {str(kind)[:30]!r}; choose one of {', '.join(KINDS)}")
    get_activation(activation)
    T = None if T is None else integer("T (-T)", T)  # whole numbers before the budget reads them
    points = None if points is None else integer("points (--points)", points)
    if kind == "isometry":
        lengths = lengths or "1,10,50"
        given = numbers(lengths, "--lengths", most=6)
        if any(T < 1 or T != int(T) for T in given):
            raise SymbpttError(f"--lengths must be whole numbers of steps, got {lengths[:40]!r}")
        return isometry(activation, n or 64, gain, tuple(int(T) for T in given), seed, 0.1 if u is None else u)[0]
    u = 1.0 if u is None else u
    gain_given, gain = gain, 1.0 if gain is None else gain
    if kind in ("training", "horizon"):
        return _training_figure(kind, cell, lengths or "10,20,40", clip, task, n, activation, iterations, batch, lr,
                                optimizer, scale, forget_bias, seed, seeds or 2)
    if kind == "regimes":
        check_grid("plot regimes", points or 241, T or 100)
        return regimes(activation, -3.0 if low is None else low, 3.0 if high is None else high, points or 241,
                       T or 100, u, b, h0, seed, quantity, target, beside)[0]
    if kind == "curves":
        if cell:
            check_grid("plot curves", 1, T or 100)
            return cell_curves(names(cell), n or 8, T or 100, gain, forget_bias, u, seed)[0]
        return curves(activation, numbers(weights, "--weights"), T or 100, u, b, seed, beside)[0]
    if kind == "contributions":
        from ..config import load_config

        return contributions(load_config(params_file) if params_file else None, wrt)[0]
    if kind == "spectrum":
        check_sweep(T or 200, (points or 30) * (seeds or 1), 1)  # its running time: estimated by spectrum
        return spectrum(activation, n or 64, 0.1 if low is None else low, 3.0 if high is None else high,
                        points or 30, T or 200, seed, theory, seeds or 1, init)[0]
    if kind == "surface":
        check_grid("plot surface", (points or 161) ** 2, T or 30, arrays=2)
        return surface(activation, -3.0 if low is None else low, 3.0 if high is None else high, b_min, b_max,
                       points or 161, T or 30, target, a0)[0]
    if kind == "gates":
        check_grid("plot gates", points or 81, T or 100)
        if (points or 81) * (T or 100) > 100_000:
            raise SymbpttError(f"plot gates runs {points or 81} forward passes of T={T or 100}; keep --points × -T "
                               "at most 100,000")
        return gates(-2.0 if low is None else low, 6.0 if high is None else high, points or 81, T or 100,
                     n or 1, gain, u, seed)[0]
    if kind == "meanfield":
        widths = numbers(sizes, "--sizes", most=10)
        if any(v != int(v) for v in widths):
            raise SymbpttError(f"--sizes must be whole numbers, got {sizes[:40]!r}")
        return meanfield_gap(activation, tuple(int(v) for v in widths), T or 100, seeds or 4, seed)[0]
    if kind == "units":
        return units(activation, n or 8, T or 100, 1.2 if gain_given is None else gain_given, u, seed)[0]
    if kind == "gradmap":
        chosen = names(cell or "lru")
        if len(chosen) != 1:
            raise SymbpttError("plot gradmap draws one cell; give --cell once")
        return gradient_map(chosen[0], wrt, low, high, points or 60, T or 200, n or 1, u, seed)[0]
    return unrolled(T or 3, layers, cell or "rnn", backward)[0]
