"""LaTeX for notes: amsmath snippets of any form (standalone documents and diagrams: document.py).

Sums are set one term per line and long products are wrapped between factors (SymPy never breaks a
line).  Factors are printed one by one, in the order the form built them (J_T ⋯ J_{k+1}), never from a
merged SymPy product, so the time order survives.  Every symbol goes through the one notation of
notation.py (h_{t,i}, a^{f}_{t}, W^{(2)}_{f,12}, \\delta^{c}_{t}), the transpose is ^{\\top}, and the
definitions of named factors are typeset maths under the equations.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sympy as sp

from . import notation
from .escape import latex_text
from .layout import MATRIX, Layout, Term, factors_of, is_matrix, is_sum, layout, matrix_entries, summands
from .printing import braced_call, factor_joint, latex, side_by_side
from .reading import in_reading_order
from .render import FactorCache, split_product, swap_text
from .symbolic.derivation import Derivation, Equation, Note
from .validate import instance

FACTORS_PER_LINE = 8
CHARS_PER_LINE = 240  # LaTeX source characters of factors per printed line
TOP = r"^{\top}"


def tex(expr: sp.Basic) -> str:
    """SymPy's LaTeX of one expression, with the notation's symbols and sums kept in built order."""
    return latex(in_reading_order(expr), mat_symbol_style="plain")


@lru_cache(maxsize=1)
def _tex_entries() -> FactorCache[str]:
    """The template cache of matrix entries in LaTeX (one for the process; it bounds itself)."""
    return FactorCache(tex, swap_text, _atom)


def _tex_matrix(expr: sp.MatrixBase) -> str:
    """A matrix entry by entry (each through a template cache), set as SymPy sets it."""
    entry = _tex_entries()
    rows = [" & ".join(entry(v) for v in row) for row in expr.tolist()]
    return r"\left[\begin{matrix}" + r"\\".join(rows) + r"\end{matrix}\right]"


def _tex_factor(expr: sp.Basic) -> str:
    text = tex(expr)
    if isinstance(expr, (sp.Add, sp.MatAdd)):
        return rf"\left({text}\right)"
    return text


def latex_cache() -> FactorCache[str]:
    cache = FactorCache(_tex_factor, swap_text, _atom, symbol=str)
    # whole right-hand sides that are sums (D_t = 1 − h_t²), unparenthesised: the one of step t and of
    # step t + 1 differ only in t
    cache.terms = FactorCache(tex, swap_text, _atom)
    return cache


def _atom(symbol: sp.Basic) -> str:
    """One symbol's LaTeX (a symbol of the notation spells itself, without a printer)."""
    return symbol.parts.latex() if isinstance(symbol, notation.Name) else latex(symbol)


def _product_factors(expr: sp.Basic, cache: FactorCache[str]) -> list[str]:
    """LaTeX of each factor; a transposed product becomes one \\left(…\\right)^{\\top} factor."""
    if isinstance(expr, sp.Transpose):
        inner = _product_factors(expr.arg, cache)
        if len(inner) > 1:
            return [rf"\left({' '.join(inner)}\right){TOP}"]
        return [f"{{{inner[0]}}}{TOP}"]
    return split_product(expr, cache, _product_factors)


_CALL = re.compile(r"^(.*?)\{?\\left\(\s*XARGX\s*\\right\)\}?(.*)$")


def _call_parts(call: sp.Function, exp: sp.Basic) -> tuple[str, str] | None:
    """What a call (or its power) prints before and after its parenthesised argument:
    (``\\tanh^{2}``, ``""``), (``\\sigma``, ``^{2}``); None when it is not printed that way."""
    template = call.func(sp.Symbol("XARGX"))
    match = _CALL.match(tex(template if exp == 1 else sp.Pow(template, exp)))
    return (match.group(1), match.group(2)) if match else None


