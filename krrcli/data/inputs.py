"""Several inputs as one: paths and glob patterns, expanded in order, read one after another.

``krr fit a.csv b.csv`` and ``krr fit 'data/part-*.csv.gz'`` (quoted: krr expands the pattern, so it
works the same from a shell, a Makefile or cron) read the files in the order given, each pattern's
matches sorted by name. Every file must have the same header as the first; each keeps its own line
numbers in messages. ``-`` (stdin) may be given once.

A URL (``s3://bucket/part-*.csv``, ``https://host/data.csv``) is read through fsspec, which comes with
the ``dask`` extra; each scheme needs its own fsspec package (``s3fs``, ``gcsfs``, ...).
"""

from __future__ import annotations

import glob
import hashlib
import os

from ..errors import DataError, UsageError

_GLOB_CHARS = frozenset("*?[")


def expand_inputs(items: str | list[str] | tuple[str, ...]) -> list[str]:
    """The files to read, in order: each item as it is, or a glob pattern's matches sorted by name.

    A pattern that matches nothing is a data error naming it (a file that does not exist is named
    when it is opened); ``-`` more than once is a usage error.
    """
    if isinstance(items, str):
        items = [items]
    if not items:
        raise UsageError("no input given; name a CSV file, several, a pattern such as 'data/*.csv', or - for stdin")
    out: list[str] = []
    for item in items:
        item = os.fspath(item)
        if is_url(item):
            out.extend(_expand_url(item))
        elif item != "-" and _GLOB_CHARS & set(item) and not os.path.exists(item):
            matches = sorted(glob.glob(item))
            if not matches:
                raise DataError(f"no file matches {item!r}")
            out.extend(matches)
        else:
            out.append(item)
    if out.count("-") > 1:
        raise UsageError("- (stdin) can be read only once; give it once")
    return out


def is_url(path: str) -> bool:
    """Whether ``path`` names a file by URL (``scheme://...``) rather than on this machine's disks."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.isidentifier()


def _fsspec():
    try:
        import fsspec
    except ImportError:
        raise UsageError("reading URLs needs fsspec: pip install 'krrcli[dask]'") from None
    return fsspec


def _url_error(url: str, exc: BaseException) -> DataError:
    if isinstance(exc, FileNotFoundError):
        return DataError(f"cannot read {url!r}: no such file")
    if isinstance(exc, (ImportError, ValueError)) and "protocol" in str(exc).lower():
        return DataError(f"cannot read {url!r}: {exc} (install the fsspec package for that scheme)")
    return DataError(f"cannot read {url!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


def _expand_url(url: str) -> list[str]:
    """A URL as it is, or a URL pattern's matches sorted by name (each with its scheme)."""
    if not _GLOB_CHARS & set(url.partition("://")[2]):
        return [url]
    fsspec = _fsspec()
    try:
        fs, path = fsspec.core.url_to_fs(url)
        matches = sorted(fs.glob(path))
    except Exception as exc:  # (each filesystem raises its own)
        raise _url_error(url, exc) from None
    if not matches:
        raise DataError(f"no file matches {url!r}")
    return [fs.unstrip_protocol(m) for m in matches]


def open_url(url: str):
    """A binary stream of the file at ``url``."""
    fsspec = _fsspec()
    try:
        return fsspec.open(url, "rb").open()
    except Exception as exc:
        raise _url_error(url, exc) from None


def input_label(paths: list[str]) -> str:
    """How several inputs are named in a model file and a report: the one path, or the first and a count."""
    names = ["<stdin>" if p == "-" else p for p in paths]
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"


def combined_sha256(digests: list[str]) -> str:
    """One file's SHA-256 as it is; for several, the SHA-256 of their hex digests, in order, one per line."""
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("".join(d + "\n" for d in digests).encode()).hexdigest()


def check_same_header(names: list[str], first: list[str], name: str, first_name: str) -> None:
    if names != first:
        raise DataError(
            f"{name}: line 1: its header differs from {first_name}'s; every input must have the same columns "
            f"in the same order ({name}: {', '.join(names[:8])}{' ...' if len(names) > 8 else ''}; "
            f"{first_name}: {', '.join(first[:8])}{' ...' if len(first) > 8 else ''})"
        )
