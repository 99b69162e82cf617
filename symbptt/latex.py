"""LaTeX for notes: amsmath snippets of any form, standalone documents, and a TikZ unrolled network.

Sums are set one term per line and long products are wrapped between factors (SymPy never breaks a
line).  Factors are printed one by one, in the order the form built them (J_T ⋯ J_{k+1}), never from a
merged SymPy product, so the time order survives.  Every symbol goes through the one notation of
notation.py (h_{t,i}, a^{f}_{t}, W^{(2)}_{f,12}, \\delta^{c}_{t}), the transpose is ^{\\top}, and the
definitions of named factors are typeset maths under the equations.
"""

from __future__ import annotations

import re

import sympy as sp

from . import notation
from .errors import SymbpttError
from .escape import latex_text
from .forms import Derivation, Equation, derive
from .model import RNN
from .paths import default_wrt, targets
from .render import FactorCache, factors_of, is_matrix, is_sum, split_product, summands

FACTORS_PER_LINE = 8
CHARS_PER_LINE = 240  # LaTeX source characters of factors per printed line
DIAGRAM_MAX_STEPS = 8
TOP = r"^{\top}"


def tex(expr: sp.Basic) -> str:
    """SymPy's LaTeX of one expression, with the notation's symbols and sums kept in built order."""
    if isinstance(expr, sp.MatAdd):
        return _matadd(expr)
    return sp.latex(expr, mat_symbol_style="plain")


def _matadd(expr: sp.MatAdd) -> str:
    out = []
    for i, arg in enumerate(expr.args):
        negative = isinstance(arg, sp.MatMul) and arg.args and arg.args[0] == -1
        body = tex(arg.args[1] if negative else arg)
        out.append((" - " if negative else " + ") + body if i else ("-" if negative else "") + body)
    return "".join(out)


_ENTRIES: list[FactorCache[str]] = []


def _tex_matrix(expr: sp.MatrixBase) -> str:
    """A matrix entry by entry (each through a template cache), set as SymPy sets it."""
    if not _ENTRIES:
        _ENTRIES.append(FactorCache(tex, lambda s, old, new: s.replace(old, new), _atom))
    entry = _ENTRIES[0]
    if len(entry.done) > 8192:
        entry.done.clear()
    rows = [" & ".join(entry(v) for v in row) for row in expr.tolist()]
    return r"\left[\begin{matrix}" + r"\\".join(rows) + r"\end{matrix}\right]"


def _tex_factor(expr: sp.Basic) -> str:
    text = tex(expr)
    if isinstance(expr, (sp.Add, sp.MatAdd)):
        return rf"\left({text}\right)"
    return text


def latex_cache() -> FactorCache[str]:
    return FactorCache(_tex_factor, lambda s, old, new: s.replace(old, new), _atom)


def _atom(symbol: sp.Basic) -> str:
    """One symbol's LaTeX (a symbol of the notation spells itself, without a printer)."""
    return symbol.parts.latex() if isinstance(symbol, notation.Name) else sp.latex(symbol)


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
        return [p for f in factors_of(expr) for p in _breakable(f, cache)]
    call, exp = (expr.base, expr.exp) if isinstance(expr, sp.Pow) and expr.exp.is_Integer else (expr, 1)
    if isinstance(call, sp.Function) and len(call.args) == 1:
        parts = _call_parts(call, exp)
        if parts is not None:
            inner = _breakable(call.args[0], cache)
            if inner[0] == r"\bigl(":
                inner = inner[1:-1]
            return [parts[0] + r"\bigl(", *inner, r"\bigr)" + parts[1]]
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and isinstance(expr.base, (sp.Add, sp.Mul)):
        inner = _breakable(expr.base, cache)
        if inner[0] != r"\bigl(":
            inner = [r"\bigl(", *inner, r"\bigr)"]
        return [*inner[:-1], inner[-1] + f"^{{{expr.exp}}}"]
    return [text]


