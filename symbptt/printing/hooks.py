"""SymPy's own printers routed to this package's: the one mixin the notation's classes carry."""

from __future__ import annotations

from typing import Any

from .latex_printer import LatexPrinter
from .text_printer import TextPrinter
from .unicode_printer import UnicodePrinter


class Printed:
    """Mixin for the notation's classes: SymPy's own printers (``sympy.latex``, ``sympy.pretty``, ``str``)
    print them as this package's printers do, so an expression handed to a user prints the same either
    way.  The hooks only route: the printing itself is the ``_print_<printed_as>`` method of the format's
    printer class (text_printer.py, unicode_printer.py, latex_printer.py), run with SymPy's printer as ``self``."""

    __slots__ = ()
    printed_as: str

    def _sympystr(self, printer: Any, **kwargs: Any) -> Any:
        return getattr(TextPrinter, f"_print_{self.printed_as}")(printer, self, **kwargs)

    def _latex(self, printer: Any, **kwargs: Any) -> Any:
        return getattr(LatexPrinter, f"_print_{self.printed_as}")(printer, self, **kwargs)

    def _pretty(self, printer: Any, **kwargs: Any) -> Any:
        return getattr(UnicodePrinter, f"_print_{self.printed_as}")(printer, self, **kwargs)
