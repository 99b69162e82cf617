"""`symbptt verify`: is a BPTT formula a person wrote right, and if not, where does it go wrong?

The formula is read as check/reader.py reads the tool's own LaTeX — SymPy's LaTeX parser decides its
structure — after the usual variants of handwriting are put in the project's notation (W or w for a
scalar model, ``\\bigl(``, ``\\,``, ``^T`` limits, σ' and tanh' written out with the model's activation).
Both sides are then evaluated on random networks at 40 digits and compared with the exact gradient of
the independent reference BPTT (reference.py); a general-T formula is instantiated at T = 1..6.

When the sides differ, the smallest counterexample is given, and the known mistakes are tried one by one
on the formula's own text (a product range off by one, h_k for h_{k-1}, the sign of the error, the ½ of
the loss): a mistake is named only when correcting it makes the formula equal at every point tested.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from ..errors import SymbpttError
from ..limits import time_limit
from ..validate import VERIFY_MAX_POINTS, flag
from ..wrap import fill
from . import jacobian, partials
from .handwriting import MAX_T, Model, activation_tex, normalise, raw_rows, read_rows, replace_calls, split
from .mistakes import (
    MATRICES_ONLY,
    MISSING_DIAG,
    MISSING_SIGMA,
    MISTAKES,
    POWER,
    VerifyError,
    known_mistakes,
    missing_diag,
    missing_sigma,
    power_for_product,
)
from .reader import ReadError

MAX_FORMULA = 4000  # characters: a formula, not a document
MAX_POINTS = VERIFY_MAX_POINTS
TIME_LIMIT = 60.0  # seconds for the whole verdict
GENERAL_T = (1, 2, 3, 4, 5, 6)
DPS = 40
TOLERANCE = mpmath.mpf(10) ** -25  # relative, at 40 digits: rounding is ~1e-38


@dataclass
class Verdict:
    """What verify found: equal or not, what was tested, a counterexample and a diagnosis."""

    equal: bool
    quantity: str
    formula: str
    T_values: tuple[int, ...]
    points: int
    counterexample: dict | None = None
    diagnosis: str | None = None
    corrected: str | None = None
    tested: dict = field(default_factory=dict)
    tried: tuple[str, ...] = ()  # the names of the known mistakes tried, when a diagnosis was looked for

    def text(self, width: int = 80) -> str:
        """The verdict in words, wrapped at ``width`` (the corrected formula stays on one line: it is
        meant to be pasted)."""
        Ts = ", ".join(map(str, self.T_values))
        times = "at each T = " if len(self.T_values) > 1 else "at T = "
        what = (f"checked on {self.points} random network{'s' if self.points > 1 else ''} {times}{Ts} "
                f"({self.tested.get('model', '')}), both sides at {DPS} digits against the reference BPTT")
        noun = "the gradient" if self.quantity.startswith("∂L") else "the Jacobian"
        if self.equal:
            lines = [f"equal: {self.quantity} as written is {noun}", what]
        else:
            lines = [f"differs: {self.quantity} as written is not {noun}", what]
            if self.counterexample:
                c = self.counterexample
                steps = (("k", 0, c["T"] - 1) if re.fullmatch(r"∂\w+_T/∂\w+_k", self.quantity) else
                         ("t", 1, c["T"]) if re.fullmatch(r"∂\w+_t/∂\w+_\(t-1\)", self.quantity) else None)
                over = "" if steps is None else (f" ({steps[0]} = {steps[1]})" if steps[1] == steps[2]
                                                 else f" ({steps[0]} = {steps[1]}..{steps[2]})")
                lines.append(f"counterexample at T = {c['T']}: "
                             + "; ".join(f"{k}={v}" for k, v in c["values"].items()))
                gives = f"the formula gives{over}"
                lines.append(f"  {gives} {c['formula']}")
                lines.append(f"  {f'{noun} is{over}'.ljust(len(gives))} {c['exact']}")
            if self.diagnosis:
                lines.append(f"diagnosis: {self.diagnosis}")
            elif self.tried:
                lines.append(f"diagnosis: none of the known mistakes ({', '.join(self.tried)}) explains the "
                             "difference")
            else:
                lines.append("diagnosis: not looked for")
        wrapped = [fill(line, width, subsequent_indent="    ") for line in lines]
        if self.corrected:
            wrapped += ["corrected:", self.corrected]
        return "\n".join(wrapped) + "\n"

    def as_json(self) -> dict:
        return {"verdict": "equal" if self.equal else "differs", "quantity": self.quantity,
                "formula": self.formula, "T": list(self.T_values), "points": self.points,
                "digits": DPS, "counterexample": self.counterexample, "diagnosis": self.diagnosis,
                "corrected": self.corrected, "model": self.tested.get("model")}

    def _repr_latex_(self) -> str:
        from .display import math_safe

        verdict = r"\text{equal}" if self.equal else r"\text{differs}"
        return f"$${math_safe(self.formula)}\\qquad {verdict}$$"

    def _repr_markdown_(self) -> str:  # Jupyter: typeset formula, the test, the counterexample as a table
        from .display import verdict_markdown

        return verdict_markdown(self)


# ---------------------------------------------------------------- evaluating


def _network(model: Model, T: int, seed: int):
    """A random network of the model with T steps (the check's own way of drawing one)."""
    from ..activations import get_activation
    from ..cells import get_cell
    from ..config import Config
    from .trials import Trial, draw_layers

    rng = np.random.default_rng([seed, T])
    spec = get_cell(model.cell, get_activation(model.activation or "tanh"))
    params = draw_layers(spec, model.n, model.m, model.layers, rng)
    x = rng.uniform(-1, 1, (T, model.m))
    y = rng.uniform(-1, 1, model.n) if model.loss == "last" else rng.uniform(-1, 1, (T, model.n))
    cfg = Config(model.cell, model.activation, params, x, y, model.loss, None, scalar=model.n == 1)
    return Trial(model.cell, model.activation, model.n, model.m, model.layers, T, model.loss, None, False, cfg)


Rows = list[tuple[str, str]]


def _evaluate(rows: Rows, g: int, trial) -> tuple[list, list]:
    """(formula's values, exact values) of the gradient row ``g`` names, entry by entry; the other rows
    are definitions (J_t = …, δ_t = …) the formula uses."""
    from . import Exact, Resolver
    from .evaluation import Reader

    lhs = rows[g][0]
    if jacobian.kind(lhs):
        return jacobian.evaluate(rows, g, trial)
    exact = Exact(trial)
    with mpmath.workdps(DPS):
        resolver = Resolver(trial, {})
        reader = Reader(partials.resolving(resolver.of_name, trial), trial.T)
        ordered = [(a, partials.rewrite(b)) for a, b in [*rows[:g], *rows[g + 1:], rows[g]]]  # definitions first
        found = reader.read("\\begin{align*}\n" + " \\\\\n".join(f"{a} &= {b}" for a, b in ordered)
                            + "\n\\end{align*}")
        if not found:
            raise VerifyError(f"the left-hand side {lhs!r} is not a gradient ∂L/∂θ of a parameter")
        (name, value), = found.items()
        try:
            param, layer, entry = resolver.param_of(name)
        except KeyError:
            raise VerifyError(f"∂L/∂{name.base}: {name.base} is not a parameter of the {trial.cell} cell; "
                              f"its parameters: {', '.join(trial.config.spec.params)}") from None
        want = np.asarray(exact.by_param[layer - 1][param], dtype=object).reshape(
            trial.config.layers[layer - 1][param].shape)
        if entry:
            want = want.reshape(-1)[np.ravel_multi_index(tuple(e - 1 for e in entry), want.shape)
                                   if len(entry) == 2 else entry[0] - 1]
        got = np.ravel(np.asarray(value, dtype=object))
        return [mpmath.mpf(v) for v in got], [mpmath.mpf(v) for v in np.ravel(want)]


def _agree(got: list, want: list) -> bool:
    if len(got) != len(want):
        return False
    scale = max([abs(w) for w in want] + [mpmath.mpf(10) ** -30])
    return all(abs(g - w) <= TOLERANCE * scale for g, w in zip(got, want, strict=True))


def _steps(general: bool, T: int, fixed_k: int | None) -> tuple[int, ...]:
    """The T a formula is tested at: 1..6 for a formula in T, else its own; above k for ∂h_T/∂h_k written
    with a number (∂h_T/∂h_0), which has no value for T ≤ k."""
    steps = tuple(t for t in (GENERAL_T if general else (T,)) if fixed_k is None or t > fixed_k)
    if not steps:
        raise VerifyError(f"∂h_T/∂h_{fixed_k} needs T > {fixed_k}: give T (-T) above {fixed_k}, at most {MAX_T}, "
                          "or write the formula in k")
    return steps


def _runs(model: Model, steps: tuple[int, ...], points: int) -> list:
    return [_network(model, t, seed) for t in steps for seed in range(points)]


NO_VALUE = "no value ({})"  # what the formula gives where it cannot be evaluated, and why


def _first_failure(rows: Rows, g: int, trials: list) -> tuple | None:
    """(trial, the formula's values, the exact values) of the first trial where they differ; where the
    formula has no value there, its place holds the reason and the exact values are None (the verdict
    computes them on their own, _exact_alone: a diagnosis that only asks whether a change agrees need not)."""
    for trial in trials:
        try:
            got, want = _evaluate(rows, g, trial)
        except VerifyError:
            raise
        except ReadError as error:
            if re.search(r"subscript \((?:[^)]*, )?-\d", str(error)):  # h_{k-2} at k = 1: no such state
                return trial, NO_VALUE.format("an index below 0"), None
            step = re.search(r"Name\(base='(\w+)'.*subscript \((\d+)", str(error))
            if step and step.group(1) in _step_names(trial) and int(step.group(2)) <= trial.T + 1:
                # a_0 or h_{T+1}: a step the network does not have
                first = 0 if step.group(1) in trial.config.spec.states else 1  # h_0 is given, x_0 is not
                return trial, NO_VALUE.format(f"{step.group(1)} at a step outside {first}..{trial.T}"), None
            if str(error).startswith("a product of a"):  # sizes that do not fit: a wrong formula, not unreadable
                return trial, NO_VALUE.format("sizes that do not fit a product"), None
            defined = frozenset(b for b in ("delta", "J") if any(re.match(rf"\\?{b}(?![A-Za-z])", lhs.strip())
                                                                 for lhs, _ in rows))
            raise VerifyError(_unreadable(str(error), trial, defined)) from None
        except ZeroDivisionError:
            return trial, NO_VALUE.format("a division by zero"), None
        except (TypeError, ValueError):
            return trial, NO_VALUE.format("not a real number here"), None
        if not _agree(got, want):
            return trial, got, want
    return None


def _exact_alone(rows: Rows, g: int, trial) -> list | None:
    """The exact values of what row ``g`` names, with its right-hand side put aside (None if even that
    cannot be read)."""
    try:
        if jacobian.kind(rows[g][0]):
            return jacobian.evaluate([(rows[g][0], "0")], 0, trial, exact_only=True)[1]
        return _evaluate([(rows[g][0], "0")], 0, trial)[1]
    except Exception:  # noqa: BLE001 - the formula's own failure is what is reported
        return None


def _step_names(trial) -> set[str]:
    """The bases of symbols that have a value at each step: states, nodes, linear maps (a), x, y."""
    spec = trial.config.spec
    bases = {name.split("_")[0] for name, _ in spec.nodes} | {lin.name.split("_")[0] for lin in spec.linears}
    return bases | set(spec.states) | {"x", "y"}


def _unreadable(message: str, trial, defined: frozenset[str] = frozenset()) -> str:
    """The reader's complaint in the writer's terms, with the symbols this model knows."""
    message = partials.restore(message)
    params = [p.lower() if trial.n == 1 and p[:1] in "WU" else p for p in trial.config.spec.params]
    known = ("h_t, a_t, x_t, y, the parameters " + ", ".join(params)
             + "".join(f", {s}_t" for s in trial.config.spec.states if s != "h")
             + "".join(f", {name}_t" for name, _ in trial.config.spec.nodes if name not in trial.config.spec.states)
             + ", δ_t and J_t once defined on a row of "
             "their own, ∂h_j/∂h_(j-1) and ∂h_T/∂h_k (the network's own Jacobians), T, sums and products "
             "with both limits")
    m = re.search(r"Name\(base='([^']*)', tag='([^']*)', layer=[^,]*, sub=\(([^)]*)\)", message)
    if m:
        sub = ",".join(p.strip(" '") for p in m.group(3).split(",") if p.strip(" '"))
        shown = {"delta": "δ"}.get(m.group(1), m.group(1))
        written = shown + (f"^{m.group(2)}" if m.group(2) else "") + (f"_{{{sub}}}" if sub else "")
        if m.group(1) in ("delta", "J") and m.group(1) in defined:  # a row defines it, not at this step
            return (f"the formula needs {written} at a step no row defines: a definition that reads another "
                    f"step ({shown}_t = … {shown}_{{t+1}} …) needs a row for the step where it starts "
                    f"({shown}_T = …)")
        if m.group(1) in ("delta", "J"):
            return f"the formula uses {written}, which no row defines: write {shown}_t = … on a row of its own"
        return f"the formula uses {written}, which this model has no value for; it knows {known}"
    m = re.search(r"unknown (?:symbol|function) '?\"?([^'\"]+)", message)
    if m:
        return f"the formula uses \\{m.group(1).lstrip(chr(92))}, which verify cannot read; it knows {known}"
    return f"cannot read the formula: {message}"


def _mistakes(model: Model) -> list[tuple[str, Callable[[str], list[str]]]]:
    """The known mistakes, with σ' written as this model's activation where one is put in."""
    dsigma = activation_tex(model)[1]
    def sigma_put_in(text: str) -> list[str]:  # spelled as normalise() spells the rows
        return [re.sub(r"\s+", " ", replace_calls(v, r"\sigma'", dsigma)).strip() for v in missing_sigma(text)]

    def diag_put_in(text: str) -> list[str]:  # n units: diag(σ'(a_X)), a matrix, where a matrix can stand
        return [re.sub(r"\s+", " ", v).strip()
                for v in missing_diag(text, lambda X: r"\operatorname{diag}(" + dsigma(f"a_{{{X}}}") + ")")]

    def power_put_in(text: str) -> list[str]:  # one unit: w^{T-k} as ∏ w σ'(a_j)
        return [re.sub(r"\s+", " ", replace_calls(v, r"\sigma'", dsigma)).strip() for v in power_for_product(text)]

    # a scalar σ'(a_X) put into a matrix formula is no correction anyone would write: diag(σ'(a_X)) there
    known = [(words, mutate) for name, words, mutate in MISTAKES if model.n > 1 or name not in MATRICES_ONLY]
    if model.n == 1:
        return [*known, (POWER, power_put_in), (MISSING_SIGMA, sigma_put_in)]  # w^{T-k}: the product first
    return [*known, (MISSING_DIAG, diag_put_in)]


def _diagnose(rows: Rows, g: int, trials: list, model: Model) -> tuple[str, int, str] | None:
    """(words, row, corrected rhs) of the first known mistake whose correction makes the formula equal."""
    for words, mutate in _mistakes(model):
        for i, (lhs, rhs) in enumerate(rows):
            for changed in mutate(rhs):
                if changed == rhs:
                    continue
                fixed = [*rows[:i], (lhs, changed), *rows[i + 1:]]
                try:
                    if _first_failure(fixed, g, trials) is None:
                        return words, i, changed
                except (SymbpttError, RecursionError):  # an edit that made a definition refer to itself
                    continue
    return None


MAX_FILE = 1 << 20  # bytes of a notes file


def read_file(path: str) -> str:
    """The first displayed equation of a LaTeX file: an align/equation environment, \\[ … \\] or $$ … $$."""
    from ..output import read_text_file

    try:  # a regular UTF-8 file of at most MAX_FILE bytes (a device or a FIFO could be read for ever)
        text = read_text_file(path, "notes file", MAX_FILE)
    except SymbpttError as error:
        raise VerifyError(str(error)) from None
    text = re.sub(r"(?<!\\)%.*", "", text)  # comments
    m = re.search(r"\\begin\{(align|equation|gather)\*?\}(.*?)\\end\{\1\*?\}|\\\[(.*?)\\\]|\$\$(.*?)\$\$", text, re.S)
    if not m:
        raise VerifyError(f"{path} has no displayed equation (align, equation, \\[ … \\] or $$ … $$)")
    return next(g for g in m.groups()[1:] if g is not None).strip()


def verify(formula: str, model: Any = None, T: int | None = None, points: int = 3,
           diagnose: bool = True) -> Verdict:
    """Check a hand-written gradient formula against the exact gradient.

    Args:
        formula: ``lhs = rhs`` in LaTeX as people write it, lhs ∂L/∂θ for a parameter θ of the model.
        model: the network: a ``Model`` or an ``RNN`` (its cell, sizes, activation and loss; its T is not
            used); default: one tanh unit, loss 'last'.
        T: the sequence length of a formula written for one T (h_3, sums to 3); a formula in T is tested
            at T = 1..6 whatever this says.
        points: random networks per T.
        diagnose: when the formula is wrong, try the known mistakes (the slow part of a wrong verdict).

    Returns:
        The verdict, with a counterexample and a diagnosis when the formula is wrong.

    Raises:
        SymbpttError: a formula that cannot be read, or one about something that is not a gradient.
    """
    if model is None:
        model = Model()
    elif not isinstance(model, Model):
        fields = ("cell", "n", "m", "layers", "activation", "loss")
        if not all(hasattr(model, f) for f in fields):
            raise VerifyError(f"model must be an RNN or a verify.Model, got {type(model).__name__}")
        model = Model(*(getattr(model, f) for f in fields))
    from ..reference import CELLS

    if not isinstance(model.cell, str) or model.cell not in CELLS:
        raise VerifyError(f"verify checks the cells the reference BPTT knows ({', '.join(CELLS)}), got "
                          f"{model.cell!r:.40}")
    if not isinstance(formula, str) or not formula.strip():
        raise VerifyError("verify needs a formula, e.g. "
                          r"'\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) …'")
    if len(formula) > MAX_FORMULA:
        raise VerifyError(f"the formula has {len(formula)} characters; at most {MAX_FORMULA}")
    if T is not None and (isinstance(T, bool) or not isinstance(T, int) or not 1 <= T <= MAX_T):
        raise VerifyError(f"T must be an integer from 1 to {MAX_T}, got {str(T)[:20]!r}")
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
        raise VerifyError(f"points must be an integer from 1 to {MAX_POINTS}, got {str(points)[:20]!r}")
    diagnose = bool(flag("diagnose", diagnose))
    rows = read_rows(formula, model)
    grads = [i for i, (lhs, _) in enumerate(rows) if lhs.startswith(r"\frac{\partial L}")]
    grads = grads or [i for i, (lhs, _) in enumerate(rows) if jacobian.kind(lhs)][-1:]
    if not grads:
        raise VerifyError("nothing to check: the left-hand side must be ∂L/∂θ for a parameter θ (written "
                          r"\frac{\partial L}{\partial w}), ∂h_T/∂h_k or ∂h_t/∂h_{t-1} (or J_t)")
    g = grads[0]
    everything = " ".join(b for _, b in rows)
    general = bool(re.search(r"(?<![A-Za-z\\])T(?![A-Za-z])", everything))
    if T is None:
        named = [int(s) for s in re.findall(r"[hxy]_\{?(\d+)", everything)]
        T = max(max(named), 1) if named else 3  # a formula that names only step 0 runs one step
        if T > MAX_T:
            raise VerifyError(f"the formula reaches step {T}; verify tests T ≤ {MAX_T} (write it for general T)")
    steps = _steps(general, T, jacobian.fixed_k(rows[g][0]))
    trials = _runs(model, steps, points)
    with time_limit(TIME_LIMIT) as finished:
        try:
            failure = _first_failure(rows, g, trials)
        except RecursionError:
            raise VerifyError("evaluating the formula did not end: a definition that refers to itself (δ_t "
                              "through δ_t), or nesting too deep") from None
    if not finished():
        raise VerifyError(f"verify stopped after {TIME_LIMIT:g} s without a verdict; a shorter formula, or "
                          "fewer --points")
    verdict = Verdict(failure is None, _quantity(rows[g][0]), formula.strip(), steps,
                      points, tested={"model": model.describe()})
    if failure is None:
        return verdict
    trial, got, want = failure
    if isinstance(got, str):  # the formula has no value at this trial: the exact side on its own
        want = _exact_alone(rows, g, trial)
    verdict.counterexample = _counterexample(trial, got, want, model, _block(rows[g][0], trial))
    found = None
    if diagnose:
        verdict.tried = known_mistakes(model.n)
        with time_limit(TIME_LIMIT):  # no diagnosis in time: the verdict stands without one
            found = _diagnose(rows, g, trials, model)
    if found:
        words, i, changed = found
        verdict.diagnosis, verdict.corrected = words, _in_own_words(formula, model, rows, i, changed)
    elif diagnose and not isinstance(got, str) and want is not None:  # both sides have values
        from .missing import missing_paths  # the difference is a group of paths: name them

        verdict.diagnosis = ((jacobian.direct_only(rows, g, trial, got) or jacobian.blocks_only(rows, g, trial, got))
                             if jacobian.kind(rows[g][0]) else missing_paths(trial, got, want))
    return verdict


def _in_own_words(formula: str, model: Model, rows: Rows, i: int, changed: str) -> str:
    """The corrected formula in the user's own spelling where the same correction applies to the row as
    written (W or w, \\Bigl, σ'), else that row in the project's notation."""
    raw = raw_rows(formula)
    head, _, tail = raw[i].partition("=")
    prime = r"\sigma^\prime" if r"\sigma^\prime" in formula else r"\sigma'"  # as the writer spells σ'
    def diag(X: str) -> str:  # diag(σ'(a_X)) in the writer's spelling
        return rf"\operatorname{{diag}}({prime}(a_{{{X}}}))"

    for mutate in [*(m for _, _, m in MISTAKES), lambda t: missing_sigma(t, prime),
                   lambda t: power_for_product(t, prime), lambda t: missing_diag(t, diag)]:
        for candidate in mutate(tail):
            try:
                if split(normalise(f"{head}={candidate}", model))[1] == changed:
                    return " \\\\ ".join([*raw[:i], f"{head}={candidate}".strip(), *raw[i + 1:]])
            except SymbpttError:
                continue
    return " \\\\ ".join([*raw[:i], f"{rows[i][0]} = {changed}", *raw[i + 1:]])


def _quantity(lhs: str) -> str:
    """∂L/∂θ in the words of a sentence: \\nu as ν, braces dropped (W_{f} → W_f)."""
    from ..notation import GREEK

    if jacobian.kind(lhs):
        return jacobian.quantity(lhs)
    m = re.match(r"\\frac\{\\partial L\}\{\\partial (.+)\}$", lhs)
    if not m:
        return lhs
    name = re.sub(r"\\([A-Za-z]+)", lambda g: GREEK.get(g.group(1), g.group(0)), m.group(1))
    return f"∂L/∂{name.replace('{', '').replace('}', '')}"


def _block(lhs: str, trial) -> tuple[int, ...] | None:
    """The shape of one value of what ``lhs`` names, where it is a matrix or a vector: a Jacobian's n × n
    at each k (or t), a gradient's parameter shape (∂L/∂W: n × n); None for a number or a shape not
    known here (the values are then listed as they come)."""
    if jacobian.kind(lhs):
        return (trial.n, trial.n)
    name = _quantity(lhs).removeprefix("∂L/∂")
    shape = np.shape(trial.config.layers[0][name]) if name in trial.config.layers[0] else ()
    return tuple(shape) if shape else None


def _counterexample(trial, got, want, model: Model, block: tuple[int, ...] | None = None) -> dict:
    cfg = trial.config
    values: dict[str, str] = {}
    for name, value in cfg.layers[0].items():
        shown = name.lower() if model.n == 1 and name[:1] in "WU" else name  # w, u for one unit
        values[shown] = _entries(value)
    values["x"] = _entries(cfg.x.T if cfg.x.shape[1] > 1 else cfg.x.reshape(1, -1))  # x_1 .. x_T
    values["y"] = _entries(cfg.y)
    return {"T": trial.T, "values": values, "formula": got if isinstance(got, str) else _numbers(got, block),
            "exact": _numbers(want, block)}


def _entries(value: np.ndarray) -> str:
    """A parameter's value: a number, a vector [a,b] or a matrix [a,b;c,d] (rows by ';')."""
    value = np.asarray(value, dtype=float)
    if value.size == 1:
        return f"{float(value.reshape(-1)[0]):.6g}"
    rows = value.reshape(value.shape[0], -1) if value.ndim == 2 else value.reshape(1, -1)
    return "[" + ";".join(",".join(f"{v:.6g}" for v in row) for row in rows) + "]"  # one word: never wrapped


def _numbers(values: list | None, block: tuple[int, ...] | None = None) -> str:
    """The values to 12 digits, separated by ", "; where each is a matrix or vector of ``block``'s
    shape (one for each k or t, in order) and they come whole, each in brackets, its rows separated by
    "; " as the parameters are written ([a, b; c, d]), so that a transposed one shows as such."""
    if values is None:
        return "no value"
    shown = [mpmath.nstr(v, 12) for v in values]
    size = math.prod(block) if block else 1
    if size <= 1 or len(shown) % size:
        return ", ".join(shown)
    width = block[-1] if block is not None and len(block) > 1 else size
    whole = [shown[i:i + size] for i in range(0, len(shown), size)]
    return ", ".join("[" + "; ".join(", ".join(b[r:r + width]) for r in range(0, size, width)) + "]" for b in whole)
