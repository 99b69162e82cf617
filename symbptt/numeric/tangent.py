"""What rounding costs an exact forward pass, carried along its own trajectory instead of measured against
a second pass.

A pass that rounds every stored value v — each linear map, node and state of every step — by at most
u·|v| (Arb's pass proves it: numeric/arbforward.py) leaves errors that obey, to first order,

    δv = Σ_parents ∂v/∂parent · δparent + ρ_v,    |ρ_v| ≤ u·|v|,

through each step's local partials (step.StepGraph.local, the edges of the one-step graph, compiled
once per cell) and its weights, δs_{t−1} being what the step before left.  ``amplification`` carries
that recursion in float64 along the pass rounded to float64, in units of u, with each ρ_v at its bound
and a sign drawn for it (SAMPLES draws side by side, from a fixed seed), and returns the log10 of the
largest error of any step's states relative to the step's largest: what rounding is amplified by, as
exact.exact_forward's check of a pass by one with more digits measures it — without that second pass,
which costs as much as the first.  For a layer's state of at most DENSE_MOST entries each step is made
a linear map first, for every t at once (J_t from the states before, V_t from the layer below), then one
small product a step; above, the errors go through the one-step graph step by step (the same products,
without making the maps, which cost (S·n)² a step).  Either way ρ_t, the steps' own roundings, are made
for every t at once.  The check costs 4–10× less than the second pass it replaces (7 ms for an rnn of
128 units at T = 200 against 128; 11 ms for the §10b network at T = 1000 against 63).

It applies where the pass is Arb's and every stored value is within float64's normal range (so the
errors' ratios to them are read in float64) and the partials are finite there; elsewhere it returns
None and the caller checks the pass by a second one.  Drawn signs make it a measure, not a bound, as the
second pass is: it reads 0.5–2.6 digits more amplification than mpmath's second pass measures on the
built-in cells and the cell files whose nodes round once, and up to 4.2 less where mpmath rounds inside
a node, which Arb's pass proves (benchmarks/carried_check.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from ..activations import numpy_functions
from ..cells import INPUT, Cell
from ..step import step_graph
from . import arbforward, split
from .factors import NumericModel
from .forward import Trajectory, compiled, stable_form, step_rows

SAMPLES = 4  # independent draws of the rounding signs, carried side by side
SEED = 20261206  # the signs' seed: the same pass, the same digits
NORMAL = 1e-280  # a step's largest state from which float64 holds its errors' ratio to it (exact.NORMAL)
RESCALE = 1e150  # where the largest error is past this, every error is divided by it (the scale kept),
RESCALE_EVERY = 8  # looked at every this many steps
CHUNK_BYTES = 32 << 20  # the steps' maps are made about this many bytes of them at a time
DENSE_MOST = 32  # the most entries of a layer's state for which each step's J_t is made (see _Step)


@lru_cache(maxsize=32)
def _partials(cell: Cell) -> tuple[list[tuple[str, str]], Any]:
    """Every local partial ∂node/∂parent of the one-step graph, in stable form, compiled in one float64
    function of the step's arguments (CompiledCell.args)."""
    graph, cc = step_graph(cell), compiled(cell, "float")
    keys = list(graph.local)
    exprs = [stable_form(graph.local[key], cell) for key in keys]
    return keys, sp.lambdify(cc.args, exprs, numpy_functions(*exprs), cse=True)


