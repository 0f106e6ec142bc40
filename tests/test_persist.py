"""Model files: they round-trip exactly, hold only plain data, and anything else is refused safely.

A refused model file gives :class:`krrcli.ModelFileError` from ``krrcli.load_model``
and, through the command line, one ``krr: error:`` line and exit code 4 (no
traceback, no output written). A malicious pickle must be refused *before*
anything in it runs: the marker file its payload would create must not exist.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

import krrcli
import krrcli.persist.joblib_reader
from krrcli import KernelRidge, ModelFileError
from krrcli.errors import EXIT_MODEL_FILE
from krrcli.persist import FORMAT_VERSION, safe_load, save_model

from .conftest import deny_open


# -- helpers ----------------------------------------------------------------
def assert_error(res, code: int, *parts: str) -> None:
    assert res.exit_code == code, (res.exit_code, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("krr: error: "), res.stderr
    for part in parts:
        assert part in res.stderr, (part, res.stderr)


def assert_refused_everywhere(krr, path: Path, train_csv: Path, *parts: str) -> None:
    """load_model raises ModelFileError; krr predict and krr inspect exit 4 with one clean line."""
    with pytest.raises(ModelFileError) as info:
        krrcli.load_model(str(path))
    for part in parts:
        assert part in str(info.value), (part, str(info.value))
    out = path.parent / "refused_pred.csv"
    res = krr("predict", path, train_csv, "-o", out)
    assert_error(res, EXIT_MODEL_FILE, path.name, *parts)
    assert res.stdout == ""
    assert not out.exists()
    res = krr("predict", path, train_csv)
    assert_error(res, EXIT_MODEL_FILE, path.name, *parts)
    assert res.stdout == ""
    res = krr("inspect", path)
    assert_error(res, EXIT_MODEL_FILE, path.name, *parts)
    assert res.stdout == ""
    res = krr("inspect", path, "--json")
    assert_error(res, EXIT_MODEL_FILE, path.name, *parts)
    assert res.stdout == ""


def regression(n: int = 40, d: int = 3, targets: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.column_stack([np.sin(X @ rng.normal(size=d)) + 0.1 * rng.normal(size=n) for _ in range(targets)])
    return X, (Y[:, 0] if targets == 1 else Y)


class Payload:
    """Unpickling this runs a shell command (here: creating a marker file)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class EvalPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.fixture
def record(model_file: Path) -> dict:
    """The plain record of a valid model, read with the safe loader."""
    return safe_load(str(model_file))


# -- round trip -----------------------------------------------------------------
@pytest.mark.parametrize(
    "params, targets",
    [
        (dict(kernel="rbf", gamma=0.5, alpha=0.1), 1),
        (dict(kernel="rbf", gamma=None, alpha=1.0, standardize=True), 1),
        (dict(kernel="laplacian", gamma=0.3, alpha=0.01), 2),
        (dict(kernel="polynomial", gamma=0.2, alpha=0.5, degree=2, coef0=0.5), 1),
        (dict(kernel="sigmoid", gamma=0.1, alpha=0.5, coef0=-1.0), 1),
        (dict(kernel="cosine", alpha=0.1), 1),
        (dict(kernel="linear", alpha=0.1, solver="primal", standardize=True), 2),
        (dict(kernel="rbf", gamma=0.5, alpha=0.1, solver="eigh"), 1),
    ],
)
def test_round_trip_predictions_identical(tmp_path, params, targets):
    X, y = regression(targets=targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sigmoid: "not positive definite, solving by least squares"
        model = KernelRidge(**params).fit(X, y)
    path = tmp_path / "m.joblib"
    save_model(model, str(path))
    loaded = krrcli.load_model(str(path))
    X_new = np.random.default_rng(7).normal(size=(25, X.shape[1]))
    p0, p1 = model.predict(X_new), loaded.predict(X_new)
    assert p0.shape == p1.shape
    assert np.array_equal(p0, p1)
    assert loaded.kernel == model.kernel
    assert loaded.gamma_ == model.gamma_
    assert loaded.alpha == model.alpha
    assert loaded.solver_ == model.solver_
    assert loaded.feature_names_in_ == model.feature_names_in_
    assert loaded.target_names_ == model.target_names_
    assert loaded.train_scores_ == model.train_scores_
    # the method on the estimator writes the same thing
    path2 = tmp_path / "m2.joblib"
    model.save(str(path2))
    assert np.array_equal(krrcli.load_model(str(path2)).predict(X_new), p0)


def test_round_trip_through_the_cli(krr, tmp_path, train_csv, model_file):
    res = krr("predict", model_file, train_csv)
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "y_pred"
    cli_pred = np.array([float(v) for v in lines[1:]])
    data = np.loadtxt(train_csv, delimiter=",", skiprows=1)
    lib_pred = krrcli.load_model(str(model_file)).predict(data[:, :3])
    # the printed values read back exactly; the CLI feeds the kernel a Fortran-ordered block from
    # pandas, so the last bit may differ from a C-ordered call (see the report), hence the tolerance
    np.testing.assert_allclose(cli_pred, lib_pred, rtol=0, atol=1e-12)
    info = krr("inspect", model_file)
    assert info.exit_code == 0, info.stderr
    assert f"version {FORMAT_VERSION}" in info.stdout


def test_saved_model_is_not_left_as_temp_file(tmp_path, krr, train_csv):
    dest = tmp_path / "fresh.joblib"
    assert krr("fit", train_csv, "-o", dest).exit_code == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".krr-")] == []
    # overwriting keeps working and leaves no temp file either
    assert krr("fit", train_csv, "--alpha", "0.5", "-o", dest).exit_code == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".krr-")] == []
    assert krrcli.load_model(str(dest)).alpha == 0.5


