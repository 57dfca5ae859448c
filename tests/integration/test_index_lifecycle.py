"""Index lifecycle: deleting an index, or a user with its indexes, removes what the plugins
hold about it (devpi_license's store rows, devpi_buildfarm's jobs with their logs and build
records), and an index re-created under the same name starts clean. On a real server, with
the build queue on SQLite and on PostgreSQL; the rows are read from the databases."""

from __future__ import annotations

import platform
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from harness import postgres
from harness.api import DevpiApi
from harness.buildfarm import seed_tools, wait_for
from harness.clients import DevpiClient
from harness.dists import Project, make_sdist
from harness.server import DevpiServer
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

from devpi_buildfarm.core.targets import host_target

BINDIR = Path(sys.executable).parent
TARGET, _ = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
PASSWORD = "carol-pw"  # noqa: S105 - a throw-away test user


class Lifecycle:
    """The server under test, root's API, and where each plugin keeps its rows."""

    def __init__(self, server: DevpiServer, root: DevpiApi, queue_url: str) -> None:
        self.server, self.root, self.queue_url = server, root, queue_url
        self.engine = sa.create_engine(queue_url)

    def jobs(self, index: str) -> list[tuple[int, str, bool]]:
        """(id, state, has a record) of each job of ``index`` in the queue database."""
        sql = sa.text('SELECT id, state, record FROM buildfarm_jobs WHERE "index" = :i')
        with self.engine.connect() as conn:
            return [(r[0], r[1], r[2] is not None) for r in conn.execute(sql, {"i": index})]

    def logs(self, job_ids: list[int]) -> int:
        if not job_ids:
            return 0
        sql = sa.text("SELECT count(*) FROM buildfarm_logs WHERE job_id IN :ids")
        sql = sql.bindparams(sa.bindparam("ids", expanding=True))
        with self.engine.connect() as conn:
            return int(conn.execute(sql, {"ids": job_ids}).scalar_one())

    def licenses(self, index: str) -> int:
        """Rows of ``index`` in devpi_license's store (0 when it was never made)."""
        path = self.server.serverdir / ".devpi-license" / "licenses.sqlite"
        if not path.exists():
            return 0
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT count(*) FROM release_license WHERE idx=?",
                                  (index,)).fetchone()[0])  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def life(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream: DevpiServer
) -> Iterator[Lifecycle]:
    work = tmp_path_factory.mktemp(f"lifecycle-{request.param}")
    args = ["--buildfarm-workers", "1", "--buildfarm-max-attempts", "1"]
    database = None
    queue_url = f"sqlite:///{work}/serverdir/.buildfarm/queue.sqlite"
    if request.param == "postgresql":
        require(postgres.available(), "PostgreSQL on 127.0.0.1:5432")
        database = postgres.create_database("devpi_lifecycle_test")
        queue_url = postgres.url(database, "postgresql+pg8000")
        args += ["--buildfarm-db", queue_url]
    server = DevpiServer(work / "serverdir", BINDIR, args=tuple(args)).start()
    try:
        root = seed_tools(server, work)
        root.create_user("carol", PASSWORD)
        life = Lifecycle(server, root, queue_url)
        try:
            yield life
        finally:
            life.engine.dispose()  # the pooled connections, before PostgreSQL's database goes
    finally:
        server.stop()
        if database is not None:
            postgres.drop_database(database)


