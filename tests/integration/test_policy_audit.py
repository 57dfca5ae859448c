"""The audit of refusals (issue 16, "Audit and explanation"), against a real server.

One server of its own (the tests restart it). alice owns ``alice/aud``: its rules refuse
a project by name, a version, files by glob and by wheel tag, and a license; uploads,
pushes and downloads by pip, uv and devpi are refused there, and each refusal must show
in ``devpi policy audit`` aggregated per (subject, rule) with its count, requester and
User-Agent. ``alice/dry`` has the same name rule in dry-run mode. mallory has no rights.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from devpi_policy.adapters.audit_sql import SqlAuditStore
from devpi_policy.core.audit import AuditEvent, Requester, aggregate
from harness import postgres
from harness.api import DevpiApi
from harness.clients import DevpiClient, Venv, pip_download, twine_upload, uv_pip_install
from harness.dists import Project, make_sdist, make_wheel
from harness.server import ROOT_PASSWORD, DevpiServer
from harness.services import require
from integration.conftest import ALICE_PW, BINDIR

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

INDEX = "alice/aud"
DRY = "alice/dry"
MALLORY_PW = "mallory-pw"
RULES = {
    "policy_exclude": ["aud-name", "aud-pkg>=2"],
    "policy_exclude_files": ["*.tar.gz", "tag:cp3*-*-manylinux*"],
    "license_deny": ["GPL-*"],
}
NATIVE_TAG = "cp311-cp311-manylinux_2_17_x86_64"
REQUEST_ID = re.compile(r"\[request ([0-9a-f]{16})\]")


@dataclass
class Audited:
    server: DevpiServer
    alice: DevpiApi
    base: Path
    #: file name -> its URL on alice/aud
    urls: dict[str, str]

    def audit(self, index: str = INDEX, **query: str) -> dict[str, Any]:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        result: dict[str, Any] = self.alice.ok("GET", f"{index}/+policy/audit?{params}")
        return result

    def store(self) -> SqlAuditStore:
        return SqlAuditStore.from_url(
            f"sqlite:///{self.server.serverdir}/.devpi-policy/audit.sqlite"
        )


def _rows(result: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["subject"], r["rule"], r["mode"]): r for r in result["rows"]}


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    base = tmp_path_factory.mktemp("audit")
    server = DevpiServer(base / "serverdir", BINDIR).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_user("alice", ALICE_PW)
        root.create_user("mallory", MALLORY_PW)
        alice = DevpiApi(server.url).login("alice", ALICE_PW)
        alice.create_index(INDEX, bases=[], volatile=True)
        alice.create_index(DRY, bases=[], volatile=True, policy_mode="dry-run",
                           policy_exclude=["aud-pkg"])  # fmt: skip
        dist = base / "dist"
        files = [
            make_wheel(dist, Project("aud-pkg", "1.0", {"License-Expression": "MIT"})),
            make_sdist(dist, Project("aud-pkg", "1.0", {"License-Expression": "MIT"})),
            make_wheel(dist, Project("aud-pkg", "2.0", {"License-Expression": "MIT"})),
            make_wheel(dist, Project("aud-name", "1.0", {"License-Expression": "MIT"})),
            make_wheel(dist, Project("aud-gpl", "1.0", {"License-Expression": "GPL-3.0-only"})),
            make_wheel(dist, Project("aud-nat", "1.0", {"License-Expression": "MIT"}), NATIVE_TAG),
        ]
        for index in (INDEX, DRY):
            twine_upload(base / "home", f"{server.url}/{index}/", "alice", ALICE_PW, *files)
        alice.modify_index(INDEX, **RULES)
        urls = {}
        for project, version in (("aud-pkg", "1.0"), ("aud-pkg", "2.0"), ("aud-name", "1.0"),
                                 ("aud-gpl", "1.0"), ("aud-nat", "1.0")):  # fmt: skip
            for link in alice.ok("GET", f"{DRY}/{project}/{version}")["+links"]:
                name = link["href"].rsplit("/", 1)[1]
                urls[name] = link["href"].replace(f"/{DRY}/", f"/{INDEX}/")
        yield Audited(server, alice, base, urls)
    finally:
        server.stop()


def test_refusals_of_every_rule_kind_are_audited_with_counts_and_requesters(
    audited: Audited, tmp_path: Path, home: Path
) -> None:
    simple = f"{audited.server.url}/{INDEX}/+simple/"
    venv = Venv.create(tmp_path / "venv")
    ids = {}
    for name in ("aud_pkg-2.0-py3-none-any.whl", "aud_name-1.0-py3-none-any.whl",
                 "aud_pkg-1.0.tar.gz", f"aud_nat-1.0-{NATIVE_TAG}.whl",
                 "aud_gpl-1.0-py3-none-any.whl"):  # fmt: skip
        res = pip_download(tmp_path / "dl", home, simple, audited.urls[name], check=False)
        said = res.stdout + res.stderr
        assert res.returncode != 0
        assert "HTTP error 403" in said
        ids[name] = REQUEST_ID.findall(said)[-1]  # pip shows the 403's reason phrase
    uv = uv_pip_install(venv, home, simple, audited.urls["aud_pkg-2.0-py3-none-any.whl"],
                        check=False)  # fmt: skip
    assert uv.returncode != 0
    uv_id = REQUEST_ID.findall(uv.stdout + uv.stderr)[-1]
    # an upload refused by the name rule, and a push the source's rules refuse
    late = make_wheel(tmp_path / "late", Project("aud-name", "1.1", {"License-Expression": "MIT"}))
    up = twine_upload(home, f"{audited.server.url}/{INDEX}/", "alice", ALICE_PW, late,
                      check=False)  # fmt: skip
    assert up.returncode != 0
    assert REQUEST_ID.search(up.stdout + up.stderr)
    audited.alice.create_index("alice/target", bases=[], volatile=True)
    devpi = DevpiClient(home).use_login(audited.server.url, "alice", ALICE_PW)
    pushed = devpi("push", "--index", INDEX, "aud-pkg==2.0", "alice/target", check=False)
    assert pushed.returncode != 0
    assert REQUEST_ID.search(pushed.stdout + pushed.stderr), pushed.stdout + pushed.stderr

    rows = _rows(audited.audit())
    expected = {
        ("aud_name-1.0-py3-none-any.whl", "policy_exclude", "enforce"): 1,
        ("aud_pkg-1.0.tar.gz", "policy_exclude_files", "enforce"): 1,
        (f"aud_nat-1.0-{NATIVE_TAG}.whl", "policy_exclude_files", "enforce"): 1,
        ("aud_gpl-1.0-py3-none-any.whl", "license_deny", "enforce"): 1,
        ("aud_name-1.1-py3-none-any.whl", "policy_exclude", "enforce"): 1,
        ("aud-pkg 2.0", "policy_exclude", "enforce"): 1,
    }
    assert {key: rows[key]["count"] for key in expected if key in rows} == expected
    pkg2 = rows[("aud_pkg-2.0-py3-none-any.whl", "policy_exclude", "enforce")]
    by_agent = {r["user_agent"].split("/", 1)[0]: r["count"] for r in pkg2["requesters"]}
    assert by_agent.keys() == {"pip", "uv"}
    assert by_agent["pip"] == 1  # uv asks more than once (a range request first)
    assert pkg2["count"] == sum(by_agent.values())
    assert {r["user"] for r in pkg2["requesters"]} == {"anonymous"}
    assert {r["address"] for r in pkg2["requesters"]} == {"127.0.0.1"}
    assert {ids["aud_pkg-2.0-py3-none-any.whl"], uv_id} <= set(pkg2["request_ids"])
    assert len(pkg2["request_ids"]) == pkg2["count"]  # one id per refused request
    assert pkg2["node"].startswith("primary ")
    upload = rows[("aud_name-1.1-py3-none-any.whl", "policy_exclude", "enforce")]
    assert [r["user"] for r in upload["requesters"]] == ["alice"]
    assert "twine" in upload["requesters"][0]["user_agent"]
    assert "is excluded by policy_exclude 'aud-pkg>=2'" in pkg2["reason"]

    # devpi policy audit: aggregated and readable; --request finds a quoted id
    shown = devpi("policy", "audit", "--index", INDEX).stdout
    count = pkg2["count"]
    assert re.search(rf"\b{count}x aud_pkg-2\.0-py3-none-any\.whl\s+policy_exclude\b", shown)
    assert "license_deny" in shown
    found = json.loads(devpi("policy", "audit", "--index", INDEX, "--json", "--request",
                             ids["aud_pkg-1.0.tar.gz"]).stdout)  # fmt: skip
    assert [(r["subject"], r["rule"]) for r in found["rows"]] == [
        ("aud_pkg-1.0.tar.gz", "policy_exclude_files")
    ]


def test_dry_run_would_be_refusals_are_audited_and_marked(
    audited: Audited, tmp_path: Path, home: Path
) -> None:
    url = audited.urls["aud_pkg-1.0-py3-none-any.whl"].replace(f"/{INDEX}/", f"/{DRY}/")
    res = pip_download(tmp_path / "dl", home, f"{audited.server.url}/{DRY}/+simple/", url)
    assert res.returncode == 0  # let through
    assert list((tmp_path / "dl").glob("*.whl"))
    rows = _rows(audited.audit(DRY))
    row = rows[("aud_pkg-1.0-py3-none-any.whl", "policy_exclude", "dry-run")]
    # alice's upload of it in the fixture was let through in dry-run too
    by = {(r["user"], r["user_agent"].split("/", 1)[0]): r["count"] for r in row["requesters"]}
    assert by[("anonymous", "pip")] == 1
    assert by[("alice", "twine")] == 1
    assert row["count"] == 2
    assert all(mode == "dry-run" for _, _, mode in rows)
    shown = (
        DevpiClient(home)
        .use_login(audited.server.url, "alice", ALICE_PW)("policy", "audit", "--index", DRY)
        .stdout
    )
    assert "(dry-run: let through)" in shown


@pytest.mark.parametrize("who", ["anonymous", "mallory"])
def test_only_owner_or_root_read_the_audit_and_a_refused_read_writes_nothing(
    audited: Audited, who: str
) -> None:
    before = audited.audit()
    client = DevpiApi(audited.server.url)
    if who == "mallory":
        client = client.login("mallory", MALLORY_PW)
    reply = client.request("GET", f"{INDEX}/+policy/audit")
    assert reply.status == 403 if who == "mallory" else reply.status in (401, 403)
    assert b"aud_" not in reply.body  # nothing of the audit was shown
    assert audited.audit()["rows"] == before["rows"]  # and nothing was recorded
    root = DevpiApi(audited.server.url).login("root", ROOT_PASSWORD)
    assert root.ok("GET", f"{INDEX}/+policy/audit")["rows"] == before["rows"]


def test_rows_survive_a_restart_and_old_rows_are_pruned(audited: Audited) -> None:
    before = audited.audit()["rows"]
    assert before
    old = time.time() - 100 * 86400
    event = AuditEvent(index=INDEX, subject="ancient-1.0.tar.gz", rule="policy_exclude",
                       mode="enforce", reason="old", at=old,
                       requester=Requester(user="x", address="1.2.3.4", user_agent="pip/1"),
                       node="primary test", request_id="0" * 16)  # fmt: skip
    store = audited.store()
    store.add_rows(aggregate([event]))
    assert [r["subject"] for r in store.query(index=INDEX) if r["subject"].startswith("anc")]
    audited.server.restart()  # the audit thread prunes when it starts
    deadline = time.monotonic() + 30
    while any(r["subject"].startswith("ancient") for r in store.query(index=INDEX)):
        assert time.monotonic() < deadline, "the 100 days old row was not pruned"
        time.sleep(0.2)
    assert audited.audit()["rows"] == before


def test_refusals_queued_at_shutdown_are_written(audited: Audited, tmp_path: Path) -> None:
    """SIGTERM (what the harness, systemd and docker send) ends the server as Ctrl-C
    does: the audit thread writes what is queued before the process exits."""
    url = audited.urls["aud_name-1.0-py3-none-any.whl"]
    key = ("aud_name-1.0-py3-none-any.whl", "policy_exclude", "enforce")
    before = _rows(audited.audit())[key]["count"]
    reply = DevpiApi(audited.server.url).request("GET", url, headers={"Accept": "*/*"})
    assert reply.status == 403
    audited.server.stop()  # at once: the thread writes every 5 s, the GET was not read
    assert "Thread 'AuditWriter' ended" in audited.server.log_path.read_text()
    audited.server.start()
    assert _rows(audited.audit())[key]["count"] == before + 1


def test_deleting_an_index_or_a_user_deletes_their_rows(audited: Audited) -> None:
    root = DevpiApi(audited.server.url).login("root", ROOT_PASSWORD)
    root.create_user("bob", "bob-pw")
    bob = DevpiApi(audited.server.url).login("bob", "bob-pw")
    wheel = make_wheel(audited.base / "bob", Project("aud-name", "1.0"))
    for index in ("alice/gone", "bob/one"):
        client = audited.alice if index.startswith("alice") else bob
        password = ALICE_PW if index.startswith("alice") else "bob-pw"
        client.create_index(index, bases=[], volatile=True, policy_exclude=["aud-name"])
        up = twine_upload(audited.base / "home", f"{audited.server.url}/{index}/",
                          index.split("/")[0], password, wheel, check=False)  # fmt: skip
        assert up.returncode != 0
        assert client.ok("GET", f"{index}/+policy/audit")["rows"]
    store = audited.store()
    audited.alice.request("DELETE", "alice/gone")
    root.request("DELETE", "bob")
    deadline = time.monotonic() + 30
    while store.query(index="alice/gone") or store.query(index="bob/one"):
        assert time.monotonic() < deadline, "the rows of deleted indexes stayed"
        time.sleep(0.2)
    assert audited.audit()["rows"]  # alice/aud's rows stay


def test_devpi_web_pages_of_refused_projects_and_releases_are_audited(audited: Audited) -> None:
    html = {"Accept": "text/html"}
    for path in (f"{INDEX}/aud-name", f"{INDEX}/aud-pkg/2.0"):
        reply = DevpiApi(audited.server.url).request("GET", path, headers=html)
        assert reply.status == 403, path
        assert reply.headers["Content-Type"].startswith("text/html")
        # the project page is this plugin's (the header says it); devpi-web renders the
        # release page's error (the reason phrase and the page say it)
        rid = reply.headers.get("X-Devpi-Policy-Request-Id") or REQUEST_ID.findall(reply.reason)[0]
        assert rid in reply.body.decode()
        found = audited.audit(request=rid)["rows"]
        assert [(r["subject"], r["rule"]) for r in found] == [
            (path.split("/", 2)[2].replace("/", " "), "policy_exclude")
        ]


def test_the_audit_in_postgresql_survives_a_restart(tmp_path: Path, home: Path) -> None:
    require(postgres.available(), "PostgreSQL on 127.0.0.1:5432")
    database = postgres.create_database("devpi_policy_audit_test")
    url = postgres.url(database, "postgresql+pg8000")
    server = DevpiServer(tmp_path / "serverdir", BINDIR, args=("--policy-audit-db", url)).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index("root/pg", bases=[], volatile=True)
        wheel = make_wheel(tmp_path / "dist", Project("aud-name", "1.0"))
        twine_upload(home, f"{server.url}/root/pg/", "root", ROOT_PASSWORD, wheel)
        href = root.ok("GET", "root/pg/aud-name/1.0")["+links"][0]["href"]
        root.modify_index("root/pg", policy_exclude=["aud-name"])
        res = pip_download(tmp_path / "dl", home, f"{server.url}/root/pg/+simple/", href,
                           check=False)  # fmt: skip
        rid = REQUEST_ID.findall(res.stdout + res.stderr)[-1]
        rows = root.ok("GET", f"root/pg/+policy/audit?request={rid}")["rows"]
        assert [(r["subject"], r["count"]) for r in rows] == [(wheel.name, 1)]
        assert not (server.serverdir / ".devpi-policy").exists()  # nothing went to SQLite
        before = root.ok("GET", "root/pg/+policy/audit")["rows"]
        server.restart()
        assert root.ok("GET", "root/pg/+policy/audit")["rows"] == before
        store = SqlAuditStore.from_url(url)
        assert [r["subject"] for r in store.query(index="root/pg")] == [wheel.name]
        store.engine.dispose()
    finally:
        server.stop()
        postgres.drop_database(database)
