"""devpi_buildfarm against hostile sdists (:mod:`harness.hostile`): every misbehaving build
ends as a final job with a clear reason, bounded by its builder's limits, and nothing of it
reaches the host: no marker file, no secret in the log or the wheel, no planted file, no
connection out, no process, job directory or cgroup left, no farm traceback in the server log.

One devpi-server per backend (``local``: bubblewrap, run as root, builds as uid 65534 in
per-build cgroups; ``docker``: containers of the test image as uid 65534) with a builders
file of one tightly limited builder and two workers; the same cases and assertions for
both. The module fixture uploads all hostile sdists at once (the 60 s ``sleep`` first:
one worker sits in it while the other builds the rest); each test then waits for its own
job. A thread polls ``GET /+api`` the whole time, so tests can check the server answered
during a build.
"""

from __future__ import annotations

import io
import platform
import re
import secrets
import select
import socket
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from devpi_buildfarm.adapters.backends import farm_scope
from devpi_buildfarm.config import ServerOptions
from devpi_buildfarm.core.targets import host_target
from harness import docker, sshd
from harness.api import DevpiApi
from harness.buildfarm import seed_tools, wait_for
from harness.clients import twine_upload
from harness.dists import Project
from harness.hostile import CASES, make_hostile_sdist
from harness.server import DevpiServer
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Iterator

BINDIR = Path(sys.executable).parent
TARGET, POLICY = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
PASSWORD = "bob-pw"  # noqa: S105 - a throw-away test user
INDEX = "bob/dev"
FINAL = ("succeeded", "failed", "cancelled", "skipped")
#: in every project name: tells this module's builds from those of other test sessions
TOKEN: Final = secrets.token_hex(4)
BUILD_UID: Final = 65534
TIMEOUT: Final = 60
LOG_BYTES: Final = 1024 * 1024
OUTPUT_BYTES: Final = 20 * 1024 * 1024
BIG_WHEEL: Final = 40 * 1024 * 1024
TRUNCATED: Final = "[devpi-buildfarm: log truncated at the build's log_bytes limit]"
STAMP: Final = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
#: answering /+api slower than this while builds run counts as unresponsive
QUICK: Final = 3.0
BACKENDS: Final = ("local", "docker", "ssh")


def builders_text(backend: str, daemon: sshd.Sshd | None = None) -> str:
    """One tightly limited builder of ``backend`` (docker: the test image; ssh: the
    loopback sshd as its build user)."""
    image = f'\nimage = "{docker.IMAGE}"' if backend == "docker" else ""
    if daemon is not None:
        image = (f'\nhost = "127.0.0.1"\nport = {daemon.port}\nuser = "{sshd.USER}"\n'
                 f'key_file = "{daemon.key_file}"\n'
                 f'known_hosts = "{daemon.known_hosts}"')  # fmt: skip
    return f"""\
[builder.hostile]
backend = "{backend}"{image}
targets = ["{TARGET}"]
manylinux = "{POLICY}"
max_jobs = 2
timeout = {TIMEOUT}
memory = "1g"
pids = 256
disk = "512m"
output_bytes = "20m"
log_bytes = "1m"
"""


#: upload order: the long one first, so the two workers build in parallel
ORDER: Final = ["sleep", "big-log", "fork", "memory", *(c for c in CASES if c not in
                ("sleep", "big-log", "fork", "memory"))]  # fmt: skip


def project_of(case: str) -> str:
    return f"hostile-{case}-{TOKEN}"


def dist_of(case: str) -> str:
    return Project(project_of(case), "1.0").dist_name


