"""The one exception type for bad user input; the CLI turns it into a one-line error and exit code 2."""


class SymbpttError(ValueError):
    """Raised for input the tool refuses: out-of-range sizes, unknown names, malformed files."""

    exit_code = 2


class RunFailed(SymbpttError):
    """A computation the input allowed did not finish (a training run whose numbers stopped being
    finite): one line and exit code 1, the code ``symbptt train`` uses for the same event."""

    exit_code = 1
