"""krr cv: choose gamma and alpha by cross-validation."""

import sys
from typing import Annotated, Any

import typer

from . import options as o
from .app import app
from .console import err, fmt_num, out, print_json, printable, report_after_saving


@app.command(
    epilog=(
        "\b\nExamples:\n"
        "  krr cv data.csv\n"
        "  krr cv data.csv --gamma 0.01,0.1,1 --alpha 1e-4:1e1:6\n"
        "  krr cv data.csv --folds 5 --metric r2 -o best.joblib\n"
        "  krr cv data.csv --json | jq .best\n"
        "  krr cv 'data/part-*.csv' --folds 5 --engine dask --scheduler tcp://10.0.0.5:8786\n"
    ),
)
def cv(
    data: o.Data,
    target: o.Target = None,
    features: o.Features = None,
    kernel: o.Kernel = "rbf",
    gamma: Annotated[
        str | None,
        typer.Option(
            "--gamma",
            "-g",
            help="Value, list a,b,c or log range LO:HI:N. Default: 7 values around the data's scale.",
        ),
    ] = None,
    alpha: Annotated[
        str | None, typer.Option("--alpha", "-a", help="Value, list or LO:HI:N. Default: 1e-6:1e2:9.")
    ] = None,
    degree: o.Degree = 3,
    coef0: o.Coef0 = 1,
    standardize: o.Standardize = False,
    loo: Annotated[bool, typer.Option("--loo", help="Exact leave-one-out in closed form (the default).")] = False,
    gcv: Annotated[
        bool, typer.Option("--gcv", help="Select by generalized cross-validation (same eigendecomposition as --loo).")
    ] = False,
    refine: Annotated[
        bool | None,
        typer.Option(
            "--refine/--no-refine",
            help="With --loo/--gcv, refine alpha continuously around the best grid point (on by default).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", "-j", help="Gammas scored in parallel worker processes (default: one per core from 1,000 rows)."
        ),
    ] = None,
    plot: Annotated[
        str | None,
        typer.Option("--plot", help="Write a PNG figure of the scores (needs the plot extra: krrcli[plot])."),
    ] = None,
    folds: Annotated[int | None, typer.Option("--folds", help="k-fold cross-validation with N folds.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fold shuffle and of the gamma-scale sample.")] = 0,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="What 'best' means: rmse (default), mae (smallest) or r2. Not with --gcv."),
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Refit on all rows with the best parameters; save here.")
    ] = None,
    solver: Annotated[
        str,
        typer.Option(
            "--solver",
            help="auto (default: exact closed forms up to 10,000 rows, nystrom beyond), exact, or nystrom.",
        ),
    ] = "auto",
    centers: Annotated[
        int | None,
        typer.Option("--centers", help="nystrom: the number of centers M (default: min(n, max(1000, 10 sqrt(n))))."),
    ] = None,
    weights: o.Weights = None,
    intercept: o.Intercept = False,
    categorical: o.Categorical = None,
    missing: o.MissingFit = "error",
    engine: o.Engine = "local",
    scheduler: o.Scheduler = None,
    sep: o.Sep = ",",
    json: o.Json = False,
) -> None:
    """Score a grid of gamma x alpha by cross-validation and name the best pair.

    Leave-one-out (default) is exact and computed in closed form from one
    eigendecomposition per gamma; --gcv selects by generalized cross-validation
    from the same; --folds N uses shuffled k-fold instead. Beyond 10,000 rows the
    Nystrom model is scored (--solver nystrom), from M x M sums in two passes per gamma.
    Example: krr cv data.csv --folds 5 -o best.joblib
    """
    from ..api import cv_csv
    from ..data import parse_features_option
    from ..data.categorical import parse_categorical_option
    from ..errors import UsageError

    if sum([loo, gcv, folds is not None]) > 1:
        raise UsageError("--loo, --gcv and --folds exclude each other; give one")
    if gcv and metric is not None:
        raise UsageError("--gcv selects by the GCV score, so --metric does not apply; give one of them")
    if folds is not None and refine:
        raise UsageError("--refine works with --loo or --gcv (closed forms), not with --folds")
    if plot is not None:
        from ..plots import check_plotting

        check_plotting(plot)
    method = "gcv" if gcv else ("kfold" if folds is not None else "loo")
    with _progress() as progress:
        report = cv_csv(
            data,
            targets=target,
            features=parse_features_option(features),
            sep=sep,
            kernel=kernel,
            gammas=gamma,
            alphas=alpha,
            degree=degree,
            coef0=coef0,
            standardize=standardize,
            folds=folds,
            seed=seed,
            metric=metric or "rmse",
            output=output,
            progress=progress,
            method=method,
            refine=refine is not False,
            jobs=jobs,
            solver=solver,
            n_centers=centers,
            engine=engine,
            scheduler=scheduler,
            weights=weights,
            intercept=intercept,
            categorical=parse_categorical_option(categorical),
            missing=missing,
        )
    if plot is not None:
        from ..plots import plot_cv

        plot_cv(report, plot)
    with report_after_saving(report.get("model")):
        if json:
            print_json(report)
        else:
            render_report(report)
    for note in report.get("notes") or []:
        sys.stderr.write(f"krr: note: {note}\n")  # one line each, unwrapped, for logs and grep


