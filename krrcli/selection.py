"""Choosing gamma and alpha: exact leave-one-out in closed form, and k-fold.

Leave-one-out uses one symmetric eigendecomposition ``K = Q diag(d) Q^T`` per
gamma. For every alpha, with ``G = K + alpha I``:

    c = G^-1 y = Q diag(1 / (d + alpha)) Q^T y
    diag(G^-1) = (Q * Q) @ (1 / (d + alpha))
    e_i = c_i / (G^-1)_ii          (the exact leave-one-out residual)

so all alphas cost two n x n products together, and no model is refitted.

k-fold computes the base matrix (distances or inner products) once for the whole
grid, derives each gamma's kernel from it in place, and per fold either
eigendecomposes the training block once for all alphas or factors it once per
alpha, whichever is cheaper for the grid.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg

from .errors import DataError, UsageError
from .kernels import NonFiniteKernel, apply_kernel, base_matrix, get_kernel
from .model import regression_scores
from .resources import check_memory, format_bytes
from .solvers import KrrWarning

DEFAULT_ALPHAS = "1e-6:1e2:9"
GAMMA_GRID_POINTS = 7
GAMMA_GRID_DECADES = 2.0  # the default gamma grid spans centre * 10^[-2, 2]
SCALE_SAMPLE_ROWS = 1000
# k-fold: with at least this many alphas, one eigendecomposition per fold beats
# one Cholesky per alpha. Measured on a 2-core OpenBLAS machine: a divide-and-
# conquer eigendecomposition of a 2000 x 2000 kernel takes about 12 Choleskys.
EIGH_MIN_ALPHAS = 12

METRICS = ("rmse", "mae", "r2")

Progress = Callable[[int, int], None]


def parse_grid(spec: str, name: str) -> list[float]:
    """``"0.1"``, ``"0.1,1,10"`` or a log-spaced range ``"LO:HI:N"`` -> a list of floats."""
    text = spec.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            lo, hi, num = float(parts[0]), float(parts[1]), int(parts[2])
            if lo <= 0 or hi <= 0 or num < 1:
                raise ValueError
            # rounded to 12 significant digits so that 1e-5 prints as 1e-05, not 9.999999999999999e-06
            values = [float(f"{v:.12g}") for v in np.logspace(math.log10(lo), math.log10(hi), num)]
        else:
            values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(
            f"cannot read --{name} {spec!r}; give a number, a comma-separated list, "
            "or a log-spaced range LO:HI:N with LO, HI > 0 (e.g. 1e-6:1e2:9)"
        ) from None
    values = list(dict.fromkeys(values))  # drop repeats, keep the order
    if not values:
        raise UsageError(f"--{name} is empty")
    for v in values:
        if not math.isfinite(v) or (name == "gamma" and v <= 0) or (name == "alpha" and v <= 0):
            raise UsageError(f"every --{name} value must be a finite number > 0 in cv, got {v:g}")
    return values


def gamma_scale(X: np.ndarray, kernel: str, seed: int = 0) -> float:
    """The data's own scale for gamma, the centre of the default grid.

    rbf: 1 / median squared Euclidean distance between rows; laplacian: 1 /
    median L1 distance; polynomial and sigmoid: 1 / median squared row norm.
    Computed on at most 1000 rows drawn with ``default_rng(seed)``; falls back
    to 1 / n_features when that median is 0.
    """
    n, d = X.shape
    rng = np.random.default_rng(seed)
    S = X if n <= SCALE_SAMPLE_ROWS else X[rng.choice(n, SCALE_SAMPLE_ROWS, replace=False)]
    spec = get_kernel(kernel)
    if spec.base == "dot":
        med = float(np.median(np.einsum("ij,ij->i", S, S)))
    else:
        B = base_matrix(S, kernel)
        iu = np.triu_indices(S.shape[0], k=1)
        med = float(np.median(B[iu])) if iu[0].size else 0.0
    return 1.0 / med if med > 0 and math.isfinite(med) else 1.0 / d


def default_gammas(X: np.ndarray, kernel: str, seed: int = 0) -> list[float | None]:
    """Seven log-spaced gammas around :func:`gamma_scale` (``[None]`` for kernels without gamma)."""
    if not get_kernel(kernel).uses_gamma:
        return [None]
    centre = gamma_scale(X, kernel, seed)
    return list(centre * np.logspace(-GAMMA_GRID_DECADES, GAMMA_GRID_DECADES, GAMMA_GRID_POINTS))


def kfold_indices(n: int, k: int, seed: int = 0) -> list[np.ndarray]:
    """Test rows of each fold: ``default_rng(seed).permutation(n)`` cut into ``k`` contiguous, near-equal parts."""
    if k < 2:
        raise UsageError(f"--folds must be >= 2, got {k}")
    if n < k:
        raise DataError(f"cannot make {k} folds from {n} rows; use at most {n} folds")
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(perm, k)]


@dataclass
class CVResult:
    """Scores of one (gamma, alpha) pair."""

    gamma: float | None
    alpha: float
    rmse: float
    mae: float
    r2: float
    effective_dof: float | None = None

    def to_dict(self) -> dict:
        return {
            "gamma": self.gamma,
            "alpha": self.alpha,
            "rmse": self.rmse,
            "mae": self.mae,
            "r2": self.r2,
            "effective_dof": self.effective_dof,
        }


@dataclass
class CVReport:
    """Everything a cross-validation found."""

    method: str
    folds: int
    metric: str
    kernel: str
    gammas: list[float | None]
    alphas: list[float]
    results: list[CVResult]
    best: CVResult
    n_samples: int
    seed: int | None = None
    extra: dict = field(default_factory=dict)

    def score_grid(self) -> np.ndarray:
        """The chosen metric as an array of shape (n_gammas, n_alphas)."""
        vals = [getattr(r, self.metric) for r in self.results]
        return np.array(vals).reshape(len(self.gammas), len(self.alphas))


def pick_best(results: list[CVResult], metric: str) -> CVResult:
    """The best result by ``metric`` (largest r2, smallest rmse/mae; first on ties)."""
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    sign = -1.0 if metric == "r2" else 1.0
    scored = [r for r in results if math.isfinite(getattr(r, metric))]
    if not scored:
        raise DataError("no grid point has a finite score")
    return min(scored, key=lambda r: sign * getattr(r, metric))


def _loo_one_gamma(K: np.ndarray, Y: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out predictions for every alpha from one eigendecomposition.

    K : ndarray of shape (n, n), destroyed. Y : ndarray of shape (n, t).
    Returns predictions of shape (n_alphas, n, t) and dof of shape (n_alphas,).
    """
    d, Q = linalg.eigh(K, overwrite_a=True, check_finite=False, driver="evd")
    del K
    n, t = Y.shape
    inv = 1.0 / (d[:, None] + alphas[None, :])  # (n, A)
    diag_ginv = (Q * Q) @ inv  # (n, A): diag(G^-1) for every alpha
    QtY = Q.T @ Y  # (n, t)
    C = Q @ (inv[:, :, None] * QtY[:, None, :]).reshape(n, -1)  # (n, A*t): G^-1 y for every alpha
    C = C.reshape(n, len(alphas), t).transpose(1, 0, 2)  # (A, n, t)
    E = C / diag_ginv.T[:, :, None]
    dof = np.sum(d[:, None] * inv, axis=0)
    return Y[None, :, :] - E, dof


