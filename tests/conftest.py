"""Shared fixtures: run the CLI in-process as a user would, and small data files."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from krrcli.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_krr(args: list[str], stdin: bytes | str = b"", cwd: Path | None = None) -> Result:
    """Run ``krr args`` in this process with the given stdin; capture stdout and stderr."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    out_buf, err_buf = io.BytesIO(), io.BytesIO()
    old = sys.stdin, sys.stdout, sys.stderr
    old_cwd = os.getcwd()
    fake = (
        io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
        io.TextIOWrapper(out_buf, encoding="utf-8", write_through=True),
        io.TextIOWrapper(err_buf, encoding="utf-8", write_through=True),
    )
    sys.stdin, sys.stdout, sys.stderr = fake
    try:
        if cwd is not None:
            os.chdir(cwd)
        code = main([str(a) for a in args])
        for f in fake[1:]:
            f.flush()
        out, err = out_buf.getvalue().decode(), err_buf.getvalue().decode()
    finally:
        sys.stdin, sys.stdout, sys.stderr = old
        os.chdir(old_cwd)
        for f in fake:
            f.detach()
    return Result(code, out, err)


@pytest.fixture
def krr():
    """``krr(*args, stdin=...)`` -> Result(exit_code, stdout, stderr)."""

    def _run(*args: object, stdin: bytes | str = b"", cwd: Path | None = None) -> Result:
        return run_krr([str(a) for a in args], stdin=stdin, cwd=cwd)

    return _run


def write_csv(path: Path, header: list[str], rows: np.ndarray | list) -> Path:
    """Write ``rows`` under ``header`` with full float precision."""
    with open(path, "w") as fh:
        fh.write(",".join(header) + "\n")
        for row in rows:
            fh.write(",".join(repr(float(v)) if not isinstance(v, str) else v for v in row) + "\n")
    return path


def make_regression(n: int = 60, d: int = 3, targets: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.column_stack([np.sin(X @ rng.normal(size=d)) + 0.1 * rng.normal(size=n) for _ in range(targets)])
    return X, Y


@pytest.fixture
def train_csv(tmp_path: Path) -> Path:
    """A 60-row CSV with features a, b, c and target y."""
    X, Y = make_regression()
    return write_csv(tmp_path / "train.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))


@pytest.fixture
def model_file(tmp_path: Path, train_csv: Path, krr) -> Path:
    """A model fitted on ``train_csv`` (rbf, gamma 0.5, alpha 0.1)."""
    path = tmp_path / "model.joblib"
    res = krr("fit", train_csv, "--gamma", "0.5", "--alpha", "0.1", "-o", path)
    assert res.exit_code == 0, res.stderr
    return path


def deny_open(monkeypatch, module, path: Path) -> None:
    """Make ``open`` in ``module`` fail for ``path`` as chmod 000 would (root ignores chmod)."""
    import builtins

    if os.geteuid() != 0:
        return
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if os.path.abspath(str(file)) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(module, "open", fake_open, raising=False)


@pytest.fixture(params=["numpy", "pandas"])
def both_parsers(request, monkeypatch):
    """Run a test with the CSV numbers parsed by numpy's loadtxt and by pandas' C parser (see
    krrcli.data.parse.NUMPY_PARSE_MAX_BYTES): the same values, messages and line numbers either way."""
    from krrcli.data import parse

    monkeypatch.setattr(parse, "_pandas_pays", lambda: request.param == "pandas")
    return request.param
