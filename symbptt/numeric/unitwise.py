"""Exactness unit by unit: where float64 kept fewer digits than asked in a few units' gradients, only those
units are computed again exactly.

A one-layer cell whose units never meet — no recurrent matrix, no parameter shared by the units, every
linear map reading the input alone (the IndRNN, minGRU, minLSTM and LRU; a cell file built so) — runs each
unit's forward pass and δ recursion on that unit's parameters alone, and its loss is a sum over the units.
So row i of every gradient is the gradient of a model of unit i alone (its parameters' rows, its target's
row), exactly as in the whole model, and a model of any set of units gives their rows.

The reruns that measure what float64 kept (reruns.kept_digits) also say where it fell short: each entry's
largest change (reruns.EntryChanges).  An entry whose change is more than 10^−digits of its gradient's
largest entry (or, for a saturated pass, by more than 10^−1 of itself) marks its unit short; those units
alone are computed exactly, as the whole model would have been (an exact forward pass at 30 digits beyond
what rounding cost, and its rest; where the reruns measured no digit in some entry, or a gate saturates,
the caller's exact pass, checked by one with twice the digits), and their rows replace float64's.  The
digits are then counted again over the rows float64 kept, the exact rows counting as one rounding to
float64 each; where that count is still short of the digits asked, or every unit is short, the caller
computes the whole model exactly, as before.  An IndRNN of 64 units over 1000 steps with a batch of 8
whose ∂L/∂h_0 kept 11.8 digits in one unit, where 12 were asked, computes that unit exactly, not the 64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import mpmath
import numpy as np

from ..cells import INPUT
from . import arbforward, split
from .exact import exact_forward
from .factors import NumericModel
from .reruns import FLOAT64_DIGITS, EntryChanges, _digits, exact_digits

__all__ = ["UnitPass", "counted", "exactly", "separable", "short_units", "spliced", "sub_model", "unit_words"]


class UnitPass(NamedTuple):
    """The short units computed exactly (``exactly``): their indices, the spliced gradients, the exact
    pass's digits, kept_digits' counts of the whole again, and what made the exact forward pass and its
    rest ("Arb" or "mpmath"; None where a caller's ``settle`` made them)."""

    units: np.ndarray
    grads: list[dict[str, np.ndarray]]
    digits: int
    counted: tuple[float, float]
    engine: str | None
    rest: str | None


Settle = Callable[[NumericModel, int], tuple[list[dict[str, Any]], int]]


def exactly(model: NumericModel, loss: Any, grads: list[dict[str, np.ndarray]], changes: EntryChanges, digits: int,
            kept: tuple[float, float], settle: Settle | None = None, saturated: int = 0,
            entry: float = 0.0) -> UnitPass | None:
    """Where float64 fell short (``kept`` below ``digits``) in some units alone of a model whose units never
    meet: those units computed exactly as the whole model would be (at reruns.exact_digits of ``kept``,
    where the worst entry kept a digit and no gate saturated; else by ``settle``, which returns the gradients
    and their digits, from those digits or, saturated, from the digits the differences need — or not at
    all where it is None), their rows in place of float64's, and the digits counted again.  For one
    sequence only where at most half the units are short (a split reads the whole forward pass once).

    Args:
        model: the model in float64.
        loss: its float64 loss, as the reruns measured it.
        grads: its float64 gradients, as they measured them.
        changes: what they counted against each entry.
        digits: the digits asked for.
        kept: kept_digits' two counts.
        settle: for a pass whose worst entry kept no digit, or a saturated one, the caller's exact pass
            checked by more digits.
        saturated: a saturated pass's exact.saturation_digits (a bound on the digits its differences need),
            else 0: ``settle`` then makes the exact pass.
        entry: the digits every entry must keep of itself, as short_units takes it; the count again must
            reach it too.

    Returns:
        A UnitPass, or None where this does not apply or the count is still short of ``digits``.
    """
    if not separable(model):
        return None
    units = short_units(loss, changes, grads, digits, entry)
    n = model.params[0][f"{model.cell.states[0]}0"].shape[0]
    if units is None or not 0 < units.size < n or (model.x.shape[2] == 1 and 2 * units.size > n):
        return None
    sub = sub_model(model, units)
    engine = rest = None
    if kept[1] >= 1 and not saturated:  # rounding grew by about 10^(16 − kept), as measured: DPS beyond that
        traj = exact_forward(sub, exact_digits(kept))
        at = traj.digits
        with mpmath.workdps(at):
            _, _, exact, rest = split.exact_pass(sub, traj)
        engine = "Arb" if arbforward.made_with_arb(traj) else "mpmath"
    elif settle is not None:
        exact, at = settle(sub, exact_digits(kept))
    else:
        return None
    joined = spliced(grads, exact, units)
    again = counted(loss, changes, joined, units)
    if again[0] < digits or (entry and again[1] < entry):
        return None
    return UnitPass(units, joined, at, again, engine, rest)


def unit_words(units: np.ndarray, n: int) -> str:
    """The units in words, numbered from 1 as the figures number them: "unit 39 of 64", "units 4, 12 and
    21 of 64", and past LISTED of them only how many ("9 units of 64")."""
    if units.size > LISTED:
        return f"{units.size} units of {n}"
    names = [str(int(u) + 1) for u in units]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"unit{'s' if len(names) > 1 else ''} {listed} of {n}"


LISTED = 6  # units named in words; more are counted


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


def short_units(loss: Any, changes: EntryChanges, grads: list[dict[str, np.ndarray]], digits: int,
                entry: float = 0.0) -> np.ndarray | None:
    """The units (rows) in which some gradient entry changed by more than 10^−``digits`` of its gradient's
    largest entry, or by more than 10^−``entry`` of itself, sorted; None where the changes cannot say
    (EntryChanges.usable False, a block not counted, or the loss itself short: it is a sum over every unit).

    Args:
        loss: the float64 loss it measured.
        changes: what kept_digits counted against each entry.
        grads: the float64 gradients it measured (one layer; a block beyond float64's range as mpf).
        digits: the significant digits asked for, relative to each gradient's largest entry.
        entry: the digits every entry must keep of itself (a saturated pass's exact.ENTRY_DIGITS; 0: none).

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
        if entry:  # and against each entry itself (an exact 0 that moved keeps no digit)
            over |= np.asarray(moved > 10.0 ** -entry * np.abs(block), dtype=bool)
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
