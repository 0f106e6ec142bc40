"""Choosing gamma and alpha: exact leave-one-out, GCV and k-fold, in closed form.

The base matrix (distances or inner products) is computed once for the whole
grid and each gamma's kernel is derived from it in place.

Leave-one-out and GCV use one symmetric eigendecomposition ``K = Q diag(d) Q^T``
per gamma. For every alpha, with ``G = K + alpha I``:

    c = G^-1 y = Q diag(1 / (d + alpha)) Q^T y
    diag(G^-1) = (Q * Q) @ (1 / (d + alpha))
    e_i = c_i / (G^-1)_ii                       exact leave-one-out residual
    y - y_hat = alpha c,  df = sum_j d_j / (d_j + alpha)
    GCV = (||y - y_hat||^2 / n) / (1 - df / n)^2

so all alphas cost a few n x n products together, and no model is refitted.

k-fold uses the block form of the same identity (An, Liu & Venkatesh, 2007):
the residuals of fold B, when the model is fitted on the other rows, are

    e_B = ((G^-1)_BB)^-1 (G^-1 y)_B,   (G^-1)_BB = Q_B diag(1 / (d + alpha)) Q_B^T

so with one eigendecomposition of the full kernel per gamma every (alpha, fold)
costs two thin products and a small solve. The alternatives — one Cholesky of
each fold's training block per alpha, or one eigendecomposition of each fold's
training block — are cheaper for short alpha lists or two folds; a cost model
(constants measured on a 2-core machine) picks the cheapest per grid.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg

from .errors import DataError, KrrWarning, UsageError
from .execution import executor
from .kernels import NonFiniteKernel, apply_kernel, base_matrix, get_kernel
from .limits import MAX_GRID_POINTS, MAX_GRID_VALUES
from .metrics import residual_scores
from .resources import check_memory, format_bytes
from .solvers import lapack64
from .solvers.direct import eigh_kernel, eigvals_kernel, spd_solve

DEFAULT_ALPHAS = "1e-6:1e2:9"
GAMMA_GRID_POINTS = 7
GAMMA_GRID_DECADES = 2.0  # the default gamma grid spans centre * 10^[-2, 2]
SCALE_SAMPLE_ROWS = 1000
# k-fold cost model, in seconds per unit of work, measured on a 2-core OpenBLAS
# machine by benchmarks/cv_costs.py: a divide-and-conquer eigendecomposition
# costs COST_EIGH * n^3; refitting one fold of m training rows (copy, Cholesky,
# solve, held-out product) COST_CHOLESKY * m^3; one fold of b rows in the block
# identity (its (G^-1)_BB product, factorization and solve) COST_GEMM * n * b^2.
COST_EIGH = 1.55e-10
COST_CHOLESKY = 2.0e-11
COST_GEMM = 6.0e-11

# Gammas are scored in parallel worker processes by default, one per core, each
# with BLAS capped to cores / jobs threads. Measured on 2 cores (n = 1500, 5 gammas,
# 5 folds): k-fold 6.7 s with 2 workers against 10.1 s with one process using BLAS's
# two threads; leave-one-out 6.1 s either way.
DEFAULT_JOBS = None  # None: all cores
PARALLEL_MIN_ROWS = 1000  # below this, the default is one process

METRICS = ("rmse", "mae", "r2")
METHODS = ("loo", "gcv", "kfold")

Progress = Callable[[int, int], None]


class _TooMany(Exception):
    pass


def _short_spec(spec: str) -> str:
    return repr(spec) if len(spec) <= 40 else repr(spec[:40]) + "..."


def check_grid_size(n_gammas: int, n_alphas: int) -> None:
    """A grid of more than ``MAX_GRID_POINTS`` points is a usage error, before any work."""
    if n_gammas * n_alphas > MAX_GRID_POINTS:
        raise UsageError(
            f"the grid has {n_gammas:,} gamma(s) x {n_alphas:,} alpha(s) = {n_gammas * n_alphas:,} points; "
            f"krr cv scores at most {MAX_GRID_POINTS:,}"
        )


def cv_peak_bytes(n: int, n_targets: int, n_alphas: int, workers: int) -> int:
    """Bytes cross-validation holds at its peak: the base matrix and its copy, then per worker
    the kernel, its eigenvectors and one product (n x n each) and the per-alpha arrays of the
    closed forms (residuals, diagonals, weights: about six of n x alphas x targets)."""
    per_worker = 3 * 8 * n * n + 6 * 8 * n * n_alphas * max(1, n_targets)
    return 2 * 8 * n * n + workers * per_worker


def parse_grid(spec: str, name: str) -> list[float]:
    """``"0.1"``, ``"0.1,1,10"`` or a log-spaced range ``"LO:HI:N"`` -> a list of floats."""
    text = spec.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            lo, hi, num = float(parts[0]), float(parts[1]), int(parts[2])
            if num > MAX_GRID_VALUES:
                raise _TooMany(num)
            if lo <= 0 or hi <= 0 or num < 1 or (num == 1 and lo != hi) or (num > 1 and lo == hi):
                raise ValueError
            # rounded to 12 significant digits so that 1e-5 prints as 1e-05, not 9.999999999999999e-06
            values = [float(f"{v:.12g}") for v in np.logspace(math.log10(lo), math.log10(hi), num)]
        else:
            items = text.split(",")
            if len(items) > 1 and any(not v.strip() for v in items):
                raise ValueError  # "1,,2" or "1,": an empty item is a typo, not a request
            if len(items) > MAX_GRID_VALUES:
                raise _TooMany(len(items))
            values = [float(v) for v in items if v.strip()]
    except _TooMany as exc:
        raise UsageError(
            f"--{name} {_short_spec(spec)} asks for {exc.args[0]:,} values; a grid takes at most "
            f"{MAX_GRID_VALUES:,} per parameter (refine around the best instead)"
        ) from None
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
    gcv: float | None = None
    rmse_folds: list[float] | None = None

    def score(self, metric: str) -> float:
        return float(getattr(self, metric))

    def to_dict(self) -> dict:
        out = {
            "gamma": self.gamma,
            "alpha": self.alpha,
            "rmse": self.rmse,
            "mae": self.mae,
            "r2": self.r2,
            "effective_dof": self.effective_dof,
        }
        if self.gcv is not None:
            out["gcv"] = self.gcv
        if self.rmse_folds is not None:
            out["rmse_folds"] = self.rmse_folds
        return out


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
    refined: CVResult | None = None
    strategy: str | None = None
    notes: list[str] = field(default_factory=list)

    def score_grid(self) -> np.ndarray:
        """The chosen metric as an array of shape (n_gammas, n_alphas)."""
        vals = [r.score(self.metric) for r in self.results]
        return np.array(vals, dtype=float).reshape(len(self.gammas), len(self.alphas))


def _sign(metric: str) -> float:
    return -1.0 if metric == "r2" else 1.0


def pick_best(results: list[CVResult], metric: str) -> CVResult:
    """The best result by ``metric`` (largest r2, smallest rmse/mae/gcv; first on ties)."""
    if metric not in (*METRICS, "gcv"):
        raise UsageError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    scored = [r for r in results if r.score(metric) == r.score(metric) and math.isfinite(r.score(metric))]
    if not scored:
        raise DataError("no grid point has a finite score")
    return min(scored, key=lambda r: _sign(metric) * r.score(metric))


def _closed_form(d: np.ndarray, Q: np.ndarray, Y: np.ndarray, alphas: np.ndarray) -> dict:
    """Leave-one-out residuals, GCV and dof for every alpha from ``K = Q diag(d) Q^T``."""
    n, t = Y.shape
    inv = 1.0 / (d[:, None] + alphas[None, :])  # (n, A)
    diag_ginv = (Q * Q) @ inv  # (n, A): diag(G^-1) for every alpha
    QtY = Q.T @ Y  # (n, t)
    C = Q @ (inv[:, :, None] * QtY[:, None, :]).reshape(n, -1)  # (n, A*t): G^-1 y for every alpha
    C = C.reshape(n, len(alphas), t).transpose(1, 0, 2)  # (A, n, t)
    E = C / diag_ginv.T[:, :, None]  # leave-one-out residuals
    dof = np.sum(d[:, None] * inv, axis=0)  # (A,)
    rss = (alphas[:, None] ** 2) * np.sum(C**2, axis=1)  # ||y - y_hat||^2 = alpha^2 ||c||^2, (A, t)
    with np.errstate(divide="ignore", invalid="ignore"):  # dof = n (interpolation): GCV is infinite
        gcv = (rss / n).mean(axis=1) / (1.0 - dof / n) ** 2
    return {"E": E, "dof": dof, "gcv": gcv}


def kfold_strategy(n: int, k: int, n_alphas: int) -> str:
    """The cheapest way to score k folds x n_alphas for one kernel (see the module docstring)."""
    b = n / k
    costs = {
        "full-eigh": COST_EIGH * n**3 + n_alphas * k * COST_GEMM * n * b * b,
        "fold-cholesky": k * n_alphas * COST_CHOLESKY * (n - b) ** 3,
        "fold-eigh": k * COST_EIGH * (n - b) ** 3,
    }
    return min(costs, key=costs.get)


def _kfold_full_eigh(K: np.ndarray, Y: np.ndarray, alphas: np.ndarray, folds: list[np.ndarray]):
    """Held-out residuals (A, n, t) from one eigendecomposition, by the block identity; and dof."""
    d, Q = eigh_kernel(K)
    n, t = Y.shape
    E = np.empty((len(alphas), n, t))
    QtY = Q.T @ Y
    QBs = [np.ascontiguousarray(Q[B]) for B in folds]
    for a, alpha in enumerate(alphas):
        inv = 1.0 / (d + alpha)
        C = Q @ (inv[:, None] * QtY)  # G^-1 y
        root = np.sqrt(inv) if np.all(inv > 0) else None
        for B, QB in zip(folds, QBs, strict=True):
            if root is not None:  # S S^T with S = Q_B diag(1/(d + alpha))^(1/2): a symmetric product
                S = QB * root
                H = S @ S.T
            else:
                H = (QB * inv) @ QB.T  # (G^-1)_BB
            E[a, B] = spd_solve(H, C[B], lambda QB=QB, inv=inv: (QB * inv) @ QB.T)
    return E, np.sum(d[:, None] / (d[:, None] + alphas[None, :]), axis=0)


def _kfold_per_fold(K: np.ndarray, Y: np.ndarray, alphas: np.ndarray, folds: list[np.ndarray], eigh: bool):
    """Held-out residuals (A, n, t) by refitting each fold's training block."""
    n, t = Y.shape
    E = np.empty((len(alphas), n, t))
    all_rows = np.arange(n)
    for test in folds:
        train = np.setdiff1d(all_rows, test, assume_unique=True)
        Ktr = K[np.ix_(train, train)]
        Kte = K[np.ix_(test, train)]
        Ytr = Y[train]
        if eigh:
            d, Q = eigh_kernel(Ktr)
            QtY = Q.T @ Ytr
            KQ = Kte @ Q
            for a, alpha in enumerate(alphas):
                E[a, test] = Y[test] - KQ @ (QtY / (d + alpha)[:, None])
            continue
        for a, alpha in enumerate(alphas):
            G = Ktr.copy() if a < len(alphas) - 1 else Ktr
            G.flat[:: G.shape[0] + 1] += alpha
            W = spd_solve(G, Ytr, lambda train=train, alpha=alpha: K[np.ix_(train, train)] + alpha * np.eye(len(train)))
            E[a, test] = Y[test] - Kte @ W
    return E


