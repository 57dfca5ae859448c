"""Run devpi-server with the devpi-foundry plugins and the example configuration.

``tox -e serve`` runs this: it initialises a serverdir (git-ignored ``.serverdir/`` in the
checkout by default), starts devpi-server with ``examples/devpi-server.yaml``, creates or
updates the users and indexes of ``examples/demo.toml``, prints how to use it and serves
until interrupted (Ctrl-C). The embedded default: SQLite storage, no extra services.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BINDIR = Path(sys.executable).parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serverdir", type=Path, default=ROOT / ".serverdir")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "devpi-server.yaml")
    parser.add_argument("--setup", type=Path, default=ROOT / "examples" / "demo.toml")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3141)
    parser.add_argument(
        "--mirror-url",
        default=None,
        help="point root/pypi at another upstream (an internal mirror, or a test server)",
    )
    parser.add_argument("server_args", nargs="*", help="more devpi-server options (after --)")
    return parser.parse_args(argv)


def run_tool(*cmd: str) -> None:
    subprocess.run([str(BINDIR / cmd[0]), *cmd[1:]], check=True)


def request(url: str, method: str = "GET", data: Any = None, auth: str | None = None) -> Any:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if auth:
        headers["X-Devpi-Auth"] = auth
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - our own server
        return json.load(resp).get("result")


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"devpi-server exited with {proc.returncode}")
        try:
            request(f"{url}/+api")
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
        else:
            return
    proc.terminate()
    sys.exit(f"devpi-server did not answer on {url} within {timeout} s")


def login(url: str, user: str, password: str) -> str:
    result = request(f"{url}/+login", "POST", {"user": user, "password": password})
    return base64.b64encode(f"{user}:{result['password']}".encode()).decode()


def apply_setup(url: str, setup: dict[str, Any], mirror_url: str | None) -> None:
    """Create or update the users and indexes of ``setup`` (examples/demo.toml)."""
    root = login(url, "root", "")
    users = setup.get("users", {})
    for name, cfg in users.items():
        try:
            request(f"{url}/{name}", auth=root)
        except urllib.error.HTTPError:
            request(f"{url}/{name}", "PUT", cfg, auth=root)
    for name, wanted in setup.get("indexes", {}).items():
        cfg = dict(wanted)
        if mirror_url and cfg.get("type") == "mirror":
            cfg["mirror_url"] = mirror_url
        user = name.split("/")[0]
        auth = root if user == "root" else login(url, user, users[user]["password"])
        try:
            current = request(f"{url}/{name}?no_projects=", auth=auth)
        except urllib.error.HTTPError:
            request(f"{url}/{name}", "PUT", cfg, auth=auth)
            continue
        current.pop("projects", None)
        request(f"{url}/{name}", "PATCH", {**current, **cfg}, auth=auth)


def warm_mirrors(url: str) -> None:
    """Load root/pypi's project list now: PyPI's has ~1M names, and devpi answers 404
    to requests that time out while the first load is still running."""
    print("loading the project list of root/pypi ...", flush=True)
    req = urllib.request.Request(f"{url}/root/pypi/+simple/", headers={"Accept": "text/html"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310
            resp.read()
    except (OSError, urllib.error.URLError) as exc:
        print(f"warning: root/pypi's project list did not load: {exc}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    serverdir: Path = args.serverdir
    serverdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data, secret = serverdir / "data", serverdir / "secret"
    if not secret.exists():
        run_tool("devpi-gen-secret", "--secretfile", str(secret))
    if not (data / ".nodeinfo").exists():
        # root/pypi comes from the setup file, so --mirror-url applies before any name is
        # fetched (devpi keeps a mirror's cached name list when its mirror_url changes)
        run_tool("devpi-init", "--serverdir", str(data), "--no-root-pypi")
    cmd = [str(BINDIR / "devpi-server"), "-c", str(args.config), "--serverdir", str(data)]
    cmd += ["--secretfile", str(secret), "--host", args.host, "--port", str(args.port)]
    if shutil.which("bwrap") is None:
        # a demo must build on a fresh machine; a production server installs bubblewrap
        print(
            "note: bubblewrap (bwrap) is not installed, so the demo allows unisolated local "
            "builds (--buildfarm-allow-unisolated): package code then runs without a sandbox. "
            "Install bubblewrap to isolate builds.",
            flush=True,
        )
        cmd.append("--buildfarm-allow-unisolated")
    url = f"http://{args.host}:{args.port}"
    proc = subprocess.Popen([*cmd, *args.server_args])
    # Ctrl-C or a SIGTERM stop devpi-server, and then this script (explicit handlers: a
    # shell that starts us in the background ignores SIGINT, which Python would inherit)
    stopping = []

    def stop(*_: object) -> None:
        stopping.append(True)
        proc.terminate()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    wait_ready(url, proc)
    apply_setup(url, tomllib.loads(args.setup.read_text()), args.mirror_url)
    warm_mirrors(url)
    features = sorted(f for f in request(f"{url}/+api")["features"] if f.startswith("devpi-"))
    print(_banner(url, serverdir, features), flush=True)
    returncode = proc.wait()
    return 0 if stopping else returncode


def _banner(url: str, serverdir: Path, features: list[str]) -> str:
    return f"""
devpi-foundry demo server is ready at {url}  (data in {serverdir})
  plugins:  {", ".join(features)}
  indexes:  root/pypi (mirror of PyPI), demo/dev (user demo, password demo, bases root/pypi)
  pip:      pip install --index-url {url}/demo/dev/+simple/ <project>
  devpi:    devpi use {url}/demo/dev && devpi login demo --password demo
  root has an empty password: set one (devpi user -m root password=...) before sharing this.
Press Ctrl-C to stop."""


if __name__ == "__main__":
    sys.exit(main())
