"""The user's project: its root folder and ``gert.yaml`` (DESIGN §3).

The root is the nearest folder at or above the start that holds ``gert.yaml``, else
``.git``, else the start folder itself. Relative paths in ``gert.yaml`` hang off it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_NAME = "gert.yaml"
DEFAULT_MAX_CHAIN_DEPTH = 5


def find_root(start: str | Path | None = None) -> Path:
    """The project root for *start* (a file or folder; default: the current directory)."""
    here = Path(start or Path.cwd()).resolve()
    if here.is_file() or not here.exists():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


@dataclass
class Project:
    """A project root with its parsed configuration (defaults when there is no gert.yaml)."""

    root: Path
    config: Any = None  # gert.config.ProjectConfig, loaded lazily to keep start-up light
    config_file: Path | None = None
    problems: list[Any] = field(default_factory=list)

    @property
    def tools_path(self) -> list[Path]:
        paths = getattr(self.config, "tools_path", None) or ["tools"]
        return [self.resolve(p) for p in paths]

    def resolve(self, rel: str | Path) -> Path:
        """A path from the config, relative to the root."""
        p = Path(rel)
        return p if p.is_absolute() else self.root / p

    def contains(self, path: Path) -> bool:
        """True when *path* (resolved, symlinks followed) lies inside the project root."""
        try:
            path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return False
        return True


def open_project(start: str | Path | None = None) -> Project:
    """Find the project for *start* and load its ``gert.yaml`` if there is one."""
    root = find_root(start)
    cfg_file = root / CONFIG_NAME
    project = Project(root=root)
    if cfg_file.is_file():
        from gert.config import load_config

        project.config_file = cfg_file
        project.config, project.problems = load_config(cfg_file)
    return project
