"""Plain-text and Unicode rendering of a Derivation (LaTeX in latex.py uses the same factor cache).

Big forms are sums of products of chain-rule factors.  SymPy's printers join pictures pairwise, which is
quadratic in the number of factors, and print every factor anew.  Here a sum is printed term by term and
a product factor by factor; each factor is printed once per *shape* (``FactorCache``): w·(1 − h_7²) and
w·(1 − h_3²) share one printed template in which only the step is swapped.

text    one equation per logical line, NumPy-style: ``*`` scalar product, ``@`` matrix product, ``.T``
        transpose, matrices as [[…], […]]; a line longer than the width continues on indented lines
pretty  SymPy's Unicode pictures, ᵀ for the transpose, wrapped between terms and factors at the width

A term or factor wider than a whole line by itself (a cell file's coefficient) is cut inside, after it was
printed, before one of its operators (printing/breaks.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from typing import Any, Generic, TypeVar

import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.pretty.stringpict import prettyForm

from . import notation
from .caching import Bounded
from .layout import MATRIX, PRODUCT, Layout, Term, is_matrix, layout, matrix_entries
from .printing import TextPrinter, UnicodePrinter, text, unicode_tables
from .printing.breaks import cut_picture, cut_text
from .reading import in_reading_order
from .symbolic.derivation import Derivation, Equation
from .symbolic.shown import template_of
from .templates import swap
from .validate import MIN_WIDTH, flag, instance, integer

FORMATS = ("pretty", "text", "latex")
DEFAULT_WIDTH = 100
STEP_SYMBOL = re.compile(r"^(?P<base>[A-Za-z]+(?:\^[a-z]*(?:\(\d+\))?)?_)(?P<t>\d+)(?P<rest>(?:\[\d+(?:,\d+)?\])?)$")
R = TypeVar("R")


def _template(expr: sp.Basic) -> tuple[sp.Basic, dict[sp.Symbol, sp.Symbol]] | None:
    """Replace the step numbers of the step symbols by runs of one digit of the same width (7…7, 8…8,
    9…9), one digit per distinct step, given in the order of the step strings so that SymPy sorts the
    template's terms as it sorts the real ones.  None for a constant or more than three steps."""
    hint = template_of(expr)
    if hint is not None:
        return _template_from_hint(*hint)
    found = []
    for sym in expr.free_symbols:
        match = STEP_SYMBOL.match(sym.name) if isinstance(sym, sp.Symbol) else None
        if match:
            found.append((sym, match))
    placeholders = _placeholders(found)
    if placeholders is None:
        return None
    return expr.xreplace(placeholders), {v: k for k, v in placeholders.items()}


def _placeholders(found: list[tuple[sp.Symbol, re.Match]]) -> dict[sp.Symbol, sp.Symbol] | None:
    steps = sorted({m["t"] for _, m in found})
    if not steps or len(steps) > 3:
        return None
    digit = {t: str(10 - len(steps) + i) for i, t in enumerate(steps)}
    return {sym: _placeholder(sym.func, f"{m['base']}{digit[m['t']] * len(m['t'])}{m['rest']}") for sym, m in found}


@lru_cache(maxsize=4096)
def _placeholder(kind: Any, name: str) -> sp.Symbol:
    return kind(name)


_HINTED: Bounded[tuple, sp.Basic] = Bounded(4096)


def _template_from_hint(generic: sp.Basic, mapping: dict[sp.Basic, sp.Basic]
                        ) -> tuple[sp.Basic, dict[sp.Symbol, sp.Symbol]] | None:
    """The placeholder template of a factor its builder described as ``generic`` under ``mapping``
    (no walk over the factor itself): one swap per template and step width, then cached."""
    found = []
    for real in mapping.values():
        match = STEP_SYMBOL.match(real.name) if isinstance(real, sp.Symbol) else None
        if match:
            found.append((real, match))
    placeholders = _placeholders(found)
    if placeholders is None:
        return None
    key = (generic, tuple((g, placeholders.get(real, real)) for g, real in mapping.items()))
    template = _HINTED.get(key)
    if template is None:
        swapped = {g: placeholders.get(real, real) for g, real in mapping.items()}
        template = _HINTED.remember(key, swap(generic, swapped))
    return template, {v: k for k, v in placeholders.items()}


