"""A float64 pass that raised underflow, kept in float64 where what underflow cost it is bounded.

NumPy reports an underflow for a whole array operation, so a pass with one saturated gate among
thousands of coefficients used to be computed again, every number of it, with mpmath.  Here the
coefficients are followed entry by entry instead:

1. **Which entries underflowed.** A coefficient is an elementwise function of its step's values, so the
   entries whose evaluation raised the flag are found by evaluating the cell's coefficient function on
   halves of the entries, and halves of those that raise it again (about 2k·log₂(N/k) small calls for k
   of N entries).
2. **Those entries exactly.** Each is computed again with mpmath from its step's float64 values (as every
   float64 pass takes them) and rounded to float64: a normal value then carries a rounding, one below
   float64's normal range is off by at most 2⁻¹⁰⁷⁴.  A coefficient the distances to ±1 recomputed
   (numeric/distances.py) is kept as they made it: rounded once to float64 (they refuse one whose
   evaluation underflowed on the way), so below the normal range it too is off by at most 2⁻¹⁰⁷⁴.
3. **What the rest cost.** The δ recursion and the sums over t run again with a kernel.Ledger: every sum
   gets a bound on what the coefficients' errors and its own subnormal products can have moved it, and
   the pass stands only if each is below a quarter of an ulp of the sum's Σ|terms| (less than the
   rounding every sum already carries) and float64 raised nothing but underflow on the way.  A δ_t
   entry that is not a result (t ≥ 1) and does not meet that carries its bound into the sums that
   read it instead, which then decide; a δ_0 entry (∂L/∂h_0) that does not meet it is computed again
   with each unit at an exponent of its own where the cell's steps are diagonal (kernel.unit_initial:
   a unit whose δ dies out over a long sequence while the others' do not; compiled, the same numbers
   bit for bit, where numeric/jit.py runs: numeric/jit_units.py), else the pass is not kept.

An underflow in the forward pass is followed too, where a node (a gate σ(a) for a < −708) underflowed
and no product inside a linear map can have (their smallest magnitudes meet above the normal range): at
each such entry every state the step stored must be within STATE_ULPS of its exact value from the step's
float64 leaves, and that entry's coefficients are computed again exactly as in 2 (the distances to ±1
read the gate there from mpmath: distances._Exact).

Otherwise nothing is kept and the caller computes the pass with mpmath, as before.  A sum made only of
tiny terms (every path through a step saturated) fails the check, so its gradient keeps its digits
from mpmath.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mpmath
import numpy as np

from ..budget import saturation_digits_needed
from ..cells import INPUT
from . import jit_units
from .distances import DistanceForms, flattened, forward_underflows
from .factors import ArrayFactors, FloatWatch
from .flags import underflowing
from .forward import compiled, step_rows
from .kernel import Ledger, gradients

TINY = np.finfo(float).tiny
BELOW_RANGE = 2.0  # the error bound of a value rounded below float64's normal range: 2⁻¹⁰⁷⁴, in units of 2⁻¹⁰⁷⁵
# entries recomputed with mpmath before the whole pass is left to it instead: a quarter of them (an
# exact pass computes every entry's coefficients at its digits, and its products besides), and never
# more than RECOMPUTED_MOST
RECOMPUTED_SHARE = 0.25
RECOMPUTED_MOST = 2000


def _most(entries: int) -> float:
    """The most entries of a layer's coefficients recomputed with mpmath before the exact pass is cheaper."""
    return min(RECOMPUTED_MOST, max(16, RECOMPUTED_SHARE * entries))


def recoverable(watch: FloatWatch) -> bool:
    """Whether every event of a float64 pass is an underflow in the coefficients, the δ recursion or the
    sums over t (the forward pass and the loss are not followed here).

    Args:
        watch: the watch that saw the pass.

    Returns:
        True when the pass may be kept by ``recover``.
    """
    def followed(label: object) -> bool:
        if isinstance(label, tuple):
            return label[0] in ("coef", "row", "grad")
        return label in ("delta", "gradients", "forward")

    # "row": a gradient marked for its row's event, which is among the events and checked with them
    return bool(watch.events) and all(kind in ("underflow", "row") and followed(label)
                                      for label, kind in watch.events)


def mark_carried(values: ArrayFactors, watch: FloatWatch) -> None:
    """Record an underflow in the coefficients of each layer where the distances to ±1 made one below
    float64's normal range (numeric/distances.py rounds it there without an event): such a pass is kept
    in float64 only through ``recover``'s check.

    Args:
        values: a float64 pass whose coefficients distances.carried made.
        watch: the watch that saw it.
    """
    forms = DistanceForms.of(values.cc.cell)
    if forms is None:
        return
    for layer, coefs in enumerate(values.traj.coefs, start=1):
        for key in forms.coefficients:
            made = np.abs(coefs[key][1:])
            if np.any((made < TINY) & (made > 0)):
                watch.mark(("coef", layer), "underflow")


