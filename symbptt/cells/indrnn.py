"""IndRNN (Li et al. 2018, "Independently Recurrent Neural Network"): the recurrent weight is a vector w,
one entry per unit, so each unit reads only its own past:

    a_t = w ⊙ h_{t−1} + U x_t + b,      h_t = σ(a_t)

∂h_t/∂h_{t−1} = diag(w ⊙ σ'(a_t)): unit i's gradient through T − k steps is the product of its own
factors w_i σ'(a_{j,i}), so keeping |w_i| σ' near 1 keeps that unit's gradient from vanishing or
exploding — unit by unit, with no matrix norm in between.  σ is the activation chosen with -a (the
paper uses ReLU).  Here the pre-activation a_t is the input part U x_t + b and the step is
h_t = σ(w ⊙ h_{t−1} + a_t), so that the weight on the path back is the parameter w itself.
"""

from __future__ import annotations

from ..activations import Activation
from .base import INPUT, Cell, Linear, prev, unit


def indrnn(act: Activation) -> Cell:
    return Cell(
        name="indrnn",
        title="IndRNN",
        states=("h",),
        linears=(Linear("a", (("U", INPUT),), "b", "a"),),
        nodes=(("h", act.apply(unit("w") * prev("h") + unit("a"))),),
        vector_params=("w",),
        init=(("w", 0.0, 1.0),),
        gain_scaled=("w",),  # the recurrent weight: --gain and --scale multiply it as they do W
        uses_activation=True,
    )
