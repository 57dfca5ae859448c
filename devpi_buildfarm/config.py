"""Index options of devpi_buildfarm: the single source of their names and defaults."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

FEATURE: Final = "devpi-buildfarm"
METRICS_PREFIX: Final = "devpi_buildfarm"

#: Index options (``devpi index user/idx key=value``) with their defaults.
#: ``buildfarm_upload_to`` empty means: publish built wheels into the same index.
DEFAULTS: Final = MappingProxyType(
    {
        "buildfarm_targets": [],
        "buildfarm_upload_to": "",
    }
)

#: Counters and gauges published in ``/+status`` (prefixed with ``devpi_buildfarm_``).
COUNTERS: Final = [
    "jobs_succeeded_total",
    "jobs_failed_total",
    "indexconfig_upgrades_total",
]
GAUGES: Final = ["jobs_queued", "jobs_running", "workers"]
