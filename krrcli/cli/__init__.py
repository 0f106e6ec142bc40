"""The ``krr`` command line: thin commands over :mod:`krrcli.api`, one error handler.

Every :class:`~krrcli.errors.KrrError` is caught here, once, and printed as one
line on stderr; the process exits with the error's code (see the README's table).
"""

from __future__ import annotations

import signal
import sys
import warnings
from typing import Any

from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_RESOURCES, KrrError
from . import cv, fit, inspect, predict  # noqa: F401  (registers the commands)
from .app import app, state


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    sys.stderr.write(f"krr: warning: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Run ``krr`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    state["debug"] = False
    old_show = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        app(args=argv, prog_name="krr")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KrrError as exc:
        if state["debug"]:
            raise
        sys.stderr.write(f"krr: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("krr: interrupted\n")
        return EXIT_INTERRUPTED
    except MemoryError:
        if state["debug"]:
            raise
        sys.stderr.write("krr: error: ran out of memory; use fewer rows, --dtype float32, or a larger machine\n")
        return EXIT_RESOURCES
    except Exception as exc:  # a bug: say so in one line, the traceback with --debug
        if state["debug"]:
            raise
        sys.stderr.write(
            f"krr: internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)\n"
        )
        return EXIT_INTERNAL
    finally:
        warnings.showwarning = old_show
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
