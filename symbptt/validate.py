"""Checks of arguments shared by the command line and the Python API: each raises a one-line
SymbpttError that names the argument, so misuse from Python reads like misuse from the shell."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .errors import SymbpttError


def count_text(value: int) -> str:
    """A whole number as a message shows it: its digits below 10^12, else its size ("about 10^300"), never
    hundreds of figures (nor Python's refusal to write more than 4300)."""
    if abs(value) < 10**12:
        return str(value)
    return f"about {'-' if value < 0 else ''}10^{math.log10(abs(value)):.4g}"


def steps_text(T: int) -> str:
    """"T=1000" as a message names a number of steps, "T of about 10^300" where count_text gives a size."""
    return f"T={T}" if abs(T) < 10**12 else f"T of {count_text(T)}"


def integer(name: str, value: object, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in [low, high]; bools, floats and strings are refused, not converted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SymbpttError(f"{name} must be a whole number, got {type(value).__name__} {value!r:.40}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise SymbpttError(f"{name} must be {bounds}, got {count_text(value)}")
    return value


MAX_SEED = 2**32 - 1  # the largest seed the command line takes
# ranges the command line and the Python functions both check (kept here: the command line reads this
# module at start-up, the functions' own modules import SymPy or NumPy)
CHECK_MAX_T = 12  # the largest T a `check` trial may draw
VERIFY_MAX_T = 12  # the largest T `verify` tests a formula at
VERIFY_MAX_POINTS = 20  # random networks per T in `verify`
MIN_WIDTH = 40  # the narrowest text width (columns) derive prints to


def seed(value: object, name: str = "seed (--seed)") -> int:
    """A seed: a whole number from 0 to MAX_SEED, as the command line takes it."""
    return integer(name, value, 0, MAX_SEED)


def number(name: str, value: object, positive: bool = False) -> float:
    """``value`` as a finite float (positive if asked); strings and bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SymbpttError(f"{name} must be a number, got {type(value).__name__} {value!r:.40}")
    value = float(value)
    if not math.isfinite(value):
        raise SymbpttError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise SymbpttError(f"{name} must be positive, got {value:g}")
    return value


def flag(name: str, value: object, optional: bool = False) -> bool | None:
    """``value`` as a bool (None allowed when ``optional``); strings and numbers are refused, not read
    as true or false ('no' is a non-empty string)."""
    if value is None and optional:
        return None
    if not (isinstance(value, bool) or type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")):
        allowed = "True, False or None" if optional else "True or False"
        raise SymbpttError(f"{name} must be {allowed}, got {type(value).__name__} {value!r:.40}")
    return bool(value)


def choice(name: str, value: object, allowed: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise SymbpttError(f"{name} must be one of {', '.join(allowed)}, got {value!r:.40}")
    return value


def text(name: str, value: object, what: str) -> str:
    """``value`` where it is a string, else one line naming ``name`` and ``what`` it must be: a list, an
    array or a number handed where a name belongs is refused here, before a lookup or comparison fails
    on it."""
    if not isinstance(value, str):
        raise SymbpttError(f"{name} must be {what}, got {type(value).__name__} {_repr(value)}")
    return value


def _repr(value: object) -> str:
    """``value``'s repr cut to 40 characters, on one line."""
    return " ".join(repr(value).split())[:40]


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as it is printed in a message: "3×4", "()" for a number."""
    return "×".join(map(str, shape)) or "()"


def shape_words(shape: tuple[int, ...]) -> str:
    """A wanted shape in words: "a number", "a vector of 3", "3×4"."""
    if not shape:
        return "a number"
    return f"a vector of {shape[0]}" if len(shape) == 1 else "×".join(map(str, shape))


def array(name: str, value: object, shape: tuple[int, ...] | None = None, finite: bool = True) -> Any:
    """``value`` as a float64 NumPy array of real numbers (of ``shape`` when given, all finite when
    ``finite``); strings, None and objects NumPy cannot read are refused.  NumPy is imported here, not
    with this module, which the command line's start-up reads."""
    import numpy as np

    if type(value) is np.ndarray and value.dtype == np.float64:  # already what is wanted (no copy made)
        arr = value
    else:
        if isinstance(value, (str, bytes)) or value is None:
            raise SymbpttError(f"{name} must be an array of numbers, got {type(value).__name__}")
        try:
            arr = np.asarray(value)
        except Exception:  # an object NumPy cannot read (a tensor on a GPU, a broken sequence)
            raise SymbpttError(f"{name} must be an array of numbers") from None
        if arr.dtype.kind not in "iuf":
            raise SymbpttError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        arr = arr.astype(float, copy=False)
    if shape is not None and arr.shape != shape:
        raise SymbpttError(f"{name} must be {shape_words(shape)}, got shape {shape_text(arr.shape)}")
    if finite:
        all_finite({name: arr})
    return arr


SMALL = 32  # up to this many numbers, all_finite reads them in Python (1.9 against 5.4 µs for 4 numbers)


def all_finite(named: dict[str, Any], prefix: str = "") -> None:
    """Refuses, in one line naming the first (its name after ``prefix``), float arrays that hold inf or
    NaN — looked at all at once (one look per array costs more than a small gradient's pass)."""
    import numpy as np

    arrays = list(named.values())
    if sum(arr.size for arr in arrays) <= SMALL:  # a few numbers: read one by one, no array made
        finite = all(math.isfinite(v) for arr in arrays for v in arr.flat)
    else:
        finite = bool(np.isfinite(arrays[0] if len(arrays) == 1
                                  else np.concatenate([arr.reshape(-1) for arr in arrays])).all())
    if not finite:
        bad = next(name for name, arr in named.items() if not np.isfinite(arr).all())
        raise SymbpttError(f"{prefix}{bad} holds inf or NaN")


def instance(function: str, value: object, kind: type, noun: str, example: str) -> None:
    """Refuses, in one line, a ``value`` that is not a ``kind`` (``noun``: "an RNN"; ``example``: a call
    that works): a public function handed the wrong object says so instead of failing on an attribute
    deep inside."""
    if not isinstance(value, kind):
        raise SymbpttError(f"{function} takes {noun}, e.g. {example}; got {type(value).__name__}")


__all__ = ["CHECK_MAX_T", "MAX_SEED", "MIN_WIDTH", "VERIFY_MAX_POINTS", "VERIFY_MAX_T", "all_finite", "array", "choice",
           "flag", "instance", "integer", "number", "seed", "shape_text", "shape_words", "text"]
