"""File-level operations behind the commands: each reads, computes and writes.

Every ``krr`` command is one call to a function here, so a Python user can do
exactly what the command line does.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from .data import (
    DEFAULT_CHUNK_ROWS,
    ArrayRows,
    CsvRows,
    expand_inputs,
    format_header,
    format_rows,
    input_label,
    iter_feature_chunks,
)
from .errors import DataError, UsageError
from .estimator import KernelRidge, check_dtype, check_params
from .persist import FORMAT_VERSION, atomic_write, check_writable, read_model_record, save_model


def _summary(model: KernelRidge, path: str | None, seconds: float, read_seconds: float | None) -> dict[str, Any]:
    return {
        "model": path,
        "kernel": model.kernel_,
        "gamma": model.gamma_,
        "alpha": float(model.alpha) if np.ndim(model.alpha) == 0 else [float(a) for a in model.alpha],
        "degree": model.degree,
        "coef0": model.coef0,
        "standardize": bool(model.standardize),
        "solver": model.solver_,
        "dtype": str(np.dtype(model.dtype_)),
        "n_samples": int(model.n_samples_fit_),
        "n_features": int(model.n_features_in_),
        "features": list(model.feature_names_in_),
        "targets": list(model.target_names_),
        "train": dict(model.train_scores_),
        "effective_dof": float(model.effective_dof_),
        "effective_dof_exact": bool(model.effective_dof_exact_),
        "sample_weights": getattr(model, "sample_weights_", None),
        "rows_zero_weight": int(getattr(model, "rows_zero_weight_", 0)),
        "rows_dropped": int(getattr(model, "rows_dropped_", 0)),
        "rows_dropped_lines": list(getattr(model, "rows_dropped_lines_", [])),
        "rows_dropped_files": list(getattr(model, "rows_dropped_files_", [])),
        "intercept": None if getattr(model, "intercept_", None) is None else [float(v) for v in model.intercept_],
        "factor": _factor_summary(model),
        "categorical": None if getattr(model, "encoder_", None) is None else model.encoder_.describe(),
        "solver_info": dict(getattr(model, "solver_info_", {})),
        "seconds": None if not math.isfinite(seconds) else round(seconds, 6),
        "read_seconds": None if read_seconds is None or read_seconds != read_seconds else round(read_seconds, 6),
    }


def _factor_summary(model: KernelRidge) -> dict[str, Any] | None:
    """What ``--keep-factor`` stored: its kind, its size in the model file, the noise variance per target."""
    factor = getattr(model, "factor_", None)
    if not factor:
        return None
    size = sum(int(np.asarray(v).nbytes) for k, v in factor.items() if isinstance(v, np.ndarray))
    return {"kind": factor["kind"], "bytes": size, "noise_var": [float(v) for v in model.noise_var_]}


def fit_csv(
    data: str | list[str],
    output: str = "model.joblib",
    *,
    targets: list[str] | None = None,
    features: list[str] | None = None,
    sep: str = ",",
    kernel: str = "rbf",
    gamma: float | None = None,
    alpha: float = 1.0,
    degree: float = 3,
    coef0: float = 1,
    standardize: bool = False,
    dtype: str = "float64",
    solver: str = "auto",
    n_centers: int | None = None,
    tol: float | None = None,
    max_iter: int | None = None,
    seed: int = 0,
    engine: str = "local",
    scheduler: str | None = None,
    weights: str | None = None,
    intercept: bool = False,
    keep_factor: bool = False,
    categorical: list[str] | str | None = None,
    missing: str = "error",
) -> dict[str, Any]:
    """Fit a model on a CSV file and save it; return the summary (the keys of ``krr fit --json``).

    ``missing`` says what a row with a missing value (:data:`krrcli.data.MISSING_CELLS`) in a column the fit
    uses does: stops the fit with an error naming it ("error"), or is left out ("drop"; counted in a warning,
    ``rows_dropped``, ``rows_dropped_lines`` and ``rows_dropped_files`` of the summary). Infinite and non-numeric
    cells are errors either way.

    ``categorical`` names feature columns of text to one-hot encode with the categories seen (or is
    ``"auto"``: the feature columns with text in the first rows); see :mod:`krrcli.data.categorical`.

    ``keep_factor`` stores the factorization that ``predict --std`` needs (n x n for the exact solver).

    ``intercept`` adds an unpenalized constant to the model (see :mod:`krrcli.solvers.intercept`).

    ``weights`` names a column of sample weights (finite, >= 0, not all 0; not a feature); a row of
    weight 0 is left out of the fit.

    With ``engine="dask"`` the files are read as partitions by the workers of the Dask cluster at
    ``scheduler`` (or ``DASK_SCHEDULER_ADDRESS``; none: a local cluster started for the fit), and the
    nystrom solver's passes run there."""
    from .data import check_missing
    from .execution.cluster import check_engine
    from .solvers import get_solver

    check_engine(engine, scheduler)
    check_missing(missing)
    if weights is not None and engine == "dask":
        raise UsageError("--weights is not supported with --engine dask yet; fit with --engine local")
    if intercept and engine == "dask":
        raise UsageError("--intercept is not supported with --engine dask yet; fit with --engine local")
    if keep_factor and engine == "dask":
        raise UsageError("--keep-factor is not supported with --engine dask yet; fit with --engine local")
    if categorical and engine == "dask":
        raise UsageError("--categorical is not supported with --engine dask yet; fit with --engine local")
    check_params(kernel, gamma, alpha, degree, coef0)
    check_dtype(dtype)
    model = KernelRidge(
        kernel=kernel,
        gamma=gamma,
        alpha=alpha,
        degree=degree,
        coef0=coef0,
        standardize=standardize,
        solver=solver,
        dtype=dtype,
        n_centers=n_centers,
        tol=tol,
        max_iter=max_iter,
        seed=seed,
        fit_intercept=intercept,
        keep_factor=keep_factor,
    )
    if solver != "auto":  # an explicit solver and its options are checked before any work
        chosen = get_solver(solver)
        chosen.check(kernel=kernel, alpha=alpha)
        model._options_for(chosen)
    data = expand_inputs(data)  # once: the same files are checked against the output and read
    check_writable(output, "model file", inputs=tuple(data))
    from .solvers import direct  # noqa: F401  the modules a fit needs are loaded before the clocks start

    if engine == "dask":
        from .data.partitions import PartitionedRows
        from .execution.cluster import Cluster

        with Cluster(scheduler) as cluster:
            t0 = time.perf_counter()
            rows = PartitionedRows(cluster, data, targets=targets, features=features, sep=sep, missing=missing)
            rows.dropped.warn(rows.name)
            t1 = time.perf_counter()
            model.fit_rows(rows)
            seconds = time.perf_counter() - t1
    else:
        t0 = time.perf_counter()
        with CsvRows(
            data, targets=targets, features=features, sep=sep, preflight=model.preflight, weights=weights,
            categorical=categorical, missing=missing,
        ) as rows:  # fmt: skip
            X, Y = rows.to_arrays()
            rows.dropped.warn(rows.name)
            Y, w = _split_weights(Y, weights, rows.name)
            table = ArrayRows(
                X, Y, features=rows.features, targets=rows.targets, name=rows.name, owned=True, weights=w,
                weights_name=weights, encoder=rows.encoder, dropped=rows.dropped,
            )  # fmt: skip
        t1 = time.perf_counter()
        model.fit_rows(table)
        seconds = time.perf_counter() - t1  # the model alone; reading the CSV is read_seconds
    save_model(
        model,
        output,
        fit_seconds=seconds,
        read_seconds=t1 - t0,
        training_sha256=rows.sha256,
        training_source=rows.name,
    )
    return _summary(model, output, seconds, t1 - t0)


