"""Reading printed LaTeX the way a reader outside the project reads it.

The structure of every formula — precedence, the scope of a ∑ or ∏, what multiplies what and in which
order — is decided by SymPy's own LaTeX parser (``sympy.parsing.latex.parse_latex``, run in ANTLR's
faster SLL mode first: see ``sympy_latex``), not by the project's printer.  This module only does what
any reader of the notation does before parsing: it recognises the symbols (a base letter with an
optional superscript tag or layer ``^{(2)}`` and a subscript: step, unit, gate), replaces each by a
placeholder the parser reads as one symbol, and undoes two quirks of the parser: a symbol written next
to a parenthesis (``w\\,(1 - h^2)``) is read as a call, which here is a product, and
``\\operatorname{…}``, ``\\left| … \\right|`` and ``cases`` are not known to it.  It imports nothing
from the engine.

Evaluation walks the parse tree with the factors in the order the parser kept them (the parser builds
unevaluated products, so ``A B`` stays A then B: a matrix product between matrices).  Symbols get
their values from a caller's ``resolve`` function, from the equations read so far (a definition at a
generic step t, J^{(2)}_t = …, gives J^{(2)}_3 with t = 3), and sums and products over an index run
over its range.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp

GREEK = ("delta", "sigma", "gamma", "lambda", "nu", "theta", "alpha", "beta", "eta", "mu", "phi", "psi", "xi")


class ReadError(ValueError):
    """The printed LaTeX could not be read."""


@dataclass(frozen=True)
class Name:
    """A symbol as written: base (h, W, \\delta → delta), superscript tag (f, hc; empty if none), layer
    (the number in a superscript ``(ℓ)``; None if none) and the subscript's comma-separated parts."""

    base: str
    tag: str
    layer: int | None
    sub: tuple[str, ...]

    def key(self) -> tuple[str, str, int | None]:
        return self.base, self.tag, self.layer


@dataclass(frozen=True)
class Equation:
    """One row of an ``align*`` block: ``lhs`` is a Name (a definition), ("grad", Name) for ∂L/∂θ, or
    None for a left-hand side that is not evaluated (a partial derivative of a state)."""

    lhs: Name | tuple[str, Name] | None
    rhs: str


# ---------------------------------------------------------------- rows of an align* block


def equations(latex: str) -> list[Equation]:
    """Every equation of the ``align*`` environments in ``latex`` (continued rows joined)."""
    rows: list[str] = []
    for block in re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", latex, re.S):
        rows.extend(r.strip() for r in re.split(r"\\\\\s*\n", block.strip()) if r.strip())
    pairs: list[list[str]] = []
    for row in rows:
        row = re.sub(r"^\\(?:text|phantom)\{(?:\\text\{)?where \}\}?\s*", "", row)
        if row.startswith("&"):  # a continued line: "&\quad + term" or "&\qquad \cdot factor"
            if not pairs:
                raise ReadError(f"a continued row before any equation: {row[:60]!r}")
            pairs[-1][1] += " " + re.sub(r"^&\\q?quad\s*", "", row)
        else:
            if "&=" not in row:
                raise ReadError(f"no '&=' in the row {row[:60]!r}")
            lhs, rhs = row.split("&=", 1)
            pairs.append([lhs.strip(), rhs.strip()])
    return [Equation(_lhs(lhs), rhs) for lhs, rhs in pairs]


GRAD = re.compile(r"^\\frac\{\\partial L\}\{\\partial (.+)\}$")


def _lhs(text: str) -> Name | tuple[str, Name] | None:
    m = GRAD.match(text)
    if m:
        return ("grad", _only_name(m.group(1)))
    if text.startswith(r"\frac") or text.startswith(r"\left."):
        return None
    return _only_name(text)


def _only_name(text: str) -> Name:
    found = list(_scan(text))
    if len(found) != 1 or found[0][0] != 0 or found[0][1] != len(text):
        raise ReadError(f"not a single symbol: {text!r}")
    return found[0][2]


# ---------------------------------------------------------------- symbols


