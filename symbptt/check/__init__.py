"""The cross-check: every way the tool gives a gradient, against independent references, entry by entry.

Each trial draws a network (cell rnn, lstm, gru, mingru, minlstm, indrnn, lru or one of the check's cell
files, activation including custom ones, n ≤ 4, m ≤ 4, layers ≤ 3, either loss, T ≤ T_max, sometimes
truncation, sometimes saturated units with |a| in the hundreds) and compares, for every parameter entry,
against the mpmath BPTT of reference.py at 40 digits (σ' written from a, sharing nothing with the
engine) — for a cell file, against reference_files.py, which reads the file's text again and sweeps its
own graph back:

    printed text      the explicit and recursive forms as `derive --format text` prints them, read back
                      and evaluated at 40 digits (with the factors form for named factors)
    printed LaTeX     the same, read back from `derive --format latex`
    compiled forms    the explicit and recursive forms as straight-line code (float64; mpmath when saturated)
    grad JSON         `symbptt grad` end to end (file in, JSON out): values, or log10 where null; a report
                      kept in float64 against its gradient's largest entry (what --digits asks of it:
                      each entry's own digits are the "digits claimed" row's)
    truncated JSON    the report's truncated gradient against a truncated reference BPTT
    Jacobian norms    the report's log10‖∂s_T/∂s_k‖ against the reference's Jacobians at 40 digits
    NumPy reference   the plain float64 reference BPTT (built-in cells)
    finite diff.      central differences (float64), on trials without saturated units (built-in cells)

Per-entry error: |found − exact| / max(|exact|, FLOOR · Σ|paths|), where Σ|paths| is the sum over all
chain-rule paths of the absolute path products (the scale at which rounding acts, from the reference
run on absolute values; for a cell file, reference_files.py's sweep with every local derivative by
absolute value: paths through the file's own operations); for log10 quantities the absolute difference of
log10 times ln 10.
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
from ..errors import SymbpttError
from ..reference import ACTIVATED, bptt, finite_differences, jacobians, log10_norms
from ..reference_files import bptt as file_bptt
from ..reference_files import jacobians as file_jacobians
from ..reference_files import log10_norms as file_log10_norms
from ..validate import CHECK_MAX_T, integer
from ..validate import seed as checked_seed
from .claims import shortfall
from .printed import Resolver, evaluate_printed
from .reader import ReadError
from .trials import DRAWN as DRAWN  # the built-in cells only, as earlier versions drew
from .trials import WITH_FILES, Trial, random_trial, reference_activation

FLOOR = 1e-3
DPS = 40
TOLERANCE = {
    "printed text": 1e-25,
    "printed LaTeX": 1e-25,
    "compiled forms": 1e-11,
    "grad JSON": 1e-11,
    "digits claimed": 0.0,  # decimal digits: how many fewer a float64 report holds than it says it keeps
    "truncated JSON": 1e-11,
    "Jacobian norms": 1e-9,
    "NumPy reference": 1e-11,
    "finite diff.": 1e-3,
}
FD_FLOOR = 1e-6  # central differences (ε = 1e-6) are accurate to about 1e-10 × max(1, |L|), absolutely
MAX_PRINTED_FACTORS = 3000


def _wrapped_parts(text: str, width: int) -> list[str]:
    """``text``, a list of parts joined by ", " (T=4, loss sum, truncate 4, …), on lines of at most
    ``width`` columns (where a part fits on one): the first indented by 4, the rest by 6, each broken only
    between parts, so that no part ("truncate 1") is split over two lines."""
    lines: list[str] = []
    line = "    "
    parts = text.split(", ")
    for i, part in enumerate(parts):
        piece = part + ("," if i < len(parts) - 1 else "")
        if line.strip() and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = "      " + piece
        else:
            line += (" " if line.strip() else "") + piece
    return [*lines, line]


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

    def merge(self, trial: tuple[str, list[tuple[str, int, float]]]) -> None:
        """Add one trial's (where, [(method, entries, worst error)])."""
        where, found = trial
        for method, count, worst in found:
            self.record_summary(method, count, worst, where)
        self.trials += 1

    def record(self, method: str, errors: list[float], where: str) -> None:
        self.record_summary(method, len(errors), max(errors) if errors else 0.0, where)

    def record_summary(self, method: str, count: int, worst: float, where: str) -> None:
        """Add ``count`` entries whose largest error is ``worst``, found in ``where``."""
        if not count:
            return
        self.entries[method] += count
        if not math.isfinite(worst):
            worst = math.inf
        if worst > self.worst[method] or (method not in self.where and worst == 0):
            self.worst[method] = max(self.worst[method], worst)
            self.where[method] = where

    def table(self, width: int = 100) -> str:
        """The table within ``width`` columns: one line per method when the worst case fits beside it,
        else the worst case on an indented line below; the footnote wrapped."""
        from ..wrap import wrap

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
                    lines += _wrapped_parts(f"worst: {where}", width)
        note = (f"{self.trials} random configurations; exact values: reference BPTT in mpmath at {DPS}+ "
                "digits (2|a|/ln 10 more where units saturate; a cell file's from its own text, swept back "
                "once); error = |found - exact| / "
                f"max(|exact|, {FLOOR:g} x sum of |path products|) (a cell file's paths through its own "
                "operations) (finite differences also at least "
                f"{FD_FLOOR:g} x max(1, |L|)); 'digits claimed': how many digits fewer a float64 report holds than "
                "it says it keeps")
        lines += wrap(note, width)
        return "\n".join(lines) + "\n"


