"""Run devpi-server's and devpi-client's own test suites twice - in a venv with plain devpi and
in an otherwise identical venv with devpi-foundry installed - and compare per-test outcomes.

Both venvs get the devpi-server, devpi-common and devpi-client versions of the running
environment plus the suites' test dependencies; the foundry venv is installed from the plain
venv's exact package list, then devpi-foundry built from the checkout. The test suites come from
the sdists of exactly those versions, unpacked under --workdir (nothing fetched lands in the
checkout). A test whose outcome differs is rerun (up to 3 times) in both venvs before it
counts: if some outcome then occurs in both venvs, it is reported as flaky instead.

Exit status: 0 identical outcomes, 1 differences, 2 setup error.
Usage: python tools/devpi_compat.py --workdir DIR [--suite server|client] [-- PYTEST_ARGS...]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT_FALLBACK = "7.3.0"  # the `client` extra's floor, for an environment without devpi-client
# The union of both suites' tox.ini deps (less CI output helpers), and pytest-xdist for -n.
TEST_DEPS = (
    *("pytest", "pytest-timeout", "pytest-asyncio", "pytest-xdist", "execnet!=2.1.0"),
    *("webtest", "beautifulsoup4!=4.12.1", "mock", "sphinx", "wheel", "tox", "pypitoken", "pip"),
)
# Not copied to build devpi-foundry: these top-level entries, and caches at any depth.
SKIP_TOP = {".git", ".tox", ".venv", "build", "dist", "tests", ".serverdir", ".bench"}
SKIP_ANY = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*_cache")
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed")
SEVERITY = {"passed": 0, "skipped": 1, "xfailed": 1, "failed": 2, "error": 3}
RUN_TIMEOUT = 45 * 60  # one pytest run; the suites' own per-test timeout is 60 s
MESSAGE_WIDTH = 150
MAX_RERUN = 50  # more differing tests than this is no flakiness: skip the (serial) reruns
RERUNS = 3
# pytest-xdist workers. 3 on 2 cores: the workers also wait on devpi-server subprocesses and
# sleeps; the server suite took 243 s with 3 and 325 s with 2 on this 2-core machine.
JOBS = "3"


History = dict[str, list[str]]  # test node id -> its outcomes: the full run's, then reruns'


class SetupError(Exception):
    """The comparison could not be made (as opposed to: it found differences)."""


@dataclass(frozen=True)
class Suite:
    key: str
    dist: str
    version: str
    testdir: str
    args: tuple[str, ...]  # what the suite's own tox.ini passes to pytest


@dataclass
class Run:
    seconds: float
    exit_code: int
    log: Path
    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {k: sum(o == k for o in self.outcomes.values()) for k in OUTCOMES}


def sh(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    code = subprocess.run(cmd, check=False).returncode
    if code:
        msg = f"exit {code}: {' '.join(cmd)}"
        raise SetupError(msg)


def wanted_suites() -> list[Suite]:
    try:
        server = metadata.version("devpi-server")
    except metadata.PackageNotFoundError as exc:
        msg = "devpi-server is not installed in the running environment"
        raise SetupError(msg) from exc
    try:
        client = metadata.version("devpi-client")
    except metadata.PackageNotFoundError:
        client = CLIENT_FALLBACK
    return [
        Suite("server", "devpi-server", server, "test_devpi_server", ("-p", "pytest_devpi_server")),
        Suite("client", "devpi-client", client, "testing", ()),
    ]


def pins(suites: list[Suite]) -> list[str]:
    found = [f"{s.dist}=={s.version}" for s in suites]
    with contextlib.suppress(metadata.PackageNotFoundError):
        found.append(f"devpi-common=={metadata.version('devpi-common')}")
    return found


def installed(venv: Path) -> dict[str, str]:
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {d["name"].lower(): d["version"] for d in json.loads(out)}


def make_venv(venv: Path, spec: dict[str, object], installs: list[list[str]]) -> None:
    """(Re)create VENV unless its marker says it was made from SPEC."""
    marker, wanted = venv / "devpi-compat.json", json.dumps(spec, sort_keys=True)
    if marker.exists() and marker.read_text() == wanted:
        print(f"reusing {venv}")
        return
    sh([sys.executable, "-m", "venv", "--clear", str(venv)])
    for args in installs:
        sh([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args])
    marker.write_text(wanted)


def skip_copy(directory: str, names: list[str]) -> set[str]:
    top = SKIP_TOP.intersection(names) if Path(directory) == ROOT else set()
    return top | SKIP_ANY(directory, names)


def install_foundry(work: Path, venv: Path, constraints: Path) -> None:
    """Build devpi-foundry from a copy of the checkout (so no build output lands in it) and
    install it, unless the venv already has a build of identical sources."""
    src, dist = work / "foundry-src", work / "foundry-dist"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(ROOT, src, ignore=skip_copy)
    digest = hashlib.sha256()
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
    marker = venv / "devpi-compat-foundry.txt"
    if marker.exists() and marker.read_text() == digest.hexdigest():
        print("devpi-foundry in the foundry venv is up to date with the checkout")
        return
    shutil.rmtree(dist, ignore_errors=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    sh([*pip, "wheel", "-q", "--no-deps", "-w", str(dist), str(src)])
    sh([*pip, "uninstall", "-q", "-y", "devpi-foundry"])
    sh([*pip, "install", "-q", "-c", str(constraints), *map(str, dist.glob("*.whl"))])
    marker.write_text(digest.hexdigest())


def prepare_venvs(work: Path, suites: list[Suite], *, rebuild: bool) -> None:
    plain, foundry = work / "plain", work / "foundry"
    if rebuild:
        shutil.rmtree(plain, ignore_errors=True)
        shutil.rmtree(foundry, ignore_errors=True)
    spec: dict[str, object] = {"python": sys.version, "pins": pins(suites), "deps": TEST_DEPS}
    make_venv(plain, spec, [[*pins(suites), *TEST_DEPS]])
    plain_pkgs = installed(plain)
    frozen = work / "plain-packages.txt"
    frozen.write_text("".join(f"{n}=={v}\n" for n, v in sorted(plain_pkgs.items())))
    make_venv(foundry, {**spec, "plain": plain_pkgs}, [["-r", str(frozen)]])
    install_foundry(work, foundry, frozen)
    foundry_pkgs = installed(foundry)
    if "devpi-foundry" not in foundry_pkgs:
        msg = "devpi-foundry did not get installed into the foundry venv"
        raise SetupError(msg)
    changed = {n: v for n, v in plain_pkgs.items() if foundry_pkgs.get(n) != v}
    if changed:
        msg = f"the foundry venv lacks these packages of the plain venv: {changed}"
        raise SetupError(msg)
    added = sorted(f"{n}=={v}" for n, v in foundry_pkgs.items() if n not in plain_pkgs)
    print(f"venvs: {len(plain_pkgs)} identical packages; foundry adds {', '.join(added)}")


def fetch_suite(work: Path, suite: Suite) -> Path:
    """Unpack the sdist of SUITE's exact version under WORK; return its directory."""
    sdists, target = work / "sdist", work / "sdist-unpacked" / f"{suite.dist}-{suite.version}"
    if not target.is_dir():
        names = [f"{d}-{suite.version}.tar.gz" for d in (suite.dist.replace("-", "_"), suite.dist)]
        if not any((sdists / n).exists() for n in names):
            pip = [str(work / "plain" / "bin" / "python"), "-m", "pip", "download", "-q"]
            req = f"{suite.dist}=={suite.version}"
            sh([*pip, "--no-binary", ":all:", "--no-deps", "-d", str(sdists), req])
        sdist = next(sdists / n for n in names if (sdists / n).exists())
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.unpack_archive(sdist, tmp, filter="data")
        [top] = tmp.iterdir()  # an sdist holds one top-level directory
        top.rename(target)
        tmp.rmdir()
    if not (target / suite.testdir).is_dir():
        msg = f"{suite.dist} {suite.version} sdist has no {suite.testdir}/"
        raise SetupError(msg)
    return target


