"""Magnitudes far outside float64, carried as log10: Jacobian norms, regimes and the scalar sweep.

‖∂s_T/∂s_k‖₂ = ‖S_T ⋯ S_{k+1}‖₂ with S_t the step Jacobian of the whole state (blocks J + F per pair of
states).  Each S_t is written as 10^{m_t}·Ŝ_t, m_t the largest log10 of its coefficients (computed from
a, so a saturated unit gives 10^-347, not 0), and the running product is renormalised at every step:
log10‖∂s_T/∂s_k‖ = Σ m_t + Σ log10(scale) + log10‖P̂‖ never over- or underflows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .. import primitives as P
from ..activations import get_activation
from ..cells import Cell, unit
from ..step import Route, step_graph
from . import arbforward
from .factors import ArrayFactors
from .spectral import BLOCK, certified_norms, spectral_norms
from .underflow import mp_coefficients

TINY = np.finfo(float).tiny
MAX_LISTED = 201


def listed_steps(T: int) -> list[int]:
    """The k at which norms are reported: all of 0..T up to 200 steps, else 201 spread over 0..T."""
    if T + 1 <= MAX_LISTED:
        return list(range(T + 1))
    return sorted({int(round(v)) for v in np.linspace(0, T, MAX_LISTED)})


def log_coefficients(values: ArrayFactors, layer: int) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(sign, log10|c|) of every step coefficient of ``layer`` (batch of one), entries that float64
    could not hold recomputed with mpmath from the step's own inputs; log10|c| is −∞ only for c = 0, and
    NaN where c ≠ 0 but its log10 is beyond float64's range."""
    traj, watch = values.traj, values.watch
    lossy = watch.touched("forward") or watch.touched(("coef", layer))
    out = {}
    coefs = traj.coefs[layer - 1]
    for key in coefs:
        if (balls := arbforward.arb_source(coefs, key)) is not None:  # an exact pass's Arb coefficients, as they are
            out[key] = arbforward.sign_log10(balls[:, :, 0])
            continue
        array = coefs[key]
        if array.dtype == object:  # an exact trajectory: logs of the mpf values themselves
            exact = array[:, :, 0]
            sign = np.array([[P.mp_sign_value(v) for v in row] for row in exact]).reshape(exact.shape)
            logs = np.array([[P.mp_log10_abs(v) for v in row]
                             for row in exact]).reshape(exact.shape)
            out[key] = (sign, logs)
            continue
        c = array[:, :, 0].astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.abs(c))
        sign = np.sign(c)
        if lossy:
            bad = (np.abs(c) < TINY) | ~np.isfinite(c)
            bad[0] = False
            for t, i in zip(*np.nonzero(bad), strict=True):
                v = mp_coefficients(values, layer, int(t), int(i), 0, (key,))[key]
                sign[t, i] = float(mpmath.sign(v))
                logs[t, i] = P.mp_log10_abs(v)
        out[key] = (sign, logs)
    for sign, logs in out.values():  # a nonzero entry whose log10 float64 cannot hold (|log10| > 1.8e308,
        logs[(sign != 0) & np.isinf(logs)] = np.nan  # as from tanh(sinh(a))): NaN, never an "exact 0"
    return out


SMALL_SVD = 16  # up to this many rows a norm is LAPACK's SVD of the block; above, a cheaper route
STEP_CHUNK_BYTES = 2**20  # step matrices built at once (a chunk of steps, vectorised over t, that stays in cache)


