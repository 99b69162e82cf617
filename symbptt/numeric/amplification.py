"""How much rounding a float64 pass can amplify, read off the δ it computed anyway (no extra pass).

δ_k = ∂L/∂s_k is what an error in the state s_k costs the loss: an error e made at step k reaches the
loss as δ_kᵀe, against δ_Tᵀe at the last step.  For loss 'last' the recursion is δ_k = (∂s_T/∂s_k)ᵀ δ_T,
so in exact arithmetic ‖δ_k‖₂ / ‖δ_T‖₂ ≤ ‖∂s_T/∂s_k‖₂, the Jacobian norm `symbptt grad` reads to foretell
what rounding costs.  For loss 'sum', δ_k = Σ_{t ≥ k} (∂s_t/∂s_k)ᵀ e_t with e_t the error the loss
injects at t (h_t − y_t), and ‖δ_k‖₂ / ((T − k + 1)·max_{t ≥ k} ‖e_t‖₂) is at most the largest
‖∂s_t/∂s_k‖₂.  Either is taken per sequence of the batch, over the top layer's whole state.

It is the growth of the δ as computed, along the trajectory the float64 pass computed: an indicator, not
a proof.  In a chaotic network that trajectory is not the exact one, and its norms are not those `grad`
reports from the exact pass (the chaotic tanh network of docs/performance.md §10b at T = 300: 10^28.6
here on the NumPy kernel against 10^24.8 there; the compiled kernel rounds differently and, chaos
amplifying that too, reads another value); elsewhere the two agree to rounding.
"""

from __future__ import annotations

import math

import numpy as np

LOG10_2 = math.log10(2.0)


def delta_growth(deltas: tuple[dict[tuple[int, str], np.ndarray], np.ndarray], states: tuple[str, ...],
                 h_top: np.ndarray, y: np.ndarray, loss: str) -> tuple[float, int] | None:
    """log10 of how much the top layer's δ grows back through time (see the module's notes).

    Args:
        deltas: every δ_t and the power-of-two exponent of each step, as kernel.deltas returns them
            (arrays (T + 1, n, B) by (layer, state); δ_t = array[t]·2^exps[t]).
        states: the cell's states (h, or h and c).
        h_top: the top layer's h_t for t = 0..T, shape (T + 1, n, B).
        y: the targets, (n, B) for loss 'last' and (T, n, B) for 'sum'.
        loss: 'last' or 'sum'.

    Returns:
        (the growth, the k at which it is largest), or None when no sequence gives one (δ_T or every
        injected error is 0, or a δ is not finite).
    """
    store, exps = deltas
    top = max(layer for layer, _ in store)
    blocks = [store[(top, state)] for state in states]
    squares = np.einsum("tnb,tnb->tb", blocks[0], blocks[0])  # ‖δ_t‖² of each sequence, (T + 1, B)
    for block in blocks[1:]:
        squares = squares + np.einsum("tnb,tnb->tb", block, block)
    T = squares.shape[0] - 1
    if loss == "last":
        found = _all_normal(squares, exps, T)
        if found is not None:
            return found
    with np.errstate(all="ignore"):  # 0, ∞ and NaN are looked at below
        base: np.ndarray | None = None  # log10 of what δ_k is divided by, where squares may not do
        if loss == "last":  # against ‖δ_T‖², with exponents relative to δ_T's
            against, shift = squares[T][None, :], LOG10_2 * (exps[:T] - exps[T])
            if not np.all((against >= NORMAL[0]) & (against <= NORMAL[1])):
                last = _log_norms(blocks, [T])
                if last is None:
                    return None
                base = last  # (1, B)
        else:  # against ((T − k + 1)·max_{t ≥ k} ‖e_t‖)²
            errors = h_top[1:] - y
            later = np.maximum.accumulate(np.einsum("tnb,tnb->tb", errors, errors)[::-1], axis=0)[::-1]
            counts = np.minimum(T + 1 - np.arange(T), T)[:, None]  # the terms δ_k adds up (k = 0 as k = 1)
            against, shift = counts * counts * np.concatenate([later[:1], later[:T - 1]]), LOG10_2 * exps[:T]
            base = 0.5 * np.log10(against)
        # a few NumPy calls: the largest ratio over the batch at each step, its log10 once per step
        in_range = loss == "sum" or base is None  # else every step the long way
        if not in_range:
            best = np.full(T, np.nan)
        elif squares.shape[1] == 1:
            best = squares[:T, 0] / against[..., 0]
        else:
            best = np.max(squares[:T] / against, axis=1)
        growth = 0.5 * np.log10(best) + shift
        low, high = float(best.min()), float(best.max())  # NaN fails the test below
        redo = (np.array([], dtype=int) if NORMAL[0] <= low and high <= NORMAL[1] else
                np.flatnonzero(~((best >= NORMAL[0]) & (best <= NORMAL[1]))))  # 0, ∞, NaN or subnormal
        if redo.size:  # those steps from the logs of every sequence's norm, each summed scaled
            logs = _log_norms(blocks, redo)
            if logs is None:
                return None
            if base is None:  # 'last', every ‖δ_T‖² in range
                base = 0.5 * np.log10(against)
            by_b = logs - (base[redo] if base.shape[0] == T else base)  # 'sum' per k; 'last' (1, B)
            by_b[~np.isfinite(by_b)] = -np.inf  # δ_T = 0, nothing injected from k on: no growth there
            growth[redo] = np.max(by_b, axis=1) + shift[redo]
            growth[~np.isfinite(growth)] = -np.inf
    k = int(np.argmax(growth))
    return (float(growth[k]), k) if growth[k] > -np.inf else None


