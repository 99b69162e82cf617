"""``derive``: one form of the BPTT gradient, built from the per-step factors and shown in a notebook.

Forms (each a list of equations lhs = rhs; one module each under symbolic/):
    unroll     the forward equations (h_t = σ(W h_{t-1} + U x_t + b) for the vanilla cell) and the loss
    factors    the local partials of one step, every route factor J_t, F_t, V_t and the immediate
               partials ∂⁺h_t/∂θ
    general    a formula for symbolic T (Sum/Product for the scalar model, ordered products otherwise)
    explicit   Σ_k (h_T − y)·J_T ⋯ J_{k+1}·∂⁺h_k/∂θ for the given T, every factor in time order
    recursive  δ_T = h_T − y,  δ_{t-1} = J_tᵀ δ_t (+ h_{t-1} − y_{t-1}),  ∂L/∂θ = Σ_t (…)
    expanded   the gradient substituted down to parameters and inputs (small T only)

What ``derive`` returns displays itself in Jupyter (typeset, or as Unicode in a terminal IPython): the
display lives here, above the printers, so that the data types below know nothing of printing.
"""

from __future__ import annotations

from collections.abc import Callable

from sympy.printing.pretty.stringpict import prettyForm

from .budget import check_form_size
from .errors import SymbpttError
from .latex import equation_lines, latex_cache, snippet
from .model import RNN
from .paths import default_wrt, resolve_wrt
from .render import DEFAULT_WIDTH, pretty_equation, render_lines, render_text, text_equation
from .symbolic import derivation
from .symbolic.derivation import LazySum
from .symbolic.explicit import form_explicit
from .symbolic.general import general_form
from .symbolic.recursive import form_recursive
from .symbolic.unrolled import form_expanded, form_factors, form_unroll
from .validate import flag

__all__ = ["FORMS", "Derivation", "Equation", "derive"]


class Equation(derivation.Equation):
    """An equation that shows itself: short text as its repr, typeset in a notebook."""

    __slots__ = ()

    def __repr__(self) -> str:
        text = text_equation(self) if not isinstance(self.rhs, LazySum) else f"{self.lhs} = (a long sum)"
        return f"Equation({text if len(text) <= 70 else text[:67] + '...'})"

    def _repr_latex_(self) -> str:
        rows = equation_lines(self, latex_cache())
        return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(pretty_equation(self))


class Derivation(derivation.Derivation):
    """A derivation that shows itself in a notebook (its equations are ``Equation``s of this module), and
    prints as SymPy objects do: ``str(d)`` and ``sympy.pretty(d)`` the Unicode form, ``sympy.latex(d)``
    the LaTeX; ``d.text()``, ``d.pretty()`` and ``d.latex()`` say which."""

    def __init__(self, built: derivation.Derivation) -> None:
        super().__init__(built.title, None, built.notes, [Equation(*eq) for eq in built.definitions],
                         source=lambda: (Equation(*eq) for eq in built.stream()))

    def text(self, width: int = DEFAULT_WIDTH) -> str:
        """One equation per line in the text notation (NumPy-style operators), what `--format text` prints."""
        return render_text(self, pretty=False, width=width)

    def pretty(self, width: int = DEFAULT_WIDTH) -> str:
        """The Unicode form, what `symbptt derive` prints."""
        return render_text(self, pretty=True, width=width)

    def latex(self) -> str:
        """The amsmath snippet (align*), what `symbptt latex` prints."""
        return snippet(self)

    def __str__(self) -> str:
        return self.pretty()

    def _latex(self, printer: object = None) -> str:  # sympy.latex(d)
        return self.latex()

    def _pretty(self, printer: object = None) -> prettyForm:  # sympy.pretty(d)
        lines = self.pretty().splitlines()
        width = max(map(len, lines))
        return prettyForm("\n".join(line.ljust(width) for line in lines))  # left-aligned, as printed

    def _sympystr(self, printer: object = None) -> str:  # sympy.sstr(d)
        return self.text()

    SHOWN = 40  # equations a notebook shows before it elides the middle

    def _shown(self) -> tuple[list[derivation.Equation], int]:
        """The equations a rich display shows (the first and last few of a long form) and how many it
        leaves out."""
        head, tail, skipped = list[derivation.Equation](), list[derivation.Equation](), 0
        for eq in self.stream():
            if len(head) < self.SHOWN - 5:
                head.append(eq)
            else:
                tail.append(eq)
                if len(tail) > 5:
                    tail.pop(0)
                    skipped += 1
        return head + tail, skipped

    def _repr_latex_(self) -> str:
        """The form typeset as in `symbptt latex` (an aligned block; a long form with its middle elided)."""
        shown, skipped = self._shown()
        cache = latex_cache()
        rows = [r"&\text{" + self.title.replace("_", r"\_") + "}"]
        for i, eq in enumerate(shown):
            if skipped and i == len(shown) - 5:
                rows.append(rf"&\vdots\quad\text{{({skipped} more equations)}}")
            if isinstance(eq.rhs, LazySum):
                rows.append(r"&\text{(a sum too long to show)}")
                continue
            lines = equation_lines(eq, cache)
            if len(lines) > 20:  # a long sum: its first and last lines
                lines = [*lines[:15], rf"&\quad + \cdots\ \text{{({len(lines) - 18} more lines)}}", *lines[-3:]]
            rows += lines
        for i, eq in enumerate(self.definitions):
            rows += equation_lines(eq, cache, r"\text{where } " if i == 0 else r"\phantom{\text{where }}")
        return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        lines = []
        for line in render_lines(self, pretty=True):
            lines.append(line)
            if len(lines) > 400:
                lines.append("… (the rest: render_lines(derivation) or `symbptt derive` prints it all)")
                break
        printer.text("\n".join(lines))


FORMS = ("unroll", "factors", "general", "explicit", "recursive", "expanded")


FORM_BUILDERS: dict[str, Callable[..., derivation.Derivation]] = {
    "unroll": form_unroll,
    "factors": form_factors,
    "general": general_form,
    "explicit": form_explicit,
    "recursive": form_recursive,
    "expanded": form_expanded,
}


def derive(rnn: RNN, form: str = "explicit", wrt: str | None = None, named: bool | None = None) -> Derivation:
    """Build one form of the BPTT gradient of ``rnn`` with respect to ``wrt`` (a parameter name or all;
    default: the cell's first recurrent weight, W for the vanilla cell).
    ``named``: print scalar factors by name (J_3) instead of written out (explicit and recursive)."""
    if not isinstance(rnn, RNN):
        raise SymbpttError(f"derive takes an RNN, e.g. derive(RNN(T=3, cell='lstm')), got {type(rnn).__name__} "
                           f"{rnn!r:.40}")
    if wrt is not None and (not isinstance(wrt, str) or not wrt):
        raise SymbpttError(f"wrt must be a parameter name or 'all', got {wrt!r:.40}")
    if not isinstance(form, str):
        raise SymbpttError(f"form must be one of {', '.join(FORMS)}, got {form!r:.40}")
    named = flag("named", named, optional=True)
    wrt = wrt or default_wrt(rnn)
    wrt = resolve_wrt(rnn, wrt)  # an unknown name is refused by the form
    if form not in FORM_BUILDERS:
        raise SymbpttError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    check_form_size(rnn, form, wrt)
    if form in ("explicit", "recursive"):
        return Derivation(FORM_BUILDERS[form](rnn, wrt, named))
    return Derivation(FORM_BUILDERS[form](rnn, wrt))
