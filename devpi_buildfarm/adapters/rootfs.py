"""An image's root filesystem for the local backend: builds for its architecture and its
CPythons in bubblewrap on this host, without Docker.

The builder's ``rootfs`` is a directory holding an unpacked image (``make-image
--unpack``): its system directories (``usr``, ``etc``, ``lib*``, ``bin``, ``sbin``,
``opt``) are bound read-only into each sandbox instead of the host's, its merged-``/usr``
links recreated, and the toolbox (the driver and its tools) bound at
``/devpi-buildfarm``. An image of another architecture runs under QEMU user emulation
when binfmt_misc has a handler for it with the ``F`` flag. The image is probed once, in
such a sandbox, for its architecture and CPythons.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from devpi_buildfarm.core import interpreters, sandbox

if TYPE_CHECKING:
    from pathlib import Path

    from devpi_buildfarm.adapters.toolbox import Toolbox

SYSTEM_DIRS: Final = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "opt")
TOOLS: Final = "/devpi-buildfarm"  # on the sandbox's own root: the image's /opt stays as it is
PATH: Final = ("/usr/local/bin", "/usr/bin", "/bin")


@dataclass(frozen=True, kw_only=True, slots=True)
class RootImage:
    """An unpacked image: what a sandbox binds of it, and what the probe found."""

    path: Path
    mounts: tuple[tuple[str, str], ...]
    symlinks: tuple[tuple[str, str], ...]
    tools: str
    probe: interpreters.Probe = field(default_factory=lambda: interpreters.Probe(arch="?"))

    def sandbox(self, *, disk: int, memory: int | None = None,
                pids: int | None = None) -> sandbox.Sandbox:  # fmt: skip
        """A sandbox of this image (``/devpi-buildfarm``: the toolbox)."""
        env = sandbox.build_env(PATH) | {"DEVPI_BUILDFARM_TOOLS": f"{TOOLS}/run.py"}
        return sandbox.Sandbox(env=env, symlinks=self.symlinks, disk=disk, memory=memory,
                               pids=pids, mounts=(*self.mounts, (self.tools, TOOLS)))  # fmt: skip

    def driver(self) -> list[str]:
        tool = interpreters.tool_python(self.probe) or "python3"
        return [tool, "-I", f"{TOOLS}/run.py", "devpi_buildfarm.inside.driver"]


def load(path: Path, toolbox: Toolbox) -> RootImage:
    """The layout of the image at ``path``; ``ValueError`` when it is none."""
    if not (path / "usr").is_dir() or not (path / "etc").is_dir():
        msg = f"rootfs {str(path)!r} is not an unpacked root filesystem (no usr/ and etc/)"
        raise ValueError(msg)
    mounts, links = [], []
    for name in SYSTEM_DIRS:
        entry = path / name
        if entry.is_symlink():
            target = str(entry.readlink())
            if target.startswith("usr/") and ".." not in target:
                links.append((f"/{name}", target))
        elif entry.is_dir():
            mounts.append((str(entry), f"/{name}"))
    return RootImage(path=path, mounts=tuple(mounts), symlinks=tuple(links),
                     tools=str(toolbox.directory()))  # fmt: skip


def probe(image: RootImage, bwrap: str, timeout: float = 300) -> RootImage:
    """The image with its probe: ``uname -m``, word size, CPythons (run in a sandbox of it,
    emulated where it is another architecture); ``ValueError`` saying why not."""
    box = image.sandbox(disk=64 * 1024 * 1024)
    argv = sandbox.bwrap_argv(bwrap, ["/bin/sh", "-c", interpreters.PROBE_SCRIPT], box, {})
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False,  # noqa: S603
                              env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"rootfs {str(image.path)!r}: the probe failed: {exc}"
        raise ValueError(msg) from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip()[-300:]
        msg = f"rootfs {str(image.path)!r} cannot run here ({done.returncode}): {why}"
        raise ValueError(msg)
    found = interpreters.parse_probe(done.stdout.decode("utf-8", "replace"))
    return RootImage(path=image.path, mounts=image.mounts, symlinks=image.symlinks,
                     tools=image.tools, probe=found)  # fmt: skip
