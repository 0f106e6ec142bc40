"""krr fit: train a model on a CSV file."""

from typing import Annotated, Any

import typer

from . import options as o
from .app import app
from .console import fmt_num, print_json, printable, progress_bars, report, report_after_saving


@app.command(
    epilog=(
        "\b\nExamples:\n"
        "  krr fit data.csv --gamma 1 --alpha 0.001\n"
        "  krr fit data.csv -t price -f area,rooms -k laplacian -o price.joblib\n"
        "  zcat data.csv.gz | krr fit - --json\n"
        "  krr fit 'data/part-*.csv.gz' --solver nystrom --centers 2000\n"
        "  krr fit sales.csv -t sales --categorical store,weekday --standardize\n"
        "  krr fit flights.csv -t arr_delay --missing drop\n"
        "  krr fit 'data/part-*.csv' --engine dask --scheduler tcp://10.0.0.5:8786\n"
    ),
)
def fit(
    data: o.Data,
    target: o.Target = None,
    features: o.Features = None,
    kernel: o.Kernel = "rbf",
    gamma: Annotated[
        float | None, typer.Option("--gamma", "-g", help="Kernel coefficient (> 0). Default: 1/n_features.")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", "-a", help="Ridge penalty (>= 0).")] = 1.0,
    degree: o.Degree = 3,
    coef0: o.Coef0 = 1,
    standardize: o.Standardize = False,
    output: Annotated[str, typer.Option("--output", "-o", help="Model file to write (atomically).")] = "model.joblib",
    sep: o.Sep = ",",
    dtype: o.Dtype = "float64",
    solver: o.Solver = "auto",
    centers: Annotated[
        int | None,
        typer.Option("--centers", help="nystrom: the number of centers M (default: min(n, max(1000, 10 sqrt(n))))."),
    ] = None,
    max_iter: Annotated[
        int | None, typer.Option("--max-iter", help="nystrom: at most this many CG iterations (default 200).")
    ] = None,
    tol: Annotated[
        float | None, typer.Option("--tol", help="nystrom: CG stops at this relative residual (default 1e-6).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="nystrom: seed of the center sample.")] = 0,
    weights: o.Weights = None,
    intercept: o.Intercept = False,
    categorical: o.Categorical = None,
    missing: o.MissingFit = "error",
    keep_factor: Annotated[
        bool,
        typer.Option(
            "--keep-factor",
            help="Store the factorization that `krr predict --std / --interval` needs: the n x n Cholesky factor "
            "(8 n^2 bytes in the model file), or two M x M factors for nystrom.",
        ),
    ] = False,
    engine: o.Engine = "local",
    scheduler: o.Scheduler = None,
    json: o.Json = False,
) -> None:
    """Fit kernel ridge regression on DATA and save the model.

    Solves (K + alpha*I) w = y by Cholesky; no intercept unless --intercept, same
    kernels and defaults as scikit-learn's KernelRidge. Beyond 24,000 rows, or what fits in
    memory, it fits the Nystrom model instead (--solver nystrom) and says so.
    Example: krr fit data.csv --gamma 1 --alpha 0.001
    """
    from ..api import fit_csv
    from ..data import parse_features_option
    from ..data.categorical import parse_categorical_option

    with progress_bars():
        summary = fit_csv(
            data,
            output,
            targets=target,
            features=parse_features_option(features),
            sep=sep,
            kernel=kernel,
            gamma=gamma,
            alpha=alpha,
            degree=degree,
            coef0=coef0,
            standardize=standardize,
            dtype=dtype,
            solver=solver,
            n_centers=centers,
            tol=tol,
            max_iter=max_iter,
            seed=seed,
            engine=engine,
            scheduler=scheduler,
            weights=weights,
            intercept=intercept,
            keep_factor=keep_factor,
            categorical=parse_categorical_option(categorical),
            missing=missing,
        )
    with report_after_saving(output):
        if json:
            print_json(summary)
        else:
            render_summary(summary, "Fitted")


def render_summary(s: dict[str, Any], verb: str) -> None:
    """The human report shared by fit and inspect."""
    con = report()
    con.print(
        f"{con.bold(verb)} {s['kernel']} kernel ridge on {s['n_samples']:,} rows x {s['n_features']} "
        f"feature(s) -> {printable(s['model'])}"
    )
    alpha = s["alpha"]
    params = [f"alpha {fmt_num(alpha)}" if not isinstance(alpha, list) else "alpha " + ", ".join(map(fmt_num, alpha))]
    if s["gamma"] is not None:
        params.insert(0, f"gamma {fmt_num(s['gamma'])}")
    if s["kernel"] == "polynomial":
        params.append(f"degree {fmt_num(s['degree'])}")
    if s["kernel"] in ("polynomial", "sigmoid"):
        params.append(f"coef0 {fmt_num(s['coef0'])}")
    rows = [
        ("parameters", ", ".join(params)),
        ("features", printable(", ".join(s["features"]))),
        ("targets", printable(", ".join(s["targets"]))),
        ("standardize", "yes" if s["standardize"] else "no"),
        *_weights_row(s),
        *_dropped_row(s),
        *_categorical_rows(s),
        *([("intercept", ", ".join(fmt_num(b) for b in s["intercept"]))] if s.get("intercept") else []),
        ("solver", f"{s.get('solver') or '-'} ({s.get('dtype', 'float64')})" + _solver_facts(s)),
        (
            "training fit",
            f"rmse {fmt_num(s['train'].get('rmse'))}, mae {fmt_num(s['train'].get('mae'))}, "
            f"r2 {fmt_num(s['train'].get('r2'))}",
        ),
        (
            "effective dof",
            f"{fmt_num(s['effective_dof'])} of {s['n_samples']:,}" + _dof_note(s),
        ),
        *_factor_row(s),
        ("fit time", _fit_time(s)),
    ]
    for key, value in rows:
        con.print(f"  {key:<14} {value}")


def _factor_row(s: dict[str, Any]) -> list[tuple[str, str]]:
    from ..resources import format_bytes

    f = s.get("factor")
    if not f:
        return []
    noise = ", ".join(fmt_num(v) for v in f["noise_var"])
    what = "n x n Cholesky factor" if f["kind"] == "cholesky" else "two M x M factors"
    return [("factor", f"kept for --std: {what}, {format_bytes(f['bytes'])} in the model file; noise variance {noise}")]


def _categorical_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """One line per categorical column: its categories (the first 10)."""
    out = []
    for column, cats in (s.get("categorical") or {}).items():
        shown = ", ".join(cats[:10]) + (f", ... ({len(cats):,} in all)" if len(cats) > 10 else "")
        out.append(("categorical", printable(f"{column} -> {len(cats)} indicators: {shown}")))
    return out


def _dropped_row(s: dict[str, Any]) -> list[tuple[str, str]]:
    dropped = s.get("rows_dropped") or 0
    if not dropped:
        return []
    from ..data.rows import where_dropped

    lines, files = s.get("rows_dropped_lines") or [], s.get("rows_dropped_files") or []
    shown = f" ({where_dropped(dropped, lines, files)})" if lines and len(files) == len(lines) else ""
    return [("missing", printable(f"{dropped:,} row(s) with a missing value left out{shown}"))]


def _weights_row(s: dict[str, Any]) -> list[tuple[str, str]]:
    name = s.get("sample_weights")
    if name is None:
        return []
    zero = s.get("rows_zero_weight") or 0
    left = f" ({zero:,} row(s) of weight 0 left out)" if zero else ""
    return [("weights", printable(f"column {name}" if name != "sample_weight" else "sample_weight") + left)]


def _dof_note(s: dict[str, Any]) -> str:
    dof = s.get("effective_dof")
    if dof is None or dof != dof:
        return " (not computed at this size)"
    if s.get("effective_dof_exact", True):
        return ""
    stderr = (s.get("solver_info") or {}).get("dof_stderr")
    if s.get("solver") == "nystrom" and stderr is None:
        return " (from float32 kernel values: close, not exact)"
    return " (Hutchinson estimate" + ("" if stderr is None else f", standard error {fmt_num(stderr)}") + ")"


def _fit_time(s: dict[str, Any]) -> str:
    if s.get("seconds") is None or s["seconds"] != s["seconds"]:
        return "-"
    read = s.get("read_seconds")
    return f"{s['seconds']:.3g} s" + ("" if read is None else f" (and {read:.3g} s reading the CSV)")


def _solver_facts(s: dict[str, Any]) -> str:
    """An approximate solver's facts: centers, iterations, residual."""
    info = s.get("solver_info") or {}
    if "n_centers" not in info:
        return ""
    state = "converged" if info.get("converged") else "NOT converged"
    start = ", normal equations" if str(info.get("method", "")).startswith("normal equations") else ""
    inner = f" (after {info['inner_iterations']} on M x M)" if info.get("inner_iterations") else ""
    return (
        f", {info['n_centers']:,} centers ({info.get('centers_rule', '-')}){start}, "
        f"{info.get('iterations')} CG iterations over the rows{inner}, "
        f"residual {fmt_num(info.get('residual'), 2)} ({state})"
    )