def predict_csv(
    model_path: str,
    data: str | list[str],
    output: str | None = None,
    *,
    sep: str = ",",
    chunk_size: int = DEFAULT_CHUNK_ROWS,
    no_header: bool = False,
    with_input: bool = False,
    float_format: str | None = None,
    stdout: IO[str] | None = None,
    dtype: str = "float64",
    engine: str = "local",
    scheduler: str | None = None,
    effects: bool = False,
    std: bool = False,
    interval: float | None = None,
    unknown: str = "error",
    missing: str = "error",
) -> int:
    """Stream predictions for a CSV file to ``output`` (atomic) or stdout; return the row count.

    A row with a missing value (:data:`krrcli.data.MISSING_CELLS`) in a feature column is an error naming it
    (``missing="error"``), gets empty prediction cells (``"empty"``: the output stays aligned with the
    input), or has each missing feature filled in with its training mean stored in the model
    (``"impute"``); the rows are counted in a warning. Infinite and non-numeric cells are errors either way.

    For a model with categorical columns, a category not seen in training is an error (``unknown="error"``)
    or encoded as none of the known ones, all zeros (``"ignore"``; the rows are counted in a warning).

    With ``std`` each row also gets ``<target>_std``, the posterior standard deviation of the prediction,
    and with ``interval`` (a probability such as 0.95) ``<target>_lower`` and ``<target>_upper``, a
    predictive interval for a new observation (see :mod:`krrcli.uncertainty`); the model must have been
    fitted with ``keep_factor``.

    With ``effects`` each row also gets the marginal effects ``d<target>_d<feature>`` (see
    :mod:`krrcli.effects`), after the predictions.

    With ``engine="dask"`` each input file is predicted by a worker of the Dask cluster; the output is
    written in input order, or, when ``output`` has a ``*`` (``out/part-*.csv``), one file per input
    file, the ``*`` replaced by its number (all written together, or none)."""
    from .data import MISSING_PREDICT_POLICIES, check_missing
    from .data.categorical import check_unknown
    from .execution.cluster import check_engine

    check_engine(engine, scheduler)
    check_dtype(dtype)
    check_unknown(unknown)
    check_missing(missing, MISSING_PREDICT_POLICIES)
    if (effects or std or interval is not None) and engine == "dask":
        raise UsageError("--effects, --std and --interval are not supported with --engine dask yet")
    if interval is not None:
        from .uncertainty import normal_quantile

        normal_quantile(interval)  # (checked before any work)
    if float_format is not None:
        _check_float_format(float_format)
    model = load_model(model_path)
    if missing == "impute" and getattr(model, "feature_means_", None) is None:
        raise UsageError(
            f"{model_path} holds no training means (it was written by an older krr); --missing impute needs a "
            "model fitted by this version: refit it, or use --missing empty"
        )
    if model.encoder_ is not None and engine == "dask":
        raise UsageError("a model with categorical columns cannot predict with --engine dask yet; use --engine local")
    columns = [f"{t}_pred" for t in model.target_names_]
    if (std or interval is not None) and not getattr(model, "factor_", None):
        from .uncertainty import posterior_std

        posterior_std(model, np.empty((0, model.n_features_in_)))  # says what to do
    if std:
        columns += [f"{t}_std" for t in model.target_names_]
    if interval is not None:
        columns += [f"{t}_{side}" for t in model.target_names_ for side in ("lower", "upper")]
    if effects:
        columns += [f"d{t}_d{f}" for t in model.target_names_ for f in model.feature_names_in_]
    if output == "-":
        output = None
    data = expand_inputs(data)  # once: the same files are checked against the output and read
    outputs = [output] if output is not None else []
    if engine == "dask" and output is not None and "*" in os.path.basename(output):
        width = len(str(len(data) - 1))
        outputs = [output.replace("*", f"{i:0{width}d}") for i in range(len(data))]
    for path in outputs:
        check_writable(path, "output file", inputs=(*data, model_path))
    options = dict(
        sep=sep,
        chunk_size=chunk_size,
        no_header=no_header,
        with_input=with_input,
        float_format=float_format,
        columns=columns,
        dtype=dtype,
    )
    if effects:
        options["effects"] = True
    if unknown != "error":
        options["unknown"] = unknown
    if missing != "error":
        options["missing"] = missing
    if std or interval is not None:
        options["std"], options["interval"] = std, interval
    if engine == "dask":
        from .data.partitions import predict_partitions
        from .execution.cluster import Cluster

        with Cluster(scheduler) as cluster:
            if len(outputs) > 1 or (outputs and outputs[0] != output):
                return predict_partitions(cluster, model, data, options, outputs=outputs)
            if output is None:
                return predict_partitions(cluster, model, data, options, fh=stdout or sys.stdout)
            with atomic_write(output, "w", what="output file") as fh:
                return predict_partitions(cluster, model, data, options, fh=fh)
    if output is None:
        return _write_predictions(model, data, fh=stdout or sys.stdout, **options)
    with atomic_write(output, "w", what="output file") as fh:
        return _write_predictions(model, data, fh=fh, **options)


