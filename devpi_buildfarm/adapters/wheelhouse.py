"""Wheels a build needs, fetched by the worker from the job's index (never by the build).

Requirement strings come from the sdist or the wheel, so each is checked first
(:mod:`devpi_buildfarm.core.buildreqs`) and handed to pip after ``--``. pip runs on the
worker's side, wheels only (``--only-binary :all:``: no package code runs), with the
index URL and the identity's credentials in its environment (never on a command line),
into a directory no build ever writes. The wheels reach the sandbox as bytes.
Recently made wheelhouses are reused (same index, identity and requirements).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from devpi_buildfarm.adapters import process
from devpi_buildfarm.adapters.envcache import env_key
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from devpi_buildfarm.adapters.envcache import EnvCache
    from devpi_buildfarm.core.ports import BuildLimits, BuildLog, IndexAccess


def authenticated_url(access: IndexAccess) -> str:
    """The index URL with the job credential in it (for pip's environment only)."""
    if not access.username or not access.password:
        return access.url
    parts = urlsplit(access.url)
    user, password = quote(access.username, safe=""), quote(access.password, safe="")
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))


def download(  # noqa: PLR0913 - each argument is one aspect of the fetch
    requirements: Sequence[str],
    dest: Path,
    *,
    access: IndexAccess,
    log: BuildLog,
    deadline: process.Deadline,
    cancelled: Callable[[], bool],
    cache: EnvCache | None,
    stage: str,
    limits: BuildLimits,
    platform: Sequence[str] | None = None,
) -> Path:
    """``dest`` holding the wheels of ``requirements`` (checked strings) and their
    dependencies; from the cache when a fresh identical wheelhouse exists. ``platform``:
    pip's options for another target than this host's (:func:`~devpi_buildfarm.core.
    targets.pip_platform_args`)."""

    def make(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if not requirements:
            return
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(folder.parent),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_INDEX_URL": authenticated_url(access),
            "PIP_NO_INPUT": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "LANG": "C.UTF-8",
        }
        # pip reads dependency wheels' metadata into memory: a hostile wheel on the index
        # must not grow this (root, host-side) process past the build's own memory limit
        cap = [prlimit, f"--as={limits.memory}", "--core=0", "--"] if prlimit else []
        argv = [*cap, sys.executable, "-m", "pip", "download", "--only-binary", ":all:",
                "--no-cache-dir", "--progress-bar", "off", "--dest", str(folder),
                *(platform or ()), "--", *requirements]  # fmt: skip
        process.run(argv, stage=stage, log=log, deadline=deadline, cancelled=cancelled,
                    env=env, cwd=str(folder), show=argv[len(cap):])  # fmt: skip
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        if size > limits.disk:
            msg = f"the build requirements' wheels are {size} bytes, over the disk limit"
            raise BuildError(msg, stage=stage, permanent=True)

    prlimit = shutil.which("prlimit")
    if cache is None or not requirements:
        make(dest)
        return dest
    key = env_key(
        access.cache_identity, " ".join([sys.executable, *(platform or ())]), requirements
    )
    if cache.provide(key, dest, make):
        log(f"{stage}: wheels for {' '.join(requirements)} from the cache\n".encode())
    return dest


def wheels_in(folder: Path) -> list[tuple[str, Path]]:
    """``("wheelhouse/<name>", path)`` of each wheel pip left in ``folder``."""
    return [(f"wheelhouse/{p.name}", p) for p in sorted(folder.glob("*.whl")) if p.is_file()]
