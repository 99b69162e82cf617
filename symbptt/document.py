"""A standalone LaTeX article of a derivation (the model, the cell's equations, the bound, every form
asked for, the notes) and a TikZ drawing of the unrolled network."""

from __future__ import annotations

import sympy as sp

from . import notation
from .errors import SymbpttError
from .escape import latex_text, verbatim_text
from .forms import derive
from .latex import _escape, align, latex_cache, notes_tex, term_lines, tex
from .model import RNN
from .paths import default_wrt, resolve_wrt, targets
from .printing import latex
from .reading import in_reading_order
from .symbolic.shown import carried_paths, generic_step_names, only_carried
from .validate import choice, flag, instance

DIAGRAM_MAX_STEPS = 8


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
    return latex(sp.nsimplify(act.gamma)) if act.gamma_exact else f"{act.gamma:.6g}"


ACTIVATION_CHARS = 160  # LaTeX source of σ, σ' and γ set side by side on one row; longer, one row each


def _activation_tex(rnn: RNN) -> str:
    """σ, σ' and γ as a displayed block: side by side on one row, or, where that row would be long (a nested
    custom activation), one below the other, each broken over rows as a definition is (latex.term_lines).
    The logistic activation is σ itself, and σ(a) = σ(a) would say nothing: its formula is written."""
    from .primitives import Logistic
    from .safeexpr import A

    act = rnn.act
    a = sp.Symbol("a")
    sigma, slope = act.sigma_plain.subs(A, a), act.dsigma_plain.subs(A, a)
    formula = r"\frac{1}{1 + e^{-a}}" if type(sigma) is Logistic else None
    gamma = rf"\sup_a |\sigma'(a)| = {_gamma_tex(rnn)}"
    row = rf"\sigma(a) = {formula or latex(sigma)}, \qquad \sigma'(a) = {latex(slope)}, \qquad \gamma = {gamma}"
    if len(row) <= ACTIVATION_CHARS:
        return f"\\begin{{gather*}}\n{row}\n\\end{{gather*}}\n"
    rows = []
    for lhs, value in ((r"\sigma(a)", sigma), (r"\sigma'(a)", slope)):
        lines = [formula] if formula and value is sigma else term_lines(value, latex_cache())
        rows += [rf"{lhs} &= {lines[0]}", *(rf"&\qquad {line}" for line in lines[1:])]
    rows.append(rf"\gamma &= {gamma}")
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"


def _cell_tex(rnn: RNN) -> str:
    """The cell's one-step equations at a generic step t, in the symbols its formulas use: one block per
    layer, each with that layer's parameters, states and input (x_t, or h^(ℓ−1)_t above the first)."""
    from .cells import INPUT, unit
    from .primitives import plain

    s, rows = rnn.symbols, []
    for layer in range(1, rnn.layers + 1):
        at = generic_step_names(rnn, layer)
        lay = s.layer_mark(layer)
        for lin in rnn.spec.linears:
            terms = []
            for matrix, src in lin.terms:
                weight = (tex(s.param(matrix, layer)[0]) if rnn.scalar
                          else notation.Parts(*_param_parts(matrix), layer=lay, is_param=True).latex())
                vector = tex(at[unit(src)]) if src == INPUT else notation.Parts(src, layer=lay, step="t-1").latex()
                terms.append(f"{weight} {vector}")
            if lin.bias:
                terms.append(tex(s.param(lin.bias, layer)[0]) if rnn.scalar
                             else notation.Parts(*_param_parts(lin.bias), layer=lay, is_param=True).latex())
            rows.append(f"{tex(at[unit(lin.name)])} &= {' + '.join(terms)}")
        for name, expr in rnn.spec.nodes:
            value = plain(expr).xreplace(at)
            # one unit: a product is a product; vectors multiply unit by unit, written ⊙
            shown = tex(value) if rnn.scalar else latex(in_reading_order(value), mat_symbol_style="plain",
                                                            mul_symbol=r" \odot ")
            rows.append(f"{tex(at[unit(name)])} &= {shown}")
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"