def _score_gamma(
    K: np.ndarray, Y: np.ndarray, alphas: np.ndarray, method: str, folds: list[np.ndarray] | None, strategy: str | None
) -> dict:
    """Every alpha's scores for one kernel matrix (K is destroyed)."""
    if method in ("loo", "gcv"):
        d, Q = eigh_kernel(K)
        out = _closed_form(d, Q, Y, alphas)
    elif strategy == "full-eigh":
        E, dof = _kfold_full_eigh(K, Y, alphas, folds)
        out = {"E": E, "dof": dof, "gcv": None}
    else:
        d = eigvals_kernel(K, overwrite=False)
        E = _kfold_per_fold(K, Y, alphas, folds, eigh=strategy == "fold-eigh")
        out = {"E": E, "dof": np.sum(d[:, None] / (d[:, None] + alphas[None, :]), axis=0), "gcv": None}
    rmse, mae, r2 = residual_scores(Y, out["E"])
    out.update(rmse=rmse, mae=mae, r2=r2)
    if folds is not None:
        out["rmse_folds"] = [
            [float(np.sqrt(np.mean(out["E"][a, B] ** 2, axis=0)).mean()) for B in folds] for a in range(len(alphas))
        ]
    del out["E"]
    return out


def _kernel_for(base: np.ndarray, kernel: str, gamma: float | None, degree: float, coef0: float) -> np.ndarray:
    K = base.copy()
    with np.errstate(all="ignore"):
        apply_kernel(K, kernel, gamma, degree, coef0)
    if not np.isfinite(K).all():
        raise NonFiniteKernel(kernel, gamma, degree, coef0)
    return K


