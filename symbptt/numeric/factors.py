"""Factor providers over arrays: the route factors of paths.py as float64 or mpmath numbers.

The same provider serves float64 (NumPy arrays, batched) and mpmath (object arrays of mpf, exponents
never overflow).  Products with a factor are done as vector–Jacobian products, never by building the
matrix:  J_tᵀ δ = Σ_p M_pᵀ (c_p ⊙ δ),  F_tᵀ δ = c ⊙ δ,  D_tᵀ δ = c ⊙ δ.

Float64 work runs under ``FloatWatch``, which records every underflow, overflow and invalid operation
NumPy reports: a result computed without one of those events kept all its digits (a product that is
exactly 0 because an input is 0 raises nothing), so the float64 path is trusted exactly when it is
clean, and only what was touched by such an event is computed again at higher precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import mpmath
import numpy as np

from ..cells import INPUT, Cell
from ..config import Config
from ..model import Unrolled
from ..paths import Step, evaluate_deltas, evaluate_recursive, targets
from .forward import Trajectory, UlpNoise, compiled, forward, nudged_coefficients, step_coefficients, to_mp
from .mpdot import MpRows, dot


class FloatWatch:
    """Collects NumPy floating-point events (underflow, overflow, invalid, divide) by label.

    ``watch(label)`` blocks nest: the innermost label gets the event.  The NumPy error state is set by the
    outermost block only, so a caller that watches many small blocks may open one outer block around
    them, and each inner block then costs a label swap."""

    def __init__(self) -> None:
        self.events: set[tuple[object, str]] = set()
        self.label: object = None  # the innermost open block's label
        self.depth = 0

    def record(self, kind: str, flag: int) -> None:  # noqa: ARG002 - numpy's callback signature
        self.events.add((self.label, kind))

    def watch(self, label: object) -> AbstractContextManager[None]:
        return _Watching(self, label)

    def mark(self, label: object, kind: str) -> None:
        """Record an event for ``label`` that another label's work caused (a shared intermediate)."""
        self.events.add((label, kind))

    def touched(self, label: object) -> bool:
        return any(lab == label for lab, _ in self.events)


class _Watching(AbstractContextManager[None]):
    """One watched block: the label while it is open; the error state if it is the outermost."""

    __slots__ = ("outer", "owner", "saved", "state", "target")

    def __init__(self, owner: FloatWatch, label: object) -> None:
        self.owner, self.target = owner, label

    def __enter__(self) -> None:
        owner = self.owner
        self.saved, owner.label = owner.label, self.target
        if owner.depth == 0:
            self.outer = np.seterrcall(owner.record)
            self.state = np.errstate(all="call")
            self.state.__enter__()
        owner.depth += 1

    def __exit__(self, *exc: object) -> None:
        owner = self.owner
        owner.depth -= 1
        if owner.depth == 0:
            self.state.__exit__(None, None, None)
            np.seterrcall(self.outer)
        owner.label = self.saved


class Unwatched(FloatWatch):
    """A watch that records nothing (a pass whose events no one reads: the report's nudged reruns)."""

    def watch(self, label: object) -> AbstractContextManager[None]:
        return nullcontext()


@dataclass
class NumericModel:
    """A cell with numbers: parameters per layer, inputs (T, m, B), targets, loss."""

    cell: Cell
    params: list[dict[str, np.ndarray]]
    x: np.ndarray  # (T, m, B)
    y: np.ndarray  # (n, B) for loss 'last', (T, n, B) for 'sum'
    loss: str = "last"

    @classmethod
    def of(cls, cfg: Config) -> NumericModel:
        x = cfg.x[:, :, None]
        y = cfg.y[:, None] if cfg.loss == "last" else cfg.y[:, :, None]
        params = [{k: (v if v.ndim == 2 else v.reshape(-1, 1)) for k, v in p.items()} for p in cfg.layers]
        x, y = np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(y, dtype=float)
        return cls(cfg.spec, params, x, y, cfg.loss)

    @property
    def T(self) -> int:
        return self.x.shape[0]

    @property
    def layers(self) -> int:
        return len(self.params)

    def structure(self) -> Unrolled:
        """The structure that paths.py walks (no sizes: n and m may exceed the symbolic limit)."""
        return Unrolled(self.cell, self.T, self.layers, self.loss)

    def as_mp(self) -> NumericModel:
        return NumericModel(self.cell, [{k: to_mp(v) for k, v in p.items()} for p in self.params],
                            to_mp(self.x), to_mp(self.y), self.loss)

    def moved(self, noise: Callable[[np.ndarray], np.ndarray]) -> NumericModel:
        """The model with every parameter and input moved by ``noise`` (a forward.UlpNoise: one rounding)."""
        return NumericModel(self.cell, [{k: noise(v) for k, v in p.items()} for p in self.params], noise(self.x),
                            self.y, self.loss)


