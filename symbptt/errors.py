"""The one exception type for bad user input (the CLI turns it into a one-line error and exit code 2), and
the one warning the Python API gives."""


class SymbpttError(ValueError):
    """Raised for input the tool refuses: out-of-range sizes, unknown names, malformed files."""

    exit_code = 2


class RunFailed(SymbpttError):
    """A computation the input allowed did not finish (a training run whose numbers stopped being
    finite): one line and exit code 1, the code ``symbptt train`` uses for the same event."""

    exit_code = 1


class RoundingWarning(UserWarning):
    """symbptt.gradients without ``digits``: the δ it computed show that rounding in its pass can be
    amplified beyond what leaves 12 significant digits (numeric/amplification.py); ``digits=12`` measures
    what the gradients keep and recomputes them exactly where they keep fewer."""