def _logistic_tex(rnn: RNN) -> str:
    """σ defined where the cell's own equations use the logistic function (the gates of an LSTM or GRU,
    a cell file's sigmoid); a vanilla cell's σ is its activation, defined with γ instead."""
    from .primitives import sigmoid

    if rnn.spec.uses_activation or not any(expr.has(sigmoid) for _, expr in rnn.spec.nodes):
        return ""
    return ("where $\\sigma(a) = 1/(1 + e^{-a})$ is the logistic function, "
            "$\\sigma'(a) = \\sigma(a)\\,(1 - \\sigma(a))$.\n")


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
    activation = _activation_tex(rnn) if rnn.spec.uses_activation else ""
    sentence = (f"{_article(rnn.spec.title)} {latex_text(rnn.spec.title)} with {size}, "
                rf"unrolled for $T = {rnn.T}$ steps ($t = 1, \dots, T$), loss ${loss}$:")
    return rf"""\section*{{Model}}
{sentence}
{_cell_tex(rnn)}{_logistic_tex(rnn)}{activation}{layers}"""


# LaTeX source of a path's product, ∂h_t/∂h_k = ∏ (factor_j), kept in its sentence; a longer one is displayed
# (at 145–155 characters a stacked cell file's product ran up to 64 pt past the margin; at 117, a quarter's
# width short of it)
INLINE_CHARS = 140


def _at_j(text: str) -> str:
    return text.replace("_{t-1}", "_{j-1}").replace("_{t}", "_{j}")


def _delimited(pieces: list[str]) -> list[str]:
    """One factor's rows inside \\bigl( … \\bigr), which, unlike \\left…\\right, may open on one row and
    close on another."""
    if len(pieces) == 1:
        return [rf"\bigl({pieces[0]}\bigr)"]
    return [r"\bigl(" + pieces[0], *pieces[1:-1], pieces[-1] + r"\bigr)"]


def _unit_paths_tex(rnn: RNN) -> tuple[list[str], str | None]:
    """For each state its own step multiplies unit by unit (the LSTM's c by f, the GRU's h by z): that
    path's factor ∏ diag(coefficient_j), read from the cell's step — each "$…$" for its sentence, and,
    where one is too long to stand in a line of text (a cell file's coefficient), all of them as the rows
    of a displayed align*, each broken over rows as a definition is (latex.term_lines)."""
    inline, rows, long = [], [], False
    layers = list(range(1, rnn.layers + 1)) if rnn.layers > 1 else [None]  # each layer's own symbols
    say_path = not only_carried(rnn)  # which path, where the state has others too
    diag = "" if rnn.scalar else r"\operatorname{diag}"
    for mark, (state, value) in ((rnn.symbols.layer_mark(ly), p) for ly in layers for p in carried_paths(rnn, ly)):
        at_t, at_k = (tex(notation.name(state, step=step, layer=mark)) if mark else f"{state}_{step}"
                      for step in ("t", "k"))
        coef = _at_j(tex(value))
        if isinstance(value, sp.Symbol) and rnn.scalar:
            factor, lines = coef, [coef]
        else:
            broken = [_at_j(line) for line in term_lines(value, latex_cache())]
            # a sum broken over rows has its own \bigl( … \bigr)
            pieces = broken if len(broken) > 1 and isinstance(value, sp.Add) else _delimited(
                [coef] if len(broken) == 1 else broken)
            factor, lines = diag + _delimited([coef])[0], [diag + pieces[0], *pieces[1:]]
        carried = tex(notation.name(state, layer=mark))
        along = rf" along the path that carries ${carried}$ unit by unit" if say_path else ""
        formula = rf"\partial {at_t}/\partial {at_k} = \prod_{{j=k+1}}^{{t}} {factor}"
        long = long or len(formula) > INLINE_CHARS
        inline.append(rf"${formula}${along}")
        rows.append(rf"\frac{{\partial {at_t}}}{{\partial {at_k}}} &= \prod_{{j=k+1}}^{{t}} {lines[0]}")
        rows.extend(rf"&\qquad {line}" for line in lines[1:])
    shown = "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n" if long else None
    return inline, shown