# -- the record holds plain data only ---------------------------------------------
PLAIN = (str, int, float, bool, type(None))


def _walk(obj, where="record"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, str), f"{where}: key {k!r} is not a str"
            yield from _walk(v, f"{where}[{k!r}]")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{where}[{i}]")
    elif isinstance(obj, np.ndarray):
        assert obj.dtype == np.float64, f"{where}: array of dtype {obj.dtype}"
        yield where
    else:
        assert type(obj) in PLAIN, f"{where}: {type(obj).__module__}.{type(obj).__name__} is not plain data"
        yield where


@pytest.mark.parametrize(
    "extra", [[], ["--standardize"], ["-k", "linear", "--alpha", "0.1"], ["-t", "y", "-t", "c", "-k", "polynomial"]]
)
def test_saved_record_is_plain_data(krr, tmp_path, train_csv, extra):
    dest = tmp_path / "m.joblib"
    res = krr("fit", train_csv, *extra, "-o", dest)
    assert res.exit_code == 0, res.stderr
    # read with the ordinary (unrestricted) loader so the check does not rely on the safe one
    rec = joblib.load(dest)
    assert type(rec) is dict
    assert rec["format"] == "krr-model"
    assert rec["format_version"] == FORMAT_VERSION
    assert list(_walk(rec))
    # and the safe loader reads the very same thing
    safe = safe_load(str(dest))
    assert safe.keys() == rec.keys()
    for key in rec:
        if isinstance(rec[key], np.ndarray):
            assert np.array_equal(rec[key], safe[key])
        elif isinstance(rec[key], float) and np.isnan(rec[key]):
            assert np.isnan(safe[key])
        else:
            assert rec[key] == safe[key], key


# -- malicious pickles ----------------------------------------------------------
def _payload_files(tmp_path: Path, marker: Path, record: dict) -> dict[str, Path]:
    cmd = f"touch {marker}"
    files = {}

    def put(name: str, writer) -> None:
        path = tmp_path / name
        writer(path)
        files[name] = path

    put("bare.joblib", lambda p: joblib.dump(Payload(cmd), p))
    put("in_dict.joblib", lambda p: joblib.dump({"format": "krr-model", "format_version": 1, "x": Payload(cmd)}, p))
    put("in_model.joblib", lambda p: joblib.dump({**record, "kernel": Payload(cmd)}, p))
    put("compressed.joblib", lambda p: joblib.dump({**record, "evil": Payload(cmd)}, p, compress=3))
    put("object_array.joblib", lambda p: joblib.dump({**record, "centers": np.array([Payload(cmd)], dtype=object)}, p))
    put("eval.joblib", lambda p: joblib.dump({**record, "evil": EvalPayload(marker)}, p))
    for proto in (0, 2, pickle.HIGHEST_PROTOCOL):

        def dump(p, proto=proto):
            with open(p, "wb") as fh:
                pickle.dump({**record, "evil": Payload(cmd)}, fh, protocol=proto)

        put(f"plain_pickle_p{proto}.pkl", dump)

    def dump_obj_array(p):
        with open(p, "wb") as fh:
            pickle.dump({**record, "centers": np.array([1.0, Payload(cmd)], dtype=object)}, fh)

    put("plain_object_array.pkl", dump_obj_array)
    return files


