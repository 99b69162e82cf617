"""The cross-check: every way the tool gives a gradient, against independent references, entry by entry.

Each trial draws a network (cell rnn, lstm, gru, mingru or minlstm, activation including custom ones,
n ≤ 4, m ≤ 4, layers ≤ 3, either loss, T ≤ T_max, sometimes truncation, sometimes saturated units with |a| in the
hundreds) and compares, for every parameter entry, against the mpmath BPTT of reference.py at 40 digits
(σ' written from a, sharing nothing with the engine):

    printed text      the explicit and recursive forms as `derive --format text` prints them, read back
                      and evaluated at 40 digits (with the factors form for named factors)
    printed LaTeX     the same, read back from `derive --format latex`
    compiled forms    the explicit and recursive forms as straight-line code (float64; mpmath when saturated)
    grad JSON         `symbptt grad` end to end (file in, JSON out): values, or log10 where null
    truncated JSON    the report's truncated gradient against a truncated reference BPTT
    Jacobian norms    the report's log10‖∂s_T/∂s_k‖ against the reference's Jacobians at 40 digits
    NumPy reference   the plain float64 reference BPTT
    finite diff.      central differences (float64), on trials without saturated units

Per-entry error: |found − exact| / max(|exact|, FLOOR · Σ|paths|), where Σ|paths| is the sum over all
chain-rule paths of the absolute path products (the scale at which rounding acts, from the reference
run on absolute values); for log10 quantities the absolute difference of log10 times ln 10.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import mpmath
import numpy as np

from ..config import Config
from ..reference import ACTIVATED, bptt, finite_differences, jacobians, log10_norms
from .claims import shortfall
from .reader import ReadError

FLOOR = 1e-3
DPS = 40
TOLERANCE = {
    "printed text": 1e-25,
    "printed LaTeX": 1e-25,
    "compiled forms": 1e-11,
    "grad JSON": 1e-11,
    "digits claimed": 0.6,  # decimal digits: how many fewer a float64 report holds than it says it keeps
    "truncated JSON": 1e-11,
    "Jacobian norms": 1e-9,
    "NumPy reference": 1e-11,
    "finite diff.": 1e-3,
}
FD_FLOOR = 1e-6  # central differences (ε = 1e-6) are accurate to about 1e-10 × max(1, |L|), absolutely
ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "a/(1+abs(a))", "erf(a)", "max(a, 0.1*a)")
MAX_PRINTED_FACTORS = 3000


def _custom_pair(text: str, kind: str) -> tuple[Callable, Callable]:
    """σ and σ' of the check's custom activations, written here independently of the parser; at a kink σ'
    is the derivative from the left (leaky'(0) = 0.1)."""
    if kind == "float":
        import math as m

        erf = np.vectorize(m.erf, otypes=[float])
        floats: dict[str, tuple[Callable, Callable]] = {
            "a/(1+abs(a))": (lambda a: a / (1 + np.abs(a)), lambda a: 1 / (1 + np.abs(a)) ** 2),
            "erf(a)": (erf, lambda a: 2 / np.sqrt(np.pi) * np.exp(-a * a)),
            "max(a, 0.1*a)": (lambda a: np.where(a > 0, a, 0.1 * a), lambda a: np.where(a > 0, 1.0, 0.1)),
        }
        return floats[text]
    erf, exp = np.frompyfunc(mpmath.erf, 1, 1), np.frompyfunc(mpmath.exp, 1, 1)
    tenth = mpmath.mpf(1) / 10
    table: dict[str, tuple[Callable, Callable]] = {
        "a/(1+abs(a))": (lambda a: a / (1 + np.abs(a)), lambda a: 1 / (1 + np.abs(a)) ** 2),
        "erf(a)": (erf, lambda a: 2 / mpmath.sqrt(mpmath.pi) * exp(-a * a)),
        "max(a, 0.1*a)": (lambda a: np.where(a > 0, a, tenth * a), lambda a: np.where(a > 0, 1, tenth) * (a * 0 + 1)),
    }
    return table[text]


def reference_activation(act: str, kind: str) -> str | tuple:
    return act if act in ("tanh", "sigmoid", "relu", "linear") else _custom_pair(act, kind)


@dataclass
class Trial:
    cell: str
    activation: str | None
    n: int
    m: int
    layers: int
    T: int
    loss: str
    truncate: int | None
    saturated: bool
    config: Config

    def describe(self) -> str:
        act = f", {self.activation}" if self.activation else ""
        extra = (f", truncate {self.truncate}" if self.truncate else "") + (", saturated" if self.saturated else "")
        return (f"{self.cell}{act}, T={self.T}, n={self.n}, m={self.m}, layers={self.layers}, "
                f"loss {self.loss}{extra}")


DRAWN = ("rnn", "rnn", "rnn", "lstm", "gru", "mingru", "minlstm", "indrnn", "lru")  # the vanilla cell 3× as often


def draw_layers(spec, n: int, m: int, layers: int, rng: np.random.Generator, scale: float = 0.8) -> list[dict]:
    """Every layer's parameters for a check: weights and biases N(0, scale²), initial states U(−½, ½)."""
    params = []
    for ell in range(layers):
        width = m if ell == 0 else n
        p = {}
        for name in spec.params:
            kind = spec.kind(name)
            shape = spec.shape(name, n, width)
            if kind == "unit":  # per-unit parameters on the cell's own interval (the LRU's ν: λ near 1)
                low, high = spec.init_range(name)
                p[name] = rng.uniform(low, high, shape)
            else:
                p[name] = rng.normal(0, scale, shape) if kind != "initial" else rng.uniform(-0.5, 0.5, shape)
        params.append(p)
    return params


def random_trial(rng: np.random.Generator, T_max: int, cells: tuple[str, ...] = DRAWN) -> Trial:
    """One random network with its numbers, its cell drawn from ``cells`` (a tuple as it was earlier
    reproduces that version's trials)."""
    from ..activations import get_activation
    from ..cells import get_cell

    cell = str(rng.choice(list(cells)))
    act = str(rng.choice(ACTIVATIONS)) if cell in ACTIVATED else None
    n, m, layers = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
    T, loss = int(rng.integers(1, T_max + 1)), str(rng.choice(["last", "sum"]))
    truncate = int(rng.integers(1, T + 1)) if rng.random() < 0.4 else None
    saturated = rng.random() < 0.2 and act not in ("linear", "relu", "max(a, 0.1*a)")
    spec = get_cell(cell, get_activation("tanh"))  # only its parameters are read: they do not depend on σ
    params = draw_layers(spec, n, m, layers, rng)
    x = rng.uniform(-1, 1, (T, m)) * (rng.uniform(20, 80) if saturated else 1.0)
    y = rng.uniform(-1, 1, n) if loss == "last" else rng.uniform(-1, 1, (T, n))
    cfg = Config(cell, act, params, x, y, loss, truncate, scalar=n == 1)
    return Trial(cell, act, n, m, layers, T, loss, truncate, saturated, cfg)


@dataclass
class CheckReport:
    """Largest per-entry error of each method, where it happened, and how many entries were compared."""

    trials: int = 0
    worst: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k in TOLERANCE})
    where: dict[str, str] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=lambda: {k: 0 for k in TOLERANCE})

    @property
    def ok(self) -> bool:
        return all(self.worst[k] <= TOLERANCE[k] for k in TOLERANCE)

    def record(self, method: str, errors: list[float], where: str) -> None:
        if not errors:
            return
        self.entries[method] += len(errors)
        worst = max(errors)
        if not math.isfinite(worst):
            worst = math.inf
        if worst > self.worst[method] or (method not in self.where and worst == 0):
            self.worst[method] = max(self.worst[method], worst)
            self.where[method] = where

    def table(self, width: int = 100) -> str:
        """The table within ``width`` columns: one line per method when the worst case fits beside it,
        else the worst case on an indented line below; the footnote wrapped."""
        import textwrap

        head = f"{'method':<17} {'entries':>8} {'worst error':>12} {'tolerance':>10}  status"
        rows = []
        for key, tol in TOLERANCE.items():
            status = "ok" if self.worst[key] <= tol else "FAIL"
            rows.append((f"{key:<17} {self.entries[key]:>8} {self.worst[key]:>12.2e} {tol:>10.0e}  {status:<6}",
                         self.where.get(key, "")))
        wide = all(len(row) + 2 + len(where) <= width for row, where in rows)
        lines = [head + ("  worst case" if wide else ""), "-" * min(width, 100 if wide else len(head) + 2)]
        for row, where in rows:
            if wide:
                lines.append(f"{row}  {where}".rstrip())
            else:
                lines.append(row.rstrip())
                if where:
                    lines += textwrap.wrap(f"worst: {where}", width, initial_indent="    ",
                                           subsequent_indent="      ")
        note = (f"{self.trials} random configurations; exact values: reference BPTT in mpmath at {DPS}+ "
                "digits (2|a|/ln 10 more where units saturate); error = |found - exact| / "
                f"max(|exact|, {FLOOR:g} x sum of |path products|) (finite differences also at least "
                f"{FD_FLOOR:g} x max(1, |L|)); 'digits claimed': how many digits fewer a float64 report holds than "
                "it says it keeps")
        lines += textwrap.wrap(note, width)
        return "\n".join(lines) + "\n"


