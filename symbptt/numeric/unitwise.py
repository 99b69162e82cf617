"""Exactness unit by unit: where float64 kept fewer digits than asked in a few units' gradients, only those
units are computed again exactly.

A one-layer cell whose units never meet — no recurrent matrix, no parameter shared by the units, every
linear map reading the input alone (the IndRNN, minGRU, minLSTM and LRU; a cell file built so) — runs each
unit's forward pass and δ recursion on that unit's parameters alone, and its loss is a sum over the units.
So row i of every gradient is the gradient of a model of unit i alone (its parameters' rows, its target's
row), exactly as in the whole model, and a model of any set of units gives their rows.

The reruns that measure what float64 kept (reruns.kept_digits) also say where it fell short: each entry's
largest change (reruns.EntryChanges).  An entry whose change is more than 10^−digits of its gradient's
largest entry marks its unit short; those units alone are computed exactly, as the whole model would have
been (exact.exact_gradients_at, checked by a pass with twice the digits where the reruns measured no digit
in some entry), and their rows replace float64's.  The digits are then counted again over the rows float64
kept, the exact rows counting as one rounding to float64 each; where that count is still short of the
digits asked, or every unit is short, the caller computes the whole model exactly, as before.

    >>> # an IndRNN of 64 units over 1000 steps, batch 8, digits=12: one unit's ∂L/∂h_0 fell short
    >>> # (11.8 digits kept): that unit is computed exactly, not the 64
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np

from ..cells import INPUT
from .factors import NumericModel
from .reruns import FLOAT64_DIGITS, EntryChanges, _digits

__all__ = ["counted", "separable", "short_units", "spliced", "sub_model"]


def separable(model: NumericModel) -> bool:
    """Whether ``model``'s units never meet (see the module): one layer, no recurrent or scalar parameter,
    every linear map reading the input alone, every parameter a row per unit and shared by the batch.

    Args:
        model: the model in float64.

    Returns:
        True where row i of every gradient is the gradient of a model of unit i alone.
    """
    cell = model.cell
    if model.layers != 1 or cell.scalar_params or not cell.linears:
        return False
    if any(cell.kind(param) in ("recurrent", "scalar") for param in cell.params):
        return False
    if any(source != INPUT for lin in cell.linears for _, source in lin.terms):
        return False
    n = model.params[0][f"{cell.states[0]}0"].shape[0]
    return all(np.ndim(value) == 2 and np.shape(value)[0] == n for value in model.params[0].values())


def short_units(loss: Any, changes: EntryChanges, grads: list[dict[str, np.ndarray]], digits: int
                ) -> np.ndarray | None:
    """The units (rows) in which some gradient entry changed by more than 10^−``digits`` of its gradient's
    largest entry, sorted; None where the changes cannot say (EntryChanges.usable False, a block not
    counted, or the loss itself short: it is a sum over every unit).

    Args:
        loss: the float64 loss it measured.
        changes: what kept_digits counted against each entry.
        grads: the float64 gradients it measured (one layer; a block beyond float64's range as mpf).
        digits: the significant digits asked for, relative to each gradient's largest entry.

    Returns:
        The short units' indices, or None.
    """
    if not changes.usable or len(changes.blocks) != 1:
        return None
    limit = 10.0 ** -digits
    if not changes.loss <= limit * abs(float(loss)):
        return None
    short = np.zeros(0, dtype=np.int64)
    for param, block in grads[0].items():
        moved = changes.blocks[0].get(param)
        if moved is None:
            return None
        over = np.asarray(moved > limit * _largest(block), dtype=bool)
        short = np.union1d(short, np.flatnonzero(over.reshape(over.shape[0], -1).any(axis=1)))
    return short


def _largest(block: np.ndarray) -> Any:
    """max |entry| of a block (float64, or mpf for a block beyond float64's range; 0 for an empty one)."""
    return max((abs(v) for v in np.asarray(block).flat), default=0.0)


def sub_model(model: NumericModel, units: np.ndarray) -> NumericModel:
    """The model of ``units`` alone: each parameter's rows and the target's rows of those units (the loss
    'last' reads y as (n, batch), 'sum' as (T, n, batch)).

    Args:
        model: a separable model.
        units: the units' indices.

    Returns:
        The smaller model, on the same inputs.
    """
    params = [{name: np.ascontiguousarray(value[units]) for name, value in layer.items()} for layer in model.params]
    y = model.y[units] if model.loss == "last" else model.y[:, units]
    return NumericModel(model.cell, params, model.x, np.ascontiguousarray(y), model.loss)


def spliced(grads: list[dict[str, np.ndarray]], exact: list[dict[str, Any]], units: np.ndarray
            ) -> list[dict[str, np.ndarray]]:
    """``grads`` with the rows of ``units`` replaced by the exact rows, each entry rounded to float64's 53
    bits (to the nearest float64, or for a block beyond float64's range, which holds mpf entries, to an
    mpf of 53 bits); the blocks are copied, not changed in place.

    Args:
        grads: the whole model's float64 gradients (one layer).
        exact: the sub-model's exact gradients (mpf object arrays, rows in the order of ``units``).
        units: the units the sub-model holds.

    Returns:
        The float64 gradients with those rows exact.
    """
    out = []
    for layer, rows in zip(grads, exact, strict=True):
        joined = {}
        for param, block in layer.items():
            wide = np.asarray(block).dtype == object
            block = np.array(block, dtype=object if wide else float)
            with mpmath.workprec(53):
                made = [+mpmath.mpf(v) if wide else float(v) for v in np.asarray(rows[param], dtype=object).flat]
            block[units] = np.array(made, dtype=block.dtype).reshape(block[units].shape)
            joined[param] = block
        out.append(joined)
    return out


def counted(loss: Any, changes: EntryChanges, grads: list[dict[str, np.ndarray]], units: np.ndarray
            ) -> tuple[float, float]:
    """kept_digits' two counts of a spliced result: each float64 entry's change as the reruns counted it,
    each exact row's entries one rounding to 53 bits (2⁻⁵³ of themselves), relative to each gradient's
    (new) largest entry and to the entry itself; the loss's own change beside them.

    Args:
        loss: the float64 loss the reruns measured.
        changes: what they counted against each entry.
        grads: the spliced gradients (one layer).
        units: the rows that are exact.

    Returns:
        (the digits relative to each gradient's largest entry, the digits of the worst entry).
    """
    rounding = 2.0 ** -53
    value = abs(float(loss))
    relative = changes.loss / value if value else (0.0 if changes.loss == 0 else math.inf)
    block_worst, entry_worst = relative, relative
    for param, block in grads[0].items():
        moved = np.array(changes.blocks[0][param], dtype=block.dtype if block.dtype == object else float)
        moved[units] = rounding * np.abs(block[units])
        top = _largest(block)
        whole = float(_largest(moved) / top) if top else (0.0 if not any(moved.flat) else math.inf)
        each = [0.0 if v == 0 and m == 0 else (math.inf if v == 0 else float(m / abs(v)))
                for v, m in zip(block.flat, moved.flat, strict=True)]
        block_worst = max(block_worst, whole)
        entry_worst = max(entry_worst, max(each, default=0.0))
    return min(FLOAT64_DIGITS, _digits(block_worst)), min(FLOAT64_DIGITS, _digits(entry_worst))
