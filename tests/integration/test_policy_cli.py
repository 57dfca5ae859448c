"""``devpi policy show`` with the real devpi client against a real server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.api import DevpiApi
from harness.clients import DevpiClient
from harness.server import ROOT_PASSWORD, DevpiServer
from integration.conftest import Site, plain_bindir

if TYPE_CHECKING:
    from pathlib import Path


def test_policy_show_lists_inherited_rules(devpi: DevpiClient, site: Site) -> None:
    devpi("index", "-c", "alice/show", "bases=alice/dev", "policy_exclude=evil-*,bad-pkg")
    out = devpi("policy", "show", "--index", "alice/show").stdout
    assert "policy of alice/show (mode: enforce)" in out
    assert "  alice/show: policy_exclude=evil-*,bad-pkg" in out
    assert "  alice/dev (inherited): no rules" in out
    assert "  root/pypi (inherited): no rules" in out


def test_policy_show_defaults_to_the_current_index(devpi: DevpiClient) -> None:
    out = devpi("policy", "show").stdout
    assert "policy of alice/dev (mode: enforce)" in out


def test_policy_show_on_a_server_without_the_plugin(home: Path) -> None:
    server = DevpiServer(home.parent / "plain-serverdir", plain_bindir()).start()
    try:
        DevpiApi(server.url).login("root", ROOT_PASSWORD).create_index("root/dev")
        devpi = DevpiClient(home)
        devpi("use", f"{server.url}/root/dev")
        res = devpi("policy", "show", check=False)
        assert res.returncode != 0
        assert f"{server.url}/ does not run devpi_policy" in res.stdout + res.stderr
    finally:
        server.stop()


def test_policy_check_of_what_does_not_exist_says_so(devpi: DevpiClient) -> None:
    for spec in ("up-pure==9.9", "no-such-project", "up_pure-9.9-py3-none-any.whl"):
        res = devpi("policy", "check", spec, check=False)
        assert res.returncode == 2, res.stdout + res.stderr
        what = spec.replace("==", " ")
        assert f"{what} does not exist on alice/dev or the indexes it inherits from" in res.stdout
        assert f"{what} on alice/dev: allowed" not in res.stdout  # no "allowed" for nothing
        assert "were it there: allowed" in res.stdout
    # what exists, on the mirror alice/dev inherits from, is still answered
    for spec in ("up-pure==2.0", "up-pure==2", "up-pure", "up_pure-1.0-py3-none-any.whl"):
        res = devpi("policy", "check", spec, check=False)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "does not exist" not in res.stdout
        assert "on alice/dev: allowed" in res.stdout


def test_policy_check_of_a_project_names_the_versions_the_rules_hide(
    devpi: DevpiClient, site: Site
) -> None:
    devpi("index", "-c", "alice/hides", "bases=root/pypi", "policy_exclude=up-pure>=2")
    res = devpi("policy", "check", "up-pure", "--index", "alice/hides")
    assert "up-pure on alice/hides: allowed" in res.stdout  # 1.0 is served
    assert (
        "hidden by rules: up-pure 2.0: 'up-pure 2.0' is excluded by policy_exclude "
        "'up-pure>=2' on alice/hides" in res.stdout
    )
    assert "hidden by rules: up-pure 1.0" not in res.stdout
    newer = site.alice.ok("GET", "alice/hides/+policy/check?spec=up-pure&newer_than=2.0")
    assert newer["hidden"] == []
    bad = site.alice.request("GET", "alice/hides/+policy/check?spec=up-pure&newer_than=x!")
    assert bad.status == 400
    assert "newer_than='x!' is not a version" in bad.json()["message"]
