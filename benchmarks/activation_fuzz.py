"""Valid activations a user could write, drawn at random from the grammar a custom activation takes
(symbptt/safeexpr.py: a, numbers, pi, E, + − * / and powers, and the functions abs, atan, cos, cosh, erf,
exp, log, max, min, sigmoid, sin, sinh, sqrt, tanh), each sent through the paths float64 does not hold:
`grad --digits 15` (an exact forward pass and an exact rest) and symbptt.gradients(..., digits=12).

The other fuzzers give each option a value it cannot take; this one gives values it must take, where
the exact passes read them.  A drawn tree is written twice: as the text the tool reads, and as a Python
function of mpmath numbers that evaluates the same tree (a decimal such as 0.1 read as the tool reads it,
exactly) with its slope by the chain rule, from which a BPTT of one unit is computed here, sharing
nothing with the engine, at 80 digits and then twice as many until two agree to 10^−30 (a chaotic unit
amplifies rounding by 10^138 in one draw).  A call is wrong
where it prints a traceback or more than one line of error, exits with anything but 0, 1 or 2, or
exits 0 with a number the claim of its precision line does not hold: `grad --digits 15` rounds every
entry of an exact report from its exact value (1e-13 relative here), digits=12 keeps 12 significant
digits of each gradient as measured (1e-10 relative here).  A unit whose state leaves 10^±100, or whose
pre-activation sits at a kink, is passed over.  First run (2026-12-06, seed 1, 30 activations), on the
code before its fix: 4 wrong, each a tree holding a number inside a function (a + log(2), exp(−1)·…),
which stopped `grad` with a traceback from Arb's pass; after it, none in 150 more (seed 2).  Seed 3 (100):
sin(a)/(1 + abs(sin(a))), whose σ' SymPy could not simplify (the step of |sin(a)| switches without end),
stopped every command with a traceback; after its fix, none: 89 compared on both paths, 2 refused in one
line, 9 passed over.  Seed 21 (80): min(a, log(1 + exp(a))), which is a, had σ' = 0 where float64 or 30
digits see its branches tie (a ≳ 37), so a unit driven there passed back nothing; after its fix (each tie of
a max or min takes one branch's slope), none: 71 compared, 9 passed over.

    python benchmarks/activation_fuzz.py --seed 1 --count 60
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mpmath
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symbptt  # noqa: E402
from symbptt import SymbpttError  # noqa: E402
from symbptt.limits import time_limit  # noqa: E402

REFERENCE_DIGITS = 80
REFERENCE_SECONDS = 60  # a reference longer than this is passed over (mpmath's e^x of x ≈ 10^40, inside a tree)
SEEN: Counter[str] = Counter()  # what became of the activations checked: compared, passed over, refused


@dataclass(frozen=True)
class Tree:
    """One drawn activation: the text the tool reads, and the same function of one mpmath number with its
    slope by the chain rule, rule by rule below (exact at any size: e^(−a⁴) is 10^−1810 at a ≈ 8)."""

    text: str
    value: Callable[[mpmath.mpf], mpmath.mpf]
    slope: Callable[[mpmath.mpf], mpmath.mpf]


def _sign(v: mpmath.mpf) -> int:  # abs' from the left at 0, as the tool takes it (a kink is passed over anyway)
    return 1 if v > 0 else -1


# each function f of the grammar, as (text of f(u), f, f'), u the inner tree
UNARY: dict[str, tuple[str, Callable, Callable]] = {
    "tanh": ("tanh({})", mpmath.tanh, lambda v: mpmath.sech(v) ** 2),
    "sigmoid": ("sigmoid({})", lambda v: 1 / (1 + mpmath.exp(-v)), lambda v: mpmath.sech(v / 2) ** 2 / 4),
    "sin": ("sin({})", mpmath.sin, mpmath.cos),
    "cos": ("cos({})", mpmath.cos, lambda v: -mpmath.sin(v)),
    "atan": ("atan({})", mpmath.atan, lambda v: 1 / (1 + v * v)),
    "erf": ("erf({})", mpmath.erf, lambda v: 2 * mpmath.exp(-v * v) / mpmath.sqrt(mpmath.pi)),
    "abs": ("abs({})", abs, _sign),
    "softplus": ("log(1 + exp({}))", lambda v: mpmath.log(1 + mpmath.exp(v)), lambda v: 1 / (1 + mpmath.exp(-v))),
    "bump": ("sqrt(1 + ({})**2)", lambda v: mpmath.sqrt(1 + v * v), lambda v: v / mpmath.sqrt(1 + v * v)),
    "gauss": ("exp(-({})**2)", lambda v: mpmath.exp(-v * v), lambda v: -2 * v * mpmath.exp(-v * v)),
    "sinh": ("sinh(({})/4)", lambda v: mpmath.sinh(v / 4), lambda v: mpmath.cosh(v / 4) / 4),
    "cosh": ("cosh(({})/4)", lambda v: mpmath.cosh(v / 4), lambda v: mpmath.sinh(v / 4) / 4),
}


def _unary(name: str, inner: Tree) -> Tree:
    text, f, df = UNARY[name]
    return Tree(text.format(inner.text), lambda a: f(inner.value(a)), lambda a: df(inner.value(a)) * inner.slope(a))


def _number(text: str, value: Callable[[], mpmath.mpf]) -> Tree:
    return Tree(text, lambda a: value(), lambda a: mpmath.mpf(0))


def _constant(rng: np.random.Generator) -> Tree:
    kind = int(rng.integers(6))
    if kind == 0:
        return _number("pi", lambda: +mpmath.pi)
    if kind == 1:
        return _number("E", lambda: +mpmath.e)
    if kind == 2:
        k = int(rng.integers(1, 4))
        return _number(f"exp(-{k})", lambda: mpmath.exp(-k))
    if kind == 3:
        k = int(rng.integers(2, 4))
        return _number(f"sqrt({k})", lambda: mpmath.sqrt(k))
    if kind == 4:
        k = int(rng.integers(2, 4))
        return _number(f"log({k})", lambda: mpmath.log(k))
    text = str(rng.choice(["0.5", "0.25", "1.5", "2.0", "0.1"]))
    return _number(text, lambda: mpmath.mpf(text))  # the decimal the tool reads exactly (1/10, not float 0.1)


A = Tree("a", lambda a: a, lambda a: mpmath.mpf(1))


def draw(rng: np.random.Generator, depth: int = 3) -> Tree:
    """A random activation of a: bounded-looking trees (functions that saturate or grow slowly, a constant
    as a scale or a shift), so that a recurrent unit driven by them stays within float64's range."""
    if depth == 0 or rng.random() < 0.25:
        return A
    pick = rng.random()
    u = draw(rng, depth - 1)
    if pick < 0.45:
        return _unary(str(rng.choice(list(UNARY))), u)
    c = _constant(rng)
    if pick < 0.6:
        return Tree(f"{c.text}*{_wrapped(u)}", lambda a: c.value(a) * u.value(a), lambda a: c.value(a) * u.slope(a))
    if pick < 0.7:
        return Tree(f"{_wrapped(u)}/(1 + abs({u.text}))", lambda a: u.value(a) / (1 + abs(u.value(a))),
                    lambda a: u.slope(a) / (1 + abs(u.value(a))) ** 2)
    if pick < 0.8:
        return Tree(f"{_wrapped(u)} + {c.text}", lambda a: u.value(a) + c.value(a), u.slope)
    v = draw(rng, depth - 1)
    if pick < 0.9:
        return Tree(f"{_wrapped(u)}*{_wrapped(v)}", lambda a: u.value(a) * v.value(a),
                    lambda a: u.slope(a) * v.value(a) + u.value(a) * v.slope(a))
    which = str(rng.choice(["max", "min"]))
    pick_first = (lambda p, q: p >= q) if which == "max" else (lambda p, q: p <= q)
    return Tree(f"{which}({u.text}, {v.text})",
                lambda a: u.value(a) if pick_first(u.value(a), v.value(a)) else v.value(a),
                lambda a: u.slope(a) if pick_first(u.value(a), v.value(a)) else v.slope(a))


