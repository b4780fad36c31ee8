"""Small utilities every layer may use: the clock, atomic writes, slugs, shortening.

A leaf module: it imports nothing from gert.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

# ------------------------------------------------------------------ the clock


def utc_now() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z: ``2026-02-14T09:57:53.123Z``."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> dt.datetime:
    """Parse a timestamp written by :func:`iso` (or any ISO 8601 with an offset)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


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


def shorten(text: str, limit: int, *, one_line: bool = False) -> str:
    """*text* cut to *limit* characters with an ellipsis; ``one_line`` joins whitespace first."""
    if one_line:
        text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
