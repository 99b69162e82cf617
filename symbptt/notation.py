"""One notation for every symbol, in every form and format (text, Unicode, LaTeX), and its inverse.

A printed name has parts: a base (h, c, a, W, J, δ, …), a tag (the gate or the pair of states:
a^f, J^hc, δ^c; a parameter's gate W_f), the layer (only when there are several), the step and the unit
or matrix entry.  The text spelling is the symbol's SymPy name; LaTeX and Unicode are derived from the
parts, so the three always agree:

    text             LaTeX                 Unicode
    h_3              h_{3}                 h₃
    h^(2)_3[1]       h^{(2)}_{3,1}         h⁽²⁾₃,₁      unit 1 of h at step 3, layer 2
    a^f_3            a^{f}_{3}             a³ᶠ … (superscript f)
    J^hc(2)_3        J^{hc(2)}_{3}         Jʰᶜ⁽²⁾₃
    delta_(t-1)      \\delta_{t-1}          δₜ₋₁
    W_f^(2)[1,2]     W^{(2)}_{f,12}        W_f⁽²⁾₁₂     entry (1, 2) of W_f in layer 2

Node-like names (states, gates, factors, δ) take a superscript tag and a step subscript; parameters take
their gate as a subscript.  ``parse`` reads any text spelling back into its parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

PARAM_BASES = {"W", "U", "b", "w", "u"}
GREEK = {"delta": "δ", "sigma": "σ", "gamma": "γ", "theta": "θ", "nu": "ν"}
SUP = str.maketrans("0123456789()+-abcdefghijklmnoprstuvwxyzT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀ")
SUB = str.maketrans("0123456789()+-aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₍₎₊₋ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
SUPERSCRIPTABLE = set("0123456789()+-abcdefghijklmnoprstuvwxyzT")
SUBSCRIPTABLE = set("0123456789()+-aehijklmnoprstuvx")

NODE = re.compile(
    r"(?P<base>[A-Za-z]+)"
    r"(?:\^(?P<tag>[a-z]*)(?:\((?P<layer>\d+)\))?)?"
    r"(?:_(?P<step>\d+|[tkjsT]|\([tkjsT][+-]\d+\)))?"
    r"(?:\[(?P<unit>\d+(?:,\d+)?)\])?$"
)
PARAM = re.compile(
    r"(?P<base>[A-Za-z]+)"
    r"(?:_(?P<tag>[a-z][a-z0-9]*))?"
    r"(?:\^\((?P<layer>\d+)\))?"
    r"(?:\[(?P<unit>\d+(?:,\d+)?)\])?$"
)
BASE = re.compile(r"[A-Za-z]+")


STEP_TEMPLATES: dict[sp.Basic, tuple[sp.Basic, dict[sp.Basic, sp.Basic]]] = {}


def remember_template(expr: sp.Basic, template: sp.Basic, mapping: dict[sp.Basic, sp.Basic]) -> None:
    """Note that ``expr`` is ``template`` with its symbols replaced by ``mapping`` (a step's factor
    built from the generic one), so that printers can print the template once and swap names."""
    if len(STEP_TEMPLATES) > 8192:
        STEP_TEMPLATES.clear()
    STEP_TEMPLATES[expr] = (template, mapping)


def register_param_base(base: str) -> None:
    """A user cell's parameter names print as parameters (gate suffix as a subscript)."""
    PARAM_BASES.add(base)
    parse.cache_clear()
    name.cache_clear()


@lru_cache(maxsize=256)
def _latex_base(base: str) -> str:
    """``delta`` → ``\\delta``: SymPy's spelling of a base name (a printer per call is slow)."""
    return sp.latex(sp.Symbol(base))


