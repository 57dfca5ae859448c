"""The builders file (TOML): which builder serves which targets, and its limits.

```toml
[builder.linux]
backend = "local"                 # or "docker" (image = ..., docker_host = ...)
targets = ["cp311-manylinux_x86_64"]
manylinux = "manylinux_2_28"
max_jobs = 2
timeout = 1800
memory = "2g"
pids = 512
disk = "4g"
output_bytes = "512m"
log_bytes = "4m"
```

Every limit has a default (:data:`DEFAULT_LIMITS`): a builder never runs unbounded.

Every problem of a file is reported at once (:class:`InvalidBuildersError`). Keys that
belong to other backends (``image``, ``docker_host``, ... for ``docker``; ``host``,
``port``, ``user``, ``key_file``, ``known_hosts`` for ``ssh``) are part of the schema; a
builder of a backend this server cannot run is reported as such.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.errors import InvalidBuildersError, InvalidTargetError

if TYPE_CHECKING:
    from collections.abc import Mapping

COMMON_KEYS: Final = ("backend", "targets", "manylinux", "max_jobs", "timeout", "memory", "pids",
                      "disk", "output_bytes", "log_bytes")  # fmt: skip
SIZE_KEYS: Final = ("memory", "disk", "output_bytes", "log_bytes")
BACKEND_KEYS: Final = {
    "local": ("rootfs",),
    "docker": (
        "image",
        "docker_host",
        "platform",
        "user",
        "cpus",
        "tls_ca_cert",
        "tls_client_cert",
        "tls_client_key",
        "key_file",
        "known_hosts",
        "docker_socket",
        "spare_seconds",
    ),
    "ssh": ("host", "port", "user", "key_file", "known_hosts", "sandbox"),
}
DEFAULT_TIMEOUT: Final = 1800
DEFAULT_PIDS: Final = 512
#: Limits of a builder that sets none: every build is bounded in all of them.
DEFAULT_LIMITS: Final = {"memory": 4 * 1024**3, "disk": 4 * 1024**3,
                         "output_bytes": 512 * 1024**2, "log_bytes": 4 * 1024**2}  # fmt: skip
_MEMORY = re.compile(r"^(?P<n>\d+)(?P<unit>[kmg]?)$", re.IGNORECASE)
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, kw_only=True, slots=True)
class Builder:
    """One builder: a backend and the targets it serves."""

    name: str
    backend: str
    targets: tuple[str, ...]
    manylinux: str | None = None
    max_jobs: int = 1
    timeout: int = DEFAULT_TIMEOUT
    memory: int = DEFAULT_LIMITS["memory"]
    pids: int = DEFAULT_PIDS
    disk: int = DEFAULT_LIMITS["disk"]
    output_bytes: int = DEFAULT_LIMITS["output_bytes"]
    log_bytes: int = DEFAULT_LIMITS["log_bytes"]
    settings: dict[str, Any] = field(default_factory=dict)

    def serves(self, target: str) -> bool:
        return target in self.targets

    def policy_for(self, target: str) -> str | None:
        """The Linux policy bounding ``target`` on this builder (``None``: the default)."""
        family = tg.parse_target(target).family
        if self.manylinux and self.manylinux.startswith(family):
            return self.manylinux
        return None


def parse_memory(value: object) -> int:
    """``"2g"`` / ``"512m"`` / ``1073741824`` -> bytes; ``ValueError`` otherwise.

    >>> parse_memory("2g")
    2147483648
    """
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _MEMORY.match(str(value).strip()) if isinstance(value, str) else None
    if match is None or int(match["n"]) <= 0:
        msg = f"memory {value!r} is not a size like '2g', '512m' or a number of bytes"
        raise ValueError(msg)
    return int(match["n"]) * _UNITS[match["unit"].lower()]


def _key_problems(
    data: dict[str, Any], where: str, installed: Mapping[str, tuple[str, ...]]
) -> list[str]:
    schema = {**BACKEND_KEYS, **installed}
    known = COMMON_KEYS + tuple(k for keys in schema.values() for k in keys)
    problems = []
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, 1, 0.7)
            hint = f"; did you mean {close[0]!r}" if close else ""
            problems.append(f"{where}: unknown key {key!r}{hint}")
    backend = data.get("backend", "local")
    if backend not in schema:
        names = ", ".join(sorted(schema))
        return [*problems, f"{where}: backend {backend!r} is not one of {names}"]
    allowed = COMMON_KEYS + schema[backend]
    foreign = [k for k in data if k in known and k not in allowed]
    problems.extend(f"{where}: key {k!r} does not apply to backend {backend!r}" for k in foreign)
    if backend not in installed:
        problems.append(
            f"{where}: backend {backend!r} is not available in this version; "
            f"available: {', '.join(sorted(installed))}"
        )
    return problems


def _value_problems(data: dict[str, Any], where: str) -> list[str]:
    problems = []
    patterns = data.get("targets")
    if not isinstance(patterns, list) or not patterns:
        problems.append(f"{where}: targets must be a non-empty list of target patterns")
    else:
        problems.extend(tg.pattern_problems(patterns, where))
    if "manylinux" in data:
        try:
            tg.parse_policy(str(data["manylinux"]))
        except InvalidTargetError as exc:
            problems.append(f"{where}: {exc}")
    for key in SIZE_KEYS:
        if key in data:
            try:
                parse_memory(data[key])
            except ValueError as exc:
                problems.append(f"{where}: {key}: {exc}")
    for key in ("max_jobs", "timeout", "pids"):
        value = data.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.append(f"{where}: {key} must be a positive integer, not {value!r}")
    return problems


def _builder(
    name: str, data: Any, problems: list[str], installed: Mapping[str, tuple[str, ...]]
) -> Builder | None:
    where = f"builder {name!r}"
    if not isinstance(data, dict):
        problems.append(f"{where}: must be a table")
        return None
    found = [] if _NAME.match(name) else [f"{where}: names are letters, digits, '.', '_' and '-'"]
    found += _key_problems(data, where, installed) + _value_problems(data, where)
    if found:
        problems.extend(found)
        return None
    return Builder(
        name=name,
        backend=str(data.get("backend", "local")),
        targets=tg.expand([str(p) for p in data["targets"]]),
        manylinux=str(data["manylinux"]) if "manylinux" in data else None,
        max_jobs=int(data.get("max_jobs", 1)),
        timeout=int(data.get("timeout", DEFAULT_TIMEOUT)),
        pids=int(data.get("pids", DEFAULT_PIDS)),
        **{key: parse_memory(data[key]) for key in SIZE_KEYS if key in data},
        settings={k: v for k, v in data.items() if k not in COMMON_KEYS},
    )


def parse_builders(
    text: str,
    source: str = "builders file",
    installed: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[Builder, ...]:
    """The builders of a TOML document; :class:`InvalidBuildersError` lists every problem.

    ``installed`` maps each backend this server can run to the keys of its settings
    (default: the built-in ``local``); backends of installed packages extend it.
    """
    installed = dict(installed) if installed is not None else {"local": ()}
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidBuildersError([f"{source}: not valid TOML: {exc}"]) from exc
    problems: list[str] = []
    unknown = [key for key in document if key != "builder"]
    problems.extend(
        f"{source}: unknown table {key!r}; builders are [builder.<name>]" for key in unknown
    )
    tables = document.get("builder", {})
    if not isinstance(tables, dict) or not tables:
        problems.append(f"{source}: no [builder.<name>] tables")
        tables = {}
    builders = [_builder(name, data, problems, installed) for name, data in tables.items()]
    if problems:
        raise InvalidBuildersError(problems)
    return tuple(b for b in builders if b is not None)


def default_builder(target: str, policy: str, max_jobs: int = 1) -> Builder:
    """The builder used without a builders file: the local host, for its own target, as
    many builds at once as the server runs workers (``max_jobs``)."""
    return Builder(name="local", backend="local", targets=(target,), manylinux=policy,
                   max_jobs=max(1, max_jobs))  # fmt: skip


def builder_for(builders: tuple[Builder, ...], target: str) -> Builder | None:
    """The first builder serving ``target``."""
    return next((b for b in builders if b.serves(target)), None)