def _wrapped(tree: Tree) -> str:
    return tree.text if tree.text == "a" else f"({tree.text})"


def settled(tree: Tree, w: float, u: float, b: float, h0: float, x: list[float]) -> dict[str, mpmath.mpf] | None:
    """``reference`` at REFERENCE_DIGITS, then at twice the digits, and so on until two in a row agree to
    10^−30 in every number (a chaotic unit amplifies rounding: the tool took 180 digits for one); None
    where the state leaves 10^±100 or nothing settles by 1280 digits."""
    digits, before = REFERENCE_DIGITS, None
    while digits <= 16 * REFERENCE_DIGITS:
        now = reference(tree, w, u, b, h0, x, digits)
        if now is None:
            return None
        if before is not None and all(abs(now[k] - before[k]) <= mpmath.mpf(10) ** -30 * abs(now[k]) for k in now):
            return now
        digits, before = 2 * digits, now
    return None


def reference(tree: Tree, w: float, u: float, b: float, h0: float, x: list[float],
              digits: int = REFERENCE_DIGITS) -> dict[str, mpmath.mpf] | None:
    """Loss ½h_T² and ∂L/∂(W, U, b, h0) of one unit driven by ``tree``, by BPTT written out in mpmath (σ'
    the tree's own slope), at ``digits``; None where the state leaves 10^±100 (a unit that explodes is
    not what this script looks at) or a value inside the tree is beyond what mpmath can hold (exp of an
    exp of 10^99: mpmath raises OverflowError, seed 28)."""
    try:
        return _reference(tree, w, u, b, h0, x, digits)
    except OverflowError:
        return None


