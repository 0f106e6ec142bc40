"""Progress of long work (reading rows, solver iterations), told to whoever listens.

The library reports through :func:`task`; nothing is shown unless a listener is installed
with :func:`listening` (the command line installs one that draws a bar on stderr when stderr
is a terminal). A listener is called as ``listener(label, done, total, text)`` where ``total``
is None when unknown, and once more with ``done = -1`` when the task ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Listener = Callable[[str, int, "int | None", str], None]

_listener: Listener | None = None


class Task:
    """One piece of long work: call :meth:`update` as it advances."""

    def __init__(self, label: str, total: int | None) -> None:
        self.label, self.total, self.done = label, total, 0

    def update(self, done: int, text: str = "", total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if _listener is not None:
            _listener(self.label, done, self.total, text)


@contextmanager
def task(label: str, total: int | None = None) -> Iterator[Task]:
    """A task for the listener, ended (``done = -1``) however the block ends."""
    t = Task(label, total)
    try:
        yield t
    finally:
        if _listener is not None:
            _listener(label, -1, t.total, "")


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send every task's progress to ``listener`` inside the block."""
    global _listener
    old, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = old
