"""predict --std / --interval: the posterior of the Gaussian-process reading, against scikit-learn's GP."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import linalg
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel
from sklearn.metrics.pairwise import rbf_kernel

from krrcli import KernelRidge, load_model
from krrcli.uncertainty import posterior_std

from .conftest import make_regression, write_csv

GAMMA, ALPHA = 0.5, 0.1


def _data(n=150, seed=0):
    X, Y = make_regression(n, 3, seed=seed)
    return X, Y[:, 0], np.random.default_rng(seed).normal(size=(25, 3))


def _gp(sigma2, alpha, noise):
    kernel = ConstantKernel(sigma2 / alpha, "fixed") * RBF(1 / np.sqrt(2 * GAMMA), "fixed")
    return GaussianProcessRegressor(kernel=kernel, alpha=noise, optimizer=None)


@pytest.mark.parametrize("weighted", [False, True])
def test_std_is_the_gaussian_process_posterior_std(weighted):
    X, y, Xn = _data()
    w = np.random.default_rng(1).uniform(0.3, 3.0, size=len(y)) if weighted else None
    model = KernelRidge(gamma=GAMMA, alpha=ALPHA, keep_factor=True).fit(X, y, sample_weight=w)
    sigma2 = float(model.noise_var_[0])
    noise = sigma2 if w is None else sigma2 / w  # row i's noise variance sigma^2 / w_i
    gp = _gp(sigma2, ALPHA, noise).fit(X, y)
    mean, sd = gp.predict(Xn, return_std=True)
    np.testing.assert_allclose(model.predict(Xn), mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(posterior_std(model, Xn)[:, 0], sd, rtol=1e-9)
    # sigma^2 = sum w r^2 / (n - dof)
    ww = np.ones(len(y)) if w is None else w
    r = y - model.predict(X)
    assert sigma2 == pytest.approx((ww @ r**2) / (len(y) - model.effective_dof_), rel=1e-12)


def test_std_with_an_intercept_adds_the_constants_uncertainty():
    """Universal kriging: var = s_f^2 (k - k^T G^-1 k + (1 - 1^T G^-1 k)^2 / (1^T G^-1 1))."""
    X, y, Xn = _data(seed=2)
    model = KernelRidge(gamma=GAMMA, alpha=ALPHA, fit_intercept=True, keep_factor=True).fit(X, y + 20)
    G = rbf_kernel(X, X, gamma=GAMMA) + ALPHA * np.eye(len(X))
    k = rbf_kernel(X, Xn, gamma=GAMMA)
    Gk, G1 = linalg.solve(G, k), linalg.solve(G, np.ones(len(X)))
    var = 1.0 - np.sum(k * Gk, axis=0) + (1.0 - G1 @ k) ** 2 / G1.sum()
    expected = np.sqrt(model.noise_var_[0] / ALPHA * var)
    np.testing.assert_allclose(posterior_std(model, Xn)[:, 0], expected, rtol=1e-9)
    plain = KernelRidge(gamma=GAMMA, alpha=ALPHA, keep_factor=True).fit(X, y + 20)
    assert np.all(posterior_std(model, Xn) > 0)
    assert model.noise_var_[0] < plain.noise_var_[0]  # (the intercept fits a target far from 0 better)


def test_nystrom_std_is_the_dtc_posterior():
    X, y, Xn = _data(300, seed=3)
    model = KernelRidge(gamma=GAMMA, alpha=ALPHA, solver="nystrom", n_centers=40, keep_factor=True, tol=1e-12)
    model.fit(X, y)
    C = model.centers_
    K_MM = rbf_kernel(C, C, gamma=GAMMA)
    K_MM += np.eye(40) * 40 * np.finfo(float).eps  # the fit's jitter
    K_nM, k = rbf_kernel(X, C, gamma=GAMMA), rbf_kernel(C, Xn, gamma=GAMMA)
    A = K_nM.T @ K_nM + ALPHA * K_MM
    s2 = model.noise_var_[0]
    var = s2 / ALPHA * (1 - np.sum(k * linalg.solve(K_MM, k), axis=0)) + s2 * np.sum(k * linalg.solve(A, k), axis=0)
    np.testing.assert_allclose(posterior_std(model, Xn)[:, 0], np.sqrt(var), rtol=1e-6)
    full = KernelRidge(gamma=GAMMA, alpha=ALPHA, solver="nystrom", keep_factor=True, tol=1e-12).fit(X[:100], y[:100])
    exact = KernelRidge(gamma=GAMMA, alpha=ALPHA, keep_factor=True).fit(X[:100], y[:100])  # M = n: the same GP
    np.testing.assert_allclose(posterior_std(full, Xn), posterior_std(exact, Xn), rtol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_nystrom_std_with_an_intercept(weighted):
    """The DTC posterior of (beta, b) with a flat prior on b: the (M + 1) x (M + 1) precision, inverted here."""
    X, y, Xn = _data(300, seed=4)
    w = np.random.default_rng(2).uniform(0.3, 3.0, size=len(y)) if weighted else np.ones(len(y))
    model = KernelRidge(gamma=GAMMA, alpha=ALPHA, solver="nystrom", n_centers=40, keep_factor=True, tol=1e-12,
                        fit_intercept=True)  # fmt: skip
    model.fit(X, y + 20, sample_weight=w if weighted else None)
    C = model.centers_
    K_MM = rbf_kernel(C, C, gamma=GAMMA) + np.eye(40) * 40 * np.finfo(float).eps  # (the fit's jitter)
    Phi = np.column_stack([rbf_kernel(X, C, gamma=GAMMA), np.ones(len(X))])
    P = np.zeros((41, 41))
    P[:40, :40] = ALPHA * K_MM
    phi = np.column_stack([rbf_kernel(Xn, C, gamma=GAMMA), np.ones(len(Xn))]).T
    s2 = model.noise_var_[0]
    prior = 1 - np.sum(phi[:40] * linalg.solve(K_MM, phi[:40]), axis=0)
    post = np.sum(phi * linalg.solve(Phi.T @ (w[:, None] * Phi) + P, phi), axis=0)
    np.testing.assert_allclose(posterior_std(model, Xn)[:, 0], np.sqrt(s2 / ALPHA * prior + s2 * post), rtol=1e-6)
    if not weighted:  # M = n: the exact model's posterior, intercept included
        full = KernelRidge(gamma=GAMMA, alpha=ALPHA, solver="nystrom", keep_factor=True, tol=1e-12, fit_intercept=True)
        exact = KernelRidge(gamma=GAMMA, alpha=ALPHA, keep_factor=True, fit_intercept=True)
        full.fit(X[:100], y[:100] + 20)
        exact.fit(X[:100], y[:100] + 20)
        np.testing.assert_allclose(posterior_std(full, Xn), posterior_std(exact, Xn), rtol=1e-6)


@pytest.fixture
def csvs(tmp_path):
    X, Y = make_regression(700, 3, seed=5)
    train = write_csv(tmp_path / "train.csv", ["a", "b", "c", "y"], np.column_stack([X[:400], Y[:400]]))
    test = write_csv(tmp_path / "test.csv", ["a", "b", "c", "y"], np.column_stack([X[400:], Y[400:]]))
    return train, test, Y[400:, 0]


def test_krr_predict_std_and_interval(krr, tmp_path, csvs):
    train, test, y_test = csvs
    out = tmp_path / "m.joblib"
    res = krr("fit", train, "--keep-factor", "-g", "0.5", "-a", "0.1", "-o", out)
    assert res.exit_code == 0, res.stderr
    assert (
        "  factor         kept for --std: n x n Cholesky factor, 1.2 MiB in the model file; noise variance"
        in res.stdout
    )
    res = krr("predict", out, test, "--std", "--interval", "0.9")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "y_pred,y_std,y_lower,y_upper"
    v = np.loadtxt(lines[1:], delimiter=",")
    model = load_model(str(out))
    X_test = np.loadtxt(test, delimiter=",", skiprows=1)[:, :3]
    np.testing.assert_allclose(v[:, 1], posterior_std(model, X_test)[:, 0], rtol=1e-12)
    half = 1.6448536269514722 * np.sqrt(v[:, 1] ** 2 + model.noise_var_[0])
    np.testing.assert_allclose(v[:, 2], v[:, 0] - half, rtol=1e-12, atol=1e-13 * np.abs(v).max())
    np.testing.assert_allclose(v[:, 3], v[:, 0] + half, rtol=1e-12, atol=1e-13 * np.abs(v).max())
    covered = np.mean((v[:, 2] <= y_test) & (y_test <= v[:, 3]))
    assert 0.84 <= covered <= 0.96  # a 90% interval covers about 90% of new observations (300 here)
    info = json.loads(krr("inspect", out, "--json").stdout)
    assert info["factor"]["kind"] == "cholesky" and info["factor"]["bytes"] == 8 * 400 * 400


def test_std_without_a_factor_says_what_to_do(krr, tmp_path, csvs):
    train, test, _ = csvs
    krr("fit", train, "-o", tmp_path / "m.joblib")
    res = krr("predict", tmp_path / "m.joblib", test, "--std")
    assert res.exit_code == 2 and res.stdout == ""
    assert "refit it with `krr fit ... --keep-factor`" in res.stderr
    res = krr("predict", tmp_path / "m.joblib", test, "--interval", "1.5")
    assert res.exit_code == 2 and "--interval must be a probability between 0 and 1" in res.stderr
