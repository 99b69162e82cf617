"""PyTorch in and out: a torch recurrent module read into the matching cell and its parameters, torch's
autograd set beside the exact gradients, and parameters written back as the module's state_dict.

Torch stores each layer ℓ (suffix ``_l{ℓ-1}``; none for the Cell modules) as

    weight_ih  U of every gate, stacked in torch's gate order     (gates·n × m)
    weight_hh  W of every gate, stacked the same way              (gates·n × n)
    bias_ih, bias_hh   two biases per gate (absent when bias=False)

with the gates (i, f, g, o) for the LSTM and (r, z, n) for the GRU.  The cells here follow torch's
equations (see cells/lstm.py, cells/gru.py): a gate's two biases add up to its one b, except the GRU's
n gate, whose hidden bias sits inside the reset product and is the parameter b_hn.  Sums of two float32
biases are exact in float64 unless their exponents lie far apart; ``TorchModel.rounded`` counts the sums
that were not.

torch is imported only inside the functions that need it; nothing else in the package imports this module
at start-up.
"""

from __future__ import annotations

import copy
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..activations import get_activation
from ..cells import Cell, TorchLayout, get_cell, torch_cells
from ..config import Config, parse_config
from ..errors import SymbpttError

CLASSES = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")  # what the weights-only loader admits
INSTALL = "this needs PyTorch, which is not installed: pip install 'symbptt[torch]'"
MAX_TORCH_BYTES = 1 << 30


def import_torch() -> Any:
    """torch, or a one-line SymbpttError saying how to install it."""
    try:
        import torch
    except ImportError:
        raise SymbpttError(INSTALL) from None
    return torch


@dataclass
class TorchModel:
    """What was read from a torch module or state_dict: the cell, sizes and per-layer parameters."""

    kind: str  # the torch class: RNN, LSTM, GRU, RNNCell, LSTMCell or GRUCell
    cell: str  # the built-in cell with the same equations (rnn, lstm, gru)
    activation: str | None  # rnn: tanh or relu
    n: int
    m: int
    layers: list[dict[str, np.ndarray]]  # the cell's parameters, initial states at zero
    bias: bool = True
    batch_first: bool = False
    rounded: int = 0  # bias sums b_ih + b_hh that float64 rounded
    source: dict[str, Any] = field(default_factory=dict)  # the state_dict as read (prefix removed)

    @property
    def is_cell(self) -> bool:
        return self.kind.endswith("Cell")

    @property
    def spec(self) -> Cell:
        return get_cell(self.cell, get_activation(self.activation or "tanh"))

    @property
    def layout(self) -> TorchLayout:
        return _layout(self.spec)


def _layout(spec: Cell) -> TorchLayout:
    if spec.torch is None:
        have = ", ".join(c.name for c in torch_cells(get_activation("tanh")).values())
        raise SymbpttError(f"torch has no module for the {spec.name[:40]} cell (these have one: {have})")
    return spec.torch