def amplification(model: NumericModel, traj: Trajectory) -> float | None:
    """log10 of the most that rounding is amplified by in the states of ``traj``: the largest error, relative
    to its step's largest state, that the recursion above carries from a rounding of every stored value
    by one part in its size (so that a pass which rounds each value to d digits keeps about d less this of
    its states'); None where it does not apply (see the module).

    Args:
        model: the NumericModel the pass was made for (float64 parameters).
        traj: its exact forward pass, made by arbforward.forward (which proves every stored value within
            one unit in the last place of the digits it ran at).

    Returns:
        The log10 of the amplification (−∞ where no rounding reaches a state), or None.
    """
    if not arbforward.made_with_arb(traj):
        return None
    cell, cc = model.cell, compiled(model.cell, "float")
    floats = split.rounded(traj)  # None where a stored value is beyond float64's normal range
    if floats is None:
        return None
    values = floats.values
    with np.errstate(all="ignore"):
        tops = [np.stack([np.abs(layer[s][1:]).reshape(layer[s].shape[0] - 1, -1).max(axis=1) for s in cell.states])
                for layer in values]
        if any(np.any((top > 0) & (top < NORMAL)) for top in tops):  # a step of zeros is not compared,
            return None  # as exact._agreeing_digits does not compare it
        layers = []
        try:  # a partial float64 cannot evaluate (a cell file's function at a value it refuses) is not carried
            keys, function = _partials(cell)
            for ell in range(1, model.layers + 1):
                rows = step_rows(cc, floats, ell)
                shape = rows[0].shape
                partials = {key: np.broadcast_to(np.asarray(v, dtype=float), shape)
                            for key, v in zip(keys, function(*rows), strict=True)}
                if not all(np.all(np.isfinite(v)) for v in partials.values()):
                    return None
                layers.append((values[ell - 1], partials))
        except (ArithmeticError, ValueError, TypeError, NameError):
            return None
        worst = _carried(model, layers, tops)
    return None if np.isnan(worst) or worst == np.inf else worst


class _Step:
    """One layer's steps t = 1..T as linear maps of the errors: J_t (the states' errors at t − 1 to theirs
    at t), V_t (the layer below's h at t to the states at t) and ρ_t (the step's own roundings, carried to
    its states: SAMPLES draws), each made for every t at once through the one-step graph — J_t and V_t
    only where the state has at most DENSE_MOST entries (their making costs (S·n)²·n a step, the graph's
    own products S·n·n·SAMPLES): above, ``carry`` takes the errors through the graph step by step."""

    def __init__(self, model: NumericModel, ell: int, values: dict[str, np.ndarray], partials: dict, steps: slice,
                 rng: Any) -> None:
        cell = model.cell
        self.cell, self.params = cell, model.params[ell - 1]
        self.values = {name: v[steps.start + 1:steps.stop + 1] for name, v in values.items()}  # each step's own
        self.partials = {key: v[steps] for key, v in partials.items()}
        T, n, B = steps.stop - steps.start, *values[cell.states[0]].shape[1:]
        self.T, self.n, self.B, self.S = T, n, B, len(cell.states)
        self.J: np.ndarray | None = None
        self.V: np.ndarray | None = None
        if self.S * n <= DENSE_MOST:
            basis = {}  # δs_{t−1} = the basis: column j·n + i is state j's unit i
            for j, s in enumerate(cell.states):
                basis[s] = np.zeros((T, n, B, self.S * n))
                basis[s][:, np.arange(n), :, j * n + np.arange(n)] = 1.0
            self.J = self._states(self._through(basis, None, None))  # (T, B, S·n, S·n)
            if ell > 1:
                e = np.zeros((T, n, B, n))
                e[:, np.arange(n), :, np.arange(n)] = 1.0
                self.V = self._states(self._through({}, e, None))  # (T, B, S·n, n)
        self.rho = self._states(self._through({}, None, rng))  # (T, B, S·n, SAMPLES)
        self.h = slice(cell.states.index("h") * n, (cell.states.index("h") + 1) * n)  # what the layer above reads

    def carry(self, t: int, errors: np.ndarray, below: np.ndarray | None, out: np.ndarray) -> None:
        """``out`` = J_t·errors (+ V_t·below from the layer below): errors (B, S·n, SAMPLES), below (B, n,
        SAMPLES) or None for the first layer."""
        if self.J is not None:
            np.matmul(self.J[t], errors, out=out)
            if below is not None and self.V is not None:
                out += np.matmul(self.V[t], below)
            return
        n, at = self.n, slice(t, t + 1)
        prev = {s: errors[:, j * n:(j + 1) * n].transpose(1, 0, 2)[None] for j, s in enumerate(self.cell.states)}
        out[...] = self._states(self._through(prev, None if below is None else below.transpose(1, 0, 2)[None],
                                              None, at))[0]

    def _through(self, prev: dict[str, np.ndarray], below: np.ndarray | None, rng: Any,
                 at: slice = slice(None)) -> dict[str, np.ndarray]:
        """δ of every stored value of the steps ``at`` (default all) from δprev (by state), δ of the input from
        the layer below and, with ``rng``, each stored value's rounding at its bound with a drawn sign."""
        cell, n, B = self.cell, self.n, self.B
        T = len(range(*at.indices(self.T)))
        given = [*prev.values()] + ([] if below is None else [below])
        width = SAMPLES if rng is not None else given[0].shape[-1]  # the draws, or the basis's columns
        d: dict[str, np.ndarray] = {f"prev_{s}": v for s, v in prev.items()}
        if below is not None:
            d[INPUT] = below

        def rounding(name: str) -> np.ndarray | None:
            if rng is None:
                return None
            signs = 2.0 * rng.integers(0, 2, size=(T, *self.values[name].shape[1:], width)) - 1.0
            return signs * np.abs(self.values[name][at])[..., None]

        for lin in cell.linears:
            total = rounding(lin.name)
            for matrix, src in lin.terms:
                got = d.get(INPUT if src == INPUT else f"prev_{src}")
                if got is not None:
                    w = self.params[matrix]
                    part = np.matmul(w, got.reshape(T, got.shape[1], -1)).reshape(T, w.shape[0], B, width)
                    total = part if total is None else total + part
            if total is not None:
                d[lin.name] = total
        for name, _ in cell.nodes:
            total = rounding(name)
            for (node, parent), partial in self.partials.items():
                if node == name and parent in d:
                    part = partial[at][..., None] * d[parent]
                    total = part if total is None else total + part
            if total is not None:
                d[name] = total
        return {s: d.get(s, np.zeros((T, n, B, width))) for s in cell.states}

    def _states(self, d: dict[str, np.ndarray]) -> np.ndarray:
        """The states' δ stacked (T, B, S·n, width), the batch leading for the per-step products."""
        stacked = np.concatenate([d[s] for s in self.cell.states], axis=1)  # (T, S·n, B, width)
        return np.ascontiguousarray(stacked.transpose(0, 2, 1, 3))


