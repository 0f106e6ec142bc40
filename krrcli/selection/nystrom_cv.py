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
M. Both passes reduce to sums (of ``H_f``, ``g_f``; of the residuals' squares and absolute values by
fold and alpha), so they run wherever the rows are: in this process, or on a cluster's partitions,
each returning its sums (the rows' fold numbers travel with the pass).

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
from typing import Any

import numpy as np
from scipy import linalg

from ..errors import DataError, KrrWarning, UsageError
from ..kernels import KernelMap, KernelSpec, NonFiniteKernel
from ..metrics import scores_from_sums
from ..resources import check_memory, format_bytes
from ..solvers.nystrom import (
    LocalRows,
    NystromOptions,
    center_jitter,
    center_rows,
    default_centers,
    effective_dof,
    solve_rows,
)

# A closed-form cell whose M x M solution has a larger normwise backward error is refitted by CG
# (a Cholesky solve in float64 gives about 1e-16 times a modest factor).
CLOSED_FORM_MAX_ERROR = 1e-12
# Rows per block of K_bM in the passes: about this many bytes.
BLOCK_BYTES = 32 * 2**20


def nystrom_cv_peak_bytes(n: int, d: int, t: int, n_alphas: int, k: int, m: int, rows_here: bool = True) -> int:
    """The fold sums (k of M x M, and a block's own and their running total), K_MM, their total, a training
    sum and one factor and its solve; for leave-one-out (k = 1) every alpha's factor; the rows' fold
    numbers; a block's rows and kernel; with ``rows_here``, the rows and their standardized copy."""
    factors = 4 + (n_alphas if k == 1 else 1)
    rows = 16 * n * (d + t) if rows_here else 0
    return 8 * (3 * k + factors) * m * m + 4 * n + rows + 2 * BLOCK_BYTES


def score_nystrom_gamma(
    rows: Any,
    kernel: KernelSpec,
    alphas: np.ndarray,
    centers: np.ndarray,
    folds: list[np.ndarray] | None,
    seed: int,
    tol: float = 1e-8,
    max_iter: int = 200,
    intercept: bool = False,
) -> tuple[dict, int]:
    """Every alpha's scores for one kernel (``rows``: the training rows, in memory as
    :class:`~krrcli.solvers.nystrom.LocalRows` or a cluster's partitions; ``folds``: each fold's row
    numbers, None for leave-one-out); returns the scores (as the exact closed forms give them) and the
    number of cells refitted by CG.

    With ``intercept`` the model has an unpenalized constant: every block of rows is ``[K_bM, 1]`` (``[S
    K_bM, sqrt(w)]`` weighted) and the penalty ``diag(K_MM, 0)``, so the same sums, solves and hat values
    serve with M + 1 coefficients, the last one the intercept."""
    n, t = rows.n_rows, rows.n_targets
    if intercept and getattr(rows, "distributed", False):
        raise UsageError("an intercept is not supported with --engine dask yet")
    kmap = KernelMap(kernel, centers)
    M = centers.shape[0]
    K_MM = kernel.gram(centers)
    if not np.isfinite(K_MM).all():
        raise NonFiniteKernel(kernel.kernel, kernel.gamma, kernel.degree, kernel.coef0)
    K_raw = K_MM.copy()  # for the effective degrees of freedom, as the fit reports them
    # the penalty the nystrom solver applies: alpha (K_MM + jitter I), its jitter (the same model as `krr fit`)
    K_MM.flat[:: M + 1] += center_jitter(K_MM)
    if intercept:  # the intercept's coefficient is not penalized
        K_MM = np.pad(K_MM, ((0, 1), (0, 1)))
    k = 1 if folds is None else len(folds)
    fold_of = None
    if folds is not None:  # each row's fold number
        fold_of = np.empty(n, dtype=np.int32)
        for f, test in enumerate(folds):
            fold_of[test] = f
    products = rows.products(kmap, keep=False)
    # weighted rows (LocalRows with weights): the passes see S K_nM and S y, S = diag(sqrt(w)), so the fold
    # sums are the weighted fit's; the held-out residuals come out as S e, whose squares are w e^2, and the
    # other sums take sqrt(w) from `scale` (see closed_forms._weighted)
    scale = getattr(rows, "scale", None)
    total_weight = getattr(rows, "weight_sum", n)

    # pass 1: the sums of every fold, and of the targets (for R^2)
    H, g, y_sum = products.sum_blocks(_op_fold_sums, (fold_of, k, scale, intercept), big=True, label="cv: fold sums")
    if not (np.isfinite(H).all() and np.isfinite(g).all()):
        raise NonFiniteKernel(kernel.kernel, kernel.gamma, kernel.degree, kernel.coef0)
    H_all, g_all = H.sum(axis=0), g.sum(axis=0)

    def factor(Htr: np.ndarray, alpha: float) -> _Factor:
        return _Factor(Htr + alpha * K_MM)

    if intercept:  # tr((H + alpha P)^-1 H) of the fit on all rows, P = diag(K_MM, 0)
        dof = np.array([np.trace(factor(H_all, float(a)).solve(H_all)) for a in alphas])
    else:
        dof = effective_dof(K_raw, H_all, alphas)  # of the fit on all rows
    del K_raw
    M1 = H_all.shape[0]  # M, or M + 1 with the intercept
    full = [factor(H_all, float(alpha)) for alpha in alphas] if folds is None else None  # LOO's hat needs them
    B = np.empty((k, M1, len(alphas), t))
    refits, bad_cells = 0, []
    for f in range(k):
        Htr, gtr = (H_all, g_all) if folds is None else (H_all - H[f], g_all - g[f])
        bad = []
        norm_H, norm_K, norm_g = np.linalg.norm(Htr), np.linalg.norm(K_MM), np.linalg.norm(gtr)
        for a, alpha in enumerate(alphas):
            L = full[a] if full else factor(Htr, float(alpha))
            B[f, :, a] = L.solve(gtr)
            # the check: the normwise backward error of the solution
            r = Htr @ B[f, :, a] + alpha * (K_MM @ B[f, :, a]) - gtr
            if np.linalg.norm(r) > CLOSED_FORM_MAX_ERROR * (
                ((norm_H + alpha * norm_K) * np.linalg.norm(B[f, :, a]) + norm_g) or 1.0
            ):
                bad.append(a)
        refits += len(bad)
        if bad and folds is None:  # no closed form for the hat diagonal: left unscored (NaN below)
            bad_cells = [(0, a) for a in bad]
        elif bad:  # refitted by CG on the fold's training rows, on the same centers
            train = rows.subset(np.setdiff1d(np.arange(n), folds[f], assume_unique=True))
            options = NystromOptions(n_centers=M, seed=seed, tol=tol, max_iter=max_iter)
            for a in bad:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", KrrWarning)
                    B[f, :, a] = _refit(train, float(alphas[a]), kernel, options, centers, intercept)
    del H, g
    # pass 2: the held-out residuals' sums, every fold's and alpha's (for leave-one-out divided by 1 - h_ii)
    y_mean = y_sum / total_weight
    ss, sum_abs, rss, ss_tot = products.sum_blocks(
        _op_held_out_sums,
        (fold_of, B.reshape(k, M1, -1), full, y_mean, scale, intercept),
        big=True,
        label="cv: held-out residuals",
    )
    for f, a in bad_cells:
        ss[f, a] = sum_abs[f, a] = np.nan
    w = None if scale is None else scale**2
    if folds is None:
        sizes = np.full(1, total_weight)
    else:
        sizes = np.array([len(test) if w is None else w[test].sum() for test in folds])
    out: dict = {"dof": dof, "gcv": None}
    if folds is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            out["gcv"] = (rss / total_weight).mean(axis=1) / (1.0 - dof / n) ** 2
        bad_alphas = [a for _, a in bad_cells]
        out["gcv"][bad_alphas] = np.nan  # no score from a solution that failed its check
        out["dof"] = np.where(np.isin(np.arange(len(alphas)), bad_alphas), np.nan, dof)
    rmse, mae, r2 = scores_from_sums(total_weight, ss.sum(axis=0), sum_abs.sum(axis=0), ss_tot)
    out.update(rmse=rmse, mae=mae, r2=r2)
    if folds is not None:
        out["rmse_folds"] = np.sqrt(ss / sizes[:, None, None]).mean(axis=2).T.tolist()  # (alphas, folds)
    return out, refits


def _op_fold_sums(Kb: np.ndarray, Yb: np.ndarray, a: int, arg: tuple) -> tuple[np.ndarray, ...]:
    """A block's ``K_bM^T K_bM`` and ``K_bM^T Y_b`` split by fold (the rows' fold numbers from ``a``), and
    its targets' sum (weighted: ``sum w y``, from ``S y``); with the intercept, ``K_bM`` is ``[K_bM, 1]``."""
    fold_of, k, scale, intercept = arg
    Kb = _with_intercept(Kb, scale, a) if intercept else Kb
    M, t = Kb.shape[1], Yb.shape[1]
    H, g = np.zeros((k, M, M)), np.zeros((k, M, t))
    if fold_of is None:
        H[0], g[0] = Kb.T @ Kb, Kb.T @ Yb
    else:
        f_b = fold_of[a : a + Kb.shape[0]]
        for f in np.unique(f_b):
            rows = f_b == f
            K_f = Kb[rows]
            H[f], g[f] = K_f.T @ K_f, K_f.T @ Yb[rows]
    if scale is not None:
        return H, g, scale[a : a + Kb.shape[0]] @ Yb
    return H, g, Yb.sum(axis=0)


def _op_held_out_sums(Kb: np.ndarray, Yb: np.ndarray, a: int, arg: tuple) -> tuple[np.ndarray, ...]:
    """A block's held-out residuals ``y_i - k_i^T b_f(alpha)`` (row i in fold f), summed by fold and alpha:
    squares and absolute values (k, A, t); for leave-one-out ``e_i = (y_i - yhat_i) / (1 - h_ii)``, ``h_ii =
    ||L^-1 k_i||^2``, and the undivided squares' sum (A, t) for GCV; and the targets' squared deviations
    from their mean ``y_mean`` (t,). Weighted (``scale``: sqrt(w), the rows being ``S K_bM`` and ``S y``),
    the squares are ``w e^2`` as they come, the absolute values are multiplied by sqrt(w) to ``w |e|``, and
    the deviations are ``S y - sqrt(w) y_mean``."""
    fold_of, B, full, y_mean, scale, intercept = arg
    s_b = None if scale is None else scale[a : a + Kb.shape[0]]
    Kb = _with_intercept(Kb, scale, a) if intercept else Kb
    k, A_t = B.shape[0], B.shape[2]
    t = Yb.shape[1]
    A = A_t // t
    ss, sum_abs, rss = np.zeros((k, A, t)), np.zeros((k, A, t)), np.zeros((A, t))
    f_b = np.zeros(Kb.shape[0], dtype=np.int32) if fold_of is None else fold_of[a : a + Kb.shape[0]]
    for f in np.unique(f_b):
        rows = f_b == f
        K_f = Kb if fold_of is None else Kb[rows]
        res = Yb[rows][None] - (K_f @ B[f]).reshape(K_f.shape[0], A, t).transpose(1, 0, 2)  # (A, b, t)
        if full is not None:
            rss += np.sum(res**2, axis=1)
            for j, L in enumerate(full):
                res[j] /= (1.0 - L.hat(K_f))[:, None]
        absolute = np.abs(res) if s_b is None else np.abs(res) * s_b[rows][None, :, None]
        ss[f], sum_abs[f] = np.sum(res**2, axis=1), np.sum(absolute, axis=1)
    centred = Yb - y_mean if s_b is None else Yb - s_b[:, None] * y_mean
    return ss, sum_abs, rss, np.sum(centred**2, axis=0)


def _with_intercept(Kb: np.ndarray, scale: np.ndarray | None, a: int) -> np.ndarray:
    """``[K_bM, 1]`` for the rows from ``a`` on (weighted: ``[S K_bM, sqrt(w)]``, the rows being scaled)."""
    one = np.ones(Kb.shape[0]) if scale is None else scale[a : a + Kb.shape[0]]
    return np.column_stack([Kb, one])


def _refit(rows: Any, alpha: float, kernel: KernelSpec, options: Any, centers: np.ndarray, intercept: bool):
    """The coefficients of one (fold, alpha) cell refitted by the nystrom solver (M, t), or with the
    intercept as the last of M + 1."""
    if not intercept:
        return solve_rows(rows, alpha, kernel, options, centers).dual_coef
    from ..solvers.intercept import split_intercept, with_ones

    Y = rows.Y if rows.scale is None else rows.Y / rows.scale[:, None]
    sol = solve_rows(LocalRows(rows.X, with_ones(Y), rows.weights), alpha, kernel, options, centers)
    sol, b = split_intercept(sol, Y, rows.weights)
    return np.vstack([sol.dual_coef, b[None, :]])


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


def nystrom_centers(rows: Any, n_centers: int | None, seed: int) -> np.ndarray:
    """The centers every gamma is scored with, and the refit uses: the nystrom solver's sample of ``rows``."""
    n = rows.n_rows
    M = default_centers(n) if n_centers is None else n_centers
    if M > n:
        raise DataError(f"--centers {M:,} is more than the {n:,} rows")
    return np.ascontiguousarray(rows.take(center_rows(n, M, seed)))


def check_nystrom_cv_memory(n: int, d: int, t: int, n_alphas: int, k: int, m: int, rows_here: bool = True) -> None:
    need = nystrom_cv_peak_bytes(n, d, t, n_alphas, k, m, rows_here)
    check_memory(
        need,
        f"cross-validating {n:,} rows with nystrom ({m:,} centers, {k} fold sums of {format_bytes(8 * m * m)} "
        f"and the residuals of {n_alphas} alpha(s))",
        lambda available: "use fewer centers (--centers) or fewer alphas",
    )


__all__ = ["CLOSED_FORM_MAX_ERROR", "nystrom_centers", "nystrom_cv_peak_bytes", "score_nystrom_gamma"]
