"""How much rounding a float64 pass can amplify, read off the δ it computed anyway (no extra pass).

δ_k = ∂L/∂s_k is what an error in the state s_k costs the loss: an error e made at step k reaches the
loss as δ_kᵀe, against δ_Tᵀe at the last step.  For loss 'last' the recursion is δ_k = (∂s_T/∂s_k)ᵀ δ_T,
so in exact arithmetic ‖δ_k‖₂ / ‖δ_T‖₂ ≤ ‖∂s_T/∂s_k‖₂, the Jacobian norm `symbptt grad` reads to foretell
what rounding costs.  For loss 'sum', δ_k = Σ_{t ≥ k} (∂s_t/∂s_k)ᵀ e_t with e_t the error the loss
injects at t (h_t − y_t), and ‖δ_k‖₂ / ((T − k + 1)·max_{t ≥ k} ‖e_t‖₂) is at most the largest
‖∂s_t/∂s_k‖₂.  Either is taken per sequence of the batch, over the top layer's whole state.

It is the growth of the δ as computed, along the trajectory the float64 pass computed: an indicator, not
a proof.  In a chaotic network that trajectory is not the exact one, and its norms are not those `grad`
reports from the exact pass (tests/test_gradients.py's chaotic tanh network: 10^28.1 here against
10^24.8 there); elsewhere the two agree to rounding.
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
    with np.errstate(divide="ignore", invalid="ignore"):  # log10 0 = −∞, and −∞ − (−∞) dropped below
        return _growth(_log_norms([store[(top, state)] for state in states]), exps, h_top, y, loss)


def _growth(logs: np.ndarray | None, exps: np.ndarray, h_top: np.ndarray, y: np.ndarray, loss: str
            ) -> tuple[float, int] | None:
    if logs is None:
        return None
    T = logs.shape[0] - 1
    logs += LOG10_2 * np.asarray(exps[:T + 1], dtype=float)[:, None]  # δ_t = array·2^exps[t]
    if loss == "last":
        growth = logs[:T] - logs[T]
    else:
        errors = h_top[1:] - y
        injected = np.sqrt(np.einsum("tnb,tnb->tb", errors, errors))  # ‖e_t‖, t = 1..T
        later = np.maximum.accumulate(injected[::-1], axis=0)[::-1]  # max over t' ≥ t
        counts = np.minimum(T + 1 - np.arange(T), T)[:, None]  # the terms δ_k adds up (k = 0 as k = 1)
        growth = logs[:T] - np.log10(counts * np.concatenate([later[:1], later[:T - 1]]))
    # δ_T = 0 ('last') or no error injected from k on ('sum') gives no growth: +∞ or NaN there, dropped
    growth[~np.isfinite(growth)] = -np.inf
    at = int(np.argmax(growth))
    k, b = divmod(at, growth.shape[1])
    return (float(growth[k, b]), k) if growth[k, b] > -np.inf else None


SAFE_SQUARES = (2.0**-900, 2.0**900)  # a sum of squares outside this may have lost range: taken again scaled


def _log_norms(blocks: list[np.ndarray]) -> np.ndarray | None:
    """log10‖δ_t‖₂ of each step and sequence, (T + 1, B), from the states' blocks (T + 1, n, B); −∞ for a
    zero δ, None when an entry is not finite.  The squares are summed directly (a few NumPy calls), and
    those (t, b) whose sum may have under- or overflowed are summed again, each divided by its largest
    entry."""
    squares = np.einsum("tnb,tnb->tb", blocks[0], blocks[0])
    for block in blocks[1:]:
        squares = squares + np.einsum("tnb,tnb->tb", block, block)
    logs = 0.5 * np.log10(squares)  # a zero δ gives −∞
    doubtful = ~((squares >= SAFE_SQUARES[0]) & (squares <= SAFE_SQUARES[1]))  # 0 (or underflow), NaN, ∞
    if doubtful.any():
        ts, bs = np.nonzero(doubtful)
        columns = np.concatenate([block[ts, :, bs] for block in blocks], axis=1)  # (doubtful, state size)
        if not np.isfinite(columns).all():
            return None
        peaks = np.max(np.abs(columns), axis=1)
        scaled = columns / np.where(peaks > 0, peaks, 1.0)[:, None]
        logs[ts, bs] = np.log10(peaks) + 0.5 * np.log10(np.einsum("kj,kj->k", scaled, scaled))  # 0: −∞
    return logs


__all__ = ["delta_growth"]
