"""`symbptt plot KIND`: options are checked against the kind (an option a kind does not use is refused
with a one-line error naming the kind), then the figure is drawn by plots/ and written atomically."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from . import completion as complete
from .cli import SEED, STEPS, Finite
from .errors import SymbpttError

KIND_OPTIONS = {
    "regimes": {"activation", "T", "low", "high", "points", "u", "b", "h0", "seed", "quantity", "target", "beside"},
    "curves": {"activation", "T", "weights", "u", "b", "seed", "beside", "cell", "n", "gain", "forget_bias"},
    "contributions": {"params_file", "wrt"},
    "spectrum": {"activation", "n", "low", "high", "points", "T", "seed", "theory", "seeds", "init"},
    "surface": {"activation", "low", "high", "b_min", "b_max", "points", "T", "target", "a0"},
    "unrolled": {"T", "layers", "cell", "backward"},
    "gates": {"low", "high", "points", "T", "n", "gain", "u", "seed"},
    "training": {"activation", "cell", "n", "task", "lengths", "clip", "iterations", "batch", "lr", "optimizer",
                 "scale", "forget_bias", "seed"},
    "horizon": {"activation", "cell", "n", "task", "lengths", "iterations", "batch", "lr", "optimizer", "scale",
                "forget_bias", "seed", "seeds"},
    "gradmap": {"cell", "wrt", "low", "high", "points", "T", "n", "u", "seed"},
    "isometry": {"activation", "n", "gain", "lengths", "seed", "u"},
    "meanfield": {"activation", "T", "seeds", "seed", "sizes"},
    "units": {"activation", "n", "T", "gain", "u", "seed"},
}
FLAGS = {"activation": "-a", "T": "-T", "low": "--min", "high": "--max", "points": "--points", "u": "-u",
         "b": "-b", "h0": "--h0", "seed": "--seed", "quantity": "--quantity", "weights": "--weights", "n": "-n",
         "params_file": "--params", "b_min": "--b-min", "b_max": "--b-max", "target": "--target",
         "layers": "--layers", "beside": "--beside", "cell": "--cell", "gain": "--gain",
         "forget_bias": "--forget-bias", "backward": "--backward", "wrt": "--wrt", "a0": "--a0", "task": "--task",
         "lengths": "--lengths", "clip": "--clip", "iterations": "--iterations", "batch": "--batch", "lr": "--lr",
         "optimizer": "--optimizer", "scale": "--scale", "seeds": "--seeds", "theory": "--theory", "sizes": "--sizes",
         "init": "--init"}


@click.command("plot", epilog="""
\b
Kinds:
  regimes        log10|∂h_T/∂h_0| over weight × T (linear beside it)
  curves         |∂h_T/∂h_0| against T and the bound; --cell a,b compares
  contributions  the terms of ∂L/∂θ step by step (default: shipped example)
  spectrum       Lyapunov rate against a gain on a random n×n W
  surface        Pascanu et al.'s single-unit error surface
  unrolled       the unrolled network; --backward adds the BPTT pass
  gates          LSTM: forget bias b_f × T, the carousel beside ∂h_T/∂h_0
  training       loss and gradient norm of training runs (vary --lengths,
                 --cell or --clip)
  horizon        share of seeds that solve a task against T, per cell
  gradmap        log10|∂L/∂θ| over a bias or per-unit parameter θ × T
  isometry       singular values of ∂h_T/∂h_0: Gaussian against orthogonal W
  meanfield      gap between the mean-field rate and networks of width n
  units          IndRNN: each unit's product of w_i σ' beside (|w_i| γ)^T
\b
Examples:
  symbptt plot regimes -o regimes.png
  symbptt plot curves --weights 0.5,1,1.5 -T 100 -o curves.svg
  symbptt plot curves --cell rnn,lstm,gru --forget-bias 1 -o cells.png
  symbptt plot contributions --params example -o terms.pdf
  symbptt plot spectrum -n 64 --theory -o spectrum.png
  symbptt plot unrolled -T 3 --cell lstm --backward -o lstm.png
  symbptt plot gates -T 100 -o gates.png
  symbptt plot training --lengths 10,20,40 -n 8 -o learning.png
  symbptt plot training --lengths 20 --scale 2 --clip none,1 -o clip.png
  symbptt plot horizon --cell rnn,lstm --forget-bias 2 --lengths 5,10 -o h.png
  symbptt plot gradmap --cell lru --wrt nu -T 300 -o nu.png
  symbptt plot isometry -n 64 --lengths 1,10,50 -o isometry.png
  symbptt plot meanfield --sizes 4,16,64 --seeds 4 -o gap.png
  symbptt plot units -n 8 -T 100 -o units.png
