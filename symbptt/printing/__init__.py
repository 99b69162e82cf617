"""One printer per format — text, Unicode, LaTeX — for the notation's SymPy objects.

As in SymPy's own printing package, an object does not print itself: each format is a Printer class
with a ``_print_<Kind>`` method per kind of object (``_print_Name``, ``_print_OrderedMul``, …).  The
notation's classes sort inside SymPy's sums and products as the plain Symbol, Mul or Add they extend,
which is why their class names are those of SymPy; each states its kind for the printers in
``printed_as`` instead, and ``NotationPrinting._print`` dispatches on it before SymPy's own dispatch.

    text(expr)      h_3, (h_3 - y)*w*(1 - h_3**2), W.T, sigmoid(a)        (StrPrinter)
    unicode(expr)   h₃, (h₃ - y)⋅w⋅(1 - h₃²), Wᵀ, σ(a)                   (PrettyPrinter, one picture)
    latex(expr)     h_{3}, \\left(h_{3} - y\\right) w \\left(1 - h_{3}^{2}\\right), {W}^{\\top}

SymPy's own printers reach the same methods through ``Printed``, the mixin every notation class carries:
``sympy.latex(expr)`` of a derived expression prints as ``symbptt.printing.latex(expr)`` does.

Nothing here imports the rest of the package: the printers read what they print from the objects
(their ``parts``, spellings and structure), so every module may print.
"""

from __future__ import annotations

from .dispatch import NotationPrinting
from .hooks import Printed
from .latex_printer import LatexPrinter, braced_call, factor_joint, latex, side_by_side
from .text_printer import TextPrinter, text
from .unicode_printer import UnicodePrinter, unicode, unicode_tables

__all__ = ["LatexPrinter", "NotationPrinting", "Printed", "TextPrinter", "UnicodePrinter", "braced_call",
           "factor_joint", "latex", "side_by_side", "text", "unicode", "unicode_tables"]
