"""Iterative BPTT by hand: the independent reference the engine is checked against.

This module imports nothing from the rest of symbptt (not its activation table, cells or paths), so a
mistake in the engine cannot hide in both.  It is the textbook backward loop for the built-in cells,
written once over a number type: float64 (NumPy arrays) or mpmath (object arrays of mpf, any
precision, exponents that never overflow).  Every derivative of a nonlinearity is computed from its
argument (sech²a, e^{−|a|}/(1 + e^{−|a|})²), never as 1 − h² or σ(1 − σ), and 1 − σ(a) is σ(−a).

    rnn   a = W h + U x + b,  h' = σ(a)
    lstm  i, f, o = σ(W_* h + U_* x + b_*),  g = tanh(W_g h + U_g x + b_g),  c' = f c + i g,  h' = o tanh c'
    gru   r, z = σ(…),  n = tanh(U_n x + b_n + r (W_n h + b_hn)),  h' = (1 − z) n + z h
    mingru, minlstm   gates that read x only (Feng et al. 2024)
    indrnn  a = w ⊙ h + U x + b (w a vector),  h' = σ(a)                      (Li et al. 2018)
    lru   h' = λ ⊙ h + U x,  λ = exp(−exp(ν))                    (after Orvieto et al. 2023, real)

Each step's backward pass uses only sums, products and Mᵀv of the step's coefficients, so running it on
absolute values (``magnitudes``) gives Σ over paths of |path product| for every gradient entry: the
scale at which float64 rounding acts, used by the cross-check as the floor of per-entry errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np

Layer = dict[str, np.ndarray]  # parameter name → matrix (n×k) or vector (n,)


class Numbers:
    """Elementwise functions for one number type."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "float":
            self.exp, self.tanh = np.exp, np.tanh
        else:
            self.exp = np.frompyfunc(mpmath.exp, 1, 1)
            self.tanh = np.frompyfunc(mpmath.tanh, 1, 1)

    def array(self, value: np.ndarray) -> np.ndarray:
        value = np.asarray(value, dtype=float)
        if self.kind == "float":
            return value.copy()
        out = np.empty(value.shape, dtype=object)
        for idx, v in np.ndenumerate(value):
            out[idx] = mpmath.mpf(v)
        return out

    def sigmoid(self, a: np.ndarray) -> np.ndarray:
        e = self.exp(-np.abs(a))
        return np.where(a >= 0, 1 / (1 + e), e / (1 + e))

    def dsigmoid(self, a: np.ndarray) -> np.ndarray:
        e = self.exp(-np.abs(a))
        return e / (1 + e) ** 2

    def dtanh(self, a: np.ndarray) -> np.ndarray:
        e = self.exp(-2 * np.abs(a))
        return 4 * e / (1 + e) ** 2


def builtin_activation(name: str, num: Numbers) -> tuple[Callable, Callable]:
    """(σ, σ') of a built-in activation, σ' from a."""
    table: dict[str, tuple[Callable, Callable]] = {
        "tanh": (num.tanh, num.dtanh),
        "sigmoid": (num.sigmoid, num.dsigmoid),
        "relu": (lambda a: np.where(a > 0, a, 0 * a), lambda a: np.where(a > 0, 1 + 0 * a, 0 * a)),
        "linear": (lambda a: a, lambda a: 1 + 0 * a),
    }
    return table[name]


def _col(v: np.ndarray) -> np.ndarray:
    return v.reshape(-1, 1)


# ---------------------------------------------------------------- one step of each cell


def rnn_step(p: Layer, h: np.ndarray, x: np.ndarray, num: Numbers, sigma: tuple) -> tuple[dict, dict]:
    """Forward one step; return the new state and the coefficients its backward pass needs."""
    a = p["W"] @ h + p["U"] @ x + _col(p["b"])
    new = sigma[0](a)
    return {"h": new}, {"da": sigma[1](a), "named": {"a": a, "h": new}}


