"""The ``krr`` command line: thin commands over :mod:`krrcli.api`, one error handler.

Every :class:`~krrcli.errors.KrrError` is caught here, once, and printed as one
line on stderr; the process exits with the error's code (see the README's table).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import traceback
import warnings
from typing import Any

from .. import __version__
from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OUTPUT, EXIT_RESOURCES, Interrupted, KrrError
from .console import printable, state

COMMANDS = ("cv", "fit", "inspect", "predict")  # (the order help lists them in)


def _command_line(argv: list[str]) -> Any:
    """The application with the command ``argv`` names registered, or every command (for help, or a name
    that is none of them): building a command's options is most of the start-up, so a command builds its own
    only. Each module registers its command when imported."""
    import importlib

    from .app import app

    name = next((a for a in argv if not a.startswith("-")), None)
    for command in (name,) if name in COMMANDS else COMMANDS:
        importlib.import_module(f".{command}", __name__)
    return app


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    if state.get("interrupted"):
        return
    sys.stderr.write(f"krr: warning: {message}\n")


def _interrupt(signum: int, frame: Any) -> None:
    # from here on, helper threads and worker pools that die with the process stay quiet
    state["interrupted"] = True
    threading.excepthook = lambda args: None
    raise Interrupted(signum, signal.Signals(signum).name)


def _catch_signals() -> dict[int, Any]:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`Interrupted`; return the handlers they replace."""
    old: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return old
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            num = getattr(signal, name)
            old[num] = signal.signal(num, _interrupt)
    return old


def _guard_standard_streams() -> None:
    """Started with stdin, stdout or stderr closed (``<&-``, ``2>&-``): put /dev/null on the free
    descriptor, so that no file krr opens later takes its number (and receives what is meant for
    the terminal), and give Python a stderr that swallows messages, so the exit code stays the same."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:
                continue
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)


def main(argv: list[str] | None = None) -> int:
    """Run ``krr`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _guard_standard_streams()
    if sys.stdout is None:  # started with stdout closed (>&-)
        sys.stderr.write("krr: error: standard output is closed\n")
        return EXIT_OUTPUT
    state["debug"] = False
    state["interrupted"] = False
    old_excepthook = threading.excepthook
    old_show = warnings.showwarning
    warnings.showwarning = _show_warning
    old_handlers = _catch_signals()
    filters = warnings.catch_warnings()
    filters.__enter__()
    # numpy's floating-point warnings (overflow in a product, say) are not for a user: a result
    # that is not finite is an error of its own, with a line number
    warnings.simplefilter("ignore", RuntimeWarning)
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        if args in (["--version"], ["-V"]):  # (what the option prints, without building the command line)
            sys.stdout.write(f"krr {__version__}\n")
            sys.stdout.flush()
            return 0
        _command_line(args)(args=args, prog_name="krr")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KrrError as exc:
        return _report(f"krr: error: {exc}", exc.exit_code)
    except Interrupted as exc:
        sys.stderr.write("\n" if exc.name == "SIGINT" and sys.stderr.isatty() else "")
        sys.stderr.write(f"krr: interrupted ({exc.name})\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("krr: interrupted\n")
        return EXIT_INTERRUPTED
    except MemoryError:
        return _report(
            "krr: error: ran out of memory; use fewer rows, --dtype float32, or a larger machine", EXIT_RESOURCES
        )
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            return _internal(exc)
        return _report(f"krr: error: cannot write the output: {exc.strerror}", EXIT_OUTPUT)
    except Exception as exc:  # a bug: say so in one line, the traceback with --debug
        return _internal(exc)
    finally:
        filters.__exit__(None, None, None)
        warnings.showwarning = old_show
        threading.excepthook = old_excepthook
        for num, handler in old_handlers.items():
            signal.signal(num, handler)
    return 0


# a full disk, a quota, an I/O error or a closed descriptor while writing stdout
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EBADF}


def _report(line: str, code: int) -> int:
    """One line on stderr (after the traceback with --debug); the exit status is the same either way."""
    if state["debug"]:
        traceback.print_exc()
    line = printable(line)  # one line, and no raw control characters, whatever a name or a path holds
    try:
        sys.stderr.write(line + "\n")
    except (OSError, ValueError):
        pass
    return code


def _internal(exc: BaseException) -> int:
    return _report(
        f"krr: internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)", EXIT_INTERNAL
    )


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
