"""minLSTM (Feng et al. 2024): forget and input gates that read the input only, normalised to sum to one:

    f_t = σ(U_f x_t + b_f)    i_t = σ(U_i x_t + b_i)    h̃_t = U_h x_t + b_h
    h_t = f'_t ⊙ h_{t−1} + i'_t ⊙ h̃_t,    f' = f / (f + i),  i' = i / (f + i)

∂h_t/∂h_{t−1} = diag(f'_t), between 0 and 1; like minGRU the step is linear in h, so forward and backward
passes are parallel scans.
"""

from __future__ import annotations

from ..primitives import sigmoid
from .base import INPUT, Cell, Linear, prev, unit


def minlstm() -> Cell:
    f, i = unit("f"), unit("i")
    return Cell(
        name="minlstm",
        title="minLSTM",
        bounded=True,  # see Cell.bounded
        states=("h",),
        linears=(
            Linear("a_f", (("U_f", INPUT),), "b_f", "a^f"),
            Linear("a_i", (("U_i", INPUT),), "b_i", "a^i"),
            Linear("a_h", (("U_h", INPUT),), "b_h", "a^h"),
        ),
        nodes=(
            ("f", sigmoid(unit("a_f"))),
            ("i", sigmoid(unit("a_i"))),
            ("h", (f * prev("h") + i * unit("a_h")) / (f + i)),
        ),
    )
