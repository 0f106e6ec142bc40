"""krr inspect: the report and its JSON."""

from __future__ import annotations

import hashlib
import json


def test_inspect_json_has_fit_keys(krr, model_file, train_csv, tmp_path):
    info = json.loads(krr("inspect", model_file, "--json").stdout)
    fit = json.loads(krr("fit", train_csv, "-g", "0.5", "-a", "0.1", "--json", "-o", tmp_path / "again.joblib").stdout)
    assert set(fit) - {"seconds", "model"} <= set(info)
    for key in ("kernel", "gamma", "alpha", "n_samples", "features", "targets", "effective_dof"):
        assert info[key] == fit[key]
    assert info["train"] == fit["train"]
    assert info["format_version"] == 1 and info["krr_version"]
    assert info["file_size"] == model_file.stat().st_size
    assert info["training_sha256"] == hashlib.sha256(train_csv.read_bytes()).hexdigest()
    assert info["created"].startswith("20")


def test_inspect_report(krr, model_file):
    res = krr("inspect", model_file)
    assert res.exit_code == 0
    for text in (
        "rbf kernel ridge on 60 rows",
        "gamma 0.5, alpha 0.1",
        "features       a, b, c",
        "format         krr-model version 1",
        "file size",
        "created",
    ):
        assert text in res.stdout
