"""Figures of where gradients vanish or explode.  Every function returns (figure, data) so tests can
check the numbers that were drawn, and ``save`` writes byte-identical files for identical input."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .activations import get_activation  # noqa: E402
from .config import Config  # noqa: E402
from .errors import SymbpttError  # noqa: E402
from .numeric.factors import ArrayFactors, NumericModel  # noqa: E402
from .numeric.sweeps import random_recurrent_matrix, sweep_gain, sweep_grad, sweep_scalar  # noqa: E402
from .paths import contribution, evaluate_term, explicit_terms  # noqa: E402

KINDS = ("regimes", "curves", "contributions", "spectrum", "surface", "unrolled")
SUFFIXES = (".png", ".svg", ".pdf")
METADATA = {".png": {"Software": None}, ".svg": {"Date": None, "Creator": None},
            ".pdf": {"Creator": None, "Producer": None, "CreationDate": None}}


@dataclass
class Plotted:
    """The arrays a figure shows, kept for tests and for the API user."""

    values: dict[str, np.ndarray | float | list]


def _check_range(name: str, low: float, high: float) -> None:
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise SymbpttError(f"{name} range is empty or reversed: {low} .. {high}")


def _check_steps(T: int) -> None:
    if T < 1:
        raise SymbpttError(f"T (steps) must be at least 1, got {T}")


def _gamma(activation: str) -> float:
    return float(get_activation(activation).gamma)


def regimes(activation: str = "tanh", w_min: float = -3.0, w_max: float = 3.0, points: int = 241,
            T_max: int = 100, u: float = 1.0, b: float = 0.0, h0: float = 0.0, seed: int = 0,
            quantity: str = "jacobian", decades: tuple[int, ...] = (-8, -4, 0, 4, 8), y: float = 0.5
            ) -> tuple[Figure, Plotted]:
    """Heat map of log10|∂h_T/∂h_0| (or |∂L/∂w|) over weight × T, centred at 10^0, boundary |w|γ = 1."""
    _check_range("weight", w_min, w_max)
    _check_steps(T_max)
    if quantity not in ("jacobian", "grad"):
        raise SymbpttError(f"unknown quantity {quantity!r}; choose jacobian or grad")
    weights = np.linspace(w_min, w_max, points)
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, T_max)
    if quantity == "jacobian":
        values = sweep_scalar(weights, T_max, activation, u=u, b=b, h0=h0, x=x)
        label = r"$\log_{10}\,|\partial h_T / \partial h_0|$"
    else:
        values = sweep_grad(weights, T_max, activation, u=u, b=b, h0=h0, x=x, y=y)
        label = r"$\log_{10}\,|\partial L / \partial w|$"
    shown = np.clip(np.where(np.isfinite(values), values, -50.0), -50, 50)
    limit = max(1.0, float(np.max(np.abs(shown))))
    fig, ax = plt.subplots(figsize=(7, 4.8))
    mesh = ax.pcolormesh(weights, np.arange(1, T_max + 1), shown, cmap="RdBu_r", shading="nearest",
                         norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit), rasterized=True)
    fig.colorbar(mesh, ax=ax, label=label + " (clipped to ±50)")
    levels = [d for d in decades if -limit < d < limit]
    if levels:
        cs = ax.contour(weights, np.arange(1, T_max + 1), shown, levels=sorted(levels), colors="k", linewidths=0.6)
        ax.clabel(cs, fmt=lambda v: rf"$10^{{{int(v)}}}$", fontsize=7)
    gamma = _gamma(activation)
    boundary = 1.0 / gamma
    for edge in (-boundary, boundary):
        if w_min < edge < w_max:
            ax.axvline(edge, color="k", linestyle="--", linewidth=1.2)
    ax.text(0.0 if w_min < 0 < w_max else (w_min + w_max) / 2, T_max * 0.93,
            r"vanishing guaranteed ($\gamma|w| < 1$)", ha="center", fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0})
    if w_max > boundary:
        ax.text((boundary + w_max) / 2, T_max * 0.85, "exploding\npossible", ha="center", fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0})
    ax.set_xlabel("recurrent weight $w$")
    ax.set_ylabel("sequence length $T$")
    ax.set_title(f"{activation}: u={u:g}, b={b:g}, h0={h0:g}, inputs U(-1,1) seed {seed}; "
                 rf"boundary $|w| = 1/\gamma = {boundary:g}$", fontsize=9)
    return fig, Plotted({"weights": weights, "T": np.arange(1, T_max + 1), "values": values,
                         "boundary": boundary})


def curves(activation: str = "tanh", weights: tuple[float, ...] = (0.5, 0.9, 1.1, 2.0), T_max: int = 100,
           u: float = 1.0, b: float = 0.0, seed: int = 0) -> tuple[Figure, Plotted]:
    """|∂h_T/∂h_0| against T for several w (log scale as log10), the bound (γ|w|)^T dashed beside each."""
    _check_steps(T_max)
    if not weights:
        raise SymbpttError("give at least one weight")
    w = np.asarray(weights, dtype=float)
    values = sweep_scalar(w, T_max, activation, u=u, b=b, seed=seed)
    gamma, T = _gamma(activation), np.arange(1, T_max + 1)
    bounds = np.outer(T, np.log10(gamma * np.abs(w)))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, wi in enumerate(w):
        line, = ax.plot(T, values[:, i], label=f"w = {wi:g}")
        ax.plot(T, bounds[:, i], linestyle="--", color=line.get_color(), linewidth=0.9)
    ax.axhline(0.0, color="grey", linewidth=0.6)
    ax.set_xlabel("$T$")
    ax.set_ylabel(r"$\log_{10}\,|\partial h_T/\partial h_0|$  (dashed: $T \log_{10}(\gamma |w|)$)")
    ax.set_title(f"{activation}, u={u:g}, b={b:g}, γ={gamma:g}: measured (solid) vs bound (dashed)", fontsize=9)
    ax.legend(fontsize=8)
    return fig, Plotted({"T": T, "values": values, "bounds": bounds, "weights": w})


def contributions(cfg: Config) -> tuple[Figure, Plotted]:
    """log10 of |term k| of ∂L/∂w = Σ_k (h_T − y) J_T ⋯ J_{k+1} σ'(a_k) h_{k-1} (first layer, entry 0,0)."""
    model = NumericModel.of(cfg)
    values, rnn = ArrayFactors(model), model.structure()
    top = len(cfg.layers)
    per_k: dict[int, float] = {}
    with np.errstate(all="ignore"):
        for term in explicit_terms(rnn, "W", top):
            part = contribution(evaluate_term(term, values), "W", top, term.entry, values)
            per_k[term.entry] = per_k.get(term.entry, 0.0) + float(part[0, 0])
    ks = np.array(sorted(per_k))
    terms = np.array([per_k[k] for k in ks])
    with np.errstate(divide="ignore"):
        logs = np.log10(np.abs(terms))
    fig, ax = plt.subplots(figsize=(7, 4))
    colors = ["tab:red" if t > 0 else "tab:blue" for t in terms]
    ax.bar(ks, np.where(np.isfinite(logs), logs, np.nan), color=colors)
    ax.set_xlabel("step $k$ where $w$ enters")
    ax.set_ylabel(r"$\log_{10}\,|$term $k$ of $\partial L/\partial w|$")
    w = cfg.layers[-1]["W"]
    ax.set_title(f"{cfg.act_name}, T={cfg.T}, loss {cfg.loss}, w={w[0, 0]:g}: red > 0, blue < 0", fontsize=9)
    return fig, Plotted({"k": ks, "terms": terms, "log10": logs})


