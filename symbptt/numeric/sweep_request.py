"""What `symbptt sweep` computes, chosen from the request: the scalar weight sweep, the gain sweep of a
matrix rnn, the forward-mode gradient sweep, or any cell over a gain or one of its parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SymbpttError

if TYPE_CHECKING:
    from ..cells import Cell

SCALAR_STEP = 2e-5  # seconds per step of T of the scalar and gain sweeps (a Python loop over t)
MAX_CELL_STEPS = 400_000  # grid points × T of the per-cell sweep (a Python loop over steps, ~25 s)


@dataclass
class SweepRequest:
    cell: str = "rnn"
    activation: str = "tanh"
    param: str | None = None
    T: int = 100
    low: float = -3.0
    high: float = 3.0
    points: int = 61
    n: int = 1
    u: float = 1.0
    b: float = 0.0
    h0: float = 0.0
    gain: float = 1.0
    forget_bias: float = 1.0
    seed: int = 0
    quantity: str = "jacobian"
    wrt: str = "w"
    loss: str = "last"
    y: float = 0.0
    init: str = "gaussian"  # how the recurrent matrices are drawn (examples.INITS)

    @property
    def spec(self) -> Cell:
        """The swept cell, whose facts choose the sweep and how its rounding is judged."""
        from ..activations import get_activation
        from ..cells import get_cell

        return get_cell(self.cell, get_activation(self.activation))

    @property
    def elman(self) -> bool:
        """Whether the cell is the Elman recurrence (the vanilla rnn): the fast sweeps assume it."""
        return self.spec.elman

    @property
    def scalar_rnn(self) -> bool:
        return self.n == 1 and self.param in (None, "w", "W") and self.elman

    @property
    def gain_rnn(self) -> bool:
        return self.n > 1 and self.param in (None, "gain") and self.elman

    def validate(self) -> None:
        """Every combination that cannot mean anything, refused before any work, with the numbers."""
        from ..activations import get_activation
        from ..budget import check_sweep, estimate, norm_sweep_cost
        from ..cells import TAKES_ACTIVATION, get_cell
        from .sweeps import gain_sweep_floats

        if self.low >= self.high and self.points > 1:
            raise SymbpttError(f"grid range is empty or reversed: {self.low:g} .. {self.high:g}")
        if not np.isfinite(self.high - self.low):
            raise SymbpttError(f"grid range {self.low:g} .. {self.high:g} is wider than float64 can step "
                               "through (its width overflows); narrow it")
        spec = get_cell(self.cell, get_activation(self.activation))
        if not spec.uses_activation and self.activation != "tanh":
            raise SymbpttError(f"-a sets the activation of the {' and '.join(TAKES_ACTIVATION)} cells; "
                               f"{spec.name} has its own nonlinearities")
        if self.quantity == "grad" and not self.scalar_rnn:
            raise SymbpttError("--quantity grad sweeps the scalar rnn's weight w; leave out --cell, -n and --param")
        if not self.scalar_rnn and (self.b != 0.0 or self.h0 != 0.0):
            raise SymbpttError("-b and --h0 set the scalar rnn's bias and initial state; for this model "
                               "sweep them with --param")
        # what --gain and --param gain scale: the recurrent weights (IndRNN's per-unit w too)
        scaled = any(spec.kind(p) == "recurrent" for p in spec.params) or bool(spec.gain_scaled)
        if not scaled and self.param in (None, "gain"):
            choices = [p for p in spec.params if spec.kind(p) != "initial"]
            raise SymbpttError(f"the {spec.name} cell has no recurrent weight for a gain to scale; sweep one "
                               f"of its parameters with --param ({', '.join(choices)})")
        from .examples import INITS

        if not isinstance(self.init, str) or self.init not in INITS:
            raise SymbpttError(f"unknown --init {str(self.init)[:20]!r}; choose one of {', '.join(INITS)}")
        if self.init != "gaussian" and (self.scalar_rnn or not any(spec.kind(p) == "recurrent" for p in spec.params)):
            raise SymbpttError("--init draws a recurrent weight matrix; this sweep has none (give -n 2 or more for "
                               f"the rnn; {spec.name}'s recurrent weights are not a matrix)" if not self.scalar_rnn
                               else "--init draws the recurrent matrix of n ≥ 2 units; the scalar sweep sets w itself")
        known = ["gain", *spec.params] if scaled else list(spec.params)
        if self.param is not None and self.param not in known and not (spec.elman and self.param == "w"):
            raise SymbpttError(f"unknown --param {self.param!r} for the {spec.name} cell; choose one of "
                               f"{', '.join(known)}")
        what = f"a sweep of {self.points} points × T = {self.T}"
        if self.scalar_rnn or self.gain_rnn:
            check_sweep(self.T, self.points, self.n, gain_sweep_floats(self.points, self.n) if self.gain_rnn else 0.0)
            estimate(what, "lower -T or --points", seconds=self.T * SCALAR_STEP * (1 + self.points / 1000))
            return
        check_sweep(self.T, self.points, 1)
        if self.T * self.points > MAX_CELL_STEPS:
            raise SymbpttError(f"a {spec.name} sweep of {self.points} points × T={self.T} runs "
                               f"{self.T * self.points:,} steps, more than {MAX_CELL_STEPS:,}; lower --points or -T")
        estimate(what, "lower --points, -n or -T", **norm_sweep_cost(spec, self.n, self.T, self.points))
        size = len(spec.states) * self.n
        if self.T * self.points * size**3 > 2e10:
            raise SymbpttError(f"a sweep with state size {size}, T={self.T} and {self.points} points needs about "
                               f"{self.T * self.points * size**3:.2g} multiply-adds; lower -n, -T or --points")


@dataclass
class SweepResult:
    axis: str
    grid: np.ndarray
    T: int
    values: dict[str, np.ndarray]  # block name → (T, points) log10 values
    about: dict
    fast: bool = False  # a scalar or gain sweep of the vanilla rnn, whose rounding is measured
    # where rounding decides a gradient or cell sweep's value (grad_rounding_decides, cell_rounding_decides;
    # None for a cell sweep that cannot judge it: nothing is claimed)
    rounded: np.ndarray | None = None

    def key(self, block: str) -> str:
        if self.about["quantity"] == "grad":
            return f"log10_dL_d{self.about['wrt']}"
        return "log10_dh_T_dh_0" if block == "h" and len(self.values) == 1 else f"log10_norm_{block}"

    def rounding(self) -> np.ndarray | None:
        """Where rounding decides the value: the scalar and gain sweeps read it off their own norms, the
        others were given it (``rounded``); None where it is not judged."""
        from .sweeps import rounding_decides

        if not self.fast:
            return self.rounded
        (values,) = self.values.values()
        return rounding_decides(values, str(self.about["activation"]))

    def as_json(self) -> dict:
        out = dict(self.about)
        out |= {"axis": self.axis, self.axis: self.grid, "T": list(range(1, self.T + 1))}
        out |= {self.key(block): values for block, values in self.values.items()}
        for block, values in self.values.items():  # JSON writes −∞ and NaN alike as null: which is which
            zero, beyond = _marks(values)
            if zero.any():
                out[f"{self.key(block)}_exactly_zero"] = zero.tolist()
            if beyond.any():
                out[f"{self.key(block)}_beyond_float64"] = beyond.tolist()
        mask = self.rounding()
        if mask is not None:
            out["rounding_decides"] = mask.tolist()
        return out

    def _marks_note(self) -> str:
        """Last CSV lines saying what its -inf and nan stand for, with their counts (none: no line)."""
        marks = [_marks(v) for v in self.values.values()]
        zero, beyond = sum(int(z.sum()) for z, _ in marks), sum(int(b.sum()) for _, b in marks)
        said = ([f"# -inf: {zero} {'value is' if zero == 1 else 'values are'} exactly 0\n"] if zero else []) + (
            [f"# nan: {beyond} {'value is' if beyond == 1 else 'values are'} beyond float64's range (a log10 or "
             "a state past 1.8e308)\n"] if beyond else [])
        return "".join(said)

    def _rounding_note(self) -> str:
        from .sweeps import AMPLIFIED

        mask = self.rounding()
        if mask is None or not mask.any():
            return ""
        first = int(np.argmax(mask.any(axis=1))) + 1
        what = "values" if len(self.values) == 1 else f"(T, {self.axis}) cells, every block of each"
        return (f"# rounding decides {int(mask.sum())} of {mask.size} {what} (from T = {first}): the forward "
                f"pass amplifies rounding by more than {AMPLIFIED} there; --format json marks each in "
                "rounding_decides\n")

    def as_csv(self) -> str:
        """One row per T (and per block when the state has several), one column per grid value."""
        columns = ",".join(f"{self.axis}={v:.6g}" for v in self.grid)
        if len(self.values) == 1:
            (values,) = self.values.values()
            rows = [f"{t}," + ",".join(f"{v:.10g}" for v in values[t - 1]) for t in range(1, self.T + 1)]
            return "\n".join([f"T,{columns}", *rows]) + "\n" + self._marks_note() + self._rounding_note()
        rows = [f"{t},{block}," + ",".join(f"{v:.10g}" for v in values[t - 1])
                for t in range(1, self.T + 1) for block, values in self.values.items()]
        return "\n".join([f"T,block,{columns}", *rows]) + "\n" + self._marks_note() + self._rounding_note()


def _marks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(where a log10 is −∞: the value is exactly 0, where it is NaN: beyond what float64 holds)."""
    arr = np.asarray(values, dtype=float)
    return arr == -np.inf, np.isnan(arr)


