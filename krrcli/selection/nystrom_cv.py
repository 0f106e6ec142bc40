"""Leave-one-out, GCV and k-fold scores of the Nyström model for a whole alpha grid, from M x M sums.

For one gamma and M centers ``C`` (sampled once from all rows, as the nystrom solver samples
them; they carry feature values only, no target), the model fitted on rows ``S`` solves

    (H_S + alpha K_MM) b = g_S,     H_S = K_SM^T K_SM,  g_S = K_SM^T y_S.

One pass over the rows gives every fold's sums ``H_f``, ``g_f``; fold f's training sums are
``H - H_f`` and ``g - g_f``. With ``K_MM = U diag(e) U^T`` and ``P = U_r diag(e_r)^-1/2`` on the
directions above rounding, one symmetric eigendecomposition per fold,
``P^T (H - H_f) P = Z diag(s) Z^T``, serves every alpha:

    b_f(alpha) = R diag(1 / (s + alpha)) R^T g_tr,    R = P Z,

and a second pass gives the held-out residuals ``y_f - K_fM b_f(alpha)`` for every alpha at once.
Leave-one-out (one "fold" of all rows) uses the hat matrix's diagonal from the same pass,
``h_ii = sum_j (K_iM R)_ij^2 / (s_j + alpha)``, so ``e_i = (y_i - yhat_i) / (1 - h_ii)``, and GCV is
``(RSS / n) / (1 - dof / n)^2`` with ``dof = sum s / (s + alpha)``. So a gamma costs two passes over
the rows and k + 1 eigendecompositions of M x M, whatever the number of alphas.

The closed form is checked: for every fold and alpha the relative residual of its M x M system
``||(H_tr + alpha K_MM) b - g_tr|| / ||g_tr||``; a cell above ``CLOSED_FORM_MAX_RESIDUAL`` (small
alpha against rounding) is refitted by the nystrom solver (preconditioned CG) on the same centers,
and a warning says how many cells were.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from ..errors import DataError, KrrWarning
from ..kernels import KernelMap, KernelSpec, NonFiniteKernel
from ..metrics import residual_scores
from ..resources import check_memory, format_bytes
from ..solvers.nystrom import DOF_EIGEN_CUTOFF, NystromOptions, center_rows, default_centers, solve_nystrom

# A closed-form cell whose M x M system has a larger relative residual is refitted by CG.
CLOSED_FORM_MAX_RESIDUAL = 1e-6
# Rows per block of K_bM in the passes: about this many bytes.
BLOCK_BYTES = 32 * 2**20


def nystrom_cv_peak_bytes(n: int, d: int, t: int, n_alphas: int, k: int, m: int) -> int:
    """The fold sums (k + 3 M x M), the rows in fold order (a copy), one block, the residuals."""
    return 8 * ((k + 4) * m * m + n * (d + t) + n_alphas * n * t) + 2 * BLOCK_BYTES


def score_nystrom_gamma(
    X: np.ndarray,
    Y: np.ndarray,
    kernel: KernelSpec,
    alphas: np.ndarray,
    centers: np.ndarray,
    folds: list[np.ndarray] | None,
    seed: int,
    tol: float = 1e-8,
    max_iter: int = 200,
) -> tuple[dict, int]:
    """Every alpha's scores for one kernel (rows of ``X`` in any order; ``folds`` None for leave-one-out);
    returns the scores (as the exact closed forms give them) and the number of cells refitted by CG."""
    n, t = Y.shape
    kmap = KernelMap(kernel, centers)
    M = centers.shape[0]
    K_MM = kernel.gram(centers)
    if not np.isfinite(K_MM).all():
        raise NonFiniteKernel(kernel.kernel, kernel.gamma, kernel.degree, kernel.coef0)
    e, U = linalg.eigh(K_MM, check_finite=False)
    keep = e > DOF_EIGEN_CUTOFF * max(float(e[-1]), np.finfo(float).tiny)
    P = U[:, keep] / np.sqrt(e[keep])  # K_MM's pseudo-inverse square root on its range
    parts = [np.arange(n)] if folds is None else folds
    step = max(1, BLOCK_BYTES // (8 * M))

    # pass 1: the sums of every fold
    H = np.zeros((len(parts), M, M))
    g = np.zeros((len(parts), M, t))
    for f, rows in enumerate(parts):
        for a in range(0, len(rows), step):
            r = rows[a : a + step]
            Kb = kmap.block(X[r])
            if not np.isfinite(Kb).all():
                raise NonFiniteKernel(kernel.kernel, kernel.gamma, kernel.degree, kernel.coef0)
            H[f] += Kb.T @ Kb
            g[f] += Kb.T @ Y[r]
    H_all, g_all = H.sum(axis=0), g.sum(axis=0)

    def eig_of(Htr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = P.T @ Htr @ P
        s, Z = linalg.eigh((w + w.T) / 2, check_finite=False)
        return np.clip(s, 0.0, None), P @ Z

    s_all, _ = eig_of(H_all)
    dof = np.sum(s_all[:, None] / (s_all[:, None] + alphas[None, :]), axis=0)
    E = np.empty((len(alphas), n, t))
    rss = np.zeros((len(alphas), t))  # of the fit on all rows (leave-one-out, for GCV)
    refits = 0
    for f, rows in enumerate(parts):
        Htr, gtr = (H_all, g_all) if folds is None else (H_all - H[f], g_all - g[f])
        s, R = eig_of(Htr)
        c = R.T @ gtr  # (r, t)
        inv = 1.0 / (s[:, None] + alphas[None, :])  # (r, A)
        B = np.einsum("ij,jat->iat", R, inv[:, :, None] * c[:, None, :])  # b_f(alpha): (M, A, t)
        # the check: each alpha's M x M system solved to working precision?
        lhs = np.einsum("ij,jat->iat", Htr, B) + alphas[None, :, None] * np.einsum("ij,jat->iat", K_MM, B)
        scale = np.linalg.norm(gtr) or 1.0
        bad = [a for a in range(len(alphas)) if np.linalg.norm(lhs[:, a] - gtr) / scale > CLOSED_FORM_MAX_RESIDUAL]
        if bad:
            train = np.arange(n) if folds is None else np.setdiff1d(np.arange(n), rows, assume_unique=True)
            options = NystromOptions(n_centers=M, seed=seed, tol=tol, max_iter=max_iter)
            for a in bad:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", KrrWarning)
                    B[:, a] = solve_nystrom(X[train], Y[train], float(alphas[a]), kernel, options, centers).dual_coef
            refits += len(bad)
        # pass 2 over this fold's rows: held-out predictions (and, for leave-one-out, the hat diagonal)
        Bflat = B.reshape(M, -1)
        for a in range(0, len(rows), step):
            r = rows[a : a + step]
            Kb = kmap.block(X[r])
            pred = (Kb @ Bflat).reshape(len(r), len(alphas), t).transpose(1, 0, 2)  # (A, b, t)
            res = Y[r][None] - pred
            if folds is None:  # e_i = (y_i - yhat_i) / (1 - h_ii); a refitted cell keeps the closed form's h
                rss += np.sum(res**2, axis=1)
                F = Kb @ R
                h = (F * F) @ inv  # (b, A)
                res = res / (1.0 - h.T[:, :, None])
            E[:, r] = res
    out: dict = {"dof": dof, "gcv": None}
    if folds is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            out["gcv"] = (rss / n).mean(axis=1) / (1.0 - dof / n) ** 2
    rmse, mae, r2 = residual_scores(Y, E)
    out.update(rmse=rmse, mae=mae, r2=r2)
    if folds is not None:
        out["rmse_folds"] = [
            [float(np.sqrt(np.mean(E[a, rows] ** 2, axis=0)).mean()) for rows in folds] for a in range(len(alphas))
        ]
    return out, refits


def nystrom_centers(X: np.ndarray, n_centers: int | None, seed: int) -> np.ndarray:
    """The centers every gamma is scored with, and the refit uses: the nystrom solver's sample."""
    n = X.shape[0]
    M = default_centers(n) if n_centers is None else n_centers
    if M > n:
        raise DataError(f"--centers {M:,} is more than the {n:,} rows")
    return np.ascontiguousarray(X[center_rows(n, M, seed)])


def check_nystrom_cv_memory(n: int, d: int, t: int, n_alphas: int, k: int, m: int) -> None:
    need = nystrom_cv_peak_bytes(n, d, t, n_alphas, k, m)
    check_memory(
        need,
        f"cross-validating {n:,} rows with nystrom ({m:,} centers, {k} fold sums of {format_bytes(8 * m * m)} "
        f"and the residuals of {n_alphas} alpha(s))",
        lambda available: "use fewer centers (--centers) or fewer alphas",
    )


__all__ = ["CLOSED_FORM_MAX_RESIDUAL", "nystrom_centers", "nystrom_cv_peak_bytes", "score_nystrom_gamma"]
