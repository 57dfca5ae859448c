"""devpi-web hooks of devpi_buildfarm (entry point ``devpi-buildfarm``, group ``devpi_web``).

``/+status`` (devpi-web's status page and its header badge) warns while local builds run
without isolation (``--buildfarm-allow-unisolated`` on a host without bubblewrap), or are
refused for want of bubblewrap; the
JSON ``/+status`` has the ``devpi_buildfarm_unisolated`` gauge. Runs on every devpi-web
page: only reads in-memory state.
"""

from __future__ import annotations

from typing import Any

from pluggy import HookimplMarker

from devpi_buildfarm.adapters import service

web_hookimpl = HookimplMarker("devpiweb")


@web_hookimpl
def devpiweb_get_status_info(request: Any) -> list[dict[str, str]]:
    """Warnings for devpi-web's ``/+status`` page."""
    farm = service.existing_farm(request.registry["xom"])
    if farm is None or not farm.threads:
        return []
    if farm.backend.isolation != "none":
        return []
    if farm.options.allow_unisolated:
        msg = (
            "devpi-buildfarm: local builds run WITHOUT isolation (bubblewrap is missing; "
            "--buildfarm-allow-unisolated is set)"
        )
    else:
        msg = (
            "devpi-buildfarm: bubblewrap is missing, so local builds are refused; install "
            "bubblewrap or allow unisolated builds with --buildfarm-allow-unisolated"
        )
    return [{"status": "warn", "msg": msg}]
