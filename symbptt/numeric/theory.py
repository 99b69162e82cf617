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

Expectations are computed by composite Simpson quadrature in z on [−12, 12] (the Gaussian tail beyond is
below 1e-32) with 4096 panels on each side of z = 0, where the built-in kinks sit; the number of digits
it agrees to with half as many panels is reported.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..activations import Activation, get_activation
from ..errors import SymbpttError

Z_MAX = 12.0
Q_MAX = 1e6  # a fixed point beyond this is "no finite fixed point"
CRITICAL = 1e-9  # |χ - 1| below this is the edge


@dataclass(frozen=True)
class Theory:
    """The mean-field prediction for one activation and one set of variances (see the module docstring)."""

    activation: str
    sigma_w: float
    sigma_b: float
    sigma_u: float
    input_var: float
    q_star: float | None  # None: q grows without bound (no finite fixed point)
    chi: float | None
    depth_scale: float | None  # 1/|ln χ| (inf at the edge)
    phase: str  # ordered, critical, chaotic, or unbounded
    critical_sigma_w: float | None  # σ_w with χ = 1 for these σ_b, σ_u, q_x (None: none in (0, 10])
    digits: int  # the quadrature's agreement

    def as_json(self) -> dict:
        return {"activation": self.activation, "sigma_w": self.sigma_w, "sigma_b": self.sigma_b,
                "sigma_u": self.sigma_u, "input_var": self.input_var, "q_star": self.q_star, "chi": self.chi,
                "depth_scale": None if self.depth_scale is None or math.isinf(self.depth_scale)
                else self.depth_scale, "phase": self.phase, "critical_sigma_w": self.critical_sigma_w,
                "quadrature_digits": self.digits}

    def text(self) -> str:
        lines = [f"mean field, n → ∞: {self.activation}, σ_w = {self.sigma_w:g}, σ_b = {self.sigma_b:g}, "
                 f"σ_u = {self.sigma_u:g}, input variance {self.input_var:g}"]
        if self.q_star is None:
            lines.append("q* = ∞: the pre-activations' variance grows without bound (no finite fixed point)")
        else:
            lines.append(f"q* = {self.q_star:.12g}   (variance of a pre-activation at the fixed point)")
            assert self.chi is not None
            lines.append(f"χ  = {self.chi:.12g}  (‖∂h_T/∂h_0‖² ≈ χ^T: log10 ‖∂h_T/∂h_0‖ ≈ "
                         f"{0.5 * math.log10(self.chi) if self.chi > 0 else -math.inf:.6g} per step)")
            scale = "∞" if self.depth_scale is None or math.isinf(self.depth_scale) else f"{self.depth_scale:.6g}"
            lines.append(f"depth scale 1/|ln χ| = {scale} steps; phase: {self.phase}")
        critical = "none in (0, 10]" if self.critical_sigma_w is None else f"{self.critical_sigma_w:.12g}"
        lines.append(f"edge of chaos (χ = 1) for these σ_b, σ_u: σ_w = {critical}")
        lines.append(f"expectations by quadrature, agreeing to {self.digits} digits")
        return "\n".join(lines) + "\n"


def _simpson(f: Callable[[np.ndarray], np.ndarray], panels: int) -> float:
    """∫ f(z) φ(z) dz on [−Z_MAX, Z_MAX], Simpson on each side of 0 (``panels`` even, per side)."""
    total = 0.0
    for z, w, gauss, width in _rule(panels):
        values = f(z) * gauss / math.sqrt(2.0 * math.pi)
        total += float(np.dot(w, values)) * width / (3.0 * panels)
    return total


@functools.lru_cache(maxsize=4)
def _rule(panels: int) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, float], ...]:
    """Each side's Simpson nodes, weights, e^{−z²/2} at the nodes and its width b − a, made once per
    ``panels`` (read-only arrays: every quadrature of a run shares them)."""
    sides = []
    for a, b in ((-Z_MAX, 0.0), (0.0, Z_MAX)):
        z = np.linspace(a, b, panels + 1)
        # at z = 0 each side takes its own limit (relu'(0⁻) = 0, relu'(0⁺) = 1): a kink at 0 costs nothing
        z[-1 if b == 0.0 else 0] = -1e-290 if b == 0.0 else 1e-290  # tiny, and still tiny times √q
        w = np.ones(panels + 1)
        w[1:-1:2], w[2:-1:2] = 4.0, 2.0
        gauss = np.exp(-0.5 * z * z)
        for array in (z, w, gauss):
            array.flags.writeable = False
        sides.append((z, w, gauss, b - a))
    return tuple(sides)