MALICIOUS = [
    "bare.joblib",
    "in_dict.joblib",
    "in_model.joblib",
    "compressed.joblib",
    "object_array.joblib",
    "eval.joblib",
    "plain_pickle_p0.pkl",
    "plain_pickle_p2.pkl",
    f"plain_pickle_p{pickle.HIGHEST_PROTOCOL}.pkl",
    "plain_object_array.pkl",
]


@pytest.mark.parametrize("name", MALICIOUS)
def test_malicious_pickle_is_refused_and_never_runs(krr, tmp_path, train_csv, record, name):
    marker = tmp_path / "pwned"
    path = _payload_files(tmp_path, marker, record)[name]
    assert not marker.exists()
    assert_refused_everywhere(krr, path, train_csv, "refusing to load")
    assert not marker.exists(), "the payload ran"


def test_payload_really_works_with_an_unsafe_loader(tmp_path, record):
    """Guard for the test above: the payload does create the marker when loaded unsafely."""
    marker = tmp_path / "pwned"
    path = _payload_files(tmp_path, marker, record)["in_dict.joblib"]
    joblib.load(path)
    assert marker.exists()


@pytest.mark.parametrize(
    "how, fragment",
    [
        ("joblib-dict", "array of Python objects"),
        ("joblib-in-model", "array of Python objects"),
        # a plain pickle's arrays are rebuilt by a numpy function, refused before the dtype is seen
        ("pickle-in-model", "plain pickle of numpy arrays"),
    ],
)
def test_object_array_is_refused(krr, tmp_path, train_csv, record, how, fragment):
    arr = np.array([1, "a"], dtype=object)
    path = tmp_path / "objects.joblib"
    if how == "joblib-dict":
        joblib.dump({"format": "krr-model", "format_version": 1, "kernel": "rbf", "x": arr}, path)
    elif how == "joblib-in-model":
        joblib.dump({**record, "centers": arr}, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump({**record, "mean": arr}, fh)
    assert_refused_everywhere(krr, path, train_csv, "refusing to load", fragment)


# -- broken and foreign files -----------------------------------------------------
def _broken(kind: str, tmp_path: Path, model_file: Path) -> Path:
    path = tmp_path / f"{kind}.joblib"
    raw = model_file.read_bytes()
    if kind == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "truncated-early":
        path.write_bytes(raw[:20])
    elif kind == "truncated-compressed":
        joblib.dump(safe_load(str(model_file)), path, compress=3)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a model\njust some text\n")
    elif kind == "csv":
        path.write_text("a,b,c,y\n1,2,3,4\n")
    elif kind == "foreign-dict":
        joblib.dump({"a": 1}, path)
    elif kind == "foreign-list":
        joblib.dump([1.0, 2.0], path)
    elif kind == "foreign-array":
        joblib.dump(np.zeros(3), path)
    elif kind == "other-format":
        joblib.dump({"format": "sklearn-model", "format_version": 1}, path)
    else:  # pragma: no cover
        raise AssertionError(kind)
    return path


@pytest.mark.parametrize(
    "kind, fragment",
    [
        ("truncated", "cannot load"),
        ("truncated-early", "cannot load"),
        ("truncated-compressed", "compressed"),
        ("random", "cannot load"),
        ("empty", "cannot load"),
        ("text", "cannot load"),
        ("csv", "cannot load"),
        ("foreign-dict", "not a krr model"),
        ("foreign-list", "not a krr model"),
        ("foreign-array", "not a krr model"),
        ("other-format", "not a krr model"),
    ],
)
def test_broken_or_foreign_model_file(krr, tmp_path, train_csv, model_file, kind, fragment):
    path = _broken(kind, tmp_path, model_file)
    assert_refused_everywhere(krr, path, train_csv, fragment)


def test_truncated_file_message_is_clear(krr, tmp_path, train_csv, model_file):
    path = _broken("truncated", tmp_path, model_file)
    res = krr("inspect", path)
    assert_error(res, EXIT_MODEL_FILE, "truncated.joblib")
    assert any(w in res.stderr for w in ("truncated", "corrupt"))


def test_newer_format_version(krr, tmp_path, train_csv, record):
    record["format_version"] = 99
    path = tmp_path / "future.joblib"
    joblib.dump(record, path)
    assert_refused_everywhere(krr, path, train_csv, "format version 99", "newer", "upgrade krr")


@pytest.mark.parametrize("value", [None, "1", 1.0])
def test_invalid_format_version(krr, tmp_path, train_csv, record, value):
    record["format_version"] = value
    path = tmp_path / "noversion.joblib"
    joblib.dump(record, path)
    assert_refused_everywhere(krr, path, train_csv, "format version")


@pytest.mark.parametrize("key", ["kernel", "centers", "dual_coef", "features", "targets", "alpha"])
def test_missing_required_entry(krr, tmp_path, train_csv, record, key):
    del record[key]
    path = tmp_path / "partial.joblib"
    joblib.dump(record, path)
    assert_refused_everywhere(krr, path, train_csv, "damaged", repr(key))


def test_arrays_that_do_not_match(krr, tmp_path, train_csv, record):
    record["centers"] = record["centers"][:, :2]
    path = tmp_path / "mismatch.joblib"
    joblib.dump(record, path)
    assert_refused_everywhere(krr, path, train_csv, "damaged")


def test_unknown_kernel_in_file(krr, tmp_path, train_csv, record):
    record["kernel"] = "gaussian"
    path = tmp_path / "kernel.joblib"
    joblib.dump(record, path)
    assert_refused_everywhere(krr, path, train_csv, "damaged", "gaussian")


@pytest.mark.parametrize(
    "damage",
    [
        "centers-strings",
        "scaler-wrong-length",
        "dual_coef-extra-column",
        "mean-text",
        "dual_coef-nan",
        "centers-inf",
        "solver-unknown",
        "dtype-unknown",
    ],
)
def test_inconsistent_record_is_a_model_file_error(krr, tmp_path, train_csv, record, damage):
    """A record whose entries have the right names but unusable contents is a damaged file (exit 4), not a crash."""
    if damage == "dual_coef-nan":
        record["dual_coef"] = record["dual_coef"].copy()
        record["dual_coef"].flat[3] = np.nan
    elif damage == "centers-inf":
        record["centers"] = record["centers"].copy()
        record["centers"][0, 0] = np.inf
    elif damage == "solver-unknown":
        record["solver"] = "magic"
    elif damage == "dtype-unknown":
        record["dtype"] = "float16"
    elif damage == "centers-strings":
        record["centers"] = record["centers"].astype(str)
    elif damage == "scaler-wrong-length":
        record.update(standardize=True, mean=np.zeros(2), scale=np.ones(2))
    elif damage == "dual_coef-extra-column":
        record.update(dual_coef=np.zeros((record["centers"].shape[0], 2)), y_1d=False)
    else:
        record.update(standardize=True, mean="abc", scale=None)
    path = tmp_path / "inconsistent.joblib"
    joblib.dump(record, path)
    res = krr("predict", path, train_csv)
    assert_error(res, EXIT_MODEL_FILE, "inconsistent.joblib")
    assert res.stdout == ""


# -- paths ------------------------------------------------------------------------
def test_missing_model_file(krr, tmp_path, train_csv):
    path = tmp_path / "nope.joblib"
    assert_refused_everywhere(krr, path, train_csv, "no such file")


def test_folder_as_model_file(krr, tmp_path, train_csv):
    path = tmp_path / "model_dir"
    path.mkdir()
    assert_refused_everywhere(krr, path, train_csv, "folder")


def test_unreadable_model_file(krr, tmp_path, train_csv, model_file, monkeypatch):
    """chmod 000; as root that does not block reading, so opening is made to fail the same way."""
    deny_open(monkeypatch, krrcli.persist.joblib_reader, model_file)
    model_file.chmod(0)
    try:
        res = krr("inspect", model_file)
        res2 = krr("predict", model_file, train_csv, "-o", tmp_path / "p.csv")
    finally:
        model_file.chmod(0o644)
    assert_error(res, EXIT_MODEL_FILE, "model.joblib", "permission denied")
    assert_error(res2, EXIT_MODEL_FILE, "model.joblib", "permission denied")
    assert not (tmp_path / "p.csv").exists()


def test_bad_model_leaves_existing_output_untouched(krr, tmp_path, train_csv, record):
    record["format_version"] = 99
    path = tmp_path / "future.joblib"
    joblib.dump(record, path)
    dest = tmp_path / "pred.csv"
    dest.write_text("old\n")
    before = dest.read_bytes(), dest.stat().st_mtime_ns
    res = krr("predict", path, train_csv, "-o", dest)
    assert_error(res, EXIT_MODEL_FILE)
    assert (dest.read_bytes(), dest.stat().st_mtime_ns) == before


# -- model files that would exhaust memory or time -------------------------------
def _load_cost(path: Path) -> tuple[BaseException | None, int]:
    """Load ``path``; return the error raised and the peak of memory allocated meanwhile (bytes)."""
    import tracemalloc

    tracemalloc.start()
    try:
        krrcli.load_model(str(path))
        error = None
    except BaseException as exc:  # noqa: BLE001  the caller asserts what it was
        error = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return error, peak


def test_tiny_pickle_building_a_huge_list_is_refused_at_once(krr, tmp_path, train_csv):
    """43 bytes that unpickle to list(bytes(200_000_000)): 1.6 GB for any loader that calls builtins."""
    stream = b"\x80\x02cbuiltins\nlist\ncbuiltins\nbytes\nJ\x00\xc2\xeb\x0b\x85R\x85R."
    path = tmp_path / "bomb.joblib"
    path.write_bytes(stream)
    assert len(stream) == 43
    error, peak = _load_cost(path)
    assert isinstance(error, ModelFileError) and "builtins.list" in str(error)
    assert peak < 2**20
    assert_refused_everywhere(krr, path, train_csv, "refusing to load", "builtins.list")


def test_compressed_file_that_expands_is_refused_before_expanding(krr, tmp_path, train_csv, record, monkeypatch):
    """A zlib-compressed joblib file whose array expands to 48 MiB, under a 10 MiB memory limit."""
    path = tmp_path / "zbomb.joblib"
    joblib.dump({**record, "centers": np.zeros((2_000_000, 3))}, path, compress=("zlib", 3))
    assert path.stat().st_size < 2**20
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "10M")
    error, peak = _load_cost(path)
    assert isinstance(error, ModelFileError) and "compressed" in str(error)
    assert peak < 2**20
    assert_refused_everywhere(krr, path, train_csv, "refusing to load", "compressed (zlib)")


