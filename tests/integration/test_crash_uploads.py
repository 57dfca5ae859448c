"""Acknowledged uploads survive crashes: 8 clients upload 200 files (sdists and wheels,
some refused by a policy rule, some by a license rule) while devpi-server is SIGKILLed at
seeded random moments and restarted. Afterwards every upload answered 200 is there with
its license keys and its upload log entry, every refused one is absent, the license store
holds nothing that keyfs does not, and the build queue (SQLite, PostgreSQL) holds exactly
one job per accepted sdist, target and index. ``FOUNDRY_FAULT_SEED`` picks the moments.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from harness import postgres
from harness.api import DevpiApi
from harness.dists import Project, make_sdist, make_wheel
from harness.faults import Killer, Upload, run_clients
from harness.server import ROOT_PASSWORD, DevpiServer
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Iterator

    from harness.serverlog import Expected

from devpi_buildfarm.core.targets import host_target

BINDIR = Path(sys.executable).parent
TARGET, _ = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
SEED = int(os.environ.get("FOUNDRY_FAULT_SEED", "17"))
FILES, CLIENTS = 200, 8
INDEX = "erin/crash"
PASSWORD = "erin-pw"  # noqa: S105 - a throw-away test user


@dataclass
class Crashy:
    server: DevpiServer
    api: DevpiApi
    queue_url: str
    backend: str


@pytest.fixture(params=["sqlite", "postgresql"])
def crashy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Crashy]:
    # no workers: the queue is counted, not built
    args = ["--buildfarm-workers", "0"]
    database = None
    queue_url = f"sqlite:///{tmp_path}/serverdir/.buildfarm/queue.sqlite"
    if request.param == "postgresql":
        require(postgres.available(), "PostgreSQL on 127.0.0.1:5432")
        database = postgres.create_database("devpi_crash_test")
        queue_url = postgres.url(database, "postgresql+pg8000")
        args += ["--buildfarm-db", queue_url]
    server = DevpiServer(tmp_path / "serverdir", BINDIR, args=tuple(args)).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_user("erin", PASSWORD)
        api = DevpiApi(server.url).login("erin", PASSWORD)
        api.create_index(INDEX, bases=[], volatile=True, buildfarm_targets=[TARGET],
                         policy_exclude=["evil-*"], license_deny=["GPL-3.0-only"])  # fmt: skip
        yield Crashy(server, api, queue_url, request.param)
    finally:
        server.stop()
        if database is not None:
            postgres.drop_database(database)


def make_uploads(dest: Path) -> list[Upload]:
    """200 files: sdists and wheels, every tenth refused by policy, every tenth by license."""
    uploads = []
    for k in range(FILES):
        kind, group = (k // 10) % 2, k % 10
        name = {3: f"evil-f{k}", 7: f"gpl-f{k}"}.get(group, f"ok-f{k}")
        expression = "GPL-3.0-only" if group == 7 else "MIT"
        project = Project(name, "1.0", {"License-Expression": expression})
        path = make_sdist(dest, project) if kind == 0 else make_wheel(dest, project)
        uploads.append(Upload(path, name, "1.0"))
    return uploads


def queue_jobs(url: str) -> list[tuple[str, str, str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text('SELECT "index", sdist, target FROM buildfarm_jobs'))
            return [(r[0], r[1], r[2]) for r in rows]
    finally:
        engine.dispose()


def until_jobs(url: str, expected: int, timeout: float = 90) -> list[tuple[str, str, str]]:
    """The queue's jobs once ``expected`` are there (the notifier queues them after the
    commit, a restarted server when it catches up), or whatever is there at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = queue_jobs(url)
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def check_present(api: DevpiApi, upload: Upload) -> None:
    versiondata = api.ok("GET", f"{INDEX}/{upload.name}/{upload.version}")
    assert versiondata["license_spdx"] == "MIT", (upload.path.name, versiondata)
    assert versiondata["license_sources"], upload.path.name
    (link,) = [
        link for link in versiondata["+links"] if link["href"].endswith("/" + upload.path.name)
    ]
    assert [entry["what"] for entry in link["log"]].count("upload") == 1, link["log"]


def license_rows(server: DevpiServer) -> set[tuple[str, str]]:
    path = server.serverdir / ".devpi-license" / "licenses.sqlite"
    if not path.exists():
        return set()
    with sqlite3.connect(path) as db:
        return {(r[0], r[1]) for r in db.execute("SELECT idx, project FROM release_license")}


@pytest.mark.timeout(600)
def test_acknowledged_uploads_survive_sigkill(
    crashy: Crashy, tmp_path: Path, expect_server_log: Expected
) -> None:
    # devpi-server's own event subscribers may fail once on an event a kill cut short
    # (seen: on_changed_version_config); whether one does depends on the kill's moment
    expect_server_log.may_log("[NOTI] calling <bound method EventSubscribers.")
    uploads = make_uploads(tmp_path / "dists")
    killer = Killer(crashy.server, seed=SEED)
    thread = threading.Thread(target=killer.run, name="killer")
    started = time.monotonic()
    thread.start()
    try:
        errors = run_clients(f"{crashy.server.url}/{INDEX}/", crashy.api.auth, uploads,
                             CLIENTS, timeout=220)  # fmt: skip
    finally:
        killer.stop.set()
        thread.join()
    assert killer.error is None, killer.error
    assert killer.kills >= 1, "the server was never killed: this run tested nothing"
    assert errors == [], errors
    acked = [u for u in uploads if u.status == 200]
    refused = [u for u in uploads if u.status == 403]
    assert len(acked) + len(refused) == FILES, [(u.path.name, u.status) for u in uploads]
    # what each file deserved: ok-* accepted, evil-* refused by policy, gpl-* by license
    assert {u.name for u in acked} == {u.name for u in uploads if u.name.startswith("ok-")}
    for upload in acked:
        check_present(crashy.api, upload)
    for upload in refused:
        assert crashy.api.request("GET", f"{INDEX}/{upload.name}").status == 404, upload.path
    sdists = {u.path.name for u in acked if u.path.name.endswith(".tar.gz")}
    jobs = until_jobs(crashy.queue_url, len(sdists))
    assert sorted(jobs) == sorted((INDEX, sdist, TARGET) for sdist in sdists)
    # the license store holds nothing about this index that keyfs does not hold
    known = {(INDEX, u.name) for u in acked}
    assert {row for row in license_rows(crashy.server) if row[0] == INDEX} <= known
    print(  # noqa: T201 - the counts the issue asks to report
        f"\nfault test ({crashy.backend}, seed {SEED}): {len(acked)} acknowledged, "
        f"{len(refused)} refused, {killer.kills} kills ({killer.recoveries} mid-write), "
        f"{len(jobs)} jobs, "
        f"{sum(u.tries for u in uploads)} sends, {time.monotonic() - started:.0f} s"
    )