class FactorCache(Generic[R]):
    """Print factors through a template cache.  ``show`` prints an expression, ``swap`` replaces the
    printed placeholder symbol by the printed real one inside a printed result."""

    def __init__(self, show: Callable[[sp.Basic], R], swap: Callable[[R, str, str], R],
                 atom: Callable[[sp.Basic], str], symbol: Callable[[str], R] | None = None) -> None:
        self.show, self.swap, self._atom = show, swap, atom
        self.symbol = symbol  # a notation symbol drawn from its spelling alone (None: printed by show)
        self.atoms: Bounded[sp.Basic, str] = Bounded(32768)  # a form at T = 10⁴ spells some 24,000 symbols
        self.templates: dict[sp.Basic, R] = {}
        # each factor of a long form is printed a few times, equations apart: this holds a T = 10⁴ form's
        self.done: Bounded[sp.Basic, R] = Bounded(24576)
        self.terms: FactorCache[R] | None = None  # a format's own cache of whole terms that are not products

    def __call__(self, expr: sp.Basic) -> R:
        if self.symbol is not None and isinstance(expr, notation.Name):  # spelled from the atoms' cache
            return self.symbol(self.atom(expr))
        found = self.done.get(expr)
        if found is None:
            found = self.done.remember(expr, self._print(expr))
        return found

    def whole(self, expr: sp.Basic, show: Callable[[sp.Basic], R]) -> R:
        """A whole term that is not a product (1 − h_t², a sum over steps): through the format's template
        cache of such terms (``terms``) when it keeps one, else drawn by ``show``."""
        return self.terms(expr) if self.terms is not None else show(expr)

    def atom(self, symbol: sp.Basic) -> str:
        """The printed spelling of one symbol (cached: symbols recur in every factor)."""
        found = self.atoms.get(symbol)
        if found is None:
            found = self.atoms.remember(symbol, self._atom(symbol))
        return found

    def _print(self, expr: sp.Basic) -> R:
        found = _template(expr) if not isinstance(expr, (sp.Symbol, sp.MatrixSymbol)) else None
        if found is None:
            return self.show(expr)
        template, back = found
        if template not in self.templates:
            self.templates[template] = self.show(template)
        result = self.templates[template]
        # private-use characters as wide as the placeholder, so that a picture keeps its width
        marks = [(chr(0xE000 + i) * len(self.atom(placeholder)), placeholder, real)
                 for i, (placeholder, real) in enumerate(back.items())]
        for mark, placeholder, _ in marks:  # in two passes, so that a real step never meets a placeholder
            result = self.swap(result, self.atom(placeholder), mark)
        for mark, _, real in marks:
            result = self.swap(result, mark, self.atom(real))
        printed = "\n".join(result.lines) if isinstance(result, Picture) else str(result)
        if any(p.name in printed or self.atom(p) in printed for p in back):
            return self.show(expr)  # a printer spelled the placeholder another way: print this one in full
        return result


# ---------------------------------------------------------------- text


def swap_text(printed: str, old: str, new: str) -> str:
    """A printed placeholder replaced by the printed real symbol, in text or LaTeX (FactorCache's swap)."""
    return printed.replace(old, new)


_TEXT = TextPrinter({"numpy_operators": True})  # NumPy's operators for matrices: A@B, A.T


@lru_cache(maxsize=1)
def _text_entries() -> FactorCache[str]:
    """The template cache of matrix entries in text (one for the process; it bounds itself)."""
    return FactorCache(text_atom, swap_text, text)


def text_atom(expr: sp.Basic) -> str:
    """One expression as text: SymPy's str with the sum order kept, matrices as nested lists (entries
    printed through a template cache: the entries of step t and step t+1 differ only in t)."""
    if isinstance(expr, sp.MatrixBase):
        entry = _text_entries()
        rows = ", ".join("[" + ", ".join(entry(v) for v in row) + "]" for row in expr.tolist())
        return f"[{rows}]"
    return _TEXT.doprint(in_reading_order(expr))


def _text_factor(expr: sp.Basic) -> str:
    text = text_atom(expr)
    if isinstance(expr, (sp.MatAdd, sp.Add)) or (precedence(expr) < PRECEDENCE["Mul"] and
                                                  not isinstance(expr, sp.MatrixBase)):
        return f"({text})"
    return text


