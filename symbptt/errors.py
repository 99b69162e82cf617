"""The one exception type for bad user input; the CLI turns it into a one-line error and exit code 2."""


class SymbpttError(ValueError):
    """Raised for input the tool refuses: out-of-range sizes, unknown names, malformed files."""
