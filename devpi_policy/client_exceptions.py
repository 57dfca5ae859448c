"""``devpi policy except`` and ``devpi policy exceptions``: break-glass exceptions.

``devpi policy except SPEC --reason TEXT --until TIME [--index I]`` asks the server to
lift the index's own ``policy_min_age``/``policy_freeze`` for SPEC (a project with an
optional PEP 440 specifier) until TIME (RFC 3339, or a duration from now such as ``2h``);
``devpi policy except --revoke ID`` revokes one; ``devpi policy exceptions`` lists them.
The server records who asked and when; only the index owner (or root) may.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from devpi_policy.core.age import format_instant, parse_duration

if TYPE_CHECKING:
    import argparse

EXCEPTION_COMMANDS: Final = ("except", "exceptions")


def add_exception_arguments(sub: Any) -> None:
    """The ``except`` and ``exceptions`` subcommands of ``devpi policy``."""
    add = sub.add_parser(
        "except", help="lift the index's policy_min_age/policy_freeze for SPEC until TIME"
    )
    add.add_argument("spec", metavar="SPEC", nargs="?", help="e.g. requests or requests==2.33.0")
    add.add_argument("--reason", default=None, help="why (recorded with your name)")
    add.add_argument(
        "--until", default=None, metavar="TIME", help="RFC 3339 time, or a duration from now (2h)"
    )
    add.add_argument("--revoke", default=None, metavar="ID", type=int, help="revoke exception ID")
    add.add_argument("--index", default=None, help="index (user/name); default: the current index")
    listing = sub.add_parser("exceptions", help="list the index's exceptions (expired marked)")
    listing.add_argument(
        "--index", default=None, help="index (user/name); default: the current index"
    )


def until_time(text: str, now: datetime) -> str:
    """``--until``: an RFC 3339 time as given, or a duration (``2h``, ``P1D``) from now.

    >>> until_time("2h", datetime(2026, 1, 1, tzinfo=UTC))
    '2026-01-01T02:00:00Z'
    >>> until_time("2026-02-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC))
    '2026-02-01T00:00:00Z'
    """
    try:
        return format_instant(now + parse_duration(text))
    except ValueError:
        return text


def run_exception_command(hub: Any, args: argparse.Namespace, url: Any) -> None:
    """Run ``devpi policy except|exceptions``."""
    base = url.addpath("+policy/exceptions", asdir=False)
    if args.policy_command == "exceptions":
        reply = hub.http_api("get", base, quiet=True, type="policy-exceptions")
        _print_list(hub, reply.result)
        return
    if args.revoke is not None:
        reply = hub.http_api("delete", base.addpath(str(args.revoke), asdir=False), quiet=True)
        hub.info(f"exception {args.revoke} revoked")
        _print_one(hub, reply.result)
        return
    if not args.spec or not args.reason or not args.until:
        hub.fatal("devpi policy except needs SPEC, --reason TEXT and --until TIME (or --revoke ID)")
    body = {
        "spec": args.spec,
        "reason": args.reason,
        "until": until_time(args.until, datetime.now(UTC)),
    }
    reply = hub.http_api("post", base, body, quiet=True, type="policy-exception")
    hub.info(f"exception {reply.result['id']} recorded")
    _print_one(hub, reply.result)


def _print_one(hub: Any, item: dict[str, Any]) -> None:
    state = "revoked" if item.get("revoked_by") else ("expired" if item["expired"] else "active")
    hub.line(
        f"  {item['id']}: {item['spec']} until {item['until']} [{state}] "
        f"by {item['created_by']} at {item['created_at']}: {item['reason']}"
    )


def _print_list(hub: Any, result: dict[str, Any]) -> None:
    items = result.get("exceptions") or []
    hub.info(f"exceptions of {result['index']}: {len(items) or 'none'}")
    for item in items:
        _print_one(hub, item)
