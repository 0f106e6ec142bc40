"""One large-scale fit in a fresh process: prints a JSON line with fit time, peak memory and test rmse.

    python benchmarks/nystrom_worker.py {krr-nystrom,sklearn-pipeline,krr-exact} N M

The data are the standard synthetic set with d = 10; the fit uses rbf, gamma 0.05, alpha 1
(the figures of the large-scale targets), and the test rmse is on 10,000 further rows.
``sklearn-pipeline`` is ``make_pipeline(Nystroem(gamma, n_components=M), Ridge(alpha, fit_intercept=False))``,
what a scikit-learn user writes at this size; ``krr-exact`` is the exact Cholesky fit (M unused).
The peak is the process's peak RSS above its baseline after imports and data.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import make_data, maxrss_bytes  # noqa: E402

GAMMA_LARGE = 0.05
ALPHA_LARGE = 1.0
TEST_ROWS = 10_000


def main() -> None:
    tool, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    X, y = make_data(n + TEST_ROWS, seed=1)
    Xtr, ytr, Xte, yte = X[:n], y[:n], X[n:], y[n:]
    if tool == "krr-nystrom":
        from krrcli import KernelRidge

        model = KernelRidge(gamma=GAMMA_LARGE, alpha=ALPHA_LARGE, solver="nystrom", n_centers=m)
    elif tool == "krr-exact":
        from krrcli import KernelRidge

        model = KernelRidge(gamma=GAMMA_LARGE, alpha=ALPHA_LARGE, solver="cholesky")
    elif tool == "sklearn-pipeline":
        from sklearn.kernel_approximation import Nystroem
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline

        model = make_pipeline(
            Nystroem(gamma=GAMMA_LARGE, n_components=m, random_state=0), Ridge(alpha=ALPHA_LARGE, fit_intercept=False)
        )
    else:
        raise SystemExit(f"unknown tool {tool}")
    base = maxrss_bytes()
    t0 = time.perf_counter()
    model.fit(Xtr, ytr)
    seconds = time.perf_counter() - t0
    peak = maxrss_bytes()
    rmse = float(np.sqrt(np.mean((model.predict(Xte) - yte) ** 2)))
    info = getattr(model, "solver_info_", {})
    print(
        json.dumps(
            {
                "tool": tool,
                "n": n,
                "m": m,
                "seconds": seconds,
                "peak_above_base": peak - base,
                "rmse": rmse,
                "iterations": info.get("iterations"),
            }
        )
    )


if __name__ == "__main__":
    main()
