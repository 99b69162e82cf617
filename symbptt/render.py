"""Plain-text and Unicode rendering of a Derivation (LaTeX in latex.py uses the same factor cache).

Big forms are sums of products of chain-rule factors.  SymPy's printers join pictures pairwise, which is
quadratic in the number of factors, and print every factor anew.  Here a sum is printed term by term and
a product factor by factor; each factor is printed once per *shape* (``FactorCache``): w·(1 − h_7²) and
w·(1 − h_3²) share one printed template in which only the step symbol is swapped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Generic, TypeVar

import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm

from .derive import Derivation, Equation, MatTermSum, TermSum

FORMATS = ("pretty", "text", "latex")
STEP_SYMBOL = re.compile(r"^(?P<base>(?:h|a|x|y|delta)(?:\^\(\d\))?_)(?P<t>\d+)(?P<rest>(?:_\d+)?)$")
R = TypeVar("R")


def summands(expr: sp.Basic) -> tuple[sp.Basic, ...]:
    """The terms of a top-level sum in the order they were built (one term for anything else)."""
    return expr.args if isinstance(expr, (TermSum, MatTermSum)) else (expr,)


def factors_of(expr: sp.Basic) -> tuple[sp.Basic, ...]:
    """The factors of a product in the order they were built (one factor for anything else)."""
    return expr.args if isinstance(expr, (sp.Mul, sp.MatMul)) else (expr,)


def _template(expr: sp.Basic) -> tuple[sp.Basic, dict[sp.Symbol, sp.Symbol]] | None:
    """Replace the step number of every step symbol (all of one step) by 8…8 of the same width."""
    steps, swap = set(), {}
    for sym in expr.free_symbols:
        match = STEP_SYMBOL.match(sym.name) if isinstance(sym, sp.Symbol) else None
        if match:
            steps.add(match["t"])
            placeholder = f"{match['base']}{'8' * len(match['t'])}{match['rest']}"
            swap[sym] = sp.Symbol(placeholder, **sym.assumptions0)
    if len(steps) != 1:
        return None
    return expr.xreplace(swap), {v: k for k, v in swap.items()}


class FactorCache(Generic[R]):
    """Print factors through a template cache.  ``show`` prints an expression, ``swap`` replaces the
    printed placeholder symbol by the printed real one inside a printed result."""

    def __init__(self, show: Callable[[sp.Basic], R], swap: Callable[[R, str, str], R],
                 atom: Callable[[sp.Basic], str]) -> None:
        self.show, self.swap, self.atom = show, swap, atom
        self.templates: dict[sp.Basic, R] = {}
        self.done: dict[sp.Basic, R] = {}

    def __call__(self, expr: sp.Basic) -> R:
        if expr not in self.done:
            self.done[expr] = self._print(expr)
        return self.done[expr]

    def _print(self, expr: sp.Basic) -> R:
        found = _template(expr) if not isinstance(expr, sp.Symbol) else None
        if found is None:
            return self.show(expr)
        template, back = found
        if template not in self.templates:
            self.templates[template] = self.show(template)
        result = self.templates[template]
        for placeholder, real in back.items():
            result = self.swap(result, self.atom(placeholder), self.atom(real))
        return result


# ---------------------------------------------------------------- text (one line per equation)


def _text_factor(expr: sp.Basic) -> str:
    text = sp.sstr(expr, order="none")
    return f"({text})" if precedence(expr) < PRECEDENCE["Mul"] else text


def _text_product(expr: sp.Basic, cache: FactorCache[str]) -> str:
    if isinstance(expr, sp.Transpose) and isinstance(expr.arg, sp.MatMul):
        return f"({_text_product(expr.arg, cache)}).T"
    if isinstance(expr, (sp.Mul, sp.MatMul)):
        return "*".join(_text_product(f, cache) if isinstance(f, sp.Transpose) else cache(f)
                        for f in factors_of(expr))
    return sp.sstr(expr, order="none")


def text_equation(eq: Equation, cache: FactorCache[str] | None = None) -> str:
    """One line: lhs = rhs, factors in the order the form built them."""
    cache = cache or text_cache()
    rhs = " + ".join(_text_product(term, cache) for term in summands(eq.rhs))
    return f"{sp.sstr(eq.lhs, order='none')} = {rhs}".replace("+ -", "- ")


def text_cache() -> FactorCache[str]:
    return FactorCache(_text_factor, lambda s, old, new: s.replace(old, new), lambda e: sp.sstr(e))


# ---------------------------------------------------------------- pretty (SymPy's Unicode pictures)


class Picture:
    """Lines of equal width with a baseline row, joined side by side without SymPy's quadratic cost."""

    def __init__(self, lines: list[str], baseline: int) -> None:
        width = max((len(line) for line in lines), default=0)
        self.lines, self.baseline = [line.ljust(width) for line in lines], baseline

    @property
    def width(self) -> int:
        return len(self.lines[0]) if self.lines else 0

    @classmethod
    def of(cls, form: prettyForm) -> Picture:
        return cls(form.picture[:] if form.picture else [""], form.baseline)

    @classmethod
    def text(cls, s: str) -> Picture:
        return cls([s], 0)

    def to_form(self) -> prettyForm:
        return prettyForm("\n".join(self.lines), self.baseline)


