"""Built-in cells and the user's cell files; ``get_cell`` resolves a name (or a file) once."""

from __future__ import annotations

from pathlib import Path

from ..activations import Activation
from ..errors import SymbpttError
from ..safeexpr import shown
from .base import INPUT, Cell, Linear, prev, unit
from .gru import gru
from .lstm import lstm
from .mingru import mingru
from .minlstm import minlstm
from .rnn import rnn

BUILTIN = ("rnn", "lstm", "gru", "mingru", "minlstm")

__all__ = ["BUILTIN", "INPUT", "Cell", "Linear", "get_cell", "prev", "unit"]


def get_cell(name: str | Cell, act: Activation) -> Cell:
    """``rnn`` (with activation ``act``), ``lstm``, ``gru``, or a path to a cell file (.toml)."""
    if isinstance(name, Cell):
        return name
    if name == "rnn":
        return rnn(act)
    if name == "lstm":
        return lstm()
    if name == "gru":
        return gru()
    if name == "mingru":
        return mingru()
    if name == "minlstm":
        return minlstm()
    if isinstance(name, str) and (name.endswith(".toml") or Path(name).suffix):
        from .userfile import load_cell_file

        return load_cell_file(name)
    raise SymbpttError(f"unknown cell {shown(str(name))}; choose one of {', '.join(BUILTIN)} or give a .toml file")
