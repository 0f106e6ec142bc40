"""Kernel functions, computed blockwise and in place.

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

from .errors import UsageError

# Temporaries made while building a kernel are capped at about this many bytes.
BLOCK_BYTES = 32 * 2**20


@dataclass(frozen=True)
class Kernel:
    """What a kernel needs: which parameters it reads and how its matrix is built."""

    name: str
    uses_gamma: bool
    uses_degree: bool
    uses_coef0: bool
    # "sqeuclidean" and "l1" kernels are functions of a distance; the others of <x, y>.
    base: str


KERNELS: dict[str, Kernel] = {
    "rbf": Kernel("rbf", True, False, False, "sqeuclidean"),
    "laplacian": Kernel("laplacian", True, False, False, "l1"),
    "polynomial": Kernel("polynomial", True, True, True, "dot"),
    "linear": Kernel("linear", False, False, False, "dot"),
    "sigmoid": Kernel("sigmoid", True, False, True, "dot"),
    "cosine": Kernel("cosine", False, False, False, "dot"),
}


def get_kernel(name: str) -> Kernel:
    """Return the registry entry of ``name`` or raise a :class:`UsageError` listing the choices."""
    try:
        return KERNELS[name]
    except KeyError:
        raise UsageError(
            f"unknown kernel {name!r}; choose one of: {', '.join(KERNELS)}"
        ) from None


def resolve_gamma(kernel: str, gamma: float | None, n_features: int) -> float | None:
    """The gamma a kernel really uses: ``1 / n_features`` when not given, None when unused."""
    if not get_kernel(kernel).uses_gamma:
        return None
    if gamma is None:
        return 1.0 / n_features
    return float(gamma)


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


def apply_kernel(block: np.ndarray, kernel: str, gamma: float | None, degree: float, coef0: float) -> None:
    """Turn a block of base values (see :func:`base_matrix`) into kernel values, in place."""
    if kernel in ("rbf", "laplacian"):
        block *= -gamma
        np.exp(block, out=block)
    elif kernel == "polynomial":
        block *= gamma
        block += coef0
        block **= degree
    elif kernel == "sigmoid":
        block *= gamma
        block += coef0
        np.tanh(block, out=block)
    # linear and cosine: the inner product is the kernel.


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
    B = np.empty((n, n)) if out is None else out
    step = _block_rows(n)
    if spec.base == "l1":
        for i in range(0, n, step):
            _l1_block(X[i : i + step], X, B[i : i + step])
    else:
        Xp = prepare(X, kernel)
        np.matmul(Xp, Xp.T, out=B)
        if spec.base == "sqeuclidean":
            sq = row_sq_norms(X)
            for i in range(0, n, step):
                _to_sqdist(B[i : i + step], sq[i : i + step], sq)
    if spec.base != "dot":
        B.flat[:: n + 1] = 0.0
    return B


def gram_matrix(
    X: np.ndarray,
    kernel: str = "rbf",
    gamma: float | None = None,
    degree: float = 3,
    coef0: float = 1,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The symmetric training kernel ``K[i, j] = k(x_i, x_j)``, built in one buffer.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    out : ndarray of shape (n_samples, n_samples), optional
        Buffer to fill; allocated when not given.

    Returns
    -------
    K : ndarray of shape (n_samples, n_samples)
    """
    gamma = resolve_gamma(kernel, gamma, np.shape(X)[1])
    K = base_matrix(X, kernel, out=out)
    step = _block_rows(K.shape[0])
    for i in range(0, K.shape[0], step):
        apply_kernel(K[i : i + step], kernel, gamma, degree, coef0)
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