def test_env(venv: Path, home: Path) -> dict[str, str]:
    """This environment less pip/uv/devpi/tox settings, with VENV's bin first on PATH.

    The private HOME also hides the user's pip.conf (this machine's find-links and extra
    indexes). PIP_CONFIG_FILE stays unset: devpi-client's own tests treat it as the file that
    `devpi use --set-cfg` writes, and /dev/null would drop the CA bundle of /etc/pip.conf."""
    drop = ("PIP_", "UV_", "DEVPI_", "XDG_", "PYTHON", "VIRTUAL_ENV", "TOX_")
    env = {k: v for k, v in os.environ.items() if k == "PIP_CERT" or not k.startswith(drop)}
    # Leave out the running venv's bin: tox's env has devpi-foundry installed.
    own_bin = str(Path(sys.prefix) / "bin") if sys.prefix != sys.base_prefix else ""
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != own_bin]
    home.mkdir(parents=True, exist_ok=True)
    env.update(PATH=os.pathsep.join([str(venv / "bin"), *path]), HOME=str(home), LANG="C")
    env.update(VIRTUAL_ENV=str(venv), PYTHONDONTWRITEBYTECODE="1")
    return env


@dataclass(frozen=True)
class Job:
    work: Path
    suite: Suite
    sdist: Path

    def run(self, venv_name: str, tag: str, args: list[str]) -> Run:
        """Run the suite in the venv from a fresh copy of the sdist's tests and config files.

        The copy leaves out the sdist's package sources and egg-info, so the tests import
        what the venv has installed (entry points included), not the sdist beside them."""
        label = f"{self.suite.key}-{venv_name}-{tag}"
        rundir, venv = self.work / "runs" / label, self.work / venv_name
        shutil.rmtree(rundir, ignore_errors=True)
        rundir.mkdir(parents=True)
        for item in self.sdist.iterdir():
            if item.is_file():  # tox.ini & co: the suite's own pytest configuration
                shutil.copy2(item, rundir)
        shutil.copytree(self.sdist / self.suite.testdir, rundir / self.suite.testdir)
        xml, log = rundir / "junit.xml", self.work / "logs" / f"{label}.log"
        log.parent.mkdir(exist_ok=True)
        cmd = [str(venv / "bin" / "python"), "-m", "pytest", *self.suite.args, *args]
        cmd += ["-p", "no:cacheprovider", "--continue-on-collection-errors", f"--junitxml={xml}"]
        print(f"[{label}] {' '.join(cmd[1:])} > {log}", flush=True)
        start = time.monotonic()
        with log.open("w") as out:
            env = test_env(venv, self.work / "home" / label)
            try:
                code = subprocess.run(
                    cmd, cwd=rundir, env=env, stdout=out, stderr=subprocess.STDOUT,
                    timeout=RUN_TIMEOUT, check=False,
                ).returncode  # fmt: skip
            except subprocess.TimeoutExpired:
                code = -1
        run = Run(time.monotonic() - start, code, log)
        if xml.exists():
            parse_junit(xml, rundir, run)
        print(f"[{label}] exit {code}, {len(run.outcomes)} results, {run.seconds:.0f}s", flush=True)
        return run


