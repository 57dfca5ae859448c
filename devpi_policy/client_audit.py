"""``devpi policy audit``: the refusals an index's audit holds, aggregated for reading.

The server keeps one row per (index, subject, rule, mode, hour, node); this command adds
the hours of each (subject, rule, mode) up and prints, per line, how often, when last,
why, by whom and the latest request ids. ``--json`` prints the server's answer unchanged
(its fields are documented in docs/policy.md, "Audit of refusals").
Imports only the standard library: devpi-foundry-client ships this module.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import argparse

#: requesters and request ids printed per line
SHOWN: Final = 3


def audit_arguments(sub: Any) -> None:
    """``devpi policy audit [--since T] [--index I] [--request ID] [--json]``."""
    audit = sub.add_parser(
        "audit", help="refusals of an index (and would-be refusals in dry-run), aggregated"
    )
    audit.add_argument("--since", default=None, metavar="T",
                       help="only refusals since T: a duration back (90m, 24h, 7d, 2w) or "
                       "a time (2026-01-31T12:00Z); default: all the audit keeps")  # fmt: skip
    audit.add_argument(
        "--index", default=None, help="index to ask (user/name); default: the current index"
    )
    audit.add_argument("--request", default=None, metavar="ID",
                       help="only the rows of the refusal with this request id (a 403 "
                       "ends with [request ID])")  # fmt: skip
    audit.add_argument("--json", action="store_true", help="print the server's JSON answer")


def audit_query(args: argparse.Namespace) -> dict[str, str]:
    """The query string of ``+policy/audit`` for these arguments."""
    query = {"since": args.since, "request": args.request}
    return {key: value for key, value in query.items() if value}


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%MZ")


def aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of all hours and nodes summed per (subject, rule, mode), most refused first."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["subject"], row["rule"], row["mode"])
        into = merged.setdefault(key, {"subject": key[0], "rule": key[1], "mode": key[2],
                                       "count": 0, "last": 0.0, "reason": "", "by": {},
                                       "other": 0, "request_ids": []})  # fmt: skip
        into["count"] += row["count"]
        if row["last"] >= into["last"]:
            into["last"], into["reason"] = row["last"], row["reason"]
            into["request_ids"] = row["request_ids"] + into["request_ids"]
        else:
            into["request_ids"] += row["request_ids"]
        into["other"] += row["other_requests"]
        for who in row["requesters"]:
            ua = who["user_agent"].split(" ", 1)[0] or "no User-Agent"
            name = f"{who['user']}@{who['address']} ({ua})"
            into["by"][name] = into["by"].get(name, 0) + who["count"]
    return sorted(merged.values(), key=lambda r: (-r["count"], r["subject"], r["rule"]))


def print_audit(hub: Any, result: dict[str, Any], *, as_json: bool) -> None:
    """Print ``+policy/audit``'s answer."""
    if as_json:
        hub.line(json.dumps(result, indent=2, sort_keys=True))
        return
    lines = aggregate(result["rows"])
    since = f" since {_when(result['since'])}" if result.get("since") else ""
    total = sum(line["count"] for line in lines)
    hub.info(f"audit of {result['index']}{since}: {total} refusals of {len(lines)} kinds")
    for line in lines:
        mode = "" if line["mode"] == "enforce" else " (dry-run: let through)"
        hub.line(f"  {line['count']:>6}x {line['subject']}  {line['rule']}{mode}  "
                 f"last {_when(line['last'])}")  # fmt: skip
        hub.line(f"          reason: {line['reason']}")
        by = sorted(line["by"].items(), key=lambda item: -item[1])
        shown = [f"{name} {count}x" for name, count in by[:SHOWN]]
        others = sum(count for _, count in by[SHOWN:]) + line["other"]
        if others:
            shown.append(f"{others}x by others")
        hub.line(f"          by: {'; '.join(shown)}")
        hub.line(f"          requests: {', '.join(line['request_ids'][:SHOWN])}")
    if result.get("dropped"):
        hub.warn(f"{result['dropped']} refusals were not audited: the audit queue was full")
    if not result.get("complete", True):
        hub.warn("refusals of the last seconds may not be written yet")