def _dump_with_declared_shape(path: Path, record: dict, key: str, shape: tuple[int, ...]) -> None:
    """joblib.dump ``record``, with the array ``key`` described as ``shape`` but its real (small) data written."""
    from joblib import numpy_pickle

    real = numpy_pickle.NumpyPickler._create_array_wrapper
    target = record[key]

    def lying(self, array):
        wrapper = real(self, array)
        if array is target:
            wrapper.shape = shape
        return wrapper

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(numpy_pickle.NumpyPickler, "_create_array_wrapper", lying)
        joblib.dump(record, path)


def test_array_declaring_more_than_the_file_holds_is_refused_before_allocating(krr, tmp_path, train_csv, record):
    path = tmp_path / "forged.joblib"
    _dump_with_declared_shape(path, record, "centers", (10**6, 10**4))  # 75 GiB declared, 1.4 KiB stored
    error, peak = _load_cost(path)
    assert isinstance(error, ModelFileError), error
    assert "'centers' declares shape (1000000, 10000)" in str(error)
    assert peak < 2**20
    assert_refused_everywhere(krr, path, train_csv, "cannot load", "centers", "74.5 GiB")


def test_array_larger_than_the_memory_available_is_refused_before_allocating(krr, tmp_path, record, monkeypatch):
    from krrcli.errors import EXIT_RESOURCES

    path = tmp_path / "big.joblib"
    X = np.random.default_rng(0).normal(size=(20_000, 3))
    joblib.dump({**record, "centers": X, "n_samples_fit": 20_000, "dual_coef": np.zeros(20_000)}, path)
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "100K")
    res = krr("inspect", path)
    monkeypatch.delenv("KRR_MEMORY_LIMIT")
    assert_error(res, EXIT_RESOURCES, "array 'centers'", "big.joblib", "468.8 KiB")
    assert res.stdout == ""
    # with the memory there, the same file loads
    assert krr("inspect", path).exit_code == 0


