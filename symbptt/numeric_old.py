"""Numbers from the structure: gradients through the same paths as the symbolic forms, lambdified forms,
log-space Jacobian norms, regimes, truncated BPTT and one-pass sweeps over weight × T.

Magnitudes far outside float64 are carried as log10: a product of T factors is a sum of T logs (scalar)
or a renormalised matrix product (matrices), so w = 0.1, T = 1000 gives log10 ≈ −1000, not 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from .activations import get_activation
from .config import Config
from .derive import SymbolicFactors
from .model import PARAMS, RNN, Matrix
from .paths import Step, evaluate_deltas, evaluate_explicit, evaluate_recursive, targets
from .safeexpr import A

# ------------------------------------------------------------------ forward pass and factor values


def forward(cfg: Config) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """a[ℓ] and h[ℓ] of shape (T+1, n); row 0 of h is h0 (row 0 of a is unused)."""
    sigma = get_activation(cfg.activation).np_sigma
    T, n = cfg.T, cfg.n
    a = [np.zeros((T + 1, n)) for _ in cfg.layers]
    h = [np.zeros((T + 1, n)) for _ in cfg.layers]
    for ell, p in enumerate(cfg.layers):
        h[ell][0] = p["h0"]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, T + 1):
            inp = cfg.x[t - 1]
            for ell, p in enumerate(cfg.layers):
                a[ell][t] = p["W"] @ h[ell][t - 1] + p["U"] @ inp + p["b"]
                h[ell][t] = sigma(a[ell][t])
                inp = h[ell][t]
    return a, h


class NumpyFactors:
    """The factors J_t = diag(σ'(a_t))·W, V_t, D_t and errors as float64 arrays (columns are (n, 1))."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.a, self.h = forward(cfg)
        act = get_activation(cfg.activation)
        with np.errstate(over="ignore", invalid="ignore"):
            self.dsigma = [act.np_dsigma(a) for a in self.a]

    def factor(self, step: Step) -> np.ndarray:
        d = self.dsigma[step.layer - 1][step.t]
        if step.kind == "D":
            return np.diag(d)
        p = self.cfg.layers[step.layer - 1]
        return d[:, None] * (p["W"] if step.kind == "J" else p["U"])

    def error(self, t: int) -> np.ndarray:
        y = self.cfg.y if self.cfg.loss == "last" else self.cfg.y[t - 1]
        return (self.h[-1][t] - y)[:, None]

    def z(self, param: str, layer: int, t: int) -> np.ndarray:
        if param == "W":
            return self.h[layer - 1][t - 1][:, None]
        return (self.cfg.x[t - 1] if layer == 1 else self.h[layer - 2][t])[:, None]


def rnn_of(cfg: Config, T: int | None = None) -> RNN:
    """The structural RNN (sizes only) of a numeric configuration; n may exceed the symbolic limit."""
    rnn = RNN.__new__(RNN)
    for key, value in dict(T=T or cfg.T, n=min(cfg.n, 4), m=min(cfg.x.shape[1], 4), layers=len(cfg.layers),
                           activation=cfg.activation, loss=cfg.loss).items():
        object.__setattr__(rnn, key, value)
    return rnn


def loss_value(cfg: Config, h_top: np.ndarray) -> float:
    if cfg.loss == "last":
        return 0.5 * float(np.sum((h_top[-1] - cfg.y) ** 2))
    return 0.5 * float(np.sum((h_top[1:] - cfg.y) ** 2))


def gradients(cfg: Config) -> tuple[float, list[dict[str, np.ndarray]]]:
    """Loss and ∂L/∂θ for every layer by the recursive form over float64 factors."""
    values, rnn = NumpyFactors(cfg), rnn_of(cfg)
    with np.errstate(over="ignore", invalid="ignore"):
        deltas = evaluate_deltas(rnn, values)
        grads = [{} for _ in cfg.layers]
        for param, layer in targets(rnn, "all"):
            g = evaluate_recursive(rnn, param, layer, values, deltas)
            grads[layer - 1][param] = g.reshape(cfg.layers[layer - 1][param].shape)
    return loss_value(cfg, values.h[-1]), grads


# ------------------------------------------------------------------ mpmath at many digits


class MpFactors:
    """The same factors at ``dps`` decimal digits with mpmath (exponents never overflow)."""

    def __init__(self, cfg: Config, dps: int = 50) -> None:
        self.cfg, self.dps = cfg, dps
        act = get_activation(cfg.activation)
        self.sigma = sp.lambdify(A, act.sigma, "mpmath")
        self.dsig = sp.lambdify(A, act.dsigma, [{"Heaviside": _mp_heaviside}, "mpmath"])
        self.p = [{k: mpmath.matrix(v.tolist()) if v.ndim == 2 else mpmath.matrix(v.tolist())
                   for k, v in layer.items()} for layer in cfg.layers]
        self.x = [mpmath.matrix(row.tolist()) for row in cfg.x]
        self._forward()

    def _forward(self) -> None:
        T = self.cfg.T
        self.a = [[None] * (T + 1) for _ in self.p]
        self.h = [[p["h0"]] + [None] * T for p in self.p]
        for t in range(1, T + 1):
            inp = self.x[t - 1]
            for ell, p in enumerate(self.p):
                a = p["W"] * self.h[ell][t - 1] + p["U"] * inp + p["b"]
                self.a[ell][t] = a
                self.h[ell][t] = a.apply(self.sigma)
                inp = self.h[ell][t]

    def factor(self, step: Step) -> mpmath.matrix:
        d = self.a[step.layer - 1][step.t].apply(self.dsig)
        if step.kind == "D":
            return mpmath.diag(d)
        p = self.p[step.layer - 1]
        return mpmath.diag(d) * (p["W"] if step.kind == "J" else p["U"])

    def error(self, t: int) -> mpmath.matrix:
        y = self.cfg.y if self.cfg.loss == "last" else self.cfg.y[t - 1]
        return self.h[-1][t] - mpmath.matrix(y.tolist())

    def z(self, param: str, layer: int, t: int) -> mpmath.matrix:
        if param == "W":
            return self.h[layer - 1][t - 1]
        return self.x[t - 1] if layer == 1 else self.h[layer - 2][t]


def _mp_heaviside(x: mpmath.mpf, h0: float = 0.5) -> mpmath.mpf:
    return mpmath.mpf(1) if x > 0 else (mpmath.mpf(0) if x < 0 else mpmath.mpf(h0))


def mp_gradients(cfg: Config, dps: int = 50) -> tuple[mpmath.mpf, list[dict[str, list]]]:
    """Loss and gradients at ``dps`` digits, as nested lists of mpf in each parameter's shape."""
    with mpmath.workdps(dps):
        values, rnn = MpFactors(cfg, dps), rnn_of(cfg)
        deltas = evaluate_deltas(rnn, values)
        grads = [{} for _ in cfg.layers]
        for param, layer in targets(rnn, "all"):
            g = evaluate_recursive(rnn, param, layer, values, deltas)
            shape = cfg.layers[layer - 1][param].shape
            flat = [g[i, j] for i in range(g.rows) for j in range(g.cols)]
            grads[layer - 1][param] = np.array(flat, dtype=object).reshape(shape)
        top = values.h[-1]
        if cfg.loss == "last":
            e = top[cfg.T] - mpmath.matrix(cfg.y.tolist())
            loss = sum(v**2 for v in e) / 2
        else:
            loss = sum(sum(v**2 for v in top[t] - mpmath.matrix(cfg.y[t - 1].tolist())) for t in
                       range(1, cfg.T + 1)) / 2
    return loss, grads


def mp_log10(value: mpmath.mpf) -> float | None:
    """log10|value| as a float (None for an exact zero)."""
    return None if value == 0 else float(mpmath.log10(abs(value)))


# ------------------------------------------------------------------ lambdified symbolic forms


@dataclass
class LambdifiedGradient:
    """A symbolic gradient form compiled to NumPy with common-subexpression elimination."""

    rnn: RNN
    args: list[sp.Symbol]
    func: Callable
    keys: list[tuple[str, int]]

    def __call__(self, cfg: Config) -> list[dict[str, np.ndarray]]:
        a, h = forward(cfg)
        value = symbol_values(self.rnn, cfg, a, h)
        out = self.func(*[value[s] for s in self.args])
        grads = [{} for _ in cfg.layers]
        for (param, layer), g in zip(self.keys, out, strict=True):
            grads[layer - 1][param] = np.array(g, dtype=float).reshape(cfg.layers[layer - 1][param].shape)
        return grads


class PlaceholderFactors(SymbolicFactors):
    """Factors as placeholder symbols (J_3, D_1 …); their definitions become the cse replacements, so the
    generated code computes each factor once and the gradient is a plain sum of products of names."""

    def __init__(self, rnn: RNN) -> None:
        super().__init__(rnn)
        self.definitions: dict[sp.Symbol, sp.Expr] = {}
        self._names: dict[Step, Matrix] = {}

    def factor(self, step: Step) -> Matrix:
        if step not in self._names:
            value = super().factor(step)
            names = [[sp.Symbol(f"_{step.kind}{step.layer}_{step.t}_{i}_{j}") for j in range(value.cols)]
                     for i in range(value.rows)]
            for i, row in enumerate(names):
                for j, name in enumerate(row):
                    self.definitions[name] = value[i, j]
            self._names[step] = Matrix(names)
        return self._names[step]


def _scalar_explicit(rnn: RNN, param: str, layer: int, values: PlaceholderFactors) -> Matrix:
    """The scalar explicit sum built term by term without 1×1 matrix products (fast for large T)."""
    from .paths import explicit_terms

    terms = []
    for term in explicit_terms(rnn, param, layer):
        factors = [values.error(term.loss_step)[0, 0], *(values.factor(s)[0, 0] for s in term.chain)]
        if param in ("W", "U"):
            factors.append(values.z(param, layer, term.entry)[0, 0])
        terms.append(sp.Mul._from_args(tuple(factors)))
    return Matrix([[sp.Add._from_args(tuple(terms)) if len(terms) > 1 else terms[0]]])


def lambdify_gradient(rnn: RNN, form: str = "explicit", wrt: str = "all") -> LambdifiedGradient:
    """Build ∂L/∂θ (explicit or recursive form, in state symbols) and lambdify it to NumPy as a function
    of the states h_t, a_t, the parameters, inputs and targets.  Common subexpressions are the per-step
    factors themselves: each is defined once in the generated code and the gradient refers to it."""
    values = PlaceholderFactors(rnn)
    keys = targets(rnn, wrt)
    exprs = []
    for param, layer in keys:
        if form == "explicit" and rnn.scalar and rnn.m == 1:
            exprs.append(_scalar_explicit(rnn, param, layer, values))
        else:
            evaluate = evaluate_explicit if form == "explicit" else evaluate_recursive
            exprs.append(evaluate(rnn, param, layer, values))
    s = rnn.symbols
    states = [sym for layer in range(1, rnn.layers + 1) for t in range(1, rnn.T + 1)
              for sym in (*s.h(layer, t), *s.a(layer, t))]
    args = states + s.parameters()
    modules = [{"Heaviside": lambda x, h0=0.5: np.heaviside(x, h0)}, "numpy"]
    replacements = list(values.definitions.items())
    func = sp.lambdify(args, exprs, modules, cse=lambda e: (replacements, e))
    return LambdifiedGradient(rnn, args, func, keys)


def symbol_values(rnn: RNN, cfg: Config, a: list[np.ndarray], h: list[np.ndarray]) -> dict:
    """Map each symbol of ``rnn`` to its number in ``cfg`` (states from the forward pass)."""
    s, out = rnn.symbols, {}
    for layer, p in enumerate(cfg.layers, start=1):
        for name in PARAMS:
            out.update(zip(s.param(name, layer), np.ravel(p[name]), strict=True))
        for t in range(1, cfg.T + 1):
            out.update(zip(s.h(layer, t), h[layer - 1][t], strict=True))
            out.update(zip(s.a(layer, t), a[layer - 1][t], strict=True))
    for t in range(1, cfg.T + 1):
        out.update(zip(s.x(t), cfg.x[t - 1], strict=True))
    for t in rnn.loss_steps():
        out.update(zip(s.y(t), cfg.y if cfg.loss == "last" else cfg.y[t - 1], strict=True))
    return out


# ------------------------------------------------------------------ log-space magnitudes


def log10_jacobian_norms(cfg: Config) -> np.ndarray:
    """log10 ‖∂h_T/∂h_k‖₂ for k = 0..T (top layer), products renormalised so nothing over/underflows."""
    act = get_activation(cfg.activation)
    a, _ = forward(cfg)
    W, top = cfg.layers[-1]["W"], a[-1]
    out = np.zeros(cfg.T + 1)
    if cfg.n == 1:
        with np.errstate(divide="ignore"):
            logs = np.log10(abs(W[0, 0])) + act.np_log10_dsigma(top[1:, 0])
        out[:-1] = np.cumsum(logs[::-1])[::-1]
        return out
    with np.errstate(over="ignore", invalid="ignore"):
        dsig = act.np_dsigma(top)
    product, scale = np.eye(cfg.n), 0.0
    for k in range(cfg.T - 1, -1, -1):
        product = product @ (dsig[k + 1][:, None] * W)  # J_T ⋯ J_{k+1}
        size = float(np.max(np.abs(product)))
        if size == 0.0:
            out[: k + 1] = -np.inf
            break
        product, scale = product / size, scale + math.log10(size)
        out[k] = scale + math.log10(float(np.linalg.norm(product, 2)))
    return out


def lyapunov_rate(log10_norm_T0: float, T: int) -> float:
    """Finite-time Lyapunov exponent (1/T)·ln‖∂h_T/∂h_0‖ (natural log per step)."""
    return log10_norm_T0 * math.log(10.0) / T


def regime(W: np.ndarray, activation: str) -> dict[str, float | str | bool]:
    """γ, σ_max(W), ρ(W) and the label: 'vanishing guaranteed' only when γ·σ_max(W) < 1."""
    act = get_activation(activation)
    gamma = float(act.gamma)
    sigma_max = float(np.linalg.norm(W, 2))
    rho = float(np.max(np.abs(np.linalg.eigvals(W))))
    bound = gamma * sigma_max
    return {
        "gamma": gamma,
        "gamma_exact": act.gamma_exact,
        "sigma_max": sigma_max,
        "spectral_radius": rho,
        "gamma_sigma_max": bound,
        "label": "vanishing guaranteed" if bound < 1 else "exploding possible",
    }


def truncated_gradients(cfg: Config, k: int) -> list[dict[str, np.ndarray]]:
    """Truncated BPTT: each loss term is backpropagated through at most its last k steps."""
    values = NumpyFactors(cfg)
    loss_steps = range(1, cfg.T + 1) if cfg.loss == "sum" else [cfg.T]
    grads = [{key: np.zeros_like(v, dtype=float) for key, v in p.items()} for p in cfg.layers]
    top = len(cfg.layers)
    with np.errstate(over="ignore", invalid="ignore"):
        for s in loss_steps:
            delta = {top: values.error(s)}
            for t in range(s, max(s - k, 0), -1):
                for layer in range(top, 0, -1):
                    d = delta.get(layer)
                    if d is None:
                        continue
                    da = values.dsigma[layer - 1][t][:, None] * d
                    g = grads[layer - 1]
                    g["W"] += da @ values.z("W", layer, t).T
                    g["U"] += da @ values.z("U", layer, t).T
                    g["b"] += da[:, 0]
                    if layer > 1:
                        below = cfg.layers[layer - 1]["U"].T @ da
                        delta[layer - 1] = delta.get(layer - 1, 0) + below
                    delta[layer] = cfg.layers[layer - 1]["W"].T @ da
                if t - 1 == 0:
                    for layer in range(1, top + 1):
                        if layer in delta:
                            grads[layer - 1]["h0"] += delta[layer][:, 0]
    return grads


# ------------------------------------------------------------------ sweeps (one pass over the grid)


def sweep_scalar(weights: np.ndarray, T_max: int, activation: str, u: float = 1.0, b: float = 0.0,
                 h0: float = 0.0, x: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """log10|∂h_T/∂h_0| for every weight and every T = 1..T_max, shape (T_max, len(weights)).

    One forward pass over the whole grid: a_t = w h_{t-1} + u x_t + b for all w at once; then
    log10|∂h_T/∂h_0| = Σ_{t≤T} log10|w σ'(a_t)| is a cumulative sum down the time axis."""
    act = get_activation(activation)
    w = np.asarray(weights, dtype=float)
    if x is None:
        x = np.random.default_rng(seed).uniform(-1.0, 1.0, T_max)
    drive = u * np.asarray(x, dtype=float)[:T_max] + b
    pre = np.empty((T_max, w.size))
    h = np.full(w.size, float(h0))
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T_max):
            np.multiply(w, h, out=pre[t])
            pre[t] += drive[t]
            h = act.np_sigma(pre[t])
    with np.errstate(divide="ignore"):
        logs = act.np_log10_dsigma(pre)
        logs += np.log10(np.abs(w))
    return np.cumsum(logs, axis=0)


def bare_forward(weights: np.ndarray, T_max: int, u: float = 1.0, b: float = 0.0, h0: float = 0.0,
                 x: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """The floor a sweep is measured against: only h_t = tanh(w h_{t-1} + u x_t + b) over the grid."""
    w = np.asarray(weights, dtype=float)
    if x is None:
        x = np.random.default_rng(seed).uniform(-1.0, 1.0, T_max)
    drive = u * np.asarray(x, dtype=float)[:T_max] + b
    h = np.full(w.size, float(h0))
    for t in range(T_max):
        h = np.tanh(w * h + drive[t])
    return h


def random_recurrent_matrix(n: int, seed: int = 0) -> np.ndarray:
    """W0 with entries N(0, 1/n), so that the gain g sets the scale (ρ(gW0) ≈ g for large n)."""
    return np.random.default_rng(seed).normal(0.0, 1.0 / math.sqrt(n), (n, n))


def sweep_gain(gains: np.ndarray, T_max: int, activation: str, n: int, seed: int = 0,
               W0: np.ndarray | None = None, input_scale: float = 1.0) -> np.ndarray:
    """log10‖∂h_T/∂h_0‖₂ for W = g·W0 over a grid of gains and T = 1..T_max, shape (T_max, len(gains))."""
    act = get_activation(activation)
    rng = np.random.default_rng(seed)
    W0 = random_recurrent_matrix(n, seed) if W0 is None else W0
    drive = input_scale * rng.normal(0.0, 1.0, (T_max, n))
    g = np.asarray(gains, dtype=float)
    Ws = g[:, None, None] * W0[None]
    h = np.zeros((g.size, n))
    product = np.broadcast_to(np.eye(n), (g.size, n, n)).copy()
    scale = np.zeros(g.size)
    out = np.empty((T_max, g.size))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(T_max):
            a = np.einsum("gij,gj->gi", Ws, h) + drive[t]
            h = act.np_sigma(a)
            product = act.np_dsigma(a)[:, :, None] * Ws @ product  # J_t ⋯ J_1
            size = np.max(np.abs(product), axis=(1, 2))
            safe = np.where(size > 0, size, 1.0)
            product /= safe[:, None, None]
            scale += np.log10(safe)
            norms = np.linalg.norm(product, 2, axis=(1, 2))
            out[t] = np.where(size > 0, scale + np.log10(norms), -np.inf)
    return out


# ------------------------------------------------------------------ the `grad` report


def _shaped(value: np.ndarray, scalar: bool) -> object:
    """Numbers for the scalar model's 1×1 / 1-entry parameters, nested lists otherwise."""
    if scalar and value.size == 1:
        return value.reshape(-1)[0]
    return value


def _log10_entries(values: np.ndarray) -> np.ndarray:
    out = np.full(values.shape, np.nan)
    for idx in np.ndindex(values.shape):
        v = values[idx]
        out[idx] = np.nan if v == 0 else (mp_log10(v) if isinstance(v, mpmath.mpf) else math.log10(abs(v)))
    return out


def grad_report(cfg: Config) -> dict:
    """Loss, gradients (float64 where representable, else null with log10 beside), Jacobian norms,
    regimes and, when asked, truncated BPTT with its relative difference from the full gradient."""
    loss, grads = gradients(cfg)
    finite = math.isfinite(loss) and all(np.all(np.isfinite(g[k]) & (g[k] != 0)) for g in grads for k in g)
    if not finite:  # overflow or underflow: recompute at 30 digits, whose exponent range is unbounded
        mp_loss, mp_grads = mp_gradients(cfg, 30)
        loss_log10 = mp_log10(mp_loss)
        grads = [{k: np.array(v, dtype=object) for k, v in g.items()} for g in mp_grads]
        loss = float(mp_loss) if loss_log10 is not None and abs(loss_log10) < 300 else math.nan
    else:
        loss_log10 = math.log10(loss) if loss > 0 else None
    out_grad, out_log = [], []
    for g in grads:
        logs = {k: _log10_entries(v) for k, v in g.items()}
        vals = {k: np.array([float(e) if logs[k][i] is None or not np.isfinite(logs[k][i]) or
                             abs(logs[k][i]) < 300 else math.nan for i, e in np.ndenumerate(v)]).reshape(v.shape)
                for k, v in g.items()}
        out_grad.append({k: _shaped(vals[k], cfg.scalar) for k in PARAMS})
        out_log.append({k: _shaped(logs[k], cfg.scalar) for k in PARAMS})
    norms = log10_jacobian_norms(cfg)
    regimes = [regime(p["W"], cfg.activation) for p in cfg.layers]
    report = {
        "activation": cfg.activation,
        "loss_function": cfg.loss,
        "T": cfg.T,
        "loss": loss,
        "loss_log10": loss_log10,
        "grad": out_grad[0] if len(out_grad) == 1 else out_grad,
        "grad_log10": out_log[0] if len(out_log) == 1 else out_log,
        "log10_jacobian_norms": norms,
        "lyapunov_rate": lyapunov_rate(float(norms[0]), cfg.T),
        "regime": regimes[0] if len(regimes) == 1 else regimes,
    }
    if cfg.truncate is not None:
        report["truncated"] = _truncated_report(cfg, grads)
    return report


def _truncated_report(cfg: Config, full: list[dict]) -> dict:
    cut = truncated_gradients(cfg, cfg.truncate)
    a = np.concatenate([np.ravel(np.asarray(g[k], dtype=float)) for g in cut for k in PARAMS])
    b = np.concatenate([np.ravel(np.asarray(g[k], dtype=float)) for g in full for k in PARAMS])
    denom = float(np.linalg.norm(b))
    grads = [{k: _shaped(g[k], cfg.scalar) for k in PARAMS} for g in cut]
    return {
        "k": cfg.truncate,
        "grad": grads[0] if len(grads) == 1 else grads,
        "relative_difference": float(np.linalg.norm(a - b)) / denom if denom > 0 else 0.0,
    }
