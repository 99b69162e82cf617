"""Sweeps in one pass: log10|∂h_T/∂h_0| for a whole grid of weights (or gains) and every T at once.

The scalar sweep runs one vectorised forward pass over the weight grid, a_t = w h_{t-1} + u x_t + b for
all w together, and turns the product of factors into a cumulative sum of log10|w σ'(a_t)| down the time
axis (σ' from a, stably).  The matrix sweep multiplies the step Jacobians of W = g·W0 for all gains at
once, renormalising the running product each step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..activations import get_activation, positively_homogeneous
from ..cells import Cell
from ..config import Config
from ..errors import SymbpttError
from ..primitives import LN10
from ..validate import array, choice, instance, integer, number, shape_text, text
from ..validate import seed as checked_seed
from .examples import INITS, unit_recurrent
from .forward import ROUNDING
from .spectral import BLOCK, spectral_norms


def drive_inputs(T_max: int, seed: int, x: np.ndarray | None = None) -> np.ndarray:
    """The inputs x_t of a sweep: given (at least T_max finite numbers, the first T_max used), or drawn
    from U(−1, 1) with ``seed`` (a whole number from 0 to validate.MAX_SEED)."""
    if x is None:
        return np.random.default_rng(checked_seed(seed, "seed")).uniform(-1.0, 1.0, T_max)
    given = array("x", x, finite=False)
    if given.ndim != 1 or given.size < T_max or not np.isfinite(given[:T_max]).all():
        raise SymbpttError(f"x must be a 1-D array of at least T_max = {T_max} finite numbers, got shape "
                           f"{shape_text(given.shape)}")
    return given[:T_max]


LOG10_4 = math.log10(4.0)
PROGRESS_EVERY = 1 << 16  # steps between two calls of a long sweep's progress (a power of two)


def _tanh_pass(w: np.ndarray, drive: np.ndarray, h0: float, progress: Callable[[int], None] | None = None
               ) -> np.ndarray:
    """log10|∂h_T/∂h_0| for tanh over the grid, every T, from one forward pass that evaluates
    m = expm1(−2|a|) once per cell and takes both the state and the factor from it:

        tanh a = sign(a)·|m|/(2 + m),   ln sech² a = ln 4 − 2(|a| + ln(2 + m)),

    with no cancellation anywhere (2 + m ∈ (1, 2]), so saturated units keep every digit.  The loop
    accumulates Σ_t (|a_t| + ln(2 + m_t)) row by row; the scale −2/ln 10 and the per-step constant
    log10 4|w| are applied once at the end (a cumulative sum is linear)."""
    T, G = drive.size, w.size
    out = np.empty((T, G))
    h = np.full(G, float(h0))
    a, size, m, s = np.empty(G), np.empty(G), np.empty(G), np.empty(G)
    previous = np.zeros(G)
    for t in range(T):
        if progress is not None and not t & (PROGRESS_EVERY - 1):  # a progress line on a terminal
            progress(t)
        np.multiply(w, h, out=a)
        a += drive[t]
        np.abs(a, out=size)
        np.multiply(size, -2.0, out=m)
        np.expm1(m, out=m)
        np.add(m, 2.0, out=s)
        np.divide(m, s, out=h)
        np.copysign(h, a, out=h)
        row = out[t]
        np.log(s, out=row)
        row += size
        row += previous
        previous = row
    constant = LOG10_4 + np.log10(np.abs(w))
    for t in range(T):  # row by row, while each row is in cache
        row = out[t]
        row *= -2.0 / LN10
        np.add(row, constant * (t + 1), out=row)
    return out


def _generic_pass(w: np.ndarray, drive: np.ndarray, h0: float, activation: str,
                  progress: Callable[[int], None] | None = None) -> np.ndarray:
    act = get_activation(activation)
    T = drive.size
    pre = np.empty((T, w.size))
    h = np.full(w.size, float(h0))
    for t in range(T):
        if progress is not None and not t & (PROGRESS_EVERY - 1):
            progress(t)
        np.multiply(w, h, out=pre[t])
        pre[t] += drive[t]
        h = act.np_sigma(pre[t])
    logs = act.np_log10_dsigma(pre)
    logs += np.log10(np.abs(w))
    return logs


ROUNDING_DIGITS = 13.0  # amplification (decades) beyond which float64 keeps under 3 digits of the state
# how every sentence about it writes that amplification and the digits it leaves of float64's 16
AMPLIFIED = f"10^{ROUNDING_DIGITS:g}"
DIGITS_LEFT = f"{16 - ROUNDING_DIGITS:g}"


def rounding_decides(values: np.ndarray, activation: str | None) -> np.ndarray:
    """Where a sweep's value is decided by rounding, not by the model: the forward pass amplifies an error
    made at step k by ‖∂h_T/∂h_k‖ ≥ 10^(v_T − v_k) (v = log10‖∂h_t/∂h_0‖, submultiplicativity), so where
    v_T − min_{1≤k≤T} v_k exceeds ROUNDING_DIGITS the float64 trajectory keeps fewer than 3 digits and
    another summation order gives another value.  Steps from k = 1: h_0 is given, so no rounding is made
    there (w = 1e300 grows ∂h_1/∂h_0 by 300 decades, and was marked at T = 1, where v_1 holds every
    digit).  Nothing is marked for a positively homogeneous σ (linear, relu: activations.positively_homogeneous),
    whose state grows as the errors do, so that they keep their size relative to it; ``activation`` None
    for a cell whose state cannot grow so (cells.base.Cell.bounded: a gated cell).
    Boolean array of the shape of ``values`` (T, grid)."""
    values = np.asarray(values, dtype=float)
    if activation is not None and positively_homogeneous(activation):  # the state grows with the amplification
        return np.zeros(values.shape, dtype=bool)
    finite = np.where(np.isfinite(values), values, np.nan)
    lowest = np.fmin.accumulate(finite, axis=0)
    with np.errstate(invalid="ignore"):
        return (finite - lowest) > ROUNDING_DIGITS


def cell_rounding_decides(spec: Cell, activation: str, values: np.ndarray) -> np.ndarray | None:
    """rounding_decides for a cell's whole-state log10 norms (T, grid), judged as the cell's facts allow:
    by its σ where it takes -a (a relu or linear state grows as its errors do), with no exemption where
    its state grows at most linearly (Cell.bounded); None where neither is known (a cell file)."""
    if spec.uses_activation:
        return rounding_decides(values, activation)
    return rounding_decides(values, None) if spec.bounded else None


def held_decimals(shift: np.ndarray | float, most: int) -> np.ndarray:
    """Decimals of a value that a measured shift of it leaves standing: the last one printed at least four
    times the shift, from 0 to ``most`` (``most`` for no shift, 0 for one that is not a number)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        places = np.floor(-np.log10(4 * np.asarray(shift, dtype=float)))
    return np.clip(np.nan_to_num(places, nan=0.0, posinf=float(most), neginf=0.0), 0, most).astype(int)


