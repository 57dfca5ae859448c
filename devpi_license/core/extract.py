"""A release's license from its core metadata and license files, with the evidence.

Sources, most trusted first: PEP 639 ``License-Expression``, license classifiers, the
legacy ``License`` field, ``License-File`` contents. The most trusted source that names a
license decides; every source is kept as evidence, and a less trusted source that names a
different license is reported as a conflict. Nothing found: ``unknown`` (``expression``
is ``None``), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from devpi_license.core.classifiers import classify
from devpi_license.core.freetext import match_text
from devpi_license.core.spdx import normalize

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

EVIDENCE_CHARS: Final = 300
#: sources, most trusted first, and how several findings of one source combine: several
#: license classifiers usually mean a choice (dual licensing), several license files
#: usually mean bundled parts, all of which apply
TIERS: Final = {"License-Expression": 0, "Classifier": 1, "License": 2, "License-File": 3}
OPERATORS: Final = ("OR", "OR", "OR", "AND")
#: the evidence source of a file the bounded reader refused (``how`` says why); it names no
#: license, and a release with such evidence is ``unreadable`` (core/rules.py)
UNREADABLE: Final = "unreadable"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one source says: its raw value (shortened) and what it was read as."""

    source: str
    value: str
    expression: str | None
    confidence: float
    how: str
    file: str | None = None

    def as_json(self) -> dict[str, Any]:
        found = {"source": self.source, "value": self.value, "expression": self.expression,
                 "confidence": self.confidence, "how": self.how}  # fmt: skip
        if self.file is not None:
            found["file"] = self.file
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        return cls(
            source=str(data.get("source") or ""),
            value=str(data.get("value") or ""),
            expression=data.get("expression") or None,
            confidence=float(data.get("confidence") or 0.0),
            how=str(data.get("how") or ""),
            file=data.get("file") or None,
        )

    @property
    def tier(self) -> int:
        """How trusted the source is: 0 (``License-Expression``) to 3 (license files)."""
        return TIERS.get(self.source.split(" ", 1)[0], len(TIERS))


@dataclass(frozen=True, slots=True)
class LicenseInfo:
    """The license of a release: ``expression`` (SPDX) from ``source``, or unknown."""

    expression: str | None
    source: str | None
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    conflicts: tuple[str, ...] = field(default=())

    @property
    def unreadable(self) -> tuple[str, ...]:
        """Why the file (or files) could not be read; empty when all were read."""
        return unreadable_reasons(self.evidence)

    def as_json(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "source": self.source,
            "confidence": self.confidence,
            "evidence": [e.as_json() for e in self.evidence],
            "conflicts": list(self.conflicts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LicenseInfo:
        return cls(
            expression=data.get("expression"),
            source=data.get("source"),
            confidence=float(data.get("confidence") or 0.0),
            evidence=tuple(Evidence.from_json(e) for e in data.get("evidence") or ()),
            conflicts=tuple(data.get("conflicts") or ()),
        )


def unreadable_reasons(evidence: Sequence[Evidence]) -> tuple[str, ...]:
    """The reasons in ``evidence`` that a file could not be read, each naming its file."""
    return tuple(
        f"{e.file or e.value} {e.how}" if (e.file or e.value) else e.how
        for e in evidence
        if e.source == UNREADABLE
    )


UNKNOWN: Final = LicenseInfo(expression=None, source=None, confidence=0.0)


def _short(value: str) -> str:
    text = " ".join(value.split())
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 3] + "..."


def _from_expression(raw: Mapping[str, Any]) -> list[Evidence]:
    value = raw.get("license_expression")
    if not value:
        return []
    canonical = normalize(str(value))
    how = "PEP 639 expression" if canonical else "not a valid SPDX expression"
    return [Evidence("License-Expression", _short(str(value)), canonical,
                     1.0 if canonical else 0.0, how)]  # fmt: skip


def _from_classifiers(raw: Mapping[str, Any]) -> list[Evidence]:
    found = []
    for classifier in raw.get("classifiers") or ():
        mapped = classify(str(classifier))
        if mapped is not None:
            how = "classifier table" if mapped[0] else "names a license family, no version"
            found.append(Evidence("Classifier", str(classifier), mapped[0], mapped[1], how))
    return found


def _from_text(source: str, value: str) -> Evidence:
    match = match_text(value)
    if match is None:
        return Evidence(source, _short(value), None, 0.0, "not recognised")
    return Evidence(source, _short(value), match.expression, match.confidence, match.how)


def _combined(evidence: list[Evidence], operator: str) -> tuple[str, float] | None:
    """One expression from several sources of the same kind (``OR``/``AND``)."""
    named = [e for e in evidence if e.expression]
    if not named:
        return None
    unique = list(dict.fromkeys(e.expression for e in named if e.expression))
    confidence = min(e.confidence for e in named)
    if len(unique) == 1:
        return unique[0], confidence
    joined = normalize(f" {operator} ".join(f"({u})" if " " in u else u for u in unique))
    return (joined, round(confidence - 0.1, 2)) if joined else None


def evidence_of(raw: Mapping[str, Any], license_files: Mapping[str, str]) -> list[Evidence]:
    """What each source of core metadata ``raw`` (``packaging.metadata.parse_email``'s dict)
    and its license files (name -> text) says, most trusted first."""
    found = _from_expression(raw) + _from_classifiers(raw)
    if raw.get("license"):
        found.append(_from_text("License", str(raw["license"])))
    found += [_from_text(f"License-File {name}", text)
              for name, text in sorted(license_files.items())]  # fmt: skip
    return found


def decide(evidence: Sequence[Evidence]) -> LicenseInfo:
    """The license the evidence names: the most trusted source that names one decides; a
    less trusted source naming another license is reported as a conflict."""
    chosen: tuple[str, float, str] | None = None
    conflicts = []
    for tier, source in enumerate(TIERS):
        found = [e for e in evidence if e.tier == tier]
        result = _combined(found, OPERATORS[tier])
        if result is None:
            continue
        if chosen is None:
            chosen = (result[0], result[1], source)
        elif normalize(result[0]) != normalize(chosen[0]):
            conflicts.append(f"{source} says {result[0]!r}, {chosen[2]} says {chosen[0]!r}")
    if chosen is None:
        return LicenseInfo(None, None, 0.0, tuple(evidence), ())
    return LicenseInfo(chosen[0], chosen[2], chosen[1], tuple(evidence), tuple(conflicts))


def extract(raw: Mapping[str, Any], license_files: Mapping[str, str]) -> LicenseInfo:
    """The license named by core metadata ``raw`` and the texts of its license files."""
    return decide(evidence_of(raw, license_files))
