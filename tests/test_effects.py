"""Marginal effects d f / d x_j: analytic for every kernel, against finite differences; inspect and predict."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from krrcli import KernelRidge, load_model
from krrcli.effects import marginal_effects

from .conftest import make_regression, write_csv

KERNELS = [
    ("rbf", {"gamma": 0.3}),
    ("laplacian", {"gamma": 0.3}),
    ("polynomial", {"gamma": 0.2, "degree": 3, "coef0": 1.0}),
    ("sigmoid", {"gamma": 0.05, "coef0": 0.5}),
    ("linear", {}),
    ("cosine", {}),
]


def _data(seed=0):
    X, Y = make_regression(80, 3, targets=2, seed=seed)
    return X * [1.0, 3.0, 0.5] + [0.0, 5.0, 1.0], Y  # features of other scales and means


@pytest.mark.parametrize(("kernel", "params"), KERNELS, ids=[k for k, _ in KERNELS])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("solver", ["auto", "nystrom"])
def test_effects_are_the_derivatives_of_predict(kernel, params, standardize, solver):
    X, Y = _data()
    opts = {"n_centers": 30} if solver == "nystrom" else {}
    model = KernelRidge(kernel=kernel, alpha=0.1, standardize=standardize, fit_intercept=True, solver=solver,
                        **params, **opts)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (an indefinite kernel's fallback says so; not the point here)
        model.fit(X, Y)
    Xq = _data(seed=1)[0][:12] + 0.0123  # (off the training values: laplacian is not differentiable there)
    E = marginal_effects(model, Xq)
    assert E.shape == (12, 3, 2)
    # five-point central differences, error O(h^4): a step of 1e-4 keeps rounding (which grows as 1/h and
    # reached 4e-6 of the largest effect at 1e-6 with a polynomial nystrom model) far below the tolerance;
    # laplacian takes 1e-6, so that a step does not cross the kink at a training row's coordinate
    fd = np.empty_like(E)
    rel = 1e-6 if kernel == "laplacian" else 1e-4
    for j in range(3):
        h = rel * max(1.0, np.abs(Xq[:, j]).max())
        step = np.zeros(3)
        step[j] = h

        def f(k, step=step):
            return model.predict(Xq + k * step)

        fd[:, j] = (8 * (f(1) - f(-1)) - (f(2) - f(-2))) / (12 * h)
    np.testing.assert_allclose(E, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


def test_laplacian_effect_at_a_training_value_takes_the_derivative_as_zero():
    X, Y = _data()
    model = KernelRidge(kernel="laplacian", gamma=0.3, alpha=0.1).fit(X, Y[:, 0])
    x = X[:1].copy()  # every feature equals the first training row's
    E = marginal_effects(model, x)
    # the first row's own term contributes 0 (sign(0) = 0); the others are the one-sided average
    c = model.dual_coef_
    k = np.exp(-0.3 * np.abs(x - X).sum(axis=1))
    expected = -0.3 * (np.sign(x - X) * (k * c)[:, None]).sum(axis=0)
    np.testing.assert_allclose(E[0, :, 0], expected, rtol=1e-12)


def test_linear_kernel_effects_are_the_primal_weights():
    X, Y = _data()
    model = KernelRidge(kernel="linear", alpha=0.5, standardize=True).fit(X, Y)
    E = marginal_effects(model, X[:5])
    np.testing.assert_allclose(E[0], model.coef_ / model.scale_[:, None], rtol=1e-10)
    np.testing.assert_allclose(E[4], E[0], rtol=1e-12)


@pytest.fixture
def fitted(krr, tmp_path):
    X, Y = _data()
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y[:, 0]]))
    res = krr("fit", path, "--standardize", "-g", "0.3", "-a", "0.1", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 0, res.stderr
    return path, tmp_path / "m.joblib", X


def test_krr_inspect_effects(krr, tmp_path, fitted):
    path, model_path, X = fitted
    model = load_model(str(model_path))
    E = marginal_effects(model, X)[:, :, 0]
    res = krr("inspect", model_path, "--effects", "--json")
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["over"] == "the training rows" and info["rows"] == 80
    first = info["effects"][0]
    assert first["feature"] == "a" and first["target"] == "y"
    assert first["mean"] == pytest.approx(E[:, 0].mean(), rel=1e-9)
    assert first["median"] == pytest.approx(np.median(E[:, 0]), rel=1e-9)
    assert first["q25"] == pytest.approx(np.percentile(E[:, 0], 25), rel=1e-9)
    text = krr("inspect", model_path, "--effects")
    assert text.stdout.startswith("Average marginal effects on y over 80 rows (the training rows)")
    assert "  feature       mean        25%     median        75%\n" in text.stdout
    new = write_csv(tmp_path / "new.csv", ["c", "a", "b"], X[:10][:, [2, 0, 1]])  # by name, any order
    on = json.loads(krr("inspect", model_path, "--effects", "--data", new, "--json").stdout)
    assert on["rows"] == 10 and on["effects"][1]["mean"] == pytest.approx(E[:10, 1].mean(), rel=1e-9)
    bad = krr("inspect", model_path, "--data", new)
    assert bad.exit_code == 2 and "--data is for --effects" in bad.stderr


def test_krr_inspect_effects_of_a_nystrom_model_are_over_its_centers(krr, tmp_path, fitted):
    path, _, _ = fitted
    res = krr("fit", path, "--solver", "nystrom", "--centers", "25", "-o", tmp_path / "n.joblib")
    assert res.exit_code == 0, res.stderr
    info = json.loads(krr("inspect", tmp_path / "n.joblib", "--effects", "--json").stdout)
    assert info["over"] == "the centers" and info["rows"] == 25


def test_krr_predict_effects_columns(krr, tmp_path, fitted):
    path, model_path, X = fitted
    res = krr("predict", model_path, path, "--effects", "--with-input")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "a,b,c,y,y_pred,dy_da,dy_db,dy_dc"
    values = np.loadtxt(lines[1:], delimiter=",")
    model = load_model(str(model_path))
    expected = marginal_effects(model, X)[:, :, 0]  # (an effect near 0 is a difference: rounding of the largest)
    np.testing.assert_allclose(values[:, 5:], expected, rtol=1e-12, atol=1e-13 * np.abs(expected).max())
    np.testing.assert_allclose(values[:, 4], model.predict(X), rtol=1e-12, atol=1e-13 * np.abs(values[:, 4]).max())
