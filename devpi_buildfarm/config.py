"""Index options of devpi_buildfarm: the single source of their names and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

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
    "jobs_queued_total",
    "jobs_succeeded_total",
    "jobs_failed_total",
    "enqueue_errors_total",
    "worker_errors_total",
    "jobs_lost_total",
    "indexconfig_upgrades_total",
    "failures_total",  # background work and hooks that failed (one ERROR line each)
    "forget_errors_total",
]
GAUGES: Final = ["jobs_queued", "jobs_running", "workers", "unisolated"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerOptions:
    """The ``--buildfarm-*`` options of devpi-server (CLI or its ``--configfile``)."""

    db: str
    builders_file: str | None
    workers: int
    allow_unisolated: bool
    lease_seconds: float
    max_attempts: int
    log_max_bytes: int
    log_retention_days: float
    server_url: str | None
    env_cache_seconds: float = 600.0
    workdir: str = ""
    build_user: str = "nobody"

    @classmethod
    def from_args(cls, args: Any, serverdir: str) -> ServerOptions:
        """From devpi-server's parsed arguments; defaults where a process lacks them
        (devpi-import and devpi-init never build the plugin's options)."""

        # absolute from here on: builds run with other working directories (a relative
        # --serverdir would otherwise point elsewhere for pip, sqlite and the job dirs)
        serverdir = str(Path(serverdir).resolve())

        def get(name: str, default: Any) -> Any:
            value = getattr(args, f"buildfarm_{name}", None)
            return default if value is None else value

        return cls(
            db=get("db", "") or f"sqlite:///{serverdir}/.buildfarm/queue.sqlite",
            builders_file=get("builders", None),
            workers=int(get("workers", 1)),
            allow_unisolated=bool(get("allow_unisolated", False)),
            lease_seconds=float(get("lease_seconds", 60)),
            max_attempts=int(get("max_attempts", 3)),
            log_max_bytes=int(get("log_max_bytes", 4 * 1024 * 1024)),
            log_retention_days=float(get("log_retention_days", 30)),
            server_url=get("server_url", None),
            env_cache_seconds=float(get("env_cache_seconds", 600)),
            workdir=f"{serverdir}/.buildfarm",
            build_user=str(get("build_user", "nobody")),
        )


def option_present(args: Any) -> bool:
    """Whether this process parsed the build farm's options (``devpi-server`` did)."""
    return hasattr(args, "buildfarm_workers")


#: ``devpi-server`` options: (flag, keyword arguments of ``addoption``).
SERVER_OPTIONS: Final = (
    ("--buildfarm-db", {"metavar": "URL", "default": None, "help":
        "the build queue's database: an SQLAlchemy URL, e.g. "
        "postgresql+pg8000://user@host/db (default: SQLite in the server directory)"}),
    ("--buildfarm-builders", {"metavar": "FILE", "default": None, "help":
        "builders file (TOML); default: one local builder for this host's own target"}),
    ("--buildfarm-workers", {"type": int, "default": 1, "metavar": "N", "help":
        "in-process build workers (0: queue only, no builds in this process)"}),
    ("--buildfarm-allow-unisolated", {"action": "store_true", "default": False, "help":
        "let the local backend build without bubblewrap (package code then runs "
        "unisolated, with network access; /+status warns)"}),
    ("--buildfarm-lease-seconds", {"type": float, "default": 60.0, "metavar": "S", "help":
        "a running job's lease: a worker that stops heartbeating loses the job after this"}),
    ("--buildfarm-max-attempts", {"type": int, "default": 3, "metavar": "N", "help":
        "attempts per job before it fails for good (retries back off exponentially)"}),
    ("--buildfarm-log-max-bytes", {"type": int, "default": 4 * 1024 * 1024, "metavar": "B",
        "help": "size cap of one job's build log"}),
    ("--buildfarm-log-retention-days", {"type": float, "default": 30.0, "metavar": "D",
        "help": "build logs of jobs finished longer ago are deleted"}),
    ("--buildfarm-env-cache-seconds", {"type": float, "default": 600.0, "metavar": "S",
        "help": "reuse a fetched wheelhouse of build requirements (same index, identity and "
        "requirements) for this long; 0: fetch the requirements for every build"}),
    ("--buildfarm-build-user", {"metavar": "USER", "default": "nobody", "help":
        "the unprivileged user (name, uid or uid:gid) local builds run as when devpi-server "
        "runs as root (never root)"}),
    ("--buildfarm-server-url", {"metavar": "URL", "default": None, "help":
        "URL the build workers use to reach this server: they fetch sdists and build "
        "dependencies and publish wheels through it (default: http://<host>:<port>)"}),
)  # fmt: skip
