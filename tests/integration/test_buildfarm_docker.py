"""devpi_buildfarm's docker backend against a real daemon, reached on its socket and as a
remote daemon over ssh:// (a loopback sshd, asyncssh): an sdist upload becomes a repaired
manylinux wheel built, repaired and smoke-tested in containers of a local image (files in
and out by archive copy only), which pip installs and imports; ``devpi build targets`` says
what the image can and cannot build; containers and volumes never outlive their build, and
those a killed server left are removed at start."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from devpi_buildfarm.adapters.backends import farm_scope
from devpi_buildfarm.config import ServerOptions
from harness import docker, sshd
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
TARGET: Final = "cp311-manylinux_x86_64"
BUILDERS: Final = """\
[builder.container]
backend = "docker"
image = "{image}"{remote}
targets = ["{target}"]
manylinux = "manylinux_2_28"
max_jobs = 1
timeout = 300
memory = "2g"
disk = "1g"
cpus = 2

[builder.nopython]
backend = "docker"
image = "{image}"{remote}
targets = ["cp312-manylinux_x86_64"]
"""
DAEMONS: Final = ("local", "ssh")


@pytest.fixture(scope="module", params=DAEMONS)
def farm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DevpiServer, DevpiApi]]:
    require(docker.problem(), f"the Docker daemon with the image {docker.IMAGE}")
    work = tmp_path_factory.mktemp(f"docker-farm-{request.param}")
    remote, daemon = "", None
    if request.param == "ssh":  # the same daemon, reached as a remote one: ssh:// only
        require(sshd.problem(sshd.DOCKER_USER), "an sshd with a user in the group docker")
        daemon = sshd.start(work / "sshd")
        remote = (f'\ndocker_host = "ssh://{sshd.DOCKER_USER}@127.0.0.1:{daemon.port}"\n'
                  f'key_file = "{daemon.key_file}"\n'
                  f'known_hosts = "{daemon.known_hosts}"')  # fmt: skip
    (work / "builders.toml").write_text(
        BUILDERS.format(image=docker.IMAGE, remote=remote, target=TARGET)
    )
    serverdir = work / "serverdir"
    scope = farm_scope(ServerOptions.from_args(object(), str(serverdir)))
    # what a killed server of this farm would have left on the daemon
    client = docker.client()
    stale = client.volumes.create(labels={docker.LABEL: scope})
    client.containers.create(docker.IMAGE, ["true"], labels={docker.LABEL: scope},
                             volumes={stale.name: {"bind": "/x", "mode": "rw"}})  # fmt: skip
    assert len(docker.leftovers(scope)) == 2
    args = ("--buildfarm-builders", str(work / "builders.toml"), "--buildfarm-workers", "1",
            "--buildfarm-max-attempts", "1")  # fmt: skip
    server = DevpiServer(serverdir, BINDIR, args=args).start()
    try:
        seed_tools(server, work)
        api = DevpiApi(server.url)
        api.create_user("bob", PASSWORD)
        api = api.login("bob", PASSWORD)
        api.create_index("bob/dev", bases=["root/tools"],
                         buildfarm_targets=[TARGET, "cp312-manylinux_x86_64"])  # fmt: skip
        yield server, api
    finally:
        server.stop()
        if daemon is not None:
            daemon.stop()
            log = daemon.log.read_text(errors="replace")
            assert f"Accepted publickey for {sshd.DOCKER_USER}" in log, log[-2000:]
        assert docker.leftovers(scope, within=30) == []


def scope_of(server: DevpiServer) -> str:
    return farm_scope(ServerOptions.from_args(object(), str(server.serverdir)))


def read_log(api: DevpiApi, job: dict[str, Any]) -> str:
    path = f"bob/dev/+buildfarm/jobs/{job['id']}/log"
    return api.request("GET", path, headers={"Accept": "text/plain"}).body.decode()


def test_leftovers_of_a_killed_server_are_removed_at_start(
    farm: tuple[DevpiServer, DevpiApi],
) -> None:
    server, _ = farm
    assert docker.leftovers(scope_of(server), within=30, spares=False) == []


def test_targets_say_what_the_image_builds(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, _ = farm
    rows = target_rows(DevpiClient(tmp_path / "c").use_login(server.url, "bob", PASSWORD),
                       "bob/dev")  # fmt: skip
    native, missing = rows[TARGET], rows["cp312-manylinux_x86_64"]
    assert "container [docker]" in native
    assert native.endswith("native")
    assert "cannot run: image" in missing
    assert "it has no CPython for cp312 (found: 3.11)" in missing


def test_sdist_upload_builds_repairs_and_smoke_tests_in_containers(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    project = Project("docker-ext", "1.0", c_extension=True)
    devpi = DevpiClient(tmp_path / "client").use_login(server.url, "bob", PASSWORD)
    started = time.time() - 1
    jobs = upload_and_build(devpi, api, "bob/dev", make_sdist(tmp_path, project), project.name)
    job, other = jobs[TARGET], jobs["cp312-manylinux_x86_64"]
    log = read_log(api, job)
    assert job["state"] == "succeeded", log[-3000:]
    assert "-cp311-cp311-manylinux" in job["wheel"]
    isolation = job["isolation"]
    assert isolation.startswith(f"docker(image={docker.IMAGE}@sha256:"), isolation
    for promise in ("native", "user=65534:65534", "network=none", "read-only",
                    "memory=2147483648", "disk=1073741824", "cpus=2", "timeout=300s"):  # fmt: skip
        assert promise in isolation
    assert set(job["timings"]) >= {"fetch", "deps", "build", "repair", "verify", "smoke", "publish"}
    assert "auditwheel repair --plat manylinux_2_28_x86_64" in log
    assert "import docker_ext._speedups: ok" in log  # from RECORD, extension included
    record = job["record"]  # how it ran, for provenance
    observed, reported = record["observed"], record["reported"]
    assert observed["backend"] == "docker"
    assert observed["environment"]["image_id"].startswith("sha256:")
    assert observed["environment"]["runs"] == "native"
    assert record["sdist"] == {"name": job["sdist"], "sha256": job["sdist_sha256"]}
    assert record["wheel"] == {"name": job["wheel"], "sha256": job["wheel_sha256"]}
    builds = [key for key in observed["inputs"] if key.startswith("build")]
    last = observed["inputs"][builds[-1]]  # the session that built the wheel
    assert {item["name"].split("/")[0] for item in last} == {"sdist", "wheelhouse"}
    assert all(len(item["sha256"]) == 64 for item in last)
    assert reported["tools"]["python"].startswith("3.11")
    assert reported["tools"]["auditwheel"]
    assert any("auditwheel repair" in c for c in reported["build_commands"])
    # the target the image cannot build failed at once, saying why
    assert other["state"] == "failed"
    assert "it has no CPython for cp312" in other["error"]
    venv = Venv.create(tmp_path / "venv")
    simple = f"{server.url}/bob/dev/+simple/"
    pip_install(venv, tmp_path / "pip", simple, "--only-binary", ":all:", project.name)
    code = f"print({project.module}._speedups.answer())"
    assert venv.import_(f"{project.module}._speedups", tmp_path / "pip", code).strip() == "42"
    assert docker.leftovers(scope_of(server), within=30, spares=False) == []
    # each session (build, smoke test) took the spare made ahead, renamed for the job; the
    # next spare waits (one per builder: this farm has two), started, never used (no exec
    # ever ran in it)
    renamed = docker.renamed_since(scope_of(server), started)
    assert len([n for n in renamed if f"-{job['id']}-" in n]) >= 2, renamed
    spares = docker.spares(scope_of(server))
    assert 1 <= len(spares) <= 2, spares
    assert [s.status for s in spares] == ["running"] * len(spares)
    assert [s.attrs.get("ExecIDs") for s in spares] == [None] * len(spares)
