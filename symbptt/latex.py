"""LaTeX for notes: amsmath snippets of any form, standalone documents, and a TikZ unrolled network.

Sums are set one term per line and long products are wrapped between factors (SymPy never breaks a
line).  Factors are printed one by one, in the order the form built them (J_T ⋯ J_{k+1}), never from a
merged SymPy product, so the time order survives.
"""

from __future__ import annotations

import sympy as sp

from .derive import TEX_NAMES, Derivation, Equation, MatTermSum, TermSum, derive
from .errors import SymbpttError
from .model import RNN
from .render import FactorCache, factors_of, summands

FACTORS_PER_LINE = 8
CHARS_PER_LINE = 240  # LaTeX source characters of factors per printed line
DIAGRAM_MAX_STEPS = 8
MATRIX_TEX = {"⋯": r"\cdots"}


def tex(expr: sp.Basic) -> str:
    """SymPy's LaTeX with our label names and factors kept in the order they were built."""
    text = sp.latex(expr, order="none", symbol_names=TEX_NAMES, mat_symbol_style="plain")
    for old, new in MATRIX_TEX.items():
        text = text.replace(old, new)
    return text


def _tex_factor(expr: sp.Basic) -> str:
    text = tex(expr)
    if isinstance(expr, (sp.Add, sp.MatAdd)):
        return rf"\left({text}\right)"
    return text


def latex_cache() -> FactorCache[str]:
    return FactorCache(_tex_factor, lambda s, old, new: s.replace(old, new), lambda e: sp.latex(e))


def _product_factors(expr: sp.Basic, cache: FactorCache[str]) -> list[str]:
    """LaTeX of each factor; a transposed product becomes one \\left(…\\right)^{T} factor."""
    if isinstance(expr, sp.Transpose) and isinstance(expr.arg, sp.MatMul):
        inner = r" ".join(_product_factors(expr.arg, cache))
        return [rf"\left({inner}\right)^{{T}}"]
    if isinstance(expr, sp.Transpose):
        return [rf"{{{cache(expr.arg)}}}^{{T}}"]
    if isinstance(expr, (sp.Mul, sp.MatMul)):
        out: list[str] = []
        for f in factors_of(expr):
            out.extend(_product_factors(f, cache) if isinstance(f, sp.Transpose) else [cache(f)])
        return out
    return [tex(expr)]


def term_lines(term: sp.Basic, cache: FactorCache[str], per_line: int = FACTORS_PER_LINE) -> list[str]:
    """A product as one or more lines of at most ``per_line`` factors, joined with \\cdot."""
    if not isinstance(term, (sp.Mul, sp.MatMul, sp.Transpose)):
        return [tex(term)]
    parts = _product_factors(term, cache)
    sep = r" \cdot " if not isinstance(term, (sp.MatMul, sp.Transpose)) else " "
    lines, current = [], []
    for part in parts:
        if current and (len(current) >= per_line or sum(map(len, current)) + len(part) > CHARS_PER_LINE):
            lines.append(sep.join(current))
            current = []
        current.append(part)
    lines.append(sep.join(current))
    return lines


def equation_lines(eq: Equation, cache: FactorCache[str]) -> list[str]:
    """align* rows: lhs &= first term, then &\\quad + next term, wrapped products continue with \\cdot."""
    rows = []
    if not isinstance(eq.rhs, (TermSum, MatTermSum)):
        return [f"{tex(eq.lhs)} &= {tex(eq.rhs)}"]
    for i, term in enumerate(summands(eq.rhs)):
        sign = "+"
        if i and isinstance(term, sp.Mul) and term.args and term.args[0] == -1:
            sign, term = "-", -term
        for j, line in enumerate(term_lines(term, cache)):
            if i == 0 and j == 0:
                rows.append(f"{tex(eq.lhs)} &= {line}")
            elif j == 0:
                rows.append(rf"&\quad {sign} {line}")
            else:
                rows.append(rf"&\qquad \cdot {line}")
    return rows


