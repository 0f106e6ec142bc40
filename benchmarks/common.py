"""Shared pieces of the benchmarks: the standard synthetic data and timing helpers."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
D_FEATURES = 10
GAMMA = 0.1
ALPHA = 1e-3


def make_data(n: int, d: int = D_FEATURES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The standard synthetic regression data: X ~ N(0, 1), y = sum_j sin(x_j) + 0.1 noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.sin(X).sum(axis=1) + 0.1 * rng.normal(size=n)
    return X, y


def write_csv(path: Path, X: np.ndarray, y: np.ndarray | None = None) -> Path:
    """A CSV with columns x0..x{d-1} (and y), floats written to round-trip."""
    import pandas as pd

    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    if y is not None:
        cols["y"] = y
    pd.DataFrame(cols).to_csv(path, index=False)
    return path


def maxrss_bytes() -> int:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def timed_child(args: list[str], env: dict | None = None) -> tuple[float, int]:
    """Run a command and return (wall seconds, its own peak RSS in bytes) using wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({proc.returncode}): {err.strip()[-500:]}")
    return wall, usage.ru_maxrss * 1024


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def python() -> str:
    return sys.executable
