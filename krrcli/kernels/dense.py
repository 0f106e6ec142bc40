"""Dense kernel matrices, computed blockwise and in place.

The formulas and parameter meanings are those of scikit-learn's pairwise kernels,
so that a model fitted here predicts what ``sklearn.kernel_ridge.KernelRidge``
predicts:

=============  =================================================  ===============
name           k(x, y)                                            parameters
=============  =================================================  ===============
rbf            exp(-gamma * ||x - y||^2)                          gamma
laplacian      exp(-gamma * ||x - y||_1)                          gamma
polynomial     (gamma * <x, y> + coef0) ^ degree                  gamma, degree, coef0
linear         <x, y>
sigmoid        tanh(gamma * <x, y> + coef0)                       gamma, coef0
cosine         <x, y> / (||x|| * ||y||)   (a zero row gives 0)
=============  =================================================  ===============

``gamma=None`` means ``1 / n_features`` for every kernel that has a gamma.

Kernel matrices are written into one preallocated buffer: the inner products go
through BLAS in one call, and the elementwise part is applied in place, one block
of rows at a time, so temporaries are bounded by a block rather than by the
matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..execution import executor
from ..resources import large_empty
from .registry import Kernel, NonFiniteKernel, get_kernel, resolve_gamma

# Temporaries made while building a kernel are capped at about this many bytes.
BLOCK_BYTES = 32 * 2**20


# A lower triangle is built in blocks of rows, each only as wide as the triangle at its last row (the
# elementwise work is n^2 / 2, not n^2), of about TRIANGLE_BLOCK_BYTES, so that the block stays in a core's
# cache through the elementwise passes (measured at n = 4,000 on 2 cores: 34-37 ms with 32-row blocks,
# 79-83 ms with 256); up to 512 rows it is one block on one thread (a pool would cost more than it shares).
TRIANGLE_BLOCK_BYTES = 2**20
TRIANGLE_ONE_BLOCK_ROWS = 512


def _block_rows(n_cols: int, itemsize: int = 8) -> int:
    return max(1, BLOCK_BYTES // max(1, n_cols * itemsize))


def row_sq_norms(X: np.ndarray) -> np.ndarray:
    """Squared Euclidean norm of each row, shape (n_rows,)."""
    return np.einsum("ij,ij->i", X, X)


def prepare(X: np.ndarray, kernel: str) -> np.ndarray:
    """Rows as the kernel's inner product sees them (unit rows for cosine, else ``X``)."""
    if kernel != "cosine":
        return X
    norms = np.sqrt(row_sq_norms(X))
    norms[norms == 0.0] = 1.0
    return X / norms[:, None]


