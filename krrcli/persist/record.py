"""The model format: a fitted estimator <-> one dict of plain values, and every field checked on load.

A model file is ``joblib.dump`` of that dict, uncompressed; no class of krr or of any
other package is pickled. It is read back by :mod:`.joblib_reader` (which runs no
pickle), then every field is checked here (type, range, consistency with the other
fields) before a model is built from it. A file that fails any check is refused with
a :class:`~krrcli.errors.ModelFileError` that names the field.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import sys
from typing import Any

import numpy as np

from ..errors import DataError, KrrError, ModelFileError
from ..limits import MAX_CATEGORIES, MAX_COLUMNS
from .joblib_reader import CorruptModelFile, ForeignFile, TextFile, UnsafeModelFile, read_joblib
from .output import atomic_write

FORMAT_NAME = "krr-model"
FORMAT_VERSION = 4
# Format history:
#   1  the rows the model predicts from are "X_fit" (the training rows)
#   2  "centers" and "n_samples_fit" apart (a model may keep fewer rows than it was trained on),
#      and what the solver was given and did: "solver_options", "solver_info", "fallbacks"
#   3  sample weights, intercept, the factor for the posterior variance, categorical columns
#   4  the rows left out for a missing value, and the features' training means

TRAIN_SCORES = ("rmse", "mae", "r2")


def _versions() -> dict[str, str]:
    import joblib

    from .. import __version__

    return {
        "krr": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": _installed_version("scipy"),
        "joblib": joblib.__version__,
    }


def _installed_version(package: str) -> str:
    """A package's version, without importing it when it is not loaded (an exact fit needs no SciPy, and
    importing it only for its version would cost a tenth of a second)."""
    module = sys.modules.get(package)
    if module is not None:
        return str(module.__version__)
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def model_to_dict(model: Any, **metadata: Any) -> dict[str, Any]:
    """The plain-data record stored in a model file."""

    def arr(a: Any) -> Any:
        return None if a is None else np.ascontiguousarray(a, dtype=np.float64)

    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kernel": str(model.kernel_),
        "gamma": None if model.gamma_ is None else float(model.gamma_),
        "alpha": _alpha_value(model.alpha),
        "degree": float(model.degree),
        "coef0": float(model.coef0),
        "solver": str(model.solver_),
        "dtype": str(np.dtype(getattr(model, "dtype_", model.dtype))),
        "standardize": bool(model.standardize),
        "mean": arr(model.mean_),
        "scale": arr(model.scale_),
        "centers": arr(model.centers_),
        "n_samples_fit": int(model.n_samples_fit_),
        "dual_coef": arr(model.dual_coef_),
        "coef": arr(model.coef_),
        "y_1d": bool(model._y_1d),
        "features": list(model.feature_names_in_),
        "targets": list(model.target_names_),
        "train": {k: float(v) for k, v in model.train_scores_.items()},
        "effective_dof": float(model.effective_dof_),
        "effective_dof_exact": bool(model.effective_dof_exact_),
        "solver_options": dict(getattr(model, "solver_options_", {})),
        "solver_info": dict(getattr(model, "solver_info_", {})),
        "fallbacks": list(getattr(model, "fallbacks_", [])),
        "sample_weights": getattr(model, "sample_weights_", None),
        "rows_zero_weight": int(getattr(model, "rows_zero_weight_", 0)),
        "rows_dropped": int(getattr(model, "rows_dropped_", 0)),
        "rows_dropped_lines": [int(v) for v in getattr(model, "rows_dropped_lines_", [])],
        "rows_dropped_files": [str(v) for v in getattr(model, "rows_dropped_files_", [])],
        "feature_means": arr(getattr(model, "feature_means_", None)),
        "intercept": arr(getattr(model, "intercept_", None)),
        **_factor_entries(model),
        **(model.encoder_.to_record() if getattr(model, "encoder_", None) is not None else {}),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "fit_seconds": float(metadata.get("fit_seconds", float("nan"))),
        "read_seconds": float(metadata.get("read_seconds", float("nan"))),
        "training_sha256": metadata.get("training_sha256"),
        "training_source": metadata.get("training_source"),
    }


def _factor_entries(model: Any) -> dict[str, Any]:
    """The factor for the posterior variance as record entries (none when the fit kept no factor)."""
    factor = getattr(model, "factor_", None)
    if not factor:
        return {}
    out: dict[str, Any] = {"factor_kind": factor["kind"]}
    for key, name in (("factor_L", "L"), ("factor_scale", "scale"), ("factor_u", "u"), ("factor_T", "T"),
                      ("factor_R", "R")):  # fmt: skip
        if factor.get(name) is not None:
            out[key] = np.ascontiguousarray(factor[name], dtype=np.float64)
    if factor.get("u_sum") is not None:
        out["factor_u_sum"] = float(factor["u_sum"])
    out["noise_var"] = np.ascontiguousarray(model.noise_var_, dtype=np.float64)
    return out


def _check_factor(record: dict[str, Any], bad: Any, n: int, t: int) -> None:
    """The factor's entries agree with the kind, the centers and the targets."""
    kind = record.get("factor_kind")
    present = [
        k for k in FIELDS_V3_ONLY if k.startswith("factor_") and k != "factor_kind" and record.get(k) is not None
    ]
    if kind is None:
        if present or record.get("noise_var") is not None:
            raise bad(f"entry {present[0] if present else 'noise_var'!r} is set but 'factor_kind' is not")
        return
    need = {"cholesky": ("factor_L",), "nystrom": ("factor_T", "factor_R")}[kind]
    for key in need:
        if record.get(key) is None:
            raise bad(f"a {kind} factor needs entry {key!r}")
    for key in (*need, "factor_scale", "factor_u", "noise_var"):
        a = record.get(key)
        if a is None:
            continue
        square = key in ("factor_L", "factor_T", "factor_R")
        size = t if key == "noise_var" else n
        shape_ok = a.shape == (size, size) if square else a.shape == (size,)
        if not shape_ok or not np.isfinite(a).all():
            raise bad(f"entry {key!r} (shape {a.shape}) does not match the model, or is not finite")
    if record.get("noise_var") is None:
        raise bad("a factor needs entry 'noise_var'")
    if (record.get("factor_u") is None) != (record.get("factor_u_sum") is None):
        raise bad("entries 'factor_u' and 'factor_u_sum' come together")