def text_cache() -> FactorCache[str]:
    return FactorCache(_text_factor, swap_text,
                       lambda e: e.name if isinstance(e, notation.Name) else text(e), symbol=str)


def split_product(expr: sp.Basic, cache: FactorCache, factors_of_product: Callable) -> list:
    """The printed factors of ``expr`` in order: a nested product (a named factor's own product such as
    w(1 − h²), or a transposed one) is split by ``factors_of_product`` once per cache, any other factor
    is printed through the cache."""
    if not isinstance(expr, (sp.Mul, sp.MatMul)):
        return [cache(expr)]
    out, done = [], cache.done
    args = expr.args
    if len(args) > 1 and args[0] is sp.S.NegativeOne:  # −1 joins the next factor: −h_(t-1)·…, never (−1)·h_(t-1)·…
        out.append(cache(sp.Mul._from_args(args[:2]) if isinstance(expr, sp.Mul) else sp.MatMul(*args[:2])))
        args = args[2:]
    for factor in args:
        if isinstance(factor, (sp.Mul, sp.MatMul, sp.Transpose)):
            key = ("factors", factor)
            parts = done.get(key)
            if parts is None:
                parts = done.remember(key, factors_of_product(factor, cache))
            out.extend(parts)
        else:
            out.append(done.get(factor) or cache(factor))
    return out


def text_factors(expr: sp.Basic, cache: FactorCache[str]) -> list[str]:
    """The text of a product's factors; a transposed factor or product ends in .T."""
    if isinstance(expr, sp.Transpose):
        inner = text_factors(expr.arg, cache)
        joined = _join(inner, is_matrix(expr.arg))
        return [f"({joined}).T" if len(inner) > 1 else f"{joined}.T"]
    return split_product(expr, cache, text_factors)


def _join(parts: list[str], matrix: bool) -> str:
    return ("@" if matrix else "*").join(parts)


def text_equation(eq: Equation, cache: FactorCache[str] | None = None, width: int | None = None) -> str:
    """lhs = rhs on one logical line (factors in the order the form built them); with ``width`` a long
    line continues on lines indented under the right-hand side."""
    cache = cache or text_cache()
    lay = layout(eq)

    def pieces() -> Iterator[tuple[str, list[str], str]]:
        for i, term in enumerate(lay.terms()):
            sign, body = term.sign, term.body
            sep = "@" if is_matrix(body) else "*"
            factors = (text_factors(body, cache) if term.kind == PRODUCT
                       else [_text_factor(body) if lay.several or sign else text_atom(body)])
            if i == 0 and sign:  # the first term's minus sits on its first factor
                sign, factors = "", ["-" + factors[0], *factors[1:]]
            yield sign, factors, sep

    head = f"{text_atom(lay.lhs)} = "
    if width is None:
        return head + " ".join((s + " " if s else "") + sep.join(fs) for s, fs, sep in pieces())
    return "\n".join(_wrap_text(head, pieces(), width))