def align(derivation: Derivation) -> str:
    """One align* environment with every equation of ``derivation``."""
    cache = latex_cache()
    rows = [row for eq in derivation.equations for row in equation_lines(eq, cache)]
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"


def notes_tex(derivation: Derivation) -> str:
    """The derivation's notes, as text with the Unicode notation turned into math."""
    out = []
    for note in derivation.notes:
        out.append(_text_to_tex(note))
    return "\n".join(f"\\noindent {n}\\par" for n in out) + ("\n" if out else "")


def _text_to_tex(text: str) -> str:
    table = {"σ'": r"$\sigma'$", "σ": r"$\sigma$", "·": r"$\cdot$", "⋯": r"$\cdots$", "≥": r"$\geq$",
             "ℓ": r"$\ell$", "∂": r"$\partial$", "_": r"\_", "^": r"\^{}", "**": r"\^{}", "{": r"\{",
             "}": r"\}", "#": r"\#", "%": r"\%", "&": r"\&"}
    for old in ("**", "σ'", "σ", "·", "⋯", "≥", "ℓ", "∂", "{", "}", "_", "^", "#", "%", "&"):
        text = text.replace(old, f"\0{old}\0")
    pieces = text.split("\0")
    return "".join(table.get(p, p) for p in pieces)


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


def _activation_tex(rnn: RNN) -> str:
    from .safeexpr import A

    act = rnn.act
    a = sp.Symbol("a")
    return (rf"\sigma(a) = {sp.latex(act.sigma_plain.subs(A, a))}, \qquad "
            rf"\sigma'(a) = {sp.latex(act.dsigma_plain.subs(A, a))}, \qquad "
            rf"\gamma = \sup_a |\sigma'(a)| = {sp.latex(sp.nsimplify(act.gamma))}")


def _model_section(rnn: RNN) -> str:
    loss = (r"L = \tfrac12 \lVert h_T - y \rVert^2" if rnn.loss == "last"
            else r"L = \sum_{t=1}^{T} \tfrac12 \lVert h_t - y_t \rVert^2")
    layers = "" if rnn.layers == 1 else (
        rf"There are {rnn.layers} stacked layers; layer $\ell > 1$ reads $h^{{(\ell-1)}}_t$ in place of $x_t$." "\n")
    size = "a scalar hidden state" if rnn.n == 1 else rf"hidden size $n = {rnn.n}$"
    return rf"""\section*{{Model}}
A recurrent network with {size}, unrolled for $T = {rnn.T}$ steps:
\begin{{gather*}}
a_t = W h_{{t-1}} + U x_t + b, \qquad h_t = \sigma(a_t), \qquad t = 1, \dots, T, \\
{loss}, \\
{_activation_tex(rnn)}.
\end{{gather*}}
{layers}"""


def _bound_section(rnn: RNN) -> str:
    gamma = sp.latex(sp.nsimplify(rnn.act.gamma)) if rnn.act.gamma_exact else f"{rnn.act.gamma:.6g}"
    exact = "" if rnn.act.gamma_exact else " (estimated numerically on $[-30, 30]$)"
    return rf"""\section*{{Bound}}
Each factor satisfies $\lVert J_j \rVert_2 \le \lVert \operatorname{{diag}}(\sigma'(a_j)) \rVert_2
\lVert W \rVert_2 \le \gamma\, \sigma_{{\max}}(W)$ with $\gamma = {gamma}${exact}, hence
\begin{{equation*}}
\Bigl\lVert \frac{{\partial h_t}}{{\partial h_k}} \Bigr\rVert_2
= \lVert J_t J_{{t-1}} \cdots J_{{k+1}} \rVert_2 \le \bigl(\gamma\, \sigma_{{\max}}(W)\bigr)^{{t-k}}.
\end{{equation*}}
If $\gamma\,\sigma_{{\max}}(W) < 1$ the contribution of step $k$ to $\partial L/\partial\theta$ shrinks
geometrically with $t - k$: vanishing gradients are guaranteed. If $\gamma\,\sigma_{{\max}}(W) \ge 1$ the
bound allows growth, so exploding gradients are possible but not certain. The spectral radius
$\rho(W)$ only sets the asymptotic rate of the product when the factors are alike; on its own it
does not decide either regime.
"""


