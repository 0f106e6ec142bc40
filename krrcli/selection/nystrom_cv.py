"""Leave-one-out, GCV and k-fold scores of the Nyström model for a whole alpha grid, from M x M sums.

For one gamma and M centers ``C`` (sampled once from all rows, as the nystrom solver samples them;
they carry feature values only, no target), the model fitted on rows ``S`` solves

    (H_S + alpha K_MM) b = g_S,     H_S = K_SM^T K_SM,  g_S = K_SM^T y_S.

One pass over the rows gives every fold's sums ``H_f``, ``g_f``; fold f's training sums are ``H -
H_f`` and ``g - g_f``, and each (fold, alpha) system is solved by one Cholesky factorization of M x
M (by the pseudo-inverse from an eigendecomposition when it is singular to working precision: a
kernel of low rank, linear or polynomial). A second pass gives the held-out residuals ``y_f - K_fM
b_f(alpha)`` of every alpha at once. Leave-one-out (one "fold" of all rows) takes the hat matrix's
diagonal in the same pass, ``h_ii = ||L^-1 k_i||^2`` with ``H + alpha K_MM = L L^T``, so ``e_i =
(y_i - yhat_i) / (1 - h_ii)``, and GCV is ``(RSS / n) / (1 - dof / n)^2`` with ``dof = tr((H + alpha
K_MM)^-1 H)``. So a gamma costs two passes over the rows and (k + 1) x alphas factorizations of M x
M.

Why not one eigendecomposition per fold for every alpha (``P^T (H - H_f) P = Z diag(s) Z^T`` with
``P = K_MM^-1/2`` on K_MM's directions above rounding)? Whitening by a nearly singular K_MM (a
smooth kernel) loses the small-alpha solutions to rounding. Measured at n = 50,000, M = 1,000, rbf
gamma 0.01, 5 folds: the pooled held-out rmse from the eigendecompositions was 2.23 at alpha = 1e-6
and 0.288 at 1e-5, from the Cholesky solves 0.1771 at both; at n = 20,000, one fold, alpha = 1e-4,
an eigendecomposition of ``H + alpha K_MM`` itself gave 0.349, the Cholesky solve 0.1852 and the
nystrom solver's CG run to 1e-10 0.1855. The factorizations cost M^3 / 3 each, about an
eigendecomposition per fold's worth for ten alphas, and are backward stable.

Each cell is checked: the normwise backward error of its solution, ``||(H_tr + alpha K_MM) b -
g_tr|| / ((||H_tr|| + alpha ||K_MM||) ||b|| + ||g_tr||)`` (Frobenius norms). A k-fold cell whose
error is above ``CLOSED_FORM_MAX_ERROR`` is refitted by the nystrom solver (preconditioned CG) on
the same centers; such a leave-one-out cell has no closed-form hat diagonal and is left unscored
(NaN). A warning says how many cells were.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from ..errors import DataError, KrrWarning
from ..kernels import KernelMap, KernelSpec, NonFiniteKernel
from ..metrics import residual_scores
from ..resources import check_memory, format_bytes
from ..solvers.nystrom import NystromOptions, center_jitter, center_rows, default_centers, effective_dof, solve_nystrom

# A closed-form cell whose M x M solution has a larger normwise backward error is refitted by CG
# (a Cholesky solve in float64 gives about 1e-16 times a modest factor).
CLOSED_FORM_MAX_ERROR = 1e-12
# Rows per block of K_bM in the passes: about this many bytes.
BLOCK_BYTES = 32 * 2**20


def nystrom_cv_peak_bytes(n: int, d: int, t: int, n_alphas: int, k: int, m: int) -> int:
    """The fold sums (k of M x M), K_MM, their total, a training sum and one factor and its solve (k + 4);
    for leave-one-out (k = 1) every alpha's factor; a block's rows and kernel; the residuals."""
    factors = 4 + (n_alphas if k == 1 else 1)
    return 8 * ((k + factors) * m * m + n_alphas * n * t + 2 * n * (d + t)) + 2 * BLOCK_BYTES


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
    K_raw = K_MM.copy()  # for the effective degrees of freedom, as the fit reports them
    # the penalty the nystrom solver applies: alpha (K_MM + jitter I), its jitter (the same model as `krr fit`)
    K_MM.flat[:: M + 1] += center_jitter(K_MM)
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

    def factor(Htr: np.ndarray, alpha: float) -> _Factor:
        return _Factor(Htr + alpha * K_MM)

    dof = effective_dof(K_raw, H_all, alphas)  # of the fit on all rows
    del K_raw
    full = [factor(H_all, float(alpha)) for alpha in alphas] if folds is None else None  # LOO's hat needs them
    E = np.empty((len(alphas), n, t))
    rss = np.zeros((len(alphas), t))  # of the fit on all rows (leave-one-out, for GCV)
    refits, loo_bad = 0, []
    for f, rows in enumerate(parts):
        Htr, gtr = (H_all, g_all) if folds is None else (H_all - H[f], g_all - g[f])
        B = np.empty((M, len(alphas), t))
        bad = []
        norm_H, norm_K, norm_g = np.linalg.norm(Htr), np.linalg.norm(K_MM), np.linalg.norm(gtr)
        for a, alpha in enumerate(alphas):
            L = full[a] if full else factor(Htr, float(alpha))
            B[:, a] = L.solve(gtr)
            # the check: the normwise backward error of the solution
            r = Htr @ B[:, a] + alpha * (K_MM @ B[:, a]) - gtr
            if np.linalg.norm(r) > CLOSED_FORM_MAX_ERROR * (
                ((norm_H + alpha * norm_K) * np.linalg.norm(B[:, a]) + norm_g) or 1.0
            ):
                bad.append(a)
        if bad and folds is None:  # no closed form for the hat diagonal: left unscored (NaN below)
            refits += len(bad)
            loo_bad = list(bad)
        elif bad:
            train = np.setdiff1d(np.arange(n), rows, assume_unique=True)
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
            if folds is None:  # e_i = (y_i - yhat_i) / (1 - h_ii), h_ii = ||L^-1 k_i||^2
                rss += np.sum(res**2, axis=1)
                for j, L in enumerate(full):
                    res[j] = np.nan if j in bad else res[j] / (1.0 - L.hat(Kb))[:, None]
            E[:, r] = res
    out: dict = {"dof": dof, "gcv": None}
    if folds is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            out["gcv"] = (rss / n).mean(axis=1) / (1.0 - dof / n) ** 2
        out["gcv"][loo_bad] = np.nan  # no score from a solution that failed its check
        out["dof"] = np.where(np.isin(np.arange(len(alphas)), loo_bad), np.nan, dof)
    rmse, mae, r2 = residual_scores(Y, E)
    out.update(rmse=rmse, mae=mae, r2=r2)
    if folds is not None:
        out["rmse_folds"] = [
            [float(np.sqrt(np.mean(E[a, rows] ** 2, axis=0)).mean()) for rows in folds] for a in range(len(alphas))
        ]
    return out, refits


class _Factor:
    """``S = H + alpha K_MM`` factored for solves and the hat diagonal: ``S = L L^T`` by Cholesky, or, when
    S is singular to working precision (a kernel of low rank: linear, polynomial), ``S = Q diag(d) Q^T``
    with the pseudo-inverse (the minimum-norm solution, whose predictions are the same)."""

    def __init__(self, S: np.ndarray) -> None:
        from ..solvers.direct import spectral_inverse

        self.L = None
        try:
            self.L = linalg.cholesky(S, lower=True, check_finite=False)
        except linalg.LinAlgError:
            d, self.Q = linalg.eigh(S, check_finite=False)
            self.inv = spectral_inverse(d, 0.0)  # signed: an indefinite kernel keeps its negative directions

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        if self.L is not None:
            return linalg.cho_solve((self.L, True), rhs, check_finite=False)
        return self.Q @ (self.inv[:, None] * (self.Q.T @ rhs))

    def hat(self, Kb: np.ndarray) -> np.ndarray:
        """``k_i^T S^-1 k_i`` for the rows ``k_i`` of ``Kb``."""
        if self.L is not None:
            V = linalg.solve_triangular(self.L, Kb.T, lower=True, check_finite=False)
            return np.einsum("ij,ij->j", V, V)
        V = self.Q.T @ Kb.T
        return np.einsum("i,ij,ij->j", self.inv, V, V)


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


__all__ = ["CLOSED_FORM_MAX_ERROR", "nystrom_centers", "nystrom_cv_peak_bytes", "score_nystrom_gamma"]
