"""Mean-field theory of a random vanilla RNN: what a typical network of infinite width does.

For W_ij ~ N(0, σ_w²/n), b_i ~ N(0, σ_b²) and inputs whose drive U x has variance σ_u²·q_x per unit, the
pre-activations of a wide network are Gaussian with variance q, which settles at the fixed point

    q* = σ_w² E_z[φ(√q* z)²] + σ_u² q_x + σ_b²,        z ~ N(0, 1),

and a backpropagated vector's squared norm is multiplied at every step by

    χ = σ_w² E_z[φ'(√q* z)²]

so ‖∂h_T/∂h_0‖² ≈ χ^T: ordered (vanishing) for χ < 1, chaotic (exploding) for χ > 1, critical at χ = 1
(the edge of chaos: tanh without bias or input at σ_w = 1, ReLU at σ_w² = 2).  The depth scale
1/|ln χ| is the number of steps over which the norm changes by a factor e^(1/2).  This is a prediction
for n → ∞ averaged over networks; the exact values of one network of finite width are what the rest of
the tool computes.

Expectations are computed by composite Simpson quadrature on each side of z = 0 (where the built-in
kinks sit) over |z| ≤ 12 (the Gaussian tail beyond is below 1e-32), in the variable s of z = sinh(s)/c
with c ≥ √q: the activation changes over |√q z| ~ 1, so for a large q everything happens at |z| ~ 1/√q,
which a grid uniform in z would step over; uniform in s, the grid is as fine there as it is near |z| ~ 1.
The number of digits the rule agrees to with half as many panels is reported, and the text prints no
more digits than that.  Nor more than rounding leaves: each quadrature sum is allowed a relative error of
ROUNDED, and a root (q*, the edge's σ_w) is printed to the digits shared by every point around it where
the computed sign could be rounding's (held_digits).  Near the edge that is few: for tanh without bias
χ − 1 grows like (4/3)δ² above σ_w = 1 + δ, so the edge is held to about 6 digits, and q* just above it
to fewer.
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np

from ..activations import Activation, get_activation
from ..errors import SymbpttError
from ..validate import flag

Z_MAX = 12.0
Q_MAX = 1e6  # a fixed point beyond this is "no finite fixed point"
CRITICAL = 1e-9  # |χ - 1| below this is the edge
# relative error allowed a quadrature sum for rounding: its 4,097 terms per side are positive (φ², φ'²),
# each within ~10 ulp (the activation, the weight's exp, sinh and cosh), and BLAS adds them in a few dozen
# partial sums (~200 ulp at most): 512 ulp
ROUNDED = 2.0**-44
MOST_DIGITS = 12  # printed at most
WIDTH = 80  # the text's lines, in characters


@dataclass(frozen=True)
class Theory:
    """The mean-field prediction for one activation and one set of variances (see the module docstring)."""

    activation: str
    sigma_w: float
    sigma_b: float
    sigma_u: float
    input_var: float
    q_star: float | None  # None: no fixed point up to q_limit (the variance map stays above q)
    chi: float | None  # as a float64 (0 where it underflows: log10_chi holds it)
    depth_scale: float | None  # 1/|ln χ| (inf at the edge, 0 for χ = 0)
    phase: str  # ordered, critical, chaotic, or unbounded
    critical_sigma_w: float | None  # σ_w with χ = 1 for these σ_b, σ_u, q_x (None: none in (0, EDGE_SEARCH[1]])
    digits: int  # the quadrature's agreement
    log10_chi: float | None = None  # log10 χ, finite wherever χ > 0 (−inf for χ = 0)
    q_limit: float = 0.0  # how far up the fixed point was looked for
    # where rounding leaves each one (held_digits): q* and χ at these σ_w, the edge's σ_w
    q_star_band: tuple[float, float] | None = None
    chi_band: tuple[float, float] | None = None
    critical_band: tuple[float, float] | None = None

    def held(self) -> dict[str, int | None]:
        """The significant digits each number keeps: the quadrature's agreement, at most MOST_DIGITS, and
        no more than its band holds (held_digits; None where there is no number)."""
        most = max(1, min(MOST_DIGITS, self.digits))
        out: dict[str, int | None] = {}
        for name, value, band in (("q_star", self.q_star, self.q_star_band), ("chi", self.chi, self.chi_band),
                                  ("critical_sigma_w", self.critical_sigma_w, self.critical_band)):
            out[name] = None if value is None else most if band is None else held_digits(*band, most=most)
        return out

    @property
    def rate(self) -> float:
        """½ ln χ, the predicted log-rate of ‖∂h_T/∂h_0‖ per step: from log10 χ, so finite where χ
        underflows; −inf for χ = 0; NaN where there is no fixed point (no prediction)."""
        return math.nan if self.log10_chi is None else 0.5 * math.log(10.0) * self.log10_chi

    def as_json(self) -> dict:
        return {"activation": self.activation, "sigma_w": self.sigma_w, "sigma_b": self.sigma_b,
                "sigma_u": self.sigma_u, "input_var": self.input_var, "q_star": self.q_star, "chi": self.chi,
                "log10_chi": None if self.log10_chi is None or math.isinf(self.log10_chi) else self.log10_chi,
                "depth_scale": None if self.depth_scale is None or math.isinf(self.depth_scale)
                else self.depth_scale, "phase": self.phase, "critical_sigma_w": self.critical_sigma_w,
                "quadrature_digits": self.digits, "q_searched_to": self.q_limit, "digits_held": self.held(),
                "bands": {"q_star": _pair(self.q_star_band), "chi": _pair(self.chi_band),
                          "critical_sigma_w": _pair(self.critical_band)}}

    def text(self) -> str:
        """The prediction in words, each number to the digits it holds (held: the quadrature's agreement,
        at most 12, and what rounding leaves of a root or of χ near the edge)."""
        held = self.held()
        sig = max(1, min(MOST_DIGITS, self.digits))
        lines = [f"mean field, n → ∞: {self.activation}, σ_w = {self.sigma_w:g}, σ_b = {self.sigma_b:g}, "
                 f"σ_u = {self.sigma_u:g}, input variance {self.input_var:g}"]
        if self.q_star is None:
            lines.append(f"q* = ∞: no fixed point up to q = {self.q_limit:.3g} (the variance map stays above q)")
        else:
            lines.append(f"q* = {_shown(self.q_star, self.q_star_band, held['q_star'], sig)}   "
                         "(variance of a pre-activation at the fixed point)")
            assert self.log10_chi is not None
            decades = 0.5 * self.log10_chi  # of ‖∂h_T/∂h_0‖ per step
            normal = self.chi is not None and self.chi >= 1e-300
            shown = (_shown(self.chi, self.chi_band, held["chi"], sig) if normal and self.chi is not None
                     else _power(self.log10_chi, sig))
            per_step = _log_band(self.chi_band, 0.5 / math.log(10.0))
            short = min(6, sig)  # a rate and a scale are printed to 6 digits at most
            step = "-∞" if math.isinf(decades) else _shown(decades, per_step,
                                                            min(short, _digits_or_most(per_step, sig)), short)
            line = f"χ  = {shown}  (‖∂h_T/∂h_0‖² ≈ χ^T: log10 ‖∂h_T/∂h_0‖ ≈ {step} per step)"
            if len(line) > WIDTH:  # its gloss on lines of its own, so that an 80-column terminal keeps it
                head, gloss = line.split("  (", 1)
                line = "\n".join([head, *textwrap.wrap("(" + gloss, WIDTH, initial_indent="     ",
                                                        subsequent_indent="     ", break_on_hyphens=False,
                                                        break_long_words=False)])
            lines.append(line)
            assert self.depth_scale is not None
            scale_band = _inverse_band(_log_band(self.chi_band, 1.0))
            scale = "∞" if math.isinf(self.depth_scale) else _shown(
                self.depth_scale, scale_band, min(short, _digits_or_most(scale_band, sig)), short)
            lines.append(f"depth scale 1/|ln χ| = {scale} steps; phase: {self.phase}")
        critical = (f"none in (0, {EDGE_SEARCH[1]:g}]" if self.critical_sigma_w is None else
                    _shown(self.critical_sigma_w, self.critical_band, held["critical_sigma_w"], sig))
        lines.append(f"edge of chaos (χ = 1) for these σ_b, σ_u: σ_w = {critical}")
        lines.append(f"expectations by quadrature, agreeing to {self.digits} digits")
        return "\n".join(lines) + "\n"


def held_digits(low: float, high: float, most: int = MOST_DIGITS) -> int:
    """The significant digits a number known only to lie in [low, high] holds: the most d (≤ ``most``) for
    which the interval's midpoint rounded to d digits is within half a unit of its last digit of both
    ends, so that every point of the interval prints the same; 0 when not even one digit is shared."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0
    if low == high:
        return most
    middle = 0.5 * (low + high)
    for d in range(most, 0, -1):
        rounded = float(f"{middle:.{d - 1}e}")
        if rounded == 0.0:
            return 0
        half = 0.5 * 10.0 ** (math.floor(math.log10(abs(rounded))) - d + 1)
        if max(abs(rounded - low), abs(rounded - high)) <= half * (1 + 1e-12):
            return d
    return 0