def _entries(grads: list[dict], params: Sequence[str]) -> list:
    return [v for g in grads for p in params for v in np.ravel(np.asarray(g[p], dtype=object))]


def _errors(found: list, exact: list, mags: list, absolute: float = 0.0) -> list[float]:
    out = []
    for f, e, m in zip(found, exact, mags, strict=True):
        scale = max(abs(e), FLOOR * abs(m), absolute)
        diff = abs(mpmath.mpf(f) - e) if f is not None else mpmath.inf
        out.append(0.0 if diff == 0 else float(diff / scale) if scale > 0 else math.inf)
    return out


class Exact:
    """The reference values of one trial at 40 digits: loss, gradients, Σ|paths|, truncated, norms."""

    def __init__(self, trial: Trial) -> None:
        cfg = trial.config
        with mpmath.workdps(DPS):
            self.dps = _digits_needed(trial)
        with mpmath.workdps(self.dps):
            act = reference_activation(trial.activation or "tanh", "mp")
            self.loss, grads, mags = bptt(cfg.layers, cfg.x, cfg.y, act, cfg.loss, trial.cell, kind="mp",
                                          magnitudes=True)
            self.grads, self.mags = _entries(grads, cfg.spec.params), _entries(mags, cfg.spec.params)
            self.by_param = grads
            if trial.truncate:
                _, cut, cut_mags = bptt(cfg.layers, cfg.x, cfg.y, act, cfg.loss, trial.cell, kind="mp",
                                        truncate=trial.truncate, magnitudes=True)
                self.truncated = _entries(cut, cfg.spec.params)
                self.truncated_mags = _entries(cut_mags, cfg.spec.params)


