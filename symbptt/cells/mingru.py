"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): the gate and the candidate read the input
only, so the step is linear in h:

    z_t = σ(U_z x_t + b_z)      h̃_t = U_h x_t + b_h      h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t

∂h_t/∂h_{t−1} = diag(1 − z_t): no weight matrix on the path back, so the factor never exceeds 1 and the
gradient through T steps is the product of (1 − z_j), unit by unit.  Because h_t = a_t ⊙ h_{t−1} + b_t
with a_t, b_t independent of h, the forward pass is a parallel (associative) scan, and the δ recursion
δ_{t−1} = (1 − z_t) ⊙ δ_t (+ the error at t − 1) is the same scan run backwards.
"""

from __future__ import annotations

from ..primitives import sigmoid
from .base import INPUT, Cell, Linear, prev, unit


def mingru() -> Cell:
    z = unit("z")
    return Cell(
        name="mingru",
        title="minGRU",
        bounded=True,  # see Cell.bounded
        states=("h",),
        linears=(
            Linear("a_z", (("U_z", INPUT),), "b_z", "a^z"),
            Linear("a_h", (("U_h", INPUT),), "b_h", "a^h"),
        ),
        nodes=(
            ("z", sigmoid(unit("a_z"))),
            ("h", (1 - z) * prev("h") + z * unit("a_h")),
        ),
    )