def _check_float_format(fmt: str) -> None:
    import re

    from .errors import UsageError
    from .limits import MAX_FLOAT_PRECISION, MAX_FLOAT_WIDTH

    # exactly one float conversion (flags, width, precision; e/f/g) and nothing around it
    m = re.fullmatch(r"%[-+ 0#]{0,5}(\d*)(?:\.(\d+))?[eEfFgG]", fmt)
    if not m:
        shown = repr(fmt) if len(fmt) <= 40 else repr(fmt[:40]) + "..."
        raise UsageError(f"--float-format {shown} is not a single printf-style float format such as %.6g, %.3f or %.4e")
    width, precision = m.group(1), m.group(2)
    if (width and int(width) > MAX_FLOAT_WIDTH) or (precision and int(precision) > MAX_FLOAT_PRECISION):
        raise UsageError(
            f"--float-format {fmt!r}: the width may be at most {MAX_FLOAT_WIDTH} and the precision at most "
            f"{MAX_FLOAT_PRECISION} (17 significant digits print any float64 exactly)"
        )


def _write_predictions(
    model: KernelRidge,
    data: str | list[str],
    *,
    sep: str,
    chunk_size: int,
    no_header: bool,
    with_input: bool,
    float_format: str | None,
    columns: list[str],
    fh: IO[str],
    dtype: str = "float64",
    header: bool = True,
    effects: bool = False,
    std: bool = False,
    interval: float | None = None,
    unknown: str = "error",
    missing: str = "error",
    counts: dict[str, int] | None = None,
) -> int:
    """Predict the rows of ``data`` chunk by chunk, writing CSV to ``fh``; return the row count. The rows with
    an unseen category (``unknown="ignore"``) or a missing value (``missing`` "empty" or "impute") are
    counted in a warning, or added to ``counts`` when it is given (a worker's part of the input)."""
    from .data import parse_sep
    from .errors import DataError

    rows = 0
    first = True
    tally = {"rows": 0, "unseen": 0, "missing": 0}
    out_sep = parse_sep(sep) if with_input else ","
    # a row without predictions: empty cells (a lone column's is written "" so that the line is not blank)
    empty = out_sep.join([""] * len(columns)) if len(columns) > 1 or with_input else '""'
    chunks = iter_feature_chunks(
        data, model.feature_names_in_, sep=sep, chunk_rows=chunk_size, no_header=no_header, keep_input=with_input,
        encoder=getattr(model, "encoder_", None), unknown=unknown, allow_missing=missing != "error",
        on_unseen=lambda k: tally.__setitem__("unseen", tally["unseen"] + k),
    )  # fmt: skip
    for names, X, lines, numbers, source in chunks:
        if first:
            clash = [c for c in columns if with_input and c in names]
            if clash:
                raise DataError(
                    f"{source}: line 1: the input already has a column {clash[0]!r}; "
                    "--with-input would write it twice (drop that column, or leave out --with-input)"
                )
            if header:
                fh.write(format_header(([*names] if with_input else []) + columns, out_sep) + "\n")
            first = False
        if X.shape[0] == 0:
            continue
        gaps = None  # the rows with a missing value (--missing empty or impute)
        if missing != "error":
            holes = np.isnan(X)
            gaps = holes.any(axis=1)
            if gaps.any():
                tally["missing"] += int(gaps.sum())
                # impute: each missing feature's training mean. empty: the rows are predicted all the same
                # (with the means, or 0), so that every other row's numbers are those of the same chunk
                # without gaps, and their cells left empty
                fill = getattr(model, "feature_means_", None)
                X = np.where(holes, 0.0 if fill is None else fill[None, :], X)
            if missing == "impute" or not gaps.any():
                gaps = None
        values = _prediction_values(model, X, numbers, source, dtype, std, interval, effects, ignore=gaps)
        text = format_rows(values, float_format, out_sep)
        if gaps is not None:
            for i in np.flatnonzero(gaps).tolist():
                text[i] = empty
        if with_input:
            text = [f"{line}{out_sep}{p}" for line, p in zip(lines, text, strict=True)]
        fh.write("\n".join(text) + "\n")
        rows += X.shape[0]
    fh.flush()
    tally["rows"] = rows
    if counts is not None:
        add_counts(counts, tally)
    else:
        warn_prediction_counts(tally, missing)
    return rows


