"""Magnitudes far outside float64, carried as log10: Jacobian norms, regimes and the scalar sweep.

‖∂s_T/∂s_k‖₂ = ‖S_T ⋯ S_{k+1}‖₂ with S_t the step Jacobian of the whole state (blocks J + F per pair of
states).  Each S_t is written as 10^{m_t}·Ŝ_t, m_t the largest log10 of its coefficients (computed from
a, so a saturated unit gives 10^-347, not 0), and the running product is renormalised at every step:
log10‖∂s_T/∂s_k‖ = Σ m_t + Σ log10(scale) + log10‖P̂‖ never over- or underflows.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np

from ..activations import get_activation
from ..cells import INPUT
from ..step import Route
from .factors import ArrayFactors
from .forward import compiled

TINY = np.finfo(float).tiny
MAX_LISTED = 201


def listed_steps(T: int) -> list[int]:
    """The k at which norms are reported: all of 0..T up to 200 steps, else 201 spread over 0..T."""
    if T + 1 <= MAX_LISTED:
        return list(range(T + 1))
    return sorted({int(round(v)) for v in np.linspace(0, T, MAX_LISTED)})


def log_coefficients(values: ArrayFactors, layer: int) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(sign, log10|c|) of every step coefficient of ``layer`` (batch of one), entries that float64
    could not hold recomputed with mpmath from the step's own inputs."""
    traj, watch = values.traj, values.watch
    lossy = watch.touched("forward") or watch.touched(("coef", layer))
    out = {}
    for key, array in traj.coefs[layer - 1].items():
        c = array[:, :, 0].astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.abs(c))
        sign = np.sign(c)
        if lossy:
            bad = (np.abs(c) < TINY) | ~np.isfinite(c)
            bad[0] = False
            for t, i in zip(*np.nonzero(bad), strict=True):
                v = _mp_coefficient(values, layer, int(t), int(i), key)
                sign[t, i] = float(mpmath.sign(v))
                logs[t, i] = -np.inf if v == 0 else float(mpmath.log10(abs(v)))
        out[key] = (sign, logs)
    return out


def _mp_coefficient(values: ArrayFactors, layer: int, t: int, i: int, key: tuple[str, str]) -> mpmath.mpf:
    """One coefficient entry at 30 digits, from the float64 leaves of its step (pre-activations and
    previous states are accurate in float64; only the nonlinear values may have lost range)."""
    cc = compiled(values.model.cell, "mp")
    traj, cell = values.traj, values.model.cell
    layer_values = traj.values[layer - 1]
    with mpmath.workdps(30):
        args = {lin.name: layer_values[lin.name][t, i, 0] for lin in cell.linears}
        args |= {f"prev_{s}": layer_values[s][t - 1, i, 0] for s in cell.states}
        inp = traj.layer_input(layer, t)
        args[INPUT] = inp[min(i, inp.shape[0] - 1), 0]
        args |= {s: v[i, 0] for s, v in traj.scalars[layer - 1].items()}
        row = [mpmath.mpf(float(args[name])) for name in cc.leaf_names]
        nodes = [mpmath.mpf(0)] * len(cc.node_names)
        for k in range(len(nodes)):
            nodes[k] = cc.nodes[k](*row, *nodes)
        return mpmath.mpf(cc.coefficients[key](*row, *nodes))


def _step_matrix(values: ArrayFactors, layer: int, t: int, logs: dict) -> tuple[np.ndarray, float]:
    """(Ŝ_t, m_t): the step Jacobian of the whole state divided by 10^{m_t}."""
    cell, graph = values.model.cell, values.graph
    n, S = values.n, len(cell.states)
    p = values.model.params[layer - 1]
    used = [(r, leaf, matrix) for r in graph.routes if r.kind in ("J", "F") for leaf, matrix in graph.terms(r)]
    tops = [np.max(logs[(r.target, leaf)][1][t]) for r, leaf, _ in used]
    m = max((v for v in tops if np.isfinite(v)), default=-np.inf)
    if not np.isfinite(m):
        return np.zeros((S * n, S * n)), 0.0
    out = np.zeros((S * n, S * n))
    index = {s: i for i, s in enumerate(cell.states)}
    for route, leaf, matrix in used:
        sign, lg = logs[(route.target, leaf)]
        c = sign[t] * 10.0 ** (lg[t] - m)
        block = np.diag(c) if matrix is None else c[:, None] * p[matrix]
        r, q = index[route.target] * n, index[route.source] * n
        out[r:r + n, q:q + n] += block
    return out, float(m)


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
    wanted, out = set(ks), {name: {} for name in ("state", *cell.states)}
    size = len(cell.states) * n
    product, scale, dead = np.eye(size), 0.0, False
    for k in range(T, -1, -1):
        if k < T and not dead:
            step, m = _step_matrix(values, layer, k + 1, logs)
            product = product @ step
            top = float(np.max(np.abs(product)))
            if top == 0.0 or not np.isfinite(top):
                dead = True
            else:
                product, scale = product / top, scale + m + math.log10(top)
        if k in wanted:
            for i, name in enumerate(cell.states):
                block = product[i * n:(i + 1) * n, i * n:(i + 1) * n]
                out[name][k] = _log_norm(block, scale, dead)
            out["state"][k] = _log_norm(product, scale, dead)
    return {name: [out[name][k] for k in ks] for name in out}


def _log_norm(matrix: np.ndarray, scale: float, dead: bool) -> float:
    if dead:
        return -math.inf
    norm = float(np.linalg.norm(matrix, 2)) if matrix.size > 1 else abs(float(matrix.flat[0]))
    return scale + math.log10(norm) if norm > 0 else -math.inf


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


def observed(log10_norm: float, T: int) -> str:
    """What the measured ∂h_T/∂h_0 did, beside the bound: vanishing, exploding or neither."""
    if not math.isfinite(log10_norm):
        return "vanishing: exactly 0 (a factor is zero)" if log10_norm < 0 else "exploding: beyond any range"
    rate = lyapunov_rate(log10_norm, T)
    shown = f"10^{log10_norm:.3g} over T = {T}, rate {rate:.3g} per step"
    if log10_norm < -1:
        return f"vanishing: {shown}"
    if log10_norm > 1:
        return f"exploding: {shown}"
    return f"neither: {shown}"


__all__ = ["Route", "listed_steps", "log10_jacobian_norms", "lyapunov_rate", "observed", "regime"]