def _entries(grads: list[dict], params: Sequence[str]) -> list:
    return [v for g in grads for p in params for v in np.ravel(np.asarray(g[p], dtype=object))]


def _errors(found: list, exact: list, mags: list, absolute: float = 0.0) -> list[float]:
    if len(found) != len(exact):  # a gradient of the wrong shape: every entry is as wrong as a wrong value
        return [math.inf] * len(exact)
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
        if trial.text is not None:
            self._from_file(trial)
            return
        with mpmath.workdps(DPS):
            self.dps = _digits_needed(trial)
        with mpmath.workdps(self.dps):
            act = reference_activation(trial.activation or "tanh", "mp")
            self.loss, grads, mags = bptt(cfg.layers, cfg.x, cfg.y, act, cfg.loss, trial.cell, kind="mp",
                                          magnitudes=True)
            self.grads, self.mags = _entries(grads, cfg.spec.params), _entries(mags, cfg.spec.params)
            self.by_param = grads
            if trial.truncate:
                _, self.truncated_by_param, cut_mags = bptt(cfg.layers, cfg.x, cfg.y, act, cfg.loss, trial.cell,
                                                            kind="mp", truncate=trial.truncate, magnitudes=True)
                self.truncated = _entries(self.truncated_by_param, cfg.spec.params)
                self.truncated_mags = _entries(cut_mags, cfg.spec.params)

    def _from_file(self, trial: Trial) -> None:
        """A cell file's trial: reference_files.py's reverse accumulation on the file's text, and its sweep
        with every local derivative by absolute value for Σ|paths| (over the file's own operations)."""
        cfg, text = trial.config, trial.text
        assert text is not None
        self.dps = DPS
        with mpmath.workdps(DPS):
            self.loss, self.by_param, mags = file_bptt(text, cfg.layers, cfg.x, cfg.y, cfg.loss, magnitudes=True)
            self.grads, self.mags = _entries(self.by_param, cfg.spec.params), _entries(mags, cfg.spec.params)
            if trial.truncate:
                _, self.truncated_by_param, cut_mags = file_bptt(text, cfg.layers, cfg.x, cfg.y, cfg.loss,
                                                                 trial.truncate, magnitudes=True)
                self.truncated = _entries(self.truncated_by_param, cfg.spec.params)
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


MAX_T = CHECK_MAX_T


