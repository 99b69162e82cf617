"""`symbptt plot KIND`: options are checked against the kind (an option a kind does not use is refused),
then the figure is drawn by plot.py and written atomically."""

from __future__ import annotations

import click
from click.core import ParameterSource

from .cli import SEED, STEPS, Finite
from .errors import SymbpttError

KIND_OPTIONS = {
    "regimes": {"activation", "T", "low", "high", "points", "u", "b", "h0", "seed", "quantity"},
    "curves": {"activation", "T", "weights", "u", "b", "h0", "seed"},
    "contributions": {"params_file"},
    "spectrum": {"activation", "n", "low", "high", "points", "T", "seed"},
    "surface": {"activation", "low", "high", "b_min", "b_max", "points", "T", "target"},
    "unrolled": {"T", "layers"},
}
FLAGS = {"activation": "-a", "T": "-T", "low": "--min", "high": "--max", "points": "--points", "u": "-u",
         "b": "-b", "h0": "--h0", "seed": "--seed", "quantity": "--quantity", "weights": "--weights", "n": "-n",
         "params_file": "--params", "b_min": "--b-min", "b_max": "--b-max", "target": "--target",
         "layers": "--layers"}


@click.command("plot", epilog="""
\b
Examples:
  symbptt plot regimes -o regimes.png
  symbptt plot curves --weights 0.5,0.9,1.1,2 -T 100 -o curves.svg
  symbptt plot contributions --params docs/example.json -o terms.pdf
  symbptt plot spectrum -n 64 -o spectrum.png
  symbptt plot surface -T 30 -o surface.png
  symbptt plot unrolled -T 3 --layers 2 -o unrolled.png
""")
@click.argument("kind")
@click.option("-o", "--output", required=True, help="Output file: .png, .svg or .pdf.")
@click.option("-a", "--activation", default="tanh", show_default=True)
@click.option("-T", "--steps", "T", type=STEPS, default=None, help="Sequence length (default depends on KIND).")
@click.option("--min", "low", type=Finite(), default=None, help="Smallest weight (regimes, surface) or gain.")
@click.option("--max", "high", type=Finite(), default=None, help="Largest weight (regimes, surface) or gain.")
@click.option("--points", type=click.IntRange(min=2), default=None, help="Grid points along the weight or gain axis.")
@click.option("-u", "--input-weight", "u", type=Finite(), default=1.0, show_default=True)
@click.option("-b", "--bias", "b", type=Finite(), default=0.0, show_default=True)
@click.option("--h0", type=Finite(), default=0.0, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--quantity", type=click.Choice(["jacobian", "grad"]), default="jacobian", show_default=True,
              help="regimes: |∂h_T/∂h_0| or |∂L/∂w|.")
@click.option("--weights", default="0.5,0.9,1.1,2", show_default=True, help="curves: comma-separated w.")
@click.option("-n", "--hidden", "n", type=click.IntRange(2, 256), default=64, show_default=True,
              help="spectrum: size of W.")
@click.option("--params", "params_file", default=None, help="contributions: a JSON parameters file.")
@click.option("--b-min", type=Finite(), default=-3.0, show_default=True, help="surface: smallest bias.")
@click.option("--b-max", type=Finite(), default=3.0, show_default=True, help="surface: largest bias.")
@click.option("--target", type=Finite(), default=0.5, show_default=True, help="surface: target of h_T.")
@click.option("--layers", type=click.IntRange(1, 3), default=1, show_default=True, help="unrolled: stacked layers.")
@click.pass_context
def plot_cmd(ctx: click.Context, kind: str, output: str, **opts: object) -> None:
    """Draw KIND (regimes, curves, contributions, spectrum, surface, unrolled) into OUTPUT."""
    from . import plot

    if kind not in KIND_OPTIONS:
        raise SymbpttError(f"unknown plot kind {kind!r}; choose one of {', '.join(KIND_OPTIONS)}")
    for name in opts:
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE and name not in KIND_OPTIONS[kind]:
            raise SymbpttError(f"plot {kind} does not use {FLAGS[name]}")
    plot.check_plot_path(output)
    fig = plot.draw(kind, **opts)
    plot.save(fig, output)
