"""The exact forward pass with Arb's balls (python-flint): the pass numeric/split.py reads in float64,
6.0–8.2× faster than mpmath's on a first call (3.3–5.6× where mpmath finds the exponentials of a run
before kept; benchmarks/exact_passes.py); and its step coefficients (``coefficients``), which the exact
rest (numeric/arbbackward.py) reads.

The convention is one line: every stored value is the midpoint of a ball whose radius, computed by Arb
from exact inputs, proves it within one unit in the last place of mpmath's working precision.  Each step
takes the stored (exact) midpoints of the step before, so the radii do not pile up as interval
arithmetic's would; what each step's rounding costs after T steps is what the caller's safeguard
(split.SPARE beyond the Jacobian norms' amplification) is for, as it is for mpmath's pass.

    linear maps   one ball matrix product per step: [every map's weights | biases] · [sources; 1]
    nodes         the cell's one-step expressions in plain SymPy, lambdified with _table's Arb lines
    coefficients  the cell's derivative expressions, the built-in primitives kept (tanh' as sech²)
    check         radius ≤ 2^−prec·|midpoint| for every value, prec = mpmath's bits at the digits asked

A value that fails the check (a sum cancelling more than GUARD bits, a kink whose side a ball does not
decide) runs the pass again with more bits (``attempt``, RETRIES).  A cell whose nodes use a function
outside _FUNCTIONS, a constant other than π and e, per-element parameters, a value no precision gives (NaN, an
argument beyond primitives.MAX_MAG), a last try that still fails the check, or python-flint missing (or
SYMBPTT_ARB=0): ``forward`` returns None and the caller runs mpmath's pass, which says what is wrong where
something is.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable, Iterator, MutableMapping
from functools import lru_cache
from typing import Any, TypeVar

import mpmath
import numpy as np
import sympy as sp
from mpmath.libmp import dps_to_prec, from_man_exp, prec_to_dps, round_nearest
from mpmath.libmp import to_float as mpf_to_float

from .. import primitives as P
from ..cells import INPUT, Cell
from ..errors import SymbpttError
from .cost import arb_cost
from .factors import NumericModel
from .forward import Trajectory, compiled, step_rows

T_ = TypeVar("T_")
GUARD = 32  # bits Arb works with beyond mpmath's: a sum may cancel this many before the check refuses it


class GiveUp(Exception):
    """A value Arb did not prove to the precision asked (a sum that cancelled more than the bits Arb
    works beyond it, a ball astride a kink): ``attempt`` runs the pass again with more bits.  ``short``:
    the bits its radius left it short of the precision, where its ball says (a value's cancellation
    costs the same bits at any precision, so a try with fewer bits more fails on it again)."""

    def __init__(self, short: float | None = None) -> None:
        super().__init__(short)
        self.short = short


class Refused(Exception):
    """A value no precision gives (an argument beyond primitives.MAX_MAG, a logarithm or square root of a
    negative number): mpmath's pass runs, and says what is wrong where something is."""


def flint_module() -> Any:
    """The flint module, or None where it is not installed or SYMBPTT_ARB=0 turns it off (read at each
    call: nothing cached depends on it)."""
    return None if os.environ.get("SYMBPTT_ARB", "1") == "0" else _installed()


@lru_cache(maxsize=1)
def _installed() -> Any:
    """The flint module, or None where python-flint is not installed."""
    try:
        return importlib.import_module("flint")
    except ImportError:
        return None


