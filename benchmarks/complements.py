"""A measurement for issue 28's saturated GRU: can float64 keep h_{t−1} − n_t when both saturate?

A hand-written GRU (PyTorch's equations, as peers.hand_gru) whose forward pass
also carries each state's distance to ±1, c = 1 − s·h with s = ±1 its sign, instead of leaving it to
the rounding of h.  Near saturation, float64 holds h = 1 − 10⁻²⁰ as 1.0, but it holds c = 10⁻²⁰ to
full relative precision.  Whatever the signs, the step's distance is a sum of positive terms:

    c_t = (1 − z)·c'_n + z·c'_{t−1},   c' = c where its sign is s_t, else 2 − c,

with 1 − z = σ(−a_z) and the tanh's own c_n = 2e/(1 + e), e = e^{−2|a_n|}.  Where n_t and h_{t−1} share
a sign s, their difference is s·(c_n − c_{t−1}), so it cancels only as much as the two distances do.
With opposite signs it does not cancel at all and is taken as it is.  The backward pass is the usual
float64 one, with that difference in ∂h_t/∂a_z and the stable σ' and sech² forms.

The table compares four results with reference.py's at 300 digits: symbptt.gradients' default call
(which carries the distances itself where a gate saturates, numeric/distances.py), this pass, the plain
hand-written one, and symbptt's own float64 kernel pass without the distances. For each it gives the
entry with the largest relative error and the time.

    python benchmarks/complements.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from peers import gru_sums, hand_gru, random_params, sig  # noqa: E402  (benchmarks/peers.py)
from timing import table  # noqa: E402


def _dsig(a: np.ndarray) -> np.ndarray:
    """σ'(a) = e/(1 + e)², e = e^{−|a|}: no 1 − σ cancellation."""
    e = np.exp(-np.abs(a))
    return e / (1.0 + e) ** 2


def _sech2(a: np.ndarray) -> np.ndarray:
    """tanh'(a) = 4e/(1 + e)², e = e^{−2|a|}."""
    e = np.exp(-2.0 * np.abs(a))
    return 4.0 * e / (1.0 + e) ** 2


def _sign(v: np.ndarray) -> np.ndarray:
    return np.where(v >= 0, 1.0, -1.0)


