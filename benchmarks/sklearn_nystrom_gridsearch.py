"""scikit-learn's GridSearchCV over the Nystroem + Ridge pipeline on krr's folds, for comparison with
``krr cv --solver nystrom``.

    python benchmarks/sklearn_nystrom_gridsearch.py DATA.csv GAMMAS ALPHAS FOLDS SEED M

The pipeline is ``make_pipeline(Nystroem(gamma, n_components=M), Ridge(alpha, fit_intercept=False))``,
the model krr's nystrom solver fits (same alpha). Prints one JSON object: the search's wall time
(including reading the CSV), the best (gamma, alpha) and, per cell, the pooled out-of-fold rmse
(sqrt(sum_k n_k mse_k / n)).
"""

import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from krrcli.selection import kfold_indices

t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
X, y = df.iloc[:, :-1].to_numpy(), df.iloc[:, -1].to_numpy()
gammas = [float(v) for v in sys.argv[2].split(",")]
alphas = [float(v) for v in sys.argv[3].split(",")]
tests = kfold_indices(len(y), int(sys.argv[4]), int(sys.argv[5]))
m = int(sys.argv[6])
cv = [(np.setdiff1d(np.arange(len(y)), t), t) for t in tests]
pipe = make_pipeline(Nystroem(kernel="rbf", n_components=m, random_state=0), Ridge(fit_intercept=False))
search = GridSearchCV(
    pipe,
    {"nystroem__gamma": gammas, "ridge__alpha": alphas},
    cv=cv,
    scoring="neg_mean_squared_error",
    refit=False,
)
search.fit(X, y)
seconds = time.perf_counter() - t0
res = search.cv_results_
sizes = np.array([len(t) for t in tests])
mse = np.column_stack([-res[f"split{k}_test_score"] for k in range(len(tests))])
pooled = np.sqrt(mse @ sizes / sizes.sum())
rmse = {f"{p['nystroem__gamma']!r},{p['ridge__alpha']!r}": float(r) for p, r in zip(res["params"], pooled, strict=True)}
best = min(rmse, key=rmse.get)
print(json.dumps({"seconds": seconds, "best": best, "best_rmse": rmse[best], "rmse": rmse}))