def _table(flint: Any) -> dict[str, Any]:
    """The names lambdify prints (with its mpmath printer) bound to Arb: one line per function."""
    arb, fmpz = flint.arb, flint.fmpz
    reach = arb(2) ** P.MAX_MAG

    def ball(x: Any) -> Any:  # a number the printer wrote as it is (exp(-1) of 1/E, log(2)) as an Arb number
        return x if type(x) is arb else arb(x)

    def _reached(x: Any) -> Any:  # refused beyond 2^MAX_MAG, where mpmath's pass raises BeyondReach
        x = ball(x)
        if abs(x) > reach:
            raise Refused
        return x

    def mpf(value: Any) -> Any:  # the printer's constants: an int, or (sign, mantissa, exponent, bits)
        if isinstance(value, tuple):
            sign, man, exp, _ = value
            return arb(fmpz(-man if sign else man)) * arb(2) ** exp  # exact: a power of 2
        return arb(value)

    def logistic(x: Any) -> Any:  # σ, under both of its names (NamedLogistic prints it by name)
        return 1 / (1 + (-ball(x)).exp())

    return {
        "mpf": mpf,
        "tanh": lambda x: ball(x).tanh(),
        "Logistic": logistic,
        "NamedLogistic": logistic,
        "Max": lambda *xs: _largest(xs, 1),
        "Min": lambda *xs: _largest(xs, -1),
        "H": lambda x: arb(1) if _positive(x) else arb(0),  # the kink convention: H(0) = 0
        "exp": lambda x: _reached(x).exp(),
        "sin": lambda x: _reached(x).sin(),
        "cos": lambda x: _reached(x).cos(),
        "sinh": lambda x: _reached(x).sinh(),
        "cosh": lambda x: _reached(x).cosh(),
        "erf": lambda x: ball(x).erf(),
        "atan": lambda x: ball(x).atan(),
        "log": lambda x: ball(x).log() if _positive(x) else _give_up(),
        "sqrt": lambda x: ball(x).sqrt() if _positive(x) or x == 0 else _give_up(),
        # the built-in primitives the step coefficients keep (_coefficient_form), each in a form that does
        # not cancel where the unit saturates: tanh' = sech², σ' = sech²(x/2)/4
        "sigmoid": lambda x: 1 / (1 + (-ball(x)).exp()),
        "dtanh": lambda x: _reached(x).sech() ** 2,
        "dsigmoid": lambda x: (_reached(x) / 2).sech() ** 2 / 4,
        "relu": lambda x: x if _positive(x) else arb(0),
        "step": lambda x: arb(1) if _positive(x) else arb(0),
    }


def _give_up() -> Any:
    raise Refused


def _positive(x: Any) -> bool:
    """x > 0 where the ball decides it (an exact 0 is not); a ball astride 0 decides nothing: refused."""
    if x > 0:
        return True
    if x <= 0:
        return False
    raise GiveUp


def _largest(xs: tuple[Any, ...], sign: int) -> Any:
    """The largest of xs (``sign`` 1) or the smallest (−1), where the balls decide it."""
    best = xs[0]
    for x in xs[1:]:
        if _positive(sign * (x - best)):
            best = x
    return best


# the functions a node may be made of, written in plain SymPy (primitives.plain: a custom activation is
# its own expression); abs is Python's, which Arb's balls have
_FUNCTIONS = {sp.tanh, P.Logistic, P.NamedLogistic, sp.Max, sp.Min, P.H, sp.exp, sp.sin, sp.cos, sp.sinh, sp.cosh,
              sp.log, sp.Abs, sp.erf, sp.atan}
_KEPT = {P.tanh, P.dtanh, P.sigmoid, P.dsigmoid, P.relu, P.step}  # primitives with their own Arb line
# the constants a custom activation may name (safeexpr.CONSTANTS), and its derivative (erf's 2/√π): each
# is an argument of the Arb lines, given as Arb's ball of it at the precision of the try (``_constants``)
_CONSTANTS = {sp.pi: sp.Dummy("pi"), sp.E: sp.Dummy("E")}


def _supported(expr: sp.Expr) -> bool:
    """Whether every function in ``expr`` (plain SymPy, or the built-in primitives of _KEPT) has an Arb
    line in the table and every constant is a number or one of _CONSTANTS."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Function) and type(node) not in _FUNCTIONS | _KEPT:
            return False
        if (isinstance(node, sp.NumberSymbol) and node not in _CONSTANTS) or node in (sp.I, sp.oo, -sp.oo, sp.zoo,
                                                                                       sp.nan):
            return False
    return True


@lru_cache(maxsize=32)
def _nodes(cell: Cell) -> list[Any] | None:
    """The cell's node functions on Arb numbers (ufuncs over object arrays), or None where a node uses
    something the table lacks."""
    flint = _installed()
    cc = compiled(cell, "float")
    exprs = [P.plain(expr) for expr in cc.node_exprs]
    if flint is None or not all(_supported(expr) for expr in exprs):
        return None
    table, args = _table(flint), [*cc.args, *_CONSTANTS.values()]
    return [np.frompyfunc(sp.lambdify(args, expr.xreplace(_CONSTANTS), [table, "mpmath"]), len(args), 1)
            for expr in exprs]


def _constants(flint: Any) -> list[Any]:
    """Arb's balls of _CONSTANTS' values at the precision of the try (flint.ctx.prec), in their order."""
    return [flint.arb.pi(), flint.arb(1).exp()]


def checked_product(arb_mat: Any, matrix: Any, rows: list[list[Any]], proven: Callable[[Any], Any]) -> np.ndarray:
    """The ball matrix product ``matrix`` · ``rows`` (a list of rows), each entry proven (``proven``: its
    midpoint, or GiveUp), as an object array of the product's shape."""
    product = matrix * arb_mat(rows)
    return np.array([proven(v) for v in product.entries()], dtype=object).reshape(product.nrows(), product.ncols())


