"""Index options of devpi_policy: the single source of their names and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

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
COUNTERS: Final = ["checks_total", "denials_total", "indexconfig_upgrades_total"]
GAUGES: Final[list[str]] = []


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexPolicy:
    """The ``policy_*`` options of one index, as stored (rules are parsed by the core)."""

    index: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_files: tuple[str, ...] = ()
    mode: str = "enforce"

    @classmethod
    def from_ixconfig(cls, index: str, ixconfig: Mapping[str, Any]) -> IndexPolicy:
        """Read the options of ``ixconfig``; missing ones (older indexes) take defaults."""
        return cls(
            index=index,
            include=tuple(ixconfig.get("policy_include", ())),
            exclude=tuple(ixconfig.get("policy_exclude", ())),
            exclude_files=tuple(ixconfig.get("policy_exclude_files", ())),
            mode=str(ixconfig.get("policy_mode", DEFAULTS["policy_mode"])),
        )

    @property
    def has_rules(self) -> bool:
        return bool(self.include or self.exclude or self.exclude_files)

    def as_json(self) -> dict[str, Any]:
        """The option names and values as devpi shows them."""
        return {
            "index": self.index,
            "policy_include": list(self.include),
            "policy_exclude": list(self.exclude),
            "policy_exclude_files": list(self.exclude_files),
            "policy_mode": self.mode,
        }
