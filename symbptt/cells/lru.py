"""A real diagonal linear recurrent unit (after Orvieto et al. 2023, "Resurrecting Recurrent Neural
Networks for Long Sequences", without the complex numbers and the normalisation):

    h_t = λ ⊙ h_{t−1} + U x_t,      λ = exp(−exp(ν))  (one entry per unit, 0 < λ < 1 for every real ν)

∂h_t/∂h_{t−1} = diag(λ) does not depend on the data: the gradient from step T back to step k is
λ^{T−k} exactly, unit by unit — no saturation, no weight matrix; the whole question is how close λ sits
to 1.  The parameterisation has its own vanishing: ∂λ/∂ν = −exp(ν) λ → 0 as λ → 1.  The step is linear
in h with coefficients that do not depend on h, so the forward pass is a parallel (associative) scan,
and the δ recursion δ_{t−1} = λ ⊙ δ_t (+ the error at t − 1) is the same scan run backwards.
"""

from __future__ import annotations

import sympy as sp

from .base import INPUT, Cell, Linear, prev, unit


def lru() -> Cell:
    return Cell(
        name="lru",
        title="LRU (real, diagonal)",
        bounded=True,  # see Cell.bounded
        states=("h",),
        linears=(Linear("a", (("U", INPUT),), None, "a"),),
        nodes=(("h", sp.exp(-sp.exp(unit("nu"))) * prev("h") + unit("a")),),
        vector_params=("nu",),
        init=(("nu", -5.0, -2.0),),  # λ = exp(−exp(ν)) from 0.87 to 0.993
    )