def _check_categorical(record: dict[str, Any], bad: Any) -> None:
    """The inputs and their categories expand to the features."""
    from ..data.categorical import OneHot

    inputs, categorical = record.get("inputs"), record.get("categorical")
    if (inputs is None) != (categorical is None):
        raise bad("entries 'inputs' and 'categorical' come together")
    if inputs is None:
        return
    if len(set(inputs)) != len(inputs):
        raise bad("entry 'inputs' names a column twice")
    if any(c not in inputs for c in categorical):
        raise bad("entry 'categorical' names a column that is not one of 'inputs'")
    if any(len(set(c)) != len(c) for c in categorical.values()):
        raise bad("entry 'categorical' lists a category twice")
    if any(v != v.strip(" \t\r\n") or not v for c in categorical.values() for v in c):
        raise bad("entry 'categorical' holds a category that no cell gives (empty, or with blanks around it)")
    if OneHot(inputs, categorical).features != record["features"]:
        raise bad("entries 'inputs' and 'categorical' do not expand to the model's 'features'")


def _alpha_value(alpha: Any) -> float | list[float]:
    """alpha as stored: a number, or a list of numbers (one per target)."""
    if np.ndim(alpha) == 0:
        return float(alpha)
    return [float(a) for a in np.asarray(alpha).ravel()]


def save_model(model: Any, path: str, **metadata: Any) -> None:
    """Write ``model`` to ``path`` atomically as a plain-data joblib file."""
    import joblib

    record = model_to_dict(model, **metadata)
    check_record(record, path, saving=True)  # never write a file that would be refused on load
    with atomic_write(path, "wb", what="model file") as fh:
        joblib.dump(record, fh)


# -- reading -------------------------------------------------------------------
def _memory_check(path: str) -> Any:
    from ..resources import check_memory

    def check(nbytes: int, what: str) -> None:
        check_memory(nbytes, f"loading {what} {path!r}", "load it on a machine with more memory")

    return check


