"""devpi_buildfarm end to end, on SQLite and on PostgreSQL: sdist uploads and ``devpi build
request`` become repaired manylinux wheels in the index, built by the in-process worker with
the local backend, that pip installs; the ``devpi build`` CLI; a server killed mid-build."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devpi_buildfarm.adapters import queue_schema
from devpi_buildfarm.adapters.queue_sql import SqlQueue
from harness import postgres
from harness.api import DevpiApi
from harness.buildfarm import seed_tools, wait_for
from harness.clients import DevpiClient, Venv, pip_install, twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.server import ROOT_PASSWORD, DevpiServer
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Iterator

from devpi_buildfarm.core.targets import host_target

BINDIR = Path(sys.executable).parent
TARGET, POLICY = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
PASSWORD = "bob-pw"  # noqa: S105 - a throw-away test user
FINAL = ("succeeded", "failed", "cancelled", "skipped")
MIRRORED = Project("mirror-ext", "1.0", c_extension=True)


@pytest.fixture(scope="session")
def extra_upstream(upstream: DevpiServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An upstream index holding only the sdist of a C extension (no wheel)."""
    base = tmp_path_factory.mktemp("extra-upstream")
    DevpiApi(upstream.url).login("root", ROOT_PASSWORD).create_index("root/extra", bases=[])
    sdist = make_sdist(base / "dists", MIRRORED)
    twine_upload(base / "home", f"{upstream.url}/root/extra/", "root", ROOT_PASSWORD, sdist)
    return f"{upstream.url}/root/extra/+simple/"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def farm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, extra_upstream: str
) -> Iterator[tuple[DevpiServer, DevpiApi]]:
    work = tmp_path_factory.mktemp(f"buildfarm-{request.param}")
    # short leases: a cancelled build stops within seconds (heartbeats every lease/3)
    args = ["--buildfarm-workers", "1", "--buildfarm-max-attempts", "1"]
    args += ["--buildfarm-lease-seconds", "6"]
    database = None
    if request.param == "postgresql":
        require(postgres.available(), "PostgreSQL on 127.0.0.1:5432")
        database = postgres.create_database("devpi_buildfarm_test")
        args += ["--buildfarm-db", postgres.url(database, "postgresql+pg8000")]
    server = DevpiServer(work / "serverdir", BINDIR, args=tuple(args)).start()
    try:
        root = seed_tools(server, work)
        root.create_index("root/mirror", type="mirror", mirror_url=extra_upstream)
        api = DevpiApi(server.url)
        api.create_user("bob", PASSWORD)
        api = api.login("bob", PASSWORD)
        api.create_index("bob/dev", bases=["root/tools"], buildfarm_targets=[TARGET])
        api.create_index("bob/plain", bases=["root/tools"])
        api.create_index("bob/fromup", bases=["root/mirror", "root/tools"])
        yield server, api
    finally:
        server.stop()
        if database is not None:
            postgres.drop_database(database)


def bob(server: DevpiServer, home: Path, index: str) -> DevpiClient:
    client = DevpiClient(home).use_login(server.url, "bob", PASSWORD)
    client("use", index)
    return client