class _progress:
    """A rich progress bar on stderr, advanced by the library's callback."""

    def __enter__(self) -> Any:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        console = err()
        self._bar = Progress(
            TextColumn("cross-validating"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._bar.start()
        self._task = self._bar.add_task("reading data", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        self._bar.update(self._task, completed=done, total=total, description=f"{done}/{total} gamma(s)")

    def __exit__(self, *exc: Any) -> None:
        self._bar.stop()


def _cell_style(value: float, lo: float, hi: float, larger_is_better: bool) -> str:
    """Green (good) to red (poor) by the cell's rank between the grid's best and worst."""
    if not (value == value) or hi <= lo:
        return ""
    q = (value - lo) / (hi - lo)
    if larger_is_better:
        q = 1.0 - q
    return "green" if q < 0.1 else "yellow" if q < 0.4 else "dark_orange" if q < 0.7 else "red"


def render_report(r: dict[str, Any]) -> None:
    import math

    from rich import box
    from rich.table import Table

    con = out()
    metric = r["metric"]
    method = {"loo": "leave-one-out", "gcv": "generalized cross-validation"}.get(
        r["method"], f"{r['folds']}-fold (seed {r['seed']})"
    )
    title = f"{metric} by {method}, {r['kernel']} kernel, {r['n_samples']:,} rows"
    if r.get("rows_dropped"):
        title += f" ({r['rows_dropped']:,} with a missing value left out)"
    if r.get("solver") == "nystrom":
        title += f", nystrom with {r['n_centers']:,} centers"
    if r.get("sample_weights"):
        title += f", weighted by {printable(r['sample_weights'])}"
    if r.get("intercept"):
        title += ", with an intercept"
    if r.get("categorical"):
        title += ", one-hot " + ", ".join(f"{printable(c)} ({len(v)})" for c, v in r["categorical"].items())
    best = r["best"]
    by_cell = {(res["gamma"], res["alpha"]): res for res in r["results"]}
    finite = [res[metric] for res in r["results"] if res.get(metric) is not None and math.isfinite(res[metric])]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    # a narrow terminal gets the alpha columns in several tables rather than truncated cells
    per_table = max(1, (con.width - 13) // 10)
    alphas = r["alphas"]
    for start in range(0, len(alphas), per_table):
        part = alphas[start : start + per_table]
        table = Table(
            title=title if start == 0 else None,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            padding=(0, 1),
        )
        table.add_column("gamma\\alpha", justify="right", no_wrap=True)
        for a in part:
            table.add_column(fmt_num(a, 3), justify="right", no_wrap=True)
        for g in r["gammas"]:
            cells = []
            for a in part:
                res = by_cell[(g, a)]
                value = res.get(metric)
                text = fmt_num(value, 4)
                style = _cell_style(value if value is not None else math.nan, lo, hi, metric == "r2")
                if res["gamma"] == best["gamma"] and res["alpha"] == best["alpha"]:
                    text, style = f"{text}*", f"bold {style}".strip()
                cells.append(f"[{style}]{text}[/]" if style else text)
            table.add_row("-" if g is None else fmt_num(g, 3), *cells)
        con.print(table)
    con.print(_describe("best", best), markup=False)
    if r.get("refined"):
        con.print(_describe("refined", r["refined"]), markup=False)
    if r.get("model"):
        con.print(
            f"refitted on all rows with the {'refined' if r.get('refined') else 'best'} parameters "
            f"-> {printable(r['model'])}",
            markup=False,
        )


def _describe(label: str, res: dict[str, Any]) -> str:
    gamma_txt = "" if res["gamma"] is None else f"gamma {res['gamma']:.6g}, "
    extra = f", gcv {fmt_num(res['gcv'])}" if res.get("gcv") is not None else ""
    dof = f", dof {fmt_num(res['effective_dof'])}" if res.get("effective_dof") is not None else ""
    return (
        f"{label}: {gamma_txt}alpha {res['alpha']:.6g}  (rmse {fmt_num(res['rmse'])}, mae {fmt_num(res['mae'])}, "
        f"r2 {fmt_num(res['r2'])}{extra}{dof})"
    )
