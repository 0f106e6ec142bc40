"""krr inspect: what a model file holds."""

from typing import Annotated

import typer

from . import options as o
from .app import app
from .console import print_json, printable, report


@app.command(
    epilog=("\b\nExamples:\n  krr inspect model.joblib\n  krr inspect model.joblib --json | jq .train\n"),
)
def inspect(
    model: o.ModelPath,
    json: o.Json = False,
    spectrum: Annotated[
        bool, typer.Option("--spectrum", help="Show the kernel's eigen-spectrum and shrinkage d/(d+alpha).")
    ] = False,
    plot: Annotated[
        str | None, typer.Option("--plot", help="With --spectrum: write a PNG figure (needs krrcli[plot]).")
    ] = None,
    effects: Annotated[
        bool,
        typer.Option(
            "--effects",
            help="The average marginal effect d<target>/d<feature> of each feature, with its quartiles, over the "
            "training rows (or the centers, for nystrom), or over --data.",
        ),
    ] = False,
    data: Annotated[
        str | None, typer.Option("--data", help="With --effects: a CSV of rows to average the effects over.")
    ] = None,
    sep: o.Sep = ",",
) -> None:
    """Show everything stored in a model file: kernel, parameters, data shape, training metrics, provenance.

    Example: krr inspect model.joblib
    """
    if spectrum or plot:
        _spectrum(model, json, plot)
        return
    if data is not None and not effects:
        from ..errors import UsageError

        raise UsageError("--data is for --effects: krr inspect MODEL --effects --data rows.csv")
    if effects:
        _effects(model, data, sep, json)
        return
    from ..api import inspect_model
    from .fit import render_summary

    info = inspect_model(model)
    if json:
        print_json(info)
        return
    render_summary(info, "Model:")
    con = report()
    if info.get("scaler"):
        con.print(
            "  scaler         mean "
            + ", ".join(f"{v:.4g}" for v in info["scaler"]["mean"])
            + "; scale "
            + ", ".join(f"{v:.4g}" for v in info["scaler"]["scale"])
        )
    rows = [
        ("created", info.get("created") or "-"),
        ("krr version", info.get("krr_version") or "-"),
        ("format", f"{info.get('format')} version {info.get('format_version')}"),
        ("file size", f"{info['file_size']:,} bytes"),
        ("training data", f"{info.get('training_source') or '-'} (sha256 {info.get('training_sha256') or '-'})"),
    ]
    for key, value in rows:
        con.print(f"  {key:<14} {printable(value)}")


def _effects(model: str, data: str | None, sep: str, json: bool) -> None:
    from ..api import model_effects
    from .console import fmt_num

    info = model_effects(model, data, sep)
    if json:
        print_json(info)
        return
    con = report()
    over = info["over"] if data is None else printable(info["over"])
    for target in info["targets"]:
        con.print(
            f"Average marginal effects on {printable(target)} over {info['rows']:,} rows ({over}): "
            "d f / d feature, in the feature's units"
        )
        rows = [e for e in info["effects"] if e["target"] == target]
        width = max(7, *(len(printable(e["feature"])) for e in rows))
        con.print(f"  {'feature':<{width}} {'mean':>10} {'25%':>10} {'median':>10} {'75%':>10}")
        for e in rows:
            cells = " ".join(f"{fmt_num(e[k]):>10}" for k in ("mean", "q25", "median", "q75"))
            con.print(f"  {printable(e['feature']):<{width}} {cells}")


def _spectrum(model: str, json: bool, plot: str | None) -> None:
    from ..api import model_spectrum

    if plot is not None:
        from ..plots import check_plotting

        check_plotting(plot)
    spec = model_spectrum(model)
    if plot is not None:
        from ..plots import plot_spectrum

        plot_spectrum(spec, plot)
    if json:
        print_json(spec)
        return
    d, s = spec["eigenvalues"], spec["shrinkage"]
    con = report()
    gamma = "" if spec["gamma"] is None else f", gamma {spec['gamma']:.4g}"
    rows = f"{spec['n_samples']:,} training rows"
    if spec.get("n_samples_fit", spec["n_samples"]) != spec["n_samples"]:
        rows = f"the model's {spec['n_samples']:,} centers (K_MM; of {spec['n_samples_fit']:,} training rows)"
    con.print(f"Spectrum of the {spec['kernel']} kernel on {rows}{gamma}, alpha {spec['alpha']:g}")
    con.print(f"  eigenvalues    largest {d[0]:.4g}, median {d[len(d) // 2]:.4g}, smallest {d[-1]:.4g}")
    con.print(
        f"  directions     {spec['kept']:,} kept (shrinkage > 0.9), {spec['shrunk']:,} shrunk, "
        f"{spec['suppressed']:,} suppressed (< 0.1)"
    )
    con.print(f"  effective dof  {spec['effective_dof']:.4g} (sum of d/(d+alpha))")
    if spec["negative"]:
        con.print(
            f"  indefinite     {spec['negative']:,} negative eigenvalues (not a positive semi-definite kernel): "
            "factors outside [0, 1]"
        )
    con.print("  top directions " + ", ".join(f"{v:.3g} ({f:.2f})" for v, f in zip(d[:8], s[:8], strict=False)))
