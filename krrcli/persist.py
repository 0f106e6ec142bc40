"""The model file: plain data in a joblib file, written atomically, read safely.

A model file is ``joblib.dump`` of one dict of numpy arrays, numbers, strings and
lists; no class of krr or of any other package is pickled. Loading goes through
a restricted unpickler built on joblib's: the pickle stream may only name
numpy arrays, dtypes and scalars, joblib's array wrapper and plain builtin
types. Anything else (a function, a class, ``os.system``...) is refused before it
is called, and so are arrays of Python objects.
"""

from __future__ import annotations

import datetime as _dt
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .errors import ModelFileError, OutputError

FORMAT_NAME = "krr-model"
FORMAT_VERSION = 1

# The joblib versions whose file layout the safe loader was tested against.
TESTED_JOBLIB = ">=1.3,<1.7"

_ALLOWED_GLOBALS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    *(("builtins", name) for name in ("dict", "list", "tuple", "str", "bytes", "int", "float", "bool", "complex")),
    *(("__builtin__", name) for name in ("dict", "list", "tuple", "str", "bytes", "int", "float", "bool", "complex")),
}


class UnsafeModelFile(pickle.UnpicklingError):
    """The pickle stream asked for something outside the allow-list."""


def _restricted_unpickler_class() -> type:
    from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler

    class RestrictedUnpickler(NumpyUnpickler):
        dispatch = NumpyUnpickler.dispatch.copy()

        def find_class(self, module: str, name: str) -> Any:
            if (module, name) not in _ALLOWED_GLOBALS:
                raise UnsafeModelFile(f"it refers to {module}.{name}, which a krr model never contains")
            return super().find_class(module, name)

        def load_build(self) -> None:
            # Refuse arrays of Python objects before joblib reads them.
            state = self.stack[-1]
            target = self.stack[-2] if len(self.stack) > 1 else None
            if isinstance(target, NumpyArrayWrapper):
                dtype = state.get("dtype") if isinstance(state, dict) else None
                if not isinstance(dtype, np.dtype) or dtype.hasobject:
                    raise UnsafeModelFile("it holds an array of Python objects, which a krr model never contains")
            NumpyUnpickler.load_build(self)

        dispatch[pickle.BUILD[0]] = load_build

        def persistent_load(self, pid: Any) -> Any:
            raise UnsafeModelFile("it uses persistent references, which a krr model never contains")

    return RestrictedUnpickler


def safe_load(path: str) -> Any:
    """Load a joblib file, allowing only plain data and numpy arrays."""
    from joblib.numpy_pickle_utils import _validate_fileobject_and_memmap

    unpickler_cls = _restricted_unpickler_class()
    with open(path, "rb") as fh:
        with _validate_fileobject_and_memmap(fh, path, None) as (fobj, _):
            if isinstance(fobj, str):
                raise UnsafeModelFile("it is in a joblib format older than 0.10")
            obj = unpickler_cls(path, fobj, ensure_native_byte_order=True).load()
    _reject_object_arrays(obj)
    return obj


def _reject_object_arrays(obj: Any) -> None:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise UnsafeModelFile("it holds an array of Python objects, which a krr model never contains")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _reject_object_arrays(k)
            _reject_object_arrays(v)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _reject_object_arrays(v)