def _exact_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """a + b in float64 and how many entries it rounded (Knuth's two-sum error is zero exactly when the
    float sum is the real one)."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, int(np.count_nonzero(err))


def _float64(name: str, value: Any) -> np.ndarray:
    """A tensor (or array) as float64, refusing complex or non-finite entries."""
    torch = import_torch()
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise SymbpttError(f"{name} is complex; symbptt reads real tensors")
        value = value.detach().to("cpu", torch.float64).numpy()
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise SymbpttError(f"{name} must be a tensor of numbers") from None
    if not np.all(np.isfinite(arr)):
        raise SymbpttError(f"{name} holds NaN or infinite entries")
    return arr


def _layer_params(layout: TorchLayout, n: int, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                  b_hh: np.ndarray | None) -> tuple[dict[str, np.ndarray], int]:
    """One layer's cell parameters from torch's stacked tensors (initial states left out); the number of
    bias sums float64 rounded."""
    zero = np.zeros(len(layout.gates) * n)
    b_ih = zero if b_ih is None else b_ih
    b_hh = zero if b_hh is None else b_hh
    apart = dict(layout.hidden_biases)
    out: dict[str, np.ndarray] = {}
    rounded = 0
    for k, (w, u, b) in enumerate(layout.gates):
        rows = slice(k * n, (k + 1) * n)
        out[w], out[u] = w_hh[rows], w_ih[rows]
        if k in apart:  # torch's hidden bias inside a product: a parameter of its own
            out[b], out[apart[k]] = b_ih[rows], b_hh[rows]
        else:
            out[b], lost = _exact_sum(b_ih[rows], b_hh[rows])
            rounded += lost
    return out, rounded


def torch_layers(layout: TorchLayout, layers: Sequence[Mapping[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The inverse of reading: each layer's cell parameters as torch's stacked weight_ih, weight_hh,
    bias_ih, bias_hh (a gate's whole bias in bias_ih; a bias kept apart in its bias_hh block)."""
    apart = dict(layout.hidden_biases)
    out = []
    for p in layers:
        w_ih = np.concatenate([np.atleast_2d(p[u]) for _, u, _ in layout.gates])
        w_hh = np.concatenate([np.atleast_2d(p[w]) for w, _, _ in layout.gates])
        b_ih = np.concatenate([np.ravel(p[b]) for _, _, b in layout.gates])
        b_hh = np.concatenate([np.ravel(p[apart[k]]) if k in apart else np.zeros(np.ravel(p[b]).size)
                               for k, (_, _, b) in enumerate(layout.gates)])
        out.append({"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih, "bias_hh": b_hh})
    return out


def read_module(module: Any, nonlinearity: str | None = None) -> TorchModel:
    """A torch recurrent module (nn.RNN, nn.LSTM, nn.GRU or their Cell versions) or its state_dict, read.

    Args:
        module: the module, or a mapping from torch's parameter names to tensors (a state_dict, optionally
            with one common prefix such as ``"rnn."``).
        nonlinearity: for a state_dict of an nn.RNN, its nonlinearity (tanh when not given); refused for a
            module, which carries its own.

    Returns:
        The matching built-in cell (rnn, lstm or gru), sizes and per-layer parameters.

    Raises:
        SymbpttError: an unsupported module or option (bidirectional, projections, dropout in training
            mode, another class) or a state_dict whose tensors do not fit one module.
    """
    torch = import_torch()
    if isinstance(module, torch.nn.Module):
        kind = type(module).__name__
        if kind not in CLASSES or not isinstance(module, (torch.nn.RNNBase, torch.nn.RNNCellBase)):
            raise SymbpttError(f"expected nn.RNN, nn.LSTM, nn.GRU or their Cell versions, got {kind[:40]}")
        if nonlinearity is not None:
            raise SymbpttError("the nonlinearity is read from the module itself; give it only with a state_dict")
        if getattr(module, "bidirectional", False):
            raise SymbpttError("bidirectional modules are not supported: read each direction as a module of its own")
        if getattr(module, "proj_size", 0):
            raise SymbpttError("LSTM projections (proj_size > 0) are not supported")
        if getattr(module, "dropout", 0) and module.training and getattr(module, "num_layers", 1) > 1:
            raise SymbpttError("dropout between layers is random in training mode; call module.eval() first")
        model = _from_state(dict(module.state_dict()), kind, getattr(module, "nonlinearity", None))
        model.batch_first = bool(getattr(module, "batch_first", False))
        return model
    if isinstance(module, Mapping):
        return _from_state(_strip_prefix(module), None, nonlinearity)
    raise SymbpttError("expected an nn.RNN, nn.LSTM or nn.GRU module (or Cell), or its state_dict; got a "
                       f"{type(module).__name__[:40]}")


def _strip_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """The recurrent module's entries of a state_dict, its common prefix removed."""
    prefixes = sorted({k[: k.rindex("weight_hh")] for k in state if isinstance(k, str) and "weight_hh" in k})
    if not prefixes:
        raise SymbpttError("the state_dict holds no weight_hh tensor: not an nn.RNN, nn.LSTM or nn.GRU")
    if len(prefixes) > 1:
        shown = ", ".join(repr(p) for p in prefixes[:4])
        raise SymbpttError(f"the state_dict holds the weights of {len(prefixes)} recurrent modules ({shown}); "
                           "save the one to read (module.state_dict())")
    prefix = prefixes[0]
    return {k[len(prefix):]: v for k, v in state.items() if isinstance(k, str) and k.startswith(prefix)}


def _from_state(state: dict[str, Any], kind: str | None, activation: str | None) -> TorchModel:
    keys = set(state)
    if any(k.endswith("_reverse") for k in keys):
        raise SymbpttError("bidirectional modules are not supported: read each direction as a module of its own")
    if any(k.startswith("weight_hr") for k in keys):
        raise SymbpttError("LSTM projections (proj_size > 0) are not supported")
    suffixes = [""] if "weight_hh" in keys else []
    while f"weight_hh_l{len(suffixes)}" in keys:
        suffixes.append(f"_l{len(suffixes)}")
    if not suffixes:
        raise SymbpttError("the state_dict holds no weight_hh or weight_hh_l0 tensor")
    expected = {f"{w}{s}" for s in suffixes for w in ("weight_ih", "weight_hh")}
    bias = f"bias_ih{suffixes[0]}" in keys
    if bias:
        expected |= {f"{b}{s}" for s in suffixes for b in ("bias_ih", "bias_hh")}
    if keys != expected:
        odd = sorted(keys ^ expected)[0]
        raise SymbpttError(f"the state_dict's entry {odd[:40]!r} does not fit an nn.RNN, nn.LSTM or nn.GRU "
                           f"of {len(suffixes)} layer(s)")
    tensors = {k: _float64(k, v) for k, v in state.items()}
    w_hh = tensors[f"weight_hh{suffixes[0]}"]
    if w_hh.ndim != 2 or w_hh.shape[0] % w_hh.shape[1]:
        raise SymbpttError(f"weight_hh{suffixes[0]} is {'×'.join(map(str, w_hh.shape))}: not gates·n × n")
    n = w_hh.shape[1]
    by_gates = {len(c.torch.gates): c for c in torch_cells(get_activation("tanh")).values() if c.torch}
    spec = by_gates.get(w_hh.shape[0] // n)
    if spec is None or spec.torch is None:
        raise SymbpttError(f"weight_hh{suffixes[0]} has {w_hh.shape[0]} rows for n = {n}: not "
                           f"{', '.join(map(str, sorted(by_gates)))} gates")
    layout = _layout(spec)
    if kind is None:
        kind = layout.module + ("Cell" if suffixes == [""] else "")
        if activation is not None and not layout.activations:
            raise SymbpttError(f"a nonlinearity applies to nn.RNN only, and this state_dict is an nn.{kind}")
    if layout.activations:
        activation = activation or layout.activations[0]
        if activation not in layout.activations:
            raise SymbpttError(f"nn.{kind} takes the nonlinearity {' or '.join(layout.activations)}, "
                               f"got {str(activation)[:20]!r}")
    else:
        activation = None
    gates = len(layout.gates)
    layers, rounded = [], 0
    m = tensors[f"weight_ih{suffixes[0]}"].shape[-1]
    for ell, s in enumerate(suffixes):
        width = m if ell == 0 else n
        w_ih = tensors[f"weight_ih{s}"]
        shapes: dict[str, tuple[np.ndarray, tuple[int, ...]]] = {
            f"weight_ih{s}": (w_ih, (gates * n, width)), f"weight_hh{s}": (tensors[f"weight_hh{s}"], (gates * n, n))}
        if bias:
            shapes |= {f"bias_ih{s}": (tensors[f"bias_ih{s}"], (gates * n,)),
                       f"bias_hh{s}": (tensors[f"bias_hh{s}"], (gates * n,))}
        for name, (arr, want) in shapes.items():
            if arr.shape != want:
                raise SymbpttError(f"{name} is {'×'.join(map(str, arr.shape))}, expected {'×'.join(map(str, want))}")
        params, lost = _layer_params(layout, n, w_ih, tensors[f"weight_hh{s}"],
                                     tensors.get(f"bias_ih{s}"), tensors.get(f"bias_hh{s}"))
        rounded += lost
        layers.append(params)
    return TorchModel(kind, spec.name, activation, n, m, layers, bias, rounded=rounded, source=dict(state))


def _sequence(name: str, value: Any, model: TorchModel, width: int) -> np.ndarray:
    """One sequence (T × width) from a tensor laid out as torch reads it: (T, width), or with a batch of
    one, (T, 1, width) or, batch_first, (1, T, width)."""
    arr = _float64(name, value)
    if arr.ndim == 1 and width == 1:
        arr = arr[:, None]
    if arr.ndim == 3:
        batch_axis = 0 if model.batch_first else 1
        if arr.shape[batch_axis] != 1:
            raise SymbpttError(f"{name} holds a batch of {arr.shape[batch_axis]} sequences; give one "
                               f"(a tensor of T × {width})")
        arr = np.take(arr, 0, axis=batch_axis)
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] == 0:
        raise SymbpttError(f"{name} has shape {' × '.join(map(str, arr.shape)) or 'scalar'}, expected T × {width}")
    return arr


def from_torch(module: Any, x: Any, y: Any = None, *, hx: Any = None, loss: str = "last",
               truncate: int | None = None, nonlinearity: str | None = None) -> Config:
    """A torch recurrent module and one input sequence, as the configuration ``grad_report`` reads.

    Args:
        module: nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell or nn.GRUCell, or its state_dict.
        x: the input sequence as the module reads it: T × m, or a batch of one (T × 1 × m; 1 × T × m for
            a batch_first module).
        y: the target: n entries for loss 'last', T × n for loss 'sum'; zeros when not given.
        hx: the initial state as the module takes it (h_0, or (h_0, c_0) for the LSTM; num_layers × n
            each); zeros when not given.
        loss: 'last' (L = ½‖h_T − y‖²) or 'sum' (L = Σ_t ½‖h_t − y_t‖²), on the last layer's h.
        truncate: truncated BPTT through the last k steps, reported beside the full gradient.
        nonlinearity: tanh or relu, for the state_dict of an nn.RNN only.

    Returns:
        A Config: the matching cell with torch's parameters in float64 (see the module docstring).

    Raises:
        SymbpttError: one line naming what does not fit.
    """
    model = read_module(module, nonlinearity)
    return config_of(model, x, y, hx=hx, loss=loss, truncate=truncate)


def config_of(model: TorchModel, x: Any, y: Any = None, *, hx: Any = None, loss: str = "last",
              truncate: int | None = None) -> Config:
    """The Config of a read module with one input sequence (see ``from_torch``)."""
    if not isinstance(loss, str) or loss not in ("last", "sum"):
        raise SymbpttError(f"loss must be 'last' or 'sum', got {loss!r:.40}")
    xs = _sequence("x", x, model, model.m)
    T = xs.shape[0]
    if y is None:
        target: Any = np.zeros(model.n) if loss == "last" else np.zeros((T, model.n))
    elif loss == "sum":
        target = _sequence("y", y, model, model.n)
    else:
        target = _float64("y", y).reshape(-1)
    states = _initial_states(model, hx)
    layers = [{**{k: v.tolist() for k, v in p.items()}, **{k: v.tolist() for k, v in s.items()}}
              for p, s in zip(model.layers, states, strict=True)]
    data: dict[str, Any] = {"cell": model.cell, "layers": layers, "x": xs.tolist(), "y": np.asarray(target).tolist(),
                            "loss": loss}
    if model.activation is not None:
        data["activation"] = model.activation
    if truncate is not None:
        data["truncate"] = truncate
    return parse_config(data)


def _initial_states(model: TorchModel, hx: Any) -> list[dict[str, np.ndarray]]:
    names = [p for p, _ in model.spec.initial()]
    count = len(model.layers)
    if hx is None:
        return [{k: np.zeros(model.n) for k in names} for _ in range(count)]
    parts = tuple(hx) if isinstance(hx, (tuple, list)) else (hx,)
    if len(parts) != len(names):
        raise SymbpttError(f"hx must be {' and '.join(f'{s}_0' for _, s in model.spec.initial())} for nn.{model.kind}")
    out: list[dict[str, np.ndarray]] = [{} for _ in range(count)]
    for name, part in zip(names, parts, strict=True):
        arr = _float64(f"hx ({name})", part)
        arr = arr.reshape(-1, model.n) if arr.size == count * model.n else arr
        if arr.shape != (count, model.n):
            raise SymbpttError(f"hx ({name}) is {'×'.join(map(str, arr.shape))}, expected {count} × {model.n}")
        for ell in range(count):
            out[ell][name] = arr[ell]
    return out


def state_dict(spec: Cell, activation: str | None, layers: Sequence[Mapping[str, np.ndarray]],
               is_cell: bool = False) -> dict[str, Any]:
    """Parameters as the state_dict of the torch module with the same equations (float64 tensors; torch's
    ``load_state_dict`` casts them to the module's dtype).

    Args:
        spec: the cell (its ``torch`` fact says how torch stores it).
        activation: the activation of a cell that takes one (tanh or relu for nn.RNN).
        layers: each layer's parameters by the cell's names.
        is_cell: name the tensors as nn.RNNCell/LSTMCell/GRUCell do (one layer, no ``_l0`` suffix).

    Returns:
        An ordered mapping from torch's names to tensors.

    Raises:
        SymbpttError: a cell or activation torch has no module for, or a layer without all its parameters.
    """
    torch = import_torch()
    layout = exportable(spec, activation)
    _complete(spec, layers)
    if is_cell and len(layers) != 1:
        raise SymbpttError("a torch Cell module has one layer")
    out: dict[str, Any] = {}
    for ell, tensors in enumerate(torch_layers(layout, layers)):
        suffix = "" if is_cell else f"_l{ell}"
        for name, arr in tensors.items():
            out[name + suffix] = torch.tensor(np.ascontiguousarray(arr), dtype=torch.float64)
    return out


def _complete(spec: Cell, layers: Sequence[Mapping[str, np.ndarray]]) -> None:
    """Refuse in one line layers that are not a list of dicts holding every parameter of the cell (the
    initial states may be left out: a torch module keeps none)."""
    if isinstance(layers, Mapping) or not isinstance(layers, Sequence) or not layers:
        raise SymbpttError(f"layers must be a non-empty list of parameter dicts (one per layer), got "
                           f"{type(layers).__name__}")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Mapping):
            raise SymbpttError(f"layers[{i}] must be a dict of the {spec.name} cell's parameters, got "
                               f"{type(layer).__name__}")
        missing = [p for p in spec.params if p not in layer and spec.kind(p) != "initial"]  # torch keeps none
        if missing:
            raise SymbpttError(f"layers[{i}] has no {missing[0]!r} (the {spec.name} cell's parameters: "
                               f"{', '.join(spec.params)})")


def exportable(spec: Cell, activation: str | None) -> TorchLayout:
    """How torch stores this cell, or a one-line refusal when torch has no module for it.

    Raises:
        SymbpttError: naming the cell or activation.
    """
    layout = _layout(spec)
    if spec.uses_activation and (activation or "tanh") not in layout.activations:
        raise SymbpttError(f"torch's nn.{layout.module} takes {' or '.join(layout.activations)}, "
                           f"not {str(activation)[:40]}")
    return layout


def initial_states(spec: Cell, layers: Sequence[Mapping[str, np.ndarray]]) -> list[np.ndarray]:
    """The initial states (h_0, and c_0 for a cell with a memory), num_layers × n each, as torch's hx."""
    return [np.stack([np.ravel(p[k]) for p in layers]) for k, _ in spec.initial()]


def save_state_dict(path: str, spec: Cell, activation: str | None, layers: Sequence[Mapping[str, np.ndarray]]) -> str:
    """Write ``state_dict(...)`` to ``path`` atomically with torch.save; returns a note for stderr when the
    initial states are not zero (a torch module keeps no initial state: pass them as hx), else ''."""
    from ..output import atomic_write

    torch = import_torch()
    tensors = state_dict(spec, activation, layers)
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    atomic_write(path, buffer.getvalue())
    if any(np.any(s) for s in initial_states(spec, layers)):
        return f"{path}: the initial state is not zero; a torch module keeps none, pass it as hx"
    return ""


def load_file(path: str, what: str) -> Any:
    """A file written by torch.save, read without running code from it (torch's weights_only loader, which
    admits the six recurrent module classes besides tensors); or a NumPy .npy file.

    Raises:
        SymbpttError: a file that cannot be read or that holds something else.
    """
    from ..output import read_bytes_file

    data = read_bytes_file(path, what, MAX_TORCH_BYTES)
    if data[:6] == b"\x93NUMPY":
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise SymbpttError(f"{what} {path} is not a NumPy array file of numbers: {exc}") from None
    torch = import_torch()
    classes = [getattr(torch.nn, k) for k in CLASSES]
    try:
        with torch.serialization.safe_globals(classes):
            return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises many types; every one means the same to the user
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise SymbpttError(f"{what} {path} is not a file torch.load reads safely ({first})") from None


def torch_gradients(module: Any, model: TorchModel, cfg: Config, dtype: str) -> list[dict[str, np.ndarray]]:
    """torch autograd's gradients of the same loss, in float32 or float64, by the cell's parameter names.

    The module is copied and cast (a state_dict is loaded into a new module of its kind); the loss is the
    one the report uses.  A parameter torch does not have (the biases of a bias=False module, the initial
    states) is left out.
    """
    torch = import_torch()
    kind = getattr(torch, dtype)
    net = _module_like(module, model).to(kind)
    x = torch.tensor(cfg.x, dtype=kind)
    hx = [torch.tensor(s, dtype=kind) for s in initial_states(model.spec, cfg.layers)]
    memory = len(hx) > 1  # the state torch passes is (h, c)
    if model.is_cell:
        state: Any = tuple(h[0] for h in hx) if memory else hx[0][0]
        outs = []
        for t in range(x.shape[0]):
            state = net(x[t], state)
            outs.append(state[0] if memory else state)
        out = torch.stack(outs)
    else:
        xs = x[None] if model.batch_first else x[:, None]
        init = tuple(h[:, None] for h in hx) if memory else hx[0][:, None]
        out = net(xs, init)[0]
        out = out[0] if model.batch_first else out[:, 0]
    y = torch.tensor(cfg.y, dtype=kind)
    loss = 0.5 * ((out[-1] - y) ** 2).sum() if cfg.loss == "last" else 0.5 * ((out - y) ** 2).sum()
    net.zero_grad()
    loss.backward()
    named = {k: v.grad.detach().to(torch.float64).numpy() if v.grad is not None else np.zeros(v.shape)
             for k, v in net.named_parameters()}
    layout, n = model.layout, model.n
    grads = []
    for ell in range(len(cfg.layers)):
        suffix = "" if model.is_cell else f"_l{ell}"
        zero = np.zeros(len(layout.gates) * n)
        apart = zero.copy()  # a summed bias's gradient is bias_ih's; a bias kept apart has its own
        for k, _ in layout.hidden_biases:
            apart[k * n:(k + 1) * n] = named.get(f"bias_hh{suffix}", zero)[k * n:(k + 1) * n]
        g, _ = _layer_params(layout, n, named[f"weight_ih{suffix}"], named[f"weight_hh{suffix}"],
                             named.get(f"bias_ih{suffix}", zero), apart)
        if not model.bias:
            g = {k: v for k, v in g.items() if model.spec.kind(k) != "bias"}
        grads.append(g)
    return grads


def _module_like(module: Any, model: TorchModel) -> Any:
    torch = import_torch()
    if isinstance(module, torch.nn.Module):
        return copy.deepcopy(module).train(False)
    cls = getattr(torch.nn, model.kind)
    extra: dict[str, Any] = {"nonlinearity": model.activation} if model.layout.activations else {}
    if not model.is_cell:
        extra["num_layers"] = len(model.layers)
    net = cls(model.m, model.n, bias=model.bias, **extra)
    net.load_state_dict(model.source)  # torch's own tensors, in their own dtype, two biases apart
    return net


def compare(exact: Any, exact_log10: Any, torch_grads: list[dict[str, np.ndarray]], dtype: str) -> dict[str, Any]:
    """Entry by entry, the digits torch's gradient shares with the exact one.

    Args:
        exact: the report's ``grad`` (per layer when more than one): numbers, or {sign, log10} beyond
            float64's normal range.
        exact_log10: the report's ``grad_log10`` beside it.
        torch_grads: ``torch_gradients`` of the same module in ``dtype``.
        dtype: float32 or float64.

    Returns:
        Per layer and parameter: ``digits`` (same shape as the gradient; the significant digits torch got
        right, at most the format's own; 0 when it returned 0 or inf where the exact value is not), and the
        counts ``zero`` (torch 0, exact not), ``nonfinite`` (torch inf or NaN) and ``entries``.
    """
    if not isinstance(dtype, str) or dtype not in ("float32", "float64"):
        raise SymbpttError(f"dtype must be float32 or float64, got {str(dtype)[:20]!r}")
    cap = {"float32": 7.2, "float64": 15.9}[dtype]
    layers_exact = exact if isinstance(exact, list) else [exact]
    layers_log = exact_log10 if isinstance(exact_log10, list) else [exact_log10]
    if not isinstance(torch_grads, list) or not len(layers_exact) == len(layers_log) == len(torch_grads):
        raise SymbpttError("compare takes the report's grad and grad_log10 and torch's gradients for the same "
                           f"layers; got {len(layers_exact)}, {len(layers_log)} and "
                           f"{len(torch_grads) if isinstance(torch_grads, list) else type(torch_grads).__name__}")
    out = []
    for ex, logs, tg in zip(layers_exact, layers_log, torch_grads, strict=True):
        per: dict[str, Any] = {}
        for name, got in tg.items():
            want = np.asarray(ex[name], dtype=object).reshape(got.shape)
            wlog = np.asarray(logs[name], dtype=object).reshape(got.shape)
            digits = np.zeros(got.shape)
            zero = nonfinite = 0
            for idx in np.ndindex(got.shape):
                d, z, bad = _digits(want[idx], wlog[idx], float(got[idx]), cap)
                digits[idx] = d
                zero += z
                nonfinite += bad
            per[name] = {"digits": np.round(digits, 1).tolist(), "min_digits": round(float(digits.min()), 1),
                         "zero": zero, "nonfinite": nonfinite, "entries": int(got.size)}
        out.append(per)
    return {"dtype": dtype, "layers": out}


def _digits(want: Any, log: Any, got: float, cap: float) -> tuple[float, int, int]:
    """(digits right, torch returned 0 where the value is not, torch returned inf/NaN)."""
    if not math.isfinite(got):
        return 0.0, 0, 1
    if log is None:  # the exact value is 0
        return (cap, 0, 0) if got == 0 else (0.0, 0, 0)
    if got == 0:
        return 0.0, 1, 0
    if want is None or isinstance(want, dict):  # beyond float64's normal range: compare in log10
        if isinstance(want, dict) and (got > 0) != (want["sign"] > 0):
            return 0.0, 0, 0
        gap = abs(math.log10(abs(got)) - float(log))
        return (min(cap, max(0.0, -math.log10(gap * math.log(10)))) if gap else cap), 0, 0
    rel = abs(got - float(want)) / abs(float(want))
    return (min(cap, max(0.0, -math.log10(rel))) if rel else cap), 0, 0
