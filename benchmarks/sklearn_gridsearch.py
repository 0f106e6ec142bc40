"""scikit-learn's GridSearchCV over KernelRidge on krr's folds, for comparison with krr cv.

    python benchmarks/sklearn_gridsearch.py DATA.csv GAMMAS ALPHAS FOLDS SEED

Prints one JSON object: the search's wall time (including reading the CSV) and,
per (gamma, alpha), the pooled out-of-fold rmse recovered from GridSearchCV's
per-fold mean squared errors (sqrt(sum_k n_k mse_k / n)), to compare with krr cv.
"""

import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV

from krrcli.selection import kfold_indices

t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
X, y = df.iloc[:, :-1].to_numpy(), df.iloc[:, -1].to_numpy()
gammas = [float(v) for v in sys.argv[2].split(",")]
alphas = [float(v) for v in sys.argv[3].split(",")]
tests = kfold_indices(len(y), int(sys.argv[4]), int(sys.argv[5]))
cv = [(np.setdiff1d(np.arange(len(y)), t), t) for t in tests]
search = GridSearchCV(
    KernelRidge(kernel="rbf"),
    {"gamma": gammas, "alpha": alphas},
    cv=cv,
    scoring="neg_mean_squared_error",
    n_jobs=1,
    refit=False,
)
search.fit(X, y)
seconds = time.perf_counter() - t0
res = search.cv_results_
sizes = np.array([len(t) for t in tests])
mse = np.column_stack([-res[f"split{k}_test_score"] for k in range(len(tests))])  # (n_params, k)
pooled = np.sqrt(mse @ sizes / sizes.sum())
rmse = {f"{p['gamma']!r},{p['alpha']!r}": float(r) for p, r in zip(res["params"], pooled, strict=True)}
print(json.dumps({"seconds": seconds, "rmse": rmse}))
