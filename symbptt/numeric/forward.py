"""The forward pass of any cell, batched, in float64 or in mpmath, and the step coefficients it implies.

A cell's one-step equations are compiled once (``CompiledCell``) into vectorised functions: one per
node (intermediates and new states, evaluated in order) and one per step coefficient ∂s'_t/∂leaf_t that
a route uses.  Coefficients are elementwise, so after the forward pass each is evaluated for every step
at once.  Numbers are computed from the pre-activations with the stable primitives of primitives.py,
and 1 − σ(p) is evaluated as σ(−p), so a saturated gate keeps its digits.

Arrays are columns over the batch: a vector of layer ℓ at step t has shape (n, B).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .. import primitives as P
from ..activations import numpy_functions
from ..cells import INPUT, Cell, prev, unit
from ..errors import SymbpttError
from ..printing import text
from ..step import step_graph
from .flags import matmul, product_for
from .memory import keep_freed_memory
from .mpdot import MpRows, dot, matvec
from .sizes import rounding_size


def value_differences(exprs: list[sp.Expr], values: set[sp.Symbol]) -> list[sp.Add]:
    """Every sum in the expressions that subtracts one computed value from another (h_{t-1} − n_t in the
    GRU), in SymPy's sort order: near saturation such a difference keeps fewer digits than either value."""
    found: set[sp.Add] = set()
    for expr in exprs:
        for add in expr.atoms(sp.Add):
            signs = {term.could_extract_minus_sign() for term in add.args if term.free_symbols & values}
            if len(signs) == 2:
                found.add(add)
    return sorted(found, key=sp.default_sort_key)


def stable_form(expr: sp.Expr, cell: Cell) -> sp.Expr:
    """1 − z as σ(−p) for every node z = σ(p): no cancellation when the gate saturates at 1.  Only the
    expression 1 − z itself is replaced (``subs`` would also rewrite f + i as 2 − σ(−a_f) − σ(−a_i),
    which cancels when both gates are near 0)."""
    for name, definition in cell.nodes:
        if isinstance(definition, P.sigmoid):
            swap = {1 - unit(name): P.sigmoid(-definition.args[0]), 1 - definition: P.sigmoid(-definition.args[0])}
            expr = expr.replace(lambda e, swap=swap: e in swap, lambda e, swap=swap: swap[e])
    return expr


GATHER_OPS = 40  # the largest coefficient (SymPy's count_ops) put over one denominator and factored: the
# built-in cells' are at most 25; SymPy's factor of a cell file's 63-operation coefficient ran for minutes


@lru_cache(maxsize=1024)
def _gathered(expr: sp.Expr) -> sp.Expr:
    """A coefficient over one denominator with its numerator factored, when that is no larger: minLSTM's
    h/(f + i) − (f h + i ã)/(f + i)², whose two terms cancel when f ≫ i, becomes i (h − ã)/(f + i)².
    A coefficient of more than GATHER_OPS operations is kept as it is (factoring it costs without bound).
    Remembered: a cell's float64 and mpmath functions (two CompiledCells) gather the same coefficients."""
    if sp.count_ops(expr) > GATHER_OPS:
        return expr
    candidate = sp.factor(sp.together(expr))
    return candidate if sp.count_ops(candidate) <= sp.count_ops(expr) else expr


def _full_shape(out: Any, like: np.ndarray) -> np.ndarray:
    """A compiled function's value as an array of its arguments' shape (a constant comes back as a number)."""
    return np.broadcast_to(np.asarray(out, dtype=float), np.shape(like)) if np.ndim(out) < np.ndim(like) else out


