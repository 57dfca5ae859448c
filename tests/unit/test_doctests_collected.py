"""Every doctest of the plugins runs in the unit tier: each module holding one lies on a
path that tox.ini's unit command collects with ``--doctest-modules``."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("devpi_foundry_common", "devpi_policy", "devpi_buildfarm", "devpi_license")


def unit_paths() -> list[Path]:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    lines = [
        line.removeprefix("unit:").strip()
        for line in ini["testenv"]["commands"].splitlines()
        if line.startswith("unit:")
    ]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    assert "--doctest-modules" in words
    return [ROOT / w for w in words[1:] if not w.startswith(("-", "{"))]


def test_every_module_with_a_doctest_is_collected_by_the_unit_tier() -> None:
    collected = unit_paths()
    with_doctests = [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if ">>> " in path.read_text()
    ]
    assert len(with_doctests) > 10
    missing = [
        str(path.relative_to(ROOT))
        for path in with_doctests
        if not any(path == p or p in path.parents for p in collected)
    ]
    assert not missing, f"add these to tox.ini's unit command: {missing}"
