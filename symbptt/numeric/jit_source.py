"""The source of the compiled step kernel (numeric/jit.py compiles and runs it): a cell's one-step
equations, the δ recursion and the sums over t, printed as Numba functions.

Three functions are generated — forward_layer per cell, deltas and sums per cell structure (cell,
layers, loss) — beside loops every structure shares (ADD, BLAS, DELTA_HELPERS, SUM_HELPERS: one module,
compiled once per machine):

    forward_layer   the cell's one-step equations — the same stable expressions numeric/forward.py
                    lambdifies — printed as scalar Python, one unit of one batch element at a time,
                    with every step coefficient beside the nodes
    deltas          kernel.deltas as loops: δ_t from δ_{t+1} and the layer above, kept as float64
                    times a power of two per step
    sums            the loss, and each gradient Σ_t row_t z_tᵀ summed run by run (a run: steps that
                    share an exponent) and the runs added with an unbounded exponent, as kernel.gradients

A product with a weight is a loop, except for a batch from BLAS_UNITS units, where each step's products
are BLAS calls (np.dot, which Numba takes from SciPy) of at most BLAS_WORK multiplications.  An
equation that uses a function the printer does not know raises Unsupported: that cell runs on NumPy.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from .. import primitives as P
from ..cells import INPUT, unit
from .flags import CHECKED_WORK
from .forward import CompiledCell
from .jit_lines import column_lines, diagonal_lines, nudged_row_lines, through_lines, zero_lines
from .kernel import _Plan

HEADER = '''
import math

import numpy as np
from numba import njit
'''

ADD = '''

@njit(cache=True)
def _add(m1, x1, v, e):
    """m1·2^x1 + v·2^e as a mantissa and exponent, as extended.extended_sum adds: an addend below 2^-60
    of the other is dropped without being computed (below half a unit in the last place, float64
    addition would drop it too), so nothing underflows."""
    if v == 0.0:
        return m1, x1
    m2, x2 = math.frexp(v)
    x2 = x2 + e
    if m1 == 0.0 or x1 < x2 - 60:
        return m2, x2
    if x2 < x1 - 60:
        return m1, x1
    top = max(x1, x2)
    m, shift = math.frexp(math.ldexp(m1, x1 - top) + math.ldexp(m2, x2 - top))
    return m, (top + shift if m != 0.0 else top - top)
'''


# a batch's products go to BLAS (np.dot) instead of the kernel's loops from this many units (measured, rnn, LSTM
# and GRU, T = 100, batch 4–32: at n = 8 either way, at n = 16 BLAS 0.9×, at n = 32 0.7–0.8× the loops' time)
BLAS_UNITS = 16
# ... while a product has at most this many multiplications: the size up to which OpenBLAS was seen to keep
# a product on this thread, whose floating-point flags the kernel reads (flags.py measured it; a larger
# product goes to threads, which also cost more here)
BLAS_WORK = CHECKED_WORK

BLAS = f'''

@njit(cache=True)
def _blas(n, m, B):
    """Whether the product of an n × m and an m × B matrix (or of n × B and B × m) of a batch goes to
    BLAS: from {BLAS_UNITS} units, and only as long as BLAS runs it on this thread."""
    return B > 1 and n >= {BLAS_UNITS} and n * m * B <= {BLAS_WORK}


@njit(cache=True)
def _product(M, S, Q, blas):
    """Q = M · S (M: n × k, S: k × B) of a batch: by BLAS where ``blas``, else as loops that add each
    entry's k terms in order, the batch's columns carried side by side."""
    if blas:
        np.dot(M, S, Q)
        return
    n, k, B = M.shape[0], M.shape[1], Q.shape[1]
    for i in range(n):
        for bb in range(B):
            Q[i, bb] = 0.0
        for j in range(k):
            w = M[i, j]
            for bb in range(B):
                Q[i, bb] += w * S[j, bb]

'''

# the primitives the kernel compiles, written inline in the argument X as the NumPy implementations
# compute them (primitives.np_sigmoid, np_dsigmoid, np_sech2, np_relu, np_step), operation for operation;
# a repeated math.exp(…) of the same argument is computed once by the compiler.  tanh is the exception:
# the C library's, which Numba calls, costs ~4 exponentials; it is made from the e = e^{−2|X|} that sech²
# uses, as (1 − e)/(1 + e) with X's sign (no cancellation: e ≤ ½ there), and below |X| = 0.35 (e > ½) as
# −m/(2 + m), m = expm1(−2X) — within 2.3 units in the last place, the C library's within 2.0 (0.5 and 0.4
# on average; measured against mpmath: tests/test_jit.py); a step of the plain cell's forward pass at n = 16,
# batch 32 took 7.6 µs against 13.4
SCALAR = {
    P.sigmoid: "(1.0 / (1.0 + math.exp(-abs(X))) if X >= 0 else math.exp(-abs(X)) / (1.0 + math.exp(-abs(X))))",
    P.dsigmoid: "(math.exp(-abs(X)) / ((1.0 + math.exp(-abs(X))) * (1.0 + math.exp(-abs(X)))))",
    P.tanh: "(math.copysign((1.0 - math.exp(-2.0 * abs(X))) / (1.0 + math.exp(-2.0 * abs(X))), X) if abs(X) >= 0.35 "
            "else -math.expm1(-2.0 * X) / (2.0 + math.expm1(-2.0 * X)))",
    P.dtanh: "(4.0 * math.exp(-2.0 * abs(X)) / ((math.exp(-2.0 * abs(X)) + 1.0) * (math.exp(-2.0 * abs(X)) + 1.0)))",
    P.relu: "max(X, 0.0)",
    P.step: "(1.0 if X > 0 else 0.0)",
}
MATH = (sp.exp, sp.log, sp.sin, sp.cos, sp.Abs, sp.Pow, sp.Add, sp.Mul, sp.Symbol, sp.Number,
        sp.Piecewise, sp.Max, sp.Min)
PARTS = (sp.logic.boolalg.BooleanAtom, sp.Tuple, sp.functions.elementary.piecewise.ExprCondPair)


class Unsupported(Exception):
    """An expression the kernel does not compile (a custom activation's primitive, a special function)."""


class _ScalarPrinter(PythonCodePrinter):
    """One unit's value as scalar Python over the math module and the helpers (for Numba)."""

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if isinstance(expr, P.Primitive):
            form = SCALAR.get(type(expr))
            if form is None:
                raise Unsupported(type(expr).__name__)
            return form.replace("X", f"({self._print(expr.args[0])})")
        if isinstance(expr, sp.Basic) and not isinstance(expr, MATH + PARTS) and not expr.is_Relational:
            raise Unsupported(type(expr).__name__)
        return super()._print(expr, **kwargs)


# ---------------------------------------------------------------- source of one layer's forward pass


def forward_source(cc: CompiledCell) -> str:
    """forward_layer(...): linears, nodes and step coefficients of one layer for t = 1..T."""
    cell = cc.cell
    printer = _ScalarPrinter({"fully_qualified_modules": True, "strict": True})
    args = (["T", "n", "B", "same_width", "X"]
            + [f"R_{m}" for lin in cell.linears for m, s in lin.terms if s == INPUT]  # U x_t, every t
            + [f"M_{m}" for lin in cell.linears for m, s in lin.terms if s != INPUT]
            + [f"b_{lin.name}" for lin in cell.linears if lin.bias]
            + [f"P_{p}" for p in cell.unit_params]
            + [f"L_{lin.name}" for lin in cell.linears] + [f"N_{name}" for name in cc.node_names]
            + [f"C_{k}" for k in range(len(cc.keys))])
    recurrent = [m for lin in cell.linears for m, src in lin.terms if src != INPUT]
    body = ["blas = _blas(n, n, B)", *[f"Q_{m} = np.empty((n, B))" for m in recurrent],
            *[f"MT_{m} = np.ascontiguousarray(M_{m}.T)" for m in recurrent], "for t in range(1, T + 1):"]
    for lin in cell.linears:  # a = b + Σ_terms (M s_{t-1} or U x_t), summed in the cell's order
        start = f"b_{lin.name}[i, 0]" if lin.bias else "0.0"
        # one sequence: each product M s_{t−1} first (column_lines: every unit's sum in the order of j, as
        # a row's loop adds them), then the same additions in the same order
        one = ["if B == 1:", *["    " + line for m, src in lin.terms if src != INPUT
                               for line in column_lines(f"MT_{m}", f"N_{src}[t - 1, j, 0]", f"Q_{m}")],
               "    for i in range(n):", f"        acc = {start}"]
        one += [f"        acc = acc + {f'R_{m}[t - 1, i, 0]' if src == INPUT else f'Q_{m}[i, 0]'}"
                for m, src in lin.terms]
        one.append(f"        L_{lin.name}[t, i, 0] = acc")
        # a batch: each product M s_{t−1} first (_product: BLAS or loops), then the terms added in order
        batch = ["else:", *[f"    _product(M_{m}, N_{src}[t - 1], Q_{m}, blas)"
                            for m, src in lin.terms if src != INPUT],
                 "    for i in range(n):", "        for bb in range(B):", f"            acc = {start}"]
        batch += [f"            acc = acc + {f'R_{m}[t - 1, i, bb]' if src == INPUT else f'Q_{m}[i, bb]'}"
                  for m, src in lin.terms]
        batch.append(f"            L_{lin.name}[t, i, bb] = acc")
        body += ["    " + line for line in one + batch]
    body += unit_lines(cc, printer)
    return ("@njit(cache=True)\ndef forward_layer(" + ", ".join(args) + "):\n"
            + "\n".join("    " + line for part in body for line in part.split("\n")) + "\n")


def _size(cc: CompiledCell, key: str | tuple[str, str], printer: _ScalarPrinter, swap: dict) -> str:
    """The printed rounding size of a node (by name) or step coefficient (by key) in the loop's names,
    "0.0" where it computes no sum (CompiledCell.size_exprs)."""
    size = cc.size_exprs.get(key)
    return printer.doprint(size.xreplace(swap)) if size is not None else "0.0"


def unit_lines(cc: CompiledCell, printer: _ScalarPrinter, nudged: bool = False) -> list[str]:
    """The loop over units and batch elements of one step: the leaves read, each node and every step
    coefficient computed and stored.  ``nudged``: each stored value moved by _nudge with its sign from the
    G_ array beside it, with its rounding size where it computes a sum (numeric/sizes.py; a node as
    numeric/forward.py's nudged pass moves it, a step coefficient as forward.nudged_coefficients does)."""
    cell, graph = cc.cell, cc.graph
    body = ["    for i in range(n):", "        for bb in range(B):"]
    names = {}
    for leaf in cc.leaf_names:
        sym = graph.symbol(leaf)
        if leaf in {lin.name for lin in cell.linears}:
            value = f"L_{leaf}[t, i, bb]"
        elif leaf.startswith("prev_"):
            value = f"N_{leaf[5:]}[t - 1, i, bb]"
        elif leaf == INPUT:
            value = "X[t - 1, i, bb] if same_width else 0.0"
        else:  # a scalar (1×1) or per-unit (n×1) parameter
            value = f"P_{leaf}[i if P_{leaf}.shape[0] > 1 else 0, 0]"
        names[sym] = f"v_{leaf}"
        body.append(f"            v_{leaf} = {value}")
    for k, name in enumerate(cc.node_names):
        names[unit(name)] = f"u_{name}"
        swap = {s: sp.Symbol(v) for s, v in names.items()}
        body.append(f"            u_{name} = {printer.doprint(cc.node_exprs[k].xreplace(swap))}")
        if nudged:  # a node that computes a sum moves by its rounding size too (CompiledCell.size_exprs)
            size = _size(cc, name, printer, swap)
            body.append(f"            u_{name} = _nudge(u_{name}, {size}, G_{name}[t, i, bb])")
        body.append(f"            N_{name}[t, i, bb] = u_{name}")
    swap = {s: sp.Symbol(v) for s, v in names.items()}
    exprs = [cc.coefficient_exprs[key].xreplace(swap) for key in cc.keys]
    shared, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("w_"))
    for sym, expr in shared:
        body.append(f"            {sym} = {printer.doprint(expr)}")
    for k, (key, expr) in enumerate(zip(cc.keys, reduced, strict=True)):
        value = repr(float(expr)) if expr.is_number else printer.doprint(expr)
        if nudged:  # a coefficient that computes a sum moves by its rounding size too
            value = f"_nudge({value}, {_size(cc, key, printer, swap)}, GC_{k}[t, i, bb])"
        body.append(f"            C_{k}[t, i, bb] = {value}")
    return body


