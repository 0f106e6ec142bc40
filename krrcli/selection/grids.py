"""Grids and folds: --gamma / --alpha specifications, the data-driven default gamma grid, k-fold splits."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DataError, UsageError
from ..kernels import base_matrix, get_kernel
from ..limits import MAX_GRID_POINTS, MAX_GRID_VALUES

DEFAULT_ALPHAS = "1e-6:1e2:9"
GAMMA_GRID_POINTS = 7
GAMMA_GRID_DECADES = 2.0  # the default gamma grid spans centre * 10^[-2, 2]
SCALE_SAMPLE_ROWS = 1000


class _TooMany(Exception):
    pass


def _short_spec(spec: str) -> str:
    return repr(spec) if len(spec) <= 40 else repr(spec[:40]) + "..."


def check_grid_size(n_gammas: int, n_alphas: int) -> None:
    """A grid of more than ``MAX_GRID_POINTS`` points is a usage error, before any work."""
    if n_gammas * n_alphas > MAX_GRID_POINTS:
        raise UsageError(
            f"the grid has {n_gammas:,} gamma(s) x {n_alphas:,} alpha(s) = {n_gammas * n_alphas:,} points; "
            f"krr cv scores at most {MAX_GRID_POINTS:,}"
        )


def parse_grid(spec: str, name: str) -> list[float]:
    """``"0.1"``, ``"0.1,1,10"`` or a log-spaced range ``"LO:HI:N"`` -> a list of floats."""
    text = spec.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            lo, hi, num = float(parts[0]), float(parts[1]), int(parts[2])
            if num > MAX_GRID_VALUES:
                raise _TooMany(num)
            if lo <= 0 or hi <= 0 or num < 1 or (num == 1 and lo != hi) or (num > 1 and lo == hi):
                raise ValueError
            # rounded to 12 significant digits so that 1e-5 prints as 1e-05, not 9.999999999999999e-06
            values = [float(f"{v:.12g}") for v in np.logspace(math.log10(lo), math.log10(hi), num)]
        else:
            items = text.split(",")
            if len(items) > 1 and any(not v.strip() for v in items):
                raise ValueError  # "1,,2" or "1,": an empty item is a typo, not a request
            if len(items) > MAX_GRID_VALUES:
                raise _TooMany(len(items))
            values = [float(v) for v in items if v.strip()]
    except _TooMany as exc:
        raise UsageError(
            f"--{name} {_short_spec(spec)} asks for {exc.args[0]:,} values; a grid takes at most "
            f"{MAX_GRID_VALUES:,} per parameter (refine around the best instead)"
        ) from None
    except ValueError:
        raise UsageError(
            f"cannot read --{name} {spec!r}; give a number, a comma-separated list, "
            "or a log-spaced range LO:HI:N with LO, HI > 0 (e.g. 1e-6:1e2:9)"
        ) from None
    values = list(dict.fromkeys(values))  # drop repeats, keep the order
    if not values:
        raise UsageError(f"--{name} is empty")
    for v in values:
        if not math.isfinite(v) or (name == "gamma" and v <= 0) or (name == "alpha" and v <= 0):
            raise UsageError(f"every --{name} value must be a finite number > 0 in cv, got {v:g}")
    return values


def gamma_scale(X: Any, kernel: str, seed: int = 0) -> float:
    """The data's own scale for gamma, the centre of the default grid.

    rbf: 1 / median squared Euclidean distance between rows; laplacian: 1 /
    median L1 distance; polynomial and sigmoid: 1 / median squared row norm.
    Computed on at most 1000 rows drawn with ``default_rng(seed)``; falls back
    to 1 / n_features when that median is 0. ``X`` is an array or training rows
    (:class:`~krrcli.solvers.nystrom.LocalRows`, a cluster's partitions).
    """
    rows = not isinstance(X, np.ndarray)
    n, d = (X.n_rows, X.n_features) if rows else X.shape
    rng = np.random.default_rng(seed)
    sample = None if n <= SCALE_SAMPLE_ROWS else np.sort(rng.choice(n, SCALE_SAMPLE_ROWS, replace=False))
    if rows:
        S = X.take(np.arange(n) if sample is None else sample)
    else:
        S = X if sample is None else X[sample]
    spec = get_kernel(kernel)
    if spec.base == "dot":
        med = float(np.median(np.einsum("ij,ij->i", S, S)))
    else:
        B = base_matrix(S, kernel)
        iu = np.triu_indices(S.shape[0], k=1)
        med = float(np.median(B[iu])) if iu[0].size else 0.0
    return 1.0 / med if med > 0 and math.isfinite(med) else 1.0 / d


def default_gammas(X: Any, kernel: str, seed: int = 0) -> list[float | None]:
    """Seven log-spaced gammas around :func:`gamma_scale` (``[None]`` for kernels without gamma)."""
    if not get_kernel(kernel).uses_gamma:
        return [None]
    centre = gamma_scale(X, kernel, seed)
    return list(centre * np.logspace(-GAMMA_GRID_DECADES, GAMMA_GRID_DECADES, GAMMA_GRID_POINTS))


def kfold_indices(n: int, k: int, seed: int = 0) -> list[np.ndarray]:
    """Test rows of each fold: ``default_rng(seed).permutation(n)`` cut into ``k`` contiguous, near-equal parts."""
    if k < 2:
        raise UsageError(f"--folds must be >= 2, got {k}")
    if n < k:
        raise DataError(f"cannot make {k} folds from {n} rows; use at most {n} folds")
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(perm, k)]
