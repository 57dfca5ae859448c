"""How many popular extension sdists the build farm builds: ``tox -e buildcoverage``.

Not part of ``tox`` or CI, and the only test that uses the real PyPI (through a
``root/pypi`` mirror of a devpi-server with the plugins): every requirement of
``tests/buildcoverage.txt`` is requested on an index on top of that mirror and built by
the docker backend (the image of ``examples/buildfarm/make-image``) for
``cp311-manylinux_x86_64``; the success rate and each failure's reason are printed.

Usage: python tools/buildcoverage.py [--image IMAGE] [--workers N] [--timeout S]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from harness.api import DevpiApi
from harness.server import ROOT_PASSWORD, DevpiServer

BINDIR = Path(sys.executable).parent
LIST = Path(__file__).resolve().parent.parent / "tests" / "buildcoverage.txt"
TARGET = "cp311-manylinux_x86_64"
FINAL = ("succeeded", "failed", "cancelled", "skipped")


def requirements() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in LIST.read_text().splitlines())
    return [line for line in lines if line]


def wait_all(api: DevpiApi, ids: list[int], deadline: float) -> list[dict[str, Any]]:
    while True:
        jobs = [api.ok("GET", f"root/cov/+buildfarm/jobs/{job_id}") for job_id in ids]
        done = sum(job["state"] in FINAL for job in jobs)
        print(f"buildcoverage: {done}/{len(ids)} done", flush=True)
        if done == len(ids) or time.monotonic() > deadline:
            return jobs
        time.sleep(15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="devpi-foundry/builder:bookworm-amd64")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for all builds")
    parser.add_argument(
        "--manylinux",
        default="manylinux_2_36",
        help="the builder's policy (the Debian 12 image's glibc is 2.36)",
    )
    parser.add_argument("--log", type=Path, help="keep devpi-server's log here")
    parser.add_argument("only", nargs="*", help="build only these requirements of the list")
    args = parser.parse_args()
    wanted = [r for r in requirements() if not args.only or r.split("==")[0] in args.only]
    with TemporaryDirectory(prefix="foundry-buildcoverage-") as tmp:
        work = Path(tmp)
        (work / "builders.toml").write_text(
            f'[builder.docker]\nbackend = "docker"\nimage = "{args.image}"\n'
            f'targets = ["{TARGET}"]\nmanylinux = "{args.manylinux}"\nmax_jobs = {args.workers}\n'
            f'timeout = 900\ncpus = 1\nmemory = "4g"\n'
        )
        # the machine's CA bundle for pypi.org (devpi's requests would use certifi's)
        cafile = "/etc/ssl/certs/ca-certificates.crt"
        env = (
            {"REQUESTS_CA_BUNDLE": cafile, "SSL_CERT_FILE": cafile} if Path(cafile).exists() else {}
        )
        server = DevpiServer(work / "serverdir", BINDIR, init_args=(), env=env, args=(
            "--buildfarm-builders", str(work / "builders.toml"),
            "--buildfarm-workers", str(args.workers), "--buildfarm-max-attempts", "1"))  # fmt: skip
        server.start()
        started = time.monotonic()
        try:
            root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
            root.create_index("root/cov", bases=["root/pypi"], buildfarm_targets=[TARGET])
            # the mirror's first project-name load answers "no such project" meanwhile
            root.request("GET", "root/pypi/+simple/", headers={"Accept": "text/html"})
            body = {"requirements": wanted, "targets": [TARGET], "rebuild": True}
            answer = root.ok("POST", "root/cov/+buildfarm/request", body)
            ids, rows = [], []
            for row in answer:
                if row.get("error"):
                    rows.append((row["requirement"], "not queued", row["error"], 0.0))
                ids += [job["id"] for job in row.get("jobs", [])]
            jobs = wait_all(root, ids, time.monotonic() + args.timeout)
        finally:
            server.stop()
            if args.log is not None:
                shutil.copy(server.log_path, args.log)
    for job in jobs:
        took = (job["finished"] or time.time()) - (job["started"] or time.time())
        what = job["wheel"] or (job["error"] or job["reason"] or job["state"])
        rows.append((f"{job['project']}=={job['version']}", job["state"], what, took))
    built = sum(1 for _, state, _, _ in rows if state == "succeeded")
    rate = 100 * built / len(wanted)
    took_all = time.monotonic() - started
    print(f"\nbuildcoverage: {built}/{len(wanted)} built ({rate:.0f} %) for {TARGET} in "
          f"{took_all:.0f} s with {args.workers} workers")  # fmt: skip
    for name, state, what, took in sorted(rows):
        print(f"  {name:32} {state:10} {took:6.0f} s  {str(what)[:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
