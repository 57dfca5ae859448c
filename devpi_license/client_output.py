"""How ``devpi license`` prints a release's license, a closure report and missing wheels.

Documents (``--json``, ``--format json|cyclonedx``) are exact JSON on stdout or in the
``--output`` file; when a document goes to stdout, every message goes to stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from devpi_license.core.report import LicenseRow, Summary
    from devpi_license.core.wheels import MissingWheel


class Console:
    """Messages through devpi's hub, or to stderr while stdout carries a document."""

    def __init__(self, hub: Any, *, stdout_is_document: bool = False) -> None:
        self.hub = hub
        self.stdout_is_document = stdout_is_document

    def _stderr(self, msg: str) -> None:
        sys.stderr.write(msg + "\n")

    def line(self, msg: str) -> None:
        if self.stdout_is_document:
            self._stderr(msg)
        else:
            self.hub.line(msg)

    def info(self, msg: str) -> None:
        if self.stdout_is_document:
            self._stderr(msg)
        else:
            self.hub.info(msg)

    def error(self, msg: str) -> None:
        if self.stdout_is_document:
            self._stderr(msg)
        else:
            self.hub.error(msg)


def _verdict_text(verdict: dict[str, Any]) -> str:
    state = str(verdict.get("state") or "unknown")
    would_refuse = verdict.get("dry_run") or []
    if would_refuse and not verdict.get("refused"):
        return f"would refuse (dry-run, let through): {'; '.join(would_refuse)}"
    text = f"{state} (refused)" if verdict.get("refused") and state != "denied" else state
    return f"{text}: {verdict['reason']}" if verdict.get("reason") else text


def show_lines(result: dict[str, Any]) -> list[str]:
    """``devpi license show``: one release's license, verdict and evidence."""
    stored = result.get("stored_in")
    where = f" (stored in {stored})" if stored and stored != result.get("index") else ""
    head = f"{result['project']} {result['version']} on {result.get('index')}{where}"
    source = result.get("source") or "-"
    confidence = result.get("confidence")
    how_sure = f", confidence {confidence:.2f}" if isinstance(confidence, int | float) else ""
    lines = [
        head,
        f"  license:    {result.get('expression') or '-'}",
        f"  state:      {result.get('state')} (source: {source}{how_sure})",
        f"  verdict:    {_verdict_text(result.get('verdict') or {})}",
    ]
    lines += [f"  conflict:   {conflict}" for conflict in result.get("conflicts") or ()]
    evidence = result.get("evidence") or []
    lines.append("  evidence:" + ("" if evidence else "   none"))
    for item in evidence:
        found = f" -> {item['expression']}" if item.get("expression") else ""
        how = f" ({item['how']})" if item.get("how") else ""
        where = item.get("file") or "-"
        lines.append(f"    {where}: {item.get('source')} {item.get('value')!r}{found}{how}")
    return lines


def table_lines(rows: Sequence[LicenseRow]) -> list[str]:
    """The report as a table: package, version, license, verdict (with the reason)."""
    header = ("PACKAGE", "VERSION", "LICENSE", "VERDICT")
    cells = [
        (row.name, row.version, row.expression or f"({row.state})", _row_verdict(row))
        for row in rows
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(3)]
    return [
        f"{c[0]:{widths[0]}}  {c[1]:{widths[1]}}  {c[2]:{widths[2]}}  {c[3]}".rstrip()
        for c in [header, *cells]
    ]


def _row_verdict(row: LicenseRow) -> str:
    text = row.verdict if not row.refused or row.verdict == "denied" else f"{row.verdict} (refused)"
    return (
        f"{text}: {row.reason}"
        if row.reason and (row.refused or row.verdict != "allowed")
        else text
    )


#: hidden versions of one project named one by one (newest first); the rest are counted
HIDDEN_SHOWN = 3


def hidden_lines(rows: Sequence[LicenseRow]) -> list[str]:
    """``hidden by rules: certifi 2026.10.19.post1: <reason>``: newer versions pip did not
    see, so the report names them (the closure has an older one)."""
    return [line for row in rows for line in project_hidden_lines(row.name, row.hidden)]


def project_hidden_lines(name: str, hidden: Sequence[str]) -> list[str]:
    """The first :data:`HIDDEN_SHOWN` hidden versions of a project, then how many more.

    >>> project_hidden_lines("a", ["4: r", "3: r", "2: r", "1: r"])[-1]
    '... and 1 older versions of a hidden by rules'
    """
    lines = [f"hidden by rules: {name} {item}" for item in hidden[:HIDDEN_SHOWN]]
    if len(hidden) > HIDDEN_SHOWN:
        lines.append(
            f"... and {len(hidden) - HIDDEN_SHOWN} older versions of {name} hidden by rules"
        )
    return lines


def report_json(
    rows: Sequence[LicenseRow], summary: Summary, *, index: str, specs: Sequence[str], status: int
) -> str:
    """The report as JSON: what was asked, every row and the summary."""
    document = {
        "index": index,
        "specs": list(specs),
        "packages": [asdict(row) for row in rows],
        "summary": {"total": summary.total, "verdicts": dict(summary.verdicts),
                    "refused": summary.refused},
        "status": status,
    }  # fmt: skip
    return json.dumps(document, indent=2)


def missing_wheel_lines(missing: Sequence[MissingWheel], target: str, index: str) -> list[str]:
    """Which releases have no wheel for ``target``, and how to get them built."""
    lines = [f"{len(missing)} release(s) of the closure have no wheel for {target}:"]
    for item in missing:
        has = ", ".join(item.files) or "no files"
        lines.append(f"  {item.name} {item.version} (has: {has})")
    lines.append("request wheel builds from their sdists with:")
    lines += [f"  devpi build request {m.name}=={m.version} --index {index}" for m in missing]
    return lines