def _stream(*ops: bytes) -> bytes:
    return b"\x80\x04" + b"".join(ops) + b"."


def test_shared_references_cannot_make_checking_exponential(tmp_path, record):
    """60 levels of (a, a): 2**60 paths through 420 bytes; a walk over the structure would never end."""
    ops = [b"]\x94"]  # a = [], stored as back-reference 1 (the record dict is 0)
    for i in range(1, 61):  # level i = (level i - 1, level i - 1), stored as back-reference i + 1
        ops.append(b"h" + bytes([i]) + b"h" + bytes([i]) + b"\x86\x94")
    head = b"}\x94(\x8c\x06format\x8c\tkrr-model\x8c\x0eformat_version\x4b\x01\x8c\x08features]("
    path = tmp_path / "dag.joblib"
    path.write_bytes(_stream(head, *ops, b"eu"))  # the levels are the items of 'features'
    assert len(path.read_bytes()) < 500
    error, peak = _load_cost(path)
    assert isinstance(error, ModelFileError) and "is damaged" in str(error), error
    assert peak < 2**20
    # the same structure in an otherwise valid record: the check names the entry without walking it
    dag = krrcli.persist.read_joblib(str(path))["features"]
    with pytest.raises(ModelFileError, match="entry 'features' is a list of 61 items"):
        krrcli.persist.check_record({**record, "features": dag}, "m.joblib")


