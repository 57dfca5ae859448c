"""Files stored without a request, and a devpi_policy plugin installed from its entry point.

* devpi-import stores files without any request a veto could see: serve-time evaluation
  still hides and refuses what the imported rules exclude.
* examples/policy-plugin, pip-installed, is loaded from the ``devpi_policy`` entry-point
  group by a real server and its rule is enforced like devpi_policy's own.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from harness.api import DevpiApi, without_request_id
from harness.clients import DevpiClient, run
from harness.dists import Project, make_sdist
from harness.server import ROOT_PASSWORD, DevpiServer, get_status
from integration.conftest import ALICE_PW, BINDIR, seed_refused_file

EXAMPLE = Path(__file__).parents[2] / "examples" / "policy-plugin"


def test_imported_files_are_judged_when_served(tmp_path: Path, home: Path) -> None:
    source = DevpiServer(tmp_path / "source", BINDIR).start()
    try:
        href = seed_refused_file(source, home, tmp_path / "dist", "alice/imp")
    finally:
        source.stop()
    export = tmp_path / "export"
    source.run_tool("devpi-export", "--serverdir", str(source.serverdir), str(export))
    imported = DevpiServer(tmp_path / "imported", BINDIR)
    imported.run_tool(
        "devpi-import", "--serverdir", str(imported.serverdir), "--no-root-pypi", str(export)
    )
    imported.start()
    try:
        code, body = get_status(f"{imported.url}/alice/imp/+simple/")
        assert code == 200
        assert "good" in body
        assert "evil-pkg" not in body
        code, reason = get_status(f"{imported.url}/{href.split('/', 3)[3]}")
        assert code == 403
        assert without_request_id(reason) == (
            "policy: 'evil-pkg 1.0' is excluded by policy_exclude 'evil-*' on alice/imp"
        )
    finally:
        imported.stop()


def test_pip_installed_policy_plugin_is_loaded_and_enforced(tmp_path: Path, home: Path) -> None:
    target = tmp_path / "site"
    source = shutil.copytree(EXAMPLE, tmp_path / "policy-plugin")  # builds write into it
    run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        home,
    )  # fmt: skip
    server = DevpiServer(
        tmp_path / "serverdir", BINDIR, env={"PYTHONPATH": str(target)}
    ).start()  # fmt: skip
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_user("alice", ALICE_PW)
        devpi = DevpiClient(home).use_login(server.url, "alice", ALICE_PW)
        bad = devpi("index", "-c", "alice/x", "example_prerelease_ok=not a name!", check=False)
        assert "example_prerelease_ok: 'not a name!' is not a project name" in bad.stdout
        devpi("index", "-c", "alice/stable", "example_no_prereleases=True")
        devpi("use", "alice/stable")
        beta = make_sdist(tmp_path / "dist", Project("pkg", "2.0b1"))
        res = devpi("upload", str(beta), check=False)
        assert res.returncode != 0
        assert (
            "policy: 'pkg 2.0b1' is a pre-release, refused by example_no_prereleases "
            "on alice/stable" in res.stdout
        )
        devpi("upload", str(make_sdist(tmp_path / "dist", Project("pkg", "2.0"))))
        check = devpi("policy", "check", "pkg==3.0rc1", check=False)
        assert check.returncode == 2  # no such release; what the rules would say of it:
        assert "pkg 3.0rc1 does not exist on alice/stable" in check.stdout
        assert "were it there: REFUSED" in check.stdout
        assert "is a pre-release" in check.stdout
    finally:
        server.stop()
