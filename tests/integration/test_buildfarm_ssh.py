"""devpi_buildfarm's ssh backend against a real sshd on loopback (asyncssh, strict host keys):
an sdist upload becomes a repaired manylinux wheel built on the "remote" host as its
unprivileged build user inside bubblewrap there, which pip installs and imports; an
unknown host key, a readable key file and a missing host each fail the job at once with
the reason; the job directory on the host is removed in every outcome."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from devpi_buildfarm.core.targets import host_target
from harness import serverlog, sshd
from harness.api import DevpiApi
from harness.buildfarm import seed_tools, target_rows, upload_and_build
from harness.clients import DevpiClient, Venv, pip_install
from harness.dists import Project, make_sdist
from harness.server import DevpiServer
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Iterator

BINDIR = Path(sys.executable).parent
PASSWORD = "bob-pw"  # noqa: S105 - a throw-away test user
TARGET, _ = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
BAD_TARGET: Final = TARGET.replace("manylinux", "musllinux")


def builders(daemon: sshd.Sshd, work: Path) -> str:
    wrong = work / "wrong_known_hosts"  # another key for the same host: a changed host key
    line = daemon.known_hosts.read_text().split()
    other = (work / "other.pub").read_text().split() if (work / "other.pub").exists() else line[1:]
    wrong.write_text(f"{line[0]} {other[0]} {other[1]}\n")
    loose = work / "loose_key"
    loose.write_bytes(daemon.key_file.read_bytes())
    loose.chmod(0o644)
    common = (f'host = "127.0.0.1"\nport = {daemon.port}\nuser = "{sshd.USER}"\n'
              f'key_file = "{daemon.key_file}"\n')  # fmt: skip
    return (
        f'[builder.remote]\nbackend = "ssh"\ntargets = ["{TARGET}"]\n'
        f'manylinux = "manylinux_2_28"\n'
        f'timeout = 300\nmemory = "2g"\ndisk = "1g"\n{common}'
        f'known_hosts = "{daemon.known_hosts}"\n\n'
        f'[builder.changedkey]\nbackend = "ssh"\ntargets = ["{BAD_TARGET}"]\n'
        f'{common}known_hosts = "{wrong}"\n'
    )  # fmt: skip


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevpiServer, DevpiApi]]:
    require(sshd.problem(), "an sshd with a build user")
    work = tmp_path_factory.mktemp("ssh-farm")
    daemon = sshd.start(work / "sshd")
    sshd._keygen(work / "other")  # noqa: SLF001 - a second host key, never served
    (work / "builders.toml").write_text(builders(daemon, work))
    args = ("--buildfarm-builders", str(work / "builders.toml"), "--buildfarm-workers", "1",
            "--buildfarm-max-attempts", "1")  # fmt: skip
    server = DevpiServer(work / "serverdir", BINDIR, args=args)
    # the changed host key, on purpose: logged whenever the farm probes that builder
    with serverlog.expected_while("builder 'changedkey' cannot build"):
        try:
            server.start()
            seed_tools(server, work)
            api = DevpiApi(server.url)
            api.create_user("bob", PASSWORD)
            api = api.login("bob", PASSWORD)
            api.create_index(
                "bob/dev", bases=["root/tools"], buildfarm_targets=[TARGET, BAD_TARGET]
            )
            yield server, api
        finally:
            server.stop()
            daemon.stop()


def job_dirs() -> list[str]:
    return sorted(p.name for p in Path("/tmp").glob("devpi-buildfarm-????????"))


def read_log(api: DevpiApi, job: dict[str, Any]) -> str:
    path = f"bob/dev/+buildfarm/jobs/{job['id']}/log"
    return api.request("GET", path, headers={"Accept": "text/plain"}).body.decode()


def test_targets_say_what_the_host_builds_and_why_not(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, _ = farm
    rows = target_rows(DevpiClient(tmp_path / "c").use_login(server.url, "bob", PASSWORD),
                       "bob/dev")  # fmt: skip
    native, changed = rows[TARGET], rows[BAD_TARGET]
    assert "remote [ssh]" in native
    assert native.endswith("native")
    assert "cannot run: devpi-build@127.0.0.1" in changed or "host key" in changed, changed
    assert "unknown or changed" in changed, changed


def test_sdist_upload_builds_on_the_remote_host(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    before = job_dirs()
    project = Project("ssh-ext", "1.0", c_extension=True)
    devpi = DevpiClient(tmp_path / "client").use_login(server.url, "bob", PASSWORD)
    jobs = upload_and_build(devpi, api, "bob/dev", make_sdist(tmp_path, project), project.name)
    job, changed = jobs[TARGET], jobs[BAD_TARGET]
    log = read_log(api, job)
    assert job["state"] == "succeeded", log[-3000:]
    assert "-cp311-cp311-manylinux" in job["wheel"]
    isolation = job["isolation"]
    for promise in (f"ssh({sshd.USER}@127.0.0.1:", "host key SHA256:",
                    "bubblewrap(network=none, disk=1073741824)", "rlimits(as=2147483648",
                    "timeout=300s"):  # fmt: skip
        assert promise in isolation, isolation
    assert "auditwheel repair --plat manylinux_2_28" in log
    assert "import ssh_ext._speedups: ok" in log
    environment = job["record"]["observed"]["environment"]
    assert environment["host_key"].startswith("SHA256:")
    assert (environment["user"], environment["sandbox"]) == (sshd.USER, "bubblewrap")
    assert changed["state"] == "failed"
    assert "unknown or changed" in changed["error"], changed
    venv = Venv.create(tmp_path / "venv")
    pip_install(venv, tmp_path / "pip", f"{server.url}/bob/dev/+simple/", "--only-binary",
                ":all:", project.name)  # fmt: skip
    code = f"print({project.module}._speedups.answer())"
    assert venv.import_(f"{project.module}._speedups", tmp_path / "pip", code).strip() == "42"
    assert job_dirs() == before, "a job directory was left on the build host"
