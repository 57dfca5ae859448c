"""Benchmarks: devpi-server with the devpi-foundry plugins against plain devpi, one run.

Both servers get the same data (a project with many files on a private index inheriting
from nothing, the plugin options set on it where the plugins are installed), then the
same request mix is timed on each, alternating rounds so machine noise hits both alike.
Prints one line per measurement with the ratio "plugins / plain".

Usage (tox -e bench): python tools/bench.py --plain PLAIN_VENV [--files N] [--rounds R]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from packaging.utils import parse_wheel_filename

from harness.api import DevpiApi
from harness.server import ROOT_PASSWORD, DevpiServer

PEP691 = "application/vnd.pypi.simple.v1+json"
PROJECT = "bench-many"


@dataclass
class Target:
    name: str
    server: DevpiServer
    api: DevpiApi
    files: list[str]


def upload(api: DevpiApi, index: str, filename: str, data: bytes) -> None:
    """``POST :action=file_upload`` of a wheel as twine does, multipart-encoded."""
    name, version, _, _ = parse_wheel_filename(filename)
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in ((":action", "file_upload"), ("name", name), ("version", str(version))):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        )
    head = "".join(parts) + (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    resp = api.request(
        "POST", f"{index}/", body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    if resp.status != 200:  # noqa: PLR2004
        msg = f"upload of {filename} failed: {resp.status} {resp.reason}"
        raise RuntimeError(msg)


def setup(name: str, bindir: Path, workdir: Path, nfiles: int, *, plugins: bool) -> Target:
    server = DevpiServer(workdir / name / "serverdir", bindir).start()
    root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
    options = {"policy_mode": "enforce", "license_unknown": "allow"} if plugins else {}
    root.create_index("root/bench", bases=[], volatile=True, **options)
    files = []
    for i in range(nfiles):
        version = f"1.{i}"
        filename = f"bench_many-{version}-py3-none-any.whl"
        upload(root, "root/bench", filename, hashlib.sha256(filename.encode()).digest())
        files.append(filename)
    return Target(name, server, root, files)


def timed_requests(target: Target, paths: list[tuple[str, dict[str, str]]], workers: int) -> float:
    """Requests per second for ``paths`` fetched by ``workers`` concurrent clients."""

    def fetch(item: tuple[str, dict[str, str]]) -> int:
        req = urllib.request.Request(f"{target.server.url}/{item[0]}", headers=item[1])  # noqa: S310
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
            return len(resp.read())

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(fetch, paths))
    if total <= 0:
        msg = f"{target.name}: empty responses"
        raise RuntimeError(msg)
    return len(paths) / (time.perf_counter() - start)


def file_paths(target: Target, count: int) -> list[tuple[str, dict[str, str]]]:
    links = target.api.ok("GET", f"root/bench/{PROJECT}")
    hrefs = [link["href"] for data in links.values() for link in data.get("+links", [])]
    base = target.server.url + "/"
    return [(hrefs[i % len(hrefs)].replace(base, ""), {"Accept": "*/*"}) for i in range(count)]


def rss_kib(server: DevpiServer) -> int:
    if server.proc is None:
        return 0
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(
    targets: list[Target], rounds: int, requests: int, workers: int
) -> dict[str, dict[str, list[float]]]:
    simple = f"root/bench/+simple/{PROJECT}/"
    mixes = {
        "simple page HTML (req/s)": [(simple, {"Accept": "text/html"})] * requests,
        "simple page PEP 691 JSON (req/s)": [(simple, {"Accept": PEP691})] * requests,
        "+f/ file downloads (req/s)": None,
    }
    results: dict[str, dict[str, list[float]]] = {m: {t.name: [] for t in targets} for m in mixes}
    results["20 MB wheel upload (s)"] = {t.name: [] for t in targets}
    results["RSS growth over the upload (MiB)"] = {t.name: [] for t in targets}
    big = bytes(20 * 1024 * 1024)
    for rnd in range(rounds):
        for target in targets if rnd % 2 == 0 else reversed(targets):
            for mix, paths in mixes.items():
                todo = paths if paths is not None else file_paths(target, requests)
                results[mix][target.name].append(timed_requests(target, todo, workers))
            before = rss_kib(target.server)
            start = time.perf_counter()
            upload(target.api, "root/bench", f"bench_big-{rnd}.0-py3-none-any.whl", big)
            results["20 MB wheel upload (s)"][target.name].append(time.perf_counter() - start)
            results["RSS growth over the upload (MiB)"][target.name].append(
                (rss_kib(target.server) - before) / 1024
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plain", type=Path, required=True, help="venv with plain devpi")
    parser.add_argument("--files", type=int, default=300, help="files of the benchmark project")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400, help="requests per mix and round")
    parser.add_argument("--workers", type=int, default=8, help="concurrent clients")
    args = parser.parse_args()
    with TemporaryDirectory(prefix="foundry-bench-") as tmp:
        workdir = Path(tmp)
        targets = [
            setup("plain", args.plain / "bin", workdir, args.files, plugins=False),
            setup("plugins", Path(sys.executable).parent, workdir, args.files, plugins=True),
        ]
        try:
            results = measure(targets, args.rounds, args.requests, args.workers)
        finally:
            for target in targets:
                target.server.stop()
    print(
        f"\ndevpi-foundry bench: {args.files} files, {args.rounds} rounds, "
        f"{args.requests} requests x {args.workers} clients per mix; median of rounds"
    )
    print(f"{'measurement':40} {'plain':>10} {'plugins':>10} {'ratio':>7}")
    for name, by_target in results.items():
        plain, plugins = (statistics.median(by_target[t]) for t in ("plain", "plugins"))
        ratio = plugins / plain if plain else float("nan")
        print(f"{name:40} {plain:10.2f} {plugins:10.2f} {ratio:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
