"""Marginal effects: the derivatives ``d f / d x_j`` of a fitted model, analytic for every kernel.

``f(x) = sum_i c_i k(x, z_i) (+ b)`` over the model's centers ``z_i`` (for the exact solvers, the training
rows), so ``d f / d x_j = sum_i c_i d k(x, z_i) / d x_j``, with, for ``u = x - z`` and ``p = gamma x^T z + coef0``:

    rbf         exp(-gamma ||u||^2)            -2 gamma u_j k
    laplacian   exp(-gamma ||u||_1)            -gamma sign(u_j) k      (0 where x_j = z_j: k has no derivative
                                                                        there; the average is unaffected)
    polynomial  p^degree                       degree gamma z_j p^(degree - 1)
    sigmoid     tanh(p)                        gamma z_j (1 - k^2)
    linear      x^T z                          z_j                     (the primal weights, the same everywhere)
    cosine      x^T z / (||x|| ||z||)          z_j / (||x|| ||z||) - k x_j / ||x||^2

A model fitted on standardized features sees ``x_s = (x - mean) / scale``: its effects in the original units are
divided by ``scale_j``. Every sum over centers is one matrix product per block of rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kernels import KernelMap

# rows of x a block: the kernel block (rows x centers) and its products stay small
EFFECTS_BLOCK_BYTES = 16 * 2**20


def marginal_effects(model: Any, X: np.ndarray) -> np.ndarray:
    """``d f_t / d x_j`` at each row of ``X`` (raw features, as ``predict`` takes them): an array of shape
    (n_rows, n_features, n_targets), in the features' original units."""
    X = np.asarray(X, dtype=np.float64)
    Xs = model.transform_features(X)
    C = np.asarray(model.dual_coef_, dtype=np.float64).reshape(model.centers_.shape[0], -1)
    Z = np.asarray(model.centers_, dtype=np.float64)
    m, d, t = Xs.shape[0], Xs.shape[1], C.shape[1]
    out = np.empty((m, d, t))
    spec = model._kernel_spec()
    step = max(1, EFFECTS_BLOCK_BYTES // (8 * max(1, Z.shape[0]) * max(1, t + 2)))
    kmap = KernelMap(spec, Z) if spec.kernel != "linear" else None
    ZC = (Z[:, :, None] * C[:, None, :]).reshape(Z.shape[0], d * t)  # z_ij c_it, for the products
    for a in range(0, m, step):
        xb = Xs[a : a + step]
        out[a : a + step] = _block(spec, kmap, xb, Z, C, ZC)
    if model.scale_ is not None:
        out /= np.asarray(model.scale_)[None, :, None]
    return out


def _block(spec: Any, kmap: Any, x: np.ndarray, Z: np.ndarray, C: np.ndarray, ZC: np.ndarray) -> np.ndarray:
    """The effects (rows, d, t) for one block of standardized rows ``x``."""
    b, d, t = x.shape[0], x.shape[1], C.shape[1]
    kernel, gamma = spec.kernel, spec.gamma
    if kernel == "linear":
        return np.broadcast_to((Z.T @ C)[None], (b, d, t)).copy()
    K = kmap.block(x)  # (b, M), float64
    if kernel == "rbf":  # -2 gamma (x_j (K c) - K (z_j c))
        KC, KZC = K @ C, (K @ ZC).reshape(b, d, t)
        return -2.0 * gamma * (x[:, :, None] * KC[:, None, :] - KZC)
    if kernel == "laplacian":  # -gamma sum_i c_i sign(x_j - z_ij) k_i, a feature at a time
        out = np.empty((b, d, t))
        for j in range(d):
            out[:, j] = -gamma * ((K * np.sign(x[:, j : j + 1] - Z[None, :, j])) @ C)
        return out
    if kernel in ("polynomial", "sigmoid"):
        P = gamma * (x @ Z.T) + spec.coef0
        if kernel == "polynomial":
            Gp = spec.degree * gamma * np.power(P, spec.degree - 1.0)
        else:
            Gp = gamma * (1.0 - K * K)
        return (Gp @ ZC).reshape(b, d, t)
    if kernel == "cosine":  # (Z_hat^T c)_j / ||x|| - x_j (K c) / ||x||^2
        xn = np.linalg.norm(x, axis=1)
        zn = np.linalg.norm(Z, axis=1)
        Zhat = Z / np.where(zn > 0, zn, 1.0)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(xn > 0, 1.0 / xn, 0.0)
        return (Zhat.T @ C)[None] * inv[:, None, None] - x[:, :, None] * (K @ C)[:, None, :] * (inv**2)[:, None, None]
    raise ValueError(f"no derivative for the {kernel} kernel")  # (every registered kernel has one above)


def summarize_effects(effects: np.ndarray, features: list[str], targets: list[str]) -> list[dict[str, Any]]:
    """Per target and feature: the average marginal effect (mean over the rows) and its quartiles."""
    q = np.percentile(effects, [25, 50, 75], axis=0)  # (3, d, t)
    mean = effects.mean(axis=0)
    return [
        {
            "target": target,
            "feature": feature,
            "mean": float(mean[j, k]),
            "q25": float(q[0, j, k]),
            "median": float(q[1, j, k]),
            "q75": float(q[2, j, k]),
        }
        for k, target in enumerate(targets)
        for j, feature in enumerate(features)
    ]