def _l1_block(Xb: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    # ||x - y||_1 accumulated one feature at a time: temporaries of one block.
    out.fill(0.0)
    tmp = np.empty_like(out)
    for f in range(Xb.shape[1]):
        np.subtract.outer(Xb[:, f], Y[:, f], out=tmp)
        np.abs(tmp, out=tmp)
        out += tmp


def _to_sqdist(block: np.ndarray, x_sq: np.ndarray, y_sq: np.ndarray) -> None:
    # ||x - y||^2 = -2 <x, y> + ||x||^2 + ||y||^2, clipped at 0 against rounding.
    block *= -2.0
    block += x_sq[:, None]
    block += y_sq[None, :]
    np.maximum(block, 0.0, out=block)


def apply_kernel(
    block: np.ndarray, kernel: str, gamma: float | None, degree: float, coef0: float, scaled: bool = False
) -> None:
    """Turn a block of base values (see :func:`base_matrix`) into kernel values, in place.

    With ``scaled``, the block already holds the kernel's argument (``-gamma d`` for rbf,
    ``gamma <x, y> + coef0`` for polynomial and sigmoid, as :class:`~.kmap.KernelMap`'s
    augmented product gives it): only the outer function is applied.
    """
    if kernel in ("rbf", "laplacian"):
        if not scaled:
            block *= -gamma
        np.exp(block, out=block)
    elif kernel in ("polynomial", "sigmoid"):
        if not scaled:
            block *= gamma
            block += coef0
        if kernel == "polynomial":
            block **= degree
        else:
            np.tanh(block, out=block)
    # linear and cosine: the inner product is the kernel.


def _syrk_lower(Xp: np.ndarray, out: np.ndarray) -> None:
    """Lower triangle of ``out`` (C order) := Xp Xp^T, by one BLAS symmetric rank-k update in place (numpy's
    OpenBLAS when it is found, so that a fit need not import SciPy; else SciPy's)."""
    from ..solvers import lapack64

    if lapack64.available():
        lapack64.syrk_upper(np.ascontiguousarray(Xp, dtype=out.dtype), out.T)  # out.T's upper = out's lower
        return
    from scipy.linalg import blas

    syrk = blas.dsyrk if out.dtype == np.float64 else blas.ssyrk
    # out.T is Fortran-ordered; its upper triangle is out's lower triangle.
    res = syrk(1.0, Xp.T, trans=1, lower=0, c=out.T, overwrite_c=1)
    if not np.shares_memory(res, out):  # pragma: no cover - BLAS wrappers always write in place here
        out[...] = res.T


def _fill(
    X: np.ndarray,
    K: np.ndarray,
    spec: Kernel,
    gamma: float | None,
    degree: float,
    coef0: float,
    triangle: bool,
    finish: bool,
) -> None:
    n = X.shape[0]
    # Over 2 GiB, BLAS's one-call products crash (see lapack64): build by blocks of rows instead.
    from ..solvers.lapack64 import LARGE_BYTES

    by_blocks = K.nbytes >= LARGE_BYTES
    Xp = prepare(X, spec.name) if spec.base != "l1" else X
    if spec.base != "l1" and not by_blocks:
        if triangle:
            _syrk_lower(Xp, K)
        else:
            np.matmul(Xp, Xp.T, out=K)
    sq = row_sq_norms(X) if spec.base == "sqeuclidean" else None
    # rbf of rows whose squared norms are below an eighth of the largest float: each distance is finite (at
    # most 4 times that), so each value exp(-gamma d) is in [0, 1] and needs no check
    limit = float(np.finfo(K.dtype).max) / 8
    always_finite = spec.name == "rbf" and sq is not None and bool(np.all(np.asarray(sq, np.float64) < limit))

    def block(a: int, b: int) -> None:
        cols = b if triangle else n
        blk = K[a:b, :cols]
        if by_blocks and spec.base != "l1":
            blk[...] = Xp[a:b] @ Xp[:cols].T
        if spec.base == "l1":
            _l1_block(X[a:b], X[:cols], blk)
        elif spec.base == "sqeuclidean":
            _to_sqdist(blk, sq[a:b], sq[:cols])
        if spec.base != "dot":
            r = np.arange(a, b)
            blk[r - a, r] = 0.0  # a point is at distance 0 from itself, exactly
        if finish:
            apply_kernel(blk, spec.name, gamma, degree, coef0)
            if always_finite:
                return
            # only the part the caller may read: the lower triangle of a diagonal block
            part = blk[:, :a] if triangle else blk
            if not np.isfinite(part).all() or (triangle and not np.isfinite(np.tril(blk[:, a:b])).all()):
                bad.append(a)

    bad: list[int] = []
    step = _block_rows(n, K.itemsize)
    if triangle and n > TRIANGLE_ONE_BLOCK_ROWS:
        step = min(step, max(16, TRIANGLE_BLOCK_BYTES // (K.itemsize * n)))
    with np.errstate(all="ignore"):  # the unused upper corner of a diagonal block holds garbage
        executor().map_blocks(n, step, block)
    if bad:
        raise NonFiniteKernel(spec.name, gamma, degree, coef0)


def base_matrix(X: np.ndarray, kernel: str, out: np.ndarray | None = None) -> np.ndarray:
    """What a kernel is a function of, for all pairs of rows of ``X``.

    Squared Euclidean distances for rbf, L1 distances for laplacian, inner
    products (of unit rows for cosine) otherwise. The diagonal of a distance is
    exactly 0. Kernels for several gammas can all be derived from one such
    matrix with :func:`apply_kernel`.

    X : ndarray of shape (n_samples, n_features)
    out : ndarray of shape (n_samples, n_samples), optional

    Returns ndarray of shape (n_samples, n_samples).
    """
    spec = get_kernel(kernel)
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    B = large_empty((n, n)) if out is None else out
    _fill(X, B, spec, None, 3, 1, triangle=False, finish=False)
    return B


def gram_matrix(
    X: np.ndarray,
    kernel: str = "rbf",
    gamma: float | None = None,
    degree: float = 3,
    coef0: float = 1,
    out: np.ndarray | None = None,
    triangle: bool = False,
    dtype: str | np.dtype = "float64",
) -> np.ndarray:
    """The symmetric training kernel ``K[i, j] = k(x_i, x_j)``, built in one buffer.

    Inner products go through one BLAS call (a symmetric rank-k update when
    ``triangle``); distances and the kernel function are applied in place, a
    block of rows at a time, on all cores.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    out : ndarray of shape (n_samples, n_samples), optional
        Buffer to fill (C order); allocated when not given.
    triangle : bool
        Compute only the lower triangle (with the diagonal), which is all a
        Cholesky factorization or a symmetric eigensolver reads; the strict
        upper triangle is then left undefined.
    dtype : "float64" or "float32"
        Precision of the matrix (and of the arithmetic that builds it).

    Returns
    -------
    K : ndarray of shape (n_samples, n_samples)
    """
    spec = get_kernel(kernel)
    dt = np.dtype(dtype) if out is None else out.dtype
    X = np.ascontiguousarray(X, dtype=dt)
    gamma = resolve_gamma(kernel, gamma, X.shape[1])
    n = X.shape[0]
    K = large_empty((n, n), dtype=dt) if out is None else out
    _fill(X, K, spec, gamma, degree, coef0, triangle=triangle, finish=True)
    return K


def cross_kernel(
    X: np.ndarray,
    Y: np.ndarray,
    kernel: str = "rbf",
    gamma: float | None = None,
    degree: float = 3,
    coef0: float = 1,
    out: np.ndarray | None = None,
    y_sq: np.ndarray | None = None,
) -> np.ndarray:
    """Kernel between new rows and training rows, ``K[i, j] = k(x_i, y_j)``.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    Y : ndarray of shape (n_train, n_features)
        For ``cosine``, pass rows already normalised by :func:`prepare`.
    out : ndarray of shape (n_rows, n_train), optional
    y_sq : ndarray of shape (n_train,), optional
        Precomputed :func:`row_sq_norms` of ``Y`` (rbf only).

    Returns
    -------
    K : ndarray of shape (n_rows, n_train)
    """
    spec = get_kernel(kernel)
    gamma = resolve_gamma(kernel, gamma, X.shape[1])
    K = np.empty((X.shape[0], Y.shape[0])) if out is None else out
    if spec.base == "l1":
        _l1_block(X, Y, K)
    else:
        np.matmul(prepare(X, kernel), Y.T, out=K)
        if spec.base == "sqeuclidean":
            _to_sqdist(K, row_sq_norms(X), row_sq_norms(Y) if y_sq is None else y_sq)
    apply_kernel(K, kernel, gamma, degree, coef0)
    return K


@dataclass(frozen=True)
class KernelSpec:
    """A kernel with its resolved parameters."""

    kernel: str
    gamma: float | None
    degree: float
    coef0: float

    def gram(
        self, X: np.ndarray, out: np.ndarray | None = None, triangle: bool = False, dtype: str = "float64"
    ) -> np.ndarray:
        """The training kernel of ``X`` (see :func:`gram_matrix`)."""
        return gram_matrix(X, self.kernel, self.gamma, self.degree, self.coef0, out, triangle, dtype)