@dataclass(frozen=True)
class Parts:
    base: str
    tag: str = ""
    layer: int | None = None
    step: str = ""
    unit: tuple[int, ...] = ()

    @property
    def is_param(self) -> bool:
        return self.base in PARAM_BASES

    def text(self) -> str:
        layer = f"({self.layer})" if self.layer is not None else ""
        unit = f"[{','.join(map(str, self.unit))}]" if self.unit else ""
        if self.is_param:
            tag = f"_{self.tag}" if self.tag else ""
            sup = f"^{layer}" if layer else ""
            return f"{self.base}{tag}{sup}{unit}"
        sup = f"^{self.tag}{layer}" if self.tag or layer else ""
        step = self.step if self.step.isalnum() else f"({self.step})"
        step = f"_{step}" if self.step else ""
        return f"{self.base}{sup}{step}{unit}"

    def latex(self) -> str:
        base = _latex_base(self.base)
        layer = f"({self.layer})" if self.layer is not None else ""
        if self.is_param:
            entry = "".join(map(str, self.unit))
            low = ",".join(p for p in (self.tag, entry) if p)
            sup = f"^{{{layer}}}" if layer else ""
            return f"{base}{sup}" + (f"_{{{low}}}" if low else "")
        tag = _latex_base(self.tag) if self.tag in GREEK else self.tag  # D^{\nu}: a parameter's Greek name
        sup = f"^{{{tag}{layer}}}" if tag or layer else ""
        low = ",".join(p for p in (self.step, *map(str, self.unit)) if p)
        return f"{base}{sup}" + (f"_{{{low}}}" if low else "")

    def unicode(self) -> str:
        base = GREEK.get(self.base, self.base)
        layer = f"({self.layer})" if self.layer is not None else ""
        if self.is_param:
            tag = f"_{self.tag}" if self.tag else ""
            entry = "".join(map(str, self.unit))
            return f"{base}{tag}{_sup(layer)}{_sub(entry)}"
        low = ",".join(p for p in (self.step, *map(str, self.unit)) if p)
        return f"{base}{_sup(GREEK.get(self.tag, self.tag) + layer)}{_sub(low)}"


def _sup(text: str) -> str:
    if not text:
        return ""
    return text.translate(SUP) if set(text) <= SUPERSCRIPTABLE else f"^{text}"


def _sub(text: str) -> str:
    if not text:
        return ""
    parts = text.split(",")
    if all(set(p) <= SUBSCRIPTABLE for p in parts):
        return ",".join(p.translate(SUB) for p in parts)
    return f"_({text})" if any(ch in text for ch in "+-,") else f"_{text}"


@lru_cache(maxsize=8192)
def parse(text: str) -> Parts:
    """The parts of a text spelling (the inverse of ``Parts.text``)."""
    base = BASE.match(text)
    grammar = PARAM if base and base.group() in PARAM_BASES else NODE
    m = grammar.match(text)
    if not m:
        raise ValueError(f"not a symbol of this notation: {text!r}")
    unit = tuple(int(v) for v in m["unit"].split(",")) if m["unit"] else ()
    layer = int(m["layer"]) if m["layer"] else None
    if grammar is PARAM:
        return Parts(m["base"], m["tag"] or "", layer, "", unit)
    return Parts(m["base"], m["tag"] or "", layer, (m["step"] or "").strip("()"), unit)


class Name(sp.Symbol):
    """A real symbol printed by its parts (text = its name; LaTeX and Unicode derived)."""

    def __new__(cls, name: str, **assumptions: bool) -> Name:
        parse(name)
        return super().__new__(cls, name, real=True)

    def __getnewargs_ex__(self):
        return (self.name,), {}


    @property
    def parts(self) -> Parts:
        return parse(self.name)

    def _latex(self, printer) -> str:
        return self.parts.latex()

    def _pretty(self, printer) -> prettyForm:
        return prettyForm(self.parts.unicode())

    def _sympystr(self, printer) -> str:
        return self.name


class MatrixName(sp.MatrixSymbol):
    """A matrix or vector symbol (J_3, δ_2, h_0 for n > 1) printed by its parts."""

    @property
    def parts(self) -> Parts:
        return parse(self.name)

    def _latex(self, printer) -> str:
        return self.parts.latex()

    def _pretty(self, printer) -> prettyForm:
        return prettyForm(self.parts.unicode())

    def _sympystr(self, printer) -> str:
        return self.name