def test_a_stream_of_many_operations_is_cut_short(tmp_path):
    """Five million back-references cost time and a dict entry each; the reader stops at its cap."""
    from krrcli.persist.joblib_reader import MAX_ITEMS

    path = tmp_path / "ops.joblib"
    path.write_bytes(b"\x80\x04N" + b"\x94" * 5_000_000 + b".")
    error, peak = _load_cost(path)
    assert isinstance(error, ModelFileError) and f"more than {MAX_ITEMS:,} values" in str(error)
    assert peak < 64 * 2**20


@pytest.mark.parametrize(
    "name, stream",
    [
        ("values left on the stack", b"\x80\x04" + b"K\x01" * 2_000_000 + b"."),
        ("open marks", b"\x80\x04" + b"(" * 2_000_000 + b"."),
        ("no-op operations", b"\x80\x04" * 2_000_000 + b"N."),
    ],
)
def test_operations_that_build_nothing_lasting_are_bounded(tmp_path, name, stream):
    """Two million pushes, marks or protocol headers: each costs memory or time; the reader stops early."""
    path = tmp_path / "ops.joblib"
    path.write_bytes(stream)
    error, peak = _load_cost(path)
    assert isinstance(error, ModelFileError) and "refusing to load" in str(error), (name, error)
    assert peak < 8 * 2**20


def test_a_huge_declared_text_is_refused_before_reading(tmp_path):
    path = tmp_path / "text.joblib"
    path.write_bytes(b"\x80\x04\x8d" + (2**40).to_bytes(8, "little") + b"abc")
    error, peak = _load_cost(path)
    assert isinstance(error, ModelFileError) and "text of 1,099,511,627,776 bytes" in str(error)
    assert peak < 2**20


def test_damaged_bytes_never_crash(tmp_path, model_file):
    """Every single-byte change of a real model file ends in a krr error or a valid model, never in a crash."""
    from krrcli.errors import KrrError

    raw = bytearray(model_file.read_bytes())
    path = tmp_path / "mutant.joblib"
    rng = np.random.default_rng(1)
    for pos in rng.choice(len(raw), size=min(400, len(raw)), replace=False):
        mutant = bytearray(raw)
        mutant[pos] = (mutant[pos] + 1 + int(rng.integers(255))) % 256
        path.write_bytes(bytes(mutant))
        try:
            model = krrcli.load_model(str(path))
        except KrrError:
            continue
        # what loads is a model whose every field passed the checks: it predicts finite values
        X = np.zeros((2, model.n_features_in_))
        assert np.all(np.isfinite(model.predict(X)))


# -- every field is checked ----------------------------------------------------------
def _damage(record: dict, how: str) -> str:
    """Damage ``record`` in place; return the field name the error must mention."""
    n = record["centers"].shape[0]
    if how == "train-list":
        record["train"] = [1.0, 2.0]
        return "'train'"
    if how == "effective_dof-text":
        record["effective_dof"] = "3.5"
        return "'effective_dof'"
    if how == "fit_seconds-text":
        record["fit_seconds"] = "fast"
        return "'fit_seconds'"
    if how == "versions-list":
        record["versions"] = ["1.0"]
        return "'versions'"
    if how == "y_1d-two-targets":
        record.update(dual_coef=np.zeros((n, 2)), targets=["y", "z"], y_1d=True)
        return "'y_1d'"
    if how == "scale-zeros":
        d = record["centers"].shape[1]
        record.update(standardize=True, mean=np.zeros(d), scale=np.zeros(d))
        return "'scale'"
    if how == "rbf-primal":
        record.update(solver="primal", coef=np.zeros(record["centers"].shape[1]))
        return "'solver'"
    if how == "format_version-negative":
        record["format_version"] = -5
        return "format version (-5)"
    # cases of our own, in the same class
    if how == "gamma-negative":
        record["gamma"] = -0.5
        return "'gamma'"
    if how == "gamma-bool":
        record["gamma"] = True
        return "'gamma'"
    if how == "alpha-nan":
        record["alpha"] = float("nan")
        return "'alpha'"
    if how == "created-garbage":
        record["created"] = "yesterday"
        return "'created'"
    if how == "unknown-entry":
        record["backdoor"] = "x"
        return "'backdoor'"
    if how == "features-duplicate":
        record["features"] = ["a", "a", "c"]
        return "'features'"
    if how == "coef-with-cholesky":
        record["coef"] = np.zeros(record["centers"].shape[1])
        return "'coef'"
    if how == "scaler-without-standardize":
        d = record["centers"].shape[1]
        record.update(mean=np.zeros(d), scale=np.ones(d))
        return "'standardize'"
    if how == "r2-above-one":
        record["train"] = {"rmse": 0.1, "mae": 0.1, "r2": 7.0}
        return "'r2'"
    if how == "sha-not-hex":
        record["training_sha256"] = "zz"
        return "'training_sha256'"
    if how == "linear-with-gamma":
        record.update(kernel="linear")
        return "'gamma'"
    raise AssertionError(how)  # pragma: no cover


