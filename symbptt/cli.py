"""Command line: parse options, call the API, print.  Bad input: one line on stderr, exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .activations import NAMES
from .derive import FORMS, derive
from .errors import SymbpttError
from .model import LOSSES, MAX_HIDDEN, MAX_LAYERS, RNN
from .render import FORMATS, render_text

EXAMPLES = """
\b
Examples:
  symbptt derive -T 3
  symbptt derive -T 3 --form recursive --wrt all --loss sum
  symbptt derive -T 2 -n 2 --layers 2 --form explicit --format latex
  symbptt derive -T 4 -a 'a/(1+abs(a))' --form factors
"""


class OneLineErrors(click.Group):
    """A group whose usage errors print one line and exit 2, like SymbpttError."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            fail(exc.format_message())
        except SymbpttError as exc:
            fail(str(exc))
        if isinstance(result, int):
            sys.exit(result)
        return result


def fail(message: str) -> None:
    click.echo(f"Error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def model_options(func: Callable) -> Callable:
    """The options that describe the RNN and the gradient, shared by derive and latex."""
    options = [
        click.option("-T", "--steps", "T", type=int, default=3, show_default=True, help="Time steps T (≥ 1)."),
        click.option("-n", "--hidden", "n", type=int, default=1, show_default=True,
                     help=f"Hidden size n (1 = scalar, up to {MAX_HIDDEN})."),
        click.option("-m", "--inputs", "m", type=int, default=1, show_default=True, help="Input size m."),
        click.option("--layers", type=int, default=1, show_default=True,
                     help=f"Stacked recurrent layers (1 to {MAX_LAYERS})."),
        click.option("-a", "--activation", default="tanh", show_default=True,
                     help=f"One of {', '.join(NAMES)}, or an expression in a such as 'a/(1+abs(a))'."),
        click.option("--wrt", type=click.Choice(["W", "U", "b", "h0", "all"]), default="W", show_default=True,
                     help="Parameter to differentiate with respect to."),
        click.option("--loss", type=click.Choice(LOSSES), default="last", show_default=True,
                     help="last: ½‖h_T − y‖²; sum: Σ_t ½‖h_t − y_t‖²."),
        click.option("--form", type=click.Choice(FORMS), default="explicit", show_default=True,
                     help="Which form of the gradient to build."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_rnn(T: int, n: int, m: int, layers: int, activation: str, loss: str) -> RNN:
    return RNN(T=T, n=n, m=m, layers=layers, activation=activation, loss=loss)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="symbptt")
def main() -> None:
    """Exact backpropagation through time for small RNNs: formulas, numbers, LaTeX and plots."""


@main.command(epilog=EXAMPLES)
@model_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="pretty", show_default=True,
              help="pretty: SymPy Unicode; text: one line per equation; latex: an align* snippet.")
def derive_cmd(T: int, n: int, m: int, layers: int, activation: str, wrt: str, loss: str, form: str,
               fmt: str) -> None:
    """Derive the BPTT gradient of an RNN unrolled to T steps."""
    derivation = derive(build_rnn(T, n, m, layers, activation, loss), form=form, wrt=wrt)
    if fmt == "latex":
        from .latex import snippet

        click.echo(snippet(derivation), nl=False)
    else:
        click.echo(render_text(derivation, pretty=fmt == "pretty"), nl=False)


derive_cmd.name = "derive"


def emit(text: str | bytes, output: str | None) -> None:
    """Print, or write atomically to ``output``."""
    if output:
        from .output import atomic_write

        atomic_write(output, text)
    else:
        click.echo(text, nl=False)


@main.command("grad")
@click.option("--params", "params_file", required=True, type=click.Path(dir_okay=False),
              help="JSON file: activation, W, U, b, h0, x, y, loss, optional truncate.")
@click.option("-o", "--output", default=None, help="Write the JSON here instead of printing it.")
def grad_cmd(params_file: str, output: str | None) -> None:
    """Loss, gradients, log10 Jacobian norms and the regime of a numeric RNN, as JSON.

    \b
    Example file (scalar):  {"activation": "tanh", "W": 0.9, "U": 1, "b": 0, "h0": 0,
                             "x": [1, 0.5, -0.2], "y": 0.3, "loss": "last", "truncate": 2}
    """
    from .config import load_config
    from .numeric import grad_report
    from .output import check_output_path, strict_json

    if output:
        check_output_path(output)
    emit(strict_json(grad_report(load_config(params_file))), output)


def _grid(low: float, high: float, points: int, name: str) -> Any:
    import numpy as np

    if points < 1:
        raise SymbpttError(f"--points must be at least 1, got {points}")
    if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
        raise SymbpttError(f"{name} range is empty or reversed: {low} .. {high}")
    return np.linspace(low, high, points)


@main.command("sweep")
@click.option("-a", "--activation", default="tanh", show_default=True)
@click.option("-T", "--steps", "T", type=int, default=100, show_default=True, help="Largest T.")
@click.option("--min", "low", type=float, default=-3.0, show_default=True, help="Smallest weight (or gain).")
@click.option("--max", "high", type=float, default=3.0, show_default=True, help="Largest weight (or gain).")
@click.option("--points", type=int, default=61, show_default=True, help="Grid points.")
@click.option("-n", "--hidden", "n", type=int, default=1, show_default=True,
              help="1: sweep the scalar weight w; >1: sweep a gain g on a random n×n W0 (up to 256).")
@click.option("-u", "--input-weight", "u", type=float, default=1.0, show_default=True)
@click.option("-b", "--bias", "b", type=float, default=0.0, show_default=True)
@click.option("--h0", type=float, default=0.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random inputs (and W0).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("-o", "--output", default=None, help="Write here instead of printing.")
def sweep_cmd(activation: str, T: int, low: float, high: float, points: int, n: int, u: float, b: float,
              h0: float, seed: int, fmt: str, output: str | None) -> None:
    """log10|∂h_T/∂h_0| over a weight grid × T = 1..T, computed in one pass."""
    from .activations import get_activation
    from .config import MAX_NUMERIC_HIDDEN
    from .numeric import sweep_gain, sweep_scalar
    from .output import check_output_path, strict_json

    get_activation(activation)
    if T < 1:
        raise SymbpttError(f"T (steps) must be at least 1, got {T}")
    if not 1 <= n <= MAX_NUMERIC_HIDDEN:
        raise SymbpttError(f"hidden size n must be from 1 to {MAX_NUMERIC_HIDDEN}, got {n}")
    grid = _grid(low, high, points, "weight" if n == 1 else "gain")
    if output:
        check_output_path(output)
    if n == 1:
        values, axis = sweep_scalar(grid, T, activation, u=u, b=b, h0=h0, seed=seed), "w"
    else:
        values, axis = sweep_gain(grid, T, activation, n, seed=seed), "g"
    if fmt == "json":
        text = strict_json({"activation": activation, "axis": axis, axis: grid, "T": list(range(1, T + 1)),
                            "log10_dh_T_dh_0": values})
    else:
        header = "T," + ",".join(f"{axis}={v:.6g}" for v in grid)
        rows = [f"{t}," + ",".join(f"{v:.10g}" for v in values[t - 1]) for t in range(1, T + 1)]
        text = "\n".join([header, *rows]) + "\n"
    emit(text, output)


@main.command("check")
@click.option("--trials", type=int, default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-T", "--steps", "T", type=int, default=6, show_default=True, help="Largest T drawn.")
def check_cmd(trials: int, seed: int, T: int) -> None:
    """Cross-check symbolic, structural, reference, finite-difference and mpmath gradients.

    Exits 1 when any method disagrees with the 50-digit mpmath value beyond its tolerance."""
    from .check import run_checks

    if trials < 1:
        raise SymbpttError(f"--trials must be at least 1, got {trials}")
    if not 1 <= T <= 12:
        raise SymbpttError(f"-T must be from 1 to 12 for the cross-check, got {T}")
    report = run_checks(trials=trials, seed=seed, T_max=T)
    click.echo(report.table(), nl=False)
    if not report.ok:
        sys.exit(1)


@main.command("latex", epilog="""
\b
Examples:
  symbptt latex -T 3 --standalone -o bptt.tex && pdflatex bptt.tex
  symbptt latex -T 3 --form recursive --wrt all
  symbptt latex -T 4 --layers 2 --diagram --standalone -o unrolled.tex
""")
@model_options
@click.option("--standalone", is_flag=True, help="A complete article that compiles as it is.")
@click.option("--diagram", is_flag=True, help="Add a TikZ picture of the unrolled network.")
@click.option("-o", "--output", default=None, help="Write the LaTeX here (atomically) instead of printing.")
def latex_cmd(T: int, n: int, m: int, layers: int, activation: str, wrt: str, loss: str, form: str,
              standalone: bool, diagram: bool, output: str | None) -> None:
    """LaTeX of the derivation: an amsmath snippet, or a standalone document."""
    from .latex import snippet, tikz_diagram
    from .latex import standalone as document
    from .output import check_output_path

    if output:
        check_output_path(output)
    rnn = build_rnn(T, n, m, layers, activation, loss)
    if standalone:
        text = document(rnn, wrt=wrt, diagram=diagram)
    else:
        text = snippet(derive(rnn, form=form, wrt=wrt))
        if diagram:
            text += tikz_diagram(rnn)
    emit(text, output)


@main.command("plot", epilog="""
\b
Examples:
  symbptt plot regimes -o regimes.png
  symbptt plot curves --weights 0.5,0.9,1.1,2 -T 100 -o curves.svg
  symbptt plot contributions --params p.json -o terms.pdf
  symbptt plot spectrum -n 64 -o spectrum.png
  symbptt plot surface -T 30 -o surface.png
  symbptt plot unrolled -T 3 --layers 2 -o unrolled.png
""")
@click.argument("kind")
@click.option("-o", "--output", required=True, help="Output file: .png, .svg or .pdf.")
@click.option("-a", "--activation", default="tanh", show_default=True)
@click.option("-T", "--steps", "T", type=int, default=None, help="Sequence length (default depends on KIND).")
@click.option("--min", "low", type=float, default=None, help="Smallest weight (regimes, surface) or gain.")
@click.option("--max", "high", type=float, default=None, help="Largest weight (regimes, surface) or gain.")
@click.option("--points", type=int, default=None, help="Grid points along the weight or gain axis.")
@click.option("-u", "--input-weight", "u", type=float, default=1.0, show_default=True)
@click.option("-b", "--bias", "b", type=float, default=0.0, show_default=True)
@click.option("--h0", type=float, default=0.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quantity", type=click.Choice(["jacobian", "grad"]), default="jacobian", show_default=True,
              help="regimes: |∂h_T/∂h_0| or |∂L/∂w|.")
@click.option("--weights", default="0.5,0.9,1.1,2", show_default=True, help="curves: comma-separated w.")
@click.option("-n", "--hidden", "n", type=int, default=64, show_default=True, help="spectrum: size of W.")
@click.option("--params", "params_file", default=None, help="contributions: a JSON parameters file.")
@click.option("--b-min", type=float, default=-3.0, show_default=True, help="surface: smallest bias.")
@click.option("--b-max", type=float, default=3.0, show_default=True, help="surface: largest bias.")
@click.option("--target", type=float, default=0.5, show_default=True, help="surface: target of h_T.")
@click.option("--layers", type=int, default=1, show_default=True, help="unrolled: stacked layers.")
def plot_cmd(kind: str, output: str, activation: str, T: int | None, low: float | None, high: float | None,
             points: int | None, u: float, b: float, h0: float, seed: int, quantity: str, weights: str, n: int,
             params_file: str | None, b_min: float, b_max: float, target: float, layers: int) -> None:
    """Draw KIND (regimes, curves, contributions, spectrum, surface, unrolled) into OUTPUT."""
    from . import plot
    from .activations import get_activation

    if kind not in plot.KINDS:
        raise SymbpttError(f"unknown plot kind {kind!r}; choose one of {', '.join(plot.KINDS)}")
    plot.check_plot_path(output)
    get_activation(activation)
    if points is not None and points < 2:
        raise SymbpttError(f"--points must be at least 2, got {points}")
    if kind == "regimes":
        fig, _ = plot.regimes(activation, low if low is not None else -3.0, high if high is not None else 3.0,
                              points or 241, T or 100, u, b, h0, seed, quantity)
    elif kind == "curves":
        try:
            ws = tuple(float(v) for v in weights.split(",") if v.strip())
        except ValueError:
            raise SymbpttError(f"--weights must be comma-separated numbers, got {weights!r}") from None
        fig, _ = plot.curves(activation, ws, T or 100, u, b, seed)
    elif kind == "contributions":
        from .config import load_config

        if not params_file:
            raise SymbpttError("plot contributions needs --params FILE.json")
        fig, _ = plot.contributions(load_config(params_file))
    elif kind == "spectrum":
        fig, _ = plot.spectrum(activation, n, low if low is not None else 0.1, high if high is not None else 3.0,
                               points or 30, T or 200, seed)
    elif kind == "surface":
        fig, _ = plot.surface(activation, low if low is not None else -3.0, high if high is not None else 3.0,
                              b_min, b_max, points or 161, T or 30, target)
    else:
        fig, _ = plot.unrolled(T or 3, layers)
    plot.save(fig, output)
