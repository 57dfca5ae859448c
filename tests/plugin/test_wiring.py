"""The three plugins in an in-process devpi-server: features, metrics, index options."""

from __future__ import annotations

from typing import Any

import pytest

from devpi_buildfarm.config import DEFAULTS as BUILDFARM_DEFAULTS
from devpi_license.config import DEFAULTS as LICENSE_DEFAULTS
from devpi_policy.config import DEFAULTS as POLICY_DEFAULTS

ALL_DEFAULTS = {**POLICY_DEFAULTS, **BUILDFARM_DEFAULTS, **LICENSE_DEFAULTS}

pytestmark = pytest.mark.notransaction


def test_api_lists_the_features(testapp: Any) -> None:
    features = testapp.get_json("/+api").json["result"]["features"]
    assert {"devpi-policy", "devpi-buildfarm", "devpi-license"} <= set(features)


def test_status_publishes_metrics_of_each_plugin(testapp: Any) -> None:
    metrics = {
        name: (kind, value)
        for name, kind, value in testapp.get_json("/+status").json["result"]["metrics"]
    }
    for prefix in ("devpi_policy_", "devpi_buildfarm_", "devpi_license_"):
        ours = {n: v for n, v in metrics.items() if n.startswith(prefix)}
        assert ours, f"no {prefix}* metrics"
        assert all(kind in {"counter", "gauge"} for kind, _ in ours.values())
    assert metrics["devpi_buildfarm_jobs_queued"] == ("gauge", 0.0)


@pytest.mark.parametrize("index_type", ["stage", "mirror"])
def test_index_options_on_every_type_stored_only_when_set(
    mapp: Any, testapp: Any, index_type: str
) -> None:
    mapp.login_root()
    kwargs = {"mirror_url": "http://127.0.0.1:1/simple/"} if index_type == "mirror" else {}
    mapp.create_index(f"root/{index_type}x", indexconfig=dict(type=index_type, **kwargs))
    ixconfig = mapp.getjson(f"/root/{index_type}x")["result"]
    assert not set(ALL_DEFAULTS) & set(ixconfig), "defaults are not stored"
    # modifying another option stores none of them either (devpi would for hook defaults)
    r = testapp.patch_json(f"/root/{index_type}x", ["title=renamed"])
    assert r.status_code == 200, r.text
    assert not set(ALL_DEFAULTS) & set(mapp.getjson(f"/root/{index_type}x")["result"])
    values = {"policy_mode": "dry-run", "license_unknown": "deny", "buildfarm_targets": "cp311-*"}
    if index_type == "mirror":
        del values["buildfarm_targets"]  # builds are requested for private indexes only
    r = testapp.patch_json(f"/root/{index_type}x", [f"{k}={v}" for k, v in values.items()])
    assert r.status_code == 200, r.text
    ixconfig = mapp.getjson(f"/root/{index_type}x")["result"]
    assert {k: ixconfig[k] for k in values} == {
        **values,
        **({"buildfarm_targets": ["cp311-*"]} if index_type == "stage" else {}),
    }
    # dropping an option (key-=) removes it: it reads as its default again
    r = testapp.patch_json(f"/root/{index_type}x", ["policy_mode-="])
    assert r.status_code == 200, r.text
    assert "policy_mode" not in mapp.getjson(f"/root/{index_type}x")["result"]


def test_wrong_option_types_are_a_400(mapp: Any, testapp: Any) -> None:
    mapp.login_root()
    mapp.create_index("root/typed")
    r = testapp.patch_json("/root/typed", {"policy_mode": ["a"]}, expect_errors=True)
    assert r.status_code == 400
    assert "policy_mode: not a string" in r.json["message"]


def test_list_options_split_on_commas(mapp: Any) -> None:
    mapp.create_and_login_user("alice")
    mapp.create_index(
        "alice/dev",
        indexconfig={
            "policy_exclude": "evil-*,bad",
            "license_unknown": "deny",
            "buildfarm_targets": "cp311-*",
        },
    )
    ixconfig = mapp.getjson("/alice/dev")["result"]
    assert ixconfig["policy_exclude"] == ["evil-*", "bad"]
    assert ixconfig["buildfarm_targets"] == ["cp311-*"]
    assert ixconfig["license_unknown"] == "deny"


def _strip_plugin_keys(xom: Any, user: str, index: str) -> None:
    """Make an index look like one created before the plugins were installed."""
    with xom.keyfs.write_transaction():
        userobj = xom.model.get_user(user)
        with userobj.key.update() as userconfig:
            for key in ALL_DEFAULTS:
                userconfig["indexes"][index].pop(key, None)


def test_key_plus_equals_on_index_created_before_install(mapp: Any, testapp: Any, xom: Any) -> None:
    mapp.create_and_login_user("bob")
    mapp.create_index("bob/old")
    _strip_plugin_keys(xom, "bob", "old")
    assert "policy_exclude" not in mapp.getjson("/bob/old")["result"]
    for op in ("policy_exclude+=evil-*", "buildfarm_targets+=cp311-*", "license_deny+=AGPL-*"):
        r = testapp.patch_json("/bob/old", [op])
        assert r.status_code == 200, r.text
    ixconfig = mapp.getjson("/bob/old")["result"]
    assert ixconfig["policy_exclude"] == ["evil-*"]
    assert ixconfig["buildfarm_targets"] == ["cp311-*"]
    assert ixconfig["license_deny"] == ["AGPL-*"]
    assert "policy_mode" not in ixconfig  # only the edited options were stored
    metrics = {n: v for n, _, v in testapp.get_json("/+status").json["result"]["metrics"]}
    assert metrics["devpi_policy_indexconfig_upgrades_total"] == 1.0
    assert metrics["devpi_license_indexconfig_upgrades_total"] == 1.0


def test_key_minus_equals_on_index_created_before_install(
    mapp: Any, testapp: Any, xom: Any
) -> None:
    mapp.create_and_login_user("carol")
    mapp.create_index("carol/old")
    _strip_plugin_keys(xom, "carol", "old")
    r = testapp.patch_json("/carol/old", ["policy_exclude-=nothing"], expect_errors=True)
    assert r.status_code == 400
    assert "doesn't have value" in r.json["message"]


def test_license_rules_refused_without_devpi_policy(
    makexom: Any, maketestapp: Any, makemapp: Any
) -> None:
    import devpi_license.hooks

    xom = makexom(plugins=[devpi_license.hooks])
    try:
        testapp = maketestapp(xom)
        mapp = makemapp(testapp)
        mapp.login_root()
        message = mapp.create_index("root/lic", {"license_deny": "AGPL-*"}, code=400)
        assert "license_deny: license rules are enforced by devpi_policy" in message
        mapp.create_index("root/plain", {"license_unknown": "allow"})
        # devpi index sends key=value / key+=value operations: refused the same way
        for op in ("license_deny+=AGPL-*", "license_unknown=deny"):
            r = testapp.patch_json("/root/plain", [op], expect_errors=True)
            assert r.status_code == 400, op
            assert "enforced by devpi_policy" in r.json["message"]
        r = testapp.patch_json("/root/plain", ["license_unknown=allow", "title=x"])
        assert r.status_code == 200, r.text
        assert mapp.getjson("/root/plain")["result"]["license_unknown"] == "allow"
    finally:
        xom.keyfs.release_all_wait_tx()