def rnn_back(p: Layer, k: dict, dh: np.ndarray, dc: None, h: np.ndarray, x: np.ndarray, g: Layer) -> tuple:
    """δ arriving at h' → gradient contributions, δ for h (previous step) and for x (layer below)."""
    da = k["da"] * dh
    g["W"] += da @ h.T
    g["U"] += da @ x.T
    g["b"] += da[:, 0]
    return p["W"].T @ da, None, p["U"].T @ da


def lstm_step(p: Layer, h: np.ndarray, x: np.ndarray, num: Numbers, c: np.ndarray) -> tuple[dict, dict]:
    a = {k: p[f"W_{k}"] @ h + p[f"U_{k}"] @ x + _col(p[f"b_{k}"]) for k in "ifgo"}
    i, f, o = num.sigmoid(a["i"]), num.sigmoid(a["f"]), num.sigmoid(a["o"])
    g = num.tanh(a["g"])
    c_new = f * c + i * g
    tc = num.tanh(c_new)
    coef = {"i": i, "f": f, "g": g, "o": o, "c_prev": c, "tanh_c": tc, "dtanh_c": num.dtanh(c_new),
            "di": num.dsigmoid(a["i"]), "df": num.dsigmoid(a["f"]), "dg": num.dtanh(a["g"]),
            "do": num.dsigmoid(a["o"])}
    new = {"h": o * tc, "c": c_new}
    coef["named"] = {**{f"a_{k}": v for k, v in a.items()}, "i": i, "f": f, "g": g, "o": o, **new}
    return new, coef


def lstm_back(p: Layer, k: dict, dh: np.ndarray, dc: np.ndarray, h: np.ndarray, x: np.ndarray, g: Layer) -> tuple:
    dc_total = dc + dh * k["o"] * k["dtanh_c"]
    da = {"i": dc_total * k["g"] * k["di"], "f": dc_total * k["c_prev"] * k["df"],
          "g": dc_total * k["i"] * k["dg"], "o": dh * k["tanh_c"] * k["do"]}
    dh_prev, dx = 0, 0
    for gate, d in da.items():
        g[f"W_{gate}"] += d @ h.T
        g[f"U_{gate}"] += d @ x.T
        g[f"b_{gate}"] += d[:, 0]
        dh_prev = dh_prev + p[f"W_{gate}"].T @ d
        dx = dx + p[f"U_{gate}"].T @ d
    return dh_prev, dc_total * k["f"], dx


def gru_step(p: Layer, h: np.ndarray, x: np.ndarray, num: Numbers, c: None) -> tuple[dict, dict]:
    a_r = p["W_r"] @ h + p["U_r"] @ x + _col(p["b_r"])
    a_z = p["W_z"] @ h + p["U_z"] @ x + _col(p["b_z"])
    r, z = num.sigmoid(a_r), num.sigmoid(a_z)
    hn = p["W_n"] @ h + _col(p["b_hn"])
    a_n = p["U_n"] @ x + _col(p["b_n"]) + r * hn
    n = num.tanh(a_n)
    one_minus_z = num.sigmoid(-a_z)
    coef = {"r": r, "z": z, "one_minus_z": one_minus_z, "hn": hn, "h_minus_n": h - n, "dn": num.dtanh(a_n),
            "dr": num.dsigmoid(a_r), "dz": num.dsigmoid(a_z)}
    new = {"h": one_minus_z * n + z * h}
    coef["named"] = {"a_r": a_r, "a_z": a_z, "a_n": p["U_n"] @ x + _col(p["b_n"]), "a_hn": hn, "r": r, "z": z,
                     "n": n, **new}
    return new, coef