class CompiledCell:
    """Node and coefficient functions of one cell for one number type ('float' or 'mp')."""

    def __init__(self, cell: Cell, kind: str = "float") -> None:
        self.cell, self.kind = cell, kind
        self.graph = step_graph(cell)
        self.leaf_names = list(self.graph.leaves)
        self.node_names = [name for name, _ in cell.nodes]
        self.args = [self.graph.symbol(n) for n in self.leaf_names] + [unit(n) for n in self.node_names]
        plain = {prev(s): sp.Symbol(s) for s in cell.states}  # the cell's expression as the user wrote it
        self.node_exprs = [stable_form(expr, cell) for _, expr in cell.nodes]
        self.nodes = [self._compile(stable, f"the step {name} = {text(expr.xreplace(plain))}")
                      for stable, (name, expr) in zip(self.node_exprs, cell.nodes, strict=True)]
        self.keys = self.graph.coefficient_keys()
        # each route as Σ diag(coefficient)·matrix, and the source each weight multiplies (ArrayFactors)
        self.route_terms = {(r.kind, r.target, r.source): self.graph.terms(r) for r in self.graph.routes}
        self.z_source = {matrix: src for matrix, _, src in cell.matrices()}
        stable = {key: _gathered(stable_form(self.graph.coefficient(*key), cell)) for key in self.keys}
        self.coefficient_exprs = stable
        # float64: every coefficient in one function with common subexpressions computed once (the
        # LSTM's σ'(a_o) and tanh(c_t) appear in several of them); each coefficient alone reads it
        joint = [stable[key] for key in self.keys]
        self.joint = sp.lambdify(self.args, joint, numpy_functions(*joint), cse=True) if kind == "float" else None
        self.coefficients = {key: self._one_of_joint(i) if self.joint is not None
                             else self._compile(expr, f"the derivative ∂{key[0]}_t/∂{key[1]}")
                             for i, (key, expr) in enumerate(stable.items())}
        # mpmath: every coefficient of one element in one call as well (σ(a), e^{−|a|} at hundreds of
        # digits computed once, not once per coefficient that reads them); sharing subexpressions
        # regroups some products, which moves a value by a few units in the working precision's last
        # place — tens of digits below what the exact path reports
        self.joint_mp = (np.frompyfunc(sp.lambdify(self.args, joint, [P.mpmath_module(*joint), "mpmath"], cse=True),
                                       len(self.args), 1) if kind == "mp" and joint else None)
        # a computed value is a node, a previous state or a linear map (the minGRU's a_h − h_{t−1}, which
        # cancels where its gate keeps h_{t−1} at a_{h,t−1} and the layer below repeats its state)
        differences = value_differences([stable_form(expr, cell) for _, expr in cell.nodes] + list(stable.values()),
                                   {unit(n) for n in self.node_names} | {prev(s) for s in cell.states}
                                   | {self.graph.symbol(lin.name) for lin in cell.linears})
        self.differences = bool(differences)
        # each difference's terms, to measure how many digits it cancels on an exact trajectory (mpmath),
        # or on one rounded to float64 (numeric/split.py)
        self.difference_terms = [[self._compile(term, f"a term of {text(add.xreplace(plain))}") for term in add.args]
                                 for add in differences]
        # the nodes that saturate, each with whether its range is (−1, 1) (tanh) rather than (0, 1) (σ)
        self.saturating = {name: isinstance(expr, P.tanh) for name, expr in cell.nodes
                           if isinstance(expr, (P.tanh, P.sigmoid))}
        # the terms of every node that is a sum (c_t = f c_{t-1} + i g): a sum far smaller than its terms
        # has lost digits to cancellation, and the report measures how many (cancelled.cancelled_digits)
        self.sums = {name: [self._compile(term, f"a term of {name}") for term in expr.args]
                     for name, expr in cell.nodes if isinstance(expr, sp.Add) and kind == "float"}

    @cached_property
    def size_exprs(self) -> dict[str | tuple[str, str], sp.Expr]:
        """The rounding size (sizes.rounding_size) of every node, by name, as the cell writes it, and of every
        step coefficient, by key, that computes a sum: Σ|terms| for c_t = f c_{t−1} + i g, the rounding of
        the GRU's a_hn·r + a_n under its tanh, and a user's ∂h_t/∂h_{t−1} = (4·w·e^p + 3)/12, which cancels
        where 4·w·e^p is near −3 and loses about ROUNDING·|4·w·e^p|/12 there, far more than one rounding
        of the small result and carried by no nudged input.  A nudged rerun moves each value by ROUNDING
        times its size: on NumPy through node_sizes and coefficient_sizes, compiled as jit_source prints
        the same expressions.  Made when first asked for: only the reruns read them."""
        written: list[tuple[str | tuple[str, str], sp.Expr]] = [*self.cell.nodes, *self.coefficient_exprs.items()]
        sizes = {key: rounding_size(expr) for key, expr in written}
        return {key: size for key, size in sizes.items() if size != 0}

    @cached_property
    def node_sizes(self) -> dict[str, Callable]:
        """size_exprs of the nodes, compiled (float64 only: the nudged pass, forward)."""
        if self.kind != "float":
            return {}
        return {name: self._compile(size, f"the rounding size of {name}") for name, size in self.size_exprs.items()
                if isinstance(name, str)}

    @cached_property
    def coefficient_sizes(self) -> dict[tuple[str, str], Callable]:
        """size_exprs of the step coefficients, compiled (float64 only: nudged_coefficients)."""
        if self.kind != "float":
            return {}
        return {key: self._compile(size, f"the rounding size of ∂{key[0]}_t/∂{key[1]}")
                for key, size in self.size_exprs.items() if isinstance(key, tuple)}

    def node_values(self, leaves: list[Any]) -> list[Any]:
        """Every node of a step from its leaves (cc.leaf_names' order), in order: arrays in float64 (the
        entries side by side), mpf numbers in mpmath at the working precision."""
        nodes: list[Any] = [mpmath.mpf(0) if self.kind == "mp" else np.zeros_like(leaves[0])] * len(self.nodes)
        for k, node in enumerate(self.nodes):
            nodes[k] = node(*leaves, *nodes)
        return nodes

    def _one_of_joint(self, i: int) -> Callable:
        def call(*values: np.ndarray) -> np.ndarray:
            return _full_shape(self.joint(*values)[i], values[0])  # type: ignore[misc]

        return call

    def _compile(self, expr: sp.Expr, label: str) -> Callable:
        if self.kind == "float":
            fn = sp.lambdify(self.args, expr, numpy_functions(expr))

            def call(*values: np.ndarray) -> np.ndarray:
                return _full_shape(fn(*values), values[0])

            return call
        scalar = sp.lambdify(self.args, expr, [P.mpmath_module(expr), "mpmath"])
        used = [k for k, arg in enumerate(self.args) if arg in expr.free_symbols]

        def element(*v: mpmath.mpf) -> mpmath.mpf:
            try:
                value = scalar(*v)
                if type(value) is not mpmath.mpf:
                    value = mpmath.mpf(value)
            except P.BeyondReach:  # defined, but beyond what mpmath can evaluate: said as it is
                raise
            except (ArithmeticError, ValueError, TypeError):  # 1/0, log(0), sqrt(−1) → mpc, …
                value = mpmath.mpf("nan")
            if not P.mp_finite(value) and all(mpmath.isfinite(v[k]) for k in used):
                where = ", ".join(f"{_shown(self.args[k])} = {mpmath.nstr(v[k], 6)}" for k in used)
                raise CellDomainError(f"{label} has no finite real value at {where or 'these values'}; "
                                      "the cell is not defined on these data")
            return value

        vector = np.frompyfunc(element, len(self.args), 1)
        return lambda *values: vector(*values)


