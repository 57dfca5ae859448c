"""The build-environment cache: made once per key and ttl, copied per build, never
replaced in place, long-expired entries and interrupted makes pruned."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devpi_buildfarm.adapters.envcache import GRACE_SECONDS, MARKER, EnvCache, env_key

if TYPE_CHECKING:
    from collections.abc import Callable


def maker(calls: list[Path]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        calls.append(path)
        (path / "lib").mkdir(parents=True)
        (path / "lib" / "setuptools.py").write_text("VERSION = 1\n")
        (path / "bin").mkdir()
        (path / "bin" / "python").symlink_to("/usr/bin/python3")

    return make


def test_made_once_then_copied(tmp_path: Path) -> None:
    cache, calls = EnvCache(tmp_path / "envs", ttl=60), list[Path]()
    assert not cache.provide("k", tmp_path / "a", maker(calls))
    assert cache.provide("k", tmp_path / "b", maker(calls))
    assert len(calls) == 1
    for copy in ("a", "b"):
        assert (tmp_path / copy / "lib" / "setuptools.py").read_text() == "VERSION = 1\n"
        assert (tmp_path / copy / "bin" / "python").is_symlink()
        assert not (tmp_path / copy / MARKER).exists()
    (tmp_path / "a" / "lib" / "setuptools.py").write_text("tampered by a build\n")
    cache.provide("k", tmp_path / "c", maker(calls))
    assert (tmp_path / "c" / "lib" / "setuptools.py").read_text() == "VERSION = 1\n"


def test_an_expired_entry_is_made_again_under_a_new_name(tmp_path: Path) -> None:
    cache, calls = EnvCache(tmp_path / "envs", ttl=0.05), list[Path]()
    cache.provide("k", tmp_path / "a", maker(calls))
    first = sorted((tmp_path / "envs").iterdir())
    time.sleep(0.1)
    assert not cache.provide("k", tmp_path / "b", maker(calls))
    assert len(calls) == 2
    entries = sorted((tmp_path / "envs").iterdir())
    assert len(entries) == 2  # the expired one stays for copies still reading it
    assert first[0] in entries


def test_long_expired_entries_and_staging_leftovers_are_pruned(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    old_ms = int((time.time() - GRACE_SECONDS - 100) * 1000)
    (root / f"k-{old_ms}").mkdir(parents=True)
    leftover = root / ".staging-k-1-2"
    leftover.mkdir()
    past = time.time() - GRACE_SECONDS - 100
    os.utime(leftover, (past, past))
    cache, calls = EnvCache(root, ttl=0), list[Path]()
    cache.provide("other", tmp_path / "a", maker(calls))
    names = [p.name for p in root.iterdir()]
    assert f"k-{old_ms}" not in names
    assert ".staging-k-1-2" not in names


def test_a_failed_make_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken(path: Path) -> None:
        path.mkdir(parents=True)
        msg = "pip failed"
        raise RuntimeError(msg)

    cache = EnvCache(tmp_path / "envs", ttl=60)
    with pytest.raises(RuntimeError, match="pip failed"):
        cache.provide("k", tmp_path / "a", broken)
    assert list((tmp_path / "envs").iterdir()) == []
    assert not (tmp_path / "a").exists()


def test_keys_depend_on_index_python_and_requirements() -> None:
    base = env_key("http://a/+simple/", "/py", ["setuptools", "wheel"])
    assert base == env_key("http://a/+simple/", "/py", ["wheel", "setuptools"])
    assert base != env_key("http://b/+simple/", "/py", ["setuptools", "wheel"])
    assert base != env_key("http://a/+simple/", "/py3", ["setuptools", "wheel"])
    assert base != env_key("http://a/+simple/", "/py", ["setuptools>=70", "wheel"])
