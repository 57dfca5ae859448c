"""Create (or reuse) a venv with plain devpi: the same devpi-server and devpi-web as the
running environment, without devpi-foundry. Integration tests and benchmarks compare
against it, and use it for "before the plugins were installed" and "after uninstalling".

``--foundry SOURCE`` makes the same venv with devpi-foundry installed from ``SOURCE`` (a
checkout or a wheel) on top, as an operator installs it: the benchmarks' plugins server
runs from it, so that both servers differ only by the plugins and their dependencies
(the test environment also holds pytest, hypothesis and the like; the ``py`` library that
devpi-server imports then imports pytest into the server, 52 more modules, which alone
made every full garbage collection slower).

Usage: python tools/plain_devpi.py VENV_DIR [--foundry SOURCE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("devpi-server", "devpi-web", "devpi-common")


def wanted() -> dict[str, str]:
    """The package versions of the running environment that the plain venv must match."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("venv", type=Path)
    parser.add_argument("--foundry", type=Path, help="also install devpi-foundry from here")
    args = parser.parse_args()
    venv: Path = args.venv
    pins = wanted()
    marker = venv / "devpi-foundry-plain.json"
    python = venv / "bin" / "python"
    if marker.exists() and json.loads(marker.read_text()) == pins:
        print(f"plain devpi venv up to date: {venv} {pins}")
    else:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        reqs = [f"{name}=={version}" for name, version in pins.items()]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *reqs], check=True)
        marker.write_text(json.dumps(pins))
        print(f"created plain devpi venv {venv} with {', '.join(reqs)}")
    if args.foundry is not None:
        # the source changes between runs: reinstalled every time, devpi kept at the pins
        reqs = [str(args.foundry.resolve()), *(f"{n}=={v}" for n, v in pins.items())]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *reqs], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps",
             str(args.foundry.resolve())],
            check=True,
        )  # fmt: skip
        print(f"installed devpi-foundry from {args.foundry} into {venv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
