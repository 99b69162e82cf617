"""log10‖∂h_T/∂h_0‖₂ at one T for many gains, without forming the product: what `plot spectrum` draws.

The gain sweep (sweeps.sweep_gain) keeps the n×n product J_t ⋯ J_1 for every gain and every t, n³ per
gain and step.  A figure of the rate at T needs only ‖P_T‖₂, P_T = J_T ⋯ J_1, J_t = diag(σ'(a_t))·g·W0.
Its top singular value is found by block power iteration on P_Tᵀ P_T, each iteration a pass forward
(P_T Q) and one backward (P_Tᵀ U) through the T steps.  W0 is the same for every gain, so a step of a pass
is one matrix product W0 @ [the blocks of all gains] followed by a row scaling: n² times the block width
per gain and step.  The singular values of such a product separate like e^{T·gap}, so a few iterations
settle the estimate (POWER_TOLERANCE, as the sweep's own power iteration; the exact SVD of the formed
product would be the fallback, but a product of T factors is not formed here: a gain that has not settled
after MAX_ITERATIONS is reported as NaN).

Rounding: the backward pass from U (P_T's top left singular vectors) gives ‖uᵀ J_T ⋯ J_{k+1}‖ for every k,
a lower bound of how much the forward pass amplifies an error made at step k.  Since ‖P_T‖ ≤
‖uᵀ J_T ⋯ J_{k+1}‖·‖P_k‖, it is at least the bound the sweep uses (‖P_T‖/‖P_k‖), so a gain is marked
"rounding decides" where that lower bound exceeds 10^ROUNDING_DIGITS: never with less reason than before.
"""

from __future__ import annotations

import math

import numpy as np

from ..activations import get_activation, positively_homogeneous
from .spectral import BLOCK, POWER_TOLERANCE
from .sweeps import ROUNDING_DIGITS, checked_grid, recurrent_matrix

MAX_ITERATIONS = 40
EPS = float(np.finfo(float).eps)


def _scaled(Y: np.ndarray, logs: np.ndarray) -> np.ndarray:
    """Y (n, G, k) divided by each gain's largest entry, its log10 added to ``logs`` (in place)."""
    n, G, k = Y.shape
    top = np.abs(Y.reshape(n, G * k)).max(axis=0).reshape(G, k).max(axis=1)  # contiguous reductions: fast
    ok = (top > 0) & np.isfinite(top)
    logs += np.where(ok, np.log10(np.where(ok, top, 1.0)), np.where(top == 0, -np.inf, np.nan))
    return Y / np.where(ok, top, 1.0)[None, :, None]


ITERATIONS = 6  # forward and backward passes a sweep usually needs (4 to 6 measured at n = 256, T = 200)


def final_gain_cost(gains: int, T: int, n: int) -> dict[str, float]:
    """What ``final_gain_rates`` costs: the forward pass of h, then about ITERATIONS forward and backward
    passes of a block of BLOCK vectors per gain, and the arrays it keeps (W = g·W0 per gain, g·σ' per step,
    gain and unit, and the iteration's blocks with their QR factorisations)."""
    k = min(BLOCK, n)
    return {"flops": T * gains * n * n * (1.0 + 2.0 * k * ITERATIONS),
            "floats": gains * n * (n + 2.0 * T + 8.0 * k)}


