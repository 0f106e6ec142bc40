"""The solver contract: every registered solver passes the same checks.

A new solver joins by registering; :func:`check_solver_contract` then runs it against
``scipy.linalg.solve`` and scikit-learn's ``KernelRidge`` on every kernel it serves,
with one and several targets. ``test_a_solver_registered_here_is_used_everywhere``
shows that a solver defined only in a test is accepted by the estimator, by
``krr fit --solver``, by the memory preflight and by model files, with no other edit.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import linalg
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

import krrcli
from krrcli import KernelRidge
from krrcli.errors import EXIT_RESOURCES, ResourceError, UsageError
from krrcli.kernels import KERNELS, KernelSpec, gram_matrix, resolve_gamma
from krrcli.solvers import SOLVERS, Solution, Solver, SolverOptions, get_solver, register, solve, solver_names

from .conftest import make_regression, write_csv

PARAMS = {
    "rbf": dict(gamma=0.4),
    "laplacian": dict(gamma=0.3),
    "polynomial": dict(gamma=0.2, degree=2, coef0=0.5),
    "linear": dict(),
    "sigmoid": dict(gamma=0.05, coef0=0.2),
    "cosine": dict(),
}
ALPHA = 0.3  # large enough that every kernel here (sigmoid included) gives a positive definite system


def _sklearn_params(kernel: str) -> dict:
    p = dict(PARAMS[kernel])
    return {"kernel": "poly" if kernel == "polynomial" else kernel, **p}


def check_solver_contract(name: str) -> None:
    """What every solver must do: solve (K + alpha I) w = y as scipy.linalg.solve does, predict as
    scikit-learn does, report its name, precision and row count, and say what memory it needs."""
    solver = get_solver(name)
    kernels = solver.kernels or tuple(KERNELS)
    for kernel in kernels:
        for targets in (1, 3):
            # a seed from the names, the same in every process (str hashes are salted per process)
            X, Y = make_regression(50, 3, targets, seed=zlib.crc32(f"{name}/{kernel}/{targets}".encode()) % 1000)
            spec = KernelSpec(
                kernel,
                resolve_gamma(kernel, PARAMS[kernel].get("gamma"), 3),
                float(PARAMS[kernel].get("degree", 3)),
                float(PARAMS[kernel].get("coef0", 1)),
            )
            sol = solve(name, X, Y, alpha=ALPHA, kernel=spec, dtype="float64")
            assert isinstance(sol, Solution)
            assert sol.solver == name and sol.dtype == "float64" and sol.n_samples == 50 and sol.fallbacks == []
            K = gram_matrix(X, kernel, spec.gamma, spec.degree, spec.coef0)
            W = linalg.solve(K + ALPHA * np.eye(50), Y, assume_a="sym")
            # the solution predicts what the exact one does, on the training rows and on new ones
            np.testing.assert_allclose(sol.fitted, K @ W, rtol=1e-8, atol=1e-10)
            shrink = np.linalg.eigvalsh(K)
            # an approximate solver computes its smoother's dof from M x M quantities: rounding of a few 1e-5
            dof_rtol = 1e-6 if solver.centers_are_rows else 1e-4
            np.testing.assert_allclose(sol.effective_dof, np.sum(shrink / (shrink + ALPHA)), rtol=dof_rtol)
            model = KernelRidge(kernel=kernel, alpha=ALPHA, solver=name, **PARAMS[kernel]).fit(
                X, Y[:, 0] if targets == 1 else Y
            )
            assert model.solver_ == name and model.n_samples_fit_ == 50
            ref = SkKernelRidge(alpha=ALPHA, **_sklearn_params(kernel)).fit(X, Y[:, 0] if targets == 1 else Y)
            X_new = np.random.default_rng(5).normal(size=(20, 3))
            # the sigmoid Gram matrix here is numerically of low rank (tanh of a small, nearly linear
            # argument): the fitted values are determined to rounding, but a solver of the normal
            # equations (K_nM^T K_nM + alpha K_MM) b = K_nM^T y squares its condition, so the weights
            # and the predictions at new rows carry errors up to ~1.4e-7 relative (1 in 80 seeds)
            pred_rtol = 1e-6 if kernel == "sigmoid" and not solver.centers_are_rows else 1e-8
            np.testing.assert_allclose(model.predict(X_new), ref.predict(X_new), rtol=pred_rtol, atol=1e-10)
    peak = solver.peak_bytes(n_samples=1000, n_features=3, n_targets=1, itemsize=8, options=solver.make_options(None))
    assert isinstance(peak, int) and peak > 0


@pytest.mark.parametrize("name", solver_names())
def test_every_registered_solver_keeps_the_contract(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback may be needed on these problems
        check_solver_contract(name)


def test_auto_resolves_before_use_and_records_the_solver():
    X, Y = make_regression(40, 3)
    assert KernelRidge(kernel="linear", alpha=0.1).fit(X, Y[:, 0]).solver_ == "primal"
    assert KernelRidge(kernel="rbf", alpha=0.1).fit(X, Y[:, 0]).solver_ == "cholesky"
    wide, y = make_regression(6, 10)  # more features than rows: the dual is the smaller system
    assert KernelRidge(kernel="linear", alpha=0.1).fit(wide, y[:, 0]).solver_ == "cholesky"


def test_fallback_policy_records_what_happened():
    """A singular kernel (repeated rows, alpha 0): the policy turns cholesky into eigh, warns once, and says so."""
    X = np.repeat(np.random.default_rng(0).normal(size=(10, 2)), 3, axis=0)
    y = np.random.default_rng(1).normal(size=30)
    with pytest.warns(krrcli.solvers.KrrWarning, match="solving by least squares"):
        model = KernelRidge(gamma=0.5, alpha=0.0).fit(X, y)
    assert model.solver_ == "eigh"
    assert len(model.fallbacks_) == 1 and model.fallbacks_[0].startswith("cholesky -> eigh")


def test_float32_fallback_reports_float64(monkeypatch):
    """A float32 fit redone in float64 is reported and saved as float64, the precision really used."""
    monkeypatch.setattr(krrcli.solvers.direct, "FLOAT32_MAX_RESIDUAL", 0.0)
    X, Y = make_regression(60, 3)
    with pytest.warns(krrcli.solvers.KrrWarning, match="in float64"):
        model = KernelRidge(gamma=0.5, alpha=0.1, dtype="float32").fit(X, Y[:, 0])
    assert model.dtype == "float32" and model.dtype_ == "float64"
    assert model.fallbacks_[0].startswith("float32 -> float64")


# -- a solver defined here, and nowhere else --------------------------------------
@dataclass(frozen=True)
class ToyOptions(SolverOptions):
    refinements: int = 1

    def validate(self) -> None:
        if self.refinements < 0:
            raise UsageError("refinements must be >= 0")


class Toy(Solver):
    """(K + alpha I) w = y by numpy's dense solver, then a few steps of iterative refinement."""

    name = "toy"
    options_class = ToyOptions
    peak = None  # set by a test to make the preflight refuse

    def auto_rank(self, *, kernel, n_samples, n_features, alpha):
        return None  # never chosen by auto

    def peak_bytes(self, *, n_samples, n_features, n_targets, itemsize, options):
        return self.peak if self.peak is not None else 16 * n_samples * n_samples

    def fit(self, X, Y, *, alpha, kernel, options, dtype):
        K = kernel.gram(X)
        G = K + alpha * np.eye(X.shape[0])
        W = np.linalg.solve(G, Y)
        for _ in range(options.refinements):  # w += G^-1 (y - G w)
            W += np.linalg.solve(G, Y - G @ W)
        shrink = np.linalg.eigvalsh(K)
        return Solution(X, W, None, K @ W, float(np.sum(shrink / (shrink + alpha))), True, "toy")


