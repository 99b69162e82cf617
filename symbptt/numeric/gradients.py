"""``symbptt.gradients``: loss and ∂L/∂θ of a cell for arrays you hold: float64 where it holds, mpmath where not.

    >>> import numpy as np, symbptt
    >>> rng = np.random.default_rng(0)
    >>> params = {"W": 0.5 * rng.standard_normal((4, 4)), "U": rng.standard_normal((4, 2)),
    ...           "b": np.zeros(4), "h0": np.zeros(4)}
    >>> x, y = rng.standard_normal((50, 2, 8)), rng.standard_normal((4, 8))   # T = 50, batch 8
    >>> loss, grads = symbptt.gradients(params, x, y)
    >>> grads["W"].shape
    (4, 4)

Conventions (the project's one notation): x is (T, m, batch), y is (n, batch) for loss 'last' and
(T, n, batch) for 'sum'; the loss is summed over the batch.  A single sequence may drop the batch axis:
x (T, m) with y (n,) or (T, n).  Parameters are named as the cell names them (W, U, b, h0 for the rnn;
W_f, U_f, b_f, … for the LSTM): matrices n×n and n×m, vectors (n,), a scalar parameter as a number.
A stack of layers is a list of such dicts (layer 2 reads layer 1's h, so its U is n×n).

The float64 pass runs as machine code when Numba is installed and n is small (numeric/jit.py, compiled
once per cell and kept on disk; ``kernel`` says which ran), else through the NumPy step kernel
(numeric/kernel.py); both keep δ_t as a float64 array times a power of two, so a gradient far below
(or above) float64's range keeps its digits; it comes back rounded to the nearest float64 (0.0 below
the subnormals) with its size in ``log10`` and its value in ``exact``.  Where float64 raised an
overflow or invalid operation anyway, the affected blocks are computed again with mpmath
(numeric/exact.py's exact_gradients): ``digits`` says so.  An underflow is followed instead
(numeric/underflow.py): the coefficient entries that raised it are computed again exactly and every
sum is checked for what underflow can have cost it; mpmath is used only where that is not below a
quarter of an ulp of the sum (with ``digits=``, the kept pass's digits are then measured as any).
Where a gate saturates, the differences of values near ±1 (the GRU's h_{t-1} − n_t) come from the
distances to ±1 the pass carries beside them (numeric/distances.py).  float64 stands when each keeps
10 digits by a worst-case bound carried with them; otherwise every block is computed again exactly (Arb's
pass and rest where they serve, else mpmath's), at the digits the differences are measured to cancel.
Float64 rounding itself is measured only when asked: over T steps each entry's relative error grows
like T·2⁻⁵³ times the conditioning of the products, and a difference of two states (the GRU's h_{t-1} −
n_t near a fixed point, the LSTM's f c + i g) may cancel more; with ``digits=12`` the pass is run twice
more with every stored value nudged by a rounding, as `symbptt grad --digits 12` does, and computed
again exactly when fewer digits held (``kept`` says how many did) — only the units that fell short where
the cell's units never meet (numeric/unitwise.py; ``units`` lists them) — else: for one sequence, as `grad` does,
its forward pass first (Arb's where it serves, numeric/arbforward.py; at 30 digits, or 30 more than the
Jacobian norms say rounding is amplified by where float64 cannot spare that) with the rest in float64
from it where that keeps the digits asked (numeric/split.py), else every number exactly: Arb's forward
pass and rest where they serve (numeric/arbbackward.py), else mpmath's — the rest from the split's own
exact pass where that has the digits.  Unasked,
the growth of δ back through time is read off the pass (numeric/amplification.py, ``amplified``), and a
RoundingWarning is given where it leaves fewer than 12 digits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from typing import Any

import mpmath
import numpy as np

from .. import primitives as P
from ..activations import get_activation
from ..budget import estimate
from ..cells import BUILTIN, TAKES_ACTIVATION, Cell, get_cell
from ..config import MAX_NUMERIC_HIDDEN, MAX_STEPS
from ..errors import RoundingWarning, RunFailed, SymbpttError
from ..validate import all_finite, array, integer, shape_text, shape_words
from . import jit, jit_growth
from .amplification import delta_growth
from .factors import ArrayFactors, FloatWatch, NumericModel

__all__ = ["Gradients", "gradients"]


class Gradients(tuple):
    """``(loss, grads)``, which unpacks as a pair, with how the numbers were obtained.

    Attributes:
        loss: the loss, summed over the batch (float64, correctly rounded from the exact value when
            an exact pass was needed).
        grads: parameter name → float64 array of the parameter's shape (a list of such dicts for a
            stack of layers, as the parameters were given).
        digits: 0 when float64 (with a power-of-two exponent per step, and a saturated gate's differences
            taken from the distances to ±1) held every number in its range —
            and, when ``digits`` was asked for, kept that many significant digits as measured; else the
            decimal digits the exact pass carried (Arb's where it serves, else mpmath's; mpmath's for the
            blocks a float64 event lost range in): for the blocks float64 could not hold, and for every
            block when ``digits`` was asked for; or, with ``exact`` None and ``kept`` given, the forward
            pass's alone, the rest float64 read from it (numeric/split.py); or, where that rest fell short of
            ``digits`` and its reruns measured what rounding cost it, the digits of the exact rest computed
            from the same pass (reruns.ReadIn.rest_digits, fewer than the pass's); or, with ``units``
            given, the digits of the exact pass that computed those units' rows alone.
        log10: the same structure as ``grads`` with log10|∂L/∂θ| of every entry (−inf for an exact 0), so
            that a gradient beyond float64's range (an underflow to 0 or a subnormal) still has its size.
        exact: None, or the structure of ``grads`` holding, for each block that float64 cannot show (or
            that an exact pass computed), its exact value as an object array of mpmath numbers.
        kernel: "compiled" when the float64 pass ran as machine code (numeric/jit.py: Numba installed,
            n small enough for loops to beat BLAS, no float64 event), else "numpy".
        kept: None when not measured (``digits`` not given, unless a gate saturated where no distances to
            ±1 carry its differences, or mpmath was needed for range before any measuring); else the
            significant digits the float64 pass kept as measured by
            the nudged reruns, their changes counted with margins (reruns.nudged_runs; relative to
            each gradient's largest entry, and in the worst entry), rounded down to a tenth as `symbptt
            grad` shows them (below 0 where rounding cost more than float64's digits, −∞ where no count
            bounds it: a rerun moved a gradient float64 gives as 0, or made a value undefined) — or,
            where the exact forward pass was read in float64 (``digits`` then its digits), what that pass
            kept, measured by reruns.HELD_RUNS.
        amplified: None when ``kept`` was measured; else log10 of how much ∂L/∂s_k of the top layer, as the
            pass computed it, grows from the last step back through time: how much more an early rounding
            error costs than a late one (numeric/amplification.py).  A RoundingWarning is given when it
            leaves fewer than 12 significant digits.
        units: None, or where float64 kept fewer digits than measuring asked for (``digits``, or a
            saturated minGRU's or minLSTM's 12 without it) in some units alone of a cell whose units never
            meet (one layer, no recurrent matrix or shared parameter: the IndRNN, minGRU, minLSTM, LRU;
            numeric/unitwise.py), those units' indices (from 0, as the rows of the arrays): their rows of
            every gradient were computed exactly (``digits`` says at how many digits) and rounded to
            float64, the other rows are float64's, and ``kept`` counts the digits of the whole again.
    """

    loss: float
    grads: Any
    digits: int
    exact: Any
    kernel: str
    kept: tuple[float, float] | None
    amplified: float | None
    units: tuple[int, ...] | None
    _log10: Any

    def __new__(cls, loss: float, grads: Any, digits: int, exact: Any, kernel: str = "numpy",
                kept: tuple[float, float] | None = None, amplified: float | None = None,
                units: tuple[int, ...] | None = None) -> Gradients:
        self = super().__new__(cls, (loss, grads))
        self.loss, self.grads, self.digits, self.exact, self.kernel = loss, grads, digits, exact, kernel
        self.kept, self.amplified, self.units = kept, amplified, units
        self._log10 = None
        return self

    def __getnewargs__(self) -> tuple[Any, ...]:
        """What pickle and copy pass to ``__new__`` (a tuple's own would pass only the pair)."""
        return self.loss, self.grads, self.digits, self.exact, self.kernel, self.kept, self.amplified, self.units

    @property
    def log10(self) -> Any:
        """log10|∂L/∂θ| of every entry, computed when first asked for (from ``exact`` where a block has
        mpf entries, else from ``grads``)."""
        if self._log10 is None:
            stacked = isinstance(self.grads, list)
            grads = self.grads if stacked else [self.grads]
            exact = (self.exact if stacked else [self.exact]) if self.exact is not None else [{} for _ in grads]
            with np.errstate(divide="ignore"):  # log10 of an exact 0 is −∞
                logs = [{k: _log10(ex.get(k, g)) for k, g in layer.items()}
                        for layer, ex in zip(grads, exact, strict=True)]
            self._log10 = logs if stacked else logs[0]
        return self._log10


@lru_cache(maxsize=64)
def _builtin(cell: str, activation: str) -> Cell:
    """A built-in cell with its activation, looked up once per pair (a call's own lookups took 2 µs)."""
    return get_cell(cell, get_activation(activation))


@lru_cache(maxsize=64)
def _wanted(cell: Cell, n: int, k: int) -> tuple[tuple[str, str, tuple[int, ...]], ...]:
    """(name, kind, shape) of each parameter of a layer of n units reading k inputs; a scalar as a number."""
    return tuple((p, cell.kind(p), () if cell.kind(p) == "scalar" else cell.shape(p, n, k)) for p in cell.params)


def _layer(cell: Any, given: Any, where: str, k: int, n: int | None) -> tuple[dict[str, np.ndarray], int]:
    if not isinstance(given, Mapping):
        raise SymbpttError(f"{where.rstrip('.') or 'params'} must be a dict of the {cell.name} cell's parameters "
                           f"({', '.join(cell.params)})")
    unknown = [key for key in given if key not in cell.params]
    if unknown:
        raise SymbpttError(f"{where}{str(unknown[0])[:30]!r} is not a parameter of the {cell.name} cell "
                           f"(its parameters: {', '.join(cell.params)})")
    missing = [p for p in cell.params if p not in given]
    if missing:
        raise SymbpttError(f"{where}{missing[0]!r} is missing (the {cell.name} cell's parameters: "
                           f"{', '.join(cell.params)})")
    read = {p: array(f"{where}{p}", given[p], finite=False) for p in cell.params}
    all_finite(read, where)  # the layer's parameters in one look
    if n is None:
        initial = cell.initial()[0][0]
        if read[initial].ndim > 1:  # its size is not n: say so, not that every matrix has the wrong shape
            raise SymbpttError(f"{where}{initial} must be a vector (initial: one state every sequence of the batch "
                               f"starts from), got shape {shape_text(read[initial].shape)}")
        n = read[initial].size
        if not 1 <= n <= MAX_NUMERIC_HIDDEN:
            raise SymbpttError(f"the hidden size n = {n} (from {initial}) must be 1 to {MAX_NUMERIC_HIDDEN}")
    out = {}
    for p, kind, want in _wanted(cell, n, k):
        arr = read[p]
        if kind == "scalar" and arr.shape == (1,):
            arr = arr.reshape(())
        if arr.shape != want:
            shown, got = shape_words(want), shape_text(arr.shape)
            raise SymbpttError(f"{where}{p} must be {shown} ({kind}), got shape {got}")
        out[p] = arr
    return out, n


def gradients(params: Mapping[str, Any] | Sequence[Mapping[str, Any]], x: Any, y: Any, *, cell: str = "rnn",
              loss: str = "last", activation: str = "tanh", digits: int | None = None) -> Gradients:
    """Loss and ∂L/∂θ of every parameter, summed over the batch: float64 where it holds, mpmath where not.

    Args:
        params: the cell's parameters by name (a dict), or one dict per layer for a stack.
        x: inputs, (T, m, batch) — or (T, m) for one sequence.
        y: targets, (n, batch) for loss 'last' and (T, n, batch) for 'sum' — without the batch axis when
            x has none.
        cell: a built-in cell (rnn, lstm, gru, indrnn, mingru, minlstm, lru) or a cell file (.toml).
        loss: 'last' (½‖h_T − y‖²) or 'sum' (Σ_t ½‖h_t − y_t‖²).
        activation: σ of the rnn and indrnn cells: a name or an expression in ``a``.
        digits: None (float64 rounding not measured, except where a gate saturates in a cell without
            distances to ±1, measured as with 12: _unmeasured), or 1 to 15: the significant
            digits float64 must keep, measured by three reruns (four for a cell whose step coefficient
            reads its parameters alone, as the LRU's λ does: reruns.nudged_runs) with every stored value
            nudged by a rounding and counted with a margin (reruns.kept_digits; several times the work of a plain
            call); where fewer held, every gradient is computed again exactly (for one sequence its
            forward pass alone, as `grad` does, where the rest in float64 from it keeps them).

    Returns:
        A ``Gradients``: unpacks as ``loss, grads``; ``.digits``, ``.log10`` and ``.exact`` say how the
        numbers were obtained.

    Raises:
        SymbpttError: one line naming the argument that is wrong, or a run too large for the budget.
    """
    if not isinstance(loss, str) or loss not in ("last", "sum"):
        raise SymbpttError(f"loss must be 'last' or 'sum', got {loss!r:.40}")
    if not isinstance(cell, str) or not cell:
        raise SymbpttError("cell must be the name of a built-in cell or the path of a cell file")
    if digits is not None:
        digits = integer("digits", digits, 1, 15)
    spec = (_builtin(cell, activation) if isinstance(activation, str) and cell in BUILTIN
            else get_cell(cell, get_activation(activation)))
    if activation != "tanh" and not spec.uses_activation:
        raise SymbpttError(f"activation applies to the {' and '.join(TAKES_ACTIVATION)} cells, not {spec.name}")
    stacked = not isinstance(params, Mapping)
    if stacked and (isinstance(params, (str, bytes)) or not isinstance(params, Sequence) or not params):
        raise SymbpttError("params must be a dict of parameters, or a non-empty list of them (one per layer)")
    layers_in = list(params) if stacked else [params]
    xa = array("x", x, finite=False)  # its size is checked against the budget before it is read
    batched = xa.ndim == 3
    if xa.ndim == 2:
        xa = xa[:, :, None]
    if xa.ndim != 3 or 0 in xa.shape:
        raise SymbpttError(f"x must be (T, m, batch) or (T, m), got shape {shape_text(xa.shape)}")
    T, m, B = xa.shape
    if T > MAX_STEPS:
        raise SymbpttError(f"x has {T:,} steps, more than {MAX_STEPS:,}")
    layers, n = [], None
    for i, raw in enumerate(layers_in):
        where = f"params[{i}]." if stacked else ""
        layer, n = _layer(spec, raw, where, m if n is None else n, n)
        layers.append(layer)
    assert n is not None
    if spec.max_input is not None and m > spec.max_input:
        raise SymbpttError(f"x: the {spec.name} cell reads {spec.max_input} input(s) per step, got m = {m}")
    want_y = ((n,) if loss == "last" else (T, n)) + ((B,) if batched else ())
    ya = array("y", y, want_y)
    ya = ya if batched else ya[..., None]
    matrices = sum(v.size for layer in layers for v in layer.values() if v.ndim == 2)
    passes = 1.0 if digits is None else MEASURED_COST
    estimate(f"the gradients of a {spec.name} with n = {n}, T = {T}, batch {B}, {len(layers)} layer(s)",
             "use fewer steps, a smaller batch or a smaller n", flops=6.0 * T * B * matrices * passes,
             floats=4.0 * T * B * n * (len(spec.nodes) + len(spec.linears)) * len(layers))
    all_finite({"x": xa})
    R = _exact_path()
    model = NumericModel(spec, [{k: (v.reshape(-1, 1) if v.ndim < 2 else v) for k, v in p.items()} for p in layers],
                         np.ascontiguousarray(xa), np.ascontiguousarray(ya), loss)
    kept = None  # the digits float64 kept, when measured
    seen: list = []  # the float64 δ the sums read, when the digits are not measured
    # asked for measured digits: the watched NumPy pass, as `symbptt grad` runs it, then the reruns
    fast = jit.float_pass(spec, model.params, model.x, model.y, loss) if digits is None else None
    units: list[int] = []  # the units an exact pass computed alone, where only they fell short
    if digits is not None:
        value, grads, carried, kept = _measured(R, model, digits, units)
    elif fast is None:
        watch = FloatWatch()
        with watch.watch(None):  # one outer block: the pass's labelled blocks inside it swap a label
            # instead of setting NumPy's error state each (3.8 against 0.8 µs, ~18 blocks a pass)
            values = ArrayFactors(model, watch=watch)
            value, grads, carried, kept = _unmeasured(R, model, values, R.saturation_digits(values), None, seen,
                                                      units)
    else:
        values = ArrayFactors(model, watch=FloatWatch(), trajectory=fast.trajectory)
        saturation = R.saturation_digits(values)
        if fast.result is not None and not saturation:  # float64 held every number: the compiled sums
            (value, grads), carried = fast.result, 0
            seen.append(fast.deltas)
        else:
            value, grads, carried, kept = _unmeasured(R, model, values, saturation, fast.deltas, seen, units)
    amplified = None  # unasked for digits: what the δ of the pass say rounding can be amplified by
    if seen:
        # where the compiled kernel ran, its loops read the common case (every square a normal float)
        amplified = jit_growth.growth(seen[0], spec.states) if fast is not None and loss == "last" else None
        if amplified is None:
            amplified = delta_growth(seen[0], spec.states, values.traj.values[-1]["h"], model.y, loss)
        if amplified is not None:
            _warn_if_amplified(amplified, int(carried))
    out, exact = [], []
    for given, g in zip(layers, grads, strict=True):
        blocks = {k: np.asarray(g[k]) for k in given}
        out.append({k: _as_float(block).reshape(given[k].shape) for k, block in blocks.items()})
        exact.append({k: block.reshape(given[k].shape) for k, block in blocks.items() if block.dtype == object})
    pick = (lambda v: v) if stacked else (lambda v: v[0])
    return Gradients(float(value), pick(out), int(carried), pick(exact) if any(exact) else None,
                     "numpy" if fast is None or fast.deltas is None else "compiled", kept,
                     None if amplified is None else amplified[0], tuple(units) or None)


WARN_BELOW = 12  # the significant digits below which an unmeasured pass warns (grad's default --digits)


def _unmeasured(R: Any, model: NumericModel, values: ArrayFactors, saturation: int, computed: Any, seen: list,
                units: list[int]) -> tuple[Any, list[dict[str, Any]], int, Any]:
    """Loss, gradients, the digits an exact pass carried (0: none) and the digits float64 kept where they
    were measured (else None), for a call without ``digits``: exact_gradients' numbers, except where a gate
    saturates (``saturation``: exact.saturation_digits > 0) in a cell whose differences have no distances
    to ±1 to carry them (numeric/distances.py; the minGRU, the minLSTM, a cell file).  Such a pass went to
    the exact one before anything was measured (50–800 ms where float64 takes 1–5 ms, n = 16–64); its
    float64 numbers are now measured first by the nudged reruns, as ``digits=WARN_BELOW`` measures them,
    and stand where they keep that many digits; else the exact pass runs, as before — for only the units
    that fell short where the units never meet (_by_unit; ``units`` is given them).  A GRU carries its
    differences with the distances, as before."""
    from .distances import DistanceForms
    from .unitwise import separable

    if saturation and DistanceForms.of(model.cell) is None:
        report = _report()
        magnitudes: list[dict[str, np.ndarray]] = [{} for _ in range(model.layers)]
        if not separable(model):  # the reruns stop once float64 is short: the whole model goes exact
            found = report.saturated_kept(model, values, saturation, computed, WARN_BELOW)
            if found is not None:
                value, grads, kept = found
                return value, grads, 0, report.shown_digits(kept)
        elif (plain := R.saturated_in_float64(model, values, saturation, magnitudes, computed)) is not None:
            changes = report.EntryChanges()  # every rerun: where float64 is short, they say in which units
            kept = report.kept_digits(model, *plain, magnitudes, changes=changes)
            if R.saturated_stands(kept, WARN_BELOW):
                return *plain, 0, report.shown_digits(kept)
            done = _by_unit(R, model, plain[0], plain[1], changes, WARN_BELOW, kept, units, saturation, settled=False)
            if done is not None:
                return done
    return *R.exact_gradients(model, values, saturation=saturation, computed=computed, seen=seen), None


def _warn_if_amplified(amplified: tuple[float, int], carried: int) -> None:
    """A RoundingWarning when the float64 pass's δ grow past what leaves WARN_BELOW digits: beyond
    10^(16 − 12) when its numbers stand (float64 holds about 16 digits), 10^(D − 12) when mpmath then
    computed them again at D digits (for range or a saturated gate)."""
    growth, k = amplified
    held = carried or 16
    if growth <= held - WARN_BELOW:
        return
    after = "" if not carried else f", more than the {carried} digits mpmath then carried leave room for"
    warnings.warn(f"∂L/∂s_k, as the float64 pass computed it, grows 10^{growth:.1f}-fold from the last step back "
                  f"to k = {k}: a rounding error made there costs that much more{after}, so the gradients may "
                  f"keep fewer than {WARN_BELOW} significant digits; digits=12 measures what they keep and "
                  "recomputes them exactly where they keep fewer", RoundingWarning, stacklevel=3)


MEASURED_COST = 10.0  # the work of a call that measures digits, against a plain one's (three nudged reruns, sizes)


@cache
def _exact_path() -> Any:
    """numeric/exact.py (exact_gradients, saturation_digits, exact_gradients_at: an exact pass where
    float64 did not hold), imported at the first call: an import statement run at every call costs more than a small
    gradient's sums."""
    from . import exact

    return exact


@cache
def _report() -> Any:
    """numeric/reruns.py (kept_digits, shown_digits: the digits float64 kept, measured as `grad` measures
    them), imported at the first call that asks for digits."""
    from . import reruns

    return reruns


def _measured(R: Any, model: NumericModel, digits: int, units: list[int]
              ) -> tuple[Any, list[dict[str, Any]], int, Any]:
    """Loss, gradients, the digits the exact pass carried (0: none) and the digits float64 kept as measured
    (None when mpmath was needed before any measuring), as `symbptt grad` decides: the watched NumPy pass
    with each sum's Σ|terms|, three nudged reruns (reruns.kept_digits), and every number computed
    again exactly (exact_gradients_at: Arb where it serves, else mpmath) when fewer than ``digits`` held
    in a gradient: with a digit kept in every entry, rounding
    grew by about 10^(16 − kept), so with DPS digits more than that; with none kept somewhere, by how
    much is not measured, so until two passes agree (_settled) — after, for one sequence, its exact forward
    pass read in float64 as `grad` reads it (_split), where that keeps them.  Where the reruns found only
    some units of a model whose units never meet short, those alone are computed exactly (_by_unit), and
    ``units`` is given their indices."""
    magnitudes: list[dict[str, np.ndarray]] = [{} for _ in range(model.layers)]
    values, computed = R.float64_pass(model)  # the pass `grad` measures (compiled where its reruns are)
    with values.watch.watch(None):
        saturation = R.saturation_digits(values)  # a saturated gate's differences: measured by the reruns too
        found = R.saturated_in_float64(model, values, saturation, magnitudes, computed) if saturation else None
        if found is None:
            value, grads, used = R.exact_gradients(model, values, saturation=saturation, magnitudes=magnitudes,
                                                   computed=computed, carry=False)  # measured, as `grad` measures
        else:
            (value, grads), used = found, 0
    if used:  # float64 left its range: every number came from the exact pass
        return (*_settled(R, model, used, value, grads), None)
    report = _report()
    changes = report.EntryChanges()  # where the reruns found float64 short, for _by_unit
    kept = report.kept_digits(model, value, grads, magnitudes, changes=changes)
    shown = report.shown_digits(kept)
    if kept[0] >= digits and (found is None or R.saturated_stands(kept, digits)):
        return value, grads, 0, shown
    if found is not None:  # short: the exact pass at the digits its differences need, measured on it, as before
        if (done := _by_unit(R, model, value, grads, changes, digits, kept, units, saturation)) is not None:
            return done  # (only the units that fell short, where the units never meet)
        with values.watch.watch(None):
            value, grads, used = R.exact_gradients(model, values, saturation=saturation, carry=False)
        return (*_settled(R, model, used, value, grads), shown)
    if (done := _by_unit(R, model, value, grads, changes, digits, kept, units)) is not None:
        return done
    exact, at = None, 0  # the split's exact forward pass and its digits, where one was made
    # the digits of the exact pass made where the read falls short (below): the split's forward pass is
    # made with at least as many, so that the rest can be computed from it rather than from a second one
    fallback = report.exact_digits(kept)
    if model.x.shape[2] == 1:
        read, exact, at, rest_at = _split(R, report, model, values, digits, fallback)
        if read is not None:
            return read
        if exact is not None and rest_at is not None:  # the read fell short by what its reruns measured
            return (*R.rest_of(model, exact, rest_at), rest_at, shown)
    if kept[1] >= 1:  # rounding grew by about 10^(16 − kept), as measured
        dps = fallback
        if exact is not None and at >= dps:  # the rest from the split's exact pass, as `grad` computes it
            return (*R.rest_of(model, exact, at), at, shown)
        return (*R.exact_gradients_at(model, dps), dps, shown)
    if exact is not None and at >= R.DPS + 16:  # the split's exact pass is the first of the passes compared
        return (*_settled(R, model, at, *R.rest_of(model, exact, at)), shown)
    dps = fallback
    return (*_settled(R, model, dps, *R.exact_gradients_at(model, dps)), shown)


def _by_unit(R: Any, model: NumericModel, value: Any, grads: list[dict[str, Any]], changes: Any, digits: int,
             kept: tuple[float, float], units: list[int], saturation: int = 0, settled: bool = True
             ) -> tuple[Any, list[dict[str, Any]], int, Any] | None:
    """Where float64 fell short in some units alone of a model whose units never meet: those units computed
    exactly (unitwise.exactly; checked by a pass with twice the digits, _settled, where the worst entry
    kept no digit or a gate saturated: then at the digits its differences need, within the ``saturation``
    bound, as measured on the exact pass (exact.saturated_exact), checked so where ``settled`` — as the
    caller's exact pass of the whole model would be — and a digit kept in every entry, exact.ENTRY_DIGITS,
    as a saturated pass must), their rows in place of float64's, and the digits counted again.

    Returns:
        (loss, gradients, the exact pass's digits, the digits counted again as shown), ``units`` given the
        short units; or None where this does not apply or the count is still short of ``digits``.
    """
    from . import unitwise

    def settle(sub: NumericModel, dps: int) -> tuple[list[dict[str, Any]], int]:
        if saturation:  # as the whole model's exact pass: at the digits the differences need, measured on it
            loss, exact, at = R.saturated_exact(sub, saturation)
            if settled:  # and checked as digits= checks it
                _, exact, at = _settled(R, sub, max(R.DPS, at), loss, exact)
        else:
            _, exact, at = _settled(R, sub, dps, *R.exact_gradients_at(sub, dps))
        return exact, at

    done = unitwise.exactly(model, value, grads, changes, digits, kept, settle, saturation,
                            R.ENTRY_DIGITS if saturation else 0.0)
    if done is None:
        return None
    units.extend(done.units.tolist())
    return value, done.grads, done.digits, _report().shown_digits(done.counted)


def _split(R: Any, report: Any, model: NumericModel, values: ArrayFactors, digits: int, least: int
           ) -> tuple[tuple[Any, list[dict[str, Any]], int, Any] | None, Any, int, int | None]:
    """One sequence whose float64 pass kept fewer than ``digits``: its forward pass exactly and the rest in
    float64 from it, as `grad`'s report reads it (reruns.read_in_float64; at DPS digits, or DPS more
    than the Jacobian norms of the float64 pass say rounding is amplified by where that is beyond what
    float64 spares; else at ``least``, the digits of the exact pass made where the read falls short
    (reruns.exact_digits), so that it can be this pass: Arb's pass costs about as much at 60 digits as at
    30.  The report makes that pass at DPS digits and its rest, where the read falls short, at the same
    digits; the float64 numbers both read are those of the same trajectory, here held to more digits).

    Returns:
        (loss, gradients, the exact pass's digits and what the float64 rest kept, shown as `grad` shows
        it — or None where that does not keep the digits; the exact forward pass, None where none was
        made; its digits; the fewer digits an exact rest from it needs where the float64 rest fell short,
        as its reruns measured it (reruns.ReadIn.rest_digits), else None), so that the caller can compute
        the rest exactly from the same pass."""
    from .cancelled import cancelled_digits
    from .logspace import listed_steps, log10_jacobian_norms

    ks = listed_steps(model.T)
    cancelled = cancelled_digits(values.cc, values.traj)
    lost = report.lost_digits([log10_jacobian_norms(values, layer, ks) for layer in range(1, model.layers + 1)])
    if not math.isfinite(lost):
        return None, None, 0, None
    dps = R.DPS + math.ceil(lost + cancelled) if lost > 16.0 - digits else max(R.DPS, least)
    exact, read = report.exact_then_float64(model, dps, ks, digits)
    dps = exact.digits  # more where the pass's check asked for them
    if read is None:
        return None, exact, dps, None
    if not read.holds(digits):  # the rest exactly, at fewer digits where the read's norms and reruns say
        enough = dps >= R.DPS + report.lost_digits(read.norms)
        return None, exact, dps, read.rest_digits(dps) if enough else None
    _, loss, grads, _, held = read
    return (loss, grads, dps, report.shown_digits(held)), exact, dps, None


AGREE = 15  # digits two exact passes (one with twice the other's digits) share before the later is taken


def _settled(R: Any, model: NumericModel, dps: int, loss: Any, grads: list[dict[str, Any]]
             ) -> tuple[Any, list[dict[str, Any]], int]:
    """An exact pass at ``dps`` digits checked by passes with twice the digits each, until two agree to
    AGREE digits in every block (_agree); the later is returned (it holds about AGREE digits more than the
    first of the two did).  Refused in one line beyond MAX_DIGITS or the budget."""
    while dps < R.MAX_DIGITS:
        more = min(R.MAX_DIGITS, 2 * dps)
        loss2, grads2 = R.exact_gradients_at(model, more)
        if _agree([[loss]] + _blocks(grads), [[loss2]] + _blocks(grads2), AGREE):
            return loss2, grads2, more
        loss, grads, dps = loss2, grads2, more
    raise RunFailed(f"this run's gradients still change beyond {R.MAX_DIGITS} digits: its rounding is amplified "
                    "past what the exact path carries; shorten x or shrink the weights")


def _blocks(grads: list[dict[str, Any]]) -> list[list[Any]]:
    return [list(np.ravel(np.asarray(block, dtype=object))) for layer in grads for block in layer.values()]


def _agree(a: list[list[Any]], b: list[list[Any]], dps: int) -> bool:
    """Whether every pair of blocks agrees to ``dps`` digits relative to the later block's largest entry (as
    the digits float64 kept are counted): an entry that cancels to nearly nothing, or to an exact 0 that
    no precision reaches, does not hold the passes back."""
    tol = mpmath.mpf(10) ** -dps
    for one, two in zip(a, b, strict=True):
        top = max(abs(v) for v in two)
        if any(abs(u - v) > tol * top for u, v in zip(one, two, strict=True)):
            return False
    return True


def _as_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == object:  # mpf: float() rounds to the nearest float64
        return np.array([float(v) for v in arr.flat], dtype=float).reshape(arr.shape)
    out = arr.astype(float, copy=False)  # a new block is returned as it is, a view (δ_0 of h0) copied
    return out if out.base is None else out.copy()


def _log10(block: Any) -> np.ndarray:
    """log10|entry| of a block (float64 or mpf entries); the caller decides what log10(0) raises."""
    arr = np.asarray(block)
    if arr.dtype == object:
        return np.array([P.mp_log10_abs(v) for v in arr.flat], dtype=float).reshape(arr.shape)
    return np.log10(np.abs(arr, dtype=float))
