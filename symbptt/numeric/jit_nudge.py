"""The `grad` report's nudged reruns as compiled kernels (Numba, when installed).

The report measures the digits float64 kept by running the pass again with every stored value — linear
maps, nodes, step coefficients, δ — moved by one unit in the last place, a value that computes a sum also
by 2⁻⁵³ times its rounding size (Σ|terms| for a linear map; numeric/sizes.py for a node or coefficient), all
up or each by a sign of its own (forward.UlpNoise, reruns.kept_digits).  On NumPy each rerun pays
Python's cost per step and per stored value, two to three times the plain pass; here the same nudges run
inside the compiled forward pass and δ recursion (numeric/jit.py's kernels, printed with their nudges by
jit_source), for one sequence where the compiled kernel runs (jit.worth_it), for a batch while its
loops beat NumPy's products (LOOP_WORK), and where the run is long enough to repay a first compile
(applies).  The signs of a scattered rerun are drawn from the same seeded stream, array by array; the
sums over t are not nudged (as on NumPy: what they can lose is counted from their Σ|terms|).  Anywhere
else, or when Numba raises, the caller runs the NumPy rerun.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..cells import INPUT, Cell
from . import jit
from .factors import NumericModel
from .forward import ROUNDING, CompiledCell, Trajectory, UlpNoise, compiled, unit_params
from .jit_lines import column_lines
from .jit_source import HEADER, Unsupported, _ScalarPrinter, delta_source, unit_lines
from .kernel import HIGH, LOW, RESCALE_EVERY, plan

NUDGE_SOURCE = HEADER + f'''
ROUNDING = {ROUNDING!r}


@njit(cache=True)
def _nudge(v, z, g):
    """v moved one unit in the last place towards g·∞ and by g·ROUNDING·z (z: a sum's rounding size, else 0);
    an exact 0 whose size is 0 stays 0; g = 0: outward, away from 0 (UlpNoise(0): g is v's own sign)."""
    if g == 0.0:
        g = math.copysign(1.0, v)
    if v == 0.0 and z == 0.0:
        return v
    if v == 0.0 or not math.isfinite(v):  # rare: C's nextafter
        return np.nextafter(v, g * np.inf) + g * ROUNDING * z
    # np.nextafter's value by the bits: the magnitude one step away from 0 when v and g share a sign, one
    # step towards it when not — without a branch on g, whose signs a scattered rerun draws at random (C's
    # nextafter branches on the direction; this halved a rerun's time)
    bits = np.float64(v).view(np.int64)
    towards_zero = ((bits >> 63) & 1) ^ np.int64(g < 0.0)
    return np.int64(bits + 1 - 2 * towards_zero).view(np.float64) + g * ROUNDING * z


@njit(cache=True)
def _columns(MT, AT, N, V, Q):
    """V[bb] = M · N[:, bb] and Q[bb] = |M| · |N[:, bb]| for every sequence bb (MT: Mᵀ, AT: |Mᵀ|, row-major),
    each entry's terms added in the order of j from 0, as a loop over a row of M adds them, but column by
    column: the additions of one column are independent, so the compiler runs them side by side (2.6× faster
    at n = 64 than a row's two chains of additions), and every sum is the same to the bit."""
    n, k = MT.shape[1], MT.shape[0]
    for bb in range(N.shape[1]):
        for i in range(n):
            V[bb, i] = 0.0
            Q[bb, i] = 0.0
        for j in range(k):
            w = N[j, bb]
            a = abs(w)
            for i in range(n):
                V[bb, i] += MT[j, i] * w
                Q[bb, i] += AT[j, i] * a


@njit(cache=True)
def _zero_n(D, S, t):
    for i in range(D.shape[1]):
        for bb in range(D.shape[2]):
            D[t, i, bb] = 0.0
            S[i, bb] = 0.0


@njit(cache=True)
def _error_n(D, S, t, Ht, Yt, scale):
    for i in range(D.shape[1]):
        for bb in range(D.shape[2]):
            v = math.ldexp(Ht[i, bb] - Yt[i, bb], -scale)
            D[t, i, bb] = v
            S[i, bb] = abs(v)


@njit(cache=True)
def _diagonal_n(D, S, t, K, L, s, shift):
    for i in range(D.shape[1]):
        for bb in range(D.shape[2]):
            v = K[s, i, bb] * L[s, i, bb]
            b = abs(v)
            if shift != 0:
                v = math.ldexp(v, shift)
                b = math.ldexp(b, shift)
            D[t, i, bb] = D[t, i, bb] + v
            S[i, bb] = S[i, bb] + b


@njit(cache=True)
def _through_n(D, S, t, M, A, K, L, s, shift, sc, pv, pb):
    """δ_t += Mᵀ (c_s ⊙ δ'_s), and its size += |Mᵀ| |c_s ⊙ δ'_s|, each times 2^shift, for every sequence
    of the batch (the columns of sc; M and A = |M| row-major): each entry's terms added in the order of j
    from 0, column by column (_columns)."""
    n, B = D.shape[1], D.shape[2]
    for j in range(n):
        for bb in range(B):
            sc[j, bb] = K[s, j, bb] * L[s, j, bb]
    _columns(M, A, sc, pv, pb)
    for i in range(n):
        for bb in range(B):
            v = pv[bb, i]
            b = pb[bb, i]
            if shift != 0:
                v = math.ldexp(v, shift)
                b = math.ldexp(b, shift)
            D[t, i, bb] = D[t, i, bb] + v
            S[i, bb] = S[i, bb] + b


@njit(cache=True)
def _nudged_row(D, S, t, G):
    for i in range(D.shape[1]):
        for bb in range(D.shape[2]):
            D[t, i, bb] = _nudge(D[t, i, bb], S[i, bb], G[t, i, bb])
'''
NUDGE_NAMES = ("_nudge", "_columns", "_zero_n", "_error_n", "_diagonal_n", "_through_n", "_nudged_row")


def nudged_forward_source(cc: CompiledCell) -> str:
    """forward_layer_nudged(...): the linear maps, nodes and step coefficients of every sequence of the
    batch for t = 1..T, each stored value nudged (the sizes of a linear map: |b| + Σ |M|·|s_{t−1}| +
    |U|·|x_t|, in the order its sum is added)."""
    cell = cc.cell
    printer = _ScalarPrinter({"fully_qualified_modules": True, "strict": True})
    inputs = [m for lin in cell.linears for m, s in lin.terms if s == INPUT]
    mats = [m for lin in cell.linears for m, s in lin.terms if s != INPUT]
    args = (["T", "n", "B", "same_width", "X"] + [f"R_{m}" for m in inputs] + [f"A_{m}" for m in inputs]
            + [f"M_{m}" for m in mats] + [f"Z_{m}" for m in mats]
            + [f"b_{lin.name}" for lin in cell.linears if lin.bias]
            + [f"P_{p}" for p in cell.unit_params]
            + [f"L_{lin.name}" for lin in cell.linears] + [f"N_{name}" for name in cc.node_names]
            + [f"C_{k}" for k in range(len(cc.keys))]
            + [f"GL_{lin.name}" for lin in cell.linears] + [f"G_{name}" for name in cc.node_names]
            + [f"GC_{k}" for k in range(len(cc.keys))])
    # each product M s_{t−1} and its size |M|·|s_{t−1}| first, column by column (_columns: Mᵀ and |Mᵀ|
    # row-major), then the terms added in the cell's order
    body = [*[f"MT_{m} = np.ascontiguousarray(M_{m}.T)" for m in mats],
            *[f"ZT_{m} = np.ascontiguousarray(Z_{m}.T)" for m in mats],
            *[f"V_{m} = np.empty((B, n))" for m in mats], *[f"Q_{m} = np.empty((B, n))" for m in mats],
            "for t in range(1, T + 1):"]
    for lin in cell.linears:
        start = f"b_{lin.name}[i, 0]" if lin.bias else "0.0"
        lines = []
        for m, src in lin.terms:  # one sequence's products written out (jit_lines), a batch's called
            if src != INPUT:
                lines += ["if B == 1:", *["    " + line for line in column_lines(
                    f"MT_{m}", f"N_{src}[t - 1, j, 0]", f"V_{m}", "0, i", f"MT_{m}.shape[0]", (f"ZT_{m}", f"Q_{m}"))],
                    "else:", f"    _columns(MT_{m}, ZT_{m}, N_{src}[t - 1], V_{m}, Q_{m})"]
        lines += ["for i in range(n):", "    for bb in range(B):", f"        acc0 = {start}",
                  f"        z0 = abs({start})"]
        for matrix, src in lin.terms:
            if src == INPUT:
                lines += [f"        acc0 = acc0 + R_{matrix}[t - 1, i, bb]",
                          f"        z0 = z0 + A_{matrix}[t - 1, i, bb]"]
            else:
                lines += [f"        acc0 = acc0 + V_{matrix}[bb, i]", f"        z0 = z0 + Q_{matrix}[bb, i]"]
        lines.append(f"        L_{lin.name}[t, i, bb] = _nudge(acc0, z0, GL_{lin.name}[t, i, bb])")
        body += ["    " + line for line in lines]
    body += unit_lines(cc, printer, nudged=True)
    return ("@njit(cache=True)\ndef forward_layer_nudged(" + ", ".join(args) + "):\n"
            + "\n".join("    " + line for line in body) + "\n")


@dataclass(frozen=True)
class NudgedKernels:
    """The nudged forward pass of one layer and the nudged δ recursion of one structure."""

    forward_layer: Callable[..., None]
    deltas: Callable[..., None]
    coefs: tuple[tuple[int, int], ...]  # as jit.Kernels.coefs
    weights: tuple[tuple[int, str], ...]  # as jit.Kernels.weights
    fresh: bool  # the source was new in the cache folder: the first call compiles (seconds)


@lru_cache(maxsize=1)
def _helpers() -> tuple[str, bool]:
    """The name of the module of the nudged loops (NUDGE_SOURCE: compiled once per machine), and whether
    its source was new in the cache folder."""
    module, fresh = jit._load(NUDGE_SOURCE)
    return str(module.__name__), fresh


@lru_cache(maxsize=32)
def nudged_kernels(cell: Cell, layers: int, loss: str) -> NudgedKernels | None:
    """The compiled nudged kernels of a structure, or None when its equations use a function they do not
    compile."""
    cc = compiled(cell)
    try:
        forward_src = nudged_forward_source(cc)
        delta_src, _, coefs, weights = delta_source(cc, plan(cell, layers, loss), loss, nudged=True)
    except Unsupported:
        return None
    constants = f"RESCALE, LOW, HIGH = {RESCALE_EVERY}, {LOW!r}, {HIGH!r}\n"
    header = jit._header() + f"from {_helpers()[0]} import {', '.join(NUDGE_NAMES)}\n"
    module, fresh = jit._load(header + constants + "\n\n" + forward_src + "\n\n" + delta_src)
    return NudgedKernels(module.forward_layer_nudged, module.deltas_nudged, tuple(coefs), tuple(weights),
                         fresh or _helpers()[1])


# A batch's nudged reruns run compiled while n² × batch is at most this: the nudged kernels multiply in
# loops (each product twice: the value and its size, column by column: _columns), with no BLAS.  Measured
# against the NumPy reruns (kept_digits, T = 100, wall-clock): 0.41–0.60× their time at 32768 (rnn, LSTM
# and GRU, n = 32, batch 32), 0.51–0.82× at 65536–131072, 0.59–0.81× at 262144 (n = 128, batch 16; n = 64,
# batch 64), 0.65–0.96× at 524288 (n = 128, batch 32).
LOOP_WORK = 1 << 18


def _worth_it(n: int, batch: int) -> bool:
    """One sequence: as the plain kernel (jit.worth_it); a batch: while its loops beat NumPy's products."""
    return jit.worth_it(n, 1) if batch == 1 else n * n * batch <= LOOP_WORK


MIN_STEPS = 100  # steps × layers below which the reruns stay on NumPy: milliseconds there, a compile seconds


def applies(cell: Cell, layers: int, loss: str, n: int, batch: int, T: int) -> bool:
    """Whether the reruns of this structure run compiled: Numba here, one sequence of at most
    jit.MAX_SEQUENCE_UNITS units or a batch with n² × batch at most LOOP_WORK, at least MIN_STEPS steps ×
    layers (a short run's NumPy reruns cost milliseconds, and a structure's first compile seconds:
    `symbptt check`, whose trials are a few steps of many structures, would compile dozens), and
    equations the kernels compile (float64 parameters shared by the batch are nudged_pass's to check).
    A rule of the sizes alone, so that the same input is measured the same way on one installation
    whatever its cache holds."""
    # the sizes first: jit.available imports Numba (a quarter to half a second), which a short run never uses
    return (_worth_it(n, batch) and T * layers >= MIN_STEPS and jit.available()
            and nudged_kernels(cell, layers, loss) is not None and jit.kernels(cell, layers, loss) is not None)


def compiles_first(cell: Cell, layers: int, loss: str, n: int, T: int) -> bool:
    """Whether the report's reruns of this structure (one sequence of n units, T steps) would run
    compiled and compile first (a source new to the cache folder): what `symbptt grad` says before the
    wait."""
    if not applies(cell, layers, loss, n, 1, T):
        return False
    k, plain = nudged_kernels(cell, layers, loss), jit.kernels(cell, layers, loss)
    assert k is not None and plain is not None  # applies asked
    return k.fresh or plain.fresh


@dataclass
class NudgedPass:
    """What the compiled nudged kernels computed: each layer's linear maps and nodes, its step
    coefficients (as a Trajectory holds them), every δ_t in kernel.plan's order and the exponents."""

    values: list[dict[str, np.ndarray]]
    coefs: list[dict[tuple[str, str], np.ndarray]]
    deltas: list[np.ndarray]
    exps: np.ndarray


def _runs(model: NumericModel) -> bool:
    """Whether the compiled nudged kernels run ``model``: applies, on float64 inputs and parameters shared
    by the batch."""
    cell, params, x = model.cell, model.params, model.x
    n = params[0][f"{cell.states[0]}0"].shape[0]
    return (applies(cell, len(params), model.loss, n, x.shape[2], x.shape[0]) and x.dtype == np.float64
            and all(v.ndim <= 2 and v.dtype == np.float64 for p in params for v in p.values()))


def nudged_pass(model: NumericModel, direction: int, scattered: bool, seed: int = UlpNoise.SEED
                ) -> NudgedPass | None:
    """One nudged rerun of ``model`` (float64: one sequence or a batch) by the compiled kernels: every stored value
    moved ``direction`` (+1 up, −1 down), each by a sign of its own when ``scattered`` (the signs drawn
    array by array from the stream UlpNoise seeds with ``seed``: each layer's linear maps, nodes and
    coefficients, then each δ) — or None where they do not run (see applies: no Numba, n beyond
    jit.worth_it, a batch beyond LOOP_WORK, a short run; parameters per batch element, a function they do
    not compile, Numba raising on x/0)."""
    if not _runs(model):
        return None
    cell, params, x, loss = model.cell, model.params, model.x, model.loss
    n = params[0][f"{cell.states[0]}0"].shape[0]
    k = nudged_kernels(cell, len(params), loss)
    assert k is not None
    rng = np.random.default_rng(seed) if scattered else None

    def signs(shape: tuple[int, ...]) -> np.ndarray:
        if rng is None:
            return np.full(shape, float(direction))
        return direction * (2.0 * rng.integers(0, 2, size=shape) - 1.0)

    cc = compiled(cell)
    T, B = x.shape[0], x.shape[2]
    values: list[dict[str, np.ndarray]] = []
    coefs: list[dict[tuple[str, str], np.ndarray]] = []
    try:
        with np.errstate(all="ignore"):
            for ell, p in enumerate(params):
                inputs = np.ascontiguousarray(x if ell == 0 else values[-1]["h"][1:])
                reads, mats, biases, units, layer, cs = jit.layer_arrays(cc, p, inputs, n, B)
                sizes = [np.ascontiguousarray(np.matmul(np.abs(p[m]), np.abs(inputs))) for lin in cell.linears
                         for m, s in lin.terms if s == INPUT]  # |U|·|x_t|: what each U x_t adds to a sum's size
                moves = [signs((T + 1, n, B)) for _ in range(len(layer) + len(cs))]
                k.forward_layer(T, n, B, inputs.shape[1] == n, inputs, *reads, *sizes, *mats,
                                *[np.abs(m) for m in mats], *biases, *units, *layer.values(), *cs, *moves)
                values.append(layer)
                coefs.append(dict(zip(cc.keys, cs, strict=True)))
            outs, exps = _nudged_deltas(k, model, values, coefs, signs)
    except (FloatingPointError, ZeroDivisionError):
        return None
    return NudgedPass(values, coefs, outs, exps)


def _nudged_deltas(k: NudgedKernels, model: NumericModel, values: list[dict[str, np.ndarray]],
                   coefs: list[dict[tuple[str, str], np.ndarray]], signs: Callable[[tuple[int, ...]], np.ndarray]
                   ) -> tuple[list[np.ndarray], np.ndarray]:
    """Every δ_t (kernel.plan's order) and the exponents, by the compiled nudged δ recursion from a pass's
    values and coefficients, each δ array moved by the next ``signs`` of its shape."""
    cc, params, T, n, B = compiled(model.cell), model.params, model.T, values[0]["h"].shape[1], model.x.shape[2]
    exps = np.zeros(T + 2, dtype=np.int64)
    outs = [np.empty((T + 1, n, B)) for _ in plan(model.cell, model.layers, model.loss).order]
    transposed = [np.ascontiguousarray(params[layer - 1][m].T) for layer, m in k.weights]
    k.deltas(T, n, B, values[-1]["h"], model.y, exps, *[coefs[layer - 1][cc.keys[i]] for layer, i in k.coefs],
             *transposed, *outs, *[np.abs(m) for m in transposed], *[np.empty((n, B)) for _ in outs],
             *[signs((T + 1, n, B)) for _ in outs])
    return outs, exps[:T + 1]


def held_gradients(model: NumericModel, values: list[dict[str, np.ndarray]],
                   coefs: list[dict[tuple[str, str], np.ndarray]], noise: UlpNoise
                   ) -> tuple[float, list[dict[str, np.ndarray]]] | None:
    """The loss and gradients of a rerun whose trajectory and coefficients ``noise`` has already moved where
    they are (split.nudged_on): the δ recursion compiled, each δ moved by the next signs of ``noise``'s
    stream (UlpNoise.signs), the sums over t compiled (not nudged) — or None where the kernels do not run
    (applies), raise or meet a float64 event: the caller then runs the NumPy rerun."""
    if not _runs(model):
        return None
    cell, params, x, loss = model.cell, model.params, model.x, model.loss
    k, plain = nudged_kernels(cell, len(params), loss), jit.kernels(cell, len(params), loss)
    assert k is not None and plain is not None  # applies asked
    values = [{name: np.ascontiguousarray(v, dtype=float) for name, v in layer.items()} for layer in values]
    coefs = [{key: np.ascontiguousarray(v, dtype=float) for key, v in layer.items()} for layer in coefs]
    try:
        with np.errstate(all="ignore"):
            outs, exps = _nudged_deltas(k, model, values, coefs, noise.signs)
    except (FloatingPointError, ZeroDivisionError):
        return None
    return jit._sums(plain, compiled(cell), params, x, model.y, loss, values, coefs, outs, exps)


def nudged_gradients(model: NumericModel, direction: int, scattered: bool, seed: int = UlpNoise.SEED,
                     kept: list[Trajectory] | None = None,
                     deltas: list[tuple[dict[tuple[int, str], np.ndarray], np.ndarray]] | None = None
                     ) -> tuple[float, list[dict[str, np.ndarray]]] | None:
    """The loss and gradients of one nudged rerun (nudged_pass), summed over t by the compiled sums (not
    nudged) — or None where nudged_pass does not run or the sums raised a float64 event: the caller then
    runs the NumPy rerun.  ``kept``: when given, the rerun's nudged forward pass and coefficients are
    appended to it as a Trajectory (for a caller that computes more from the same rerun); ``deltas``: when
    given, its nudged δ and their exponents, as kernel.gradients takes them (``computed``), so that where
    the sums alone raised, the NumPy sums read them instead of running the recursion again."""
    done = nudged_pass(model, direction, scattered, seed)
    if done is None:
        return None
    if kept is not None:
        n, B = done.values[0]["h"].shape[1], model.x.shape[2]
        kept.append(Trajectory(done.values, done.coefs, model.x, unit_params(model.cell, model.params, n, B)))
    if deltas is not None:
        order = plan(model.cell, model.layers, model.loss).order
        deltas.append(({key: d for (key, _, _), d in zip(order, done.deltas, strict=True)}, done.exps))
    plain = jit.kernels(model.cell, model.layers, model.loss)
    assert plain is not None  # nudged_pass ran: applies asked for it
    return jit._sums(plain, compiled(model.cell), model.params, model.x, model.y, model.loss, done.values,
                     done.coefs, done.deltas, done.exps)


__all__ = ["LOOP_WORK", "NUDGE_SOURCE", "NudgedKernels", "NudgedPass", "applies", "compiles_first", "held_gradients",
           "nudged_forward_source", "nudged_gradients", "nudged_kernels", "nudged_pass"]