def run_checks(trials: int = 100, seed: int = 0, T_max: int = 6, progress: Callable | None = None,
               methods: tuple[str, ...] | None = None, cells: tuple[str, ...] = WITH_FILES,
               workers: int = 1) -> CheckReport:
    """Compare every method on ``trials`` random configurations, their cells drawn from ``cells``.

    Args:
        trials: how many random configurations.
        seed: the seed they are drawn from (the same seed gives the same report).
        T_max: the largest T drawn.
        progress: called with the number of trials done.
        methods: only these methods (None: all).
        cells: the cells drawn from.
        workers: processes that run trials side by side (each draws the trials from ``seed`` itself and
            runs its share; results are merged in trial order, so the report is the one a single process
            makes).

    Returns:
        The report: each method's worst error, where, and how many entries it compared.
    """
    trials, seed = integer("trials", trials, 1), checked_seed(seed, "seed")
    T_max, workers = integer("T_max", T_max, 1, MAX_T), integer("workers", workers, 1)
    if methods is not None:
        known = [name for names in METHODS for name in names]
        listed = isinstance(methods, (tuple, list))
        wrong = [m for m in methods if not isinstance(m, str) or m not in known] if listed else [methods]
        if wrong or not methods:
            raise SymbpttError(f"methods must be a tuple of {', '.join(known)}; got {str(methods)[:60]!r}")
    if not isinstance(cells, (tuple, list)) or not cells or not all(isinstance(c, str) and c for c in cells):
        raise SymbpttError(f"cells must be a non-empty tuple of cell names or .toml files; got {str(cells)[:60]!r}")
    report = CheckReport()
    if workers > 1 and trials > 1:
        import multiprocessing

        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                              else None)
        with context.Pool(min(workers, trials), _start_worker, (seed, T_max, cells, methods)) as pool:
            results = pool.imap(_worker_trial, range(trials))
            for done in range(1, trials + 1):
                while True:  # waiting in short slices keeps Ctrl-C deliverable (a bare wait blocks it)
                    try:
                        found = results.next(timeout=0.2)
                        break
                    except multiprocessing.TimeoutError:
                        continue
                report.merge(found)
                if progress is not None:
                    progress(done)
        return report
    rng = np.random.default_rng(seed)
    compiled: dict = {}
    for index in range(trials):
        report.merge(_one_trial(index, random_trial(rng, T_max, cells), methods, compiled))
        if progress is not None:
            progress(index + 1)
    return report


_WORKER: dict = {}  # one worker process's own draw of the trials and its compiled forms


def _start_worker(seed: int, T_max: int, cells: tuple[str, ...], methods: tuple[str, ...] | None) -> None:
    """A worker draws the trials itself from the same seed (a trial holds compiled activations, which do
    not pickle) and skips those other workers run.  Ctrl-C is the parent's to handle: it stops the pool."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(rng=np.random.default_rng(seed), next=0, T_max=T_max, cells=cells, methods=methods,
                   compiled={})


def _worker_trial(index: int) -> tuple[str, list[tuple[str, int, float]]]:
    """Trial ``index`` in a worker: the trials before it are drawn and dropped (a worker's indices only
    increase: the pool hands them out in order)."""
    state = _WORKER
    while True:
        trial = random_trial(state["rng"], state["T_max"], state["cells"])
        state["next"] += 1
        if state["next"] > index:
            return _one_trial(index, trial, state["methods"], state["compiled"])


def _one_trial(index: int, trial: Trial, methods: tuple[str, ...] | None, compiled: dict
               ) -> tuple[str, list[tuple[str, int, float]]]:
    """(where, [(method, entries, worst error)]) of one trial."""
    exact = Exact(trial)
    found_all = []
    for names, run in METHODS.items():
        if methods is not None and not set(names) & set(methods):
            continue
        found = run(trial, exact, compiled)
        for method in names:
            errors = found[method] if isinstance(found, dict) else found
            found_all.append((method, len(errors), max(errors) if errors else 0.0))
    return f"trial {index}: {trial.describe()}", found_all


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
              loss=trial.loss, cell=cfg.cell)
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
    from .evaluation import Reader

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
            if isinstance(value, np.ndarray) and value.size != slot.size:
                raise ReadError(f"the printed gradient of {param} has {value.size} entries, the parameter {slot.size}")
            slot[...] = np.reshape(value, slot.shape) if isinstance(value, np.ndarray) else value
    return [v for layer in range(1, trial.layers + 1) for param in cfg.spec.params
            for v in np.ravel(found[param, layer])]


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
                size = int(np.prod(cfg.layers[layer - 1][param].shape))
                if value is not None and not isinstance(value, np.ndarray) and value == 0:
                    value = [value] * size  # "= 0": a gradient no path reaches, printed as the zero it is
                out.extend(np.ravel(value) if value is not None else [None] * size)
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
    data = {"cell": trial.cell, "loss": cfg.loss, "x": cfg.x.tolist(), "y": cfg.y.tolist()}
    if cfg.activation:
        data["activation"] = cfg.activation
    if cfg.truncate:
        data["truncate"] = cfg.truncate
    layers = [{k: v.tolist() for k, v in p.items()} for p in cfg.layers]
    data["layers"] = layers
    with tempfile.TemporaryDirectory() as folder:
        if trial.text is not None:  # the cell file beside the parameters, as a user names it there
            data["cell"] = os.path.join(folder, trial.cell)
            with open(data["cell"], "w") as handle:
                handle.write(trial.text)
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


def _json_errors(pairs: list, exact: list, mags: list, scales: list | None = None) -> list[float]:
    """Each entry's error; ``scales``: for each entry a size its error may be measured against as well."""
    errors = []
    for i, ((value, log), e, m) in enumerate(zip(pairs, exact, mags, strict=True)):
        if isinstance(value, dict):  # beyond float64: its sign and log10
            same_sign = value.get("sign") == int(mpmath.sign(e))
            errors.append(abs(value["log10"] - float(mpmath.log10(abs(e)))) * math.log(10) if same_sign and e != 0
                          else math.inf)
        elif value is not None:
            errors.extend(_errors([value], [e], [m], 0.0 if scales is None else scales[i]))
        elif log is None or e == 0:
            errors.append(math.inf)
        else:
            errors.append(abs(log - float(mpmath.log10(abs(e)))) * math.log(10))
    return errors