def until(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    """Poll ``check`` until it holds (the notifier forgets after the commit)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            msg = f"not within {timeout} s: {what}"
            raise AssertionError(msg)
        time.sleep(0.2)


def license_pass(life: Lifecycle, index: str) -> dict[str, Any]:
    """``+license`` of a mirrored release, asked until its extraction stored it."""
    deadline = time.monotonic() + 60
    while True:
        found: dict[str, Any] = life.root.ok("GET", f"{index}/up-pure/1.0/+license")
        if found["state"] != "pending" or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def populate(life: Lifecycle, carol: DevpiApi, upstream: DevpiServer, work: Path) -> int:
    """carol/mirror with a stored license, carol/dev with a built job; that job's id."""
    carol.create_index("carol/mirror", type="mirror", mirror_url=f"{upstream.url}/root/up/+simple/")
    assert license_pass(life, "carol/mirror")["state"] == "unknown"  # read: up-pure names none
    until("the license row is stored", lambda: life.licenses("carol/mirror") > 0)
    carol.create_index("carol/dev", bases=["root/tools"], buildfarm_targets=[TARGET])
    client = DevpiClient(work / "client").use_login(life.server.url, "carol", PASSWORD)
    client("use", "carol/dev")
    client("upload", str(make_sdist(work / "dists", Project("life-pure", "1.0"))))
    (job,) = wait_for(carol, "carol/dev", "life-pure")
    assert job["state"] == "succeeded", job
    (row,) = life.jobs("carol/dev")
    assert row == (job["id"], "succeeded", True)  # with its build record
    assert life.logs([job["id"]]) > 0
    return int(job["id"])


def test_deleting_an_index_forgets_it_and_a_new_one_starts_clean(
    life: Lifecycle, upstream: DevpiServer, tmp_path: Path
) -> None:
    carol = DevpiApi(life.server.url).login("carol", PASSWORD)
    old_job = populate(life, carol, upstream, tmp_path)
    other = life.licenses("root/pypi"), life.jobs("root/tools")
    deleted_at = time.time()
    carol.ok("DELETE", "carol/dev")
    carol.ok("DELETE", "carol/mirror")
    until("carol/dev's jobs are gone", lambda: not life.jobs("carol/dev"))
    until("carol/mirror's licenses are gone", lambda: life.licenses("carol/mirror") == 0)
    assert life.logs([old_job]) == 0
    assert (life.licenses("root/pypi"), life.jobs("root/tools")) == other  # others untouched
    # the same names again: nothing of the old indexes shows
    carol.create_index("carol/dev", bases=["root/tools"], buildfarm_targets=[TARGET])
    carol.create_index("carol/mirror", type="mirror", mirror_url=f"{upstream.url}/root/up/+simple/")
    assert carol.ok("GET", "carol/dev/+buildfarm/jobs") == []
    assert carol.request("GET", f"carol/dev/+buildfarm/jobs/{old_job}").status == 404
    assert life.licenses("carol/mirror") == 0
    assert life.jobs("carol/dev") == []
    # the same sdist builds again as a new job (the old one would have stood in for it)
    client = DevpiClient(tmp_path / "client").use_login(life.server.url, "carol", PASSWORD)
    client("use", "carol/dev")
    client("upload", str(make_sdist(tmp_path / "dists", Project("life-pure", "1.0"))))
    (job,) = wait_for(carol, "carol/dev", "life-pure")
    assert job["state"] == "succeeded", job
    assert job["created"] > deleted_at  # (SQLite may give it the forgotten job's id)
    assert license_pass(life, "carol/mirror")["state"] == "unknown"  # read: up-pure names none
    carol.ok("DELETE", "carol/dev")
    carol.ok("DELETE", "carol/mirror")
    until("carol/dev's jobs are gone again", lambda: not life.jobs("carol/dev"))


def test_deleting_a_user_forgets_all_their_indexes(
    life: Lifecycle, upstream: DevpiServer, tmp_path: Path
) -> None:
    life.root.create_user("dave", PASSWORD)
    dave = DevpiApi(life.server.url).login("dave", PASSWORD)
    dave.create_index("dave/mirror", type="mirror", mirror_url=f"{upstream.url}/root/up/+simple/")
    assert license_pass(life, "dave/mirror")["state"] == "unknown"  # read: up-pure names none
    dave.create_index("dave/dev", bases=["root/tools"], buildfarm_targets=[TARGET])
    client = DevpiClient(tmp_path / "client").use_login(life.server.url, "dave", PASSWORD)
    client("use", "dave/dev")
    client("upload", str(make_sdist(tmp_path / "dists", Project("life-user", "1.0"))))
    (job,) = wait_for(dave, "dave/dev", "life-user")
    until("dave/mirror's license is stored", lambda: life.licenses("dave/mirror") > 0)
    life.root.ok("DELETE", "dave")
    until("dave/dev's jobs are gone", lambda: not life.jobs("dave/dev"))
    until("dave/mirror's licenses are gone", lambda: life.licenses("dave/mirror") == 0)
    assert life.logs([job["id"]]) == 0
    # a new dave starts with nothing
    life.root.create_user("dave", PASSWORD)
    dave = DevpiApi(life.server.url).login("dave", PASSWORD)
    dave.create_index("dave/dev", bases=["root/tools"], buildfarm_targets=[TARGET])
    assert dave.ok("GET", "dave/dev/+buildfarm/jobs") == []
    assert life.licenses("dave/mirror") == 0
