"""A numeric configuration (cell, weights, inputs, targets), read from JSON and validated field by field.

File fields: cell (a built-in cell: rnn, lstm, gru, indrnn, mingru, minlstm, lru, or a cell file; default rnn),
activation (rnn only), the cell's
parameters by name (rnn: W, U, b, h0; numbers for one scalar layer, nested lists for matrices; the scalar
model's lower-case w, u are accepted too) or a list of such objects under "layers", x (T inputs, each a
number or a list of m), y (a number or a list of n; per step for loss "sum"), loss ("last" or "sum"),
optional truncate (1..T).  Every refusal names the field; unknown fields are refused with the nearest
known name.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .activations import get_activation
from .cells import BUILTIN, TAKES_ACTIVATION, Cell, get_cell
from .errors import SymbpttError
from .model import LOSSES

MAX_NUMERIC_HIDDEN = 256
MAX_FILE_BYTES = 64 * 2**20
MAX_STEPS = 1_000_000
FIELDS = ("cell", "activation", "loss", "x", "y", "truncate", "layers")


@dataclass
class Config:
    """Numbers for one run: per-layer parameters by name; x (T×m); y (n) or (T×n)."""

    cell: str | Cell  # a built-in cell's name, a cell file's path, or the cell itself
    activation: str | None
    layers: list[dict[str, np.ndarray]]
    x: np.ndarray
    y: np.ndarray
    loss: str = "last"
    truncate: int | None = None
    scalar: bool = False
    spec: Cell = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.spec = get_cell(self.cell, get_activation(self.activation or "tanh"))

    @property
    def T(self) -> int:
        return self.x.shape[0]

    @property
    def n(self) -> int:
        return self.layers[0][self.spec.params[-1]].shape[0]

    @property
    def m(self) -> int:
        return self.x.shape[1]

    @property
    def act_name(self) -> str:
        return self.activation or "tanh"

    def input_size(self, layer: int) -> int:
        return self.m if layer == 1 else self.n


def _array(name: str, value: Any, ndim: int) -> np.ndarray:
    """A float array of exactly ``ndim`` dimensions; a bare number is promoted for the scalar model."""
    _check_numbers(name, value, 0)
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise SymbpttError(f"field {name!r} must hold numbers in rows of equal length") from None
    while arr.ndim < ndim:
        arr = arr.reshape((1,) + arr.shape) if arr.ndim else arr.reshape(1)
    if arr.ndim != ndim:
        raise SymbpttError(f"field {name!r} has {arr.ndim} dimensions, expected {ndim}")
    if not np.all(np.isfinite(arr)):
        raise SymbpttError(f"field {name!r} holds a number too large for float64")
    if 0 in arr.shape:
        raise SymbpttError(f"field {name!r} is empty")
    return arr


def _check_numbers(name: str, value: Any, depth: int) -> None:
    """Numbers or lists of them, at most three levels deep; no strings, booleans or null."""
    if depth > 3:
        raise SymbpttError(f"field {name!r} is nested too deeply")
    if isinstance(value, list):
        for item in value:
            _check_numbers(name, item, depth + 1)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SymbpttError(f"field {name!r} must hold numbers, got {type(value).__name__} {str(value)[:20]!r}")
    if isinstance(value, int) and abs(value) > 1e300:
        raise SymbpttError(f"field {name!r} holds an integer too large for float64")


def _layer(spec: Cell, raw: dict[str, Any], where: str, m: int, n: int | None) -> dict[str, np.ndarray]:
    aliases = {p[0].lower() + p[1:]: p for p in spec.params if p[0] in "WU"}
    given = {aliases.get(k, k): v for k, v in raw.items() if k not in FIELDS}
    unknown = [k for k in raw if k not in FIELDS and aliases.get(k, k) not in spec.params]
    if unknown:
        other = _other_cell(unknown[0], spec)
        if other:
            raise SymbpttError(f"field {where + unknown[0]!r} is a parameter of the {other} cell, not of "
                               f"{spec.name} (its parameters: {', '.join(spec.params)})")
        _refuse_unknown(unknown[0], where, [*spec.params, *aliases, *FIELDS])
    for param in spec.params:
        if param not in given:
            raise SymbpttError(f"missing field {where + param!r} (the {spec.name} cell's parameters: "
                               f"{', '.join(spec.params)})")
    if n is None:  # the size of the state: from a recurrent weight, else from the initial state
        first = next((p for p in spec.params if spec.kind(p) == "recurrent"), None)
        if first is not None:
            n = _array(where + first, given[first], 2).shape[0]
        else:
            initial = next(p for p in spec.params if spec.kind(p) == "initial")
            n = _array(where + initial, given[initial], 1).shape[0]
    if n > MAX_NUMERIC_HIDDEN:
        raise SymbpttError(f"hidden size {n} is larger than {MAX_NUMERIC_HIDDEN}")
    out = {}
    for param in spec.params:
        want = spec.shape(param, n, m)
        arr = _array(where + param, given[param], len(want))
        if arr.shape != want:
            got = "×".join(map(str, arr.shape))
            raise SymbpttError(f"field {where + param!r} must be {'×'.join(map(str, want))}, got {got}")
        out[param] = arr
    return out


def _other_cell(name: str, spec: Cell) -> str | None:
    """The built-in cell that has a parameter called ``name`` (W → rnn, W_f → lstm), if any."""
    from .cells import gru, lstm, rnn

    for cell in (rnn(get_activation("tanh")), lstm(), gru()):
        if cell.name != spec.name and name in {*cell.params, *(p[0].lower() + p[1:] for p in cell.params)}:
            return cell.name
    return None


def _refuse_unknown(name: str, where: str, known: list[str]) -> None:
    import difflib  # only for the hint (its import is a millisecond of every start-up)

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise SymbpttError(f"unknown field {where + name!r}{hint}")


def parse_config(data: Any, base: Path | None = None) -> Config:
    """Validate a decoded JSON object; every error names the field."""
    if not isinstance(data, dict):
        raise SymbpttError("the parameters file must hold a JSON object")
    cell_name = data.get("cell", "rnn")
    if not isinstance(cell_name, str) or not cell_name:
        raise SymbpttError(f"field 'cell' must be one of {', '.join(BUILTIN)} or the path of a cell file")
    if cell_name.endswith(".toml") and base is not None and not Path(cell_name).is_absolute():
        cell_name = str(base / cell_name)
    activation = data.get("activation")
    if activation is not None and not isinstance(activation, str):
        raise SymbpttError("field 'activation' must be a string")
    spec = get_cell(cell_name, get_activation(activation or "tanh"))
    if activation is not None and not spec.uses_activation:
        raise SymbpttError(f"field 'activation' applies to the {' and '.join(TAKES_ACTIVATION)} cells only, "
                           f"not {spec.name}")
    loss = data.get("loss", "last")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise SymbpttError(f"field 'loss' must be one of {', '.join(LOSSES)}, got {str(loss)[:20]!r}")
    for key in ("x", "y"):
        if key not in data:
            raise SymbpttError(f"missing field {key!r}")
    x = _inputs(data["x"])
    raw_layers = data["layers"] if "layers" in data else [data]
    if not isinstance(raw_layers, list) or not raw_layers:
        raise SymbpttError("field 'layers' must be a non-empty list of parameter objects")
    if "layers" in data:
        stray = [k for k in data if k not in FIELDS]
        if stray:
            _refuse_unknown(stray[0], "", list(FIELDS))
    layers: list[dict[str, np.ndarray]] = []
    for i, raw in enumerate(raw_layers):
        where = f"layers[{i}]." if "layers" in data else ""
        if not isinstance(raw, dict):
            raise SymbpttError(f"field 'layers[{i}]' must be an object")
        n = layers[0][spec.params[-1]].shape[0] if layers else None
        layers.append(_layer(spec, raw, where, x.shape[1] if n is None else n, n))
    n, T = layers[0][spec.params[-1]].shape[0], x.shape[0]
    y = _parse_y(data["y"], loss, n, T)
    truncate = data.get("truncate")
    if truncate is not None and (isinstance(truncate, bool) or not isinstance(truncate, int)
                                 or not 1 <= truncate <= T):
        raise SymbpttError(f"field 'truncate' must be an integer from 1 to T={T}, got {str(truncate)[:20]!r}")
    scalar = not isinstance(raw_layers[0].get(spec.params[0], raw_layers[0].get("w")), list)
    if spec.max_hidden == 1:
        scalar = True
    if spec.max_input is not None and x.shape[1] > spec.max_input:
        raise SymbpttError(f"field 'x': the {spec.name} cell reads one input per step")
    return Config(cell_name, activation, layers, x, y, loss, truncate, scalar)


def _inputs(x_raw: Any) -> np.ndarray:
    if not isinstance(x_raw, list) or not x_raw:
        raise SymbpttError("field 'x' must be a non-empty list of T inputs")
    if len(x_raw) > MAX_STEPS:
        raise SymbpttError(f"field 'x' has more than {MAX_STEPS:,} steps")
    return _array("x", x_raw, 2) if isinstance(x_raw[0], list) else _array("x", x_raw, 1)[:, None]


def _parse_y(raw: Any, loss: str, n: int, T: int) -> np.ndarray:
    if loss == "last":
        y = _array("y", raw, 1)
        if y.shape != (n,):
            raise SymbpttError(f"field 'y' must have {n} entries for loss 'last', got {y.shape[0]}")
        return y
    if isinstance(raw, list) and raw and isinstance(raw[0], list):
        y = _array("y", raw, 2)
    else:
        flat = _array("y", raw, 1)
        y = flat[:, None] if n == 1 else flat[None, :]
    if y.shape != (T, n):
        raise SymbpttError(f"field 'y' must hold T={T} targets of {n} entries for loss 'sum', got "
                           f"{'×'.join(map(str, y.shape))}")
    return y


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise SymbpttError(f"field {key[:30]!r} appears twice in the parameters file")
        twin = next((k for k in seen if k.casefold() == key.casefold()), None)
        if twin is not None:
            raise SymbpttError(f"fields {twin[:30]!r} and {key[:30]!r} of the parameters file differ only in "
                               "case; keep the one the cell names")
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in key):
            raise SymbpttError("the parameters file holds an invalid character (a lone surrogate)")
        seen[key] = value
    return seen


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise SymbpttError(f"the number {text[:20]}… is too large for float64")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 300:
        raise SymbpttError(f"the integer {text[:20]}… ({len(text)} digits) is too large for float64")
    return int(text)


def load_config(path: str | Path) -> Config:
    """Read and validate a parameters file (a regular UTF-8 file of at most 64 MiB), or a shipped one by
    name (``example``, ``example-lstm``) when no file of that name exists."""
    from .output import read_text_file
    from .shipped import SHIPPED

    if str(path) in SHIPPED and not Path(path).exists():
        return parse_config(json.loads(json.dumps(SHIPPED[str(path)])))

    text = read_text_file(path, "parameters file", MAX_FILE_BYTES)
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant,
                          parse_float=_number, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise SymbpttError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise SymbpttError(f"{path} is nested too deeply") from None
    _no_surrogates(data)
    return parse_config(data, Path(path).parent)


def _no_surrogates(value: Any) -> None:
    if isinstance(value, str) and any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise SymbpttError("the parameters file holds an invalid character (a lone surrogate)")
    if isinstance(value, dict):
        for v in value.values():
            _no_surrogates(v)
    elif isinstance(value, list) and value and isinstance(value[0], (str, dict, list)):
        for v in value:
            _no_surrogates(v)


def _no_constant(name: str) -> float:
    raise SymbpttError(f"non-finite number {name} in the parameters file")


def finite_or_none(value: float) -> float | None:
    """JSON-safe: a finite float, or None (never NaN or Infinity)."""
    return float(value) if math.isfinite(value) else None
