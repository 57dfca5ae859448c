"""The upstream fetch of upload times is conditional (adapters/upstream_times.py): a
re-fetch sends the stored ETag, and an upstream answering ``304 Not Modified`` leaves the
stored times as they were."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

from devpi_server.fileutil import loads

from harness.dists import Project, make_wheel
from harness.pep691 import JSON_TYPE, Seen, UpstreamFile

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from harness.pep691 import Pep691Server
    from harness.server import DevpiServer
    from integration.conftest import Site

UPLOADED = "2024-05-06T07:08:09.000000Z"
TIMES_KEY = "root/etagged/etag-pkg/.policy_upload_times"


def _wait_for(what: str, condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            msg = f"{what}: not within {timeout} s"
            raise AssertionError(msg)
        time.sleep(0.2)


def _stored(server: DevpiServer, key: str) -> tuple[int, Any] | None:
    """The serial and value of a keyfs key in the server's database (``None``: none)."""
    with sqlite3.connect(server.serverdir / ".sqlite") as db:
        row = db.execute("SELECT serial FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        (data,) = db.execute("SELECT data FROM changelog WHERE serial = ?", row).fetchone()
    return row[0], loads(data)[0][key][2]


def _settled(server: DevpiServer) -> None:
    """devpi's event thread (which fetches and stores the times) has caught up."""

    def caught_up() -> bool:
        status = server.status()
        return bool(status["event-serial"] >= status["serial"])

    _wait_for("devpi's events", caught_up)
    time.sleep(1)
    _wait_for("devpi's events", caught_up)


def test_refetch_answered_not_modified_keeps_the_stored_times(
    site: Site, pep691_upstream: Pep691Server, tmp_path: Path
) -> None:
    upstream = pep691_upstream
    wheel = make_wheel(tmp_path / "dists", Project("etag-pkg", "1.0"))
    upstream.projects["etag-pkg"] = [UpstreamFile(wheel, UPLOADED)]
    site.root.create_index("root/etagged", type="mirror", mirror_url=upstream.simple_url)
    page = "root/etagged/+simple/etag-pkg/"

    def served() -> list[str | None]:
        resp = site.root.request("GET", page, headers={"Accept": JSON_TYPE})
        return [f.get("upload-time") for f in resp.json()["files"]]

    def ours() -> list[Seen]:  # devpi_policy asks for PEP 691 JSON alone, devpi for more
        return [s for s in upstream.log if s.path == "/simple/etag-pkg/" and s.accept == JSON_TYPE]

    assert served() == [UPLOADED]
    _wait_for("the times stored", lambda: _stored(site.server, TIMES_KEY) is not None)
    _settled(site.server)
    before = _stored(site.server, TIMES_KEY)
    assert before is not None
    assert before[1]["files"][wheel.name][1] == UPLOADED
    # nothing stored yet: unconditional (the page's request and devpi's event may both ask)
    first = ours()
    assert first
    assert {(s.if_none_match, s.status, s.etag) for s in first} == {(None, 200, before[1]["etag"])}
    # the upstream serves the unchanged page under a new ETag, and devpi re-fetches it
    # unconditionally (its refresh), so it stores its links again with that ETag: the event
    # makes devpi_policy re-fetch the times, with its own ETag, answered 304
    upstream.etag_generation += 1
    refresh = site.root.request("POST", f"{page}refresh")
    assert refresh.status in (200, 302), refresh
    _wait_for(f"a conditional re-fetch (log: {upstream.log})", lambda: len(ours()) > len(first))
    _settled(site.server)
    again = ours()[len(first) :]
    assert {(s.if_none_match, s.status) for s in again} == {(before[1]["etag"], 304)}
    assert served() == [UPLOADED]
    assert _stored(site.server, TIMES_KEY) == before  # kept, not written again