def add_counts(total: dict[str, int], part: dict[str, int]) -> None:
    """Add the counts ``part`` into ``total``."""
    for k, v in part.items():
        total[k] = total.get(k, 0) + v


def warn_prediction_counts(counts: dict[str, int], missing: str) -> None:
    """Say on stderr how many predicted rows had an unseen category or a missing value, when any did."""
    import warnings

    from .errors import KrrWarning

    rows = counts.get("rows", 0)
    if counts.get("unseen"):
        warnings.warn(
            f"{counts['unseen']:,} of {rows:,} row(s) had a category not seen in training, encoded as none of the "
            "known ones (--unknown ignore)",
            KrrWarning,
            stacklevel=3,
        )
    if counts.get("missing"):
        done = "their predictions are left empty" if missing == "empty" else "filled in with the training means"
        warnings.warn(
            f"{counts['missing']:,} of {rows:,} row(s) had a missing value: {done} (--missing {missing})",
            KrrWarning,
            stacklevel=3,
        )


def _prediction_values(
    model: KernelRidge,
    X: np.ndarray,
    numbers: list[int],
    source: str,
    dtype: str,
    std: bool,
    interval: float | None,
    effects: bool,
    ignore: np.ndarray | None = None,
) -> np.ndarray:
    """The output columns for feature rows ``X`` (lines ``numbers`` of ``source``): the predictions, then
    their standard deviations, intervals and marginal effects as asked. A prediction that is not finite is
    an error, except in the rows ``ignore`` (a mask: rows whose output is not written)."""
    t = len(model.target_names_)
    pred = np.asarray(model.predict(X, dtype=dtype)).reshape(X.shape[0], t)
    finite = np.isfinite(pred).all(axis=1) | (False if ignore is None else ignore)
    if not finite.all():
        raise DataError(
            f"{source}: line {numbers[int(np.argmin(finite))]}: the prediction is "
            "not finite (the kernel overflows or is undefined for this row); check the row's scale"
        )
    if std or interval is not None:
        from .uncertainty import normal_quantile, posterior_std

        sd = posterior_std(model, X)
        parts = [pred, sd] if std else [pred]
        if interval is not None:  # f +- z sqrt(var f + sigma^2): a new observation's interval
            half = normal_quantile(interval) * np.sqrt(sd**2 + np.asarray(model.noise_var_)[None, :])
            parts.append(np.stack([pred - half, pred + half], axis=2).reshape(pred.shape[0], -1))
        pred = np.hstack(parts)
    if effects:  # d<target>_d<feature>, target by target
        from .effects import marginal_effects

        pred = np.hstack([pred, marginal_effects(model, X).transpose(0, 2, 1).reshape(X.shape[0], -1)])
    return pred