def _kfold_one_gamma(K: np.ndarray, Y: np.ndarray, alphas: np.ndarray, folds: list[np.ndarray]) -> np.ndarray:
    """Out-of-fold predictions of shape (n_alphas, n, t) for one kernel matrix."""
    n, t = Y.shape
    P = np.empty((len(alphas), n, t))
    all_rows = np.arange(n)
    for test in folds:
        train = np.setdiff1d(all_rows, test, assume_unique=True)
        Ktr = K[np.ix_(train, train)]
        Kte = K[np.ix_(test, train)]
        Ytr = Y[train]
        if len(alphas) >= EIGH_MIN_ALPHAS:
            d, Q = linalg.eigh(Ktr, overwrite_a=True, check_finite=False, driver="evd")
            QtY = Q.T @ Ytr
            KQ = Kte @ Q
            for a, alpha in enumerate(alphas):
                P[a, test] = KQ @ (QtY / (d + alpha)[:, None])
        else:
            for a, alpha in enumerate(alphas):
                G = Ktr.copy() if a < len(alphas) - 1 else Ktr
                G.flat[:: G.shape[0] + 1] += alpha
                try:
                    cf = linalg.cho_factor(G, lower=True, overwrite_a=True, check_finite=False)
                    W = linalg.cho_solve(cf, Ytr, check_finite=False)
                except linalg.LinAlgError:
                    W = linalg.lstsq(K[np.ix_(train, train)] + alpha * np.eye(len(train)), Ytr)[0]
                P[a, test] = Kte @ W
    return P


