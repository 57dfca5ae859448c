"""The documentation names every index option and server option the plugins define."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devpi_buildfarm import config as buildfarm_config
from devpi_license import config as license_config
from devpi_policy import config as policy_config

DOCS = Path(__file__).parents[2] / "docs"


@pytest.mark.parametrize("module", [policy_config, buildfarm_config, license_config])
def test_every_index_option_is_in_configuration_md(module: Any) -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in module.DEFAULTS if f"`{name}`" not in text]
    assert not missing


class _Group:
    def __init__(self) -> None:
        self.flags: list[str] = []

    def addoption(self, flag: str, **_: Any) -> None:
        self.flags.append(flag)


class _Parser:
    def __init__(self) -> None:
        self.group = _Group()

    def addgroup(self, _: str) -> _Group:
        return self.group


def test_every_license_server_option_is_in_license_md() -> None:
    parser = _Parser()
    license_config.add_parser_options(parser)
    text = (DOCS / "license.md").read_text()
    assert parser.group.flags
    assert [flag for flag in parser.group.flags if f"`{flag}`" not in text] == []


def test_every_buildfarm_server_option_is_in_buildfarm_md() -> None:
    text = (DOCS / "buildfarm.md").read_text()
    flags = [flag for flag, _ in buildfarm_config.SERVER_OPTIONS]
    assert [flag for flag in flags if flag not in text] == []


def test_every_policy_server_option_is_in_configuration_md() -> None:
    text = (DOCS / "configuration.md").read_text()
    flags = [flag for flag, _ in policy_config.SERVER_OPTIONS]
    assert flags
    assert [flag for flag in flags if f"`{flag}`" not in text] == []