def _reference(tree: Tree, w: float, u: float, b: float, h0: float, x: list[float],
               digits: int) -> dict[str, mpmath.mpf] | None:
    with mpmath.workdps(digits):
        hs, pre = [mpmath.mpf(h0)], []
        for v in x:
            pre.append(w * hs[-1] + u * mpmath.mpf(v) + b)
            if abs(pre[-1]) > 1e100:
                return None
            hs.append(tree.value(pre[-1]))
        out = {"loss": hs[-1] ** 2 / 2, "W": mpmath.mpf(0), "U": mpmath.mpf(0), "b": mpmath.mpf(0)}
        delta = hs[-1]
        for t in range(len(x) - 1, -1, -1):
            da = delta * tree.slope(pre[t])
            out["W"] += da * hs[t]
            out["U"] += da * x[t]
            out["b"] += da
            delta = da * w
        out["h0"] = delta
    return out


def _off(got: object, want: mpmath.mpf) -> float:
    """The relative error of a report's entry (a float, or {sign, log10} beyond float64's range)."""
    if want == 0:
        return 0.0 if got in (0, 0.0) else math.inf
    if isinstance(got, dict):
        if got["sign"] != int(mpmath.sign(want)):
            return math.inf
        return abs(got["log10"] - float(mpmath.log10(abs(want)))) * math.log(10)
    if not isinstance(got, (int, float)):
        return math.inf
    return float(abs(mpmath.mpf(got) - want) / abs(want))


def at_kink(tree: Tree, pre: list[mpmath.mpf]) -> bool:
    """Whether a pre-activation sits within 10^-30 of a point where the tree's slope jumps (abs, max, min):
    the tool takes the left slope there, mpmath's numerical derivative an average."""
    with mpmath.workdps(REFERENCE_DIGITS):
        for a in pre:
            step = mpmath.mpf(10) ** -30
            left = (tree.value(a) - tree.value(a - step)) / step
            right = (tree.value(a + step) - tree.value(a)) / step
            if abs(left - right) > mpmath.mpf(10) ** -10 * (1 + abs(left)):
                return True
    return False