def cv_csv(
    data: str | list[str],
    *,
    targets: list[str] | None = None,
    features: list[str] | None = None,
    sep: str = ",",
    kernel: str = "rbf",
    gammas: str | None = None,
    alphas: str | None = None,
    degree: float = 3,
    coef0: float = 1,
    standardize: bool = False,
    folds: int | None = None,
    seed: int = 0,
    metric: str = "rmse",
    output: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    method: str | None = None,
    refine: bool = True,
    jobs: int | None = None,
    solver: str = "auto",
    n_centers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    weights: str | None = None,
    intercept: bool = False,
    categorical: list[str] | str | None = None,
    missing: str = "error",
) -> dict[str, Any]:
    """Cross-validate a grid on a CSV file; optionally refit the best and save it. Returns the report dict.

    ``missing``: "error", or "drop" rows with a missing value, as :func:`fit_csv` does.

    ``categorical``: feature columns of text, one-hot encoded as :func:`fit_csv` does.

    ``intercept`` scores (and refits) the model with an unpenalized constant.

    ``weights`` names a column of sample weights (as :func:`fit_csv` takes it): every fit and every score
    is weighted, and rows of weight 0 are left out.

    ``method`` is "loo" (default), "gcv", or "kfold" (the default when ``folds`` is given).
    With loo and gcv, alpha is refined continuously around the best grid point and
    ``-o`` saves the refined model. ``solver`` is "exact", "nystrom" (with ``n_centers``), or "auto":
    exact up to ``CV_EXACT_AUTO_MAX_ROWS`` rows while its matrices fit in memory, else nystrom.
    With ``engine="dask"`` the files are read as partitions on the Dask cluster (as :func:`fit_csv`
    does) and the nystrom closed forms' two passes per gamma run there; data small enough for the
    exact closed forms are gathered and cross-validated here.
    """
    from .data import check_missing
    from .errors import UsageError
    from .execution.cluster import check_engine
    from .selection import DEFAULT_ALPHAS, METRICS, check_grid_size, parse_grid

    check_engine(engine, scheduler)
    check_missing(missing)
    if weights is not None and engine == "dask":
        raise UsageError("--weights is not supported with --engine dask yet; run cv with --engine local")
    if intercept and engine == "dask":
        raise UsageError("--intercept is not supported with --engine dask yet; run cv with --engine local")
    if categorical and engine == "dask":
        raise UsageError("--categorical is not supported with --engine dask yet; run cv with --engine local")
    check_params(kernel, None, 1.0, degree, coef0)
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    if folds is not None and folds < 2:
        raise UsageError(f"--folds must be >= 2, got {folds}")
    if seed < 0:
        raise UsageError(f"--seed must be >= 0, got {seed}")
    gamma_list = parse_grid(gammas, "gamma") if gammas is not None else None
    alpha_list = parse_grid(alphas if alphas is not None else DEFAULT_ALPHAS, "alpha")
    if gamma_list is not None:
        check_grid_size(len(gamma_list), len(alpha_list))
    if output is not None or engine == "dask":
        data = expand_inputs(data)  # once: the same files are checked against the output and read
    if output is not None:
        check_writable(output, "model file", inputs=tuple(data))
    options = dict(
        kernel=kernel,
        gammas=gamma_list,
        alphas=alpha_list,
        degree=degree,
        coef0=coef0,
        folds=folds,
        seed=seed,
        metric=metric,
        progress=progress,
        method=method,
        refine=refine,
        jobs=jobs,
        n_centers=n_centers,
        fit_intercept=intercept,
    )
    t0 = time.perf_counter()
    if engine == "dask":
        from .data.partitions import PartitionedRows
        from .execution.cluster import Cluster

        with Cluster(scheduler) as cluster:
            rows = PartitionedRows(cluster, data, targets=targets, features=features, sep=sep, missing=missing)
            rows.dropped.warn(rows.name)
            return _cross_validate_rows(rows, standardize, solver, output, t0, options)
    with CsvRows(
        data, targets=targets, features=features, sep=sep, weights=weights, categorical=categorical, missing=missing
    ) as table:
        X, Y = table.to_arrays()
        table.dropped.warn(table.name)
        Y, w = _split_weights(Y, weights, table.name)
        rows = ArrayRows(
            X, Y, features=table.features, targets=table.targets, name=table.name, sha256=table.sha256, weights=w,
            weights_name=weights, encoder=table.encoder, dropped=table.dropped,
        )  # fmt: skip
    return _cross_validate_rows(rows, standardize, solver, output, t0, options)


