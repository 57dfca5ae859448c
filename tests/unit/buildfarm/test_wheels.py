"""What a built wheel says about itself, read through the bounded archive reader."""

from __future__ import annotations

import io
import zipfile

import pytest

from devpi_buildfarm.core.plan import same_release
from devpi_buildfarm.core.sandbox import (
    LAUNCH_SCRIPT,
    Drop,
    Sandbox,
    build_env,
    bwrap_argv,
    launch_argv,
)
from devpi_buildfarm.core.wheels import import_names, name_and_version
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


def test_import_names_ignore_a_stale_top_level_txt() -> None:
    record = (b"alpha/__init__.py,sha256=x,0\n"
              b"alpha/_core.cpython-311-x86_64-linux-gnu.so,sha256=y,1\n"
              b"x-1.0.dist-info/top_level.txt,,\n"
              b"x-1.0.dist-info/RECORD,,\n")  # fmt: skip
    data = wheel({
        "alpha/__init__.py": b"",
        "alpha/_core.cpython-311-x86_64-linux-gnu.so": b"",
        "x-1.0.dist-info/top_level.txt": b"alpha\ngone_long_ago\n",
        "x-1.0.dist-info/RECORD": record,
    })  # fmt: skip
    assert import_names(data, "x-1.0-cp311-cp311-linux_x86_64.whl") == ["alpha", "alpha._core"]


def test_import_names_from_record_with_quoted_paths_and_namespaces() -> None:
    record = (b'"ns/a,b/__init__.py",sha256=x,0\n'
              b"ns/real/__init__.py,sha256=x,0\n"
              b"ns/real/deep/_ext.abi3.so,sha256=x,0\n"
              b"../../bin/evil,,\n/etc/passwd,,\n"
              b"x-1.0.dist-info/RECORD,,\n")  # fmt: skip
    data = wheel({"x-1.0.dist-info/RECORD": record})
    # ns/real/deep is no package: its extension module is not importable by that path
    assert import_names(data, "x-1.0-py3-none-any.whl") == ["ns.real"]


def test_import_names_without_record_come_from_members() -> None:
    data = wheel({
        "pkg/__init__.py": b"",
        "pkg/_speedups.cpython-311-x86_64-linux-gnu.so": b"",
        "single.py": b"",
        "_native.cpython-311-x86_64-linux-gnu.so": b"",
        "pkg.libs/libsqlite3-abc.so.0": b"",
        "x-1.0.dist-info/METADATA": META,
        "x-1.0.data/scripts/tool": b"",
        "notpkg/data.txt": b"",
        "bad-name/__init__.py": b"",
    })  # fmt: skip
    assert import_names(data, "x-1.0-cp311-cp311-linux_x86_64.whl") == [
        "_native",
        "pkg",
        "pkg._speedups",
        "single",
    ]


def test_same_release() -> None:
    assert same_release("ext-demo", "1.0.0", "Ext_Demo", "1.0")
    assert not same_release("other", "1.0", "ext-demo", "1.0")
    assert not same_release("ext-demo", "1.1", "ext-demo", "1.0")
    assert same_release("x", "not a version", "x", "not a version")


def test_sandbox_exposes_only_what_it_lists() -> None:
    env = build_env(["/job/env/bin"])
    assert env["PIP_NO_INDEX"] == "1"
    assert "DEVPISERVER_SECRETFILE" not in env
    box = Sandbox(env=env, readable=["/usr", "/opt/py"], disk=1024, memory=10)
    argv = bwrap_argv("bwrap", ["python"], box, {})
    assert argv[:7] == ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
                        "--die-with-parent", "--new-session", "--clearenv"]  # fmt: skip
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind-try"] == ["/usr", "/opt/py"]
    assert "--bind" not in argv  # nothing of the host is writable
    assert argv[argv.index("--tmpfs", argv.index("/dev/shm")) - 2 :][:4] == [
        "--size", "1024", "--tmpfs", "/job"]  # fmt: skip
    remounted = [argv[i + 1] for i, a in enumerate(argv) if a == "--remount-ro"]
    assert remounted == ["/dev", "/"]  # only /job and /dev/shm take writes
    assert argv[-2:] == ["--", "python"]


def test_root_launcher_drops_to_the_build_user_after_joining_cgroups() -> None:
    box = Sandbox(env={}, readable=["/usr", "/root/py"], symlinks=[("/bin", "usr/bin")])
    drop = Drop(uid=65534, gid=65534, stage="/tmp/s", cgroup_procs=["/cg/a", "/cg/b"])
    argv = launch_argv(["python"], box, drop, bwrap="bwrap")
    script_args = argv[argv.index("launch") + 1 : argv.index("setpriv")]
    assert script_args == ["/tmp/s", "2", "/usr", "/root/py", "/cg/a", "/cg/b", "--"]
    setpriv = argv[argv.index("setpriv") : argv.index("bwrap")]
    assert "--reuid=65534" in setpriv
    assert "--inh-caps=-all" in setpriv
    assert "--bounding-set=-all" in setpriv
    binds = [argv[i + 1 : i + 3] for i, a in enumerate(argv) if a == "--ro-bind-try"]
    assert binds == [["/tmp/s/0", "/usr"], ["/tmp/s/1", "/root/py"]]
    assert "$1" in LAUNCH_SCRIPT  # paths are arguments, never interpolated shell code
    assert "/root/py" not in LAUNCH_SCRIPT