def node_id(rundir: Path, classname: str, name: str) -> str:
    """The node id of a junit testcase: "pkg.mod.Cls" and "test" -> "pkg/mod.py::Cls::test".

    A collection error has no classname, and its name is the module's dotted path."""
    dotted, test = (classname, [name]) if classname else (name, [])
    parts, path = dotted.split("."), rundir
    for i, part in enumerate(parts):
        if (path / f"{part}.py").is_file():
            return "::".join(["/".join(parts[: i + 1]) + ".py", *parts[i + 1 :], *test])
        path /= part
    return "::".join([dotted, *test])  # not a file under rundir: keep it recognisable


def parse_junit(xml: Path, rundir: Path, run: Run) -> None:
    # Trusted input: the XML was just written by our own pytest run.
    for case in ET.parse(xml).iter("testcase"):  # noqa: S314
        node = node_id(rundir, case.get("classname", ""), case.get("name", ""))
        outcome, message = "passed", ""
        for child in case:
            kind = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(child.tag)
            if kind == "skipped" and child.get("type") == "pytest.xfail":
                kind = "xfailed"
            if kind and SEVERITY[kind] >= SEVERITY[outcome]:
                outcome, message = kind, (child.get("message") or "").strip()
        # A teardown error may come as a second testcase of the same test: keep the worst.
        if SEVERITY[outcome] >= SEVERITY[run.outcomes.get(node, "passed")]:
            run.outcomes[node], run.messages[node] = outcome, message


def check_ran(suite: Suite, run: Run, venv_name: str) -> None:
    if run.exit_code in (0, 1) and run.outcomes:
        return
    print("".join(run.log.read_text(errors="replace").splitlines(keepends=True)[-30:]))
    what = f"{suite.dist} suite exited {run.exit_code} with {len(run.outcomes)} results"
    if venv_name == "plain":  # plain devpi must run its own suite, or nothing can be compared
        msg = f"{what} in the plain venv; see {run.log}"
        raise SetupError(msg)
    print(f"!! {what} in the foundry venv; see {run.log}")


def differing(plain: Run, foundry: Run) -> list[str]:
    nodes = sorted(plain.outcomes.keys() | foundry.outcomes.keys())
    get_p, get_f = plain.outcomes.get, foundry.outcomes.get
    return [n for n in nodes if get_p(n, "missing") != get_f(n, "missing")]


def short(message: str) -> str:
    line = message.splitlines()[0] if message else ""
    return line if len(line) <= MESSAGE_WIDTH else line[: MESSAGE_WIDTH - 3] + "..."


def report(suite: Suite, runs: dict[str, Run], diffs: list[str]) -> None:
    plain = runs["plain"]
    print(f"\n== {suite.dist} {suite.version} ({suite.testdir}/, {len(plain.outcomes)} tests) ==")
    print(" " * 10 + "".join(f"{k:>9}" for k in OUTCOMES))
    for name, run in runs.items():
        row = "".join(f"{n:>9}" for n in run.counts().values())
        print(f"  {name:8}{row}   wall {run.seconds:5.0f}s  (pytest exit {run.exit_code})")
    for node, outcome in sorted(plain.outcomes.items()):
        if outcome in ("failed", "error") and node not in diffs:
            print(f"  {outcome} on plain and foundry alike: {node}")
            print(f"      {short(plain.messages[node])}")


