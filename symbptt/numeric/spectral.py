"""The spectral norm ‖P‖₂ of many matrices at once, warm-started from the previous time step (a product
P_t = J_t P_{t-1} turns its leading singular vectors only slowly): what the gain sweep and the Jacobian
norms of large states both use."""

from __future__ import annotations

import numpy as np

POWER_TOLERANCE = 1e-13  # relative change of the norm estimate at which the iteration stops
POWER_STEPS = 30  # iterations per time step before the exact SVD takes over for the gains left
BLOCK_TOLERANCE = 1e-6  # relative change of the sum of all Ritz values: the block has stopped turning
BLOCK = 4  # vectors iterated together: the error shrinks like (σ_{BLOCK+1}/σ_1)² per iteration


def spectral_norms(products: np.ndarray, start: np.ndarray,
                   rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """‖P‖₂ of each matrix of ``products`` (shape (G, n, n)) and an orthonormal block of its leading
    right singular vectors (shape (G, n, k)).

    Block power iteration on PᵀP with a Rayleigh–Ritz step, started from ``start`` (the previous time
    step's block: P_t = J_t P_{t−1} turns its leading right singular vectors only slowly) with its last
    column replaced by a random vector, so that a direction the old block has lost is always present
    with a fair share; stopped when the estimate σ₁(PQ) ≤ ‖P‖₂ changes by at most POWER_TOLERANCE
    relatively, and the exact SVD for the gains not settled within POWER_STEPS iterations."""
    G, n, k = start.shape
    Q = start.copy()
    if k > 1:
        Q[:, :, -1] = (rng or np.random.default_rng(0)).normal(size=(G, n))
        Q = np.linalg.qr(Q)[0]
    estimate, previous = np.zeros(G), np.zeros(G)
    settled = np.zeros(G, dtype=bool)
    for _ in range(POWER_STEPS):
        Y = np.matmul(products, Q)
        gram = np.matmul(np.swapaxes(Y, 1, 2), Y)  # (PQ)ᵀ(PQ): its top eigenvalue is σ₁(PQ)²
        ritz = np.linalg.eigvalsh(gram)
        total = ritz.sum(axis=1)  # every Ritz value must settle, not only the top one (see above)
        new = np.sqrt(np.maximum(ritz[:, -1], 0.0))
        settled = (np.abs(new - estimate) <= POWER_TOLERANCE * new) & (
            np.abs(total - previous) <= BLOCK_TOLERANCE * total)
        estimate, previous = new, total
        if settled.all():
            return estimate, Q
        Q = np.linalg.qr(np.matmul(np.swapaxes(products, 1, 2), Y))[0]
    left = ~settled
    estimate[left] = np.linalg.norm(products[left], 2, axis=(1, 2))
    return estimate, Q
