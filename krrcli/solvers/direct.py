"""The exact solvers: Cholesky, eigendecomposition, and the primal solve of the linear kernel.

Each holds the whole n x n kernel (or, primal, a d x d matrix) and solves
``(K + alpha I) w = y`` to rounding. SciPy is imported inside the functions, so that
registering these solvers (which reading a model file does) costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import DataError, UsageError
from ..kernels import KernelSpec
from ..resources import large_empty
from . import lapack64
from .base import Float32Inadequate, NotPositiveDefinite, Solution, Solver, SolverOptions, register

# Up to this many rows the effective degrees of freedom are computed exactly (a triangular inverse, as
# costly as the factorization: 0.3 ms at 500 rows, 6-14 ms at 1,000 and 30 ms at 2,000 on 2 cores);
# beyond it they are a Hutchinson estimate with HUTCHINSON_PROBES probes (one triangular solve with that
# many right-hand sides: 0.05x the factorization at 2,000 rows), reported with its standard error. A fit
# that keeps its factor for the posterior variance (keep_factor) computes them exactly at any size.
DOF_EXACT_MAX_ROWS = 500
HUTCHINSON_PROBES = 32
# A float32 fit whose solve leaves a larger relative residual ||(K + alpha I) w - y|| / ||y||
# (checked in float32 against a rebuilt kernel) is redone in float64.
FLOAT32_MAX_RESIDUAL = 1e-3


def _add_to_diagonal(A: np.ndarray, value: float) -> None:
    A.flat[:: A.shape[0] + 1] += value


# Sample weights w: minimize sum_i w_i (y_i - f(x_i))^2 + alpha ||f||^2. With S = diag(sqrt(w)) that is the
# unweighted problem of the kernel S K S and targets S y: (S K S + alpha I) c = S y, and the dual weights of
# K are w = S c (scikit-learn's KernelRidge computes the same). Rows of weight 0 are left out before.
def _scale_symmetric(G: np.ndarray, s: np.ndarray) -> None:
    """``G_ij *= s_i s_j`` in place, a few rows at a time."""
    s = s.astype(G.dtype, copy=False)
    step = max(1, 2**17 // G.shape[0])
    for a in range(0, G.shape[0], step):
        G[a : a + step] *= s[a : a + step, None]
        G[a : a + step] *= s[None, :]


def _trace_inverse_from_cholesky(G: np.ndarray, exact: bool | None = None) -> tuple[float, float | None]:
    """``tr(G^-1)`` from a Cholesky factor held in ``G``'s lower triangle (``G`` is destroyed), and the
    standard error of the estimate (None: exact).

    ``G`` is C-ordered with ``L`` in its lower triangle, so ``G.T`` is a
    Fortran-ordered ``U = L^T`` that LAPACK reads without a copy.
    Exact (``||L^-1||_F^2`` through an in-place triangular inverse) when ``exact``, by default up to
    ``DOF_EXACT_MAX_ROWS`` rows; else Hutchinson's estimator ``mean_k ||L^-1 z_k||^2`` over Rademacher
    vectors ``z_k`` (seed 0), whose standard error is the probes' standard deviation / sqrt(k).
    """
    n = G.shape[0]
    U = G.T
    if exact or (exact is None and n <= DOF_EXACT_MAX_ROWS):
        if lapack64.available():
            info = lapack64.trtri_upper(U)
        else:
            from scipy import linalg

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
        return total, None
    Z = np.asfortranarray(_probes(n), dtype=G.dtype)
    # L^-1 z = U^-T z
    if lapack64.available():
        lapack64.blocked_trsm_upper(U, Z, transposed=True)
        W = Z
    else:
        from scipy import linalg

        W = linalg.solve_triangular(U, Z, lower=False, trans="T", check_finite=False, overwrite_b=True)
    return _hutchinson_trace(W)


def _probes(n: int) -> np.ndarray:
    """Hutchinson's random +-1 vectors, HUTCHINSON_PROBES of them (seed 0: a fit gives the same estimate)."""
    return np.random.default_rng(0).choice([-1.0, 1.0], size=(n, HUTCHINSON_PROBES))