def _digits_needed(trial: Trial) -> int:
    """Digits that keep the printed forms exact: they write σ' in the outputs (1 − h², f(1 − f)), which
    cancels to 2|a|/ln 10 digits when a unit saturates at pre-activation a."""
    from ..reference import Numbers, builtin_activation, forward

    num = Numbers("mp")
    act = reference_activation(trial.activation or "tanh", "mp")
    sigma = (builtin_activation(act, num) if isinstance(act, str) else act) if trial.cell in ACTIVATED else None
    cfg = trial.config
    layers = [{k: num.array(v) for k, v in p.items()} for p in cfg.layers]
    _, _, k = forward(trial.cell, layers, num.array(cfg.x), num, sigma)
    largest = 0.0
    for per_layer in k:
        for step in per_layer[1:]:
            linears = [float(np.max(np.abs(v.astype(float)))) for name, v in step["named"].items()
                       if name.startswith("a")]
            cell_state = [float(np.max(np.abs(v.astype(float)))) for name, v in step["named"].items() if name == "c"]
            largest = max(largest, sum(linears), *cell_state)
    return DPS + int(math.ceil(2 * largest / math.log(10)))


def run_checks(trials: int = 100, seed: int = 0, T_max: int = 6, progress: Callable | None = None,
               methods: tuple[str, ...] | None = None, cells: tuple[str, ...] = DRAWN) -> CheckReport:
    """Compare every method on ``trials`` random configurations, their cells drawn from ``cells``."""
    rng, report = np.random.default_rng(seed), CheckReport()
    compiled: dict = {}
    for index in range(trials):
        trial = random_trial(rng, T_max, cells)
        exact = Exact(trial)
        where = f"trial {index}: {trial.describe()}"
        for names, run in METHODS.items():
            if methods is not None and not set(names) & set(methods):
                continue
            found = run(trial, exact, compiled)
            for method in names:
                report.record(method, found[method] if isinstance(found, dict) else found, where)
        report.trials += 1
        if progress is not None:
            progress(index + 1)
    return report


