"""The spectral norm ‖P‖₂ of many matrices at once, warm-started from the previous time step (a product
P_t = J_t P_{t-1} turns its leading singular vectors only slowly): what the gain sweep and the Jacobian
norms of large states both use."""

from __future__ import annotations

import numpy as np

from .forward import ROUNDING

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


CERTIFY_STEPS = 24  # power iterations a matrix is given to prove its norm before the eigensolver takes it
# iterations every matrix is given before one whose Rayleigh quotients are not yet the larger half of ‖P‖_F²
# is left: the start P·1 can be nearly orthogonal to the leading singular vector (its columns' signs
# cancel), and a product whose σ₁² is 98% of ‖P‖_F² then needs two iterations to show it
WARM_STEPS = 3


def certified_norms(mats: np.ndarray) -> np.ndarray:
    """‖P‖₂ of each matrix of a (G, m, m) stack where a few power iterations prove it, NaN elsewhere.

    The iteration runs on PPᵀ from the vector P·1 (no random start: the same numbers every run).  At a
    unit vector u, θ = ‖Pᵀu‖² is a Rayleigh quotient of PPᵀ, so θ ≤ σ₁².  The eigenvalues σᵢ² of PPᵀ
    sum to ‖P‖_F²; once θ is more than half of it, every eigenvalue but σ₁² lies at or below
    ‖P‖_F² − θ, and Kato–Temple's inequality gives σ₁² ≤ θ + r²/(2θ − ‖P‖_F²), r = ‖PPᵀu − θu‖.  A norm
    is taken as √θ when that bound is within 2⁻⁵³ of θ, with a margin for the rounding of θ and ‖P‖_F²
    in the gap (under σ₁² > ‖P‖_F²/2 each carries a relative error of at most a few m·2⁻⁵³, as the
    largest eigenvalue of PᵀP does from LAPACK's eigensolver; measured, both are within a few 2⁻⁵³ of
    the SVD's norm).  A matrix whose residual does not shrink fast enough to get there within
    CERTIFY_STEPS iterations, or whose σ₁² may not be the larger half of ‖P‖_F² (a short product, whose
    singular values are alike) once WARM_STEPS iterations have had the chance to show it, is left NaN for
    the caller's eigensolver.

    Args:
        mats: a stack of square float64 matrices, shape (G, m, m).

    Returns:
        ‖P‖₂ of each matrix, NaN where it was not proven.
    """
    G, m = mats.shape[0], mats.shape[1]
    out = np.full(G, np.nan)
    frob = np.einsum("gij,gij->g", mats, mats)
    tolerance, margin = ROUNDING, 16 * m * ROUNDING
    live = np.flatnonzero(frob > 0)  # a zero matrix is the caller's (its norm is 0, its log −∞)
    u = np.einsum("gij->gi", mats[live])
    size = np.linalg.norm(u, axis=1)
    live, u = live[size > 0], u[size > 0] / size[size > 0, None]
    previous = None
    # the live matrices, gathered again only when some leave: a copy of them all each iteration cost more
    # than its products (an LSTM's 303 norms at n = 64: 18–20 ms against 16–17)
    P = mats[live]
    for step in range(CERTIFY_STEPS):
        if not live.size:
            break
        w = np.matmul(u[:, None, :], P)[:, 0]  # (Pᵀu)ᵀ
        theta = np.einsum("gi,gi->g", w, w)
        z = np.matmul(P, w[:, :, None])[:, :, 0]  # PPᵀu
        residual = z - theta[:, None] * u
        r2 = np.einsum("gi,gi->g", residual, residual)
        gap = 2 * theta - frob[live]
        dominant = gap > margin * frob[live]
        # rounding moves the computed gap by less than half the margin it must exceed: half of it is a
        # lower bound of the true one
        proven = dominant & (r2 <= tolerance * theta * gap / 2)
        out[live[proven]] = np.sqrt(theta[proven])
        keep = ~proven
        if previous is not None:  # give up on those that cannot get there in the iterations left
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = r2 / previous
                needed = np.log(tolerance * theta * np.maximum(gap, 0) / 2 / r2) / np.log(rate)
            slow = dominant & ((rate >= 1) | (needed > CERTIFY_STEPS - 1 - step))
            keep &= ~slow
        size = np.linalg.norm(z, axis=1)  # ‖PPᵀu‖ ≤ σ₁² too, and nearer to it than θ while u turns
        # else σ₁² may not be the larger half (given WARM_STEPS iterations to show it)
        keep &= (size > 0) & (dominant | (2 * size > frob[live]) | (step + 1 < WARM_STEPS))
        if not keep.all():
            P = P[keep]
        live, u, previous = live[keep], z[keep] / size[keep, None], r2[keep]
    return out