def recover(values: ArrayFactors, watch: FloatWatch, carried: bool = False, seen: list | None = None,
            magnitudes: list[dict[str, np.ndarray]] | None = None) -> tuple[float, list[dict[str, np.ndarray]]] | None:
    """The loss and gradients of a float64 pass whose only events were underflow (``recoverable``), with
    the coefficients that underflowed computed again exactly and every sum checked (see the module's
    notes); None where the pass cannot be kept.

    Args:
        values: the float64 pass (its coefficients are changed in place where they are recomputed).
        watch: the watch that saw it.
        carried: the distances to ±1 made the coefficients that read a difference (numeric/distances.py):
            those are kept as made, not recomputed from the step.
        seen: when given and the pass is kept, its content becomes the δ of the checked pass (as
            kernel.gradients fills it).
        magnitudes: filled as kernel.gradients fills it (each gradient's Σ|terms|), for the report's
            measured digits.

    Returns:
        (loss, gradients per layer), or None.
    """
    if values.noise is not None or values.kind != "float":
        return None
    forms = DistanceForms.of(values.cc.cell) if carried else None
    kept = frozenset(forms.coefficients) if forms is not None else frozenset()
    eta: list[dict[tuple[str, str], np.ndarray]] = []
    for layer in range(1, values.model.layers + 1):
        flat, shape = flattened(step_rows(values.cc, values.traj, layer))  # the step values, entry by entry
        below = _forward_entries(values, layer, flat) if watch.touched("forward") else []
        if below is None:
            return None
        if not watch.touched(("coef", layer)) and not below:
            eta.append({})
            continue
        found = _exact_entries(values, layer, kept, flat, shape, below)
        if found is None:
            return None
        eta.append(found)
    ledger, fresh = Ledger(eta, by_unit=jit_units.unit_initial), FloatWatch()  # compiled where jit.py runs
    checked: list[tuple[dict, np.ndarray]] = []
    values.watch = fresh
    try:
        with fresh.watch(None):
            loss, grads = gradients(values, magnitudes, seen=checked, ledger=ledger)
    finally:
        values.watch = watch
    if not ledger.held or not (recoverable(fresh) or not fresh.events):
        return None
    if seen is not None:
        seen[:] = checked
    return loss, grads


def _forward_entries(values: ArrayFactors, layer: int, flat: list[np.ndarray]) -> list[int] | None:
    """The entries (flat indices over t = 1..T, units, batch) at which the forward pass's nodes underflowed
    in ``layer``, where every state it stored is still within STATE_ULPS units in the last place of its
    exact value from the step's float64 leaves (a gate below the range, 0 where it is 10⁻³⁶⁵, moves a
    state near ±1 by far less); None where one is not (the pass is then not kept).  ``flat``: the layer's
    step values (distances.flattened)."""
    cc = values.cc
    if _products_may_underflow(values, layer):
        return None
    entries = forward_underflows(cc, flat[:len(cc.leaf_names)])
    if len(entries) > _most(flat[0].size):  # as many as _exact_entries takes: the exact pass costs less
        return None
    exact = compiled(cc.cell, "mp")
    states = [cc.node_names.index(s) for s in cc.cell.states]
    for entry in entries:
        with mpmath.workdps(30):
            leaves = [mpmath.mpf(float(v[entry])) for v in flat[:len(cc.leaf_names)]]
            nodes = exact.node_values(leaves)
            for k in states:
                stored, value = float(flat[len(cc.leaf_names) + k][entry]), nodes[k]
                if not abs(stored - value) <= STATE_ULPS * 2.0**-53 * abs(value) + 2.0**-1074:
                    return None
    return entries


def _products_may_underflow(values: ArrayFactors, layer: int) -> bool:
    """Whether a product inside one of the layer's linear maps (a weight's entry times a previous state's
    or an input's) can have fallen below float64's normal range: its smallest nonzero magnitudes meet
    below it.  Only the nodes are evaluated again where the forward pass underflowed, so such a pass is
    not followed (a sum itself loses nothing: one that ends below the range is exact)."""
    traj, params = values.traj, values.model.params[layer - 1]
    inputs = traj.inputs if layer == 1 else traj.values[layer - 2]["h"][1:]

    def smallest(v: np.ndarray) -> float:
        magnitudes = np.abs(np.asarray(v, dtype=float))
        nonzero = magnitudes[magnitudes > 0]
        return float(nonzero.min()) if nonzero.size else math.inf

    for lin in values.cc.cell.linears:
        for matrix, source in lin.terms:
            read = inputs if source == INPUT else traj.values[layer - 1][source][:-1]
            if smallest(params[matrix]) * smallest(read) < TINY:
                return True
    return False


