"""Fetched wheelhouses of build requirements, reused across builds for a short while.

Fetching a backend's build requirements (setuptools and wheel, say) costs a pip run of
about a second; most sdists ask for the same few. The cache keeps one directory of wheels
per (index and identity, interpreter, requirements) for ``ttl`` seconds, made by pip on
the worker's side (wheels only: no package code runs) and never shown to a build: every
build gets a *copy*, streamed into its sandbox as bytes. After ``ttl`` the next build
fetches again, so new releases on the index are picked up. Entries are published with an
atomic rename, so concurrent workers never see a half-made one, and never replaced in place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

MARKER = "devpi-buildfarm-env-complete"
#: how long an expired entry is kept for copies that may still be reading it
GRACE_SECONDS = 600.0


def env_key(index_url: str, python: str, requirements: Sequence[str]) -> str:
    """The cache key of a build environment.

    >>> env_key("http://x/+simple/", "/usr/bin/python3", ["wheel", "setuptools>=61"]) == (
    ...     env_key("http://x/+simple/", "/usr/bin/python3", ["setuptools>=61", "wheel"]))
    True
    """
    text = "\n".join([index_url, python, *sorted(requirements)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class EnvCache:
    """Cached directories under ``root``, each used for ``ttl`` seconds after it was made.

    Entries are never replaced in place: an expired one stays until well after any copy of
    it could still be running, and a new entry gets a new name (``<key>-<made, ms>``).
    """

    def __init__(self, root: Path, ttl: float = 600.0) -> None:
        self.root = root
        self.ttl = ttl

    def provide(self, key: str, dest: Path, make: Callable[[Path], None]) -> bool:
        """Copy the entry ``key`` to ``dest``, making it with ``make(path)`` first when there
        is no fresh one; ``True`` when a cached entry was used."""
        entry = self._fresh(key)
        cached = entry is not None
        if entry is None:
            entry = self._make(key, make)
        shutil.copytree(entry, dest, symlinks=True)
        (dest / MARKER).unlink(missing_ok=True)
        return cached

    def _fresh(self, key: str) -> Path | None:
        if not self.root.is_dir():
            return None
        now = time.time()
        found = [
            (made, path)
            for path in self.root.glob(f"{key}-*")
            if (made := _made(path)) is not None and now - made < self.ttl
            and (path / MARKER).is_file()
        ]  # fmt: skip
        return max(found)[1] if found else None

    def _make(self, key: str, make: Callable[[Path], None]) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        self.prune()
        staging = self.root / f".staging-{key}-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            make(staging)
            (staging / MARKER).touch()
            entry = self.root / f"{key}-{int(time.time() * 1000)}"
            try:
                staging.rename(entry)
            except OSError:  # another worker published the same name: use theirs
                if not (entry / MARKER).is_file():
                    raise
            return entry
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def prune(self) -> None:
        """Remove entries long expired and leftovers of interrupted makes."""
        if not self.root.is_dir():
            return
        now = time.time()
        for path in self.root.iterdir():
            made = _made(path)
            if made is None:  # staging leftovers
                try:
                    made = path.stat().st_mtime
                except OSError:
                    continue
            if now - made > self.ttl + GRACE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)


def _made(path: Path) -> float | None:
    """When the entry ``<key>-<ms>`` was made (``None``: not an entry)."""
    stamp = path.name.rpartition("-")[2]
    if path.name.startswith(".") or not stamp.isdigit():
        return None
    return int(stamp) / 1000
