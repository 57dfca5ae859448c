"""Index and server options of devpi_policy: the single source of their names and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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
    "failures_total",  # background work and hooks that failed (one ERROR line each)
    "audit_recorded_total",  # refusals queued for the audit
    "audit_dropped_total",  # refusals the audit lost: its queue was full
    "audit_write_errors_total",  # failed writes of the audit thread (each logged once)
    "audit_pruned_total",  # audit rows deleted after the retention
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
    ("--policy-audit-db", {"metavar": "URL", "default": None, "help":
        "the refusal audit's database: an SQLAlchemy URL, e.g. "
        "postgresql+pg8000://user@host/db (default: SQLite in the server directory)"}),
    ("--policy-audit-retention-days", {"type": float, "default": 90.0, "metavar": "D", "help":
        "audit rows older than this are deleted (hourly, by the audit thread)"}),
    ("--policy-audit-queue", {"type": int, "default": 10000, "metavar": "N", "help":
        "refusals waiting for the audit thread at most; more are dropped and counted in "
        "devpi_policy_audit_dropped_total"}),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """The ``--policy-audit-*`` options."""

    db: str
    retention_days: float = 90.0
    queue: int = 10000

    @classmethod
    def from_args(cls, args: Any, serverdir: str) -> AuditOptions:
        """From devpi-server's parsed arguments; defaults where a process lacks them."""
        db = getattr(args, "policy_audit_db", None)
        days = getattr(args, "policy_audit_retention_days", None)
        size = getattr(args, "policy_audit_queue", None)
        return cls(
            db=db or f"sqlite:///{Path(serverdir).resolve()}/.devpi-policy/audit.sqlite",
            retention_days=90.0 if days is None else float(days),
            queue=10000 if size is None else int(size),
        )

    def problems(self) -> list[str]:
        """What is wrong with these options (empty: nothing)."""
        found = []
        if not self.retention_days > 0:
            found.append("--policy-audit-retention-days must be more than 0")
        if self.queue < 1:
            found.append("--policy-audit-queue must be at least 1")
        return found


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
