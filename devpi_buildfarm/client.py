"""devpi-client subcommands of devpi_buildfarm (entry point ``devpi-build``, group devpi_client).

``devpi build request SPEC... | -r FILE [--target T] [--wait]``, ``devpi build list``,
``devpi build show ID [--follow]``, ``devpi build retry ID``, ``devpi build cancel ID`` and
``devpi build targets``; each takes ``--index I`` (default: the current index).
Exit status: 0 done, 1 a requirement could not be queued or (with ``--wait``/``--follow``)
a build failed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pluggy import HookimplMarker

from devpi_buildfarm.client_output import (
    job_event_text,
    print_job,
    print_jobs,
    print_request,
    print_targets,
    timings_text,
    waiting_text,
)
from devpi_buildfarm.config import FEATURE
from devpi_buildfarm.core.jobs import FINAL, JobState
from devpi_buildfarm.core.requests import parse_requirements_file
from devpi_foundry_common.progress import Progress

if TYPE_CHECKING:
    import argparse

client_hookimpl = HookimplMarker("devpiclient")
POLL_SECONDS = 1.0


@client_hookimpl
def devpiclient_subcommands() -> list[tuple[Any, str, str]]:
    """Add ``devpi build``."""
    return [(build_arguments, "build", "devpi_buildfarm.client:build")]


def build_arguments(parser: argparse.ArgumentParser) -> None:
    """request wheel builds from sdists and follow the build farm's jobs."""
    sub = parser.add_subparsers(dest="build_command", metavar="COMMAND")
    sub.required = True

    def command(name: str, text: str) -> argparse.ArgumentParser:
        found = sub.add_parser(name, help=text, description=text)
        found.add_argument("--index", default=None, help="index (user/name); default: current")
        return found

    request = command("request", "queue builds of the newest matching sdist of each SPEC")
    request.add_argument("specs", nargs="*", metavar="SPEC", help="e.g. lxml or lxml>=5,<6")
    request.add_argument("-r", "--requirement", action="append", default=[], metavar="FILE",
                         help="read requirements from FILE (pip's format)")  # fmt: skip
    request.add_argument("--target", action="append", default=[], metavar="T",
                         help="target (glob) to build; default: the index's targets")  # fmt: skip
    request.add_argument("--wait", action="store_true", help="wait until the builds are done")
    request.add_argument(
        "--rebuild",
        action="store_true",
        help="build from the sdist even where a wheel already serves a target",
    )
    request.add_argument("--json", action="store_true", help="print JSON")
    listing = command("list", "list the jobs of an index, newest first")
    listing.add_argument("--state", action="append", default=[], choices=list(JobState))
    listing.add_argument("--project", default=None, help="only jobs of this project")
    listing.add_argument("--limit", type=int, default=200, help="at most this many (200)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = command("show", "status, stage timings and build log of a job")
    show.add_argument("job", metavar="ID", type=int)
    show.add_argument("--follow", action="store_true", help="stream the log until the job ends")
    show.add_argument("--json", action="store_true", help="print the job as JSON (no log)")
    for name, text in (("retry", "queue a failed or cancelled job again"),
                       ("cancel", "cancel a queued or running job")):  # fmt: skip
        command(name, text).add_argument("job", metavar="ID", type=int)
    targets = command("targets", "the index's targets and the builders that serve them")
    targets.add_argument("--json", action="store_true", help="print JSON")


def build(hub: Any, args: argparse.Namespace) -> None:
    """Run ``devpi build ...``."""
    api = _Api(hub, args.index)
    code = getattr(_Commands(api, args), args.build_command)()
    if code:
        raise SystemExit(code)


class _Api:
    def __init__(self, hub: Any, index: str | None) -> None:
        self.hub = hub
        if index is None:
            self.index_url = hub.require_valid_current_with_index().index_url
        else:
            self.index_url = hub.current.get_index_url(index, slash=False)
        api = hub.http_api("get", hub.current.root_url.addpath("+api"), quiet=True).result
        if FEATURE not in api.get("features", ()):
            hub.fatal(f"{hub.current.root_url} does not run devpi_buildfarm "
                      "(pip install devpi-foundry on the server)")  # fmt: skip

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        url = self.index_url.addpath(f"+buildfarm/{path}", asdir=False)
        wanted = {key: value for key, value in query.items() if value not in (None, [])}
        if wanted:
            url = url.replace(query=urlencode(wanted, doseq=True))
        return self.hub.http_api(method, url, kvdict=body, quiet=True).result


class _Commands:
    def __init__(self, api: _Api, args: argparse.Namespace) -> None:
        self.api, self.hub, self.args = api, api.hub, args

    def request(self) -> int:
        specs = list(self.args.specs)
        for name in self.args.requirement:
            try:
                text = Path(name).read_text(encoding="utf-8")
                specs += [w.text for w in parse_requirements_file(text, name)]
            except (OSError, ValueError) as exc:
                self.hub.fatal(str(exc))
        if not specs:
            self.hub.fatal("name at least one SPEC or -r FILE")
        rows = self.api.call("post", "request", {"requirements": specs,
                                                 "targets": self.args.target,
                                                 "rebuild": bool(self.args.rebuild)})  # fmt: skip
        failed = any(row["error"] for row in rows)
        if self.args.wait:
            ids = [job["id"] for row in rows for job in row["jobs"]]
            jobs = {job["id"]: job for job in self._wait(ids)}
            for row in rows:
                row["jobs"] = [{**j, **jobs[j["id"]]} for j in row["jobs"]]
            failed = failed or any(j["state"] != "succeeded" and j["state"] != "skipped"
                                   for j in jobs.values())  # fmt: skip
        if self.args.json:
            self.hub.line(json.dumps(rows, indent=2))
        else:
            print_request(self.hub, rows)
        return 1 if failed else 0

    def _wait(self, ids: list[int]) -> list[dict[str, Any]]:
        """Poll the jobs until all are final; on a terminal (not with --json) each state
        change is a line, with the stage timings when a job ends, under a status line."""
        pending, done = set(ids), {}
        seen: dict[int, str] = {}
        with Progress(enabled=not self.args.json) as progress:
            while pending:
                for job_id in sorted(pending):
                    job = self.api.call("get", f"jobs/{job_id}")
                    if seen.get(job_id) != job["state"]:
                        seen[job_id] = job["state"]
                        progress.note(job_event_text(job, progress.elapsed()))
                    if job["state"] in FINAL:
                        done[job_id] = job
                        pending.discard(job_id)
                if pending:
                    progress.update(waiting_text([seen[i] for i in sorted(pending)]))
                    time.sleep(POLL_SECONDS)
        return list(done.values())

    def list(self) -> int:
        jobs = self.api.call("get", "jobs", state=self.args.state, project=self.args.project,
                             limit=self.args.limit)  # fmt: skip
        if self.args.json:
            self.hub.line(json.dumps(jobs, indent=2))
        else:
            print_jobs(self.hub, jobs)
        return 0

    def show(self) -> int:
        job = self.api.call("get", f"jobs/{self.args.job}")
        if self.args.json:
            self.hub.line(json.dumps(job, indent=2))
            return 0
        print_job(self.hub, job)
        offset, state = 0, job["state"]
        # --follow on a terminal: state changes as lines between the log's (stderr)
        progress = Progress(enabled=self.args.follow)
        while True:
            log = self.api.call("get", f"jobs/{self.args.job}/log", offset=offset)
            if log["text"]:
                sys.stdout.write(log["text"])
                sys.stdout.flush()
            if log["state"] != state:
                state = log["state"]
                progress.note(f"job {self.args.job}: {state} ({progress.elapsed():.0f} s)")
            offset = log["next_offset"]
            if not self.args.follow or (log["state"] in FINAL and not log["text"]):
                break
            if log["state"] not in FINAL:
                time.sleep(POLL_SECONDS)
        if not self.args.follow:
            return 0
        job = self.api.call("get", f"jobs/{self.args.job}")
        timings = timings_text(job["timings"])
        self.hub.info(f"job {job['id']}: {job['state']}" + (f"  {timings}" if timings else ""))
        return 1 if job["state"] in ("failed", "cancelled") else 0

    def retry(self) -> int:
        job = self.api.call("post", f"jobs/{self.args.job}/retry")
        self.hub.info(f"job {job['id']} is {job['state']} again")
        return 0

    def cancel(self) -> int:
        job = self.api.call("post", f"jobs/{self.args.job}/cancel")
        self.hub.info(f"job {job['id']} is {job['state']}")
        return 0

    def targets(self) -> int:
        result = self.api.call("get", "targets")
        if self.args.json:
            self.hub.line(json.dumps(result, indent=2))
        else:
            print_targets(self.hub, result)
        return 0
