"""The mirror and pip parts of tools/bench.py, and the upload helper all parts use.

A third devpi-server (from the plain venv) plays PyPI: its index ``root/upstream`` holds
one project with >= 1000 tiny real wheels (versions x platform tags) and a small one with
30, where the plugins' fixed cost per request shows most. Each server under
test mirrors it as ``root/mirror`` (``type=mirror``) and inherits it in ``bench/dev``; on
the plugins server both carry rules that match every request but hide none of the files.
"""

from __future__ import annotations

import sys
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.utils import parse_wheel_filename

from harness.api import DevpiApi
from harness.clients import run
from harness.dists import Project, make_wheel
from harness.server import ROOT_PASSWORD, DevpiServer

if TYPE_CHECKING:
    from pathlib import Path

PEP691 = "application/vnd.pypi.simple.v1+json"
MIRRORED = "bench-mirrored"
SMALL = "bench-small"
SMALL_FILES = 30
PIP_PROJECT = "bench-pip"
UPSTREAM_INDEX = "root/upstream"
MIRROR = "root/mirror"
DEV = "bench/dev"
BENCH_USER = ("bench", "bench-pw")
#: Platform tags of the mirrored project's wheels; none of them contains "win32".
TAGS = (
    "py3-none-any",
    "cp310-cp310-manylinux_2_17_x86_64",
    "cp311-cp311-manylinux_2_17_x86_64",
    "cp312-cp312-manylinux_2_17_x86_64",
    "cp311-cp311-manylinux_2_17_aarch64",
    "cp311-cp311-musllinux_1_1_x86_64",
    "cp311-cp311-macosx_11_0_arm64",
    "cp312-cp312-macosx_11_0_arm64",
    "cp311-cp311-win_amd64",
    "cp312-cp312-win_amd64",
)
#: Rules on the plugins server. Every one is evaluated for every project, link and
#: download, but none hides a file of MIRRORED (versions start at 1.0, no win32/cp27
#: tags), so both servers serve identical pages and the ratios compare like with like.
MIRROR_RULES = {
    "policy_exclude": ["other-*", f"{MIRRORED}<0.0.1"],
    "policy_exclude_files": ["*win32*"],
}
DEV_RULES = {"policy_exclude": ["evil-*"], "policy_exclude_files": ["tag:cp27-*-*"]}

PIP_WALL = "concurrent pip installs, wall (s)"
PIP_ERRORS = "concurrent pip installs, errors"

Paths = list[tuple[str, dict[str, str]]]
#: measurement -> server name -> one value per round
Results = dict[str, dict[str, list[float]]]


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
        msg = f"upload of {filename} to {index} failed: {resp.status} {resp.reason}"
        raise RuntimeError(msg)


def fetch(url: str, accept: str = "*/*") -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 - loopback
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310
        data: bytes = resp.read()
    return data


@dataclass
class Upstream:
    """The devpi-server that plays PyPI for both mirrors."""

    server: DevpiServer
    files: int
    seconds: float

    @property
    def simple_url(self) -> str:
        return f"{self.server.url}/{UPSTREAM_INDEX}/+simple/"


def start_upstream(bindir: Path, workdir: Path, nfiles: int, workers: int = 4) -> Upstream:
    """Start the upstream server and upload ``nfiles`` tiny wheels of MIRRORED to it."""
    # like PyPI, the upstream serves PEP 658 .metadata files
    server = DevpiServer(
        workdir / "upstream" / "serverdir", bindir, args=("--enable-core-metadata",)
    ).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index(UPSTREAM_INDEX, bases=[], volatile=True)
        wheeldir = workdir / "upstream" / "wheels"
        wheels = [
            make_wheel(wheeldir, Project(MIRRORED, f"1.{i // len(TAGS)}"), TAGS[i % len(TAGS)])
            for i in range(nfiles)
        ]
        wheels += [
            make_wheel(wheeldir, Project(SMALL, f"1.{i // len(TAGS)}"), TAGS[i % len(TAGS)])
            for i in range(SMALL_FILES)
        ]
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda w: upload(root, UPSTREAM_INDEX, w.name, w.read_bytes()), wheels))
        return Upstream(server, nfiles, time.perf_counter() - start)
    except BaseException:
        server.stop()
        raise


def setup_mirror(api: DevpiApi, upstream: Upstream, *, plugins: bool) -> None:
    """``root/mirror`` of the upstream and ``bench/dev`` inheriting it (rules if plugins)."""
    api.create_user(*BENCH_USER)
    mirror_rules: dict[str, Any] = MIRROR_RULES if plugins else {}
    dev_rules: dict[str, Any] = DEV_RULES if plugins else {}
    api.create_index(
        MIRROR, type="mirror", mirror_url=upstream.simple_url,
        mirror_cache_expiry=10 * 365 * 86400, mirror_provides_core_metadata=True,
        **mirror_rules,
    )  # fmt: skip
    api.create_index(DEV, bases=[MIRROR], volatile=True, **dev_rules)


