"""Measure the constants of krr's k-fold cost model on this machine (see krrcli/selection.py).

    python benchmarks/cv_costs.py

Prints seconds per unit: COST_EIGH (divide-and-conquer eigendecomposition, per n^3),
COST_CHOLESKY (factor + solve + held-out product of one fold, per n_train^3), and
COST_GEMM (one fold's block of the block identity: (G^-1)_BB and its solve, per n * b^2).
"""

from __future__ import annotations

import time

import numpy as np
from scipy import linalg


def median_time(f, reps: int = 5) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    rng = np.random.default_rng(0)
    n, k = 1500, 5
    b = n // k
    X = rng.normal(size=(n, 10))
    sq = np.einsum("ij,ij->i", X, X)
    K = np.exp(-0.1 * np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0))
    y = rng.normal(size=(n, 1))
    t_eigh = median_time(lambda: linalg.eigh(K.copy(), overwrite_a=True, check_finite=False, driver="evd"), 3)
    train, test = np.arange(b, n), np.arange(b)
    Ktr, Kte = K[np.ix_(train, train)], K[np.ix_(test, train)]

    def fold_cholesky() -> None:
        G = Ktr.copy()
        G.flat[:: G.shape[0] + 1] += 0.1
        cf = linalg.cho_factor(G, lower=True, overwrite_a=True, check_finite=False)
        Kte @ linalg.cho_solve(cf, y[train], check_finite=False)

    t_chol = median_time(fold_cholesky)
    d, Q = linalg.eigh(K, check_finite=False, driver="evd")
    QB, inv = Q[test], 1.0 / (d + 0.1)

    def block() -> None:
        H = (QB * inv) @ QB.T
        U, _ = linalg.lapack.dpotrf(H.T, lower=0, clean=0, overwrite_a=1)
        linalg.lapack.dpotrs(U, y[test], lower=0)

    t_block = median_time(block, 20)
    print(f"COST_EIGH = {t_eigh / n**3:.2e}   # eigh of {n}: {t_eigh:.3f} s")
    print(f"COST_CHOLESKY = {t_chol / (n - b) ** 3:.2e}   # one fold of {n - b} rows: {t_chol * 1000:.1f} ms")
    print(f"COST_GEMM = {t_block / (n * b * b):.2e}   # one block of {b} rows: {t_block * 1000:.2f} ms")


if __name__ == "__main__":
    main()
