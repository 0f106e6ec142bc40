"""One fit in a fresh process: prints a JSON line with the fit time and peak memory above baseline.

    python benchmarks/fit_worker.py {krr,sklearn,cholesky} N [--dtype float32]

The baseline is the process's peak RSS after imports and data generation; the
fit's peak is measured after it, so the difference is what the fit itself held.
"cholesky" times a bare in-place LAPACK Cholesky of an N x N positive definite
matrix (the lower bound of an exact fit), built without extra copies.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import ALPHA, GAMMA, make_data, maxrss_bytes  # noqa: E402


def warm_up() -> None:
    """Start BLAS/LAPACK's threads and buffers before timing, the same for every tool: SciPy's OpenBLAS
    (what scikit-learn and the bare Cholesky call) and numpy's (what krr calls, and numpy's products)."""
    from scipy.linalg import lapack

    A = np.random.default_rng(0).normal(size=(300, 300))
    A = A @ A.T + 300 * np.eye(300)
    lapack.dpotrf(A)
    np.linalg.cholesky(A)
    B = np.random.default_rng(1).normal(size=(400, 400))
    B @ B  # (a product large enough to run on every thread of numpy's BLAS)


def main() -> None:
    tool, n = sys.argv[1], int(sys.argv[2])
    dtype = sys.argv[4] if len(sys.argv) > 3 and sys.argv[3] == "--dtype" else "float64"
    X, y = make_data(n)
    if tool == "krr":
        import krrcli.solvers  # noqa: F401  (the modules a fit uses, imported before the clock as sklearn's are)
        from krrcli import KernelRidge

        model = KernelRidge(kernel="rbf", gamma=GAMMA, alpha=ALPHA, dtype=dtype, solver="cholesky")  # exact vs exact
    elif tool == "sklearn":
        from sklearn.kernel_ridge import KernelRidge

        model = KernelRidge(kernel="rbf", gamma=GAMMA, alpha=ALPHA)
    elif tool == "cholesky":
        from scipy.linalg import lapack

        from krrcli.kernels import gram_matrix

        A = gram_matrix(X, "rbf", GAMMA, triangle=True)
        A.flat[:: n + 1] += ALPHA
    else:
        raise SystemExit(f"unknown tool {tool}")
    warm_up()
    base = maxrss_bytes()
    t0 = time.perf_counter()
    if tool == "cholesky":
        _, info = lapack.dpotrf(A.T, lower=0, clean=0, overwrite_a=1)
        assert info == 0
    else:
        model.fit(X, y)
    seconds = time.perf_counter() - t0
    peak = maxrss_bytes()
    print(json.dumps({"tool": tool, "n": n, "seconds": seconds, "peak_above_base": peak - base, "base": base}))


if __name__ == "__main__":
    main()