class Label(sp.Symbol):
    """A left-hand side such as ∂L/∂W^(2): printed as given in text, LaTeX and Unicode."""

    _spellings: dict[str, tuple[str, str]] = {}

    def __new__(cls, text: str, tex: str, uni: str) -> Label:
        cls._spellings[text] = (tex, uni)
        return super().__new__(cls, text)

    def __getnewargs_ex__(self):
        tex, uni = self._spellings[self.name]
        return (self.name, tex, uni), {}

    def _latex(self, printer) -> str:
        return self._spellings[self.name][0]

    def _pretty(self, printer) -> prettyForm:
        return prettyForm(self._spellings[self.name][1])

    def _sympystr(self, printer) -> str:
        return self.name


def unicode_of(expr: sp.Basic) -> str:
    """The one-line Unicode spelling of a symbol of this notation (any other: SymPy's)."""
    parts = getattr(expr, "parts", None)
    return parts.unicode() if parts is not None else "".join(sp.pretty(expr, use_unicode=True).splitlines())


def text_of(expr: sp.Basic) -> str:
    return expr.name if isinstance(expr, (Name, MatrixName)) else sp.sstr(expr)


# SymPy orders the arguments of sums and products by class name; these classes sort exactly as the
# plain Symbol and MatrixSymbol they extend (only their printing differs).
Name.__name__ = Name.__qualname__ = "Symbol"
Label.__name__ = Label.__qualname__ = "Symbol"
MatrixName.__name__ = MatrixName.__qualname__ = "MatrixSymbol"


def spelling(base: str, *, tag: str = "", layer: int | None = None, step: object = None,
             unit: tuple[int, ...] = ()) -> str:
    return Parts(base, tag, layer, "" if step is None else str(step), unit).text()


@lru_cache(maxsize=8192)
def name(base: str, **parts: Any) -> Name:
    """The symbol of ``base`` with its parts (tag, layer, step, unit), e.g. name("h", step=3) is h_3."""
    return Name(spelling(base, **parts))


def matrix(base: str, rows: int, cols: int, **parts: Any) -> MatrixName:
    return MatrixName(spelling(base, **parts), rows, cols)


# ---------------------------------------------------------------- symbols indexed by a symbolic step


def step_text(index: sp.Expr) -> str:
    """k + 1 → 'k+1', T → 'T', 3 → '3' (compact, state-first order)."""
    return sp.sstr(index).replace(" ", "")


def factor_joint(left: str, right: str) -> str:
    """What goes between two LaTeX factors of a product: a space, as in print (w h_{t-1}), or a \\cdot
    between two numbers (juxtaposed they read as one number) and before a cases block, a ∑ or a ∏ (none
    of them shows where it ends, so nothing may seem to run into it)."""
    apart = (left[-1:].isdigit() and right[:1].isdigit()) or right.startswith((r"\begin", r"\sum", r"\prod")) \
        or left.rstrip("}").endswith(r"\end{cases")
    return r" \cdot " if apart else " "


def side_by_side(parts: list[str]) -> str:
    """LaTeX factors of a product written side by side, as in print: w h_{t-1}, (h_T - y) w (1 - h_T^2),
    joined as factor_joint says."""
    out = parts[0] if parts else ""
    for left, right in zip(parts, parts[1:], strict=False):
        out += factor_joint(left, right) + right
    return out