def _shown(value: float, band: tuple[float, float] | None, digits: int | None, most: int = MOST_DIGITS) -> str:
    """A number to the digits it holds, with its trailing zeros where its band leaves fewer than ``most``
    (there they are held digits too: 1.0000); where not one is, the interval it lies in."""
    if band is not None and not digits:
        low, high = ("∞" if math.isinf(end) else f"{end:.2g}" for end in band)
        return f"between {low} and {high}"
    digits = digits or MOST_DIGITS
    if band is not None and math.isfinite(band[0]) and math.isfinite(band[1]):
        value = 0.5 * (band[0] + band[1])
    if value == 0.0 or not math.isfinite(value):
        return f"{value:g}"
    if band is None or digits >= most:
        return f"{value:.{digits}g}"
    text = f"{value:#.{digits}g}"
    mantissa, _, exponent = text.partition("e")
    return mantissa.rstrip(".") + (f"e{exponent}" if exponent else "")


def _digits_or_most(band: tuple[float, float] | None, most: int) -> int:
    return most if band is None else held_digits(*band, most=most)


def _log_band(band: tuple[float, float] | None, factor: float) -> tuple[float, float] | None:
    """factor·ln of each end of a positive band (None where there is none or it reaches 0)."""
    if band is None or band[0] <= 0:
        return None
    ends = sorted((factor * math.log(band[0]), factor * math.log(band[1])))
    return ends[0], ends[1]


