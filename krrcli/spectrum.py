"""The eigen-spectrum of a fitted model's kernel and the shrinkage alpha applies to each direction."""

from __future__ import annotations

from typing import Any

import numpy as np


def kernel_spectrum(model: Any) -> dict[str, Any]:
    """The eigenvalues ``d_j`` of a fitted model's kernel on its centers and the shrinkage ``d_j / (d_j + alpha)``.

    For the exact solvers the centers are the training rows; for nystrom they are its M centers
    (``n_samples`` is then M, and ``n_samples_fit`` the training rows): the spectrum is that of K_MM.

    Returns a dict with ``alpha``, ``gamma``, ``eigenvalues`` and ``shrinkage`` (largest eigenvalue
    first), ``effective_dof`` (their sum, as the fit computes it), counts of directions kept (> 0.9),
    shrunk and suppressed (< 0.1), and ``negative``: eigenvalues below zero beyond rounding, which an
    indefinite kernel (sigmoid) can have; their factors fall outside [0, 1].
    """
    from .kernels import gram_matrix
    from .resources import check_memory
    from .solvers.direct import eigvals_kernel, spectral_inverse
    from .solvers.lapack64 import check_lapack32

    X = model.centers_
    n = X.shape[0]
    check_lapack32(n, "the spectrum", "inspect a model with fewer rows", subject="this model")
    check_memory(3 * 8 * n * n, f"the spectrum of a {n:,} x {n:,} kernel", "inspect a model with fewer rows")
    K = gram_matrix(X, model.kernel_, model.gamma_, model.degree, model.coef0, triangle=True)
    d = eigvals_kernel(K)[::-1]
    if np.ndim(model.alpha) != 0:
        from .errors import UsageError

        raise UsageError("--spectrum shows the shrinkage of one alpha; this model has one alpha per target")
    alpha = float(model.alpha)
    shrink = d * spectral_inverse(d, alpha)
    noise = float(np.max(np.abs(d), initial=0.0)) * n * np.finfo(float).eps
    return {
        "kernel": model.kernel_,
        "gamma": None if model.gamma_ is None else float(model.gamma_),
        "alpha": alpha,
        "n_samples": n,
        "n_samples_fit": int(getattr(model, "n_samples_fit_", n)),
        "eigenvalues": [float(v) for v in d],
        "shrinkage": [float(v) for v in shrink],
        "effective_dof": float(np.sum(shrink)),
        "kept": int(np.sum(shrink > 0.9)),
        "shrunk": int(np.sum((shrink >= 0.1) & (shrink <= 0.9))),
        "suppressed": int(np.sum(shrink < 0.1)),
        "negative": int(np.sum(d < -noise)),
    }
