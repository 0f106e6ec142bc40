"""krr fit: train a model on a CSV file."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from . import options as o
from .app import app
from .console import fmt_num, out, print_json, printable, report_after_saving


@app.command(
    epilog=(
        "\b\nExamples:\n"
        "  krr fit data.csv --gamma 1 --alpha 0.001\n"
        "  krr fit data.csv -t price -f area,rooms -k laplacian -o price.joblib\n"
        "  zcat data.csv.gz | krr fit - --json\n"
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
    json: o.Json = False,
) -> None:
    """Fit kernel ridge regression on DATA and save the model.

    Solves (K + alpha*I) w = y by Cholesky; no intercept, same kernels and
    defaults as scikit-learn's KernelRidge. Example: krr fit data.csv --gamma 1 --alpha 0.001
    """
    from ..api import fit_csv
    from ..data import parse_features_option

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
    )
    with report_after_saving(output):
        if json:
            print_json(summary)
        else:
            render_summary(summary, "Fitted")


def render_summary(s: dict[str, Any], verb: str) -> None:
    """The human report shared by fit and inspect."""
    from rich.markup import escape

    con = out()
    con.print(
        f"[bold]{verb}[/bold] {s['kernel']} kernel ridge on {s['n_samples']:,} rows x {s['n_features']} "
        f"feature(s) -> {escape(printable(s['model']))}"
    )
    params = [f"alpha {fmt_num(s['alpha'])}"]
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
        ("solver", f"{s.get('solver') or '-'} ({s.get('dtype', 'float64')})"),
        (
            "training fit",
            f"rmse {fmt_num(s['train'].get('rmse'))}, mae {fmt_num(s['train'].get('mae'))}, "
            f"r2 {fmt_num(s['train'].get('r2'))}",
        ),
        (
            "effective dof",
            f"{fmt_num(s['effective_dof'])} of {s['n_samples']:,}"
            + ("" if s.get("effective_dof_exact", True) else " (Hutchinson estimate)"),
        ),
        ("fit time", _fit_time(s)),
    ]
    for key, value in rows:
        con.print(f"  {key:<14} {value}", markup=False)


def _fit_time(s: dict[str, Any]) -> str:
    if s.get("seconds") is None or s["seconds"] != s["seconds"]:
        return "-"
    read = s.get("read_seconds")
    return f"{s['seconds']:.3g} s" + ("" if read is None else f" (and {read:.3g} s reading the CSV)")
