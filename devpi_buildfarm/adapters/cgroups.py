"""Per-build cgroups: memory and process limits that hold for a build's processes together.

Per-process rlimits do not add up (a build of many processes may use memory times their
number) and ``RLIMIT_NPROC`` counts every process of a user, so where the host allows it
(devpi-server running as root, a writable cgroup hierarchy) each build gets its own cgroup
with ``memory`` and ``pids`` limits: v1 (separate hierarchies, as on these machines) or
v2 (unified). Groups live under ``devpi-buildfarm/<farm>/``, one ``<farm>`` per server
directory (several servers on one host never touch each other's builds); those a killed
server left behind are emptied and removed at its next start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)
ROOT: Final = Path("/sys/fs/cgroup")
PARENT: Final = "devpi-buildfarm"


@dataclass(frozen=True, kw_only=True, slots=True)
class Cgroup:
    """One build's cgroup(s): the ``cgroup.procs`` files a launcher joins."""

    version: str
    dirs: tuple[Path, ...]
    memory: int
    pids: int

    @property
    def procs(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def describe(self) -> str:
        return f"cgroup-{self.version}(memory={self.memory}, pids={self.pids})"

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this build for its memory limit."""
        for folder in self.dirs:
            for name in ("memory.oom_control", "memory.events"):
                with contextlib.suppress(OSError):
                    for line in (folder / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and value.strip() not in ("", "0"):
                            return True
        return False

    def remove(self) -> None:
        """Kill what is left in the group, then remove it (and its farm's, once empty)."""
        for folder in self.dirs:
            _empty_and_remove(folder)
            with contextlib.suppress(OSError):  # other builds of the farm still run
                folder.parent.rmdir()


def _hierarchies() -> tuple[str, dict[str, Path]] | None:
    if (ROOT / "cgroup.controllers").is_file():
        controllers = (ROOT / "cgroup.controllers").read_text().split()
        if {"memory", "pids"} <= set(controllers):
            return "v2", {"memory": ROOT, "pids": ROOT}
        return None
    found = {name: ROOT / name for name in ("memory", "pids") if (ROOT / name / "tasks").exists()}
    return ("v1", found) if len(found) == 2 else None  # noqa: PLR2004 - both controllers


def available() -> str | None:
    """``"v1"``/``"v2"`` when this process may make build cgroups (root, writable tree)."""
    if os.geteuid() != 0:
        return None
    found = _hierarchies()
    if found is None:
        return None
    version, roots = found
    try:
        for root in set(roots.values()):
            (root / PARENT).mkdir(exist_ok=True)
        if version == "v2":
            with contextlib.suppress(OSError):  # already delegated
                (ROOT / "cgroup.subtree_control").write_text("+memory +pids")
            (ROOT / PARENT / "cgroup.subtree_control").write_text("+memory +pids")
    except OSError as exc:
        log.info("devpi-buildfarm: no build cgroups (%s); per-process limits instead", exc)
        return None
    return version


def create(scope: str, name: str, *, memory: int, pids: int) -> Cgroup:
    """The cgroup of one build of the farm ``scope``, limits set before any process joins."""
    found = _hierarchies()
    if found is None:
        msg = "no cgroup hierarchy with memory and pids"
        raise OSError(msg)
    version, roots = found
    dirs = tuple(dict.fromkeys(roots[c] / PARENT / scope / name for c in ("memory", "pids")))
    for folder in dirs:
        for _ in range(3):  # another build of the farm may remove the empty parent meanwhile
            folder.parent.mkdir(exist_ok=True)
            if version == "v2":
                _enable_controllers(folder.parent)
            try:
                folder.mkdir()
                break
            except FileNotFoundError:
                continue
    if version == "v1":
        (dirs[0] / "memory.limit_in_bytes").write_text(str(memory))
        with contextlib.suppress(OSError):  # no swap accounting: nothing to cap
            (dirs[0] / "memory.memsw.limit_in_bytes").write_text(str(memory))
        (dirs[1] / "pids.max").write_text(str(pids))
    else:
        (dirs[0] / "memory.max").write_text(str(memory))
        (dirs[0] / "memory.swap.max").write_text("0")
        (dirs[0] / "pids.max").write_text(str(pids))
    return Cgroup(version=version, dirs=dirs, memory=memory, pids=pids)


def _enable_controllers(folder: Path) -> None:
    with contextlib.suppress(OSError):  # already enabled
        (folder / "cgroup.subtree_control").write_text("+memory +pids")


def remove_leftovers(scope: str) -> int:
    """Empty and remove the build cgroups an earlier (killed) server of the farm ``scope``
    left; how many."""
    found = _hierarchies()
    if found is None or os.geteuid() != 0:
        return 0
    count = 0
    for root in set(found[1].values()):
        parent = root / PARENT / scope
        for folder in parent.iterdir() if parent.is_dir() else ():
            if folder.is_dir():
                _empty_and_remove(folder)
                count += 1
    return count


def _empty_and_remove(folder: Path) -> None:
    for _ in range(50):
        try:
            pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
        except OSError:
            return  # already gone
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            folder.rmdir()
        except OSError:
            time.sleep(0.1)  # processes still exiting
        else:
            return
    log.warning("devpi-buildfarm: could not remove cgroup %s", folder)
