"""Shared helpers: random points, errors, external programs, and a fixed hypothesis profile."""

from __future__ import annotations

import functools
import gc
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, settings

from symbptt.model import RNN

# the compiled step kernel (numeric/jit.py) compiles for seconds per cell the first time: the suite runs
# the NumPy kernel, and tests/test_jit.py turns the compiled one on where it tests it
os.environ["SYMBPTT_JIT"] = "0"
# the bytecode of symbptt and of the rewritten test modules is kept even where PYTHONDONTWRITEBYTECODE is
# set (as on the CI machine): the second worker and every `python -m symbptt` a test starts then read it
# instead of compiling every module again (a fresh clone's suite: 101 s → 84 s on 2 cores)
sys.dont_write_bytecode = False

# the interpreter's cyclic garbage collector walks every live object at each full collection: with SymPy,
# NumPy and matplotlib imported that is seconds over a suite that makes millions of small objects.  What is
# imported by now lives for the whole run (frozen: never walked again), and collections run less often
# (test_derive, test_latex and test_verify in one process: 47.0–47.9 s → 42.7–43.6 s with a first
# generation of 50,000, interleaved; 45.2–46.9 s → 42.5–42.9 s from 50,000 to 200,000)
gc.collect()
gc.freeze()
gc.set_threshold(200_000, 50, 100)

