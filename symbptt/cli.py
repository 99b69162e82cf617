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
