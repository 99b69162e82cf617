"""The exact backward pass with Arb's balls: the loss, the δ recursion and the sums over t from an Arb
forward pass (numeric/arbforward.py) and its Arb step coefficients, where the report's rest would
otherwise run in mpmath (factors.gradient_blocks), one Python call per number.

The convention is arbforward's: Arb works ``GUARD`` bits (arbforward's) beyond mpmath's working
precision, every value kept is the exact midpoint of a ball proven within one unit in that precision's
last place (relative to the value itself), and each step starts from the kept midpoints, so the radii
never pile up.  The loop is the float64 kernel's plan (numeric/kernel.py), one ball matrix product per
transposed weight and step:

    δ^(ℓ)_t[s] = Σ_parts Mᵀ (c_{t+1} ⊙ δ_{t+1}[s'])  (+ the layer above, + h_t − y_t)     each entry proven
    ∂L/∂M     = R Zᵀ,  R = Σ_{s'} c_t ⊙ δ_t[s'] over t and the batch side by side           one product
    a bias    = Σ_t R_t;  an initial state: δ_0; both summed to the parameter's shape

A sum over t may cancel: a gradient entry is kept where its radius is within one unit in the last place of
its value, or else of its Σ|terms| — the accuracy mpmath's sum has.  Where a δ entry cancels more than
``GUARD`` bits (or python-flint is missing) ``gradients`` returns None and the caller runs mpmath's.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

from ..cells import INPUT
from . import arbforward
from .factors import NumericModel, summed_to
from .forward import Trajectory
from .kernel import plan

GUARD = arbforward.GUARD  # bits Arb works with beyond mpmath's: a δ entry may cancel this many


def gradients(model: NumericModel, traj: Trajectory, coefs: list[dict[tuple[str, str], np.ndarray]]
              ) -> tuple[mpmath.mpf, list[dict[str, np.ndarray]]] | None:
    """Loss and ∂L/∂θ of every parameter, as factors.gradient_blocks returns them at mpmath's working
    precision (mpf; object arrays in each parameter's shape), from Arb values.

    Args:
        model: the model in float64 (its parameters shared by the batch, as arbforward.forward requires).
        traj: its forward pass from arbforward.forward, at the working precision.
        coefs: its step coefficients from arbforward.coefficients (exact Arb midpoints).

    Returns:
        (loss, one dict of gradients per layer), or None where a value is not proven (see the module).
    """
    prec = mpmath.mp.prec
    return arbforward.attempt(prec, GUARD, lambda flint: _gradients(flint, model, traj, coefs, prec), model)


def _gradients(flint: Any, model: NumericModel, traj: Trajectory, coefs: list[dict[tuple[str, str], np.ndarray]],
               prec: int) -> tuple[mpmath.mpf, list[dict[str, np.ndarray]]]:
    walk = _Walk(flint, model, traj, coefs, prec)
    loss = walk.proven(sum(((e * e).sum() for e in walk.raw_errors.values()), flint.arb(0)) / 2)
    store = walk.deltas(model.T, 0, set(walk.errors))
    return arbforward.as_mpf_value(loss), walk.sums(store, 0, model.T)


def truncated(model: NumericModel, traj: Trajectory, coefs: list[dict[tuple[str, str], np.ndarray]], k: int
              ) -> list[dict[str, np.ndarray]] | None:
    """Truncated BPTT (paths.evaluate_truncated: each loss term at step s flows back through steps s, …,
    s − k + 1 only; an initial state receives δ_0 only from terms with s ≤ k) with Arb's balls, as mpf at
    mpmath's working precision in each parameter's shape: each window's δ recursion and sums as
    ``gradients`` makes them, the windows' gradients added in mpmath as the walk adds them.  None where a
    value is not proven."""
    prec = mpmath.mp.prec
    return arbforward.attempt(prec, GUARD, lambda flint: _truncated(flint, model, traj, coefs, k, prec), model)


def _truncated(flint: Any, model: NumericModel, traj: Trajectory, coefs: list[dict[tuple[str, str], np.ndarray]],
               k: int, prec: int) -> list[dict[str, np.ndarray]]:
    walk = _Walk(flint, model, traj, coefs, prec)
    total: list[dict[str, np.ndarray]] | None = None
    for s in sorted(walk.errors):
        lo = max(s - k, 0)
        part = walk.sums(walk.deltas(s, lo, {s}), lo, s)
        total = part if total is None else [{p: total[i][p] + g[p] for p in g} for i, g in enumerate(part)]
    assert total is not None
    return total


class _Walk:
    """One pass's numbers on balls, for the δ recursion over a window of steps and the sums over it."""

    def __init__(self, flint: Any, model: NumericModel, traj: Trajectory,
                 coefs: list[dict[tuple[str, str], np.ndarray]], prec: int) -> None:
        self.flint, self.model, self.traj, self.coefs, self.prec = flint, model, traj, coefs, prec
        arb, arb_mat = flint.arb, flint.arb_mat
        self.exact = np.frompyfunc(arb, 1, 1)  # a float64 as an Arb number (exactly)
        self.proven = arbforward.proven_by(flint, prec)
        self.checked = np.frompyfunc(self.proven, 1, 1)
        self.plan = plan(model.cell, model.layers, model.loss)
        T = model.T
        h = traj.values[model.layers - 1]["h"]
        y = self.exact(np.asarray(model.y, dtype=float))
        self.raw_errors = {T: h[T] - y} if model.loss == "last" else {t: h[t] - y[t - 1] for t in range(1, T + 1)}
        self.errors = {t: self.checked(e) for t, e in self.raw_errors.items()}
        self.transposed = {(layer, name): arb_mat(np.ascontiguousarray(p[name].T).tolist())
                           for layer, p in enumerate(model.params, start=1) for name in p if p[name].ndim == 2}
        self.shape = h.shape

    def deltas(self, last: int, first: int, loss_steps: set[int]) -> dict[tuple[int, str], np.ndarray]:
        """Every δ^(ℓ)_t[s] for t = last down to first (0 elsewhere), the loss read at ``loss_steps``: the
        kernel's plan, one ball matrix product per transposed weight and step."""
        arb, arb_mat = self.flint.arb, self.flint.arb_mat
        zeros = np.full(self.shape[1:], arb(0), dtype=object)
        store = {key: np.full(self.shape, arb(0), dtype=object) for key, _, _ in self.plan.order}
        for t in range(last, first - 1, -1):
            for key, parts, err in self.plan.order:
                total = self.errors[t] if err and t in loss_steps else None
                proven = False  # ``total`` is one ball product whose entries were proven as it was read
                for p in parts:
                    s = t if p.up else t + 1
                    if (p.up and t == 0) or s > last:
                        continue
                    v = store[p.later][s]
                    for c, m in p.terms:
                        scaled = self.coefs[p.later[0] - 1][c][s] * v
                        if m is not None and total is None:
                            total, proven = arbforward.checked_product(
                                arb_mat, self.transposed[(p.later[0], m)], scaled.tolist(), self.proven), True
                            continue
                        part = scaled if m is None else np.array(
                            (self.transposed[(p.later[0], m)] * arb_mat(scaled.tolist())).tolist(), dtype=object)
                        total, proven = (part if total is None else total + part), False
                store[key][t] = zeros if total is None else total if proven else self.checked(total)
        return store

    def sums(self, store: dict[tuple[int, str], np.ndarray], first: int, last: int) -> list[dict[str, np.ndarray]]:
        """Every gradient from the δ of steps first + 1 … last (an initial state's δ_0 where first is 0), as
        mpf in its parameter's shape (_kept)."""
        arb, arb_mat, prec, model, traj = self.flint.arb, self.flint.arb_mat, self.prec, self.model, self.traj
        steps = slice(first + 1, last + 1)
        grads: list[dict[str, np.ndarray]] = [{} for _ in model.params]
        rows: dict[tuple[int, str], np.ndarray] = {}
        for layer, leaf, states in self.plan.rows:
            total = None
            for state in states:
                part = self.coefs[layer - 1][(state, leaf)][steps] * store[(layer, state)][steps]
                total = part if total is None else total + part
            if total is not None:
                rows[(layer, leaf)] = total
        for param, layer, kind, leaf, source in self.plan.grads:
            shape = model.params[layer - 1][param].shape
            row = rows.get((layer, leaf))
            if kind == "initial":  # δ_0, summed over the batch where the batch shares h_0
                delta = store[(layer, leaf)][0] if first == 0 else np.full(self.shape[1:], arb(0), dtype=object)
                g = _kept(arb, summed_to(delta, shape), lambda d=delta, s=shape: summed_to(abs(d), s), prec)
            elif row is None:
                g = _kept(arb, np.full(shape, arb(0), dtype=object), None, prec)
            elif source is None:  # a bias (or a unit's or a scalar's parameter): its rows summed over t
                g = _kept(arb, summed_to(row.sum(axis=0), shape),
                          lambda r=row, s=shape: summed_to(abs(r).sum(axis=0), s), prec)
            else:  # a weight: R Zᵀ, every step and batch element side by side
                z = (traj.inputs if layer == 1 else traj.values[layer - 2]["h"][1:]) if source == INPUT \
                    else traj.values[layer - 1][source][:-1]  # z_t for t = 1..T
                z = z[first:last]
                r, zt = _side_by_side(row), _side_by_side(z if z.dtype == object else self.exact(z)).T
                g = _kept(arb, _product(arb_mat, r, zt), lambda r=r, zt=zt: _product(arb_mat, abs(r), abs(zt)), prec)
            grads[layer - 1][param] = g
        return grads


def _product(arb_mat: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The ball matrix product of two object arrays of Arb numbers, as an object array."""
    return np.array((arb_mat(a.tolist()) * arb_mat(b.tolist())).tolist(), dtype=object)


def _side_by_side(values: np.ndarray) -> np.ndarray:
    """(T, k, B) as (k, T·B): every step and batch element a column, in the order t, then b."""
    return values.transpose(1, 0, 2).reshape(values.shape[1], -1)


def _kept(arb: type, g: np.ndarray, size: Any, prec: int) -> np.ndarray:
    """A gradient's entries as mpf: each proven within an ulp of its value, or, where the sum cancelled,
    within an ulp of its Σ|terms| (``size()``, computed only then)."""
    bound, ulp = None, arb(2) ** -prec
    out = np.empty(g.shape, dtype=object)
    for idx, v in np.ndenumerate(g):
        if v.rel_accuracy_bits() < prec:
            if size is None:
                raise arbforward.GiveUp
            bound = size() if bound is None else bound
            if not v.rad() <= bound[idx].lower() * ulp:
                raise arbforward.GiveUp
        out[idx] = arbforward.as_mpf_value(v.mid())
    return out


__all__ = ["GUARD", "gradients", "truncated"]
