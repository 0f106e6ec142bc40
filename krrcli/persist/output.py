"""Writing output files atomically: a temporary file next to the target, renamed over it on success.

A temporary file is named ``.krr-<target name>-<random>.tmp`` and lives in the
target's folder. It is removed on any failure or signal krr can handle; only a
``kill -9`` (or a power cut) can leave one behind, and such a file can be deleted.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import OutputError

TEMP_PREFIX = ".krr-"
TEMP_SUFFIX = ".tmp"


def _names_a_folder(path: str) -> bool:
    """``out/``, ``out/.`` and ``out/..`` name a folder whatever is on disk."""
    return path.endswith(("/", os.sep)) or os.path.basename(path) in (".", "..")


def check_writable(path: str, what: str = "output file", inputs: tuple[str, ...] = ()) -> None:
    """Fail early (before any work) when ``path`` cannot be written, or is one of the ``inputs``.

    A symbolic link is followed (its target is written); a character device or a named pipe
    (``/dev/null``, a FIFO) is written as a stream; anything else that is not a regular file
    is refused, and so is a path ending in ``/`` (a folder).
    """
    if path == "-":
        raise OutputError(f"cannot write {what} to stdout ('-'); give a file name")
    real = os.path.realpath(path)
    if os.path.isdir(real):
        raise OutputError(f"cannot write {what} {path!r}: it is a folder; give a file name")
    if _names_a_folder(path):
        raise OutputError(f"cannot write {what} {path!r}: a name ending in '/' means a folder; give a file name")
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {what} {path!r}: folder {folder!r} does not exist")
    if os.path.exists(real):
        if not (_is_stream(real) or stat.S_ISREG(os.stat(real).st_mode)):
            raise OutputError(f"cannot write {what} {path!r}: it is not a regular file")
        if not os.access(real, os.W_OK):
            raise OutputError(f"cannot write {what} {path!r}: the file is read-only")
        for source in inputs:
            if source != "-" and os.path.exists(source) and os.path.samefile(real, source):
                raise OutputError(f"cannot write {what} {path!r}: it is the input file; give another name")
    if not _is_stream(real) and not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what} {path!r}: no permission to write in {folder!r}")


def _is_stream(path: str) -> bool:
    """A character device or a named pipe: written in place, as nothing can be renamed over it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def temp_prefix(real: str) -> str:
    """``.krr-<target name>-``: a left-over temporary file says what it was for (name cut to 100 characters)."""
    return f"{TEMP_PREFIX}{os.path.basename(real)[:100]}-"


@contextmanager
def atomic_write(path: str, mode: str = "wb", what: str = "output file") -> Iterator[Any]:
    """Open a temporary file next to ``path``; rename it over ``path`` only on success.

    A failure or interruption removes the temporary file and leaves any existing ``path``
    untouched. A symbolic link is written through (its target is replaced); a device or a
    named pipe is written directly, as a stream.
    """
    check_writable(path, what)
    kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
    real = os.path.realpath(path)
    if _is_stream(real):
        try:
            with open(real, mode, **kwargs) as fh:
                yield fh
        except OSError as exc:
            raise OutputError(f"cannot write {what} {path!r}: {exc.strerror or exc}") from None
        return
    folder = os.path.dirname(real)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(real), suffix=TEMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _rename_over(tmp, real)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {what} {path!r}: {exc.strerror or exc}") from None
        raise
    _sync_folder(folder)


def _rename_over(tmp: str, real: str) -> None:
    """Give ``tmp`` the mode ``real`` has (or a new file's), and rename it over ``real``."""
    if os.path.exists(real):
        try:
            os.chmod(tmp, os.stat(real).st_mode & 0o777)
        except OSError:
            pass
    else:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, real)


def _sync_folder(folder: str) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def write_staged(path: str, write: Any, what: str = "output file") -> str:
    """Write a temporary file next to ``path`` with ``write(fh)`` (text), synced; return its name for
    :func:`commit_staged` (or :func:`discard_staged`). Several files then appear together, or none."""
    real = os.path.realpath(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(real), suffix=TEMP_SUFFIX, dir=os.path.dirname(real))
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as exc:
        discard_staged([tmp])
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {what} {path!r}: {exc.strerror or exc}") from None
        raise
    return tmp


def commit_staged(staged: list[tuple[str, str]]) -> None:
    """Rename each ``(temporary, path)`` over its path."""
    for tmp, path in staged:
        real = os.path.realpath(path)
        _rename_over(tmp, real)
        _sync_folder(os.path.dirname(real))


def discard_staged(tmps: list[str]) -> None:
    for tmp in tmps:
        try:
            os.unlink(tmp)
        except OSError:
            pass
