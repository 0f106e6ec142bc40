"""Solvers for kernel ridge regression: one function per method, in a registry.

Every solver takes the training rows, the targets, ``alpha`` and the kernel, and
returns a :class:`Solution`: the rows the model keeps (``centers``), their dual
weights, the training predictions and the effective degrees of freedom. This is
the seam for solvers that do not hold an n x n matrix: such a solver can keep
fewer centers or a primal weight vector and the estimator does not change.

``"auto"`` is resolved by :func:`resolve_solver` to a concrete name before any
work, and that name is recorded on the fitted model.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from . import lapack64
from .errors import DataError, ResourceError, UsageError
from .kernels import KernelSpec

# Up to this many rows the effective degrees of freedom are computed exactly;
# beyond it they are a Hutchinson estimate with HUTCHINSON_PROBES probes.
DOF_EXACT_MAX_ROWS = 3000
HUTCHINSON_PROBES = 32
# A float32 fit whose solve leaves a larger relative residual ||(K + alpha I) w - y|| / ||y||
# (checked in float32 against a rebuilt kernel) is redone in float64.
FLOAT32_MAX_RESIDUAL = 1e-3


class KrrWarning(UserWarning):
    """A condition the user should know about that did not stop the work."""


@dataclass
class Solution:
    """What a solver found.

    centers : ndarray of shape (n_centers, n_features)
    dual_coef : ndarray of shape (n_centers, n_targets)
    coef : ndarray of shape (n_features, n_targets) or None
        Primal weights, when the solver has them (linear kernel); predictions
        are then ``X @ coef``.
    fitted : ndarray of shape (n_samples, n_targets)
        Predictions on the training rows.
    effective_dof : float
        ``tr(K (K + alpha I)^-1)``.
    dof_exact : bool
        False when ``effective_dof`` is a stochastic estimate.
    solver : str
        The method that produced the solution (after any fallback).
    """

    centers: np.ndarray
    dual_coef: np.ndarray
    coef: np.ndarray | None
    fitted: np.ndarray
    effective_dof: float
    dof_exact: bool
    solver: str


def _add_to_diagonal(A: np.ndarray, value: float) -> None:
    A.flat[:: A.shape[0] + 1] += value


def _trace_inverse_from_cholesky(G: np.ndarray) -> tuple[float, bool]:
    """``tr(G^-1)`` from a Cholesky factor held in ``G``'s lower triangle (``G`` is destroyed).

    ``G`` is C-ordered with ``L`` in its lower triangle, so ``G.T`` is a
    Fortran-ordered ``U = L^T`` that LAPACK reads without a copy.
    Exact (``||L^-1||_F^2`` through an in-place triangular inverse) up to
    ``DOF_EXACT_MAX_ROWS`` rows; beyond that Hutchinson's estimator
    ``mean_k ||L^-1 z_k||^2`` over Rademacher vectors ``z_k`` (seed 0).
    """
    n = G.shape[0]
    U = G.T
    if n <= DOF_EXACT_MAX_ROWS:
        (trtri,) = linalg.lapack.get_lapack_funcs(("trtri",), (U,))
        _, info = trtri(U, lower=0, overwrite_c=1)
        if info != 0:
            raise np.linalg.LinAlgError("triangular inverse failed")
        # sum of squares of the lower triangle, a few rows at a time (temporaries of ~1 MiB)
        total = 0.0
        step = max(1, 2**17 // n)
        for a in range(0, n, step):
            b = min(a + step, n)
            left = G[a:b, :a].astype(np.float64, copy=False)
            total += float(np.einsum("ij,ij->", left, left))
            diag = np.tril(G[a:b, a:b]).astype(np.float64, copy=False)
            total += float(np.einsum("ij,ij->", diag, diag))
        return total, True
    rng = np.random.default_rng(0)
    Z = np.asfortranarray(rng.choice([-1.0, 1.0], size=(n, HUTCHINSON_PROBES)).astype(G.dtype))
    # L^-1 z = U^-T z
    if _large(G):
        lapack64.blocked_trsm_upper(U, Z, transposed=True)
        W = Z
    else:
        W = linalg.solve_triangular(U, Z, lower=False, trans="T", check_finite=False, overwrite_b=True)
    return float(np.mean(np.einsum("ij,ij->j", W.astype(np.float64), W.astype(np.float64)))), False


def _large(A: np.ndarray) -> bool:
    """Whether ``A`` is too large for SciPy's 32-bit-integer LAPACK (see :mod:`krrcli.lapack64`)."""
    if A.nbytes < lapack64.LARGE_BYTES:
        return False
    if not lapack64.available():
        raise ResourceError(
            f"a {A.shape[0]:,} x {A.shape[0]:,} matrix is over 2 GiB, which needs the 64-bit-integer OpenBLAS "
            "bundled with numpy's wheels; it was not found: install numpy from PyPI wheels, or use fewer rows"
        )
    return True


