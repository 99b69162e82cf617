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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy as sp

from .printing import Printed

# The built-in cells' parameter bases: how a bare spelling such as "W[1,2]" is read (parse).  A symbol made
# as a parameter (param_name, ParamName) is spelled as one whatever its base; nothing adds to this set.
PARAM_BASES = frozenset({"W", "U", "b", "w", "u"})
GREEK = {"delta": "δ", "sigma": "σ", "gamma": "γ", "theta": "θ", "nu": "ν"}
SUP = str.maketrans("0123456789()+-abcdefghijklmnoprstuvwxyzT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀ")
SUB = str.maketrans("0123456789()+-aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₍₎₊₋ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
SUPERSCRIPTABLE = set("0123456789()+-abcdefghijklmnoprstuvwxyzT")
SUBSCRIPTABLE = set("0123456789()+-aehijklmnoprstuvx")

NODE = re.compile(
    r"(?P<base>[A-Za-z]+)"
    r"(?:\^(?P<tag>(?:[a-z][a-z0-9]*)?)(?:\((?P<layer>\d+)\))?)?"  # a tag may hold a suffix's digits: D^wz0h_t
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


@lru_cache(maxsize=256)
def _latex_base(base: str) -> str:
    """``delta`` → ``\\delta``: SymPy's spelling of a base name (a printer per call is slow), where it is
    one letter or one Greek letter; any other name of several letters (a cell file's ``leak``, ``gate``)
    is ``\\mathit{leak}``: one symbol, where ``leak`` would read as the product l·e·a·k (and SymPy's own
    spelling of ``xdot`` or ``lamda`` would be another symbol, ẋ or λ)."""
    spelled = sp.latex(sp.Symbol(base))
    if len(base) > 1 and spelled != "\\" + base:
        return f"\\mathit{{{base}}}"
    return spelled


@dataclass(frozen=True)
class Parts:
    base: str
    tag: str = ""
    layer: int | None = None
    step: str = ""
    unit: tuple[int, ...] = ()
    is_param: bool = False  # spelled as a parameter: W_f^(2)[1,2] (gate tag low, layer high, no step)

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


@lru_cache(maxsize=32768)  # the printers read every printed symbol's parts: as many as name() keeps
def parse(text: str, params: frozenset[str] = PARAM_BASES) -> Parts:
    """The parts of a text spelling (the inverse of ``Parts.text``), read as a parameter when its base is
    one of ``params``."""
    base = BASE.match(text)
    grammar = PARAM if base and base.group() in params else NODE
    m = grammar.match(text)
    if not m:
        raise ValueError(f"not a symbol of this notation: {text!r}")
    unit = tuple(int(v) for v in m["unit"].split(",")) if m["unit"] else ()
    layer = int(m["layer"]) if m["layer"] else None
    if grammar is PARAM:
        return Parts(m["base"], m["tag"] or "", layer, "", unit, True)
    return Parts(m["base"], m["tag"] or "", layer, (m["step"] or "").strip("()"), unit)


class Name(Printed, sp.Symbol):
    """A real symbol printed by its parts (text = its name; LaTeX and Unicode derived)."""

    printed_as = "Name"  # the printers' method: _print_Name (see printing/)

    def __new__(cls, name: str, **assumptions: bool) -> Name:
        parse(name)
        return super().__new__(cls, name, real=True)

    def __getnewargs_ex__(self):
        return (self.name,), {}

    @classmethod
    def of_parts(cls, text: str) -> Name:
        """The symbol of a spelling made by ``Parts.text`` (valid by construction: not parsed again, and
        made without SymPy's cache of symbols, which the caller's cache stands in for)."""
        return sp.Symbol.__xnew__(cls, text, real=True)

    @property
    def parts(self) -> Parts:
        return parse(self.name)


class ParamName(Name):
    """A parameter's entry (W_f^(2)[1,2], ν[3], a user cell's A_x): spelled as a parameter whatever its base."""

    def __new__(cls, name: str, **assumptions: bool) -> ParamName:
        parse_param(name)
        return sp.Symbol.__new__(cls, name, real=True)

    @property
    def parts(self) -> Parts:
        return parse_param(self.name)


@lru_cache(maxsize=8192)
def parse_param(text: str) -> Parts:
    """The parts of a parameter's spelling, read as a parameter whatever its base."""
    found = BASE.match(text)
    return parse(text, frozenset({found.group()}) if found else frozenset())


class MatrixName(Printed, sp.MatrixSymbol):
    """A matrix or vector symbol (J_3, δ_2, h_0 for n > 1) printed by its parts."""

    printed_as = "MatrixName"

    @property
    def parts(self) -> Parts:
        return parse(self.name)


class ParamMatrixName(MatrixName):
    """A parameter as a matrix or vector symbol (W_f^(2), a user cell's A_x): spelled as a parameter."""

    @property
    def parts(self) -> Parts:
        return parse_param(self.name)


class Label(Printed, sp.Symbol):
    """A left-hand side such as ∂L/∂W^(2): printed as given in text, LaTeX and Unicode (each label carries
    its own spellings; equal labels have equal text)."""

    printed_as = "Label"

    def __new__(cls, text: str, tex: str, uni: str) -> Label:
        made = sp.Symbol.__xnew__(cls, text)  # uncached: each label keeps the spellings it was made with
        made.spellings = (tex, uni)
        return made

    def __getnewargs_ex__(self):
        return (self.name, *self.spellings), {}


# SymPy orders the arguments of sums and products by class name; these classes sort exactly as the
# plain Symbol and MatrixSymbol they extend (only their printing differs).
Name.__name__ = Name.__qualname__ = "Symbol"
ParamName.__name__ = ParamName.__qualname__ = "Symbol"
Label.__name__ = Label.__qualname__ = "Symbol"
MatrixName.__name__ = MatrixName.__qualname__ = "MatrixSymbol"
ParamMatrixName.__name__ = ParamMatrixName.__qualname__ = "MatrixSymbol"


def spelling(base: str, *, tag: str = "", layer: int | None = None, step: object = None,
             unit: tuple[int, ...] = (), param: bool = False) -> str:
    return Parts(base, tag, layer, "" if step is None else str(step), unit, param).text()


@lru_cache(maxsize=32768)  # a form at T = 10⁴ asks for about 24,000 names, each in two passes (δ's, sums)
def name(base: str, **parts: Any) -> Name:
    """The symbol of ``base`` with its parts (tag, layer, step, unit), e.g. name("h", step=3) is h_3."""
    return Name.of_parts(spelling(base, **parts))


@lru_cache(maxsize=8192)
def param_name(base: str, **parts: Any) -> ParamName:
    """The symbol of a parameter's entry: param_name("W", tag="f", layer=2, unit=(1, 2)) is W_f^(2)[1,2]."""
    return ParamName(spelling(base, param=True, **parts))


def matrix(base: str, rows: int, cols: int, **parts: Any) -> MatrixName:
    """The matrix or vector symbol of ``base`` with its parts (J_3, δ^c_2, h^(2)_t)."""
    return MatrixName(spelling(base, **parts), rows, cols)


def param_matrix(base: str, rows: int, cols: int, **parts: Any) -> ParamMatrixName:
    """A parameter as one matrix or vector symbol (W_f, U^(2))."""
    return ParamMatrixName(spelling(base, param=True, **parts), rows, cols)


# ---------------------------------------------------------------- symbols indexed by a symbolic step


def step_text(index: sp.Expr) -> str:
    """k + 1 → 'k+1', T → 'T', 3 → '3' (compact, state-first order)."""
    return sp.sstr(index).replace(" ", "")


class OrderedMul(Printed, sp.Mul):
    """A product kept and printed in the order it was built: (h_3 − y)·w(1 − h_3²)·w(1 − h_2²)·…"""

    printed_as = "OrderedMul"


class OrderedSum(Printed, sp.Add):
    """A sum kept and printed in the order it was built (one term per path, or per step)."""

    printed_as = "OrderedSum"


class OrderedMatSum(Printed, sp.MatAdd):
    """The matrix counterpart of OrderedSum."""

    printed_as = "OrderedMatSum"


OrderedMul.__name__ = OrderedMul.__qualname__ = "Mul"
OrderedMatSum.__name__ = OrderedMatSum.__qualname__ = "MatAdd"
OrderedSum.__name__ = OrderedSum.__qualname__ = "Add"


class Seq(Printed, sp.Function):
    """A scalar sequence h(k), w-free: printed h_k, h_{k+1}, hₖ₊₁ in the notation's three spellings.
    Subclasses are made per base by ``seq``; ``at(n)`` gives the concrete symbol h_n."""

    base, tag, layer, unit = "h", "", None, ()
    is_real = True
    printed_as = "Seq"

    @property
    def parts(self) -> Parts:
        return Parts(self.base, self.tag, self.layer, step_text(self.args[0]), self.unit)

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


class MatSeq(Printed, sp.MatrixExpr):
    """A sequence of matrices or vectors J(t), δ(t−1): printed J_t, δ_{t-1}; ``concrete`` at a number."""

    printed_as = "MatSeq"

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

    def concrete(self) -> sp.MatrixExpr:
        value = MatrixName(self.parts.text(), self.args[2], self.args[3])
        return Transposed(value) if self.transposed else value


class Dots(Printed, sp.MatrixSymbol):
    """The ⋯ inside an ordered product J_T ⋯ J_{k+1}."""

    printed_as = "Dots"


class ScalarDots(Printed, sp.Symbol):
    """The ⋯ inside an ordered scalar product."""

    printed_as = "Dots"


ScalarDots.__name__ = ScalarDots.__qualname__ = "Symbol"


class Transposed(Printed, sp.Transpose):
    """A transpose printed as ᵀ / ^{\\top} / .T (T is the sequence length here, never the transpose)."""

    printed_as = "Transposed"


Transposed.__name__ = Transposed.__qualname__ = "Transpose"