# ---------------------------------------------------------------- the methods


def _structure(trial: Trial):
    from ..numeric.factors import NumericModel

    return NumericModel.of(trial.config).structure()


def printed_forms(trial: Trial, exact: Exact, cache: dict) -> dict[str, list[float]]:
    """The printed forms, text and LaTeX, read back and evaluated with enough digits for the trial: the
    text by Python's precedence rules, the LaTeX (explicit, recursive and general-T forms, each with its
    own definitions) by SymPy's own LaTeX parser."""
    from ..forms import derive
    from ..latex import snippet
    from ..model import RNN
    from ..paths import explicit_factor_count

    cfg = trial.config
    rnn = RNN(T=trial.T, n=trial.n, m=trial.m, layers=trial.layers, activation=trial.activation,
              loss=trial.loss, cell=trial.cell)
    forms = ["recursive"]
    if sum(explicit_factor_count(rnn, layer, p) for p in rnn.spec.params
           for layer in range(1, rnn.layers + 1)) <= MAX_PRINTED_FACTORS:
        forms.append("explicit")
    derivations = {form: derive(rnn, form, "all") for form in ["factors", *forms]}
    out: dict[str, list[float]] = {"printed text": [], "printed LaTeX": []}
    with mpmath.workdps(exact.dps):
        factors = evaluate_printed(derivations["factors"], "text", trial)
        for form in forms:
            values = evaluate_printed(derivations[form], "text", trial, factors)
            out["printed text"].extend(_errors(gradient_entries(rnn, values, cfg), exact.grads, exact.mags))
        for form in [*forms, "general"]:
            try:
                found = read_latex(snippet(derive(rnn, form, "all") if form == "general" else derivations[form]),
                                   trial)
            except ReadError:  # what a reader cannot read is as wrong as a wrong value
                found = [None] * len(exact.grads)
            out["printed LaTeX"].extend(_errors(found, exact.grads, exact.mags))
    return out


def read_latex(latex: str, trial: Trial) -> list:
    """The gradients of printed LaTeX as SymPy's own LaTeX parser reads it (check/reader.py), every
    entry in the reference's order; a definition at a generic step t is used at every step."""
    from .reader import Reader

    cfg = trial.config
    resolver = Resolver(trial, {})
    reader = Reader(resolver.of_name, trial.T)
    found = {(param, layer): np.full(cfg.layers[layer - 1][param].shape, None, dtype=object)
             for layer in range(1, trial.layers + 1) for param in cfg.spec.params}
    for name, value in reader.read(latex).items():
        param, layer, entry = resolver.param_of(name)
        slot = found[param, layer]
        if entry:  # one printed entry: W_{12} is row 1, column 2; u_{2} (a 1×m row) and b_{1} are entry 2, 1
            slot.reshape(-1)[np.ravel_multi_index(tuple(e - 1 for e in entry), slot.shape) if len(entry) == 2
                             else entry[0] - 1] = value
        else:
            slot[...] = np.reshape(value, slot.shape) if isinstance(value, np.ndarray) else value
    return [v for layer in range(1, trial.layers + 1) for param in cfg.spec.params
            for v in np.ravel(found[param, layer])]


def evaluate_printed(derivation, kind: str, trial: Trial, known: dict | None = None) -> dict:
    """Read the derivation back from its printed output and evaluate each equation in order (at the
    current mpmath precision)."""
    from ..latex import snippet
    from ..readback import Evaluator, latex_equations, text_equations
    from ..render import render_text

    env = dict(known or {})
    resolver = Resolver(trial, env)
    equations = (text_equations(render_text(derivation)) if kind == "text"
                 else latex_equations(snippet(derivation), resolver.param_bases))
    evaluate = Evaluator(resolver, mp=True)
    for lhs, rhs in equations:
        if not lhs.startswith("∂L/") and (lhs.startswith("∂") or not _concrete(lhs)):
            continue  # a local partial or a definition at a generic step t
        env[lhs] = evaluate(rhs)
    return env