class ApiPoller(threading.Thread):
    """``GET /+api`` every quarter second: (wall time, seconds it took or ``None``)."""

    def __init__(self, url: str) -> None:
        super().__init__(name="hostile-api-poller", daemon=True)
        self.url = f"{url}/+api"
        self.samples: list[tuple[float, float | None]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.samples.append((time.time(), api_latency(self.url)))

    def during(self, start: float, end: float) -> list[float | None]:
        return [took for when, took in list(self.samples) if start <= when <= end]


def api_latency(url: str) -> float | None:
    """Seconds ``GET url`` took, ``None`` when it failed (10 s at most)."""
    began = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
            resp.read()
            ok = resp.status == 200
    except (OSError, urllib.error.URLError):
        ok = False
    return time.monotonic() - began if ok else None


@dataclass
class Hostile:
    """The server under attack and what the tests compare against."""

    server: DevpiServer
    api: DevpiApi
    work: Path
    backend: str
    #: the uid builds run as
    uid: int
    env_secret: str
    file_secret: str
    listener: socket.socket
    poller: ApiPoller
    #: the test venv's bin/python* before any build: path -> what it was
    pythons: dict[str, str] = field(default_factory=dict)

    @property
    def farmdir(self) -> Path:
        return self.server.serverdir / ".buildfarm"

    @property
    def jobs_dir(self) -> Path:
        return self.farmdir / "jobs"

    def marker(self, case: str) -> Path:
        return self.work / "markers" / f"{case}.marker"

    @property
    def secret_values(self) -> list[str]:
        return [self.env_secret, self.file_secret]


def python_files() -> dict[str, str]:
    """bin/python* of the venv devpi-server runs from: each one's link target or size."""
    found = {}
    for path in sorted(BINDIR.glob("python*")):
        found[str(path)] = str(path.readlink()) if path.is_symlink() else str(path.stat().st_size)
    return found


def sdist_args(case: str, farm: Hostile) -> dict[str, Any]:
    """What ``make_hostile_sdist`` gets for ``case``: the marker, and the host's ports,
    paths and secrets it goes for."""
    args: dict[str, Any] = {"marker": str(farm.marker(case))}
    if case == "network":
        args["ports"] = [farm.server.port, farm.listener.getsockname()[1]]
    elif case == "read":
        args["paths"] = [
            str(farm.server.serverdir), str(farm.server.secretfile),
            str(farm.farmdir / "queue.sqlite"), "/root", "/etc/shadow",
            str(farm.farmdir / "wheelhouses"),
        ]  # fmt: skip
    elif case == "symlink-out":
        args["paths"] = [str(farm.server.secretfile)]
    elif case == "secret-env":
        args["secrets"] = farm.secret_values
    elif case == "big-wheel":
        args["wheel_bytes"] = BIG_WHEEL
    return args


@pytest.fixture(scope="module", params=BACKENDS)
def farm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hostile]:
    backend = str(request.param)
    if backend == "docker":
        require(docker.problem(), f"the Docker daemon with the image {docker.IMAGE}")
    if backend == "ssh":
        require(sshd.problem(), "an sshd with a build user")
    work = tmp_path_factory.mktemp(f"hostile-{backend}")
    (work / "markers").mkdir()
    daemon = sshd.start(work / "sshd") if backend == "ssh" else None
    builders = work / "builders.toml"
    builders.write_text(builders_text(backend, daemon))
    args = ("--buildfarm-builders", str(builders), "--buildfarm-workers", "2",
            "--buildfarm-max-attempts", "1")  # fmt: skip
    env_secret = f"env-secret-{secrets.token_hex(16)}"
    server = DevpiServer(work / "serverdir", BINDIR, args=args,
                         env={"DEVPI_FOUNDRY_TEST_SECRET": env_secret})  # fmt: skip
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    poller = ApiPoller(server.url)
    try:
        server.start()
        file_secret = server.secretfile.read_text().strip()
        assert len(file_secret) >= 16
        seed_tools(server, work)
        api = DevpiApi(server.url)
        api.create_user("bob", PASSWORD)
        api = api.login("bob", PASSWORD)
        api.create_index(INDEX, bases=["root/tools"], buildfarm_targets=[TARGET])
        uid = sshd.build_uid() if backend == "ssh" else BUILD_UID
        hostile = Hostile(server=server, api=api, work=work, env_secret=env_secret,
                          backend=backend, uid=uid,
                          file_secret=file_secret, listener=listener, poller=poller,
                          pythons=python_files())  # fmt: skip
        sdists = [
            make_hostile_sdist(work / "dists", case, name=project_of(case),
                               **sdist_args(case, hostile))
            for case in ORDER
        ]  # fmt: skip
        poller.start()
        twine_upload(work / "home", f"{server.url}/{INDEX}/", "bob", PASSWORD, *sdists)
        yield hostile
    finally:
        poller.done.set()
        server.stop()
        listener.close()
        if daemon is not None:
            daemon.stop()


