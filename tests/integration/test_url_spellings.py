"""Rules hold on what devpi serves, however its URL is spelled (issue 15, item 1).

One server (``--enable-core-metadata``, devpi-web loaded) with one index per rule type,
each holding evil-pkg 1.0 (sdist and wheel, license AGPL-3.0-only) uploaded *before* the
rule, and good 1.0 (MIT), which no rule refuses; plus ``root/ruled``, a mirror of the
session's upstream whose up-pure 2.0 files were cached before ``policy_exclude=up-pure>=2``.
Every spelling of a refused file's URL (trailing separators, percent-encodings, doubled
slashes, query strings, fragments, dot segments, case), sent raw with GET, HEAD and GET
with a Range header, must be refused (403) or resolve to nothing, and the refused bytes
must not be in any answer. The same spellings of the allowed file show which of them
devpi resolves: every spelling that serves good's bytes is refused for evil-pkg with 403.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import pytest

from harness.api import DevpiApi
from harness.clients import twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.server import ROOT_PASSWORD, DevpiServer
from harness.sideeffects import unchanged
from integration.conftest import ALICE_PW, BINDIR, populate

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PEP691 = "application/vnd.pypi.simple.v1+json"
RULES = {
    "policy_exclude": {"policy_exclude": ["evil-*"]},
    "policy_include": {"policy_include": ["good"]},
    "policy_exclude_files": {"policy_exclude_files": ["evil_pkg-*"]},
    "license_deny": {"license_deny": ["AGPL-*"]},
}


def _spellings(path: str) -> dict[str, str]:
    """Ways to write the URL path ``/user/index/+f/a/b/file`` that a client may send."""
    head, _, name = path.rpartition("/")
    user_index, _, rest = head.lstrip("/").partition("/+f/")
    user, _, index = user_index.partition("/")
    hashdir_a, _, hashdir_b = rest.partition("/")
    underscore = name.replace("_", "%5F", 1)
    return {
        "plain": path,
        "trailing slash": f"{path}/",
        "two trailing slashes": f"{path}//",
        "trailing %2F": f"{path}%2F",
        "encoded # suffix": f"{path}%23x",
        "raw # suffix": f"{path}#x",
        "query": f"{path}?x=1",
        "slash and query": f"{path}/?x=1",
        "encoded name": f"{head}/{underscore}",
        "encoded +f": f"/{user}/{index}/%2Bf/{rest}/{name}",
        "encoded slash in hash dirs": f"/{user}/{index}/+f/{hashdir_a}%2F{hashdir_b}/{name}",
        "doubled inner slash": f"/{user}/{index}/+f/{hashdir_a}//{hashdir_b}/{name}",
        "leading double slash": f"/{path}",
        "dot segment": f"/{user}/{index}/+f/{hashdir_a}/./{hashdir_b}/{name}",
        "dot-dot segment": f"/{user}/{index}/+f/{hashdir_a}/x/../{hashdir_b}/{name}",
        "dot segment before +f": f"/{user}/{index}/./+f/{rest}/{name}",
        "upper-case +F": f"/{user}/{index}/+F/{rest}/{name}",
        "upper-case user": f"/{user.upper()}/{index}/+f/{rest}/{name}",
        "upper-case file name": f"{head}/{name.upper()}",
    }


METHODS: dict[str, tuple[str, dict[str, str]]] = {
    "GET": ("GET", {}),
    "HEAD": ("HEAD", {}),
    "GET Range": ("GET", {"Range": "bytes=0-99"}),
}


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    body: bytes


@dataclass
class Site:
    server: DevpiServer
    #: rule type -> (evil file paths, good file paths); sdist and wheel each
    files: dict[str, tuple[list[str], list[str]]]
    #: file path -> content that must not be delivered when refused
    content: dict[str, bytes]

    def send(self, method: str, path: str, headers: dict[str, str]) -> Answer:
        """Send ``path`` verbatim; follow same-server redirects as clients do."""
        parts = urlsplit(self.server.url)
        for _ in range(5):
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
            try:
                conn.putrequest(method, path, skip_accept_encoding=True)
                for key, value in {"Accept": "*/*", **headers}.items():
                    conn.putheader(key, value)
                conn.endheaders()
                resp = conn.getresponse()
                body = resp.read()
                location = resp.getheader("Location")
            finally:
                conn.close()
            if resp.status not in (301, 302, 303, 307, 308) or not location:
                return Answer(resp.status, resp.reason, body)
            target = urljoin(f"{self.server.url}{path}", location)
            assert target.startswith(self.server.url), f"{path} redirected off-server: {target}"
            path = target[len(self.server.url) :]
        msg = f"redirect loop at {path}"
        raise AssertionError(msg)


def _file_paths(api: DevpiApi, index: str, project: str) -> list[str]:
    page = f"/{index}/+simple/{project}/"
    reply = api.request("GET", page, headers={"Accept": PEP691})
    assert reply.status == 200, reply
    return [urlsplit(urljoin(page, f["url"])).path for f in json.loads(reply.body)["files"]]


@pytest.fixture(scope="module")
def site(upstream: DevpiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("spellings")
    server = DevpiServer(base / "serverdir", BINDIR, args=("--enable-core-metadata",)).start()
    try:
        root, alice = populate(server, upstream.url)
        evil = Project("evil-pkg", "1.0", {"License-Expression": "AGPL-3.0-only"})
        good = Project("good", "1.0", {"License-Expression": "MIT"})
        dists = [make(base / "dist", p) for p in (evil, good) for make in (make_sdist, make_wheel)]
        content = {}
        files = {}
        for rule, options in RULES.items():
            index = f"alice/{rule.replace('_', '-')}"
            alice.create_index(index, bases=[])
            twine_upload(base / "home", f"{server.url}/{index}/", "alice", ALICE_PW, *dists)
            evil_paths = _file_paths(alice, index, "evil-pkg")
            good_paths = _file_paths(alice, index, "good")
            for path in evil_paths:
                dist = next(d for d in dists if path.endswith(d.name))
                content[path] = dist.read_bytes()
            alice.modify_index(index, **options)
            files[rule] = (evil_paths, good_paths)
        # a mirror: its up-pure 2.0 files cached, then refused
        root.create_index(
            "root/ruled", type="mirror", mirror_url=f"{upstream.url}/root/up/+simple/",
            mirror_provides_core_metadata=True,
        )  # fmt: skip
        mirror = Site(server, {}, {})
        paths = _file_paths(root, "root/ruled", "up-pure")
        for path in paths:
            answer = mirror.send("GET", path, {})
            assert answer.status == 200, path
            content[path] = answer.body
        root.modify_index("root/ruled", policy_exclude=["up-pure>=2"])
        files["mirror policy_exclude"] = (
            [p for p in paths if "-2.0" in p],
            [p for p in paths if "-1.0" in p],
        )
        yield Site(server, files, content)
    finally:
        server.stop()


def _variants(paths: list[str]) -> list[tuple[str, str, str]]:
    """(spelling name, file path, URL path) of every file and its ``.metadata``."""
    found = []
    for path in paths:
        targets = [path]
        if path.endswith(".whl"):
            targets += [f"{path}.metadata"]
        for target in targets:
            found += [(name, path, url) for name, url in _spellings(target).items()]
    return found


def _delivered(answer: Answer, content: bytes) -> bool:
    """Whether ``answer`` carries any of a file's bytes or its METADATA."""
    return bool(answer.body) and (
        answer.body in content or content[:64] in answer.body or b"Name: " in answer.body
    )


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("rule", [*RULES, "mirror policy_exclude"])
def test_every_spelling_of_a_refused_file_is_refused_or_unresolved(
    site: Site, rule: str, method: str
) -> None:
    verb, headers = METHODS[method]
    evil_paths, good_paths = site.files[rule]
    served_good = {
        name
        for name, _, url in _variants(good_paths)
        if site.send(verb, url, headers).status in (200, 206)
    }
    assert {"plain", "trailing slash", "encoded # suffix", "query"} <= served_good
    problems = []
    with unchanged(site.server, f"{method} spellings under {rule}"):
        for name, path, url in _variants(evil_paths):
            answer = site.send(verb, url, headers)
            if _delivered(answer, site.content[path]) or 200 <= answer.status < 300:
                problems.append(f"{name} {url}: {answer.status} delivered")
            elif name in served_good and answer.status != 403:
                problems.append(f"{name} {url}: {answer.status} {answer.reason}, not refused")
            elif answer.status == 403 and "policy:" not in answer.reason:
                problems.append(f"{name} {url}: 403 without the rule's reason {answer.reason!r}")
    assert not problems, "\n".join(problems)