def decimals_text(places: int) -> str:
    """'1 decimal', '3 decimals': how the sentences name the decimals held_decimals leaves."""
    return f"{places} decimal{'' if places == 1 else 's'}"


def grad_rounding_decides(weights: np.ndarray, T_max: int, activation: str, u: float = 1.0, b: float = 0.0,
                          h0: float = 0.0, x: np.ndarray | None = None, seed: int = 0,
                          loss: str = "last") -> np.ndarray:
    """Where rounding decides a value of sweep_grad with the same arguments: its forward pass is
    sweep_scalar's, so rounding_decides reads the amplification off that sweep; for loss 'sum' every h_t
    with t ≤ T enters L, so once a step is decided every later T is too.  Boolean array (T_max, grid)."""
    values = sweep_scalar(weights, T_max, activation, u=u, b=b, h0=h0, x=x, seed=seed)
    mask = rounding_decides(values, activation)
    return np.logical_or.accumulate(mask, axis=0) if loss == "sum" else mask


def checked_grid(values: np.ndarray, T_max: int) -> tuple[int, np.ndarray]:
    """The checked arguments of a sweep: T_max a whole number ≥ 1, the grid a non-empty 1-D array of finite
    numbers, and their product within the sweep budget."""
    from ..budget import check_sweep

    T_max = integer("T_max", T_max)
    grid = array("the grid", values, finite=False)
    if grid.ndim != 1 or not grid.size or not np.isfinite(grid).all():
        raise SymbpttError("the grid must be a non-empty 1-D array of finite numbers")
    check_sweep(T_max, grid.size, 1)
    return T_max, grid


