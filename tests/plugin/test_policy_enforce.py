"""Rules enforced in an in-process devpi-server: validation, uploads, pushes, listings."""

from __future__ import annotations

from typing import Any

import pytest

from devpi_policy.adapters.devpi import metrics_for

pytestmark = pytest.mark.notransaction


def _upload(mapp: Any, filename: str, name: str, version: str, code: int = 200) -> Any:
    return mapp.upload_file_pypi(filename, filename.encode(), name, version, code=code)


def _serial(testapp: Any) -> int:
    return int(testapp.get("/+api").headers["X-Devpi-Serial"])


def test_malformed_rules_refused_with_every_problem(mapp: Any) -> None:
    mapp.login_root()
    message = mapp.create_index(
        "root/bad",
        indexconfig={
            "policy_exclude": "ok-*,bad name,django>=4,<<4.2",
            "policy_exclude_files": "tag:cp3*-*,a/b.whl",
            "policy_mode": "loud",
        },
        code=400,
    )
    for part in ("'bad name'", "'django>=4,<<4.2'", "'tag:cp3*-*'", "'a/b.whl'", "'loud'"):
        assert part in message
    mapp.create_index("root/good", indexconfig={"policy_exclude": "django>=4,<4.2"})
    message = mapp.modify_index("root/good", {"type": "stage", "policy_include": "[x"}, code=400)
    assert "policy_include" in message


def test_mirror_rules_validated_too(mapp: Any) -> None:
    mapp.login_root()
    message = mapp.modify_index(
        "root/pypi", {"type": "mirror", "policy_mode": "sometimes"}, code=400
    )
    assert "policy_mode" in message


def test_upload_refused_before_anything_is_stored(mapp: Any, testapp: Any, xom: Any) -> None:
    api = mapp.create_and_use(indexconfig={"policy_exclude": "evil-*"})
    _upload(mapp, "good-1.0.tar.gz", "good", "1.0")
    serial = _serial(testapp)
    r = testapp.post(
        f"{api.index}/",
        {":action": "file_upload", "name": "Evil_Pkg", "version": "1.0",
         "content": ("Evil_Pkg-1.0.tar.gz", b"x")},
        expect_errors=True,
    )  # fmt: skip
    assert r.status_code == 403
    assert r.status.startswith("403 policy: ")
    assert "is excluded by policy_exclude 'evil-*' on " + api.stagename in r.status
    assert _serial(testapp) == serial
    assert mapp.getjson(api.index)["result"]["projects"] == ["good"]
    assert metrics_for(xom).get("denials_total") == 1


def test_register_and_doc_upload_refused(mapp: Any) -> None:
    mapp.create_and_use(indexconfig={"policy_exclude": "evil-pkg"})
    mapp.set_versiondata({"name": "evil-pkg", "version": "1.0"}, code=403)
    mapp.upload_doc("evil-pkg-1.0.doc.zip", b"zip", "evil-pkg", "1.0", code=403)


def test_form_name_and_file_name_are_both_checked(mapp: Any, testapp: Any) -> None:
    api = mapp.create_and_use(indexconfig={"policy_exclude": "evil"})
    r = testapp.post(
        f"{api.index}/",
        {":action": "file_upload", "name": "evil", "version": "1.0",
         "content": ("evil_twin-1.0.tar.gz", b"x")},
        expect_errors=True,
    )  # fmt: skip
    assert r.status_code == 403
    assert "'evil 1.0' is excluded" in r.status


def test_version_and_file_rules(mapp: Any) -> None:
    mapp.create_and_use(
        indexconfig={"policy_exclude": "requests<2.20", "policy_exclude_files": "tag:*-*-win_*"}
    )
    _upload(mapp, "requests-2.19.0.tar.gz", "requests", "2.19.0", code=403)
    _upload(mapp, "requests-2.20.0.tar.gz", "requests", "2.20.0")
    _upload(mapp, "requests-2.20.0-cp311-cp311-win_amd64.whl", "requests", "2.20.0", code=403)
    _upload(mapp, "requests-2.20.0-py3-none-any.whl", "requests", "2.20.0")


