"""Figures for cv and inspect (matplotlib, from the optional extra ``krrcli[plot]``)."""

from __future__ import annotations

import math
from typing import Any

from .errors import UsageError
from .persist import atomic_write, check_writable


def check_plotting(path: str) -> None:
    """Fail before any work when a figure cannot be made or written."""
    if not path.lower().endswith(".png"):
        raise UsageError(f"--plot writes PNG files; give a path ending in .png, got {path!r}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(
            "--plot needs matplotlib, which is not installed; install it with: pip install 'krrcli[plot]'"
        ) from None
    check_writable(path, "plot")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str) -> None:
    with atomic_write(path, "wb", what="plot") as fh:
        fig.savefig(fh, format="png", dpi=110)


def plot_cv(report: dict[str, Any], path: str) -> None:
    """Score over gamma x alpha as a heatmap (several gammas), else score and dof against alpha."""
    import numpy as np

    plt = _pyplot()
    metric = report["metric"]
    gammas, alphas = report["gammas"], report["alphas"]
    by_cell = {(r["gamma"], r["alpha"]): r for r in report["results"]}
    grid = np.array([[by_cell[(g, a)][metric] for a in alphas] for g in gammas], dtype=float)
    best = report["best"]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    if len(gammas) > 1:
        im = ax.imshow(grid, aspect="auto", origin="lower", cmap="viridis_r" if metric != "r2" else "viridis")
        ax.set_xticks(range(len(alphas)), [f"{a:.2g}" for a in alphas], rotation=45)
        ax.set_yticks(range(len(gammas)), [f"{g:.3g}" for g in gammas])
        ax.set_xlabel("alpha")
        ax.set_ylabel("gamma")
        ax.plot(alphas.index(best["alpha"]), gammas.index(best["gamma"]), "r*", markersize=16, label="best")
        fig.colorbar(im, ax=ax, label=metric)
        ax.legend(loc="upper right")
    else:
        ax.plot(alphas, grid[0], "o-", label=metric)
        ax.set_xscale("log")
        ax.set_xlabel("alpha")
        ax.set_ylabel(metric)
        ax.plot([best["alpha"]], [best[metric]], "r*", markersize=16, label="best")
        refined = report.get("refined")
        if refined:
            ax.plot([refined["alpha"]], [refined[metric]], "kx", markersize=10, label="refined")
        handles, labels = ax.get_legend_handles_labels()
        dof = [by_cell[(gammas[0], a)].get("effective_dof") for a in alphas]
        if all(v is not None and math.isfinite(v) for v in dof):
            ax2 = ax.twinx()
            ax2.plot(alphas, dof, "s--", color="tab:gray", label="effective dof (right axis)")
            ax2.set_ylabel("effective degrees of freedom")
            more = ax2.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        # one legend for both axes, below the plot where it cannot cover a curve
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(labels), frameon=False)
    method = {"loo": "leave-one-out", "gcv": "GCV"}.get(report["method"], f"{report['folds']}-fold")
    ax.set_title(f"{metric} by {method}, {report['kernel']} kernel, {report['n_samples']:,} rows")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_spectrum(spectrum: dict[str, Any], path: str) -> None:
    """Eigenvalues of the training kernel and the shrinkage factor d / (d + alpha) of each direction."""
    plt = _pyplot()
    d = spectrum["eigenvalues"]
    shrink = spectrum["shrinkage"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    k = list(range(1, len(d) + 1))
    # a log axis shows the positive eigenvalues; an indefinite kernel's negative ones are drawn by size
    a.semilogy(k, [v if v > 0 else math.nan for v in d], ".-", label="eigenvalue")
    if spectrum.get("negative"):
        a.semilogy(k, [-v if v < 0 else math.nan for v in d], ".", color="tab:orange", label="|eigenvalue| (< 0)")
    if spectrum["alpha"] > 0:
        a.axhline(spectrum["alpha"], color="tab:red", linestyle="--", label=f"alpha = {spectrum['alpha']:g}")
    a.set(xlabel="direction (largest eigenvalue first)", ylabel="eigenvalue of K", title="Kernel spectrum")
    a.legend()
    b.plot(k, shrink, ".-")
    b.set(xlabel="direction", ylabel="d / (d + alpha)", title=f"Shrinkage (sum = {sum(shrink):.1f} dof)")
    if all(-0.02 <= v <= 1.02 for v in shrink):
        b.set_ylim(-0.02, 1.02)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