def _inverse_band(band: tuple[float, float] | None) -> tuple[float, float] | None:
    """1/|x| over a band of x that keeps one sign (None where it reaches 0)."""
    if band is None or band[0] <= 0 <= band[1]:
        return None
    ends = sorted((1.0 / abs(band[0]), 1.0 / abs(band[1])))
    return ends[0], ends[1]


def _pair(band: tuple[float, float] | None) -> list[float] | None:
    return None if band is None else [band[0], band[1]]


def _power(log10: float, sig: int) -> str:
    """10^log10 to ``sig`` significant digits, also where it is beyond float64's range (0 for −∞)."""
    if math.isinf(log10):
        return "0"
    exponent = math.floor(log10)
    mantissa = 10.0 ** (log10 - exponent)
    if float(f"{mantissa:.{sig}g}") >= 10.0:  # rounded up to the next power
        mantissa, exponent = mantissa / 10.0, exponent + 1
    return f"{mantissa:.{sig}g}e{exponent:+d}"


def _simpson(f: Callable[[np.ndarray], np.ndarray], panels: int, q: float = 1.0) -> float:
    """∫ f(z) φ(z) dz on [−Z_MAX, Z_MAX], Simpson in s (z = ±sinh(s)/c) on each side of 0 (``panels`` even,
    per side), for an integrand f(z) = g(√q z) whose g changes at |√q z| ~ 1."""
    total = 0.0
    for z, weight in _rule(panels, _level(q)):
        total += float(np.dot(weight, f(z)))
    return total


def _level(q: float) -> int:
    """The grid's scale c = 2^level: the smallest power of two ≥ √q, and at least 1."""
    return max(0, math.ceil(0.5 * math.log2(q))) if q > 1.0 else 0