def _sources(cell: Cell) -> list[str] | None:
    """The distinct sources the linear maps read (states, then INPUT), or None where one map reads a
    source through two matrices (its products would have to be added before the check)."""
    sources: list[str] = []
    for lin in cell.linears:
        read = [src for _, src in lin.terms]
        if len(set(read)) < len(read):
            return None
        sources += [s for s in read if s not in sources]
    return sorted(sources, key=lambda s: s == INPUT)


def serves(model: NumericModel) -> bool:
    """Whether ``forward`` tries ``model``: python-flint on, every node in the table, each source read through
    one matrix, the parameters shared by the batch (one per batch element: mpmath's pass).  A pass it tries
    may still give up on a value it does not prove."""
    cell = model.cell
    return (flint_module() is not None and _nodes(cell) is not None and _sources(cell) is not None
            and not any(np.ndim(v) > 2 for p in model.params for v in p.values()))


def forward(model: NumericModel, dps: int) -> Trajectory | None:
    """The forward pass of ``model`` (float64 parameters) at mpmath's precision for ``dps`` digits, every
    stored value an exact Arb number proven within one unit in that precision's last place of the step's
    exact value from the stored values before it; None where Arb does not serve (see the module)."""
    if not serves(model):
        return None
    nodes, sources = _nodes(model.cell), _sources(model.cell)
    assert nodes is not None and sources is not None
    prec = dps_to_prec(dps)
    return attempt(prec, GUARD, lambda flint: _run(flint, model, nodes, sources, prec), model)


RETRIES = (0, 1, 4)  # the bits Arb works with beyond ``guard`` on each try, in multiples of ``prec``


def attempt(prec: int, guard: int, run: Callable[[Any], T_], model: NumericModel | None = None) -> T_ | None:
    """``run(flint)`` with Arb working ``guard`` bits beyond ``prec`` (restored after), and again with
    ``prec`` and then 4·``prec`` bits more where a value was not proven (GiveUp: every value a pass reads
    is an exact midpoint, so a sum of their products that cancelled, or a ball astride a kink, is decided
    with enough bits), skipping a try whose bits more are fewer than the value fell short by (GiveUp.short:
    at prec = 100, a value 150 bits short goes to the 4·prec try, one 500 bits short to none), each try after the first
    priced first as Arb's pass and rest of ``model`` at those bits (cost.arb_cost); None where python-flint
    is off, a value is refused (Refused: no precision helps), Arb refuses an operation, a try would be
    beyond the budget, or the last still gives up."""
    flint = flint_module()
    if flint is None:
        return None
    old = flint.ctx.prec
    tried, short = 0, 0.0  # the bits beyond ``guard`` of the last try, and those it fell short by
    try:
        for extra in RETRIES:
            if extra and (extra - tried) * prec < short:  # it would fall short on the same value again
                continue
            bits = prec + guard + extra * prec
            if extra and model is not None and not _affordable(model, bits):
                return None
            flint.ctx.prec = bits
            try:
                return run(flint)
            except GiveUp as missed:
                tried, short = extra, (0.0 if missed.short is None else missed.short)
        return None
    except (Refused, ArithmeticError, ValueError, TypeError):
        return None
    finally:
        flint.ctx.prec = old


def proven_by(flint: Any, prec: int) -> Callable[[Any], Any]:
    """v ↦ the midpoint of ball ``v`` where its radius proves it within one unit in the last place of
    ``prec`` bits (an exact 0 has every bit; a constant, such as Max(0, a)'s 0 or a coefficient that is a
    number, is made a ball first), else GiveUp."""
    arb = flint.arb

    def proven(v: Any) -> Any:
        if type(v) is not arb:
            v = arb(v)
        bits = v.rel_accuracy_bits()
        if bits < prec:  # a ball about 0 (Arb's least bits) says nothing of how far short it is
            raise GiveUp(None if bits <= -(1 << 62) else prec - bits)
        return v.mid()

    return proven


