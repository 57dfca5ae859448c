"""License data of uploaded and mirrored releases, and license rules on every serving path.

Against real servers: the session's upstream devpi (with PEP 658 ``.metadata``) holds
projects covering each source of license data; ``root/licmirror`` on the server under
test mirrors them. Uploads record ``license_spdx``/``license_sources`` in versiondata;
mirrored releases are extracted in the background from upstream ``.metadata`` or the file.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import pytest

from harness.api import DevpiApi
from harness.clients import Venv, pip_install, twine_upload, uv_pip_install
from harness.dists import Project, make_sdist, make_wheel
from harness.pep691 import JSON_TYPE as ACCEPT_JSON
from harness.server import ROOT_PASSWORD, get_json, get_status

from .conftest import ALICE_PW

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Site

#: a whole license text in the ``License`` field (continuation lines, as setuptools writes)
GPL_TEXT = """GNU GENERAL PUBLIC LICENSE
        Version 3, 29 June 2007
        Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>
        Everyone is permitted to copy and distribute verbatim copies"""
MIT_CLASSIFIER = "License :: OSI Approved :: MIT License"
GPL_CLASSIFIER = "License :: OSI Approved :: GNU General Public License v3 (GPLv3)"

#: (project, how it is published, expected expression, expected deciding source)
Case = tuple[Project, str, str | None, str | None]
SOURCES: list[Case] = [
    (Project("src-expr", "1.0", {"License-Expression": "Apache-2.0"}), "wheel",
     "Apache-2.0", "License-Expression"),
    (Project("src-classifier", "1.0", {"Classifier": MIT_CLASSIFIER}), "wheel",
     "MIT", "Classifier"),
    (Project("src-freetext", "1.0", {"License": "MIT License"}), "sdist", "MIT", "License"),
    (Project("src-gpltext", "1.0", {"License": GPL_TEXT}), "sdist", "GPL-3.0-only", "License"),
    (Project("src-nothing", "1.0"), "wheel", None, None),
    (Project("src-conflict", "1.0", {"License-Expression": "MIT", "Classifier": GPL_CLASSIFIER}),
     "wheel", "MIT", "License-Expression"),
]  # fmt: skip


def build(dest: Path, project: Project, how: str) -> Path:
    return make_wheel(dest, project) if how == "wheel" else make_sdist(dest, project)


def license_of(url: str, index: str, project: str, version: str) -> dict[str, Any]:
    """``+license`` of a release, asked again while pending (first asks queue it)."""
    deadline = time.monotonic() + 30
    while True:
        found = get_json(f"{url}/{index}/{project}/{version}/+license")
        if found["state"] != "pending" or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def check_source(found: dict[str, Any], expression: str | None, source: str | None) -> None:
    assert found["expression"] == expression, found
    assert found["source"] == source, found
    assert found["state"] == ("known" if expression else "unknown")
    assert found["evidence"], found
    assert all(e.get("file") for e in found["evidence"]), found  # a file, or its kind


@pytest.fixture(scope="module")
def mirrored(site: Site, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``root/licmirror``: a mirror of upstream ``root/licup`` holding :data:`SOURCES`
    and ``ruled`` 1.0 (MIT) and 2.0 (GPL-3.0-only); returns the upstream index URL."""
    base = tmp_path_factory.mktemp("licup")
    upstream = site.upstream
    up_root = upstream_root(site)
    up_root.create_index("root/licup", type="stage", bases=[], volatile=True)
    files = [build(base, project, how) for project, how, _, _ in SOURCES]
    files.append(make_wheel(base, Project("ruled", "1.0", {"License-Expression": "MIT"})))
    files.append(make_wheel(base, Project("ruled", "2.0", {"Classifier": GPL_CLASSIFIER})))
    twine_upload(base / "home", f"{upstream.url}/root/licup/", "root", ROOT_PASSWORD, *files)
    site.root.create_index("root/licmirror", type="mirror", volatile=False,
                           mirror_url=f"{upstream.url}/root/licup/+simple/",
                           mirror_provides_core_metadata=True)  # fmt: skip
    return f"{upstream.url}/root/licup"


def upstream_root(site: Site) -> DevpiApi:
    return DevpiApi(site.upstream.url).login("root", ROOT_PASSWORD)


@pytest.mark.parametrize("case", SOURCES, ids=[p.name for p, *_ in SOURCES])
def test_uploaded_release_license_from_each_source(site: Site, tmp_path: Path, case: Case) -> None:
    project, how, expression, source = case
    index = "alice/licsrc"
    if "licsrc" not in site.alice.ok("GET", "alice")["indexes"]:
        site.alice.create_index(index, bases=[])
    dist = build(tmp_path, project, how)
    twine_upload(tmp_path / "home", f"{site.url}/{index}/", "alice", ALICE_PW, dist)
    versiondata = site.alice.ok("GET", f"{index}/{project.name}/{project.version}")
    assert versiondata["license_spdx"] == (expression or "unknown")
    assert {json.loads(e)["file"] for e in versiondata["license_sources"]} == {how}
    found = get_json(f"{site.url}/{index}/{project.name}/{project.version}/+license")
    check_source(found, expression, source)
    assert found["stored_in"] == index
    if project.name == "src-conflict":
        assert len(found["conflicts"]) == 1
        assert "GPL-3.0-only" in found["conflicts"][0]


@pytest.mark.parametrize("case", SOURCES, ids=[p.name for p, *_ in SOURCES])
def test_mirrored_release_license_from_each_source(site: Site, mirrored: str, case: Case) -> None:
    project, how, expression, source = case
    found = license_of(site.url, "root/licmirror", project.name, project.version)
    check_source(found, expression, source)
    assert found["stored_in"] == "root/licmirror"
    read = " ".join(e["how"] for e in found["evidence"])
    if how == "wheel":  # the wheel itself is never fetched: upstream .metadata sufficed
        assert "PEP 658" in read
    else:
        assert "PEP 658" not in read


