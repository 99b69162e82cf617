"""Ready-made numbers for a cell, for sweeps and plots: random weights at a chosen scale, inputs drawn
from U(−1, 1), every choice named and seeded.

    W_* = gain · Z/√n  (so that ρ(W) ≈ |gain| for large n),   U_* = drive · Z'/√m,   Z, Z' standard normal,
    b_* = 0 except the LSTM forget bias b_f = forget_bias,    h0 = c0 = 0,   x_t ~ U(−1, 1),
    per-unit parameters (IndRNN's w, the LRU's ν) uniform on the interval the cell gives (IndRNN's w
    times the gain),

the inputs drawn from their own stream, so that every cell sees the same x for the same seed.
"""

from __future__ import annotations

import math

import numpy as np

from ..activations import get_activation
from ..cells import Cell, get_cell
from ..config import Config
from ..errors import SymbpttError
from ..validate import text

INITS = {  # how a recurrent matrix W0 is drawn (times a gain), and PyTorch's initialiser of the same law
    "gaussian": "W0 ~ N(0, 1/n)",  # torch.nn.init.normal_(W, 0, 1/√n)
    "orthogonal": "W0 orthogonal (Haar)",  # torch.nn.init.orthogonal_(W)
    "identity": "W0 = I",  # torch.nn.init.eye_(W): Le, Jaitly & Hinton's IRNN
}


def unit_recurrent(rng: np.random.Generator, n: int, init: str = "gaussian") -> np.ndarray:
    """W0 drawn from ``rng`` as ``init`` says (see INITS): Gaussian entries N(0, 1/n) (ρ ≈ 1 for large n),
    a Haar orthogonal matrix (every singular value 1), or the identity.

    Raises:
        SymbpttError: an unknown init.
    """
    text("init", init, f"one of {', '.join(INITS)}")
    if init == "gaussian":
        return rng.standard_normal((n, n)) / math.sqrt(n)
    if init == "orthogonal":
        q, r = np.linalg.qr(rng.standard_normal((n, n)))
        return q * np.where(np.diag(r) < 0, -1.0, 1.0)[None, :]
    if init == "identity":
        return np.eye(n)
    raise SymbpttError(f"unknown init {str(init)[:20]!r}; choose one of {', '.join(INITS)}")


def example_config(cell: str | Cell, T: int, n: int = 1, m: int = 1, gain: float = 1.0, drive: float = 1.0,
                   forget_bias: float = 1.0, seed: int = 0, activation: str | None = None,
                   overrides: dict[str, float] | None = None, init: str = "gaussian") -> Config:
    """A one-layer configuration of ``cell`` with seeded random weights (see the module docstring);
    ``overrides`` sets named parameters to a constant (every entry), e.g. {"b_f": 2.0}; ``init`` how the
    recurrent matrices are drawn (INITS; the Gaussian by default)."""
    spec = get_cell(cell, get_activation(activation or "tanh")) if isinstance(cell, str) else cell
    rng = np.random.default_rng([seed, 0])  # the weights (the inputs have a stream of their own)
    params: dict[str, np.ndarray] = {}
    for param in spec.params:
        kind = spec.kind(param)
        value: np.ndarray
        if kind == "recurrent":
            if init == "gaussian":  # a negative gain flips the signs
                value = rng.standard_normal((n, n)) * (gain / math.sqrt(n))
            else:
                value = unit_recurrent(rng, n, init) * gain
        elif kind == "input":
            value = rng.standard_normal((n, m)) * (drive / math.sqrt(m))
        elif kind == "scalar":
            value = np.zeros(1)
        elif kind == "unit":  # uniform on the cell's interval (times the gain for a recurrent one)
            value = rng.uniform(*spec.init_range(param), n) * (gain if param in spec.gain_scaled else 1.0)
        else:
            value = np.full(n, forget_bias if param == spec.forget_bias else 0.0)
        params[param] = value
    for param, constant in (overrides or {}).items():
        params[param] = np.full_like(params[param], float(constant))
    x = np.random.default_rng([seed, 1]).uniform(-1.0, 1.0, (T, m))  # the same for every cell
    # a Cell given as such stays the config's cell (a cell file's name alone would not find the file again)
    return Config(cell=cell, activation=activation if spec.uses_activation else None, layers=[params], x=x,
                  y=np.zeros(n), loss="last")


def takes_forget_bias(spec: Cell) -> bool:
    """Whether ``forget_bias`` sets one of the cell's biases (the LSTM's b_f)."""
    return spec.forget_bias is not None


def with_param(cfg: Config, param: str, value: float) -> Config:
    """A copy of ``cfg`` whose parameter ``param`` (every entry, first layer) is ``value``."""
    layers = [dict(p) for p in cfg.layers]
    layers[0][param] = np.full_like(layers[0][param], float(value))
    return Config(cfg.cell, cfg.activation, layers, cfg.x, cfg.y, cfg.loss, cfg.truncate, cfg.scalar)
