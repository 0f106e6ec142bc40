"""What cross-validation reports: one result per grid point, the report, and choosing the best."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError, UsageError

METRICS = ("rmse", "mae", "r2")


@dataclass
class CVResult:
    """Scores of one (gamma, alpha) pair."""

    gamma: float | None
    alpha: float
    rmse: float
    mae: float
    r2: float
    effective_dof: float | None = None
    gcv: float | None = None
    rmse_folds: list[float] | None = None

    def score(self, metric: str) -> float:
        return float(getattr(self, metric))

    def to_dict(self) -> dict:
        out = {
            "gamma": self.gamma,
            "alpha": self.alpha,
            "rmse": self.rmse,
            "mae": self.mae,
            "r2": self.r2,
            "effective_dof": self.effective_dof,
        }
        if self.gcv is not None:
            out["gcv"] = self.gcv
        if self.rmse_folds is not None:
            out["rmse_folds"] = self.rmse_folds
        return out


@dataclass
class CVReport:
    """Everything a cross-validation found."""

    method: str
    folds: int
    metric: str
    kernel: str
    gammas: list[float | None]
    alphas: list[float]
    results: list[CVResult]
    best: CVResult
    n_samples: int
    seed: int | None = None
    refined: CVResult | None = None
    strategy: str | None = None
    notes: list[str] = field(default_factory=list)

    def score_grid(self) -> np.ndarray:
        """The chosen metric as an array of shape (n_gammas, n_alphas)."""
        vals = [r.score(self.metric) for r in self.results]
        return np.array(vals, dtype=float).reshape(len(self.gammas), len(self.alphas))


def _sign(metric: str) -> float:
    return -1.0 if metric == "r2" else 1.0


def pick_best(results: list[CVResult], metric: str) -> CVResult:
    """The best result by ``metric`` (largest r2, smallest rmse/mae/gcv; first on ties)."""
    if metric not in (*METRICS, "gcv"):
        raise UsageError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    scored = [r for r in results if r.score(metric) == r.score(metric) and math.isfinite(r.score(metric))]
    if not scored:
        raise DataError("no grid point has a finite score")
    return min(scored, key=lambda r: _sign(metric) * r.score(metric))


def _edge_notes(best: CVResult, gammas: list, alphas: list[float]) -> list[str]:
    """Warnings for a best value at the edge of its grid."""
    notes = []
    for name, value, grid in (("alpha", best.alpha, alphas), ("gamma", best.gamma, gammas)):
        values = [v for v in grid if v is not None]
        if len(values) < 2 or value is None:
            continue
        if value == min(values):
            notes.append(f"best {name} is the smallest tried: extend the grid below {value:g}")
        elif value == max(values):
            notes.append(f"best {name} is the largest tried: extend the grid above {value:g}")
    return notes