SYMBOL = re.compile(
    r"(?P<base>\\(?:" + "|".join(GREEK) + r")(?![A-Za-z])|[A-Za-z])"
    r"(?:\^\{(?P<sup>(?:\\(?:" + "|".join(GREEK) + r")|[a-z]*)(?:\((?:\d+|\\ell)\))?)\})?"
    r"(?:_\{(?P<sub>[^{}]*)\}|_(?P<sub1>[A-Za-z0-9]))?"
    r"(?:\^\{\((?P<layer2>\d+)\)\})?"
)
COMMAND = re.compile(r"\\[A-Za-z]+")
BIG_OPERATOR = re.compile(r"\\(?:sum|prod)_\{[^{}]*\}\^\{[^{}]*\}")
SKIP_ARG = ("text", "mathrm", "operatorname", "mathbf", "mathit")


def _scan(text: str) -> Iterator[tuple[int, int, Name]]:
    """(start, end, Name) of every symbol in ``text``, skipping commands, their text arguments and the
    limits of big operators."""
    i = 0
    while i < len(text):
        if text.startswith((r"\sum_", r"\prod_"), i):
            m = BIG_OPERATOR.match(text, i)
            if not m:
                raise ReadError(f"a big operator whose limits verify cannot read at '{text[i:i + 30]}': both "
                                "limits are needed, each without braces inside (\\sum_{k=1}^{T})")
            i = m.end()
            continue
        m = SYMBOL.match(text, i)
        if m and m.group("sup") and not re.fullmatch(r"\((?:\d+|\\ell)\)", m.group("sup")) \
                and m.group("sub") is None and m.group("sub1") is None:
            # a letter superscript with no subscript after it is a power (w^{t}), not a tag (a^{f}_{t})
            m = SYMBOL.match(text[: m.start("sup") - 2], i)
        starts_word = i == 0 or not text[i - 1].isalpha()  # the h of \tanh is no symbol
        if m and (m.group("base").startswith("\\") or starts_word):
            base = m.group("base").lstrip("\\")
            sup = m.group("sup") or ""
            lm = re.search(r"\((\d+|\\ell)\)$", sup)
            layer = int(lm.group(1)) if lm and lm.group(1).isdigit() else None
            tag = (sup[: lm.start()] if lm else sup).lstrip("\\")  # D^{\nu}: the tag is nu
            if m.group("layer2"):
                layer = int(m.group("layer2"))
            sub = m.group("sub") if m.group("sub") is not None else m.group("sub1")
            parts = tuple(p.strip() for p in sub.split(",")) if sub else ()
            yield i, m.end(), Name(base, tag, layer, parts)
            i = m.end()
            continue
        c = COMMAND.match(text, i)
        if c:
            i = c.end()
            if c.group()[1:] in SKIP_ARG and text.startswith("{", i):
                i = text.index("}", i) + 1
            continue
        i += 1


MAX_RANGE = 10_000  # the most values one index of a sum or product takes (T is at most 12 where formulas are read)


class _Placeholders:
    """Symbols and special constructs swapped for names the parser reads as one symbol and that no printed
    formula uses: ζ_{0}, ζ_{1}, … for symbols, χ_{0}(…) for functions the parser does not know, ω_{0} for
    a ``cases`` block.  Keys are the names the parser gives them."""

    def __init__(self) -> None:
        self.names: dict[str, Name] = {}
        self.functions: dict[str, str] = {}
        self.cases: dict[str, list[tuple[str, str]]] = {}

    def symbol(self, name: Name) -> str:
        key = f"zeta_{{{len(self.names)}}}"
        self.names[key] = name
        return "\\" + key

    def function(self, fname: str) -> str:
        key = f"chi_{{{len(self.functions)}}}"
        self.functions[key] = fname
        return "\\" + key

    def case(self, branches: list[tuple[str, str]]) -> str:
        key = f"omega_{{{len(self.cases)}}}"
        self.cases[key] = branches
        return "\\" + key


