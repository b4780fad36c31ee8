"""The user's project: its root folder and ``gert.yaml``.

The root is the nearest folder at or above the start that holds ``gert.yaml``, else
``.git``, else the start folder itself. Relative paths in ``gert.yaml`` hang off it.
"""

from __future__ import annotations

import os
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
    """A project root; its ``gert.yaml`` is read on first use (defaults when absent).

    A gert.yaml with errors (an unknown key or value, a bad pattern) is never used:
    :attr:`config` raises :class:`gert.config.ConfigInvalid` naming each problem's file,
    line and field, unless the project is opened with ``strict=False`` (``gert validate``,
    which reports the problems and checks runbooks against the defaults).
    """

    root: Path
    config_file: Path | None = None
    strict: bool = True
    _config: Any = field(default=None, repr=False)
    _problems: list[Any] = field(default_factory=list, repr=False)
    _real_root: Path | None = field(default=None, repr=False)
    _real: dict[tuple[str, int, int, int], Path] = field(default_factory=dict, repr=False)

    def real(self, path: Path) -> Path:
        """*path* with symlinks followed. A file's answer is kept while the file it names
        (device, inode, modification time) stays the same: resolving walks every folder
        of the path, and a chain asks for the same runbooks again and again."""
        try:
            st = os.stat(path)
        except OSError:
            return path.resolve()
        key = (str(path), st.st_dev, st.st_ino, st.st_mtime_ns)
        found = self._real.get(key)
        if found is None:
            if len(self._real) > 4096:  # a long-lived process sees many files: bounded
                self._real.clear()
            found = self._real[key] = path.resolve()
        return found

    @property
    def real_root(self) -> Path:
        """The root with symlinks followed (resolved once)."""
        if self._real_root is None:
            self._real_root = self.root.resolve()
        return self._real_root

    def _load(self) -> Any:
        if self._config is None:
            from gert.config import ProjectConfig, load_config

            if self.config_file is not None:
                self._config, self._problems = load_config(self.config_file)
            else:
                self._config = ProjectConfig()
        return self._config

    @property
    def config(self) -> Any:
        """The checked gert.yaml (a gert.config.ProjectConfig)."""
        config = self._load()
        if self.strict and any(p.severity == "error" for p in self._problems):
            from gert.config import ConfigInvalid

            raise ConfigInvalid(self._problems)
        return config

    @property
    def problems(self) -> list[Any]:
        """Problems found in gert.yaml (it is loaded to find them; never raises)."""
        self._load()
        return self._problems

    @property
    def tools_path(self) -> list[Path]:
        """Folders searched for `<name>.tool.yaml`."""
        return [self.resolve(p) for p in self.config.tools_path]

    def resolve(self, rel: str | Path) -> Path:
        """A path from the config, relative to the root."""
        p = Path(rel)
        return p if p.is_absolute() else self.root / p

    def contains(self, path: Path) -> bool:
        """True when *path* (resolved, symlinks followed) lies inside the project root."""
        try:
            self.real(path).relative_to(self.real_root)
        except ValueError:
            return False
        return True


def open_project(start: str | Path | None = None, strict: bool = True) -> Project:
    """Find the project for *start* and check its gert.yaml.

    Raises :class:`gert.config.ConfigInvalid` when gert.yaml has errors, so that nothing
    runs on a misspelt setting; ``strict=False`` defers reading it to first use and then
    falls back to the defaults (the problems are in :attr:`Project.problems`).
    """
    root = find_root(start)
    cfg_file = root / CONFIG_NAME
    project = Project(root, cfg_file if cfg_file.is_file() else None, strict=strict)
    if strict and project.config_file is not None:
        _ = project.config
    return project
