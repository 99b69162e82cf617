"""Which paths a wrong gradient formula left out, named from the difference itself.

BPTT's gradient is a sum over paths (paths.explicit_terms).  When a formula differs from the exact
gradient by exactly the paths of one group — those that enter the parameter at step k, the loss term at
step s, the paths that go down from the layer above at step t — or by all of one kind but one group, the
diagnosis names them.  The groups are evaluated at the counterexample's own network with mpmath, and
the match is exact to 10^-20 relative; nothing is said when no group explains the difference.
"""

from __future__ import annotations

from collections.abc import Iterator

import mpmath
import numpy as np

from ..errors import SymbpttError

__all__ = ["missing_paths"]

DPS = 40
EXACT = mpmath.mpf(10) ** -20  # relative: a match this close is not a coincidence at 40 digits
MAX_TERMS = 5000  # explicit terms evaluated, at most


def _groups(trial) -> Iterator[tuple[str, str, dict, np.ndarray]]:
    """(parameter name, kind of group, {key: Σ of its paths' contributions}, the whole gradient)."""
    from ..numeric.factors import ArrayFactors, NumericModel
    from ..paths import contribution, evaluate_term, explicit_factor_count, explicit_terms, targets

    model = NumericModel.of(trial.config).as_mp()
    values = ArrayFactors(model, "mp")
    rnn = model.structure()
    for param, layer in targets(rnn, "all"):
        if explicit_factor_count(rnn, layer, param) > MAX_TERMS * max(1, rnn.T):
            continue
        by: dict[str, dict] = {"entry": {}, "loss": {}, "down": {}}
        total = None
        for term in explicit_terms(rnn, param, layer):
            part = np.asarray(contribution(evaluate_term(term, values), param, layer, term.entry, values),
                              dtype=object).reshape(-1)
            total = part if total is None else total + part
            down = tuple((step.layer, step.t) for step in term.chain if step.kind == "V")
            for kind, key in (("entry", term.entry), ("loss", term.loss_step), ("down", down)):
                by[kind][key] = part if key not in by[kind] else by[kind][key] + part
        if total is None:
            continue
        shown = param.lower() if trial.n == 1 and param[:1] in "WU" else param  # w, u for one unit
        name = shown if rnn.layers == 1 else f"{shown}^({layer})"
        for kind, groups in by.items():
            yield name, kind, groups, total


def _close(a: np.ndarray, b: np.ndarray, scale: mpmath.mpf) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= EXACT * scale for x, y in zip(a, b, strict=True))


def _words(name: str, kind: str, key: object, but: bool, T: int) -> str:
    """The diagnosis in words, its steps as found at the counterexample's T: a step that is T is said to
    be T (k = 1 at T = 1 is the last step there, not the first of every T)."""
    step = (lambda t: f"{t} = T" if t == T else f"{t}")  # noqa: E731 - one phrase, three uses
    if kind == "entry":
        where = f"enter {name} at step k = {step(key)}"
    elif kind == "loss":
        where = f"start from the loss term at step {step(key)}"
    else:
        where = "go down " + " and then ".join(f"from layer {upper} to layer {upper - 1} at step {step(t)}"
                                               for upper, t in key)  # type: ignore[attr-defined]
    at = f" (at the counterexample's T = {T})"
    if but:
        return f"a missing path{at}: the formula keeps only the paths that {where} and leaves out all the others"
    return f"a missing path{at}: the paths that {where} are left out"


def missing_paths(trial, got: list, want: list) -> str | None:
    """The words naming the paths the formula left out, or None when no group of paths explains
    ``want − got`` exactly.

    Args:
        trial: the counterexample's network (check.Trial).
        got: the formula's values there (mpf, entry by entry).
        want: the exact gradient's values.

    Returns:
        A diagnosis, or None.
    """
    if got is None or want is None or len(got) != len(want):
        return None
    with mpmath.workdps(DPS):
        gap = np.array([w - g for g, w in zip(got, want, strict=True)], dtype=object)
        scale = max([abs(w) for w in want] + [mpmath.mpf(10) ** -30])
        if all(abs(d) <= EXACT * scale for d in gap):
            return None
        try:
            for name, kind, groups, total in _groups(trial):
                if len(total) != len(want) or not _close(total, np.array(want, dtype=object), scale):
                    continue  # the formula is for another parameter (or one entry of it)
                for key, part in groups.items():
                    if _close(part, gap, scale):
                        return _words(name, kind, key, False, trial.T)
                    if len(groups) > 1 and _close(total - part, gap, scale):
                        return _words(name, kind, key, True, trial.T)
        except (SymbpttError, ValueError, ZeroDivisionError):
            return None
    return None
