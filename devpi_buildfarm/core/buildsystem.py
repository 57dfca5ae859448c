"""An sdist's ``[build-system]``, parsed from the text of its ``pyproject.toml``.

The same function runs inside the sandbox (the driver uses the backend it names) and on
the worker's side (which fetches the wheels of the requirements it lists, after
:mod:`.buildreqs` checked each); the worker never opens the sdist itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Final

from devpi_buildfarm.core.buildreqs import check_requirements

#: PEP 517's fallback when an sdist declares no build system
DEFAULT_REQUIRES: Final = ("setuptools>=40.8.0",)
LEGACY_BACKEND: Final = "setuptools.build_meta:__legacy__"
MAX_PYPROJECT: Final = 256 * 1024


class BuildSystemError(ValueError):
    """A ``pyproject.toml`` whose build system cannot be used (the message says why)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildSystem:
    """What builds an sdist: checked requirement strings, the backend, its in-tree path."""

    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] | None = None


def parse_build_system(text: str) -> BuildSystem:
    """The build system of ``pyproject.toml``'s ``text`` (empty: the file is absent).

    >>> parse_build_system("").requires
    ('setuptools>=40.8.0',)
    >>> parse_build_system('[build-system]\\nrequires = ["flit_core >=3.2"]\\n'
    ...                    'build-backend = "flit_core.buildapi"').requires
    ('flit_core>=3.2',)
    """
    if len(text) > MAX_PYPROJECT:
        msg = f"pyproject.toml is larger than {MAX_PYPROJECT} bytes"
        raise BuildSystemError(msg)
    try:
        system = tomllib.loads(text).get("build-system", {}) if text else {}
    except tomllib.TOMLDecodeError as exc:
        msg = f"pyproject.toml does not parse: {exc}"
        raise BuildSystemError(msg) from None
    if not isinstance(system, dict):
        msg = "pyproject.toml: build-system is not a table"
        raise BuildSystemError(msg)
    requires = system.get("requires", list(DEFAULT_REQUIRES))
    if not isinstance(requires, list):
        msg = "pyproject.toml: build-system.requires must be a list of strings"
        raise BuildSystemError(msg)
    path = system.get("backend-path")
    if path is not None and (
        not isinstance(path, list) or not all(isinstance(p, str) for p in path)
    ):
        msg = "pyproject.toml: backend-path must be a list of strings"
        raise BuildSystemError(msg)
    return BuildSystem(
        requires=tuple(check_requirements(requires, "build-system.requires")),
        backend=str(system.get("build-backend") or "") or LEGACY_BACKEND,
        backend_path=tuple(path) if path is not None else None,
    )