def _section(title: str, body: str) -> str:
    return f"\\section*{{{title}}}\n{body}"


def standalone(rnn: RNN, wrt: str = "W", diagram: bool = False) -> str:
    """A complete article: model, unrolled equations, Jacobian factors, general-T, explicit, recursive,
    the bound; with ``diagram`` also the TikZ picture of the unrolled network."""
    parts = [PREAMBLE, "\\begin{document}\n", _model_section(rnn)]
    if diagram:
        parts.append(_section("Unrolled network", "\\begin{center}\n" + tikz_diagram(rnn) + "\\end{center}\n"))
    forms = [("Unrolled forward pass", "unroll"), ("Jacobian factors", "factors"),
             ("General-$T$ formula", "general"), (f"Explicit expansion for $T = {rnn.T}$", "explicit"),
             ("Recursive form (backward pass)", "recursive")]
    for title, form in forms:
        try:
            derivation = derive(rnn, form, wrt)
        except SymbpttError as exc:
            parts.append(_section(title, _text_to_tex(str(exc)) + "\n"))
            continue
        parts.append(_section(title, align(derivation) + notes_tex(derivation)))
    parts.append(_bound_section(rnn))
    parts.append("\\end{document}\n")
    return "".join(parts)


# ---------------------------------------------------------------- TikZ unrolled network


def _drawn_steps(T: int) -> list[int | None]:
    """Steps to draw; long sequences keep the first and last few with a gap (None) between."""
    if T <= DIAGRAM_MAX_STEPS:
        return list(range(1, T + 1))
    return [1, 2, 3, None, T - 1, T]


def tikz_diagram(rnn: RNN) -> str:
    """x_t inputs at the bottom, one row of h^{(ℓ)}_t per layer, W arrows along time, U arrows upward."""
    steps = _drawn_steps(rnn.T)
    lines = [r"\begin{tikzpicture}[>=Stealth, node distance=1.2cm,"
             r" state/.style={circle, draw, minimum size=9mm, inner sep=0pt},"
             r" input/.style={rectangle, draw, minimum size=7mm}, lab/.style={font=\scriptsize}]"]
    sup = (lambda ell: f"^{{({ell})}}") if rnn.layers > 1 else (lambda ell: "")
    for col, t in enumerate([0, *steps]):
        x = 1.9 * col
        if t is None:
            for ell in range(1, rnn.layers + 1):
                lines.append(rf"\node at ({x:.2f},{1.6 * ell:.2f}) {{$\cdots$}};")
            continue
        if t > 0:
            lines.append(rf"\node[input] (x{col}) at ({x:.2f},0) {{$x_{{{t}}}$}};")
        for ell in range(1, rnn.layers + 1):
            lines.append(rf"\node[state] (h{ell}c{col}) at ({x:.2f},{1.6 * ell:.2f}) {{$h{sup(ell)}_{{{t}}}$}};")
    columns = [0, *steps]
    for col in range(1, len(columns)):
        if columns[col] is None:
            continue
        for ell in range(1, rnn.layers + 1):
            below = f"x{col}" if ell == 1 else f"h{ell - 1}c{col}"
            lines.append(rf"\draw[->] ({below}) -- node[lab, right] {{$U{sup(ell)}$}} (h{ell}c{col});")
            if columns[col - 1] is not None:
                lines.append(rf"\draw[->] (h{ell}c{col - 1}) -- node[lab, above] {{$W{sup(ell)}$}} (h{ell}c{col});")
    top = rnn.layers
    last = len(columns) - 1
    lines.append(rf"\node[right=0.6cm of h{top}c{last}] (L) {{$L$}};")
    lines.append(rf"\draw[->, dashed] (h{top}c{last}) -- (L);")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines) + "\n"
