"""The obvious pandas + scikit-learn prediction script that krr predict is compared with.

python benchmarks/sklearn_predict.py MODEL.pkl IN.csv OUT.csv
"""

import sys

import joblib
import pandas as pd

model = joblib.load(sys.argv[1])
X = pd.read_csv(sys.argv[2])
pd.DataFrame({"y_pred": model.predict(X.to_numpy())}).to_csv(sys.argv[3], index=False)
