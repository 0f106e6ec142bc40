"""Choosing gamma and alpha: exact leave-one-out, GCV and k-fold, in closed form.

- :mod:`.closed_forms`: the identities (LOO, GCV, the block form for k-fold) and the alpha refinement;
- :mod:`.grids`: grid specifications, the default gamma grid, folds;
- :mod:`.report`: results, the report, the best point;
- this module: :func:`cross_validate`, which scores a grid through the executor (one task per gamma).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import linalg

from ..errors import DataError, KrrWarning, UsageError
from ..execution import executor
from ..kernels import NonFiniteKernel, base_matrix, get_kernel
from ..resources import check_memory, format_bytes
from ..solvers import lapack64
from ..solvers.nystrom import LocalRows
from .closed_forms import COST_CHOLESKY, COST_EIGH, COST_GEMM, _kernel_for, _score_gamma, kfold_strategy, refine_alpha
from .grids import (
    DEFAULT_ALPHAS,
    GAMMA_GRID_DECADES,
    GAMMA_GRID_POINTS,
    SCALE_SAMPLE_ROWS,
    check_grid_size,
    default_gammas,
    gamma_scale,
    kfold_indices,
    parse_grid,
)
from .report import METRICS, CVReport, CVResult, _edge_notes, pick_best

# Gammas are scored in parallel worker processes by default, one per core, each
# with BLAS capped to cores / jobs threads. Measured on 2 cores (n = 1500, 5 gammas,
# 5 folds): k-fold 6.7 s with 2 workers against 10.1 s with one process using BLAS's
# two threads; leave-one-out 6.1 s either way.
DEFAULT_JOBS = None  # None: all cores
PARALLEL_MIN_ROWS = 1000  # below this, the default is one process

METHODS = ("loo", "gcv", "kfold")
# `krr cv --solver auto` uses the exact closed forms up to this many rows (one n x n eigendecomposition
# per gamma: about 2.5 minutes at 10,000 rows on 2 cores, COST_EIGH n^3), and nystrom beyond.
CV_EXACT_AUTO_MAX_ROWS = 10_000

Progress = Callable[[int, int], None]


def cv_peak_bytes(n: int, n_targets: int, n_alphas: int, workers: int) -> int:
    """Bytes cross-validation holds at its peak: the base matrix and its copy, then per worker
    the kernel, its eigenvectors and one product (n x n each) and the per-alpha arrays of the
    closed forms (residuals, diagonals, weights: about six of n x alphas x targets)."""
    per_worker = 3 * 8 * n * n + 6 * 8 * n * n_alphas * max(1, n_targets)
    return 2 * 8 * n * n + workers * per_worker


def _gamma_task(
    gamma: float | None,
    base: np.ndarray,
    Y: np.ndarray,
    kernel: str,
    degree: float,
    coef0: float,
    alphas: np.ndarray,
    method: str,
    folds: list[np.ndarray] | None,
    strategy: str | None,
    weights: np.ndarray | None = None,
    intercept: bool = False,
) -> tuple[dict, str | None]:
    """Score every alpha for one gamma; a kernel that cannot be used gives NaN scores and the reason."""
    try:
        K = _kernel_for(base, kernel, gamma, degree, coef0)
        return _score_gamma(K, Y, alphas, method, folds, strategy, weights, intercept), None
    except (NonFiniteKernel, linalg.LinAlgError) as exc:
        nan = np.full(len(alphas), np.nan)
        out = {"rmse": nan, "mae": nan, "r2": nan, "dof": nan, "gcv": nan if method != "kfold" else None}
        if folds is not None:
            out["rmse_folds"] = [[math.nan] * len(folds)] * len(alphas)
        return out, str(exc)


def _run_tasks(args: tuple, gammas: list[float | None], jobs: int):
    """Results of :func:`_gamma_task` for each gamma, in order, through the executor (worker processes
    when ``jobs > 1``)."""
    return executor().map_tasks(functools.partial(_gamma_of, args), gammas, jobs=jobs)


def _gamma_of(args: tuple, gamma: float | None) -> tuple[dict, str | None]:
    return _gamma_task(gamma, *args)


def resolve_jobs(jobs: int | None) -> int:
    """``--jobs``: None means the default (see DEFAULT_JOBS), a negative number counts back from all cores."""
    cores = os.cpu_count() or 1
    if jobs is None:
        jobs = DEFAULT_JOBS if DEFAULT_JOBS is not None else cores
    if jobs == 0 or jobs < -cores:
        raise UsageError(f"--jobs must be 1 or more, or -1 (all cores) down to -{cores}; got {jobs}")
    return max(1, min(cores, jobs if jobs > 0 else cores + 1 + jobs))


def cross_validate(
    X: np.ndarray,
    Y: np.ndarray,
    kernel: str = "rbf",
    gammas: list[float | None] | None = None,
    alphas: list[float] | None = None,
    *,
    degree: float = 3,
    coef0: float = 1,
    folds: int | None = None,
    seed: int = 0,
    metric: str = "rmse",
    progress: Progress | None = None,
    method: str | None = None,
    refine: bool = True,
    jobs: int | None = None,
    solver: str = "exact",
    n_centers: int | None = None,
    rows: Any = None,
    sample_weight: np.ndarray | None = None,
    fit_intercept: bool = False,
) -> CVReport:
    """Score every (gamma, alpha) pair by leave-one-out, GCV or k-fold.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    gammas : list of float, or None for the default data-driven grid
    alphas : list of float > 0, or None for ``1e-6:1e2:9``
    folds : int or None
        The number of folds for k-fold; None for leave-one-out or GCV.
    metric : {"rmse", "mae", "r2"}
        What "best" means (ignored by GCV, which minimises the GCV criterion).
    method : {"loo", "gcv", "kfold"} or None
        None means "kfold" when ``folds`` is given, else "loo".
    refine : bool
        For loo and gcv, refine alpha continuously around the best grid point.
    jobs : int or None
        Gammas scored in parallel worker processes (None: DEFAULT_JOBS).
    progress : callable(done, total), optional
    solver : {"exact", "nystrom"}
        "nystrom" scores the Nystrom model with ``n_centers`` centers (None: the solver's default
        number) sampled with ``seed``, by the closed forms of :mod:`.nystrom_cv`; no alpha refinement.
    rows : training rows, optional
        For nystrom, the rows as an object with the solver's passes (a cluster's partitions,
        :class:`krrcli.data.partitions.PartitionedRows`) instead of ``X`` and ``Y`` (then None).
    sample_weight : ndarray of shape (n_samples,), or None
        Weights of the rows (finite, >= 0, not all 0), as ``KernelRidge.fit`` takes them: every fit
        weighted, every score weighted (see ``closed_forms._weighted``); rows of weight 0 are left out
        before the folds are drawn.
    fit_intercept : bool
        Score the model with an unpenalized intercept (``KernelRidge(fit_intercept=True)``).
    """
    spec = get_kernel(kernel)
    kernel = spec.name  # (an alias such as "poly" resolved)
    method = method or ("kfold" if folds is not None else "loo")
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    if (method == "kfold") != (folds is not None):
        raise UsageError("k-fold needs a number of folds, and leave-one-out and GCV take none")
    criterion = "gcv" if method == "gcv" else metric
    if rows is not None and solver != "nystrom":
        raise UsageError("training rows other than arrays are cross-validated by the nystrom solver only")
    weights = None
    if sample_weight is not None:
        if rows is not None:
            raise UsageError("sample weights are not supported with --engine dask yet")
        from ..estimator import _check_weights

        weights = _check_weights(sample_weight, X.shape[0])
        if not np.all(weights > 0):
            keep = weights > 0
            X, Y, weights = X[keep], Y[keep], weights[keep]
    if rows is None:
        if Y.ndim == 1:
            Y = Y[:, None]
        rows = LocalRows(X, Y, weights)
    n, d, t = rows.n_rows, rows.n_features, rows.n_targets
    if jobs is None and n < PARALLEL_MIN_ROWS:
        jobs = 1  # starting worker processes costs more than it saves on small data
    jobs = resolve_jobs(jobs)
    if n < 2:
        raise DataError(f"need at least 2 rows to cross-validate, got {n}")
    if gammas is None:
        gammas = default_gammas(X if X is not None else rows, kernel, seed)
    elif not spec.uses_gamma:
        gammas = [None]
    if alphas is None:
        alphas = parse_grid(DEFAULT_ALPHAS, "alpha")
    alpha_arr = np.asarray(alphas, dtype=np.float64)
    fold_idx = None if folds is None else kfold_indices(n, folds, seed)
    strategy = None
    if fold_idx is not None:  # (with an intercept always one full eigendecomposition: its dof needs it)
        strategy = "full-eigh" if fit_intercept else kfold_strategy(n, len(fold_idx), len(alpha_arr))

    check_grid_size(len(gammas), len(alpha_arr))
    if solver not in ("exact", "nystrom"):
        raise UsageError(f"unknown cv solver {solver!r}; choose exact or nystrom")
    gamma_values = [(1.0 / d if g is None else float(g)) if spec.uses_gamma else None for g in gammas]
    base = None
    if solver == "nystrom":
        from .nystrom_cv import check_nystrom_cv_memory, nystrom_centers

        strategy = None if fold_idx is None else "nystrom"
        centers = nystrom_centers(rows, n_centers, seed)
        k = 1 if fold_idx is None else len(fold_idx)
        check_nystrom_cv_memory(n, d, t, len(alpha_arr), k, centers.shape[0], rows_here=X is not None)
        tasks = _nystrom_tasks(
            rows, kernel, degree, coef0, alpha_arr, centers, fold_idx, seed, gamma_values, fit_intercept
        )
    else:
        workers = min(jobs, len(gammas))
        check_memory(
            cv_peak_bytes(n, t, len(alpha_arr), workers),
            f"cross-validating {n:,} rows with {workers} worker(s) ({2 + 3 * workers} matrices of {n:,} x {n:,}, "
            f"{format_bytes(8 * n * n)} each, and {len(alpha_arr)} alpha(s))",
            lambda available: _cv_memory_advice(n, t, len(alpha_arr), workers, available),
        )
        lapack64.check_lapack32(n, "cross-validation", "use a random sample of the rows", subject="this data")
        base = base_matrix(X, kernel)
        args = (base, Y, kernel, degree, coef0, alpha_arr, method, fold_idx, strategy, weights, fit_intercept)
        tasks = _run_tasks(args, gamma_values, jobs)
    total = len(gammas)
    if progress:
        progress(0, total)
    results: list[CVResult] = []
    skipped: list[str] = []
    reason = ""
    for done, (gamma, (out, error)) in enumerate(zip(gamma_values, tasks, strict=True), start=1):
        if error is not None:
            skipped.append(f"gamma={gamma:g}" if gamma is not None else kernel)
            reason = error
        for a, alpha in enumerate(alphas):
            results.append(
                CVResult(
                    gamma,
                    float(alpha),
                    float(out["rmse"][a]),
                    float(out["mae"][a]),
                    float(out["r2"][a]),
                    float(out["dof"][a]),
                    None if out.get("gcv") is None else float(out["gcv"][a]),
                    out["rmse_folds"][a] if "rmse_folds" in out else None,
                )
            )
        if progress:
            progress(done, total)
    if len(skipped) == len(gammas):
        raise DataError(f"no grid point could be scored: {reason}")
    if skipped:
        warnings.warn(
            f"skipped {', '.join(skipped)}: the kernel matrix is not finite or could not be decomposed",
            KrrWarning,
            stacklevel=2,
        )
    best = pick_best(results, criterion)
    refined = None
    if refine and method in ("loo", "gcv") and len(alphas) > 1 and base is not None:
        refined = refine_alpha(
            base,
            Y,
            kernel=kernel,
            gamma=best.gamma,
            degree=degree,
            coef0=coef0,
            alphas=list(alphas),
            best_alpha=best.alpha,
            metric=criterion,
            weights=weights,
            intercept=fit_intercept,
        )
    notes = _edge_notes(best, gammas if spec.uses_gamma else [], list(alphas))
    if refined is not None and not min(alphas) <= refined.alpha <= max(alphas):
        notes.append(f"the refined alpha {refined.alpha:g} lies outside the grid; the score still improves that way")
    return CVReport(
        method=method,
        folds=n if fold_idx is None else len(fold_idx),
        metric=criterion,
        kernel=kernel,
        gammas=[None if g is None else float(g) for g in gammas] if spec.uses_gamma else [None],
        alphas=[float(a) for a in alphas],
        results=results,
        best=best,
        n_samples=n,
        seed=None if fold_idx is None and solver == "exact" else seed,  # nystrom's centers depend on it
        refined=refined,
        strategy=strategy,
        notes=notes,
    )


def _nystrom_tasks(rows, kernel, degree, coef0, alpha_arr, centers, fold_idx, seed, gamma_values, intercept=False):
    """The Nystrom closed forms' (scores, error) per gamma, in this process (BLAS uses every core) or on
    the cluster that holds ``rows``."""
    from ..kernels import KernelSpec
    from .nystrom_cv import score_nystrom_gamma

    for gamma in gamma_values:
        spec = KernelSpec(kernel, gamma, float(degree), float(coef0))
        try:
            with np.errstate(all="ignore"):
                out, refits = score_nystrom_gamma(rows, spec, alpha_arr, centers, fold_idx, seed, intercept=intercept)
        except (NonFiniteKernel, linalg.LinAlgError) as exc:
            nan = np.full(len(alpha_arr), np.nan)
            out = {"rmse": nan, "mae": nan, "r2": nan, "dof": nan, "gcv": nan if fold_idx is None else None}
            if fold_idx is not None:
                out["rmse_folds"] = [[math.nan] * len(fold_idx)] * len(alpha_arr)
            yield out, str(exc)
            continue
        if refits:
            label = f"gamma={gamma:g}" if gamma is not None else kernel
            what = (
                "they were refitted by the nystrom solver"
                if fold_idx is not None
                else "leave-one-out has no closed form for them, so they are not scored"
            )
            warnings.warn(
                f"{label}: the closed form failed its accuracy check for {refits} (fold, alpha) cell(s); {what}",
                KrrWarning,
                stacklevel=3,
            )
        yield out, None


def _cv_memory_advice(n: int, t: int, n_alphas: int, workers: int, available: int) -> str:
    """Advice that would help: fewer workers if that is enough, else the largest sample that fits."""
    if workers > 1 and cv_peak_bytes(n, t, n_alphas, 1) <= available:
        return "use --jobs 1 (one worker fits)"
    lo, hi = 0, n
    while lo < hi:  # the most rows that fit with one worker
        mid = (lo + hi + 1) // 2
        if cv_peak_bytes(mid, t, n_alphas, 1) <= available:
            lo = mid
        else:
            hi = mid - 1
    jobs = " with --jobs 1" if workers > 1 else ""
    if lo < 2:
        return "even 2 rows would not fit; free memory or raise KRR_MEMORY_LIMIT"
    return f"cross-validate a random sample of at most {lo:,} rows{jobs}, or use a machine with more memory"


__all__ = [
    "CV_EXACT_AUTO_MAX_ROWS",
    "COST_CHOLESKY",
    "COST_EIGH",
    "COST_GEMM",
    "DEFAULT_ALPHAS",
    "GAMMA_GRID_DECADES",
    "GAMMA_GRID_POINTS",
    "METHODS",
    "METRICS",
    "SCALE_SAMPLE_ROWS",
    "CVReport",
    "CVResult",
    "check_grid_size",
    "cross_validate",
    "cv_peak_bytes",
    "default_gammas",
    "gamma_scale",
    "kfold_indices",
    "kfold_strategy",
    "parse_grid",
    "pick_best",
    "refine_alpha",
    "resolve_jobs",
]