def read_model_record(path: str) -> dict[str, Any]:
    """Read and check a model file; raise :class:`ModelFileError` for anything wrong with it."""
    if os.path.isdir(path):
        raise ModelFileError(f"cannot read model file {path!r}: it is a folder")
    if not os.path.exists(path):
        raise ModelFileError(f"cannot read model file {path!r}: no such file")
    try:
        record = read_joblib(path, _memory_check(path))
    except UnsafeModelFile as exc:
        raise ModelFileError(f"refusing to load {path!r}: {exc}") from None
    except EOFError:
        raise ModelFileError(f"cannot load {path!r}: it is truncated or not a joblib file") from None
    except TextFile as exc:
        raise ModelFileError(f"cannot load {path!r}: {exc}") from None
    except CorruptModelFile as exc:
        raise ModelFileError(f"cannot load {path!r}: it is truncated, corrupt or not a joblib file ({exc})") from None
    except ForeignFile:
        raise ModelFileError(f"{path!r} is a joblib file but not a krr model") from None
    except PermissionError:
        raise ModelFileError(f"cannot read model file {path!r}: permission denied") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path!r}: {exc.strerror or exc}") from None
    check_record(record, path)
    return record


# -- the schema ----------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


def _finite(v: Any) -> bool:
    return _is_number(v) and math.isfinite(v)


def _float_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.dtype.itemsize in (4, 8)


def _names(v: Any) -> bool:
    return isinstance(v, list) and 0 < len(v) <= MAX_COLUMNS and all(type(s) is str for s in v)


def _seconds(v: Any) -> bool:
    return v is None or (_is_number(v) and (math.isnan(v) or 0 <= v < math.inf))


def _iso_time(v: Any) -> bool:
    if v is None:
        return True
    if type(v) is not str or len(v) > 64:
        return False
    try:
        _dt.datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


def _solver_names() -> list[str]:
    from ..solvers import solver_names  # the registry imports no SciPy

    return solver_names()


def _kernel_names() -> tuple[str, ...]:
    from ..kernels import KERNELS

    return tuple(KERNELS)


def _facts(v: Any) -> bool:
    """A small dict of text keys and plain values (a solver's options, its convergence facts)."""
    return (
        type(v) is dict
        and len(v) <= 64
        and all(type(k) is str and (v[k] is None or type(v[k]) in (bool, int, float, str)) for k in v)
        and all(len(x) <= 256 for x in v.values() if type(x) is str)
    )


