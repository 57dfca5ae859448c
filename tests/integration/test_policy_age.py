"""Quarantine of new releases (issue 16): true upload times, policy_min_age, policy_freeze,
policy_unknown_age and break-glass exceptions, through pip, uv, devpi and every serving path.

The upstream is the PEP 700 fixture (harness.pep691) serving chosen upload times; one test
mirrors a devpi-server upstream, which gives no upload times.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import pytest
from devpi_server.fileutil import loads

from harness.api import DevpiApi
from harness.clients import (
    DevpiClient,
    Venv,
    pip_install,
    report_urls,
    twine_upload,
    uv_pip_install,
)
from harness.dists import Project, make_wheel
from harness.pep691 import JSON_TYPE, Pep691Server, UpstreamFile
from harness.server import ROOT_PASSWORD, DevpiServer
from harness.sideeffects import unchanged
from integration.conftest import ALICE_PW, BINDIR, plain_bindir
from integration.test_policy_replica import start_replica

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

PIP_UA = {"User-Agent": "pip/26.3"}
#: seconds until the release that turns old enough while a test runs does so
TURNS_OLD_IN = 20


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Age:
    server: DevpiServer
    upstream: Pep691Server
    root: DevpiApi
    alice: DevpiApi

    def simple(self, index: str) -> str:
        return f"{self.server.url}/{index}/+simple/"


def _wait_for(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            msg = f"{what}: not within {timeout} s"
            raise AssertionError(msg)
        time.sleep(0.5)


@pytest.fixture(scope="module")
def age(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Age]:
    base = tmp_path_factory.mktemp("age")
    dists = base / "dists"
    now = datetime.now(UTC)
    upstream = Pep691Server().start()
    upstream.projects["age-pkg"] = [
        UpstreamFile(make_wheel(dists, Project("age-pkg", "1.0")), iso(now - timedelta(days=30))),
        UpstreamFile(make_wheel(dists, Project("age-pkg", "2.0")), iso(now - timedelta(hours=1))),
    ]
    upstream.projects["frz-pkg"] = [
        UpstreamFile(make_wheel(dists, Project("frz-pkg", "1.0")), iso(now - timedelta(days=30))),
        UpstreamFile(make_wheel(dists, Project("frz-pkg", "2.0")), iso(now - timedelta(hours=1))),
    ]
    upstream.projects["soon-pkg"] = [  # 2.0's time: set by the test that uses it
        UpstreamFile(make_wheel(dists, Project("soon-pkg", "1.0")), iso(now - timedelta(days=9))),
        UpstreamFile(make_wheel(dists, Project("soon-pkg", "2.0")), None),
    ]
    server = DevpiServer(base / "serverdir", BINDIR, args=("--role", "primary")).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index("root/pypi", type="mirror", mirror_url=upstream.simple_url,
                          policy_min_age="1d")  # fmt: skip
        root.create_index("root/plain", type="mirror", mirror_url=upstream.simple_url)
        root.create_user("alice", ALICE_PW)
        alice = DevpiApi(server.url).login("alice", ALICE_PW)
        alice.create_index("alice/dev", bases=["root/pypi"], volatile=True)
        alice.create_index("alice/mix", bases=["root/plain"], volatile=True)
        yield Age(server, upstream, root, alice)
    finally:
        server.stop()
        upstream.stop()


def _installed(age: Age, venv: Venv, home: Path, index: str, *args: str) -> str:
    _, report = pip_install(venv, home, age.simple(index), "--force-reinstall", *args)
    return report_urls(report)[args[-1].split("=")[0].split("<")[0]].rsplit("/", 1)[-1]


def test_young_release_invisible_on_every_path(age: Age, home: Path, tmp_path: Path) -> None:
    venv = Venv.create(tmp_path / "venv")
    for index in ("root/pypi", "alice/dev"):
        assert _installed(age, venv, home, index, "age-pkg==1.0") == "age_pkg-1.0-py3-none-any.whl"
        refused = pip_install(venv, home, age.simple(index), "age-pkg==2.0", check=False)[0]
        assert refused.returncode != 0
        uv = uv_pip_install(venv, home, age.simple(index), "age-pkg==2.0", check=False)
        assert uv.returncode != 0
        html = age.root.request("GET", f"{index}/+simple/age-pkg/", headers={"Accept": "text/html"})
        assert b"age_pkg-1.0" in html.body
        assert b"age_pkg-2.0" not in html.body
        page = age.root.request("GET", f"{index}/+simple/age-pkg/",
                                headers={"Accept": JSON_TYPE}).json()  # fmt: skip
        assert [f["filename"] for f in page["files"]] == ["age_pkg-1.0-py3-none-any.whl"]
        assert page["meta"]["api-version"] == "1.1"
        assert page["versions"] == ["1.0"]
        assert page["files"][0]["upload-time"].startswith(
            age.upstream.projects["age-pkg"][0].upload_time[:19]  # type: ignore[index]
        )
        assert page["files"][0]["size"] > 0
        installer = age.root.request("GET", f"{index}/age-pkg/", headers=PIP_UA)
        assert b"age_pkg-2.0" not in installer.body
        versions = age.root.ok("GET", f"{index}/age-pkg")
        assert sorted(versions) == ["1.0"]
    # the file's own URL, as a lock file names it: 403 with the reason and the time
    href = _file_url(age, "root/plain", "age_pkg-2.0-py3-none-any.whl").replace(
        "/root/plain/", "/root/pypi/"
    )
    resp = age.root.request("GET", href)
    assert resp.status == 403, resp
    assert "is quarantined until" in resp.reason
    assert "policy_min_age 1d on root/pypi" in resp.reason
    meta = age.root.request("GET", href + ".metadata")
    assert meta.status in (403, 404)


def _file_url(age: Age, index: str, filename: str) -> str:
    page_url = (
        f"{age.server.url}/{index}/+simple/{filename.split('-', maxsplit=1)[0].replace('_', '-')}/"
    )
    page = age.root.request("GET", page_url, headers={"Accept": JSON_TYPE}).json()
    return urljoin(page_url, next(f["url"] for f in page["files"] if f["filename"] == filename))


def _versions_installed(age: Age, venv: Venv, home: Path, index: str, req: str) -> str | None:
    res, report = pip_install(venv, home, age.simple(index), "--force-reinstall", req, check=False)
    if res.returncode != 0:
        return None
    return report_urls(report)[req.split("=", maxsplit=1)[0]].rsplit("/", 1)[-1]


def test_release_turning_old_becomes_installable_by_itself(
    age: Age, home: Path, tmp_path: Path
) -> None:
    # listed upstream since the fixture; its time is chosen now, before devpi first reads it
    soon = datetime.now(UTC) + timedelta(seconds=TURNS_OLD_IN) - timedelta(days=1)
    age.upstream.projects["soon-pkg"][1].upload_time = iso(soon)
    venv = Venv.create(tmp_path / "venv")
    assert _versions_installed(age, venv, home, "alice/dev", "soon-pkg") == (
        "soon_pkg-1.0-py3-none-any.whl"
    )
    href = _file_url(age, "root/plain", "soon_pkg-2.0-py3-none-any.whl").replace(
        "/root/plain/", "/root/pypi/"
    )
    assert age.root.request("GET", href).status == 403
    _wait_for(
        "soon-pkg 2.0 installable through alice/dev",
        lambda: (
            _versions_installed(age, venv, home, "alice/dev", "soon-pkg")
            == "soon_pkg-2.0-py3-none-any.whl"
        ),
        timeout=TURNS_OLD_IN + 60,
    )
    uv_pip_install(venv, home, age.simple("root/pypi"), "--reinstall", "soon-pkg==2.0")
    assert age.root.request("GET", href).status == 200
    page = age.root.request("GET", "root/pypi/+simple/soon-pkg/", headers={"Accept": JSON_TYPE})
    assert page.json()["versions"] == ["1.0", "2.0"]


def test_exception_lifts_quarantine_until_it_expires(age: Age, home: Path, tmp_path: Path) -> None:
    root = DevpiClient(home).use_login(age.server.url, "root", ROOT_PASSWORD)
    venv = Venv.create(tmp_path / "venv")
    assert _versions_installed(age, venv, home, "alice/dev", "age-pkg==2.0") is None
    until = datetime.now(UTC) + timedelta(seconds=30)
    out = root("policy", "except", "age-pkg==2.0", "--reason", "hotfix needed",
               "--until", iso(until), "--index", "root/pypi").stdout  # fmt: skip
    assert "exception 1 recorded" in out
    assert "by root" in out
    assert _versions_installed(age, venv, home, "alice/dev", "age-pkg==2.0") == (
        "age_pkg-2.0-py3-none-any.whl"
    )
    uv_pip_install(venv, home, age.simple("root/pypi"), "--reinstall", "age-pkg==2.0")
    listed = root("policy", "exceptions", "--index", "root/pypi").stdout
    assert "age-pkg==2.0" in listed
    assert "[active]" in listed
    _wait_for("the exception to expire", lambda: datetime.now(UTC) > until, timeout=60)
    assert _versions_installed(age, venv, home, "alice/dev", "age-pkg==2.0") is None
    assert "[expired]" in root("policy", "exceptions", "--index", "root/pypi").stdout
    # a revoked exception stops at once
    root("policy", "except", "age-pkg", "--reason", "r", "--until", "1h", "--index", "root/pypi")
    assert _versions_installed(age, venv, home, "root/pypi", "age-pkg==2.0") is not None
    assert "revoked" in root("policy", "except", "--revoke", "2", "--index", "root/pypi").stdout
    assert _versions_installed(age, venv, home, "root/pypi", "age-pkg==2.0") is None


def test_refused_exception_requests_write_nothing(age: Age) -> None:
    path = "root/pypi/+policy/exceptions"
    later = iso(datetime.now(UTC) + timedelta(hours=1))
    cases = [
        (age.alice, {"spec": "age-pkg", "reason": "r", "until": later}, 403),
        (DevpiApi(age.server.url), {"spec": "age-pkg", "reason": "r", "until": later}, 403),
        (age.root, {"spec": "bad name!", "reason": "r", "until": later}, 400),
        (age.root, {"spec": "age-pkg>=<1", "reason": "r", "until": later}, 400),
        (age.root, {"spec": "age-pkg", "reason": "r", "until": "tomorrow"}, 400),
        (age.root, {"spec": "age-pkg", "reason": "r", "until": "2020-01-01T00:00:00Z"}, 400),
        (age.root, {"spec": "age-pkg", "reason": "", "until": later}, 400),
    ]
    for api, body, status in cases:
        with unchanged(age.server, f"POST {body} as {api.auth or 'anonymous'}"):
            resp = api.request("POST", path, body)
        assert resp.status in ((401, 403) if status == 403 else (status,)), (body, resp)
    with unchanged(age.server, "revoke by a non-owner"):
        assert age.alice.request("DELETE", f"{path}/1").status == 403


def test_freeze(age: Age, home: Path, tmp_path: Path) -> None:
    freeze = iso(datetime.now(UTC) - timedelta(hours=2))
    age.root.create_index("root/frozen", type="mirror", mirror_url=age.upstream.simple_url,
                          policy_freeze=freeze)  # fmt: skip
    venv = Venv.create(tmp_path / "venv")
    assert _versions_installed(age, venv, home, "root/frozen", "frz-pkg") == (
        "frz_pkg-1.0-py3-none-any.whl"
    )
    uv = uv_pip_install(venv, home, age.simple("root/frozen"), "frz-pkg==2.0", check=False)
    assert uv.returncode != 0
    href = _file_url(age, "root/plain", "frz_pkg-2.0-py3-none-any.whl").replace(
        "/root/plain/", "/root/frozen/"
    )
    resp = age.root.request("GET", href)
    assert resp.status == 403
    assert "after the freeze (policy_freeze" in resp.reason
    until = iso(datetime.now(UTC) + timedelta(seconds=20))
    age.root.ok("POST", "root/frozen/+policy/exceptions",
                {"spec": "frz-pkg>=2", "reason": "approved", "until": until})  # fmt: skip
    assert _versions_installed(age, venv, home, "root/frozen", "frz-pkg") == (
        "frz_pkg-2.0-py3-none-any.whl"
    )
    _wait_for("the exception to expire", lambda: datetime.now(UTC) > datetime.fromisoformat(until),
              timeout=60)  # fmt: skip
    assert age.root.request("GET", href).status == 403
    assert _versions_installed(age, venv, home, "root/frozen", "frz-pkg==2.0") is None


def test_dry_run_lets_everything_through(age: Age, home: Path, tmp_path: Path) -> None:
    age.root.create_index("root/dry", type="mirror", mirror_url=age.upstream.simple_url,
                          policy_min_age="1d", policy_mode="dry-run")  # fmt: skip
    venv = Venv.create(tmp_path / "venv")
    assert _versions_installed(age, venv, home, "root/dry", "age-pkg") == (
        "age_pkg-2.0-py3-none-any.whl"
    )
    log = age.server.log_path.read_text()
    assert "policy dry-run" in log
    assert "is quarantined until" in log


def test_policy_check_explains_quarantine(age: Age, home: Path) -> None:
    client = DevpiClient(home).use_login(age.server.url, "alice", ALICE_PW)
    res = client("policy", "check", "age-pkg==2.0", "--index", "alice/dev", check=False)
    assert res.returncode == 1, res.stdout
    assert "age-pkg 2.0 is quarantined until " in res.stdout
    assert "(policy_min_age 1d on root/pypi); see devpi policy except" in res.stdout
    ok = client("policy", "check", "age-pkg==1.0", "--index", "alice/dev")
    assert "allowed" in ok.stdout
    shown = client("policy", "show", "--index", "alice/dev").stdout
    assert "root/pypi (inherited): policy_min_age=1d" in shown
    page = age.root.request("GET", "root/pypi/age-pkg/2.0", headers={"Accept": "text/html"})
    assert page.status == 403
    assert "is quarantined until" in page.reason


def test_pip_uploaded_prior_to_and_uv_exclude_newer_on_a_mixed_index(
    age: Age, home: Path, tmp_path: Path
) -> None:
    private = make_wheel(tmp_path / "dists", Project("priv-pkg", "1.0"))
    twine_upload(home, f"{age.server.url}/alice/mix/", "alice", ALICE_PW, private)
    page = age.root.request("GET", "alice/mix/+simple/priv-pkg/", headers={"Accept": JSON_TYPE})
    uploaded = datetime.fromisoformat(page.json()["files"][0]["upload-time"])
    assert abs(uploaded - datetime.now(UTC)) < timedelta(minutes=5)
    # a pushed file keeps its original upload time
    age.alice.ok("POST", "alice/mix",
                 {"name": "priv-pkg", "version": "1.0", "targetindex": "alice/dev"})  # fmt: skip
    pushed = age.root.request("GET", "alice/dev/+simple/priv-pkg/", headers={"Accept": JSON_TYPE})
    assert pushed.json()["files"][0]["upload-time"] == page.json()["files"][0]["upload-time"]
    venv = Venv.create(tmp_path / "venv")
    index = age.simple("alice/mix")
    _, report = pip_install(venv, home, index, "--uploaded-prior-to", "P3D", "age-pkg")
    assert report_urls(report)["age-pkg"].endswith("age_pkg-1.0-py3-none-any.whl")
    res, _ = pip_install(venv, home, index, "--uploaded-prior-to", "P3D", "priv-pkg", check=False)
    assert res.returncode != 0
    later = iso(datetime.now(UTC) + timedelta(minutes=1))
    _, report = pip_install(venv, home, index, "--upgrade", "--uploaded-prior-to", later,
                            "priv-pkg", "age-pkg")  # fmt: skip
    urls = report_urls(report)
    assert urls["priv-pkg"].endswith("priv_pkg-1.0-py3-none-any.whl")
    assert urls["age-pkg"].endswith("age_pkg-2.0-py3-none-any.whl")
    two_hours_ago = iso(datetime.now(UTC) - timedelta(hours=2))
    uv_pip_install(venv, home, index, "--reinstall", "--exclude-newer", two_hours_ago, "age-pkg")
    assert "1.0" in venv.import_("age_pkg", home, "print(age_pkg.VERSION)")
    res = uv_pip_install(venv, home, index, "--reinstall", "--exclude-newer", two_hours_ago,
                         "priv-pkg", check=False)  # fmt: skip
    assert res.returncode != 0
    uv_pip_install(
        venv, home, index, "--reinstall", "--exclude-newer", later, "age-pkg", "priv-pkg"
    )
    assert "2.0" in venv.import_("age_pkg", home, "print(age_pkg.VERSION)")


def test_devpi_upstream_times_unknown(age: Age, home: Path, tmp_path: Path) -> None:
    """A plain devpi-server upstream (devpi 6 serves no upload times)."""
    plain = DevpiServer(tmp_path / "plain", plain_bindir()).start()
    try:
        DevpiApi(plain.url).login("root", ROOT_PASSWORD).create_index("root/up", bases=[])
        wheel = make_wheel(tmp_path / "dists", Project("up-pure", "2.0"))
        twine_upload(home, f"{plain.url}/root/up/", "root", ROOT_PASSWORD, wheel)
        mirror_url = f"{plain.url}/root/up/+simple/"
        age.root.create_index("root/devup", type="mirror", mirror_url=mirror_url,
                              policy_min_age="1d")  # fmt: skip
        venv = Venv.create(tmp_path / "venv")
        assert _versions_installed(age, venv, home, "root/devup", "up-pure") is None
        client = DevpiClient(home).use_login(age.server.url, "root", ROOT_PASSWORD)
        res = client("policy", "check", "up-pure==2.0", "--index", "root/devup", check=False)
        assert "has no known upload time (policy_unknown_age deny on root/devup)" in res.stdout
        age.root.modify_index("root/devup", policy_unknown_age="allow")
        assert _versions_installed(age, venv, home, "root/devup", "up-pure") == wheel.name
        page = age.root.request("GET", "root/devup/+simple/up-pure/",
                                headers={"Accept": JSON_TYPE})  # fmt: skip
        assert all("upload-time" not in f for f in page.json()["files"])
    finally:
        plain.stop()


def _plugin_keys(server: DevpiServer, index: str) -> list[str]:
    """The keys devpi_policy holds in devpi's database about ``index`` (not deleted: a
    deleted key keeps its row, its last change in the changelog is ``None``)."""
    with sqlite3.connect(server.serverdir / ".sqlite") as db:
        rows = db.execute("SELECT key, serial FROM kv WHERE key LIKE ?", (f"{index}/%.policy_%",))
        found = []
        for key, serial in rows.fetchall():
            (data,) = db.execute(
                "SELECT data FROM changelog WHERE serial = ?", (serial,)
            ).fetchone()
            if loads(data)[0][key][2] is not None:
                found.append(key)
        return found


def test_replica_takes_upload_times_and_exceptions_from_its_primary(
    age: Age, tmp_path: Path
) -> None:
    page_path = "alice/dev/+simple/age-pkg/"
    age.root.request("GET", page_path, headers={"Accept": JSON_TYPE})
    _wait_for("times stored on the primary", lambda: bool(_plugin_keys(age.server, "root/pypi")),
              timeout=30)  # fmt: skip
    replica = start_replica(age.server, tmp_path / "replica")
    try:
        api = DevpiApi(replica.url)

        def served() -> list[str]:
            files = api.request("GET", page_path, headers={"Accept": JSON_TYPE}).json()["files"]
            return [f["filename"] for f in files if "upload-time" in f]

        _wait_for("the replica to serve age-pkg 1.0 with its time",
                  lambda: served() == ["age_pkg-1.0-py3-none-any.whl"], timeout=30)  # fmt: skip
        href = _file_url(age, "root/plain", "age_pkg-2.0-py3-none-any.whl").replace(
            f"{age.server.url}/root/plain/", f"{replica.url}/root/pypi/"
        )
        resp = api.request("GET", href)
        assert resp.status == 403
        assert "is quarantined until" in resp.reason
        listed = api.ok("GET", "root/pypi/+policy/exceptions")
        primary = age.root.ok("GET", "root/pypi/+policy/exceptions")
        assert listed == primary
    finally:
        replica.stop()


def test_deleting_an_index_deletes_its_times_and_exceptions(age: Age) -> None:
    age.root.create_index("root/gone", type="mirror", mirror_url=age.upstream.simple_url,
                          policy_min_age="1d")  # fmt: skip
    age.root.request("GET", "root/gone/+simple/age-pkg/", headers={"Accept": JSON_TYPE})
    later = iso(datetime.now(UTC) + timedelta(hours=1))
    age.root.ok("POST", "root/gone/+policy/exceptions",
                {"spec": "age-pkg", "reason": "r", "until": later})  # fmt: skip
    stored = lambda: len(_plugin_keys(age.server, "root/gone")) == 3  # noqa: E731
    _wait_for("times and exceptions stored", stored, timeout=30)
    assert age.root.request("DELETE", "root/gone").status == 201
    assert _plugin_keys(age.server, "root/gone") == []
    age.root.create_index("root/gone", type="mirror", mirror_url=age.upstream.simple_url)
    assert age.root.ok("GET", "root/gone/+policy/exceptions")["exceptions"] == []
