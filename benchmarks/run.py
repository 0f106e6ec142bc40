"""krr against scikit-learn, side by side in one run; prints a table of medians and ratios.

    python benchmarks/run.py            # the full suite (make bench), about an hour
    python benchmarks/run.py --quick    # a reduced suite (make bench-quick), under two minutes

Every figure alternates the two tools and repeats; the table gives each median
and the ratio krr / reference (below 1 means krr takes less). Results go to
benchmarks/results/<suite>.json and, when matplotlib is installed (the `bench`
extra), a plot of fit time and peak memory against n to benchmarks/results/fit.png.

What is measured
- fit: wall time of ``fit`` and its peak memory above the process's baseline
  (after imports, data and a small warm-up of BLAS's threads), each in a fresh process, for krr and scikit-learn's
  KernelRidge, plus a bare in-place LAPACK Cholesky of an n x n matrix (the bound).
- predict compute: rows per second of ``predict`` in memory (n_train = 4000), in a
  fresh process. Every measured child is started while this driver is still small:
  Linux carries a parent's peak RSS into its children's.
- predict end to end: ``krr predict`` of a CSV file against the obvious script
  (pandas read_csv, scikit-learn predict, to_csv), wall time and peak memory,
  at two input sizes to show that krr's memory does not grow with the rows.
- cv: ``krr cv --folds 5`` against GridSearchCV over the same grid and folds (9 and
  30 alphas), checking that the pooled scores agree; and exact leave-one-out
  against a LeaveOneOut grid search, whose time is extrapolated from timed
  single fits (running it would take hours).
- start-up: ``krr --version``, ``krr --help`` against ``python -c "import typer"``;
  ``krr predict`` of a 10-row file against importing numpy, pandas and scipy.linalg.
- large (full suite): the nystrom solver against krr's exact fit at n = 20,000 (M = 2,000) and
  against scikit-learn's Nystroem + Ridge pipeline at n = 400,000 (M = 1,000): time, peak memory,
  test rmse (benchmarks/nystrom_worker.py; rbf, gamma 0.05, alpha 1, d = 10).
- nystrom_cv (full suite): ``krr cv --solver nystrom`` against GridSearchCV over the scikit-learn
  pipeline, 5 gammas x 9 alphas x 5 folds, n = 50,000, M = 1,000: time, and each one's best cell.
- scale (full suite): fit time and peak memory against n, 10^4 to 10^6 rows in memory, for krr's nystrom
  and the scikit-learn pipeline (M = 1,000) and krr's exact fit (10^4, 2 x 10^4); with the huge run's
  point at 10^7, plotted to benchmarks/results/scale.png.
- huge (full suite, about 20 minutes): ``krr fit`` of a 10,000,000-row CSV with nystrom, M = 2,000
  (the whole command's time and peak RSS, test rmse), and one CG iteration against one bare pass
  over the same rows (benchmarks/scale_worker.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ALPHA, GAMMA, HERE, WORK, make_data, median, timed_child, write_csv  # noqa: E402

PY = sys.executable
KRR = str(Path(PY).with_name("krr"))
RESULTS = HERE / "results"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fit_bench(sizes: list[int], reps: int) -> list[dict]:
    rows = []
    for n in sizes:
        samples: dict[str, list[dict]] = {"krr": [], "sklearn": [], "cholesky": []}
        for _ in range(reps):
            for tool in ("krr", "sklearn", "cholesky"):
                res = _fit_once(tool, n)
                samples[tool].append(res)
        row = {"n": n, "kernel_bytes": 8 * n * n}
        for tool, runs in samples.items():
            row[f"{tool}_seconds"] = median([r["seconds"] for r in runs])
            row[f"{tool}_peak"] = median([r["peak_above_base"] for r in runs])
        log(
            f"fit n={n}: krr {row['krr_seconds']:.2f}s sklearn {row['sklearn_seconds']:.2f}s "
            f"cholesky {row['cholesky_seconds']:.2f}s"
        )
        rows.append(row)
    return rows


def _fit_once(tool: str, n: int) -> dict:
    import subprocess

    out = subprocess.run(
        [PY, str(HERE / "fit_worker.py"), tool, str(n)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def predict_compute_bench(n_train: int, m: int, reps: int) -> dict:
    import subprocess

    out = subprocess.run(
        [PY, str(HERE / "predict_worker.py"), str(n_train), str(m), str(reps)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    res = {
        "n_train": n_train,
        "rows": m,
        "krr_rows_per_s": m / r["krr_seconds"],
        "sklearn_rows_per_s": m / r["sklearn_seconds"],
        "max_rel_diff": r["max_rel_diff"],
    }
    log(f"predict compute: krr {res['krr_rows_per_s']:.0f} rows/s, sklearn {res['sklearn_rows_per_s']:.0f} rows/s")
    return res


def predict_e2e_bench(n_train: int, sizes: list[int], reps: int) -> list[dict]:
    import joblib
    from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

    X, y = make_data(n_train)
    train = write_csv(WORK / "train_e2e.csv", X, y)
    model = WORK / "e2e.joblib"
    subprocess_ok([KRR, "fit", str(train), "-g", str(GAMMA), "-a", str(ALPHA), "-o", str(model)])
    sk_model = WORK / "e2e_sklearn.pkl"
    joblib.dump(SkKernelRidge(kernel="rbf", gamma=GAMMA, alpha=ALPHA).fit(X, y), sk_model)
    rows = []
    for m in sizes:
        data = new_rows_csv(m)
        k_t, k_m, s_t, s_m = [], [], [], []
        for _ in range(reps):
            t, mem = timed_child([KRR, "predict", str(model), str(data), "-o", str(WORK / "pred_krr.csv")])
            k_t.append(t)
            k_m.append(mem)
            t, mem = timed_child([PY, str(HERE / "sklearn_predict.py"), str(sk_model), str(data), str(WORK / "p.csv")])
            s_t.append(t)
            s_m.append(mem)
        a = np.loadtxt(WORK / "pred_krr.csv", skiprows=1)
        b = np.loadtxt(WORK / "p.csv", skiprows=1)
        row = {
            "n_train": n_train,
            "rows": m,
            "krr_seconds": median(k_t),
            "sklearn_seconds": median(s_t),
            "krr_peak": median(k_m),
            "sklearn_peak": median(s_m),
            "max_rel_diff": float(np.max(np.abs(a - b)) / np.max(np.abs(b))),
        }
        log(f"predict e2e {m} rows: krr {row['krr_seconds']:.1f}s, script {row['sklearn_seconds']:.1f}s")
        rows.append(row)
    return rows


def predict_stages_bench(n_train: int, m: int) -> dict:
    """Where ``krr predict`` spends its time: parsing the CSV, computing, formatting the output (in a child)."""
    import subprocess

    data = new_rows_csv(m)
    code = f"""