def _prepare(text: str, ph: _Placeholders) -> str:
    """The LaTeX with spacing and bracket sizes normalised, ``cases`` and unknown functions replaced, and
    every symbol replaced by a placeholder."""
    text = re.sub(r"\\[,;!:]|\\quad|\\qquad|\\:", " ", text)
    text = re.sub(r"\\(?:bigg|Bigg|big|Big)l\s*", r"\\left", text)
    text = re.sub(r"\\(?:bigg|Bigg|big|Big)r\s*", r"\\right", text)
    text = re.sub(r"\\(?:bigg|Bigg|big|Big)\s*([()\[\]])", r"\1", text)

    def cases(m: re.Match) -> str:
        branches = []
        for row in re.split(r"\\\\", m.group(1)):
            if row.strip():
                value, cond = row.split("&", 1)
                cond = re.sub(r"\\text\{for\}", "", cond).strip()
                branches.append((value.strip(), cond))
        return ph.case(branches)

    text = re.sub(r"\\begin\{cases\}(.*?)\\end\{cases\}", cases, text, flags=re.S)
    text = _operators(text, ph)
    text = re.sub(r"\\left\|", lambda m: ph.function("Abs") + r"\left(", text)
    text = text.replace(r"\right|", r"\right)")
    out, last = [], 0
    for start, end, name in _scan(text):
        if (name.base == "e" and not name.sub) or (
                name.base in ("H",) and not name.sub and text[end:end + 6] == r"\left("):
            continue
        out.append(text[last:start])
        out.append(ph.symbol(name) + " ")
        last = end
    out.append(text[last:])
    return "".join(out)


# functions people also set upright with \mathrm or \text: read as \operatorname would be
UPRIGHT = ("diag", "sech", "sigmoid", "tanh", "cosh", "sinh", "exp", "log", "erf", "sign", "atan")


def _operators(text: str, ph: _Placeholders) -> str:
    """``\\operatorname{diag}{\\left(x\\right)}`` → ``F_{0}\\left(x\\right)``: a function the parser reads as a
    call (the braces around the argument dropped); ``\\mathrm{diag}`` and ``\\text{diag}`` alike (UPRIGHT)."""
    while True:
        m = re.search(r"\\operatorname\{([A-Za-z]+)\}|\\(?:mathrm|text|textrm)\{(" + "|".join(UPRIGHT) + r")\}", text)
        if not m:
            return text
        head, rest = ph.function(m.group(1) or m.group(2)), text[m.end():].lstrip()
        if rest.startswith("{"):
            depth = 0
            for i, ch in enumerate(rest):
                depth += ch == "{"
                depth -= ch == "}"
                if depth == 0:
                    rest = rest[1:i] + rest[i + 1:]
                    break
        text = text[:m.start()] + head + rest


Parsed = list[tuple[int, list[tuple[sp.Basic, _Placeholders]]]]  # signed terms, each a list of factors


def _depths(text: str) -> list[int]:
    """The bracket depth before each character of ``text`` (braces, brackets, parentheses and
    \\left … \\right pairs with their delimiters)."""
    depths, depth, i = [0] * len(text), 0, 0
    while i < len(text):
        if text.startswith(r"\begin{cases}", i) or text.startswith(r"\end{cases}", i):  # a bracket pair too
            opening = text.startswith(r"\begin", i)
            depth += 1 if opening else 0
            width = len(r"\begin{cases}") if opening else len(r"\end{cases}")
            for j in range(i, i + width):
                depths[j] = depth
            depth -= 0 if opening else 1
            i += width
            continue
        if text.startswith(r"\left", i) or text.startswith(r"\right", i):
            opening = text.startswith(r"\left", i)
            depth += 1 if opening else -1
            width = (5 if opening else 6) + 1  # the command and its delimiter
            for j in range(i, min(i + width, len(text))):
                depths[j] = depth
            i += width
            continue
        if text[i] in "})]":
            depth -= 1
        depths[i] = depth
        if text[i] in "{([":
            depth += 1
        i += 1
    return depths