def _breakable(expr: sp.Basic, cache: FactorCache[str]) -> list[str]:
    """Pieces of a scalar factor too long for one line, split at its sums, products and calls: a sum
    or call spanning lines gets \\bigl( … \\bigr), which, unlike \\left…\\right, may be opened on one
    row of align* and closed on another."""
    text = cache(expr)
    if len(text) <= CHARS_PER_LINE or isinstance(expr, sp.MatrixBase) or is_matrix(expr):
        return [text]
    if isinstance(expr, sp.Add):
        pieces = [r"\bigl("]
        for i, arg in enumerate(summands(expr) if is_sum(expr) else expr.args):
            negative = arg.could_extract_minus_sign()
            inner = _breakable(-arg if negative else arg, cache)
            sign = "- " if negative else ("+ " if i else "")
            pieces += [sign + inner[0], *inner[1:]]
        return [*pieces, r"\bigr)"]
    if isinstance(expr, sp.Mul):
        factors = factors_of(expr)
        return [p for k, f in enumerate(factors) for p in _placed(_breakable(f, cache), k, len(factors))]
    if isinstance(expr, (sp.Product, sp.Sum)) and len(expr.limits) == 1:  # ∏ or Σ of a long body: the body broken
        head = _big_head(expr)
        body = _breakable(expr.function, cache) if head is not None else []
        if len(body) > 1:
            return [f"{head} {body[0]}", *body[1:]]
    call, exp = (expr.base, expr.exp) if isinstance(expr, sp.Pow) and expr.exp.is_Integer else (expr, 1)
    if isinstance(call, sp.Function) and len(call.args) == 1:
        parts = _call_parts(call, exp)
        if parts is not None:
            inner = _breakable(call.args[0], cache)
            if isinstance(call.args[0], sp.Add) and len(inner) > 1:  # a sum's own \bigl( … \bigr): the call's
                inner = inner[1:-1]  # (a product that opens with a sum keeps its pieces, all of them)
            return [parts[0] + r"\bigl(", *inner, r"\bigr)" + parts[1]]
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and isinstance(expr.base, (sp.Add, sp.Mul)):
        inner = _breakable(expr.base, cache)
        if not (isinstance(expr.base, sp.Add) and len(inner) > 1):  # a product in brackets of its own, even
            inner = [r"\bigl(", *inner, r"\bigr)"]  # one that opens with a bracketed sum: ((a + b) c)², not (a + b) c²
        return [*inner[:-1], inner[-1] + f"^{{{expr.exp}}}"]
    return [text]


def _big_head(expr: sp.Product | sp.Sum) -> str | None:
    """What a ∏ or Σ prints before its body, \\prod_{j=k + 1}^{T}; None when it is not printed that way."""
    printed = tex(type(expr)(sp.Symbol("XBODYX"), *expr.limits))
    head, found, rest = printed.partition("XBODYX")
    return head.strip() if found and not rest.strip() and head.startswith((r"\prod", r"\sum")) else None


def _placed(pieces: list[str], k: int, count: int) -> list[str]:
    """The pieces of factor ``k`` of ``count`` as a product writes them: after the first, a factor that opens
    with a minus in parentheses (w (−½ p …), never w −½ p …, which reads as a difference); before the last,
    as _followed says."""
    if k > 0 and pieces[0].startswith("-"):
        pieces = [rf"\left({pieces[0]}\right)", *pieces[1:]]
    return _followed(pieces, k < count - 1)


def _followed(pieces: list[str], followed: bool) -> list[str]:
    """A factor's pieces where another factor follows it: a function call in braces (printing.braced_call),
    or, broken over lines (where braces cannot reach), in parentheses — bare, SymPy's LaTeX parser reads the
    next factor as part of the call's argument."""
    if not followed:
        return pieces
    if pieces[0].startswith((r"\prod", r"\sum")):  # a ∏ or Σ ends where its brackets do, not at the next factor
        return [rf"\left({pieces[0]}\right)"] if len(pieces) == 1 else [r"\bigl(", *pieces, r"\bigr)"]
    if len(pieces) == 1:
        return [braced_call(pieces[0])]
    if pieces[0].startswith("\\") and pieces[0].endswith(r"\bigl(") and pieces[0] != r"\bigl(":
        return [r"\bigl(", *pieces, r"\bigr)"]
    return pieces


Piece = tuple[str, str, str]  # (text, joiner within a line, prefix when it starts a continued line)