def test_json_accept_on_a_refused_file_gives_no_metadata(site: Site) -> None:
    """devpi answers a file URL asked for JSON with the file's stored metadata."""
    evil_paths, _ = site.files["policy_exclude"]
    for path in evil_paths:
        for url in (path, f"{path}/"):
            answer = site.send("GET", url, {"Accept": "application/json"})
            assert answer.status == 403, (url, answer)
            assert b"hash_spec" not in answer.body


def test_a_mirror_file_devpi_first_resolves_in_its_view_is_refused_unsent(
    site: Site, upstream: DevpiServer
) -> None:
    """A mirror whose project page was never fetched: devpi resolves the file URL only in
    its view (fetching the page, then the file). The decision then comes after the view,
    before any byte is sent."""
    root = DevpiApi(site.server.url).login("root", ROOT_PASSWORD)
    root.create_index(
        "root/fresh", type="mirror", mirror_url=f"{upstream.url}/root/up/+simple/",
        policy_exclude=["up-pure>=2"],
    )  # fmt: skip
    upstream_paths = _file_paths(DevpiApi(upstream.url), "root/up", "up-pure")
    wheel = next(p for p in upstream_paths if p.endswith("up_pure-2.0-py3-none-any.whl"))
    content = DevpiApi(upstream.url).request("GET", wheel, headers={"Accept": "*/*"})
    assert content.status == 200
    path = wheel.replace("/root/up/", "/root/fresh/", 1)
    answer = site.send("GET", path, {})
    assert answer.status == 403, answer
    assert "policy: " in answer.reason
    assert not _delivered(answer, content.body)


