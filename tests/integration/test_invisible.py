"""Installed but unconfigured, the plugins change nothing devpi serves and start nothing.

The same layout is built on a plain devpi-server (same devpi, no devpi-foundry) and on one
with the plugins; every page a client reads must be identical, and so must the process's
threads and the files in the serverdir. The one documented difference: PEP 691 JSON pages
are api-version 1.1 with PEP 700's ``versions``, ``size`` and ``upload-time`` (issue 16),
checked here and then set aside.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.clients import twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.server import DevpiServer
from integration.conftest import ALICE_PW, BINDIR, plain_bindir, populate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from harness.api import DevpiApi

PLUGIN_KEYS = re.compile(r"^(policy|buildfarm|license)_")
PEP691 = "application/vnd.pypi.simple.v1+json"
PIP_UA = "pip/25.0 {}"
PAGES: list[tuple[str, dict[str, str]]] = [
    ("alice/dev/+simple/", {"Accept": "text/html"}),
    ("alice/dev/+simple/", {"Accept": PEP691}),
    ("alice/dev/+simple/up-pure/", {"Accept": "text/html"}),
    ("alice/dev/+simple/up-pure/", {"Accept": PEP691}),
    ("alice/dev/+simple/same-demo/", {"Accept": PEP691}),
    ("alice/dev/up-pure/", {"User-Agent": PIP_UA}),
    ("root/pypi/+simple/up-app/", {"Accept": "text/html"}),
    ("alice/dev/up-pure", {"Accept": "application/json"}),
    ("alice/dev/same-demo", {"Accept": "application/json"}),
    ("alice/dev/same-demo/1.0", {"Accept": "application/json"}),
    ("root/pypi/up-pure", {"Accept": "application/json"}),
]


def _normalise(body: bytes, server: DevpiServer) -> Any:
    text = body.decode().replace(server.url, "SERVER")
    try:
        data = json.loads(text)
    except ValueError:
        return text
    return _drop_volatile(data)


def _drop_volatile(data: Any) -> Any:
    """Drop timestamps and the plugins' own index options, which are expected to differ."""
    if isinstance(data, dict):
        cleaned = {
            k: _drop_volatile(v)
            for k, v in data.items()
            if k not in {"when", "created", "modified"} and not PLUGIN_KEYS.match(k)
        }
        if isinstance(cleaned.get("projects"), list):
            # devpi lists the projects of an index from a set: the order is arbitrary
            cleaned["projects"] = sorted(cleaned["projects"], key=json.dumps)
        return cleaned
    if isinstance(data, list):
        return [_drop_volatile(v) for v in data]
    return data


def _build(base: Path, bindir: Path, upstream_url: str, dists: list[Path], *args: str) -> DevpiApi:
    server = DevpiServer(base / "serverdir", bindir, args=args).start()
    _, alice = populate(server, upstream_url)
    twine_upload(base / "home", f"{server.url}/alice/dev/", "alice", ALICE_PW, *dists)
    alice.server = server  # type: ignore[attr-defined]
    return alice


@pytest.fixture(scope="module")
def pair(
    upstream: DevpiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DevpiApi, DevpiApi]]:
    dists_dir = tmp_path_factory.mktemp("dists")
    project = Project("same-demo", "1.0", {"License-Expression": "MIT"})
    dists = [make_sdist(dists_dir, project), make_wheel(dists_dir, project)]
    plain = _build(tmp_path_factory.mktemp("plain"), plain_bindir(), upstream.url, dists)
    foundry = _build(tmp_path_factory.mktemp("foundry"), BINDIR, upstream.url, dists)
    try:
        yield plain, foundry
    finally:
        plain.server.stop()  # type: ignore[attr-defined]
        foundry.server.stop()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("path", "headers"), PAGES, ids=[f"{p} {h}" for p, h in PAGES])
def test_pages_are_identical(
    pair: tuple[DevpiApi, DevpiApi], path: str, headers: dict[str, str]
) -> None:
    _plain, _foundry = pair
    responses = [api.request("GET", path, headers=headers) for api in pair]
    assert [r.status for r in responses] == [200, 200]
    assert responses[0].headers.get("Content-Type") == responses[1].headers.get("Content-Type")
    bodies = [
        _normalise(r.body, api.server)  # type: ignore[attr-defined]
        for r, api in zip(responses, pair, strict=True)
    ]
    if headers.get("Accept") == PEP691:
        bodies = [_without_pep700(bodies[0], added=False), _without_pep700(bodies[1], added=True)]
    assert bodies[0] == bodies[1]


def _without_pep700(data: Any, *, added: bool) -> Any:
    """A PEP 691 page without the api-version 1.1 fields, which the plugins add (asserted)."""
    assert data["meta"]["api-version"] == ("1.1" if added else "1.0")
    data["meta"].pop("api-version")
    if "files" in data:
        if added:
            versions = {f["filename"].split("-")[1].removesuffix(".tar.gz") for f in data["files"]}
            assert set(data.pop("versions")) == versions
        for item in data["files"]:
            if added:
                assert item.pop("size") > 0
                assert "T" in item.pop("upload-time")
    return data


def test_files_download_identically(pair: tuple[DevpiApi, DevpiApi]) -> None:
    links = [api.ok("GET", "alice/dev/same-demo/1.0")["+links"] for api in pair]
    hrefs = [
        sorted(link["href"].replace(api.url, "") for link in ls)
        for ls, api in zip(links, pair, strict=True)
    ]
    assert hrefs[0] == hrefs[1]
    for href in hrefs[0]:
        bodies = [api.request("GET", href, headers={"Accept": "*/*"}).body for api in pair]
        assert bodies[0] == bodies[1]
        assert bodies[0]


def test_index_config_is_the_same(pair: tuple[DevpiApi, DevpiApi]) -> None:
    """Options not set are not stored (they read as their defaults), so an unconfigured
    index looks exactly as on plain devpi."""
    plain_cfg, foundry_cfg = (api.index("alice/dev") for api in pair)
    assert not [key for key in foundry_cfg if PLUGIN_KEYS.match(key)]
    assert foundry_cfg == plain_cfg


def test_no_extra_threads(pair: tuple[DevpiApi, DevpiApi]) -> None:
    counts = [_threads(api.server) for api in pair]  # type: ignore[attr-defined]
    assert counts[0] == counts[1], f"plain devpi has {counts[0]} threads, with plugins {counts[1]}"


def test_no_extra_files(pair: tuple[DevpiApi, DevpiApi]) -> None:
    trees = [_tree(api.server.serverdir) for api in pair]  # type: ignore[attr-defined]
    assert trees[0] == trees[1]


def test_requests_only_starts_nothing_either(tmp_path: Path) -> None:
    servers = [
        DevpiServer(tmp_path / name / "serverdir", bindir, args=("--requests-only",)).start()
        for name, bindir in (("plain", plain_bindir()), ("foundry", BINDIR))
    ]
    try:
        counts = [_threads(s) for s in servers]
        assert counts[0] == counts[1]
        assert _tree(servers[0].serverdir) == _tree(servers[1].serverdir)
    finally:
        for server in servers:
            server.stop()


def _threads(server: DevpiServer) -> int:
    assert server.proc is not None
    return len(list(Path(f"/proc/{server.proc.pid}/task").iterdir()))


def _tree(root: Path) -> set[str]:
    """Files and folders under ``root``; devpi-web's search index segments have random names
    and are written when its indexer thread gets to them, so only their folder counts."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if ".log" not in p.name and ".indices/" not in str(p.relative_to(root))
    }
