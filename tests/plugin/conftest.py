from __future__ import annotations

from typing import Any

import pytest

import devpi_buildfarm.hooks
import devpi_license.hooks
import devpi_policy.hooks

ALL_PLUGINS = [devpi_policy.hooks, devpi_buildfarm.hooks, devpi_license.hooks]


@pytest.fixture
def xom(makexom: Any) -> Any:
    """devpi's in-process server with all three plugins (entry points are not loaded)."""
    xom = makexom(plugins=ALL_PLUGINS)
    yield xom
    xom.keyfs.release_all_wait_tx()
