"""Benchmark of ``devpi license report`` (``tox -e bench`` runs it after the others).

A devpi-server with the plugins (``--enable-core-metadata``) holds a 50-release closure:
one root requiring 49 small wheels with varied licenses, on an index with license rules.
The real devpi client reports it once cold (fresh pip cache, licenses never asked) and
then ``--warm`` times; the goal is the warm median: "50-package closure report, warm,
<= 2 s". To show where the time goes, the same round also times, in this process:

- pip alone: the exact resolve ``devpi license report`` runs (``--dry-run --report``);
- the ``+license`` reads alone: 50 concurrent GETs over one session, as the client does;
- the 50 simple pages pip reads, one after the other as pip does (PEP 691 JSON);
- ``devpi --version``: the client's own start-up (it loads every client plugin).

Usage: PYTHONPATH=tests python tools/bench_license.py [--closure N] [--warm N] [--check]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from http import HTTPStatus
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import requests

from devpi_license.adapters.fetching import SIMPLE_JSON, fetch_licenses
from devpi_license.adapters.resolving import PipIndex, resolve
from devpi_license.core.report import Release
from harness.api import DevpiApi
from harness.clients import DevpiClient, twine_upload
from harness.dists import Project, make_wheel
from harness.env import isolated_env
from harness.server import ROOT_PASSWORD, DevpiServer

BINDIR = Path(sys.executable).parent
INDEX = "root/licbench"
GOAL_SECONDS = 2.0
LICENSES: tuple[dict[str, str | list[str]], ...] = (
    {"License-Expression": "MIT"},
    {"License-Expression": "Apache-2.0 OR MIT"},
    {"Classifier": "License :: OSI Approved :: BSD License"},
    {"License": "ISC License"},
    {"License-Expression": "BSD-3-Clause"},
)
Row = tuple[str, float, str, bool]


class Session:
    """A ``requests`` session as the report's JSON getter (devpi-client's HubHttp does the
    same with the login added)."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def get(self, url: str, accept: str) -> tuple[int, Any]:
        reply = self.session.get(url, headers={"Accept": accept}, timeout=60)
        return int(reply.status_code), reply.json()


def setup(work: Path, closure: int) -> tuple[DevpiServer, DevpiClient]:
    server = DevpiServer(work / "serverdir", BINDIR, args=("--enable-core-metadata",)).start()
    root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
    root.create_index(INDEX, bases=[], license_deny=["AGPL-*"], license_unknown="warn")
    deps = [Project(f"lic-dep{n}", "1.0", LICENSES[n % len(LICENSES)]) for n in range(closure - 1)]
    app = Project("lic-root", "1.0", {"License-Expression": "MIT",
                                      "Requires-Dist": [d.name for d in deps]})  # fmt: skip
    files = [make_wheel(work / "dists", p) for p in [app, *deps]]
    twine_upload(work / "upload-home", f"{server.url}/{INDEX}/", "root", ROOT_PASSWORD, *files)
    devpi = DevpiClient(work / "client")
    devpi("use", f"{server.url}/{INDEX}")
    return server, devpi


def simple_pages(http: Session, index_url: str, releases: list[Release]) -> None:
    for release in releases:
        status, _ = http.get(f"{index_url}/+simple/{release.name}/", SIMPLE_JSON)
        if status != HTTPStatus.OK:
            msg = f"simple page of {release.name}: {status}"
            raise RuntimeError(msg)


def timed(func: Any) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def report_once(devpi: DevpiClient, closure: int) -> None:
    res = devpi("license", "report", "lic-root", check=False)
    expected = f"{closure} packages:"
    if res.returncode != 0 or expected not in res.stdout:
        msg = f"unexpected report (exit {res.returncode}):\n{res.stdout}\n{res.stderr}"
        raise RuntimeError(msg)


def measure(work: Path, closure: int, warm: int) -> list[Row]:
    server, devpi = setup(work, closure)
    try:
        cold = timed(lambda: report_once(devpi, closure))
        reports, pips, fetches, starts, pages = [], [], [], [], []
        pip_index = PipIndex(f"{server.url}/{INDEX}/+simple/", server.host)
        # pip as the report runs it, with the client's environment and pip cache
        environ = isolated_env(devpi.home)

        def pip() -> None:
            run = resolve(pip_index, ["lic-root"], environ=environ)
            if run.returncode != 0:
                raise RuntimeError(run.stderr)

        http = Session()
        releases = [Release(name=f"lic-dep{n}", version="1.0") for n in range(closure - 1)]
        releases.append(Release(name="lic-root", version="1.0"))
        for _ in range(warm):
            reports.append(timed(lambda: report_once(devpi, closure)))
            pips.append(timed(pip))
            fetches.append(timed(lambda: fetch_licenses(http, f"{server.url}/{INDEX}", releases)))
            starts.append(timed(lambda: devpi("--version")))
            pages.append(timed(lambda: simple_pages(http, f"{server.url}/{INDEX}", releases)))
        median = statistics.median(reports)
        return [
            (f"devpi license report, {closure} packages, cold (s)", cold, "", True),
            (f"devpi license report, {closure} packages, warm median (s)", median, "<= 2 s",
             median <= GOAL_SECONDS),
            ("  warm min (s)", min(reports), "", True),
            ("  part: pip's resolve alone, median (s)", statistics.median(pips), "", True),
            (f"    in it: the {closure} simple pages pip reads, median (s)",
             statistics.median(pages), "", True),
            (f"  part: {closure} +license GETs, median (s)", statistics.median(fetches), "", True),
            ("  part: devpi client start-up, median (s)", statistics.median(starts), "", True),
        ]  # fmt: skip
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--closure", type=int, default=50, help="releases in the closure")
    parser.add_argument("--warm", type=int, default=5, help="warm report runs")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args, ignored = parser.parse_known_args()  # tox -e bench passes the other tools' too
    if ignored:
        print(f"bench_license: ignoring {' '.join(ignored)}")
    with TemporaryDirectory(prefix="foundry-bench-license-") as tmp:
        rows = measure(Path(tmp), args.closure, args.warm)
    print(f"\ndevpi-license bench ({os.cpu_count()} cores)")
    print(f"{'measurement':58} {'value':>9}  {'goal':8} ok")
    for name, value, goal, met in rows:
        print(f"{name:58} {value:9.3f}  {goal:8} {('yes' if met else 'NO') if goal else ''}")
    missed = [name for name, _, goal, met in rows if goal and not met]
    if missed:
        print("GOAL MISSED")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