DAMAGES = [
    "train-list",
    "effective_dof-text",
    "fit_seconds-text",
    "versions-list",
    "y_1d-two-targets",
    "scale-zeros",
    "rbf-primal",
    "format_version-negative",
    "gamma-negative",
    "gamma-bool",
    "alpha-nan",
    "created-garbage",
    "unknown-entry",
    "features-duplicate",
    "coef-with-cholesky",
    "scaler-without-standardize",
    "r2-above-one",
    "sha-not-hex",
    "linear-with-gamma",
]


@pytest.mark.parametrize("how", DAMAGES)
def test_every_field_is_checked_on_load(krr, tmp_path, train_csv, record, how):
    field = _damage(record, how)
    path = tmp_path / "damaged.joblib"
    joblib.dump(record, path)
    assert_refused_everywhere(krr, path, train_csv, field)


def test_a_model_that_would_be_refused_is_never_saved(tmp_path):
    """The same checks run before writing: a model whose names repeat is not saved."""
    X, y = regression()
    model = KernelRidge(alpha=0.1).fit(X, y)
    model.feature_names_in_ = ["a", "a", "b"]
    path = tmp_path / "never.joblib"
    with pytest.raises(krrcli.DataError, match="cannot save the model"):
        save_model(model, str(path))
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


# -- hostile streams that once crashed or hung the reader -----------------------------
def _text(t: str) -> bytes:
    b = t.encode()
    return b"\x8c" + bytes([len(b)]) + b


def _get(i: int) -> bytes:
    return b"h" + bytes([i])


def test_a_non_text_key_is_described_without_walking_it(tmp_path):
    """A dict key made of 30 levels of shared halves: printing it whole would take 2**30 steps."""
    x = b"()\x94"
    for k in range(1, 30):
        x += _get(k) + _get(k) + b"\x86\x94"  # the record dict is back-reference 0
    path = tmp_path / "key.joblib"
    path.write_bytes(b"\x80\x04}\x94" + x + b"tNs.")
    error, peak = _load_cost(path)
    assert isinstance(error, ModelFileError) and "dict key that is not text (a tuple of 30 items)" in str(error)
    assert peak < 2**20


def test_deep_nesting_does_not_exhaust_the_stack(krr, tmp_path, train_csv):
    path = tmp_path / "deep.joblib"
    path.write_bytes(b"\x80\x04})" + b"\x85" * 150_000 + b"Ns.")
    assert_refused_everywhere(krr, path, train_csv, "refusing to load", "dict key that is not text")


@pytest.mark.parametrize("where", ["dtype", "format", "newobj", "reduce"])
def test_an_array_cannot_be_referred_back_to(krr, tmp_path, train_csv, record, where):
    """An array stored once, then fetched by back-reference into a place compared with == (was a ValueError)."""
    raw = bytearray()
    path = tmp_path / "src.joblib"
    joblib.dump({"centers": record["centers"]}, path)
    raw = path.read_bytes()
    assert raw.endswith(b"u.") or raw.endswith(b"s.")
    body = raw[:-2] + (b"s" if raw.endswith(b"s.") else b"u")
    # remember the array after it was read (back-reference 200), then use it elsewhere
    body = body[:-1] + b"q\xc8" + body[-1:]
    tail = {
        "dtype": _text("dtype") + _get(200) + b"s.",
        "format": _text("format") + _get(200) + b"s.",
        "newobj": _text("x")
        + _text("joblib.numpy_pickle")
        + _text("NumpyArrayWrapper")
        + b"\x93"
        + _get(200)
        + b"\x81s.",
        "reduce": _text("x") + _text("numpy") + _text("dtype") + b"\x93" + _text("f8") + _get(200) + b"\x88\x87Rs.",
    }[where]
    path.write_bytes(bytes(body) + tail)
    assert_refused_everywhere(krr, path, train_csv, "refusing to load", "refers back to an array")


