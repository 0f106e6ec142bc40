"""scikit-learn's GridSearchCV over KernelRidge on krr's folds, for comparison with krr cv.

    python benchmarks/sklearn_gridsearch.py DATA.csv GAMMAS ALPHAS FOLDS SEED

Prints one JSON object: the grid's pooled out-of-fold rmse per (gamma, alpha) is
not what GridSearchCV reports (it averages per-fold scores), so besides timing
the search, this prints GridSearchCV's best parameters.
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
print(json.dumps({"seconds": time.perf_counter() - t0, "best": search.best_params_}))