def _simple_json(url: str) -> dict[str, Any]:
    req = urllib.request.Request(url, headers={"Accept": ACCEPT_JSON})  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
        return dict(json.load(resp))


def test_denied_mirrored_release_is_hidden_from_the_first_request(
    site: Site, mirrored: str, tmp_path: Path
) -> None:
    """A rule on the mirror holds through an inheriting index on every path, even for a
    project nobody asked for before: pip and uv get the newest allowed version."""
    site.root.modify_index("root/licmirror", license_deny=["GPL-*"])
    site.alice.create_index("alice/licview", bases=["root/licmirror"])
    simple = f"{site.url}/alice/licview/+simple/"
    venv = Venv.create(tmp_path / "venv")
    _, report = pip_install(venv, tmp_path / "home", simple, "ruled")  # the first request
    assert [i["metadata"]["version"] for i in report["install"]] == ["1.0"]
    uv_pip_install(Venv.create(tmp_path / "uv"), tmp_path / "home", simple, "ruled")
    html = get_status(f"{simple}ruled/")[1]
    assert "ruled-1.0-py3-none-any.whl" in html
    assert "ruled-2.0" not in html
    names = [f["filename"] for f in _simple_json(f"{simple}ruled/")["files"]]
    assert names == ["ruled-1.0-py3-none-any.whl"]
    assert list(get_json(f"{site.url}/alice/licview/ruled")) == ["1.0"]
    found = get_json(f"{site.url}/alice/licview/ruled/2.0/+license")
    assert found["verdict"]["refused"]
    assert found["verdict"]["reason"] == (
        "license 'GPL-3.0-only' is denied by license_deny 'GPL-*' on root/licmirror"
    )
    href = mirror_href(site, "ruled", "ruled-2.0-py3-none-any.whl")
    for url in (href, f"{href}.metadata"):
        status, reason = get_status(url)
        assert status == 403, url
        assert "'ruled 2.0' license 'GPL-3.0-only' is denied by license_deny 'GPL-*'" in reason
    allowed = mirror_href(site, "ruled", "ruled-1.0-py3-none-any.whl")
    with urllib.request.urlopen(allowed, timeout=30) as resp:  # noqa: S310 - loopback
        assert resp.status == 200
        assert resp.read()[:2] == b"PK"


def mirror_href(site: Site, project: str, filename: str) -> str:
    """The ``+f`` URL of a mirrored file, from the mirror's unfiltered upstream listing."""
    site.root.modify_index("root/licmirror", policy_mode="dry-run")
    try:
        page = _simple_json(f"{site.url}/root/licmirror/+simple/{project}/")
    finally:
        site.root.modify_index("root/licmirror", policy_mode="enforce")
    for item in page["files"]:
        if item["filename"] == filename:
            return urljoin(f"{site.url}/root/licmirror/+simple/{project}/", item["url"]).split(
                "#", 1
            )[0]
    msg = f"{filename} not in {page}"
    raise AssertionError(msg)


def test_rules_added_later_hide_uploaded_releases(site: Site, tmp_path: Path) -> None:
    """A license rule set after the upload applies to listings and +f (versiondata)."""
    site.alice.create_index("alice/liclater", bases=[])
    url = f"{site.url}/alice/liclater/"
    files = [
        make_wheel(tmp_path, Project("later", version, {"License-Expression": expression}))
        for version, expression in (("1.0", "MIT"), ("2.0", "AGPL-3.0-only"))
    ]
    twine_upload(tmp_path / "home", url, "alice", ALICE_PW, *files)
    links = site.alice.ok("GET", "alice/liclater/later/2.0")["+links"]
    site.alice.modify_index("alice/liclater", license_deny=["AGPL-*"])
    html = get_status(f"{url}+simple/later/")[1]
    assert "later-1.0" in html
    assert "later-2.0" not in html
    status, reason = get_status(links[0]["href"])
    assert status == 403
    assert "'later 2.0' license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*'" in reason
    venv = Venv.create(tmp_path / "venv")
    _, report = pip_install(venv, tmp_path / "home", f"{url}+simple/", "later")
    assert [i["metadata"]["version"] for i in report["install"]] == ["1.0"]


def test_version_page_shows_the_license(site: Site, tmp_path: Path) -> None:
    site.alice.create_index("alice/licweb", bases=[], license_deny=["GPL-*"])
    wheel = make_wheel(tmp_path, Project("webbed", "1.0", {"Classifier": MIT_CLASSIFIER}))
    twine_upload(tmp_path / "home", f"{site.url}/alice/licweb/", "alice", ALICE_PW, wheel)
    req = urllib.request.Request(  # noqa: S310 - loopback
        f"{site.url}/alice/licweb/webbed/1.0", headers={"Accept": "text/html"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        page = resp.read().decode()
    assert "MIT (from Classifier, confidence 0.95)" in page
    assert "verdict: allowed" in page
    assert "/alice/licweb/webbed/1.0/+license" in page
    assert "license_sources" not in page
    # in dry-run the page says what the server does: served, and what the rule would refuse
    site.alice.modify_index("alice/licweb", license_deny=["MIT"], policy_mode="dry-run")
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        page = resp.read().decode()
    assert "verdict: would refuse (dry-run): " in page
    assert "license_deny &#x27;MIT&#x27; on alice/licweb" in page
    assert "verdict: refused" not in page
