"""Small utilities every layer may use: the clock, atomic writes, slugs, shortening.

A leaf module: it imports nothing from gert.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------ the clock


def utc_now() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z: ``2026-02-14T09:57:53.123Z``."""
    u = t.astimezone(dt.UTC)
    return f"{u.isoformat(timespec='milliseconds')[:23]}Z"


def parse_iso(text: str) -> dt.datetime:
    """Parse a timestamp written by :func:`iso` (or any ISO 8601 with an offset)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


_ISO = re.compile(
    r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})([T ])(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?(?![\d:])"
)


def shift_timestamps(value: Any, offset: dt.timedelta) -> Any:
    """Shift every ISO-8601 timestamp inside *value* (strings, nested data) by *offset*,
    keeping each one's precision, separator and zone designator."""
    if not offset:
        return value
    if isinstance(value, str):
        return _ISO.sub(lambda m: _shift_match(m, offset), value) if "-" in value else value
    if isinstance(value, dict):
        return {k: shift_timestamps(v, offset) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_timestamps(v, offset) for v in value]
    return value


def _shift_match(m: re.Match[str], offset: dt.timedelta) -> str:
    year, month, day, sep, hour, minute, second, frac, zone = m.groups()
    try:
        micro = int((frac or ".0")[1:7].ljust(6, "0"))
        t = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro
        )
    except ValueError:
        return m.group(0)  # not a real date: leave it alone
    t += offset
    out = f"{t:%Y-%m-%d}{sep}{t:%H:%M}"
    if second is not None:
        out += f":{t:%S}"
        if frac:
            digits = len(frac) - 1
            out += "." + f"{t.microsecond:06d}{'0' * max(0, digits - 6)}"[:digits]
    return out + (zone or "")


# ------------------------------------------------------------------ files


def datasync(fd: int) -> None:
    """Force a file's data to disk (fdatasync where the platform has it)."""
    getattr(os, "fdatasync", os.fsync)(fd)


def write_atomic(path: Path, text: str, sync: bool = True) -> None:
    """Write a file so that readers see the old or the new content, never a mix.

    ``sync`` forces the content to disk before the rename (evidence must survive a crash).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        if sync:
            f.flush()
            datasync(f.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------ text


def slug(text: str, limit: int = 60, fallback: str = "item", *, lower: bool = True) -> str:
    """Words joined by dashes, at most *limit* characters, for file and folder names.

    ``lower=False`` keeps case, dots and underscores (step IDs in step-file names).
    """
    if lower:
        text = re.sub(r"[^a-z0-9]+", "-", text.lower())
    else:
        text = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)
    return text.strip("-")[:limit] or fallback


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def shorten(text: str, limit: int, *, one_line: bool = False) -> str:
    """*text* cut to *limit* characters with an ellipsis; ``one_line`` joins whitespace first."""
    if one_line:
        text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