class ArrayFactors:
    """Route factors, errors and inputs of one forward pass (float64 or mpf arrays, columns (n, B))."""

    def __init__(self, model: NumericModel, kind: str = "float", watch: FloatWatch | None = None,
                 noise: UlpNoise | None = None, trajectory: Trajectory | None = None) -> None:
        """``trajectory``: the float64 forward pass with its coefficients, already computed without a
        float64 event (numeric/jit.py's kernel), instead of running it here."""
        self.model, self.kind = model, kind
        self.noise = noise if kind == "float" else None  # float64 only: every stored value moved by it
        self.cc = compiled(model.cell, kind)
        self.graph = self.cc.graph
        self.watch = watch or FloatWatch()
        if trajectory is not None:
            self.traj = trajectory
        else:
            self._run_forward()
        self.n = model.params[0][f"{model.cell.states[0]}0"].shape[0]
        self._terms = self.cc.route_terms
        self._z_source = self.cc.z_source
        self._mp_rows: dict[tuple[int, str], MpRows] = {}
        # mpf: Σ_t row_t z_tᵀ of a weight as one product (each entry one sum, rounded once)
        self.summed_contributions = self._summed if kind == "mp" else None

    def _run_forward(self) -> None:
        model = self.model
        with self.watch.watch("forward"):
            self.traj = forward(self.cc, model.params, model.x, self.noise)
        for layer in range(1, model.layers + 1):
            with self.watch.watch(("coef", layer)):
                coefs = step_coefficients(self.cc, self.traj, layer)
                self.traj.coefs[layer - 1] = (coefs if self.noise is None
                                              else nudged_coefficients(self.cc, self.traj, layer, coefs, self.noise))

    def coef(self, layer: int, t: int, target: str, leaf: str) -> np.ndarray:
        return self.traj.coefs[layer - 1][(target, leaf)][t]

    def factor(self, step: Step) -> np.ndarray:
        """The factor as a matrix (batch of one): Σ diag(c)·M over the route's terms."""
        p, parts = self.model.params[step.layer - 1], []
        for leaf, matrix in self._terms[step.kind, step.target, step.source]:
            c = self.coef(step.layer, step.t, step.target, leaf)[:, 0]
            parts.append(np.diag(c) if matrix is None else c[:, None] * p[matrix])
        return sum(parts[1:], parts[0])

    def transpose_apply(self, step: Step, vector: np.ndarray) -> np.ndarray:
        """factorᵀ · vector without forming the factor."""
        parts = []
        coefs = self.traj.coefs[step.layer - 1]
        for leaf, matrix in self._terms[step.kind, step.target, step.source]:
            scaled = coefs[step.target, leaf][step.t] * vector
            parts.append(scaled if matrix is None else dot(self._transposed(step.layer, matrix), scaled))
        return sum(parts[1:], parts[0])

    def _summed(self, param: str, layer: int, rows: list[tuple[int, np.ndarray]]) -> np.ndarray:
        """Σ_t row_t z_tᵀ over the given (t, row_t) — a weight's gradient as one product R Zᵀ; for a bias
        (no z) Σ_t row_t."""
        zs = [self.z(param, layer, t) for t, _ in rows]
        if zs[0] is None:
            total = rows[0][1]
            for _, row in rows[1:]:
                total = total + row
            return total
        return dot(np.concatenate([row for _, row in rows], axis=1),
                   np.concatenate([z for z in zs if z is not None], axis=1).T)

    def _transposed(self, layer: int, matrix: str) -> np.ndarray | MpRows:
        """Mᵀ of a weight: for mpf, its rows in parts, made once per pass (it multiplies a δ every step)."""
        m = self.model.params[layer - 1][matrix]
        if m.dtype != object or m.ndim != 2:
            return m.T
        key = (layer, matrix)
        if key not in self._mp_rows:
            self._mp_rows[key] = MpRows(m.T)
        return self._mp_rows[key]

    def error(self, t: int) -> np.ndarray:
        h = self.traj.state(self.model.layers, "h", t)
        return h - (self.model.y if self.model.loss == "last" else self.model.y[t - 1])

    def z(self, param: str, layer: int, t: int) -> np.ndarray | None:
        src = self._z_source.get(param)
        if src is None:
            return None
        return self.traj.layer_input(layer, t) if src == INPUT else self.traj.state(layer, src, t - 1)

    def zero(self) -> np.ndarray:
        return np.zeros((self.n, self.model.x.shape[2]), dtype=self.model.x.dtype)

    def zero_like(self, param: str, layer: int) -> np.ndarray:
        return np.zeros_like(self.model.params[layer - 1][param])

    def loss(self) -> float:
        if self.model.loss == "last":
            return _half_sum_squares(self.error(self.model.T))
        return sum(_half_sum_squares(self.error(t)) for t in range(1, self.model.T + 1))