class CellDomainError(SymbpttError):
    """A cell's step (or one of its derivatives) is undefined or infinite on the data it was given."""


def _shown(symbol: sp.Symbol) -> str:
    name = symbol.name
    return f"{name.removeprefix('prev_')}_(t-1)" if name.startswith("prev_") else name


@lru_cache(maxsize=32)
def compiled(cell: Cell, kind: str = "float") -> CompiledCell:
    return CompiledCell(cell, kind)


@dataclass
class Trajectory:
    """values[ℓ][name]: array (T+1, n, B) of every linear map, node and state of layer ℓ (index t; the
    states hold their initial value at t = 0); coefs[ℓ][(state, leaf)]: the step coefficients, same shape."""

    values: list[dict[str, np.ndarray]]
    coefs: list[dict[tuple[str, str], np.ndarray]]
    inputs: np.ndarray  # (T, m, B)
    scalars: list[dict[str, np.ndarray]]
    digits: int = 0  # an exact pass checked (exact.exact_forward): the digits it ran at
    amplified: float | None = None  # checked: log10 of the amplification of rounding its check measured in
    # the states (the digits a pass at ``digits`` lost of them; −inf where it lost none: exact.exact_forward)
    raised: bool = False  # whether the check raised the digits above those first asked for
    checked: str = ""  # how the check found ``amplified``: exact.AGAINST or exact.CARRIED

    @property
    def T(self) -> int:
        return self.inputs.shape[0]

    def state(self, layer: int, name: str, t: int) -> np.ndarray:
        return self.values[layer - 1][name][t]

    def layer_input(self, layer: int, t: int) -> np.ndarray:
        return self.inputs[t - 1] if layer == 1 else self.values[layer - 2]["h"][t]