def test_include_list(mapp: Any) -> None:
    mapp.create_and_use(indexconfig={"policy_include": "acme.*,django>=4,<4.2"})
    _upload(mapp, "acme_tools-1.0.tar.gz", "acme.tools", "1.0")
    _upload(mapp, "django-4.1.tar.gz", "django", "4.1")
    _upload(mapp, "django-4.2.tar.gz", "django", "4.2", code=403)
    _upload(mapp, "other-1.0.tar.gz", "other", "1.0", code=403)


def test_dry_run_records_and_lets_through(mapp: Any, xom: Any) -> None:
    mapp.create_and_use(indexconfig={"policy_exclude": "evil-*", "policy_mode": "dry-run"})
    _upload(mapp, "evil-pkg-1.0.tar.gz", "evil-pkg", "1.0")
    assert metrics_for(xom).get("dry_run_total") >= 1
    assert metrics_for(xom).get("denials_total") == 0
    assert mapp.get_simple("evil-pkg").status_code == 200


def test_repeated_downloads_are_each_counted_and_follow_rule_changes(
    mapp: Any, testapp: Any, xom: Any
) -> None:
    api = mapp.create_and_use(indexconfig={"policy_exclude": "evil-*", "policy_mode": "dry-run"})
    r = _upload(mapp, "evil-pkg-1.0.tar.gz", "evil-pkg", "1.0")
    metrics = metrics_for(xom)
    checks, dry_runs = metrics.get("checks_total"), metrics.get("dry_run_total")
    for _ in range(3):
        testapp.xget(200, r.file_url)
    assert metrics.get("checks_total") == checks + 3
    assert metrics.get("dry_run_total") == dry_runs + 3
    enforced = {"type": "stage", "policy_exclude": ["evil-*"], "policy_mode": "enforce"}
    mapp.modify_index(api.stagename, enforced)
    for _ in range(2):
        testapp.xget(403, r.file_url)
    assert metrics.get("denials_total") == 2
    mapp.modify_index(api.stagename, {"type": "stage", "policy_exclude": []})
    testapp.xget(200, r.file_url)


