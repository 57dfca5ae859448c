"""Index options of devpi_license: the single source of their names and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

FEATURE: Final = "devpi-license"
METRICS_PREFIX: Final = "devpi_license"

#: Index options (``devpi index user/idx key=value``) with their defaults.
DEFAULTS: Final = MappingProxyType(
    {
        "license_allow": [],
        "license_deny": [],
        "license_unknown": "allow",
        "license_unreadable": "deny",
    }
)

#: Options that only devpi_policy can enforce (through its hooks): setting them on a server
#: without devpi_policy is refused rather than silently not enforced.
POLICY_FEATURE: Final = "devpi-policy"
NEEDS_POLICY: Final = ("license_allow", "license_deny", "license_unknown", "license_unreadable")
#: devpi_policy's option for an index's mode: in ``dry-run`` its refusals are let through
POLICY_MODE: Final = "policy_mode"
DRY_RUN: Final = "dry-run"

#: Counters and gauges published in ``/+status`` (prefixed with ``devpi_license_``).
COUNTERS: Final = [
    "extractions_total",
    "extraction_errors_total",
    "pending_total",
    "rejections_total",
    "indexconfig_upgrades_total",
    "failures_total",  # background work and hooks that failed (one ERROR line each)
    "forget_errors_total",
]
GAUGES: Final = ["extract_queue"]

#: ``--license-*`` options of devpi-server, with their defaults.
WAIT_SECONDS: Final = 10.0
FETCH_MAX_MB: Final = 200
EXTRACT_WORKERS: Final = 4


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """The ``--license-*`` options (CLI, ``--configfile`` or ``DEVPISERVER_LICENSE_*``)."""

    wait_seconds: float = WAIT_SECONDS
    fetch_max_bytes: int = FETCH_MAX_MB * 1024 * 1024
    extract_workers: int = EXTRACT_WORKERS
    mirror_extract: str = "eager"

    @classmethod
    def from_args(cls, args: Any) -> ServerOptions:
        """From devpi-server's parsed arguments; defaults where a process lacks them
        (devpi-import and devpi-init never build the plugin's options)."""

        def get(name: str, default: Any) -> Any:
            value = getattr(args, f"license_{name}", None)
            return default if value is None else value

        return cls(
            wait_seconds=max(0.0, float(get("wait_seconds", WAIT_SECONDS))),
            fetch_max_bytes=int(float(get("fetch_max_mb", FETCH_MAX_MB)) * 1024 * 1024),
            extract_workers=max(1, int(get("extract_workers", EXTRACT_WORKERS))),
            mirror_extract=str(get("mirror_extract", "eager")),
        )


def add_parser_options(parser: Any) -> None:
    """devpi-server's ``--license-*`` options (group "license")."""
    group = parser.addgroup("devpi-license options")
    group.addoption(
        "--license-wait-seconds", type=float, default=WAIT_SECONDS,
        help="how long a request that meets a release whose license is not extracted yet "
        "waits for it (once per request and project); until known, the release counts as "
        "denied on indexes with license rules",
    )  # fmt: skip
    group.addoption(
        "--license-fetch-max-mb", type=float, default=FETCH_MAX_MB,
        help="largest file read for its license (MB); larger ones count as unknown",
    )  # fmt: skip
    group.addoption(
        "--license-mirror-extract", choices=("eager", "on-demand"), default="eager",
        help="eager: read the licenses of a mirror's releases whenever devpi (re)fetches a "
        "project page; on-demand: only when a request needs one (rules, +license)",
    )  # fmt: skip
    group.addoption(
        "--license-extract-workers", type=int, default=EXTRACT_WORKERS,
        help="threads reading files for their license (mirrored files are fetched from "
        "upstream when not cached, their PEP 658 .metadata first)",
    )  # fmt: skip