def rerun_differing(job: Job, runs: dict[str, Run], diffs: list[str]) -> dict[str, History]:
    """Rerun DIFFS in both venvs up to RERUNS times; return each one's outcomes per venv.

    A test counts as flaky, not as a difference, once some outcome has occurred in both venvs.
    One rerun is not enough: test_model.py's doczip hook tests race devpi-server's notifier
    thread (2 s queue timeout against its 5 s wait for a file) and fail or pass in either venv,
    sometimes the same way twice in a row."""
    history = {v: {n: [run.outcomes.get(n, "missing")] for n in diffs} for v, run in runs.items()}
    for attempt in range(1, RERUNS + 1):
        pending = [n for n in diffs if not overlap(history, n)]
        if not pending:
            break
        print(f"  {len(pending)} test(s) differ; rerun {attempt} of {RERUNS} in both venvs")
        for name in runs:
            again = job.run(name, f"rerun{attempt}", pending)
            for node in pending:
                history[name][node].append(again.outcomes.get(node, "missing"))
    for node in diffs:
        if overlap(history, node):
            outcomes = {v: " ".join(h[node]) for v, h in history.items()}
            print(
                f"  flaky, not counted: {node}  (plain: {outcomes['plain']}; "
                f"foundry: {outcomes['foundry']})"
            )
    return history


def overlap(history: dict[str, History], node: str) -> bool:
    """Whether some real outcome of NODE occurred in both venvs ("missing" is none)."""
    return bool(set(history["plain"][node]) & set(history["foundry"][node]) - {"missing"})


def compare(job: Job, args: list[str], *, rerun: bool) -> tuple[list[str], int, str]:
    """Run JOB's suite in both venvs; return the differing tests, the test count, a tally."""
    runs = {v: job.run(v, "full", args) for v in ("plain", "foundry")}
    for venv_name, run in runs.items():
        check_ran(job.suite, run, venv_name)
    diffs = differing(runs["plain"], runs["foundry"])
    report(job.suite, runs, diffs)
    history = {v: {n: [run.outcomes.get(n, "missing")] for n in diffs} for v, run in runs.items()}
    if len(diffs) > MAX_RERUN:
        print(f"  {len(diffs)} tests differ: too many to be flakiness, not rerunning them")
    elif diffs and rerun:
        history = rerun_differing(job, runs, diffs)
        diffs = [n for n in diffs if not overlap(history, n)]
    for node in diffs:
        print(f"  DIFFERS: {node}")
        for name, run in runs.items():
            outcomes = " ".join(history[name][node])
            print(f"      {name:8} {outcomes:30} {short(run.messages.get(node, ''))}")
    tally = ", ".join(f"{n} {k}" for k, n in runs["plain"].counts().items() if n)
    return diffs, len(runs["plain"].outcomes), f"{job.suite.dist} {job.suite.version}: {tally}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="venvs, sdists, runs, logs")
    parser.add_argument("--suite", choices=("server", "client"), action="append")
    parser.add_argument("--jobs", "-n", default=JOBS, help="pytest-xdist workers (0: none)")
    parser.add_argument("--rebuild", action="store_true", help="recreate both venvs")
    parser.add_argument("--no-rerun", action="store_true", help="take differences as they come")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    opts = parser.parse_args()
    started, work = time.monotonic(), Path(opts.workdir).resolve()
    if work.is_relative_to(ROOT) and ".tox" not in work.parts:
        parser.error("--workdir must be outside the checkout, or under its .tox/")
    try:
        suites = wanted_suites()
        work.mkdir(parents=True, exist_ok=True)
        prepare_venvs(work, suites, rebuild=opts.rebuild)
        args = ["-n", opts.jobs, *opts.pytest_args]
        results = [
            compare(Job(work, s, fetch_suite(work, s)), args, rerun=not opts.no_rerun)
            for s in suites
            if not opts.suite or s.key in opts.suite
        ]
    except SetupError as exc:
        print(f"devpi-compat: setup error: {exc}", file=sys.stderr)
        return 2
    diffs, tests = sum(len(r[0]) for r in results), sum(r[1] for r in results)
    summary = "; ".join(r[2] for r in results)
    print(f"\ndevpi-compat: {time.monotonic() - started:.0f}s in all")
    if diffs:
        print(
            f"devpi-compat: {diffs} of {tests} tests differ with devpi-foundry (plain: {summary})"
        )
        return 1
    print(f"devpi-compat: identical outcomes for {tests} tests ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