def gru_back(p: Layer, k: dict, dh: np.ndarray, dc: None, h: np.ndarray, x: np.ndarray, g: Layer) -> tuple:
    da_n = dh * k["one_minus_z"] * k["dn"]
    da_z = dh * k["h_minus_n"] * k["dz"]
    dhn = da_n * k["r"]
    da_r = da_n * k["hn"] * k["dr"]
    for name, d in (("r", da_r), ("z", da_z)):
        g[f"W_{name}"] += d @ h.T
        g[f"U_{name}"] += d @ x.T
        g[f"b_{name}"] += d[:, 0]
    g["U_n"] += da_n @ x.T
    g["b_n"] += da_n[:, 0]
    g["W_n"] += dhn @ h.T
    g["b_hn"] += dhn[:, 0]
    dh_prev = dh * k["z"] + p["W_r"].T @ da_r + p["W_z"].T @ da_z + p["W_n"].T @ dhn
    dx = p["U_r"].T @ da_r + p["U_z"].T @ da_z + p["U_n"].T @ da_n
    return dh_prev, None, dx


def mingru_step(p: Layer, h: np.ndarray, x: np.ndarray, num: Numbers, c: None) -> tuple[dict, dict]:
    """z = σ(U_z x + b_z), h' = (1 − z) h + z (U_h x + b_h)."""
    a_z = p["U_z"] @ x + _col(p["b_z"])
    a_h = p["U_h"] @ x + _col(p["b_h"])
    z = num.sigmoid(a_z)
    new = {"h": num.sigmoid(-a_z) * h + z * a_h}
    coef = {"z": z, "one_minus_z": num.sigmoid(-a_z), "ah_minus_h": a_h - h, "dz": num.dsigmoid(a_z)}
    coef["named"] = {"a_z": a_z, "a_h": a_h, "z": z, **new}
    return new, coef


def mingru_back(p: Layer, k: dict, dh: np.ndarray, dc: None, h: np.ndarray, x: np.ndarray, g: Layer) -> tuple:
    da_z = dh * k["ah_minus_h"] * k["dz"]
    da_h = dh * k["z"]
    for gate, d in (("z", da_z), ("h", da_h)):
        g[f"U_{gate}"] += d @ x.T
        g[f"b_{gate}"] += d[:, 0]
    return dh * k["one_minus_z"], None, p["U_z"].T @ da_z + p["U_h"].T @ da_h


def minlstm_step(p: Layer, h: np.ndarray, x: np.ndarray, num: Numbers, c: None) -> tuple[dict, dict]:
    """f = σ(U_f x + b_f), i = σ(U_i x + b_i), h' = (f h + i (U_h x + b_h)) / (f + i)."""
    a = {k: p[f"U_{k}"] @ x + _col(p[f"b_{k}"]) for k in "fih"}
    f, i = num.sigmoid(a["f"]), num.sigmoid(a["i"])
    total = f + i
    new_h = (f * h + i * a["h"]) / total
    coef = {"f_share": f / total, "i_share": i / total, "prev_minus_new": (h - new_h) / total,
            "ah_minus_new": (a["h"] - new_h) / total, "df": num.dsigmoid(a["f"]), "di": num.dsigmoid(a["i"])}
    coef["named"] = {"a_f": a["f"], "a_i": a["i"], "a_h": a["h"], "f": f, "i": i, "h": new_h}
    return {"h": new_h}, coef


def minlstm_back(p: Layer, k: dict, dh: np.ndarray, dc: None, h: np.ndarray, x: np.ndarray, g: Layer) -> tuple:
    da = {"f": dh * k["prev_minus_new"] * k["df"], "i": dh * k["ah_minus_new"] * k["di"], "h": dh * k["i_share"]}
    dx = 0
    for gate, d in da.items():
        g[f"U_{gate}"] += d @ x.T
        g[f"b_{gate}"] += d[:, 0]
        dx = dx + p[f"U_{gate}"].T @ d
    return dh * k["f_share"], None, dx


def indrnn_step(p: Layer, h: np.ndarray, x: np.ndarray, num: Numbers, sigma: tuple) -> tuple[dict, dict]:
    """IndRNN (Li et al. 2018): a = w ⊙ h + U x + b with w a vector, h' = σ(a)."""
    a = _col(p["w"]) * h + p["U"] @ x + _col(p["b"])
    new = sigma[0](a)
    # the engine names the input part U x + b a_t; "a_step" (σ's whole argument) tells the check how far
    # a unit saturates
    return {"h": new}, {"da": sigma[1](a), "named": {"a": p["U"] @ x + _col(p["b"]), "a_step": a, "h": new}}


