"""A devpi-server test plugin: indexes whose title says so are readable only by some users.

An index whose ``title`` is ``read-restricted:root,alice`` lets only root and alice read its
packages (devpi's ``pkg_read`` permission, which devpi-server 6.20 checks for ``+f``/``+e``
downloads and pushes, not for ``+simple`` pages); every other index keeps devpi's default.
Loaded only by the server processes of the tests that put this directory on PYTHONPATH (see
``harness.readacl_env``): the ``*.dist-info`` next to this module declares it as a
``devpi_server`` entry point.
"""

from __future__ import annotations

from typing import Any

from pluggy import HookimplMarker

hookimpl = HookimplMarker("devpiserver")

PREFIX = "read-restricted:"


@hookimpl
def devpiserver_stage_get_principals_for_pkg_read(ixconfig: Any) -> list[str] | None:
    title = ixconfig.get("title") or ""
    if not isinstance(title, str) or not title.startswith(PREFIX):
        return None
    return [name.strip() for name in title.removeprefix(PREFIX).split(",") if name.strip()]
