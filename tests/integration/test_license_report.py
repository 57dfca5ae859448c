"""``devpi license report`` and ``devpi license show`` with the real devpi client against a
real devpi-server (plugins, ``--enable-core-metadata``) holding a 12-release closure with
varied licenses; the report's closure is pip's own."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from harness.api import DevpiApi
from harness.clients import DevpiClient, run, twine_upload
from harness.dists import Project, make_sdist, make_wheel, repack_installed
from harness.server import ROOT_PASSWORD, DevpiServer

from .conftest import ALICE_PW

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

BINDIR = Path(sys.executable).parent
INDEX = "alice/lic"
MIT_CLASSIFIER = "License :: OSI Approved :: MIT License"
APACHE_CLASSIFIER = "License :: OSI Approved :: Apache Software License"

#: report-app's closure (12 releases) and what the index decides about each.
CLOSURE = [
    (Project("report-app", "1.0", {"License-Expression": "MIT",
     "Requires-Dist": ["dep-a<1.1", "dep-b", "dep-c", "dep-d"]}), "allowed"),
    (Project("dep-a", "1.0", {"License-Expression": "Apache-2.0",
     "Requires-Dist": ["dep-e", "dep-f"]}), "allowed"),
    (Project("dep-b", "1.0", {"Classifier": MIT_CLASSIFIER, "Requires-Dist": "dep-h"}),
     "allowed"),
    (Project("dep-c", "1.0"), "unknown"),
    (Project("dep-d", "1.0", {"License-Expression": "AGPL-3.0-only"}), "would refuse"),
    (Project("dep-e", "1.0", {"License-Expression": "BSD-3-Clause",
     "Requires-Dist": ["dep-i", 'dep-unused; python_version < "3"']}), "allowed"),
    (Project("dep-f", "2.0", {"License-Expression": "MIT OR Apache-2.0",
     "Requires-Dist": "dep-g"}), "allowed"),
    (Project("dep-g", "1.0", {"Classifier": APACHE_CLASSIFIER, "Requires-Dist": "dep-j"}),
     "allowed"),
    (Project("dep-h", "3.1", {"License-Expression": "ISC"}), "allowed"),
    (Project("dep-i", "0.5", {"License-Expression": "PSF-2.0", "Requires-Dist": "dep-k"}),
     "allowed"),
    (Project("dep-j", "1.0", {"License-Expression": "Zlib"}), "allowed"),
    (Project("dep-k", "1.0"), "unknown"),
]  # fmt: skip
#: Not in the closure: a newer dep-a (for ``show``), a marker-excluded dependency, and an
#: app with dependencies lacking a Linux wheel (for ``--platform``).
OTHERS = [
    Project("dep-a", "1.1", {"License-Expression": "Apache-2.0"}),
    Project("dep-unused", "1.0", {"License-Expression": "MIT"}),
    Project("native-app", "1.0",
            {"License-Expression": "MIT", "Requires-Dist": ["dep-j", "src-only", "win-only"]}),
]  # fmt: skip
#: what pip needs to prepare an sdist's metadata (make_sdist uses setuptools and wheel)
TOOLS = ("setuptools", "wheel", "packaging")
SDIST_ONLY = Project("src-only", "1.0", {"License-Expression": "MIT"})
#: an sdist and a wheel for Windows only
WIN_ONLY = Project("win-only", "2.0", {"License-Expression": "MIT"})


@dataclass
class Lic:
    server: DevpiServer
    alice: DevpiApi

    @property
    def simple(self) -> str:
        return f"{self.server.url}/{INDEX}/+simple/"


@pytest.fixture(scope="module")
def lic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lic]:
    base = tmp_path_factory.mktemp("license-report")
    args = ("--enable-core-metadata",)
    server = DevpiServer(base / "serverdir", BINDIR, args=args).start()
    try:
        DevpiApi(server.url).login("root", ROOT_PASSWORD).create_user("alice", ALICE_PW)
        alice = DevpiApi(server.url).login("alice", ALICE_PW)
        # dry-run: the denied dep-d stays installable, so the report sees the whole closure
        # and, as the server does, lets it through ("would refuse")
        alice.create_index(INDEX, bases=[], policy_mode="dry-run", license_deny=["AGPL-*"],
                           license_unknown="warn")  # fmt: skip
        dists = base / "dists"
        files = [make_wheel(dists, p) for p, _ in CLOSURE] + [make_wheel(dists, p) for p in OTHERS]
        files += [make_sdist(dists, SDIST_ONLY), make_sdist(dists, WIN_ONLY)]
        files.append(make_wheel(dists, WIN_ONLY, tag="cp311-cp311-win_amd64"))
        # build tools, so pip can prepare src-only's metadata when sdists are allowed
        files += [repack_installed(tool, base / "tools") for tool in TOOLS]
        twine_upload(base / "home", f"{server.url}/{INDEX}/", "alice", ALICE_PW, *files)
        yield Lic(server, alice)
    finally:
        server.stop()


@pytest.fixture
def devpi(lic: Lic, home: Path) -> DevpiClient:
    client = DevpiClient(home)
    client("use", f"{lic.server.url}/{INDEX}")
    return client


def pip_closure(lic: Lic, home: Path, spec: str) -> set[tuple[str, str]]:
    """What pip itself resolves for ``spec`` from the index."""
    report = home / "pip-report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
           "--quiet", "--report", str(report), "--index-url", lic.simple, spec]  # fmt: skip
    run(cmd, home, index_url=lic.simple)
    data = json.loads(report.read_text())
    return {(i["metadata"]["name"], i["metadata"]["version"]) for i in data["install"]}


def said(res: subprocess.CompletedProcess[str]) -> str:
    return res.stdout + res.stderr


def test_report_lists_pips_closure_with_verdicts(lic: Lic, devpi: DevpiClient, home: Path) -> None:
    res = devpi("license", "report", "report-app", "--format", "json", check=False)
    assert res.returncode == 0, said(res)
    data = json.loads(res.stdout)
    listed = {(p["name"], p["version"]) for p in data["packages"]}
    assert listed == pip_closure(lic, home / "pip", "report-app")
    assert listed == {(p.name, p.version) for p, _ in CLOSURE}
    verdicts = {p["name"]: p["verdict"] for p in data["packages"]}
    assert verdicts == {p.name: verdict for p, verdict in CLOSURE}
    assert [p["name"] for p in data["packages"] if p["refused"]] == []
    dep_d = next(p for p in data["packages"] if p["name"] == "dep-d")
    assert dep_d["reason"] == (
        f"license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*' on {INDEX} (dry-run)"
    )
    licenses = {p["name"]: p["expression"] for p in data["packages"]}
    assert licenses["dep-b"] == "MIT"  # from the classifier only
    assert licenses["dep-f"] == "MIT OR Apache-2.0"
    assert licenses["dep-c"] is None
    assert data["summary"]["refused"] == 0
    assert "dep-d 1.0: would refuse:" in res.stderr
    assert "12 packages: 9 allowed, 1 would refuse, 2 unknown; 0 refused" in res.stderr


def test_report_table(devpi: DevpiClient) -> None:
    res = devpi("license", "report", "report-app", check=False)
    assert res.returncode == 0, said(res)
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["PACKAGE", "VERSION", "LICENSE", "VERDICT"]
    row = next(ln for ln in lines if ln.startswith("dep-d "))
    assert row.split()[:5] == ["dep-d", "1.0", "AGPL-3.0-only", "would", "refuse:"]
    assert row.endswith("(dry-run)")
    assert "AGPL-*" in row
    assert "12 packages:" in res.stdout


def test_report_writes_a_valid_cyclonedx_sbom(devpi: DevpiClient, home: Path) -> None:
    sbom = home / "sbom.json"
    res = devpi("license", "report", "report-app", "--format", "cyclonedx", "--output", str(sbom),
                check=False)  # fmt: skip
    assert res.returncode == 0, said(res)
    text = sbom.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    data: dict[str, Any] = json.loads(text)
    purls = {c["purl"] for c in data["components"]}
    assert purls == {f"pkg:pypi/{p.name}@{p.version}" for p, _ in CLOSURE}
    graph = {d["ref"]: d.get("dependsOn", []) for d in data["dependencies"]}
    assert graph["pkg:pypi/report-app@1.0"] == [
        "pkg:pypi/dep-a@1.0", "pkg:pypi/dep-b@1.0", "pkg:pypi/dep-c@1.0", "pkg:pypi/dep-d@1.0",
    ]  # fmt: skip
    assert graph["pkg:pypi/dep-e@1.0"] == ["pkg:pypi/dep-i@0.5"]


def test_a_dependency_without_wheel_for_the_platform(devpi: DevpiClient) -> None:
    res = devpi("license", "report", "native-app", "--platform", "manylinux_2_28_x86_64",
                "--python-version", "3.11", check=False)  # fmt: skip
    assert res.returncode == 2, said(res)
    out = said(res)
    assert "no wheel for Python 3.11 on manylinux_2_28_x86_64" in out
    assert "src-only 1.0 (has: src_only-1.0.tar.gz)" in out
    assert "win-only 2.0 (has: win_only-2.0-cp311-cp311-win_amd64.whl, win_only-2.0.tar.gz)" in out
    assert f"devpi build request src-only==1.0 --index {INDEX}" in out
    assert f"devpi build request win-only==2.0 --index {INDEX}" in out
    assert "2 release(s) of the closure have no wheel" in out
    assert "dep-j" not in out


def test_the_platform_report_passes_when_every_wheel_is_there(devpi: DevpiClient) -> None:
    res = devpi("license", "report", "dep-f", "--platform", "manylinux_2_28_x86_64",
                "--python-version", "3.11", check=False)  # fmt: skip
    assert res.returncode == 0, said(res)
    assert "3 packages: 3 allowed; 0 refused" in res.stdout


def test_unresolvable_specs_show_pips_error(devpi: DevpiClient) -> None:
    res = devpi("license", "report", "no-such-project", check=False)
    assert res.returncode == 1
    assert "No matching distribution found for no-such-project" in said(res)


def test_show(devpi: DevpiClient) -> None:
    res = devpi("license", "show", "dep-d==1.0", check=False)
    assert res.returncode == 0, said(res)  # dry-run: the server serves it
    assert f"dep-d 1.0 on {INDEX}" in res.stdout
    assert "license:    AGPL-3.0-only" in res.stdout
    assert "verdict:    would refuse (dry-run, let through): license 'AGPL-3.0-only'" in res.stdout
    # evidence names the file, or (private releases) its kind, so hidden files do not leak
    evidence = res.stdout.split("evidence:", 1)[1]
    assert "License-Expression 'AGPL-3.0-only' -> AGPL-3.0-only" in evidence
    assert evidence.split()[0] in ("dep_d-1.0-py3-none-any.whl:", "wheel:")
    newest = devpi("license", "show", "dep-a", "--json")
    result = json.loads(newest.stdout)
    assert (result["version"], result["expression"]) == ("1.1", "Apache-2.0")
    assert result["verdict"]["refused"] is False


def test_show_of_a_missing_release(devpi: DevpiClient) -> None:
    res = devpi("license", "show", "dep-a==9.9", check=False)
    assert res.returncode == 1
    assert "404" in said(res)
    res = devpi("license", "show", "no-such-project", check=False)
    assert res.returncode == 1
    assert f"'no-such-project' is not on {INDEX} (404)" in said(res)


def test_an_enforcing_index_refuses_what_dry_run_lets_through(lic: Lic, devpi: DevpiClient) -> None:
    lic.alice.create_index("alice/lic-enforce", bases=[INDEX], license_deny=["AGPL-*"])
    enforce = "alice/lic-enforce"
    res = devpi("license", "report", "dep-d", "--index", enforce, check=False)
    assert res.returncode == 1, said(res)  # hidden there: pip finds no dep-d
    assert "dep-d" not in res.stdout.split("pip could not resolve", 1)[0]
    check = devpi("policy", "check", "dep-d==1.0", "--index", enforce, check=False)
    assert check.returncode == 1, said(check)
    assert f"dep-d 1.0 on {enforce}: REFUSED" in check.stdout
    assert f"'AGPL-*' on {enforce}" in check.stdout
    dry = devpi("policy", "check", "dep-d==1.0", check=False)
    assert dry.returncode == 0, said(dry)
    assert f"dep-d 1.0 on {INDEX}: allowed: dry-run, the rules would refuse it" in dry.stdout
    assert "  would refuse (dry-run, let through): 'dep-d 1.0'" in dry.stdout
    assert f"'AGPL-*' on {INDEX}" in dry.stdout
    assert f"if held by {INDEX}: served let through (dry-run, would refuse)" in dry.stdout
    assert "REFUSED" not in dry.stdout


def _devpi_with_terminal_stderr(home: Path, *args: str) -> tuple[int, str, str]:
    """Run the test venv's devpi with stderr on a pseudo-terminal: status, stdout, stderr."""
    import os
    import pty
    import subprocess as sp

    from harness.env import isolated_env

    primary, secondary = pty.openpty()
    devpi = [str(BINDIR / "devpi"), "--clientdir", str(home / "devpi-client"), *args]
    with sp.Popen(devpi, stdout=sp.PIPE, stderr=secondary, env=isolated_env(home)) as proc:
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout = proc.stdout.read().decode() if proc.stdout else ""
        code = proc.wait(120)
    os.close(primary)
    return code, stdout, b"".join(chunks).decode(errors="replace")


