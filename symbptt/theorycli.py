"""`symbptt theory`: what theory predicts for random networks — the mean field of a vanilla RNN, the
rates of a cell whose path back is diagonal and blind to the state — alone or beside the exact rates of
networks drawn at random (``--beside``)."""

from __future__ import annotations

import click
from click.core import ParameterSource

from . import completion as complete
from .cli import Finite, _terminal_width, emit
from .errors import SymbpttError


@click.command("theory", epilog="""
\b
Examples:
  symbptt theory --sigma-w 1.5
  symbptt theory -a relu --sigma-w 1.2 --sigma-b 0.1 --format json
  symbptt theory --sigma-w 1.5 --beside -n 64 -T 200 --seeds 8
  symbptt theory --cell lru
  symbptt theory --cell mingru --beside -n 64 -T 400 --seeds 4
""")
@click.option("-a", "--activation", default="tanh", show_default=True, help="Built-in, or an expression in a.")
@click.option("--cell", default="rnn", show_default=True, shell_complete=complete.cell,
              help="rnn (mean field), or a cell whose path back is diagonal and blind to the state (mingru, "
                   "minlstm, lru); other cells: --beside only.")
@click.option("--sigma-w", "sigma_w", type=Finite(low=0.0, high=1e6), default=1.0, show_default=True,
              help="W_ij ~ N(0, σ_w²/n).")
@click.option("--sigma-b", "sigma_b", type=Finite(low=0.0, high=1e6), default=0.0, show_default=True,
              help="b_i ~ N(0, σ_b²) (rnn only).")
@click.option("--sigma-u", "sigma_u", type=Finite(low=0.0, high=1e6), default=None,
              help="Scale of the input weights.  [default: 0 for rnn, 1 for other cells]")
@click.option("--input-var", "input_var", type=Finite(low=0.0, high=1e6), default=1.0, show_default=True,
              help="Mean square of the inputs.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--beside", is_flag=True, help="Theory beside the exact and observed rates of random networks.")
@click.option("-n", "n", type=int, default=64, show_default=True, help="With --beside: the width.")
@click.option("-T", "T", type=int, default=200, show_default=True, help="With --beside: the steps.")
@click.option("--seeds", type=int, default=8, show_default=True, help="With --beside: how many networks.")
@click.option("--init", type=click.Choice(["gaussian", "orthogonal"]), default="gaussian", show_default=True,
              help="With --beside: how W0 is drawn (rnn).")
def theory_cmd(activation: str, cell: str, sigma_w: float, sigma_b: float, sigma_u: float | None, input_var: float,
               fmt: str, beside: bool, n: int, T: int, seeds: int, init: str) -> None:
    """What theory predicts for random networks, beside what they do.

    For rnn, the mean field of a random vanilla RNN of infinite width: the fixed point q* of the
    pre-activations' variance, the slope χ (‖∂h_T/∂h_0‖² ≈ χ^T), the depth scale, the phase (ordered,
    critical, chaotic) and the σ_w of the edge of chaos; `sweep -n N` and `plot spectrum` give the exact
    values of one network.  For a cell whose path back is diagonal and blind to the state (minGRU,
    minLSTM, LRU): the rate of a typical unit, of the largest, and the mean-field ½ ln E[g²].
    With --beside: the prediction beside the observed and exact rates per step of --seeds random networks
    of width n (inputs N(0, 1), no bias), with what they say; for rnn also the guaranteed bound."""
    from .activations import get_activation
    from .cells import get_cell
    from .output import strict_json

    ctx = click.get_current_context()

    def given(*names: str) -> list[str]:
        return [f"-{name}" if len(name) == 1 else f"--{name.replace('_', '-')}" for name in names
                if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]

    spec = get_cell(cell, get_activation(activation))
    if not spec.elman:
        from .numeric.diagonal_theory import cell_beside, diagonal_theory, required_factor

        if not beside:  # a cell without a theory: its reason comes before any option's complaint
            required_factor(spec)
        # --beside draws W ~ N(0, σ_w²/n) where the cell has one and inputs N(0, 1); the theory alone
        # reads σ_u and the inputs' mean square
        stray = (given("sigma_b", "init") + ([] if spec.uses_activation and beside else given("activation"))
                 + (given("input_var") if beside else given("sigma_w")))
        scaled = spec.gain_scaled or any(spec.kind(p) == "recurrent" for p in spec.params)
        stray += given("sigma_w") if beside and not scaled else []  # nothing of this cell does σ_w scale
        if stray:
            raise SymbpttError(f"{stray[0]} does not apply to the theory of {spec.name}"
                               + (" with --beside" if beside else ""))

        scale = 1.0 if sigma_u is None else sigma_u
        if beside:
            cells = cell_beside(cell, scale, n, T, seeds, gain=sigma_w, activation=activation)
            emit(strict_json(cells.as_json()) if fmt == "json" else cells.text(_terminal_width()), None)
        else:
            if given("n", "T", "seeds"):
                raise SymbpttError(f"{given('n', 'T', 'seeds')[0]} applies with --beside only")
            diagonal = diagonal_theory(cell, scale, input_var)
            emit(strict_json(diagonal.as_json()) if fmt == "json" else diagonal.text(_terminal_width()), None)
        return
    sigma_u = 0.0 if sigma_u is None else sigma_u
    if not beside:
        stray = given("n", "T", "seeds", "init")
        if stray:
            raise SymbpttError(f"{stray[0]} applies with --beside only")
        from .numeric.theory import theory

        result = theory(activation, sigma_w, sigma_b, sigma_u, input_var)
        emit(strict_json(result.as_json()) if fmt == "json" else result.text(), None)
        return
    inputs = given("sigma_b", "sigma_u", "input_var")
    if inputs:
        raise SymbpttError(f"{inputs[0]} does not apply with --beside (its networks have no bias and inputs N(0, 1))")
    from .numeric.beside import beside as side_by_side

    drawn = side_by_side(activation, sigma_w, n, T, seeds, init)
    emit(strict_json(drawn.as_json()) if fmt == "json" else drawn.text(_terminal_width()), None)