def indrnn_back(p: Layer, k: dict, dh: np.ndarray, dc: None, h: np.ndarray, x: np.ndarray, g: Layer) -> tuple:
    da = k["da"] * dh
    g["w"] += (da * h)[:, 0]  # each unit's own weight: an elementwise product, not an outer one
    g["U"] += da @ x.T
    g["b"] += da[:, 0]
    return _col(p["w"]) * da, None, p["U"].T @ da


def lru_step(p: Layer, h: np.ndarray, x: np.ndarray, num: Numbers, c: None) -> tuple[dict, dict]:
    """Real diagonal linear recurrence (after Orvieto et al. 2023): h' = λ ⊙ h + U x, λ = exp(−exp(ν))."""
    e = num.exp(_col(p["nu"]))
    lam = num.exp(-e)
    new = lam * h + p["U"] @ x
    return {"h": new}, {"lam": lam, "dlam": -e * lam, "named": {"a": p["U"] @ x, "h": new}}


def lru_back(p: Layer, k: dict, dh: np.ndarray, dc: None, h: np.ndarray, x: np.ndarray, g: Layer) -> tuple:
    g["nu"] += (dh * h * k["dlam"])[:, 0]  # ∂λ/∂ν = −exp(ν) λ
    g["U"] += dh @ x.T
    return k["lam"] * dh, None, p["U"].T @ dh


CELLS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "rnn": (rnn_step, rnn_back), "lstm": (lstm_step, lstm_back), "gru": (gru_step, gru_back),
    "mingru": (mingru_step, mingru_back), "minlstm": (minlstm_step, minlstm_back),
    "indrnn": (indrnn_step, indrnn_back), "lru": (lru_step, lru_back)}
ACTIVATED = ("rnn", "indrnn")  # the cells that take an activation σ


# ---------------------------------------------------------------- the BPTT loop


def forward(cell: str, layers: list[Layer], x: np.ndarray, num: Numbers, sigma: tuple | None = None) -> tuple:
    """States h[ℓ][t], c[ℓ][t] (t = 0..T, columns) and each step's coefficients k[ℓ][t] (t = 1..T)."""
    step = CELLS[cell][0]
    T = x.shape[0]
    h: list[list[Any]] = [[_col(p["h0"])] + [None] * T for p in layers]
    c: list[list[Any]] = [[_col(p["c0"]) if "c0" in p else None] + [None] * T for p in layers]
    k: list[list[Any]] = [[None] * (T + 1) for _ in layers]
    for t in range(1, T + 1):
        inp = _col(x[t - 1])
        for ell, p in enumerate(layers):
            extra = sigma if cell in ACTIVATED else c[ell][t - 1]
            new, k[ell][t] = step(p, h[ell][t - 1], inp, num, extra)
            h[ell][t], c[ell][t] = new["h"], new.get("c")
            inp = h[ell][t]
    return h, c, k


def _errors(h_top: list, y: np.ndarray, loss: str) -> dict[int, np.ndarray]:
    T = len(h_top) - 1
    if loss == "last":
        return {T: h_top[T] - _col(y)}
    return {t: h_top[t] - _col(y[t - 1]) for t in range(1, T + 1)}


