"""An interactive explorer for Jupyter (ipywidgets): sliders for the weight (or a gain), the bias
(the gate bias of a gated cell), T, and pickers for the activation and the cell redraw

    left   log10‖∂h_T/∂h_k‖ against k   (how far back the gradient reaches)
    right  log10|term k| of ∂L/∂θ        (what each step contributes)
    below  the formula, for T ≤ 4

    >>> from symbptt import explore
    >>> explore()            # in a notebook cell

Every value comes from the same functions as the command line; ``Explorer.data`` keeps what was drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import SymbpttError
from .validate import integer, number

ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")
CELLS = ("rnn", "lstm", "gru")
FORMULA_MAX_T = 4
INPUT_SEED = 0


def model_config(cell: str, activation: str, w: float, b: float, T: int):
    """The configuration drawn: the scalar rnn with weight w, bias b, u = 1, inputs U(−1, 1) (seed 0);
    a gated cell with one unit, its weights scaled by the gain w and its gate bias (b_f, b_z) = b."""
    from .config import parse_config
    from .numeric.examples import example_config

    x = [float(v) for v in np.random.default_rng(INPUT_SEED).uniform(-1.0, 1.0, T)]
    spec = _spec(cell, activation)
    if spec.elman:
        return parse_config({"activation": activation, "W": w, "U": 1.0, "b": b, "h0": 0.0, "x": x, "y": 0.5})
    overrides = {spec.keep_bias: b} if spec.keep_bias else {}
    return example_config(cell, T, 1, gain=w, seed=INPUT_SEED, overrides=overrides)


def _spec(cell: str, activation: str) -> Any:
    from .activations import get_activation
    from .cells import get_cell

    return get_cell(cell, get_activation(activation))


def compute(cell: str, activation: str, w: float, b: float, T: int) -> dict[str, Any]:
    """What the explorer draws, as numbers: the norms ‖∂h_T/∂h_k‖ (log10), the terms of ∂L/∂θ by step
    k, and the formula's LaTeX for small T (None above FORMULA_MAX_T)."""
    from .numeric.factors import ArrayFactors, NumericModel
    from .numeric.logspace import log10_jacobian_norms
    from .paths import default_wrt
    from .plots.contributions import held_terms

    cfg = model_config(cell, activation, w, b, T)
    model = NumericModel.of(cfg)
    with np.errstate(all="ignore"):
        norms = log10_jacobian_norms(ArrayFactors(model), ks=list(range(T + 1)))["h"]
    wrt = default_wrt(model.structure())  # the first recurrent weight, as derive takes it
    held = held_terms(cfg, wrt, T // 2)  # float64 where it holds them, else exact (10^-1400 is not 0)
    formula = None
    if T <= FORMULA_MAX_T:
        from .forms import derive
        from .model import RNN

        elman = cfg.spec.elman
        rnn = RNN(T=T, activation=activation) if elman else RNN(T=T, cell=cell)
        formula = derive(rnn, "explicit" if elman else "recursive", wrt)._repr_latex_()
    return {"k": np.arange(T + 1), "log10_norms": np.array(norms), "term_k": held.k, "terms": held.terms,
            "term_log10": held.log10, "term_sign": held.sign, "wrt": wrt,
            "formula": formula}


SLIDERS = {"w": (-3.0, 3.0), "b": (-4.0, 6.0)}  # the float sliders' ranges, checked before they are made
T_SLIDER = (1, 200)


class Explorer:
    """The widgets and the last data drawn (``data``); displays itself in a notebook."""

    def __init__(self, T: int = 20, cell: str = "rnn", activation: str = "tanh", w: float = 1.2,
                 b: float = 0.0) -> None:
        import ipywidgets as W

        if not (isinstance(cell, str) and isinstance(activation, str)) or cell not in CELLS \
                or activation not in ACTIVATIONS:
            raise SymbpttError(f"explore takes a cell of {', '.join(CELLS)} and an activation of "
                               f"{', '.join(ACTIVATIONS)}")
        T = integer("T", T, *T_SLIDER)  # the sliders' ranges: a value outside one would be moved into it
        for name, value in (("w", w), ("b", b)):
            low, high = SLIDERS[name]
            if not low <= number(name, value) <= high:
                raise SymbpttError(f"{name} must be from {low:g} to {high:g} (its slider), got {value!r:.20}")
        self.w = W.FloatSlider(value=w, min=SLIDERS["w"][0], max=SLIDERS["w"][1], step=0.05, description="w or gain")
        self.b = W.FloatSlider(value=b, min=SLIDERS["b"][0], max=SLIDERS["b"][1], step=0.1,
                               description="b or gate bias")
        self.T = W.IntSlider(value=T, min=T_SLIDER[0], max=T_SLIDER[1], description="T")
        self.activation = W.Dropdown(options=ACTIVATIONS, value=activation, description="σ (rnn)")
        self.cell = W.Dropdown(options=CELLS, value=cell, description="cell")
        self.plot = W.Output()
        self.formula = W.HTMLMath()
        self.message = W.HTML()
        self.data: dict[str, Any] = {}
        for control in (self.w, self.b, self.T, self.activation, self.cell):
            control.observe(lambda _change: self.redraw(), names="value")
        self.box = W.VBox([W.HBox([self.cell, self.activation]), W.HBox([self.w, self.b, self.T]), self.plot,
                           self.formula, self.message])
        self.redraw()

    def redraw(self) -> None:
        """Recompute and redraw; a refusal shows as one line under the plot instead of a traceback."""
        try:
            data = compute(self.cell.value, self.activation.value, self.w.value, self.b.value, self.T.value)
        except SymbpttError as exc:
            self.message.value = f"<span style='color:#a00'>{exc}</span>"
            return
        self.message.value = ""
        self.data = data
        self.formula.value = data["formula"] or f"(the formula is shown for T ≤ {FORMULA_MAX_T})"
        self._draw(data)

    def _draw(self, data: dict[str, Any]) -> None:
        from IPython.display import clear_output, display

        fig = figure(data)
        with self.plot:
            clear_output(wait=True)
            display(fig)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)


