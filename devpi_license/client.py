"""devpi-client subcommands of devpi_license (entry point ``devpi-license``, group devpi_client).

``devpi license show SPEC [--index I] [--json]`` prints one release's license, the evidence
for it and the index's verdict. ``devpi license report SPEC... [--python-version V]
[--platform P] [--format table|json|cyclonedx] [--output FILE] [--index I]`` resolves the
closure of SPECs with pip against the index and reports every release's license and verdict
(see :mod:`devpi_license.client_report`). Both default to the current index.
Exit status: 0 allowed (also when only rules in ``policy_mode=dry-run`` would refuse);
1 a verdict refuses (or pip could not resolve); 2 (``report`` for
another target) some releases have no wheel for that target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pluggy import HookimplMarker

from devpi_license.config import FEATURE, POLICY_FEATURE

if TYPE_CHECKING:
    import argparse

    from devpi_license.adapters.resolving import PipIndex

client_hookimpl = HookimplMarker("devpiclient")
FORMATS = ("table", "json", "cyclonedx")


@client_hookimpl
def devpiclient_subcommands() -> list[tuple[Any, str, str]]:
    """Add ``devpi license``."""
    return [(license_arguments, "license", "devpi_license.client:license_command")]


def license_arguments(parser: argparse.ArgumentParser) -> None:
    """show the license of a release, or report the licenses of a resolved closure."""
    sub = parser.add_subparsers(dest="license_command", metavar="COMMAND")
    sub.required = True

    def command(name: str, text: str) -> argparse.ArgumentParser:
        found = sub.add_parser(name, help=text, description=text)
        found.add_argument("--index", default=None, help="index (user/name); default: current")
        return found

    show = command("show", "license, evidence and verdict of one release")
    show.add_argument("spec", metavar="SPEC", help="PROJECT==VERSION, or PROJECT for its newest")
    show.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    report = command("report", "resolve SPECs with pip and report every release's license")
    report.add_argument("specs", nargs="+", metavar="SPEC", help="requirement, e.g. 'flask>=3'")
    report.add_argument(
        "--python-version", default=None, metavar="X.Y",
        help="resolve binary-only for this Python (default: this client's)",
    )  # fmt: skip
    report.add_argument(
        "--platform", action="append", default=[], metavar="TAG",
        help="resolve binary-only for this platform, e.g. manylinux_2_28_x86_64 "
        "(repeatable; default: this client's)",
    )  # fmt: skip
    report.add_argument("--format", choices=FORMATS, default="table", help="output (table)")
    report.add_argument("--output", default=None, metavar="FILE", help="write the output to FILE")
    report.add_argument(
        "--pending-timeout", type=float, default=30.0, metavar="SECONDS",
        help="wait this long for licenses the server is still reading (30)",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Index:
    """The index a command works on: its URL (no trailing slash), name, and how pip uses
    it (its simple URL; its host trusted when on plain http or trusted in ``devpi use``)."""

    url: str
    name: str
    pip: PipIndex
    #: the server runs devpi_policy (``+policy/check`` names what the rules hide)
    policy: bool = False


def license_command(hub: Any, args: argparse.Namespace) -> None:
    """Run ``devpi license ...``."""
    index = _connect(hub, args.index)
    if args.license_command == "show":
        code = _show(hub, index, args)
    else:
        from devpi_license.client_report import run_report

        code = run_report(hub, index, args)
    if code:
        raise SystemExit(code)


def _connect(hub: Any, name: str | None) -> Index:
    from devpi_license.adapters.resolving import PipIndex

    if name is None:
        url = hub.require_valid_current_with_index().index_url
    else:
        url = hub.current.get_index_url(name, slash=False)
    root = hub.current.root_url
    api = hub.http_api("get", root.addpath("+api"), quiet=True).result
    if FEATURE not in api.get("features", ()):
        hub.fatal(f"{root} does not run devpi_license (pip install devpi-foundry on the server)")
    simple = url.addpath("+simple", asdir=True)
    basic_auth = hub.current.get_basic_auth(url=url)
    if basic_auth:  # pip cannot send devpi's token, only credentials in the URL
        from urllib.parse import quote

        user, password = (quote(part, safe="") for part in basic_auth)
        simple = simple.replace(username=user, password=password)
    index_url = url.url.rstrip("/")
    name = index_url[len(root.url.rstrip("/")) :].strip("/")
    trusted = url.hostname if url.scheme == "http" or hub.current.settrusted else None
    policy = POLICY_FEATURE in api.get("features", ())
    return Index(index_url, name, PipIndex(simple.url, trusted), policy=policy)


def _hidden_versions(hub: Any, index: Index, name: str) -> list[str]:
    """The versions of ``name`` the index's rules hide (devpi_policy's ``+policy/check``)."""
    if not index.policy:
        return []
    url = f"{index.url}/+policy/check?{urlencode({'spec': name})}"
    reply = hub.http_api("get", url, quiet=True, fatal=False)
    if reply.status_code != HTTPStatus.OK:
        return []
    return [str(item["version"]) for item in (reply.result or {}).get("hidden") or ()]


def _show(hub: Any, index: Index, args: argparse.Namespace) -> int:
    from devpi_license.client_output import show_lines
    from devpi_license.core.report import newest_version, parse_release_spec

    try:
        name, version = parse_release_spec(args.spec)
    except ValueError as exc:
        hub.fatal(str(exc))
    if version is None:
        reply = hub.http_api("get", f"{index.url}/{name}", quiet=True, fatal=False)
        served = list(reply.result or {}) if reply.status_code == HTTPStatus.OK else []
        # the newest release even when the rules hide it: the verdict then says why
        version = newest_version(served + _hidden_versions(hub, index, name))
        if version is None:
            hub.fatal(f"{name!r} is not on {index.name} ({reply.status_code})")
    reply = hub.http_api(
        "get", f"{index.url}/{name}/{version}/+license", quiet=True, type="license"
    )
    result = reply.result
    if args.json:
        hub.line(json.dumps(result, indent=2))
    else:
        for line in show_lines(result):
            hub.line(line)
    return 1 if (result.get("verdict") or {}).get("refused") else 0