def _backward(cell: str, layers: list[Layer], x: np.ndarray, h: list, c: list, k: list, errors: dict,
              steps: Callable[[int], range] | None, magnitude: bool = False) -> list[Layer]:
    """Accumulate gradients: for each loss step s, δ flows back through ``steps(s)``; with
    ``magnitude`` every coefficient, weight and error is taken by absolute value."""
    back = CELLS[cell][1]
    fix = (lambda v: np.abs(v)) if magnitude else (lambda v: v)
    ps = [{name: fix(v) for name, v in p.items()} for p in layers]
    ks = [[None if kt is None else {n: fix(v) for n, v in kt.items() if n != "named"} for kt in kl] for kl in k]
    grads = [{name: 0 * v for name, v in p.items()} for p in layers]
    top = len(layers) - 1
    for s_group in _groups(errors, steps):
        dh = [0 * h[ell][0] for ell in range(top + 1)]
        dc: list[Any] = [None if c[ell][0] is None else 0 * c[ell][0] for ell in range(top + 1)]
        window = s_group["steps"]
        for t in window:
            if t in s_group["errors"]:
                dh[top] = dh[top] + fix(s_group["errors"][t])
            below = None
            for ell in range(top, -1, -1):
                if below is not None:
                    dh[ell] = dh[ell] + below
                inp = _col(x[t - 1]) if ell == 0 else h[ell - 1][t]
                dh[ell], dc[ell], below = back(ps[ell], ks[ell][t], dh[ell], dc[ell], fix(h[ell][t - 1]),
                                               fix(inp), grads[ell])
        if window and window[-1] == 1:
            for ell in range(top + 1):
                grads[ell]["h0"] += dh[ell][:, 0]
                if "c0" in grads[ell]:
                    grads[ell]["c0"] += dc[ell][:, 0]
    return grads


def _groups(errors: dict, steps: Callable[[int], range] | None) -> list[dict]:
    """Full BPTT: one backward sweep from T carrying every loss term; truncated: one sweep per term."""
    if steps is None:
        T = max(errors)
        return [{"steps": list(range(T, 0, -1)), "errors": errors}]
    return [{"steps": list(steps(s)), "errors": {s: e}} for s, e in sorted(errors.items())]


def loss_value(h_top: list, y: np.ndarray, loss: str) -> Any:
    """½‖h_T − y‖² (last) or Σ_t ½‖h_t − y_t‖² (sum)."""
    return sum((e * e).sum() for e in _errors(h_top, y, loss).values()) / 2


def bptt(layers: list[Layer], x: np.ndarray, y: np.ndarray, activation: str | tuple = "tanh",
         loss: str = "last", cell: str = "rnn", kind: str = "float", truncate: int | None = None,
         magnitudes: bool = False) -> tuple:
    """Loss and gradients (same keys and shapes as ``layers``) by the classic backward loop.

    ``activation``: a built-in name or a pair (σ, σ') of functions of a for the rnn cell; ``kind``:
    'float' or 'mp' (the caller sets mpmath's precision); ``truncate``: each loss term flows back
    through its last k steps only; ``magnitudes``: also return Σ|path products| per entry."""
    num = Numbers(kind)
    layers_n = [{name: num.array(v) for name, v in p.items()} for p in layers]
    x_n, y_n = num.array(x), num.array(y)
    if cell in ACTIVATED:
        sigma = builtin_activation(activation, num) if isinstance(activation, str) else activation
    else:
        sigma = None
    h, c, k = forward(cell, layers_n, x_n, num, sigma)
    errors = _errors(h[-1], y_n, loss)
    steps = None if truncate is None else (lambda s: range(s, max(s - truncate, 0), -1))
    grads = _backward(cell, layers_n, x_n, h, c, k, errors, steps)
    grads = [{name: g.reshape(np.shape(layers[i][name])) for name, g in gi.items()} for i, gi in enumerate(grads)]
    result: tuple = (loss_value(h[-1], y_n, loss), grads)
    if magnitudes:
        mags = _backward(cell, layers_n, x_n, h, c, k, errors, steps, magnitude=True)
        mags = [{name: g.reshape(np.shape(layers[i][name])) for name, g in gi.items()} for i, gi in enumerate(mags)]
        result = (*result, mags)
    return result


