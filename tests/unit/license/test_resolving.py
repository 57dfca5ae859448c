"""pip's resolver run isolated from pip's configuration, against one local PEP 503 index."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import pytest

from devpi_license.adapters.resolving import PipIndex, PipRun, pip_command, pip_environment, resolve
from devpi_license.core.report import parse_pip_report
from harness.dists import Project, make_sdist, make_wheel

if TYPE_CHECKING:
    from pathlib import Path


def simple_index(root: Path, files: list[Path]) -> str:
    """A file:// PEP 503 index of ``files`` (one ``index.html`` per project)."""
    by_project: dict[str, list[Path]] = {}
    for path in files:
        by_project.setdefault(path.name.split("-")[0].replace("_", "-"), []).append(path)
    for project, paths in by_project.items():
        page = root / "simple" / project
        page.mkdir(parents=True)
        links = "".join(f'<a href="{p.as_uri()}">{p.name}</a>\n' for p in paths)
        (page / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return (root / "simple").as_uri() + "/"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> PipIndex:
    base = tmp_path_factory.mktemp("index")
    dists = base / "dists"
    files = [
        make_wheel(dists, Project("app", "1.0", {"Requires-Dist": ["lib-a>=1", "lib-b"]})),
        make_wheel(dists, Project("lib-a", "1.0")),
        make_wheel(dists, Project("lib-a", "2.0")),
        make_wheel(dists, Project("lib-b", "1.0")),
        make_sdist(dists, Project("src-only", "1.0")),
    ]
    return PipIndex(simple_index(base / "index", files))


def test_the_environment_loses_pips_variables_and_config_files() -> None:
    env = pip_environment({"PIP_EXTRA_INDEX_URL": "x", "PIP_FIND_LINKS": "/w", "HOME": "/h"})
    assert env == {"HOME": "/h", "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1",
                   "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # fmt: skip


def test_the_command_uses_only_the_index_and_ends_options_before_specs(tmp_path: Path) -> None:
    cmd = pip_command(PipIndex("http://i/+simple/"), ["-r", "x"], ["--platform", "p"], tmp_path)
    assert cmd[:4] == [sys.executable, "-m", "pip", "--isolated"]
    assert cmd[cmd.index("--index-url") + 1] == "http://i/+simple/"
    assert "--extra-index-url" not in cmd
    assert "--find-links" not in cmd
    assert {"--dry-run", "--ignore-installed", "--no-input"} <= set(cmd)
    assert cmd[-4:] == ["p", "--", "-r", "x"]
    assert cmd[cmd.index("--report") + 1] == str(tmp_path / "report.json")
    # old pips want --target with --platform, even for a dry run
    assert cmd[cmd.index("--target") + 1] == str(tmp_path / "target")
    assert "--target" not in pip_command(PipIndex("http://i/+simple/"), ["x"], [], tmp_path)
    assert "--trusted-host" not in cmd


def test_a_trusted_host_lets_pip_cache_plain_http(tmp_path: Path) -> None:
    cmd = pip_command(PipIndex("http://i/+simple/", "i"), ["x"], [], tmp_path)
    assert cmd[cmd.index("--trusted-host") + 1] == "i"


def test_pip_error_lines_are_kept() -> None:
    run = PipRun(returncode=1, report=None, stderr="noise\nERROR: one\nmore\nERROR: two\n")
    assert run.error == "ERROR: one\nERROR: two"
    assert PipRun(returncode=1, report=None, stderr="Traceback\nboom\n").error == "Traceback\nboom"
    assert PipRun(returncode=3, report=None, stderr="").error == "pip exited with status 3"


def test_resolves_the_closure_from_the_index_only(index: PipIndex) -> None:
    # the caller's pip variables (this machine has some) must not add sources
    environ = {**os.environ, "PIP_FIND_LINKS": "/nonexistent", "PIP_INDEX_URL": "http://bad/"}
    run = resolve(index, ["app"], environ=environ)
    assert run.returncode == 0, run.stderr
    releases = parse_pip_report(run.report).releases
    assert [(r.name, r.version, r.requested) for r in releases] == [
        ("app", "1.0", True), ("lib-a", "2.0", False), ("lib-b", "1.0", False),
    ]  # fmt: skip


def test_binary_only_resolution_for_another_target(index: PipIndex) -> None:
    target = ["--only-binary=:all:", "--python-version", "3.11", "--platform", "win_amd64"]
    run = resolve(index, ["app", "lib-a<2"], target)
    assert run.returncode == 0, run.stderr
    assert ("lib-a", "1.0") in {(r.name, r.version) for r in parse_pip_report(run.report).releases}
    failed = resolve(index, ["src-only"], target)
    assert failed.returncode != 0
    assert failed.report is None
    assert "No matching distribution found for src-only" in failed.error


def test_a_timeout_is_a_failed_run(index: PipIndex) -> None:
    run = resolve(index, ["app"], timeout=0.001)
    assert run.returncode == -1
    assert run.error == "ERROR: pip did not finish resolving within 0 s"