def _half_sum_squares(e: np.ndarray) -> float:
    return (e * e).sum() / 2


def gradient_blocks(values: ArrayFactors, model: NumericModel) -> tuple[float, list[dict[str, np.ndarray]]]:
    """Loss and ∂L/∂θ of every parameter by the recursive form; each block watched on its own."""
    rnn = model.structure()
    watch = values.watch
    with watch.watch("loss"):
        loss = values.loss()
    with watch.watch("delta"):
        deltas = evaluate_deltas(rnn, values)
    grads: list[dict[str, np.ndarray]] = [{} for _ in model.params]
    rows: dict = {}  # D_tᵀ δ_t per linear map, shared by its weights and bias
    for param, layer in targets(rnn, "all"):
        with watch.watch(("grad", param, layer)):
            g = evaluate_recursive(rnn, param, layer, values, deltas, rows=rows)
            grads[layer - 1][param] = summed_to(g, model.params[layer - 1][param].shape)
    return loss, grads


def summed_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """A block summed to its parameter's shape: over the batch for a vector, over everything for one
    number every unit shares (float64, mpf or Arb entries alike)."""
    if g.shape == shape:
        return g
    if math.prod(shape) == 1:
        return np.full(shape, g.sum(), dtype=g.dtype)
    return g.sum(axis=1, keepdims=True)


def gradients(cfg: Config) -> tuple[float, list[dict[str, np.ndarray]]]:
    """Loss and ∂L/∂θ for every layer by the recursive form over float64 factors (shapes as in cfg)."""
    model = NumericModel.of(cfg)
    values = ArrayFactors(model)
    loss, grads = gradient_blocks(values, model)
    return float(loss), [{k: g[k].reshape(cfg.layers[i][k].shape) for k in g} for i, g in enumerate(grads)]


def mp_gradients(cfg: Config, dps: int = 30) -> tuple[mpmath.mpf, list[dict[str, np.ndarray]]]:
    """Loss and gradients at ``dps`` digits (object arrays of mpf in each parameter's shape)."""
    with mpmath.workdps(dps):
        model = NumericModel.of(cfg).as_mp()
        values = ArrayFactors(model, "mp")
        loss, grads = gradient_blocks(values, model)
    return loss, [{k: g[k].reshape(cfg.layers[i][k].shape) for k in g} for i, g in enumerate(grads)]
