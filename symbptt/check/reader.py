"""Reading printed LaTeX the way a reader outside the project reads it.

The structure of every formula — precedence, the scope of a ∑ or ∏, what multiplies what and in which
order — is decided by SymPy's own LaTeX parser (``sympy.parsing.latex.parse_latex``, run in ANTLR's
faster SLL mode first: see ``sympy_latex``), not by the project's printer.  This module only does what
any reader of the notation does before parsing: it recognises the symbols (a base letter with an
optional superscript tag or layer ``^{(2)}`` and a subscript: step, unit, gate), replaces each by a
placeholder the parser reads as one symbol, and undoes two quirks of the parser: a symbol written next
to a parenthesis (``w\\,(1 - h^2)``) is read as a call, which here is a product, and
``\\operatorname{…}``, ``\\left| … \\right|`` and ``cases`` are not known to it.  It imports nothing
from the engine.  What is read is evaluated by check/evaluation.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

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
    r"(?P<base>\\(?:" + "|".join(GREEK) + r")(?![A-Za-z])|\\mathit\{[A-Za-z]+\}|[A-Za-z])"
    r"(?:\^\{(?P<sup>(?:\\(?:" + "|".join(GREEK) + r")|(?:[a-z][a-z0-9]*)?)(?:\((?:\d+|\\ell)\))?)\})?"
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
            base = m.group("base").removeprefix("\\mathit{").removesuffix("}").lstrip("\\")  # \mathit{leak}: one name
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


class Placeholders:
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


def _prepare(text: str, ph: Placeholders) -> str:
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
    # σ written before its argument is the logistic function (a cell file's sigmoid of a sum it does not name)
    text = re.sub(r"\\sigma\s*(?=\\left\(|\()", lambda m: ph.function("sigma"), text)
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


def _operators(text: str, ph: Placeholders) -> str:
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


Parsed = list[tuple[int, list[tuple[sp.Basic, Placeholders]]]]  # signed terms, each a list of factors


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
            ph = Placeholders()
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


__all__ = ["MAX_RANGE", "Equation", "Name", "Parsed", "Placeholders", "ReadError", "equations", "factors",
           "index_value", "parse", "terms"]