""")
@click.argument("kind", shell_complete=complete.words(tuple(KIND_OPTIONS)))
@click.option("-o", "--output", required=True, shell_complete=complete.path, help="Output file: .png, .svg or .pdf.")
@click.option("-a", "--activation", default="tanh", show_default=True)
@click.option("-T", "--steps", "T", type=STEPS, default=None, help="Sequence length (default depends on KIND).")
@click.option("--min", "low", type=Finite(), default=None, help="Smallest weight, gain or forget bias.")
@click.option("--max", "high", type=Finite(), default=None, help="Largest weight, gain or forget bias.")
@click.option("--points", type=click.IntRange(min=2, max=100_000), default=None, help="Grid points.")
@click.option("-u", "--input-weight", "u", type=Finite(), default=None,
              help="The drive: weight of the inputs x_t ~ U(-1, 1), 1 (scale of U for cells; isometry: the "
                   "inputs' standard deviation, 0.1).")
@click.option("-b", "--bias", "b", type=Finite(), default=0.0, show_default=True)
@click.option("--h0", type=Finite(), default=0.0, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--quantity", type=click.Choice(["jacobian", "grad"]), default="jacobian", show_default=True,
              help="regimes: |∂h_T/∂h_0| or |∂L/∂w|.")
@click.option("--beside", type=click.Choice(["linear", "none"]), default="linear", show_default=True,
              help="regimes, curves: a linear panel next to the activation's.")
@click.option("--weights", default="0.5,1,1.5", show_default=True, help="curves: comma-separated w.")
@click.option("--cell", default=None, shell_complete=complete.cell,
              help="curves, training, horizon: the cells to compare, comma-separated (e.g. rnn,lstm,gru); "
                   "unrolled, gradmap: the cell.")
@click.option("-n", "--hidden", "n", type=click.IntRange(1, 256), default=None,
              help="spectrum: size of W (64); curves --cell: hidden size (8); gates: (1).")
@click.option("--gain", type=Finite(), default=None,
              help="curves --cell, gates: W ~ N(0, g²/n), 1; isometry: W = g·W0 (default: the edge of chaos); "
                   "units: w_i ~ U(0, g), 1.2.")
@click.option("--forget-bias", type=Finite(), default=1.0, show_default=True,
              help="curves --cell, training, horizon: the LSTM's b_f.")
@click.option("--params", "params_file", default=None, shell_complete=complete.path,
              help="contributions: a JSON parameters file, or example, example-lstm.")
@click.option("--wrt", default=None, shell_complete=complete.wrt,
              help="contributions: the parameter (default: the recurrent weight); "
              "gradmap: a bias or per-unit parameter (default: the first per-unit one, else bias).")
@click.option("--b-min", type=Finite(), default=-3.0, show_default=True, help="surface: smallest bias.")
@click.option("--b-max", type=Finite(), default=3.0, show_default=True, help="surface: largest bias.")
@click.option("--target", type=Finite(), default=0.5, show_default=True, help="surface, regimes --quantity grad: y.")
@click.option("--a0", type=Finite(), default=0.5, show_default=True, help="surface: the unit's a_0.")
@click.option("--layers", type=click.IntRange(1, 3), default=1, show_default=True, help="unrolled: stacked layers.")
@click.option("--backward", is_flag=True, help="unrolled: draw the backward pass with its factors.")
@click.option("--theory", is_flag=True, help="spectrum: the mean-field rate (n → ∞) beside the observed one.")
@click.option("--task", type=click.Choice(["remember", "adding"]), default="remember", show_default=True,
              help="training, horizon: the task.")
@click.option("--lengths", default=None, help="training, horizon (10,20,40), isometry (1,10,50): values of T.")
@click.option("--clip", default="none", show_default=True, help="training: clip norms to compare, or none.")
@click.option("--iterations", type=click.IntRange(1, 100_000), default=300, show_default=True,
              help="training, horizon: iterations per run.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=32, show_default=True, help="training, horizon.")
@click.option("--lr", type=Finite(), default=0.01, show_default=True, help="training, horizon: learning rate.")
@click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam"]), default="adam", show_default=True,
              help="training, horizon.")
@click.option("--scale", type=Finite(), default=1.0, show_default=True,
              help="training, horizon: initial W ~ N(0, scale²/n).")
@click.option("--seeds", type=click.IntRange(1, 20), default=None,
              help="horizon: runs per point (2); spectrum: networks averaged, with their band (1); meanfield: "
                   "networks per width (4).")
@click.option("--sizes", default="4,8,16,32,64,128", show_default=True, help="meanfield: widths n.")
@click.option("--init", type=click.Choice(["gaussian", "orthogonal", "identity"]), default="gaussian",
              show_default=True, help="spectrum: how W0 is drawn (W = g·W0).")
@click.pass_context
def plot_cmd(ctx: click.Context, kind: str, output: str, **opts: Any) -> None:
    """Draw a figure of KIND into OUTPUT (the kinds are listed under Kinds in `symbptt plot --help`)."""
    from . import plots

    if kind not in KIND_OPTIONS:
        raise SymbpttError(f"unknown plot kind {kind!r}; choose one of {', '.join(KIND_OPTIONS)}")
    for name in opts:
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE and name not in KIND_OPTIONS[kind]:
            raise SymbpttError(f"plot {kind} does not use {FLAGS[name]}")
    if kind == "curves" and opts["cell"] is None:
        for name in ("n", "gain", "forget_bias"):
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
                raise SymbpttError(f"plot curves uses {FLAGS[name]} only with --cell")
    if kind == "curves" and opts["cell"] is not None:
        for name in ("weights", "b", "beside"):
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
                raise SymbpttError(f"plot curves --cell compares cells; it does not use {FLAGS[name]}")
    plots.check_plot_path(output)
    fig = plots.draw(kind, **opts)
    plots.save(fig, output)
