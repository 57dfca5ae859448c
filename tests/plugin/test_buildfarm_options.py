"""buildfarm_* index options are validated on every index type when an index is created or
modified (400 listing every problem); unrelated edits never trip over an old value."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.notransaction


def message(testapp: Any, method: str, path: str, body: Any) -> str:
    r = getattr(testapp, f"{method}_json")(path, body, expect_errors=True)
    assert r.status_code == 400, r.text
    return str(r.json["message"])


def test_bad_targets_and_upload_index_are_refused_with_every_problem(
    mapp: Any, testapp: Any
) -> None:
    mapp.create_and_login_user("alice")
    mapp.create_index("alice/prod")
    text = message(testapp, "put", "/alice/dev", {
        "buildfarm_targets": ["cp311-plan9", "cp311-manylinux_x86_64"],
        "buildfarm_upload_to": "alice/missing",
    })  # fmt: skip
    assert "buildfarm_targets on alice/dev: 'cp311-plan9' matches no known target" in text
    assert "buildfarm_upload_to on alice/dev: index 'alice/missing' does not exist" in text
    mapp.create_index(
        "alice/dev",
        indexconfig={
            "buildfarm_targets": ["cp311-manylinux_*"],
            "buildfarm_upload_to": "alice/prod",
        },
    )
    text = message(testapp, "patch", "/alice/dev", ["buildfarm_targets+=nope"])
    assert "'nope' matches no known target" in text


def test_mirrors_neither_receive_wheels_nor_take_targets_yet(mapp: Any, testapp: Any) -> None:
    mapp.login_root()
    text = message(testapp, "put", "/root/dev", {"buildfarm_upload_to": "root/pypi"})
    assert "'root/pypi' is a mirror" in text
    text = message(testapp, "patch", "/root/pypi", ["buildfarm_targets=cp311-*"])
    assert "mirror indexes do not queue builds in this release" in text


def test_an_unchanged_old_value_does_not_block_other_edits(mapp: Any, testapp: Any) -> None:
    mapp.create_and_login_user("bob")
    mapp.create_index("bob/prod")
    mapp.create_index("bob/dev", indexconfig={"buildfarm_upload_to": "bob/prod"})
    mapp.delete_index("bob/prod")
    r = testapp.patch_json("/bob/dev", ["title=still editable"], expect_errors=True)
    assert r.status_code == 200, r.text
    assert r.json["result"]["buildfarm_upload_to"] == "bob/prod"