Piece = tuple[str, str, str]  # (text, joiner within a line, prefix when it starts a continued line)


def _pack(pieces: list[Piece], per_line: int) -> list[str]:
    """Greedy lines of at most ``per_line`` pieces and about CHARS_PER_LINE characters; the first line
    bare, every other one starting with its first piece's prefix."""
    lines, current, width = [], "", 0
    count = 0
    for text, joiner, prefix in pieces:
        if count and (count >= per_line or width + len(text) > CHARS_PER_LINE):
            lines.append(current)
            current, width, count = prefix + text, len(text), 0
        else:
            current = current + joiner + text if count else (prefix + text if lines else text)
            width += len(text)
        count += 1
    lines.append(current)
    return lines


def _pack_factors(parts: list[str], joiner: str, per_line: int) -> list[str]:
    """_pack for the common case, factors of a product (a continued line starts with \\cdot)."""
    lines, start, width = [], 0, 0
    for i, text in enumerate(parts):
        if i > start and (i - start >= per_line or width + len(text) > CHARS_PER_LINE):
            lines.append(joiner.join(parts[start:i]))
            start, width = i, 0
        width += len(text)
    lines.append(joiner.join(parts[start:]))
    return [lines[0], *(r"\cdot " + line for line in lines[1:])]


def term_lines(term: sp.Basic, cache: FactorCache[str], per_line: int = FACTORS_PER_LINE) -> list[str]:
    """A product as one or more lines of at most ``per_line`` factors: scalars joined with \\cdot,
    matrices side by side, a continued line starting with \\cdot; a factor longer than a line is broken
    inside (see _breakable)."""
    if isinstance(term, sp.MatrixBase):
        return [_tex_matrix(term)]
    if not isinstance(term, (sp.Mul, sp.MatMul, sp.Transpose)):
        return _pack([(t, " ", "") for t in _breakable(term, cache)], per_line)
    parts = _product_factors(term, cache)
    if is_matrix(term) or max(map(len, parts)) <= CHARS_PER_LINE:
        return _pack_factors(parts, " " if is_matrix(term) else r" \cdot ", per_line)
    pieces: list[Piece] = []
    for factor in factors_of(term):
        inner = _breakable(factor, cache)
        pieces.append((inner[0], r" \cdot ", r"\cdot "))
        pieces += [(t, " ", "") for t in inner[1:]]
    return _pack(pieces, per_line)


def equation_lines(eq: Equation, cache: FactorCache[str], lead: str = "") -> list[str]:
    """align* rows: lhs &= first term, then &\\quad + next term, wrapped products continue with \\cdot."""
    rows = []
    terms = summands(eq.rhs) if is_sum(eq.rhs) else (eq.rhs,)
    for i, term in enumerate(terms):
        sign = "+"
        if i and isinstance(term, sp.Mul) and term.args and term.args[0] == -1:
            sign, term = "-", -term
        for j, line in enumerate(term_lines(term, cache)):
            if i == 0 and j == 0:
                rows.append(f"{lead}{tex(eq.lhs)} &= {line}")
            elif j == 0:
                rows.append(rf"&\quad {sign} {line}")
            else:
                rows.append(rf"&\qquad {line}")
    return rows


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


def notes_tex(derivation: Derivation) -> str:
    """The derivation's notes, words with the notation typeset."""
    return "".join(f"\\noindent {getattr(n, 'tex', _escape(str(n)))}\\par\n" for n in derivation.notes)


def snippet(derivation: Derivation) -> str:
    """A comment with the title, then align*; what `symbptt latex` prints by default."""
    return f"% {derivation.title}\n" + align(derivation) + notes_tex(derivation)