def queued_job(api: DevpiApi, index: str, project: str, timeout: float = 60) -> dict[str, Any]:
    """The one job an upload queued (devpi's notifier thread queues it after the upload)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = api.ok("GET", f"{index}/+buildfarm/jobs?project={project}")
        if jobs:
            (job,) = jobs
            return dict(job)
        time.sleep(0.2)
    msg = f"no job for {project} within {timeout} s"
    raise AssertionError(msg)


def wait_state(api: DevpiApi, index: str, job_id: int, state: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.ok("GET", f"{index}/+buildfarm/jobs/{job_id}")["state"] == state:
            return
        time.sleep(0.2)
    msg = f"job {job_id} not {state} within {timeout} s"
    raise AssertionError(msg)


def read_log(api: DevpiApi, index: str, job_id: int) -> str:
    path = f"{index}/+buildfarm/jobs/{job_id}/log"
    return api.request("GET", path, headers={"Accept": "text/plain"}).body.decode()


def wheels_of(api: DevpiApi, index: str, project: str, version: str) -> list[str]:
    links = api.ok("GET", f"{index}/{project}/{version}")["+links"]
    return [link["href"].rsplit("/", 1)[1] for link in links if link["href"].endswith(".whl")]


def assert_installs(server: DevpiServer, index: str, project: Project, tmp_path: Path) -> None:
    venv = Venv.create(tmp_path / "venv")
    simple = f"{server.url}/{index}/+simple/"
    pip_install(venv, tmp_path / "pip", simple, "--only-binary", ":all:", project.name)
    code = f"print({project.module}._speedups.answer())"
    assert venv.import_(f"{project.module}._speedups", tmp_path / "pip", code).strip() == "42"


def test_sdist_upload_leads_to_an_installable_manylinux_wheel(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    project = Project("ext-demo", "1.0", c_extension=True)
    bob(server, tmp_path / "client", "bob/dev")("upload", str(make_sdist(tmp_path, project)))
    (job,) = wait_for(api, "bob/dev", "ext-demo")
    log = read_log(api, "bob/dev", job["id"])
    assert job["state"] == "succeeded", log[-3000:]
    assert job["target"] == TARGET
    assert "manylinux" in job["wheel"]
    assert set(job["timings"]) >= {"fetch", "deps", "build", "repair", "verify", "smoke", "publish"}
    record = job["record"]
    assert record["observed"]["backend"] == "local"
    assert record["wheel"] == {"name": job["wheel"], "sha256": job["wheel_sha256"]}
    assert record["timings"] == job["timings"]
    assert_installs(server, "bob/dev", project, tmp_path)
    links = api.ok("GET", "bob/dev/ext-demo/1.0")["+links"]
    (wheel_link,) = [link for link in links if link["href"].endswith(".whl")]
    assert any(entry.get("job") == job["id"] for entry in wheel_link["log"])
    # the same sdist again (another index, same sha256) queues nothing new
    assert api.ok("GET", "bob/dev/+buildfarm/jobs?project=ext-demo") == [job]


def test_rebuild_builds_from_source_where_a_wheel_already_serves(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    project = Project("ext-rebuild", "1.0", c_extension=True)
    pure = make_wheel(tmp_path / "pure", Project("ext-rebuild", "1.0"))  # serves every target
    devpi = bob(server, tmp_path / "client", "bob/dev")
    devpi("upload", str(pure))  # first: the sdist's upload plans its builds
    devpi("upload", str(make_sdist(tmp_path, project)))
    (skipped,) = wait_for(api, "bob/dev", "ext-rebuild")
    assert skipped["state"] == "skipped"
    assert "already serves" in skipped["reason"]
    plain = devpi("build", "request", "ext-rebuild")  # nothing to do: still skipped
    assert "skipped" in plain.stdout
    bad = api.request("POST", "bob/dev/+buildfarm/request",
                      {"requirements": ["ext-rebuild"], "rebuild": "yes"})  # fmt: skip
    assert bad.status == 400
    assert "'rebuild' must be true or false" in bad.body.decode()
    done = devpi("build", "request", "ext-rebuild", "--rebuild", "--wait")
    assert "succeeded" in done.stdout, done.stdout
    (job,) = wait_for(api, "bob/dev", "ext-rebuild")
    assert job["id"] == skipped["id"]  # the same job, queued again
    assert "manylinux" in job["wheel"]
    assert sorted(wheels_of(api, "bob/dev", "ext-rebuild", "1.0")) == sorted(
        [pure.name, job["wheel"]]
    )


def test_cli_request_list_show_and_errors(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    project = Project("ext-cli", "2.0", c_extension=True)
    devpi = bob(server, tmp_path / "client", "bob/plain")
    devpi("upload", str(make_sdist(tmp_path, project)))
    assert api.ok("GET", "bob/plain/+buildfarm/jobs") == []  # bob/plain has no targets

    targets = devpi("build", "targets", "--index", "bob/dev").stdout
    assert TARGET in targets
    assert "local" in targets
    missing = devpi("build", "request", "ext-cli", check=False)
    assert missing.returncode != 0
    assert "bob/plain has no buildfarm_targets" in missing.stdout + missing.stderr

    done = devpi("build", "request", "ext-cli>=2", "--target", TARGET, "--wait")
    assert "ext-cli 2.0" in done.stdout
    assert "succeeded" in done.stdout
    (job,) = json.loads(devpi("build", "list", "--json", "--project", "ext-cli").stdout)
    assert job["state"] == "succeeded"
    assert wheels_of(api, "bob/plain", "ext-cli", "2.0") == [job["wheel"]]
    shown = devpi("build", "show", str(job["id"])).stdout
    assert "timings:" in shown
    assert "smoke" in shown
    assert f"published {job['wheel']}" in shown
    listed = devpi("build", "list", "--state", "succeeded").stdout
    assert f"{job['id']:>6}  succeeded" in listed

    again = json.loads(devpi("build", "request", "ext-cli", "--target", TARGET, "--json").stdout)
    assert again[0]["jobs"][0]["id"] == job["id"]
    assert not again[0]["jobs"][0]["new"]

    nothing = devpi("build", "request", "ext-cli<1", "no-such-project", "--target", TARGET,
                    check=False)  # fmt: skip
    assert nothing.returncode == 1
    assert "ext-cli<1: no matching sdist on bob/plain (versions with an sdist: 2.0)" in (
        nothing.stdout + nothing.stderr
    )
    assert "no-such-project: no matching sdist on bob/plain (it has no sdist)" in (
        nothing.stdout + nothing.stderr
    )
    bad = devpi("build", "request", "ext-cli", "--target", "cp2-nowhere", check=False)
    assert bad.returncode != 0
    assert "'cp2-nowhere' matches no known target" in bad.stdout + bad.stderr
    retry = devpi("build", "retry", str(job["id"]), check=False)
    assert retry.returncode != 0
    assert "cannot retry a job that is succeeded" in retry.stdout + retry.stderr
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# wanted\next-cli==2.0  # pinned\n--index-url https://x\n")
    refused = devpi("build", "request", "-r", str(requirements), check=False)
    assert refused.returncode != 0
    assert "requirements.txt:3: option '--index-url' is not supported" in (
        refused.stdout + refused.stderr
    )


def test_request_builds_an_uncached_mirrored_sdist(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    devpi = bob(server, tmp_path / "client", "bob/fromup")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{MIRRORED.name}\n")
    done = devpi("build", "request", "-r", str(requirements), "--target", "cp3*-manylinux_x86_64",
                 "--target", TARGET, "--wait")  # fmt: skip
    assert "succeeded" in done.stdout, done.stdout
    jobs = api.ok("GET", "bob/fromup/+buildfarm/jobs")
    (job,) = [j for j in jobs if j["state"] != "skipped"]
    others = [j for j in jobs if j["state"] == "skipped"]
    assert others  # the glob's other Pythons: no builder here serves them, and it says so
    assert all(j["reason"] == f"no builder serves target {j['target']!r}" for j in others)
    assert job["target"] == TARGET
    assert job["sdist"] == "mirror_ext-1.0.tar.gz"
    assert job["upload_to"] == "bob/fromup"
    log = devpi("build", "show", str(job["id"])).stdout
    assert "fetching mirror_ext-1.0.tar.gz through the server as bob" in log
    assert wheels_of(api, "bob/fromup", "mirror-ext", "1.0") == [job["wheel"]]
    assert_installs(server, "bob/fromup", MIRRORED, tmp_path)


def test_cancel_a_running_build_and_retry_it(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    project = Project("slow-cancel", "1.0", build_seconds=600)
    devpi = bob(server, tmp_path / "client", "bob/dev")
    devpi("upload", str(make_sdist(tmp_path, project)))
    job = queued_job(api, "bob/dev", "slow-cancel")
    wait_state(api, "bob/dev", job["id"], "running")
    out = devpi("build", "cancel", str(job["id"])).stdout
    assert f"job {job['id']} is cancelled" in out
    # the worker notices at its next heartbeat, stops the build and takes the next job
    fast = Project("after-cancel", "1.0")
    devpi("upload", str(make_sdist(tmp_path, fast)))
    (after,) = wait_for(api, "bob/dev", "after-cancel", timeout=120)
    assert after["state"] == "succeeded"
    assert wheels_of(api, "bob/dev", "slow-cancel", "1.0") == []
    retried = devpi("build", "retry", str(job["id"])).stdout
    assert f"job {job['id']} is queued again" in retried
    devpi("build", "cancel", str(job["id"]))  # don't leave a 600 s build behind


def test_kill_9_mid_build_then_restart_builds_once(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    server, api = farm
    project = Project("ext-crash", "1.0", c_extension=True, build_seconds=4)
    bob(server, tmp_path / "client", "bob/dev")("upload", str(make_sdist(tmp_path, project)))
    job = queued_job(api, "bob/dev", "ext-crash")
    wait_state(api, "bob/dev", job["id"], "running")
    time.sleep(1.5)  # inside the build
    server.kill9()
    server.start()
    (done,) = wait_for(api, "bob/dev", "ext-crash")
    assert done["state"] == "succeeded", done
    assert done["id"] == job["id"]
    assert done["attempts"] == 1  # the interrupted attempt does not count
    assert wheels_of(api, "bob/dev", "ext-crash", "1.0") == [done["wheel"]]
    log = read_log(api, "bob/dev", job["id"])
    assert log.count("published") == 1
    # the killed server's job directory went at restart, the new attempt's when it ended
    assert list((server.serverdir / ".buildfarm" / "jobs").iterdir()) == []
    assert_installs(server, "bob/dev", project, tmp_path)


def test_an_upload_whose_event_was_lost_is_queued_at_the_next_start(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    """docs/buildfarm.md: "At start-up, every sdist of every index with targets is planned
    again, so uploads whose events were lost to a crash are queued"."""
    server, api = farm
    project = Project("lost-event", "1.0")
    server.stop()
    # a server that only serves requests runs no notifier: the upload's event stays pending
    quiet = DevpiServer(server.serverdir, BINDIR, args=(*server.args, "--requests-only"),
                        port=server.port)  # fmt: skip
    quiet.start()
    try:
        bob(quiet, tmp_path / "client", "bob/dev")("upload", str(make_sdist(tmp_path, project)))
        with urllib.request.urlopen(f"{quiet.url}/+api", timeout=30) as resp:  # noqa: S310
            serial = int(resp.headers["X-Devpi-Serial"])
    finally:
        quiet.stop()
    queue = queue_of(server)
    try:
        assert queue.list_jobs(project="lost-event") == []
    finally:
        queue.engine.dispose()
        # ... and is lost, as if the server had been killed before its notifier got to it
        # (devpi keeps the last processed serial plus one in .event_serial)
        (server.serverdir / ".event_serial").write_text(str(serial + 1))
        server.start()
    job = queued_job(api, "bob/dev", "lost-event")
    assert job["sdist"] == "lost_event-1.0.tar.gz"
    (done,) = wait_for(api, "bob/dev", "lost-event")
    assert done["state"] == "succeeded", done


