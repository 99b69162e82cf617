"""Reading and writing files safely: inputs are bounded regular files, outputs are written atomically.

Writing: a temporary file in the target's folder, then a rename, so a reader never sees a partial file and
a failure leaves the old file as it was.  The rename never replaces something that is not a regular
file: a character device or a pipe (``-o /dev/stdout``, ``-o /dev/null``) is written through, a folder or
anything else is refused.  An existing file keeps its permissions; a symlink to a regular file keeps
being a symlink (its target is replaced).  Every OS error becomes one line naming the file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from .errors import SymbpttError

MAX_NAME = 255
MAX_PATH = os.pathconf("/", "PC_PATH_MAX") if hasattr(os, "pathconf") else 4096


def _reason(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))


def read_text_file(path: str | Path, what: str, limit: int) -> str:
    """UTF-8 text of a regular file no larger than ``limit`` bytes, or a one-line SymbpttError."""
    data = read_bytes_file(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SymbpttError(f"{what} {path} is not UTF-8 text (byte {data[exc.start]:#04x} at position "
                           f"{exc.start})") from None


def _no_nul(text: str, what: str) -> None:
    """Refuse a path with a NUL byte, which no file name holds (os.stat raises ValueError, not OSError)."""
    if "\x00" in text:
        shown = text.replace("\x00", "\\0")[:80]
        raise SymbpttError(f"{what} '{shown}' contains a NUL byte, which no file name can hold")


def read_bytes_file(path: str | Path, what: str, limit: int) -> bytes:
    """The bytes of a regular file no larger than ``limit`` bytes, or a one-line SymbpttError."""
    path = str(path)
    _no_nul(path, what)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SymbpttError(f"cannot read {what} {path}: {_reason(exc)}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SymbpttError(f"{what} {path} is not a regular file")
    if info.st_size > limit:
        raise SymbpttError(f"{what} {path} is larger than {limit:,} bytes")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise SymbpttError(f"cannot read {what} {path}: {_reason(exc)}") from None
    if len(data) > limit:
        raise SymbpttError(f"{what} {path} is larger than {limit:,} bytes")
    return data


def check_output_path(path: str | Path) -> Path:
    """Refuse, before any work is done, an output path that cannot receive a file."""
    text = str(path)
    if not text or not text.strip():
        raise SymbpttError("the output file name is empty")
    _no_nul(text, "the output file name")
    path = Path(text)
    if len(path.name.encode()) > MAX_NAME:
        raise SymbpttError(f"output file name is longer than {MAX_NAME} bytes")
    if len(os.fsencode(text)) >= MAX_PATH:
        raise SymbpttError(f"output path is longer than the system allows ({MAX_PATH - 1} bytes)")
    if text.endswith(os.sep) or path.is_dir():
        raise SymbpttError(f"output {text!r} is a folder, not a file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SymbpttError(f"output folder {str(folder)!r} does not exist")
    if path.exists() or path.is_symlink():
        try:
            info = os.stat(path)
        except OSError as exc:
            raise SymbpttError(f"cannot write {text}: {_reason(exc)}") from None
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
            raise SymbpttError(f"output {text!r} is not a regular file, a terminal or a pipe")
    elif not os.access(folder, os.W_OK):
        raise SymbpttError(f"cannot write {text}: permission denied")
    return path


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees a partial file (see the module docstring)."""
    path = check_output_path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    target = Path(os.path.realpath(path))
    if target.exists():
        info = os.stat(target)
        if not stat.S_ISREG(info.st_mode):
            _write_through(target, payload, str(path))
            return
        mode = stat.S_IMODE(info.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".sb-", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise SymbpttError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _write_through(target: Path, payload: bytes, shown: str) -> None:
    """A terminal, /dev/null or a pipe: write into it (a pipe with no reader is refused, not waited on)."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        reason = "no program is reading the pipe" if exc.errno == errno.ENXIO else _reason(exc)
        raise SymbpttError(f"cannot write {shown}: {reason}") from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise SymbpttError(f"cannot write {shown}: {_reason(exc)}") from None
    finally:
        os.close(fd)


def strict_json(obj: Any) -> str:
    """JSON with sorted keys and no NaN/Infinity tokens (non-finite floats become null)."""
    return json.dumps(_clean(obj), sort_keys=True, indent=2, allow_nan=False) + "\n"


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    return obj