def sweep_scalar(weights: np.ndarray, T_max: int, activation: str, u: float = 1.0, b: float = 0.0,
                 h0: float = 0.0, x: np.ndarray | None = None, seed: int = 0,
                 progress: Callable[[int], None] | None = None) -> np.ndarray:
    """log10|∂h_T/∂h_0| for every weight and every T = 1..T_max, shape (T_max, len(weights)): −∞ where a
    factor is exactly 0, NaN where the value is beyond float64 (a log10 past −1.8e308, a state past
    1.8e308); ``progress(t)`` is called now and then with the step reached.

    One forward pass over the whole grid; log10|∂h_T/∂h_0| = Σ_{t≤T} log10|w σ'(a_t)| is a cumulative
    sum down the time axis."""
    T_max, w = checked_grid(weights, T_max)
    u, b, h0 = _numbers(u=u, b=b, h0=h0)
    get_activation(activation)  # a name or an expression (one line where it is neither), before it is compared
    drive = u * drive_inputs(T_max, seed, x) + b
    with np.errstate(all="ignore"):
        if activation == "tanh":  # −∞ only for w = 0; elsewhere it is a sum past −1.8e308: beyond float64
            out = _tanh_pass(w, drive, h0, progress)
            out[np.isneginf(out) & (w != 0)] = np.nan
            return out
        logs = _generic_pass(w, drive, h0, activation, progress)
        zero = np.isneginf(logs)  # a factor that is exactly 0
        for t in range(1, T_max):  # row by row: 5× faster than np.cumsum down axis 0
            logs[t] += logs[t - 1]
            zero[t] |= zero[t - 1]
        logs[np.isneginf(logs) & ~zero] = np.nan  # finite factors whose sum passed −1.8e308: not an exact 0
        return logs


def _numbers(**values: object) -> list[float]:
    """Each keyword's value as a finite float, in order (a one-line error naming the first that is not)."""
    return [number(name, value) for name, value in values.items()]