def queue_of(server: DevpiServer) -> SqlQueue:
    """The build queue of a stopped farm server, opened directly."""
    db = next((a for a in server.args if a.startswith("postgresql")), None)
    return SqlQueue.from_url(db or f"sqlite:///{server.serverdir}/.buildfarm/queue.sqlite")


def _dead_pid() -> int:
    """The pid of a process of this host that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_server_killed_between_storing_the_wheel_and_marking_the_job_publishes_once(
    farm: tuple[DevpiServer, DevpiApi], tmp_path: Path
) -> None:
    """docs/buildfarm.md: "A job publishes at most once: a server killed after storing the
    wheel but before marking the job finds the wheel (by its link log) when the job
    re-runs"."""
    server, api = farm
    project = Project("publish-once", "1.0")
    bob(server, tmp_path / "client", "bob/dev")("upload", str(make_sdist(tmp_path, project)))
    (done,) = wait_for(api, "bob/dev", "publish-once")
    assert done["state"] == "succeeded", done
    wheel = done["wheel"]
    server.stop()
    # the state a kill -9 right after the upload of the wheel leaves: the job still running,
    # leased by a process of this host that no longer exists
    queue = queue_of(server)
    try:
        with queue.engine.begin() as conn:
            conn.execute(queue_schema.jobs.update().where(queue_schema.jobs.c.id == done["id"])
                         .values(state="running", finished=None, wheel=None, wheel_sha256=None,
                                 lease_owner=f"{socket.gethostname()}:{_dead_pid()}:worker-0",
                                 lease_expires=time.time() + 3600))  # fmt: skip
    finally:
        queue.engine.dispose()
        server.start()
    deadline = time.monotonic() + 180
    while (again := api.ok("GET", f"bob/dev/+buildfarm/jobs/{done['id']}"))["state"] != "succeeded":
        assert again["state"] in ("queued", "running"), again
        assert time.monotonic() < deadline, again
        time.sleep(0.5)
    assert again["wheel"] == wheel
    assert "already published" in read_log(api, "bob/dev", done["id"])
    assert wheels_of(api, "bob/dev", "publish-once", "1.0") == [wheel]
    (link,) = [link for link in api.ok("GET", "bob/dev/publish-once/1.0")["+links"]
               if link["href"].endswith(wheel)]  # fmt: skip
    assert [entry["what"] for entry in link["log"]].count("build") == 1, link["log"]