def in_a_process(args: list[str]) -> tuple[int, str, str]:
    """`symbptt ARGS` in a new process, as a user runs it: (exit code, stdout, stderr)."""
    ran = subprocess.run([sys.executable, "-m", "symbptt", *args], capture_output=True, text=True, timeout=600)
    return ran.returncode, ran.stdout, ran.stderr


def check(tree: Tree, rng: np.random.Generator, folder: Path,
          run: Callable[[list[str]], tuple[int, str, str]] = in_a_process, steps: int | None = None) -> str | None:
    """None where both paths answer as they must for one unit driven by ``tree``, else what went wrong;
    ``run`` runs the command line; ``steps``: T (default 20 or 80, drawn)."""
    w, u, b, h0 = float(rng.choice([0.8, 2.0, 3.5])), 1.0, float(rng.choice([0.0, 0.1])), 0.3
    x = [float(v) for v in rng.uniform(-1, 1, steps or int(rng.choice([20, 80])))]
    want = None
    with time_limit(REFERENCE_SECONDS) as ok:
        want = settled(tree, w, u, b, h0, x)
    want = want if ok() else None
    if want is None:
        SEEN["passed over (the state leaves 10^±100, or the reference does not settle in time)"] += 1
        return None
    with mpmath.workdps(REFERENCE_DIGITS):
        hs, pre = [mpmath.mpf(h0)], []
        for v in x:
            pre.append(w * hs[-1] + u * mpmath.mpf(v) + b)
            hs.append(tree.value(pre[-1]))
    if at_kink(tree, pre):
        SEEN["passed over (a kink)"] += 1
        return None
    params = folder / "p.json"
    params.write_text(json.dumps({"activation": tree.text, "W": w, "U": u, "b": b, "h0": h0, "x": x, "y": 0}))
    code, stdout, stderr = run(["grad", "--params", str(params), "--digits", "15"])
    if "Traceback" in stderr or code not in (0, 1, 2) or (code and stderr.strip().count("\n")):
        return f"grad exit {code}: {stderr.strip()[-300:]}"
    if code == 0:
        report = json.loads(stdout)
        exact = not report["precision"].startswith("float64")
        limit = 1e-13 if exact else 1e-10
        errors = {name: _off(report["grad"][name], want[name]) for name in ("W", "U", "b", "h0")}
        errors["loss"] = _off(report["loss"], want["loss"])
        worst = max(errors, key=lambda k: errors[k])
        if errors[worst] > limit:
            return f"grad: {worst} off by {errors[worst]:.2e} ({report['precision'][:60]})"
        SEEN["grad compared" + (", exact" if exact else ", float64")] += 1
    else:
        SEEN[f"grad refused in one line (exit {code})"] += 1
    params_api = {"W": np.array([[w]]), "U": np.array([[u]]), "b": np.array([b]), "h0": np.array([h0])}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = symbptt.gradients(params_api, np.array(x).reshape(-1, 1, 1), np.zeros((1, 1)),
                                    activation=tree.text, digits=12)
    except SymbpttError as error:
        SEEN["gradients refused in one line"] += 1
        return None if "\n" not in str(error) else f"gradients: a message of several lines: {error}"
    except Exception as error:  # noqa: BLE001  (what the fuzzer looks for)
        return f"gradients raised {type(error).__name__}: {error}"
    for name in ("W", "U", "b", "h0"):
        value = got.exact[name] if got.exact is not None and name in got.exact else got.grads[name]
        entry = mpmath.mpf(np.ravel(np.asarray(value, dtype=object))[0])  # a float64, or an exact mpf
        off = float(abs(entry - want[name]) / abs(want[name])) if want[name] != 0 else 0.0
        if off > 1e-10:
            return f"gradients(digits=12): {name} off by {off:.2e}"
    SEEN["gradients compared"] += 1
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=60)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    wrong = 0
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.count):
            tree = draw(rng)
            found = check(tree, rng, Path(folder))
            if found is not None:
                wrong += 1
                print(f"{tree.text!r}: {found}")
    print(f"{args.count} activations, {wrong} wrong; " + ", ".join(f"{k}: {v}" for k, v in sorted(SEEN.items())))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
