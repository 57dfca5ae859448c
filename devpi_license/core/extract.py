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
    from collections.abc import Mapping

EVIDENCE_CHARS: Final = 300


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one source says: its raw value (shortened) and what it was read as."""

    source: str
    value: str
    expression: str | None
    confidence: float
    how: str

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "value": self.value, "expression": self.expression,
                "confidence": self.confidence, "how": self.how}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LicenseInfo:
    """The license of a release: ``expression`` (SPDX) from ``source``, or unknown."""

    expression: str | None
    source: str | None
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    conflicts: tuple[str, ...] = field(default=())

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
            evidence=tuple(Evidence(**e) for e in data.get("evidence") or ()),
            conflicts=tuple(data.get("conflicts") or ()),
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


def extract(raw: Mapping[str, Any], license_files: Mapping[str, str]) -> LicenseInfo:
    """The license named by core metadata ``raw`` (``packaging.metadata.parse_email``'s
    dict) and the texts of its license files (name -> text)."""
    tiers = [
        ("License-Expression", _from_expression(raw), "OR"),
        # several license classifiers usually mean a choice (dual licensing)
        ("Classifier", _from_classifiers(raw), "OR"),
        ("License", [_from_text("License", str(raw["license"]))] if raw.get("license") else [],
         "OR"),
        # several license files usually mean bundled parts: all apply
        ("License-File", [_from_text(f"License-File {name}", text)
                          for name, text in sorted(license_files.items())], "AND"),
    ]  # fmt: skip
    evidence = [e for _, found, _ in tiers for e in found]
    chosen: tuple[str, float, str] | None = None
    conflicts = []
    for source, found, operator in tiers:
        result = _combined(found, operator)
        if result is None:
            continue
        if chosen is None:
            chosen = (result[0], result[1], source)
        elif normalize(result[0]) != normalize(chosen[0]):
            conflicts.append(f"{source} says {result[0]!r}, {chosen[2]} says {chosen[0]!r}")
    if chosen is None:
        return LicenseInfo(None, None, 0.0, tuple(evidence), ())
    return LicenseInfo(chosen[0], chosen[2], chosen[1], tuple(evidence), tuple(conflicts))
