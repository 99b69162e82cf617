"""The LSTM cell, PyTorch's conventions (σ the logistic sigmoid, ⊙ elementwise):

    i_t = σ(W_i h_{t-1} + U_i x_t + b_i)      f_t = σ(W_f h_{t-1} + U_f x_t + b_f)
    g_t = tanh(W_g h_{t-1} + U_g x_t + b_g)   o_t = σ(W_o h_{t-1} + U_o x_t + b_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t           h_t = o_t ⊙ tanh(c_t)

State (h_t, c_t).  PyTorch's two biases per gate (b_ih + b_hh) add up to the one b_* here.
"""

from __future__ import annotations

from ..primitives import sigmoid, tanh
from .base import INPUT, Cell, Linear, TorchLayout, prev, unit

GATES = {"i": sigmoid, "f": sigmoid, "g": tanh, "o": sigmoid}


def lstm() -> Cell:
    linears = tuple(Linear(f"a_{k}", ((f"W_{k}", "h"), (f"U_{k}", INPUT)), f"b_{k}", f"a^{k}") for k in GATES)
    gates = tuple((k, fn(unit(f"a_{k}"))) for k, fn in GATES.items())
    i, f, g, o, c = (unit(k) for k in "ifgoc")
    return Cell(
        name="lstm",
        title="LSTM",
        bounded=True,  # see Cell.bounded
        states=("h", "c"),
        linears=linears,
        nodes=(*gates, ("c", f * prev("c") + i * g), ("h", o * tanh(c))),
        keep_bias="b_f",
        arrow_labels=(("c", r"f_t \odot"),),
        forget_bias="b_f",
        torch=TorchLayout("LSTM", tuple((f"W_{k}", f"U_{k}", f"b_{k}") for k in GATES)),
    )
