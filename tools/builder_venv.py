"""Create (or reuse) a venv with devpi-builder, the sequential wheel builder that
``tools/bench_buildfarm.py`` compares ``devpi build request -r`` against.

Usage: python tools/builder_venv.py VENV_DIR
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

PIN = "devpi-builder==7.1.0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("venv", type=Path)
    venv: Path = parser.parse_args().venv
    marker = venv / "devpi-foundry-builder.txt"
    if marker.exists() and marker.read_text() == PIN:
        print(f"devpi-builder venv up to date: {venv} ({PIN})")
        return 0
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", PIN], check=True)
    marker.write_text(PIN)
    print(f"created devpi-builder venv {venv} ({PIN})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