def _each_step(matrix: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """M·v_t for every step t of inputs (T, k, B); a matrix with a batch axis (n, k, B) acts per element."""
    if matrix.ndim == 3:
        return np.einsum("ikb,tkb->tib", matrix, inputs)
    return matmul(matrix, inputs)


ROUNDING = 2.0 ** -53  # float64's unit roundoff: a sum is rounded by up to this times Σ|terms|


def unit_params(cell: Cell, params: list[dict[str, np.ndarray]], n: int, B: int) -> list[dict[str, np.ndarray]]:
    """The parameters the nodes read unit by unit, per layer, as (n, B) arrays: a scalar is repeated over
    the units, a per-unit parameter (a column, or one column per batch element) over the batch."""
    return [{s: np.broadcast_to(p[s].reshape(1, -1), (n, B)) for s in cell.scalar_params}
            | {s: np.broadcast_to(p[s].reshape(n, -1), (n, B)) for s in cell.vector_params} for p in params]


class UlpNoise:
    """Moves every value it is given as one rounding could have: one unit in the last place, and for a
    value that computes a sum also ROUNDING times its rounding size (``size``: Σ|terms| for a linear map,
    numeric/sizes.py for a node or coefficient), which is what a sum that cancels loses — all up
    (``direction`` +1), all down (−1), or, ``scattered``, each value up or down by a sign drawn for it
    (from ``seed``, SEED unless given: the same pass, the same signs).  A pass whose stored values (linear
    maps, nodes, coefficients, δ) all go through it differs from the plain pass by about what rounding
    costs the plain pass, which is how the report measures the digits float64 kept.  Moved all one way,
    two close values move together and their difference hides what rounding each of them costs it (a
    saturated minLSTM's h_{t−1} − ã_t held 9 digits where two such passes measured 12); scattered, they
    part.  ``direction`` 0 moves each value outward, away from 0: the slopes of a saturated σ on either
    side then move the same way, where all up they move apart and hide what rounding costs a long
    product of them."""

    SEED = 20261203
    DRAWN = 1 << 14  # signs drawn at a time: one draw per call cost 8 µs, most of a nudged pass

    def __init__(self, direction: int, scattered: bool = False, seed: int = SEED) -> None:
        self.direction = direction
        self._signs = np.random.default_rng(seed) if scattered else None
        self._towards = self._rounding = np.empty(0)  # the stream's ±∞ and ±ROUNDING, drawn ahead
        self._used = 0

    def _next(self, shape: tuple[int, ...]) -> tuple[Any, Any]:
        """(±∞, ±ROUNDING) for the next ``shape`` values: the direction, times the next signs of the seeded
        stream when scattered, taken from a block drawn ahead (the generator's bounded integers come out
        the same whether drawn a call at a time or in one block)."""
        if self._signs is None:
            return self.direction * np.inf, self.direction * ROUNDING
        count = math.prod(shape)
        if self._used + count > len(self._towards):
            fresh = self.direction * (2.0 * self._signs.integers(0, 2, size=max(self.DRAWN, count)) - 1.0)
            self._towards = np.concatenate([self._towards[self._used:], fresh * np.inf])
            self._rounding = np.concatenate([self._rounding[self._used:], fresh * ROUNDING])
            self._used = 0
        lo, self._used = self._used, self._used + count
        return self._towards[lo:self._used].reshape(shape), self._rounding[lo:self._used].reshape(shape)

    def signs(self, shape: tuple[int, ...]) -> np.ndarray:
        """The directions of the next ``shape`` values of the stream, for a compiled kernel that moves them
        itself (jit_nudge._nudge): ±1 (each drawn when scattered), or 0 for outward."""
        if self.direction == 0:
            return np.zeros(shape)
        towards, _ = self._next(shape)
        return np.broadcast_to(np.sign(towards), shape).astype(float)

    def together(self, values: list[np.ndarray], sizes: list[np.ndarray]) -> list[np.ndarray]:
        """Each values[i] moved with its sizes[i] (the same shape), as calls one after the other would move
        them — their entries in order, each array's in C order — in one call."""
        flat = self(np.concatenate([v.reshape(-1) for v in values]), np.concatenate([z.reshape(-1) for z in sizes]))
        out, lo = [], 0
        for v in values:
            out.append(flat[lo:lo + v.size].reshape(v.shape))
            lo += v.size
        return out

    def __call__(self, values: np.ndarray, size: np.ndarray | None = None) -> np.ndarray:
        values = np.asarray(values)
        if self.direction == 0:  # outward: each value away from 0 (an even function's effects add up)
            towards, rounding = np.copysign(np.inf, values), np.copysign(ROUNDING, values)
        else:
            towards, rounding = self._next(values.shape)
        moved = np.nextafter(values, towards)
        if size is not None:
            moved = moved + rounding * size
        if np.count_nonzero(values) < values.size:  # an exact 0 (a product with a zero input) stays exact,
            zero = values == 0  # and so does a sum of exact zeros
            if size is not None:
                zero &= np.asarray(size) == 0
            moved = np.where(zero, values, moved)
        return moved


def forward(cc: CompiledCell, params: list[dict[str, np.ndarray]], x: np.ndarray,
            noise: UlpNoise | None = None) -> Trajectory:
    """Run the cell over x (T, m, B) for every layer; parameters are float or mpf object arrays, each
    either shared by the batch (matrices (n, k), vectors (n, 1)) or one per batch element (last axis B).
    With ``noise`` every linear map and node is moved by it as it is stored (float64 only)."""
    cell, T, B = cc.cell, x.shape[0], x.shape[2]
    n = params[0][f"{cell.states[0]}0"].shape[0]
    dtype = x.dtype
    if dtype.kind == "f":
        keep_freed_memory()  # the (T + 1, n, B) arrays reuse the last pass's memory instead of new pages
    values: list[dict[str, np.ndarray]] = []
    for p in params:
        layer: dict[str, np.ndarray] = {}
        for name in [lin.name for lin in cell.linears] + cc.node_names:
            layer[name] = np.zeros((T + 1, n, B), dtype=dtype)
        for s in cell.states:
            layer[s][0] = p[f"{s}0"]  # (n, 1), or (n, B): repeated over the batch by the assignment
        values.append(layer)
    scalars = unit_params(cell, params, n, B)
    zeros = np.zeros((n, B), dtype=dtype)
    # layer by layer (layer ℓ at step t needs only layer ℓ − 1 at t and itself at t − 1): the terms that
    # read the layer's input, and the bias, for every step at once — one matrix product per weight
    # instead of one per step
    for ell, p in enumerate(params):
        layer = values[ell]
        inputs = x if ell == 0 else values[ell - 1]["h"][1:]  # (T, k, B)
        read = {matrix: _each_step(p[matrix], inputs) for lin in cell.linears for matrix, src in lin.terms
                if src == INPUT}
        # nudged: each sum's Σ|terms| beside it, for the rounding it can lose (UlpNoise)
        read_size = {} if noise is None else {matrix: _each_step(np.abs(p[matrix]), np.abs(inputs)) for matrix in read}
        absolute = {} if noise is None else {m: np.abs(p[m]) for lin in cell.linears for m, src in lin.terms
                                              if src != INPUT}
        args = dict(scalars[ell])
        weights = {matrix: MpRows(p[matrix]) if p[matrix].dtype == object and p[matrix].ndim == 2 else p[matrix]
                   for lin in cell.linears for matrix, src in lin.terms if src != INPUT}
        # mpf: each map's first product takes its bias and input terms into its exact sum (mpdot.dot's addends)
        folded = {lin.name: recurrent for lin in cell.linears
                  if (recurrent := [(m, src) for m, src in lin.terms if src != INPUT])
                  and isinstance(weights[recurrent[0][0]], MpRows)}
        # float64 without nudging: each sum written in place into its row of the trajectory (the same
        # additions in the same order, without a temporary per term)
        plain = {m: w for m, w in weights.items() if isinstance(w, np.ndarray) and w.ndim == 2}
        in_place = noise is None and dtype.kind == "f" and len(plain) == len(weights)
        product_of = product_for(B * max((w.size for w in plain.values()), default=0))
        product = np.empty((n, B), dtype=dtype)
        nudged: list[tuple[str, np.ndarray, np.ndarray]] = []  # nudged: each map's sum and Σ|terms| this step
        magnitude: dict[str, np.ndarray] = {}  # nudged: |s_{t−1}| of each state a map reads, this step
        for t in range(1, T + 1):
            inp = inputs[t - 1]
            for lin in cell.linears:
                if in_place:
                    dest = layer[lin.name][t]  # zeros: without a bias the first sum is 0 + the first term
                    if lin.bias:
                        dest[...] = p[lin.bias]
                    for matrix, src in lin.terms:
                        term = (read[matrix][t - 1] if src == INPUT
                                else product_of(plain[matrix], layer[src][t - 1], out=product))
                        np.add(dest, term, out=dest)
                    args[lin.name] = dest
                    continue
                total: Any
                if lin.name in folded:  # mpf: the bias and the terms of the inputs added into the first
                    # product's exact sum, rounded once (each further product rounded once, then added)
                    recurrent = folded[lin.name]
                    first, src = recurrent[0]
                    addends = ([p[lin.bias]] if lin.bias else []) + [read[m][t - 1] for m, s in lin.terms
                                                                     if s == INPUT]
                    total = dot(weights[first], layer[src][t - 1], plus=addends)
                    for matrix, src in recurrent[1:]:
                        total = total + matvec(weights[matrix], layer[src][t - 1])
                else:
                    total = p[lin.bias] if lin.bias else 0
                    for matrix, src in lin.terms:  # summed in the cell's order, as one step at a time would
                        total = total + (read[matrix][t - 1] if src == INPUT
                                         else matvec(weights[matrix], layer[src][t - 1]))
                if noise is None:
                    layer[lin.name][t] = total
                    args[lin.name] = layer[lin.name][t]
                    continue
                size = np.abs(p[lin.bias]) if lin.bias else 0
                for matrix, src in lin.terms:
                    if src == INPUT:
                        size = size + read_size[matrix][t - 1]
                        continue
                    if src not in magnitude:
                        magnitude[src] = np.abs(layer[src][t - 1])
                    size = size + matvec(absolute[matrix], magnitude[src])
                total, size = np.asarray(total), np.asarray(size)
                nudged.append((lin.name, total, size if size.shape == total.shape
                               else np.broadcast_to(size, total.shape)))
            if nudged:  # the linear maps read only step t − 1: moved in one call, which draws the signs
                # in the order one call per map would
                for (name, _, _), value in zip(nudged, noise.together([v for _, v, _ in nudged],  # type: ignore[union-attr]
                                                                       [z for _, _, z in nudged]), strict=True):
                    layer[name][t] = value
                    args[name] = layer[name][t]
                nudged.clear()
            magnitude.clear()
            for st in cell.states:
                args[f"prev_{st}"] = layer[st][t - 1]
            args[INPUT] = inp if inp.shape[0] == n else zeros
            row = [args[name] for name in cc.leaf_names]
            nodes = [layer[m][t] for m in cc.node_names]
            for k, name in enumerate(cc.node_names):
                value = cc.nodes[k](*row, *nodes)
                if noise is not None:
                    size = cc.node_sizes.get(name)
                    value = noise(value, size(*row, *nodes) if size is not None else None)
                nodes[k] = layer[name][t] = value
    traj = Trajectory(values, [{} for _ in params], x, scalars)
    if dtype.kind == "f":
        _explain_nan(cc, traj)
    return traj


def _explain_nan(cc: CompiledCell, traj: Trajectory) -> None:
    """A NaN from finite arguments may mean a step is undefined there (log of a negative number, 0/0):
    the first such element's nodes are recomputed exactly from its leaves, which raises CellDomainError
    naming the step and the values.  A NaN that float64's range caused — ∞ − ∞ after an overflow, or
    0/0 of gates that underflowed (the minLSTM's f/(f + i) with both gates below 1e-308) — is finite
    when recomputed exactly and is left to the caller's exact recomputation."""
    for ell, layer in enumerate(traj.values, 1):
        if not any(np.isnan(layer[name][1:]).any() for name in cc.node_names):
            continue
        row = step_rows(cc, traj, ell)
        for k, name in enumerate(cc.node_names):
            shape = layer[name][1:].shape
            args = [np.broadcast_to(np.asarray(v, dtype=float), shape) for v in row[:len(cc.leaf_names) + k]]
            bad = np.isnan(layer[name][1:]) & np.logical_and.reduce([np.isfinite(a) for a in args])
            if bad.any():
                idx = tuple(int(i[0]) for i in np.nonzero(bad))
                exact = compiled(cc.cell, "mp")
                leaves = [mpmath.mpf(float(a[idx])) for a in args[:len(cc.leaf_names)]]
                nodes: list[Any] = []
                for j in range(k + 1):  # raises CellDomainError where the step itself is undefined
                    nodes.append(exact.nodes[j](*leaves, *nodes, *[mpmath.mpf(0)] * (len(cc.node_names) - j)))
                return


def step_rows(cc: CompiledCell, traj: Trajectory, layer: int) -> list[np.ndarray]:
    """The arguments of the compiled functions (leaves, then nodes) for every step t = 1..T of one layer
    at once, each with a leading time axis: what the coefficients and the cancellation measure read."""
    cell, values = cc.cell, traj.values[layer - 1]
    inp = traj.inputs if layer == 1 else traj.values[layer - 2]["h"][1:]
    T = inp.shape[0]
    args = {lin.name: values[lin.name][1:] for lin in cell.linears}
    args |= {f"prev_{s}": values[s][:-1] for s in cell.states}
    n = values[cell.states[0]].shape[1]
    args[INPUT] = inp if inp.shape[1] == n else np.zeros_like(values[cell.states[0]][1:])
    args |= {k: np.broadcast_to(v, (T, *v.shape)) for k, v in traj.scalars[layer - 1].items()}
    return [args[name] for name in cc.leaf_names] + [values[name][1:] for name in cc.node_names]


COEF_BYTES = 256 << 10  # float64 coefficients are computed this many bytes of each (t, n, B) array at a time


def step_coefficients(cc: CompiledCell, traj: Trajectory, layer: int) -> dict[tuple[str, str], np.ndarray]:
    """Every step coefficient of one layer for t = 1..T at once (they are elementwise in the step's
    values); index t as in the trajectory (row 0 unused).  In float64, a chunk of steps at a time, so the
    temporaries of each expression stay in the processor's cache (elementwise: the same numbers)."""
    row = step_rows(cc, traj, layer)
    T, step_shape = row[0].shape[0], row[0].shape[1:]
    chunk = max(1, COEF_BYTES // (8 * max(1, math.prod(step_shape))))
    if cc.joint is not None:  # float64: every coefficient in one call per chunk
        out = {key: np.zeros((T + 1, *step_shape)) for key in cc.coefficients}
        for a in range(0, T, chunk):
            part = [v[a:a + chunk] for v in row]
            for key, value in zip(cc.coefficients, cc.joint(*part), strict=True):
                out[key][1 + a:1 + a + chunk] = value
        return out
    out = {}
    joint = _joint_mp(cc, row)  # mpmath: every coefficient in one call per element
    for i, (key, fn) in enumerate(cc.coefficients.items()):
        value = fn(*row) if joint is None else _full_shape(joint[i], row[0])
        full = np.zeros((value.shape[0] + 1, *value.shape[1:]), dtype=value.dtype)
        full[1:] = value
        out[key] = full
    return out


def nudged_coefficients(cc: CompiledCell, traj: Trajectory, layer: int, coefs: dict[tuple[str, str], np.ndarray],
                        noise: UlpNoise) -> dict[tuple[str, str], np.ndarray]:
    """One layer's float64 step coefficients (step_coefficients of ``traj``) each moved by ``noise`` as one
    rounding could move it — a coefficient that computes a sum also by ROUNDING times its rounding size
    (cc.coefficient_sizes), what float64 can lose in that sum where it cancels — in ``coefs``' order (the
    order of the signs a scattered noise draws)."""
    sizes = cc.coefficient_sizes
    row = step_rows(cc, traj, layer) if any(key in sizes for key in coefs) else []
    moved = {}
    for key, value in coefs.items():
        if key not in sizes:
            moved[key] = noise(value)
            continue
        size = np.zeros_like(value)
        with np.errstate(all="ignore"):
            size[1:] = sizes[key](*row)
        moved[key] = noise(value, size)
    return moved


def _joint_mp(cc: CompiledCell, row: list[np.ndarray]) -> list[np.ndarray] | None:
    """Every mpmath coefficient from one call per element, or None — and each coefficient is then
    computed alone, which names the one that is undefined — when some value is not a finite real."""
    if cc.joint_mp is None:
        return None
    try:
        lists = cc.joint_mp(*row)
    except (ArithmeticError, ValueError, TypeError):  # 1/0, log(0), …: the coefficients one by one say where
        return None
    values = [np.empty(lists.shape, dtype=object) for _ in cc.keys]
    for idx, entry in np.ndenumerate(lists):
        for out, v in zip(values, entry, strict=True):
            if type(v) is not mpmath.mpf:
                try:
                    v = mpmath.mpf(v)  # a constant coefficient comes back as a Python number
                except (TypeError, ValueError):  # a complex value
                    return None
            if not P.mp_finite(v):
                return None
            out[idx] = v
    return values


def to_mp(array: np.ndarray) -> np.ndarray:
    """A float array as an object array of mpf (exact: every float64 is an mpf, made from its own mantissa
    and exponent whatever the working precision — a third faster than mpmath.mpf(v) of each)."""
    flat = np.asarray(array, dtype=float)
    out = np.empty(flat.size, dtype=object)
    out[:] = [_MAKE(_FROM_FLOAT(v)) for v in flat.ravel().tolist()]
    return out.reshape(flat.shape)


_MAKE, _FROM_FLOAT = mpmath.mp.make_mpf, mpmath.libmp.from_float


__all__ = ["CellDomainError", "CompiledCell", "Trajectory", "UlpNoise", "compiled", "forward", "nudged_coefficients",
           "prev", "step_coefficients", "step_rows", "to_mp", "unit_params", "value_differences"]
