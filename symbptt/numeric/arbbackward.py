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
    arb, arb_mat = flint.arb, flint.arb_mat
    exact = np.frompyfunc(arb, 1, 1)  # a float64 as an Arb number (exactly)

    def proven(v: Any) -> Any:  # the midpoint, where the ball proves it within an ulp of the working precision
        if type(v) is not arb:
            v = arb(v)
        if v.rel_accuracy_bits() < prec:
            raise arbforward.GiveUp
        return v.mid()

    checked = np.frompyfunc(proven, 1, 1)

    def product(m: Any, v: np.ndarray) -> np.ndarray:  # a ball matrix (made once) times an object array (k, B)
        return np.array((m * arb_mat(v.tolist())).tolist(), dtype=object)

    the_plan = plan(model.cell, model.layers, model.loss)
    T = model.T
    h = traj.values[model.layers - 1]["h"]
    y = exact(np.asarray(model.y, dtype=float))
    if model.loss == "last":
        errors = {T: h[T] - y}
    else:
        errors = {t: h[t] - y[t - 1] for t in range(1, T + 1)}
    loss = proven(sum(((e * e).sum() for e in errors.values()), arb(0)) / 2)
    errors = {t: checked(e) for t, e in errors.items()}
    transposed = {(layer, name): arb_mat(np.ascontiguousarray(p[name].T).tolist())
                  for layer, p in enumerate(model.params, start=1) for name in p if p[name].ndim == 2}
    zeros = np.full(h.shape[1:], arb(0), dtype=object)
    store = {key: np.empty(h.shape, dtype=object) for key, _, _ in the_plan.order}
    for t in range(T, -1, -1):
        for key, parts, err in the_plan.order:
            total = errors.get(t) if err else None
            for p in parts:
                s = t if p.up else t + 1
                if (p.up and t == 0) or s > T:
                    continue
                v = store[p.later][s]
                for c, m in p.terms:
                    scaled = coefs[p.later[0] - 1][c][s] * v
                    part = scaled if m is None else product(transposed[(p.later[0], m)], scaled)
                    total = part if total is None else total + part
            store[key][t] = zeros if total is None else checked(total)
    grads: list[dict[str, np.ndarray]] = [{} for _ in model.params]
    rows: dict[tuple[int, str], np.ndarray] = {}
    for layer, leaf, states in the_plan.rows:
        total = None
        for state in states:
            part = coefs[layer - 1][(state, leaf)][1:] * store[(layer, state)][1:]
            total = part if total is None else total + part
        if total is not None:
            rows[(layer, leaf)] = total
    for param, layer, kind, leaf, source in the_plan.grads:
        shape = model.params[layer - 1][param].shape
        row = rows.get((layer, leaf))
        if kind == "initial":  # δ_0, summed over the batch where the batch shares h_0
            first = store[(layer, leaf)][0]
            g = _kept(arb, summed_to(first, shape), lambda d=first, s=shape: summed_to(abs(d), s), prec)
        elif row is None:
            g = _kept(arb, np.full(shape, arb(0), dtype=object), None, prec)
        elif source is None:  # a bias (or a unit's or a scalar's parameter): its rows summed over t
            g = _kept(arb, summed_to(row.sum(axis=0), shape), lambda r=row, s=shape: summed_to(abs(r).sum(axis=0), s),
                      prec)
        else:  # a weight: R Zᵀ, every step and batch element side by side
            z = (traj.inputs if layer == 1 else traj.values[layer - 2]["h"][1:]) if source == INPUT \
                else traj.values[layer - 1][source][:-1]  # z_t for t = 1..T
            r, zt = _side_by_side(row), _side_by_side(z if z.dtype == object else exact(z)).T
            g = _kept(arb, _product(arb_mat, r, zt), lambda r=r, zt=zt: _product(arb_mat, abs(r), abs(zt)), prec)
        grads[layer - 1][param] = g
    return arbforward.as_mpf_value(loss), grads


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


__all__ = ["GUARD", "gradients"]