def _run(flint: Any, model: NumericModel, nodes: list[Any], sources: list[str], prec: int) -> Trajectory:
    arb, arb_mat = flint.arb, flint.arb_mat
    cell, cc = model.cell, compiled(model.cell, "float")
    T, B = model.x.shape[0], model.x.shape[2]
    n = model.params[0][f"{cell.states[0]}0"].shape[0]

    proven = proven_by(flint, prec)
    checked = np.frompyfunc(proven, 1, 1)
    exact = np.frompyfunc(arb, 1, 1)  # a float64 as an Arb number (exactly)
    constants = _constants(flint)
    values: list[dict[str, np.ndarray]] = []
    scalars: list[dict[str, np.ndarray]] = []
    zeros = exact(np.zeros((n, B)))
    for ell, p in enumerate(model.params):
        layer = {name: np.full((T + 1, n, B), arb(0), dtype=object) for name in [lin.name for lin in cell.linears]
                 + cc.node_names}  # step 0 of the maps and nodes: 0, as mpmath's pass leaves it
        for s in cell.states:
            layer[s][0] = exact(np.broadcast_to(p[f"{s}0"], (n, B)))
        plain = ({s: np.broadcast_to(p[s].reshape(1, -1), (n, B)) for s in cell.scalar_params}
                 | {s: np.broadcast_to(p[s].reshape(n, -1), (n, B)) for s in cell.vector_params})
        scalars.append(plain)
        args: dict[str, Any] = {s: exact(v) for s, v in plain.items()}
        inputs = exact(model.x) if ell == 0 else values[ell - 1]["h"][1:]
        width = {src: (inputs.shape[1] if src == INPUT else n) for src in sources}
        # every map's weights side by side over the sources, its bias in the last column (zeros elsewhere)
        stacked = np.zeros((n * len(cell.linears), sum(width.values()) + 1))
        for i, lin in enumerate(cell.linears):
            rows = slice(i * n, (i + 1) * n)
            for matrix, src in lin.terms:
                start = sum(width[s] for s in sources[:sources.index(src)])
                stacked[rows, start:start + width[src]] = p[matrix]
            if lin.bias:
                stacked[rows, -1] = p[lin.bias].reshape(-1)
        weights = arb_mat(stacked.tolist())
        ones = [[arb(1)] * B]
        for t in range(1, T + 1):
            if cell.linears:  # a cell file's nodes may read every parameter themselves: no map, no product
                column = [row for src in sources
                          for row in (inputs[t - 1] if src == INPUT else layer[src][t - 1]).tolist()] + ones
                maps = checked_product(arb_mat, weights, column, proven)
            for i, lin in enumerate(cell.linears):
                layer[lin.name][t] = args[lin.name] = maps[i * n:(i + 1) * n]
            for s in cell.states:
                args[f"prev_{s}"] = layer[s][t - 1]
            inp = inputs[t - 1]
            args[INPUT] = inp if inp.shape[0] == n else zeros
            row = [args[name] for name in cc.leaf_names]
            done: list[Any] = [layer[m][t] for m in cc.node_names]
            for k, name in enumerate(cc.node_names):
                done[k] = layer[name][t] = checked(nodes[k](*row, *done, *constants))
        values.append(layer)
    return Trajectory(values, [{} for _ in values], model.x, scalars)


def _coefficient_form(expr: sp.Basic) -> sp.Basic:
    """``expr`` with the built-in primitives of _KEPT kept (each has a stable Arb line) and any other —
    a user's activation — written in plain SymPy, as primitives.plain writes it."""
    if isinstance(expr, P.Primitive):
        arg = _coefficient_form(expr.args[0])
        return type(expr)(arg) if type(expr) in _KEPT else _coefficient_form(type(expr).implementations[0](arg))
    if not expr.args or not expr.has(P.Primitive):
        return expr
    return expr.func(*[_coefficient_form(arg) for arg in expr.args])


