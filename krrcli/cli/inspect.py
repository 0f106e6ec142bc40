"""krr inspect: what a model file holds."""

from __future__ import annotations

from . import options as o
from .app import app
from .console import out, print_json


@app.command(
    epilog=("\b\nExamples:\n  krr inspect model.joblib\n  krr inspect model.joblib --json | jq .train\n"),
)
def inspect(model: o.ModelPath, json: o.Json = False) -> None:
    """Show everything stored in a model file: kernel, parameters, data shape, training metrics, provenance.

    Example: krr inspect model.joblib
    """
    from ..api import inspect_model
    from .fit import render_summary

    info = inspect_model(model)
    if json:
        print_json(info)
        return
    render_summary(info, "Model:")
    con = out()
    if info.get("scaler"):
        con.print(
            "  scaler         mean "
            + ", ".join(f"{v:.4g}" for v in info["scaler"]["mean"])
            + "; scale "
            + ", ".join(f"{v:.4g}" for v in info["scaler"]["scale"]),
            markup=False,
        )
    rows = [
        ("created", info.get("created") or "-"),
        ("krr version", info.get("krr_version") or "-"),
        ("format", f"{info.get('format')} version {info.get('format_version')}"),
        ("file size", f"{info['file_size']:,} bytes"),
        ("training data", f"{info.get('training_source') or '-'} (sha256 {info.get('training_sha256') or '-'})"),
    ]
    for key, value in rows:
        con.print(f"  {key:<14} {value}", markup=False)