def grad_json(trial: Trial, exact: Exact, cache: dict) -> list[float]:
    report = _json_report(trial)
    cache["last report"] = report
    params = trial.config.spec.params
    pairs = _json_entries(report["grad"], report["grad_log10"], params)
    # how many digits each entry keeps is a float64 report's claim, which "digits claimed" holds it to
    return _json_errors(pairs, exact.grads, exact.mags, _block_scales(report, exact.by_param, params))


def _block_scales(report: dict, by_param: list, params: Sequence[str]) -> list | None:
    """A float64 report keeps --digits relative to each gradient's largest entry (what its reruns measure,
    for the truncated gradients too, and the bar reads): each entry's block's largest exact value, else None."""
    if not report["precision"].startswith("float64"):
        return None
    blocks = [np.ravel(np.array(layer[p], dtype=object)) for layer in by_param for p in params]
    return [max((abs(v) for v in block), default=0) for block in blocks for _ in range(block.size)]


def digits_claimed(trial: Trial, exact: Exact, cache: dict) -> list[float]:
    report = cache.get("last report") or _json_report(trial)
    return shortfall(report, exact.by_param, trial.config.spec.params)


def truncated_json(trial: Trial, exact: Exact, cache: dict) -> list[float]:
    if not trial.truncate:
        return []
    report = cache.get("last report") or _json_report(trial)
    cut = report["truncated"]
    params = trial.config.spec.params
    pairs = _json_entries(cut["grad"], cut["grad_log10"], params)
    scales = _block_scales(report, exact.truncated_by_param, params)
    return _json_errors(pairs, exact.truncated, exact.truncated_mags, scales)


def jacobian_norms(trial: Trial, exact: Exact, cache: dict) -> list[float]:
    report = cache.get("last report") or _json_report(trial)
    cfg = trial.config
    rows = report["log10_jacobian_norms"]
    per_layer = rows if trial.layers > 1 else [rows]
    errors = []
    act = reference_activation(trial.activation or "tanh", "mp")
    states = list(cfg.spec.states)
    for layer, listed in enumerate(per_layer):
        if trial.text is not None:
            with mpmath.workdps(DPS):
                blocks = file_jacobians(trial.text, cfg.layers, cfg.x, layer=layer)
        else:
            blocks = jacobians(trial.cell, cfg.layers, cfg.x, act, layer=layer, dps=DPS)
        for row in listed:
            with mpmath.workdps(DPS):
                ref = file_log10_norms(blocks[row["k"]], states) if trial.text is not None else \
                    log10_norms(blocks[row["k"]])
            for key, found in (("state", row["log10"]), *((s, row.get(s)) for s in states if s in row)):
                want = ref[key]
                if found is None or not math.isfinite(want):
                    errors.append(0.0 if found is None and not math.isfinite(want) else math.inf)
                else:
                    errors.append(abs(found - want) * math.log(10))
    return errors


def numpy_reference(trial: Trial, exact: Exact, _: dict) -> list[float]:
    if trial.saturated or trial.text is not None:  # a reference for the built-in cells
        return []
    cfg = trial.config
    with np.errstate(all="ignore"):
        _, grads = bptt(cfg.layers, cfg.x, cfg.y, reference_activation(trial.activation or "tanh", "float"),
                        cfg.loss, trial.cell)
    return _errors(_entries(grads, cfg.spec.params), exact.grads, exact.mags)


def finite_diff(trial: Trial, exact: Exact, _: dict) -> list[float]:
    if trial.saturated or trial.activation in ("relu", "max(a, 0.1*a)") or trial.text is not None:
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
    """Forget compiled cells and parsed texts (tests that plant a bug in the primitive table or the reader
    start afresh after it)."""
    from ..numeric.forward import compiled
    from .reader import parse

    compiled.cache_clear()
    parse.cache_clear()
