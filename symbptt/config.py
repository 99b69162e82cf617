"""A numeric RNN configuration (weights, inputs, targets), read from JSON and validated field by field.

File fields: activation, W, U, b, h0 (numbers for one scalar layer, nested lists for matrices, or a list
of such per layer under "layers"), x (T inputs, each a number or a list of m), y (a number or a list of n;
per step for loss "sum"), loss ("last" or "sum"), optional truncate (1..T).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .activations import get_activation
from .errors import SymbpttError
from .model import LOSSES

MAX_NUMERIC_HIDDEN = 256


@dataclass
class Config:
    """Numbers for one run: per-layer W (n×n), U (n×m), b (n), h0 (n); x (T×m); y (n) or (T×n)."""

    activation: str
    layers: list[dict[str, np.ndarray]]
    x: np.ndarray
    y: np.ndarray
    loss: str = "last"
    truncate: int | None = None
    scalar: bool = False

    @property
    def T(self) -> int:
        return self.x.shape[0]

    @property
    def n(self) -> int:
        return self.layers[0]["W"].shape[0]


def _array(name: str, value: Any, ndim: int) -> np.ndarray:
    """A float array of exactly ``ndim`` dimensions; a bare number is promoted for the scalar model."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise SymbpttError(f"field {name!r} must hold numbers (nested lists for matrices)") from None
    while arr.ndim < ndim:
        arr = arr.reshape((1,) + arr.shape) if arr.ndim else arr.reshape(1)
    if arr.ndim != ndim:
        raise SymbpttError(f"field {name!r} has {arr.ndim} dimensions, expected {ndim}")
    if not np.all(np.isfinite(arr)):
        raise SymbpttError(f"field {name!r} holds a non-finite number")
    return arr


def _layer(raw: dict[str, Any], where: str, m: int | None) -> dict[str, np.ndarray]:
    for key in ("W", "U", "b", "h0"):
        if key not in raw:
            raise SymbpttError(f"missing field {where + key!r}")
    W = _array(where + "W", raw["W"], 2)
    n = W.shape[0]
    if W.shape != (n, n):
        raise SymbpttError(f"field {where + 'W'!r} must be square (n×n), got {W.shape[0]}×{W.shape[1]}")
    if n > MAX_NUMERIC_HIDDEN:
        raise SymbpttError(f"hidden size {n} is larger than {MAX_NUMERIC_HIDDEN}")
    U = _array(where + "U", raw["U"], 2)
    if U.shape[0] != n or (m is not None and U.shape[1] != m):
        want = f"{n}×{m}" if m is not None else f"{n}×m"
        raise SymbpttError(f"field {where + 'U'!r} must be {want}, got {U.shape[0]}×{U.shape[1]}")
    b, h0 = _array(where + "b", raw["b"], 1), _array(where + "h0", raw["h0"], 1)
    for key, vec in (("b", b), ("h0", h0)):
        if vec.shape != (n,):
            raise SymbpttError(f"field {where + key!r} must have {n} entries, got {vec.shape[0]}")
    return {"W": W, "U": U, "b": b, "h0": h0}


def parse_config(data: Any) -> Config:
    """Validate a decoded JSON object; every error names the field."""
    if not isinstance(data, dict):
        raise SymbpttError("the parameters file must hold a JSON object")
    activation = data.get("activation", "tanh")
    if not isinstance(activation, str):
        raise SymbpttError("field 'activation' must be a string")
    get_activation(activation)
    loss = data.get("loss", "last")
    if loss not in LOSSES:
        raise SymbpttError(f"field 'loss' must be one of {', '.join(LOSSES)}, got {loss!r}")
    if "x" not in data:
        raise SymbpttError("missing field 'x'")
    if "y" not in data:
        raise SymbpttError("missing field 'y'")
    raw_layers = data["layers"] if "layers" in data else [data]
    if not isinstance(raw_layers, list) or not raw_layers:
        raise SymbpttError("field 'layers' must be a non-empty list of {W, U, b, h0} objects")
    x_raw = data["x"]
    if not isinstance(x_raw, list) or not x_raw:
        raise SymbpttError("field 'x' must be a non-empty list of T inputs")
    x = _array("x", x_raw, 2) if isinstance(x_raw[0], list) else _array("x", x_raw, 1)[:, None]
    layers = []
    for i, raw in enumerate(raw_layers):
        where = f"layers[{i}]." if "layers" in data else ""
        if not isinstance(raw, dict):
            raise SymbpttError(f"field 'layers[{i}]' must be an object")
        layers.append(_layer(raw, where, x.shape[1] if i == 0 else layers[0]["W"].shape[0]))
        if layers[-1]["W"].shape != layers[0]["W"].shape:
            raise SymbpttError(f"field {where + 'W'!r}: every layer must have the same hidden size")
    n, T = layers[0]["W"].shape[0], x.shape[0]
    y = _parse_y(data["y"], loss, n, T)
    truncate = data.get("truncate")
    if truncate is not None and (isinstance(truncate, bool) or not isinstance(truncate, int)
                                 or not 1 <= truncate <= T):
        raise SymbpttError(f"field 'truncate' must be an integer from 1 to T={T}, got {truncate!r}")
    scalar = not isinstance(raw_layers[0].get("W"), list)
    return Config(activation, layers, x, y, loss, truncate, scalar)


def _parse_y(raw: Any, loss: str, n: int, T: int) -> np.ndarray:
    if loss == "last":
        y = _array("y", raw, 1)
        if y.shape != (n,):
            raise SymbpttError(f"field 'y' must have {n} entries for loss 'last', got {y.shape[0]}")
        return y
    y = _array("y", raw, 2) if isinstance(raw, list) and raw and isinstance(raw[0], list) else None
    if y is None:
        flat = _array("y", raw, 1)
        y = flat[:, None] if n == 1 else flat[None, :]
    if y.shape != (T, n):
        raise SymbpttError(f"field 'y' must hold T={T} targets of {n} entries for loss 'sum', got {y.shape}")
    return y


def load_config(path: str | Path) -> Config:
    """Read and validate a parameters file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SymbpttError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise SymbpttError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return parse_config(data)


def _no_constant(name: str) -> float:
    raise SymbpttError(f"non-finite number {name} in the parameters file")


def finite_or_none(value: float) -> float | None:
    """JSON-safe: a finite float, or None (never NaN or Infinity)."""
    return float(value) if math.isfinite(value) else None
