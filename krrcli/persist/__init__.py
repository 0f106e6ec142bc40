"""Model files and output files.

- :mod:`.output`: atomic writes (a temporary file renamed over the target on success);
- :mod:`.joblib_reader`: reading a joblib file without running a pickle, at a bounded cost;
- :mod:`.record`: the model format, a fitted estimator <-> one dict of plain values,
  every field checked on load.
"""

from __future__ import annotations

from .joblib_reader import CorruptModelFile, ForeignFile, UnsafeModelFile, read_joblib
from .output import atomic_write, check_writable
from .record import (
    FORMAT_NAME,
    FORMAT_VERSION,
    check_record,
    model_to_dict,
    read_model_record,
    save_model,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "CorruptModelFile",
    "ForeignFile",
    "UnsafeModelFile",
    "atomic_write",
    "check_record",
    "check_writable",
    "model_to_dict",
    "read_joblib",
    "read_model_record",
    "safe_load",
    "save_model",
]


def safe_load(path: str) -> object:
    """The object in a joblib file of plain data and float arrays, read without running a pickle."""
    return read_joblib(path)