# ---------------------------------------------------------------- source of the δ recursion


DELTA_HELPERS = '''

@njit(cache=True)
def _error(D, t, Ht, Yt, scale):
    """δ_t starts from the loss's error h_t − y_t, at the step's exponent."""
    for i in range(D.shape[1]):
        for bb in range(D.shape[2]):
            D[t, i, bb] = math.ldexp(Ht[i, bb] - Yt[i, bb], -scale)


@njit(cache=True)
def _diagonal(D, t, K, L, s, shift):
    """δ_t += (c_s ⊙ δ'_s) · 2^shift: a batch's route whose factor is diagonal."""
    for i in range(D.shape[1]):
        for bb in range(D.shape[2]):
            v = K[s, i, bb] * L[s, i, bb]
            if shift != 0:
                v = math.ldexp(v, shift)
            D[t, i, bb] = D[t, i, bb] + v


@njit(cache=True)
def _through(D, t, MT, K, L, s, shift, sc, pq, blas):
    """δ_t += Mᵀ (c_s ⊙ δ'_s) · 2^shift: a batch's route through a weight (MT: Mᵀ, row-major)."""
    n, B = D.shape[1], D.shape[2]
    for j in range(n):
        for bb in range(B):
            sc[j, bb] = K[s, j, bb] * L[s, j, bb]
    _product(MT, sc, pq, blas)
    for i in range(n):
        for bb in range(B):
            v = pq[i, bb]
            if shift != 0:
                v = math.ldexp(v, shift)
            D[t, i, bb] = D[t, i, bb] + v


@njit(cache=True)
def _largest(D, t, largest):
    for i in range(D.shape[1]):
        for bb in range(D.shape[2]):
            largest = max(largest, abs(D[t, i, bb]))
    return largest


@njit(cache=True)
def _rescale(D, t, k):
    for i in range(D.shape[1]):
        for bb in range(D.shape[2]):
            D[t, i, bb] = math.ldexp(D[t, i, bb], -k)
'''


