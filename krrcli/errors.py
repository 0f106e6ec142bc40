"""The one error hierarchy of krr.

Every mistake a user can make ends in a :class:`KrrError` subclass whose message
says what is wrong, where, and how to fix it. The command-line front end catches
them in one place, prints the message as one line on stderr and exits with the
class's ``exit_code``.
"""

from __future__ import annotations

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_MODEL_FILE = 4
EXIT_OUTPUT = 5
EXIT_RESOURCES = 6
EXIT_CLUSTER = 7
EXIT_INTERRUPTED = 130


class KrrError(Exception):
    """Base class of every error krr reports to a user."""

    exit_code = EXIT_INTERNAL


class UsageError(KrrError, ValueError):
    """An option or parameter value is invalid (alpha < 0, an unknown kernel, a bad grid)."""

    exit_code = EXIT_USAGE


class DataError(KrrError, ValueError):
    """Input data cannot be used: unreadable file, bad cell, missing column, too few rows."""

    exit_code = EXIT_DATA


class NotFittedError(UsageError, AttributeError):
    """A model was used before ``fit``. Also scikit-learn's ``NotFittedError`` (a ``ValueError`` and an
    ``AttributeError``) when scikit-learn is in use: see :func:`krrcli.sklearn_compat.not_fitted`."""


class DataTypeError(DataError, TypeError):
    """Input that is not numbers at all (a Python object where a number should be); a ``TypeError`` too,
    as numpy's conversion raises."""


class ModelFileError(KrrError):
    """A model file is missing, corrupt, truncated, unsafe, foreign or too new."""

    exit_code = EXIT_MODEL_FILE


class OutputError(KrrError):
    """An output file cannot be written (a folder, a missing folder, no permission)."""

    exit_code = EXIT_OUTPUT


class ResourceError(KrrError, MemoryError):
    """The work would need more memory than this machine has available."""

    exit_code = EXIT_RESOURCES


class ClusterError(KrrError):
    """The Dask cluster failed the work: its scheduler cannot be reached, or its workers were lost."""

    exit_code = EXIT_CLUSTER


class KrrWarning(UserWarning):
    """A condition the user should know about that did not stop the work (a fallback, a skipped grid point)."""


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived: unwind (temporary files removed, workers stopped), then exit.

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception`` swallows it;
    the exit status is the shell's convention, 128 + the signal number.
    """

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.exit_code = 128 + signum