def figure(data: dict[str, Any]) -> Any:
    """The explorer's two panels from ``compute``'s numbers: log10‖∂h_T/∂h_k‖ against k, and each step's
    term of ∂L/∂θ as a bar rising from a floor below the smallest term (so a larger term is a taller bar;
    bars from 0 made the smallest the longest), coloured by its sign, with a legend."""
    from matplotlib.patches import Patch

    from .plots.common import new_figure

    fig, (left, right) = new_figure(1, 2, figsize=(10, 3.6))
    fig.subplots_adjust(bottom=0.16, wspace=0.3)
    left.plot(data["k"], data["log10_norms"], marker="o", markersize=3)
    left.set_xlabel("k")
    left.set_ylabel(r"$\log_{10}\|\partial h_T/\partial h_k\|$")
    terms = np.asarray(data["terms"], dtype=float)
    if "term_log10" in data:  # from the exact terms where float64 did not hold them
        logs, signs = np.asarray(data["term_log10"], dtype=float), np.asarray(data["term_sign"], dtype=float)
    else:
        logs = np.log10(np.abs(terms), where=terms != 0, out=np.full(terms.shape, np.nan))
        signs = np.sign(terms)
    finite = logs[np.isfinite(logs)]
    floor = float(np.floor(finite.min())) - 1.0 if finite.size else 0.0
    heights = np.where(np.isfinite(logs), logs - floor, 0.0)
    right.bar(data["term_k"], heights, bottom=floor, color=["tab:red" if v > 0 else "tab:blue" for v in signs])
    right.legend(handles=[Patch(color="tab:red", label="term > 0"), Patch(color="tab:blue", label="term < 0")],
                 fontsize=7.5)
    right.set_xlabel("step k")
    right.set_ylabel(f"log10 |term k of ∂L/∂{data['wrt']}|")
    return fig


def explore(T: int = 20, cell: str = "rnn", activation: str = "tanh", w: float = 1.2, b: float = 0.0) -> Explorer:
    """The interactive explorer (needs ipywidgets: pip install 'symbptt[notebook]')."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        raise SymbpttError("explore needs ipywidgets: pip install 'symbptt[notebook]'") from None
    return Explorer(T, cell, activation, w, b)