def finite_differences(layers: list[Layer], x: np.ndarray, y: np.ndarray, activation: str | tuple = "tanh",
                       loss: str = "last", cell: str = "rnn", eps: float = 1e-6) -> list[Layer]:
    """Central differences (L(θ+ε) − L(θ−ε)) / 2ε for every parameter entry, float64."""
    num = Numbers("float")
    sigma = None
    if cell in ACTIVATED:
        sigma = builtin_activation(activation, num) if isinstance(activation, str) else activation

    def loss_at(params: list[Layer]) -> float:
        h, _, _ = forward(cell, params, np.asarray(x, dtype=float), num, sigma)
        return float(loss_value(h[-1], np.asarray(y, dtype=float), loss))

    grads = []
    for ell, p in enumerate(layers):
        g = {}
        for key, value in p.items():
            out = np.zeros(np.shape(value), dtype=float)
            for idx in np.ndindex(out.shape):
                shifted = []
                for sign in (1.0, -1.0):
                    trial = [dict(q) for q in layers]
                    trial[ell][key] = np.array(value, dtype=float)
                    trial[ell][key][idx] += sign * eps
                    shifted.append(loss_at(trial))
                out[idx] = (shifted[0] - shifted[1]) / (2 * eps)
            g[key] = out
        grads.append(g)
    return grads


def jacobians(cell: str, layers: list[Layer], x: np.ndarray, activation: str | tuple = "tanh", layer: int = -1,
              dps: int = 40) -> list[dict[tuple[str, str], np.ndarray]]:
    """∂s_T/∂s_k of one layer (its own recursion only, the other layers held fixed), k = 0..T, at ``dps``
    digits: for each k a dict (new state, old state) → n×n block, from the step backward functions
    applied to every unit vector at step T."""
    with mpmath.workdps(dps):
        num = Numbers("mp")
        ps = [{name: num.array(v) for name, v in p.items()} for p in layers]
        sigma = (builtin_activation(activation, num) if isinstance(activation, str) else activation) \
            if cell in ACTIVATED else None
        h, c, k = forward(cell, ps, num.array(x), num, sigma)
        ell = layer % len(layers)
        back = CELLS[cell][1]
        T, n = x.shape[0], ps[ell]["h0"].shape[0]
        states = ["h", "c"] if cell == "lstm" else ["h"]
        out: list[dict] = [{} for _ in range(T + 1)]
        zero = 0 * _col(ps[ell]["h0"])
        for start in states:
            for i in range(n):
                dh, dc = zero.copy(), (zero.copy() if cell == "lstm" else None)
                seeded: Any = dh if start == "h" else dc
                seeded[i, 0] = mpmath.mpf(1)
                record(out, T, start, i, dh, dc, n)
                for t in range(T, 0, -1):
                    inp = _col(num.array(x[t - 1])) if ell == 0 else h[ell - 1][t]
                    dummy = {name: 0 * v for name, v in ps[ell].items()}
                    dh, dc, _ = back(ps[ell], {a: b for a, b in k[ell][t].items() if a != "named"}, dh, dc,
                                     h[ell][t - 1], inp, dummy)
                    record(out, t - 1, start, i, dh, dc, n)
    return out


def record(out: list, k: int, start: str, row: int, dh: np.ndarray, dc: np.ndarray | None, n: int) -> None:
    for state, vector in (("h", dh), ("c", dc)):
        if vector is None:
            continue
        block = out[k].setdefault((start, state), np.zeros((n, n), dtype=object))
        block[row, :] = vector[:, 0]


def log10_norms(blocks: dict[tuple[str, str], np.ndarray]) -> dict[str, float]:
    """log10 of the spectral norms of the whole state Jacobian and of each diagonal block."""
    states = sorted({a for a, _ in blocks}, key=["h", "c"].index)
    n = blocks[("h", "h")].shape[0]
    whole = np.zeros((n * len(states), n * len(states)), dtype=object)
    for i, a in enumerate(states):
        for j, b in enumerate(states):
            whole[i * n:(i + 1) * n, j * n:(j + 1) * n] = blocks[(a, b)]
    out = {"state": _log_norm(whole)}
    for s_ in states:
        out[s_] = _log_norm(blocks[(s_, s_)])
    return out


def _log_norm(matrix: np.ndarray) -> float:
    values = mpmath.svd_r(mpmath.matrix(matrix.tolist()), compute_uv=False)
    top = max(abs(v) for v in values)
    return -math.inf if top == 0 else float(mpmath.log10(top))
