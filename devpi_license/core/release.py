"""The license of a release, from what its files say, and its stored form.

A release's files (wheels, sdist) each carry core metadata; the most trusted finding of
any file decides, ties going to the higher confidence. Every piece of evidence keeps the
file it came from, so a release can be decided again from its stored evidence alone
(:func:`from_evidence`): that is what devpi's versiondata keeps for private releases
(``license_spdx``, ``license_sources``) and what the plugin's own store keeps for
mirrored ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from devpi_license.core.extract import TIERS, Evidence, LicenseInfo, decide, unreadable_reasons
from devpi_license.core.spdx import normalize

#: versiondata keys (no ``+`` prefix: those break devpi-import)
SPDX_KEY: Final = "license_spdx"
SOURCES_KEY: Final = "license_sources"
UNKNOWN_TEXT: Final = "unknown"

State = Literal["known", "unknown", "unreadable"]


@dataclass(frozen=True, slots=True)
class ReleaseLicense:
    """``expression`` (SPDX, ``None``: unknown) of a release, decided from ``source`` of
    ``file``; ``evidence`` holds what every read file says."""

    expression: str | None
    source: str | None
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    conflicts: tuple[str, ...] = ()
    file: str | None = None

    @property
    def state(self) -> State:
        """``unreadable`` when the reader refused a file (whatever its metadata named)."""
        if self.unreadable:
            return "unreadable"
        return "known" if self.expression else "unknown"

    @property
    def unreadable(self) -> tuple[str, ...]:
        """Why files of the release could not be read (empty: every file was read)."""
        return unreadable_reasons(self.evidence)

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.file for e in self.evidence if e.file))

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "expression": self.expression,
            "source": self.source,
            "confidence": self.confidence,
            "file": self.file,
            "files": list(self.files),
            "evidence": [e.as_json() for e in self.evidence],
            "conflicts": list(self.conflicts),
            "unreadable": list(self.unreadable),
        }

    def as_versiondata(self) -> dict[str, Any]:
        """The versiondata keys of a private release: a string and a list of strings (one
        JSON object per piece of evidence), because devpi-web's version page, with or
        without this plugin, renders list items as text and fails on anything else."""
        return {
            SPDX_KEY: self.expression or UNKNOWN_TEXT,
            SOURCES_KEY: [json.dumps(e.as_json(), sort_keys=True) for e in self.evidence],
        }


def file_kind(filename: str) -> str:
    """``wheel``, ``sdist`` or ``file``: how versiondata names the files of a release.

    >>> file_kind("a-1-py3-none-any.whl"), file_kind("a-1.tar.gz"), file_kind("a-1.egg")
    ('wheel', 'sdist', 'file')
    """
    if filename.endswith(".whl"):
        return "wheel"
    if filename.endswith((".tar.gz", ".zip", ".tar.bz2", ".tgz")):
        return "sdist"
    return "file"


def _rank(item: tuple[str, LicenseInfo]) -> tuple[int, float, int, str]:
    filename, info = item
    tier = TIERS.get(info.source or "", len(TIERS)) if info.expression else len(TIERS) + 1
    return (tier, -info.confidence, 0 if file_kind(filename) == "wheel" else 1, filename)


def _said_something(filename: str, info: LicenseInfo) -> LicenseInfo:
    """A file that names no license still leaves evidence that it was read."""
    if info.evidence:
        return info
    nothing = Evidence("file", filename, None, 0.0, "read: its metadata names no license")
    return replace(info, evidence=(nothing,))


def combine(per_file: Mapping[str, LicenseInfo]) -> ReleaseLicense:
    """The release's license from each file's (``filename -> info``).

    >>> from devpi_license.core.extract import extract
    >>> rl = combine({"a-1.tar.gz": extract({"license": "MIT"}, {}),
    ...               "a-1-py3-none-any.whl": extract({"license_expression": "Apache-2.0"}, {})})
    >>> rl.expression, rl.file
    ('Apache-2.0', 'a-1-py3-none-any.whl')
    >>> rl.conflicts
    ("a-1.tar.gz says 'MIT', a-1-py3-none-any.whl says 'Apache-2.0'",)
    """
    if not per_file:
        return ReleaseLicense(None, None, 0.0)
    per_file = {name: _said_something(name, info) for name, info in per_file.items()}
    ranked = sorted(per_file.items(), key=_rank)
    best_file, best = ranked[0]
    evidence = tuple(replace(e, file=name) for name, info in ranked for e in info.evidence)
    conflicts = [f"{best_file}: {c}" for c in best.conflicts]
    if best.expression:
        for name, info in ranked[1:]:
            if info.expression and normalize(info.expression) != normalize(best.expression):
                conflicts.append(f"{name} says {info.expression!r}, {best_file} says "
                                 f"{best.expression!r}")  # fmt: skip
    return ReleaseLicense(
        best.expression,
        best.source,
        best.confidence,
        evidence,
        tuple(conflicts),
        best_file if best.expression else None,
    )


def from_evidence(evidence: Sequence[Evidence]) -> ReleaseLicense:
    """Decide a release again from its stored evidence (grouped by file)."""
    per_file: dict[str, list[Evidence]] = {}
    for item in evidence:
        per_file.setdefault(item.file or "", []).append(replace(item, file=None))
    return combine({name: decide(found) for name, found in per_file.items()})


def with_file(current: ReleaseLicense | None, filename: str, info: LicenseInfo) -> ReleaseLicense:
    """``current`` with the findings of ``filename`` added (or replaced, on re-upload)."""
    kept = [e for e in (current.evidence if current else ()) if e.file != filename]
    added = _said_something(filename, info).evidence
    return from_evidence([*kept, *(replace(e, file=filename) for e in added)])


def from_versiondata(versiondata: Mapping[str, Any]) -> ReleaseLicense | None:
    """The license stored in a private release's versiondata (``None``: never extracted)."""
    sources = versiondata.get(SOURCES_KEY)
    if isinstance(sources, str | bytes) or not isinstance(sources, Sequence):
        return None
    return from_evidence(_evidence(sources))


def _evidence(items: Sequence[Any]) -> list[Evidence]:
    """Evidence from stored items: mappings, or JSON strings of them (versiondata); what
    cannot be read (edited by hand) is not evidence."""
    evidence = []
    for item in items:
        try:
            data = json.loads(item) if isinstance(item, str) else item
        except ValueError:
            continue
        if isinstance(data, Mapping):
            evidence.append(Evidence.from_json(data))
    return evidence


def from_json(data: Mapping[str, Any]) -> ReleaseLicense:
    """A release license from :meth:`ReleaseLicense.as_json`."""
    return from_evidence(_evidence(data.get("evidence") or ()))