def delta_source(cc: CompiledCell, the_plan: _Plan, loss: str, nudged: bool = False
                  ) -> tuple[str, list[str], list[tuple[int, int]], list[tuple[int, str]]]:
    """deltas(...): kernel.deltas as loops, one sequence's routes written out in the step and a batch's
    called (jit_lines), δ_t written into its row as the routes are added, with the rescaling by powers of
    two.  ``nudged``: deltas_nudged(...), each δ_t's Σ|terms| carried beside it in S_ (through |Mᵀ| in AT_)
    and δ_t moved by _nudge with its signs from GD_ once its terms are in (kernel.deltas with a noise)."""
    keys = [key for key, _, _ in the_plan.order]
    coef_index = {key: k for k, key in enumerate(cc.keys)}
    coefs: list[tuple[int, int]] = []  # (layer, coefficient index) arguments
    weights: list[tuple[int, str]] = []  # (layer, matrix) arguments, transposed
    out_name = {key: f"D_{key[0]}_{key[1]}" for key in keys}
    n_ = "_n" if nudged else ""  # the nudged helpers, which carry the sizes S beside D
    S = {key: f"S_{key[0]}_{key[1]}" for key in keys}
    error = "_error{n_}({out}{size}, t, " + ("H[T], Y, scale)" if loss == "last" else "H[t], Y[t - 1], scale)")
    body = ["sc = np.empty((n, B))", *(["pv = np.empty((B, n))", "pb = np.empty((B, n))"] if nudged
                                       else ["pq = np.empty((n, B))", "blas = _blas(n, n, B)"]),
            "for t in range(T, -1, -1):",
            f"    reads_error = t == T{' or t >= 1' if loss == 'sum' else ''}",
            "    later_exp = exps[t + 1]",
            "    scale = max(later_exp, 0) if reads_error else later_exp",
            "    shift = later_exp - scale"]
    for key, parts, err in the_plan.order:
        out, size = out_name[key], (f", {S[key]}" if nudged else "")
        zero = zero_lines(out, S[key] if nudged else None)
        if err:
            body += ["    if reads_error:", "        " + error.format(out=out, size=size, n_=n_), "    else:",
                     *["        " + line for line in zero]]
        else:
            body += ["    " + line for line in zero]
        for part in parts:
            s = "t" if part.up else "t + 1"
            body.append(f"    if {'t >= 1' if part.up else 't + 1 <= T'}:")
            for (target, leaf), matrix in part.terms:
                ci = len(coefs)
                coefs.append((part.later[0], coef_index[(target, leaf)]))
                shift = "0" if part.up else "shift"  # a part from the layer above shares δ_t's exponent
                later = out_name[part.later]
                if matrix is None:
                    route = diagonal_lines(out, f"K_{ci}", later, s, shift, S[key] if nudged else None)
                else:
                    w = len(weights)  # the nudged loops read M and |M| row-major, the plain ones Mᵀ for a batch
                    route = through_lines(out, f"MT_{w}", f"M_{w}", f"K_{ci}", later, s, shift,
                                          (S[key], f"A_{w}") if nudged else None)
                    weights.append((part.later[0], matrix))
                body += ["        " + line for line in route]
        if nudged:
            body += ["    " + line for line in nudged_row_lines(out, S[key], f"GD_{key[0]}_{key[1]}")]
    outs = [out_name[k] for k in keys]
    # each weight row-major as well, for one sequence's products column by column (column_lines)
    copies = [f"M_{w} = np.ascontiguousarray(MT_{w}.T)" for w in range(len(weights))]
    if nudged:
        copies += [f"A_{w} = np.ascontiguousarray(AT_{w}.T)" for w in range(len(weights))]
    body = copies + body
    body += ["    exps[t] = scale",
             "    if t % RESCALE == 0 or t == T:",
             "        largest = 0.0",
             *[f"        largest = _largest({o}, t, largest)" for o in outs],
             "        if largest != 0.0 and not (LOW <= largest <= HIGH):",
             "            k = math.frexp(largest)[1]",
             *[f"            _rescale({o}, t, k)" for o in outs],
             "            exps[t] = scale + k"]
    args = (["T", "n", "B", "H", "Y", "exps"] + [f"K_{i}" for i in range(len(coefs))]
            + [f"MT_{i}" for i in range(len(weights))] + outs)
    if nudged:
        args += ([f"AT_{i}" for i in range(len(weights))] + [f"S_{a}_{b}" for a, b in keys]
                 + [f"GD_{a}_{b}" for a, b in keys])
    source = (f"@njit(cache=True)\ndef deltas{'_nudged' if nudged else ''}(" + ", ".join(args) + "):\n"
              + "\n".join("    " + line for part in body for line in part.split("\n")) + "\n")
    return source, outs, coefs, weights


