"""Shared fixtures: throw-away gert projects on real folders."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gert.engine import Engine, Options
from gert.project import open_project


class ProjectDir:
    """A temporary gert project: write files into it, run runbooks in it."""

    def __init__(self, root: Path):
        self.root = root
        (root / "gert.yaml").write_text("record: off\n", encoding="utf-8")

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def config(self, text: str) -> None:
        self.write("gert.yaml", text)

    def run(self, rel: str, **options):  # type: ignore[no-untyped-def]
        engine = Engine(open_project(self.root))
        return engine.run(self.root / rel, Options(**options))

    def files_text(self, under: str = ".runbook") -> str:
        """Everything written under a folder, as one string (for redaction checks)."""
        return "\n".join(
            p.read_text(encoding="utf-8", errors="replace")
            for p in (self.root / under).rglob("*")
            if p.is_file()
        )


@pytest.fixture
def project(tmp_path: Path) -> ProjectDir:
    return ProjectDir(tmp_path)