PANELS = 4096  # per side of z = 0


def gaussian_mean(f: Callable[[np.ndarray], np.ndarray]) -> tuple[float, int]:
    """E_z[f(z)], z ~ N(0, 1), and the digits the rule agrees to with one of half as many panels."""
    value, coarse = _simpson(f, PANELS), _simpson(f, PANELS // 2)
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
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or value > 1e6:
            raise SymbpttError(f"{name} must be a number from 0 to 1e6, got {value!r}")
    act = get_activation(activation)
    drive = sigma_u**2 * input_var + sigma_b**2
    q_star = _fixed_point(act, sigma_w, drive)
    chi, digits = None, 15
    if q_star is not None and q_star > 0:
        root = math.sqrt(q_star)
        _, d_q = gaussian_mean(lambda z: act.np_sigma(root * z) ** 2)
        mean, d_chi = gaussian_mean(lambda z: act.np_dsigma(root * z) ** 2)
        chi, digits = sigma_w**2 * mean, min(d_q, d_chi)
    elif q_star is not None:
        chi = _chi(act, sigma_w, q_star)
    phase = ("unbounded" if chi is None else "critical" if abs(chi - 1.0) <= CRITICAL
             else "ordered" if chi < 1 else "chaotic")
    scale = None if chi is None or chi <= 0 else (math.inf if phase == "critical" else 1.0 / abs(math.log(chi)))
    q_star = None if q_star is None else float(q_star)
    return Theory(act.name, float(sigma_w), float(sigma_b), float(sigma_u), float(input_var), q_star, chi, scale,
                  phase, _critical(act, drive) if edge else None, digits)


def _second_moment(act: Activation, sigma_w: float, drive: float, q: float) -> float:
    root = math.sqrt(q)
    return sigma_w**2 * _simpson(lambda z: act.np_sigma(root * z) ** 2, PANELS) + drive


def _fixed_point(act: Activation, sigma_w: float, drive: float) -> float | None:
    """The stable fixed point of q ↦ σ_w² E[φ(√q z)²] + drive: scanning q upwards, the first q where the
    map crosses the identity from above; 0 when it stays below; None when it stays above up to Q_MAX."""
    def gap(q: float) -> float:
        return _second_moment(act, sigma_w, drive, q) - q

    previous_q, previous = 0.0, gap(0.0)
    for q in [10.0**k for k in np.arange(-12.0, math.log10(Q_MAX) + 0.25, 0.5)]:
        current = gap(q)
        if previous > 0 >= current:
            low, high = previous_q, q
            for _ in range(60):  # bisection to the last digits of a double
                mid = 0.5 * (low + high)
                if gap(mid) > 0:
                    low = mid
                else:
                    high = mid
            return 0.5 * (low + high)
        if previous <= 0 and current <= 0 and q > 10 * (drive + sigma_w**2 + 1):
            return 0.0  # below the identity from 0 on: q* = 0
        previous_q, previous = q, current
    return None if previous > 0 else 0.0


def _chi(act: Activation, sigma_w: float, q: float) -> float:
    if q == 0.0:
        return sigma_w**2 * float(act.np_dsigma(np.array([0.0]))[0]) ** 2
    root = math.sqrt(q)
    return sigma_w**2 * _simpson(lambda z: act.np_dsigma(root * z) ** 2, PANELS)


def _critical(act: Activation, drive: float) -> float | None:
    """σ_w in (0, 10] where χ = 1, by bisection (None when χ stays on one side)."""
    def chi_minus_one(sigma_w: float) -> float:
        q = _fixed_point(act, sigma_w, drive)  # unbounded q: χ where the scan stopped (linear: σ_w² anyway)
        return _chi(act, sigma_w, Q_MAX if q is None else q) - 1.0

    low, high = 1e-3, 10.0
    if chi_minus_one(low) > 0 or chi_minus_one(high) < 0:
        return None
    for _ in range(45):  # σ_w to 1e-12
        mid = 0.5 * (low + high)
        if chi_minus_one(mid) < 0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)
