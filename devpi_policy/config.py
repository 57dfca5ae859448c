"""Index options of devpi_policy: the single source of their names and defaults."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

FEATURE: Final = "devpi-policy"
METRICS_PREFIX: Final = "devpi_policy"

#: Index options (``devpi index user/idx key=value``) with their defaults. devpi normalises a
#: value by the type of its default, so list options accept comma-separated strings.
DEFAULTS: Final = MappingProxyType(
    {
        "policy_include": [],
        "policy_exclude": [],
        "policy_exclude_files": [],
        "policy_mode": "enforce",
    }
)

#: Counters and gauges published in ``/+status`` (prefixed with ``devpi_policy_``).
COUNTERS: Final = [
    "checks_total",  # uploads, pushes, downloads and policy checks decided
    "denials_total",  # of those, refused
    "dry_run_total",  # of those, refused only in dry-run mode (let through)
    "hidden_total",  # JSON API entries hidden per file
    "indexconfig_upgrades_total",
]
GAUGES: Final[list[str]] = []