def final_gain_rates(gains: np.ndarray, T: int, activation: str, n: int, seed: int = 0,
                     W0: np.ndarray | None = None, input_scale: float = 1.0,
                     init: str = "gaussian") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log10‖∂h_T/∂h_0‖₂ at T for W = g·W0 over ``gains``, whether rounding decides each value, and
    whether the forward pass left float64's range.

    The same networks, inputs and trajectory as ``sweep_gain(gains, T, …)[-1]`` (drive N(0, input_scale²)
    from ``seed``; W = g·W0 formed first).

    Args:
        gains: a 1-D array of gains.
        T: the steps.
        activation: a built-in activation or an expression in ``a``.
        n: the width.
        seed: the inputs' seed (and W0's when it is not given).
        W0: the unit recurrent matrix (default: drawn as ``init`` says).
        input_scale: the inputs' standard deviation.
        init: how W0 is drawn when not given.

    Returns:
        (log10 norms (G,), rounding decides (G,) booleans, left float64 (G,) booleans); a norm is −inf
        where the product is exactly 0, NaN where the forward pass left float64's range (the third array
        says where) or the iteration did not settle.
    """
    T, _ = checked_grid(gains, T)
    act = get_activation(activation)
    rng = np.random.default_rng(seed)
    W0 = recurrent_matrix(n, seed, init) if W0 is None else np.asarray(W0, dtype=float)
    drive = input_scale * rng.normal(0.0, 1.0, (T, n))
    g = np.asarray(gains, dtype=float)
    G, k = g.size, min(BLOCK, n)
    Ws = g[:, None, None] * W0[None]
    h = np.zeros((G, n))
    scale = np.empty((T, G, n))  # g·σ'(a_t) per gain and unit, divided by its largest …
    shift = np.empty((T, G))  # … whose log10 is kept here
    broken = np.zeros(G, dtype=bool)
    with np.errstate(all="ignore"):
        log_gain = np.log10(np.abs(g))[:, None]
        for t in range(T):
            a = np.einsum("gij,gj->gi", Ws, h) + drive[t]  # as the sweep computes it
            h = act.np_sigma(a)
            logd = act.np_log10_dsigma(a) + log_gain
            top = np.max(logd, axis=1)
            broken |= ~np.isfinite(top) & (top != -np.inf) | ~np.isfinite(a).all(axis=1)
            top = np.where(np.isfinite(top), top, 0.0)
            scale[t], shift[t] = 10.0 ** (logd - top[:, None]), top
        # a gain whose forward pass left float64 is reported NaN: its factors are set to 0 so that its NaN
        # and ∞ do not reach the other gains' SVDs and QRs (LAPACK's SVD refuses a block holding NaN)
        scale[:, broken, :] = 0.0
        after = np.cumsum(shift[::-1], axis=0)[::-1]  # after[t]: log10 scale of J_T ⋯ J_(t+1), steps t..T−1
        total_shift = after[0]
        # block power iteration on P_Tᵀ P_T: Q the right block, U the left one; the blocks of all gains side
        # by side as one n × (G·k) array, so that each step is one BLAS product with W0 (or W0ᵀ)
        rows = np.transpose(scale, (0, 2, 1))[:, :, :, None]  # (T, n, G, 1)
        Q = np.broadcast_to(np.eye(n, k), (G, n, k)).copy()
        Q[:, :, -1] = np.random.default_rng(seed).normal(size=(G, n))
        Q = np.linalg.qr(Q)[0]
        estimate, settled = np.full(G, np.nan), np.zeros(G, dtype=bool)
        U = Q
        for _ in range(MAX_ITERATIONS):
            Y, logs = np.ascontiguousarray(np.transpose(Q, (1, 0, 2))), np.zeros(G)  # (n, G, k)
            for t in range(T):  # forward: Y ← J_t Y
                Y = (W0 @ Y.reshape(n, G * k)).reshape(n, G, k) * rows[t]
                Y = _scaled(Y, logs)
            Yg = np.transpose(Y, (1, 0, 2))
            sigma = np.linalg.svd(Yg, compute_uv=False)[:, 0]  # ‖P_T Q‖ = σ₁(P_T Q) ≤ ‖P_T‖
            with np.errstate(divide="ignore"):
                new = logs + total_shift + np.log10(sigma)
            # settled: the norm moved by at most POWER_TOLERANCE relatively, or by no more than the rounding of
            # a log10 summed over T steps can move it (about T ulps of the value)
            limit = POWER_TOLERANCE / math.log(10.0) + 16 * EPS * (np.abs(new) + T)
            settled = np.isfinite(new) & np.isfinite(estimate) & (np.abs(new - estimate) <= limit)
            estimate = new
            U = np.linalg.qr(Yg)[0]
            if (settled | ~np.isfinite(new)).all():  # a product exactly 0 (or NaN) is as settled as it gets
                break
            Z = np.ascontiguousarray(np.transpose(U, (1, 0, 2)))
            for t in range(T - 1, -1, -1):  # backward: Z ← J_tᵀ Z
                Z = (W0.T @ (Z * rows[t]).reshape(n, G * k)).reshape(n, G, k)
                Z = _scaled(Z, np.zeros(G))
            Q = np.linalg.qr(np.transpose(Z, (1, 0, 2)))[0]
        # amplification of an error at step k: ‖uᵀ J_T ⋯ J_{k+1}‖ with u the top left singular vector
        w, logs, amplified = np.ascontiguousarray(U[:, :, 0].T), np.zeros(G), np.zeros(G)  # (n, G)
        for t in range(T - 1, 0, -1):
            w = W0.T @ (w * rows[t][:, :, 0])
            w = _scaled(w[:, :, None], logs)[:, :, 0]
            norm = np.log10(np.linalg.norm(w, axis=0)) + logs + after[t]
            amplified = np.fmax(amplified, np.where(np.isfinite(norm), norm, -np.inf))
        amplified = np.fmax(amplified, estimate)  # k = 0: the whole product
    values = np.where(broken | ~(settled | ~np.isfinite(estimate)), np.nan, estimate)
    values = np.where(~broken & (estimate == -np.inf), -np.inf, values)
    decides = (np.zeros(G, dtype=bool) if positively_homogeneous(activation)  # linear, relu: see sweeps
               else (amplified > ROUNDING_DIGITS) & np.isfinite(values))
    return values, decides, broken


__all__ = ["final_gain_rates"]
