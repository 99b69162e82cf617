"""Sweeps in one pass: log10|∂h_T/∂h_0| for a whole grid of weights (or gains) and every T at once.

The scalar sweep runs one vectorised forward pass over the weight grid, a_t = w h_{t-1} + u x_t + b for
all w together, and turns the product of factors into a cumulative sum of log10|w σ'(a_t)| down the time
axis (σ' from a, stably).  The matrix sweep multiplies the step Jacobians of W = g·W0 for all gains at
once, renormalising the running product each step.
"""

from __future__ import annotations

import math

import numpy as np

from ..activations import get_activation


def drive_inputs(T_max: int, seed: int, x: np.ndarray | None = None) -> np.ndarray:
    """The inputs x_t of a sweep: given, or drawn from U(−1, 1) with ``seed``."""
    if x is None:
        return np.random.default_rng(seed).uniform(-1.0, 1.0, T_max)
    return np.asarray(x, dtype=float)[:T_max]


def sweep_scalar(weights: np.ndarray, T_max: int, activation: str, u: float = 1.0, b: float = 0.0,
                 h0: float = 0.0, x: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """log10|∂h_T/∂h_0| for every weight and every T = 1..T_max, shape (T_max, len(weights)).

    One forward pass over the whole grid; log10|∂h_T/∂h_0| = Σ_{t≤T} log10|w σ'(a_t)| is a cumulative
    sum down the time axis."""
    act = get_activation(activation)
    w = np.asarray(weights, dtype=float)
    drive = u * drive_inputs(T_max, seed, x) + b
    pre = np.empty((T_max, w.size))
    h = np.full(w.size, float(h0))
    with np.errstate(all="ignore"):
        for t in range(T_max):
            np.multiply(w, h, out=pre[t])
            pre[t] += drive[t]
            h = act.np_sigma(pre[t])
        logs = act.np_log10_dsigma(pre)
        logs += np.log10(np.abs(w))
        return np.cumsum(logs, axis=0)


def bare_forward(weights: np.ndarray, T_max: int, u: float = 1.0, b: float = 0.0, h0: float = 0.0,
                 x: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """The floor a sweep is measured against: only h_t = tanh(w h_{t-1} + u x_t + b) over the grid."""
    w = np.asarray(weights, dtype=float)
    drive = u * drive_inputs(T_max, seed, x) + b
    h = np.full(w.size, float(h0))
    for t in range(T_max):
        h = np.tanh(w * h + drive[t])
    return h


def random_recurrent_matrix(n: int, seed: int = 0) -> np.ndarray:
    """W0 with entries N(0, 1/n), so that the gain g sets the scale (ρ(gW0) ≈ g for large n)."""
    return np.random.default_rng(seed).normal(0.0, 1.0 / math.sqrt(n), (n, n))


def sweep_gain(gains: np.ndarray, T_max: int, activation: str, n: int, seed: int = 0,
               W0: np.ndarray | None = None, input_scale: float = 1.0) -> np.ndarray:
    """log10‖∂h_T/∂h_0‖₂ for W = g·W0 over a grid of gains and T = 1..T_max, shape (T_max, len(gains))."""
    act = get_activation(activation)
    rng = np.random.default_rng(seed)
    W0 = random_recurrent_matrix(n, seed) if W0 is None else W0
    drive = input_scale * rng.normal(0.0, 1.0, (T_max, n))
    g = np.asarray(gains, dtype=float)
    Ws = g[:, None, None] * W0[None]
    h = np.zeros((g.size, n))
    product = np.broadcast_to(np.eye(n), (g.size, n, n)).copy()
    scale = np.zeros(g.size)
    out = np.empty((T_max, g.size))
    with np.errstate(all="ignore"):
        for t in range(T_max):
            a = np.einsum("gij,gj->gi", Ws, h) + drive[t]
            h = act.np_sigma(a)
            logd = act.np_log10_dsigma(a)
            top = np.max(logd, axis=1)
            top = np.where(np.isfinite(top), top, 0.0)
            d = 10.0 ** (logd - top[:, None])
            product = d[:, :, None] * Ws @ product  # J_t ⋯ J_1, J_t scaled by 10^{-top}
            scale += top
            size = np.max(np.abs(product), axis=(1, 2))
            safe = np.where(size > 0, size, 1.0)
            product /= safe[:, None, None]
            scale += np.log10(safe)
            norms = np.linalg.norm(product, 2, axis=(1, 2)) if np.all(np.isfinite(product)) else \
                np.full(g.size, np.nan)
            out[t] = np.where(size > 0, scale + np.log10(norms), -np.inf)
    return out