# ---------------------------------------------------------------- source of the sums over t


SUM_HELPERS = '''

@njit(cache=True)
def _runs(exps, T):
    """The runs of steps t = 1..T that share an exponent (kernel.run_bounds): for each run the
    position of its first step (t − 1), its stop and its exponent."""
    count = 1
    for t in range(2, T + 1):
        if exps[t] != exps[t - 1]:
            count += 1
    starts = np.empty(count, np.int64)
    stops = np.empty(count, np.int64)
    rexps = np.empty(count, np.int64)
    r = 0
    starts[0], rexps[0] = 0, exps[1]
    for t in range(2, T + 1):
        if exps[t] != exps[t - 1]:
            stops[r] = t - 1
            r += 1
            starts[r], rexps[r] = t - 1, exps[t]
    stops[r] = T
    return starts, stops, rexps


@njit(cache=True)
def _clear(GM, GX):
    for i in range(GM.shape[0]):
        for k in range(GM.shape[1]):
            GM[i, k] = 0.0
            GX[i, k] = 0


@njit(cache=True)
def _row(R, K, D, first):
    """R = c ⊙ δ (first) or R += c ⊙ δ, for t = 1..T: a leaf's row, summed over the states it enters."""
    for t in range(1, R.shape[0]):
        for i in range(R.shape[1]):
            for bb in range(R.shape[2]):
                v = K[t, i, bb] * D[t, i, bb]
                R[t, i, bb] = v if first else R[t, i, bb] + v


@njit(cache=True)
def _block(R, a, b, e, GM, GX):
    """Rows a..b−1 of R summed over the batch (and over the units for a 1 × 1 parameter), added at
    exponent e: one run of a bias's rows, or δ_0 of an initial state (a = 0, b = 1)."""
    n, B = R.shape[1], R.shape[2]
    whole = GM.shape[0] != n
    s = 0.0
    for i in range(n):
        if not whole:
            s = 0.0
        for idx in range(a, b):
            for bb in range(B):
                s += R[idx, i, bb]
        if not whole:
            GM[i, 0], GX[i, 0] = _add(GM[i, 0], GX[i, 0], s, e)
    if whole:
        GM[0, 0], GX[0, 0] = _add(GM[0, 0], GX[0, 0], s, e)


@njit(cache=True)
def _summed(R, starts, stops, rexps, GM, GX):
    """A bias or per-unit parameter: each run's rows (t = start + 1 .. stop) summed, the runs added with
    their exponents."""
    for r in range(len(rexps)):
        _block(R, starts[r] + 1, stops[r] + 1, rexps[r], GM, GX)


@njit(cache=True)
def _outer(R, Z, starts, stops, rexps, GM, GX):
    """A weight: Σ_t row_t z_tᵀ over each run, the runs added with their exponents (step by step, so
    that each step's row and z are read once, from cache).  Each entry's step term is summed over the
    batch in batch order either way; from 8 columns on, the columns' sums are carried side by side (z_t
    copied as batch × columns), which the processor overlaps instead of waiting on one sum's additions
    (n = 16, batch 32: 1.8 against 3.5 µs a step; below 8 columns the copy costs more than it saves)."""
    n, m, B = R.shape[1], GM.shape[1], R.shape[2]
    S = np.empty((n, m))
    ZT = np.empty((B, m))
    acc = np.empty(m)
    blas = _blas(n, m, B)
    P = np.empty((n, m))
    # one run at exponent 0 (no δ was rescaled): a normal sum is the entry as it is, GX's 0 its exponent,
    # which _add's frexp and _finish's ldexp would give back bit for bit at 10 ns an entry
    single = len(rexps) == 1 and rexps[0] == 0
    for r in range(len(rexps)):
        for i in range(n):
            for k in range(m):
                S[i, k] = 0.0
        for idx in range(starts[r], stops[r]):
            if blas:  # a large batch: each step's Σ_b by BLAS, added to the run's sum in step order
                np.dot(R[idx + 1], Z[idx].T, P)
                for i in range(n):
                    for k in range(m):
                        S[i, k] += P[i, k]
                continue
            if m >= 8:
                for k in range(m):
                    for bb in range(B):
                        ZT[bb, k] = Z[idx, k, bb]
                for i in range(n):
                    for k in range(m):
                        acc[k] = 0.0
                    for bb in range(B):
                        v = R[idx + 1, i, bb]
                        for k in range(m):
                            acc[k] += v * ZT[bb, k]
                    for k in range(m):
                        S[i, k] += acc[k]
                continue
            for i in range(n):
                for k in range(m):
                    s = 0.0
                    for bb in range(B):
                        s += R[idx + 1, i, bb] * Z[idx, k, bb]
                    S[i, k] += s
        for i in range(n):
            for k in range(m):
                v = S[i, k]
                if single and 2.2250738585072014e-308 <= abs(v) < math.inf:  # what _add, then _finish, make of it
                    GM[i, k] = v
                else:
                    GM[i, k], GX[i, k] = _add(GM[i, k], GX[i, k], v, rexps[r])


@njit(cache=True)
def _finish(GM, GX):
    """Each entry as a float64 where it is a normal number (extended.value_of's rule), its exponent then 0;
    the count of entries beyond, which stay (mantissa, exponent)."""
    outside = 0
    for i in range(GM.shape[0]):
        for k in range(GM.shape[1]):
            m, x = GM[i, k], GX[i, k]
            if x == 0:  # ldexp(m, 0) is m
                continue
            if m != 0.0 and -1021 <= x <= 1024:
                GM[i, k], GX[i, k] = math.ldexp(m, x), 0
            elif m != 0.0:
                outside += 1
    return outside
'''


