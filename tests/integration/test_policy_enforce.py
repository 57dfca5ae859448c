"""devpi_policy on a real server, with real devpi, twine, pip and uv clients.

One server per module (``--enable-core-metadata``, as deployments run it) mirrors the
session's upstream "PyPI" as ``root/pypi``, which holds up-pure 1.0 and 2.0 (wheel and
sdist), up-dep 1.0 and up-app 1.0. Every rule has a refused and an allowed case.
"""

from __future__ import annotations

import http.client
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from harness.api import DevpiApi, without_request_id
from harness.clients import (
    DevpiClient,
    Venv,
    assert_all_from,
    pip_download,
    pip_install,
    report_urls,
    twine_upload,
    uv_pip_install,
)
from harness.dists import Project, make_sdist, make_wheel
from harness.server import DevpiServer
from integration.conftest import ALICE_PW, BINDIR, populate

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PEP691 = "application/vnd.pypi.simple.v1+json"


class Policy:
    """The module's server, logged-in API clients and helpers."""

    def __init__(self, server: DevpiServer, root: DevpiApi, alice: DevpiApi) -> None:
        self.server, self.root, self.alice = server, root, alice

    @property
    def url(self) -> str:
        return self.server.url

    def simple(self, index: str) -> str:
        return f"{self.url}/{index}/+simple/"

    def get(self, path: str, **headers: str) -> tuple[int, str, str]:
        """Status, reason phrase and body of a GET (reason as the client sees it),
        following same-server redirects as installers do."""
        parts = urlsplit(self.url)
        for _ in range(5):
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
            try:
                conn.request("GET", path if path.startswith("/") else f"/{path}", headers=headers)
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace")
                location = resp.getheader("Location")
            finally:
                conn.close()
            if resp.status not in (301, 302, 303, 307, 308) or not location:
                return resp.status, resp.reason, body
            path = urlsplit(urljoin(f"{self.url}{path}", location)).path
        msg = f"redirect loop at {path}"
        raise AssertionError(msg)

    def file_urls(self, index: str, project: str) -> dict[str, str]:
        """File name -> URL path, from the PEP 691 project page."""
        page = f"/{index}/+simple/{project}/"
        status, _, body = self.get(page, Accept=PEP691)
        assert status == 200, body
        return {
            f["filename"]: urlsplit(urljoin(page, f["url"])).path for f in json.loads(body)["files"]
        }


@pytest.fixture(scope="module")
def pol(upstream: DevpiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Policy]:
    base = tmp_path_factory.mktemp("policy")
    server = DevpiServer(base / "serverdir", BINDIR, args=("--enable-core-metadata",)).start()
    try:
        root, alice = populate(server, upstream.url)
        root.modify_index("root/pypi", mirror_provides_core_metadata=True)
        yield Policy(server, root, alice)
    finally:
        server.stop()


@pytest.fixture
def client(pol: Policy, home: Path) -> DevpiClient:
    return DevpiClient(home).use_login(pol.url, "alice", ALICE_PW)


def _dists(tmp_path: Path, name: str, version: str = "1.0") -> tuple[Path, Path]:
    project = Project(name, version)
    return make_sdist(tmp_path / "dist", project), make_wheel(tmp_path / "dist", project)


# -- uploads and pushes -------------------------------------------------------------------


def test_devpi_upload_refused_with_the_rule_and_allowed_otherwise(
    pol: Policy, client: DevpiClient, tmp_path: Path
) -> None:
    client("index", "-c", "alice/up1", "policy_exclude=evil-*")
    client("use", "alice/up1")
    evil, _ = _dists(tmp_path, "evil-pkg")
    res = client("upload", str(evil), check=False)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "403 FAIL file_upload of evil_pkg-1.0.tar.gz" in out
    assert "policy: 'evil-pkg 1.0' is excluded by policy_exclude 'evil-*' on alice/up1" in out
    good, _ = _dists(tmp_path, "good-pkg")
    client("upload", str(good))
    assert pol.alice.ok("GET", "alice/up1")["projects"] == ["good-pkg"]


