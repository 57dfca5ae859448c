"""The plugins, installed from their entry points, in a real devpi-server process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.clients import DevpiClient
from harness.server import ROOT_PASSWORD, DevpiServer
from integration.conftest import BINDIR

if TYPE_CHECKING:
    from pathlib import Path

    from integration.conftest import Site

FEATURES = {"devpi-policy", "devpi-buildfarm", "devpi-license"}


def test_api_lists_the_three_features(site: Site) -> None:
    assert set(site.server.api()["features"]) >= FEATURES


def test_status_has_metrics_of_each_plugin(site: Site) -> None:
    names = {name for name, _, _ in site.server.status()["metrics"]}
    for prefix in ("devpi_policy_", "devpi_buildfarm_", "devpi_license_"):
        assert any(name.startswith(prefix) for name in names), prefix


def test_devpi_index_sets_plugin_options_on_a_mirror(site: Site, home: Path) -> None:
    devpi = DevpiClient(home).use_login(site.url, "root", ROOT_PASSWORD)
    devpi(
        "index", "-c", "root/mirror2", "type=mirror",
        f"mirror_url={site.upstream.url}/root/up/+simple/",
        "policy_exclude=evil-*,bad", "license_unknown=warn",
    )  # fmt: skip
    ixconfig = site.root.index("root/mirror2")
    assert ixconfig["policy_exclude"] == ["evil-*", "bad"]
    assert ixconfig["license_unknown"] == "warn"
    assert "buildfarm_targets" not in ixconfig  # not set: not stored, the default applies
    devpi("index", "root/mirror2", "policy_exclude+=worse")
    assert site.root.index("root/mirror2")["policy_exclude"] == ["evil-*", "bad", "worse"]
    out = devpi("index", "root/mirror2").stdout
    assert "policy_exclude=evil-*,bad,worse" in out


def test_devpi_index_sets_plugin_options_on_a_private_index(devpi: DevpiClient, site: Site) -> None:
    devpi("index", "-c", "alice/opts", "bases=alice/dev", "buildfarm_targets=cp311-*")
    devpi("index", "alice/opts", "buildfarm_upload_to=alice/dev", "license_deny+=AGPL-*")
    ixconfig = site.alice.index("alice/opts")
    assert ixconfig["buildfarm_targets"] == ["cp311-*"]
    assert ixconfig["buildfarm_upload_to"] == "alice/dev"
    assert ixconfig["license_deny"] == ["AGPL-*"]


def test_startup_heap_frozen_once_for_the_three_plugins(site: Site) -> None:
    """Each plugin subscribes the start-up freeze (devpi_foundry_common.gcfreeze); the
    server did it once, and said so in its log."""
    log = site.server.log_path.read_text(errors="replace")
    moved = [ln for ln in log.splitlines() if "start-up objects out of the garbage" in ln]
    assert len(moved) == 1, moved
    assert int(moved[0].split("moved ", 1)[1].split()[0]) > 50_000


def test_startup_heap_freeze_turned_off(tmp_path: Path) -> None:
    server = DevpiServer(
        tmp_path / "serverdir", BINDIR, env={"DEVPI_FOUNDRY_GC_FREEZE": "0"}
    ).start()
    try:
        assert set(server.api()["features"]) >= FEATURES
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    assert "DEVPI_FOUNDRY_GC_FREEZE=0: the start-up heap stays" in log
    assert "start-up objects out of the garbage" not in log