class OrderedMul(sp.Mul):
    """A product kept and printed in the order it was built: (h_3 − y)·w(1 − h_3²)·w(1 − h_2²)·…"""

    def _delimited(self, i: int, big: bool = True) -> bool:
        """Whether factor ``i`` is printed in parentheses: a sum, a negative factor after the first (x·(−y),
        never x·−y), and (``big``: where a big operator is drawn, not spelled as a call) a ∑ or ∏ that other
        factors follow — read the usual way, a big operator reaches to the end of its term."""
        arg = self.args[i]
        return (isinstance(arg, sp.Add) or (i > 0 and _negative(arg))
                or (big and isinstance(arg, (sp.Sum, sp.Product)) and i < len(self.args) - 1))

    def _start(self) -> int:
        """1 when the product is −1 times other factors (printed −x·y, not (−1)·x·y), else 0."""
        return 1 if len(self.args) > 1 and self.args[0] == -1 else 0

    def _factors(self, printer, joiner: str, paren: Callable[[str], str], big: bool = True) -> str:
        start = self._start()
        return "-" * start + joiner.join(paren(printer._print(arg)) if self._delimited(i, big) else printer._print(arg)
                                         for i, arg in enumerate(self.args) if i >= start)

    def _latex(self, printer) -> str:
        start = self._start()
        return "-" * start + side_by_side([rf"\left({printer._print(arg)}\right)" if self._delimited(i)
                                           else printer._print(arg) for i, arg in enumerate(self.args) if i >= start])

    def _sympystr(self, printer) -> str:
        return self._factors(printer, "*", lambda t: f"({t})", big=False)

    def _pretty(self, printer) -> prettyForm:
        forms, start = [], self._start()
        for i, arg in enumerate(self.args[start:], start):
            form = printer._print(arg)
            forms.append(prettyForm(*form.parens()) if self._delimited(i) else form)
        out = forms[0]
        for form in forms[1:]:
            out = prettyForm(*out.right("⋅"))
            out = prettyForm(*out.right(form))
        return prettyForm(*out.left("-")) if start else out


def _negative(arg: sp.Basic) -> bool:
    """A factor printed with a leading minus: a negative number, or a product that starts with −1."""
    return bool((arg.is_Number and arg.is_negative) or (isinstance(arg, sp.Mul) and arg.args and arg.args[0] == -1))


class OrderedSum(sp.Add):
    """A sum kept and printed in the order it was built (one term per path, or per step)."""

    def _terms(self, printer, plus: str, minus: str) -> str:
        out = []
        for i, arg in enumerate(self.args):
            negative = isinstance(arg, sp.Mul) and arg.args and arg.args[0] == -1
            text = printer._print(-arg if negative else arg)
            out.append((minus if negative else plus) + text if i else ("-" if negative else "") + text)
        return "".join(out)

    def _latex(self, printer) -> str:
        return self._terms(printer, " + ", " - ")

    def _sympystr(self, printer) -> str:
        return self._terms(printer, " + ", " - ")

    def _pretty(self, printer) -> prettyForm:
        out = None
        for arg in self.args:
            negative = isinstance(arg, sp.Mul) and arg.args and arg.args[0] == -1
            form = printer._print(-arg if negative else arg)
            if out is None:
                out = prettyForm(*form.left("-")) if negative else form
            else:
                out = prettyForm(*out.right(" - " if negative else " + "))
                out = prettyForm(*out.right(form))
        return out


class OrderedMatSum(sp.MatAdd):
    """The matrix counterpart of OrderedSum."""

    def _latex(self, printer) -> str:
        return " + ".join(printer._print(a) for a in self.args)

    def _sympystr(self, printer) -> str:
        return " + ".join(printer._print(a) for a in self.args)

    def _pretty(self, printer) -> prettyForm:
        out = printer._print(self.args[0])
        for arg in self.args[1:]:
            out = prettyForm(*out.right(" + "))
            out = prettyForm(*out.right(printer._print(arg)))
        return out


OrderedMul.__name__ = OrderedMul.__qualname__ = "Mul"
OrderedMatSum.__name__ = OrderedMatSum.__qualname__ = "MatAdd"
OrderedSum.__name__ = OrderedSum.__qualname__ = "Add"


class Seq(sp.Function):
    """A scalar sequence h(k), w-free: printed h_k, h_{k+1}, hₖ₊₁ in the notation's three spellings.
    Subclasses are made per base by ``seq``; ``at(n)`` gives the concrete symbol h_n."""

    base, tag, layer, unit = "h", "", None, ()
    is_real = True

    @property
    def parts(self) -> Parts:
        return Parts(self.base, self.tag, self.layer, step_text(self.args[0]), self.unit)

    def _latex(self, printer, exp: str | None = None) -> str:
        text = self.parts.latex()
        return f"{text}^{{{exp}}}" if exp else text

    def _pretty(self, printer) -> prettyForm:
        return prettyForm(self.parts.unicode())

    def _sympystr(self, printer) -> str:
        return self.parts.text()

    def concrete(self) -> Name:
        return Name(self.parts.text())


_SEQS: dict[tuple, type] = {}