# Every entry of the record (format version 3): (required, check of the value alone, what it must be).
# Checks between entries follow in check_record.
FIELDS: dict[str, tuple[bool, Any, str]] = {
    "format": (True, lambda v: type(v) is str and v == FORMAT_NAME, f"{FORMAT_NAME!r}"),
    "format_version": (True, lambda v: type(v) is int and 1 <= v, "an integer >= 1"),
    "kernel": (True, lambda v: type(v) is str and v in _kernel_names(), "a kernel name"),
    "gamma": (False, lambda v: v is None or (_finite(v) and v > 0), "a finite number > 0, or null"),
    "alpha": (
        True,
        lambda v: (
            (_finite(v) and v >= 0)
            or (type(v) is list and 0 < len(v) <= MAX_COLUMNS and all(_finite(a) and a >= 0 for a in v))
        ),
        "a finite number >= 0, or a list of them (one per target)",
    ),
    "degree": (True, lambda v: _finite(v) and v >= 1, "a finite number >= 1"),
    "coef0": (True, _finite, "a finite number"),
    "solver": (False, lambda v: type(v) is str and v in _solver_names(), "a registered solver's name"),
    "dtype": (False, lambda v: type(v) is str and v in ("float64", "float32"), "float64 or float32"),
    "standardize": (False, lambda v: type(v) is bool, "true or false"),
    "mean": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    "scale": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    "centers": (True, _float_array, "an array of floats"),
    "n_samples_fit": (True, lambda v: type(v) is int and v >= 1, "an integer >= 1"),
    "dual_coef": (True, _float_array, "an array of floats"),
    "coef": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    "y_1d": (False, lambda v: type(v) is bool, "true or false"),
    "features": (True, _names, "a list of column names"),
    "targets": (True, _names, "a list of column names"),
    "train": (
        False,
        lambda v: type(v) is dict and set(v) <= set(TRAIN_SCORES) and all(_is_number(x) for x in v.values()),
        "a dict of rmse, mae and r2",
    ),
    "effective_dof": (False, lambda v: _is_number(v) and not math.isinf(v), "a finite number"),
    "effective_dof_exact": (False, lambda v: type(v) is bool, "true or false"),
    "created": (False, _iso_time, "an ISO 8601 time, or null"),
    "versions": (
        False,
        lambda v: type(v) is dict and len(v) <= 32 and all(type(x) is str and len(x) <= 64 for x in v.values()),
        "a dict of version strings",
    ),
    "fit_seconds": (False, _seconds, "a number of seconds >= 0, or null"),
    "read_seconds": (False, _seconds, "a number of seconds >= 0, or null"),
    "training_sha256": (
        False,
        lambda v: v is None or (type(v) is str and re.fullmatch(r"[0-9a-f]{64}", v) is not None),
        "a SHA-256 in hex, or null",
    ),
    "training_source": (False, lambda v: v is None or type(v) is str, "a text, or null"),
    "solver_options": (False, _facts, "a dict of the solver's options"),
    "solver_info": (False, _facts, "a dict of facts about the solve"),
    "fallbacks": (False, lambda v: type(v) is list and len(v) <= 16 and all(type(x) is str for x in v), "a list"),
    # version 3: what the rows were weighted by (a column's name, "sample_weight" from Python, or null), and
    # how many rows of weight 0 were left out
    "sample_weights": (False, lambda v: v is None or (type(v) is str and len(v) <= 2**16), "a text, or null"),
    "rows_zero_weight": (False, lambda v: type(v) is int and v >= 0, "an integer >= 0"),
    # version 4: training rows left out for a missing value (fit --missing drop): how many, and the first ones'
    # line numbers and files; and the mean of each feature over the rows fitted (what predict --missing impute
    # fills in)
    "rows_dropped": (False, lambda v: type(v) is int and v >= 0, "an integer >= 0"),
    "rows_dropped_lines": (
        False,
        lambda v: type(v) is list and len(v) <= 100 and all(type(x) is int and x >= 1 for x in v),
        "a list of line numbers",
    ),
    "rows_dropped_files": (
        False,
        lambda v: type(v) is list and len(v) <= 100 and all(type(x) is str and len(x) <= 2**16 for x in v),
        "a list of file names",
    ),
    "feature_means": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    # version 3: the unpenalized constant added to every prediction, one per target (null: none)
    "intercept": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    # version 3: what `predict --std` needs (krrcli/uncertainty.py), when the fit kept it (--keep-factor)
    "factor_kind": (False, lambda v: v is None or v in ("cholesky", "nystrom"), "cholesky, nystrom, or null"),
    "factor_L": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    "factor_scale": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    "factor_u": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    "factor_u_sum": (False, lambda v: v is None or (_finite(v) and v > 0), "a finite number > 0, or null"),
    "factor_T": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    "factor_R": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    "noise_var": (False, lambda v: v is None or _float_array(v), "an array of floats, or null"),
    # version 3: the CSV columns the model reads, when some are categorical, and each categorical one's
    # categories (krrcli/data/categorical.py); "features" are then these columns with the indicators
    "inputs": (False, lambda v: v is None or _names(v), "a list of column names, or null"),
    "categorical": (
        False,
        lambda v: (
            v is None
            or (
                type(v) is dict
                and 0 < len(v) <= MAX_COLUMNS
                and all(type(k) is str and _names(c) and len(c) <= MAX_CATEGORIES for k, c in v.items())
            )
        ),
        "a dict of column name -> list of categories, or null",
    ),
}
FIELDS_V4_ONLY = ("rows_dropped", "rows_dropped_lines", "rows_dropped_files", "feature_means")
FIELDS_V3_ONLY = (
    "sample_weights",
    "rows_zero_weight",
    "intercept",
    "factor_kind",
    "factor_L",
    "factor_scale",
    "factor_u",
    "factor_u_sum",
    "factor_T",
    "factor_R",
    "noise_var",
    "inputs",
    "categorical",
)
# Version 3 had none of the version-4 entries, version 2 none of the version-3 ones either.
FIELDS_V3: dict[str, tuple[bool, Any, str]] = {k: v for k, v in FIELDS.items() if k not in FIELDS_V4_ONLY}
FIELDS_V2: dict[str, tuple[bool, Any, str]] = {k: v for k, v in FIELDS_V3.items() if k not in FIELDS_V3_ONLY}
# Version 1 had the centers as "X_fit", and none of the version-2 entries.
FIELDS_V1: dict[str, tuple[bool, Any, str]] = {
    **{
        k: v
        for k, v in FIELDS.items()
        if k not in ("centers", "n_samples_fit", "solver_options", "solver_info", "fallbacks") and k in FIELDS_V2
    },
    "X_fit": (True, _float_array, "an array of floats"),
}