@lru_cache(maxsize=32)
def _coefficient_function(cell: Cell) -> Any:
    """Every step coefficient of one element on Arb numbers in one call (common subexpressions once), as
    a ufunc over object arrays with one output per coefficient, and the indices in CompiledCell.args of
    the arguments it takes (those some coefficient reads: each one more costs every element a step of the
    ufunc), then _CONSTANTS' values where a coefficient holds one (π in erf's); None where one uses
    something the table lacks."""
    flint = _installed()
    cc = compiled(cell, "float")
    exprs = [_coefficient_form(cc.coefficient_exprs[key]) for key in cc.keys]
    if flint is None or not exprs or not all(_supported(expr) for expr in exprs):
        return None
    used = [k for k, arg in enumerate(cc.args) if any(arg in expr.free_symbols for expr in exprs)]
    used = used or list(range(len(cc.args)))  # coefficients that are numbers: every element's shape still
    held = any(expr.has(*_CONSTANTS) for expr in exprs)
    exprs = [expr.xreplace(_CONSTANTS) for expr in exprs]
    args = [cc.args[k] for k in used] + (list(_CONSTANTS.values()) if held else [])
    if len(exprs) == 1:  # a ufunc with one output takes the value itself, not a tuple of one
        function = np.frompyfunc(sp.lambdify(args, exprs[0], [_table(flint), "mpmath"], cse=True), len(args), 1)
        return function, used, held
    joint = sp.lambdify(args, exprs, [_table(flint), "mpmath"], cse=True)
    return np.frompyfunc(lambda *v: tuple(joint(*v)), len(args), len(exprs)), used, held


def coefficients(model: NumericModel, traj: Trajectory) -> list[dict[tuple[str, str], np.ndarray]] | None:
    """Every step coefficient of every layer from an Arb trajectory (this module's ``forward``), as
    forward.step_coefficients computes them with mpmath (at mpmath's working precision): object arrays
    (T + 1, n, B) of exact Arb numbers (row 0 unused, 0), each the midpoint of a ball proven within one unit
    in that precision's last place (``as_mpf_array`` turns them into mpf).  None where Arb does not serve
    (a function outside the table, a value it does not prove): the caller computes them with mpmath,
    which says what is wrong where something is."""
    made = None if flint_module() is None else _coefficient_function(model.cell)
    if made is None:
        return None
    prec, (function, used, held) = mpmath.mp.prec, made
    return attempt(prec, GUARD, lambda flint: _coefficients(flint, function, used, held, model, traj, prec), model)


def _coefficients(flint: Any, function: Any, used: list[int], held: bool, model: NumericModel, traj: Trajectory,
                  prec: int) -> list[dict[tuple[str, str], np.ndarray]]:
    arb = flint.arb
    cc = compiled(model.cell, "float")
    checked, exact = np.frompyfunc(proven_by(flint, prec), 1, 1), np.frompyfunc(arb, 1, 1)
    constants = _constants(flint) if held else []
    out = []
    for layer in range(1, len(traj.values) + 1):
        rows = step_rows(cc, traj, layer)
        values = function(*[v if v.dtype == object else exact(v) for v in (rows[k] for k in used)], *constants)
        values = values if isinstance(values, tuple) else (values,)
        coefs = {}
        for key, value in zip(cc.keys, values, strict=True):
            full = np.full((value.shape[0] + 1, *value.shape[1:]), arb(0), dtype=object)
            full[1:] = checked(value)
            coefs[key] = full
        out.append(coefs)
    return out


def is_arb(value: Any) -> bool:
    """Whether ``value`` is an Arb number (python-flint's arb)."""
    return type(value).__name__ == "arb" and type(value).__module__.startswith("flint")


def made_with_arb(traj: Trajectory) -> bool:
    """Whether ``traj``'s stored values are Arb numbers (this module's pass) rather than mpf or float64."""
    return is_arb(next(iter(traj.values[0].values())).flat[0])


@lru_cache(maxsize=1)
def _rounds_to_nearest() -> bool:
    """Whether float() of an Arb number rounds its midpoint to the nearest float64 (some releases of
    python-flint truncate instead): probed on two values just past a half unit, one each way, and a tie."""
    flint = _installed()
    arb, old = flint.arb, flint.ctx.prec
    flint.ctx.prec = 300  # the values below exactly
    try:
        half, past = arb(2) ** -53, arb(2) ** -200
        return (float(1 + half + past) == 1 + 2 ** -52 and float(-(1 + half + past)) == -(1 + 2 ** -52)
                and float(1 + half) == 1.0)
    finally:
        flint.ctx.prec = old


def to_float(array: np.ndarray) -> np.ndarray:
    """An object array of exact Arb numbers rounded once each to the nearest float64 (±∞ beyond float64's
    range; subnormal results are the caller's to refuse, as split._holds does)."""
    if _rounds_to_nearest():
        return array.astype(float)
    # each from its exact mantissa and exponent, rounded once by mpmath (±∞ beyond range): float() of a
    # mantissa of more than 1024 bits overflows however small its exponent makes the value
    out = [mpf_to_float(from_man_exp(int(man), int(exp)), rnd=round_nearest)
           for man, exp in (value.man_exp() for value in array.reshape(-1).tolist())]
    return np.array(out, dtype=float).reshape(array.shape)


