"""Where output goes: data and reports to stdout, everything else to stderr."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported when a report is printed, not at start-up
    from rich.console import Console


# what the whole command line shares: --debug, and whether a signal is stopping the run
state = {"debug": False, "interrupted": False}


def out() -> Console:
    """A console on the current stdout (reports); wide when stdout is a file or a pipe."""
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    from rich.console import Console

    width = None
    if not tty:  # a file or a pipe: no need to wrap, unless COLUMNS says so
        width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 200
    return Console(file=sys.stdout, soft_wrap=True, highlight=False, width=width)


class PlainReport:
    """Report lines on stdout as they are: no wrapping, no markup, no rich (a report of a few lines need not
    pay for importing it); ``bold`` is a terminal's bold, on a terminal only (and not with NO_COLOR)."""

    def __init__(self) -> None:
        try:
            tty = sys.stdout.isatty()
        except (AttributeError, ValueError):
            tty = False
        self.styled = tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.styled else text

    def print(self, text: str = "") -> None:
        sys.stdout.write(text + "\n")


def report() -> PlainReport:
    """Where fit's and inspect's reports are printed."""
    return PlainReport()


def err() -> Console:
    """A console on the current stderr (progress, warnings)."""
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


def printable(text: Any) -> str:
    """``text`` for a terminal: control characters (an escape sequence in a column name or a path
    taken from a file) are shown escaped, as ``\\x1b``, never sent raw."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def print_json(obj: Any) -> None:
    """One JSON object on stdout (NaN and infinities as null)."""
    import json

    sys.stdout.write(json.dumps(_clean(obj), indent=2) + "\n")
    sys.stdout.flush()


def fmt_num(value: Any, digits: int = 4) -> str:
    """A number for a report: ``None`` as a dash, else ``digits`` significant figures."""
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


@contextmanager
def report_after_saving(model_path: str | None) -> Iterator[None]:
    """The report of a command that has already written its model: when stdout fails (a full
    disk, a closed pipe's descriptor), the error says the model is there, and the exit code is 5."""
    from ..errors import OutputError

    try:
        yield
        sys.stdout.flush()
    except OSError as exc:
        if model_path is None:
            raise
        raise OutputError(
            f"the model was saved to {model_path!r}, but the report could not be written to stdout: "
            f"{exc.strerror or exc}"
        ) from None


@contextmanager
def progress_bars() -> Iterator[None]:
    """Draw the library's progress (:mod:`krrcli.progress`) as bars on stderr while the block runs,
    when stderr is a terminal; otherwise show nothing (logs stay clean)."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        yield
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..progress import listening

    bar = Progress(
        TextColumn("{task.fields[label]}"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err(),
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def listen(label: str, done: int, total: int | None, text: str) -> None:
        if done < 0:
            if label in tasks:
                bar.remove_task(tasks.pop(label))
            return
        if label not in tasks:
            tasks[label] = bar.add_task("", total=total, label=printable(label))
        bar.update(tasks[label], completed=done, total=total, description=printable(text))

    with bar, listening(listen):
        yield