def run_sweep(req: SweepRequest) -> SweepResult:
    from .examples import example_config
    from .sweeps import (
        cell_rounding_decides,
        grad_rounding_decides,
        sweep_configs,
        sweep_gain,
        sweep_grad,
        sweep_param,
        sweep_scalar,
    )

    grid = np.linspace(req.low, req.high, req.points)
    about: dict[str, object] = {"cell": req.cell, "quantity": req.quantity}
    if req.elman:
        about["activation"] = req.activation
    if req.quantity == "grad":
        values = sweep_grad(grid, req.T, req.activation, u=req.u, b=req.b, h0=req.h0, seed=req.seed, y=req.y,
                            loss=req.loss, wrt=req.wrt)
        about |= {"wrt": req.wrt, "loss": req.loss, "y": req.y}
        rounded = grad_rounding_decides(grid, req.T, req.activation, u=req.u, b=req.b, h0=req.h0, seed=req.seed,
                                        loss=req.loss)
        return SweepResult("w", grid, req.T, {"h": values}, about, rounded=rounded)
    if req.scalar_rnn:
        from ..progress import Progress

        with Progress(req.T, "sweep") as bar:
            values = sweep_scalar(grid, req.T, req.activation, u=req.u, b=req.b, h0=req.h0, seed=req.seed,
                                  progress=bar.update)
        return SweepResult("w", grid, req.T, {"h": values}, about, fast=True)
    if req.gain_rnn:
        values = sweep_gain(grid, req.T, req.activation, req.n, seed=req.seed, init=req.init)
        return SweepResult("g", grid, req.T, {"h": values}, about | {"n": req.n, "init": req.init}, fast=True)
    about |= {"init": req.init} if req.init != "gaussian" else {}
    about |= {"n": req.n, "seed": req.seed, "drive": req.u}
    if req.param in (None, "gain"):
        configs = [example_config(req.cell, req.T, req.n, gain=float(g), drive=req.u, forget_bias=req.forget_bias,
                                  seed=req.seed, activation=req.activation, init=req.init) for g in grid]
        axis, blocks = "g", sweep_configs(configs)
        about |= {"forget_bias": req.forget_bias}
    else:
        base = example_config(req.cell, req.T, req.n, gain=req.gain, drive=req.u, forget_bias=req.forget_bias,
                              seed=req.seed, activation=req.activation, init=req.init)
        axis = "W" if req.elman and req.param == "w" else str(req.param)
        blocks, about = sweep_param(base, axis, grid), about | {"gain": req.gain}
    whole = blocks["state"] if "state" in blocks else next(iter(blocks.values()))
    return SweepResult(axis, grid, req.T, blocks, about, rounded=cell_rounding_decides(req.spec, req.activation, whole))
