"""The float64 step kernel: BPTT for any cell as one loop over t for the δ recursion, and one matrix
product per parameter for the sums over t.

paths.py walks the recursion step object by step object, which is what the symbolic side and mpmath
need; for float64 arrays that walk costs more than the arithmetic at small n.  Here the recursion of
paths.delta_recursion is resolved once per cell structure into a plan: for each layer and state, which
later δ it reads, through which coefficient arrays and which transposed weights.  The loop then does
only the arithmetic BPTT needs,

    δ^(ℓ)_t[s] = Σ_{routes s→s'} Σ_terms Mᵀ (c_{t+1} ⊙ δ^(ℓ)_{t+1}[s'])  +  (V routes from layer ℓ+1)  +  e_t,

and every gradient is a sum over t done at once:

    ∂L/∂M = Σ_t (Σ_{s'} c_t[s'←p] ⊙ δ_t[s']) z_tᵀ  =  R Zᵀ   (R, Z: (n, T·B), (k, T·B)),

so the sums over time and batch are one matrix product (BLAS) instead of T outer products.  The
numbers are those of paths.py's recursive form (test_numeric compares every cell, stack and loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..cells import INPUT, Cell
from ..paths import delta_recursion, param_entry, targets
from .factors import ArrayFactors, NumericModel

StateKey = tuple[int, str]  # (layer, state)


@dataclass(frozen=True)
class _Part:
    """One summand of a δ: the later δ it reads, one layer up (V) or one step later (J, F), through
    Σ (coefficient key, weight name or None)."""

    later: StateKey
    up: bool  # V: the layer above at the same t; else the same layer at t + 1
    terms: tuple[tuple[tuple[str, str], str | None], ...]


@dataclass(frozen=True)
class _Plan:
    order: tuple[tuple[StateKey, tuple[_Part, ...], bool], ...]  # (δ key, parts, reads the loss error)
    rows: tuple[tuple[int, str, tuple[str, ...]], ...]  # (layer, leaf, the states whose δ enter it)
    grads: tuple[tuple[str, int, str, str, str | None], ...]  # (param, layer, kind, leaf, source)


@lru_cache(maxsize=64)
def plan(cell: Cell, layers: int, loss: str) -> _Plan:
    """The recursion of paths.delta_recursion for an interior step, resolved once per structure."""
    rnn = NumericModel(cell, [{}] * layers, np.zeros((3, 1, 1)), np.zeros((1, 1)), loss).structure()  # T = 3
    graph = rnn.graph
    order = []
    for (layer, t, state), parts in delta_recursion(rnn):
        if t != 1:  # at t = 1 every kind of part occurs (J, F from t = 2, V from above, the error)
            continue
        resolved = []
        for part in parts:
            if part.kind == "E":
                continue
            route = next(r for r in graph.routes if (r.kind, r.target) == (part.kind, part.target)
                         and (part.kind == "V" or r.source == part.source))
            terms = tuple(((part.target, leaf), matrix) for leaf, matrix in graph.terms(route))
            resolved.append(_Part((part.layer, part.target), part.kind == "V", terms))
        has_error = state == "h" and layer == layers
        order.append(((layer, state), tuple(resolved), has_error))
    leaves = sorted({param_entry(rnn, p)[1] for p in cell.params if cell.kind(p) != "initial"})
    rows = tuple((layer, leaf, tuple(r.target for r in graph.entries(leaf)))
                 for layer in range(1, layers + 1) for leaf in leaves)
    grads = tuple((param, layer, *param_entry(rnn, param)) for param, layer in targets(rnn, "all"))
    return _Plan(tuple(order), rows, grads)


def _transposed(matrix: np.ndarray) -> np.ndarray:
    """Mᵀ, stored row-major once for the whole loop."""
    return np.ascontiguousarray(matrix.T)


def _errors(values: ArrayFactors) -> np.ndarray:
    """h_t − y_t of the top layer for t = 0..T (rows the loss does not read are 0)."""
    model = values.model
    h = values.traj.values[model.layers - 1]["h"]
    out = np.zeros_like(h)
    if model.loss == "last":
        out[-1] = h[-1] - model.y
    else:
        out[1:] = h[1:] - model.y
    return out


def deltas(values: ArrayFactors, the_plan: _Plan, lowest: int = 0) -> dict[StateKey, np.ndarray]:
    """Every δ^(ℓ)_t[s] for t = 0..T as arrays (T + 1, n, B): the recursion as one loop over t.  With
    ``lowest`` > 0 the recursion stops there (truncated BPTT of a loss at T: δ below it stays 0)."""
    model = values.model
    T = model.T
    coefs = values.traj.coefs
    errors = _errors(values)
    store = {key: np.zeros_like(errors) for key, _, _ in the_plan.order}
    flat = [(store[key], [(store[p.later], p.up, [(coefs[p.later[0] - 1][c],
                                                    None if m is None else _transposed(model.params[p.later[0] - 1][m]))
                                                   for c, m in p.terms]) for p in parts], err)
            for key, parts, err in the_plan.order]
    for t in range(T, lowest - 1, -1):
        for out, parts, err in flat:
            total = errors[t] if err else None
            for later, up, terms in parts:
                s = t if up else t + 1
                if (up and t == 0) or s > T:
                    continue
                v = later[s]
                for coef, mt in terms:
                    scaled = coef[s] * v
                    part = scaled if mt is None else mt @ scaled
                    total = part if total is None else total + part
            if total is not None:
                out[t] = total
    return store


def gradients(values: ArrayFactors) -> tuple[float, list[dict[str, np.ndarray]]]:
    """Loss and ∂L/∂θ of every parameter (shapes as in the model's params), float64 throughout.

    Args:
        values: the float64 forward pass (and its coefficients) of a model whose parameters are shared
            by the batch.

    Returns:
        (loss summed over the batch, one dict of gradients per layer).
    """
    model = values.model
    the_plan = plan(model.cell, model.layers, model.loss)
    watch = values.watch
    with watch.watch("loss"):
        loss = values.loss()
    with watch.watch("delta"):
        store = deltas(values, the_plan)
    coefs, traj = values.traj.coefs, values.traj
    rows: dict[tuple[int, str], np.ndarray] = {}  # Σ_{s'} c_t[s'←p] ⊙ δ_t[s'] for t = 1..T: (T, n, B)
    for layer, leaf, states in the_plan.rows:
        with watch.watch(("row", layer, leaf)):  # shared by the weights, input weights and bias of a map
            total = None
            for state in states:
                part = coefs[layer - 1][(state, leaf)][1:] * store[(layer, state)][1:]
                total = part if total is None else total + part
        if total is not None:
            rows[(layer, leaf)] = total
    grads: list[dict[str, np.ndarray]] = [{} for _ in model.params]
    for param, layer, kind, leaf, source in the_plan.grads:
        shape = model.params[layer - 1][param].shape
        with watch.watch(("grad", param, layer)):
            if kind == "initial":
                g = store[(layer, leaf)][0]
            elif (layer, leaf) not in rows:
                g = np.zeros(shape)
            elif source is None:
                g = rows[(layer, leaf)].sum(axis=0)
            else:
                z = ((traj.inputs if layer == 1 else traj.values[layer - 2]["h"][1:]) if source == INPUT
                     else traj.values[layer - 1][source][:-1])  # z_t for t = 1..T
                g = np.tensordot(rows[(layer, leaf)], z, axes=([0, 2], [0, 2]))
            if g.shape != shape:
                g = g.sum() * np.ones(shape) if int(np.prod(shape)) == 1 else g.sum(axis=1, keepdims=True)
        if watch.touched(("row", layer, leaf)):
            watch.mark(("grad", param, layer), "row")
        grads[layer - 1][param] = g
    return float(loss), grads


def applies(values: ArrayFactors) -> bool:
    """The kernel serves float64 passes whose parameters the whole batch shares (a sweep that gives
    each batch element its own matrix takes paths.py's walk)."""
    return values.kind == "float" and all(v.ndim <= 2 for p in values.model.params for v in p.values())