NORMAL = (2.0**-1000, 2.0**1000)  # a square or ratio outside this may have lost digits or range


def _all_normal(squares: np.ndarray, exps: np.ndarray, T: int) -> tuple[float, int] | None:
    """delta_growth for loss 'last' in the common case, every square a normal float within NORMAL: at
    each step the largest 0.5·log10(‖δ_k‖²/‖δ_T‖²) over the batch plus the exponents' difference, in a
    few NumPy calls whatever T is.  One sequence: the logs of its T + 1 squares (in Python below FEW steps:
    within a whole call a dozen NumPy calls on a few numbers each cost more than the loop); a batch: the
    largest ratio at each step, then T logs (not T·B), where every largest ratio is within NORMAL.  None
    when a square or a ratio is not (0 included: it may have underflowed; ∞ and NaN: a δ float64 did not
    hold) — then the steps are looked at one by one."""
    if squares.shape[1] == 1 and T < FEW:  # one short sequence: read in Python, not a dozen NumPy calls
        values, steps = squares[:, 0].tolist(), exps[:T + 1].tolist()
        if not all(NORMAL[0] <= v <= NORMAL[1] for v in values):  # NaN fails the test
            return None
        logs = [math.log10(v) for v in values]
        growth_of = [0.5 * (logs[k] - logs[T]) + LOG10_2 * (steps[k] - steps[T]) for k in range(T)]
        k = max(range(T), key=growth_of.__getitem__)  # the first of equal ones, as argmax takes
        return growth_of[k], k
    low, high = float(squares.min()), float(squares.max())  # NaN fails the test
    if not (NORMAL[0] <= low and high <= NORMAL[1]):
        return None
    if squares.shape[1] == 1:
        logs = np.log10(squares[:, 0])
        growth = 0.5 * (logs[:T] - logs[T])
    else:
        if WITHIN[0] <= low and high <= WITHIN[1]:  # no ratio of two leaves float64's range
            best = (squares[:T] / squares[T]).max(axis=1)
        else:
            with np.errstate(all="ignore"):  # a ratio beyond range is found below
                best = (squares[:T] / squares[T]).max(axis=1)
            if not (NORMAL[0] <= float(best.min()) and float(best.max()) <= NORMAL[1]):
                return None
        growth = 0.5 * np.log10(best)
    growth = growth + LOG10_2 * (exps[:T] - exps[T])
    k = int(growth.argmax())
    return float(growth[k]), k


FEW = 64  # below this many steps one sequence's growth is read in Python (within a call: 44 → 27–31 µs at T = 10)
WITHIN = (2.0**-500, 2.0**500)  # squares whose ratios stay within NORMAL


def _log_norms(blocks: list[np.ndarray], steps: np.ndarray | list[int]) -> np.ndarray | None:
    """log10‖δ_t‖₂ of each sequence at the given steps, (len(steps), B), each norm summed divided by its
    largest entry (no square leaves range); −∞ for a zero δ, None when an entry is not finite."""
    columns = np.concatenate([block[steps] for block in blocks], axis=1)  # (steps, state size, B)
    if not np.isfinite(columns).all():  # a δ float64 did not hold: no growth to read from it
        return None
    peaks = np.max(np.abs(columns), axis=1)
    scaled = columns / np.where(peaks > 0, peaks, 1.0)[:, None, :]
    return np.log10(peaks) + 0.5 * np.log10(np.einsum("snb,snb->sb", scaled, scaled))


__all__ = ["delta_growth"]
