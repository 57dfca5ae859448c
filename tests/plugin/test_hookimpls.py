"""Every hookimpl matches a devpi-server hookspec (names and arguments)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from devpi_server import hookspecs
from pluggy import PluginManager

from plugin.conftest import ALL_PLUGINS

if TYPE_CHECKING:
    from types import ModuleType


@pytest.mark.parametrize("module", ALL_PLUGINS, ids=lambda m: m.__name__)
def test_hookimpls_match_devpi_server_hookspecs(module: ModuleType) -> None:
    pm = PluginManager("devpiserver")
    pm.add_hookspecs(hookspecs)
    pm.register(module)
    pm.check_pending()
    assert pm.get_hookcallers(module)


def test_client_hookimpls_match_devpi_client_hookspecs() -> None:
    from devpi import hookspecs as client_hookspecs

    import devpi_policy.client

    pm = PluginManager("devpiclient")
    pm.add_hookspecs(client_hookspecs)
    pm.register(devpi_policy.client)
    pm.check_pending()
    (subcommands,) = pm.hook.devpiclient_subcommands()
    assert [name for _, name, _ in subcommands] == ["policy"]