def test_a_zero_length_dimension_cannot_hide_a_huge_one(krr, tmp_path, train_csv, record):
    path = tmp_path / "zero.joblib"
    _dump_with_declared_shape(path, record, "centers", (0, 2**62))
    assert_refused_everywhere(krr, path, train_csv, "cannot load", "'centers' declares shape (0, 4611686018427387904)")


# -- format versions ----------------------------------------------------------------------
DATA = Path(__file__).resolve().parent / "data"


def test_a_version_1_file_still_loads_and_predicts(krr, tmp_path):
    """tests/data/model_v1.joblib: written by format 1 (`krr fit v1_train.csv --standardize -g 0.5 -a 0.01`)."""
    old = krrcli.load_model(str(DATA / "model_v1.joblib"))
    assert old.n_samples_fit_ == 30 and old.centers_.shape == (30, 3) and old.X_fit_ is old.centers_
    train = np.loadtxt(DATA / "v1_train.csv", delimiter=",", skiprows=1)
    new = KernelRidge(gamma=0.5, alpha=0.01, standardize=True).fit(train[:, :3], train[:, 3])
    X_new = np.random.default_rng(9).normal(size=(15, 3))
    np.testing.assert_allclose(old.predict(X_new), new.predict(X_new), rtol=1e-12, atol=1e-14)
    info = krr("inspect", DATA / "model_v1.joblib", "--json")
    assert info.exit_code == 0, info.stderr
    assert '"format_version": 1' in info.stdout and '"n_samples": 30' in info.stdout
    res = krr("predict", DATA / "model_v1.joblib", DATA / "v1_train.csv")
    assert res.exit_code == 0 and res.stdout.startswith("y_pred\n")


def test_a_version_1_file_is_checked_as_strictly(tmp_path):
    record = joblib.load(DATA / "model_v1.joblib")
    assert record["format_version"] == 1 and "X_fit" in record and "centers" not in record
    path = tmp_path / "v1.joblib"
    joblib.dump({**record, "n_samples_fit": 30}, path)  # a version-2 entry in a version-1 file
    with pytest.raises(ModelFileError, match="entry 'n_samples_fit' is not part of the krr model format"):
        krrcli.load_model(str(path))
    joblib.dump({**record, "X_fit": record["X_fit"][:, :2]}, path)
    with pytest.raises(ModelFileError, match="do not match the 3 feature"):
        krrcli.load_model(str(path))


def test_records_since_version_2_hold_centers_rows_and_what_the_solver_did(tmp_path, monkeypatch):
    monkeypatch.setattr(krrcli.solvers.direct, "FLOAT32_MAX_RESIDUAL", 0.0)
    X, y = regression()
    with pytest.warns(krrcli.solvers.KrrWarning):
        model = KernelRidge(gamma=0.5, alpha=0.1, dtype="float32").fit(X, y)
    path = tmp_path / "v2.joblib"
    save_model(model, str(path))
    record = safe_load(str(path))
    assert record["format_version"] == FORMAT_VERSION and "X_fit" not in record
    assert record["centers"].shape == (40, 3) and record["n_samples_fit"] == 40
    assert record["dtype"] == "float64" and record["fallbacks"][0].startswith("float32 -> float64")
    assert record["solver_options"] == {} and record["solver_info"] == {}
    loaded = krrcli.load_model(str(path))
    assert loaded.fallbacks_ == model.fallbacks_ and loaded.dtype_ == "float64"


def test_a_csv_given_as_the_model_says_so(krr, tmp_path, train_csv):
    """`krr predict data.csv model.joblib` (the arguments swapped): a CSV is text, not a compressed file,
    even when its first letter is 'x' (the first byte of a zlib stream)."""
    for header in ("x0,x1,y\n1,2,3\n", "a,b,c,y\n1,2,3,4\n"):
        path = tmp_path / "data.csv"
        path.write_text(header)
        res = krr("predict", path, train_csv)
        assert_error(
            res, EXIT_MODEL_FILE, "cannot load", "it is a text file, not a krr model", "krr predict MODEL DATA"
        )
    raw = tmp_path / "real.zlib.joblib"
    import zlib

    raw.write_bytes(zlib.compress(b"\x80\x04N."))
    assert_error(krr("inspect", raw), EXIT_MODEL_FILE, "compressed (zlib)")