def test_report_shows_progress_on_a_terminal_only(devpi: DevpiClient, home: Path) -> None:
    code, stdout, terminal = _devpi_with_terminal_stderr(home, "license", "report", "report-app")
    assert code == 0, stdout + terminal
    assert "resolving report-app with pip on alice/lic (" in terminal
    assert "fetching licenses 12/12 (" in terminal
    assert terminal.endswith("\r\x1b[K")  # the status line is gone before the summary
    assert "resolving" not in stdout
    # not a terminal, or a document: exactly the output, no status lines
    for args in (("report-app",), ("report-app", "--format", "json")):
        res = devpi("license", "report", *args)
        assert "resolving" not in said(res)
        assert "\x1b[K" not in said(res)
    code, stdout, terminal = _devpi_with_terminal_stderr(
        home, "license", "report", "report-app", "--format", "json"
    )
    assert code == 0
    assert json.loads(stdout)["summary"]["total"] == 12
    assert "resolving" not in terminal


def test_the_report_names_newer_versions_the_rules_hide(lic: Lic, devpi: DevpiClient) -> None:
    hiding = "alice/lic-hiding"
    lic.alice.create_index(hiding, bases=[INDEX], policy_exclude=["dep-a>=1.1"])
    res = devpi("license", "report", "dep-a", "--index", hiding)
    assert re.search(r"^dep-a\s+1\.0\s+Apache-2\.0\s+allowed", res.stdout, re.MULTILINE), said(res)
    reason = f"'dep-a 1.1' is excluded by policy_exclude 'dep-a>=1.1' on {hiding}"
    hidden = f"hidden by rules: dep-a 1.1: {reason}"
    assert hidden in said(res)
    data = json.loads(
        devpi("license", "report", "dep-a", "--index", hiding, "--format", "json").stdout
    )
    dep_a = next(p for p in data["packages"] if p["name"] == "dep-a")
    assert dep_a["hidden"] == [f"1.1: {reason}"]
    # a project the rules hide wholly: pip finds nothing, the report says why
    lic.alice.modify_index(hiding, policy_exclude=["dep-a>=1.1", "dep-h"])
    gone = devpi("license", "report", "dep-h", "--index", hiding, check=False)
    assert gone.returncode == 1
    assert "pip could not resolve dep-h" in said(gone)
    assert (
        f"hidden by rules: dep-h 3.1: 'dep-h 3.1' is excluded by policy_exclude 'dep-h' on {hiding}"
        in said(gone)
    )
    # on the index without the rule nothing is hidden
    plain = devpi("license", "report", "dep-a", "--format", "json")
    assert all(p["hidden"] == [] for p in json.loads(plain.stdout)["packages"])


def test_show_of_a_project_whose_releases_the_rules_hide(lic: Lic, devpi: DevpiClient) -> None:
    refusing = "alice/lic-apache"
    lic.alice.create_index(refusing, bases=[INDEX], license_deny=["Apache-2.0"])
    res = devpi("license", "show", "dep-a", "--index", refusing, check=False)
    assert res.returncode == 1, said(res)
    assert f"dep-a 1.1 on {refusing} (stored in {INDEX})" in res.stdout
    assert "license:    Apache-2.0" in res.stdout
    deny = f"license 'Apache-2.0' is denied by license_deny 'Apache-2.0' on {refusing}"
    assert f"verdict:    denied: {deny}" in res.stdout
    assert "404" not in said(res)