def cross_validate(
    X: np.ndarray,
    Y: np.ndarray,
    kernel: str = "rbf",
    gammas: list[float | None] | None = None,
    alphas: list[float] | None = None,
    degree: float = 3,
    coef0: float = 1,
    folds: int | None = None,
    seed: int = 0,
    metric: str = "rmse",
    progress: Progress | None = None,
) -> CVReport:
    """Score every (gamma, alpha) pair by leave-one-out (``folds=None``) or k-fold.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    gammas : list of float, or None for the default data-driven grid
    alphas : list of float > 0, or None for ``1e-6:1e2:9``
    folds : int or None
        None for exact leave-one-out, else the number of folds.
    progress : callable(done, total), optional
    """
    spec = get_kernel(kernel)
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    n, d = X.shape
    if Y.ndim == 1:
        Y = Y[:, None]
    if n < 2:
        raise DataError(f"need at least 2 rows to cross-validate, got {n}")
    if gammas is None:
        gammas = default_gammas(X, kernel, seed)
    elif not spec.uses_gamma:
        gammas = [None]
    if alphas is None:
        alphas = parse_grid(DEFAULT_ALPHAS, "alpha")
    alpha_arr = np.asarray(alphas, dtype=np.float64)
    fold_idx = None if folds is None else kfold_indices(n, folds, seed)

    copies = 4
    check_memory(
        copies * 8 * n * n,
        f"cross-validating {n:,} rows ({copies} matrices of {n:,} x {n:,}, {format_bytes(8 * n * n)} each)",
        "use k-fold on a random sample of the rows",
    )

    base = base_matrix(X, kernel)
    total = len(gammas)
    done = 0
    if progress:
        progress(done, total)
    results: list[CVResult] = []
    skipped: list[str] = []
    reason = ""
    for g in gammas:
        gamma = (1.0 / d if g is None else float(g)) if spec.uses_gamma else None
        K = base.copy()
        with np.errstate(all="ignore"):
            apply_kernel(K, kernel, gamma, degree, coef0)
        try:
            if not np.isfinite(K).all():
                raise NonFiniteKernel(kernel, gamma, degree, coef0)
            if fold_idx is None:
                P, dof = _loo_one_gamma(K, Y, alpha_arr)
            else:
                P = _kfold_one_gamma(K, Y, alpha_arr, fold_idx)
                dof = [None] * len(alpha_arr)
        except (NonFiniteKernel, linalg.LinAlgError) as exc:
            skipped.append(f"gamma={gamma:g}" if gamma is not None else kernel)
            reason = str(exc)
            P = np.full((len(alpha_arr),) + Y.shape, np.nan)
            dof = [None] * len(alpha_arr)
        del K
        for a, alpha in enumerate(alphas):
            s = regression_scores(Y, P[a])
            results.append(
                CVResult(gamma, float(alpha), s["rmse"], s["mae"], s["r2"], None if dof[a] is None else float(dof[a]))
            )
        done += 1
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
    return CVReport(
        method="loo" if fold_idx is None else "kfold",
        folds=n if fold_idx is None else len(fold_idx),
        metric=metric,
        kernel=kernel,
        gammas=[None if g is None else float(g) for g in gammas] if spec.uses_gamma else [None],
        alphas=[float(a) for a in alphas],
        results=results,
        best=pick_best(results, metric),
        n_samples=n,
        seed=None if fold_idx is None else seed,
    )