import json, sys, time
sys.path.insert(0, {str(HERE)!r})
from common import ALPHA, GAMMA, make_data
from krrcli import KernelRidge
from krrcli.data import format_rows, iter_feature_chunks
X, y = make_data({n_train})
model = KernelRidge(kernel="rbf", gamma=GAMMA, alpha=ALPHA).fit(X, y)
parse = compute = write = 0.0
t = time.perf_counter()
for _, Xc, *_ in iter_feature_chunks({str(data)!r}, [f"x{{j}}" for j in range(X.shape[1])]):
    t1 = time.perf_counter(); parse += t1 - t
    p = model.predict(Xc).reshape(-1, 1)
    t2 = time.perf_counter(); compute += t2 - t1
    "\\n".join(format_rows(p))
    t = time.perf_counter(); write += t - t2
print(json.dumps({{"parse": parse, "compute": compute, "write": write}}))
"""
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout
    res = {"n_train": n_train, "rows": m, **json.loads(out.strip().splitlines()[-1])}
    log(
        f"predict stages, {m:,} rows: parse {res['parse']:.1f}s, compute {res['compute']:.1f}s, "
        f"format {res['write']:.1f}s"
    )
    return res


def new_rows_csv(m: int) -> Path:
    """The CSV of ``m`` new rows to predict, written once (by a child: a child process inherits its
    parent's peak RSS, so the driver stays small for the processes it measures)."""
    data = WORK / f"new_{m}.csv"
    if not data.exists():
        subprocess_ok(
            [
                PY,
                "-c",
                f"import sys; sys.path.insert(0, {str(HERE)!r}); from common import *; "
                f"write_csv(__import__('pathlib').Path({str(data)!r}), make_data({m}, seed=2)[0])",
            ]
        )
    return data


def subprocess_ok(args: list[str]) -> None:
    import subprocess

    subprocess.run(args, check=True, capture_output=True)


def cv_bench(n: int, n_gammas: int, alphas: str, folds: int, reps: int) -> dict:
    """krr cv --folds against GridSearchCV on the same grid and folds; scores compared."""
    import subprocess

    from krrcli.selection import parse_grid

    X, y = make_data(n, seed=3)
    data = write_csv(WORK / f"cv_{n}.csv", X, y)
    gammas = ",".join(f"{g:.6g}" for g in np.logspace(-2, 0, n_gammas))
    alpha_list = ",".join(repr(a) for a in parse_grid(alphas, "alpha"))
    args = [KRR, "cv", str(data), "-g", gammas, "-a", alpha_list, "--folds", str(folds), "--json"]
    ref_args = [PY, str(HERE / "sklearn_gridsearch.py"), str(data), gammas, alpha_list, str(folds), "0"]
    k_t, s_t = [], []
    for _ in range(reps):
        k_t.append(timed_child(args)[0])
        s_t.append(timed_child(ref_args)[0])
    ours = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    ref = json.loads(subprocess.run(ref_args, capture_output=True, text=True, check=True).stdout)["rmse"]
    diff = max(
        abs(r["rmse"] - ref[f"{r['gamma']!r},{r['alpha']!r}"]) / ref[f"{r['gamma']!r},{r['alpha']!r}"]
        for r in ours["results"]
    )
    res = {
        "n": n,
        "gammas": n_gammas,
        "alphas": len(alpha_list.split(",")),
        "folds": folds,
        "krr_seconds": median(k_t),
        "sklearn_seconds": median(s_t),
        "max_rel_diff_rmse": diff,
        "strategy": ours.get("strategy"),
    }
    log(
        f"cv {res['alphas']} alphas: krr {res['krr_seconds']:.1f}s, GridSearchCV {res['sklearn_seconds']:.1f}s, "
        f"scores differ by at most {diff:.1e}"
    )
    return res


def nystrom_cv_bench(n: int, n_gammas: int, alphas: str, folds: int, m: int) -> dict:
    """``krr cv --solver nystrom`` against GridSearchCV over the Nystroem + Ridge pipeline, same grid and
    folds, M centers (components): wall time, each one's best cell and its pooled rmse, once each."""
    import subprocess

    from krrcli.selection import parse_grid

    X, y = make_data(n, seed=4)
    data = write_csv(WORK / f"nystrom_cv_{n}.csv", X, y)
    gammas = ",".join(f"{g:.6g}" for g in np.logspace(-2, 0, n_gammas))
    alpha_list = ",".join(repr(a) for a in parse_grid(alphas, "alpha"))
    args = [KRR, "cv", str(data), "--solver", "nystrom", "--centers", str(m), "-g", gammas, "-a", alpha_list]
    args += ["--folds", str(folds), "--json"]
    ref_args = [PY, str(HERE / "sklearn_nystrom_gridsearch.py"), str(data), gammas, alpha_list, str(folds), "0", str(m)]
    log(f"nystrom cv: krr, n={n:,}, {n_gammas}x{len(alpha_list.split(','))}x{folds}, M={m:,}")
    t0 = time.perf_counter()
    ours = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    krr_seconds = time.perf_counter() - t0
    log("nystrom cv: GridSearchCV over the scikit-learn pipeline")
    ref = json.loads(subprocess.run(ref_args, capture_output=True, text=True, check=True).stdout)
    best = ours["best"]
    key = f"{best['gamma']!r},{best['alpha']!r}"
    return {
        "n": n,
        "gammas": n_gammas,
        "alphas": len(alpha_list.split(",")),
        "folds": folds,
        "m": m,
        "krr_seconds": krr_seconds,
        "sklearn_seconds": ref["seconds"],
        "krr_best": key,
        "krr_best_rmse": best["rmse"],
        "sklearn_best": ref["best"],
        "sklearn_best_rmse": ref["best_rmse"],
        "sklearn_rmse_at_krr_best": ref["rmse"].get(key),
    }


def loo_bench(n: int, n_gammas: int, alphas: str, sample_fits: int) -> dict:
    """krr cv (exact leave-one-out) against a LeaveOneOut grid search, extrapolated from timed fits."""
    from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

    from krrcli.selection import parse_grid

    X, y = make_data(n, seed=3)
    data = write_csv(WORK / f"loo_{n}.csv", X, y)
    gammas = np.logspace(-2, 0, n_gammas)
    alpha_list = parse_grid(alphas, "alpha")
    args = [
        KRR,
        "cv",
        str(data),
        "-g",
        ",".join(f"{g:.6g}" for g in gammas),
        "-a",
        ",".join(repr(a) for a in alpha_list),
        "--json",
    ]
    t_krr = median([timed_child(args)[0] for _ in range(2)])
    rng = np.random.default_rng(0)
    times = []
    for i in range(sample_fits):
        leave = rng.integers(n)
        keep = np.arange(n) != leave
        g, a = gammas[i % len(gammas)], alpha_list[i % len(alpha_list)]
        t0 = time.perf_counter()
        SkKernelRidge(kernel="rbf", gamma=g, alpha=a).fit(X[keep], y[keep]).predict(X[~keep])
        times.append(time.perf_counter() - t0)
    per_fit = float(np.mean(times))
    fits = n * len(gammas) * len(alpha_list)
    res = {
        "n": n,
        "gammas": n_gammas,
        "alphas": len(alpha_list),
        "krr_seconds": t_krr,
        "sklearn_seconds_extrapolated": per_fit * fits,
        "sklearn_fits": fits,
        "sampled_fits": sample_fits,
        "sklearn_seconds_per_fit": per_fit,
    }
    log(
        f"loo: krr {t_krr:.1f}s; LeaveOneOut grid search ~{per_fit * fits:.0f}s "
        f"({fits:,} fits at {per_fit * 1000:.0f} ms, from {sample_fits} timed)"
    )
    return res


def startup_bench(reps: int) -> dict:
    """The small commands as a cron job runs them, each against its yardstick, in turn (A B A B ...)."""
    model = WORK / "tiny.joblib"
    X, y = make_data(50)
    write_csv(WORK / "tiny_train.csv", X, y)
    subprocess_ok([KRR, "fit", str(WORK / "tiny_train.csv"), "-o", str(model)])
    tiny = write_csv(WORK / "tiny.csv", make_data(10, seed=4)[0])
    demo = WORK / "demo.joblib"  # the reference demo's model (make demo)
    subprocess_ok([KRR, "fit", str(HERE.parent / "sample_data" / "demo.csv"), "--gamma", "1", "--alpha", "0.001",
                   "-o", str(demo)])  # fmt: skip
    X2, y2 = make_data(2000, seed=5)
    small, out = write_csv(WORK / "fit2000.csv", X2, y2), str(WORK / "small.joblib")
    commands = {
        "import typer": [PY, "-c", "import typer"],
        "krr --version": [KRR, "--version"],
        "krr --help": [KRR, "--help"],
        "import numpy, pandas, scipy.linalg": [PY, "-c", "import numpy, pandas, scipy.linalg"],
        "krr predict (10 rows)": [KRR, "predict", str(model), str(tiny)],
        "krr inspect (demo model)": [KRR, "inspect", str(demo)],
        "krr fit (2,000-row CSV)": [KRR, "fit", str(small), "--gamma", f"{GAMMA}", "--alpha", f"{ALPHA}", "-o", out],
        "pandas + sklearn + joblib fit script": [
            PY,
            str(HERE / "sklearn_fit.py"),
            str(small),
            f"{GAMMA}",
            f"{ALPHA}",
            str(WORK / "small_sk.joblib"),
        ],  # fmt: skip
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(reps):
        for name, args in commands.items():
            times[name].append(timed_child(args)[0])
    res = {k: median(v) for k, v in times.items()}
    log("start-up: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in res.items()))
    return res


def large_bench(n: int, m: int, reference: str) -> dict:
    """krr's nystrom against ``reference`` (the scikit-learn Nystroem pipeline, or krr's exact fit), one fresh
    process each, alternating: fit time, peak memory above baseline, test rmse."""
    out = {"n": n, "m": m, "reference": reference}
    for tool in ("krr-nystrom", reference):
        log(f"large: {tool}, n={n:,}, M={m:,}")
        proc = __import__("subprocess").run(
            [PY, str(HERE / "nystrom_worker.py"), tool, str(n), str(m)], capture_output=True, text=True, check=True
        )
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        key = "krr" if tool == "krr-nystrom" else "ref"
        out.update(
            {f"{key}_seconds": res["seconds"], f"{key}_peak": res["peak_above_base"], f"{key}_rmse": res["rmse"]}
        )
        if key == "krr":
            out["iterations"] = res["iterations"]
    return out


def scale_bench(sizes: list[int], exact_sizes: list[int], m: int) -> list[dict]:
    """Fit time and peak memory against n (in memory, fresh processes): krr nystrom and the scikit-learn
    pipeline with M centers, and krr's exact fit where it runs in reasonable time."""
    import subprocess

    rows = []
    plan = [("krr-nystrom", n) for n in sizes] + [("sklearn-pipeline", n) for n in sizes]
    plan += [("krr-exact", n) for n in exact_sizes]
    for tool, n in plan:
        log(f"scale: {tool}, n={n:,}")
        worker = [PY, str(HERE / "nystrom_worker.py"), tool, str(n), str(m)]
        proc = subprocess.run(worker, capture_output=True, text=True)
        if proc.returncode != 0:  # (the pipeline may not fit in memory at the largest n)
            rows.append({"tool": tool, "n": n, "m": m, "error": proc.stderr.strip().splitlines()[-1:]})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def plot_scale(results: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [r for r in results.get("scale", []) if "error" not in r]
    if not rows:
        return False
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    styles = {
        "krr-nystrom": ("o-", "krr nystrom"),
        "sklearn-pipeline": ("s-", "sklearn Nystroem+Ridge"),
        "krr-exact": ("^-", "krr exact"),
    }
    for tool, (style, label) in styles.items():
        pts = sorted((r["n"], r["seconds"], r["peak_above_base"]) for r in rows if r["tool"] == tool)
        if pts:
            a.loglog(
                [p[0] for p in pts],
                [p[1] for p in pts],
                style,
                label=f"{label} (M = {rows[0]['m']:,})" if tool != "krr-exact" else label,
            )
            b.loglog([p[0] for p in pts], [p[2] / 2**30 for p in pts], style, label=label)
    h = results.get("huge")
    if h:
        a.loglog([h["n"]], [h["wall_seconds"]], "D", color="C0", label=f"krr fit of a CSV, M = {h['m']:,}")
        b.loglog([h["n"]], [h["peak_rss"] / 2**30], "D", color="C0", label="krr fit of a CSV (whole RSS)")
    a.set(xlabel="training rows n", ylabel="fit time (s)", title="Fit time (rbf, d = 10)")
    b.set(xlabel="training rows n", ylabel="peak memory (GiB)", title="Fit peak memory above baseline")
    a.legend(fontsize=8)
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def write_rows_csv(path: Path, n: int, seed: int) -> Path:
    """The standard synthetic rows (d = 10, and y) as CSV with 9 significant digits, written in chunks
    so that this driver stays small (its peak would be carried into the children it starts)."""
    chunk = 200_000
    with open(path, "w") as f:
        f.write(",".join([f"x{j}" for j in range(10)] + ["y"]) + "\n")
        for k, a in enumerate(range(0, n, chunk)):
            X, y = make_data(min(chunk, n - a), seed=seed * 100_000 + k)
            np.savetxt(f, np.column_stack([X, y]), delimiter=",", fmt="%.9g")
    return path


def huge_bench(n: int, m: int) -> dict:
    """``krr fit`` of an n-row CSV with nystrom and M centers as a user runs it (whole command: reading,
    centers, solve, saving), its wall time and peak RSS; the test rmse of ``krr predict`` on 10,000 other
    rows; and, in another process on the same rows, one CG iteration against one bare pass."""
    import subprocess

    log(f"huge: writing {n:,} rows of CSV")
    train = write_rows_csv(WORK / f"train_{n}.csv", n, seed=1)
    test = write_rows_csv(WORK / "test_10000.csv", 10_000, seed=2)
    model, pred = WORK / "huge.joblib", WORK / "huge_pred.csv"
    log(f"huge: krr fit, n={n:,}, M={m:,}")
    args = [KRR, "fit", str(train), "--solver", "nystrom", "--centers", str(m), "--gamma", "0.05", "--alpha", "1"]
    out_path, err_path = WORK / "huge_fit.json", WORK / "huge_fit.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([*args, "-o", str(model), "--json"], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"krr fit failed: {err_path.read_text()[-500:]}")
    peak = usage.ru_maxrss * 1024
    summary = json.loads(out_path.read_text())
    subprocess_ok([KRR, "predict", str(model), str(test), "-o", str(pred)])
    y_test = np.loadtxt(test, delimiter=",", skiprows=1, usecols=10)
    rmse = float(np.sqrt(np.mean((np.loadtxt(pred, skiprows=1) - y_test) ** 2)))
    train.unlink()
    log(f"huge: one CG iteration against a bare pass, n={n:,}, M={m:,}")
    it = subprocess.run(
        [PY, str(HERE / "scale_worker.py"), "iteration", str(n), str(m)], capture_output=True, text=True, check=True
    )
    iteration = json.loads(it.stdout.strip().splitlines()[-1])
    info = summary["solver_info"]
    return {
        "n": n,
        "m": m,
        "wall_seconds": wall,
        "fit_seconds": summary["seconds"],
        "read_seconds": summary["read_seconds"],
        "peak_rss": peak,
        "test_rmse": rmse,
        "iterations": info["iterations"],
        "residual": info["residual"],
        "converged": info["converged"],
        "method": info["method"],
        **{k: iteration[k] for k in ("krr_iteration_seconds", "bare_pass_seconds", "bare_passes")},
    }


def _start_cluster(workers: int, log_dir: Path):
    """A real cluster on 127.0.0.1: ``dask scheduler`` and ``workers`` x ``dask worker --nthreads 1``;
    returns (address, processes)."""
    import subprocess

    info = log_dir / "scheduler.json"
    info.unlink(missing_ok=True)
    dask = str(Path(PY).with_name("dask"))
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
            **quiet,
        )
    ]
    while not info.exists() or not info.read_text().strip():
        time.sleep(0.2)
    address = json.loads(info.read_text())["address"]
    for k in range(workers):
        args = [dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{k}", "--host", "127.0.0.1"]
        procs.append(subprocess.Popen(args, **quiet))
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def _stop_cluster(procs) -> None:
    import signal

    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)


def dask_bench(n: int, m: int, parts: int, reps: int) -> dict:
    """``krr fit`` (nystrom, M centers) of n rows in ``parts`` CSV files, whole command: the local engine
    against ``--engine dask`` on a running cluster of 2 workers x 1 thread, and of 1 worker; medians of
    ``reps`` runs, alternating. And one CG iteration's time on each (a fit that iterates)."""
    import subprocess

    log(f"dask: writing {n:,} rows in {parts} CSV files")
    folder = WORK / "dask_parts"
    folder.mkdir(parents=True, exist_ok=True)
    per = n // parts
    for k in range(parts):
        write_rows_csv(folder / f"part-{k:02d}.csv", per, seed=10 + k)
    pattern = str(folder / "part-*.csv")
    fit = [KRR, "fit", pattern, "--solver", "nystrom", "--centers", str(m), "--gamma", "0.05", "--alpha", "1"]
    fit += ["-o", str(WORK / "dask.joblib")]
    # a small alpha and a tolerance out of reach: CG's passes over the rows after the one-pass start,
    # to time one iteration (a map over partitions and a tree reduction on the cluster)
    iterate = [*fit[:-2], "--alpha", "1e-5", "--tol", "1e-15", "--max-iter", "6", "-o", str(WORK / "cg.joblib")]
    times: dict[str, list[float]] = {"local": [], "dask 2 workers": [], "dask 1 worker": []}
    summaries, per_iteration = {}, {}
    for workers in (2, 1):
        address, procs = _start_cluster(workers, WORK)
        label = f"dask {workers} worker{'s' if workers > 1 else ''}"
        engines = ([] if workers == 1 else [("local", [])]) + [(label, ["--engine", "dask", "--scheduler", address])]
        try:
            for name, extra in engines:
                log(f"dask: {name}, CG iterations")
                proc = subprocess.run([*iterate, *extra, "--json"], capture_output=True, text=True, check=True)
                info = json.loads(proc.stdout)["solver_info"]
                per_iteration[name] = info["cg_seconds"] / max(1, info["iterations"])
            for _ in range(reps):
                for name, extra in engines:
                    log(f"dask: {name}")
                    t0 = time.perf_counter()
                    proc = subprocess.run([*fit, *extra, "--json"], capture_output=True, text=True, check=True)
                    times[name].append(time.perf_counter() - t0)
                    summaries[name] = json.loads(proc.stdout)
        finally:
            _stop_cluster(procs)
    for k in range(parts):
        (folder / f"part-{k:02d}.csv").unlink()
    res = {"n": n, "m": m, "parts": parts, **{f"{k} seconds": median(v) for k, v in times.items()}}
    res |= {f"{k} iteration seconds": v for k, v in per_iteration.items()}
    for name, s in summaries.items():
        info = s["solver_info"]
        res[f"{name} fit"] = {
            "seconds": s["seconds"],
            "read_seconds": s["read_seconds"],
            "iterations": info["iterations"],
            "method": info["method"],
            "cg_seconds": info.get("cg_seconds"),
            "rmse": s["train"]["rmse"],
        }
    log("dask: " + ", ".join(f"{k} {v:.1f} s" for k, v in res.items() if k.endswith("seconds")))
    return res


def table(results: dict) -> str:
    lines = [f"{'figure':<44} {'krr':>12} {'reference':>12} {'ratio':>7}  reference is", "-" * 96]

    def add(name: str, ours: float, ref: float, unit: str, what: str) -> None:
        fmt = {
            "s": lambda v: f"{v:.3f} s",
            "GiB": lambda v: f"{v / 2**30:.2f} GiB",
            "rows/s": lambda v: f"{v / 1e3:.0f}k/s",
            "ms": lambda v: f"{v * 1000:.0f} ms",
        }[unit]
        lines.append(f"{name:<44} {fmt(ours):>12} {fmt(ref):>12} {ours / ref:>7.2f}  {what}")

    for row in results["fit"]:
        n = row["n"]
        sk = " (target: 0.7)" if n <= 4000 else ""
        chol = {2000: " (target: 1.5)", 4000: " (target: 1.3)"}.get(n, "")
        add(f"fit time, n={n}", row["krr_seconds"], row["sklearn_seconds"], "s", "sklearn KernelRidge" + sk)
        add(f"fit time, n={n}", row["krr_seconds"], row["cholesky_seconds"], "s", "bare in-place Cholesky" + chol)
        add(
            f"fit peak memory above baseline, n={n}", row["krr_peak"], row["sklearn_peak"], "GiB", "sklearn KernelRidge"
        )
        add(f"fit peak memory above baseline, n={n}", row["krr_peak"], row["kernel_bytes"], "GiB", "8 n^2 bytes")
    p = results["predict_compute"]
    add(
        f"predict throughput, n_train={p['n_train']}",
        p["krr_rows_per_s"],
        p["sklearn_rows_per_s"],
        "rows/s",
        "sklearn predict (higher is better)",
    )
    for row in results["predict_e2e"]:
        add(
            f"krr predict CSV, {row['rows']:,} rows",
            row["krr_seconds"],
            row["sklearn_seconds"],
            "s",
            "read_csv + predict + to_csv",
        )
        add(f"  peak memory, {row['rows']:,} rows", row["krr_peak"], row["sklearn_peak"], "GiB", "same script")
    st = results.get("predict_stages")
    if st:
        lines.append(
            f"{'  krr predict stages, ' + format(st['rows'], ',') + ' rows':<44} parse {st['parse']:.2f} s, "
            f"compute {st['compute']:.2f} s, format {st['write']:.2f} s"
        )
    for c in results["cv"]:
        add(
            f"cv {c['gammas']}x{c['alphas']} grid, {c['folds']} folds, n={c['n']}",
            c["krr_seconds"],
            c["sklearn_seconds"],
            "s",
            "GridSearchCV, n_jobs=1",
        )
    lo = results["loo"]
    add(
        f"cv leave-one-out {lo['gammas']}x{lo['alphas']}, n={lo['n']}",
        lo["krr_seconds"],
        lo["sklearn_seconds_extrapolated"],
        "s",
        "LeaveOneOut search (extrapolated)",
    )
    for row in results.get("nystrom_cv", []):
        add(
            f"cv nystrom {row['gammas']}x{row['alphas']}x{row['folds']}, n={row['n']:,}, M={row['m']:,}",
            row["krr_seconds"],
            row["sklearn_seconds"],
            "s",
            "GridSearchCV over Nystroem+Ridge",
        )
        same = "same best cell" if row["krr_best"] == row["sklearn_best"] else "other best cell"
        lines.append(
            f"{'  best rmse (pooled out-of-fold)':<44} {row['krr_best_rmse']:>12.4f} {row['sklearn_best_rmse']:>12.4f} "
            f"{row['krr_best_rmse'] / row['sklearn_best_rmse']:>7.3f}  {same}: krr {row['krr_best']}, "
            f"sklearn {row['sklearn_best']}"
        )
    for r in results.get("scale", []):
        label = f"scale: {r['tool']}, n={r['n']:,}" + ("" if r["tool"] == "krr-exact" else f", M={r['m']:,}")
        if "error" in r:
            lines.append(f"{label:<44} {'failed':>12}  {' '.join(r['error'])[:80]}")
        else:
            lines.append(
                f"{label:<44} {r['seconds']:>10.2f} s {r['peak_above_base'] / 2**30:>8.2f} GiB   rmse {r['rmse']:.4f}"
            )
    for row in results.get("large", []):
        what = "sklearn Nystroem+Ridge pipeline" if row["reference"] == "sklearn-pipeline" else "krr exact fit"
        label = f"n={row['n']:,}, M={row['m']:,}"
        add(f"nystrom fit time, {label}", row["krr_seconds"], row["ref_seconds"], "s", what)
        add(f"  peak memory above baseline, {label}", row["krr_peak"], row["ref_peak"], "GiB", what)
        lines.append(
            f"{'  test rmse, ' + label:<44} {row['krr_rmse']:>12.4f} {row['ref_rmse']:>12.4f} "
            f"{row['krr_rmse'] / row['ref_rmse']:>7.3f}  {what} ({row['iterations']} CG iterations)"
        )
    h = results.get("huge")
    if h:
        label = f"n={h['n']:,}, M={h['m']:,}"
        lines.append(
            f"{'krr fit of a CSV, ' + label:<44} {h['wall_seconds'] / 60:>10.1f} m {'':>12} {'':>7}  "
            f"(target: 15 min) read {h['read_seconds']:.0f} s, {h['iterations']} CG iterations, "
            f"residual {h['residual']:.1e}, {h['method']}"
        )
        lines.append(f"{'  peak memory (RSS)':<44} {h['peak_rss'] / 2**30:>8.2f} GiB {'':>12} {'':>7}  (target: 4 GiB)")
        lines.append(f"{'  test rmse (10,000 rows)':<44} {h['test_rmse']:>12.4f}")
        add(
            f"  one CG iteration, {label}",
            h["krr_iteration_seconds"],
            h["bare_pass_seconds"],
            "s",
            "one bare pass (GEMM, exp, 2 products)",
        )
    dk = results.get("dask")
    if dk:
        label = f"n={dk['n']:,}, M={dk['m']:,}, {dk['parts']} files"
        add(f"krr fit --engine dask, {label}", dk["dask 2 workers seconds"], dk["local seconds"], "s",
            "--engine local (target: 1.3)")  # fmt: skip
        add("  dask, 1 worker against 2", dk["dask 1 worker seconds"], dk["dask 2 workers seconds"], "s",
            "2 workers x 1 thread")  # fmt: skip
        if "local iteration seconds" in dk:
            add("  one CG iteration over the rows, dask", dk["dask 2 workers iteration seconds"],
                dk["local iteration seconds"], "s", "--engine local")  # fmt: skip
            add("  one CG iteration, dask 1 worker", dk["dask 1 worker iteration seconds"],
                dk["dask 2 workers iteration seconds"], "s", "2 workers x 1 thread")  # fmt: skip
    s = results["startup"]
    typer_ = 'python -c "import typer" (target: 1.3)'
    add("krr --version", s["krr --version"], s["import typer"], "ms", typer_)
    add("krr --help", s["krr --help"], s["import typer"], "ms", typer_)
    heavy = "import numpy, pandas, scipy.linalg"
    add("krr predict, 10 rows", s["krr predict (10 rows)"], s[heavy], "ms", heavy + " (target: 0.5)")
    if "krr inspect (demo model)" in s:
        add("krr inspect, the demo model", s["krr inspect (demo model)"], s[heavy], "ms", heavy + " (target: 0.5)")
        script = "pandas + sklearn + joblib fit script"
        add("krr fit of a 2,000-row CSV, whole process", s["krr fit (2,000-row CSV)"], s[script], "ms",
            script + " (target: 0.45)")  # fmt: skip
    return "\n".join(lines)


def plot(results: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed (pip install -e '.[bench]'): no plot")
        return False
    rows = results["fit"]
    n = [r["n"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(n, [r["krr_seconds"] for r in rows], "o-", label="krr")
    a.plot(n, [r["sklearn_seconds"] for r in rows], "s-", label="scikit-learn")
    a.plot(n, [r["cholesky_seconds"] for r in rows], "k--", label="bare Cholesky")
    a.set(xlabel="training rows n", ylabel="fit time (s)", title="Fit time (rbf, d = 10)")
    a.legend()
    b.plot(n, [r["krr_peak"] / 2**30 for r in rows], "o-", label="krr")
    b.plot(n, [r["sklearn_peak"] / 2**30 for r in rows], "s-", label="scikit-learn")
    b.plot(n, [r["kernel_bytes"] / 2**30 for r in rows], "k--", label="one n x n matrix")
    b.set(xlabel="training rows n", ylabel="peak memory above baseline (GiB)", title="Fit peak memory")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def machine() -> dict:
    import numpy
    import scipy
    import sklearn

    import krrcli

    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "krr": krrcli.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reduced sizes and repetitions (under two minutes)")
    ap.add_argument("--report", metavar="JSON", help="print the table (and plot) of a saved run instead of running")
    ap.add_argument(
        "--only", metavar="SECTION", help="rerun one section (fit, predict_e2e, ...) into the saved full run"
    )
    args = ap.parse_args()
    if args.only:
        WORK.mkdir(exist_ok=True)
        path = RESULTS / "full.json"
        results = json.loads(path.read_text())
        runners = {
            "fit": lambda: fit_bench([1000, 2000, 4000, 8000, 12000], reps=5),
            "predict_compute": lambda: predict_compute_bench(4000, 200_000, reps=3),
            "predict_e2e": lambda: predict_e2e_bench(2000, [250_000, 1_000_000], reps=2),
            "predict_stages": lambda: predict_stages_bench(2000, 1_000_000),
            "startup": lambda: startup_bench(reps=7),
            "large": lambda: [large_bench(20_000, 2000, "krr-exact"), large_bench(400_000, 1000, "sklearn-pipeline")],
            "huge": lambda: huge_bench(10_000_000, 2000),
            "dask": lambda: dask_bench(2_000_000, 1000, 8, reps=2),
            "nystrom_cv": lambda: [nystrom_cv_bench(50_000, 5, "1e-6:1e2:9", 5, 1000)],
            "scale": lambda: scale_bench([10_000, 100_000, 1_000_000], [10_000, 20_000], 1000),
        }
        results[args.only] = runners[args.only]()
        results.setdefault("machines", {})[args.only] = machine()  # a section rerun elsewhere says where
        path.write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "full.txt").write_text(table(results) + "\n")
        plot_scale(results, RESULTS / "scale.png")
        print(table(results))
        shutil.rmtree(WORK, ignore_errors=True)
        return
    if args.report:
        results = json.loads(Path(args.report).read_text())
        print(table(results))
        if len(results["fit"]) > 2:
            plot(results, Path(args.report).with_name("fit.png"))
        return
    WORK.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    if args.quick:
        results = {
            "fit": fit_bench([1000, 2000], reps=1),
            "predict_compute": predict_compute_bench(2000, 20_000, reps=2),
            "predict_e2e": predict_e2e_bench(1000, [20_000, 80_000], reps=1),
            "predict_stages": predict_stages_bench(1000, 80_000),
            "cv": [cv_bench(600, 3, "1e-4:1e0:5", 5, reps=1)],
            "loo": loo_bench(600, 3, "1e-4:1e0:5", sample_fits=10),
            "startup": startup_bench(reps=3),
        }
    else:
        results = {
            "fit": fit_bench([1000, 2000, 4000, 8000, 12000], reps=5),
            "predict_compute": predict_compute_bench(4000, 200_000, reps=3),
            "predict_e2e": predict_e2e_bench(2000, [250_000, 1_000_000], reps=2),
            "predict_stages": predict_stages_bench(2000, 1_000_000),
            "cv": [cv_bench(1500, 5, "1e-6:1e2:9", 5, reps=2), cv_bench(1500, 5, "1e-6:1e2:30", 5, reps=1)],
            "loo": loo_bench(1500, 5, "1e-6:1e2:9", sample_fits=30),
            "startup": startup_bench(reps=7),
            "large": [large_bench(20_000, 2000, "krr-exact"), large_bench(400_000, 1000, "sklearn-pipeline")],
            "nystrom_cv": [nystrom_cv_bench(50_000, 5, "1e-6:1e2:9", 5, 1000)],
            "scale": scale_bench([10_000, 100_000, 1_000_000], [10_000, 20_000], 1000),
            "huge": huge_bench(10_000_000, 2000),
            "dask": dask_bench(2_000_000, 1000, 8, reps=2),
        }
    results["machine"] = machine()
    name = "quick" if args.quick else "full"
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    text = table(results)
    (RESULTS / f"{name}.txt").write_text(text + "\n")
    print(text)
    if not args.quick and plot(results, RESULTS / "fit.png"):
        log(f"plot: {RESULTS / 'fit.png'}")
    if not args.quick and plot_scale(results, RESULTS / "scale.png"):
        log(f"plot: {RESULTS / 'scale.png'}")
    log(f"results: {out}")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