def test_rule_added_later_hides_and_blocks_stored_files(mapp: Any, testapp: Any) -> None:
    api = mapp.create_and_use()
    r = _upload(mapp, "evil-pkg-1.0.tar.gz", "evil-pkg", "1.0")
    _upload(mapp, "good-1.0.tar.gz", "good", "1.0")
    testapp.xget(200, r.file_url)
    mapp.modify_index(api.stagename, {"type": "stage", "policy_exclude": ["evil-*"]})
    refused = testapp.xget(403, r.file_url)
    assert "excluded by policy_exclude 'evil-*'" in refused.status
    assert "evil-pkg" not in testapp.get(f"{api.index}/+simple/").text
    assert "good" in testapp.get(f"{api.index}/+simple/").text
    pep691 = testapp.get(
        f"{api.index}/+simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json
    assert [p["name"] for p in pep691["projects"]] == ["good"]
    assert mapp.getjson(api.index)["result"]["projects"] == ["good"]
    mapp.getjson(f"{api.index}/evil-pkg", code=404)
    mapp.getjson(f"{api.index}/evil-pkg/1.0", code=404)
    simple = testapp.get(f"{api.index}/+simple/evil-pkg/", expect_errors=True)
    assert "evil-pkg-1.0.tar.gz" not in simple.text
    installer = testapp.get(
        f"{api.index}/evil-pkg/", headers={"User-Agent": "pip/24.0"}, expect_errors=True
    )
    assert "evil-pkg-1.0.tar.gz" not in installer.text


def test_file_rules_filter_links_in_every_listing(mapp: Any, testapp: Any) -> None:
    api = mapp.create_and_use()
    win = _upload(mapp, "lib-1.0-cp311-cp311-win_amd64.whl", "lib", "1.0")
    _upload(mapp, "lib-1.0.tar.gz", "lib", "1.0")
    mapp.modify_index(api.stagename, {"type": "stage", "policy_exclude_files": ["*win_*"]})
    simple = testapp.get(f"{api.index}/+simple/lib/").text
    assert "lib-1.0.tar.gz" in simple
    assert "win_amd64" not in simple
    pep691 = testapp.get(
        f"{api.index}/+simple/lib/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json
    assert [f["filename"] for f in pep691["files"]] == ["lib-1.0.tar.gz"]
    for path in (f"{api.index}/lib/1.0", f"{api.index}/lib"):
        text = testapp.get_json(path).text
        assert "lib-1.0.tar.gz" in text
        assert "win_amd64" not in text
    testapp.xget(403, win.file_url)


def test_inheriting_index_two_levels_below_the_rule(mapp: Any, testapp: Any) -> None:
    mapp.login_root()
    mapp.create_index("root/base", indexconfig={"bases": ""})
    r = _upload(mapp, "evil-pkg-1.0.tar.gz", "evil-pkg", "1.0")
    mapp.create_index("root/mid", indexconfig={"bases": "root/base"})
    mapp.create_index("root/top", indexconfig={"bases": "root/mid"})
    _upload(mapp, "evil-pkg-2.0.tar.gz", "evil-pkg", "2.0")
    mapp.modify_index("root/base", {"type": "stage", "bases": [], "policy_exclude": ["evil-*"]})
    # the file held by root/base is refused; root/top's own upload is not judged by base
    simple = testapp.get("/root/top/+simple/evil-pkg/").text
    assert "evil-pkg-2.0.tar.gz" in simple
    assert "evil-pkg-1.0.tar.gz" not in simple
    assert sorted(mapp.getjson("/root/top/evil-pkg")["result"]) == ["2.0"]
    testapp.xget(403, r.file_url)
    # a rule on the top index covers everything it serves
    mapp.modify_index("root/top", {"type": "stage", "bases": ["root/mid"],
                                   "policy_exclude": ["evil-pkg>=2"]})  # fmt: skip
    assert mapp.getjson("/root/top/evil-pkg")["result"] == {}
    assert "evil-pkg-" not in testapp.get("/root/top/+simple/evil-pkg/").text


def test_push_checked_against_the_target_index(mapp: Any, testapp: Any) -> None:
    mapp.login_root()
    mapp.create_index("root/free")
    _upload(mapp, "evil-pkg-1.0.tar.gz", "evil-pkg", "1.0")
    mapp.create_index("root/prod", indexconfig={"policy_exclude": "evil-*"}, use=False)
    r = mapp.push("evil-pkg", "1.0", "root/prod", indexname="root/free", code=403)
    assert r.json["message"].startswith("policy: 'evil-pkg 1.0' is excluded")
    assert "root/prod" in r.status
    mapp.getjson("/root/prod/evil-pkg", code=404)
    mapp.create_index("root/other", use=False)
    mapp.push("evil-pkg", "1.0", "root/other", indexname="root/free")


def test_push_refused_for_excluded_files(mapp: Any) -> None:
    mapp.login_root()
    mapp.create_index("root/free")
    _upload(mapp, "lib-1.0-cp311-cp311-win_amd64.whl", "lib", "1.0")
    mapp.create_index("root/prod", indexconfig={"policy_exclude_files": "*win*"}, use=False)
    r = mapp.push("lib", "1.0", "root/prod", indexname="root/free", code=403)
    assert "policy_exclude_files '*win*'" in r.json["message"]


def test_invalid_stored_options_fail_closed(mapp: Any, testapp: Any, xom: Any) -> None:
    api = mapp.create_and_use()
    _upload(mapp, "good-1.0.tar.gz", "good", "1.0")
    with xom.keyfs.write_transaction():
        stage = xom.model.getstage(api.stagename)
        with stage.user.key.update() as userconfig:
            userconfig["indexes"][stage.index]["policy_exclude"] = ["bad name"]
    assert "good" not in testapp.get(f"{api.index}/+simple/").text
    r = _upload(mapp, "other-1.0.tar.gz", "other", "1.0", code=None)
    assert r.status_code == 403
    assert "are invalid" in r.status
