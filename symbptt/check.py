"""Cross-checks on random configurations: lambdified symbolic form, the structure over float64, the
plain-NumPy reference, central finite differences, all against an mpmath evaluation at 50 digits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import Config
from .numeric import gradients, lambdify_gradient, mp_gradients, rnn_of
from .reference import bptt, finite_differences

TOLERANCE = {"symbolic (lambdified)": 1e-12, "structure (float64)": 1e-12, "reference BPTT": 1e-12,
             "finite differences": 1e-6}
ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


@dataclass
class CheckReport:
    """Largest normwise relative error of each method against mpmath, and where it happened."""

    trials: int = 0
    worst: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k in TOLERANCE})
    where: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.worst[k] <= TOLERANCE[k] for k in TOLERANCE)

    def table(self) -> str:
        lines = [f"{'method':<24} {'max rel. error':>15} {'tolerance':>10}  status   worst case",
                 "-" * 96]
        for key, tol in TOLERANCE.items():
            status = "ok" if self.worst[key] <= tol else "FAIL"
            lines.append(f"{key:<24} {self.worst[key]:>15.3e} {tol:>10.0e}  {status:<7}  {self.where.get(key, '')}")
        lines.append(f"{self.trials} random configurations, reference: mpmath at 50 digits")
        return "\n".join(lines) + "\n"


def random_config(rng: np.random.Generator, T_max: int) -> Config:
    """A random RNN: activation, n ∈ {1, 2, 3}, m ∈ {1, 2}, layers ∈ {1, 2}, loss, T ∈ 1..T_max."""
    act = str(rng.choice(ACTIVATIONS))
    n, m, L = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    T, loss = int(rng.integers(1, T_max + 1)), str(rng.choice(["last", "sum"]))
    layers = []
    for ell in range(L):
        width = m if ell == 0 else n
        layers.append({"W": rng.normal(0, 0.8, (n, n)), "U": rng.normal(0, 0.8, (n, width)),
                       "b": rng.normal(0, 0.3, n), "h0": rng.uniform(-0.5, 0.5, n)})
    x = rng.uniform(-1, 1, (T, m))
    y = rng.uniform(-1, 1, n) if loss == "last" else rng.uniform(-1, 1, (T, n))
    return Config(act, layers, x, y, loss)


def _flat(grads: list[dict]) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(g[k], dtype=float)) for g in grads for k in sorted(g)])


def _error(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a - b))) / scale if scale > 0 else float(np.max(np.abs(a)))


def run_checks(trials: int = 100, seed: int = 0, T_max: int = 6) -> CheckReport:
    """Compare every method on ``trials`` random configurations."""
    rng, report, compiled = np.random.default_rng(seed), CheckReport(), {}
    for trial in range(trials):
        cfg = random_config(rng, T_max)
        rnn = rnn_of(cfg)
        key = (rnn.T, rnn.n, rnn.m, rnn.layers, rnn.activation, rnn.loss)
        if key not in compiled:
            compiled[key] = lambdify_gradient(rnn, "explicit")
        exact = _flat(mp_gradients(cfg, 50)[1])
        found = {
            "symbolic (lambdified)": _flat(compiled[key](cfg)),
            "structure (float64)": _flat(gradients(cfg)[1]),
            "reference BPTT": _flat(bptt(cfg.layers, cfg.x, cfg.y, cfg.activation, cfg.loss)[1]),
            "finite differences": _flat(finite_differences(cfg.layers, cfg.x, cfg.y, cfg.activation, cfg.loss)),
        }
        for name, value in found.items():
            err = _error(value, exact)
            if err > report.worst[name]:
                report.worst[name] = err
                report.where[name] = f"trial {trial}: {cfg.activation}, T={cfg.T}, n={cfg.n}, " \
                                     f"layers={len(cfg.layers)}, loss={cfg.loss}"
        report.trials += 1
    return report
