"""Index options of devpi_license: the single source of their names and defaults."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

FEATURE: Final = "devpi-license"
METRICS_PREFIX: Final = "devpi_license"

#: Index options (``devpi index user/idx key=value``) with their defaults.
DEFAULTS: Final = MappingProxyType(
    {
        "license_allow": [],
        "license_deny": [],
        "license_unknown": "allow",
    }
)

#: Options that only devpi_policy can enforce (through its hooks): setting them on a server
#: without devpi_policy is refused rather than silently not enforced.
POLICY_FEATURE: Final = "devpi-policy"
NEEDS_POLICY: Final = ("license_allow", "license_deny", "license_unknown")

#: Counters and gauges published in ``/+status`` (prefixed with ``devpi_license_``).
COUNTERS: Final = ["extractions_total", "rejections_total", "indexconfig_upgrades_total"]
GAUGES: Final[list[str]] = []