# -- atomic writes ----------------------------------------------------------
def check_writable(path: str, what: str = "output file", inputs: tuple[str, ...] = ()) -> None:
    """Fail early (before any work) when ``path`` cannot be written, or is one of the ``inputs``.

    A symbolic link is followed (its target is written); a character device or a named pipe
    (``/dev/null``, a FIFO) is written as a stream; anything else that is not a regular file
    is refused.
    """
    if path == "-":
        raise OutputError(f"cannot write {what} to stdout ('-'); give a file name")
    real = os.path.realpath(path)
    if os.path.isdir(real):
        raise OutputError(f"cannot write {what} {path!r}: it is a folder; give a file name")
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
        fd, tmp = tempfile.mkstemp(prefix=".krr-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
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
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {what} {path!r}: {exc.strerror or exc}") from None
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# -- the model format -------------------------------------------------------
def _versions() -> dict[str, str]:
    import joblib
    import scipy

    from . import __version__

    return {
        "krr": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


def model_to_dict(model: Any, **metadata: Any) -> dict[str, Any]:
    """The plain-data record stored in a model file."""

    def arr(a: Any) -> Any:
        return None if a is None else np.ascontiguousarray(a, dtype=np.float64)

    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kernel": str(model.kernel),
        "gamma": None if model.gamma_ is None else float(model.gamma_),
        "alpha": float(model.alpha),
        "degree": float(model.degree),
        "coef0": float(model.coef0),
        "solver": str(model.solver_),
        "dtype": str(np.dtype(model.dtype)),
        "standardize": bool(model.standardize),
        "mean": arr(model.mean_),
        "scale": arr(model.scale_),
        "X_fit": arr(model.X_fit_),
        "dual_coef": arr(model.dual_coef_),
        "coef": arr(model.coef_),
        "y_1d": bool(model._y_1d),
        "features": list(model.feature_names_in_),
        "targets": list(model.target_names_),
        "train": {k: float(v) for k, v in model.train_scores_.items()},
        "effective_dof": float(model.effective_dof_),
        "effective_dof_exact": bool(model.effective_dof_exact_),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "fit_seconds": float(metadata.get("fit_seconds", float("nan"))),
        "read_seconds": float(metadata.get("read_seconds", float("nan"))),
        "training_sha256": metadata.get("training_sha256"),
        "training_source": metadata.get("training_source"),
    }


def save_model(model: Any, path: str, **metadata: Any) -> None:
    """Write ``model`` to ``path`` atomically as a plain-data joblib file."""
    import joblib

    record = model_to_dict(model, **metadata)
    with atomic_write(path, "wb", what="model file") as fh:
        joblib.dump(record, fh)


_REQUIRED = {
    "kernel": str,
    "alpha": float,
    "degree": float,
    "coef0": float,
    "X_fit": np.ndarray,
    "dual_coef": np.ndarray,
    "features": list,
    "targets": list,
}


def read_model_record(path: str) -> dict[str, Any]:
    """Read and check a model file; raise :class:`ModelFileError` for anything wrong with it."""
    if os.path.isdir(path):
        raise ModelFileError(f"cannot read model file {path!r}: it is a folder")
    if not os.path.exists(path):
        raise ModelFileError(f"cannot read model file {path!r}: no such file")
    try:
        record = safe_load(path)
    except UnsafeModelFile as exc:
        raise ModelFileError(f"refusing to load {path!r}: {exc}") from None
    except PermissionError:
        raise ModelFileError(f"cannot read model file {path!r}: permission denied") from None
    except MemoryError:
        raise ModelFileError(f"cannot load {path!r}: it is corrupt (it asks for more memory than there is)") from None
    except (EOFError, ValueError) as exc:
        detail = "it is truncated" if isinstance(exc, EOFError) or "truncat" in str(exc).lower() else "it is corrupt"
        raise ModelFileError(f"cannot load {path!r}: {detail} or not a joblib file") from None
    except Exception:
        raise ModelFileError(f"cannot load {path!r}: it is corrupt, truncated or not a joblib file") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path!r} is a joblib file but not a krr model")
    version = record.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path!r} has no valid format version; it is not a krr model")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} uses model format version {version}, newer than this krr reads "
            f"(up to {FORMAT_VERSION}); upgrade krr"
        )
    for key, kind in _REQUIRED.items():
        value = record.get(key)
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            continue
        if not isinstance(value, kind):
            raise ModelFileError(f"{path!r} is damaged: entry {key!r} is missing or of the wrong type")
    _check_arrays(record, path)
    return record


