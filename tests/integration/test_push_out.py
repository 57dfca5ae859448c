"""Releases leave an index only through its rules (issue 15, item 2).

``open_site``: a server with devpi's push-out behaviour (``--policy-push-out readers``, the
default). ``closed_site``: ``--policy-push-out owners`` and ``--policy-push-out-url`` naming
one external repository. On each, alice/src holds evil-pkg 1.0 (refused by
``policy_exclude=evil-*``, set after the upload) and good 1.0. The external repositories
are ``root/ext-*`` and ``root/other-*`` (one pair per server) on the session's upstream
devpi. Every refusal is checked for what did not happen: nothing arrives there, nothing
changes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from harness.api import DevpiApi, without_request_id
from harness.clients import DevpiClient, twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.server import ROOT_PASSWORD, DevpiServer
from harness.sideeffects import unchanged
from integration.conftest import ALICE_PW, BINDIR

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MALLORY_PW = "mallory-pw"


@dataclass
class Site:
    server: DevpiServer
    upstream: DevpiServer
    clients: dict[str, DevpiApi]
    tag: str

    def external(self, index: str) -> str:
        return f"{self.upstream.url}/{index}-{self.tag}/"

    def push_out(self, who: str, project: str, index: str = "root/ext") -> Any:
        """The JSON push devpi-client sends for ``devpi push NAME==1.0 pypi:REPO``."""
        body = {"name": project, "version": "1.0", "posturl": self.external(index),
                "username": "root", "password": ROOT_PASSWORD}  # fmt: skip
        return self.clients[who].request("POST", "alice/src", body)

    def arrived(self, project: str, index: str = "root/ext") -> bool:
        path = f"{index}-{self.tag}/{project}"
        return DevpiApi(self.upstream.url).request("GET", path).status == 200


def _start(upstream: DevpiServer, base: Path, tag: str, *args: str) -> Site:
    upstream_root = DevpiApi(upstream.url).login("root", ROOT_PASSWORD)
    for index in ("root/ext", "root/other"):
        upstream_root.create_index(f"{index}-{tag}", bases=[], volatile=True)
    server = DevpiServer(base / "serverdir", BINDIR, args=args).start()
    root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
    root.create_user("alice", ALICE_PW)
    root.create_user("mallory", MALLORY_PW)
    alice = DevpiApi(server.url).login("alice", ALICE_PW)
    alice.create_index("alice/src", bases=[])
    alice.create_index("alice/free", bases=[])
    dists = [
        make(base / "dist", Project(name, "1.0"))
        for name in ("evil-pkg", "good")
        for make in (make_sdist, make_wheel)
    ]
    twine_upload(base / "home", f"{server.url}/alice/src/", "alice", ALICE_PW, *dists)
    alice.modify_index("alice/src", policy_exclude=["evil-*"])
    clients = {
        "anonymous": DevpiApi(server.url),
        "mallory": DevpiApi(server.url).login("mallory", MALLORY_PW),
        "alice": alice,
    }
    return Site(server, upstream, clients, tag)


@pytest.fixture(scope="module")
def open_site(upstream: DevpiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = _start(upstream, tmp_path_factory.mktemp("pushout-open"), "open")
    try:
        yield site
    finally:
        site.server.stop()


@pytest.fixture(scope="module")
def closed_site(upstream: DevpiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    args = (
        "--policy-push-out",
        "owners",
        "--policy-push-out-url",
        f"{upstream.url}/root/ext-closed",
    )
    site = _start(upstream, tmp_path_factory.mktemp("pushout-closed"), "closed", *args)
    try:
        yield site
    finally:
        site.server.stop()


REFUSED = "'evil-pkg 1.0' is excluded by policy_exclude 'evil-*' on alice/src"


def test_devpi_push_of_a_release_its_source_refuses_to_another_index(
    open_site: Site, home: Path
) -> None:
    devpi = DevpiClient(home).use_login(open_site.server.url, "alice", ALICE_PW)
    devpi("use", "alice/src")
    with unchanged(open_site.server, "push to alice/free"):
        res = devpi("push", "evil-pkg==1.0", "alice/free", check=False)
    assert res.returncode != 0
    assert REFUSED in res.stdout + res.stderr
    assert open_site.clients["alice"].ok("GET", "alice/free")["projects"] == []
    devpi("push", "good==1.0", "alice/free")
    assert open_site.clients["alice"].ok("GET", "alice/free")["projects"] == ["good"]


@pytest.mark.parametrize("who", ["anonymous", "alice"])
def test_push_out_of_a_refused_release(open_site: Site, who: str) -> None:
    with unchanged(open_site.server, f"{who} push out"):
        reply = open_site.push_out(who, "evil-pkg")
    assert reply.status == 403
    assert without_request_id(reply.json()["message"]) == f"policy: {REFUSED}"
    assert not open_site.arrived("evil-pkg")


def test_by_default_any_reader_pushes_out_as_devpi_does(open_site: Site) -> None:
    reply = open_site.push_out("anonymous", "good")
    assert reply.status == 200, reply
    assert open_site.arrived("good")


@pytest.mark.parametrize("who", ["anonymous", "mallory"])
def test_only_owners_push_out_when_the_server_says_so(closed_site: Site, who: str) -> None:
    with unchanged(closed_site.server, f"{who} push out"):
        reply = closed_site.push_out(who, "good", "root/other")
    assert reply.status == 403
    message = reply.json()["message"]
    assert f"{who} may not push releases of alice/src out to" in message
    assert "--policy-push-out owners" in message
    assert not closed_site.arrived("good", "root/other")


def test_owners_push_out_only_to_the_listed_urls(closed_site: Site, home: Path) -> None:
    with unchanged(closed_site.server, "push out to an unlisted URL"):
        reply = closed_site.push_out("alice", "good", "root/other")
    assert reply.status == 403
    assert "this server pushes out only to" in reply.json()["message"]
    assert not closed_site.arrived("good", "root/other")
    (home / ".pypirc").parent.mkdir(parents=True, exist_ok=True)
    repository = closed_site.external("root/ext")
    (home / ".pypirc").write_text(
        f"[distutils]\nindex-servers = ext\n\n[ext]\nrepository = {repository}\n"
        f"username = root\npassword = {ROOT_PASSWORD}\n"
    )
    devpi = DevpiClient(home).use_login(closed_site.server.url, "alice", ALICE_PW)
    devpi("use", "alice/src")
    devpi("push", "--pypirc", str(home / ".pypirc"), "good==1.0", "pypi:ext")
    assert closed_site.arrived("good")
