"""kernel.unit_initial compiled (Numba, where numeric/jit.py runs): ∂L/∂h_0 of a one-layer cell whose steps
are diagonal, each unit's δ recursion carried at an exponent of its own.

The loop is generic, not printed per cell: the plan's terms come in as arrays (which δ each coefficient
adds to, which later δ it reads), in the order kernel.unit_initial adds them, and every operation is the
one NumPy performs there (the same products, sums and powers of two, in the same order), so the numbers
are the same bit for bit.  Float64 events are read from the processor's flags, as the other kernels read
them: where one was raised (NumPy would have raised FloatingPointError), None is returned, as there.  A
nudged rerun's (reruns.kept_digits) moves every δ as UlpNoise moves it, with the signs drawn from its
stream in the order NumPy's calls draw them, and refuses where NumPy's nudge raises (a δ of exactly 0, or
one moved below float64's normal range).

    unit by unit   for each unit and batch element, t = T … 0: δ_t = e_t·2^−scale + Σ c_{t+1}·δ̂_{t+1}·2^shift,
                   then δ̂_t = δ_t·2^−k with k the exponent of the unit's largest |δ_t| (δ_t's own, exactly)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from . import jit, kernel
from .factors import ArrayFactors
from .forward import UlpNoise
from .jit_nudge import _helpers
from .jit_source import HEADER
from .kernel import _errors, _Plan

UNIT_SOURCE = """

@njit(cache=True)
def unit_initial(T, errors, reads, err_key, coefs, term_key, term_coef, term_later, nudged, signs, drawn, mant,
                 expo, refused):
    \"\"\"kernel.unit_initial's loop: every unit and batch element on its own, its states' δ scaled after
    each step so that the largest lies in [1/2, 1); mant (S, n, B) and expo (n, B) receive δ_0.  With
    ``nudged``, every δ_t is moved as a nudged rerun moves it (_nudge: one unit in the last place towards
    signs[drawn[t, s]], and the rounding of its Σ|terms|), and refused[0] = 1 where NumPy's nudge would
    have raised: a δ of exactly 0, or one moved below float64's normal range.\"\"\"
    S, n, B = mant.shape[0], mant.shape[1], mant.shape[2]
    K = term_key.shape[0]
    later = np.zeros(S)
    now = np.zeros(S)
    size = np.zeros(S)
    has = np.zeros(S, dtype=np.bool_)
    for i in range(n):
        for b in range(B):
            for s in range(S):
                later[s] = 0.0
            e = 0
            for t in range(T, -1, -1):
                scale = max(e, 0) if reads[t] else e
                shift = e - scale
                for s in range(S):
                    has[s] = False
                    now[s] = 0.0
                    size[s] = 0.0
                if reads[t] and err_key >= 0:
                    now[err_key] = math.ldexp(errors[t, i, b], -scale)
                    size[err_key] = abs(now[err_key])
                    has[err_key] = True
                if t + 1 <= T:
                    for k in range(K):
                        part = coefs[term_coef[k], t + 1, i, b] * later[term_later[k]]
                        if shift != 0:
                            part = math.ldexp(part, shift)
                        s = term_key[k]
                        if has[s]:
                            now[s] = now[s] + part
                            size[s] = size[s] + abs(part)
                        else:
                            now[s] = part
                            size[s] = abs(part)
                            has[s] = True
                if nudged:
                    for s in range(S):
                        if has[s]:
                            if now[s] == 0.0:
                                refused[0] = 1
                            now[s] = _nudge(now[s], size[s], signs[drawn[t, s], i, b])
                            if now[s] != 0.0 and abs(now[s]) < 2.2250738585072014e-308:
                                refused[0] = 1
                largest = 0.0
                for s in range(S):
                    largest = max(largest, abs(now[s]))
                k2 = math.frexp(largest)[1] if largest != 0.0 else 0
                for s in range(S):
                    later[s] = math.ldexp(now[s], -k2)
                e = scale + k2
            for s in range(S):
                mant[s, i, b] = later[s]
            expo[i, b] = e
