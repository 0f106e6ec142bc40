"""Prediction throughput in a fresh process: prints one JSON line.

    python benchmarks/predict_worker.py N_TRAIN ROWS REPS

Fits krr and scikit-learn on the same data, then alternates their ``predict``
on the same new rows, REPS times each; prints the median seconds of each and
the largest relative difference between their predictions.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ALPHA, GAMMA, make_data, median  # noqa: E402


def main() -> None:
    from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

    from krrcli import KernelRidge

    n_train, m, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    X, y = make_data(n_train)
    X_new, _ = make_data(m, seed=1)
    ours = KernelRidge(kernel="rbf", gamma=GAMMA, alpha=ALPHA).fit(X, y)
    ref = SkKernelRidge(kernel="rbf", gamma=GAMMA, alpha=ALPHA).fit(X, y)
    t_ours, t_ref = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        a = ours.predict(X_new)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = ref.predict(X_new)
        t_ref.append(time.perf_counter() - t0)
    err = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
    print(json.dumps({"krr_seconds": median(t_ours), "sklearn_seconds": median(t_ref), "max_rel_diff": err}))


if __name__ == "__main__":
    main()