def _hutchinson_trace(W: np.ndarray) -> tuple[float, float]:
    """``mean_k ||w_k||^2`` over the columns ``w_k = L^-1 z_k``, and its standard error."""
    per_probe = np.einsum("ij,ij->j", W.astype(np.float64), W.astype(np.float64))
    return float(np.mean(per_probe)), float(np.std(per_probe, ddof=1) / np.sqrt(per_probe.size))


def _lower_copy(G: np.ndarray) -> np.ndarray:
    """``G``'s lower triangle in float64, zeros above, a block of rows at a time (np.tril of the whole matrix
    also builds an n x n mask). Its cost is the new n x n array's memory: 0.4-0.5 s at n = 4,000 on 2 cores."""
    n = G.shape[0]
    L = large_empty((n, n))
    step = max(1, 2**17 // n)
    for a in range(0, n, step):
        b = min(a + step, n)
        L[a:b, :b] = np.tril(G[a:b, :b], a)
        L[a:b, b:] = 0.0
    return L


def _large(A: np.ndarray) -> bool:
    """Whether ``A`` is too large for SciPy's 32-bit-integer LAPACK (see :mod:`.lapack64`)."""
    if A.nbytes < lapack64.LARGE_BYTES:
        return False
    lapack64.require(A.shape[0])
    return True


def _float32_check(
    X: np.ndarray, Y: np.ndarray, W: np.ndarray, alpha: float, kernel: KernelSpec, s: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Relative residual ``||(K + alpha I) w - y|| / ||y||`` and ``K w``, with K rebuilt by blocks; with
    weights (``s = sqrt(w)``; ``Y`` is then ``S y`` and ``W`` is ``c``) the scaled system's, and ``K S c``."""
    if s is not None:
        resid, KW = _float32_check(X, Y, W * s[:, None], 0.0, kernel)
        S_KW = KW * s[:, None]
        resid = np.linalg.norm(S_KW + alpha * W - Y) / max(np.linalg.norm(Y), np.finfo(float).tiny)
        return float(resid), KW
    from ..execution import executor
    from ..kernels import KernelMap

    kmap = KernelMap(kernel, X, dtype="float32")
    KW = np.empty_like(W)
    W32 = W.astype(np.float32)

    def work(a: int, b: int) -> None:
        KW[a:b] = kmap.block(X[a:b]) @ W32

    executor().map_blocks(X.shape[0], max(1, 2**21 // (4 * X.shape[0])), work)
    resid = np.linalg.norm(KW + alpha * W - Y) / max(np.linalg.norm(Y), np.finfo(float).tiny)
    return float(resid), KW


# (K + alpha I) w = y, by an in-place Cholesky factorization K + alpha I = L L^T.
# Weighted: (S K S + alpha I) c = S y, w = S c (see _scale_symmetric).
# The factorization and the solves go to numpy's OpenBLAS (through lapack64), so that an exact fit does not
# import SciPy (a fifth of a second); SciPy's LAPACK where that library is not found.
def solve_cholesky(
    X: np.ndarray,
    Y: np.ndarray,
    alpha: float,
    kernel: KernelSpec,
    dtype: str = "float64",
    weights: np.ndarray | None = None,
    keep_factor: bool = False,
) -> Solution:
    n = X.shape[0]
    f32 = np.dtype(dtype) == np.float32
    G = kernel.gram(X, triangle=True, dtype=dtype)  # lower triangle only; G.T is its Fortran view
    s = None if weights is None else np.sqrt(weights)
    if s is not None:
        _scale_symmetric(G, s)
        Y = Y * s[:, None]
    _add_to_diagonal(G, alpha)
    direct = _large(G) or lapack64.available()
    if direct:
        info = lapack64.potrf_upper(G.T)
    else:
        from scipy import linalg

        potrf, potrs = linalg.lapack.get_lapack_funcs(("potrf", "potrs"), (G,))
        _, info = potrf(G.T, lower=0, clean=0, overwrite_a=1)
    if info != 0:
        del G
        if f32:
            raise Float32Inadequate("the float32 Cholesky factorization failed")
        raise NotPositiveDefinite("K + alpha*I is not positive definite")
    estimate = not keep_factor and n > DOF_EXACT_MAX_ROWS
    probes = None
    if direct:
        t = Y.shape[1]
        # U^T z = y, together with the Hutchinson probes' U^T v = z_k below (one pass over U for both)
        B = np.empty((n, t + (HUTCHINSON_PROBES if estimate else 0)), dtype=G.dtype, order="F")
        B[:, :t] = Y
        if estimate:
            B[:, t:] = _probes(n)
        lapack64.blocked_trsm_upper(G.T, B, transposed=True)
        W = np.asfortranarray(B[:, :t])
        lapack64.blocked_trsm_upper(G.T, W, transposed=False)  # U w = z
        probes = B[:, t:] if estimate else None
        info = 0
    else:
        W, info = potrs(G.T, np.asfortranarray(Y, dtype=G.dtype), lower=0)
    if info != 0 or not np.all(np.isfinite(W)):
        del G
        if f32:
            raise Float32Inadequate("the float32 solve was not finite")
        raise NotPositiveDefinite("the Cholesky solve was numerically unstable")
    W = np.ascontiguousarray(W, dtype=np.float64)
    if f32:
        resid, fitted = _float32_check(X, Y, W, alpha, kernel, s)
        if resid > FLOAT32_MAX_RESIDUAL:
            del G
            raise Float32Inadequate(
                f"the float32 solve's relative residual {resid:.1e} exceeded {FLOAT32_MAX_RESIDUAL:g}"
            )
    else:
        # (K + alpha I) w = y  =>  K w = y - alpha w: training predictions for free
        # (weighted: S K S c = S y - alpha c, so K w = y - alpha c / s)
        fitted = Y - alpha * W if s is None else (Y - alpha * W) / s[:, None]
    if s is not None:
        W = W * s[:, None]
    # (kept before the trace below destroys it: L in G's lower triangle, for the posterior variance)
    factor = None if not keep_factor else {"kind": "cholesky", "L": _lower_copy(G), "scale": s}
    # tr(K G^-1) = n - alpha tr(G^-1)
    if probes is not None:
        tr_inv, stderr = _hutchinson_trace(probes)
    else:
        tr_inv, stderr = _trace_inverse_from_cholesky(G, exact=True if keep_factor else None)
    dof = float(n - alpha * tr_inv)
    info = {} if stderr is None else {"dof_stderr": alpha * stderr}
    return Solution(X, W, None, fitted, dof, stderr is None, "cholesky", dtype=str(np.dtype(dtype)), factor=factor,
                    info=info)  # fmt: skip


def eigh_kernel(K: np.ndarray, triangle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``K = Q diag(d) Q^T`` for a symmetric kernel matrix (K is destroyed).

    Returns ``d`` (ascending) and ``Q``; this is the one eigendecomposition of a kernel
    matrix (fit, model selection and the spectrum call it). With ``triangle`` only the
    lower triangle is filled, and LAPACK reads it in place through the Fortran view;
    otherwise the whole matrix is (as model selection builds it) and its lower triangle is read.
    """
    from scipy import linalg

    lapack64.check_lapack32(K.shape[0], "an eigendecomposition")
    if triangle:
        return linalg.eigh(K.T, lower=False, overwrite_a=True, check_finite=False, driver="evd")
    return linalg.eigh(K, overwrite_a=True, check_finite=False, driver="evd")


def eigvals_kernel(K: np.ndarray, triangle: bool = True, overwrite: bool = True) -> np.ndarray:
    """The eigenvalues (ascending) of a symmetric kernel matrix; see :func:`eigh_kernel` for ``triangle``
    (K is destroyed unless ``overwrite`` is False)."""
    from scipy import linalg

    lapack64.check_lapack32(K.shape[0], "an eigendecomposition")
    if triangle:
        return linalg.eigvalsh(K.T, lower=False, overwrite_a=overwrite, check_finite=False, driver="evd")
    return linalg.eigvalsh(K, overwrite_a=overwrite, check_finite=False, driver="evd")


# K = Q diag(d) Q^T;  w = Q diag(1 / (d + alpha)) Q^T y, with 1/(d + alpha) := 0
# where d + alpha is zero to working precision (the minimum-norm least-squares solution).
# Weighted: the same for S K S and S y, then w = S c and the fitted values K w = (S K S c) / s.
def solve_eigh(
    X: np.ndarray,
    Y: np.ndarray,
    alpha: float,
    kernel: KernelSpec,
    dtype: str = "float64",
    weights: np.ndarray | None = None,
) -> Solution:
    # always float64: the eigendecomposition is the careful fallback
    lapack64.check_lapack32(
        X.shape[0],
        "the eigendecomposition fallback",
        "use alpha > 0 large enough for a Cholesky factorization, or fewer rows",
    )
    from scipy import linalg

    s = None if weights is None else np.sqrt(weights)
    K = kernel.gram(X, triangle=True)
    if s is not None:
        _scale_symmetric(K, s)
        Y = Y * s[:, None]
    try:
        d, Q = eigh_kernel(K)
    except linalg.LinAlgError as exc:
        raise DataError(f"the eigendecomposition of the kernel matrix failed ({exc}); try a larger alpha") from None
    del K
    inv = spectral_inverse(d, alpha)
    QtY = Q.T @ Y
    W = Q @ (inv[:, None] * QtY)
    shrink = d * inv
    fitted = Q @ (shrink[:, None] * QtY)
    if s is not None:
        W *= s[:, None]
        fitted /= s[:, None]
    return Solution(X, W, None, fitted, float(np.sum(shrink)), True, "eigh")


# A x = B for a symmetric A: Cholesky A = U^T U in place; if A is not positive definite to
# working precision, the least-squares solution of the rebuilt matrix instead.
def spd_solve(A: np.ndarray, B: np.ndarray, rebuild: Callable[[], np.ndarray], triangle: bool = True) -> np.ndarray:
    """Solve with ``A`` (C order; destroyed) for ``B`` of shape (m, k).

    With ``triangle`` the lower triangle of ``A`` is read in place through its Fortran view;
    otherwise ``A`` is a whole symmetric matrix, factored as SciPy's ``cho_factor`` does.
    ``rebuild()`` gives ``A`` again for the least-squares fallback. Model selection uses this
    for each fold's system, so its solves are the fit's.
    """
    from scipy import linalg

    if not triangle:
        try:
            factor = linalg.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
            return linalg.cho_solve(factor, B, check_finite=False)
        except linalg.LinAlgError:
            return linalg.lstsq(rebuild(), B)[0]
    (potrf, potrs) = linalg.lapack.get_lapack_funcs(("potrf", "potrs"), (A,))
    U, info = potrf(A.T, lower=0, clean=0, overwrite_a=1)
    if info == 0:
        X, info = potrs(U, B, lower=0)
        if info == 0:
            return X
    return linalg.lstsq(rebuild(), B)[0]


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
# Weighted (Omega = diag(w)): (X^T Omega X + alpha I) beta = X^T Omega y;  w = Omega (y - X beta) / alpha.
def solve_primal(
    X: np.ndarray,
    Y: np.ndarray,
    alpha: float,
    kernel: KernelSpec,
    dtype: str = "float64",
    weights: np.ndarray | None = None,
) -> Solution:
    from scipy import linalg

    # always float64: a d x d system costs nothing
    Xw = X if weights is None else X * weights[:, None]  # Omega X
    A = Xw.T @ X
    s = linalg.eigvalsh(A, check_finite=False)
    _add_to_diagonal(A, alpha)
    beta = linalg.solve(A, Xw.T @ Y, assume_a="pos", overwrite_a=True, check_finite=False)
    fitted = X @ beta
    W = (Y - fitted) / alpha if weights is None else weights[:, None] * (Y - fitted) / alpha
    s = np.clip(s, 0.0, None)
    dof = float(np.sum(s / (s + alpha)))
    return Solution(X, W, beta, fitted, dof, True, "primal")


# -- the registered solvers ---------------------------------------------------------
class Cholesky(Solver):
    name = "cholesky"
    weighted = True
    keeps_factor = True
    summary = "(K + alpha I) w = y by an in-place Cholesky factorization (falls back to eigh)"
    precisions = ("float64", "float32")

    def auto_rank(self, *, kernel: str, n_samples: int, n_features: int, alpha: float) -> int | None:
        return 1

    def peak_bytes(
        self, *, n_samples: int, n_features: int, n_targets: int, itemsize: int, options: SolverOptions
    ) -> int:
        # one n x n buffer plus the temporaries of one block of kernel rows per core
        from ..kernels import BLOCK_BYTES

        n = n_samples
        block = min(BLOCK_BYTES, itemsize * n * n) * 2
        return itemsize * n * n + 8 * (4 * n * n_targets + HUTCHINSON_PROBES * n) + block

    def fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        alpha: float,
        kernel: KernelSpec,
        options: SolverOptions,
        dtype: str,
        weights: np.ndarray | None = None,
        keep_factor: bool = False,
    ) -> Solution:
        return solve_cholesky(X, Y, alpha, kernel, dtype, weights, keep_factor)


class Eigh(Solver):
    name = "eigh"
    weighted = True
    summary = "K = Q diag(d) Q^T, w = Q diag(1/(d + alpha)) Q^T y (least squares where d + alpha = 0)"

    def peak_bytes(
        self, *, n_samples: int, n_features: int, n_targets: int, itemsize: int, options: SolverOptions
    ) -> int:
        n = n_samples
        return 8 * (2 * n * n + 3 * n * n_targets) + 8 * 64 * n  # K, then Q plus LAPACK workspace

    def fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        alpha: float,
        kernel: KernelSpec,
        options: SolverOptions,
        dtype: str,
        weights: np.ndarray | None = None,
    ) -> Solution:
        return solve_eigh(X, Y, alpha, kernel, weights=weights)


class Primal(Solver):
    name = "primal"
    weighted = True
    summary = "(X^T X + alpha I) beta = X^T y for the linear kernel; w = (y - X beta) / alpha"
    kernels = ("linear",)
    primal = True

    def check(self, *, kernel: str, alpha: float) -> None:
        super().check(kernel=kernel, alpha=alpha)
        if alpha <= 0:
            raise UsageError("the primal solver needs alpha > 0")

    def auto_rank(self, *, kernel: str, n_samples: int, n_features: int, alpha: float) -> int | None:
        return 2 if kernel == "linear" and n_features < n_samples and alpha > 0 else None

    def peak_bytes(
        self, *, n_samples: int, n_features: int, n_targets: int, itemsize: int, options: SolverOptions
    ) -> int:
        return 8 * (n_features * n_features + 3 * n_samples * n_targets)

    def fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        alpha: float,
        kernel: KernelSpec,
        options: SolverOptions,
        dtype: str,
        weights: np.ndarray | None = None,
    ) -> Solution:
        self.check(kernel=kernel.kernel, alpha=alpha)
        return solve_primal(X, Y, alpha, kernel, weights=weights)


CHOLESKY = register(Cholesky())
EIGH = register(Eigh())
PRIMAL = register(Primal())
