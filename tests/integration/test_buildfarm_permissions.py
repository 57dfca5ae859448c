"""Who may do what with builds: a build reads and publishes as the identity that caused
it, jobs belong to the index that asked, and a refused publication leaves nothing.

One server (SQLite queue, the read-restriction test plugin loaded) with users alice and bob.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devpi_buildfarm.core.targets import host_target
from harness.api import DevpiApi
from harness.buildfarm import tool_wheels
from harness.clients import DevpiClient, twine_upload
from harness.dists import Project, make_sdist
from harness.readacl_env import READ_RESTRICTED, readacl_env
from harness.server import ROOT_PASSWORD, DevpiServer

if TYPE_CHECKING:
    from collections.abc import Iterator

BINDIR = Path(sys.executable).parent
TARGET, _ = host_target(sys.version_info[:2], platform.machine(), platform.libc_ver())
FINAL = ("succeeded", "failed", "cancelled", "skipped")
PW = {"alice": "alice-pw", "bob": "bob-pw"}


class Farm:
    def __init__(self, server: DevpiServer, work: Path) -> None:
        self.server, self.work = server, work
        self.api = {user: self.login(user) for user in PW}

    def login(self, user: str) -> DevpiApi:
        return DevpiApi(self.server.url).login(user, PW[user])

    def devpi(self, user: str, index: str, home: Path) -> DevpiClient:
        client = DevpiClient(home).use_login(self.server.url, user, PW[user])
        client("use", index)
        return client

    def upload(self, user: str, index: str, sdist: Path) -> None:
        twine_upload(self.work / f"home-{user}", f"{self.server.url}/{index}/", user, PW[user],
                     sdist)  # fmt: skip

    def jobs(self, user: str, index: str, project: str, timeout: float = 180) -> list[Any]:
        deadline = time.monotonic() + timeout
        found: list[Any] = []
        while time.monotonic() < deadline:
            found = self.api[user].ok("GET", f"{index}/+buildfarm/jobs?project={project}")
            if found and all(j["state"] in FINAL for j in found):
                return found
            time.sleep(0.5)
        msg = f"jobs of {project} on {index} not final: {found}"
        raise AssertionError(msg)

    def wheels(self, index: str, project: str, version: str) -> list[str]:
        reply = self.api["alice"].request("GET", f"{index}/{project}/{version}")
        if reply.status == 404:
            return []
        links = reply.json()["result"]["+links"]
        return [ln["href"].rsplit("/", 1)[1] for ln in links if ln["href"].endswith(".whl")]


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    work = tmp_path_factory.mktemp("permissions")
    args = ("--buildfarm-workers", "2", "--buildfarm-max-attempts", "1")
    server = DevpiServer(work / "serverdir", BINDIR, args=args, env=readacl_env()).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        tools = tool_wheels(work / "tools")
        root.create_index("root/tools", bases=[])
        root.create_index("root/secret-tools", bases=[], title=f"{READ_RESTRICTED}root")
        root.create_index("root/secret", bases=[], title=f"{READ_RESTRICTED}root")
        for index in ("root/tools", "root/secret-tools"):
            twine_upload(
                work / "home-root", f"{server.url}/{index}/", "root", ROOT_PASSWORD, *tools
            )
        secret = make_sdist(work / "secret", Project("secret-pkg", "1.0"))
        twine_upload(
            work / "home-root", f"{server.url}/root/secret/", "root", ROOT_PASSWORD, secret
        )
        for user, pw in PW.items():
            DevpiApi(server.url).create_user(user, pw)
        farm = Farm(server, work)
        alice, bob = farm.api["alice"], farm.api["bob"]
        alice.create_index("alice/dev", bases=["root/tools"], buildfarm_targets=[TARGET])
        alice.create_index("alice/prod", bases=["root/tools"])
        alice.create_index("alice/nolicense", bases=["root/tools"], license_deny=["MIT"])
        alice.create_index("alice/nowheels", bases=["root/tools"], policy_exclude_files=["*.whl"])
        for rule in ("nolicense", "nowheels"):
            options = {"buildfarm_targets": [TARGET], "buildfarm_upload_to": f"alice/{rule}"}
            alice.create_index(f"alice/src-{rule}", bases=["root/tools"], **options)
        shared = {"buildfarm_upload_to": "alice/prod", "acl_upload": ["alice", "bob"]}
        alice.create_index("alice/shared", bases=["root/tools"], buildfarm_targets=[TARGET],
                           **shared)  # fmt: skip
        bob.create_index("bob/dev", bases=["root/tools"], buildfarm_targets=[TARGET])
        bob.create_index("bob/fromsecret", bases=["root/secret", "root/tools"],
                         buildfarm_targets=[TARGET])  # fmt: skip
        bob.create_index("bob/secretdeps", bases=["root/secret-tools"], buildfarm_targets=[TARGET])
        yield farm
    finally:
        server.stop()


def test_upload_to_an_index_the_user_may_not_write_is_refused_when_set(farm: Farm) -> None:
    reply = farm.api["bob"].request("PATCH", "bob/dev", ["buildfarm_upload_to=alice/prod"])
    assert reply.status == 400
    message = reply.json()["message"]
    assert "bob has no upload permission on 'alice/prod'" in message
    assert farm.api["bob"].ok("GET", "bob/dev").get("buildfarm_upload_to", "") == ""


def test_wheels_of_a_read_restricted_index_never_go_where_more_may_read(farm: Farm) -> None:
    alice = farm.api["alice"]
    alice.create_index("alice/private", bases=["root/tools"], title=f"{READ_RESTRICTED}alice")
    reply = alice.request("PATCH", "alice/private", ["buildfarm_upload_to=alice/prod"])
    assert reply.status == 400
    assert (
        "'alice/prod' is readable by :ANONYMOUS:, who may not read alice/private"
        in (reply.json()["message"])
    )
    alice.create_index("alice/private2", bases=[], title=f"{READ_RESTRICTED}alice")
    assert (
        alice.request("PATCH", "alice/private", ["buildfarm_upload_to=alice/private2"]).status
        == 200
    )


def test_readers_that_change_after_the_option_was_set_still_bound_the_wheel(
    farm: Farm, tmp_path: Path
) -> None:
    alice = farm.api["alice"]
    alice.create_index("alice/later", bases=["root/tools"], buildfarm_targets=[TARGET],
                       buildfarm_upload_to="alice/prod")  # fmt: skip
    # both public when the option was set; then alice/later becomes read-restricted
    alice.ok("PATCH", "alice/later", [f"title={READ_RESTRICTED}alice"])
    farm.upload("alice", "alice/later", make_sdist(tmp_path, Project("later-demo", "1.0")))
    (job,) = farm.jobs("alice", "alice/later", "later-demo")
    assert job["state"] == "skipped"
    assert (
        "'alice/prod' is readable by :ANONYMOUS:, who may not read alice/later" in (job["reason"])
    )
    assert farm.wheels("alice/prod", "later-demo", "1.0") == []


def test_an_anonymous_upload_is_not_built_as_somebody(farm: Farm, tmp_path: Path) -> None:
    import requests

    alice = farm.api["alice"]
    alice.create_index("alice/open", bases=["root/tools"], buildfarm_targets=[TARGET],
                       acl_upload=[":ANONYMOUS:"])  # fmt: skip
    sdist = make_sdist(tmp_path, Project("anon-demo", "1.0"))
    with sdist.open("rb") as stream:
        reply = requests.post(
            f"{farm.server.url}/alice/open/", timeout=60,
            data={":action": "file_upload", "name": "anon-demo", "version": "1.0"},
            files={"content": (sdist.name, stream)},
        )  # fmt: skip
    assert reply.status_code == 200, reply.text
    (job,) = farm.jobs("alice", "alice/open", "anon-demo")
    assert job["state"] == "skipped"
    assert job["requested_by"] is None
    assert "uploaded anonymously" in job["reason"]
    assert farm.wheels("alice/open", "anon-demo", "1.0") == []
    # asked for by a user, it builds as that user
    devpi = farm.devpi("alice", "alice/open", tmp_path / "client")
    devpi("build", "request", "anon-demo", "--wait")
    (job,) = farm.jobs("alice", "alice/open", "anon-demo")
    assert (job["state"], job["requested_by"]) == ("succeeded", "alice")


def test_publish_checks_the_uploaders_permission_again(farm: Farm, tmp_path: Path) -> None:
    # alice set alice/shared -> alice/prod (she may write there); bob uploads the sdist to
    # alice/shared, so the build runs as bob, who may not upload to alice/prod
    farm.upload("bob", "alice/shared", make_sdist(tmp_path, Project("shared-demo", "1.0")))
    (job,) = farm.jobs("alice", "alice/shared", "shared-demo")
    assert job["requested_by"] == "bob"
    assert job["state"] == "failed"
    assert "bob may not publish" in job["error"]
    assert "403" in job["error"]
    assert farm.wheels("alice/prod", "shared-demo", "1.0") == []


RULES = {
    "nolicense": ("mit-demo", "license 'MIT' is denied by license_deny 'MIT' on alice/nolicense"),
    "nowheels": ("nowheel-demo", "is excluded by policy_exclude_files '*.whl' on alice/nowheels"),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_a_built_wheel_passes_the_targets_upload_rules(
    farm: Farm, tmp_path: Path, rule: str
) -> None:
    name, reason = RULES[rule]
    project = Project(name, "1.0", {"License-Expression": "MIT"})
    farm.upload("alice", f"alice/src-{rule}", make_sdist(tmp_path, project))
    (job,) = farm.jobs("alice", f"alice/src-{rule}", name)
    assert job["state"] == "failed"
    assert reason in job["error"], job["error"]
    assert "may not publish" in job["error"]
    # refused as an upload: nothing of the release reached the target index
    assert farm.api["alice"].request("GET", f"alice/{rule}/{name}").status == 404


def test_two_users_indexes_asking_for_one_sdist_each_get_their_wheel(
    farm: Farm, tmp_path: Path
) -> None:
    sdist = make_sdist(tmp_path, Project("both-demo", "1.0"))
    farm.upload("alice", "alice/dev", sdist)
    farm.upload("bob", "bob/dev", sdist)
    (alices,) = farm.jobs("alice", "alice/dev", "both-demo")
    (bobs,) = farm.jobs("bob", "bob/dev", "both-demo")
    assert alices["id"] != bobs["id"]
    assert alices["sdist_sha256"] == bobs["sdist_sha256"]
    assert (alices["state"], bobs["state"]) == ("succeeded", "succeeded")
    assert (alices["requested_by"], bobs["requested_by"]) == ("alice", "bob")
    assert farm.wheels("alice/dev", "both-demo", "1.0") == [alices["wheel"]]
    assert farm.wheels("bob/dev", "both-demo", "1.0") == [bobs["wheel"]]
    # nobody sees, retries or cancels another index's job
    bob = farm.api["bob"]
    assert bob.request("GET", f"bob/dev/+buildfarm/jobs/{alices['id']}").status == 404
    assert bob.request("GET", f"bob/dev/+buildfarm/jobs/{alices['id']}/log").status == 404
    assert bob.request("POST", f"bob/dev/+buildfarm/jobs/{alices['id']}/retry").status == 404
    assert bob.request("POST", f"bob/dev/+buildfarm/jobs/{alices['id']}/cancel").status == 404
    assert bob.request("POST", f"alice/dev/+buildfarm/jobs/{alices['id']}/retry").status == 403
    assert bob.request("POST", f"alice/dev/+buildfarm/jobs/{alices['id']}/cancel").status == 403
    assert farm.api["alice"].ok("GET", f"alice/dev/+buildfarm/jobs/{alices['id']}")["state"] == (
        "succeeded"
    )


def test_an_index_cannot_build_what_its_owner_may_not_read(farm: Farm, tmp_path: Path) -> None:
    devpi = farm.devpi("bob", "bob/fromsecret", tmp_path / "client")
    refused = devpi("build", "request", "secret-pkg", "--json", check=False)
    assert refused.returncode == 1
    (row,) = json.loads(refused.stdout)
    assert "bob may not read secret_pkg-1.0.tar.gz (on root/secret)" in row["error"]
    assert farm.api["bob"].ok("GET", "bob/fromsecret/+buildfarm/jobs") == []
    assert farm.wheels("bob/fromsecret", "secret-pkg", "1.0") == []


def test_build_dependencies_are_read_as_the_identity(farm: Farm, tmp_path: Path) -> None:
    # bob's index takes its setuptools from a base only root may read: the build fails
    farm.upload("bob", "bob/secretdeps", make_sdist(tmp_path, Project("deps-demo", "1.0")))
    (job,) = farm.jobs("bob", "bob/secretdeps", "deps-demo")
    assert job["state"] == "failed"
    log = farm.api["bob"].request("GET", f"bob/secretdeps/+buildfarm/jobs/{job['id']}/log",
                                  headers={"Accept": "text/plain"}).body.decode()  # fmt: skip
    assert "403" in log or "No matching distribution" in log, log[-2000:]
    assert "devpi-buildfarm-job-" not in log  # the job credential never reaches a log