# ---------------------------------------------------------------- standalone document

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{tikz}
\usetikzlibrary{arrows.meta,positioning}
\allowdisplaybreaks
\pdfinfoomitdate=1
\pdftrailerid{}
\pdfsuppressptexinfo=-1
"""


def _gamma_tex(rnn: RNN) -> str:
    act = rnn.act
    if act.gamma == float("inf"):
        return r"\infty"
    return sp.latex(sp.nsimplify(act.gamma)) if act.gamma_exact else f"{act.gamma:.6g}"


def _activation_tex(rnn: RNN) -> str:
    from .safeexpr import A

    act = rnn.act
    a = sp.Symbol("a")
    return (rf"\sigma(a) = {sp.latex(act.sigma_plain.subs(A, a))}, \qquad "
            rf"\sigma'(a) = {sp.latex(act.dsigma_plain.subs(A, a))}, \qquad "
            rf"\gamma = \sup_a |\sigma'(a)| = {_gamma_tex(rnn)}")


def _cell_tex(rnn: RNN) -> str:
    """The cell's one-step equations at a generic step t, in the symbols its formulas use."""
    from .cells import unit
    from .forms import generic_step_names
    from .primitives import plain

    s, rows = rnn.symbols, []
    at = generic_step_names(rnn)
    for lin in rnn.spec.linears:
        terms = []
        for matrix, src in lin.terms:
            weight = tex(s.param(matrix, 1)[0]) if rnn.scalar else notation.Parts(*_param_parts(matrix)).latex()
            vector = "x_{t}" if src == "x" else notation.Parts(src, step="t-1").latex()
            terms.append(f"{weight} {vector}")
        if lin.bias:
            terms.append(tex(s.param(lin.bias, 1)[0]))
        rows.append(f"{tex(at[unit(lin.name)])} &= {' + '.join(terms)}")
    for name, expr in rnn.spec.nodes:
        rows.append(f"{tex(at[unit(name)])} &= {tex(plain(expr).xreplace(at))}")
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"


def _param_parts(name: str) -> tuple[str, str]:
    base, _, tag = name.partition("_")
    return base, tag


def _model_section(rnn: RNN) -> str:
    loss = (r"L = \tfrac12 \lVert h_T - y \rVert^2" if rnn.loss == "last"
            else r"L = \sum_{t=1}^{T} \tfrac12 \lVert h_t - y_t \rVert^2")
    layers = "" if rnn.layers == 1 else (
        rf"There are {rnn.layers} stacked layers; layer $\ell > 1$ reads $h^{{(\ell-1)}}_t$ in place of $x_t$"
        r" (its symbols carry the superscript $(\ell)$)." "\n")
    size = "a scalar hidden state" if rnn.n == 1 else rf"hidden size $n = {rnn.n}$"
    activation = f"\\begin{{gather*}}\n{_activation_tex(rnn)}\n\\end{{gather*}}\n" if rnn.spec.uses_activation else ""
    sentence = (f"{_article(rnn.spec.title)} {latex_text(rnn.spec.title)} with {size}, "
                rf"unrolled for $T = {rnn.T}$ steps ($t = 1, \dots, T$), loss ${loss}$:")
    return rf"""\section*{{Model}}
{sentence}
{_cell_tex(rnn)}{activation}{layers}"""


