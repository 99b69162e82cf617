"""Built-in cells and the user's cell files; ``get_cell`` resolves a name (or a file) once."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from ..activations import Activation
from ..errors import SymbpttError
from ..safeexpr import shown
from ..validate import text
from .base import INPUT, Cell, Linear, TorchLayout, prev, unit
from .gru import gru
from .indrnn import indrnn
from .lru import lru
from .lstm import lstm
from .mingru import mingru
from .minlstm import minlstm
from .rnn import rnn

# each built-in cell's constructor; the ones that take -a get the activation
MAKERS: dict[str, Callable[[Activation], Cell]] = {
    "rnn": rnn, "lstm": lambda _: lstm(), "gru": lambda _: gru(), "indrnn": indrnn,
    "mingru": lambda _: mingru(), "minlstm": lambda _: minlstm(), "lru": lambda _: lru(),
}
BUILTIN = tuple(MAKERS)
TAKES_ACTIVATION = ("rnn", "indrnn")  # the built-in cells whose uses_activation is set (a test holds this)

__all__ = ["BUILTIN", "INPUT", "TAKES_ACTIVATION", "Cell", "Linear", "TorchLayout", "get_cell", "prev", "torch_cells",
           "unit"]


def torch_cells(act: Activation) -> dict[str, Cell]:
    """The built-in cells that have a torch module with the same equations, by that module's class name
    (RNN, LSTM, GRU)."""
    out = {}
    for make in MAKERS.values():
        cell = make(act)
        if cell.torch is not None:
            out[cell.torch.module] = cell
    return out


@lru_cache(maxsize=64)
def _made(maker: Callable[[Activation], Cell], act: Activation) -> Cell:
    """A built-in cell, made once per maker and activation (symbptt.gradients asks on every call)."""
    return maker(act)


def get_cell(name: str | Cell, act: Activation) -> Cell:
    """A built-in cell by name (``rnn`` and ``indrnn`` with activation ``act``), or a cell file (.toml)."""
    if isinstance(name, Cell):
        return name
    text("cell", name, f"a built-in cell's name ({', '.join(BUILTIN)}) or the path of a .toml file")
    if name in MAKERS:
        return _made(MAKERS[name], act)
    if isinstance(name, str) and (name.endswith(".toml") or Path(name).suffix):
        from .userfile import load_cell_file

        return load_cell_file(name)
    raise SymbpttError(f"unknown cell {shown(str(name))}; choose one of {', '.join(BUILTIN)} or give a .toml file")