@pytest.fixture
def toy():
    solver = register(Toy())
    yield solver
    del SOLVERS["toy"]


def test_a_solver_registered_here_is_used_everywhere(toy, krr, tmp_path, monkeypatch):
    # the contract test runs it as it runs the built-in ones
    check_solver_contract("toy")
    assert "toy" in solver_names()
    # its options are validated through the contract
    with pytest.raises(UsageError, match="refinements"):
        toy.make_options({"refinements": -1})
    # the command line accepts it, the model file records it, and the file loads and predicts
    X, Y = make_regression(40, 3)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    dest = tmp_path / "toy.joblib"
    res = krr("fit", data, "--solver", "toy", "--gamma", "0.5", "--alpha", "0.1", "-o", dest, "--json")
    assert res.exit_code == 0, res.stderr
    assert '"solver": "toy"' in res.stdout
    loaded = krrcli.load_model(str(dest))
    ref = KernelRidge(gamma=0.5, alpha=0.1).fit(X, Y[:, 0])
    np.testing.assert_allclose(loaded.predict(X), ref.predict(X), rtol=1e-10)
    # the memory preflight asks it what it needs
    toy.peak = 2**50
    with pytest.raises(ResourceError, match="fitting 40 rows"):
        KernelRidge(solver="toy").fit(X, Y[:, 0])
    res = krr("fit", data, "--solver", "toy", "-o", tmp_path / "big.joblib")
    assert res.exit_code == EXIT_RESOURCES


def test_an_unknown_solver_lists_the_registered_ones(toy, krr, tmp_path):
    with pytest.raises(UsageError, match="choose one of: auto, cholesky, eigh, primal, nystrom, toy"):
        KernelRidge(solver="magic").fit(*make_regression(10, 2))
    X, Y = make_regression(20, 2)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], np.column_stack([X, Y]))
    res = krr("fit", data, "--solver", "magic", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 2 and "choose one of: auto, cholesky, eigh, primal, nystrom, toy" in res.stderr


def test_a_model_file_of_an_unregistered_solver_is_refused(toy, krr, tmp_path):
    X, Y = make_regression(20, 2)
    path = tmp_path / "toy.joblib"
    KernelRidge(solver="toy", alpha=0.1).fit(X, Y[:, 0]).save(str(path))
    del SOLVERS["toy"]
    try:
        with pytest.raises(krrcli.ModelFileError, match="entry 'solver' is 'toy'; it must be one of cholesky"):
            krrcli.load_model(str(path))
    finally:
        register(toy)
