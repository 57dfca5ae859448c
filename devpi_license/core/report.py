"""A closure's license report: pip's ``--report`` -> releases -> rows -> exit status.

pip's installation report (``pip install --dry-run --report``) names every release of the
resolved closure with its core metadata. Each release's license and verdict come from the
server (``+license``); :func:`row_from_result` turns that answer, or the reason there is
none, into a row. A row is refused when the server's verdict refuses it, or when no verdict
could be fetched at all.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

#: Verdict states in the order a summary lists them.
VERDICTS: Final = ("allowed", "would refuse", "denied", "unknown", "pending", "error")
#: the verdict of a release that only rules in ``policy_mode=dry-run`` refuse
WOULD_REFUSE: Final = "would refuse"


class ExitCode(enum.IntEnum):
    OK = 0
    REFUSED = 1
    MISSING_WHEELS = 2


class InvalidPipReportError(ValueError):
    """pip's report is not the JSON pip documents (``version`` 1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """One release of the resolved closure, as pip's report describes it."""

    name: str
    version: str
    requested: bool = False
    requires_dist: tuple[str, ...] = ()
    requested_extras: tuple[str, ...] = ()

    @property
    def key(self) -> NormalizedName:
        return canonicalize_name(self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    releases: tuple[Release, ...]
    environment: Mapping[str, str] = field(default_factory=dict)


def parse_pip_report(data: Any) -> Resolution:
    """The releases of a pip installation report, sorted by name."""
    try:
        releases = [
            Release(
                name=str(item["metadata"]["name"]),
                version=str(item["metadata"]["version"]),
                requested=bool(item.get("requested")),
                requires_dist=tuple(item["metadata"].get("requires_dist") or ()),
                requested_extras=tuple(item.get("requested_extras") or ()),
            )
            for item in data["install"]
        ]
        environment = {str(k): str(v) for k, v in (data.get("environment") or {}).items()}
    except (KeyError, TypeError, AttributeError) as exc:
        msg = f"pip's report is not usable: missing or malformed {exc}"
        raise InvalidPipReportError(msg) from exc
    releases.sort(key=lambda r: r.key)
    return Resolution(releases=tuple(releases), environment=environment)


def dependency_graph(resolution: Resolution) -> dict[NormalizedName, tuple[NormalizedName, ...]]:
    """Which resolved releases each resolved release requires (markers evaluated with the
    report's environment and the extras anyone asked of it)."""
    resolved = {r.key for r in resolution.releases}
    parsed = {r.key: _requirements(r.requires_dist) for r in resolution.releases}
    extras: dict[NormalizedName, set[str]] = {
        r.key: {"", *r.requested_extras} for r in resolution.releases
    }
    for requirements in parsed.values():
        for req in requirements:
            extras.setdefault(canonicalize_name(req.name), {""}).update(req.extras)
    graph = {}
    for release in resolution.releases:
        needs = {
            canonicalize_name(req.name)
            for req in parsed[release.key]
            if canonicalize_name(req.name) in resolved
            and _applies(req, resolution.environment, extras[release.key])
        }
        graph[release.key] = tuple(sorted(needs - {release.key}))
    return graph


def _requirements(lines: Iterable[str]) -> list[Requirement]:
    found = []
    for line in lines:
        try:
            found.append(Requirement(line))
        except InvalidRequirement:
            continue
    return found


def _applies(req: Requirement, environment: Mapping[str, str], extras: set[str]) -> bool:
    if req.marker is None:
        return True
    try:
        return any(req.marker.evaluate({**environment, "extra": e}) for e in sorted(extras))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return True  # an edge too many beats a missing one in an SBOM


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseRow:
    """One line of the report: a release, its license and the index's verdict."""

    name: str
    version: str
    expression: str | None = None
    state: str = "unknown"
    source: str | None = None
    verdict: str = "unknown"
    refused: bool = True
    reason: str | None = None
    #: newer versions the index's rules hide from pip (``"2.0: <reason>"``)
    hidden: tuple[str, ...] = ()


def row_from_result(
    release: Release, result: Mapping[str, Any] | None, error: str | None
) -> LicenseRow:
    """A row from the server's ``+license`` result, or from why there is none."""
    if result is None:
        return LicenseRow(
            name=release.name,
            version=release.version,
            state="error",
            verdict="error",
            reason=error or "the server returned no license",
        )
    verdict = result.get("verdict") or {}
    refused = bool(verdict.get("refused", True))
    state = str(verdict.get("state") or "unknown")
    reason: str | None = verdict.get("reason")
    would_refuse = verdict.get("dry_run") or []
    if would_refuse and not refused:  # the server lets it through, as the report does
        state, reason = WOULD_REFUSE, f"{'; '.join(would_refuse)} (dry-run)"
    return LicenseRow(
        name=release.name,
        version=release.version,
        expression=result.get("expression"),
        state=str(result.get("state") or "unknown"),
        source=result.get("source"),
        verdict=state,
        refused=refused,
        reason=reason,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    total: int
    verdicts: Mapping[str, int]
    refused: int

    @property
    def text(self) -> str:
        """``12 packages: 10 allowed, 1 denied, 1 unknown; 1 refused``"""
        counts = ", ".join(f"{n} {state}" for state, n in self.verdicts.items())
        noun = "package" if self.total == 1 else "packages"
        return f"{self.total} {noun}: {counts or 'none'}; {self.refused} refused"


def summarize(rows: Sequence[LicenseRow]) -> Summary:
    counts = Counter(row.verdict for row in rows)
    order = [v for v in VERDICTS if v in counts] + sorted(set(counts) - set(VERDICTS))
    return Summary(
        total=len(rows),
        verdicts={v: counts[v] for v in order},
        refused=sum(r.refused for r in rows),
    )


def exit_code(rows: Iterable[LicenseRow]) -> ExitCode:
    """``REFUSED`` when any row is refused, else ``OK``."""
    return ExitCode.REFUSED if any(row.refused for row in rows) else ExitCode.OK


def parse_release_spec(spec: str) -> tuple[str, str | None]:
    """``"foo==1.0"`` -> ``("foo", "1.0")``; ``"foo"`` -> ``("foo", None)``.

    >>> parse_release_spec("Foo_Bar == 2.0")
    ('Foo_Bar', '2.0')
    """
    name, sep, version = (part.strip() for part in spec.partition("=="))
    if not name or (sep and not version) or any(c in name for c in "<>=!~;[ @"):
        msg = f"release {spec!r}: expected PROJECT or PROJECT==VERSION"
        raise ValueError(msg)
    return name, version or None


def newest_version(versions: Iterable[str]) -> str | None:
    """The newest final release among ``versions``, else the newest pre-release.

    >>> newest_version(["1.0", "2.0rc1", "1.10", "junk"])
    '1.10'
    """
    parsed = []
    for text in versions:
        try:
            parsed.append((Version(text), text))
        except InvalidVersion:
            continue
    finals = [p for p in parsed if not p[0].is_prerelease]
    return max(finals or parsed)[1] if parsed else None


def spec_names(specs: Iterable[str]) -> list[str]:
    """The project names of requirement SPECs, each once (unparseable ones left out).

    >>> spec_names(["Flask>=3", "flask[async]", "not a spec!", "idna"])
    ['Flask', 'idna']
    """
    names: dict[str, str] = {}
    for spec in specs:
        try:
            name = Requirement(spec).name
        except InvalidRequirement:
            continue
        names.setdefault(canonicalize_name(name), name)
    return list(names.values())
