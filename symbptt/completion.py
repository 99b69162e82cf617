"""Shell completion for the values people type most: plot kinds, cells (and cell files), ``--wrt``
(the parameters of the cell given so far) and paths.  Click asks these functions while the user presses
Tab (``eval "$(_SYMBPTT_COMPLETE=bash_source symbptt)"`` sets it up in bash); each returns the candidates
that start with what has been typed."""

from __future__ import annotations

from collections.abc import Callable

import click
from click.shell_completion import CompletionItem

BUILT_IN_CELLS = ("rnn", "lstm", "gru", "indrnn", "mingru", "minlstm", "lru")


def path(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Let the shell complete a file name."""
    return [CompletionItem(incomplete, type="file")]


def cell(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Built-in cells whose names start with what is typed (after a comma, the next cell of a list), else
    file names (a cell file): bash's completion cannot offer both at once."""
    done, _, last = incomplete.rpartition(",")
    head = f"{done}," if done else ""
    names = [CompletionItem(head + name) for name in BUILT_IN_CELLS if name.startswith(last)]
    return names or ([] if done else [CompletionItem(incomplete, type="file")])


def wrt(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The parameters of the cell given so far (--cell, default rnn), and ``all``."""
    from .errors import SymbpttError

    try:
        from .activations import get_activation
        from .cells import get_cell

        spec = get_cell(ctx.params.get("cell") or "rnn", get_activation("tanh"))
    except (SymbpttError, OSError, ValueError):
        return []
    return [CompletionItem(name) for name in (*spec.params, "all") if name.startswith(incomplete)]


def words(names: tuple[str, ...]) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    """Completion from a fixed list of words, such as the plot kinds the plot command itself lists (the
    figure code, matplotlib and all, is not imported to list them: that made Tab take 2.7 s)."""
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        return [CompletionItem(name) for name in names if name.startswith(incomplete)]

    return complete


__all__ = ["BUILT_IN_CELLS", "cell", "path", "words", "wrt"]
