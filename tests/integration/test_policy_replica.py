"""A replica with devpi_policy serves the same filtered view; replication is never blocked."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from harness.api import DevpiApi
from harness.clients import twine_upload
from harness.dists import Project, make_sdist
from harness.server import ROOT_PASSWORD, DevpiServer
from integration.conftest import ALICE_PW, BINDIR

if TYPE_CHECKING:
    from pathlib import Path


def _status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, str(err.reason)


def _wait(what: str, ready: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.2)
    msg = f"timed out waiting for {what}"
    raise AssertionError(msg)


def test_replica_filters_and_replicates_refused_files(tmp_path: Path, home: Path) -> None:
    primary = DevpiServer(tmp_path / "primary", BINDIR, args=("--role", "primary")).start()
    replica = None
    try:
        root = DevpiApi(primary.url).login("root", ROOT_PASSWORD)
        root.create_user("alice", ALICE_PW)
        alice = DevpiApi(primary.url).login("alice", ALICE_PW)
        alice.create_index("alice/rep", bases=[])
        files = [make_sdist(tmp_path / "dist", Project(n, "1.0")) for n in ("evil-pkg", "good")]
        twine_upload(home, f"{primary.url}/alice/rep/", "alice", ALICE_PW, *files)
        evil_href = alice.ok("GET", "alice/rep/evil-pkg/1.0")["+links"][0]["href"]
        alice.modify_index("alice/rep", policy_exclude=["evil-*"])
        replica = DevpiServer(
            tmp_path / "replica", BINDIR, secret=primary.secretfile,
            init_args=("--role", "replica", "--primary-url", primary.url),
        ).start()  # fmt: skip
        serial = primary.status()["serial"]
        _wait("replica to catch up", lambda: replica.status()["serial"] >= serial)
        # the refused file was copied anyway: replication uses the +replica identity
        _wait(
            "replica to copy the refused file",
            lambda: any((tmp_path / "replica").rglob("evil_pkg-1.0.tar.gz")),
        )
        assert not replica.status().get("replication-errors")
        path = evil_href.split("/", 3)[3]
        for server in (primary, replica):
            code, body = _status(f"{server.url}/alice/rep/+simple/")
            assert code == 200
            assert "good" in body
            assert "evil-pkg" not in body
            code, reason = _status(f"{server.url}/{path}")
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