# --- helpers -------------------------------------------------------------------------------
def read_log_bytes(api: DevpiApi, index: str, job_id: int) -> bytes:
    path = f"{index}/+buildfarm/jobs/{job_id}/log"
    return api.request("GET", path, headers={"Accept": "text/plain"}).body


def read_log(api: DevpiApi, index: str, job_id: int) -> str:
    return read_log_bytes(api, index, job_id).decode("utf-8", "replace")


def wheels_of(api: DevpiApi, index: str, project: str, version: str) -> list[str]:
    links = api.ok("GET", f"{index}/{project}/{version}")["+links"]
    return [link["href"].rsplit("/", 1)[1] for link in links if link["href"].endswith(".whl")]


def wheel_urls(api: DevpiApi, project: str) -> list[str]:
    links = api.ok("GET", f"{INDEX}/{project}/1.0")["+links"]
    return [str(link["href"]) for link in links if link["href"].endswith(".whl")]


def server_log(farm: Hostile) -> str:
    return farm.server.log_path.read_text(errors="replace")


def farm_tracebacks(farm: Hostile) -> list[str]:
    """The server log's records (a timestamped line and what follows it) that hold a
    traceback through devpi_buildfarm or were logged by the farm."""
    records: list[list[str]] = []
    for line in server_log(farm).splitlines():
        if STAMP.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)
    return [
        "\n".join(record) for record in records
        if any("Traceback" in line for line in record)
        and ("devpi_buildfarm" in "\n".join(record) or "buildfarm" in record[0])
    ]  # fmt: skip


def assert_no_traceback(farm: Hostile) -> None:
    found = farm_tracebacks(farm)
    assert found == [], "the farm logged a traceback:\n" + "\n".join(found)[:6000]


def assert_nothing_outside(farm: Hostile, case: str, job: dict[str, Any]) -> None:
    """What every case must not leave: its job directory, a marker, a server traceback."""
    assert job["state"] in FINAL
    left = sorted(p.name for p in farm.jobs_dir.iterdir()) if farm.jobs_dir.is_dir() else []
    assert not [name for name in left if name.startswith(f"{job['id']}-")], left
    assert not farm.marker(case).exists(), f"{case}: the build wrote {farm.marker(case)}"
    assert not str(job.get("error") or "").startswith("internal error"), job["error"]
    assert_no_traceback(farm)


def finished(farm: Hostile, case: str) -> tuple[dict[str, Any], str]:
    """The case's final job and its log, after the checks every case shares."""
    (job,) = wait_for(farm.api, INDEX, project_of(case))
    log = read_log(farm.api, INDEX, job["id"])
    assert_nothing_outside(farm, case, job)
    return job, log


def failed(job: dict[str, Any], log: str) -> str:
    """The error of a job that must have failed."""
    assert job["state"] == "failed", f"{job}\n--- log tail:\n{log[-3000:]}"
    error = str(job["error"] or "")
    assert error, job
    return error


def nothing_published(farm: Hostile, case: str) -> None:
    assert wheels_of(farm.api, INDEX, project_of(case), "1.0") == []


def assert_no_secret(farm: Hostile, what: str, data: bytes) -> None:
    for secret in farm.secret_values:
        assert secret.encode() not in data, f"a server secret is in {what}"