def _check_arrays(record: dict[str, Any], path: str) -> None:
    """Shapes and dtypes of the stored arrays must agree with each other and the names."""

    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"{path!r} is damaged: {what}")

    X, W = record["X_fit"], record["dual_coef"]
    features, targets = record["features"], record["targets"]
    if not all(isinstance(f, str) for f in features) or not all(isinstance(t, str) for t in targets) or not targets:
        raise bad("the feature and target names are not lists of strings")
    for key in ("X_fit", "dual_coef", "coef", "mean", "scale"):
        a = record.get(key)
        if a is None:
            continue
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            raise bad(f"entry {key!r} is not an array of floats")
        if not np.all(np.isfinite(a)):
            raise bad(f"entry {key!r} holds NaN or infinite values")
    n, d, t = X.shape[0] if X.ndim == 2 else -1, len(features), len(targets)
    if X.ndim != 2 or X.shape[1] != d or n < 1:
        raise bad("the training rows do not match the feature names")
    if W.shape not in {(n,), (n, t)} or (W.ndim == 1 and t != 1):
        raise bad("the dual weights do not match the training rows and targets")
    coef = record.get("coef")
    if coef is not None and coef.shape not in {(d,), (d, t)}:
        raise bad("the primal weights do not match the features and targets")
    for key in ("mean", "scale"):
        a = record.get(key)
        if a is not None and a.shape != (d,):
            raise bad(f"the scaler's {key} does not match the features")
    if record.get("standardize") and (record.get("mean") is None or record.get("scale") is None):
        raise bad("the model is standardized but holds no scaler")
    gamma = record.get("gamma")
    if gamma is not None and (isinstance(gamma, bool) or not isinstance(gamma, (int, float))):
        raise bad("entry 'gamma' is not a number")
    # the names of solvers.SOLVERS, spelt out: loading a model must not import SciPy
    if record.get("solver", "cholesky") not in ("cholesky", "eigh", "primal"):
        raise bad(f"unknown solver {record.get('solver')!r}")
    if record.get("solver") == "primal" and coef is None:
        raise bad("the primal solver's weights are missing")


def model_from_record(record: dict[str, Any], path: str = "the model file") -> Any:
    """Rebuild a fitted :class:`~krrcli.model.KernelRidge` from a checked record."""
    from .model import KernelRidge, check_dtype, check_params

    try:
        check_params(record["kernel"], record.get("gamma"), record["alpha"], record["degree"], record["coef0"])
        check_dtype(record.get("dtype", "float64"))
    except Exception as exc:
        raise ModelFileError(f"{path!r} is damaged: {exc}") from None
    m = KernelRidge(
        kernel=record["kernel"],
        gamma=record.get("gamma"),
        alpha=record["alpha"],
        degree=record["degree"],
        coef0=record["coef0"],
        standardize=bool(record.get("standardize")),
        solver=record.get("solver", "auto"),
        dtype=record.get("dtype", "float64"),
    )
    m.gamma_ = record.get("gamma")
    m.solver_ = record.get("solver", "cholesky")
    m.X_fit_ = record["X_fit"]
    m._y_1d = bool(record.get("y_1d", False))
    m.dual_coef_ = record["dual_coef"].ravel() if m._y_1d else record["dual_coef"]
    coef = record.get("coef")
    m.coef_ = None if coef is None else (coef.ravel() if m._y_1d else coef)
    m.mean_ = record.get("mean")
    m.scale_ = record.get("scale")
    m.n_features_in_ = record["X_fit"].shape[1]
    m.feature_names_in_ = [str(f) for f in record["features"]]
    m.target_names_ = [str(t) for t in record["targets"]]
    m.effective_dof_ = record.get("effective_dof", float("nan"))
    m.effective_dof_exact_ = bool(record.get("effective_dof_exact", True))
    m.train_scores_ = dict(record.get("train") or {})
    return m


def load_model(path: str) -> Any:
    """Load a fitted :class:`~krrcli.model.KernelRidge` from a krr model file, safely."""
    return model_from_record(read_model_record(path), path)
