"""Benchmark: reading every member of an sdist (tar.gz) with the shared bounded reader,
for growing member counts (issue 17: member lookup must not be quadratic).

Usage: python tools/bench_archive.py [--members 1000 --members 20000]
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile  # noqa: TID251 - builds the benchmark's input
import time

from devpi_foundry_common.archive import Archive


def make_sdist(members: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for n in range(members):
            data = f"# module {n}\n".encode()
            info = tarfile.TarInfo(f"demo-1.0/pkg/m{n}.py")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def read_all_seconds(data: bytes) -> float:
    started = time.perf_counter()
    with Archive(data, "demo-1.0.tar.gz") as archive:
        for name in archive.members:
            archive.read(name)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, action="append", help="member counts")
    args = parser.parse_args()
    for members in args.members or [1000, 5000, 20_000]:
        took = read_all_seconds(make_sdist(members))
        per = took / members * 1e6
        print(f"{members:>6} members: read all in {took:7.3f} s ({per:6.1f} us per member)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