def spectrum(activation: str = "tanh", n: int = 64, g_min: float = 0.1, g_max: float = 3.0, points: int = 30,
             T: int = 200, seed: int = 0) -> tuple[Figure, Plotted]:
    """Lyapunov rate (1/T)·ln‖∂h_T/∂h_0‖ against a gain g on W = g·W0, with γσ_max(gW0) = 1 and
    ρ(gW0) = 1 marked: the sufficient condition is far from where the rate crosses zero."""
    _check_range("gain", g_min, g_max)
    _check_steps(T)
    if not 2 <= n <= 256:
        raise SymbpttError(f"hidden size n must be from 2 to 256 for the spectrum plot, got {n}")
    gains = np.linspace(g_min, g_max, points)
    W0 = random_recurrent_matrix(n, seed)
    logs = sweep_gain(gains, T, activation, n, seed=seed, W0=W0)[-1]
    rates = logs * math.log(10.0) / T
    gamma = _gamma(activation)
    g_sigma = 1.0 / (gamma * float(np.linalg.norm(W0, 2)))
    g_rho = 1.0 / float(np.max(np.abs(np.linalg.eigvals(W0))))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(gains, rates, marker="o", markersize=3)
    ax.axhline(0.0, color="grey", linewidth=0.6)
    sigma_label = rf"$\gamma\sigma_{{\max}}(gW_0) = 1$ (g={g_sigma:.3g})"
    ax.axvline(g_sigma, color="tab:green", linestyle="--", label=sigma_label)
    ax.axvline(g_rho, color="tab:red", linestyle=":", label=rf"$\rho(gW_0) = 1$ (g={g_rho:.3g})")
    ax.set_xlabel("gain $g$ ($W = g W_0$)")
    ax.set_ylabel(r"$\frac{1}{T}\ln\|\partial h_T/\partial h_0\|_2$")
    ax.set_title(f"{activation}, n={n}, T={T}, W0 ~ N(0, 1/n) seed {seed}", fontsize=9)
    ax.legend(fontsize=8)
    return fig, Plotted({"gains": gains, "rates": rates, "g_sigma": g_sigma, "g_rho": g_rho})