def terms(text: str) -> list[tuple[int, str]]:
    """``text`` split at its top-level + and − (outside every brace and bracket pair) into signed
    terms: the lowest precedence, where a big operator's scope ends too."""
    out, start, sign = [], 0, 1
    for i, depth in enumerate(_depths(text)):
        if depth == 0 and text[i] in "+-" and text[:i].strip() and text[i - 1] == " " and \
                not text[:i].rstrip().endswith(("+", "-", "=", r"\cdot", "(")):
            out.append((sign, text[start:i].strip()))
            sign, start = (1 if text[i] == "+" else -1), i + 1
    out.append((sign, text[start:].strip()))
    return out


def factors(term: str) -> list[str]:
    """A term split at its top-level ``\\cdot`` into factors, in order; a term with a top-level ∑ or ∏
    stays whole (a big operator reaches to the end of its term)."""
    depths = _depths(term)
    top = [i for i, d in enumerate(depths) if d == 0]
    if any(term.startswith((r"\sum", r"\prod"), i) for i in top):
        return [term]
    cuts = [i for i in top if term.startswith(r"\cdot", i) and not term[i + 5:i + 6].isalpha()]
    pieces = [term[a:b] for a, b in zip([0] + [c + 5 for c in cuts], [*cuts, len(term)], strict=True)]
    return [p.strip() for p in pieces]


@lru_cache(maxsize=4096)
def _parse_prepared(prepared: str) -> sp.Basic:
    from sympy.parsing.latex.errors import LaTeXParsingError

    from .sympy_latex import parse_latex

    try:
        return parse_latex(prepared)
    except (LaTeXParsingError, TypeError, ValueError) as error:
        raise ReadError(str(error).splitlines()[0]) from None


@lru_cache(maxsize=4096)
def parse(text: str) -> Parsed:
    """The parse trees of the factors of each term of one right-hand side (SymPy's parser; factors that
    differ only in their symbols share one parse), each with the placeholders it refers to.  Made once
    per text (the same printed forms recur across trials of the same shape) and only read afterwards."""
    out: Parsed = []
    for sign, term in terms(text):
        parts = []
        for factor in factors(term):
            ph = _Placeholders()
            prepared = _prepare(factor, ph)
            try:
                parts.append((_parse_prepared(prepared), ph))
            except ReadError as error:  # in the writer's text, not the placeholders the parser was given
                raise ReadError(f"SymPy's LaTeX parser cannot read '{factor.strip()[:80]}': {error}") from None
        out.append((sign, parts))
    return out


# ---------------------------------------------------------------- evaluation


def index_value(text: str, bound: dict[str, int]) -> int | None:
    """The integer an index expression denotes (``k-1`` with k = 3 → 2, ``-5`` → −5); None if it is not an
    index."""
    tokens = re.findall(r"\d+|[A-Za-z]|[+-]", text.replace(" ", ""))
    if "".join(tokens) != text.replace(" ", "") or not tokens:
        return None
    total, sign, expect_term = 0, 1, True
    for position, tok in enumerate(tokens):
        if tok in "+-" and (not expect_term or position == 0):  # between terms, or one sign in front
            sign, expect_term = (1 if tok == "+" else -1), True
            continue
        if not expect_term:
            return None
        if tok.isdigit():
            total += sign * int(tok)
        elif tok in bound:
            total += sign * bound[tok]
        else:
            return None
        expect_term = False
    return None if expect_term else total  # a sign with nothing after it (``k-``) is no index