def _wrap_text(head: str, pieces: Iterator, width: int) -> Iterator[str]:
    """Greedy wrapping that breaks between terms when a term fits on a fresh line, else between
    factors; continuation lines are indented."""
    indent = " " * min(len(head), width // 2)
    line = head
    for i, (sign, factors, sep) in enumerate(pieces):
        term = (f"{sign} " if sign else "") + sep.join(factors)
        gap = " " if i else ""
        if len(line) + len(gap) + len(term) <= width or line.strip() == "" or line == head:
            if len(line) + len(gap) + len(term) <= width:
                line += gap + term
                continue
        if line.strip() and line != head and len(indent) + len(term) <= width:
            yield line.rstrip()
            line = indent + term
            continue
        for j, factor in enumerate(factors):
            token = (f"{sign} " if sign and j == 0 else "") + (sep if j else "") + factor
            g = gap if j == 0 else ""
            if len(line) + len(g) + len(token) > width and line.strip() and line != head:
                yield line.rstrip()
                line, g = indent, ""
            if len(line) + len(g) + len(token) > width:  # wider than a line by itself: cut inside it
                first, *more = cut_text(token, width - len(line) - len(g), width - len(indent))
                line += g + first
                for piece in more:
                    yield line.rstrip()
                    line = indent + piece
                continue
            line += g + token
    yield line.rstrip()


# ---------------------------------------------------------------- pretty (SymPy's Unicode pictures)


class Picture:
    """Lines of equal width with a baseline row, joined side by side without SymPy's quadratic cost.
    A picture remembers its copies padded to a given height, so joining many is a few str.join calls."""

    __slots__ = ("lines", "baseline", "width", "_padded", "_dotted")

    def __init__(self, lines: list[str], baseline: int, width: int | None = None) -> None:
        if width is None:
            width = max((len(line) for line in lines), default=0)
            lines = [line.ljust(width) for line in lines]
        self.lines, self.baseline, self.width = lines, baseline, width
        self._padded: dict[tuple[int, int], list[str]] = {}
        self._dotted: Picture | None = None

    @classmethod
    def of(cls, form: prettyForm) -> Picture:
        return cls(form.picture[:] if form.picture else [""], form.baseline)

    @classmethod
    def text(cls, s: str) -> Picture:
        return cls([s], 0, len(s))

    def to_form(self) -> prettyForm:
        return prettyForm("\n".join(self.lines), self.baseline)

    def padded(self, above: int, below: int) -> list[str]:
        """The lines with blank rows added so that ``above`` rows stand over the baseline and ``below``
        under it."""
        key = (above, below)
        found = self._padded.get(key)
        if found is None:
            blank = " " * self.width
            top = above - self.baseline
            bottom = below - (len(self.lines) - self.baseline - 1)
            found = self._padded[key] = [blank] * top + self.lines + [blank] * bottom
        return found


DOT = Picture.text("⋅")


def dotted(p: Picture) -> Picture:
    """⋅p, kept with p (a factor recurs in many products)."""
    if p._dotted is None:
        p._dotted = hjoin([DOT, p])
    return p._dotted


def hjoin(pictures: list[Picture]) -> Picture:
    """Place pictures side by side, baselines aligned."""
    if len(pictures) == 1:
        return pictures[0]
    above = below = width = 0
    for p in pictures:
        if p.baseline > above:
            above = p.baseline
        rest = len(p.lines) - p.baseline - 1
        if rest > below:
            below = rest
        width += p.width
    if above == below == 0:
        return Picture(["".join(p.lines[0] for p in pictures)], 0, width)
    columns = [p.padded(above, below) for p in pictures]
    return Picture(["".join(parts) for parts in zip(*columns, strict=True)], above, width)


def _pretty_swap(pic: Picture, old: str, new: str) -> Picture:
    if len(old) == len(new):
        return Picture([line.replace(old, new) for line in pic.lines], pic.baseline, pic.width)
    return Picture([line.replace(old, new) for line in pic.lines], pic.baseline)


def _unicode_atom(printer: UnicodePrinter, symbol: sp.Basic) -> str:
    """One symbol in Unicode (a symbol of the notation spells itself, without the printer)."""
    return symbol.parts.unicode() if isinstance(symbol, notation.Name) else "".join(printer._print(symbol).picture)


@lru_cache(maxsize=1)
def _printer() -> UnicodePrinter:
    """SymPy's Unicode printer, made once."""
    return UnicodePrinter({"use_unicode": True})


def pretty_atom(expr: sp.Basic, printer: UnicodePrinter | None = None) -> Picture:
    printer = printer or _printer()
    if isinstance(expr, sp.MatAdd):
        return Picture.text(printer._print(expr).picture[0])
    return Picture.of(printer._print(in_reading_order(expr)))


def pretty_matrix(expr: sp.MatrixBase, entry: Callable[[sp.Basic], Picture]) -> Picture:
    """A matrix drawn from its entries' pictures (each through the factor cache), with SymPy's brackets."""
    rows = [[entry(expr[i, j]) for j in range(expr.cols)] for i in range(expr.rows)]
    widths = [max(rows[i][j].width for i in range(expr.rows)) for j in range(expr.cols)]
    lines: list[str] = []
    for i, row in enumerate(rows):
        above = max(p.baseline for p in row)
        below = max(len(p.lines) - p.baseline - 1 for p in row)
        cells = []
        for j, p in enumerate(row):
            left = (widths[j] - p.width) // 2
            cells.append([" " * left + line + " " * (widths[j] - p.width - left) for line in p.padded(above, below)])
        lines.extend("  ".join(parts) for parts in zip(*cells, strict=True))
        if i + 1 < expr.rows:
            lines.append("  ".join(" " * w for w in widths))
    height = len(lines)
    if height == 1:
        opening, closing = ["["], ["]"]
    else:
        opening = ["⎡"] + ["⎢"] * (height - 2) + ["⎣"]
        closing = ["⎤"] + ["⎥"] * (height - 2) + ["⎦"]
    drawn = [a + line + b for a, line, b in zip(opening, lines, closing, strict=True)]
    return Picture(drawn, height // 2)


def pretty_cache() -> FactorCache[Picture]:
    printer = _printer()
    entries: FactorCache[Picture] = FactorCache(partial(pretty_atom, printer=printer), _pretty_swap,
                                                partial(_unicode_atom, printer))  # each in reading order

    def show(expr: sp.Basic) -> Picture:
        if isinstance(expr, sp.MatrixBase):
            return pretty_matrix(expr, entries)
        if isinstance(expr, sp.MatAdd):
            return Picture.text(f"({printer._print(expr).picture[0]})")
        form = printer._print(in_reading_order(expr))  # as text_atom and pretty_atom print
        if precedence(expr) < PRECEDENCE["Mul"] and not is_matrix(expr):
            form = prettyForm(*form.parens())
        return Picture.of(form)

    cache = FactorCache(show, _pretty_swap, partial(_unicode_atom, printer), symbol=Picture.text)
    # whole terms that are not products (1 − h_t², a sum over steps), unparenthesised: the term of step t
    # and of step t + 1 differ only in t
    cache.terms = FactorCache(partial(pretty_atom, printer=printer), _pretty_swap, partial(_unicode_atom, printer))
    return cache


def _pretty_factors(expr: sp.Basic, cache: FactorCache[Picture]) -> list[Picture]:
    """The pictures of a product's factors (a transposed product becomes one parenthesised block)."""
    if isinstance(expr, sp.Transpose):
        inner = _pretty_factors(expr.arg, cache)
        block = hjoin(_interleave(inner))
        return [_transpose(block, len(inner) > 1)]
    return split_product(expr, cache, _pretty_factors)


def _transpose(inner: Picture, parens: bool) -> Picture:
    """(inner)ᵀ: the ᵀ raised beside the top of the block."""
    pic = Picture.of(prettyForm(*inner.to_form().parens())) if parens else inner
    lines = list(pic.lines)
    lines[0] = lines[0] + "ᵀ"
    return Picture(lines, pic.baseline)


def _interleave(pictures: list[Picture]) -> list[Picture]:
    out: list[Picture] = []
    for i, p in enumerate(pictures):
        if i:
            out.append(DOT)
        out.append(p)
    return out


def _wrap(head: Picture, pictures: list[Picture], indent: int, width: int) -> list[str]:
    """Lay factors out after ``head``, starting a new row (indented) when a row would pass ``width``."""
    rows, current, used = [], [head], head.width
    continuation = Picture.text(" " * indent + "⋅")
    for i, p in enumerate(pictures):
        placed = dotted(p) if i else p
        if used + placed.width > width and len(current) > 1:
            rows.append(hjoin(current))
            current, used, placed = [continuation], continuation.width, p
        if used + placed.width > width:  # wider than a row by itself: cut inside it (printing.breaks)
            for k, (lines, baseline) in enumerate(cut_picture(placed.lines, placed.baseline, width - used,
                                                               width - indent)):
                if k:
                    rows.append(hjoin(current))
                    current, used = [Picture.text(" " * indent)], indent
                current.append(Picture(lines, baseline))
                used += current[-1].width
            continue
        current.append(placed)
        used += placed.width
    rows.append(hjoin(current))
    return [line.rstrip() for row in rows for line in row.lines]


@lru_cache(maxsize=256)
def _head(text: str) -> Picture:
    """The picture of an equation's head (" = ", "  + "), made once per spelling."""
    return Picture.text(text)


def pretty_equation(eq: Equation, width: int = DEFAULT_WIDTH, cache: FactorCache[Picture] | None = None) -> str:
    """lhs = t1 / + t2 / + t3: one block per term of a sum, long products wrapped between factors; a column
    or a named matrix wider than the line, one equation per entry (layout.matrix_entries).  Drawn with
    SymPy's Unicode tables whatever sys.stdout's encoding (printing.unicode_tables)."""
    cache = cache or pretty_cache()
    with unicode_tables():
        entries = matrix_entries(eq)
        # the column drawn through the cache, which the matrix's own row below then reads instead of drawing it
        if entries is not None and Picture.of(_printer()._print(eq.lhs)).width + 3 + cache(eq.rhs).width > width:
            return "\n".join(_pretty_equation(one, width, cache) for one in entries)
        return _pretty_equation(eq, width, cache)


def _pretty_equation(eq: Equation, width: int, cache: FactorCache[Picture]) -> str:
    printer = _printer()
    lay = layout(eq)
    lhs = Picture.of(printer._print(lay.lhs))
    indent = min(lhs.width, width // 3)
    pad = " " * indent
    if lay.pair:  # h_T − y, J⋅δ + F⋅δ: one line when it fits
        short = hjoin(_pair(lay, cache, printer))
        if lhs.width + 3 + short.width <= width:
            return "\n".join(line.rstrip() for line in hjoin([lhs, _head(" = "), short]).lines)
    blocks = []
    for i, term in enumerate(lay.terms()):
        head = hjoin([lhs, _head(" = " + term.sign)]) if i == 0 else _head(pad + f" {term.sign} ")
        if term.kind == PRODUCT:
            blocks.extend(_wrap(head, _pretty_factors(term.body, cache), indent + 3, width))
        else:
            blocks.extend(_wrap(head, [_not_product(term, cache, printer)], indent + 3, width))
    return "\n".join(blocks)


def _pair(lay: Layout, cache: FactorCache[Picture], printer: UnicodePrinter) -> list[Picture]:
    """The pictures of a pair of terms side by side, signs between them."""
    pieces = []
    for i, term in enumerate(lay.terms()):
        if i or term.sign:
            pieces.append(_head(f" {term.sign} " if i else term.sign))
        if term.kind == PRODUCT:
            pieces.extend(_interleave(_pretty_factors(term.body, cache)))
        else:
            pieces.append(_not_product(term, cache, printer))
    return pieces


def _not_product(term: Term, cache: FactorCache[Picture], printer: UnicodePrinter) -> Picture:
    """A term that is not a product: a matrix through the factor cache, anything else drawn whole
    (through the cache's template cache of whole terms)."""
    if term.kind == MATRIX:
        return cache(term.body)
    return cache.whole(term.body, partial(pretty_atom, printer=printer))


def render_lines(derivation: Derivation, pretty: bool = False, width: int = DEFAULT_WIDTH) -> Iterator[str]:
    """The title, then each equation (text: one logical line each; pretty: pictures), then the
    definitions of the named factors and the notes, one printed block at a time (so very long forms
    stream instead of accumulating)."""
    yield from _wrap_note(derivation.title, width)
    if pretty:
        pictures = pretty_cache()
        show: Callable[[Equation], str] = lambda eq: pretty_equation(eq, width, pictures)  # noqa: E731
    else:
        texts = text_cache()
        show = lambda eq: text_equation(eq, texts, width)  # noqa: E731
    for eq in derivation.stream():
        yield show(eq)
    if derivation.definitions:
        yield "# where"
        for eq in derivation.definitions:
            yield show(eq)
    for note in derivation.notes:
        yield from _wrap_note(note, width)


def _wrap_note(note: str, width: int) -> Iterator[str]:
    words, line = note.split(" "), "#"
    for word in words:
        if len(line) + 1 + len(word) > width and line != "#":
            yield line
            line = "#  "
        line += " " + word
    yield line


def render_text(derivation: Derivation, pretty: bool = False, width: int = DEFAULT_WIDTH) -> str:
    """A derivation as `symbptt derive` prints it.

    Args:
        derivation: what ``derive`` built.
        pretty: Unicode pictures (∑, ∏ drawn over lines) instead of one line of text per equation.
        width: the columns to fit (at least MIN_WIDTH = 40); a text line longer than that wraps.

    Returns:
        The title, the equations, the named factors' definitions and the notes, each line ended by a
        newline.

    Raises:
        SymbpttError: an argument of the wrong type, or a width below 40.
    """
    instance("render_text", derivation, Derivation, "a Derivation", "render_text(derive(RNN(T=3)))")
    pretty = bool(flag("pretty", pretty))
    width = integer("width", width, MIN_WIDTH)
    return "\n".join(render_lines(derivation, pretty, width)) + "\n"
