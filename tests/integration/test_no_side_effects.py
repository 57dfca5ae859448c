"""Requests devpi refuses leave nothing behind: no keyfs write, no plugin database change,
no started thread (issue 15, item 5).

One server with the three plugins and the read-restriction test plugin. alice owns
``alice/ruled`` (policy, license and no build rules; good 1.0 uploaded) and
``alice/secret`` (readable by alice only, same rules, secret 1.0 uploaded); mallory is a
user with no permission on either. Every plugin route and every index create/modify with
plugin options is sent anonymously and as mallory, plus the 400/404/409 answers an
authorised user can get; each must end 4xx and leave the server as it was
(``harness.sideeffects.unchanged``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from harness.api import DevpiApi, upload_form
from harness.clients import twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.readacl_env import READ_RESTRICTED, readacl_env
from harness.server import ROOT_PASSWORD, DevpiServer
from harness.sideeffects import unchanged
from integration.conftest import ALICE_PW, BINDIR

if TYPE_CHECKING:
    from collections.abc import Iterator

MALLORY_PW = "mallory-pw"
RULES = {"policy_exclude": ["evil-*"], "license_deny": ["AGPL-*"]}
REFUSED = (400, 401, 403, 404, 409)


@dataclass
class Site:
    server: DevpiServer
    clients: dict[str, DevpiApi]
    relpath: str  # good 1.0's wheel in alice/ruled
    secret_relpath: str  # secret 1.0's wheel in alice/secret


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("sideeffects")
    server = DevpiServer(base / "serverdir", BINDIR, env=readacl_env()).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_user("alice", ALICE_PW)
        root.create_user("mallory", MALLORY_PW)
        alice = DevpiApi(server.url).login("alice", ALICE_PW)
        alice.create_index("alice/ruled", bases=[], **RULES)
        alice.create_index("alice/secret", bases=[], title=f"{READ_RESTRICTED}alice", **RULES)
        hrefs = []
        for index, name in (("alice/ruled", "good"), ("alice/secret", "secret")):
            wheel = make_wheel(base / "dist", Project(name, "1.0", {"License-Expression": "MIT"}))
            twine_upload(base / "home", f"{server.url}/{index}/", "alice", ALICE_PW, wheel)
            links = alice.ok("GET", f"{index}/{name}/1.0")["+links"]
            hrefs.append(next(ln["href"] for ln in links if ln["href"].endswith(".whl")))
        clients = {
            "anonymous": DevpiApi(server.url),
            "mallory": DevpiApi(server.url).login("mallory", MALLORY_PW),
            "alice": alice,
        }
        relpaths = [href.split(server.url, 1)[1] for href in hrefs]
        yield Site(server, clients, relpaths[0], relpaths[1])
    finally:
        server.stop()


def _send(site: Site, who: str, method: str, path: str, data: Any = None) -> int:
    """Send a request (``Accept: */*``: devpi answers a file URL's JSON before it checks
    ``pkg_read``) that must end 4xx and leave no trace; its status."""
    with unchanged(site.server, f"{who} {method} {path}"):
        reply = site.clients[who].request(method, path, data, headers={"Accept": "*/*"})
    assert reply.status in REFUSED, (reply.status, reply.reason, reply.body[:300])
    return reply.status


BUILD = {"buildfarm_targets": ["cp311-manylinux_2_17_x86_64"]}
INDEX_WRITES = [
    ("PUT", "alice/new", {"bases": [], **RULES, **BUILD}),
    ("PUT", "alice/new", {"bases": [], "license_unknown": "deny"}),
    ("PATCH", "alice/ruled", ["policy_include+=acme-*"]),
    ("PATCH", "alice/ruled", ["license_allow+=MIT"]),
    ("PATCH", "alice/ruled", ["buildfarm_targets+=cp311-manylinux_2_17_x86_64"]),
    ("PATCH", "alice/ruled", ["policy_exclude-=evil-*", "policy_mode=dry-run"]),
    ("PATCH", "alice/ruled", {"bases": [], "policy_mode": "dry-run", **BUILD}),
]


@pytest.mark.parametrize("who", ["anonymous", "mallory"])
@pytest.mark.parametrize(("method", "path", "data"), INDEX_WRITES)
def test_index_writes_with_plugin_options_refused_without_trace(
    site: Site, who: str, method: str, path: str, data: Any
) -> None:
    before = site.clients["alice"].index("alice/ruled")
    status = _send(site, who, method, path, data)
    assert status in (401, 403)
    assert site.clients["alice"].index("alice/ruled") == before
    assert site.clients["alice"].request("GET", "alice/new").status == 404


def test_authorised_patch_that_devpi_refuses_keeps_no_upgraded_option(site: Site) -> None:
    """``+=`` on an option the index does not store makes the plugin store its default
    first; devpi then refuses the other operation with 400, and nothing may stay."""
    before = site.clients["alice"].index("alice/ruled")
    assert "policy_include" not in before
    status = _send(
        site, "alice", "PATCH", "alice/ruled", ["policy_include+=acme-*", "policy_mode=bogus"]
    )
    assert status == 400
    assert site.clients["alice"].index("alice/ruled") == before


def test_creating_an_existing_index_with_build_targets_starts_nothing(site: Site) -> None:
    assert _send(site, "alice", "PUT", "alice/ruled", {"bases": [], **BUILD}) == 409


def test_license_rules_on_put_answered_by_devpi_first(site: Site) -> None:
    """Anonymous index creation is devpi's 401/403, not the plugins' own verdict."""
    reply = site.clients["anonymous"].request("PUT", "alice/other", {"license_deny": ["x"]})
    assert reply.status in (401, 403)
    assert "license" not in reply.reason


READS = [
    "alice/secret/+policy",
    "alice/secret/+policy/check?spec=secret==1.0",
    "alice/secret/secret/1.0/+license",
    "alice/secret/+buildfarm/jobs",
    "alice/secret/+buildfarm/jobs/1",
    "alice/secret/+buildfarm/jobs/1/log",
    "alice/secret/+buildfarm/targets",
]


@pytest.mark.parametrize("who", ["anonymous", "mallory"])
@pytest.mark.parametrize("path", READS)
def test_plugin_reads_of_an_unreadable_index(site: Site, who: str, path: str) -> None:
    assert _send(site, who, "GET", path) in (401, 403)


@pytest.mark.parametrize("who", ["anonymous", "mallory"])
def test_download_of_an_unreadable_index(site: Site, who: str) -> None:
    for suffix in ("", ".metadata"):
        assert _send(site, who, "GET", site.secret_relpath + suffix) in (401, 403, 404)


ACTIONS = [
    ("POST", "alice/ruled/+buildfarm/jobs/1/retry", None),
    ("POST", "alice/ruled/+buildfarm/jobs/1/cancel", None),
    ("POST", "alice/ruled/+buildfarm/request", {"requirements": ["good"]}),
    ("POST", "alice/ruled/", {"name": "good", "version": "1.0", "targetindex": "alice/secret"}),
    ("PUSH", "alice/secret", {"name": "secret", "version": "1.0", "targetindex": "alice/ruled"}),
]


@pytest.mark.parametrize("who", ["anonymous", "mallory"])
@pytest.mark.parametrize(("method", "path", "data"), ACTIONS)
def test_plugin_actions_without_permission(
    site: Site, who: str, method: str, path: str, data: Any
) -> None:
    assert _send(site, who, method, path, data) in (400, 401, 403, 404)


@pytest.mark.parametrize("who", ["anonymous", "mallory"])
def test_upload_refused_by_devpi_is_not_judged_by_the_rules(
    site: Site, who: str, tmp_path: Any
) -> None:
    """devpi's own refusal (no upload permission) comes first: the upload is neither read
    nor answered with the rules' reason."""
    sdist = make_sdist(tmp_path, Project("evil-pkg", "1.0"))
    parts = [(":action", "file_upload"), ("name", "evil-pkg"), ("version", "1.0")]
    body, headers = upload_form(parts, sdist)
    with unchanged(site.server, f"{who} upload"):
        reply = site.clients[who].request("POST", "alice/ruled/", body=body, headers=headers)
    assert reply.status in (401, 403)
    assert "policy" not in reply.reason


def test_authorised_plugin_errors(site: Site) -> None:
    """400 and 404 answers to alice on her own index."""
    for path in (
        "alice/ruled/+policy/check?spec=" + quote("good ==="),
        "alice/nope/+policy",
        "alice/ruled/good/9.9/+license",
        "alice/ruled/+buildfarm/jobs?state=bogus",
        "alice/ruled/+buildfarm/jobs?limit=0",
        "alice/ruled/+buildfarm/jobs/999",  # no job: answered without making the farm
        "alice/ruled/+buildfarm/jobs/999/log",
    ):
        _send(site, "alice", "GET", path)
