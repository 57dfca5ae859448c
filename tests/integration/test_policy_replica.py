"""A replica with devpi_policy serves the same filtered view; replication is never blocked."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from harness.api import DevpiApi
from harness.clients import twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.server import ROOT_PASSWORD, DevpiServer, get_json, get_status
from integration.conftest import ALICE_PW, BINDIR, seed_refused_file

if TYPE_CHECKING:
    from pathlib import Path


def _wait(what: str, ready: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.2)
    msg = f"timed out waiting for {what}"
    raise AssertionError(msg)


def start_replica(primary: DevpiServer, serverdir: Path) -> DevpiServer:
    """A replica of ``primary``, started and caught up with its current serial."""
    # one file replication thread: devpi 6.20's threads can fetch one file twice at once when
    # the start-up queue and the changelog both meet it, and the loser logs a traceback
    # ("assert not self.exists(path)") before retrying; that race is devpi's, not the plugins'
    replica = DevpiServer(
        serverdir, BINDIR, secret=primary.secretfile,
        init_args=("--role", "replica", "--primary-url", primary.url),
        args=("--file-replication-threads", "1"),
    ).start()  # fmt: skip
    serial = primary.status()["serial"]
    _wait("replica to catch up", lambda: replica.status()["serial"] >= serial)
    return replica


def test_replica_filters_and_replicates_refused_files(tmp_path: Path, home: Path) -> None:
    primary = DevpiServer(tmp_path / "primary", BINDIR, args=("--role", "primary")).start()
    replica = None
    try:
        evil_href = seed_refused_file(primary, home, tmp_path / "dist", "alice/rep")
        replica = start_replica(primary, tmp_path / "replica")
        # the refused file was copied anyway: replication uses the +replica identity
        _wait(
            "replica to copy the refused file",
            lambda: any((tmp_path / "replica").rglob("evil_pkg-1.0.tar.gz")),
        )
        assert not replica.status().get("replication-errors")
        path = evil_href.split("/", 3)[3]
        for server in (primary, replica):
            code, body = get_status(f"{server.url}/alice/rep/+simple/")
            assert code == 200
            assert "good" in body
            assert "evil-pkg" not in body
            code, reason = get_status(f"{server.url}/{path}")
            assert code == 403, server.url
            assert "'evil-pkg 1.0' is excluded by policy_exclude 'evil-*' on alice/rep" in reason
        # uploads through the replica are refused there, with the same reason
        res = twine_upload(
            home, f"{replica.url}/alice/rep/", "alice", ALICE_PW,
            make_sdist(tmp_path / "dist2", Project("evil-two", "1.0")), check=False,
        )  # fmt: skip
        assert res.returncode != 0
        out = " ".join((res.stdout + res.stderr).split())  # rich wraps twine's lines
        assert "excluded by policy_exclude 'evil-*' on alice/rep" in out
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()


def test_replica_serves_the_license_view(tmp_path: Path, home: Path) -> None:
    """License data recorded at upload replicates; the replica filters by it alike."""
    primary = DevpiServer(tmp_path / "primary", BINDIR, args=("--role", "primary")).start()
    replica = None
    try:
        DevpiApi(primary.url).login("root", ROOT_PASSWORD).create_user("alice", ALICE_PW)
        alice = DevpiApi(primary.url).login("alice", ALICE_PW)
        alice.create_index("alice/licrep", bases=[])
        dists = [
            make_wheel(tmp_path / "d", Project("lr", v, {"License-Expression": e}))
            for v, e in (("1.0", "MIT"), ("2.0", "AGPL-3.0-only"))
        ]
        twine_upload(home, f"{primary.url}/alice/licrep/", "alice", ALICE_PW, *dists)
        alice.modify_index("alice/licrep", license_deny=["AGPL-*"])
        replica = start_replica(primary, tmp_path / "replica")
        assert not replica.status().get("replication-errors")
        for server in (primary, replica):
            code, body = get_status(f"{server.url}/alice/licrep/+simple/lr/")
            assert code == 200
            assert "lr-1.0-py3-none-any.whl" in body
            assert "lr-2.0" not in body
            found = get_json(f"{server.url}/alice/licrep/lr/2.0/+license")
            assert found["expression"] == "AGPL-3.0-only"
            assert found["verdict"]["reason"] == (
                "license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*' on alice/licrep"
            )
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
