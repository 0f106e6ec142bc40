"""Text helpers shared by the readers: short quoting for messages, decoding with line numbers."""

from __future__ import annotations

from ..errors import DataError
from .output import csv_field

_NL = b"\n"


def _short(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to about ``limit`` characters so that an error stays one readable line."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text):,} characters)"


def _name_list(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(_short(n, 40) if len(n) > 40 or not n.isprintable() else csv_field(n) for n in names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names):,} in all)"


def _decode(raw: bytes, name: str, first_line: int | None = None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = "" if first_line is None else f" (line {first_line + raw.count(_NL, 0, exc.start)})"
        bad = raw[exc.start : exc.start + 1].hex()
        raise DataError(
            f"cannot read {name!r}: it is not UTF-8 text{where}: byte 0x{bad}; save it as UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8)"
        ) from None
