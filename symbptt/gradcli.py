"""`symbptt grad`: the exact report of a parameters file, or of a PyTorch module and one input sequence
(``--torch``), with torch autograd beside it on request (``--compare``) and parameters out as a torch
state_dict (``--torch-out``).  torch is imported only when a torch option is given."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from . import completion as complete
from .cli import check_output, emit
from .errors import SymbpttError

if TYPE_CHECKING:
    from .config import Config

TORCH_ONLY = ("input_file", "target_file", "hx_file", "nonlinearity", "compare", "loss", "truncate")
FLAGS = {"input_file": "--input", "target_file": "--target", "hx_file": "--hx", "nonlinearity": "--nonlinearity",
         "compare": "--compare", "loss": "--loss", "truncate": "--truncate"}


@click.command("grad", epilog="""
\b
Examples:
  symbptt grad --params example
  symbptt grad --params example-lstm -o report.json
  symbptt grad --params example --torch-out rnn.pt
  symbptt grad --torch lstm.pt --input x.pt --target y.pt --compare
""")
@click.option("--params", "params_file", default=None, shell_complete=complete.path,
              help="JSON file: cell, its parameters, x, y, loss, "
              "optional truncate; or a shipped one: example, example-lstm.")
@click.option("--torch", "torch_file", default=None, shell_complete=complete.path,
              help="A file of torch.save: an nn.RNN, nn.LSTM, nn.GRU "
              "(or Cell) module or its state_dict; read without running code from it. Needs --input.")
@click.option("--input", "input_file", default=None, shell_complete=complete.path,
              help="--torch: the input sequence (torch.save or .npy), "
              "T × m or a batch of one.")
@click.option("--target", "target_file", default=None, shell_complete=complete.path,
              help="--torch: the target (n; T × n for --loss sum). "
              "Default zeros.")
@click.option("--hx", "hx_file", default=None, shell_complete=complete.path,
              help="--torch: the initial state as the module takes it (h_0, "
              "or (h_0, c_0)). Default zeros.")
@click.option("--loss", type=click.Choice(["last", "sum"]), default=None, help="--torch: the loss on the last "
              "layer's h (default last).")
@click.option("--truncate", type=click.IntRange(min=1), default=None, help="--torch: truncated BPTT through the "
              "last k steps, beside the full gradient.")
@click.option("--nonlinearity", type=click.Choice(["tanh", "relu"]), default=None,
              help="--torch with the state_dict of an nn.RNN: its nonlinearity (default tanh).")
@click.option("--compare", is_flag=True, help="--torch: torch autograd on the same weights in float32 and "
              "float64, entry by entry: the digits it got right, where it returned 0 or inf.")
@click.option("--torch-out", "torch_out", default=None, help="Also write the parameters as the state_dict "
              "of the matching torch module (rnn with tanh or relu, lstm, gru).")
@click.option("--digits", type=click.IntRange(1, 15), default=12, show_default=True,
              help="Significant digits float64 must keep, as measured, for the report to stay in float64; "
              "below that its forward pass is recomputed exactly (Arb, else mpmath) and the rest read from it "
              "in float64 where that keeps them, else computed exactly too (about 6-16x the float64 report "
              "with Arb, 80-120x with mpmath, for the rnn, LSTM and GRU timed). A cell whose units never meet "
              "(indrnn, mingru, minlstm, lru) recomputes only the units that fell short.")
@click.option("-o", "--output", default=None, shell_complete=complete.path,
              help="Write the JSON here instead of printing it.")
def grad_cmd(params_file: str | None, torch_file: str | None, input_file: str | None, target_file: str | None,
             hx_file: str | None, loss: str | None, truncate: int | None, nonlinearity: str | None, compare: bool,
             torch_out: str | None, digits: int, output: str | None) -> None:
    """Loss, gradients, log10 Jacobian norms, the bound and what was observed, as JSON.

    A parameters file for one tanh unit (the cell's own names for gated cells: W_f, b_hn, c0, …):

    \b
      {"activation": "tanh", "W": 0.9, "U": 1, "b": 0, "h0": 0,
       "x": [1, 0.5, -0.2], "y": 0.3, "loss": "last", "truncate": 2}

    With --torch, the module's weights in float64 (a gate's two biases summed), one input sequence,
    and the report gains a "torch" field saying what was read.
    """
    from .numeric.grad_report import grad_report
    from .numeric.jit import one_command
    from .output import strict_json

    given = {"input_file": input_file, "target_file": target_file, "hx_file": hx_file,
             "nonlinearity": nonlinearity, "compare": compare or None, "loss": loss, "truncate": truncate}
    if (params_file is None) == (torch_file is None):
        raise SymbpttError("give either --params FILE or --torch MODEL (with --input X)")
    if params_file is not None:
        stray = next((FLAGS[k] for k in TORCH_ONLY if given[k] is not None), None)
        if stray:
            raise SymbpttError(f"{stray} goes with --torch (a parameters file holds its own x, y, loss and "
                               "truncate)")
    elif input_file is None:
        raise SymbpttError("--torch needs --input: the input sequence (a torch.save tensor or .npy), T × m")
    check_output(output)
    if torch_out is not None:
        check_output(torch_out)
    if params_file is not None:
        from .config import load_config

        cfg = load_config(params_file)
        if torch_out is not None:  # refused before any work: no torch, or no torch module for the cell
            from .bridges.pytorch import exportable, import_torch

            import_torch()
            exportable(cfg.spec, cfg.activation)
        with one_command():
            _compiling(cfg)
            report = grad_report(cfg, digits)
    else:
        from .bridges.pytorch import import_torch

        import_torch()  # before anything is read: one line saying how to install it
        cfg, report = _torch_report(torch_file, input_file, target_file, hx_file, loss or "last", truncate,
                                    nonlinearity, compare, digits)
    emit(strict_json(report), output)
    if torch_out is not None:
        from .bridges import save_state_dict

        note = save_state_dict(torch_out, cfg.spec, cfg.activation, cfg.layers)
        if note:
            click.echo(note, err=True)


def _compiling(cfg: Config) -> None:
    """On a terminal, one line before the wait of a first compile: the report's float64 pass and the reruns
    that measure the digits it kept run as compiled kernels (numeric/jit.py, jit_nudge.py), compiled once
    per machine."""
    from .numeric import jit_nudge

    n = cfg.layers[0][f"{cfg.spec.states[0]}0"].size
    if sys.stderr.isatty() and jit_nudge.compiles_first(cfg.spec, len(cfg.layers), cfg.loss, n, cfg.T):
        click.echo(f"compiling the {cfg.spec.name} kernels, once for this machine", err=True)


def _torch_report(torch_file: str | None, input_file: str | None, target_file: str | None, hx_file: str | None,
                  loss: str, truncate: int | None, nonlinearity: str | None, compare: bool, digits: int) -> tuple:
    from .bridges.pytorch import compare as compare_grads
    from .bridges.pytorch import config_of, load_file, read_module, torch_gradients
    from .numeric.grad_report import grad_report
    from .numeric.jit import one_command

    module = load_file(str(torch_file), "--torch model")
    model = read_module(module, nonlinearity)
    x = load_file(str(input_file), "--input")
    y = None if target_file is None else load_file(target_file, "--target")
    hx = None if hx_file is None else load_file(hx_file, "--hx")
    cfg = config_of(model, x, y, hx=hx, loss=loss, truncate=truncate)
    with one_command():
        _compiling(cfg)
        report = grad_report(cfg, digits)
    report["torch"] = {"module": f"nn.{model.kind}", "num_layers": len(model.layers), "hidden_size": model.n,
                       "input_size": model.m, "bias": model.bias, "batch_first": model.batch_first,
                       "target": "given" if y is not None else "zeros", "bias_sums_rounded": model.rounded}
    if compare:
        report["compare"] = {dtype: compare_grads(report["grad"], report["grad_log10"],
                                                  torch_gradients(module, model, cfg, dtype), dtype)["layers"]
                             for dtype in ("float32", "float64")}
    return cfg, report
