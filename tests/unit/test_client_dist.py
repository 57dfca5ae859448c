"""client/pyproject.toml (devpi-foundry-client) ships every module its commands import,
and nothing it ships imports devpi-server or another server-side dependency."""

from __future__ import annotations

import ast
import configparser
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).parents[2]
OURS = ("devpi_policy", "devpi_buildfarm", "devpi_license", "devpi_foundry_common")
#: third-party imports the client distribution may make: its dependencies (devpi is
#: devpi-client) and the optional cyclonedx extra (cyclonedx-python-lib brings packageurl)
ALLOWED = {"devpi", "packaging", "pluggy", "cyclonedx", "packageurl", "__future__"}


def _client_config() -> dict[str, object]:
    data: dict[str, object] = tomllib.loads((REPO / "client" / "pyproject.toml").read_text())
    return data


def _modules() -> list[str]:
    tool = _client_config()["tool"]
    assert isinstance(tool, dict)
    modules: list[str] = tool["setuptools"]["py-modules"]
    return modules


def _imports(module: str) -> set[str]:
    tree = ast.parse((REPO / (module.replace(".", "/") + ".py")).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_every_module_the_client_imports_is_shipped() -> None:
    shipped = set(_modules())
    packages = {m.rsplit(".", 1)[0] for m in shipped}
    problems = []
    for module in sorted(shipped):
        for name in sorted(_imports(module)):
            top = name.split(".")[0]
            if top in OURS:
                if name not in shipped and name not in packages:
                    problems.append(f"{module} imports {name}, which client/ does not ship")
            elif top not in ALLOWED and top not in sys.stdlib_module_names:
                problems.append(f"{module} imports {name}, not a client dependency")
    assert problems == []


def test_client_entry_points_are_devpi_foundrys() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    ours = {
        name.strip(): target.strip()
        for name, target in (
            line.split("=") for line in cfg["options.entry_points"]["devpi_client"].split("\n")
            if line.strip()
        )
    }  # fmt: skip
    project = _client_config()["project"]
    assert isinstance(project, dict)
    assert project["entry-points"]["devpi_client"] == ours
    assert set(ours.values()) <= set(_modules())
