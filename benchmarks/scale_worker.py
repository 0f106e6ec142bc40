"""The 10-million-row figures: one CG iteration of krr's nystrom solver against one bare pass.

    python benchmarks/scale_worker.py iteration N M

Builds the standard synthetic rows (d = 10) in memory and times, in this one process,
krr's conjugate-gradient iteration (the solver run from zero for a few iterations; its
``cg_seconds`` over its iterations) and a bare pass over the same rows written with
numpy alone: for each block of rows, the squared distances to the M centers by one GEMM,
the exponential, and the two products ``K_b v`` and ``K_b^T (K_b v)``. The bare pass uses
blocks of the size krr uses (1 MiB of kernel values), so the ratio shows what the solver
adds to the passes it needs. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import make_data  # noqa: E402

GAMMA, ALPHA, ITERATIONS, BARE_PASSES = 0.05, 1.0, 3, 2


def bare_pass(X: np.ndarray, C: np.ndarray, v: np.ndarray, step: int) -> np.ndarray:
    c_sq = np.einsum("ij,ij->i", C, C)
    out = np.zeros((C.shape[0], v.shape[1]))
    for a in range(0, X.shape[0], step):
        Xb = X[a : a + step]
        D = Xb @ C.T  # -gamma ||x - c||^2 = gamma (2 x.c - ||x||^2 - ||c||^2)
        D *= 2 * GAMMA
        D -= GAMMA * np.einsum("ij,ij->i", Xb, Xb)[:, None]
        D -= GAMMA * c_sq
        np.exp(D, out=D)
        out += D.T @ (D @ v)
    return out


def main() -> None:
    n, m = int(sys.argv[2]), int(sys.argv[3])
    import krrcli.solvers.nystrom as ny
    from krrcli import KernelRidge

    X, y = make_data(n, seed=1)
    ny.NORMAL_EQ_MAX_CENTERS = 0  # CG from zero: every iteration is a pass
    warnings.simplefilter("ignore")  # it stops after ITERATIONS, unconverged, on purpose
    model = KernelRidge(gamma=GAMMA, alpha=ALPHA, solver="nystrom", n_centers=m, max_iter=ITERATIONS, tol=1e-15)
    model.fit(X, y)
    info = model.solver_info_
    per_iteration = info["cg_seconds"] / info["iterations"]
    C = model.centers_
    v = np.random.default_rng(0).normal(size=(m, 1))
    step = max(1, ny.PASS_BLOCK_BYTES // (8 * m))
    bare = []
    for _ in range(BARE_PASSES):
        t0 = time.perf_counter()
        bare_pass(X, C, v, step)
        bare.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "n": n,
                "m": m,
                "iterations": info["iterations"],
                "krr_iteration_seconds": per_iteration,
                "bare_pass_seconds": float(np.median(bare)),
                "bare_passes": bare,
            }
        )
    )


if __name__ == "__main__":
    main()