def hjoin(pictures: list[Picture]) -> Picture:
    """Place pictures side by side, baselines aligned."""
    above = max(p.baseline for p in pictures)
    below = max(len(p.lines) - p.baseline - 1 for p in pictures)
    rows = [[] for _ in range(above + below + 1)]
    for p in pictures:
        top = above - p.baseline
        blank = " " * p.width
        for r in range(len(rows)):
            i = r - top
            rows[r].append(p.lines[i] if 0 <= i < len(p.lines) else blank)
    return Picture(["".join(parts) for parts in rows], above)


def _pretty_swap(pic: Picture, old: str, new: str) -> Picture:
    return Picture([line.replace(old, new) for line in pic.lines], pic.baseline)


def pretty_cache() -> FactorCache[Picture]:
    printer = PrettyPrinter({"use_unicode": True, "order": "none"})

    def show(expr: sp.Basic) -> Picture:
        form = printer._print(expr)
        if precedence(expr) < PRECEDENCE["Mul"] and not isinstance(expr, sp.MatrixExpr):
            form = prettyForm(*form.parens())
        elif isinstance(expr, sp.MatAdd):
            form = prettyForm(*form.parens())
        return Picture.of(form)

    return FactorCache(show, _pretty_swap, lambda e: "".join(printer._print(e).picture))


def _pretty_product(expr: sp.Basic, cache: FactorCache[Picture]) -> list[Picture]:
    """The pictures of a product's factors (a transposed product becomes one parenthesised block)."""
    if isinstance(expr, sp.Transpose) and isinstance(expr.arg, sp.MatMul):
        return [_transpose(hjoin(_interleave(_pretty_product(expr.arg, cache))))]
    if isinstance(expr, (sp.Mul, sp.MatMul)):
        out: list[Picture] = []
        for f in factors_of(expr):
            out.extend(_pretty_product(f, cache) if isinstance(f, sp.Transpose) else [cache(f)])
        return out
    return [cache(expr)]


def _transpose(inner: Picture) -> Picture:
    """(inner)ᵀ with the T raised above the closing parenthesis, as SymPy draws it."""
    form = prettyForm(*inner.to_form().parens())
    pic = Picture.of(form)
    lines = [" " * pic.width + " "] + [line + " " for line in pic.lines]
    lines[0] = " " * pic.width + "T"
    return Picture(lines, pic.baseline + 1)


def _interleave(pictures: list[Picture]) -> list[Picture]:
    dot = Picture.text("⋅")
    out: list[Picture] = []
    for i, p in enumerate(pictures):
        if i:
            out.append(dot)
        out.append(p)
    return out


def _wrap(head: Picture, pictures: list[Picture], indent: int, width: int) -> list[str]:
    """Lay factors out after ``head``, starting a new row (indented) when a row would pass ``width``."""
    rows, current, used = [], [head], head.width
    for i, p in enumerate(pictures):
        sep = [] if i == 0 else [Picture.text("⋅")]
        extra = p.width + (1 if i else 0)
        if used + extra > width and len(current) > 1:
            rows.append(hjoin(current))
            current, used = [Picture.text(" " * indent + "⋅")], indent + 1
            sep = []
        current.extend(sep + [p])
        used += extra if sep else p.width
    rows.append(hjoin(current))
    return [line.rstrip() for row in rows for line in row.lines]


def pretty_equation(eq: Equation, width: int = 100, cache: FactorCache[Picture] | None = None) -> str:
    """lhs = t1 / + t2 / + t3: one block per term of a sum, long products wrapped between factors."""
    cache = cache or pretty_cache()
    printer = PrettyPrinter({"use_unicode": True, "order": "none"})
    lhs = Picture.of(printer._print(eq.lhs))
    pad = " " * lhs.width
    blocks = []
    for i, term in enumerate(summands(eq.rhs)):
        sign = " + "
        if isinstance(term, sp.Mul) and term.args and term.args[0] == -1 and i > 0:
            sign, term = " - ", -term
        head = hjoin([lhs, Picture.text(" = ")]) if i == 0 else Picture.text(pad + sign)
        if isinstance(term, (sp.Mul, sp.MatMul, sp.Transpose)):
            blocks.extend(_wrap(head, _pretty_product(term, cache), lhs.width + 3, width))
        else:
            blocks.extend(line.rstrip() for line in hjoin([head, Picture.of(printer._print(term))]).lines)
    return "\n".join(blocks)


def render_text(derivation: Derivation, pretty: bool = False) -> str:
    """The title, then each equation (text: one line each; pretty: SymPy pictures), then the notes."""
    lines = [f"# {derivation.title}"]
    cache = pretty_cache() if pretty else text_cache()
    for eq in derivation.equations:
        lines.append(pretty_equation(eq, cache=cache) if pretty else text_equation(eq, cache))
    lines.extend(f"# {note}" for note in derivation.notes)
    return "\n".join(lines) + "\n"
