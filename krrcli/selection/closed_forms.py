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

import math

import numpy as np

from ..kernels import NonFiniteKernel, apply_kernel
from ..metrics import residual_scores
from ..solvers.direct import eigh_kernel, eigvals_kernel, spd_solve
from .report import CVResult, _sign

# k-fold cost model, in seconds per unit of work, measured on a 2-core OpenBLAS
# machine by benchmarks/cv_costs.py: a divide-and-conquer eigendecomposition
# costs COST_EIGH * n^3; refitting one fold of m training rows (copy, Cholesky,
# solve, held-out product) COST_CHOLESKY * m^3; one fold of b rows in the block
# identity (its (G^-1)_BB product, factorization and solve) COST_GEMM * n * b^2.
COST_EIGH = 1.55e-10
COST_CHOLESKY = 2.0e-11
COST_GEMM = 6.0e-11


# With an unpenalized intercept b (regressor 1, or sqrt(w) in the weighted problem's terms; see
# solvers/intercept.py), the residuals are alpha M y with M = G^-1 - v v^T / (1^T v), v = G^-1 1: M is
# I - H divided by alpha, H the smoother with the intercept, and the same identities hold with M for G^-1
# (the leave-out lemma holds for any penalized least squares, the unpenalized constant included):
#     c = M y = G^-1 y - v (1^T G^-1 y) / (1^T v),   e_i = c_i / M_ii,   e_B = (M_BB)^-1 c_B
#     df = sum_j d_j / (d_j + alpha) + alpha ||v||^2 / (1^T v)
def _intercept_terms(Q: np.ndarray, inv: np.ndarray, one: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``v = G^-1 1`` for every alpha (n, A) and ``1^T v`` (A,), from ``G^-1 = Q diag(inv) Q^T``."""
    V = Q @ (inv * (Q.T @ one)[:, None])
    return V, one @ V


def _closed_form(
    d: np.ndarray, Q: np.ndarray, Y: np.ndarray, alphas: np.ndarray, one: np.ndarray | None = None
) -> dict:
    """Leave-one-out residuals, GCV and dof for every alpha from ``K = Q diag(d) Q^T`` (with ``one``, the
    intercept's regressor: a column of ones, or sqrt(w) when weighted, the model has an intercept)."""
    n, t = Y.shape
    inv = 1.0 / (d[:, None] + alphas[None, :])  # (n, A)
    diag_ginv = (Q * Q) @ inv  # (n, A): diag(G^-1) for every alpha
    QtY = Q.T @ Y  # (n, t)
    C = Q @ (inv[:, :, None] * QtY[:, None, :]).reshape(n, -1)  # (n, A*t): G^-1 y for every alpha
    C = C.reshape(n, len(alphas), t).transpose(1, 0, 2)  # (A, n, t)
    dof = np.sum(d[:, None] * inv, axis=0)  # (A,)
    if one is not None:  # M y and diag(M) for G^-1 y and diag(G^-1)
        V, denom = _intercept_terms(Q, inv, one)
        C = C - V.T[:, :, None] * (np.einsum("i,ait->at", one, C) / denom[:, None])[:, None, :]
        diag_ginv = diag_ginv - V**2 / denom[None, :]
        dof = dof + alphas * np.sum(V**2, axis=0) / denom
    E = C / diag_ginv.T[:, :, None]  # leave-one-out residuals
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


def _kfold_full_eigh(
    K: np.ndarray, Y: np.ndarray, alphas: np.ndarray, folds: list[np.ndarray], one: np.ndarray | None = None
):
    """Held-out residuals (A, n, t) from one eigendecomposition, by the block identity; and dof (with
    ``one``, of the model with an intercept: M for G^-1, see ``_intercept_terms``)."""
    d, Q = eigh_kernel(K, triangle=False)
    n, t = Y.shape
    E = np.empty((len(alphas), n, t))
    QtY = Q.T @ Y
    QBs = [np.ascontiguousarray(Q[B]) for B in folds]
    dof = np.sum(d[:, None] / (d[:, None] + alphas[None, :]), axis=0)
    for a, alpha in enumerate(alphas):
        inv = 1.0 / (d + alpha)
        C = Q @ (inv[:, None] * QtY)  # G^-1 y
        v, den = None, 1.0
        if one is not None:
            V, denom = _intercept_terms(Q, inv[:, None], one)
            v, den = V[:, 0], float(denom[0])
            C = C - np.outer(v, one @ C) / den  # M y
            dof[a] += alpha * (v @ v) / den
        root = np.sqrt(inv) if np.all(inv > 0) else None
        for B, QB in zip(folds, QBs, strict=True):
            if root is not None:  # S S^T with S = Q_B diag(1/(d + alpha))^(1/2): a symmetric product
                S = QB * root
                H = S @ S.T
            else:
                H = (QB * inv) @ QB.T  # (G^-1)_BB
            if v is not None:
                H -= np.outer(v[B], v[B]) / den  # M_BB

            def rebuild(QB=QB, inv=inv, v=v, B=B, den=den) -> np.ndarray:
                G = (QB * inv) @ QB.T
                return G if v is None else G - np.outer(v[B], v[B]) / den

            E[a, B] = spd_solve(H, C[B], rebuild)
    return E, dof


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
            d, Q = eigh_kernel(Ktr, triangle=False)
            QtY = Q.T @ Ytr
            KQ = Kte @ Q
            for a, alpha in enumerate(alphas):
                E[a, test] = Y[test] - KQ @ (QtY / (d + alpha)[:, None])
            continue
        for a, alpha in enumerate(alphas):
            G = Ktr.copy() if a < len(alphas) - 1 else Ktr
            G.flat[:: G.shape[0] + 1] += alpha
            W = spd_solve(
                G,
                Ytr,
                lambda train=train, alpha=alpha: K[np.ix_(train, train)] + alpha * np.eye(len(train)),
                triangle=False,
            )
            E[a, test] = Y[test] - Kte @ W
    return E


# Sample weights w (all > 0): the weighted fit is the unweighted one of S K S and S y, S = diag(sqrt(w))
# (solvers/direct.py), and leaving rows out of it is leaving them out of the scaled problem. So every
# closed form above, run on S K S and S y, gives the scaled held-out residuals S e: divided by sqrt(w) they
# are the residuals e, scored with weights (rmse = sqrt(sum w e^2 / sum w), ...). GCV's mean square is
# sum w (y - y_hat)^2 / sum w.
def _weighted(K: np.ndarray, Y: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``S K S`` in ``K``'s memory and ``S Y``, with ``S = diag(sqrt(weights))`` (unchanged without)."""
    if weights is None:
        return Y, None
    s = np.sqrt(weights)
    K *= s[:, None]
    K *= s[None, :]
    return Y * s[:, None], s


def _score_gamma(
    K: np.ndarray,
    Y: np.ndarray,
    alphas: np.ndarray,
    method: str,
    folds: list[np.ndarray] | None,
    strategy: str | None,
    weights: np.ndarray | None = None,
    intercept: bool = False,
) -> dict:
    """Every alpha's scores for one kernel matrix (K is destroyed), rows weighted by ``weights`` if given,
    of the model with an unpenalized intercept if ``intercept``."""
    Y_raw, (Y, s) = Y, _weighted(K, Y, weights)
    one = None if not intercept else (np.ones(Y.shape[0]) if s is None else s)
    if method in ("loo", "gcv"):
        d, Q = eigh_kernel(K, triangle=False)
        out = _closed_form(d, Q, Y, alphas, one)
    elif strategy == "full-eigh" or intercept:
        E, dof = _kfold_full_eigh(K, Y, alphas, folds, one)
        out = {"E": E, "dof": dof, "gcv": None}
    else:
        d = eigvals_kernel(K, triangle=False, overwrite=False)
        E = _kfold_per_fold(K, Y, alphas, folds, eigh=strategy == "fold-eigh")
        out = {"E": E, "dof": np.sum(d[:, None] / (d[:, None] + alphas[None, :]), axis=0), "gcv": None}
    E = out["E"] if s is None else out["E"] / s[None, :, None]
    rmse, mae, r2 = residual_scores(Y_raw, E, weights)
    out.update(rmse=rmse, mae=mae, r2=r2)
    if weights is not None and out["gcv"] is not None:
        out["gcv"] = out["gcv"] * (Y.shape[0] / weights.sum())
    if folds is not None:
        w = np.ones(Y.shape[0]) if weights is None else weights
        out["rmse_folds"] = [
            [float(np.sqrt((w[B] @ E[a, B] ** 2) / w[B].sum()).mean()) for B in folds] for a in range(len(alphas))
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
    weights: np.ndarray | None = None,
    intercept: bool = False,
) -> CVResult:
    """Continuous alpha for one gamma: a bounded search on log10(alpha) between the grid neighbours of
    ``best_alpha``, each evaluation O(n^2) from one eigendecomposition; returns the optimum's scores.

    A best alpha at the edge of the grid has one neighbour; the search then also reaches one grid step
    beyond the edge (a step of the same log size as the one inside), so it can move off the edge.
    """
    from scipy.optimize import minimize_scalar

    K = _kernel_for(base, kernel, gamma, degree, coef0)
    Y_raw, (Yw, s) = Y, _weighted(K, Y, weights)
    one = None if not intercept else (np.ones(Y.shape[0]) if s is None else s)
    d, Q = eigh_kernel(K, triangle=False)
    grid = sorted(alphas)
    i = grid.index(best_alpha)
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    if i == 0 and len(grid) > 1:
        lo = best_alpha**2 / hi
    elif i == len(grid) - 1 and len(grid) > 1:
        hi = best_alpha**2 / lo

    def evaluate(log_alpha: float, alpha: float | None = None) -> dict:
        a = np.array([10.0**log_alpha if alpha is None else alpha])
        out = _closed_form(d, Q, Yw, a, one)
        E = out["E"] if s is None else out["E"] / s[None, :, None]
        rmse, mae, r2 = residual_scores(Y_raw, E, weights)
        gcv = out["gcv"][0] * (1.0 if weights is None else Yw.shape[0] / weights.sum())
        return {"rmse": rmse[0], "mae": mae[0], "r2": r2[0], "gcv": gcv, "dof": out["dof"][0]}

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
