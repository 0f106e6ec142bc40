"""Regression scores, in one place: the training scores of a fit and the held-out scores of model selection."""

from __future__ import annotations

import numpy as np


def r2_from_sums(ss_res: np.ndarray, ss_tot: np.ndarray) -> np.ndarray:
    """``R^2 = 1 - SS_res / SS_tot``; for a constant target (SS_tot = 0): 1 if fitted exactly, else 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res > 0, 0.0, 1.0))


def residual_scores(
    Y: np.ndarray, E: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RMSE, MAE and R^2 of residuals, each the mean over targets.

    Y : ndarray of shape (n_samples, n_targets)
        The targets (for R^2's total sum of squares).
    E : ndarray of shape (..., n_samples, n_targets)
        Residuals ``y - prediction``; leading axes (one per alpha, say) are kept.
    weights : ndarray of shape (n_samples,), or None
        Row weights: every sum weighted, divided by ``sum(w)`` instead of n (see :func:`regression_scores`).

    Returns three arrays of shape ``E.shape[:-2]``.
    """
    if weights is None:
        ss_tot = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)  # (t,)
        return scores_from_sums(Y.shape[0], np.sum(E**2, axis=-2), np.sum(np.abs(E), axis=-2), ss_tot)
    w = np.asarray(weights, dtype=np.float64)
    ss_tot = w @ (Y - (w @ Y) / w.sum()) ** 2
    ss_res = np.einsum("i,...it->...t", w, E**2)
    sum_abs = np.einsum("i,...it->...t", w, np.abs(E))
    return scores_from_sums(float(w.sum()), ss_res, sum_abs, ss_tot)


def scores_from_sums(
    n: int, ss_res: np.ndarray, sum_abs: np.ndarray, ss_tot: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RMSE, MAE and R^2 (means over the last axis, the targets) from ``n`` rows' sums of squared and of
    absolute residuals and the targets' sums of squared deviations from their mean."""
    rmse = np.sqrt(ss_res / n).mean(axis=-1)
    mae = (sum_abs / n).mean(axis=-1)
    return rmse, mae, r2_from_sums(ss_res, ss_tot).mean(axis=-1)


def regression_scores(y: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """RMSE, MAE and R^2 per target, averaged over targets; with ``weights`` (n_samples,), weighted: each
    row's squared and absolute residual counts ``w_i / sum(w)`` times, and R^2's mean is the weighted mean
    (scikit-learn's ``sample_weight`` in its metrics).

    y, pred : ndarray of shape (n_samples, n_targets)
    """
    rmse, mae, r2 = residual_scores(y, y - pred, weights)
    return {"rmse": float(rmse), "mae": float(mae), "r2": float(r2)}


def r2_score(Y: np.ndarray, P: np.ndarray, weights: np.ndarray | None = None) -> float:
    """R^2 of predictions ``P`` for targets ``Y`` (both of shape (n_samples, n_targets)), averaged over
    targets, rows weighted by ``weights`` if given: scikit-learn's ``r2_score``."""
    return regression_scores(Y, P, weights)["r2"]
