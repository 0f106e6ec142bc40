"""Standardization, in one place: the scaler that fit learns, predict applies and cv uses.

The scaler learns from blocks of rows (:meth:`Standardizer.partial_fit`), so it can be
learned in the first pass over data that does not fit in memory; with one block it is
exactly numpy's ``mean`` and ``std``.
"""

from __future__ import annotations

import numpy as np


class Standardizer:
    """Zero mean and unit variance per feature; a feature with no spread keeps scale 1.

    Attributes (after the first block)
    ----------------------------------
    n_samples_seen_ : int
    mean_ : ndarray of shape (n_features,)
    scale_ : ndarray of shape (n_features,)
    """

    def __init__(self) -> None:
        self.n_samples_seen_ = 0
        self._m2: np.ndarray | None = None
        self.mean_: np.ndarray | None = None

    # Chan et al.'s pairwise update: the mean and the sum of squared deviations of two
    # sets combine as  d = m_b - m_a;  m = m_a + d n_b / n;  M2 = M2_a + M2_b + d^2 n_a n_b / n.
    def partial_fit(self, X: np.ndarray) -> Standardizer:
        """Learn from one more block of rows ``X`` of shape (n_rows, n_features)."""
        if X.shape[0] == 0:
            return self
        block = Standardizer()
        block.mean_ = X.mean(axis=0)
        block._m2, block.n_samples_seen_ = np.sum((X - block.mean_) ** 2, axis=0), X.shape[0]
        return self.merge(block)

    def merge(self, other: Standardizer) -> Standardizer:
        """Learn from the rows ``other`` has seen (the two sets combined as above)."""
        if other.mean_ is None:
            return self
        if self.mean_ is None:
            self.mean_, self._m2, self.n_samples_seen_ = other.mean_, other._m2, other.n_samples_seen_
            return self
        n_a, n_b = self.n_samples_seen_, other.n_samples_seen_
        n = n_a + n_b
        delta = other.mean_ - self.mean_
        self.mean_ = self.mean_ + delta * (n_b / n)
        self._m2 = self._m2 + other._m2 + delta**2 * (n_a * n_b / n)
        self.n_samples_seen_ = n
        return self

    @property
    def sum_of_squares_(self) -> np.ndarray:
        """The sum of squared deviations from the mean, per column."""
        if self._m2 is None:
            raise ValueError("the scaler has seen no rows")
        return self._m2

    def fit(self, X: np.ndarray) -> Standardizer:
        """Learn from all rows at once."""
        self.__init__()
        return self.partial_fit(X)

    @property
    def scale_(self) -> np.ndarray:
        if self._m2 is None:
            raise ValueError("the scaler has seen no rows")
        scale = np.sqrt(self._m2 / self.n_samples_seen_)
        scale[scale == 0.0] = 1.0
        return scale

    def transform(self, X: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """``(X - mean) / scale`` (in ``X``'s own memory when ``overwrite``)."""
        return standardize(X, self.mean_, self.scale_, overwrite)


def standardize(
    X: np.ndarray, mean: np.ndarray | None, scale: np.ndarray | None, overwrite: bool = False
) -> np.ndarray:
    """``(X - mean) / scale``, or ``X`` itself when there is no scaler; in place when ``overwrite``."""
    if mean is None:
        return X
    if overwrite:
        X -= mean
        X /= scale
        return X
    return (X - mean) / scale
