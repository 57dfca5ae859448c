"""``GET /{user}/{index}/+policy`` in an in-process devpi-server."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.notransaction


def test_shows_own_and_inherited_rules_in_resolution_order(mapp: Any, testapp: Any) -> None:
    mapp.login_root()
    mapp.create_index("root/base", indexconfig={"policy_exclude": "evil-*,bad"})
    mapp.create_index("root/mid", indexconfig={"bases": "root/base", "policy_mode": "dry-run"})
    mapp.create_index(
        "root/top", indexconfig={"bases": "root/mid", "policy_include": "acme.*,requests<3"}
    )
    result = testapp.get_json("/root/top/+policy").json["result"]
    assert result["index"] == "root/top"
    assert result["mode"] == "enforce"
    assert [e["index"] for e in result["indexes"]] == ["root/top", "root/mid", "root/base"]
    assert result["indexes"][0]["policy_include"] == ["acme.*", "requests<3"]
    assert result["indexes"][1]["policy_mode"] == "dry-run"
    assert result["indexes"][2]["policy_exclude"] == ["evil-*", "bad"]
    assert result["with_rules"] == ["root/top", "root/base"]


def test_unknown_index_is_404(testapp: Any) -> None:
    testapp.get_json("/nobody/nothing/+policy", status=404)


def test_project_named_like_the_route_is_unaffected(mapp: Any, testapp: Any) -> None:
    api = mapp.create_and_use()
    mapp.upload_file_pypi("plain-1.0.tar.gz", b"content", "plain", "1.0")
    assert testapp.get_json(f"{api.index}/plain").json["result"]["1.0"]["name"] == "plain"
