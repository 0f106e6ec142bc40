"""Categorical columns: --categorical one-hot encodes text columns with the categories seen in training,
as pandas.get_dummies does; predict encodes new rows the same way, and refuses (or, with --unknown
ignore, zeroes) a category it has not seen."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

from krrcli import KernelRidge, fit_csv, load_model, predict_csv
from krrcli.errors import EXIT_DATA, EXIT_MODEL_FILE, EXIT_USAGE
from krrcli.limits import MAX_CATEGORIES

DAYS = ["Mon", "Tue", "Wed", "Sat", "Sun"]


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    day = rng.choice(DAYS, n)
    store = rng.choice(["A", "B", "New York, NY"], n)
    x = rng.normal(size=n)
    shift = {"Mon": 0.0, "Tue": 0.2, "Wed": 0.1, "Sat": 1.0, "Sun": 1.2}
    y = np.sin(x) + np.array([shift[d] for d in day]) + (store == "B") * 0.5 + 0.1 * rng.normal(size=n)
    return pd.DataFrame({"x": x, "day": day, "store": store, "y": y})


@pytest.fixture
def sales(tmp_path):
    df = _frame(120)
    path = tmp_path / "train.csv"
    df.to_csv(path, index=False, float_format="%.17g")
    new = _frame(30, seed=1)
    new_path = tmp_path / "new.csv"
    new[["store", "day", "x"]].to_csv(new_path, index=False, float_format="%.17g")  # (another column order)
    return df, path, new, new_path


FEATURES = ["x", "day=Mon", "day=Sat", "day=Sun", "day=Tue", "day=Wed", "store=A", "store=B", "store=New York, NY"]


def _dummies(df: pd.DataFrame) -> np.ndarray:
    """The encoding krr documents: each categorical column in its place, its categories sorted (those of
    the training rows: any other is no indicator)."""
    Z = pd.get_dummies(df[["x", "day", "store"]], columns=["day", "store"], prefix_sep="=", dtype=float)
    return Z.reindex(columns=FEATURES, fill_value=0.0).to_numpy()


def _predictions(stdout: str) -> np.ndarray:
    return np.loadtxt(stdout.splitlines()[1:], delimiter=",", ndmin=1)


@pytest.mark.parametrize("solver", ["cholesky", "nystrom"])
def test_krr_fit_categorical_is_scikit_learn_on_the_dummies(krr, tmp_path, sales, solver):
    df, path, new, new_path = sales
    model = tmp_path / "m.joblib"
    extra = ["--centers", "120"] if solver == "nystrom" else []
    res = krr("fit", path, "--categorical", "day", "-c", "store", "--gamma", "0.3", "--alpha", "0.1",
              "--solver", solver, *extra, "-o", model)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert "categorical    day -> 5 indicators: Mon, Sat, Sun, Tue, Wed" in res.stdout
    assert "store -> 3 indicators: A, B, New York, NY" in res.stdout
    m = load_model(str(model))
    assert m.feature_names_in_ == FEATURES
    ref = SkKernelRidge(kernel="rbf", gamma=0.3, alpha=0.1).fit(_dummies(df), df["y"])
    res = krr("predict", model, new_path)
    assert res.exit_code == 0, res.stderr
    # nystrom with M = n is exact KRR, to the rounding of its normal equations
    rtol = 1e-10 if solver == "cholesky" else 1e-7
    np.testing.assert_allclose(_predictions(res.stdout), ref.predict(_dummies(new)), rtol=rtol, atol=1e-9)


def test_standardized_categorical_fit_is_the_estimator_on_the_dummies(tmp_path, sales):
    df, path, new, new_path = sales
    out = tmp_path / "m.joblib"
    fit_csv(str(path), str(out), categorical=["day", "store"], standardize=True, intercept=True, alpha=0.05)
    ref = KernelRidge(standardize=True, fit_intercept=True, alpha=0.05).fit(_dummies(df), df["y"].to_numpy())
    m = load_model(str(out))
    np.testing.assert_allclose(m.mean_, ref.mean_, rtol=1e-12)  # the indicators are standardized too
    np.testing.assert_allclose(m.predict(_dummies(new)), ref.predict(_dummies(new)), rtol=1e-10, atol=1e-12)


def test_categorical_auto_finds_the_text_columns(krr, tmp_path, sales):
    df, path, _, new_path = sales
    a, b = tmp_path / "auto.joblib", tmp_path / "named.joblib"
    assert krr("fit", path, "--categorical", "auto", "-o", a).exit_code == 0
    assert krr("fit", path, "--categorical", "store,day", "-o", b).exit_code == 0
    ma, mb = load_model(str(a)), load_model(str(b))
    assert ma.encoder_.categorical == mb.encoder_.categorical and ma.feature_names_in_ == mb.feature_names_in_
    assert krr("predict", a, new_path).stdout == krr("predict", b, new_path).stdout
    numeric = tmp_path / "numeric.csv"
    df[["x", "y"]].to_csv(numeric, index=False)
    res = krr("fit", numeric, "--categorical", "auto", "-o", tmp_path / "n.joblib", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["categorical"] is None  # nothing to encode


def test_a_category_not_seen_in_training(krr, tmp_path, sales):
    _, path, new, _ = sales
    model = tmp_path / "m.joblib"
    assert krr("fit", path, "-c", "day,store", "-o", model).exit_code == 0
    new = new.copy()
    new.loc[4, "day"] = "Fri"
    unseen = tmp_path / "unseen.csv"
    new.to_csv(unseen, index=False)
    res = krr("predict", model, unseen, "-o", tmp_path / "p.csv")
    assert res.exit_code == EXIT_DATA and res.stdout == "" and not (tmp_path / "p.csv").exists()
    assert res.stderr.strip() == (
        f"krr: error: {unseen}: line 6, column 'day': category 'Fri' was not seen in training (it knows 'Mon', "
        "'Sat', 'Sun', 'Tue', 'Wed'); krr predict --unknown ignore encodes it as none of them"
    )
    res = krr("predict", model, unseen, "--unknown", "ignore", "--with-input")
    assert res.exit_code == 0, res.stderr
    assert "1 of 30 row(s) had a category not seen in training" in res.stderr
    m = load_model(str(model))
    Z = _dummies(new)  # (no indicator for Fri: row 4 is all zeros in day)
    assert Z[4, 1:6].sum() == 0
    pred = pd.read_csv(pd.io.common.StringIO(res.stdout))["y_pred"].to_numpy()
    np.testing.assert_allclose(pred, m.predict(Z), rtol=1e-12, atol=1e-13)
    assert krr("predict", model, unseen, "--unknown", "maybe").exit_code == EXIT_USAGE


def test_predict_no_header_reads_the_input_columns_in_order(krr, tmp_path, sales):
    _, path, new, new_path = sales
    model = tmp_path / "m.joblib"
    assert krr("fit", path, "-c", "day,store", "-o", model).exit_code == 0
    bare = tmp_path / "bare.csv"
    new[["x", "day", "store"]].to_csv(bare, index=False, header=False, float_format="%.17g")
    a, b = krr("predict", model, bare, "--no-header"), krr("predict", model, new_path)
    assert a.exit_code == 0, a.stderr
    np.testing.assert_allclose(_predictions(a.stdout), _predictions(b.stdout), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-c", "nope"], EXIT_DATA, "categorical column 'nope' not found"),
        (["-c", "y"], EXIT_USAGE, "--categorical 'y': not a feature column"),
        (["-c", "day", "-f", "x,store"], EXIT_USAGE, "--categorical 'day': not a feature column"),
        (["-c", "auto,day"], EXIT_USAGE, "give auto alone"),
        (["-c", "day", "--engine", "dask"], EXIT_USAGE, "not supported with --engine dask"),
    ],
)
def test_bad_categorical_options(krr, tmp_path, sales, args, code, message):
    _, path, _, _ = sales
    res = krr("fit", path, *args, "-o", tmp_path / "m.joblib")
    assert res.exit_code == code and message in res.stderr, res.stderr
    assert not (tmp_path / "m.joblib").exists()


def test_categorical_cells_are_checked(krr, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,site,y\n1,a,1\n2, b ,2\n3,,3\n")
    res = krr("fit", path, "-c", "site", "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA
    assert f"{path}: line 4, column 'site': missing value" in res.stderr
    # text left in a column not named categorical is still an error, with the advice of today
    res = krr("fit", path, "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA and "line 2, column 'site': 'a' is not a number" in res.stderr
    many = tmp_path / "ids.csv"
    many.write_text("x,id,y\n" + "".join(f"{i},id{i},{i % 7}\n" for i in range(MAX_CATEGORIES + 5)))
    res = krr("fit", many, "-c", "auto", "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA and f"more than {MAX_CATEGORIES:,} distinct values" in res.stderr
    assert not (tmp_path / "m.joblib").exists()


def test_a_model_of_categorical_features_only(krr, tmp_path, sales):
    df, path, new, new_path = sales
    model = tmp_path / "m.joblib"
    assert krr("fit", path, "-f", "day,store", "-c", "auto", "--gamma", "0.3", "-o", model).exit_code == 0
    res = krr("predict", model, new_path)
    assert res.exit_code == 0, res.stderr
    Z = pd.get_dummies(df[["day", "store"]], prefix_sep="=", dtype=float)
    ref = SkKernelRidge(kernel="rbf", gamma=0.3, alpha=1.0).fit(Z.to_numpy(), df["y"])
    Zn = pd.get_dummies(new[["day", "store"]], prefix_sep="=", dtype=float).reindex(columns=Z.columns, fill_value=0)
    np.testing.assert_allclose(_predictions(res.stdout), ref.predict(Zn.to_numpy()), rtol=1e-10, atol=1e-12)
    res = krr("inspect", model, "--effects", "--data", new_path, "--json")
    assert res.exit_code == 0, res.stderr


def test_text_that_is_not_utf8_is_named(krr, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"x,color,y\n1,a,1\n2,caf\xe9,2\n3,b,3\n")
    res = krr("fit", path, "-c", "color", "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA and "not UTF-8 text (line 3)" in res.stderr and "Traceback" not in res.stderr


def test_too_many_categories_names_the_line_of_the_first_value_too_many(krr, tmp_path):
    many = tmp_path / "ids.csv"
    many.write_text("x,id,y\n" + "".join(f"{i},id{i},{i % 7}\n" for i in range(MAX_CATEGORIES + 200)))
    res = krr("fit", many, "-c", "id", "-o", tmp_path / "m.joblib")
    # (header line 1; the values id0 ... id999 on lines 2 ... 1001)
    assert res.exit_code == EXIT_DATA and f"line {MAX_CATEGORIES + 2}, column 'id'" in res.stderr, res.stderr
    res = krr("fit", many, "-c", ",", "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_USAGE and "--categorical is empty" in res.stderr


def test_blank_stripped_text_categories_and_numbers_as_categories(tmp_path):
    path = tmp_path / "d.csv"
    rows = [("1", "07", "a ", "1.5"), ("2", "7", " a", "0.5"), ("3", "07", "b", "2.0"), ("4", "7", "b", "1.0")]
    path.write_text("x,zip,k,y\n" + "".join(",".join(r) + "\n" for r in rows))
    out = tmp_path / "m.joblib"
    fit_csv(str(path), str(out), categorical=["zip", "k"], gamma=0.5, alpha=0.1)
    m = load_model(str(out))
    assert m.encoder_.categorical == {"zip": ["07", "7"], "k": ["a", "b"]}  # text: "07" is not "7"
    assert m.feature_names_in_ == ["x", "zip=07", "zip=7", "k=a", "k=b"]


def test_cv_categorical_refit_and_scores(krr, tmp_path, sales):
    df, path, new, new_path = sales
    out = tmp_path / "best.joblib"
    res = krr("cv", path, "-c", "day,store", "--gamma", "0.1,0.3", "--alpha", "1e-2:1:3", "--no-refine",
              "-o", out, "--json")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["categorical"] == {"day": sorted(DAYS), "store": ["A", "B", "New York, NY"]}
    Z, y = _dummies(df), df["y"].to_numpy()
    best = report["best"]
    # the leave-one-out rmse of the best cell, by brute force on the dummies
    ref = SkKernelRidge(kernel="rbf", gamma=best["gamma"], alpha=best["alpha"])
    loo = [ref.fit(np.delete(Z, i, 0), np.delete(y, i)).predict(Z[i : i + 1])[0] for i in range(len(y))]
    np.testing.assert_allclose(best["rmse"], np.sqrt(np.mean((np.array(loo) - y) ** 2)), rtol=1e-8)
    m = load_model(str(out))
    assert m.encoder_ is not None
    ref = SkKernelRidge(kernel="rbf", gamma=best["gamma"], alpha=best["alpha"]).fit(Z, y)
    np.testing.assert_allclose(
        _predictions(krr("predict", out, new_path).stdout), ref.predict(_dummies(new)), rtol=1e-10, atol=1e-12
    )


def test_inspect_and_effects_on_a_categorical_model(krr, tmp_path, sales):
    _, path, _, new_path = sales
    model = tmp_path / "m.joblib"
    assert krr("fit", path, "-c", "day,store", "-o", model).exit_code == 0
    res = krr("inspect", model, "--json")
    info = json.loads(res.stdout)
    assert info["categorical"]["day"] == sorted(DAYS) and info["n_features"] == 9
    res = krr("inspect", model, "--effects", "--data", new_path, "--json")
    assert res.exit_code == 0, res.stderr
    assert [e["feature"] for e in json.loads(res.stdout)["effects"]][:2] == ["x", "day=Mon"]


def test_the_model_file_keeps_the_encoding_checked(tmp_path, sales):
    _, path, new, new_path = sales
    out = tmp_path / "m.joblib"
    fit_csv(str(path), str(out), categorical="auto")
    rows = tmp_path / "p.csv"
    predict_csv(str(out), str(new_path), str(rows))
    record = joblib.load(out)
    assert record["inputs"] == ["x", "day", "store"] and record["categorical"]["store"] == ["A", "B", "New York, NY"]
    for key, value, message in [
        ("categorical", {"day": ["Mon"], "store": ["A", "B", "New York, NY"]}, "do not expand to the model's"),
        ("categorical", {"day": ["Mon", "Mon"]}, "lists a category twice"),
        ("inputs", None, "come together"),
        ("categorical", {"day": "Mon"}, "a dict of column name"),
        (
            "categorical",
            {"day": ["", "Mon", "Sat", "Sun", "Tue"], "store": ["A", "B", "New York, NY"]},
            "no cell gives",
        ),
        ("inputs", ["x", "day", "day"], "names a column twice"),
    ]:
        bad = dict(record, **{key: value})
        if value is None:
            del bad[key]
        damaged = tmp_path / "bad.joblib"
        joblib.dump(bad, damaged)
        from .conftest import run_krr

        res = run_krr(["predict", str(damaged), str(new_path)])
        assert res.exit_code == EXIT_MODEL_FILE and message in res.stderr, (key, res.stderr)


def test_stdin_and_several_files(krr, tmp_path, sales):
    df, path, _, new_path = sales
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    df.iloc[:60].to_csv(a, index=False, float_format="%.17g")
    df.iloc[60:].to_csv(b, index=False, float_format="%.17g")
    m1, m2 = tmp_path / "one.joblib", tmp_path / "two.joblib"
    assert krr("fit", "-", "-c", "auto", "-o", m1, stdin=path.read_bytes()).exit_code == 0
    assert krr("fit", a, b, "-c", "auto", "-o", m2).exit_code == 0
    p1, p2 = krr("predict", m1, new_path).stdout, krr("predict", m2, new_path).stdout
    np.testing.assert_allclose(_predictions(p1), _predictions(p2), rtol=1e-12, atol=1e-13)
