"""Command line: parse options, call the API, print.  Bad input: one line on stderr, exit code 2.

Only click is imported at start-up; SymPy, NumPy and matplotlib are imported inside the command that
needs them, so ``symbptt --help`` answers at once.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click
from click.core import ParameterSource

from . import completion as complete
from .errors import SymbpttError
from .validate import CHECK_MAX_T, MAX_SEED, MIN_WIDTH, VERIFY_MAX_POINTS, VERIFY_MAX_T

FORMS = ("unroll", "factors", "general", "explicit", "recursive", "expanded")
FORMATS = ("pretty", "text", "latex")
LOSSES = ("last", "sum")
CELLS = "rnn, lstm, gru, indrnn, mingru, minlstm, lru or a cell file (.toml)"

DERIVE_EXAMPLES = """
\b
Examples:
  symbptt derive -T 3
  symbptt derive -T 3 --form recursive --wrt all --loss sum
  symbptt derive -T 3 --factors named
  symbptt derive -T 2 -n 2 --layers 2 --form general --format latex
  symbptt derive -T 3 --cell lstm --wrt W_f
  symbptt derive -T 4 -a 'a/(1+abs(a))' --form factors
  symbptt derive -T 3 --form recursive --format numpy
"""


class OneLineErrors(click.Group):
    """A group whose usage errors print one line and exit 2, like SymbpttError.  Commands listed in
    ``lazy`` are imported only when used (plotting pulls in matplotlib)."""

    lazy = {"plot": ("symbptt.plotcli", "plot_cmd"), "grad": ("symbptt.gradcli", "grad_cmd"),
            "theory": ("symbptt.theorycli", "theory_cmd")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            import importlib

            module, attr = self.lazy[name]
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        import warnings

        kwargs["standalone_mode"] = False
        warnings.simplefilter("ignore", RuntimeWarning)  # a safety net: the numeric code handles its own events
        given = kwargs.get("args", args[0] if args else None)  # click's own runner passes args=…
        argv = list(given) if given is not None else sys.argv[1:]
        for i, token in enumerate(argv):  # an empty value never silently means the default
            if token == "" or (token.startswith("--") and token.endswith("=")):
                if token and token.endswith("="):
                    fail(f"{token[:-1]}: an empty value is not allowed")
                if i and argv[i - 1].startswith("-"):
                    fail(f"{argv[i - 1]}: an empty value is not allowed")
                fail(f"an empty argument (after {argv[i - 1][:40]!r}) is not allowed" if i
                     else "an empty first argument is not allowed: give a command")
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:  # what click makes of Ctrl-C
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            fail(exc.format_message())
        except SymbpttError as exc:
            fail(str(exc), exc.exit_code)
        except BrokenPipeError:
            _quiet_broken_pipe()
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        if isinstance(result, int):
            sys.exit(result)
        return result


def _quiet_broken_pipe() -> None:
    """The reader went away (``symbptt … | head``): stop quietly, as other tools do."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def fail(message: str, code: int = 2) -> None:
    text = " ".join(str(message).split())
    click.echo(f"Error: {text[:400]}", err=True)
    sys.exit(code)


class Finite(click.ParamType):
    """A float that must be finite (nan and inf are refused), optionally within bounds."""

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None, positive: bool = False) -> None:
        self.low, self.high, self.positive = low, high, positive

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.positive and number <= 0:
            self.fail(f"{value!r} must be positive", param, ctx)
        if self.low is not None and number < self.low:
            self.fail(f"{value!r} is below {self.low:g}", param, ctx)
        if self.high is not None and number > self.high:
            self.fail(f"{value!r} is above {self.high:g}", param, ctx)
        return number


SEED = click.IntRange(0, MAX_SEED)
STEPS = click.IntRange(min=1)


def _terminal_width() -> int:
    """The terminal's width (COLUMNS first, as shutil reads it); 100 when piped and COLUMNS is not set."""
    columns = os.environ.get("COLUMNS", "")
    if not sys.stdout.isatty() and not columns.isdigit():
        return 100
    return max(MIN_WIDTH, shutil.get_terminal_size((100, 24)).columns)


