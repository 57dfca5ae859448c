"""Index and server options of devpi_policy: the single source of their names and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

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
        # quarantine (core/age.py): a duration (7d, 36h, P7D), an RFC 3339 time, deny|allow
        "policy_min_age": "",
        "policy_freeze": "",
        "policy_unknown_age": "deny",
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


#: ``--policy-push-out``: who may push a release out to an external repository URL
#: (core/pushout.py). Defined here, not in core: devpi-foundry-client ships this module.
PushOut = Literal["readers", "owners", "nobody"]
PUSH_OUT_MODES: Final[tuple[PushOut, ...]] = ("readers", "owners", "nobody")

#: ``devpi-server`` options: (flag, keyword arguments of ``addoption``).
SERVER_OPTIONS: Final = (
    ("--policy-push-out", {"choices": PUSH_OUT_MODES, "default": "readers", "help":
        "who may push releases out to an external repository URL (devpi push NAME==VER "
        "pypi:REPO): readers (devpi's behaviour: anyone who may read the index, anonymous "
        "users included), owners (users who may modify the index) or nobody"}),
    ("--policy-push-out-url", {"action": "append", "default": None, "metavar": "URL", "help":
        "allow pushing out only to this URL or below it (repeat for more; default: any)"}),
)  # fmt: skip


def add_parser_options(parser: Any) -> None:
    """devpi-server's ``--policy-*`` options."""
    group = parser.addgroup("devpi-policy options")
    for flag, kwargs in SERVER_OPTIONS:
        group.addoption(flag, **kwargs)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """The ``--policy-*`` options (CLI, ``--configfile`` or ``DEVPISERVER_POLICY_*``)."""

    push_out: PushOut = "readers"
    push_out_urls: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args: Any) -> ServerOptions:
        """From devpi-server's parsed arguments; defaults where a process lacks them."""
        mode = getattr(args, "policy_push_out", None) or "readers"
        urls = getattr(args, "policy_push_out_url", None) or ()
        return cls(
            push_out=mode if mode in PUSH_OUT_MODES else "nobody",  # unknown: fail closed
            push_out_urls=tuple(str(url) for url in urls),
        )
