"""Iterative BPTT in plain NumPy: the independent reference the symbolic forms are checked against.

This module imports nothing from the rest of symbptt (not even its activation table), so a mistake in
the symbolic engine cannot hide in both.  It is the textbook backward loop, float64 throughout:

    forward:   a_t = W h_{t-1} + U x_t + b,   h_t = σ(a_t)
    backward:  δ_T = ∂L/∂h_T;  for t = T..1:  da = δ_t ⊙ σ'(a_t);  dW += da h_{t-1}ᵀ;  dU += da x_tᵀ;
               db += da;  δ_{t-1} = Wᵀ da (+ ∂ℓ_{t-1}/∂h_{t-1});  below: δ^(ℓ-1)_t += U^(ℓ)ᵀ da
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = {
    "tanh": (np.tanh, lambda a: 1.0 - np.tanh(a) ** 2),
    "sigmoid": (lambda a: 1.0 / (1.0 + np.exp(-a)), lambda a: np.exp(-a) / (1.0 + np.exp(-a)) ** 2),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a: (a > 0).astype(float)),
    "linear": (lambda a: a.astype(float), lambda a: np.ones_like(a, dtype=float)),
}

Layer = dict[str, np.ndarray]  # keys W (n×n), U (n×m), b (n), h0 (n)


def forward(layers: list[Layer], x: np.ndarray, activation: str) -> tuple[list, list]:
    """a[ℓ][t], h[ℓ][t] for t = 0..T (h[ℓ][0] = h0, a[ℓ][0] unused); x has shape (T, m)."""
    sigma = ACTIVATIONS[activation][0]
    T = x.shape[0]
    a = [[None] * (T + 1) for _ in layers]
    h = [[p["h0"]] + [None] * T for p in layers]
    for t in range(1, T + 1):
        inp = x[t - 1]
        for ell, p in enumerate(layers):
            a[ell][t] = p["W"] @ h[ell][t - 1] + p["U"] @ inp + p["b"]
            h[ell][t] = sigma(a[ell][t])
            inp = h[ell][t]
    return a, h


def loss_value(h_top: list, y: np.ndarray, loss: str) -> float:
    """½‖h_T − y‖² (last) or Σ_t ½‖h_t − y_t‖² (sum); y has shape (n,) or (T, n)."""
    T = len(h_top) - 1
    if loss == "last":
        return 0.5 * float(np.sum((h_top[T] - y) ** 2))
    return 0.5 * float(sum(np.sum((h_top[t] - y[t - 1]) ** 2) for t in range(1, T + 1)))


def bptt(layers: list[Layer], x: np.ndarray, y: np.ndarray, activation: str, loss: str = "last"
         ) -> tuple[float, list[Layer]]:
    """Loss and gradients (same keys and shapes as ``layers``) by the classic backward loop."""
    dsigma = ACTIVATIONS[activation][1]
    a, h = forward(layers, x, activation)
    T, top = x.shape[0], len(layers) - 1
    grads = [{k: np.zeros_like(v, dtype=float) for k, v in p.items()} for p in layers]
    carry = [np.zeros_like(p["h0"], dtype=float) for p in layers]  # δ^(ℓ)_t arriving from step t+1
    for t in range(T, 0, -1):
        delta = [c.copy() for c in carry]
        if loss == "sum":
            delta[top] += h[top][t] - y[t - 1]
        elif t == T:
            delta[top] += h[top][t] - y
        for ell in range(top, -1, -1):
            p, g = layers[ell], grads[ell]
            da = delta[ell] * dsigma(a[ell][t])
            inp = x[t - 1] if ell == 0 else h[ell - 1][t]
            g["W"] += np.outer(da, h[ell][t - 1])
            g["U"] += np.outer(da, inp)
            g["b"] += da
            carry[ell] = p["W"].T @ da
            if ell > 0:
                delta[ell - 1] += p["U"].T @ da
    for ell in range(top + 1):
        grads[ell]["h0"] = carry[ell]
    return loss_value(h[top], y, loss), grads


def finite_differences(layers: list[Layer], x: np.ndarray, y: np.ndarray, activation: str,
                       loss: str = "last", eps: float = 1e-6) -> list[Layer]:
    """Central differences (L(θ+ε) − L(θ−ε)) / 2ε for every parameter entry."""
    grads = []
    for ell, p in enumerate(layers):
        g = {}
        for key, value in p.items():
            out = np.zeros_like(value, dtype=float)
            for idx in np.ndindex(value.shape):
                plus = [dict(q) for q in layers]
                minus = [dict(q) for q in layers]
                plus[ell][key] = value.astype(float).copy()
                minus[ell][key] = value.astype(float).copy()
                plus[ell][key][idx] += eps
                minus[ell][key][idx] -= eps
                lp = loss_value(forward(plus, x, activation)[1][-1], y, loss)
                lm = loss_value(forward(minus, x, activation)[1][-1], y, loss)
                out[idx] = (lp - lm) / (2 * eps)
            g[key] = out
        grads.append(g)
    return grads