class StepMatrices:
    """Ŝ_t and m_t (the step Jacobian of the whole state divided by 10^{m_t}, m_t the largest log10 of
    its coefficients) for t = 1..T, built a chunk of steps at a time with NumPy over t."""

    def __init__(self, values: ArrayFactors, layer: int, logs: dict, units: bool = False) -> None:
        cell, graph = values.model.cell, values.graph
        self.n, self.S, self.T = values.n, len(cell.states), values.model.T
        # the weights as float64 (an exact model holds them as mpf, each the float64 value it was read as)
        self.params = {k: np.asarray(v, dtype=float) for k, v in values.model.params[layer - 1].items()}
        self.used = [(r, leaf, matrix) for r in graph.routes if r.kind in ("J", "F")
                     for leaf, matrix in graph.terms(r)]
        self.index = {s: i for i, s in enumerate(cell.states)}
        self.logs = logs
        coefs = values.traj.coefs[layer - 1]  # an exact trajectory's coefficients themselves (mpf), for exact()
        exact = all(arbforward.arb_source(coefs, key) is not None or coefs[key].dtype == object for key in coefs)
        self.mp_coefs = coefs if exact else None  # (an exact pass's Arb coefficients are converted where read)
        tops = np.stack([np.max(logs[(r.target, leaf)][1][1:], axis=1) for r, leaf, _ in self.used])
        tops = np.where(np.isfinite(tops), tops, -np.inf)
        self.m = np.max(tops, axis=0)  # (T,), −∞ where every coefficient of the step is 0
        size = self.S * self.n
        # ``units``: where every route is diagonal (no weight matrix on the path back: IndRNN, minGRU,
        # minLSTM, LRU), Ŝ_t comes unit by unit, (n, S, S) — unit i's entries of each block — as the product
        # of such steps stays such (_unit_norms multiplies it so)
        self.units = units and all(matrix is None for _, _, matrix in self.used)
        self.chunk = max(1, STEP_CHUNK_BYTES // (8 * (self.n * self.S * self.S if self.units else size * size)))
        self._start: int | None = None
        self._block = np.zeros((0, size, size))

    def __call__(self, t: int) -> tuple[np.ndarray, float]:
        start = self._start
        if start is None or not start <= t < start + len(self._block):
            down = start is not None and t < start  # walked from T down to 1, or up
            start = self._start = max(1, t - self.chunk + 1) if down or t == self.T else t
            self._block = self._build(start, min(self.T, start + self.chunk - 1) + 1)
        m = float(self.m[t - 1])
        return self._block[t - start], (m if np.isfinite(m) else 0.0)

    def underflows(self) -> bool:
        """Whether some coefficient is so much smaller than its step's largest that the scaled float64
        step would hold it as 0 (IndRNN units whose σ' differ by 300 orders): then a unit's path is lost."""
        for route, leaf, _ in self.used:
            lg = self.logs[(route.target, leaf)][1][1:]
            with np.errstate(invalid="ignore"):
                gap = lg - self.m[:, None]
            if np.any(np.isfinite(gap) & (gap < -300)):
                return True
        return False

    def exact(self, t: int) -> mpmath.matrix:
        """The step Jacobian S_t itself as an mpmath matrix (no scaling: mpf exponents do not overflow): from
        the coefficients themselves on an exact trajectory, else from their signs and logs."""
        n, size = self.n, self.S * self.n
        out = [[mpmath.mpf(0)] * size for _ in range(size)]
        for route, leaf, matrix in self.used:
            key = (route.target, leaf)
            sign, lg = self.logs[key]
            r, q = self.index[route.target] * n, self.index[route.source] * n
            for i in range(n):
                if sign[t, i] == 0 or not np.isfinite(lg[t, i]):
                    continue
                c = (self.mp_coefs[key][t, i, 0] if self.mp_coefs is not None
                     else int(sign[t, i]) * mpmath.power(10, mpmath.mpf(float(lg[t, i]))))
                row = out[r + i]
                if matrix is None:
                    row[q + i] += c
                else:
                    weights = self.params[matrix][i]
                    for j in range(n):
                        row[q + j] += c * float(weights[j])
        return mpmath.matrix(out)

    def _build(self, lo: int, hi: int) -> np.ndarray:
        """Ŝ_t for t in [lo, hi): every route's diag(coefficient)·matrix (or diag) placed in its block."""
        n, size = self.n, self.S * self.n
        out = np.zeros((hi - lo, n, self.S, self.S) if self.units else (hi - lo, size, size))
        term = np.empty((hi - lo, n, n))  # diag(c_t)·M for every t of the chunk, made in place
        m = self.m[lo - 1:hi - 1]
        shift = np.where(np.isfinite(m), m, 0.0)[:, None]
        for route, leaf, matrix in self.used:
            sign, lg = self.logs[(route.target, leaf)]
            with np.errstate(under="ignore"):
                c = np.where(np.isfinite(m)[:, None], sign[lo:hi] * 10.0 ** (lg[lo:hi] - shift), 0.0)
            if self.units:
                out[:, :, self.index[route.target], self.index[route.source]] += c
                continue
            r, q = self.index[route.target] * n, self.index[route.source] * n
            if matrix is None:
                diagonal = out[:, r:r + n, q:q + n]
                diagonal[:, np.arange(n), np.arange(n)] += c
            else:
                np.multiply(c[:, :, None], self.params[matrix][None], out=term)
                out[:, r:r + n, q:q + n] += term
        return out


def _scalar_weight(values: ArrayFactors, layer: int) -> float | None:
    """For a one-unit, one-state cell whose only route is J = c·w: w (the sum of logs is exact)."""
    graph = values.graph
    routes = [r for r in graph.routes if r.kind in ("J", "F")]
    if values.n != 1 or len(values.model.cell.states) != 1 or len(routes) != 1:
        return None
    terms = graph.terms(routes[0])
    if len(terms) != 1 or terms[0][1] is None:
        return None
    return float(values.model.params[layer - 1][terms[0][1]][0, 0])


def log10_jacobian_norms(values: ArrayFactors, layer: int | None = None,
                         ks: list[int] | None = None) -> dict[str, list[float]]:
    """log10‖∂s_T/∂s_k‖₂ of one layer (default: the top) for k in ``ks``: the whole state ('state') and
    each state's own block (∂h_T/∂h_k as 'h', ∂c_T/∂c_k as 'c')."""
    layer = values.model.layers if layer is None else layer
    T, cell, n = values.model.T, values.model.cell, values.n
    ks = list(range(T + 1)) if ks is None else ks
    logs = log_coefficients(values, layer)
    w = _scalar_weight(values, layer)
    if w is not None:
        key = next(iter(logs))
        sign, lg = logs[key]
        with np.errstate(divide="ignore"):
            per_step = lg[1:, 0] + math.log10(abs(w)) if w != 0 else np.full(T, -np.inf)
        tail = np.concatenate([np.cumsum(per_step[::-1])[::-1], [0.0]])
        values_k = [float(tail[k]) for k in ks]
        return {"state": values_k, cell.states[0]: values_k}
    wanted = set(ks)
    size = len(cell.states) * n
    steps = StepMatrices(values, layer, logs, units=True)
    if steps.underflows() and size**3 * T <= MP_PRODUCT_WORK:  # float64 would drop a unit's path: exactly
        return _mp_jacobian_norms(steps, ks, cell.states)
    if steps.units:
        return _unit_norms(steps, ks, cell.states)
    held = _HeldNorms(cell.states, n, size)
    try:
        for k, product, scale, dead in _products_back(steps, np.eye(size), np.matmul):
            if k in wanted:
                held.add(k, product, scale, dead)
    except _Underflow:
        return _mp_jacobian_norms(steps, ks, cell.states)
    out = held.logs()
    return {name: [out[name][k] for k in ks] for name in out}


class _Underflow(Exception):
    """A product of nonzero steps became 0 in float64: it dropped a unit's path (the exact fallback's case)."""


def _products_back(steps: StepMatrices, product: np.ndarray, multiply: Callable[[np.ndarray, np.ndarray], np.ndarray]
                   ) -> Iterator[tuple[int, np.ndarray, float, bool]]:
    """(k, P_k / 10^scale, scale, dead) for k = T down to 0, P_k = S_T ⋯ S_{k+1} (``product`` the identity
    in the caller's layout, ``multiply`` its product with a step from ``steps``), renormalised by its
    largest entry at every step; ``dead`` once it is exactly 0 or left float64 (every later value −∞).

    Raises:
        _Underflow: it became 0 though no step is 0 and the exact products are affordable
            (MP_PRODUCT_WORK): float64 dropped a unit's path.
    """
    T, scale, dead = steps.T, 0.0, False
    affordable = (steps.S * steps.n) ** 3 * T <= MP_PRODUCT_WORK
    for k in range(T, -1, -1):
        if k < T and not dead:
            step, m = steps(k + 1)
            product = multiply(product, step)
            top = float(np.max(np.abs(product)))
            if top == 0.0 or not np.isfinite(top):
                if top == 0.0 and np.all(np.isfinite(steps.m)) and affordable:
                    raise _Underflow
                dead = True
            else:
                product, scale = product / top, scale + m + math.log10(top)
        yield k, product, scale, dead


def _unit_norms(steps: StepMatrices, ks: list[int], states: tuple[str, ...]) -> dict[str, list[float]]:
    """log10_jacobian_norms where every block of the step is diagonal (StepMatrices.units): the product,
    renormalised as there, holds unit i's S × S matrix at rows and columns s·n + i and is 0 elsewhere, so
    it is multiplied unit by unit (n·S³ a step, not (nS)³: the same products, without the zeros) and its
    norm is the largest of the units' (|p_i| for one state: no SVD), each block's its largest entry."""
    n, S = steps.n, steps.S
    if S == 1:
        logs = _one_state_logs(steps, ks)
        if logs is not None:
            return {"state": logs, states[0]: logs}
    wanted = set(ks)
    found: dict[str, dict[int, float]] = {name: {} for name in ("state", *states)}
    multiply = np.multiply if S == 1 else np.matmul  # one state: one product per unit
    try:
        for k, product, scale, dead in _products_back(steps, np.tile(np.eye(S), (n, 1, 1)), multiply):
            if k not in wanted:
                continue
            whole = np.abs(product[:, 0, 0]) if S == 1 else np.linalg.svd(product, compute_uv=False)[:, 0]
            norms = {"state": float(np.max(whole))}
            if S > 1:
                norms |= {name: float(np.max(np.abs(product[:, i, i]))) for i, name in enumerate(states)}
            for name, norm in norms.items():
                found[name][k] = scale + math.log10(norm) if norm > 0 and not dead else -math.inf
    except _Underflow:
        return _mp_jacobian_norms(steps, ks, states)
    if S == 1:
        found[states[0]] = found["state"]
    return {name: [found[name][k] for k in ks] for name in found}


def _one_state_logs(steps: StepMatrices, ks: list[int]) -> list[float] | None:
    """_unit_norms for one state, every k at once: unit i's product from k is Π_{t>k} S_t[i], so its log10
    is Σ_{t>k} (m_t + log10|Ŝ_t[i]|), a sum from T down that NumPy takes a chunk of steps at a time
    (cumsum; the product loop's renormalising multiplications and logs agree with it to rounding), and the
    norm is the largest unit's; −∞ for a unit once a step of it is 0.  None where a scaled step is not
    finite (the product loop's rules take it)."""
    T, n = steps.T, steps.n
    out = np.zeros(T + 1)  # k = T: the identity
    below = np.zeros(n)  # Σ_{t>hi−1} of each unit's logs, carried from the chunk after
    hi = T + 1
    while hi > 1:
        lo = max(1, hi - steps.chunk)
        block = steps._build(lo, hi)[:, :, 0, 0]  # Ŝ_t for t in [lo, hi), (hi − lo, n)
        m = steps.m[lo - 1:hi - 1]
        if not (np.all(np.isfinite(block)) and np.all(~np.isnan(m))):
            return None
        held = np.isfinite(m)[:, None]  # m_t = −∞: every coefficient of step t is 0
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(held, np.log10(np.abs(block)) + np.where(held, m[:, None], 0.0), -np.inf)
            tail = np.cumsum(logs[::-1], axis=0)[::-1] + below  # row j: Σ_{t ≥ lo + j}, from k = lo + j − 1
        out[lo - 1:hi - 1] = np.max(tail, axis=1)
        below = tail[0]
        hi = lo
    return [float(out[k]) for k in ks]  # in the order asked, as the product loop returns them


class _HeldNorms:
    """log10‖P‖₂ of the products a backward accumulation lists, computed a batch at a time: the whole
    state and each state's diagonal block (one norm when the cell has one state: its block is the whole).
    Small blocks by LAPACK's SVD; above SMALL_SVD rows by power iterations where they prove the norm
    (spectral.certified_norms: a long product, whose largest singular value dominates), else as the
    square root of the largest eigenvalue of PᵀP (LAPACK's symmetric eigensolver on the batch); either
    way to a relative error of a few times m·2⁻⁵³, like the SVD's, and with no iteration stopped early
    on a guess."""

    BATCH_BYTES = 8 * 2**20  # products held before their norms are taken

    def __init__(self, states: tuple[str, ...], n: int, size: int) -> None:
        self.states, self.n = states, n
        self.batch = max(1, self.BATCH_BYTES // (8 * size * size))
        self.pending: list[tuple[int, np.ndarray, float]] = []
        self.found: dict[str, dict[int, float]] = {name: {} for name in ("state", *states)}

    def add(self, k: int, product: np.ndarray, scale: float, dead: bool) -> None:
        if dead:
            for name in self.found:
                self.found[name][k] = -math.inf
            return
        self.pending.append((k, product.copy(), scale))
        if len(self.pending) >= self.batch:
            self._flush()

    def logs(self) -> dict[str, dict[int, float]]:
        self._flush()
        return self.found

    def _flush(self) -> None:
        if not self.pending:
            return
        stack = np.stack([p for _, p, _ in self.pending])
        blocks = {"state": stack}
        if len(self.states) > 1:
            n = self.n
            blocks |= {name: stack[:, i * n:(i + 1) * n, i * n:(i + 1) * n] for i, name in enumerate(self.states)}
        for name, mats in blocks.items():
            norms = _batch_norms(mats)
            for (k, _, scale), norm in zip(self.pending, norms, strict=True):
                self.found[name][k] = scale + math.log10(norm) if norm > 0 else -math.inf
        if len(self.states) == 1:
            self.found[self.states[0]] = self.found["state"]
        self.pending = []


def _batch_norms(mats: np.ndarray) -> np.ndarray:
    """‖M‖₂ of each matrix of a (G, m, m) stack."""
    if mats.shape[1] == 1:
        return np.abs(mats[:, 0, 0])
    if mats.shape[1] <= SMALL_SVD:  # one LAPACK call per matrix, as _norm makes it, from one NumPy call
        return np.max(np.linalg.svd(mats, compute_uv=False), axis=-1)
    norms = certified_norms(mats)  # a long product's: proven by a few power iterations
    left = np.isnan(norms)
    if left.any():
        gram = np.matmul(np.swapaxes(mats[left], 1, 2), mats[left])
        norms[left] = np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[:, -1], 0.0))
    return norms