def seq(base: str, tag: str = "", layer: int | None = None, unit: tuple[int, ...] = ()) -> type:
    key = (base, tag, layer, unit)
    if key not in _SEQS:
        label = re.sub(r"\W", "", Parts(base, tag, layer, "", unit).text())
        _SEQS[key] = type(f"seq_{label}_{len(_SEQS)}", (Seq,), {"base": base, "tag": tag, "layer": layer,
                                                                "unit": unit})
    return _SEQS[key]


class MatSeq(sp.MatrixExpr):
    """A sequence of matrices or vectors J(t), δ(t−1): printed J_t, δ_{t-1}; ``concrete`` at a number."""

    def __new__(cls, spelled: str | sp.Symbol, index: sp.Expr, rows: int, cols: int,
                transposed: bool | sp.Basic = False) -> MatSeq:
        name = spelled if isinstance(spelled, sp.Symbol) else sp.Symbol(spelled)
        flag = sp.true if transposed in (True, sp.true) else sp.false
        return super().__new__(cls, name, sp.sympify(index), sp.sympify(rows), sp.sympify(cols), flag)

    @property
    def transposed(self) -> bool:
        return self.args[4] is sp.true

    @property
    def shape(self) -> tuple:
        return (self.args[3], self.args[2]) if self.transposed else (self.args[2], self.args[3])

    @property
    def T(self) -> MatSeq:  # noqa: N802 - SymPy's name for the transpose
        return MatSeq(self.args[0], self.args[1], self.args[2], self.args[3], not self.transposed)

    @property
    def parts(self) -> Parts:
        p = parse(self.args[0].name)
        return Parts(p.base, p.tag, p.layer, step_text(self.args[1]))

    def _latex(self, printer) -> str:
        text = self.parts.latex()
        return f"{{{text}}}^{{\\top}}" if self.transposed else text

    def _pretty(self, printer) -> prettyForm:
        return prettyForm(self.parts.unicode() + ("ᵀ" if self.transposed else ""))

    def _sympystr(self, printer) -> str:
        return self.parts.text() + (".T" if self.transposed else "")

    def concrete(self) -> sp.MatrixExpr:
        value = MatrixName(self.parts.text(), self.args[2], self.args[3])
        return Tr(value) if self.transposed else value


class Dots(sp.MatrixSymbol):
    """The ⋯ inside an ordered product J_T ⋯ J_{k+1}."""

    def _latex(self, printer) -> str:
        return r"\cdots"

    def _pretty(self, printer) -> prettyForm:
        return prettyForm("⋯")

    def _sympystr(self, printer) -> str:
        return "..."


class ScalarDots(sp.Symbol):
    """The ⋯ inside an ordered scalar product."""

    def _latex(self, printer) -> str:
        return r"\cdots"

    def _pretty(self, printer) -> prettyForm:
        return prettyForm("⋯")

    def _sympystr(self, printer) -> str:
        return "..."


ScalarDots.__name__ = ScalarDots.__qualname__ = "Symbol"


class Tr(sp.Transpose):
    """A transpose printed as ᵀ / ^{\\top} / .T (T is the sequence length here, never the transpose)."""

    def _inner(self, printer, joiner: str) -> tuple[str, bool]:
        arg = self.args[0]
        compound = isinstance(arg, (sp.MatMul, sp.MatAdd, sp.Mul, sp.Add))
        return printer._print(arg), compound

    def _latex(self, printer) -> str:
        inner, compound = self._inner(printer, " ")
        return rf"\left({inner}\right)^{{\top}}" if compound else f"{{{inner}}}^{{\\top}}"

    def _pretty(self, printer) -> prettyForm:
        form = printer._print(self.args[0])
        if isinstance(self.args[0], (sp.MatMul, sp.MatAdd, sp.Mul, sp.Add)):
            form = prettyForm(*form.parens())
        return prettyForm(*form.right("ᵀ"))

    def _sympystr(self, printer) -> str:
        inner, compound = self._inner(printer, "@")
        return f"({inner}).T" if compound else f"{inner}.T"


Tr.__name__ = Tr.__qualname__ = "Transpose"
