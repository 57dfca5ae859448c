"""``devpi license report``: resolve a closure with pip, fetch its licenses, print or write them.

1. pip resolves SPECs against the index only (:mod:`devpi_license.adapters.resolving`);
   with ``--python-version``/``--platform`` binary-only, for that target.
2. A binary-only resolve that fails is repeated with sdists allowed, for this client; each
   release of that closure without a wheel for the target is listed with the ``devpi build
   request`` that would add one (exit 2).
3. Otherwise every release's ``+license`` is fetched concurrently, pending ones retried for
   ``--pending-timeout`` seconds, and the rows are printed as a table, JSON or CycloneDX.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devpi_foundry_common.progress import Progress
from devpi_license.adapters.client_http import HubHttp
from devpi_license.adapters.fetching import (
    FetchError,
    fetch_hidden,
    fetch_licenses,
    fetch_project_files,
)
from devpi_license.adapters.resolving import resolve
from devpi_license.client_output import (
    Console,
    hidden_lines,
    missing_wheel_lines,
    project_hidden_lines,
    report_json,
    table_lines,
)
from devpi_license.core.report import (
    WOULD_REFUSE,
    ExitCode,
    InvalidPipReportError,
    exit_code,
    parse_pip_report,
    row_from_result,
    spec_names,
    summarize,
)
from devpi_license.core.wheels import MissingWheel, Target, missing_wheels, parse_python_version

if TYPE_CHECKING:
    import argparse

    from devpi_license.client import Index
    from devpi_license.core.report import LicenseRow, Resolution

OWN_PYTHON = sys.version_info[:2]


def run_report(hub: Any, index: Index, args: argparse.Namespace) -> int:
    """Run ``devpi license report``; returns the exit status."""
    console = Console(hub, stdout_is_document=args.format != "table" and not args.output)
    target = _target(hub, args)
    http = HubHttp(hub, index.url)
    # on a terminal, and only for the table: documents keep stderr free of status lines
    progress = Progress(enabled=args.format == "table")
    with progress:
        progress.update(f"resolving {' '.join(args.specs)} with pip on {index.name}")
        run = resolve(index.pip, args.specs, target.pip_args())
    if run.returncode != 0:
        return _unresolved(console, progress, http=http, index=index, specs=args.specs,
                           target=target, error=run.error)  # fmt: skip
    try:
        resolution = parse_pip_report(run.report)
    except InvalidPipReportError as exc:
        hub.fatal(str(exc))

    def fetched(settled: int, total: int, pending: int) -> None:
        waiting = f", {pending} still being read by the server" if pending else ""
        progress.update(f"fetching licenses {settled}/{total}{waiting}")

    with progress:
        answers = fetch_licenses(
            http, index.url, resolution.releases,
            pending_seconds=args.pending_timeout, on_answer=fetched,
        )  # fmt: skip
        wanted = [(r.name, r.version) for r in resolution.releases] if index.policy else []
        hidden = fetch_hidden(http, index.url, wanted)
    rows = [
        replace(row_from_result(r, answers[r.key].result, answers[r.key].error),
                hidden=tuple(hidden[n]) if hidden else ())
        for n, r in enumerate(resolution.releases)
    ]  # fmt: skip
    code = exit_code(rows)
    _emit(console, _render(args, index, resolution, rows, code), args.output)
    if args.format != "table" or args.output:
        for row in rows:
            if row.refused or row.verdict == WOULD_REFUSE:
                console.error(f"{row.name} {row.version}: {row.verdict}: {row.reason or '-'}")
    for line in hidden_lines(rows):
        console.error(line)
    console.info(summarize(rows).text)
    return code


def _unresolved(  # noqa: PLR0913 - the report's state at the point pip failed
    console: Console,
    progress: Progress,
    *,
    http: HubHttp,
    index: Index,
    specs: list[str],
    target: Target,
    error: str,
) -> int:
    """Print why pip could not resolve SPECs (for a target: which releases lack a wheel)."""
    missing: list[MissingWheel] = []
    problem: str | None = None
    if target.binary_only:
        with progress:
            progress.update(f"looking for releases without a wheel for {target_text(target)}")
            missing, problem = _missing_wheels(http, index, specs, target)
    if missing:
        for line in missing_wheel_lines(missing, target_text(target), index.name):
            console.error(line)
        return ExitCode.MISSING_WHEELS
    console.error(f"pip could not resolve {' '.join(specs)} on {index.name}:")
    console.error(error)
    if problem:
        console.error(f"could not look for releases without a wheel: {problem}")
    names = spec_names(specs) if index.policy else []
    for name, items in zip(names, fetch_hidden(http, index.url, [(n, None) for n in names]),
                           strict=True):  # fmt: skip
        for line in project_hidden_lines(name, items):  # what pip did not see, and why
            console.error(line)
    return ExitCode.REFUSED


def _target(hub: Any, args: argparse.Namespace) -> Target:
    """The target of ``--python-version``/``--platform``; refuses what cannot be done."""
    if args.format == "cyclonedx":
        try:
            import cyclonedx  # noqa: F401
        except ImportError:
            hub.fatal("--format cyclonedx needs cyclonedx-python-lib: "
                      "pip install 'devpi-foundry-client[cyclonedx]'")  # fmt: skip
    try:
        python = parse_python_version(args.python_version) if args.python_version else None
    except ValueError as exc:
        hub.fatal(str(exc))
    return Target(python_version=python, platforms=tuple(args.platform))


def target_text(target: Target, own_python: tuple[int, int] = OWN_PYTHON) -> str:
    """``Python 3.11 on manylinux_2_28_x86_64`` (this client's own where not given)."""
    python = "{}.{}".format(*(target.python_version or own_python))
    platforms = ", ".join(target.platforms) or "this platform"
    return f"Python {python} on {platforms}"


def _missing_wheels(
    http: HubHttp, index: Index, specs: list[str], target: Target
) -> tuple[list[MissingWheel], str | None]:
    """The releases of a source-allowed resolve (for this client) without a wheel for
    ``target``, or why they could not be found."""
    fallback = resolve(index.pip, specs)
    if fallback.returncode != 0:
        return [], f"pip could not resolve with sdists either:\n{fallback.error}"
    try:
        releases = parse_pip_report(fallback.report).releases
        files = fetch_project_files(http, index.url, [r.name for r in releases])
    except (InvalidPipReportError, FetchError) as exc:
        return [], str(exc)
    from packaging.tags import platform_tags

    tags = target.tags(OWN_PYTHON, list(platform_tags()))
    return missing_wheels([(r.name, r.version) for r in releases], files, tags), None


def _render(
    args: argparse.Namespace,
    index: Index,
    resolution: Resolution,
    rows: list[LicenseRow],
    code: int,
) -> str:
    if args.format == "json":
        return report_json(rows, summarize(rows), index=index.name, specs=args.specs, status=code)
    if args.format == "cyclonedx":
        from devpi_license.core.sbom import bom_json, build_bom

        bom = build_bom(resolution, rows, specs=args.specs, tool_version=_own_version())
        return bom_json(bom)
    return "\n".join(table_lines(rows))


def _emit(console: Console, document: str, output: str | None) -> None:
    if output is None:
        if console.stdout_is_document:
            sys.stdout.write(document + "\n")
        else:
            console.line(document)
        return
    try:
        Path(output).write_text(document + "\n", encoding="utf-8")
    except OSError as exc:
        console.hub.fatal(f"cannot write {output!r}: {exc}")
    console.info(f"wrote {output}")


def _own_version() -> str:
    try:
        return version("devpi-foundry")
    except PackageNotFoundError:
        return "unknown"