def refine_alpha(
    base: np.ndarray,
    Y: np.ndarray,
    *,
    kernel: str,
    gamma: float | None,
    degree: float,
    coef0: float,
    alphas: list[float],
    best_alpha: float,
    metric: str,
) -> CVResult:
    """Continuous alpha for one gamma: a bounded search on log10(alpha) between the grid neighbours of
    ``best_alpha``, each evaluation O(n^2) from one eigendecomposition; returns the optimum's scores.

    A best alpha at the edge of the grid has one neighbour; the search then also reaches one grid step
    beyond the edge (a step of the same log size as the one inside), so it can move off the edge.
    """
    from scipy.optimize import minimize_scalar

    d, Q = eigh_kernel(_kernel_for(base, kernel, gamma, degree, coef0))
    grid = sorted(alphas)
    i = grid.index(best_alpha)
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    if i == 0 and len(grid) > 1:
        lo = best_alpha**2 / hi
    elif i == len(grid) - 1 and len(grid) > 1:
        hi = best_alpha**2 / lo

    def evaluate(log_alpha: float, alpha: float | None = None) -> dict:
        a = np.array([10.0**log_alpha if alpha is None else alpha])
        out = _closed_form(d, Q, Y, a)
        rmse, mae, r2 = residual_scores(Y, out["E"])
        return {"rmse": rmse[0], "mae": mae[0], "r2": r2[0], "gcv": out["gcv"][0], "dof": out["dof"][0]}

    def objective(log_alpha: float) -> float:
        v = evaluate(log_alpha)[metric]
        return _sign(metric) * v if np.isfinite(v) else np.inf

    if lo == hi:
        x = math.log10(best_alpha)
    else:
        res = minimize_scalar(
            objective, bounds=(math.log10(lo), math.log10(hi)), method="bounded", options={"xatol": 1e-4}
        )
        x = float(res.x)
        if objective(x) > objective(math.log10(best_alpha)):
            x = math.log10(best_alpha)
    # report (and let -o refit with) a readable alpha, and the scores of exactly that alpha
    alpha = float(f"{10.0**x:.6g}") if x != math.log10(best_alpha) else best_alpha
    v = evaluate(x, alpha)
    return CVResult(
        gamma,
        alpha,
        float(v["rmse"]),
        float(v["mae"]),
        float(v["r2"]),
        float(v["dof"]),
        float(v["gcv"]),
    )


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
) -> tuple[dict, str | None]:
    """Score every alpha for one gamma; a kernel that cannot be used gives NaN scores and the reason."""
    try:
        return _score_gamma(_kernel_for(base, kernel, gamma, degree, coef0), Y, alphas, method, folds, strategy), None
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
    """
    spec = get_kernel(kernel)
    method = method or ("kfold" if folds is not None else "loo")
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    if (method == "kfold") != (folds is not None):
        raise UsageError("k-fold needs a number of folds, and leave-one-out and GCV take none")
    criterion = "gcv" if method == "gcv" else metric
    if jobs is None and X.shape[0] < PARALLEL_MIN_ROWS:
        jobs = 1  # starting worker processes costs more than it saves on small data
    jobs = resolve_jobs(jobs)
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
    strategy = None if fold_idx is None else kfold_strategy(n, len(fold_idx), len(alpha_arr))

    check_grid_size(len(gammas), len(alpha_arr))
    workers = min(jobs, len(gammas))
    t = Y.shape[1]
    check_memory(
        cv_peak_bytes(n, t, len(alpha_arr), workers),
        f"cross-validating {n:,} rows with {workers} worker(s) ({2 + 3 * workers} matrices of {n:,} x {n:,}, "
        f"{format_bytes(8 * n * n)} each, and {len(alpha_arr)} alpha(s))",
        lambda available: _cv_memory_advice(n, t, len(alpha_arr), workers, available),
    )

    lapack64.check_lapack32(n, "cross-validation", "use a random sample of the rows", subject="this data")
    base = base_matrix(X, kernel)
    total = len(gammas)
    if progress:
        progress(0, total)
    results: list[CVResult] = []
    skipped: list[str] = []
    reason = ""
    gamma_values = [(1.0 / d if g is None else float(g)) if spec.uses_gamma else None for g in gammas]
    args = (base, Y, kernel, degree, coef0, alpha_arr, method, fold_idx, strategy)
    tasks = _run_tasks(args, gamma_values, jobs)
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
    if refine and method in ("loo", "gcv") and len(alphas) > 1:
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
        seed=None if fold_idx is None else seed,
        refined=refined,
        strategy=strategy,
        notes=notes,
    )


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


def _edge_notes(best: CVResult, gammas: list, alphas: list[float]) -> list[str]:
    """Warnings for a best value at the edge of its grid."""
    notes = []
    for name, value, grid in (("alpha", best.alpha, alphas), ("gamma", best.gamma, gammas)):
        values = [v for v in grid if v is not None]
        if len(values) < 2 or value is None:
            continue
        if value == min(values):
            notes.append(f"best {name} is the smallest tried: extend the grid below {value:g}")
        elif value == max(values):
            notes.append(f"best {name} is the largest tried: extend the grid above {value:g}")
    return notes
