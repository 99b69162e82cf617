"""A trial of the cross-check: a network drawn at random (cell, activation, sizes, loss, truncation,
sometimes saturated units) and the reference activation it is compared with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np

from ..config import Config
from ..reference import ACTIVATED

ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "a/(1+abs(a))", "erf(a)", "max(a, 0.1*a)")


def _custom_pair(text: str, kind: str) -> tuple[Callable, Callable]:
    """σ and σ' of the check's custom activations, written here independently of the parser; at a kink σ'
    is the derivative from the left (leaky'(0) = 0.1)."""
    if kind == "float":
        import math as m

        erf = np.vectorize(m.erf, otypes=[float])
        floats: dict[str, tuple[Callable, Callable]] = {
            "a/(1+abs(a))": (lambda a: a / (1 + np.abs(a)), lambda a: 1 / (1 + np.abs(a)) ** 2),
            "erf(a)": (erf, lambda a: 2 / np.sqrt(np.pi) * np.exp(-a * a)),
            "max(a, 0.1*a)": (lambda a: np.where(a > 0, a, 0.1 * a), lambda a: np.where(a > 0, 1.0, 0.1)),
        }
        return floats[text]
    erf, exp = np.frompyfunc(mpmath.erf, 1, 1), np.frompyfunc(mpmath.exp, 1, 1)
    tenth = mpmath.mpf(1) / 10
    table: dict[str, tuple[Callable, Callable]] = {
        "a/(1+abs(a))": (lambda a: a / (1 + np.abs(a)), lambda a: 1 / (1 + np.abs(a)) ** 2),
        "erf(a)": (erf, lambda a: 2 / mpmath.sqrt(mpmath.pi) * exp(-a * a)),
        "max(a, 0.1*a)": (lambda a: np.where(a > 0, a, tenth * a), lambda a: np.where(a > 0, 1, tenth) * (a * 0 + 1)),
    }
    return table[text]


def reference_activation(act: str, kind: str) -> str | tuple:
    return act if act in ("tanh", "sigmoid", "relu", "linear") else _custom_pair(act, kind)


@dataclass
class Trial:
    cell: str
    activation: str | None
    n: int
    m: int
    layers: int
    T: int
    loss: str
    truncate: int | None
    saturated: bool
    config: Config

    def describe(self) -> str:
        act = f", {self.activation}" if self.activation else ""
        extra = (f", truncate {self.truncate}" if self.truncate else "") + (", saturated" if self.saturated else "")
        return (f"{self.cell}{act}, T={self.T}, n={self.n}, m={self.m}, layers={self.layers}, "
                f"loss {self.loss}{extra}")


DRAWN = ("rnn", "rnn", "rnn", "lstm", "gru", "mingru", "minlstm", "indrnn", "lru")  # the vanilla cell 3× as often


def draw_layers(spec, n: int, m: int, layers: int, rng: np.random.Generator, scale: float = 0.8) -> list[dict]:
    """Every layer's parameters for a check: weights and biases N(0, scale²), initial states U(−½, ½)."""
    params = []
    for ell in range(layers):
        width = m if ell == 0 else n
        p = {}
        for name in spec.params:
            kind = spec.kind(name)
            shape = spec.shape(name, n, width)
            if kind == "unit":  # per-unit parameters on the cell's own interval (the LRU's ν: λ near 1)
                low, high = spec.init_range(name)
                p[name] = rng.uniform(low, high, shape)
            else:
                p[name] = rng.normal(0, scale, shape) if kind != "initial" else rng.uniform(-0.5, 0.5, shape)
        params.append(p)
    return params


def random_trial(rng: np.random.Generator, T_max: int, cells: tuple[str, ...] = DRAWN) -> Trial:
    """One random network with its numbers, its cell drawn from ``cells`` (a tuple as it was earlier
    reproduces that version's trials)."""
    from ..activations import get_activation
    from ..cells import get_cell

    cell = str(rng.choice(list(cells)))
    act = str(rng.choice(ACTIVATIONS)) if cell in ACTIVATED else None
    n, m, layers = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
    T, loss = int(rng.integers(1, T_max + 1)), str(rng.choice(["last", "sum"]))
    truncate = int(rng.integers(1, T + 1)) if rng.random() < 0.4 else None
    saturated = rng.random() < 0.2 and act not in ("linear", "relu", "max(a, 0.1*a)")
    spec = get_cell(cell, get_activation("tanh"))  # only its parameters are read: they do not depend on σ
    params = draw_layers(spec, n, m, layers, rng)
    x = rng.uniform(-1, 1, (T, m)) * (rng.uniform(20, 80) if saturated else 1.0)
    y = rng.uniform(-1, 1, n) if loss == "last" else rng.uniform(-1, 1, (T, n))
    cfg = Config(cell, act, params, x, y, loss, truncate, scalar=n == 1)
    return Trial(cell, act, n, m, layers, T, loss, truncate, saturated, cfg)
