"""devpi_policy's own plugins (hookspecs.py), with examples/policy-plugin loaded in-process."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from pluggy import HookimplMarker, PluginManager

from devpi_policy import hookspecs
from devpi_policy.adapters.devpi import metrics_for
from devpi_policy.adapters.plugins import plugin_manager
from plugin.conftest import ALL_PLUGINS

pytestmark = pytest.mark.notransaction
devpi_policy_hookimpl = HookimplMarker(hookspecs.PROJECT_NAME)
EXAMPLE = Path(__file__).parents[2] / "examples" / "policy-plugin" / "devpi_policy_example.py"


def _load_example() -> Any:
    spec = importlib.util.spec_from_file_location("devpi_policy_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("devpi_policy_example", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example() -> Any:
    return _load_example()


@pytest.fixture
def xom(makexom: Any, example: Any) -> Any:
    xom = makexom(plugins=[*ALL_PLUGINS, example])
    plugin_manager(xom).register(example)
    yield xom
    xom.keyfs.release_all_wait_tx()


def test_example_satisfies_the_hookspecs(example: Any) -> None:
    manager = PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(example)
    manager.check_pending()


def test_plugin_rule_enforced_on_upload_and_serving(mapp: Any, testapp: Any) -> None:
    api = mapp.create_and_use()
    beta = mapp.upload_file_pypi("pkg-2.0b1.tar.gz", b"b", "pkg", "2.0b1")
    mapp.upload_file_pypi("pkg-1.0.tar.gz", b"a", "pkg", "1.0")
    mapp.modify_index(api.stagename, {"type": "stage", "example_no_prereleases": True})
    r = mapp.upload_file_pypi("pkg-3.0rc1.tar.gz", b"c", "pkg", "3.0rc1", code=None)
    assert r.status_code == 403
    assert (
        f"'pkg 3.0rc1' is a pre-release, refused by example_no_prereleases on {api.stagename}"
        in r.status
    )
    assert sorted(mapp.getjson(f"{api.index}/pkg")["result"]) == ["1.0"]
    assert "2.0b1" not in testapp.get(f"{api.index}/+simple/pkg/").text
    testapp.xget(403, beta.file_url)


def test_plugin_exemption_and_dry_run(mapp: Any) -> None:
    api = mapp.create_and_use(
        indexconfig={"example_no_prereleases": True, "example_prerelease_ok": "pkg"}
    )
    mapp.upload_file_pypi("pkg-2.0b1.tar.gz", b"b", "pkg", "2.0b1")
    mapp.upload_file_pypi("other-2.0b1.tar.gz", b"b", "other", "2.0b1", code=403)
    mapp.modify_index(
        api.stagename,
        {"type": "stage", "example_no_prereleases": True, "policy_mode": "dry-run"},
    )
    mapp.upload_file_pypi("other-2.0b1.tar.gz", b"b", "other", "2.0b1")


def test_plugin_validation_joins_policy_problems(mapp: Any) -> None:
    mapp.login_root()
    message = mapp.create_index(
        "root/bad",
        indexconfig={"example_prerelease_ok": "bad name!", "policy_mode": "never"},
        code=400,
    )
    assert "example_prerelease_ok: 'bad name!' is not a project name" in message
    assert "policy_mode" in message


def test_policy_check_reports_plugin_reasons(mapp: Any, testapp: Any) -> None:
    api = mapp.create_and_use(indexconfig={"example_no_prereleases": True})
    result = testapp.get_json(f"{api.index}/+policy/check?spec=pkg==1.0a1").json["result"]
    assert not result["allowed"]
    assert "is a pre-release" in result["reasons"][0]
    assert not result["upload"]["allowed"]


def test_broken_plugin_fails_closed_with_a_reason(
    mapp: Any, xom: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @staticmethod
        @devpi_policy_hookimpl
        def devpipolicy_has_rules() -> bool:
            return True

        @staticmethod
        @devpi_policy_hookimpl
        def devpipolicy_check() -> list[str]:
            msg = "boom"
            raise RuntimeError(msg)

    plugin_manager(xom).register(Broken())
    mapp.create_and_use()
    r = mapp.upload_file_pypi("pkg-1.0.tar.gz", b"a", "pkg", "1.0", code=None)
    assert r.status_code == 403
    assert "could not be checked" in r.status
    # the failure is one ERROR line with its cause, no traceback, and counted
    errors = [rec for rec in caplog.records if rec.name.startswith("devpi_policy")
              and rec.levelno >= logging.ERROR]  # fmt: skip
    assert len(errors) == 1
    assert errors[0].getMessage().endswith("RuntimeError: boom")
    assert errors[0].exc_info is None
    assert metrics_for(xom).get("failures_total") == 1


def test_one_plugin_manager_per_server(xom: Any, example: Any) -> None:
    manager = plugin_manager(xom)
    assert manager.project_name == hookspecs.PROJECT_NAME
    assert manager is plugin_manager(xom)
    assert manager.is_registered(example)
