"""What differs between SSH build hosts (Linux, macOS, Windows), and the ssh settings."""

from __future__ import annotations

import shlex
import subprocess
from typing import TYPE_CHECKING

import pytest

from devpi_buildfarm.adapters.docker_backend import settings_of as docker_settings
from devpi_buildfarm.adapters.ssh_backend import SshBackend, settings_of
from devpi_buildfarm.adapters.ssh_link import SshError, check_key_file
from devpi_buildfarm.core import remote
from devpi_buildfarm.core.builders import Builder
from devpi_buildfarm.core.targets import parse_target

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("target", "family"),
    [("cp311-manylinux_aarch64", "linux"), ("cp312-musllinux_x86_64", "linux"),
     ("cp313-macosx_arm64", "macos"), ("cp311-win_amd64", "windows"), ("cp311-win32", "windows")],
)  # fmt: skip
def test_family_of_a_target(target: str, family: str) -> None:
    assert remote.family_of(parse_target(target)) == family


def test_posix_words_survive_the_shell() -> None:
    hostile = ["a b", "$(touch /tmp/x)", "`id`", "'; rm -rf /", "--flag=1"]
    line = " ".join(remote.quote("linux", w) for w in hostile)
    out = subprocess.run(["sh", "-c", f"printf '%s\\n' {line}"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert out.splitlines() == hostile


def test_windows_quoting_doubles_single_quotes() -> None:
    assert remote.quote("windows", "it's") == "'it''s'"


def test_job_directories_and_their_removal() -> None:
    assert remote.make_job_dir("linux").endswith("mktemp -d /tmp/devpi-buildfarm-XXXXXXXX")
    assert "New-Item" in remote.make_job_dir("windows")
    assert remote.remove_dir("linux", "/tmp/devpi-buildfarm-ab cd") == (
        "chmod -R u+rwX '/tmp/devpi-buildfarm-ab cd' 2>/dev/null; "
        "rm -rf '/tmp/devpi-buildfarm-ab cd'"
    )
    assert remote.remove_dir("windows", "C:\\t\\x").startswith("Remove-Item -Recurse -Force")
    assert remote.job_root("macos") == "/tmp"


def test_interpreters_per_family() -> None:
    linux = remote.interpreter_candidates("linux", parse_target("cp311-manylinux_x86_64"))
    assert linux[0] == "/opt/python/cp311-cp311/bin/python"
    mac = remote.interpreter_candidates("macos", parse_target("cp313t-macosx_arm64"))
    assert mac[0] == "/Library/Frameworks/PythonT.framework/Versions/3.13/bin/python3.13t"
    win = remote.interpreter_candidates("windows", parse_target("cp312-win_amd64"))
    assert win == ["C:\\Python312\\python.exe", "py -3.12"]


def test_repair_tools_per_family() -> None:
    assert remote.repair_argv("linux", None, "w.whl", "o") == ["auditwheel", "repair", "-w", "o",
                                                              "w.whl"]  # fmt: skip
    assert remote.repair_argv("windows", None, "w.whl", "o") == ["delvewheel", "repair", "-w",
                                                                "o", "w.whl"]  # fmt: skip
    assert remote.repair_argv("plan9", None, "w.whl", "o") is None


@pytest.mark.parametrize("login_shell", ["sh", "bash"])
def test_limited_command_runs_under_its_limits(login_shell: str) -> None:
    """The same limits in bytes whichever shell runs the line (bash counts ``ulimit -f``
    in KiB, POSIX shells in 512-byte blocks)."""
    show = "grep -E 'Max (file size|address space)' /proc/self/limits; echo $A $HOME"
    line = remote.limited("linux", ["sh", "-c", show],
                          env={"A": "x y"}, seconds=10, memory=512 * 1024 * 1024,
                          processes=50, file_bytes=4 * 1024 * 1024)  # fmt: skip
    out = subprocess.run([login_shell, "-c", line], capture_output=True, text=True, check=True,
                         env={"HOME": "/secret", "PATH": "/usr/bin:/bin"}).stdout  # fmt: skip
    limits = {" ".join(row.split()[:3]): row.split()[3] for row in out.splitlines()[:2]}
    assert limits == {"Max file size": str(4 * 1024 * 1024),
                      "Max address space": str(512 * 1024 * 1024)}  # fmt: skip
    assert out.splitlines()[2] == "x y"  # HOME is not passed on
    assert "timeout -s KILL 10" in line
    windows = remote.limited("windows", ["python", "-V"], env={"A": "1"}, seconds=1, memory=1,
                             processes=1, file_bytes=1)  # fmt: skip
    assert windows == "$env:A = '1'; & 'python' '-V'"
    assert shlex.split(shlex.split(line)[-1])[-3:] == ["sh", "-c", show]


def builder(**settings: object) -> Builder:
    return Builder(name="r", backend="ssh", targets=("cp311-manylinux_x86_64",),
                   settings=dict(settings))  # fmt: skip


def test_ssh_settings_need_host_user_key_and_known_hosts() -> None:
    with pytest.raises(ValueError, match="needs host, user, key_file, known_hosts"):
        settings_of(builder())
    full = {"host": "h", "user": "u", "key_file": "k", "known_hosts": "kh"}
    assert settings_of(builder(**full))["port"] == 22
    with pytest.raises(ValueError, match="port must be a TCP port"):
        settings_of(builder(**full, port=70000))
    with pytest.raises(ValueError, match="sandbox is 'bubblewrap' or 'none'"):
        settings_of(builder(**full, sandbox="chroot"))


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("secret")
    key.chmod(0o640)
    with pytest.raises(SshError, match="readable by group or others"):
        check_key_file(key)
    key.chmod(0o600)
    check_key_file(key)
    with pytest.raises(SshError, match="No such file"):
        check_key_file(tmp_path / "missing")


def test_sandbox_none_needs_one_job_and_the_servers_consent(tmp_path: Path) -> None:
    full = {"host": "h", "user": "u", "key_file": "k", "known_hosts": "kh", "sandbox": "none"}
    many = Builder(name="r", backend="ssh", targets=("cp311-manylinux_x86_64",), max_jobs=2,
                   settings=dict(full))  # fmt: skip
    with pytest.raises(ValueError, match="max_jobs must be 1"):
        settings_of(many)
    with pytest.raises(ValueError, match="needs devpi-server's --buildfarm-allow-unisolated"):
        SshBackend(builder(**full), workdir=tmp_path)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"user": "0"}, "must be a numeric uid:gid other than root's"),
        ({"user": "00:00"}, "must be a numeric uid:gid other than root's"),
        ({"user": "root"}, "must be a numeric uid:gid"),
        ({"user": "nobody"}, "must be a numeric uid:gid"),
        ({"docker_host": "tcp://build1:2376"}, "a tcp:// daemon needs tls_ca_cert"),
        ({"cpus": 0}, "cpus must be a positive number"),
        ({"image": ""}, "needs 'image'"),
    ],
)
def test_docker_settings_refuse_root_and_unauthenticated_daemons(
    settings: dict[str, object], message: str
) -> None:
    found = {"image": "x", **settings}
    with pytest.raises(ValueError, match=message):
        docker_settings(Builder(name="d", backend="docker", targets=("cp311-manylinux_x86_64",),
                                settings=found))  # fmt: skip
    ok = Builder(name="d", backend="docker", targets=("cp311-manylinux_x86_64",),
                 settings={"image": "x", "docker_host": "tcp://b:2376", "tls_ca_cert": "ca",
                           "tls_client_cert": "c", "tls_client_key": "k"})  # fmt: skip
    assert docker_settings(ok)["user"] == "65534:65534"
