"""Real devpi-server processes shared by the integration tests of one session.

``upstream`` is a second devpi-server playing PyPI: it holds sdists and wheels built by
the tests. ``site`` is the server under test, with all plugins installed, a ``root/pypi``
mirror of the upstream and a user index ``alice/dev`` inheriting from it.

Every server log must stay clean: after each test, a traceback or an ERROR/CRITICAL record
in any server log fails the test unless the test declared it, with the
``expect_server_log`` fixture or the ``server_log_expected`` marker (harness/serverlog.py).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness import postgres
from harness.api import DevpiApi
from harness.clients import DevpiClient, twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.pep691 import Pep691Server
from harness.server import ROOT_PASSWORD, DevpiServer
from harness.serverlog import WATCH, Expected, report
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Iterator

BINDIR = Path(sys.executable).parent
ALICE_PW = "alice-pw"

#: What the upstream "PyPI" holds: (project, wheel?, sdist?)
UPSTREAM_PROJECTS = [
    (Project("up-pure", "1.0"), True, True),
    (Project("up-pure", "2.0"), True, True),
    (Project("up-dep", "1.0"), True, False),
    (Project("up-app", "1.0", {"Requires-Dist": "up-dep>=1.0"}), True, True),
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def expect_server_log(request: pytest.FixtureRequest) -> Iterator[Expected]:
    """Fail the test on server-log problems it did not declare, or declared ones missing.

    Call the fixture with pieces of the expected problems' text
    (``expect_server_log("build of bad-1.0 failed")``), or mark the test
    ``@pytest.mark.server_log_expected("...", ...)``.
    """
    expected = Expected()
    for mark in request.node.iter_markers("server_log_expected"):
        expected(*mark.args)
    yield expected
    unexpected, missing = expected.verdict(expected.collect(WATCH))
    if unexpected or missing:
        pytest.fail(report(unexpected, missing), pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Problems logged after the last test (servers stopping) fail the run too."""
    unexpected = WATCH.new_problems()
    if unexpected:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(report(unexpected, []), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@dataclass
class Site:
    """The server under test and what the session set up on it."""

    server: DevpiServer
    upstream: DevpiServer
    root: DevpiApi
    alice: DevpiApi

    @property
    def url(self) -> str:
        return self.server.url

    def simple(self, index: str) -> str:
        return f"{self.server.url}/{index}/+simple/"


def plain_bindir() -> Path:
    """bin/ of a venv with the same devpi but without devpi-foundry (tools/plain_devpi.py)."""
    venv = os.environ.get("FOUNDRY_PLAIN_DEVPI")
    problem = None
    if not venv:
        problem = "FOUNDRY_PLAIN_DEVPI is not set (run the tests through tox)"
    elif not (Path(venv) / "bin" / "devpi-server").exists():
        problem = f"no devpi-server in {venv}"
    require(problem, "a plain devpi venv")
    return Path(str(venv)) / "bin"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private HOME for the client subprocesses of one test."""
    return tmp_path / "home"


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevpiServer]:
    base = tmp_path_factory.mktemp("upstream")
    # like PyPI, the upstream serves PEP 658 .metadata files
    server = DevpiServer(base / "serverdir", BINDIR, args=("--enable-core-metadata",)).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index("root/up", type="stage", bases=[], volatile=True)
        dists = base / "dists"
        files = []
        for project, wheel, sdist in UPSTREAM_PROJECTS:
            if wheel:
                files.append(make_wheel(dists, project))
            if sdist:
                files.append(make_sdist(dists, project))
        twine_upload(base / "home", f"{server.url}/root/up/", "root", ROOT_PASSWORD, *files)
        yield server
    finally:
        server.stop()


def populate(server: DevpiServer, upstream_url: str) -> tuple[DevpiApi, DevpiApi]:
    """The standard layout: ``root/pypi`` mirroring ``upstream_url``, ``alice/dev`` on top.

    Returns API clients logged in as root and as alice.
    """
    root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
    root.create_index(
        "root/pypi", type="mirror", mirror_url=f"{upstream_url}/root/up/+simple/", volatile=False
    )
    root.create_user("alice", ALICE_PW)
    alice = DevpiApi(server.url).login("alice", ALICE_PW)
    alice.create_index("alice/dev", bases=["root/pypi"], volatile=True)
    return root, alice


@pytest.fixture(scope="session")
def site(upstream: DevpiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("site")
    server = DevpiServer(base / "serverdir", BINDIR).start()
    try:
        root, alice = populate(server, upstream.url)
        yield Site(server, upstream, root, alice)
    finally:
        server.stop()


@pytest.fixture
def devpi(site: Site, home: Path) -> DevpiClient:
    """The real devpi client, used and logged in as alice on alice/dev."""
    client = DevpiClient(home).use_login(site.url, "alice", ALICE_PW)
    client("use", "alice/dev")
    return client


@pytest.fixture(scope="session")
def pep691_upstream() -> Iterator[Pep691Server]:
    """A PEP 691 JSON simple server with ``upload-time`` (filled by the tests using it)."""
    server = Pep691Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test session, dropped at its end."""
    require(postgres.available(), "PostgreSQL on 127.0.0.1:5432")
    name = postgres.create_database()
    try:
        yield name
    finally:
        postgres.drop_database(name)


def seed_refused_file(server: DevpiServer, home: Path, dist: Path, index: str) -> str:
    """User alice with ``index`` holding evil-pkg 1.0 and good 1.0, then the rule
    ``policy_exclude=evil-*`` added after the upload; returns evil-pkg's file URL."""
    DevpiApi(server.url).login("root", ROOT_PASSWORD).create_user("alice", ALICE_PW)
    alice = DevpiApi(server.url).login("alice", ALICE_PW)
    alice.create_index(index, bases=[])
    files = [make_sdist(dist, Project(n, "1.0")) for n in ("evil-pkg", "good")]
    twine_upload(home, f"{server.url}/{index}/", "alice", ALICE_PW, *files)
    href: str = alice.ok("GET", f"{index}/evil-pkg/1.0")["+links"][0]["href"]
    alice.modify_index(index, policy_exclude=["evil-*"])
    return href