settings.register_profile("symbptt", deadline=None, derandomize=True, print_blob=True, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("symbptt-exhaustive", settings.get_profile("symbptt"), max_examples=100)
settings.load_profile("symbptt")

# Hypothesis also draws, now and then, literals it finds in the project's modules imported so far (its
# "local constants"): which modules a worker has imported depends on the tests it ran before, so the
# same test drew other examples from one run to the next (a −0.0 that one order drew and another did
# not).  The suite draws from its strategies alone, the same examples in any order.
try:
    from hypothesis.internal.conjecture import providers as _providers

    _providers._get_local_constants = lambda: _providers.Constants()
except (ImportError, AttributeError):  # another Hypothesis: it has no such pool to empty
    pass

# `pytest -m slow` (the exhaustive run) also runs every property test with all its examples: a quarter of
# them in every suite (examples()), all of them there (pytest_configure turns this on before the test
# modules are imported, so that their @settings read it)
EXHAUSTIVE = False


def pytest_configure(config):
    global EXHAUSTIVE
    EXHAUSTIVE = (config.getoption("markexpr") or "").strip() == "slow"
    if EXHAUSTIVE:
        settings.load_profile("symbptt-exhaustive")


def examples(n: int) -> int:
    """max_examples for a property test that draws ``n`` examples in the exhaustive run: a quarter of them
    (at least 5) in every suite."""
    return n if EXHAUSTIVE else min(n, max(5, n // 4))

ACTIVATIONS = ["tanh", "sigmoid", "relu", "linear", "a/(1+abs(a))"]


# The longest tests (each a few seconds: a kernel, a subprocess, a figure) start first, so that the two
# workers do not wait for one of them at the end of the run.
FIRST = ("test_tutorial_notebook_runs_in_a_kernel", "test_benchmark_smoke_run_prints_every_case",
         "test_each_block_and_figure_is_what_its_command_produces", "test_no_runtime_warning_reaches_the_user",
         "test_a_small_run_agrees_everywhere", "test_printing_through_templates_equals_printing_each_factor",
         "test_explicit_and_recursive_equal_diff_of_unrolled_loss", "test_every_form_compiles",
         "test_ctrl_c_writes_what_was_trained")


def pytest_sessionfinish(session):
    """pytest's last act collects garbage five times over (for exceptions raised where nothing could catch
    them): one collection here finds such objects, and what lives on is frozen, so that the five walk
    nothing (about a second per worker on a heap that SymPy's caches have grown)."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the exhaustive run takes the property tests too
def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: next((i for i, name in enumerate(FIRST) if item.name.startswith(name)), len(FIRST)))
    if EXHAUSTIVE:
        for item in items:
            if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
                item.add_marker(pytest.mark.slow)


def exhaustive(cases: list, keep, ids=None) -> list:
    """The cases as pytest params: those ``keep(case)`` accepts run in every suite (one of each kind), the
    others only with ``pytest -m slow`` (the exhaustive run the session note reports), so that the whole
    suite stays within its 90 s on two cores."""
    out = []
    for i, case in enumerate(cases):
        args = case if isinstance(case, tuple) else (case,)
        out.append(pytest.param(*args, marks=[] if keep(case) else [pytest.mark.slow],
                                id=None if ids is None else ids[i]))
    return out


@pytest.fixture(autouse=True)
def _no_inherited_columns(monkeypatch):
    """Output width does not depend on the developer's COLUMNS (a test that wants one sets it)."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture(autouse=True)
def _mpmath_precision_kept():
    """A test leaves mpmath's working precision as it found it: one that set mp.dps and left it made every
    later test in its worker compute at other digits (a bit-for-bit test of mp_tanh then failed or passed
    with the order of the files)."""
    import mpmath

    before = mpmath.mp.prec
    yield
    after, mpmath.mp.prec = mpmath.mp.prec, before
    assert after == before, f"the test left mpmath's precision at {after} bits (it found {before})"


def random_point(rnn: RNN, seed: int) -> dict[sp.Symbol, float]:
    """Every parameter and input symbol at a reproducible random value in (-1, 1)."""
    rng = np.random.default_rng(seed)
    return {sym: float(rng.uniform(-1.0, 1.0)) for sym in rnn.symbols.parameters()}


def normwise_error(a: np.ndarray, b: np.ndarray) -> float:
    """max|a − b| / max|b|: the relative error of a gradient as a whole."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(float(np.max(np.abs(b))), 1e-300)
    return float(np.max(np.abs(a - b))) / scale


@pytest.fixture
def compiled_kernel(monkeypatch):
    """The compiled kernel turned on (the suite turns it off); Numba and SciPy are required under CI=true."""
    try:
        import numba  # noqa: F401
        import scipy  # noqa: F401
    except ImportError as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing.name} is required in CI (the test extra installs it) but is not installed")
        pytest.skip(f"{missing.name} is not installed")
    from symbptt.numeric import jit

    jit.available.cache_clear()
    monkeypatch.setenv("SYMBPTT_JIT", "1")
    assert jit.available()
    yield
    jit.available.cache_clear()


def random_model(cell: str, n: int, layers: int, loss: str, T: int, B: int, seed: int, scale: float = 0.8):
    """Random parameters (check.trials' draw), inputs and targets of a tanh network of a built-in cell, and
    its NumericModel: (params, x, y, model)."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.factors import NumericModel

    rng = np.random.default_rng(seed)
    spec = get_cell(cell, get_activation("tanh"))
    m = min(spec.max_input or 3, 3)
    params = random_layers(spec, n, m, layers, rng, scale)
    x = rng.normal(size=(T, m, B))
    y = rng.normal(size=(n, B) if loss == "last" else (T, n, B))
    shaped = [{k: (np.asarray(v, dtype=float).reshape(-1, 1) if np.ndim(v) < 2 else np.asarray(v, dtype=float))
               for k, v in p.items()} for p in params]
    return params, x, y, NumericModel(spec, shaped, x, y, loss)


def assert_report_matches(report_grad, report_log, grads, params, rel=1e-12):
    """Each entry: a number within ``rel`` of the exact value, or {sign, log10} with the exact sign and its
    log10 within ``rel``."""
    import mpmath

    layers = report_grad if isinstance(report_grad, list) else [report_grad]
    logs = report_log if isinstance(report_log, list) else [report_log]
    for g, lg, want in zip(layers, logs, grads, strict=True):
        for p in params:
            for value, log, e in zip(np.ravel(np.array(g[p], dtype=object)), np.ravel(np.array(lg[p], dtype=object)),
                                     np.ravel(want[p]), strict=True):
                if e == 0:
                    assert value == 0 and log is None
                    continue
                exact_log = float(mpmath.log10(abs(e)))
                assert log is not None and abs(log - exact_log) < rel * max(1.0, abs(exact_log)) * 10
                if abs(exact_log) < 307.5:
                    assert value is not None and abs(value - float(e)) <= rel * abs(float(e)), (p, value, e)
                else:
                    assert value == {"sign": int(mpmath.sign(e)), "log10": log}, (p, value, e)


# one tanh unit over six steps (the shipped example's first six, loss 'last', no truncation)
SMALL_RNN = {"activation": "tanh", "W": 1.3, "U": 0.7, "b": 0.1, "h0": 0.2, "x": [0.5, -0.3, 0.8, 0.1, -0.9, 0.4],
             "y": 0.25}

EXACT_DPS = 60

# a scalar cell file whose coefficient is long: min(p, log(1 + e^p)), p = w h + u x (a min whose branches tie
# where float64 loses log(1 + e^−p); its printed slope is a sum with a fraction in it)
TIE_CELL = 'states = ["h"]\nparams = ["w", "u"]\n[update]\nh = "min(w*h + u*x, log(1 + exp(w*h + u*x)))"\n'


def exact(cfg, truncate: int | None = None) -> tuple:
    """Loss and gradients of a parsed configuration from the reference BPTT at 60 digits (σ' from a; shares
    nothing with the engine)."""
    import mpmath

    from symbptt.check import reference_activation
    from symbptt.reference import bptt

    with mpmath.workdps(EXACT_DPS):
        act = reference_activation(cfg.act_name, "mp")
        return bptt(cfg.layers, cfg.x, cfg.y, act, cfg.loss, cfg.spec.name, kind="mp", truncate=truncate)



def require_program(name: str) -> str:
    """Path of an external program; fail under CI=true when it is missing, skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required in CI but is not installed")
        pytest.skip(f"{name} is not installed on this machine")
    return path


def random_layers(spec, n: int, m: int, layers: int, rng: np.random.Generator, scale: float = 0.8) -> list[dict]:
    """Parameters of every layer of a cell, drawn as the check draws them (check.trials.draw_layers: the
    cell's own shapes and intervals; initial states in (−½, ½))."""
    from symbptt.check.trials import draw_layers

    return draw_layers(spec, n, m, layers, rng, scale)


class Ran:
    """What a user sees of one command: exit code, stdout, stderr (a subprocess's fields)."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_in_process(*args: str, cwd=None) -> Ran:
    """The command line in this process (no interpreter start-up, ~1 s saved per call).  The group's own
    error handling runs as in the console entry point; an exception that escapes it (what a user would see
    as a traceback) is reported as "Traceback" on stderr."""
    from click.testing import CliRunner

    from symbptt.cli import main

    here = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, list(args))
    finally:
        os.chdir(here)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += f"Traceback (escaped the command line): {result.exception!r}\n"
    return Ran(result.exit_code, result.stdout, stderr)


@pytest.fixture
def exact_passes(monkeypatch) -> list[int]:
    """The digits of every exact forward pass (Arb's or mpmath's) the report and symbptt.gradients make while
    the test runs, in order: numeric/exact.py's exact_forward and the ArrayFactors of kind 'mp' that
    exact.py and grad_report make are wrapped to count them."""
    import mpmath

    from symbptt.numeric import exact, grad_report

    passes: list[int] = []
    made, forward = grad_report.ArrayFactors, exact.exact_forward

    def counted(model, kind="float", *args, **kwargs):
        if kind == "mp":
            passes.append(mpmath.mp.dps)
        return made(model, kind, *args, **kwargs)

    def counted_forward(model, dps):
        passes.append(dps)
        return forward(model, dps)

    for module in (exact, grad_report):
        monkeypatch.setattr(module, "ArrayFactors", counted)
        monkeypatch.setattr(module, "exact_forward", counted_forward)
    return passes


def saturated_gru_layer(rng: np.random.Generator, n: int, m: int = 1) -> dict[str, np.ndarray]:
    """One GRU layer drawn for tests of saturated gates (the inputs scaled up by the caller): W ~ N(0, 1/n),
    U ~ N(0, 1), biases ~ N(0, 0.01), h0 = 0."""
    layer = {k: rng.normal(size=(n, n)) / np.sqrt(n) for k in ("W_r", "W_z", "W_n")}
    layer |= {k: rng.normal(size=(n, m)) for k in ("U_r", "U_z", "U_n")}
    return layer | {k: rng.normal(size=n) * 0.1 for k in ("b_r", "b_z", "b_n", "b_hn")} | {"h0": np.zeros(n)}


@functools.cache
def benchmark_script(name: str) -> ModuleType:
    """A script of benchmarks/ (not a package), loaded from its file once: ``name`` without .py."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    sys.modules[name] = script  # where a dataclass of the script looks its module up
    spec.loader.exec_module(script)
    return script


def compile_tex(tmp_path, name: str, text: str) -> str:
    """pdflatex of ``text`` in ``tmp_path``: it must compile without errors, missing characters or undefined
    commands; returns the log (for its overfull boxes)."""
    pdflatex = require_program("pdflatex")
    (tmp_path / f"{name}.tex").write_text(text)
    proc = subprocess.run([pdflatex, "-halt-on-error", "-interaction=nonstopmode", f"{name}.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert proc.returncode == 0 and not errors, errors[:5] or proc.stdout[-2000:]
    assert (tmp_path / f"{name}.pdf").stat().st_size > 1000
    assert "Missing character" not in log, re.findall(r"Missing character.*", log)[:3]
    assert "Undefined control sequence" not in log
    return log