def _pack(pieces: list[Piece], per_line: int) -> list[str]:
    """Greedy lines of at most ``per_line`` pieces and about CHARS_PER_LINE characters; the first line
    bare, every other one starting with its first piece's prefix; a closing \\bigr) stays on the line it
    closes (a row of its own reads as a forgotten term)."""
    lines, current, width = [], "", 0
    count = 0
    for text, joiner, prefix in pieces:
        if count and (count >= per_line or width + len(text) > CHARS_PER_LINE) and not text.startswith(r"\bigr)"):
            lines.append(current)
            current, width, count = prefix + text, len(text), 0
        else:
            current = current + joiner + text if count else (prefix + text if lines else text)
            width += len(text)
        count += 1
    lines.append(current)
    return lines


def _pack_factors(parts: list[str], per_line: int) -> list[str]:
    """_pack for the common case, factors of a product side by side; a continued line opens with the joint
    its first factor needs after the last factor of the line before (notation.factor_joint)."""
    parts = [braced_call(p) for p in parts[:-1]] + parts[-1:]  # a call a factor follows, also on the next line
    groups, start, width = [], 0, 0
    for i, text in enumerate(parts):
        if i > start and (i - start >= per_line or width + len(text) > CHARS_PER_LINE):
            groups.append((start, i))
            start, width = i, 0
        width += len(text)
    groups.append((start, len(parts)))
    lines = []
    for lo, hi in groups:
        joint = factor_joint(parts[lo - 1], parts[lo]).strip() if lo else ""
        lines.append((joint + " " if joint else "") + side_by_side(parts[lo:hi]))
    return lines


def term_lines(term: sp.Basic, cache: FactorCache[str], per_line: int = FACTORS_PER_LINE) -> list[str]:
    """A product as one or more lines of at most ``per_line`` factors, side by side (see side_by_side); a
    factor longer than a line is broken inside (see _breakable)."""
    if isinstance(term, sp.MatrixBase):
        return [_tex_matrix(term)]
    if not isinstance(term, (sp.Mul, sp.MatMul, sp.Transpose)):
        return _pack([(t, " ", "") for t in _breakable(term, cache)], per_line)
    parts = _product_factors(term, cache)
    parts = parts[:1] + [_placed([p], 1, 1)[0] for p in parts[1:]]  # w (−½ p …): a nested −½ p r … split
    if is_matrix(term) or max(map(len, parts)) <= CHARS_PER_LINE:
        return _pack_factors(parts, per_line)
    pieces: list[Piece] = []
    factors = factors_of(term)
    for k, factor in enumerate(factors):
        inner = _placed(_breakable(factor, cache), k, len(factors))
        joint = factor_joint(pieces[-1][0], inner[0]) if pieces else " "
        pieces.append((inner[0], joint, joint.strip() + " " if joint.strip() else ""))
        pieces += [(t, " ", "") for t in inner[1:]]
    return _pack(pieces, per_line)


ENTRY_CHARS = 180  # LaTeX source of a column's longest entry set as a matrix; longer, one row per entry


def _entry_by_entry(eq: Equation) -> list[Equation] | None:
    """A column or a named matrix (layout.matrix_entries) one equation per entry where it is too wide to keep
    to the page, its width the sum of its columns' widest entries (a layer of a GRU with n = 3: 21 pt past
    the margin; a + sin(a): 270 pt; the LSTM's J^hh_t at n = 2: 1161 pt).  None where the matrix stays."""
    entries = matrix_entries(eq)
    if entries is None:
        return None
    cols = eq.rhs.shape[1]
    lengths = [len(_tex_entries()(one.rhs)) for one in entries]  # row by row
    if sum(max(lengths[j::cols]) for j in range(cols)) <= ENTRY_CHARS:
        return None
    return entries