def _concrete(token: str) -> bool:
    from .. import notation

    try:
        parts = notation.parse(token)
    except ValueError:
        return True
    return parts.step.isdigit() or parts.step == ""


class Resolver:
    """Values of the printed symbols of one trial: states and gates from the reference's forward pass at
    40 digits, parameters and inputs from the trial, factors and δ from equations already evaluated."""

    def __init__(self, trial: Trial, env: dict) -> None:
        from .. import notation
        from ..cells import get_cell  # noqa: F401 - the spec is on the config
        from ..reference import Numbers, forward

        self.trial, self.env, self.cfg = trial, env, trial.config
        num = Numbers("mp")
        self.num = num
        layers = [{k: num.array(v) for k, v in p.items()} for p in self.cfg.layers]
        act = reference_activation(trial.activation or "tanh", "mp")
        sigma: tuple | None = None if isinstance(act, str) else act
        if isinstance(act, str) and trial.cell in ACTIVATED:
            from ..reference import builtin_activation

            sigma = builtin_activation(act, num)
        self.h, self.c, self.k = forward(trial.cell, layers, num.array(self.cfg.x), num, sigma)
        self.params = layers
        self.spec = self.cfg.spec
        self.linears = {lin.name for lin in self.spec.linears}
        self.param_bases = notation.PARAM_BASES | {p.partition("_")[0] for p in self.spec.unit_params}

    def __call__(self, token: str):
        from .. import notation

        if token in self.env:
            return self.env[token]
        parts = notation.parse(token, self.param_bases)
        value = self._value(parts)
        if value is None:
            return None
        if parts.unit:
            return value[tuple(u - 1 for u in parts.unit)] if value.ndim == 2 and len(parts.unit) == 2 else \
                value.reshape(-1)[parts.unit[0] - 1] if len(parts.unit) == 1 else value[parts.unit[0] - 1,
                                                                                            parts.unit[1] - 1]
        if self.trial.n == 1 and isinstance(value, np.ndarray) and value.size == 1:
            return value.reshape(-1)[0]
        if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[0] == 1 and self.trial.n == 1:
            return value.reshape(-1)[0] if value.size == 1 else value
        return value

    def param_of(self, name) -> tuple[str, int, tuple[int, ...]]:
        """(parameter, layer, entry) of a printed parameter symbol: w, W^{(2)}_{f,12}, u_{2}, b_{f}."""
        tags = [s for s in name.sub if s.isalpha()]
        digits = [s for s in name.sub if s.isdigit()]
        entry = tuple(int(d) for d in digits[0]) if digits else ()
        if name.sub[:1] == ("0",) and f"{name.base}0" in self.spec.params:  # an initial state h_0, c_0
            return f"{name.base}0", name.layer or 1, tuple(int(d) for d in name.sub[1:])
        for base in (name.base, name.base.upper()):
            param = f"{base}_{tags[0]}" if tags else base
            if param in self.spec.params:
                return param, name.layer or 1, entry
        raise KeyError(f"no parameter {name}")

    def of_name(self, name, sub: tuple) -> object:
        """The value of a printed symbol (reader.Name with its subscript's indices evaluated), or None."""
        from types import SimpleNamespace

        try:
            param, layer, entry = self.param_of(name)
        except KeyError:
            steps = [s for s in sub if isinstance(s, int)]
            if len(steps) != len(sub) or not steps and (name.base != "y" or self.cfg.loss == "sum"):
                return None  # an index left unbound, or a state without its step
            p = SimpleNamespace(base=name.base, tag=name.tag, layer=name.layer, step=str(steps[0]) if steps else "",
                                unit=tuple(steps[1:]), is_param=False)
            value = self._value(p)
            return None if value is None else self._shaped(value, p.unit)
        value = self.params[layer - 1][param]
        return self._shaped(value if value.ndim == 2 else value.reshape(-1, 1), entry)

    def _shaped(self, value, unit: tuple):
        if unit:
            return value[tuple(u - 1 for u in unit)] if value.ndim == 2 and len(unit) == 2 else \
                value.reshape(-1)[unit[0] - 1]
        if self.trial.n == 1 and isinstance(value, np.ndarray) and value.size == 1:
            return value.reshape(-1)[0]
        return value

    def _value(self, p):
        layer = (p.layer or 1) - 1
        if p.is_param:  # printed w is the weight W of a scalar model, or a parameter named w (IndRNN)
            names = [p.base] + ([p.base.upper()] if p.base in ("w", "u") else [])
            found = [self.params[layer].get(f"{b}_{p.tag}" if p.tag else b) for b in names]
            value = next((v for v in found if v is not None), None)
            if value is None:
                return None
            return value if value.ndim == 2 else value.reshape(-1, 1)
        if p.base == "y":
            y = self.num.array(self.cfg.y)
            return (y if self.cfg.loss == "last" else y[int(p.step) - 1]).reshape(-1, 1)
        if p.base == "x":
            return self.num.array(self.cfg.x[int(p.step) - 1]).reshape(-1, 1)
        if not p.step.isdigit():
            return None
        t = int(p.step)
        name = f"{p.base}_{p.tag}" if p.tag and f"{p.base}_{p.tag}" in self.linears else p.base
        if t == 0:
            source = self.h if name == "h" else self.c if name == "c" else None
            return None if source is None else source[layer][0]
        named = self.k[layer][t]["named"]
        return named.get(name)