def assert_wheel_has_no_secret(farm: Hostile, case: str, job: dict[str, Any]) -> None:
    """If the job published its wheel: neither its bytes nor its members hold a secret."""
    urls = wheel_urls(farm.api, project_of(case))
    if job["state"] != "succeeded":
        assert urls == []
        return
    (url,) = urls
    resp = farm.api.request("GET", url, headers={"Accept": "*/*"})
    assert resp.status == 200, resp
    assert_no_secret(farm, url, resp.body)
    with zipfile.ZipFile(io.BytesIO(resp.body)) as wheel:
        for info in wheel.infolist():
            assert info.file_size < 64 * 1024 * 1024, info
            assert_no_secret(farm, f"{url}!{info.filename}", wheel.read(info))


@dataclass(frozen=True)
class Proc:
    pid: int
    cmdline: str
    cwd: str
    ancestors: tuple[int, ...]


def build_user_processes(build_uid: int) -> list[Proc]:
    """Every process of the build user on this host, with its cwd and ancestry."""
    parents: dict[int, int] = {}
    users: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0").strip() or 0)
        users[int(entry.name)] = int(fields.get("Uid", "-1").split()[0])
    found = []
    for pid, uid in users.items():
        if uid != build_uid:
            continue
        chain, at = [], parents.get(pid, 0)
        while at > 1 and at not in chain:
            chain.append(at)
            at = parents.get(at, 0)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            cmdline = "?"
        try:
            cwd = str(Path(f"/proc/{pid}/cwd").readlink())
        except OSError:
            cwd = "?"
        found.append(Proc(pid, cmdline, cwd, tuple(chain)))
    return found


def leftover_processes(farm: Hostile, marks: tuple[str, ...], *, wait: float = 10) -> list[Proc]:
    """Build-user processes of this module (a child of its server, or working in one of
    ``marks``) that are still there after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        server_pid = farm.server.proc.pid if farm.server.proc is not None else -1
        ours = [
            p for p in build_user_processes(farm.uid)
            if server_pid in p.ancestors or any(mark in p.cwd for mark in marks)
        ]  # fmt: skip
        if not ours or time.monotonic() > deadline:
            return ours
        time.sleep(0.5)


def build_cgroups(farm: Hostile) -> list[Path]:
    """The cgroups of this server's builds (cgroup v1 or v2) that exist now."""
    scope = farm_scope(ServerOptions.from_args(object(), str(farm.server.serverdir)))
    root = Path("/sys/fs/cgroup")
    parents = [base / "devpi-buildfarm" / scope for base in (root, *root.iterdir())]
    found = [parent for parent in parents if parent.is_dir()]  # removed once empty
    return [group for parent in found for group in parent.iterdir() if group.is_dir()]


# --- the cases -----------------------------------------------------------------------------
def test_sleep_times_out_and_the_server_stays_responsive(farm: Hostile) -> None:
    project = project_of("sleep")
    url = f"{farm.server.url}/+api"
    latencies: list[float | None] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        (job,) = farm.api.ok("GET", f"{INDEX}/+buildfarm/jobs?project={project}") or [{}]
        if job.get("state") in FINAL:
            break
        if job.get("state") == "running":
            latencies.append(api_latency(url))
        time.sleep(0.5)
    job, log = finished(farm, "sleep")
    error = failed(job, log)
    assert f"timed out after {TIMEOUT} s" in error, error
    assert TIMEOUT <= job["finished"] - job["started"] < TIMEOUT + 30, job
    assert len(latencies) > 20, "the job was never seen running"
    assert all(t is not None and t < QUICK for t in latencies), latencies
    background = farm.poller.during(job["started"], job["finished"])
    assert len(background) > 100
    assert all(t is not None and t < QUICK for t in background), background
    nothing_published(farm, "sleep")


def test_fork_bomb_hits_the_pids_limit_and_leaves_no_process(farm: Hostile) -> None:
    job, log = finished(farm, "fork")
    error = failed(job, log)
    assert "fork failed after" in error + log, f"{error}\n{log[-3000:]}"
    nothing_published(farm, "fork")
    left = leftover_processes(farm, (dist_of("fork"),))
    assert not [p for p in left if dist_of("fork") in p.cwd], left