def _bound_section(rnn: RNN) -> str:
    if not rnn.spec.uses_activation:
        return r"""\section*{Bound}
A gated cell has no single constant $\gamma$: its factors mix gate values and derivatives. The path
along the cell state multiplies only by the forget gate, $\partial c_t/\partial c_{k} = \prod_{j=k+1}^{t}
\operatorname{diag}(f_j)$ along that path, so it vanishes only as fast as $\prod f_j$ does.
"""
    gamma = _gamma_tex(rnn)
    exact = "" if rnn.act.gamma_exact else f" ({rnn.act.gamma_status})"
    w = "w" if rnn.scalar else "W"
    return rf"""\section*{{Bound}}
Each factor satisfies $\lVert J_j \rVert_2 \le \lVert \operatorname{{diag}}(\sigma'(a_j)) \rVert_2
\lVert {w} \rVert_2 \le \gamma\, \sigma_{{\max}}({w})$ with $\gamma = {gamma}${exact}, hence
\begin{{equation*}}
\Bigl\lVert \frac{{\partial h_t}}{{\partial h_k}} \Bigr\rVert_2
= \lVert J_t J_{{t-1}} \cdots J_{{k+1}} \rVert_2 \le \bigl(\gamma\, \sigma_{{\max}}({w})\bigr)^{{t-k}}.
\end{{equation*}}
If $\gamma\,\sigma_{{\max}}({w}) < 1$ the contribution of step $k$ to $\partial L/\partial\theta$ shrinks
geometrically with $t - k$: vanishing gradients are guaranteed. If $\gamma\,\sigma_{{\max}}({w}) \ge 1$ the
bound allows growth, so exploding gradients are possible but not certain. The spectral radius
$\rho({w})$ only sets the asymptotic rate of the product when the factors are alike; on its own it
does not decide either regime.
"""


def _section(title: str, body: str) -> str:
    return f"\\section*{{{title}}}\n{body}"


def standalone(rnn: RNN, wrt: str | None = None, diagram: bool = False) -> str:
    """A complete article: model, unrolled equations, Jacobian factors, general-T, explicit, recursive,
    the bound; with ``diagram`` also the TikZ picture of the unrolled network."""
    wrt = wrt or default_wrt(rnn)
    targets(rnn, wrt)  # an unknown name is refused here, not written into a section
    parts = [PREAMBLE, "\\begin{document}\n", _model_section(rnn)]
    if diagram:
        parts.append(_section("Unrolled network", "\\begin{center}\n" + tikz_diagram(rnn) + "\\end{center}\n"))
    forms = [("Unrolled forward pass", "unroll"), ("Chain-rule factors", "factors"),
             ("General-$T$ formula", "general"), (f"Explicit expansion for $T = {rnn.T}$", "explicit"),
             ("Recursive form (backward pass)", "recursive")]
    for title, form in forms:
        try:
            derivation = derive(rnn, form, wrt)
        except SymbpttError as exc:
            parts.append(_section(title, _escape(str(exc)) + "\n"))
            continue
        parts.append(_section(title, align(derivation) + notes_tex(derivation)))
    parts.append(_bound_section(rnn))
    parts.append("\\end{document}\n")
    return "".join(parts)


# ---------------------------------------------------------------- TikZ unrolled network


def _article(noun: str) -> str:
    """'An' before a vowel sound (an LSTM, an RNN), else 'A' (a GRU, a vanilla RNN)."""
    return "An" if noun[:1].lower() in "aeiou" or noun[:1] in "FHLMNRSX" and noun[:2].isupper() else "A"


def _drawn_steps(T: int) -> list[int | None]:
    """Steps to draw; long sequences keep the first and last few with a gap (None) between."""
    if T <= DIAGRAM_MAX_STEPS:
        return list(range(1, T + 1))
    return [1, 2, 3, None, T - 1, T]


