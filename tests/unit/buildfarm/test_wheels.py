"""What a built wheel says about itself, read through the bounded archive reader."""

from __future__ import annotations

import io
import zipfile

import pytest

from devpi_buildfarm.core.plan import same_release
from devpi_buildfarm.core.sandbox import Sandbox, build_env, bwrap_argv
from devpi_buildfarm.core.wheels import name_and_version, top_level_names
from devpi_foundry_common.archive import ArchiveError


def wheel(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


META = b"Metadata-Version: 2.1\nName: Ext_Demo\nVersion: 1.0\n"


def test_name_and_version_are_normalised() -> None:
    data = wheel({"ext_demo-1.0.dist-info/METADATA": META})
    assert name_and_version(data, "ext_demo-1.0-py3-none-any.whl") == ("ext-demo", "1.0")


def test_metadata_without_version_is_refused() -> None:
    data = wheel({"x-1.0.dist-info/METADATA": b"Name: x\n"})
    with pytest.raises(ArchiveError, match="no Name or Version"):
        name_and_version(data, "x-1.0-py3-none-any.whl")


def test_top_level_from_top_level_txt() -> None:
    data = wheel({"x-1.0.dist-info/top_level.txt": b"alpha\nbeta/sub\n\nnot-valid\n"})
    assert top_level_names(data, "x-1.0-py3-none-any.whl") == ["alpha", "beta"]


def test_top_level_from_members() -> None:
    data = wheel({
        "pkg/__init__.py": b"",
        "pkg/_speedups.cpython-311-x86_64-linux-gnu.so": b"",
        "single.py": b"",
        "_native.cpython-311-x86_64-linux-gnu.so": b"",
        "pkg.libs/libsqlite3-abc.so.0": b"",
        "x-1.0.dist-info/METADATA": META,
        "x-1.0.data/scripts/tool": b"",
        "notpkg/data.txt": b"",
    })  # fmt: skip
    assert top_level_names(data, "x-1.0-cp311-cp311-linux_x86_64.whl") == [
        "_native",
        "pkg",
        "single",
    ]


def test_same_release() -> None:
    assert same_release("ext-demo", "1.0.0", "Ext_Demo", "1.0")
    assert not same_release("other", "1.0", "ext-demo", "1.0")
    assert not same_release("ext-demo", "1.1", "ext-demo", "1.0")
    assert same_release("x", "not a version", "x", "not a version")


def test_sandbox_exposes_only_what_it_lists() -> None:
    env = build_env(home="/w/home", tmp="/w/tmp", path=["/w/env/bin"])
    assert env["PIP_NO_INDEX"] == "1"
    assert "DEVPISERVER_SECRETFILE" not in env
    box = Sandbox(cwd="/w", env=env, writable=["/w"], readable=["/usr", "/opt/py"], memory=10)
    argv = bwrap_argv("bwrap", ["python"], box)
    assert argv[:5] == [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    assert argv[argv.index("--ro-bind-try", argv.index("--tmpfs")) + 1] == "/opt/py"
    binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"]
    assert binds == ["/w"]
    assert argv[-2:] == ["--", "python"]