def test_memory_hog_is_stopped_at_the_memory_limit(farm: Hostile) -> None:
    job, log = finished(farm, "memory")
    error = failed(job, log)
    reasons = ("exceeded its memory limit", "MemoryError", "memory exhausted")
    assert any(r in error for r in reasons), f"{error}\n{log[-3000:]}"
    nothing_published(farm, "memory")


def test_the_build_has_no_network(farm: Hostile) -> None:
    job, log = finished(farm, "network")
    assert job["state"] == "succeeded", f"{job}\n{log[-3000:]}"
    assert wheels_of(farm.api, INDEX, project_of("network"), "1.0") == [job["wheel"]]
    for port in (farm.server.port, farm.listener.getsockname()[1]):
        line = f"connect 127.0.0.1:{port}: "
        assert f"{line}refused" in log or f"{line}unreachable" in log, log[-3000:]
    assert "CONNECTED" not in log
    # the premise of every case: builds run as the build user, in cgroups of their own
    if farm.backend == "docker":
        promised = (f"user={BUILD_UID}:{BUILD_UID}, network=none", "read-only", "memory=")
        assert all(p in job["isolation"] for p in promised), job["isolation"]
    elif farm.backend == "ssh":
        promised = (f"ssh({sshd.USER}@127.0.0.1:", "bubblewrap(network=none", "rlimits(as=")
        assert all(p in job["isolation"] for p in promised), job["isolation"]
    else:
        assert f"bubblewrap(uid={BUILD_UID}, network=none" in job["isolation"], job["isolation"]
        assert "cgroup-v" in job["isolation"], job["isolation"]
    readable, _, _ = select.select([farm.listener], [], [], 0.5)
    assert readable == [], "the build connected to a port listening on the host"
    with pytest.raises(BlockingIOError):
        farm.listener.accept()


def test_the_build_reads_no_server_file(farm: Hostile) -> None:
    job, log = finished(farm, "read")
    if job["state"] == "failed":
        assert job["error"], job
    assert_no_secret(farm, "the log", log.encode())
    assert_wheel_has_no_secret(farm, "read", job)
    serverdir = farm.server.serverdir
    hidden = [serverdir, farm.server.secretfile, farm.farmdir / "queue.sqlite", "/etc/shadow",
              farm.farmdir / "wheelhouses"]  # fmt: skip
    for path in hidden:
        assert f"read {path}: " in log, log[-3000:]
        shown = log.split(f"read {path}: ", 1)[1].split("\n", 1)[0]
        assert shown.endswith("Error"), f"the build read {path}: {shown}"


def test_the_build_sees_no_secret(farm: Hostile) -> None:
    job, log = finished(farm, "secret-env")
    assert job["state"] == "succeeded", f"{job}\n{log[-3000:]}"
    assert "PATH=" in log  # the backend did print its environment
    assert "DEVPI_FOUNDRY_TEST_SECRET" not in log
    assert "found secret" not in log
    assert_no_secret(farm, "the log", log.encode())
    assert_wheel_has_no_secret(farm, "secret-env", job)


def test_planted_files_stay_in_the_sandbox(farm: Hostile) -> None:
    job, log = finished(farm, "plant")
    if job["state"] == "failed":
        assert job["error"], job
    planted = [line.removeprefix("planted ") for line in log.splitlines()
               if line.startswith("planted ")]  # fmt: skip
    outside = [p for p in planted if not p.startswith(("/job/", "/tmp/"))]
    assert outside == [], f"the build wrote outside its job: {outside}"
    names = ("sitecustomize.py", "hostile-plant.pth")
    paths = sysconfig.get_paths()
    for folder in {paths["purelib"], paths["platlib"]}:
        for name in names:
            assert not (Path(folder) / name).exists(), f"planted {folder}/{name}"
    found = [p for name in names for p in farm.server.serverdir.rglob(name)]
    assert found == [], found
    assert python_files() == farm.pythons, "the venv's bin/python* changed"