def tikz_diagram(rnn: RNN) -> str:
    """The unrolled network for any cell: x_t at the bottom, one row per state and layer, the forward
    arrows of each step (black), the loss L with its target y, and the backward pass (red): from L back
    through every state, each arrow labelled with the factor δ is multiplied by (its transpose)."""
    from .step import state_edges

    states, edges = rnn.spec.states, state_edges(rnn.graph)
    columns = [0, *_drawn_steps(rnn.T)]
    sup = (lambda ell: f"({ell})") if rnn.layers > 1 else (lambda ell: "")
    gap = 1.6 if len(states) == 1 else 2.1
    row = {(ell, s): gap * ((ell - 1) * len(states) + i + 1) for ell in range(1, rnn.layers + 1)
           for i, s in enumerate(states)}
    lines = [r"\begin{tikzpicture}[>=Stealth,"
             r" state/.style={circle, draw, minimum size=9mm, inner sep=0pt},"
             r" input/.style={rectangle, draw, minimum size=7mm}, lab/.style={font=\scriptsize},"
             r" back/.style={->, red!70!black}, blab/.style={font=\scriptsize, red!70!black}]"]
    for col, t in enumerate(columns):
        x = 1.9 * col
        if t is None:
            lines += [rf"\node at ({x:.2f},{y:.2f}) {{$\cdots$}};" for y in row.values()]
            continue
        if t > 0:
            lines.append(rf"\node[input] (x{col}) at ({x:.2f},0) {{$x_{{{t}}}$}};")
        for (ell, s), y in row.items():
            up = sup(ell)
            name = f"{s}^{{{up}}}" if up else s
            lines.append(rf"\node[state] ({s}{ell}c{col}) at ({x:.2f},{y:.2f}) {{${name}_{{{t}}}$}};")
    for col in range(1, len(columns)):
        t = columns[col]
        if t is None:
            continue
        for ell in range(1, rnn.layers + 1):
            up = f"^{{{sup(ell)}}}" if sup(ell) else ""
            below = f"x{col}" if ell == 1 else f"h{ell - 1}c{col}"
            label = rf"node[lab, right] {{$U{up}, b{up}$}}" if rnn.spec.name == "rnn" else ""
            lines.append(rf"\draw[->] ({below}) -- {label} ({states[0]}{ell}c{col});")
            if ell > 1:
                lines.append(rf"\draw[back] (h{ell}c{col}) to[bend left=35] node[blab, left] {{$V{up}_{{{t}}}$}} "
                             rf"({below});")
            if columns[col - 1] is None:
                continue
            for target, source, kinds in edges:
                tag = f"{target}{source}" if len(states) > 1 else ""
                layer = sup(ell)
                script = f"^{{{tag}{layer}}}" if tag or layer else ""
                factor = " + ".join(f"{k}{script}_{{{t}}}" for k in kinds.split("+"))
                a, b = f"{source}{ell}c{col - 1}", f"{target}{ell}c{col}"
                if source == target:
                    above = len(states) > 1 and target == states[-1]  # the top row of a layer: arcs above
                    forward = rf"node[lab, {'below' if above else 'above'}] {{${_forward_label(rnn, target, ell)}$}}"
                    lines.append(rf"\draw[->] ({a}) -- {forward} ({b});")
                    bend, side = ("bend right=40", "above") if above else ("bend left=40", "below")
                    lines.append(rf"\draw[back] ({b}) to[{bend}] node[blab, {side}] {{${factor}$}} ({a});")
                else:
                    lines.append(rf"\draw[->] ({a}) -- ({b});")
                    lines.append(rf"\draw[back, densely dotted] ({b}) to[bend left=12] ({a});")
    top, last = rnn.layers, len(columns) - 1
    h_top = f"h{top}c{last}"
    lines.append(rf"\node[state, fill=orange!15, right=1.0cm of {h_top}] (L) {{$L$}};")
    lines.append(r"\node[input, below=0.6cm of L] (y) {$y$};")
    lines.append(rf"\draw[->] ({h_top}) -- (L);")
    lines.append(r"\draw[->] (y) -- (L);")
    lines.append(rf"\draw[back] (L) to[bend left=40] node[blab, below] {{$\partial L/\partial h_{{{rnn.T}}}$}} "
                 rf"({h_top});")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines) + "\n"


def _forward_label(rnn: RNN, state: str, layer: int) -> str:
    """What a same-state arrow multiplies by going forward: W for the vanilla cell, f_t ⊙ on the LSTM's c."""
    up = f"^{{({layer})}}" if rnn.layers > 1 else ""
    if rnn.spec.name == "rnn":
        return f"W{up}"
    if rnn.spec.name == "lstm" and state == "c":
        return r"f_t \odot"
    return ""
