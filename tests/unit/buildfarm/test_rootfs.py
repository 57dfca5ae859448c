"""The local backend's image root filesystems: what a sandbox binds of one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devpi_buildfarm.adapters import rootfs
from devpi_buildfarm.adapters.toolbox import Toolbox
from devpi_buildfarm.core import interpreters, sandbox

if TYPE_CHECKING:
    from pathlib import Path


def test_an_images_system_replaces_the_hosts(tmp_path: Path) -> None:
    root = tmp_path / "img"
    for name in ("usr/bin", "etc", "opt/python", "var", "home"):
        (root / name).mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    (root / "lib").symlink_to("/etc")  # an absolute link is not followed
    image = rootfs.load(root, Toolbox(tmp_path / "work"))
    assert image.mounts == ((f"{root}/usr", "/usr"), (f"{root}/etc", "/etc"),
                            (f"{root}/opt", "/opt"))  # fmt: skip
    assert image.symlinks == (("/bin", "usr/bin"),)
    assert (tmp_path / "work" / "toolbox" / "run.py").is_file()
    assert (
        tmp_path / "work" / "toolbox" / "lib" / "devpi_buildfarm" / "inside" / "driver.py"
    ).is_file()
    box = image.sandbox(disk=1024)
    argv = sandbox.bwrap_argv("bwrap", image.driver(), box, {})
    binds = [argv[i + 1 : i + 3] for i, arg in enumerate(argv) if arg == "--ro-bind"]
    assert [image.tools, rootfs.TOOLS] in binds
    assert [f"{root}/usr", "/usr"] in binds
    assert "/usr" not in argv[argv.index("--ro-bind") - 1 :][:1]  # no host /usr bind
    assert box.env["DEVPI_BUILDFARM_TOOLS"] == "/devpi-buildfarm/run.py"


def test_what_is_no_rootfs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an unpacked root filesystem"):
        rootfs.load(tmp_path, Toolbox(tmp_path / "work"))


def test_the_driver_runs_with_the_images_newest_cpython(tmp_path: Path) -> None:
    root = tmp_path / "img"
    (root / "usr").mkdir(parents=True)
    (root / "etc").mkdir()
    image = rootfs.load(root, Toolbox(tmp_path / "work"))
    found = interpreters.parse_probe("aarch64\n64\npython /usr/bin/python3.11\n")
    probed = rootfs.RootImage(path=image.path, mounts=image.mounts, symlinks=image.symlinks,
                              tools=image.tools, probe=found)  # fmt: skip
    assert probed.driver()[:3] == ["/usr/bin/python3.11", "-I", "/devpi-buildfarm/run.py"]