def _fallback_warning(alpha: float, reason: str, instead: str = "by least squares from an eigendecomposition") -> None:
    warnings.warn(f"{reason} (alpha = {alpha:g}); solving {instead} instead", KrrWarning, stacklevel=3)


def _retry_in_float64(X: np.ndarray, Y: np.ndarray, alpha: float, kernel: KernelSpec, reason: str) -> Solution:
    from .resources import check_memory

    n = X.shape[0]
    check_memory(
        solver_peak_bytes("cholesky", n, X.shape[1], Y.shape[1], 8),
        f"refitting {n:,} rows in float64 after {reason}",
        "use a larger alpha, fewer rows, or a machine with more memory",
    )
    _fallback_warning(alpha, reason, "in float64")
    return solve_cholesky(X, Y, alpha, kernel, "float64")


def _float32_check(
    X: np.ndarray, Y: np.ndarray, W: np.ndarray, alpha: float, kernel: KernelSpec
) -> tuple[float, np.ndarray]:
    """Relative residual ``||(K + alpha I) w - y|| / ||y||`` and ``K w``, with K rebuilt by blocks."""
    from .kernels import KernelMap, for_row_blocks

    kmap = KernelMap(kernel, X, dtype="float32")
    KW = np.empty_like(W)
    W32 = W.astype(np.float32)

    def work(a: int, b: int) -> None:
        KW[a:b] = kmap.block(X[a:b]) @ W32

    for_row_blocks(X.shape[0], max(1, 2**21 // (4 * X.shape[0])), work)
    resid = np.linalg.norm(KW + alpha * W - Y) / max(np.linalg.norm(Y), np.finfo(float).tiny)
    return float(resid), KW


# (K + alpha I) w = y, by an in-place Cholesky factorization K + alpha I = L L^T.
def solve_cholesky(X: np.ndarray, Y: np.ndarray, alpha: float, kernel: KernelSpec, dtype: str = "float64") -> Solution:
    n = X.shape[0]
    f32 = np.dtype(dtype) == np.float32
    G = kernel.gram(X, triangle=True, dtype=dtype)  # lower triangle only; G.T is its Fortran view
    _add_to_diagonal(G, alpha)
    if _large(G):
        info = lapack64.blocked_potrf_upper(G.T)
    else:
        potrf, potrs = linalg.lapack.get_lapack_funcs(("potrf", "potrs"), (G,))
        _, info = potrf(G.T, lower=0, clean=0, overwrite_a=1)
    if info != 0:
        del G
        if f32:
            return _retry_in_float64(X, Y, alpha, kernel, "the float32 Cholesky factorization failed")
        _fallback_warning(alpha, "K + alpha*I is not positive definite")
        return solve_eigh(X, Y, alpha, kernel)
    if _large(G):
        W = np.array(Y, dtype=G.dtype, order="F")
        lapack64.blocked_trsm_upper(G.T, W, transposed=True)  # U^T z = y
        lapack64.blocked_trsm_upper(G.T, W, transposed=False)  # U w = z
        info = 0
    else:
        W, info = potrs(G.T, np.asfortranarray(Y, dtype=G.dtype), lower=0)
    if info != 0 or not np.all(np.isfinite(W)):
        del G
        if f32:
            return _retry_in_float64(X, Y, alpha, kernel, "the float32 solve was not finite")
        _fallback_warning(alpha, "the Cholesky solve was numerically unstable")
        return solve_eigh(X, Y, alpha, kernel)
    W = np.ascontiguousarray(W, dtype=np.float64)
    if f32:
        resid, fitted = _float32_check(X, Y, W, alpha, kernel)
        if resid > FLOAT32_MAX_RESIDUAL:
            del G
            return _retry_in_float64(
                X,
                Y,
                alpha,
                kernel,
                f"the float32 solve's relative residual {resid:.1e} exceeded {FLOAT32_MAX_RESIDUAL:g}",
            )
    else:
        # (K + alpha I) w = y  =>  K w = y - alpha w: training predictions for free.
        fitted = Y - alpha * W
    # tr(K G^-1) = n - alpha tr(G^-1)
    tr_inv, exact = _trace_inverse_from_cholesky(G)
    dof = float(n - alpha * tr_inv)
    return Solution(X, W, None, fitted, dof, exact, "cholesky")


# K = Q diag(d) Q^T;  w = Q diag(1 / (d + alpha)) Q^T y, with 1/(d + alpha) := 0
# where d + alpha is zero to working precision (the minimum-norm least-squares solution).
def solve_eigh(X: np.ndarray, Y: np.ndarray, alpha: float, kernel: KernelSpec, dtype: str = "float64") -> Solution:
    # always float64: the eigendecomposition is the careful fallback
    if 8 * X.shape[0] ** 2 >= lapack64.LARGE_BYTES:
        raise ResourceError(
            f"the eigendecomposition fallback is limited to 16,384 rows (SciPy's LAPACK), and this fit has "
            f"{X.shape[0]:,}; use alpha > 0 large enough for a Cholesky factorization, or fewer rows"
        )
    K = kernel.gram(X, triangle=True)
    try:
        d, Q = linalg.eigh(K.T, lower=False, overwrite_a=True, check_finite=False, driver="evd")
    except linalg.LinAlgError as exc:
        raise DataError(f"the eigendecomposition of the kernel matrix failed ({exc}); try a larger alpha") from None
    del K
    inv = spectral_inverse(d, alpha)
    QtY = Q.T @ Y
    W = Q @ (inv[:, None] * QtY)
    shrink = d * inv
    fitted = Q @ (shrink[:, None] * QtY)
    return Solution(X, W, None, fitted, float(np.sum(shrink)), True, "eigh")


def spectral_inverse(d: np.ndarray, alpha: float) -> np.ndarray:
    """``1 / (d + alpha)``, and 0 where ``d + alpha`` is zero to working precision.

    ``d * spectral_inverse(d, alpha)`` are the shrinkage factors of the fit, and their sum its
    effective degrees of freedom; they lie in [0, 1] unless the kernel has negative eigenvalues.
    """
    s = d + alpha
    cutoff = max(float(np.max(np.abs(d), initial=0.0)), alpha) * d.size * np.finfo(float).eps
    keep = np.abs(s) > cutoff
    return np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)


# (X^T X + alpha I) beta = X^T y  (linear kernel, primal);  w = (y - X beta) / alpha.
def solve_primal(X: np.ndarray, Y: np.ndarray, alpha: float, kernel: KernelSpec, dtype: str = "float64") -> Solution:
    # always float64: a d x d system costs nothing
    if kernel.kernel != "linear":
        raise UsageError("the primal solver needs kernel='linear'")
    if alpha <= 0:
        raise UsageError("the primal solver needs alpha > 0")
    A = X.T @ X
    s = linalg.eigvalsh(A, check_finite=False)
    _add_to_diagonal(A, alpha)
    beta = linalg.solve(A, X.T @ Y, assume_a="pos", overwrite_a=True, check_finite=False)
    fitted = X @ beta
    W = (Y - fitted) / alpha
    s = np.clip(s, 0.0, None)
    dof = float(np.sum(s / (s + alpha)))
    return Solution(X, W, beta, fitted, dof, True, "primal")


SolverFn = Callable[..., Solution]  # (X, Y, alpha, kernel, dtype) -> Solution

SOLVERS: dict[str, SolverFn] = {
    "cholesky": solve_cholesky,
    "eigh": solve_eigh,
    "primal": solve_primal,
}


def resolve_solver(name: str, kernel: str, n_samples: int, n_features: int, alpha: float) -> str:
    """Turn ``"auto"`` into a concrete solver name; check an explicit one exists.

    ``auto`` is ``primal`` for the linear kernel with fewer features than rows
    (and alpha > 0), otherwise ``cholesky`` (which falls back to ``eigh`` itself).
    """
    if name == "auto":
        if kernel == "linear" and n_features < n_samples and alpha > 0:
            return "primal"
        return "cholesky"
    if name not in SOLVERS:
        raise UsageError(f"unknown solver {name!r}; choose one of: auto, {', '.join(SOLVERS)}")
    return name


def solver_peak_bytes(solver: str, n_samples: int, n_features: int, n_targets: int, itemsize: int = 8) -> int:
    """Bytes a solver holds at its peak beyond its inputs (used to refuse work up front)."""
    n = n_samples
    if solver == "primal":
        return 8 * (n_features * n_features + 3 * n * n_targets)
    if solver == "eigh":
        # K, then eigenvectors Q plus LAPACK workspace.
        return 8 * (2 * n * n + 3 * n * n_targets) + 8 * 64 * n
    # one n x n buffer plus the temporaries of one block of kernel rows per core
    from .kernels import BLOCK_BYTES

    block = min(BLOCK_BYTES, itemsize * n * n) * 2
    return itemsize * n * n + 8 * (4 * n * n_targets + HUTCHINSON_PROBES * n) + block