def test_a_toxresult_of_a_refused_release_is_refused(site: Site, tmp_path: Path) -> None:
    """Files devpi stores for a release under another name (tox results) are judged by the
    release their entry belongs to, not by their own file name; no tox result is stored
    for a refused file either."""
    alice = DevpiApi(site.server.url).login("alice", ALICE_PW)
    alice.create_index("alice/tox", bases=[])
    sdist = make_sdist(tmp_path, Project("evil-pkg", "1.0"))
    twine_upload(tmp_path / "home", f"{site.server.url}/alice/tox/", "alice", ALICE_PW, sdist)
    (path,) = _file_paths(alice, "alice/tox", "evil-pkg")
    posted = alice.request("POST", path, {"testenvs": {"py311": {"test": []}}})
    assert posted.status == 200, posted
    toxresult = "/" + posted.json()["result"].lstrip("/")
    assert site.send("GET", toxresult, {}).status == 200
    alice.modify_index("alice/tox", policy_exclude=["evil-pkg>=1"])
    with unchanged(site.server, "toxresult download"):
        for url in (toxresult, f"{toxresult}/"):
            answer = site.send("GET", url, {})
            assert answer.status == 403, (url, answer)
            assert b"testenvs" not in answer.body
        posted = alice.request("POST", path, {"testenvs": {"py312": {"test": []}}})
    assert posted.status == 403
    assert "'evil-pkg 1.0' is excluded by policy_exclude 'evil-pkg>=1'" in posted.reason
