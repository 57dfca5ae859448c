"""Benchmarks: devpi-server with the devpi-foundry plugins against plain devpi, one run.

Both servers get the same data; each request mix is then timed on both back to back, the
leading server alternating per round, so machine noise hits both alike. Where the plugins
are installed, rules are active (policy_* options that match every request but hide none of
the benchmark's files):

- ``root/bench``: a private index with many files; also the target of a 20 MB wheel upload
  (time and the server's RSS growth);
- ``root/mirror``: a mirror (``type=mirror``) of a third devpi-server playing PyPI, whose
  project has >= 1000 files, inherited by ``bench/dev``; its simple pages (HTML and PEP
  691 JSON) and cached ``+f/`` downloads are timed through ``bench/dev``, and so are the
  pages of a small mirrored project (30 files), where the fixed cost per request shows most;
- ``root/refused``: the same kind of files under another project name; on the plugins
  server a rule refuses them all (set after the upload), so each ``+f/`` download there is
  a 403 recorded in the audit of refusals, against plain devpi serving the files;
- 50 concurrent ``pip install --no-deps --target`` (isolated environments) of a small
  project uploaded to ``bench/dev``: wall time and errors.

``--min-age DURATION`` adds the quarantine set-up: ``policy_min_age`` on ``root/mirror`` of
the plugins server (shorter than the benchmark files' age, so it hides none of them, but
every file and release is judged by its upload time on every request). The upstream then
runs devpi-foundry too, so that it serves PEP 700 upload times (a plain devpi-server 6
gives none, and every file would be judged "unknown"); both servers mirror that upstream.

Prints a table with plugins/plain ratios and the goal of each measurement.

Usage (tox -e bench): python tools/bench.py --plain PLAIN_VENV [--plugins FOUNDRY_VENV]
[--rounds R] [--check]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

from bench_mirror import (
    MIRROR,
    MIRRORED,
    PEP691,
    PIP_ERRORS,
    Paths,
    Results,
    Upstream,
    measure_pip,
    mirror_mixes,
    setup_mirror,
    start_upstream,
    upload,
    upload_pip_project,
    warm_mirror,
)

from harness.api import DevpiApi
from harness.server import ROOT_PASSWORD, DevpiServer

PROJECT = "bench-many"
REFUSED_PROJECT = "bench-refused"
#: files of REFUSED_PROJECT: each becomes audit rows of its own (per subject and hour)
REFUSED_FILES = 50
#: Options of ``root/bench`` on the plugins server; the rules hide none of its files.
BENCH_OPTIONS = {
    "policy_mode": "enforce",
    "policy_exclude": ["evil-*"],
    "policy_exclude_files": ["*win32*"],
    "license_unknown": "allow",
}
UPLOAD = "20 MB wheel upload (s)"
#: Slices each request mix is cut into; the servers take turns slice by slice.
SLICES = 10
RSS = "RSS growth over the upload, max (MiB)"


@dataclass
class Target:
    name: str
    server: DevpiServer
    api: DevpiApi
    mixes: dict[str, Paths] = field(default_factory=dict)


@dataclass(frozen=True)
class Goal:
    """What a measurement must reach: a plugins/plain ratio, or a bound on each value."""

    text: str
    min_ratio: float | None = None
    max_ratio: float | None = None
    below: float | None = None

    def met(self, plain: float, plugins: float, ratio: float) -> bool:
        return (
            (self.min_ratio is None or ratio >= self.min_ratio)
            and (self.max_ratio is None or ratio <= self.max_ratio)
            and (self.below is None or max(plain, plugins) < self.below)
        )


def goal_of(name: str) -> Goal | None:
    if name.endswith("(req/s)"):
        return Goal("ratio >= 0.95", min_ratio=0.95)
    return {
        UPLOAD: Goal("ratio <= 1.10", max_ratio=1.10),
        RSS: Goal("each < 32", below=32),
        PIP_ERRORS: Goal("each == 0", below=0.5),
    }.get(name)


def setup(
    name: str, bindir: Path, workdir: Path, args: argparse.Namespace, upstream: Upstream
) -> Target:
    plugins = name == "plugins"
    # both servers serve PEP 658 .metadata, as tox -e serve does (examples/devpi-server.yaml)
    server = DevpiServer(
        workdir / name / "serverdir", bindir, args=("--enable-core-metadata",)
    ).start()
    target = Target(name, server, DevpiApi(server.url).login("root", ROOT_PASSWORD))
    try:
        target.api.create_index(
            "root/bench", bases=[], volatile=True, **(BENCH_OPTIONS if plugins else {})
        )
        for i in range(args.files):
            filename = f"bench_many-1.{i}-py3-none-any.whl"
            upload(target.api, "root/bench", filename, hashlib.sha256(filename.encode()).digest())
        target.api.create_index("root/refused", bases=[], volatile=True)
        for i in range(REFUSED_FILES):
            filename = f"bench_refused-1.{i}-py3-none-any.whl"
            upload(target.api, "root/refused", filename, hashlib.sha256(filename.encode()).digest())
        # listed before the rule hides them; set after the upload, which it would refuse
        refused = file_paths(target, args.requests, REFUSED_FILES, "root/refused", REFUSED_PROJECT)
        if plugins:
            target.api.modify_index("root/refused", policy_exclude=[REFUSED_PROJECT])
        setup_mirror(target.api, upstream, plugins=plugins)
        if plugins and args.min_age:
            target.api.modify_index(MIRROR, policy_min_age=args.min_age)
        upload_pip_project(server.url, workdir / name)
        start = time.perf_counter()
        mirrored = warm_mirror(server.url, upstream.files, args.workers)
        took = time.perf_counter() - start
        print(f"{name}: mirrored and cached {len(mirrored)} files in {took:.1f} s")
        simple = f"root/bench/+simple/{PROJECT}/"
        target.mixes = {
            "simple page HTML (req/s)": [(simple, {"Accept": "text/html"})] * args.page_requests,
            "simple page PEP 691 JSON (req/s)": [(simple, {"Accept": PEP691})] * args.page_requests,
            "+f/ file downloads (req/s)": file_paths(target, args.requests, args.files),
            "+f/ downloads refused and audited (req/s)": refused,
            **mirror_mixes(mirrored, args.mirror_requests, args.requests),
        }
    except BaseException:
        server.stop()
        raise
    return target


def timed_requests(target: Target, paths: Paths, workers: int) -> float:
    """Seconds taken to fetch ``paths`` with ``workers`` concurrent clients."""

    def fetch(item: tuple[str, dict[str, str]]) -> int:
        req = urllib.request.Request(f"{target.server.url}/{item[0]}", headers=item[1])  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
                return len(resp.read())
        except urllib.error.HTTPError as err:
            if err.code != 403 or "/root/refused/" not in req.full_url:  # noqa: PLR2004
                raise
            return len(err.read())  # the refused mix: a policy 403 is the answer

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(fetch, paths))
    if total <= 0:
        msg = f"{target.name}: empty responses"
        raise RuntimeError(msg)
    return time.perf_counter() - start


def interleaved_rates(order: list[Target], mix: str, workers: int) -> dict[str, float]:
    """Requests per second of one mix on every target, timed in interleaved slices.

    The mix is cut into ``SLICES`` slices; each slice runs on every target back to back, the
    leading target alternating. Machine noise (the other core busy, CPU frequency, the
    clients themselves) then lands on all targets alike instead of on whichever ran during
    a noisy second.
    """
    seconds = dict.fromkeys((t.name for t in order), 0.0)
    count = len(order[0].mixes[mix])
    size = max(1, math.ceil(count / SLICES))
    for i, begin in enumerate(range(0, count, size)):
        for target in order if i % 2 == 0 else order[::-1]:
            paths = target.mixes[mix][begin : begin + size]
            seconds[target.name] += timed_requests(target, paths, workers)
    return {name: count / took for name, took in seconds.items()}


def file_paths(
    target: Target, count: int, expected: int, index: str = "root/bench", project: str = PROJECT
) -> Paths:
    links = target.api.ok("GET", f"{index}/{project}")
    hrefs = [link["href"] for data in links.values() for link in data.get("+links", [])]
    if len(hrefs) != expected:
        msg = f"{target.name}: {len(hrefs)} of {expected} files of {index} listed"
        raise RuntimeError(msg)
    base = target.server.url + "/"
    return [(hrefs[i % len(hrefs)].replace(base, ""), {"Accept": "*/*"}) for i in range(count)]


def rss_kib(server: DevpiServer) -> int:
    if server.proc is None:
        return 0
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(server: DevpiServer) -> float:
    """CPU time the server process has used so far (all its threads; Linux)."""
    if server.proc is None:
        return 0.0
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: seconds between two looks at a settling server, and the share of one core it may use
#: then and still count as idle
SETTLE_STEP = 0.5
IDLE_SHARE = 0.05


def settle(server: DevpiServer, timeout: float = 600.0) -> None:
    """Wait until the server's background work is done: devpi's event hooks have caught up
    with its serial, devpi-web's search indexer queue and devpi_license's extraction queue
    are empty, and the process used under 5 % of a core, twice in a row.

    Without this, the server set up last would still be indexing (devpi-web re-reads every
    project an upload touched) while its first rounds are timed, and lose by that alone.
    The queues alone do not say it: devpi-web's indexer takes an item off its queue before
    it works on it (for many seconds after a mirror was warmed: a server was measured using
    40 % of a core for 30 s after its queue metric read 0), so the CPU time is asked too.
    """
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:  # noqa: PLR2004
        before = cpu_seconds(server)
        time.sleep(SETTLE_STEP)
        busy = cpu_seconds(server) - before > IDLE_SHARE * SETTLE_STEP
        status = server.status()
        queued = sum(
            value
            for name, _, value in status.get("metrics", [])
            if name in ("devpi_web_whoosh_index_queue_size", "devpi_license_extract_queue")
        )
        idle = queued == 0 and status["event-serial"] >= status["serial"] and not busy
        quiet = quiet + 1 if idle else 0
        if time.monotonic() > deadline:
            msg = f"{server.url}: background work not done within {timeout} s: {status}"
            raise RuntimeError(msg)


def measure(targets: list[Target], rounds: int, workers: int) -> Results:
    results: Results = {m: {t.name: [] for t in targets} for m in targets[0].mixes}
    results[UPLOAD] = {t.name: [] for t in targets}
    results[RSS] = {t.name: [] for t in targets}
    big = bytes(20 * 1024 * 1024)
    for rnd in range(rounds):
        # each mix runs on both servers back to back, first one and then the other leading
        order = targets if rnd % 2 == 0 else targets[::-1]
        for target in targets:
            settle(target.server)
        for mix in targets[0].mixes:
            for name, rate in interleaved_rates(order, mix, workers).items():
                results[mix][name].append(rate)
        for target in order:
            before = rss_kib(target.server)
            start = time.perf_counter()
            upload(target.api, "root/bench", f"bench_big-{rnd}.0-py3-none-any.whl", big)
            results[UPLOAD][target.name].append(time.perf_counter() - start)
            results[RSS][target.name].append((rss_kib(target.server) - before) / 1024)
    return results


def aggregate(name: str, values: list[float]) -> float:
    if name == RSS:
        return max(values)
    if name == PIP_ERRORS:
        return sum(values)
    return statistics.median(values)


def ratios(name: str, plain: list[float], plugins: list[float]) -> list[float]:
    """Per-round plugins/plain ratios (a round times both back to back); for the max and
    sum rows, the one ratio of the aggregates."""
    if name in (RSS, PIP_ERRORS):
        plain, plugins = [aggregate(name, plain)], [aggregate(name, plugins)]
    return [b / a if a else math.nan for a, b in zip(plain, plugins, strict=True)]


def report(results: Results, args: argparse.Namespace, upstream: Upstream) -> bool:
    """Print the summary table; whether every goal was met."""
    print(
        f"\ndevpi-foundry bench: root/bench {args.files} files; mirror {upstream.files} files "
        f"{'(policy_min_age=' + args.min_age + ' on the mirror) ' if args.min_age else ''}"
        f"(uploaded upstream in {upstream.seconds:.1f} s); {args.rounds} rounds, "
        f"{args.page_requests} simple page requests ({args.mirror_requests} mirror), "
        f"{args.requests} downloads x {args.workers} clients per mix; "
        f"{args.pip_clients} concurrent pip installs x {args.pip_rounds} rounds; "
        "values: median of rounds unless noted"
    )
    print("ratio: median of the per-round ratios plugins/plain (range: lowest-highest)")
    head = f"{'measurement':42} {'plain':>9} {'plugins':>9} {'ratio':>7} {'range':>13}"
    print(f"{head}  {'goal':15} ok")
    all_met = True
    for name, by_target in results.items():
        plain, plugins = (aggregate(name, by_target[t]) for t in ("plain", "plugins"))
        per_round = ratios(name, by_target["plain"], by_target["plugins"])
        ratio = statistics.median(per_round)
        spread = f"{min(per_round):.3f}-{max(per_round):.3f}"
        goal = goal_of(name)
        met = goal is None or goal.met(plain, plugins, ratio)
        all_met = all_met and met
        verdict = "" if goal is None else ("yes" if met else "NO")
        text = "" if goal is None else goal.text
        row = f"{name:42} {plain:9.2f} {plugins:9.2f} {ratio:7.3f} {spread:>13}"
        print(f"{row}  {text:15} {verdict}")
    print("all goals met" if all_met else "SOME GOALS MISSED")
    return all_met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plain", type=Path, required=True, help="venv with plain devpi")
    parser.add_argument(
        "--plugins", type=Path, default=Path(sys.executable).parent.parent,
        help="venv with devpi and devpi-foundry (tools/plain_devpi.py --foundry; default: "
        "this one)",
    )  # fmt: skip
    parser.add_argument("--files", type=int, default=300, help="files of the root/bench project")
    parser.add_argument(
        "--mirror-files", type=int, default=1000, help="files of the mirrored project"
    )
    parser.add_argument("--rounds", type=int, default=5)
    # at ~500 downloads/s and ~30 mirror pages/s, 1000 and 100 requests were 2-3 s windows
    # per server and round whose per-round ratios spread over +-5 %: too coarse for a 0.95
    # goal; three times as many cost about four minutes more
    parser.add_argument("--requests", type=int, default=3000, help="downloads per mix and round")
    parser.add_argument(
        "--page-requests", type=int, default=300, help="root/bench simple page requests per mix"
    )
    parser.add_argument(
        "--mirror-requests", type=int, default=300, help="per mirror simple page mix and round"
    )
    parser.add_argument("--workers", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--pip-clients", type=int, default=50, help="concurrent pip installs")
    parser.add_argument("--pip-rounds", type=int, default=1)
    parser.add_argument(
        "--min-age", default="", metavar="DURATION",
        help="set policy_min_age on the plugins server's mirror (e.g. 1s: hides nothing)",
    )  # fmt: skip
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--raw", action="store_true", help="print every round's values too")
    args = parser.parse_args()
    plain_bindir = args.plain / "bin"
    plugins_bindir = args.plugins / "bin"
    with TemporaryDirectory(prefix="foundry-bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        # with --min-age the upstream must serve upload times: devpi-foundry does
        upstream_bindir = plugins_bindir if args.min_age else plain_bindir
        upstream = start_upstream(upstream_bindir, workdir, args.mirror_files)
        if args.min_age:  # the stand-in for PyPI computes its first page's times once
            settle(upstream.server)
            DevpiApi(upstream.server.url).request(
                "GET", f"{upstream.simple_url}{MIRRORED}/", headers={"Accept": PEP691}
            )
        stack.callback(upstream.server.stop)
        print(f"upstream: {upstream.files} wheels uploaded in {upstream.seconds:.1f} s")
        targets = []
        for name, bindir in (("plain", plain_bindir), ("plugins", plugins_bindir)):
            targets.append(setup(name, bindir, workdir, args, upstream))
            stack.callback(targets[-1].server.stop)
        results = measure(targets, args.rounds, args.workers)
        servers = [(t.name, t.server.url) for t in targets]
        for target in targets:
            settle(target.server)
        results.update(measure_pip(servers, workdir, args.pip_clients, args.pip_rounds))
        met = report(results, args, upstream)
        if args.raw:
            for name, by_target in results.items():
                print(name, {t: [round(v, 3) for v in values] for t, values in by_target.items()})
    return 0 if met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