STATE_ULPS = 4  # how far (units in the last place) a stored state may be from its exact value where a node
# underflowed on the way: a few roundings, as a step without any event makes


def _exact_entries(values: ArrayFactors, layer: int, kept: frozenset[tuple[str, str]], flat: list[np.ndarray],
                   shape: tuple[int, ...], more: Sequence[int] = ()) -> dict[tuple[str, str], np.ndarray] | None:
    """Recompute the coefficient entries of ``layer`` whose evaluation underflowed, and those at ``more``
    (flat indices: where the forward pass's nodes did); their error bounds in units of 2⁻¹⁰⁷⁵ per key
    (arrays shaped as the coefficients), or None when the pass cannot be kept.  ``flat``, ``shape``: the
    layer's step values (distances.flattened)."""
    cc, traj = values.cc, values.traj
    coefs = traj.coefs[layer - 1]
    eta: dict[tuple[str, str], np.ndarray] = {}
    for key in kept & set(coefs):  # made from the distances, each rounded once to float64 (distances.carried
        # refuses one whose evaluation underflowed on the way): below the normal range, off by 2⁻¹⁰⁷⁴ at most
        below = np.abs(coefs[key]) < TINY
        below[0] = False
        if below.any():
            eta[key] = np.where(below, BELOW_RANGE, 0.0)
    entries = None if cc.joint is None else sorted(set(underflowing(cc.joint, flat, np.arange(flat[0].size)))
                                                   | set(more))
    if entries is None or len(entries) > _most(flat[0].size):
        return None
    wanted = tuple(key for key in coefs if key not in kept)
    for entry in entries:
        t, i, b = np.unravel_index(entry, shape)
        # the kept keys are the ones that read a difference (distances.DistanceForms): none of these does
        exact = mp_coefficients(values, layer, int(t) + 1, int(i), int(b), wanted, plain=bool(kept))
        for key, value in exact.items():
            rounded = float(value)
            coefs[key][t + 1, i, b] = rounded
            if abs(rounded) < TINY and value != 0:
                eta.setdefault(key, np.zeros(coefs[key].shape))[t + 1, i, b] = BELOW_RANGE
    return eta


def mp_coefficients(values: ArrayFactors, layer: int, t: int, i: int, b: int = 0,
                    keys: tuple[tuple[str, str], ...] | None = None, plain: bool = False
                    ) -> dict[tuple[str, str], mpmath.mpf]:
    """The coefficients of one entry (step t, unit i, batch element b) at 30 digits (more where a saturated
    gate cancels), from the float64 leaves of its step: pre-activations and previous states are accurate
    in float64; only the nonlinear values may have lost range.

    Args:
        values: the pass (float64, or an exact trajectory whose leaves are mpf).
        layer: the layer (from 1).
        t, i, b: the step (1..T), the unit and the batch element.
        keys: the coefficients wanted (default: all of the cell's).
        plain: none of ``keys`` reads a difference of the cell's values: 30 digits whatever saturates.

    Returns:
        Each coefficient's value, by key.
    """
    cc = compiled(values.model.cell, "mp")
    traj, cell = values.traj, values.model.cell
    layer_values = traj.values[layer - 1]
    # a saturated gate's difference (1 − σ(a) rewritten, the GRU's h − n) loses about 2|a|/ln 10 digits
    sizes = [abs(float(layer_values[lin.name][t, i, b])) for lin in cell.linears]
    largest = sum(v for v in sizes if math.isfinite(v))
    with mpmath.workdps(saturation_digits_needed(largest, 30) if cc.differences and not plain else 30):
        args = {lin.name: layer_values[lin.name][t, i, b] for lin in cell.linears}
        args |= {f"prev_{s}": layer_values[s][t - 1, i, b] for s in cell.states}
        inp = traj.layer_input(layer, t)
        args[INPUT] = inp[min(i, inp.shape[0] - 1), min(b, inp.shape[1] - 1)]
        args |= {s: v[i, 0] for s, v in traj.scalars[layer - 1].items()}
        # an exact trajectory's leaves as they are (beyond float64 they would become ±inf)
        row = [args[name] if isinstance(args[name], mpmath.mpf) else mpmath.mpf(float(args[name]))
               for name in cc.leaf_names]
        nodes = cc.node_values(row)
        return {key: mpmath.mpf(cc.coefficients[key](*row, *nodes)) for key in (keys or tuple(cc.coefficients))}


__all__ = ["mark_carried", "mp_coefficients", "recover", "recoverable"]