def surface(activation: str = "tanh", w_min: float = -3.0, w_max: float = 3.0, b_min: float = -3.0,
            b_max: float = 3.0, points: int = 161, T: int = 30, target: float = 0.5, a0: float = 0.5
            ) -> tuple[Figure, Plotted]:
    """Error surface of one unit a_t = w σ(a_{t-1}) + b, L = ½(σ(a_T) − target)², and ‖∇L‖ (log10)."""
    _check_range("weight", w_min, w_max)
    _check_range("bias", b_min, b_max)
    _check_steps(T)
    act = get_activation(activation)
    w, b = np.meshgrid(np.linspace(w_min, w_max, points), np.linspace(b_min, b_max, points))
    a, hs, ds = np.full(w.shape, a0), [], []
    with np.errstate(all="ignore"):
        for _ in range(T):
            h = act.np_sigma(a)
            hs.append(h)
            a = w * h + b
            ds.append(act.np_dsigma(a))
        out = act.np_sigma(a)
        loss = 0.5 * (out - target) ** 2
        delta = (out - target) * ds[-1]  # ∂L/∂a_T
        gw, gb = np.zeros(w.shape), np.zeros(w.shape)
        for t in range(T - 1, -1, -1):
            gw += delta * hs[t]
            gb += delta
            if t:
                delta = delta * w * ds[t - 1]
        gnorm = np.sqrt(gw**2 + gb**2)
        log_loss, log_grad = np.log10(loss + 1e-300), np.log10(gnorm + 1e-300)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, data, label in ((axes[0], log_loss, r"$\log_{10} L$"), (axes[1], log_grad, r"$\log_{10}\|\nabla L\|$")):
        mesh = ax.pcolormesh(w, b, data, cmap="viridis", shading="nearest", rasterized=True)
        fig.colorbar(mesh, ax=ax, label=label)
        ax.set_xlabel("$w$")
        ax.set_ylabel("$b$")
    fig.suptitle(f"{activation} unit $a_t = w\\,\\sigma(a_{{t-1}}) + b$, T={T}, target {target:g}, $a_0$={a0:g}",
                 fontsize=10)
    return fig, Plotted({"w": w, "b": b, "log10_loss": log_loss, "log10_grad_norm": log_grad})