def check_record(record: Any, path: str, saving: bool = False) -> None:
    """Check every field of a model record; raise :class:`ModelFileError` naming the first bad one.

    With ``saving``, the record is one about to be written: a failed check is a
    :class:`~krrcli.errors.DataError` (the model cannot be stored) and nothing is written.
    """

    def bad(what: str) -> KrrError:
        if saving:
            return DataError(f"cannot save the model to {path!r}: {what}")
        return ModelFileError(f"{path!r} is damaged: {what}")

    if type(record) is not dict or type(record.get("format")) is not str or record["format"] != FORMAT_NAME:
        raise ModelFileError(f"{path!r} is a joblib file but not a krr model")
    version = record.get("format_version")
    if type(version) is not int or version < 1:
        raise ModelFileError(f"{path!r} has no valid format version ({_show(version)}); it is not a krr model")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} uses model format version {version}, newer than this krr reads "
            f"(up to {FORMAT_VERSION}); upgrade krr"
        )
    fields = {4: FIELDS, 3: FIELDS_V3, 2: FIELDS_V2}.get(version, FIELDS_V1)
    unknown = [k for k in record if k not in fields]
    if unknown:
        raise bad(f"entry {_show(unknown[0])} is not part of the krr model format")
    for key, (required, ok, expected) in fields.items():
        if key not in record:
            if required:
                raise bad(f"entry {key!r} is missing")
            continue
        value = record[key]
        if not ok(value):
            if key == "kernel" and type(value) is str:
                raise bad(f"entry 'kernel' is {_show(value)}, not one of {', '.join(_kernel_names())}")
            if key == "solver":
                expected = "one of " + ", ".join(_solver_names())
            raise bad(f"entry {key!r} is {_show(value)}; it must be {expected}")
    if version == 1:  # the same model in version 2's terms
        record["centers"] = record.pop("X_fit")
        record["n_samples_fit"] = int(record["centers"].shape[0])
    _check_consistency(record, bad, centers="X_fit" if version == 1 else "centers")


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (bool, int, float, str, type(None))):
        text = repr(value[:41] if isinstance(value, str) else value)
        return text if len(text) <= 40 else text[:40] + "..."
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _check_consistency(record: dict[str, Any], bad: Any, centers: str = "centers") -> None:
    """Entries that must agree: shapes, names, the solver and its weights, the scaler, gamma."""
    from ..kernels import KERNELS

    X, W = record["centers"], record["dual_coef"]
    features, targets = record["features"], record["targets"]
    for key in ("centers", "dual_coef", "coef", "mean", "scale", "feature_means"):
        a = record.get(key)
        if a is not None and not np.all(np.isfinite(a)):
            raise bad(f"entry {centers if key == 'centers' else key!r} holds NaN or infinite values")
    if len(set(features)) != len(features) or len(set(targets)) != len(targets):
        raise bad("a column name appears twice in 'features' or 'targets'")
    if len(features) + len(targets) > MAX_COLUMNS:
        raise bad(f"it names more than {MAX_COLUMNS:,} columns")
    n, d, t = X.shape[0] if X.ndim == 2 else -1, len(features), len(targets)
    if X.ndim != 2 or X.shape[1] != d or n < 1:
        what = "the training rows" if centers == "X_fit" else "the centers"
        raise bad(f"{what} {centers!r} (shape {X.shape}) do not match the {d} feature name(s)")
    y_1d = record.get("y_1d", W.ndim == 1)
    if W.shape not in {(n,), (n, t)} or (W.ndim == 1 and t != 1):
        raise bad(f"the dual weights 'dual_coef' (shape {W.shape}) do not match the {n} rows and {t} target(s)")
    if y_1d != (W.ndim == 1):
        raise bad(f"entry 'y_1d' is {y_1d} but 'dual_coef' has {W.ndim} dimension(s)")
    coef = record.get("coef")
    if coef is not None and coef.shape != ((d,) if y_1d else (d, t)):
        raise bad(f"the primal weights 'coef' (shape {coef.shape}) do not match the features and targets")
    from ..solvers import get_solver

    kernel = record["kernel"]
    solver = get_solver(record.get("solver", "cholesky"))
    if solver.kernels is not None and kernel not in solver.kernels:
        raise bad(
            f"entry 'solver' is {solver.name!r}, which serves only the {', '.join(solver.kernels)} kernel, not {kernel}"
        )
    if solver.centers_are_rows and record["n_samples_fit"] != n:
        raise bad(
            f"entry 'n_samples_fit' is {record['n_samples_fit']}, but the {solver.name} solver keeps every "
            f"training row and the model holds {n}"
        )
    if solver.primal != (coef is not None):
        raise bad(
            f"the {solver.name} solver's weights 'coef' are missing"
            if solver.primal
            else f"entry 'coef' is set but the {solver.name} solver has no primal weights"
        )
    standardize = record.get("standardize", False)
    if type(record["alpha"]) is list and len(record["alpha"]) != t:
        raise bad(f"entry 'alpha' holds {len(record['alpha'])} values for {t} target(s)")
    _check_factor(record, bad, n, t)
    _check_categorical(record, bad)
    intercept = record.get("intercept")
    if intercept is not None and (intercept.ndim != 1 or intercept.shape[0] != t or not np.isfinite(intercept).all()):
        raise bad(f"the intercept (shape {intercept.shape}) does not match the {t} target(s), or is not finite")
    mean, scale = record.get("mean"), record.get("scale")
    if standardize != (mean is not None) or standardize != (scale is not None):
        raise bad(
            "the model is standardized but holds no scaler ('mean', 'scale')"
            if standardize
            else "entries 'mean' and 'scale' are set but 'standardize' is false"
        )
    for key, a in (("mean", mean), ("scale", scale)):
        if a is not None and a.shape != (d,):
            raise bad(f"the scaler's {key!r} (shape {a.shape}) does not match the {d} feature(s)")
    means = record.get("feature_means")
    if means is not None and means.shape != (d,):
        raise bad(f"entry 'feature_means' (shape {means.shape}) does not match the {d} feature(s)")
    if len(record.get("rows_dropped_files") or []) != len(record.get("rows_dropped_lines") or []):
        raise bad("entries 'rows_dropped_lines' and 'rows_dropped_files' differ in length")
    if scale is not None and not np.all(scale >= np.finfo(np.float64).tiny):
        raise bad("entry 'scale' holds a value <= 0 (or too small to divide by); a scaler divides by it")
    gamma = record.get("gamma")
    if KERNELS[kernel].uses_gamma and gamma is None:
        raise bad(f"entry 'gamma' is missing; the {kernel} kernel needs it")
    if not KERNELS[kernel].uses_gamma and gamma is not None:
        raise bad(f"entry 'gamma' is set, but the {kernel} kernel has none")
    train = record.get("train") or {}
    for key, value in train.items():  # inf or NaN when the data's squares overflow: still a model
        if (key in ("rmse", "mae") and value < 0) or (key == "r2" and value > 1):
            raise bad(f"the training score {key!r} is {value!r}, which no fit gives")
