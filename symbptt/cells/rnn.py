"""The vanilla (Elman) cell:  a_t = W h_{t-1} + U x_t + b,   h_t = σ(a_t).

σ is the activation chosen with -a (tanh, sigmoid, relu, linear or a custom expression).
"""

from __future__ import annotations

from ..activations import Activation
from .base import INPUT, Cell, Linear, TorchLayout, unit


def rnn(act: Activation) -> Cell:
    a = unit("a")
    return Cell(
        name="rnn",
        title="vanilla RNN",
        states=("h",),
        linears=(Linear("a", (("W", "h"), ("U", INPUT)), "b", "a"),),
        nodes=(("h", act.apply(a)),),
        uses_activation=True,
        elman=True,
        torch=TorchLayout("RNN", (("W", "U", "b"),), activations=("tanh", "relu")),
    )