def as_mpf_value(value: Any, prec: int | None = None) -> mpmath.mpf:
    """An exact Arb number (a midpoint) as an mpf rounded to the nearest at ``prec`` bits (default:
    mpmath's working precision), from its mantissa and exponent."""
    man, exp = value.man_exp()
    return mpmath.mp.make_mpf(from_man_exp(int(man), int(exp), prec or mpmath.mp.prec, "n"))


as_mpf_array = np.frompyfunc(as_mpf_value, 1, 1)  # the same, entry by entry of an object array


class _Converted(MutableMapping):
    """One layer's stored values as mpf at the precision given, each array converted from Arb's the first
    time it is read (most exact reports read none of them: the rest reads Arb's, the norms the
    coefficients)."""

    def __init__(self, arrays: dict[str, np.ndarray], prec: int) -> None:
        self._arb, self._prec = dict(arrays), prec
        self._mpf: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._mpf:
            self._mpf[name] = np.frompyfunc(lambda v: as_mpf_value(v, self._prec), 1, 1)(self._arb[name])
        return self._mpf[name]

    def __setitem__(self, name: str, array: np.ndarray) -> None:
        self._arb[name], self._mpf[name] = array, array

    def __delitem__(self, name: str) -> None:
        del self._arb[name]
        self._mpf.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._arb)

    def __len__(self) -> int:
        return len(self._arb)


def lazy_mpf(arrays: dict[Any, np.ndarray], prec: int | None = None) -> MutableMapping:
    """Arb arrays read as mpf at ``prec`` bits (default: mpmath's working precision now), each converted
    the first time it is read; ``arb_source`` gives back the Arb array unconverted."""
    return _Converted(arrays, prec or mpmath.mp.prec)


def arb_source(mapping: Any, key: Any) -> np.ndarray | None:
    """The Arb array behind ``mapping[key]`` where ``mapping`` is one of ``lazy_mpf``'s (and ``key`` has
    not been replaced since), else None."""
    if isinstance(mapping, _Converted) and mapping._mpf.get(key) is not mapping._arb.get(key):
        return mapping._arb.get(key)
    return None


def _affordable(model: NumericModel, bits: int) -> bool:
    """Whether Arb's pass and rest of ``model`` at ``bits`` bits are within the budget (cost.arb_cost)."""
    try:
        arb_cost(model, prec_to_dps(bits))
    except SymbpttError:
        return False
    return True


def _sign_log10(value: Any) -> tuple[float, float]:
    man, exp = value.man_exp()
    m = int(man)
    return (1.0 if m > 0 else -1.0, P.log10_of_parts(abs(m), int(exp))) if m else (0.0, -math.inf)


def sign_log10(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sign, log10|v|) of every exact Arb number of ``array`` as float64 arrays, from its mantissa and
    exponent as primitives.mp_log10_abs takes an mpf's (primitives.log10_of_parts; −∞ for 0, ±∞ beyond
    float64's range)."""
    sign, logs = np.frompyfunc(_sign_log10, 1, 2)(array)
    return sign.astype(float), logs.astype(float)


def as_mpf(traj: Trajectory, mp_model: NumericModel) -> Trajectory:
    """An Arb trajectory as mpmath's pass would hold it (at mpmath's working precision): every value
    converted from its midpoint's mantissa and exponent (when first read), the inputs and the parameters
    nodes read from ``mp_model``."""
    values: list[Any] = [lazy_mpf(layer) for layer in traj.values]
    cell = mp_model.cell
    n, B = traj.values[0][cell.states[0]].shape[1:]
    scalars = [{s: np.broadcast_to(p[s].reshape(1, -1), (n, B)) for s in cell.scalar_params}
               | {s: np.broadcast_to(p[s].reshape(n, -1), (n, B)) for s in cell.vector_params} for p in mp_model.params]
    return Trajectory(values, [{} for _ in values], mp_model.x, scalars)


__all__ = ["GUARD", "RETRIES", "GiveUp", "Refused", "arb_source", "as_mpf", "as_mpf_array", "as_mpf_value", "attempt",
           "checked_product", "coefficients", "flint_module", "forward", "is_arb", "lazy_mpf", "made_with_arb",
           "proven_by", "serves", "sign_log10", "to_float"]