def warm_mirror(url: str, expected: int, workers: int) -> list[str]:
    """Fetch MIRRORED's page through ``bench/dev`` and every file once (so devpi caches it),
    and SMALL's page; return MIRRORED's file paths. All ``expected`` files (and SMALL's 30)
    must be listed: the rules hide none."""
    small = f"{url}/{DEV}/+simple/{SMALL}/"
    listed = len(DevpiApi(url).request("GET", small, headers={"Accept": PEP691}).json()["files"])
    if listed != SMALL_FILES:
        msg = f"{url}: {listed} of {SMALL_FILES} files of {SMALL} listed through {DEV}"
        raise RuntimeError(msg)
    page = f"{url}/{DEV}/+simple/{MIRRORED}/"
    files = DevpiApi(url).request("GET", page, headers={"Accept": PEP691}).json()["files"]
    hrefs = [urllib.parse.urljoin(page, f["url"]).split("#")[0] for f in files]
    if len(hrefs) != expected:
        msg = f"{url}: {len(hrefs)} of {expected} mirrored files listed through {DEV}"
        raise RuntimeError(msg)
    with ThreadPoolExecutor(workers) as pool:
        sizes = list(pool.map(lambda href: len(fetch(href)), hrefs))
    if min(sizes) <= 0:
        msg = f"{url}: empty mirrored file"
        raise RuntimeError(msg)
    return [href.removeprefix(url + "/") for href in hrefs]


def mirror_mixes(paths: list[str], requests: int, downloads: int) -> dict[str, Paths]:
    """Request mixes through the inheriting index ``bench/dev``."""
    simple = f"{DEV}/+simple/{MIRRORED}/"
    small = f"{DEV}/+simple/{SMALL}/"
    return {
        "mirror simple page HTML (req/s)": [(simple, {"Accept": "text/html"})] * requests,
        "mirror simple page PEP 691 JSON (req/s)": [(simple, {"Accept": PEP691})] * requests,
        "small mirrored page HTML, 30 files (req/s)": [(small, {"Accept": "text/html"})]
        * (4 * requests),
        "small mirrored page PEP 691 JSON, 30 files (req/s)": [(small, {"Accept": PEP691})]
        * (4 * requests),
        "mirror +f/ downloads, cached (req/s)": [
            (paths[i % len(paths)], {"Accept": "*/*"}) for i in range(downloads)
        ],
    }


def upload_pip_project(url: str, workdir: Path) -> None:
    """A small pure project in ``bench/dev`` (the policy index) for the pip clients."""
    wheel = make_wheel(workdir / "pip-wheel", Project(PIP_PROJECT, "1.0"))
    upload(DevpiApi(url).login(*BENCH_USER), DEV, wheel.name, wheel.read_bytes())


@dataclass(frozen=True)
class PipRun:
    errors: int
    seconds: float
    first_error: str


def concurrent_pip(url: str, workdir: Path, clients: int) -> PipRun:
    """``clients`` concurrent ``pip install --no-deps --target`` of PIP_PROJECT from
    ``bench/dev``, each in an isolated environment with its own HOME and target."""
    index_url = f"{url}/{DEV}/+simple/"

    def install(i: int) -> str:
        where = workdir / f"pip-{i}"
        cmd = [
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
            "--index-url", index_url, "--target", str(where / "site"), PIP_PROJECT,
        ]  # fmt: skip
        res = run(cmd, where / "home", index_url=index_url, check=False)
        if res.returncode != 0:
            return f"pip exited {res.returncode}: {res.stderr.strip()[-500:]}"
        if not (where / "site" / "bench_pip" / "__init__.py").exists():
            return "pip succeeded but bench_pip is not installed"
        return ""

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        outcomes = list(pool.map(install, range(clients)))
    seconds = time.perf_counter() - start
    errors = [o for o in outcomes if o]
    return PipRun(len(errors), seconds, errors[0] if errors else "")


def measure_pip(
    servers: list[tuple[str, str]], workdir: Path, clients: int, rounds: int
) -> Results:
    """:func:`concurrent_pip` on each ``(name, url)`` server, alternating which goes first."""
    results: Results = {PIP_WALL: {name: [] for name, _ in servers}}
    results[PIP_ERRORS] = {name: [] for name, _ in servers}
    for rnd in range(rounds):
        for name, url in servers if rnd % 2 == 0 else servers[::-1]:
            pip = concurrent_pip(url, workdir / f"pip-{name}-{rnd}", clients)
            results[PIP_WALL][name].append(pip.seconds)
            results[PIP_ERRORS][name].append(pip.errors)
            if pip.errors:
                print(f"{name}: {pip.errors} pip errors, first: {pip.first_error}")
    return results