class _WarmNorms:
    """Spectral norms of a product that changes a few factors at a time: LAPACK's SVD for small
    matrices, above that the sweeps' block power iteration, warm-started from the previous block."""

    def __init__(self) -> None:
        self.blocks: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng(0)

    def log_norm(self, name: str, matrix: np.ndarray, scale: float, dead: bool) -> float:
        if dead or matrix.shape[0] <= SMALL_SVD:
            return _log_norm(matrix, scale, dead)
        start = self.blocks.get(name)
        if start is None:
            start = np.eye(matrix.shape[0], BLOCK)[None]
        found, self.blocks[name] = spectral_norms(matrix[None], start, self.rng)
        norm = float(found[0])
        return scale + math.log10(norm) if norm > 0 else -math.inf


def log10_norms_by_T(values: ArrayFactors, layer: int | None = None,
                     on_step: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """log10‖∂s_t/∂s_0‖₂ for every t = 1..T in one forward accumulation P_t = S_t P_{t−1} (renormalised
    each step): the whole state ('state') and each state's own block ('h': ∂h_t/∂h_0, 'c': ∂c_t/∂c_0).

    Args:
        values: the forward pass of one configuration.
        layer: the layer whose state is followed (default: the top one).
        on_step: called with t after each step (a progress line).

    Returns:
        One array of T log10 norms per key (−inf once the product is exactly 0, NaN once it overflows).
    """
    layer = values.model.layers if layer is None else layer
    T, cell, n = values.model.T, values.model.cell, values.n
    logs = log_coefficients(values, layer)
    out = {name: np.full(T, -np.inf) for name in ("state", *cell.states)}
    product, scale = np.eye(len(cell.states) * n), 0.0
    steps = StepMatrices(values, layer, logs)
    norms = _WarmNorms()
    for t in range(1, T + 1):
        step, m = steps(t)
        product = step @ product
        top = float(np.max(np.abs(product)))
        if top == 0.0 or not np.isfinite(top):
            if not np.isfinite(top):
                for name in out:
                    out[name][t - 1:] = np.nan
            break
        product, scale = product / top, scale + m + math.log10(top)
        for i, name in enumerate(cell.states):
            out[name][t - 1] = norms.log_norm(name, product[i * n:(i + 1) * n, i * n:(i + 1) * n], scale, False)
        out["state"][t - 1] = norms.log_norm("state", product, scale, False)
        if on_step is not None:
            on_step(t)
    return out


MP_PRODUCT_WORK = 2_000_000  # size³·T of the products the exact fallback multiplies, at most


def _mp_jacobian_norms(steps: StepMatrices, ks: list[int], states: tuple[str, ...]) -> dict[str, list[float]]:
    """log10‖∂s_T/∂s_k‖₂ with the products in mpmath (30 digits; exponents unbounded): for the layers
    whose float64 steps would drop a unit's path (StepMatrices.underflows)."""
    n, T = steps.n, steps.T
    wanted = set(ks)
    found: dict[str, dict[int, float]] = {name: {} for name in ("state", *states)}
    with mpmath.workdps(30):
        product = mpmath.eye(steps.S * n)
        for k in range(T, -1, -1):
            if k < T:
                product = product * steps.exact(k + 1)
            if k in wanted:
                found["state"][k] = _mp_log_norm(product)
                for i, name in enumerate(states if len(states) > 1 else ()):  # one state: its block is the whole
                    found[name][k] = _mp_log_norm(product[i * n:(i + 1) * n, i * n:(i + 1) * n])
    if len(states) == 1:
        found[states[0]] = found["state"]
    return {name: [found[name][k] for k in ks] for name in found}


def _mp_log_norm(matrix: mpmath.matrix) -> float:
    """log10‖M‖₂ of an mpmath matrix: M divided by its largest |entry| (which keeps the exponent) is read
    into float64 and its norm taken by LAPACK's SVD.  Entries below 2⁻¹⁰²² of the largest become 0 there,
    which moves ‖M/top‖₂ ≥ 1 by less than m·2⁻¹⁰²² (Weyl); rounding the rest moves it by at most m·2⁻⁵³ of
    itself, the accuracy of every float64 norm of the report (an mpmath SVD cost 4 ms for a 4 × 4).  The
    log10 of the scale and of the norm are added in mpmath and rounded once."""
    if all(v == 0 for v in matrix):
        return -math.inf
    top = max(abs(v) for v in matrix)
    scaled = np.array([[float(matrix[i, j] / top) for j in range(matrix.cols)] for i in range(matrix.rows)])
    return float(mpmath.log10(top) + mpmath.log10(_norm(scaled)))  # summed before rounding: as before, to ½ ulp


def _log_norm(matrix: np.ndarray, scale: float, dead: bool) -> float:
    if dead:
        return -math.inf
    norm = _norm(matrix)
    return scale + math.log10(norm) if norm > 0 else -math.inf


def _norm(matrix: np.ndarray) -> float:
    """‖M‖₂ by LAPACK's SVD (|m| for a 1 × 1 matrix)."""
    return float(np.linalg.norm(matrix, 2)) if matrix.size > 1 else abs(float(matrix.flat[0]))


def lyapunov_rate(log10_norm_T0: float, T: int) -> float:
    """Finite-time Lyapunov exponent (1/T)·ln‖∂h_T/∂h_0‖ (natural log per step)."""
    return log10_norm_T0 * math.log(10.0) / T


def regime(W: np.ndarray, activation: str) -> dict[str, float | str | bool | None]:
    """The vanilla cell's bound: γ, σ_max(W), ρ(W) and the label — 'vanishing guaranteed' only when
    γ·σ_max(W) < 1 with γ exact (the spectral radius never decides a label)."""
    act = get_activation(activation)
    with np.errstate(all="ignore"):
        sigma_max = float(np.linalg.norm(W, 2))
        rho = float(np.max(np.abs(np.linalg.eigvals(W))))
    bound = act.gamma * sigma_max if math.isfinite(act.gamma) else math.inf
    if not math.isfinite(act.gamma):
        label = "no bound (σ' is unbounded)"
    elif bound < 1:
        label = "vanishing guaranteed" if act.gamma_exact else "vanishing likely (γ estimated)"
    else:
        label = "exploding possible"
    return {"gamma": act.gamma if math.isfinite(act.gamma) else None, "gamma_exact": act.gamma_exact,
            "gamma_status": act.gamma_status, "sigma_max": sigma_max, "spectral_radius": rho,
            "gamma_sigma_max": bound if math.isfinite(bound) else None, "label": label}


def path_weight(spec: Cell, params: dict[str, np.ndarray]) -> np.ndarray | None:
    """The weight on the one path back of a cell whose factor is σ'(·) times a weight — W for the vanilla
    cell (J_t = diag(σ'(a_t))·W), diag(w) for IndRNN (F_t = diag(w ⊙ σ'(·))) — read off the cell's
    routes; None when the cell has no such single path (gated cells)."""
    graph = step_graph(spec)
    back = graph.back(spec.output)
    if not spec.uses_activation or len(spec.states) != 1 or len(back) != 1:
        return None
    terms = graph.terms(back[0])
    if back[0].kind == "J" and len(terms) == 1 and terms[0][1] is not None:
        return np.asarray(params[terms[0][1]], dtype=float)
    coefficient = graph.coefficient(spec.output, f"prev_{spec.output}")
    own = [p for p in spec.vector_params if unit(p) in coefficient.free_symbols]
    if back[0].kind == "F" and len(own) == 1:
        return np.diag(np.asarray(params[own[0]], dtype=float).ravel())
    return None


def constant_factor(spec: Cell, params: dict[str, np.ndarray]) -> np.ndarray | None:
    """The per-unit factor ∂h_t/∂h_(t-1) of a cell where it depends on parameters only (the LRU's
    λ = exp(−exp(ν))), evaluated at 50 digits; None when the factor depends on the data.  Raises
    BeyondReach where an exponential in it is beyond primitives.MAX_MAG."""
    graph = step_graph(spec)
    back = graph.back(spec.output)
    if len(spec.states) != 1 or len(back) != 1 or back[0].kind != "F":
        return None
    coefficient = graph.coefficient(spec.output, f"prev_{spec.output}")
    own = {unit(p): p for p in spec.unit_params}
    if not coefficient.free_symbols <= set(own):
        return None
    names = sorted(coefficient.free_symbols, key=str)
    f = _mp_function(tuple(names), coefficient)
    columns = [np.broadcast_to(np.asarray(params[own[s]], dtype=float).ravel(), (len(params[spec.states[0] + "0"]),))
               for s in names]
    with mpmath.workdps(50):
        return np.array([f(*(mpmath.mpf(float(c[i])) for c in columns)) for i in range(len(columns[0]))]
                        if columns else [f()], dtype=object)


@lru_cache(maxsize=64)
def _mp_function(names: tuple[sp.Symbol, ...], expr: sp.Expr) -> Callable[..., Any]:
    """``expr`` of ``names`` as an mpmath function, made once per expression (lambdify writes and compiles
    source: 0.2 ms, a quarter of a 64-unit factor's cost); its exponentials and sines refuse an argument
    beyond primitives.MAX_MAG (BeyondReach), where mpmath's reduction would run for minutes (the LRU's
    λ = exp(−exp(ν)) at ν = 10^9)."""
    return sp.lambdify(names, expr, [P.MP_GUARDED, "mpmath"])


def constant_regime(factor: np.ndarray) -> dict[str, object]:
    """The exact statement for a data-independent diagonal factor: ‖∂h_T/∂h_k‖₂ = (max_i |F_i|)^{T−k}."""
    largest = max(abs(v) for v in factor)
    gap = 1 - largest
    shown = f"1 − {mpmath.nstr(gap, 3)}" if 0 < gap < 1e-3 else mpmath.nstr(largest, 6)
    if largest < 1:
        label = f"vanishing guaranteed: the factor is the constant diag(F), max |F_i| = {shown} < 1"
    elif largest > 1:
        label = f"exploding guaranteed: the factor is the constant diag(F), max |F_i| = {shown} > 1"
    else:
        label = "neither: the factor is the constant diag(F), max |F_i| = 1"
    return {"max_factor": float(largest), "log10_max_factor": float(mpmath.log10(largest)) if largest else None,
            "label": label}


def observed(log10_norm: float, T: int) -> str:
    """What the measured ∂h_T/∂h_0 did, beside the bound: vanishing, exploding or neither, with its power
    of 10 over T and its rate per step, said to be in natural log (lyapunov_rate): beside a power of 10
    an unnamed rate reads as log10 per step."""
    if not math.isfinite(log10_norm):
        return "vanishing: exactly 0 (a factor is zero)" if log10_norm < 0 else "exploding: beyond any range"
    rate = lyapunov_rate(log10_norm, T)
    if abs(log10_norm) >= 1e15:  # float64 holds about 15 of its digits, not every digit before the point
        power = f"({log10_norm:.15g})".replace("e+", "e")
    else:
        power = f"{log10_norm:.0f}" if abs(log10_norm) >= 1000 else f"{log10_norm:.3g}"
    shown = f"10^{power} over T = {T}, rate {rate:.3g} per step (natural log)"
    if log10_norm < -1:
        return f"vanishing: {shown}"
    if log10_norm > 1:
        return f"exploding: {shown}"
    return f"neither: {shown}"


__all__ = ["Route", "constant_factor", "constant_regime", "listed_steps", "log10_jacobian_norms", "lyapunov_rate",
           "observed", "path_weight", "regime"]