def _carried(model: NumericModel, layers: list[tuple[dict[str, np.ndarray], dict]], tops: list[np.ndarray]) -> float:
    """log10 of the largest error of any state over its step's largest state, in units of the rounding: e_t =
    J_t e_{t−1} + V_t e^{below}_t + ρ_t·10^−scale, rescaled as it grows (looked at every RESCALE_EVERY steps:
    an error that leaves float64's range before then is ∞, and the caller checks by a second pass).  The
    steps' maps are made CHUNK_BYTES of them at a time."""
    cell = model.cell
    T, n, B = layers[0][0][cell.states[0]].shape[0] - 1, *layers[0][0][cell.states[0]].shape[1:]
    S = len(cell.states)
    chunk = max(1, CHUNK_BYTES // (8 * n * B * S * n * (len(cell.linears) + len(cell.nodes) + 2)))
    rngs = [np.random.default_rng(SEED + ell) for ell in range(len(layers))]
    errors = [np.zeros((B, S * n, SAMPLES)) for _ in layers]
    sizes = [np.empty((T, S)) for _ in layers]  # each step's largest error, by state, over 10^scales[t]
    scales = np.zeros(T)
    scale = 0.0
    for lo in range(0, T, chunk):
        span = slice(lo, min(T, lo + chunk))
        steps = [_Step(model, ell, values, partials, span, rngs[ell - 1])
                 for ell, (values, partials) in enumerate(layers, start=1)]
        for step in steps:  # the roundings in the errors' units
            step.rho *= 10.0 ** -scale
        history = [np.empty((span.stop - lo, B, S * n, SAMPLES)) for _ in layers]  # e_t over 10^scales[t]
        for t in range(span.stop - lo):
            below = None
            for k, step in enumerate(steps):
                e = history[k][t]
                step.carry(t, errors[k], below, e)
                e += step.rho[t]
                errors[k], below = e, e[:, step.h]
            scales[lo + t] = scale
            if t % RESCALE_EVERY == 0:
                largest = max(float(np.abs(e).max()) for e in errors)
                if largest > RESCALE:
                    errors = [e / largest for e in errors]
                    scale += np.log10(largest)
                    for step in steps:
                        step.rho[t + 1:] /= largest
        for k, past in enumerate(history):
            sizes[k][span] = np.abs(past).reshape(-1, B, S, n, SAMPLES).max(axis=(1, 3, 4))
    worst = -np.inf
    for size, top in zip(sizes, tops, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = (np.log10(size.T) + scales - np.log10(top))[top > 0]
        if ratios.size:
            worst = max(worst, float(np.max(ratios)))
    return worst