def equation_lines(eq: Equation, cache: FactorCache[str], lead: str = "") -> list[str]:
    """align* rows: lhs &= first term, then &\\quad + next term; a wrapped product goes on on &\\qquad rows;
    a column of long entries, one equation per entry (_entry_by_entry)."""
    entries = _entry_by_entry(eq)
    if entries is not None:
        rest, rows, entry = r"\phantom{\text{where }}" if lead else "", [], _tex_entries()
        for i, one in enumerate(entries):
            text, head = entry(one.rhs), lead if i == 0 else rest
            # as the matrix would hold it, where that fits a row; else broken as any long right-hand side
            rows += [f"{head}{tex(one.lhs)} &= {text}"] if len(text) <= CHARS_PER_LINE else \
                equation_lines(one, cache, head)
        return rows
    lay = layout(eq)
    head = f"{lead}{tex(lay.lhs)} &= "
    short = _pair(lay, cache) if lay.pair else None
    if short is not None:  # h_T − y, J_t δ_t + F_t δ_t: one row, as the Unicode form prints it
        return [head + short]
    if isinstance(lay.rhs, sp.Add) and not lay.several:
        whole = cache.whole(lay.rhs, tex)
        if len(whole) <= CHARS_PER_LINE:
            return [head + whole]  # δ_T = h_T − y, D_t = 1 − h_t²: no parentheses
    rows = []
    for i, term in enumerate(lay.terms()):
        for j, line in enumerate(_term_lines(term, cache)):
            if i == 0 and j == 0:
                rows.append(head + (f"- {line}" if term.sign else line))
            elif j == 0:
                rows.append(rf"&\quad {term.sign} {line}")
            else:
                rows.append(rf"&\qquad {line}")
    return rows


def _term_lines(term: Term, cache: FactorCache[str]) -> list[str]:
    return [_tex_matrix(term.body)] if term.kind == MATRIX else term_lines(term.body, cache)


SHORT_SUM_CHARS = 160  # LaTeX source characters of a two-term sum kept on one row


def _pair(lay: Layout, cache: FactorCache[str]) -> str | None:
    """A pair of terms on one row when each is one line and both fit (longer sums keep one term per
    row: one path per row); None otherwise."""
    out = []
    for i, term in enumerate(lay.terms()):
        lines = _term_lines(term, cache)
        if len(lines) != 1 or (i == 0 and (r"\sum" in lines[0] or r"\prod" in lines[0])):
            return None  # a big operator followed by "+ …" on its row could be read to reach over it
        out.append((f"- {lines[0]}" if term.sign else lines[0]) if i == 0 else f" {term.sign} {lines[0]}")
    text = "".join(out)
    return text if len(text) <= SHORT_SUM_CHARS else None


def align(derivation: Derivation) -> str:
    """One align* environment with every equation of ``derivation`` and the definitions of its named
    factors (\\text{where} …) below them."""
    cache = latex_cache()
    rows = [row for eq in derivation.stream() for row in equation_lines(eq, cache)]
    for i, eq in enumerate(derivation.definitions):
        rows.extend(equation_lines(eq, cache, r"\text{where } " if i == 0 else r"\phantom{\text{where }}"))
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"


def _escape(text: str) -> str:
    """Plain text for LaTeX (error messages in a document)."""
    return latex_text(text)


NOTE_CHARS = 145  # LaTeX source of a note that states an equation inline; longer, the equation is displayed


def notes_tex(derivation: Derivation) -> str:
    """The derivation's notes, words with the notation typeset.  A note that states an equation
    (Note.states) and is long inline has the equation displayed after its words, broken over rows as a
    definition is: inline it would run past the margin (a nested custom activation's σ'(a_j))."""
    out = []
    for note in derivation.notes:
        tex = note.tex if isinstance(note, Note) else _escape(str(note))
        states = note.states if isinstance(note, Note) else None
        if states is None or len(tex) <= NOTE_CHARS:
            out.append(f"\\noindent {tex}\\par\n")
            continue
        words, lhs, rhs = states
        lines = term_lines(rhs, latex_cache())
        rows = [f"{lhs} &= {lines[0]}", *(f"&\\qquad {line}" for line in lines[1:])]
        # aligned inside \[ \]: a display of the note's, which the readers of the forms' align* do not take
        out.append(f"\\noindent {words}\n\\[\n\\begin{{aligned}}\n" + " \\\\\n".join(rows)
                   + "\n\\end{aligned}\n\\]\n")
    return "".join(out)


def snippet(derivation: Derivation) -> str:
    """A comment with the title, then align*; what `symbptt latex` prints by default."""
    instance("snippet", derivation, Derivation, "a Derivation", "snippet(derive(RNN(T=3)))")
    return f"% {derivation.title}\n" + align(derivation) + notes_tex(derivation)