REFUSED: Final = {
    "requires-option": ("'--index-url=http://127.0.0.1:9/evil'", "build-system.requires"),
    "requires-url": ("'evil @ file:///etc/passwd'", "get_requires_for_build_wheel"),
    "requires-path": ("'./local-dir'", "get_requires_for_build_wheel"),
    "requires-dash": ("'-e/tmp/x'", "get_requires_for_build_wheel"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_requirements_not_by_name_are_refused(farm: Hostile, case: str) -> None:
    job, log = finished(farm, case)
    error = failed(job, log)
    quoted, source = REFUSED[case]
    assert quoted in error, error
    assert source in error, error
    assert error.startswith("deps: "), error
    assert "only requirements by name are allowed" in error or "is not a valid requirement" in (
        error
    ), error
    nothing_published(farm, case)


def test_a_wheel_that_is_a_symlink_is_refused(farm: Hostile) -> None:
    job, log = finished(farm, "symlink-out")
    error = failed(job, log)
    assert "is not a regular .whl file" in error, error
    assert_no_secret(farm, "the log", log.encode())
    nothing_published(farm, "symlink-out")


def test_a_huge_log_is_capped(farm: Hostile) -> None:
    job, _ = finished(farm, "big-log")
    data = read_log_bytes(farm.api, INDEX, job["id"])
    assert len(data) <= LOG_BYTES + 16 * 1024, len(data)
    assert TRUNCATED.encode() in data, data[-300:]
    # how the job ended is still the log's last line, past the cap
    last = data.rstrip().rsplit(b"\n", 1)[-1]
    assert last.startswith((b"devpi-buildfarm: published", b"devpi-buildfarm: job")), last
    if job["state"] == "failed":
        assert job["error"], job
    else:
        assert job["state"] == "succeeded", job
    background = farm.poller.during(job["started"], job["finished"])
    assert all(t is not None and t < QUICK for t in background), background
    assert api_latency(f"{farm.server.url}/+api") is not None


def test_two_wheels_are_refused(farm: Hostile) -> None:
    job, log = finished(farm, "two-wheels")
    error = failed(job, log)
    assert "expected one wheel" in error, error
    nothing_published(farm, "two-wheels")


@pytest.mark.parametrize(
    ("case", "mismatch"),
    [("other-project", "names project 'other-project'"), ("other-version", "has version 6.6.6")],
)
def test_a_wheel_of_another_release_is_refused(farm: Hostile, case: str, mismatch: str) -> None:
    job, log = finished(farm, case)
    error = failed(job, log)
    assert error.startswith("verify: "), error
    assert mismatch in error, error
    nothing_published(farm, case)
    assert farm.api.request("GET", f"{INDEX}/other-project").status == 404
    assert farm.api.request("GET", f"{INDEX}/{project_of(case)}/6.6.6").status == 404
    assert farm.api.request("GET", f"{INDEX}/{project_of(case)}/9.9").status == 404


def test_a_wheel_over_the_output_limit_is_refused(farm: Hostile) -> None:
    job, log = finished(farm, "big-wheel")
    error = failed(job, log)
    assert f"over the output limit of {OUTPUT_BYTES}" in error, error
    nothing_published(farm, "big-wheel")


def test_nothing_is_left_once_every_build_is_done(farm: Hostile) -> None:
    for case in ORDER:
        wait_for(farm.api, INDEX, project_of(case))
    assert sorted(p.name for p in farm.jobs_dir.iterdir()) == []
    assert leftover_processes(farm, (TOKEN,)) == []
    assert build_cgroups(farm) == [], "build cgroups left behind"
    if farm.backend == "docker":
        assert (
            docker.leftovers(
                farm_scope(ServerOptions.from_args(object(), str(farm.server.serverdir))),
                within=30,
                spares=False,  # the one spare, if it never ran anything
            )
            == []
        ), "containers or volumes left behind"
    assert farm.server.proc is not None
    assert farm.server.proc.poll() is None, "the server died"
    assert [case for case in ORDER if farm.marker(case).exists()] == []
    assert_no_traceback(farm)