def test_twine_upload_refused_and_allowed(pol: Policy, home: Path, tmp_path: Path) -> None:
    pol.alice.create_index("alice/up2", policy_exclude_files=["tag:*-*-win_*"])
    project = Project("twined", "1.0")
    win = make_wheel(tmp_path / "dist", project, tag="cp311-cp311-win_amd64")
    res = twine_upload(home, f"{pol.url}/alice/up2/", "alice", ALICE_PW, win, check=False)
    assert res.returncode != 0
    out = " ".join((res.stdout + res.stderr).split())  # rich wraps twine's lines
    assert "policy_exclude_files 'tag:*-*-win_*' on alice/up2" in out
    pure = make_wheel(tmp_path / "dist", project)
    twine_upload(home, f"{pol.url}/alice/up2/", "alice", ALICE_PW, pure)
    assert sorted(pol.file_urls("alice/up2", "twined")) == [pure.name]


def test_raw_http_upload_reason_phrase_and_nothing_stored(pol: Policy, tmp_path: Path) -> None:
    pol.alice.create_index("alice/up3", policy_include=["acme-*"])
    serial = pol.alice.request("GET", "+api").headers["X-Devpi-Serial"]
    boundary = "xyzzy"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nother\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="version"\r\n\r\n1.0\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="other-1.0.tar.gz"\r\n\r\nxx\r\n--{boundary}--\r\n'
    ).encode()
    resp = pol.alice.request(
        "POST", "alice/up3/", body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    assert resp.status == 403
    assert without_request_id(resp.reason) == (
        "policy: 'other 1.0' is not included by policy_include 'acme-*' on alice/up3"
    )
    assert pol.alice.request("GET", "+api").headers["X-Devpi-Serial"] == serial


def test_devpi_push_checked_against_the_target_index(
    pol: Policy, client: DevpiClient, tmp_path: Path
) -> None:
    client("index", "-c", "alice/free")
    client("index", "-c", "alice/prod", "policy_exclude=evil-*")
    client("use", "alice/free")
    evil, wheel = _dists(tmp_path, "evil-pkg")
    client("upload", str(evil), str(wheel))
    res = client("push", "evil-pkg==1.0", "alice/prod", check=False)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "403" in out
    assert "'evil-pkg 1.0' is excluded by policy_exclude 'evil-*' on alice/prod" in out
    assert pol.alice.ok("GET", "alice/prod")["projects"] == []
    client("index", "-c", "alice/staging")
    client("push", "evil-pkg==1.0", "alice/staging")
    assert pol.alice.ok("GET", "alice/staging")["projects"] == ["evil-pkg"]


# -- serving a mirror and indexes inheriting from it ------------------------------------


@pytest.fixture(scope="module")
def mirror_rules(
    pol: Policy, upstream: DevpiServer, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """``root/ruled``: a mirror whose up-pure 2.0 files were cached BEFORE its rule."""
    home = tmp_path_factory.mktemp("mirror-home")
    pol.root.create_index(
        "root/ruled", type="mirror", mirror_url=f"{upstream.url}/root/up/+simple/",
        mirror_provides_core_metadata=True,
    )  # fmt: skip
    dest = tmp_path_factory.mktemp("cached")
    pip_download(dest, home, pol.simple("root/ruled"), "up-pure==2.0")  # caches the wheel
    for name, path in pol.file_urls("root/ruled", "up-pure").items():
        assert pol.get(path)[0] == 200, name  # caches the rest, as any client could
    before = pol.file_urls("root/ruled", "up-pure")
    pol.root.modify_index("root/ruled", policy_exclude=["up-pure>=2"])
    pol.alice.create_index("alice/inh", bases=["root/ruled"])
    pol.alice.create_index("alice/lvl2", bases=["alice/inh"])
    return before


@pytest.mark.parametrize("index", ["root/ruled", "alice/inh", "alice/lvl2"])
def test_pip_and_uv_install_the_newest_allowed_version(
    pol: Policy, mirror_rules: Any, index: str, home: Path, tmp_path: Path
) -> None:
    venv = Venv.create(tmp_path / "venv")
    _, report = pip_install(venv, home, pol.simple(index), "up-pure")
    assert_all_from(report, pol.url)
    assert report["install"][0]["metadata"]["version"] == "1.0"
    res, _ = pip_install(venv, home, pol.simple(index), "up-pure==2.0", check=False)
    assert res.returncode != 0
    uv_venv = Venv.create(tmp_path / "uv")
    res = uv_pip_install(uv_venv, home, pol.simple(index), "up-pure")
    assert "up-pure==1.0" in res.stderr


@pytest.mark.parametrize("index", ["root/ruled", "alice/inh", "alice/lvl2"])
def test_every_listing_hides_the_excluded_version(
    pol: Policy, mirror_rules: Any, index: str
) -> None:
    pages = [
        pol.get(f"/{index}/+simple/up-pure/"),
        pol.get(f"/{index}/+simple/up-pure/", Accept=PEP691),
        pol.get(f"/{index}/up-pure/", **{"User-Agent": "pip/25.0"}),
        pol.get(f"/{index}/up-pure/", **{"User-Agent": "uv/0.13.8"}),
        pol.get(f"/{index}/up-pure", Accept="application/json"),
    ]
    for status, _, body in pages:
        assert status == 200
        assert "up_pure-1.0" in body
        assert "up_pure-2.0" not in body
    status, _, _ = pol.get(f"/{index}/up-pure/2.0", Accept="application/json")
    assert status == 404


@pytest.mark.parametrize("variant", ["UP_PURE", "Up.Pure", "up--pure", "up_pure"], ids=lambda v: v)
def test_name_variants_do_not_bypass(pol: Policy, mirror_rules: Any, variant: str) -> None:
    for index in ("root/ruled", "alice/lvl2"):
        for headers in ({}, {"Accept": PEP691}, {"User-Agent": "pip/25.0"}):
            path = (
                f"/{index}/{variant}/" if "User-Agent" in headers
                else f"/{index}/+simple/{variant}/"
            )  # fmt: skip
            status, _, body = pol.get(path, **headers)
            assert status == 200, (path, headers)
            assert "up_pure-1.0" in body, (path, headers)
            assert "up_pure-2.0" not in body, (path, headers)


def test_files_cached_before_the_rule_are_refused(pol: Policy, mirror_rules: Any) -> None:
    newer = {name: path for name, path in mirror_rules.items() if "-2.0" in name}
    assert len(newer) == 2
    for name, path in newer.items():
        status, reason, _ = pol.get(path)
        assert status == 403, name
        assert without_request_id(reason) == (
            "policy: 'up-pure 2.0' is excluded by policy_exclude 'up-pure>=2' on root/ruled"
        )
        status, _, _ = pol.get(unquote(path) if "%" in path else path)
        assert status == 403
    wheel = next(p for n, p in newer.items() if n.endswith(".whl"))
    assert pol.get(f"{wheel}.metadata")[0] == 403
    older = next(p for n, p in mirror_rules.items() if n == "up_pure-1.0-py3-none-any.whl")
    assert pol.get(older)[0] == 200
    assert pol.get(f"{older}.metadata")[0] == 200


def test_files_first_fetched_after_the_rule_are_refused(
    pol: Policy, upstream: DevpiServer, home: Path
) -> None:
    pol.root.create_index(
        "root/late", type="mirror", mirror_url=f"{upstream.url}/root/up/+simple/",
        policy_exclude=["up-dep"],
    )  # fmt: skip
    status, _, body = pol.get("/root/late/+simple/up-dep/")
    assert "up_dep" not in body
    # the file's URL is the upstream's path under the mirror; guess it as an attacker would
    up = DevpiApi(upstream.url).ok("GET", "root/up/up-dep/1.0")["+links"][0]["href"]
    relpath = urlsplit(up).path.split("/+f/", 1)[1]
    status, reason, _ = pol.get(f"/root/late/+f/{relpath}")
    assert status == 403
    assert without_request_id(reason) == (
        "policy: 'up-dep 1.0' is excluded by policy_exclude 'up-dep' on root/late"
    )
    venv_res = pip_download(home / "dl", home, pol.simple("root/late"), "up-dep", check=False)
    assert venv_res.returncode != 0


def test_policy_check_cli_names_the_rule_and_the_index(
    pol: Policy, mirror_rules: Any, client: DevpiClient
) -> None:
    res = client("policy", "check", "up-pure==2.0", "--index", "alice/lvl2", check=False)
    assert res.returncode == 1
    assert "up-pure 2.0 on alice/lvl2: REFUSED" in res.stdout
    assert "'up-pure 2.0' is excluded by policy_exclude 'up-pure>=2' on root/ruled" in res.stdout
    assert "if held by alice/lvl2: served allowed" in res.stdout
    assert "if held by root/ruled: served refused" in res.stdout
    ok = client("policy", "check", "up-pure==1.0", "--index", "alice/lvl2")
    assert "up-pure 1.0 on alice/lvl2: allowed" in ok.stdout
    by_file = client("policy", "check", "up_pure-2.0-py3-none-any.whl", "--index", "root/ruled",
                     check=False)  # fmt: skip
    assert by_file.returncode == 1
    bad = client("policy", "check", "up-pure>=2", "--index", "root/ruled", check=False)
    assert bad.returncode != 0
    assert "one exact version" in bad.stdout + bad.stderr


def test_dry_run_lets_through_and_counts(pol: Policy, upstream: DevpiServer, home: Path,
                                         tmp_path: Path) -> None:  # fmt: skip
    pol.root.create_index(
        "root/dry", type="mirror", mirror_url=f"{upstream.url}/root/up/+simple/",
        policy_exclude=["up-pure>=2"], policy_mode="dry-run",
    )  # fmt: skip
    before = _metric(pol, "devpi_policy_dry_run_total")
    venv = Venv.create(tmp_path / "venv")
    _, report = pip_install(venv, home, pol.simple("root/dry"), "up-pure")
    assert report["install"][0]["metadata"]["version"] == "2.0"
    assert _metric(pol, "devpi_policy_dry_run_total") > before
    assert "/root/dry/+f/" in unquote(report_urls(report)["up-pure"])


def _metric(pol: Policy, name: str) -> float:
    metrics = pol.server.status()["metrics"]
    return float(next(value for key, _, value in metrics if key == name))


def test_malformed_rules_are_refused_with_every_problem(client: DevpiClient) -> None:
    res = client("index", "-c", "alice/broken", "policy_exclude=bad name,x>=<1",
                 "policy_mode=sometimes", check=False)  # fmt: skip
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "400" in out
    for fragment in ("'bad name'", "'x>=<1'", "'sometimes'"):
        assert fragment in out


def test_devpi_web_pages_follow_the_rules(pol: Policy, home: Path, tmp_path: Path) -> None:
    pol.alice.create_index("alice/web", bases=[])
    project = Project("weblib", "1.0")
    files = [
        make_sdist(tmp_path / "dist", project),
        make_wheel(tmp_path / "dist", project, tag="cp311-cp311-win_amd64"),
        make_sdist(tmp_path / "dist", Project("evil-web", "1.0")),
    ]
    twine_upload(home, f"{pol.url}/alice/web/", "alice", ALICE_PW, *files)
    status, _, page = pol.get("/alice/web/weblib/1.0", Accept="text/html")
    assert status == 200
    assert "win_amd64" in page
    pol.alice.modify_index("alice/web", policy_exclude_files=["*win*"], policy_exclude=["evil-*"])
    status, _, page = pol.get("/alice/web/weblib/1.0", Accept="text/html")
    assert status == 200
    assert "weblib-1.0.tar.gz" in page
    assert "win_amd64" not in page
    status, reason, _ = pol.get("/alice/web/evil-web/1.0/+doc/index.html", Accept="text/html")
    assert status == 403
    assert "excluded by policy_exclude 'evil-*' on alice/web" in reason
