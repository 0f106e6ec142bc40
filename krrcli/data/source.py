"""Opening CSV input: a path or ``-`` (stdin), decompressed (gzip, bzip2, xz, zip) by its first bytes,
hashed as it is read, and cut into the header and chunks of raw lines."""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import lzma
import os
import stat
import sys
import zipfile
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from ..errors import DataError, UsageError
from ..limits import MAX_HEADER_BYTES, MAX_HEADER_LINES
from .inputs import is_url, open_url
from .text import _decode


class _HashingReader(io.RawIOBase):
    """A binary stream that hashes the bytes read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.count = 0  # bytes read from the input

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.sha256.update(data)
        self.count += n
        return n


def parse_sep(sep: str) -> str:
    """The delimiter from ``--sep`` (``\\t`` and ``tab`` mean a tab)."""
    if sep in ("\\t", "tab", "TAB"):
        return "\t"
    if len(sep) != 1 or sep in '"\r\n':
        raise UsageError(f"--sep must be one character (or \\t), got {sep!r}")
    return sep


class CsvSource:
    """An open CSV input: its display name, a text stream of lines, and a hash of its bytes."""

    def __init__(self, path: str, sep: str = ",") -> None:
        self.path = path
        self.name = "<stdin>" if path == "-" else path
        self.sep = parse_sep(sep)
        self._closers: list[Any] = []
        raw = self._open_raw(path)
        self._hasher = _HashingReader(raw)
        buffered = io.BufferedReader(self._hasher, buffer_size=1 << 20)
        self._closers.append(buffered)
        self.stream = self._decompress(buffered)
        self.compressed = self.stream is not buffered
        self.size = self._regular_size(raw)  # bytes of a regular file; None for a stream
        self._produced = 0  # bytes of text read (after decompressing)
        self._pending = b""
        self._eof = False
        self._cr_only: bool | None = None
        self.header_lines = 1

    def _open_raw(self, path: str) -> IO[bytes]:
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            if stdin is None:
                raise DataError("cannot read standard input ('-'): it is closed; give a file name, or pipe the data in")
            return stdin
        if is_url(path):
            fh = open_url(path)
            self._closers.append(fh)
            return fh
        if os.path.isdir(path):
            raise DataError(f"cannot read {path!r}: it is a folder, not a CSV file")
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise DataError(f"cannot read {path!r}: no such file") from None
        except PermissionError:
            raise DataError(f"cannot read {path!r}: permission denied") from None
        except OSError as exc:
            raise DataError(f"cannot read {path!r}: {exc.strerror}") from None
        self._closers.append(fh)
        return fh

    @staticmethod
    def _regular_size(raw: IO[bytes]) -> int | None:
        try:
            info = os.fstat(raw.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def fraction_read(self) -> float | None:
        """About how much of a regular file the lines returned so far took (None for a stream or
        before any): exact for a plain file, from the bytes read and the compression ratio so far
        for a compressed one."""
        returned = self._produced - len(self._pending)
        if not self.size or returned <= 0:
            return None
        raw = returned if not self.compressed else self._hasher.count * returned / self._produced
        return min(1.0, raw / self.size)

    def _decompress(self, fh: io.BufferedReader) -> IO[bytes]:
        magic = fh.peek(6)[:6]
        if magic.startswith(b"\x1f\x8b"):
            return gzip.GzipFile(fileobj=fh, mode="rb")
        if magic.startswith(b"BZh"):
            return bz2.BZ2File(fh, mode="rb")
        if magic.startswith(b"\xfd7zXZ\x00"):
            return lzma.LZMAFile(fh, mode="rb")
        if magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            try:
                zf = zipfile.ZipFile(io.BytesIO(fh.read()))
            except zipfile.BadZipFile:
                raise DataError(f"cannot read {self.name!r}: it is a damaged zip file") from None
            members = [i for i in zf.infolist() if not i.is_dir()]
            if len(members) != 1:
                raise DataError(f"{self.name!r}: a zip input must hold exactly one file, it holds {len(members)}")
            return zf.open(members[0])
        return fh

    @property
    def sha256(self) -> str:
        return self._hasher.sha256.hexdigest()

    def _read(self, size: int) -> bytes:
        try:
            data = self.stream.read(size)
            self._produced += len(data)
            return data
        except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
            raise DataError(f"cannot read {self.name!r}: {exc}") from None

    def read_header(self) -> list[str] | None:
        """The fields of the header, as the csv module reads them (None for an empty input).

        A line break inside a quoted name does not end the header; ``header_lines`` says
        how many lines of the file it took. Linear in the header's size, which may be at
        most ``MAX_HEADER_BYTES``.
        """
        state = {"lines": 0, "exhausted": False, "size": 0}
        buf, pos = self._pending, 0  # the header's lines are cut from buf at pos, without copying the rest

        def lines() -> Iterator[str]:
            nonlocal buf, pos
            while True:
                parts: list[bytes] = []
                while True:
                    cut = buf.find(b"\n", pos)
                    end = len(buf) if cut < 0 else cut + 1
                    parts.append(buf[pos:end])
                    state["size"] += end - pos
                    pos = end
                    if state["size"] > MAX_HEADER_BYTES:
                        raise DataError(
                            f"{self.name}: line 1 (the header) is longer than {MAX_HEADER_BYTES // 2**20} MiB; "
                            "is this a CSV file with a header line?"
                        )
                    if cut >= 0 or self._eof:
                        break
                    buf, pos = self._read_block(1 << 16), 0
                line = b"".join(parts)
                if not line:
                    state["exhausted"] = True
                    return
                state["lines"] += 1
                if state["lines"] > MAX_HEADER_LINES:
                    raise DataError(
                        f"{self.name}: line 1: the header runs over more than {MAX_HEADER_LINES:,} lines; "
                        "is a quote in it never closed?"
                    )
                text = _decode(line, self.name, state["lines"])
                yield text.lstrip("\ufeff") if state["lines"] == 1 else text

        if csv.field_size_limit() < MAX_HEADER_BYTES:  # the csv module stops at 128 KiB fields by default
            csv.field_size_limit(MAX_HEADER_BYTES)
        try:
            fields = next(csv.reader(lines(), delimiter=self.sep))
        except StopIteration:
            return None
        except csv.Error as exc:
            raise DataError(f"{self.name}: line 1: cannot read the header ({exc})") from None
        finally:
            self._pending = buf[pos:]
        if state["exhausted"]:  # the csv module asked for more lines than there are: inside a quote
            raise DataError(f"{self.name}: line 1: a quote in the header is never closed")
        self.header_lines = max(1, state["lines"])
        return fields

    def _read_block(self, size: int) -> bytes:
        data = self._read(size)
        if not data:
            self._eof = True
            return b""
        if self._cr_only is None:
            # decided at the first line end: old Mac files end lines with CR alone
            if data.endswith(b"\r") and b"\n" not in data:
                data += self._read(1)  # a CR at the end of a block: is it followed by LF?
            cr, lf = data.find(b"\r"), data.find(b"\n")
            if lf >= 0 or cr >= 0:
                self._cr_only = lf < 0 or (0 <= cr < lf - 1)
        if self._cr_only:
            data = data.replace(b"\r", b"\n")
        return data

    def _fill(self, size: int) -> None:
        self._pending += self._read_block(size)

    def read_rows(self, n: int) -> bytes:
        """The raw bytes of up to ``n`` more lines (ending at a newline, or at the end of input)."""
        have = self._pending.count(b"\n")
        while have < n and not self._eof:
            before = len(self._pending)
            per_line = max(16, before // max(1, have)) if have else 256
            self._fill(max(1 << 16, min(1 << 26, (n - have) * per_line)))
            have += self._pending.count(b"\n", before)
        if have >= n:
            newlines = np.flatnonzero(np.frombuffer(self._pending, dtype=np.uint8) == 10)
            cut = int(newlines[n - 1]) + 1
            chunk, self._pending = self._pending[:cut], self._pending[cut:]
        else:
            chunk, self._pending = self._pending, b""
        return chunk

    def drain_hash(self) -> str:
        """Read what is left of the raw input into the hash and return the hex digest."""
        while self._hasher.read(1 << 20):
            pass
        return self.sha256

    def close(self) -> None:
        for c in reversed(self._closers):
            try:
                c.close()
            except Exception:
                pass

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