def gradient_entries(rnn, values: dict, cfg: Config) -> list:
    """The evaluated ∂L/∂θ of every parameter entry, in the order of the reference's entries."""
    from ..symbolic.derivation import grad_label
    from ..symbolic.shown import FactorNames

    d = FactorNames(rnn)
    out = []
    for layer in range(1, rnn.layers + 1):
        for param in cfg.spec.params:
            if rnn.scalar:
                for entry in rnn.symbols.param(param, layer):
                    value = values.get(grad_label(entry).name)
                    out.append(value.reshape(-1)[0] if isinstance(value, np.ndarray) else value)
            else:
                value = values.get(grad_label(d.param(param, layer)).name)
                out.extend(np.ravel(value) if value is not None else [None] * int(np.prod(cfg.layers[layer - 1][
                    param].shape)))
    return out


def compiled_forms(trial: Trial, exact: Exact, cache: dict) -> list[float]:
    from ..numeric.compiled import CompiledForm
    from ..numeric.factors import NumericModel

    model = NumericModel.of(trial.config)
    rnn = model.structure()
    key = (trial.cell, trial.activation, trial.T, trial.layers, trial.loss)
    errors = []
    for form in ("explicit", "recursive"):
        from ..paths import explicit_factor_count

        if form == "explicit" and sum(explicit_factor_count(rnn, layer, p) for p in rnn.spec.params
                                      for layer in range(1, rnn.layers + 1)) > 20 * MAX_PRINTED_FACTORS:
            continue
        if (key, form) not in cache:
            cache[(key, form)] = CompiledForm(rnn, form)
        program = cache[(key, form)]
        if trial.saturated:
            with mpmath.workdps(exact.dps):
                grads = program(model.as_mp(), "mp")
        else:
            with np.errstate(all="ignore"):
                grads = program(model)
        found = [v for g in grads for p in trial.config.spec.params for v in np.ravel(g[p])]
        errors.extend(_errors(found, exact.grads, exact.mags))
    return errors


def _json_report(trial: Trial) -> dict:
    """What `symbptt grad` does with a parameters file: the file written and read back, the report, its
    strict JSON text parsed again (the command adds only the printing)."""
    from ..config import load_config
    from ..numeric.grad_report import grad_report
    from ..output import strict_json

    cfg = trial.config
    data = {"cell": cfg.cell, "loss": cfg.loss, "x": cfg.x.tolist(), "y": cfg.y.tolist()}
    if cfg.activation:
        data["activation"] = cfg.activation
    if cfg.truncate:
        data["truncate"] = cfg.truncate
    layers = [{k: v.tolist() for k, v in p.items()} for p in cfg.layers]
    data["layers"] = layers
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "p.json")
        with open(path, "w") as handle:
            json.dump(data, handle)
        text = strict_json(grad_report(load_config(path)))
    return json.loads(text)


def _json_entries(report_grad, report_log, params: Sequence[str]) -> list:
    layers = report_grad if isinstance(report_grad, list) else [report_grad]
    logs = report_log if isinstance(report_log, list) else [report_log]
    out = []
    for g, lg in zip(layers, logs, strict=True):
        for p in params:
            for v, lv in zip(np.ravel(np.array(g[p], dtype=object)), np.ravel(np.array(lg[p], dtype=object)),
                             strict=True):
                out.append((v, lv))
    return out


