"""Upgrade path: data made by plain devpi keeps working after installing devpi-foundry, and
``devpi-export`` with the plugins imports with and without them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from harness.api import DevpiApi
from harness.clients import DevpiClient, Venv, assert_all_from, pip_install, twine_upload
from harness.dists import Project, make_sdist, make_wheel
from harness.server import ROOT_PASSWORD, DevpiServer
from integration.conftest import ALICE_PW, BINDIR, plain_bindir

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PROJECT = Project("legacy-app", "1.0", {"License-Expression": "MIT", "Summary": "old"})


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevpiServer]:
    """A serverdir made by plain devpi, now served with the plugins installed."""
    base = tmp_path_factory.mktemp("upgrade")
    plain = DevpiServer(base / "serverdir", plain_bindir()).start()
    try:
        root = DevpiApi(plain.url).login("root", ROOT_PASSWORD)
        root.create_user("alice", ALICE_PW)
        alice = DevpiApi(plain.url).login("alice", ALICE_PW)
        alice.create_index("alice/old", bases=[], volatile=False)
        dists = [make_sdist(base / "dists", PROJECT), make_wheel(base / "dists", PROJECT)]
        twine_upload(base / "home", f"{plain.url}/alice/old/", "alice", ALICE_PW, *dists)
        assert "policy_exclude" not in alice.index("alice/old")
    finally:
        plain.stop()
    server = DevpiServer(base / "serverdir", BINDIR, port=plain.port).start()
    try:
        yield server
    finally:
        server.stop()


def test_old_index_serves_and_installs(upgraded: DevpiServer, home: Path, tmp_path: Path) -> None:
    venv = Venv.create(tmp_path / "venv")
    _, report = pip_install(venv, home, f"{upgraded.url}/alice/old/+simple/", "legacy-app")
    assert_all_from(report, upgraded.url)


def test_devpi_index_plus_equals_and_set_on_old_index(upgraded: DevpiServer, home: Path) -> None:
    devpi = DevpiClient(home).use_login(upgraded.url, "alice", ALICE_PW)
    devpi("index", "alice/old", "policy_exclude+=evil-*")
    devpi("index", "alice/old", "license_deny+=AGPL-*", "buildfarm_targets+=cp311-*")
    devpi("index", "alice/old", "license_unknown=warn")
    ixconfig = DevpiApi(upgraded.url).index("alice/old")
    assert ixconfig["policy_exclude"] == ["evil-*"]
    assert ixconfig["license_deny"] == ["AGPL-*"]
    assert ixconfig["buildfarm_targets"] == ["cp311-*"]
    assert ixconfig["license_unknown"] == "warn"
    assert "policy_mode" not in ixconfig  # unset options are not stored: the default applies


def _snapshot(url: str) -> dict[str, Any]:
    api = DevpiApi(url)
    version = api.ok("GET", "alice/old/legacy-app/1.0")
    links = sorted(
        ((link["href"].rsplit("/", 1)[1], [e["what"] for e in link["log"]])
         for link in version.pop("+links")),
    )  # fmt: skip
    version.pop("+elinks", None)
    return {"index": api.index("alice/old"), "version": version, "links": links}


@pytest.mark.parametrize("importer", ["with-plugins", "plain"])
def test_export_then_import(upgraded: DevpiServer, tmp_path: Path, importer: str) -> None:
    devpi_url = upgraded.url
    DevpiClient(tmp_path / "h").use_login(devpi_url, "alice", ALICE_PW)(
        "index", "alice/old", "policy_exclude=evil-*", "license_unknown=deny"
    )
    before = _snapshot(devpi_url)
    assert before["index"]["policy_exclude"] == ["evil-*"]
    assert before["version"]["license_expression"] == "MIT"
    assert all(log == ["upload"] for _, log in before["links"])
    upgraded.stop()
    try:
        export = tmp_path / "export"
        upgraded.run_tool("devpi-export", "--serverdir", str(upgraded.serverdir), str(export))
    finally:
        upgraded.start()
    bindir = BINDIR if importer == "with-plugins" else plain_bindir()
    imported = DevpiServer(tmp_path / "imported", bindir)
    imported.run_tool(
        "devpi-import", "--serverdir", str(imported.serverdir), "--no-root-pypi", str(export)
    )
    imported.start()
    try:
        after = _snapshot(imported.url)
    finally:
        imported.stop()
    assert after == before


def test_license_data_survives_export_and_import_without_plugins(tmp_path: Path) -> None:
    """Uploads with devpi_license record ``license_spdx``/``license_sources``; a plain
    devpi imports them and devpi-web's version page still renders them."""
    source = DevpiServer(tmp_path / "source", BINDIR).start()
    try:
        DevpiApi(source.url).login("root", ROOT_PASSWORD).create_user("alice", ALICE_PW)
        alice = DevpiApi(source.url).login("alice", ALICE_PW)
        alice.create_index("alice/lic", bases=[])
        wheel = make_wheel(tmp_path / "d", Project("lic-app", "1.0", {"License": "MIT License"}))
        twine_upload(tmp_path / "h", f"{source.url}/alice/lic/", "alice", ALICE_PW, wheel)
        before = alice.ok("GET", "alice/lic/lic-app/1.0")
    finally:
        source.stop()
    assert before["license_spdx"] == "MIT"
    export = tmp_path / "export"
    source.run_tool("devpi-export", "--serverdir", str(source.serverdir), str(export))
    plain = DevpiServer(tmp_path / "plain", plain_bindir())
    plain.run_tool(
        "devpi-import", "--serverdir", str(plain.serverdir), "--no-root-pypi", str(export)
    )
    plain.start()
    try:
        after = DevpiApi(plain.url).ok("GET", "alice/lic/lic-app/1.0")
        page = DevpiApi(plain.url).request(
            "GET", "alice/lic/lic-app/1.0", headers={"Accept": "text/html"}
        )
    finally:
        plain.stop()
    assert after["license_spdx"] == "MIT"
    assert after["license_sources"] == before["license_sources"]
    assert page.status == 200
    assert "license_spdx" in page.body.decode()