def sums_source(cc: CompiledCell, the_plan: _Plan, loss: str) -> tuple[str, list[tuple[int, int]]]:
    """sums(...): the loss, and every gradient as kernel.gradients sums it — Σ over the steps of each run
    sharing an exponent, the runs added with an unbounded exponent — as mantissa and exponent arrays,
    with the count of each gradient's entries beyond float64's range in OUTSIDE (the loops are
    SUM_HELPERS', called once per gradient: a short function compiles fast)."""
    coef_index = {key: k for k, key in enumerate(cc.keys)}
    coefs: list[tuple[int, int]] = []
    body = ["loss = 0.0"]
    if loss == "last":
        body += ["for i in range(n):", "    for bb in range(B):", "        e = H[T, i, bb] - Y[i, bb]",
                 "        loss += e * e"]
    else:
        body += ["for t in range(1, T + 1):", "    for i in range(n):", "        for bb in range(B):",
                 "            e = H[t, i, bb] - Y[t - 1, i, bb]", "            loss += e * e"]
    body.append("loss = loss / 2")
    rows = {}
    for layer, leaf, states in the_plan.rows:
        if not states:
            continue
        name = f"R_{layer}_{leaf}"
        rows[(layer, leaf)] = name
        body.append(f"{name} = np.empty((T + 1, n, B))")
        for k, state in enumerate(states):  # summed in the states' order, as kernel.gradients sums them
            body.append(f"_row({name}, K_{len(coefs)}, D_{layer}_{state}, {k == 0})")
            coefs.append((layer, coef_index[(state, leaf)]))
    weights = []  # the gradients that read a z_t (weights), in the plan's order: their Z arguments
    body.append("starts, stops, rexps = _runs(exps, T)")
    for g, (_, layer, kind, leaf, source) in enumerate(the_plan.grads):
        body.append(f"_clear(GM_{g}, GX_{g})")
        row = rows.get((layer, leaf))
        if kind == "initial":
            body.append(f"_block(D_{layer}_{leaf}, 0, 1, exps[0], GM_{g}, GX_{g})")  # δ_0 at its exponent
        else:
            if source is not None:
                weights.append(g)
            if row is not None and source is None:
                body.append(f"_summed({row}, starts, stops, rexps, GM_{g}, GX_{g})")
            elif row is not None:
                body.append(f"_outer({row}, Z_{g}, starts, stops, rexps, GM_{g}, GX_{g})")
        body.append(f"OUTSIDE[{g}] = _finish(GM_{g}, GX_{g})")
    body.append("return loss")
    args = (["T", "n", "B", "exps", "H", "Y"]
            + [f"K_{i}" for i in range(len(coefs))]
            + [f"D_{layer}_{state}" for layer, state in [key for key, _, _ in the_plan.order]]
            + [f"Z_{g}" for g in weights]
            + [f"GM_{g}" for g in range(len(the_plan.grads))] + [f"GX_{g}" for g in range(len(the_plan.grads))]
            + ["OUTSIDE"])
    source = ("@njit(cache=True)\ndef sums(" + ", ".join(args) + "):\n"
              + "\n".join("    " + line for part in body for line in part.split("\n")) + "\n")
    return source, coefs


SHARED_SOURCE = HEADER + ADD + BLAS + DELTA_HELPERS + SUM_HELPERS  # the loops every kernel calls
SHARED_NAMES = ("_add", "_blas", "_product", "_error", "_diagonal", "_through", "_largest", "_rescale", "_runs",
                "_clear", "_row", "_block", "_summed", "_outer", "_finish")

__all__ = ["BLAS_UNITS", "BLAS_WORK", "HEADER", "SHARED_NAMES", "SHARED_SOURCE", "Unsupported", "delta_source",
           "forward_source", "sums_source"]
