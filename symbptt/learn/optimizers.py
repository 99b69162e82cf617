"""Gradient descent steps on per-layer parameter dicts, one rule per optimizer, and Pascanu et al.'s
clipping: when ‖g‖ > c the whole gradient is rescaled to length c (its direction is kept)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import SymbpttError
from ..validate import number

Params = list[dict[str, np.ndarray]]


def global_norm(grads: Params) -> float:
    return math.sqrt(sum(float(np.sum(g * g)) for layer in grads for g in layer.values()))


def clip_by_norm(grads: Params, limit: float | None) -> tuple[Params, bool, float]:
    """Rescale the whole gradient to length ``limit`` when it is longer (its direction kept).

    Args:
        grads: one dict of arrays per layer.
        limit: the longest gradient let through (positive), or None for no clipping.

    Returns:
        (g·min(1, limit/‖g‖), whether it was rescaled, ‖g‖ before).

    Raises:
        SymbpttError: grads not a list of dicts of arrays, or a limit that is not a positive number.
    """
    if not isinstance(grads, list) or not all(isinstance(layer, dict) for layer in grads):
        raise SymbpttError(f"grads must be a list of dicts of arrays (one per layer), got {type(grads).__name__}")
    if limit is not None:
        limit = number("limit", limit, positive=True)
    norm = global_norm(grads)
    if limit is None or norm <= limit or not math.isfinite(norm):
        return grads, False, norm
    scale = limit / norm
    return [{k: v * scale for k, v in layer.items()} for layer in grads], True, norm


class SGD:
    """θ ← θ − lr·g"""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def step(self, params: Params, grads: Params) -> None:
        for p, g in zip(params, grads, strict=True):
            for k in g:
                p[k] -= self.lr * g[k]


class Momentum(SGD):
    """v ← β·v + g,  θ ← θ − lr·v   (β = 0.9)"""

    def __init__(self, lr: float, beta: float = 0.9) -> None:
        super().__init__(lr)
        self.beta = beta
        self.velocity: Params | None = None

    def step(self, params: Params, grads: Params) -> None:
        if self.velocity is None:
            self.velocity = [{k: np.zeros_like(v) for k, v in g.items()} for g in grads]
        for p, g, v in zip(params, grads, self.velocity, strict=True):
            for k in g:
                v[k] = self.beta * v[k] + g[k]
                p[k] -= self.lr * v[k]


class Adam(SGD):
    """m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  θ ← θ − lr·m̂/(√v̂ + ε)   (β₁ = 0.9, β₂ = 0.999, ε = 1e-8)"""

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1, self.beta2, self.eps, self.t = beta1, beta2, eps, 0
        self.m: Params | None = None
        self.v: Params | None = None

    def step(self, params: Params, grads: Params) -> None:
        if self.m is None or self.v is None:
            self.m = [{k: np.zeros_like(v) for k, v in g.items()} for g in grads]
            self.v = [{k: np.zeros_like(v) for k, v in g.items()} for g in grads]
        self.t += 1
        fix1, fix2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            for k in g:
                m[k] = self.beta1 * m[k] + (1 - self.beta1) * g[k]
                v[k] = self.beta2 * v[k] + (1 - self.beta2) * g[k] ** 2
                p[k] -= self.lr * (m[k] / fix1) / (np.sqrt(v[k] / fix2) + self.eps)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, lr: float) -> SGD:
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise SymbpttError(f"unknown optimizer {name!r:.40}; choose one of {', '.join(OPTIMIZERS)}")
    if not lr > 0 or not math.isfinite(lr):
        raise SymbpttError(f"--lr must be a positive number, got {lr}")
    return OPTIMIZERS[name](lr)
