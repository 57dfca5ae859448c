"""devpi-web shows nothing the rules refuse, and a refused project breaks no page
(issue 15, item 6).

One server with devpi-web. alice/web holds evil-pkg 1.0 (refused as a whole by
``policy_exclude=evil-*``), partly 1.0 and 2.0 (2.0 refused by ``partly>=2``), gone 1.0
(refused by ``gone>=1``: a project none of whose versions is left) and good 1.0, each
with a distinctive summary, all uploaded before the rules. alice/inh inherits from it.
"""

from __future__ import annotations

import html
import time
import xmlrpc.client
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from harness.api import DevpiApi
from harness.clients import twine_upload
from harness.dists import Project, make_sdist
from harness.server import ROOT_PASSWORD, DevpiServer
from integration.conftest import ALICE_PW, BINDIR

if TYPE_CHECKING:
    from collections.abc import Iterator

HTML = {"Accept": "text/html"}
RELEASES = [("evil-pkg", "1.0"), ("partly", "1.0"), ("partly", "2.0"), ("gone", "1.0"),
            ("good", "1.0")]  # fmt: skip
REFUSED = [("evil-pkg", "1.0"), ("partly", "2.0"), ("gone", "1.0")]


def _summary(name: str, version: str) -> str:
    return f"zqx{name.replace('-', '')}v{version.replace('.', '')}"


@dataclass
class Web:
    server: DevpiServer
    api: DevpiApi

    def page(self, path: str) -> tuple[int, str]:
        reply = self.api.request("GET", path, headers=HTML)
        return reply.status, reply.body.decode(errors="replace")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    base = tmp_path_factory.mktemp("web")
    server = DevpiServer(base / "serverdir", BINDIR).start()
    try:
        DevpiApi(server.url).login("root", ROOT_PASSWORD).create_user("alice", ALICE_PW)
        alice = DevpiApi(server.url).login("alice", ALICE_PW)
        alice.create_index("alice/web", bases=[])
        dists = [
            make_sdist(base / "dist", Project(n, v, {"Summary": _summary(n, v)}))
            for n, v in RELEASES
        ]
        twine_upload(base / "home", f"{server.url}/alice/web/", "alice", ALICE_PW, *dists)
        alice.modify_index("alice/web", policy_exclude=["evil-*", "partly>=2", "gone>=1"])
        alice.create_index("alice/inh", bases=["alice/web"])
        web = Web(server, DevpiApi(server.url))
        _wait_for_search(web)
        yield web
    finally:
        server.stop()


def _wait_for_search(web: Web) -> None:
    """devpi-web indexes in the background: wait until good's summary is found."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = web.page(f"+search?query={_summary('good', '1.0')}")
        if status == 200 and "/alice/web/good" in body:
            return
        time.sleep(0.5)
    msg = "devpi-web did not index the uploads within 60 s"
    raise AssertionError(msg)


def _absent(body: str, refused: list[tuple[str, str]]) -> list[str]:
    return [f"{n} {v}" for n, v in refused if _summary(n, v) in body]


@pytest.mark.parametrize("index", ["alice/web", "alice/inh"])
def test_index_page_lists_allowed_releases_only(web: Web, index: str) -> None:
    status, body = web.page(index)
    assert status == 200, body[:500]
    if index == "alice/web":  # devpi-web lists an index's own releases
        assert "good-1.0" in body
        assert "partly-1.0" in body
    for name, version in REFUSED:
        assert f"{name}-{version}" not in body
    assert "evil-pkg" not in body
    assert "gone" not in body


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        (_summary("good", "1.0"), ["good"]),
        ("evil", []),
        (_summary("evil-pkg", "1.0"), []),
        ("gone", []),
        (_summary("gone", "1.0"), []),
        ("partly", []),  # devpi-web indexes a project's latest version only: 2.0, refused
        (_summary("partly", "2.0"), []),
    ],
)
def test_search_shows_no_refused_name_or_version(web: Web, query: str, shown: list[str]) -> None:
    status, page = web.page(f"+search?query={query}")
    assert status == 200, page[:500]
    body = page.replace(query, "")  # the page repeats the query
    assert "partly" not in body
    assert _absent(body, REFUSED) == []
    assert "evil-pkg" not in body
    assert "gone" not in body
    for name in shown:
        assert f"/alice/web/{name}" in body


@pytest.mark.parametrize("index", ["alice/web", "alice/inh"])
@pytest.mark.parametrize("project", ["evil-pkg", "gone", "partly"])
def test_project_pages_never_break(web: Web, index: str, project: str) -> None:
    status, body = web.page(f"{index}/{project}")
    assert status in (200, 403, 404), (status, body[:500])
    assert _absent(body, REFUSED) == []
    assert "partly-2.0" not in body
    assert f"{project}-2.0" not in body


@pytest.mark.parametrize(
    ("project", "what", "rule"),
    [("evil-pkg", "the project", "evil-*"), ("gone", "every version of it", "gone>=1")],
)
def test_a_refused_projects_page_says_why(web: Web, project: str, what: str, rule: str) -> None:
    status, body = web.page(f"alice/web/{project}")
    assert status == 403, (status, body[:500])
    assert f"{project} is refused on alice/web" in body
    assert f"The index's rules refuse {what}" in body
    assert rule in html.unescape(body)
    assert "does not exist" not in body
    assert _absent(body, REFUSED) == []
    status, body = web.page("alice/web/nobody-has-this")  # not held anywhere: still 404
    assert status == 404


@pytest.mark.parametrize(("name", "version"), REFUSED)
def test_version_pages_of_refused_releases(web: Web, name: str, version: str) -> None:
    status, body = web.page(f"alice/web/{name}/{version}")
    assert status in (403, 404), (status, body[:500])
    assert _summary(name, version) not in body


@pytest.mark.parametrize("index", ["alice/web", "alice/inh"])
def test_xmlrpc_search_shows_no_refused_name_or_version(web: Web, index: str) -> None:
    """devpi-web's XML-RPC search (the old ``pip search``), through the real client."""
    with xmlrpc.client.ServerProxy(f"{web.server.url}/{index}/") as proxy:
        found = {
            (hit["name"], hit["version"])
            for name in ("evil-pkg", "gone", "partly", "good")
            for hit in proxy.search({"name": [name], "summary": [name]}, "or")  # type: ignore[union-attr]
        }
    assert ("good", "1.0") in found
    assert not [hit for hit in found if hit in REFUSED or hit[0] in ("evil-pkg", "gone")]