def bare_forward(weights: np.ndarray, T_max: int, u: float = 1.0, b: float = 0.0, h0: float = 0.0,
                 x: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """The floor a sweep is measured against: only h_t = tanh(w h_{t-1} + u x_t + b) over the grid."""
    w = np.asarray(weights, dtype=float)
    drive = u * drive_inputs(T_max, seed, x) + b
    h = np.full(w.size, float(h0))
    for t in range(T_max):
        h = np.tanh(w * h + drive[t])
    return h


def random_recurrent_matrix(n: int, seed: int = 0) -> np.ndarray:
    """W0 with entries N(0, 1/n), so that the gain g sets the scale (ρ(gW0) ≈ g for large n)."""
    return np.random.default_rng(seed).normal(0.0, 1.0 / math.sqrt(n), (n, n))


def recurrent_matrix(n: int, seed: int = 0, init: str = "gaussian") -> np.ndarray:
    """W0 of a network drawn with ``seed`` as ``init`` says (examples.INITS; the Gaussian one is
    random_recurrent_matrix's)."""
    if text("init", init, f"one of {', '.join(INITS)}") == "gaussian":
        return random_recurrent_matrix(n, seed)
    return unit_recurrent(np.random.default_rng(seed), n, init)


def gain_sweep_floats(gains: int, n: int) -> float:
    """The float64 values sweep_gain holds at once: W = g·W0, the running product and its next value (n × n
    each, per gain), and the power iteration's blocks (n × BLOCK per gain, a few of them)."""
    return float(gains) * n * (3.0 * n + 4.0 * BLOCK)


def sweep_gain(gains: np.ndarray, T_max: int, activation: str, n: int, seed: int = 0,
               W0: np.ndarray | None = None, input_scale: float = 1.0, init: str = "gaussian") -> np.ndarray:
    """log10‖∂h_T/∂h_0‖₂ for W = g·W0 over a grid of gains and T = 1..T_max, shape (T_max, len(gains)).

    W0 is drawn as ``init`` says (INITS) unless given.  The running product J_t ⋯ J_1 is kept for all
    gains at once, rescaled each step (its log scale summed apart), and its spectral norm found by a
    warm-started power iteration (spectral_norms)."""
    checked_grid(gains, T_max)
    from ..budget import check_sweep

    n = integer("n", n, 2, 256)
    check_sweep(T_max, np.size(gains), n, gain_sweep_floats(np.size(gains), n))
    act = get_activation(activation)
    seed = checked_seed(seed, "seed")
    (input_scale,) = _numbers(input_scale=input_scale)
    rng = np.random.default_rng(seed)
    if W0 is None:
        W0 = recurrent_matrix(n, seed, init)
    else:
        W0 = array("W0", W0, (n, n))  # n×n and finite: validate.array's own checks
    drive = input_scale * rng.normal(0.0, 1.0, (T_max, n))
    g = np.asarray(gains, dtype=float)
    Ws = g[:, None, None] * W0[None]
    h = np.zeros((g.size, n))
    product = np.broadcast_to(np.eye(n), (g.size, n, n)).copy()
    vectors = np.broadcast_to(np.eye(n, min(BLOCK, n)), (g.size, n, min(BLOCK, n))).copy()
    block_rng = np.random.default_rng(seed)
    out = np.full((T_max, g.size), -np.inf)
    alive, broken = g != 0, np.zeros(g.size, dtype=bool)
    with np.errstate(all="ignore"):
        scale = np.log10(np.abs(g))  # log10 of the factor taken out of the running product
        for t in range(T_max):
            a = np.einsum("gij,gj->gi", Ws, h) + drive[t]  # W = g·W0 formed first, as a user would
            h = act.np_sigma(a)
            logd = act.np_log10_dsigma(a)  # log10 σ'(a_t), finite or −∞
            top = np.max(logd, axis=1)
            top = np.where(top == -np.inf, 0.0, top)
            product = np.matmul(W0, product)  # J_t P = diag(σ'(a_t)) g W0 P, with g and 10^top kept apart
            product *= (10.0 ** (logd - top[:, None]))[:, :, None]
            broken |= ~np.isfinite(product).all(axis=(1, 2)) | ~np.isfinite(top)
            product[broken] = np.eye(n)  # a gain whose σ' left float64: NaN from here on
            norms, vectors = spectral_norms(product, vectors, block_rng)
            alive &= norms > 0
            scale += top + np.log10(np.where(alive, norms, 1.0))
            out[t] = np.where(broken, np.nan, np.where(alive, scale, -np.inf))
            product /= np.where(alive, norms, 1.0)[:, None, None]
            scale += np.where(alive, np.log10(np.abs(g)), 0.0)
    return out


# ---------------------------------------------------------------- ∂L/∂θ over the grid, forward mode

ZERO_EXPONENT = -(2**60)  # the binary exponent of an exact zero: below every other
MAX_EXPONENT = 2**58  # |binary exponent| a tangent may reach; beyond it (10^(±8.7e16)) the value is NaN
LOG10_2 = math.log10(2.0)


def _normalised(mantissa: np.ndarray, exponent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mantissa·2^exponent with the mantissa brought into [0.5, 1) (np.frexp) and zeros marked."""
    m, k = np.frexp(mantissa)
    e = np.where(m == 0, ZERO_EXPONENT, exponent + k)
    return m, e


def _scaled_add(m1: np.ndarray, e1: np.ndarray, m2: np.ndarray, e2: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """m1·2^e1 + m2·2^e2 with neither side over- or underflowing: both scaled to the larger exponent
    (the smaller term rounds to 0 when it is below the larger one's last bit, as in any float sum)."""
    e = np.maximum(e1, e2)
    gap1 = np.maximum(e1 - e, -4000)
    gap2 = np.maximum(e2 - e, -4000)
    return _normalised(np.ldexp(m1, gap1) + np.ldexp(m2, gap2), e)


def _log10_scaled(m: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.where(m == 0, -np.inf, np.log10(np.abs(np.where(m == 0, 1.0, m))) + e * LOG10_2)


def sweep_grad(weights: np.ndarray, T_max: int, activation: str, u: float = 1.0, b: float = 0.0,
               h0: float = 0.0, x: np.ndarray | None = None, seed: int = 0, y: float = 0.0,
               loss: str = "last", wrt: str = "w") -> np.ndarray:
    """log10|∂L/∂θ| for θ ∈ {w, u, b, h0} of the scalar RNN, every weight of the grid and every
    T = 1..T_max (the loss of a sequence of length T: ½(h_T − y)² for 'last', Σ_{t≤T} ½(h_t − y)² for
    'sum'), shape (T_max, len(weights)).

    One forward pass carries the tangent s_t = ∂h_t/∂θ beside the state (forward-mode
    differentiation, so every T comes out of the same pass):

        s_t = σ'(a_t)·(∂a_t/∂θ + w·s_{t−1}),   ∂a_t/∂θ = h_{t−1}, x_t, 1, 0 for θ = w, u, b, h0,
        s_0 = 1 for h0, else 0;   ∂L/∂θ = (h_T − y)·s_T  or  Σ_{t≤T} (h_t − y)·s_t.

    Every tangent and sum is kept as mantissa·2^exponent with an integer exponent and σ'(a) enters
    through its stable log, so 10^-5000 and 10^+5000 are numbers, not 0 and ∞.  A state that itself
    leaves float64 (|h_t| > 1.8e308, possible with an unbounded σ), or a σ'(a_t) or tangent beyond
    10^(±8.7e16) (a custom σ' such as that of tanh(sinh(a)) far out), makes the value NaN."""
    choice("wrt", wrt, ("w", "u", "b", "h0"))
    if not isinstance(loss, str) or loss not in ("last", "sum"):
        raise SymbpttError(f"loss must be 'last' or 'sum', got {loss!r:.40}")
    T_max, w = checked_grid(weights, T_max)
    u, b, h0, y = _numbers(u=u, b=b, h0=h0, y=y)
    act = get_activation(activation)
    G = w.size
    from ..budget import GRAD_SWEEP_CELL, GRAD_SWEEP_STEP, estimate

    estimate(f"the sweep of ∂L/∂{wrt} over {G} weight(s) and T = 1..{T_max}", "lower -T or --points",
             seconds=T_max * (GRAD_SWEEP_STEP + GRAD_SWEEP_CELL * G))  # a Python loop over t
    xs = drive_inputs(T_max, seed, x)
    out = np.empty((T_max, G))
    h = np.full(G, float(h0))
    zero_e = np.full(G, ZERO_EXPONENT, dtype=np.int64)
    sm, se = (np.ones(G), np.zeros(G, dtype=np.int64)) if wrt == "h0" else (np.zeros(G), zero_e.copy())
    sm, se = _normalised(sm, se)
    gm, ge = np.zeros(G), zero_e.copy()  # the running sum of the 'sum' loss
    w_m, w_e = _normalised(w, np.zeros(G, dtype=np.int64))
    overflowed = np.zeros(G, dtype=bool)  # the state itself left float64 (unbounded σ): NaN from then on
    with np.errstate(all="ignore"):
        for t in range(T_max):
            a = w * h + (u * xs[t] + b)
            direct = h if wrt == "w" else np.full(G, xs[t] if wrt == "u" else float(wrt == "b"))  # ∂a_t/∂θ
            pm, pe = _normalised(w_m * sm, w_e + se)  # w·s_{t−1}
            dm, de = _normalised(direct, np.zeros(G, dtype=np.int64))
            vm, ve = _scaled_add(dm, de, pm, pe)
            log2_d = act.np_log10_dsigma(a) / LOG10_2  # σ'(a_t) = ±2^{log2_d}
            # σ' whose log is NaN (beyond float64's range) or whose binary exponent the int64 exponents could
            # not add up over the steps: no value from here on (NaN), never a false 0
            overflowed |= np.isnan(log2_d) | (np.abs(np.where(np.isfinite(log2_d), log2_d, 0.0)) > MAX_EXPONENT)
            held = np.isfinite(log2_d) & ~overflowed
            sign = np.sign(act.np_dsigma(a))
            sign = np.where(sign == 0, 1.0, sign)
            whole = np.floor(np.where(held, log2_d, 0.0))
            factor = np.where(held, sign * np.exp2(log2_d - whole), 0.0)
            sm, se = _normalised(vm * factor, ve + whole.astype(np.int64))
            overflowed |= (sm != 0) & (np.abs(se) > MAX_EXPONENT)
            h = act.np_sigma(a)
            error = h - y
            if loss == "sum":
                em, ee = _normalised(error * sm, se)
                gm, ge = _scaled_add(gm, ge, em, ee)
                out[t] = _log10_scaled(gm, ge)
            else:
                out[t] = _log10_scaled(sm, se) + np.log10(np.abs(error))
            overflowed |= ~np.isfinite(h)
            out[t, overflowed] = np.nan
    return out


# ---------------------------------------------------------------- any cell: one parameter × T


def sweep_configs(configs: list) -> dict[str, np.ndarray]:
    """log10‖∂s_T/∂s_0‖₂ for every T and every configuration (one column each): the whole state and each
    state's block (∂h_T/∂h_0, ∂c_T/∂c_0); a one-state cell gives its block only.  One forward pass and
    one accumulated product per configuration."""
    from .factors import ArrayFactors, NumericModel  # the generic engine: imported when a cell is swept
    from .logspace import log10_norms_by_T

    columns = []
    with np.errstate(all="ignore"):
        for cfg in configs:
            columns.append(log10_norms_by_T(ArrayFactors(NumericModel.of(cfg))))
    names = [name for name in columns[0] if name != "state" or len(columns[0]) > 2]
    return {name: np.stack([c[name] for c in columns], axis=1) for name in names}


def sweep_param(cfg: Config, param: str, grid: np.ndarray) -> dict[str, np.ndarray]:
    """sweep_configs over copies of ``cfg`` whose parameter ``param`` (all entries, first layer) takes
    each value of ``grid``: arrays of shape (T, len(grid))."""
    from .examples import with_param

    instance("sweep_param", cfg, Config, "a Config", "sweep_param(load_config('example'), 'W', [0.5, 1.0])")
    if not isinstance(param, str):
        raise SymbpttError(f"param must be the name of a parameter, got {type(param).__name__}")
    param = cfg.spec.param_named(param) or param
    if param not in cfg.spec.params:
        raise SymbpttError(f"unknown parameter {param!r} for the {cfg.spec.name} cell; choose one of "
                           f"{', '.join(cfg.spec.params)}")
    _, values = checked_grid(grid, cfg.x.shape[0])
    return sweep_configs([with_param(cfg, param, float(v)) for v in values])


def orthogonal_matrix(n: int, seed: int = 0) -> np.ndarray:
    """A random orthogonal n×n matrix (Haar measure: QR of a Gaussian matrix, the signs of R's diagonal
    moved into Q), so that g·Q has every singular value equal to g."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(0.0, 1.0, (n, n)))
    return q * np.sign(np.diag(r))[None, :]


HELD_DECADES = 1e-3  # how far a singular value's log10 may move under the nudged products and still be drawn
NUDGE_SEED = 20261205  # the sign patterns of those products


def jacobian_singular_values(W: np.ndarray, activation: str, steps: list[int], seed: int = 0,
                             input_scale: float = 1.0) -> dict[int, np.ndarray]:
    """log10 of the singular values of ∂h_T/∂h_0 = J_T ⋯ J_1 (J_t = diag(σ'(a_t)) W, a_t = W h_{t−1} + x_t,
    x_t ~ N(0, input_scale²) per unit, h_0 = 0) at each T in ``steps``, largest first.  The running product
    is rescaled every step (its log10 scale kept apart).  A product is no larger in rank than any of its
    factors, so where only r units have σ'(a_t) ≠ 0 at some step t ≤ T, every singular value after the
    r-th is exactly 0 and comes back as −∞ (a slope is exactly 0 where log10 σ' is −∞: one that only
    underflowed in float64 does not lower r, and the values float64 lost through it come back as NaN;
    where every slope of a step is 0 in float64 the product is 0 from there on, and those values stay
    so).  Of the others, those float64 does not hold to HELD_DECADES
    come back as NaN (beyond float64's resolution of the product), measured: the product is formed twice
    more with every entry moved by about one unit in the last place at every step, up or down by a sign
    of its own (two sign patterns, drawn once from a fixed seed), and a value whose log10 moves by more
    than HELD_DECADES in either is not kept.  (A fixed share of the largest does not say it: in products
    of 60 steps, values at 1.4 times 10^−15 of the largest were off by 0.009 decades; the products' own
    rounding cost up to 9 times what LAPACK's SVD alone loses.)"""
    act = get_activation(activation)
    n, T_max = W.shape[0], max(steps)
    drive = input_scale * np.random.default_rng(seed).normal(0.0, 1.0, (T_max, n))
    h, product, scale, out = np.zeros(n), np.eye(n), 0.0, {}
    signs = np.random.default_rng(NUDGE_SEED).integers(0, 2, size=(2, n, n)) * 2.0 - 1.0
    noises = [1.0 + 2.0 * ROUNDING * pattern for pattern in signs]  # × (1 ± 2⁻⁵²): one ulp up or down
    nudged = [np.eye(n) for _ in noises]
    rank = n  # the fewest units with σ' ≠ 0 at one step so far: a bound on the product's rank
    held = n  # the fewest with σ' ≠ 0 in float64 (a slope that underflowed to 0 is not exactly 0)
    with np.errstate(all="ignore"):
        for t in range(1, T_max + 1):
            a = W @ h + drive[t - 1]
            h = act.np_sigma(a)
            slopes = act.np_dsigma(a)
            if not (np.isfinite(h).all() and np.isfinite(slopes).all()):
                raise SymbpttError(f"σ(a) or σ'(a) is not a finite float64 at step {t} (|a| up to "
                                   f"{float(np.max(np.abs(a))):.3g}): lower the gain (--gain) or the inputs (-u)")
            if not slopes.all():  # a slope of 0: exactly 0 where log10 σ' is −∞, else only underflowed
                exact_zero = np.isneginf(act.np_log10_dsigma(a))
                rank = min(rank, n - int(np.count_nonzero(exact_zero)))
                held = min(held, int(np.count_nonzero(slopes)))
            if held == 0:  # the float64 product is 0 from step t on: exactly 0 beyond the rank, not held below it
                gone = np.full(n, -np.inf)
                gone[:rank] = np.nan
                out.update({T: gone.copy() for T in steps if T >= t})
                break
            product = slopes[:, None] * (W @ product)
            top = float(np.max(np.abs(product)))
            if not math.isfinite(top) or top == 0:
                raise SymbpttError(f"the product of step Jacobians left float64's range at step {t} (its largest "
                                   f"entry {'overflowed' if top else 'underflowed to 0'}); lower the gain (--gain)")
            product /= top
            nudged = [noise * (slopes[:, None] * (W @ moved)) / top
                      for noise, moved in zip(noises, nudged, strict=True)]
            scale += math.log10(top)
            if t in steps:
                values = np.log10(np.linalg.svd(product, compute_uv=False))
                moved = [np.log10(np.linalg.svd(m, compute_uv=False)) for m in nudged]
                steady = np.all([np.abs(m - values) <= HELD_DECADES for m in moved], axis=0)
                kept = np.where(steady, values, np.nan)
                kept[held:rank] = np.nan  # beyond what float64 kept (slopes that underflowed), within the rank
                kept[rank:] = -np.inf
                out[t] = kept + scale
    return out
