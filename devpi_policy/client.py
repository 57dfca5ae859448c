"""devpi-client subcommands of devpi_policy (entry point ``devpi-policy``, group devpi_client).

``devpi policy show [--index I]`` prints the rules that apply to an index;
``devpi policy check SPEC [--index I]`` says whether the index allows SPEC (a project,
``project==version`` or a file name) and, if not, which rule of which index refuses it.
Exit status: 0 allowed (also when only rules in ``policy_mode=dry-run`` would refuse it),
1 refused, 2 SPEC exists on no index of the inheritance path.
``devpi policy audit [--since T] [--index I] [--request ID] [--json]`` prints the index's
audit of refusals (client_audit.py; index owner or root).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker

from devpi_policy import client_audit
from devpi_policy.client_exceptions import (
    EXCEPTION_COMMANDS,
    add_exception_arguments,
    run_exception_command,
)
from devpi_policy.config import FEATURE

if TYPE_CHECKING:
    import argparse

client_hookimpl = HookimplMarker("devpiclient")
#: hidden versions named one by one (newest first); the rest are counted
HIDDEN_SHOWN = 3
AGE_KEYS = ("policy_min_age", "policy_freeze")


@client_hookimpl
def devpiclient_subcommands() -> list[tuple[Any, str, str]]:
    """Add ``devpi policy``."""
    return [(policy_arguments, "policy", "devpi_policy.client:policy")]


def policy_arguments(parser: argparse.ArgumentParser) -> None:
    """show the devpi_policy rules of an index, including those it inherits."""
    sub = parser.add_subparsers(dest="policy_command", metavar="COMMAND")
    sub.required = True
    show = sub.add_parser("show", help="effective rules of an index, including inherited ones")
    show.add_argument(
        "--index", default=None, help="index to show (user/name); default: the current index"
    )
    check = sub.add_parser(
        "check", help="would the index allow SPEC (project, project==version or a file name)?"
    )
    check.add_argument("spec", metavar="SPEC", help="e.g. requests==2.19.0 or a file name")
    check.add_argument(
        "--index", default=None, help="index to ask (user/name); default: the current index"
    )
    client_audit.audit_arguments(sub)
    add_exception_arguments(sub)


def policy(hub: Any, args: argparse.Namespace) -> None:
    """Run ``devpi policy ...``."""
    url = _index_url(hub, args.index)
    features = hub.http_api("get", hub.current.root_url.addpath("+api"), quiet=True).result
    if FEATURE not in features.get("features", ()):
        hub.fatal(f"{hub.current.root_url} does not run devpi_policy (pip install devpi-foundry)")
    if args.policy_command in EXCEPTION_COMMANDS:
        run_exception_command(hub, args, url)
        return
    if args.policy_command == "check":
        check_url = url.addpath("+policy/check", asdir=False).replace(query={"spec": args.spec})
        reply = hub.http_api("get", check_url, quiet=True, type="policy-check")
        code = _print_check(hub, reply.result)
        if code:
            raise SystemExit(code)
        return
    if args.policy_command == "audit":
        query = client_audit.audit_query(args)
        audit_url = url.addpath("+policy/audit", asdir=False).replace(query=query)
        reply = hub.http_api("get", audit_url, quiet=True, type="policy-audit")
        client_audit.print_audit(hub, reply.result, as_json=args.json)
        return
    reply = hub.http_api("get", url.addpath("+policy", asdir=False), quiet=True, type="policy")
    _print_show(hub, reply.result)


def _index_url(hub: Any, index: str | None) -> Any:
    if index is None:
        return hub.require_valid_current_with_index().index_url
    return hub.current.get_index_url(index, slash=False)


def _print_show(hub: Any, result: dict[str, Any]) -> None:
    hub.info(f"policy of {result['index']} (mode: {result['mode']})")
    for entry in result["indexes"]:
        rules = [
            f"{key}={','.join(entry[key])}"
            for key in ("policy_include", "policy_exclude", "policy_exclude_files")
            if entry[key]
        ]
        rules += [f"{key}={entry[key]}" for key in AGE_KEYS if entry.get(key)]
        inherited = "" if entry["index"] == result["index"] else " (inherited)"
        hub.line(f"  {entry['index']}{inherited}: {' '.join(rules) or 'no rules'}")


def _print_check(hub: Any, result: dict[str, Any]) -> int:
    """Print the answer of ``+policy/check``; returns the exit status (0 allowed, also
    when only dry-run rules refuse; 1 refused; 2 SPEC is on no index of the path)."""
    index, exists = result["index"], result.get("exists", True)
    _print_verdict(hub, result, exists=exists)
    for reason in result["reasons"]:
        hub.line(f"  refused: {reason}")
    for reason in result["dry_run"]:
        hub.line(f"  would refuse (dry-run, let through): {reason}")
    if len(result["sources"]) > 1 or not result["allowed"] or result["dry_run"]:
        for source in result["sources"]:
            hub.line(f"  if held by {source['index']}: {_served(source, result)}")
    upload = result.get("upload")
    if upload is not None:
        hub.line(f"  upload to {index}: {_served(upload, result, served='')}")
    hidden = result.get("hidden") or []
    for item in hidden[:HIDDEN_SHOWN]:
        reasons = "; ".join(item["reasons"])
        hub.line(f"  hidden by rules: {result['project']} {item['version']}: {reasons}")
    if len(hidden) > HIDDEN_SHOWN:
        hub.line(f"  ... and {len(hidden) - HIDDEN_SHOWN} older versions hidden by rules")
    if exists is False:
        return 2
    return 0 if result["allowed"] else 1


def _print_verdict(hub: Any, result: dict[str, Any], *, exists: bool | None) -> None:
    what = result["filename"] or " ".join(filter(None, (result["project"], result["version"])))
    verdict = "REFUSED" if not result["allowed"] else "allowed"
    if result["allowed"] and result["dry_run"]:
        verdict = "allowed: dry-run, the rules would refuse it"
    if exists is False:
        hub.error(f"{what} does not exist on {result['index']} or the indexes it inherits from")
        hub.line(f"  were it there: {verdict}")
        return
    hub.info(f"{what} on {result['index']}: {verdict}")
    if exists is None:
        hub.line(f"  (not every index could be asked whether it holds {what})")


def _served(decision: dict[str, Any], overall: dict[str, Any], served: str = "served ") -> str:
    """``served refused: <reason>`` (reasons the overall answer did not print already)."""
    if not decision["allowed"]:
        state, reasons = "refused", decision["reasons"]
    elif decision["dry_run"]:
        state, reasons = "let through (dry-run, would refuse)", decision["dry_run"]
    else:
        return f"{served}allowed"
    shown = set(overall["reasons"]) | set(overall["dry_run"])
    extra = [r for r in reasons if r not in shown]
    return f"{served}{state}" + (f": {'; '.join(extra)}" if extra else "")