def _split_weights(Y: np.ndarray, weights: str | None, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The targets and the weights column that :class:`CsvRows` reads after them (``weights``: its name)."""
    if weights is None:
        return Y, None
    w = Y[:, -1].copy()
    if not np.any(w > 0):
        raise DataError(f"{name}: column {weights!r} (--weights) is 0 on every row")
    return Y[:, :-1], w


def _cross_validate_rows(
    rows: Any, standardize: bool, solver: str, output: str | None, t0: float, options: dict[str, Any]
) -> dict[str, Any]:
    """:func:`cv_csv` on the training ``rows`` read (in memory, or a cluster's partitions)."""
    import warnings

    from .errors import DataError, KrrWarning
    from .preprocess import Standardizer
    from .selection import cross_validate

    n, t, folds, seed = rows.n_rows, rows.n_targets, options["folds"], options["seed"]
    if folds is not None and folds > n:
        dropped = getattr(rows, "dropped", None)
        left = f" left after dropping {dropped.count:,} with a missing value" if dropped and dropped.count else ""
        raise DataError(f"{rows.name} has {n} data rows{left}, too few for {folds} folds; use at most {n} folds")
    solver = _cv_solver(solver, options["n_centers"], n, t, options["alphas"])
    distributed = getattr(rows, "distributed", False)
    if distributed and solver == "exact":
        warnings.warn(
            f"{n:,} rows: small enough for exact cross-validation; gathering them from the cluster to run it here",
            KrrWarning,
            stacklevel=3,
        )
    if distributed and solver == "nystrom":
        scaled = rows
        if standardize:  # the scaler merged from the partitions', as the fit learns it
            scaler = rows.scaler()
            scaled = rows.standardized(scaler.mean_, scaler.scale_)
        report = cross_validate(None, None, solver=solver, rows=scaled, **options)
    else:
        X, Y = rows.to_arrays()
        w = getattr(rows, "weights", None)
        zero = 0
        if w is not None and not np.all(w > 0):  # left out, as the fit leaves them out (also from the scaler)
            keep = w > 0
            X, Y, w, zero = X[keep], Y[keep], w[keep], int(np.sum(~keep))
        Xs = Standardizer().fit(X).transform(X) if standardize else X  # the scaler fit learns
        report = cross_validate(np.ascontiguousarray(Xs), Y, solver=solver, sample_weight=w, **options)
    out: dict[str, Any] = {
        "solver": solver,
        "n_centers": None if solver == "exact" else _centers_used(options["n_centers"], report.n_samples),
        "method": report.method,
        "folds": report.folds,
        "metric": report.metric,
        "kernel": options["kernel"],
        "standardize": standardize,
        "n_samples": report.n_samples,
        "features": list(rows.features),
        "targets": list(rows.targets),
        "gammas": report.gammas,
        "alphas": report.alphas,
        "seed": report.seed,
        "results": [r.to_dict() for r in report.results],
        "best": report.best.to_dict(),
        "refined": None if report.refined is None else report.refined.to_dict(),
        "notes": report.notes,
        "strategy": report.strategy,
        "sample_weights": getattr(rows, "weights_name", None) if getattr(rows, "weights", None) is not None else None,
        "intercept": bool(options["fit_intercept"]),
        "categorical": None if getattr(rows, "encoder", None) is None else rows.encoder.describe(),
        "rows_dropped": rows.dropped.count,
        "rows_dropped_lines": list(rows.dropped.lines),
        "rows_dropped_files": list(rows.dropped.files),
        "model": None,
    }
    if output is not None:
        best = report.refined or report.best
        t_fit = time.perf_counter()
        model = KernelRidge(
            kernel=options["kernel"],
            gamma=best.gamma,
            alpha=best.alpha,
            degree=options["degree"],
            coef0=options["coef0"],
            standardize=standardize,
            fit_intercept=options["fit_intercept"],
            **({} if solver == "exact" else {"solver": "nystrom", "n_centers": options["n_centers"], "seed": seed}),
        )
        if distributed and solver == "nystrom":
            model.fit_rows(rows)
        else:
            model.fit(X, Y if t > 1 else Y[:, 0], sample_weight=w)
            model.rows_dropped_, model.rows_dropped_lines_ = rows.dropped.count, list(rows.dropped.lines)
            model.rows_dropped_files_ = list(rows.dropped.files)
            model.feature_names_in_ = list(rows.features)
            model.target_names_ = list(rows.targets)
            model.encoder_ = getattr(rows, "encoder", None)
            if w is not None:
                model.sample_weights_, model.rows_zero_weight_ = rows.weights_name or "sample_weight", zero
        save_model(
            model,
            output,
            fit_seconds=time.perf_counter() - t_fit,
            training_sha256=rows.sha256,
            training_source=rows.name,
        )
        out["model"] = output
    out["seconds"] = round(time.perf_counter() - t0, 6)
    return out


def _centers_used(n_centers: int | None, n: int) -> int:
    from .solvers.nystrom import default_centers

    return default_centers(n) if n_centers is None else n_centers


def _cv_solver(solver: str, n_centers: int | None, n: int, t: int, alphas: list[float]) -> str:
    """``auto``: the exact closed forms up to CV_EXACT_AUTO_MAX_ROWS rows while they fit in memory, else nystrom
    (said in one warning line). An explicit choice is kept."""
    from .errors import UsageError
    from .selection import CV_EXACT_AUTO_MAX_ROWS, cv_peak_bytes
    from .solvers.nystrom import beyond_exact

    if solver not in ("auto", "exact", "nystrom"):
        raise UsageError(f"unknown cv solver {solver!r}; choose auto, exact or nystrom")
    if n_centers is not None:
        if type(n_centers) is not int or n_centers < 1:
            raise UsageError(f"--centers must be an integer >= 1, got {n_centers!r}")
        if solver == "exact":
            raise UsageError("--centers applies to the nystrom solver; drop it or use --solver nystrom")
        if n_centers > n:
            raise UsageError(f"--centers {n_centers:,} is more than the {n:,} rows")
    if solver != "auto":
        return solver
    if n_centers is not None:
        return "nystrom"
    M = _centers_used(None, n)
    if M >= n or min(alphas) <= 0:
        return "exact"
    need = cv_peak_bytes(n, t, len(alphas), 1)
    slow = "would take minutes per gamma"
    if not beyond_exact(n, need, CV_EXACT_AUTO_MAX_ROWS, M, "exact cross-validation", slow):
        return "exact"
    return "nystrom"


def load_model(path: str) -> KernelRidge:
    """Load a fitted model from a krr model file (safely: see :mod:`krrcli.persist`)."""
    return KernelRidge.from_record(read_model_record(path), path)


def inspect_model(path: str) -> dict[str, Any]:
    """Everything stored in a model file, with the key names of ``krr fit --json``."""
    record = read_model_record(path)
    model = KernelRidge.from_record(record, path)
    fit_seconds = record.get("fit_seconds")
    info = _summary(model, path, math.nan if fit_seconds is None else float(fit_seconds), record.get("read_seconds"))
    versions = record.get("versions") or {}
    info.update(
        {
            "created": record.get("created"),
            "krr_version": versions.get("krr"),
            "versions": versions,
            "format": record.get("format"),
            "format_version": record.get("format_version", FORMAT_VERSION),
            "file_size": os.path.getsize(path),
            "training_sha256": record.get("training_sha256"),
            "training_source": record.get("training_source"),
            "scaler": None
            if model.mean_ is None
            else {"mean": [float(v) for v in model.mean_], "scale": [float(v) for v in model.scale_]},
        }
    )
    return info


def model_effects(path: str, data: str | list[str] | None = None, sep: str = ",") -> dict[str, Any]:
    """The average marginal effect of each feature on each target, with its quartiles, over the rows of
    ``data`` (CSV, the model's features by name), else over the rows the model keeps: the training rows
    (exact solvers) or the centers, a uniform sample of them (nystrom)."""
    from .effects import marginal_effects, summarize_effects

    model = load_model(path)
    if data is not None:
        data = expand_inputs(data)
        chunks = iter_feature_chunks(data, model.feature_names_in_, sep=sep, encoder=model.encoder_)
        parts = [X for _, X, _, _, _ in chunks if X.shape[0]]
        if not parts:
            raise DataError(f"{input_label(data)} has a header but no data rows")
        effects = np.concatenate([marginal_effects(model, X) for X in parts])
        over = input_label(data)
    else:
        Z = np.asarray(model.centers_, dtype=np.float64)
        X = Z if model.mean_ is None else Z * model.scale_ + model.mean_  # back to the original units
        effects = marginal_effects(model, X)
        over = "the training rows" if model.centers_.shape[0] == model.n_samples_fit_ else "the centers"
    return {
        "model": path,
        "over": over,
        "rows": int(effects.shape[0]),
        "features": list(model.feature_names_in_),
        "targets": list(model.target_names_),
        "effects": summarize_effects(effects, list(model.feature_names_in_), list(model.target_names_)),
    }


def model_spectrum(path: str) -> dict[str, Any]:
    """The spectrum of a stored model's kernel on its centers (see :func:`krrcli.spectrum.kernel_spectrum`)."""
    from .spectrum import kernel_spectrum

    return {"model": path, **kernel_spectrum(load_model(path))}