def _json_errors(pairs: list, exact: list, mags: list) -> list[float]:
    errors = []
    for (value, log), e, m in zip(pairs, exact, mags, strict=True):
        if isinstance(value, dict):  # beyond float64: its sign and log10
            same_sign = value.get("sign") == int(mpmath.sign(e))
            errors.append(abs(value["log10"] - float(mpmath.log10(abs(e)))) * math.log(10) if same_sign and e != 0
                          else math.inf)
        elif value is not None:
            errors.extend(_errors([value], [e], [m]))
        elif log is None or e == 0:
            errors.append(math.inf)
        else:
            errors.append(abs(log - float(mpmath.log10(abs(e)))) * math.log(10))
    return errors


def grad_json(trial: Trial, exact: Exact, cache: dict) -> list[float]:
    report = _json_report(trial)
    cache["last report"] = report
    pairs = _json_entries(report["grad"], report["grad_log10"], trial.config.spec.params)
    return _json_errors(pairs, exact.grads, exact.mags)


def digits_claimed(trial: Trial, exact: Exact, cache: dict) -> list[float]:
    report = cache.get("last report") or _json_report(trial)
    return shortfall(report, exact.by_param, trial.config.spec.params)


def truncated_json(trial: Trial, exact: Exact, cache: dict) -> list[float]:
    if not trial.truncate:
        return []
    report = cache.get("last report") or _json_report(trial)
    cut = report["truncated"]
    pairs = _json_entries(cut["grad"], cut["grad_log10"], trial.config.spec.params)
    return _json_errors(pairs, exact.truncated, exact.truncated_mags)


def jacobian_norms(trial: Trial, exact: Exact, cache: dict) -> list[float]:
    report = cache.get("last report") or _json_report(trial)
    cfg = trial.config
    rows = report["log10_jacobian_norms"]
    per_layer = rows if trial.layers > 1 else [rows]
    errors = []
    act = reference_activation(trial.activation or "tanh", "mp")
    for layer, listed in enumerate(per_layer):
        blocks = jacobians(trial.cell, cfg.layers, cfg.x, act, layer=layer, dps=DPS)
        for row in listed:
            ref = log10_norms(blocks[row["k"]])
            for key, found in (("state", row["log10"]), *((s, row.get(s)) for s in ("h", "c") if s in row)):
                want = ref[key]
                if found is None or not math.isfinite(want):
                    errors.append(0.0 if found is None and not math.isfinite(want) else math.inf)
                else:
                    errors.append(abs(found - want) * math.log(10))
    return errors


def numpy_reference(trial: Trial, exact: Exact, _: dict) -> list[float]:
    if trial.saturated:
        return []
    cfg = trial.config
    with np.errstate(all="ignore"):
        _, grads = bptt(cfg.layers, cfg.x, cfg.y, reference_activation(trial.activation or "tanh", "float"),
                        cfg.loss, trial.cell)
    return _errors(_entries(grads, cfg.spec.params), exact.grads, exact.mags)


def finite_diff(trial: Trial, exact: Exact, _: dict) -> list[float]:
    if trial.saturated or trial.activation in ("relu", "max(a, 0.1*a)"):
        return []
    cfg = trial.config
    grads = finite_differences(cfg.layers, cfg.x, cfg.y, reference_activation(trial.activation or "tanh", "float"),
                               cfg.loss, trial.cell)
    floor = FD_FLOOR * max(1.0, float(abs(exact.loss)))
    return _errors(_entries(grads, cfg.spec.params), exact.grads, exact.mags, floor)


METHODS: dict[tuple[str, ...], Callable] = {
    ("printed text", "printed LaTeX"): printed_forms,
    ("compiled forms",): compiled_forms,
    ("grad JSON",): grad_json,
    ("digits claimed",): digits_claimed,
    ("truncated JSON",): truncated_json,
    ("Jacobian norms",): jacobian_norms,
    ("NumPy reference",): numpy_reference,
    ("finite diff.",): finite_diff,
}


def _clear_caches() -> None:
    """Forget compiled cells (tests that plant a bug in the primitive table recompile after it)."""
    from ..numeric.forward import compiled

    compiled.cache_clear()