def model_options(func: Callable) -> Callable:
    """The options that describe the network and the gradient, shared by derive and latex."""
    options = [
        click.option("-T", "--steps", "T", type=STEPS, default=3, show_default=True, help="Time steps T (≥ 1)."),
        click.option("-n", "--hidden", "n", type=int, default=1, show_default=True,
                     help="Hidden size n (1 = scalar, up to 4)."),
        click.option("-m", "--inputs", "m", type=int, default=1, show_default=True, help="Input size m (1 to 4)."),
        click.option("--layers", type=int, default=1, show_default=True, help="Stacked recurrent layers (1 to 3)."),
        click.option("--cell", default="rnn", show_default=True, shell_complete=complete.cell,
                     help=f"The cell: {CELLS}."),
        click.option("-a", "--activation", default=None,
                     help="rnn and indrnn: tanh (default), sigmoid, relu, linear, or an expression in a such as "
                          "'a/(1+abs(a))'."),
        click.option("--wrt", default=None, shell_complete=complete.wrt,
                     help="Parameter to differentiate with respect to (the cell's names, e.g. W, U, b, h0, "
                          "W_f, b_hn) or all; default: the cell's first recurrent weight (W, W_i, W_r)."),
        click.option("--loss", type=click.Choice(LOSSES), default="last", show_default=True,
                     help="last: ½‖h_T − y‖²; sum: Σ_t ½‖h_t − y_t‖²."),
        click.option("--form", type=click.Choice(FORMS), default="explicit", show_default=True,
                     help="Which form of the gradient to build."),
        click.option("--factors", "factors", type=click.Choice(["written", "named"]), default=None,
                     help="explicit/recursive: factors written out (default for the scalar rnn) or named "
                          "(J_3, D_1) with their definitions."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_rnn(T: int, n: int, m: int, layers: int, activation: str | None, loss: str, cell: str) -> Any:
    from .model import RNN

    return RNN(T=T, n=n, m=m, layers=layers, activation=activation, loss=loss, cell=cell)


def build_derivation(T: int, n: int, m: int, layers: int, cell: str, activation: str | None, wrt: str,
                     loss: str, form: str, factors: str | None) -> Any:
    from .forms import derive

    rnn = build_rnn(T, n, m, layers, activation, loss, cell)
    named = None if factors is None else factors == "named"
    return derive(rnn, form=form, wrt=wrt, named=named)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="symbptt", prog_name="symbptt")  # the version of pyproject.toml
def main() -> None:
    """Exact backpropagation through time for small RNNs: formulas, numbers, LaTeX and plots.

    \b
    symbptt derive -T 3                   the gradient of a tanh unit, every path
    symbptt latex -T 3 --standalone -o bptt.tex     a document that compiles
    symbptt grad --params example         numbers, exact beyond float64
    symbptt plot regimes -o r.png         where gradients vanish or explode
    symbptt COMMAND --help                options and examples of one command
    """


@main.command("derive", epilog=DERIVE_EXAMPLES)
@model_options
@click.option("--format", "fmt", type=click.Choice([*FORMATS, "numpy"]), default="pretty", show_default=True,
              help="pretty: Unicode; text: one equation per line, NumPy-style operators; latex: an align* snippet; "
                   "numpy: a standalone Python module computing the explicit or recursive form.")
@click.option("--width", type=click.IntRange(min=MIN_WIDTH), default=None,
              help="Wrap at this many columns (default: the terminal's, 100 when piped).")
def derive_cmd(T: int, n: int, m: int, layers: int, cell: str, activation: str | None, wrt: str, loss: str,
               form: str, factors: str | None, fmt: str, width: int | None) -> None:
    """Derive the BPTT gradient of an RNN unrolled to T steps."""
    if fmt != "latex":
        _require_unicode()
    if fmt == "numpy":
        emit_lines([numpy_module(T, n, m, layers, cell, activation, wrt, loss, form)])
        return
    derivation = build_derivation(T, n, m, layers, cell, activation, wrt, loss, form, factors)
    if fmt == "latex":
        from .latex import snippet

        emit_lines([snippet(derivation)])
        return
    from .render import render_lines

    emit_lines(render_lines(derivation, pretty=fmt == "pretty", width=width or _terminal_width()), newline=True)


def numpy_module(T: int, n: int, m: int, layers: int, cell: str, activation: str | None, wrt: str | None,
                 loss: str, form: str, command: str | None = None) -> str:
    """`derive --format numpy`: the explicit or recursive form as a standalone NumPy module."""
    from .budget import check_form_size
    from .numeric.code import numpy_source
    from .paths import default_wrt, resolve_wrt

    if form not in ("explicit", "recursive"):
        raise SymbpttError(f"--format numpy writes the explicit or the recursive form, not {form}")
    rnn = build_rnn(T, n, m, layers, activation, loss, cell)
    wrt = resolve_wrt(rnn, wrt or default_wrt(rnn))
    check_form_size(rnn, form, wrt)
    if command is None:
        command = " ".join(["symbptt derive", *sys.argv[2:]]) if sys.argv[1:2] == ["derive"] else ""
    return numpy_source(rnn, form, wrt, command=command)


def emit_lines(chunks: Iterable[str], newline: bool = False) -> None:
    """Write chunks to stdout as they come; refuse an encoding that cannot show them."""
    stream = sys.stdout
    try:
        for chunk in chunks:
            stream.write(chunk + ("\n" if newline else ""))
        stream.flush()
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", "?")
        raise SymbpttError(f"the output encoding {encoding} cannot show these formulas; set "
                           "PYTHONIOENCODING=utf-8, or use --format latex or -o FILE") from None


def _require_unicode() -> None:
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "∂δ⋅ᵀ₀⎛".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        raise SymbpttError(f"the output encoding {encoding} cannot show these formulas; set "
                           "PYTHONIOENCODING=utf-8, or use --format latex") from None


def emit(text: str | bytes, output: str | None) -> None:
    """Print, or write atomically to ``output``."""
    if output is not None:
        from .output import atomic_write

        atomic_write(output, text)
    else:
        emit_lines([text if isinstance(text, str) else text.decode()])


def check_output(output: str | None) -> None:
    if output is not None:
        from .output import check_output_path

        check_output_path(output)


@main.command("sweep", epilog="""
\b
Examples:
  symbptt sweep -T 100 --min -3 --max 3 --points 61
  symbptt sweep -n 32 -T 200 --format json -o gains.json
  symbptt sweep --quantity grad --wrt b -T 200
  symbptt sweep --cell lstm --param b_f --min -4 --max 6 -T 100
  symbptt sweep --cell gru -n 8 --param gain --min 0.5 --max 3
""")
@click.option("--cell", default="rnn", show_default=True, help=f"{CELLS}.", shell_complete=complete.cell)
@click.option("-a", "--activation", default="tanh", show_default=True, help="rnn and indrnn.")
@click.option("--param", default=None,
              help="What the grid sets: a parameter of the cell (every entry), or 'gain' (W = g·W0). "
                   "Default: w for the scalar rnn, else gain.")
@click.option("-T", "--steps", "T", type=STEPS, default=100, show_default=True, help="Largest T.")
@click.option("--min", "low", type=Finite(), default=-3.0, show_default=True, help="Smallest grid value.")
@click.option("--max", "high", type=Finite(), default=3.0, show_default=True, help="Largest grid value.")
@click.option("--points", type=click.IntRange(min=1), default=61, show_default=True, help="Grid points.")
@click.option("-n", "--hidden", "n", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Hidden size; above 1 the weights are a random W0 (N(0, 1/n)) times a gain.")
@click.option("-u", "--input-weight", "u", type=Finite(), default=1.0, show_default=True,
              help="Scalar rnn: u; other models: the scale of the random input weights (the drive; "
                   "negative flips their signs).")
@click.option("-b", "--bias", "b", type=Finite(), default=0.0, show_default=True, help="Scalar rnn only.")
@click.option("--h0", type=Finite(), default=0.0, show_default=True, help="Scalar rnn only.")
@click.option("--gain", type=Finite(), default=1.0, show_default=True,
              help="Scale of the random recurrent weights when the grid sets another parameter "
                   "(negative flips their signs).")
@click.option("--forget-bias", type=Finite(), default=1.0, show_default=True, help="LSTM: b_f unless swept.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of random inputs (and weights).")
@click.option("--quantity", type=click.Choice(["jacobian", "grad"]), default="jacobian", show_default=True,
              help="jacobian: log10‖∂s_T/∂s_0‖; grad: log10|∂L/∂θ| (scalar rnn, forward mode).")
@click.option("--wrt", type=click.Choice(["w", "u", "b", "h0"], case_sensitive=False), default="w", show_default=True,
              help="grad: the parameter θ.")
@click.option("--loss", type=click.Choice(["last", "sum"]), default="last", show_default=True,
              help="grad: ½(h_T − y)² or Σ_t ½(h_t − y)².")
@click.option("-y", "--target", "y", type=Finite(), default=0.0, show_default=True, help="grad: the target y.")
@click.option("--init", type=click.Choice(["gaussian", "orthogonal", "identity"]), default="gaussian",
              show_default=True, help="n ≥ 2: how W0 is drawn (W = gain·W0): N(0, 1/n) entries, Haar orthogonal, "
              "or the identity (torch's normal_, orthogonal_, eye_).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("-o", "--output", default=None, shell_complete=complete.path, help="Write here instead of printing.")
def sweep_cmd(cell: str, activation: str, param: str | None, T: int, low: float, high: float, points: int,
              n: int, u: float, b: float, h0: float, gain: float, forget_bias: float, seed: int, quantity: str,
              wrt: str, loss: str, y: float, init: str, fmt: str, output: str | None) -> None:
    """log10‖∂s_T/∂s_0‖ (or log10|∂L/∂θ|) over a grid of one parameter × T = 1..T, in one pass.

    The scalar rnn sweeps its weight w; other models sweep a gain on random weights or any parameter
    of the cell by name (e.g. the LSTM forget bias b_f).  Gated cells report the whole state and each
    state's block (∂h_T/∂h_0, ∂c_T/∂c_0)."""
    from .numeric.sweep_request import SweepRequest, run_sweep
    from .output import strict_json

    request = SweepRequest(cell=cell, activation=activation, param=param, T=T, low=low, high=high,
                           points=points, n=n, u=u, b=b, h0=h0, gain=gain, forget_bias=forget_bias, seed=seed,
                           quantity=quantity, wrt=wrt, loss=loss, y=y, init=init)
    request.validate()
    check_output(output)
    result = run_sweep(request)
    if fmt == "json":
        emit(strict_json(result.as_json()), output)
    else:
        emit(result.as_csv(), output)


@main.command("train", epilog="""
\b
Examples:
  symbptt train --task remember -T 20 --iterations 1000
  symbptt train --cell lstm --forget-bias 2 -T 40 --iterations 500 -o run.csv
  symbptt train -T 20 --scale 2 --optimizer sgd --lr 0.05 --clip 1
""")
@click.option("--cell", default="rnn", show_default=True, help=f"{CELLS}.", shell_complete=complete.cell)
@click.option("-a", "--activation", default="tanh", show_default=True, help="rnn and indrnn.")
@click.option("-n", "--hidden", "n", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--layers", type=click.IntRange(1, 3), default=1, show_default=True)
@click.option("--task", type=click.Choice(["remember", "adding"]), default="remember", show_default=True,
              help="remember: y = x_1/2 after T-1 noise steps; adding: half the sum of two marked values.")
@click.option("-T", "--length", "T", type=click.IntRange(min=1), default=20, show_default=True,
              help="Sequence length: how far back the answer lies.")
@click.option("--batch", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--iterations", type=click.IntRange(min=1), default=None,
              help="Iterations of gradient descent (1000), as plot training calls them.")
@click.option("--steps", "old_steps", type=click.IntRange(min=1), default=None, hidden=True)
@click.option("--lr", type=Finite(), default=0.01, show_default=True, help="Learning rate (> 0).")
@click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam"]), default="adam", show_default=True)
@click.option("--clip", type=Finite(), default=None, help="Rescale the gradient to this norm when it is longer.")
@click.option("--truncate", type=int, default=None, help="Truncated BPTT through the last k steps.")
@click.option("--scale", type=Finite(), default=1.0, show_default=True,
              help="Initial recurrent weights W ~ N(0, scale²/n).")
@click.option("--forget-bias", type=Finite(), default=1.0, show_default=True, help="LSTM: initial b_f.")
@click.option("--init", type=click.Choice(["gaussian", "orthogonal", "identity"]), default="gaussian",
              show_default=True, help="Initial recurrent matrices: N(0, scale²/n) entries, scale × Haar "
              "orthogonal, or scale × identity (torch's normal_, orthogonal_, eye_).")
@click.option("--far", type=int, default=None, help="far_share counts steps more than K back (default T/2).")
@click.option("--eval-every", type=click.IntRange(min=1), default=25, show_default=True,
              help="Held-out loss every this many iterations.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("-o", "--output", default=None, shell_complete=complete.path,
              help="Write the run here (atomically); the summary goes to stdout.")
@click.option("--torch-out", "torch_out", default=None,
              help="Write the trained parameters as the state_dict of the matching torch module.")
def train_cmd(cell: str, activation: str, n: int, layers: int, task: str, T: int, batch: int,
              iterations: int | None, old_steps: int | None, lr: float, optimizer: str, clip: float | None,
              truncate: int | None, scale: float, forget_bias: float, init: str, far: int | None, eval_every: int,
              seed: int, fmt: str, output: str | None, torch_out: str | None) -> None:
    """Gradient descent on a long-range task with the tool's exact BPTT, one row per iteration.

    Each row: the loss, the gradient norm, the share of the gradient from steps more than K back
    (far_share), whether clipping fired, the vanilla cell's bound, and every few iterations the loss
    on held-out sequences; the summary says whether the task was solved (held-out loss below a tenth
    of the mean predictor's).  Ctrl-C stops and writes what was trained so far."""
    import signal

    from .learn import TrainSettings, train
    from .learn.output import run_csv, run_json, summary_line
    from .output import strict_json
    from .progress import Progress

    if iterations is not None and old_steps is not None:
        raise SymbpttError("give --iterations once (--steps is its old name; elsewhere --steps means T)")
    steps = iterations or old_steps or 1000  # --steps, its old name, still works; it is T in other commands
    settings = TrainSettings(cell=cell, activation=activation, n=n, layers=layers, task=task, T=T, batch=batch,
                             steps=steps, lr=lr, optimizer=optimizer, clip=clip, truncate=truncate, scale=scale,
                             forget_bias=forget_bias, seed=seed, eval_every=eval_every, far=far, init=init)
    spec = settings.validate()
    check_output(output)
    if torch_out is not None:  # refused before training: no torch, or no torch module for this cell
        from .bridges.pytorch import exportable, import_torch

        check_output(torch_out)
        import_torch()
        exportable(spec, activation)
    from .numeric import jit

    interrupted = []
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    try:
        with jit.one_command():  # the compiled kernel only where SYMBPTT_JIT=1 asks: one command pays its load
            if sys.stderr.isatty() and jit.compiles_first(spec, layers, n, batch):
                click.echo(f"compiling the {spec.name} step kernel, once for this machine", err=True)
            with Progress(steps, "train") as bar:
                result = train(settings, lambda i, row: bar.update(i, f" loss {row['loss']:.4g}"),
                               lambda: bool(interrupted))
    finally:
        signal.signal(signal.SIGINT, previous)
    text = strict_json(run_json(result)) if fmt == "json" else run_csv(result)
    emit(text, output)
    if torch_out is not None and result.stopped in (None, "interrupted") and result.params:
        from .bridges import save_state_dict

        save_state_dict(torch_out, spec, activation, result.params)
    if output is not None:  # a sentence for the terminal: 80 columns
        from .wrap import fill

        click.echo(fill(summary_line(result), 80, subsequent_indent="    "))
    if result.stopped == "interrupted":
        click.echo(f"interrupted: wrote the {len(result.rows)} iterations trained so far", err=True)
        sys.exit(130)
    if result.stopped:
        click.echo(f"Error: {result.stopped}; the rows up to it were written", err=True)
        sys.exit(1)


def _cores() -> int:
    """The cores this process may run on."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@main.command("check", epilog="""
\b
Examples:
  symbptt check                 100 random configurations
  symbptt check --trials 1000 --seed 3
""")
@click.option("--trials", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("-T", "--steps", "T", type=click.IntRange(1, CHECK_MAX_T), default=6, show_default=True,
              help="Largest T drawn.")
def check_cmd(trials: int, seed: int, T: int) -> None:
    """Cross-check every way the tool computes a gradient against independent references.

    The printed forms (read back from their text and LaTeX), the compiled forms, the factor structure
    in float64, the `grad` JSON end to end, the plain-NumPy reference BPTT and finite differences are
    compared entry by entry with an mpmath BPTT at 40 digits, on the built-in cells and on five cell
    files (whose reference reads the file again and sweeps its own graph back).  Exits 1 when a method
    is off by more than its tolerance."""
    from .check import run_checks
    from .progress import Progress

    with Progress(trials, "check") as progress:  # trials side by side on the cores this process may use
        report = run_checks(trials=trials, seed=seed, T_max=T, progress=progress.update, workers=_cores())
    click.echo(report.table(_terminal_width()), nl=False)
    if not report.ok:
        sys.exit(1)


@main.command("verify", epilog="""
\b
Examples:
  symbptt verify '\\frac{\\partial L}{\\partial w} = \\sum_{k=1}^{T} (h_T - y)
    \\Bigl(\\prod_{j=k+1}^{T} w\\,\\sigma^\\prime(a_j)\\Bigr)
    \\sigma^\\prime(a_k)\\, h_{k-1}'
  symbptt verify -a sigmoid '\\frac{\\partial L}{\\partial b} = \\sum_{t=1}^{T}
    \\delta_t \\sigma^\\prime(a_t) \\\\ \\delta_T = h_T - y
    \\\\ \\delta_{t-1} = w \\sigma^\\prime(a_t) \\delta_t'
  symbptt verify -n 2 'J_t = W^\\top \\operatorname{diag}(\\sigma^\\prime(a_t))'
  symbptt verify '\\frac{\\partial h_T}{\\partial h_k}
    = \\prod_{j=k+1}^{T} w (1-h_j^2)'
  symbptt verify --cell lstm '\\frac{\\partial h_T}{\\partial h_k}
    = \\prod_{j=k+1}^{T} \\frac{\\partial h_j}{\\partial h_{j-1}}'
""")
@click.argument("formula", required=False)
@click.option("--file", "path", default=None, shell_complete=complete.path,
              help="Read the formula from a LaTeX file: its first displayed "
              "equation or align block.")
@click.option("-T", "--steps", "T", type=click.IntRange(1, VERIFY_MAX_T), default=None,
              help="T of a formula written for one T (default: its largest step); a formula in T is tested "
                   "at T = 1..6.")
@click.option("-n", "--hidden", "n", type=int, default=1, show_default=True, help="Hidden size n.")
@click.option("-m", "--inputs", "m", type=int, default=1, show_default=True, help="Input size m.")
@click.option("--layers", type=int, default=1, show_default=True, help="Stacked layers.")
@click.option("--cell", type=click.Choice(["rnn", "lstm", "gru", "indrnn", "mingru", "minlstm", "lru"]),
              default="rnn",
              show_default=True)
@click.option("-a", "--activation", default=None, help="rnn and indrnn: tanh (default), sigmoid, relu, linear, ….")
@click.option("--loss", type=click.Choice(LOSSES), default="last", show_default=True)
@click.option("--points", type=click.IntRange(1, VERIFY_MAX_POINTS), default=3, show_default=True,
              help="Random networks per T.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def verify_cmd(formula: str | None, path: str | None, T: int | None, n: int, m: int, layers: int, cell: str,
               activation: str | None, loss: str, points: int, fmt: str) -> None:
    """Check a gradient or Jacobian formula you wrote: equal, or where it goes wrong.

    FORMULA is ∂L/∂θ = …, or for one layer ∂h_T/∂h_k = … (or to a numbered step, ∂h_T/∂h_0 = …:
    tested at the T above it) or ∂h_t/∂h_{t-1} = … (also J_t = …), in
    LaTeX as you would write it (W or w, σ'(a_t), tanh', \\bigl(, sums and
    products with limits, a definition of δ_t on extra rows, ∂h_j/∂h_{j-1} or
    ∂h_T/∂h_k standing for the network's own Jacobian; in a shell's single
    quotes write σ' as \\sigma^\\prime), or in the text notation derive --format
    text prints (∂L/∂w = (h_2 - y)*w*…, one equation per line).  Both sides are evaluated on random
    networks at 40 digits against an independent BPTT.  Exits 0 when equal, 1 when they differ (with a
    counterexample and, where a known mistake explains it, the corrected formula), 2 when the formula
    cannot be read."""
    from .check.verify import Model, verify
    from .model import RNN
    from .output import strict_json

    if (formula is None) == (path is None):
        raise SymbpttError("give the formula as an argument or --file FILE (one of the two)")
    if path is not None:
        from .check.verify import read_file

        formula = read_file(path)
    RNN(T=1, n=n, m=m, layers=layers, activation=activation, loss=loss, cell=cell)  # the model's own checks
    verdict = verify(str(formula), Model(cell, n, m, layers, activation, loss), T=T, points=points)
    text = strict_json(verdict.as_json()) if fmt == "json" else verdict.text(_terminal_width())
    emit(text, None)
    if not verdict.equal:
        sys.exit(1)


@main.command("latex", epilog="""
\b
Examples:
  symbptt latex -T 3 --standalone -o bptt.tex && pdflatex bptt.tex
  symbptt latex -T 3 --form recursive --wrt all
  symbptt latex -T 4 --layers 2 --diagram --standalone -o unrolled.tex
  symbptt latex -T 2 --cell lstm --form general --wrt W_f
  symbptt latex -T 3 --standalone --code -o bptt-code.tex
""")
@model_options
@click.option("--standalone", is_flag=True, help="A complete article that compiles as it is.")
@click.option("--diagram", is_flag=True, help="Add a TikZ picture of the unrolled network.")
@click.option("--code", is_flag=True,
              help="Add the gradient as NumPy code (the explicit form with --form explicit, else recursive).")
@click.option("-o", "--output", default=None, shell_complete=complete.path,
              help="Write the LaTeX here (atomically) instead of printing.")
def latex_cmd(T: int, n: int, m: int, layers: int, cell: str, activation: str | None, wrt: str, loss: str,
              form: str, factors: str | None, standalone: bool, diagram: bool, code: bool, output: str | None) -> None:
    """LaTeX of the derivation: an amsmath snippet, or a standalone document."""
    from .document import ARTICLE_FORMS, code_block, tikz_diagram
    from .document import standalone as document
    from .latex import snippet

    check_output(output)
    source, code_form = None, form if form in ("explicit", "recursive") else "recursive"
    if code:
        command = " ".join(["symbptt latex", *sys.argv[2:]]) if sys.argv[1:2] == ["latex"] else ""
        source = numpy_module(T, n, m, layers, cell, activation, wrt, loss, code_form, command)
    if standalone:
        given = click.get_current_context().get_parameter_source("form") == ParameterSource.COMMANDLINE
        text = document(build_rnn(T, n, m, layers, activation, loss, cell), wrt=wrt, diagram=diagram,
                        forms=(form,) if given else ARTICLE_FORMS,
                        named=None if factors is None else factors == "named", code=source, code_form=code_form)
    else:
        derivation = build_derivation(T, n, m, layers, cell, activation, wrt, loss, form, factors)
        text = snippet(derivation)
        if diagram:
            text += tikz_diagram(build_rnn(T, n, m, layers, activation, loss, cell))
        if source is not None:
            text += "\n" + code_block(source, code_form)
    emit(text, output)