"""


@lru_cache(maxsize=1)
def _kernel() -> Any:
    """The compiled loop (its module written once to the cache folder, as every kernel's is), beside the
    nudged reruns' own _nudge (numeric/jit_nudge.py)."""
    return jit._load(HEADER + f"from {_helpers()[0]} import _nudge\n" + UNIT_SOURCE)[0].unit_initial


def unit_initial(values: ArrayFactors, the_plan: _Plan, noise: UlpNoise | None = None
                 ) -> dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] | None:
    """kernel.unit_initial without noise, compiled where numeric/jit.py runs, at the sizes its kernels run
    at (jit.worth_it; else NumPy's): the same numbers, and None where that returns None (a float64 event,
    a stack, a weight on the way back, a coefficient below float64's normal range).  Its first call on a
    machine compiles the loop (2.2 s here), later processes load it from the cache folder (11 ms with
    Numba loaded).

    Args:
        values: a float64 pass of one sequence or batch.
        the_plan: its plan.
        noise: a nudged rerun's, as kernel.unit_initial takes it: its signs are drawn here in the order
            NumPy's calls draw them (step by step from T, state by state), so the stream moves on as
            it would there, and each δ is moved as there.

    Returns:
        {δ key: (mantissa, exponent)} at t = 0, or None.
    """
    model = values.model
    like = values.traj.values[0]["h"]
    # where the compiled kernels run (the sizes they are worth it at: Numba is loaded there already)
    if not jit.worth_it(like.shape[1], like.shape[2]) or not jit.available():
        return kernel.unit_initial(values, the_plan, noise)
    if not kernel.unit_ready(values, the_plan):
        return None
    coefs = values.traj.coefs[0]
    order = [key for key, _, _ in the_plan.order]
    names = sorted({c for _, parts, _ in the_plan.order for p in parts for c, _ in p.terms})
    term_key, term_coef, term_later = [], [], []
    for index, (_, parts, _) in enumerate(the_plan.order):
        for p in parts:
            for c, _ in p.terms:
                term_key.append(index)
                term_coef.append(names.index(c))
                term_later.append(order.index(p.later))
    T = model.T
    error = _errors(values)
    errors = np.zeros_like(like)
    reads = np.zeros(T + 1, dtype=np.bool_)
    for t in range(T + 1):
        e_t = error(t)  # None at a step the loss does not read
        if e_t is not None:
            errors[t], reads[t] = e_t, True
    err_key = next((i for i, (_, _, err) in enumerate(the_plan.order) if err), -1)
    stacked = np.ascontiguousarray(np.stack([coefs[c] for c in names])) if names else np.zeros((1, T + 1, 1, 1))
    mant = np.empty((len(order), like.shape[1], like.shape[2]))
    expo = np.empty(like.shape[1:], dtype=np.int64)
    terms = [np.array(v, dtype=np.int64) for v in (term_key, term_coef, term_later)]
    fenv = jit._fenv()
    assert fenv is not None  # jit.available() read it
    test, clear = fenv
    if noise is None:
        signs, drawn = np.zeros((1, 1, 1)), np.zeros((1, 1), dtype=np.int64)
    else:
        signs, drawn = _signs(noise, reads, err_key, term_key, len(order), like.shape[1:])
    refused = np.zeros(1, dtype=np.int64)
    clear(jit.FE_EVENTS)
    _kernel()(T, errors, reads, err_key, stacked, *terms, noise is not None, signs, drawn, mant, expo, refused)
    if refused[0] or test(jit.FE_EVENTS):
        return None
    return {key: (mant[i], expo) for i, key in enumerate(order)}


def _signs(noise: UlpNoise, reads: np.ndarray, err_key: int, term_key: list[int], states: int,
           shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The directions ``noise`` gives each δ_t a nudged unit_initial moves (UlpNoise.signs), drawn in the
    order of its calls there — t from T down, the states in order, only where δ_t has a term — and, per
    (t, state), which of them it takes (−1: none)."""
    T = len(reads) - 1
    fed = set(term_key)
    drawn = np.full((T + 1, states), -1, dtype=np.int64)
    count = 0
    for t in range(T, -1, -1):
        for s in range(states):
            if (reads[t] and s == err_key) or (t + 1 <= T and s in fed):
                drawn[t, s] = count
                count += 1
    # in one call: the stream's next values in order, as the calls one after the other take them
    return (np.ascontiguousarray(noise.signs((count, *shape))) if count else np.zeros((1, *shape))), drawn


__all__ = ["UNIT_SOURCE", "unit_initial"]
