"""What a user writes instead of `krr fit data.csv`: read the CSV with pandas, fit scikit-learn's
KernelRidge, save it with joblib (the last column is the target).

    python benchmarks/sklearn_fit.py DATA.csv GAMMA ALPHA OUT.joblib
"""

import sys

import joblib
import pandas as pd
from sklearn.kernel_ridge import KernelRidge

df = pd.read_csv(sys.argv[1])
X, y = df.iloc[:, :-1].to_numpy(), df.iloc[:, -1].to_numpy()
model = KernelRidge(kernel="rbf", gamma=float(sys.argv[2]), alpha=float(sys.argv[3])).fit(X, y)
joblib.dump(model, sys.argv[4])