@dataclass
class Reader:
    """Evaluates the equations of one printed derivation.

    ``resolve(name, sub)`` gives the value of a model symbol (state, gate, parameter entry, input, target)
    with its subscript parts already turned into integers where they are indices; it returns None for a
    symbol it does not know.  ``T`` is the length the general-T formulas are instantiated at."""

    resolve: Callable[[Name, tuple[Any, ...]], Any]
    T: int
    ctx: Any = mpmath.mp

    def __post_init__(self) -> None:
        self.defined: dict[tuple[str, str, int | None], list[tuple[tuple[str, ...], Parsed]]] = {}
        self.memo: dict[tuple, Any] = {}
        self.gradients: dict[Name, Any] = {}

    def read(self, latex: str) -> dict[Name, Any]:
        """Evaluate every gradient of the printed output; definitions are kept for later symbols."""
        eqs = equations(latex)
        for eq in eqs:
            if isinstance(eq.lhs, Name):
                self.defined.setdefault(eq.lhs.key(), []).append((eq.lhs.sub, parse(eq.rhs)))
        for eq in eqs:
            if isinstance(eq.lhs, tuple):
                self.gradients[eq.lhs[1]] = self.total(parse(eq.rhs), {"T": self.T})
        return self.gradients

    # -- symbols

    def symbol(self, name: Name, bound: dict[str, int]) -> Any:
        if not name.sub and not name.tag and name.layer is None and name.base in {**bound, "T": self.T}:
            return {**bound, "T": self.T}[name.base]  # a bare index letter (w^{t-k}): its bound value
        sub = tuple(index_value(p, bound) if index_value(p, bound) is not None else p for p in name.sub)
        key = (name.key(), sub)
        if key in self.memo:
            return self.memo[key]
        value = self._defined(name, sub, bound)
        if value is None:
            value = self.resolve(name, sub)
        if value is None:
            raise ReadError(f"no value for the symbol {name} (subscript {sub})")
        self.memo[key] = value
        return value

    def _defined(self, name: Name, sub: tuple[Any, ...], bound: dict[str, int]) -> Any:
        """The value from an equation that defines the symbol: one written for this very step first, then
        one at a generic step (t, t-1, T) that gives it."""
        found = self.defined.get(name.key(), [])
        concrete = [d for d in found if all(index_value(p, {"T": self.T}) is not None or not re.search(
            "[A-Za-z]", p) for p in d[0])]
        for lhs_sub, parsed in concrete + [d for d in found if d not in concrete]:
            if len(lhs_sub) != len(sub):
                continue
            binding = self._match(lhs_sub, sub)
            if binding is not None:
                return self.total(parsed, {"T": self.T, **binding})
        return None

    def _match(self, pattern: tuple[str, ...], sub: tuple[Any, ...]) -> dict[str, int] | None:
        """Bindings of the free index letters of a definition's subscript that give ``sub``."""
        binding: dict[str, int] = {}
        for pat, want in zip(pattern, sub, strict=True):
            if not isinstance(want, int):
                if pat != want:
                    return None
                continue
            direct = index_value(pat, {"T": self.T})
            if direct is not None:
                if direct != want:
                    return None
                continue
            letters = set(re.findall(r"[A-Za-z]", pat)) - {"T"} - set(binding)
            if len(letters) != 1:
                value = index_value(pat, {"T": self.T, **binding})
                if value != want:
                    return None
                continue
            letter = letters.pop()
            for guess in range(-2, self.T + 3):
                if index_value(pat, {"T": self.T, **binding, letter: guess}) == want:
                    binding[letter] = guess
                    break
            else:
                return None
        return binding

    # -- the tree

    def total(self, parsed: Parsed, bound: dict[str, int]) -> Any:
        """The value of a right-hand side: its terms with their signs."""
        out = None
        for sign, parts in parsed:
            v = self.value(*parts[0], bound)
            for tree, ph in parts[1:]:
                v = _times(v, self.value(tree, ph, bound))
            v = v if sign > 0 else _times(-1, v)
            out = v if out is None else out + v
        return out

    def value(self, tree: sp.Basic, ph: _Placeholders, bound: dict[str, int]) -> Any:
        ev = self.value
        if isinstance(tree, sp.Symbol):
            name = tree.name
            if name in ph.names:
                return self.symbol(ph.names[name], bound)
            if name in ph.cases:
                return self._cases(ph.cases[name], bound)
            if tree.name in bound:
                return bound[tree.name]
            if tree.name == "e":
                return self.ctx.e
            if tree.name == "pi":
                return self.ctx.pi
            if name in ph.functions:  # \operatorname{sech}^2(x): the parser took the name for a symbol
                f = ph.functions[name]
                raise ReadError(f"the function {f} with a power before its argument ({f}^2(x)) is not read as "
                                f"a function; write ({f}(x))^2")
            raise ReadError(f"an unknown symbol {tree.name!r} in a printed formula")
        if tree is sp.pi:
            return self.ctx.pi
        if tree is sp.E:
            return self.ctx.e
        if isinstance(tree, sp.Integer):
            return int(tree)
        if isinstance(tree, sp.Rational):
            return self.ctx.mpf(tree.p) / tree.q
        if isinstance(tree, sp.Float):
            return self.ctx.mpf(str(tree))
        if isinstance(tree, sp.Add):
            total = ev(tree.args[0], ph, bound)
            for arg in tree.args[1:]:
                total = total + ev(arg, ph, bound)
            return total
        if isinstance(tree, sp.Mul):
            out = ev(tree.args[0], ph, bound)
            for arg in tree.args[1:]:
                out = _times(out, ev(arg, ph, bound))
            return out
        if isinstance(tree, sp.Pow) and isinstance(tree.args[0], sp.Function) \
                and type(tree.args[0]).__name__ in ph.names:
            # w (sech a)^2 is w·(sech a)², as people read it: the parser made w a function applied to the
            # bracket and squared the call, (w·sech a)²
            call, exp = tree.args
            out = self.symbol(ph.names[type(call).__name__], bound)
            for arg in call.args:
                out = _times(out, ev(sp.Pow(arg, exp, evaluate=False), ph, bound))
            return out
        if isinstance(tree, sp.Pow):
            base, exp = tree.args
            if isinstance(exp, sp.Symbol) and exp.name == "top":
                return _transpose(ev(base, ph, bound))
            b, e = ev(base, ph, bound), ev(exp, ph, bound)
            if isinstance(b, np.ndarray) or isinstance(e, np.ndarray):  # a power of a vector: entrywise
                return np.vectorize(self.ctx.power, otypes=[object])(b, e)
            return self.ctx.power(b, e)
        if isinstance(tree, (sp.Sum, sp.Product)):  # SymPy folds Σ_k Σ_j f into one Sum, limits inner first
            return self._big(isinstance(tree, sp.Sum), tree.args[0], tree.args[1:], ph, bound)
        if isinstance(tree, sp.Function):
            return self._call(tree, ph, bound)
        if isinstance(tree, sp.Derivative):
            raise ReadError("a derivative inside a printed right-hand side")
        if isinstance(tree, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)):
            raise ReadError("a second '=' (or a comparison) in one row: write one equation per row")
        if isinstance(tree, sp.Integral):
            raise ReadError("an integral, which no BPTT gradient has")
        raise ReadError(f"cannot evaluate {type(tree).__name__} in a printed formula")

    def _big(self, is_sum: bool, body: sp.Basic, limits: tuple, ph: _Placeholders, bound: dict[str, int]) -> Any:
        """A sum or product over its limits (the last is the outermost; an inner limit may read an outer
        index, as in Σ_{k=1}^{T} Σ_{j=1}^{k}); an empty range gives 0 or 1; more than MAX_RANGE values of
        an index are refused before the first is evaluated."""
        if not limits:
            return self.value(body, ph, bound)
        index, lo, hi = limits[-1]
        first, last = int(self.value(lo, ph, bound)), int(self.value(hi, ph, bound))
        if last - first + 1 > MAX_RANGE:
            raise ReadError(f"a {'sum' if is_sum else 'product'} over {last - first + 1:,} values of {index}, "
                            f"more than the {MAX_RANGE:,} it evaluates one by one (its limits run over steps)")
        acc = None
        for i in range(first, last + 1):
            term = self._big(is_sum, body, limits[:-1], ph, {**bound, index.name: i})
            acc = term if acc is None else (acc + term if is_sum else _times(acc, term))
        if acc is None:
            return 0 if is_sum else 1
        return acc

    def _call(self, tree: sp.Basic, ph: _Placeholders, bound: dict[str, int]) -> Any:
        name = type(tree).__name__
        args = [self.value(a, ph, bound) for a in tree.args]
        if name in ph.names:  # juxtaposition read as a call: w(1 - h^2) is w·(1 - h^2)
            out = self.symbol(ph.names[name], bound)
            for a in args:
                out = _times(out, a)
            return out
        fname = ph.functions.get(name, name)
        ctx = self.ctx
        if fname == "diag":
            v = args[0]
            flat = list(v.reshape(-1)) if isinstance(v, np.ndarray) else [v]
            out = np.zeros((len(flat), len(flat)), dtype=object)
            out[:] = ctx.mpf(0)
            for i, x in enumerate(flat):
                out[i, i] = x
            return out
        scalar = {"tanh": ctx.tanh, "exp": ctx.exp, "sin": ctx.sin, "cos": ctx.cos, "sinh": ctx.sinh,
                  "cosh": ctx.cosh, "erf": ctx.erf, "atan": ctx.atan, "sqrt": ctx.sqrt, "sech": ctx.sech,
                  "Abs": abs, "sign": ctx.sign, "log": ctx.log,
                  "sigma": lambda a: 1 / (1 + ctx.exp(-a)), "sigmoid": lambda a: 1 / (1 + ctx.exp(-a)),
                  "H": lambda a: ctx.mpf(1) if a > 0 else ctx.mpf(0),
                  "theta": lambda a: ctx.mpf(1) if a > 0 else ctx.mpf(0)}
        if fname == "max":
            return max(args)
        if fname == "min":
            return min(args)
        if fname == "log" and len(args) == 2:
            return ctx.log(args[0]) / ctx.log(args[1])
        if fname in scalar and len(args) == 1:
            f = scalar[fname]
            a = args[0]
            return np.vectorize(f, otypes=[object])(a) if isinstance(a, np.ndarray) else f(a)
        raise ReadError(f"an unknown function {fname!r} in a printed formula")

    def _cases(self, branches: list[tuple[str, str]], bound: dict[str, int]) -> Any:
        """A ``cases`` block, entry by entry when its conditions are about vectors: the first branch
        whose condition holds."""
        values, conds = [], []
        for value, cond in branches:
            values.append(self._parsed(value, bound))
            if cond.strip() in (r"\text{otherwise}", "otherwise"):
                conds.append(True)
                continue
            m = re.match(r"(.*?)(\\geq|\\leq|>|<|=|\\neq)(.*)$", cond)
            if not m:
                raise ReadError(f"cannot read the condition {cond!r}")
            a, b = self._parsed(m.group(1), bound), self._parsed(m.group(3), bound)
            test = {r"\geq": lambda x, y: x >= y, r"\leq": lambda x, y: x <= y, ">": lambda x, y: x > y,
                    "<": lambda x, y: x < y, "=": lambda x, y: x == y, r"\neq": lambda x, y: x != y}[m.group(2)]
            conds.append(np.vectorize(test, otypes=[bool])(a, b) if isinstance(a, np.ndarray) else test(a, b))
        shape = next((np.shape(c) for c in conds if isinstance(c, np.ndarray)), None)
        if shape is None:
            return next(v for v, c in zip(values, conds, strict=True) if c)
        out = np.empty(shape, dtype=object)
        for idx in np.ndindex(shape):
            for v, c in zip(values, conds, strict=True):
                if c is True or (isinstance(c, np.ndarray) and c[idx]):
                    out[idx] = v[idx] if isinstance(v, np.ndarray) else v
                    break
        return out

    def _parsed(self, text: str, bound: dict[str, int]) -> Any:
        return self.total(parse(text), bound)


def _times(a: Any, b: Any) -> Any:
    for x in (a, b):  # a printed 0 (a zero vector written as 0) makes the product 0 whatever its shape
        if not isinstance(x, np.ndarray) and x == 0:
            return 0
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape[-1] == b.shape[0]:
            return a @ b
        if a.shape == (1, 1) or b.shape == (1, 1) or a.shape == b.shape and a.shape[1] == 1:
            return a * b  # a 1×1 factor, or two vectors side by side: the only product defined is entrywise
        raise ReadError(f"a product of a {a.shape} and a {b.shape} matrix")
    return a * b


def _transpose(a: Any) -> Any:
    return a.T if isinstance(a, np.ndarray) else a
