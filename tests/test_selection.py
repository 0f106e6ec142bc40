"""Cross-validation scores equal brute-force refits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge
from sklearn.metrics.pairwise import euclidean_distances

from krrcli import selection
from krrcli.errors import DataError, UsageError
from krrcli.metrics import regression_scores

from .conftest import make_regression


def _brute_force(X, Y, kernel, gamma, alpha, splits):
    P = np.empty_like(Y)
    for test in splits:
        train = np.setdiff1d(np.arange(len(X)), test)
        kw = {} if gamma is None else {"gamma": gamma}
        m = SkKernelRidge(kernel=kernel, alpha=alpha, **kw).fit(X[train], Y[train])
        P[test] = m.predict(X[test]).reshape(len(test), -1)
    return regression_scores(Y, P)


@pytest.mark.parametrize("kernel", ["rbf", "laplacian", "polynomial", "cosine"])
@pytest.mark.parametrize("targets", [1, 2])
def test_leave_one_out_equals_refits(kernel, targets):
    X, Y = make_regression(40, 3, targets, seed=21)
    gammas = [0.1, 0.8] if kernel != "cosine" else None
    alphas = [1e-3, 0.1, 10.0]
    rep = selection.cross_validate(X, Y, kernel, gammas, alphas)
    assert rep.method == "loo" and rep.folds == 40
    assert len(rep.results) == (2 if gammas else 1) * 3
    for r in rep.results:
        ref = _brute_force(X, Y, kernel, r.gamma, r.alpha, [np.array([i]) for i in range(40)])
        for key in ("rmse", "mae", "r2"):
            assert getattr(r, key) == pytest.approx(ref[key], rel=1e-8), (r, key)


@pytest.mark.parametrize("strategy", ["full-eigh", "fold-cholesky", "fold-eigh"])
@pytest.mark.parametrize("kernel", ["rbf", "laplacian"])
def test_kfold_equals_explicit_per_fold_fits(strategy, kernel, monkeypatch):
    monkeypatch.setattr(selection, "kfold_strategy", lambda n, k, a: strategy)
    X, Y = make_regression(53, 3, 2, seed=22)
    alphas = list(np.logspace(-3, 1, 4))
    rep = selection.cross_validate(X, Y, kernel, [0.2, 1.0], alphas, folds=4, seed=5)
    splits = selection.kfold_indices(53, 4, seed=5)
    assert rep.method == "kfold" and rep.folds == 4 and rep.strategy == strategy
    for r in rep.results:
        ref = _brute_force(X, Y, kernel, r.gamma, r.alpha, splits)
        for key in ("rmse", "mae", "r2"):
            assert getattr(r, key) == pytest.approx(ref[key], rel=1e-8)
        fold_rmse = []
        for test in splits:
            train = np.setdiff1d(np.arange(53), test)
            m = SkKernelRidge(kernel=kernel, gamma=r.gamma, alpha=r.alpha).fit(X[train], Y[train])
            fold_rmse.append(np.sqrt(np.mean((Y[test] - m.predict(X[test])) ** 2, axis=0)).mean())
        np.testing.assert_allclose(r.rmse_folds, fold_rmse, rtol=1e-8)


def test_gcv_equals_its_formula_from_a_full_fit():
    from krrcli import KernelRidge

    X, Y = make_regression(40, 3, 2, seed=26)
    rep = selection.cross_validate(X, Y, "rbf", [0.3, 1.0], [1e-3, 0.1, 1.0], method="gcv", refine=False)
    assert rep.method == "gcv" and rep.metric == "gcv"
    for r in rep.results:
        m = KernelRidge(gamma=r.gamma, alpha=r.alpha, solver="eigh").fit(X, Y)
        rss = np.sum((Y - m.predict(X)) ** 2, axis=0)
        expected = np.mean(rss / 40) / (1 - m.effective_dof_ / 40) ** 2
        assert r.gcv == pytest.approx(expected, rel=1e-8)
        assert r.effective_dof == pytest.approx(m.effective_dof_, rel=1e-9)
    assert rep.best.gcv == min(r.gcv for r in rep.results)


@pytest.mark.parametrize("method", ["loo", "gcv"])
def test_refined_alpha_is_no_worse_and_equals_a_refit(method):
    X, Y = make_regression(45, 3, seed=27)
    alphas = [1e-4, 1e-2, 1.0, 100.0]
    rep = selection.cross_validate(X, Y, "rbf", [0.5], alphas, method=method)
    key = "gcv" if method == "gcv" else "rmse"
    best, refined = rep.best, rep.refined
    assert refined is not None and refined.gamma == best.gamma
    i = alphas.index(best.alpha)
    assert 0 < i < len(alphas) - 1, "this data's best alpha should be inside the grid"
    assert alphas[i - 1] <= refined.alpha <= alphas[i + 1]
    assert refined.score(key) <= best.score(key) + 1e-12
    # the refined score is what leave-one-out refits give at that alpha
    ref = _brute_force(X, Y, "rbf", 0.5, refined.alpha, [np.array([j]) for j in range(45)])
    assert refined.rmse == pytest.approx(ref["rmse"], rel=1e-7)


def test_edge_of_grid_is_flagged():
    X, Y = make_regression(30, 2, seed=28)
    rep = selection.cross_validate(X, Y, "rbf", [0.5], [10.0, 100.0, 1000.0], refine=False)
    assert rep.best.alpha == 10.0
    assert any("smallest tried" in n and "alpha" in n for n in rep.notes)


@pytest.mark.parametrize("method", ["loo", "gcv"])
def test_refinement_can_move_one_step_beyond_the_edge(method):
    """Best at the smallest alpha tried: the search also covers one grid step below it."""
    X, Y = make_regression(30, 2, seed=28)
    key = "gcv" if method == "gcv" else "rmse"
    rep = selection.cross_validate(X, Y, "rbf", [0.5], [10.0, 100.0, 1000.0], method=method)
    assert rep.best.alpha == 10.0
    assert 1.0 <= rep.refined.alpha < 10.0
    assert rep.refined.score(key) < rep.best.score(key)
    assert any("outside the grid" in n for n in rep.notes)
    assert any("smallest tried" in n for n in rep.notes)
    ref = _brute_force(X, Y, "rbf", 0.5, rep.refined.alpha, [np.array([j]) for j in range(30)])
    assert rep.refined.rmse == pytest.approx(ref["rmse"], rel=1e-7)


def test_kfold_strategy_cost_model():
    # few alphas: refit each fold; many: decompose once; two folds: decompose each half
    assert selection.kfold_strategy(1500, 5, 1) == "fold-cholesky"
    assert selection.kfold_strategy(1500, 5, 9) == "full-eigh"
    assert selection.kfold_strategy(1000, 2, 40) == "fold-eigh"
    assert selection.kfold_strategy(3000, 10, 50) == "full-eigh"


def test_folds_are_a_seeded_permutation_in_contiguous_parts():
    folds = selection.kfold_indices(10, 3, seed=0)
    perm = np.random.default_rng(0).permutation(10)
    assert [sorted(f) for f in folds] == [sorted(perm[:4]), sorted(perm[4:7]), sorted(perm[7:])]
    assert sorted(np.concatenate(folds)) == list(range(10))
    assert selection.kfold_indices(10, 3, seed=1)[0].tolist() != folds[0].tolist()
    with pytest.raises(DataError, match="cannot make 11 folds from 10 rows"):
        selection.kfold_indices(10, 11)


def test_best_respects_metric_direction():
    X, Y = make_regression(30, 2, seed=23)
    rep = selection.cross_validate(X, Y, "rbf", [0.5], [1e-4, 1e-2, 1.0, 100.0], metric="r2")
    assert rep.best.r2 == max(r.r2 for r in rep.results)
    rep = selection.cross_validate(X, Y, "rbf", [0.5], [1e-4, 1e-2, 1.0, 100.0], metric="mae")
    assert rep.best.mae == min(r.mae for r in rep.results)


def test_effective_dof_reported_for_every_method():
    X, Y = make_regression(25, 2, seed=29)
    for kw in ({}, {"method": "gcv"}, {"folds": 5}):
        rep = selection.cross_validate(X, Y, "rbf", [0.5], [0.01, 1.0], **kw)
        assert all(r.effective_dof is not None and 0 < r.effective_dof < 25 for r in rep.results)


def test_effective_dof_reported_for_loo():
    X, Y = make_regression(25, 2, seed=24)
    rep = selection.cross_validate(X, Y, "rbf", [0.5], [0.01, 1.0])
    dofs = [r.effective_dof for r in rep.results]
    assert 0 < dofs[1] < dofs[0] < 25


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("0.5", [0.5]),
        ("0.1,1,10", [0.1, 1.0, 10.0]),
        ("1e-6:1e2:9", [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0]),
        ("1:100:3", [1.0, 10.0, 100.0]),
    ],
)
def test_parse_grid(spec, expected):
    assert selection.parse_grid(spec, "alpha") == expected


@pytest.mark.parametrize("spec", ["abc", "1:2", "0:1:3", "1:2:0", "-1", "", "0"])
def test_parse_grid_rejects(spec):
    with pytest.raises(UsageError):
        selection.parse_grid(spec, "alpha")


def test_default_gamma_grid_is_centred_on_median_distance():
    X, _ = make_regression(200, 4, seed=25)
    D = euclidean_distances(X, squared=True)
    med = np.median(D[np.triu_indices(200, 1)])
    grid = selection.default_gammas(X, "rbf")
    assert len(grid) == 7
    assert grid[3] == pytest.approx(1 / med, rel=1e-12)
    assert grid[0] == pytest.approx(1e-2 / med) and grid[-1] == pytest.approx(1e2 / med)
    assert selection.default_gammas(X, "linear") == [None]


def test_parallel_workers_give_the_same_scores():
    X, Y = make_regression(60, 3, seed=30)
    one = selection.cross_validate(X, Y, "rbf", [0.1, 0.5, 2.0], [0.01, 1.0], folds=3, jobs=1)
    two = selection.cross_validate(X, Y, "rbf", [0.1, 0.5, 2.0], [0.01, 1.0], folds=3, jobs=2)
    assert [r.rmse for r in one.results] == pytest.approx([r.rmse for r in two.results], rel=1e-12)
    assert selection.resolve_jobs(-1) >= 1
    with pytest.raises(UsageError):
        selection.resolve_jobs(0)
