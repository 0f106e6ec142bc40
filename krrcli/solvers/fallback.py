"""The fallback policy, in one place: what happens when a solver reports a known failure.

- single precision not enough (:class:`~.base.Float32Inadequate`): the same solver again,
  in float64, if that fits in memory;
- ``K + alpha I`` not positive definite (:class:`~.base.NotPositiveDefinite`): the
  eigendecomposition solver, which gives the minimum-norm least-squares solution.

Each fallback is a warning (:class:`~krrcli.errors.KrrWarning`) and is recorded in
:attr:`Solution.fallbacks`; the solution's ``solver`` and ``dtype`` say what really ran.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ..errors import KrrWarning, UsageError
from .base import Float32Inadequate, NotPositiveDefinite, Solution, SolverOptions, get_solver

if TYPE_CHECKING:
    import numpy as np

    from ..kernels import KernelSpec


def _warn(alpha: float, reason: str, instead: str) -> None:
    warnings.warn(f"{reason} (alpha = {alpha:g}); solving {instead} instead", KrrWarning, stacklevel=4)


def solve(
    name: str,
    X: Any,
    Y: np.ndarray | None,
    *,
    alpha: float,
    kernel: KernelSpec,
    options: SolverOptions | None = None,
    dtype: str = "float64",
    weights: np.ndarray | None = None,
    keep_factor: bool = False,
) -> Solution:
    """Fit with solver ``name``, applying the fallback policy to the failures it reports.

    X : ndarray of shape (n_samples, n_features), or a cluster's rows (nystrom only)
    Y : ndarray of shape (n_samples, n_targets), or None with a cluster's rows
    weights : ndarray of shape (n_samples,) of positive sample weights, or None
    """
    solver = get_solver(name)
    options = solver.make_options(options)
    if dtype not in solver.precisions:
        dtype = "float64"
    extra = {}
    if weights is not None:
        if not solver.weighted:
            raise UsageError(f"the {solver.name} solver does not take sample weights")
        extra["weights"] = weights
    if keep_factor:
        if not solver.keeps_factor:
            raise UsageError(f"the {solver.name} solver keeps no factor for --keep-factor; use cholesky or nystrom")
        extra["keep_factor"] = True
    fallbacks: list[str] = []
    try:
        sol = solver.fit(X, Y, alpha=alpha, kernel=kernel, options=options, dtype=dtype, **extra)
    except Float32Inadequate as failure:
        from ..resources import check_memory

        if Y is not None:  # (a cluster's rows stay on its workers)
            n, d, t = X.shape[0], X.shape[1], Y.shape[1]
            check_memory(
                solver.peak_bytes(n_samples=n, n_features=d, n_targets=t, itemsize=8, options=options),
                f"refitting {n:,} rows in float64 after {failure.reason}",
                "use a larger alpha, fewer rows, or a machine with more memory",
            )
        _warn(alpha, failure.reason, "in float64")
        fallbacks.append(f"float32 -> float64: {failure.reason}")
        sol = solve(
            name, X, Y, alpha=alpha, kernel=kernel, options=options, dtype="float64", weights=weights,
            keep_factor=keep_factor,
        )  # fmt: skip
    except NotPositiveDefinite as failure:
        if keep_factor:
            from ..errors import DataError

            raise DataError(
                f"--keep-factor needs a Cholesky factor, and {failure.reason} (alpha = {alpha:g}); use a larger alpha"
            ) from None
        _warn(alpha, failure.reason, "by least squares from an eigendecomposition")
        fallbacks.append(f"{solver.name} -> eigh: {failure.reason}")
        sol = solve("eigh", X, Y, alpha=alpha, kernel=kernel, dtype="float64", weights=weights)
    sol.fallbacks[:0] = fallbacks
    return sol
