"""What a derivation is: equations lhs = rhs in the notation's symbols, kept in the order they were built.

The data every form returns and every printer reads; nothing here prints (the printers are render.py and
latex.py, the notebook display is forms.py).  Also the tools the forms build with: labels such as ∂L/∂w,
products and sums that keep their order, and ``swap``, which puts a step's symbols into a template.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import sympy as sp

from .. import notation
from ..collector import while_built
from ..printing import latex, text, unicode


class Equation(NamedTuple):
    """lhs = rhs, both SymPy expressions in the notation's symbols (factors kept in time order)."""

    lhs: sp.Basic
    rhs: sp.Basic

    def as_sympy(self) -> sp.Basic:
        """``sympy.Eq(lhs, rhs)`` in plain SymPy classes (ordered sums and products become Add and Mul),
        ready for subs, simplify or lambdify."""
        rhs = self.rhs.materialize() if isinstance(self.rhs, LazySum) else self.rhs
        return sp.Eq(standard(self.lhs), standard(rhs), evaluate=False)



def standard(expr: sp.Basic) -> sp.Basic:
    """``expr`` rebuilt from SymPy's own classes: ordered sums and products, the notation's transpose
    and long sums become Add, Mul, MatAdd, MatMul, Transpose (the symbols stay)."""
    if isinstance(expr, LazySum):
        expr = expr.materialize()
    if not getattr(expr, "args", ()):
        return expr
    args = [standard(a) for a in expr.args]
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(standard)
    for ours, theirs in ((notation.OrderedMatSum, sp.MatAdd), (notation.OrderedSum, sp.Add),
                         (notation.OrderedMul, sp.Mul), (notation.Transposed, sp.Transpose)):
        if isinstance(expr, ours):
            return theirs(*args)
    if isinstance(expr, sp.MatMul):
        return sp.MatMul(*args)
    return expr.func(*args) if tuple(args) != expr.args else expr


class Note(str):
    """A note in words, with its LaTeX spelling (``Note(text, tex)``; ``str(note)`` is the text).  A note that
    ends by stating an equation may give it as ``states = (words before it, left-hand side, right-hand
    side)`` in LaTeX, LaTeX and SymPy: the LaTeX printer then displays it where inline it would be long."""

    tex: str
    states: tuple[str, str, sp.Basic] | None

    def __new__(cls, text: str, tex: str | None = None, states: tuple[str, str, sp.Basic] | None = None) -> Note:
        obj = super().__new__(cls, text)
        obj.tex = tex if tex is not None else text
        obj.states = states
        return obj


class LazySum:
    """A sum too long to hold (a recursive gradient at T = 10⁵): its terms are made when iterated, so a
    renderer can print it term by term; ``materialize`` builds the SymPy sum."""

    def __init__(self, make_terms: Callable[[], Iterator[sp.Basic]]) -> None:
        self.make_terms = make_terms

    def terms(self) -> Iterator[sp.Basic]:
        return while_built(self.make_terms())

    def materialize(self) -> sp.Basic:
        return ordered_sum(list(self.terms()))


class Derivation:
    """What ``derive`` returns: a title, the equations, the definitions of the named factors at a
    generic step t (the "where" clause), and short notes in words.

    Long forms are built lazily: ``stream()`` yields the equations one at a time (what the command line
    prints, in constant memory), ``equations`` builds and keeps the whole list (what the API user gets)."""

    def __init__(self, title: str, equations: list[Equation] | None = None, notes: Sequence[str] | None = None,
                 definitions: list[Equation] | None = None,
                 source: Callable[[], Iterator[Equation]] | None = None) -> None:
        self.title, self.notes, self.definitions = title, list(notes or []), list(definitions or [])
        self._equations = None if equations is None else list(equations)
        self._source = source

    @property
    def equations(self) -> list[Equation]:
        if self._equations is None:
            self._equations = [type(eq)(eq.lhs, eq.rhs.materialize() if isinstance(eq.rhs, LazySum) else eq.rhs)
                               for eq in self.stream()]
        return self._equations

    def stream(self) -> Iterator[Equation]:
        """The equations in order, built one by one unless they were built already (full garbage
        collections rarer while they are iterated, built or printed: collector.while_built)."""
        if self._equations is not None:
            return while_built(iter(self._equations))
        if self._source is None:
            return iter(())
        return while_built(self._source())

    def __repr__(self) -> str:
        count = len(self._equations) if self._equations is not None else "…"
        return f"Derivation({self.title!r}, {count} equations)"



def label(text: str, tex: str, uni: str | None = None) -> sp.Symbol:
    """A symbol used only as a left-hand side, e.g. ∂L/∂w, with its LaTeX and Unicode spellings."""
    return notation.Label(text, tex, uni or text)


def partial(top: sp.Basic, bottom: sp.Basic, plus: bool = False) -> sp.Symbol:
    """The label ∂top/∂bottom in all three spellings."""
    d = "∂⁺" if plus else "∂"
    tex_d = r"\partial^{+}" if plus else r"\partial"
    return label(f"{d}{text(top)}/∂{text(bottom)}",
                 rf"\frac{{{tex_d} {latex(top)}}}{{\partial {latex(bottom)}}}",
                 f"{d}{_one_line(top)}/∂{_one_line(bottom)}")


def _one_line(expr: sp.Basic) -> str:
    return "".join(unicode(expr).splitlines())


def grad_label(entry: sp.Basic) -> sp.Symbol:
    """∂L/∂θ for one parameter (or parameter entry) symbol."""
    return partial(sp.Symbol("L"), entry)


def ordered_product(*factors: sp.Basic) -> sp.Basic:
    """A product that keeps the factors in the order given (printed with order='none')."""
    factors = tuple(f for f in factors if f is not sp.S.One)
    if not factors:
        return sp.S.One
    if len(factors) == 1:
        return factors[0]
    return notation.OrderedMul._from_args(factors)


TermSum = notation.OrderedSum  # a sum kept exactly as built, one summand per path or per step


MatTermSum = notation.OrderedMatSum


def ordered_sum(terms: list[sp.Basic]) -> sp.Basic:
    if not terms:
        return sp.S.Zero
    if len(terms) == 1:
        return terms[0]
    if any(isinstance(t, sp.MatrixExpr) for t in terms):
        return MatTermSum(*terms, evaluate=False)
    return TermSum._from_args(tuple(terms))