def graded_normal(s: np.ndarray, ds: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Points z = sinh(s)/c ≥ 0 and their weights for E over a standard normal, from points s ≥ 0 of a
    rule with weights ``ds`` in s (dz/ds times the normal density): dense where a function of c·z
    changes, |z| ~ 1/c, and as dense near |z| ~ 1.  The mean field's Simpson rule and the diagonal
    theory's Gauss–Legendre rule are both taken through it, with s on [0, asinh(c Z_MAX)]."""
    z = np.sinh(s) / c
    return z, ds * (np.cosh(s) / c) * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


@functools.lru_cache(maxsize=64)
def _rule(panels: int, level: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Each side's nodes z and weights (Simpson's in s, times dz/ds and the Gaussian density) for
    z = ±sinh(s)/c, c = 2^level, s uniform on [0, asinh(c Z_MAX)] — made once per ``panels`` and level
    (read-only arrays: every quadrature of a run shares them)."""
    c = 2.0**level
    top = math.asinh(c * Z_MAX)
    s = np.linspace(0.0, top, panels + 1)
    simpson = np.ones(panels + 1)
    simpson[1:-1:2], simpson[2:-1:2] = 4.0, 2.0
    z, weight = graded_normal(s, simpson * (top / (3.0 * panels)), c)
    # at z = 0 each side takes its own limit (relu'(0⁻) = 0, relu'(0⁺) = 1): a kink at 0 costs nothing
    z[0] = 1e-290  # tiny, and still tiny times √q
    sides = []
    for sign in (-1.0, 1.0):
        nodes = sign * z
        for array in (nodes, weight):
            array.flags.writeable = False
        sides.append((nodes, weight))
    return tuple(sides)


PANELS = 4096  # per side of z = 0


def gaussian_mean(f: Callable[[np.ndarray], np.ndarray], q: float = 1.0) -> tuple[float, int]:
    """E_z[f(z)], z ~ N(0, 1), for f(z) = g(√q z), and the digits the rule agrees to with one of half as
    many panels."""
    value, coarse = _simpson(f, PANELS, q), _simpson(f, PANELS // 2, q)
    change = abs(value - coarse)
    digits = 15 if change == 0 else int(min(15, max(0, -math.log10(change / max(abs(value), 1e-300)))))
    return value, digits


def theory(activation: str = "tanh", sigma_w: float = 1.0, sigma_b: float = 0.0, sigma_u: float = 0.0,
           input_var: float = 1.0, edge: bool = True) -> Theory:
    """The mean-field fixed point, slope, depth scale, phase and edge of chaos.

    Args:
        activation: a built-in activation or an expression in ``a``.
        sigma_w: W_ij ~ N(0, σ_w²/n).
        sigma_b: b_i ~ N(0, σ_b²).
        sigma_u: the input weights' scale: U x contributes σ_u²·input_var to each pre-activation's variance.
        input_var: q_x, the inputs' mean square.
        edge: also find the σ_w of the edge of chaos (about 40 fixed points more).

    Returns:
        The prediction (``Theory``).

    Raises:
        SymbpttError: a negative or non-finite scale.
    """
    for name, value in (("sigma_w", sigma_w), ("sigma_b", sigma_b), ("sigma_u", sigma_u), ("input_var", input_var)):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < 0 or value > 1e6:
            raise SymbpttError(f"{name} must be a number from 0 to 1e6, got {value!r}")
    edge = bool(flag("edge", edge))
    act = get_activation(activation)
    drive = sigma_u**2 * input_var + sigma_b**2
    limit = search_limit(sigma_w, drive)
    q_star = _fixed_point(act, sigma_w, drive, limit)
    digits, mean = 15, 0.0
    if q_star is not None and q_star > 0:
        root = math.sqrt(q_star)
        _, d_q = gaussian_mean(lambda z: _sigma(act, root * z) ** 2, q_star)
        mean, d_chi = gaussian_mean(lambda z: _slope(act, root * z) ** 2, q_star)
        digits = min(d_q, d_chi)
    elif q_star is not None:
        mean = float(_slope(act, np.array([0.0]))[0]) ** 2
    chi = log_chi = None
    if q_star is not None:
        chi, log_chi = sigma_w**2 * mean, _log10_product(sigma_w, mean)  # χ may underflow, its log10 does not
    phase = ("unbounded" if chi is None else "critical" if abs(chi - 1.0) <= CRITICAL
             else "ordered" if chi < 1 else "chaotic")
    scale = None if log_chi is None else (math.inf if phase == "critical" else
                                          1.0 / abs(log_chi * math.log(10.0)))  # 0 for χ = 0
    q_star = None if q_star is None else float(q_star)
    q_band = chi_band = None
    if q_star is not None and q_star > 0:
        q_band = _fixed_point_band(act, sigma_w, drive, q_star)
        chi_band = _chi_band(act, sigma_w, q_band)
    critical, critical_band = _edge(activation, drive) if edge else (None, None)
    return Theory(act.name, float(sigma_w), float(sigma_b), float(sigma_u), float(input_var), q_star, chi, scale,
                  phase, critical, digits, log_chi, limit, q_band, chi_band, critical_band)


def _finite(f: Callable[[np.ndarray], np.ndarray], exact: Callable, a: np.ndarray) -> np.ndarray:
    """f(a) in float64, the entries float64 cannot evaluate (NaN or ±∞ at a finite a: a custom σ' such as
    cosh(a)/cosh(sinh(a))² is ∞/∞ beyond |a| ≈ 710, where it is about e^−e^|a|) recomputed with mpmath and
    rounded to float64 (0 there)."""
    with np.errstate(all="ignore"):
        out = np.array(f(a), dtype=float)
    bad = ~np.isfinite(out) & np.isfinite(a)
    if bad.any():
        with mpmath.workdps(30):
            for idx in zip(*np.nonzero(bad), strict=True):
                out[idx] = float(mpmath.re(exact(mpmath.mpf(float(a[idx])))))
    return out


def _sigma(act: Activation, a: np.ndarray) -> np.ndarray:
    return _finite(act.np_sigma, act.mp_sigma, a)


def _slope(act: Activation, a: np.ndarray) -> np.ndarray:
    return _finite(act.np_dsigma, act.mp_dsigma, a)


def search_limit(sigma_w: float, drive: float) -> float:
    """How far up the fixed point is looked for: well beyond σ_w² + drive (where a bounded activation's
    map, |φ| ≤ 1, stays), and at least Q_MAX."""
    return max(Q_MAX, 1e6 * (sigma_w**2 + drive + 1.0))


def _log10_product(sigma_w: float, mean: float) -> float:
    """log10(σ_w² · mean), finite wherever both are positive although the product may underflow."""
    if sigma_w == 0 or mean == 0:
        return -math.inf
    return 2.0 * math.log10(sigma_w) + math.log10(mean)


def _second_moment(act: Activation, sigma_w: float, drive: float, q: float) -> float:
    root = math.sqrt(q)
    return sigma_w**2 * _simpson(lambda z: _sigma(act, root * z) ** 2, PANELS, q) + drive


def _gap(act: Activation, sigma_w: float, drive: float, q: float) -> tuple[float, float]:
    """The variance map minus the identity at q, σ_w² E[φ(√q z)²] + drive − q, and the rounding it may
    carry (ROUNDED of each side)."""
    moment = _second_moment(act, sigma_w, drive, q)
    return moment - q, ROUNDED * (moment + q)


def _fixed_point(act: Activation, sigma_w: float, drive: float, limit: float = Q_MAX) -> float | None:
    """The stable fixed point of q ↦ σ_w² E[φ(√q z)²] + drive: scanning q upwards, the first q where the
    map crosses the identity from above; 0 when it stays below; None when it stays above up to ``limit``."""
    def gap(q: float) -> float:
        return _gap(act, sigma_w, drive, q)[0]

    previous_q, previous = 0.0, gap(0.0)
    for q in [10.0**k for k in np.arange(-12.0, math.log10(limit) + 0.25, 0.5)]:
        current = gap(q)
        if previous > 0 >= current:
            return _root(gap, previous_q, q, previous, current)
        if previous <= 0 and current <= 0 and q > 10 * (drive + sigma_w**2 + 1):
            return 0.0  # below the identity from 0 on: q* = 0
        previous_q, previous = q, current
    return None if previous > 0 else 0.0


def _root_band(center: float, interval: Callable[[float], tuple[float, float]], rising: bool,
               floor: float = 0.0) -> tuple[float, float]:
    """Where, around a computed root ``center`` of a function, its computed sign may be rounding's: on each
    side the nearest of center·(1 ± 10⁻ʲ), j = 12, 11.5, …, 1, at which ``interval`` (the function's value
    with its rounding error either way) excludes 0 with the sign that side has (``rising``: negative
    below the root); ``floor`` or ∞ where none does."""
    ends = []
    for side in (-1.0, 1.0):
        positive = (side > 0) == rising
        end = floor if side < 0 else math.inf
        for j in range(24, 1, -1):
            x = center * (1.0 + side * 10.0 ** (-j / 2))
            low, high = interval(x)
            if (low > 0) if positive else (high < 0):
                end = x
                break
        ends.append(end)
    return ends[0], ends[1]


def _fixed_point_band(act: Activation, sigma_w: float, drive: float, q: float) -> tuple[float, float]:
    """Where the fixed point q > 0 of the variance map lies, rounding allowed for (_root_band): the gap
    σ_w² E[φ²] + drive − q is positive below it."""
    def gap(x: float) -> tuple[float, float]:
        value, error = _gap(act, sigma_w, drive, x)
        return value - error, value + error

    return _root_band(q, gap, rising=False)


def _chi_band(act: Activation, sigma_w: float, q_band: tuple[float, float]) -> tuple[float, float]:
    """χ over a band of the fixed point (its two ends), widened by its own rounding."""
    ends = [_chi(act, sigma_w, min(q, Q_MAX)) for q in q_band]
    return min(ends) * (1.0 - ROUNDED), max(ends) * (1.0 + ROUNDED)


def _chi(act: Activation, sigma_w: float, q: float) -> float:
    if q == 0.0:
        return sigma_w**2 * float(_slope(act, np.array([0.0]))[0]) ** 2
    root = math.sqrt(q)
    return sigma_w**2 * _simpson(lambda z: _slope(act, root * z) ** 2, PANELS, q)


@functools.lru_cache(maxsize=64)
def _edge(activation: str, drive: float) -> tuple[float | None, tuple[float, float] | None]:
    """The edge's σ_w and its band for an activation (by name) and a drive, found once per run (a plot's
    every gain and a test's every σ_w share them).  The σ_w is the band's middle to the digits the band
    holds (1.0 for tanh without bias, not the root finder's 1.0000000145): what is printed is what the
    plots draw at."""
    act = get_activation(activation)
    critical = _critical(act, drive)
    if critical is None:
        return None, None
    band = _critical_band(act, drive, critical)
    digits = held_digits(*band)
    return (float(f"{0.5 * (band[0] + band[1]):.{digits - 1}e}") if digits else critical), band


EDGE_SEARCH = (1e-3, 10.0)  # the σ_w between which the edge of chaos is looked for


def _critical(act: Activation, drive: float) -> float | None:
    """σ_w in (0, EDGE_SEARCH[1]] where χ = 1, by regula falsi (_root) from EDGE_SEARCH's two ends (None
    when χ − 1 has one sign at both)."""
    def chi_minus_one(sigma_w: float) -> float:
        q = _fixed_point(act, sigma_w, drive)  # unbounded q: χ where the scan stopped (linear: σ_w² anyway)
        return _chi(act, sigma_w, Q_MAX if q is None else q) - 1.0

    low, high = EDGE_SEARCH
    below, above = chi_minus_one(low), chi_minus_one(high)
    if below > 0 or above < 0:
        return None
    return _root(chi_minus_one, low, high, below, above)


def _root(f: Callable[[float], float], low: float, high: float, f_low: float, f_high: float) -> float:
    """A root of f between ``low`` and ``high``, where f changes sign: regula falsi with the Illinois
    rule (an end that stays twice running has its value halved, so both ends close in, superlinearly),
    stopped when the bracket is a few ulp wide, f is 0, or after 100 steps (bisection's 60 reach any
    double's last digit); the bands (_root_band) say how many of its digits rounding leaves."""
    stay = 0
    for _ in range(100):
        x = high - f_high * (high - low) / (f_high - f_low)
        if not low < x < high:
            x = 0.5 * (low + high)
        value = f(x)
        if value == 0.0:
            return x
        if (value > 0) == (f_high > 0):
            high, f_high = x, value
            f_low, stay = (0.5 * f_low if stay > 0 else f_low), 1
        else:
            low, f_low = x, value
            f_high, stay = (0.5 * f_high if stay < 0 else f_high), -1
        if high - low <= 4 * math.ulp(max(abs(low), abs(high))):
            break
    return 0.5 * (low + high)


def _critical_band(act: Activation, drive: float, center: float) -> tuple[float, float]:
    """Where the edge's σ_w lies, rounding allowed for (_root_band): χ − 1, with the fixed point's own
    band carried into χ (_chi_band), is negative below it.  For tanh without bias χ − 1 ≈ (4/3)δ² at
    σ_w = 1 + δ, so rounding hides the edge's side up to δ ≈ 1e-6."""
    def chi_minus_one(sigma_w: float) -> tuple[float, float]:
        q = _fixed_point(act, sigma_w, drive)
        if q is None or q == 0.0:
            chi = _chi(act, sigma_w, Q_MAX if q is None else q)
            return chi * (1.0 - ROUNDED) - 1.0, chi * (1.0 + ROUNDED) - 1.0
        low, high = _chi_band(act, sigma_w, _fixed_point_band(act, sigma_w, drive, q))
        return low - 1.0, high - 1.0

    return _root_band(center, chi_minus_one, rising=True)