def unrolled(T: int = 3, layers: int = 1) -> tuple[Figure, Plotted]:
    """The unrolled network: inputs x_t, states h^(ℓ)_t, W arrows along time, U arrows upward."""
    _check_steps(T)
    if not 1 <= layers <= 3:
        raise SymbpttError(f"layers must be from 1 to 3, got {layers}")
    steps = list(range(0, T + 1)) if T <= 8 else [0, 1, 2, 3, None, T - 1, T]
    fig, ax = plt.subplots(figsize=(1.3 * len(steps) + 1, 1.3 * (layers + 1) + 0.6))
    sup = (lambda ell: f"^{{({ell})}}") if layers > 1 else (lambda ell: "")
    arrows = {"W": 0, "U": 0}
    for col, t in enumerate(steps):
        if t is None:
            for ell in range(1, layers + 1):
                ax.text(col, ell, r"$\cdots$", ha="center", va="center", fontsize=14)
            continue
        if t > 0:
            ax.text(col, 0, f"$x_{{{t}}}$", ha="center", va="center", bbox={"boxstyle": "square", "fc": "w"})
        for ell in range(1, layers + 1):
            ax.text(col, ell, f"$h{sup(ell)}_{{{t}}}$", ha="center", va="center",
                    bbox={"boxstyle": "circle", "fc": "#e8f0ff"})
            if t > 0:
                ax.annotate("", (col, ell - 0.22), (col, ell - 1 + 0.22), arrowprops={"arrowstyle": "->"})
                ax.text(col + 0.08, ell - 0.5, f"$U{sup(ell)}$", fontsize=8)
                arrows["U"] += 1
                if steps[col - 1] is not None:
                    ax.annotate("", (col - 0.25, ell), (col - 1 + 0.25, ell), arrowprops={"arrowstyle": "->"})
                    ax.text(col - 0.5, ell + 0.1, f"$W{sup(ell)}$", fontsize=8, ha="center")
                    arrows["W"] += 1
    ax.set_xlim(-0.6, len(steps) - 0.4)
    ax.set_ylim(-0.6, layers + 0.6)
    ax.axis("off")
    ax.set_title(f"RNN unrolled for T={T}, {layers} layer{'s' if layers > 1 else ''}", fontsize=10)
    return fig, Plotted({"arrows": arrows, "columns": len(steps)})


def check_plot_path(path: str | Path) -> Path:
    from .output import check_output_path

    path = check_output_path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise SymbpttError(f"unknown file suffix {path.suffix!r}; use one of {', '.join(SUFFIXES)}")
    return path


def save(fig: Figure, path: str | Path) -> None:
    """Write the figure atomically with dates and software names stripped (same input, same bytes)."""
    import io

    from .output import atomic_write

    path = check_plot_path(path)
    suffix = path.suffix.lower()
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "symbptt", "pdf.compression": 6}):
        fig.savefig(buffer, format=suffix[1:], metadata=METADATA[suffix], dpi=110)
    plt.close(fig)
    atomic_write(path, buffer.getvalue())


def _weights(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise SymbpttError(f"--weights must be comma-separated numbers, got {text[:40]!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise SymbpttError(f"--weights must be finite numbers, got {text[:40]!r}")
    if len(values) > 12:
        raise SymbpttError("--weights takes at most 12 values")
    return values


def draw(kind: str, activation: str = "tanh", T: int | None = None, low: float | None = None,
         high: float | None = None, points: int | None = None, u: float = 1.0, b: float = 0.0, h0: float = 0.0,
         seed: int = 0, quantity: str = "jacobian", weights: str = "0.5,0.9,1.1,2", n: int = 64,
         params_file: str | None = None, b_min: float = -3.0, b_max: float = 3.0, target: float = 0.5,
         layers: int = 1) -> Figure:
    """The figure of one kind with the command line's defaults (what `symbptt plot KIND` draws)."""
    from .budget import check_grid

    get_activation(activation)
    if kind == "regimes":
        check_grid("plot regimes", points or 241, T or 100)
        fig, _ = regimes(activation, -3.0 if low is None else low, 3.0 if high is None else high,
                         points or 241, T or 100, u, b, h0, seed, quantity)
    elif kind == "curves":
        fig, _ = curves(activation, _weights(weights), T or 100, u, b, seed)
    elif kind == "contributions":
        from .config import load_config

        if not params_file:
            raise SymbpttError("plot contributions needs --params FILE.json")
        fig, _ = contributions(load_config(params_file))
    elif kind == "spectrum":
        from .budget import check_sweep

        check_sweep(T or 200, points or 30, n)
        fig, _ = spectrum(activation, n, 0.1 if low is None else low, 3.0 if high is None else high,
                          points or 30, T or 200, seed)
    elif kind == "surface":
        check_grid("plot surface", (points or 161) ** 2, T or 30, arrays=2)
        fig, _ = surface(activation, -3.0 if low is None else low, 3.0 if high is None else high,
                         b_min, b_max, points or 161, T or 30, target)
    else:
        fig, _ = unrolled(T or 3, layers)
    return fig
