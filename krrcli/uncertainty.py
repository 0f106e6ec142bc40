"""Uncertainty of a prediction: the posterior of the Gaussian-process reading of kernel ridge regression.

KRR's prediction is the posterior mean of a Gaussian process ``f ~ GP(0, sigma_f^2 k)`` observed with noise of
variance ``sigma^2 / w_i`` on row i (w = 1 unweighted), where ``alpha = sigma^2 / sigma_f^2``. Its posterior
variance at x, with ``S = diag(sqrt(w))``, ``k_x = k(X, x)`` and ``G = S K S + alpha I = L L^T``, is

    var f(x) = sigma_f^2 (k(x, x) - (S k_x)^T G^-1 (S k_x)) = (sigma^2 / alpha) (k(x, x) - ||L^-1 S k_x||^2)

With the unpenalized intercept (a flat prior on the constant), the variance of f(x) + b gains
``(sigma^2 / alpha) (1 - u^T S k_x)^2 / (s^T u)`` with ``s = sqrt(w)``, ``u = G^-1 s``. The Nystrom model's
analogue (the deterministic training conditional, with ``A = K_Mn W K_nM + alpha K_MM``, ``K_MM = T^T T``) is

    var f(x) = (sigma^2 / alpha) (k(x, x) - ||T^-T k_xM||^2) + sigma^2 k_xM^T A^-1 k_xM

and with the intercept (the posterior of (beta, b) under the precision [[A, c], [c^T, sum w]] / sigma^2, c = K_Mn w,
by its Schur complement) ``sigma^2 (1 - u^T k_xM)^2 / (sum w - c^T u)`` more, ``u = A^-1 c``: the weights of
the column of ones the intercept's solve fits, and the denominator ``sum w (1 - F_1)`` of b.

sigma^2 is estimated from the training residuals as ``sum_i w_i r_i^2 / (n - dof)`` (dof: the effective degrees
of freedom), the unbiased estimate of a linear smoother's noise. A predictive interval for a new observation
(of weight 1) at x is ``f(x) +- z sqrt(var f(x) + sigma^2)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import UsageError
from .kernels import KernelMap

STD_BLOCK_BYTES = 16 * 2**20


def noise_variance(residual_ss: float, n: int, dof: float) -> float:
    """``sigma^2 = sum w r^2 / (n - dof)``: the residual variance of a linear smoother with ``dof``."""
    return float(residual_ss / max(n - dof, 1.0))


def _diag_kernel(spec: Any, Xs: np.ndarray) -> np.ndarray:
    """``k(x, x)`` for each row."""
    if spec.kernel in ("rbf", "laplacian", "cosine"):
        return np.ones(Xs.shape[0])
    p = np.einsum("ij,ij->i", Xs, Xs)
    if spec.kernel == "linear":
        return p
    p = spec.gamma * p + spec.coef0
    return np.power(p, spec.degree) if spec.kernel == "polynomial" else np.tanh(p)


def posterior_std(model: Any, X: np.ndarray) -> np.ndarray:
    """The posterior standard deviation of f(x) (+ b) for each row of ``X`` (raw features), shape (n_rows,):
    the same for every target up to the targets' noise, so shape (n_rows, n_targets)."""
    from scipy import linalg

    factor = getattr(model, "factor_", None)
    if not factor:
        raise UsageError(
            "this model has no factorization for --std or --interval: refit it with `krr fit ... --keep-factor` "
            "(it stores the n x n Cholesky factor, or two M x M ones for nystrom, in the model file)"
        )
    Xs = model.transform_features(np.asarray(X, dtype=np.float64))
    spec = model._kernel_spec()
    Z = model.centers_
    sigma2 = np.asarray(model.noise_var_, dtype=np.float64)  # (t,)
    alpha = np.atleast_1d(np.asarray(model.alpha, dtype=np.float64))
    kmap = KernelMap(spec, Z)
    out = np.empty((Xs.shape[0], sigma2.shape[0]))
    step = max(1, STD_BLOCK_BYTES // (8 * max(1, Z.shape[0])))
    for a in range(0, Xs.shape[0], step):
        xb = Xs[a : a + step]
        Kb = kmap.block(xb).T  # (n_centers, rows)
        kxx = _diag_kernel(spec, xb)
        if factor["kind"] == "cholesky":
            s = factor.get("scale")
            B = Kb if s is None else Kb * s[:, None]
            V = linalg.solve_triangular(factor["L"], B, lower=True, check_finite=False)
            base = kxx - np.einsum("ij,ij->j", V, V)
            if factor.get("u") is not None:
                base = base + (1.0 - factor["u"] @ B) ** 2 / factor["u_sum"]
            var = np.clip(base, 0.0, None)[:, None] * (sigma2 / alpha)[None, :]
        else:  # nystrom: T upper with K_MM = T^T T, R upper with A = R^T R
            P = linalg.solve_triangular(factor["T"], Kb, trans="T", check_finite=False)
            Q = linalg.solve_triangular(factor["R"], Kb, trans="T", check_finite=False)
            prior = np.clip(kxx - np.einsum("ij,ij->j", P, P), 0.0, None)
            post = np.einsum("ij,ij->j", Q, Q)
            if factor.get("u") is not None:
                post = post + (1.0 - factor["u"] @ Kb) ** 2 / factor["u_sum"]
            var = prior[:, None] * (sigma2 / alpha)[None, :] + post[:, None] * sigma2[None, :]
        out[a : a + step] = np.sqrt(var)
    return out


def normal_quantile(level: float) -> float:
    """``z`` with ``P(|N(0, 1)| <= z) = level``."""
    from scipy.special import ndtri

    if not 0.0 < level < 1.0 or not math.isfinite(level):
        raise UsageError(f"--interval must be a probability between 0 and 1 (e.g. 0.95), got {level}")
    return float(ndtri(0.5 + level / 2.0))