def _bound_section(rnn: RNN) -> str:
    if not rnn.spec.uses_activation:
        paths, shown = _unit_paths_tex(rnn)
        if not paths:
            return ("\\section*{Bound}\nThis cell has no single constant $\\gamma$: its factors mix gate "
                    "values and derivatives, and no state is carried unit by unit.\n")
        if only_carried(rnn):
            whose = "each layer's state Jacobian is exactly the product read off its" if rnn.layers > 1 \
                else "the state Jacobian is exactly the product read off the"
            opening = ("\\section*{Bound}\nNo path back in time goes through a weight matrix: every step multiplies "
                       f"the state unit by unit, so {whose} step")
            closing = "The gradient through $t - k$ steps vanishes or explodes exactly as that product does.\n"
        else:
            opening = ("\\section*{Bound}\nThis cell has no single constant $\\gamma$: its factors mix gate values "
                       "and derivatives. Its factor along a state's own path is read off the step")
            closing = "Such a path vanishes only as fast as that product does.\n"
            if shown is not None:
                opening += " (along the path that carries the state unit by unit)"
        if shown is not None:
            return f"{opening}:\n{shown}{closing}"
        return opening + (", " if only_carried(rnn) else ": ") + "; ".join(paths) + ". " + closing
    gamma = _gamma_tex(rnn)
    exact = "" if rnn.act.gamma_exact else f" ({rnn.act.gamma_status})"
    layered = rnn.layers > 1
    each = r" of each layer $\ell$ (with that layer's weights)" if layered else ""
    if rnn.scalar:
        w = "w^{(\\ell)}" if layered else "w"
        return rf"""\section*{{Bound}}
Each factor{each} satisfies $|J_j| = |\sigma'(a_j)|\,|{w}| \le \gamma\,|{w}|$ with $\gamma = {gamma}${exact},
hence
\begin{{equation*}}
\Bigl| \frac{{\partial h_t}}{{\partial h_k}} \Bigr| = |J_t J_{{t-1}} \cdots J_{{k+1}}|
\le \bigl(\gamma\, |{w}|\bigr)^{{t-k}}.
\end{{equation*}}
If $\gamma\,|{w}| < 1$ the contribution of step $k$ to $\partial L/\partial\theta$ shrinks geometrically
with $t - k$: vanishing gradients are guaranteed. If $\gamma\,|{w}| \ge 1$ the bound allows growth, so
exploding gradients are possible but not certain: the values $\sigma'(a_j)$ along the trajectory decide.
"""
    w = "W^{(\\ell)}" if layered else "W"
    return rf"""\section*{{Bound}}
Each factor{each} satisfies $\lVert J_j \rVert_2 \le \lVert \operatorname{{diag}}(\sigma'(a_j)) \rVert_2
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


FORM_TITLES = {"unroll": "Unrolled forward pass", "factors": "Chain-rule factors",
               "general": "General-$T$ formula", "explicit": "Explicit expansion for $T = {T}$",
               "recursive": "Recursive form (backward pass)",
               "expanded": "Gradient in parameters and inputs for $T = {T}$"}
ARTICLE_FORMS = ("unroll", "factors", "general", "explicit", "recursive")


def code_block(code: str, form: str) -> str:
    """Generated NumPy code as a LaTeX block that pdflatex compiles: a sentence, then the code verbatim
    in a small font (its lines are at most 100 characters: they fit the page), in ASCII.

    Args:
        code: the module numeric.code.numpy_source wrote.
        form: the form it computes (explicit or recursive), named in the sentence.

    Returns:
        LaTeX text.
    """
    return (f"The same gradient as a standalone Python function (NumPy only), by the {form} form; the "
            "notation's symbols are spelled in ASCII in its comments (\\texttt{symbptt derive --format numpy} "
            "with the same options writes it as a file).\\par\\smallskip\n"
            "{\\footnotesize\n\\begin{verbatim}\n" + verbatim_text(code).rstrip("\n") + "\n\\end{verbatim}\n}\n")


def standalone(rnn: RNN, wrt: str | None = None, diagram: bool = False,
               forms: tuple[str, ...] = ARTICLE_FORMS, named: bool | None = None, code: str | None = None,
               code_form: str = "recursive") -> str:
    """A complete article that compiles as it is.

    Args:
        rnn: the model.
        wrt: the parameter (or ``all``) the gradients are taken with respect to; default: the cell's first
            recurrent weight.
        diagram: add the TikZ picture of the unrolled network.
        forms: the forms to typeset, in this order (default: unrolled, factors, general, explicit,
            recursive); the model and the bound are always there.
        named: explicit and recursive forms: factors by name (J_t) with their definitions.
        code: Python source to end the article with (``latex --code`` gives the NumPy module of
            ``derive --format numpy``), typeset verbatim in ASCII: it is never read as LaTeX.
        code_form: the form the code computes (explicit or recursive), named in the sentence before it.

    Returns:
        The LaTeX source of the article.

    Raises:
        SymbpttError: an unknown parameter or form, or an argument of the wrong type.
    """
    instance("standalone", rnn, RNN, "an RNN", "standalone(RNN(T=3))")
    diagram, named = bool(flag("diagram", diagram)), flag("named", named, optional=True)
    if isinstance(forms, str) or not isinstance(forms, (tuple, list)):
        raise SymbpttError(f"forms must be a tuple of form names ({', '.join(FORM_TITLES)}), got "
                           f"{type(forms).__name__} {forms!r:.40}")
    if code is not None and not isinstance(code, str):
        raise SymbpttError(f"code must be a str of Python source, got {type(code).__name__}")
    code_form = choice("code_form", code_form, ("explicit", "recursive"))
    if wrt is not None and (not isinstance(wrt, str) or not wrt):
        raise SymbpttError(f"wrt must be a parameter name or 'all', got {wrt!r:.40}")
    wrt = wrt or default_wrt(rnn)
    targets(rnn, wrt)  # an unknown name is refused here, not written into a section
    wrt = resolve_wrt(rnn, wrt)
    unknown = [form for form in forms if not isinstance(form, str) or form not in FORM_TITLES]
    if unknown or not forms:
        raise SymbpttError(f"unknown form {unknown[0] if unknown else ''!r}; choose from "
                           f"{', '.join(FORM_TITLES)}")
    parts = [PREAMBLE, "\\begin{document}\n", _model_section(rnn)]
    if diagram:
        parts.append(_section("Unrolled network", "\\begin{center}\n" + tikz_diagram(rnn) + "\\end{center}\n"))
    for form in forms:
        title = FORM_TITLES[form].replace("{T}", str(rnn.T))
        try:
            if form == "factors" and not rnn.scalar:  # matrices: once for any step t, not once per step
                from .symbolic.unrolled import form_factors_generic

                title = "Chain-rule factors (at any step $t$)"
                derivation = form_factors_generic(rnn, resolve_wrt(rnn, wrt))
            else:
                derivation = derive(rnn, form, wrt, named if form in ("explicit", "recursive") else None)
        except SymbpttError as exc:
            parts.append(_section(title, _escape(str(exc)) + "\n"))
            continue
        parts.append(_section(title, align(derivation) + notes_tex(derivation)))
    parts.append(_bound_section(rnn))
    if code is not None:
        parts.append(_section("The gradient as NumPy code", code_block(code, code_form)))
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

    instance("tikz_diagram", rnn, RNN, "an RNN", "tikz_diagram(RNN(T=3))")
    states, edges = rnn.spec.states, state_edges(rnn.graph)
    columns = [0, *_drawn_steps(rnn.T)]
    sup = (lambda ell: f"({ell})") if rnn.layers > 1 else (lambda ell: "")
    gap = 1.6 if len(states) == 1 else 2.1
    # a layer's back arcs and their labels hang below its row; the arrow up into it (from x or from the
    # layer below) is long enough to carry its own labels beneath them
    rise = 2.6 if len(states) == 1 else 3.6
    row = {(ell, s): rise * ell + gap * ((ell - 1) * (len(states) - 1) + i)
           for ell in range(1, rnn.layers + 1) for i, s in enumerate(states)}
    lines = [r"\begin{tikzpicture}[>=Stealth,"
             r" state/.style={circle, draw, minimum size=9mm, inner sep=0pt},"
             r" input/.style={rectangle, draw, minimum size=7mm}, lab/.style={font=\scriptsize},"
             r" back/.style={->, red!70!black}, blab/.style={font=\scriptsize, red!70!black}]"]
    for col, t in enumerate(columns):
        x = (1.9 if len(states) == 1 else 2.6) * col  # two states: the diagonals between them need room
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
            # the shared input weights are named once, on the last arrow up, where nothing is to its right
            # (between the columns hang the back arcs and their labels)
            u = "u" if rnn.scalar else "U"  # as the formulas of a scalar model write it
            label = rf"node[lab, right, pos=0.3] {{${u}{up}, b{up}$}}" if rnn.spec.elman and col == len(
                columns) - 1 else ""
            # from the layer below, a cell with several states curves around that layer's upper rows
            path = "to[bend right=28]" if ell > 1 and len(states) > 1 else "--"
            lines.append(rf"\draw[->] ({below}) {path} {label} ({states[0]}{ell}c{col});")
            if ell > 1:
                # wide of the rows in between; the label halfway between the two layers' rows
                span = rise + gap * (len(states) - 1)
                bend, pos = (30, 0.55) if len(states) == 1 else (50, round(rise / 2 / span, 3))
                lines.append(rf"\draw[back] (h{ell}c{col}) to[bend right={bend}] node[blab, left, pos={pos}] "
                             rf"{{$V{up}_{{{t}}}$}} ({below});")
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
                    arc, side = ("bend right=40", "above") if above else ("bend left=40", "below")
                    lines.append(rf"\draw[back] ({b}) to[{arc}] node[blab, {side}] {{${factor}$}} ({a});")
                else:
                    lines.append(rf"\draw[->] ({a}) -- ({b});")
                    lines.append(rf"\draw[back, densely dotted] ({b}) to[bend left=12] ({a});")
    top, last = rnn.layers, len(columns) - 1
    h_top = f"h{top}c{last}"
    lines.append(rf"\node[state, fill=orange!15, right=1.0cm of {h_top}] (L) {{$L$}};")
    lines.append(r"\node[input, below=0.6cm of L] (y) {$y$};")
    lines.append(rf"\draw[->] ({h_top}) -- (L);")
    lines.append(r"\draw[->] (y) -- (L);")
    # above the arrow to L: below it sits the label of the last arrow up into h_T
    lines.append(rf"\draw[back] (L) to[bend right=40] node[blab, above] {{$\partial L/\partial h_{{{rnn.T}}}$}} "
                 rf"({h_top});")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines) + "\n"


def _forward_label(rnn: RNN, state: str, layer: int) -> str:
    """What a same-state arrow multiplies by going forward: W for the vanilla cell, f_t ⊙ on the LSTM's c."""
    up = f"^{{({layer})}}" if rnn.layers > 1 else ""
    if rnn.spec.elman:
        return f"{'w' if rnn.scalar else 'W'}{up}"  # the formulas' spelling: w for one unit
    return dict(rnn.spec.arrow_labels).get(state, "")