def complement_gru(p: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """∂L/∂θ of L = ½‖h_T − y‖² (summed over the batch) with each state's distance to ±1 carried."""
    T, B = x.shape[0], x.shape[2]
    h0 = np.repeat(p["h0"][:, None], B, 1)
    h, c, s = [h0], [1.0 - np.abs(h0)], [_sign(h0)]
    keep: list[dict[str, np.ndarray]] = [{}]
    for t in range(T):
        ar = p["W_r"] @ h[-1] + p["U_r"] @ x[t] + p["b_r"][:, None]
        az = p["W_z"] @ h[-1] + p["U_z"] @ x[t] + p["b_z"][:, None]
        r, z, one_minus_z = sig(ar), sig(az), sig(-az)
        hn = p["W_n"] @ h[-1] + p["b_hn"][:, None]
        an = p["U_n"] @ x[t] + p["b_n"][:, None] + r * hn
        e = np.exp(-2.0 * np.abs(an))
        n, c_n, s_n = np.tanh(an), 2.0 * e / (1.0 + e), _sign(an)
        h_new = one_minus_z * n + z * h[-1]
        same = s_n == s[-1]
        s_new = np.where(same, s_n, _sign(h_new))  # a convex combination keeps a shared sign
        c_new = (one_minus_z * np.where(s_n == s_new, c_n, 2.0 - c_n)
                 + z * np.where(s[-1] == s_new, c[-1], 2.0 - c[-1]))
        difference = np.where(same, s_n * (c_n - c[-1]), h[-1] - n)  # h_{t−1} − n_t
        h.append(h_new)
        c.append(c_new)
        s.append(s_new)
        keep.append({"ar": ar, "az": az, "an": an, "r": r, "z": z, "one_minus_z": one_minus_z, "hn": hn,
                     "difference": difference})
    dh = h[-1] - y
    g = {k: np.zeros_like(v) for k, v in p.items()}
    for t in range(T, 0, -1):
        v = keep[t]
        dn = dh * v["one_minus_z"] * _sech2(v["an"])
        dz = dh * v["difference"] * _dsig(v["az"])
        dr = dn * v["hn"] * _dsig(v["ar"])
        back_r, back_z, back_n = gru_sums(g, p, x[t - 1], h[t - 1], dr, dz, dn, dn * v["r"])
        dh = dh * v["z"] + back_r + back_z + back_n
    g["h0"] = dh.sum(axis=1)
    return g


def worst_relative(got: dict, exact: dict) -> float:
    """The largest |got − exact| / |exact| over every entry (|got| where the exact entry is 0)."""
    out = 0.0
    for k, want in exact.items():
        e = np.asarray(want, dtype=float).ravel()
        a = np.asarray(got[k], dtype=float).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(e != 0, np.abs(a - e) / np.abs(e), np.abs(a))
        out = max(out, float(np.max(rel)))
    return out


CASES = [(7, 4, 100, 40.0, None), (1, 4, 200, 40.0, None), (2, 8, 300, 20.0, None), (3, 4, 500, 40.0, 3.0),
         (4, 16, 100, 60.0, None)]  # seed, n, T, input scale, b_z (None: as drawn)


REFERENCE_DIGITS = 300  # reference.py's mpmath pass: far beyond what these differences cancel


def rows() -> list[list[str]]:
    import mpmath

    import symbptt
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric import kernel
    from symbptt.numeric.factors import ArrayFactors, NumericModel
    from symbptt.primitives import forget_mp_values
    from symbptt.reference import bptt

    spec = get_cell("gru", get_activation("tanh"))

    def symbptt_float64(p: dict, x: np.ndarray, y: np.ndarray) -> dict:
        model = NumericModel(spec, [{k: (v.reshape(-1, 1) if v.ndim < 2 else v) for k, v in p.items()}], x, y, "last")
        with np.errstate(all="ignore"):
            grads = kernel.gradients(ArrayFactors(model))[1][0]
        return {k: np.asarray(v, dtype=float).reshape(p[k].shape) for k, v in grads.items()}

    out = []
    for seed, n, T, scale, b_z in CASES:
        rng = np.random.default_rng(seed)
        p = random_params("gru", n, 1, rng)
        if b_z is not None:
            p["b_z"][:] = b_z
        x, y = rng.normal(size=(T, 1, 1)) * scale, rng.normal(size=(n, 1))
        with mpmath.workdps(REFERENCE_DIGITS):
            exact = bptt([p], x[..., 0], y[..., 0], "tanh", "last", "gru", kind="mp")[1][0]
        symbptt.gradients(p, x, y, cell="gru")  # the compiled kernel loaded and the cell's forms made
        forget_mp_values()
        start = time.perf_counter()
        got: Any = symbptt.gradients(p, x, y, cell="gru")
        spent = time.perf_counter() - start
        path = f"mpmath {got.digits} digits" if got.digits else "float64"
        timed = [(worst_relative(got.grads, exact), spent)]
        for run in (complement_gru, hand_gru, symbptt_float64):
            start = time.perf_counter()
            result = run(p, x, y)
            timed.append((worst_relative(result, exact), time.perf_counter() - start))
        out.append([f"gru n = {n}, T = {T}, x·{scale:g}" + (f", b_z = {b_z:g}" if b_z is not None else ""), path]
                   + [f"{err:.1e} ({spent * 1e3:.1f} ms)" for err, spent in timed])
    return out


if __name__ == "__main__":
    print(table(["case", "symbptt.gradients: path", "symbptt.gradients: worst entry", "hand pass, distances carried",
                 "hand pass, plain float64", "symbptt's float64 kernel pass alone"], rows()))
