"""``x -> [k(x, c_1), ..., k(x, c_M)]``: kernel values of blocks of rows against fixed centers."""

from __future__ import annotations

import numpy as np

from .dense import KernelSpec, _l1_block, apply_kernel, prepare, row_sq_norms
from .registry import get_kernel


class KernelMap:
    """``x -> [k(x, c_1), ..., k(x, c_n)]`` against fixed centers, for many blocks of new rows.

    What depends only on the centers is prepared once. For rbf the whole
    exponent comes out of one matrix product of augmented rows,

        -gamma ||x - c||^2 = [2 gamma x, -gamma ||x||^2, -gamma] . [c, 1, ||c||^2],

    so a block costs one BLAS call and one in-place pass (exp);
    polynomial and sigmoid fold gamma and coef0 into the product the same way.
    """

    def __init__(self, spec: KernelSpec, centers: np.ndarray, dtype: str = "float64") -> None:
        self.spec = spec
        self.kind = get_kernel(spec.kernel)
        self.dtype = np.dtype(dtype)
        C = np.ascontiguousarray(centers, dtype=np.float64)
        self.centers = C
        n = C.shape[0]
        if spec.kernel == "rbf":
            self.B = np.column_stack([C, np.ones(n), row_sq_norms(C)])
        elif spec.kernel in ("polynomial", "sigmoid"):
            self.B = np.column_stack([C, np.ones(n)])
        elif spec.kernel == "cosine":
            self.B = prepare(C, "cosine")
        else:
            self.B = C
        self.B = np.ascontiguousarray(self.B, dtype=self.dtype)
        self.centers = C.astype(self.dtype, copy=False)

    @property
    def n_centers(self) -> int:
        return self.centers.shape[0]

    def _augment(self, X: np.ndarray) -> np.ndarray:
        s = self.spec
        X = np.asarray(X, dtype=np.float64)
        if s.kernel == "rbf":
            A = np.empty((X.shape[0], X.shape[1] + 2))
            np.multiply(X, 2.0 * s.gamma, out=A[:, :-2])
            A[:, -2] = -s.gamma * row_sq_norms(X)
            A[:, -1] = -s.gamma
            return A.astype(self.dtype, copy=False)
        if s.kernel in ("polynomial", "sigmoid"):
            A = np.empty((X.shape[0], X.shape[1] + 1))
            np.multiply(X, s.gamma, out=A[:, :-1])
            A[:, -1] = s.coef0
            return A.astype(self.dtype, copy=False)
        return prepare(X, s.kernel).astype(self.dtype, copy=False)

    def block(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Kernel values of shape (n_rows, n_centers) for rows ``X`` of shape (n_rows, n_features)."""
        s = self.spec
        K = np.empty((X.shape[0], self.n_centers), dtype=self.dtype) if out is None else out
        if self.kind.base == "l1":
            _l1_block(np.asarray(X, dtype=self.dtype), self.centers, K)
            apply_kernel(K, s.kernel, s.gamma, s.degree, s.coef0)
            return K
        np.matmul(self._augment(X), self.B.T, out=K)
        # The product is the kernel's argument already. For rbf the exponent is <= 0 up to
        # rounding (a point at distance ~0 may give +1e-16, i.e. k = 1 + 2e-16); clipping
        # would cost a pass over the block for nothing.
        apply_kernel(K, s.kernel, s.gamma, s.degree, s.coef0, scaled=True)
        return K
