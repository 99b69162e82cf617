"""The GRU cell, PyTorch's conventions (σ the logistic sigmoid, ⊙ elementwise):

    r_t = σ(W_r h_{t-1} + U_r x_t + b_r)      z_t = σ(W_z h_{t-1} + U_z x_t + b_z)
    n_t = tanh(U_n x_t + b_n + r_t ⊙ (W_n h_{t-1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

b_n is PyTorch's b_in; b_hn sits inside the reset product, so it is a parameter of its own.
"""

from __future__ import annotations

from ..primitives import sigmoid, tanh
from .base import INPUT, Cell, Linear, TorchLayout, prev, unit


def gru() -> Cell:
    r, z, n = unit("r"), unit("z"), unit("n")
    return Cell(
        name="gru",
        title="GRU",
        bounded=True,  # see Cell.bounded
        states=("h",),
        linears=(
            Linear("a_r", (("W_r", "h"), ("U_r", INPUT)), "b_r", "a^r"),
            Linear("a_z", (("W_z", "h"), ("U_z", INPUT)), "b_z", "a^z"),
            Linear("a_n", (("U_n", INPUT),), "b_n", "a^n"),
            Linear("a_hn", (("W_n", "h"),), "b_hn", "a^hn"),
        ),
        nodes=(
            ("r", sigmoid(unit("a_r"))),
            ("z", sigmoid(unit("a_z"))),
            ("n", tanh(unit("a_n") + r * unit("a_hn"))),
            ("h", (1 - z) * n + z * prev("h")),
        ),
        keep_bias="b_z",
        torch=TorchLayout("GRU", tuple((f"W_{k}", f"U_{k}", f"b_{k}") for k in "rzn"), hidden_biases=((2, "b_hn"),)),
    )
