"""Create (or reuse) a venv with plain devpi: the same devpi-server and devpi-web as the
running environment, without devpi-foundry. Integration tests and benchmarks compare
against it, and use it for "before the plugins were installed" and "after uninstalling".

Usage: python tools/plain_devpi.py VENV_DIR
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
    venv: Path = parser.parse_args().venv
    pins = wanted()
    marker = venv / "devpi-foundry-plain.json"
    if marker.exists() and json.loads(marker.read_text()) == pins:
        print(f"plain devpi venv up to date: {venv} {pins}")
        return 0
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    python = venv / "bin" / "python"
    reqs = [f"{name}=={version}" for name, version in pins.items()]
    subprocess.run([str(python), "-m", "pip", "install", "-q", *reqs], check=True)
    marker.write_text(json.dumps(pins))
    print(f"created plain devpi venv {venv} with {', '.join(reqs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
