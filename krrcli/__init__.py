"""krr: kernel ridge regression on CSV files, from the shell or from Python.

>>> from krrcli import KernelRidge, load_model

The public names are imported on first use, so that ``krr --help`` and
``krr --version`` start without loading numpy, scipy or pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "KernelRidge": "estimator",
    "load_model": "api",
    "fit_csv": "api",
    "predict_csv": "api",
    "cv_csv": "api",
    "inspect_model": "api",
    "cross_validate": "selection",
    "KrrError": "errors",
    "UsageError": "errors",
    "DataError": "errors",
    "ModelFileError": "errors",
    "OutputError": "errors",
    "ResourceError": "errors",
    "ClusterError": "errors",
    "NotFittedError": "errors",
    "KrrWarning": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'krrcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
