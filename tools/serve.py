"""Run devpi-server with the devpi-foundry plugins and the example configuration.

``tox -e serve`` runs this: it initialises a serverdir (git-ignored ``.serverdir/`` in the
checkout by default), starts devpi-server with ``examples/devpi-server.yaml``, creates the
users and indexes of ``examples/demo.toml`` on the first start only (serve_examples.py),
prints the demo's commands with the path of the ``devpi`` that has the plugin commands and
serves until interrupted (Ctrl-C). The embedded default: SQLite storage, no extra services.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
from pathlib import Path

import serve_examples

ROOT = Path(__file__).resolve().parent.parent
BINDIR = Path(sys.executable).parent
#: seconds between "still waiting" lines while devpi-server starts
PROGRESS_SECONDS = 5.0


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
        help="point root/pypi at another upstream (an internal mirror, or a test server) "
        "when the examples are applied",
    )
    parser.add_argument(
        "--reapply-examples",
        action="store_true",
        help="create the examples' users and indexes that are missing and set the example "
        "options again on those that exist (otherwise only the first start applies them)",
    )
    parser.add_argument("server_args", nargs="*", help="more devpi-server options (after --)")
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(f"serve: {text}", flush=True)


def run_tool(*cmd: str) -> None:
    say(" ".join(cmd))
    subprocess.run([str(BINDIR / cmd[0]), *cmd[1:]], check=True)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> float:
    """Wait until devpi-server answers ``/+api``, saying so every few seconds; the seconds."""
    start = time.monotonic()
    next_note = start + PROGRESS_SECONDS
    while (now := time.monotonic()) < start + timeout:
        if proc.poll() is not None:
            sys.exit(f"devpi-server exited with {proc.returncode}")
        try:
            serve_examples.request(f"{url}/+api")
        except (OSError, urllib.error.URLError):
            if now >= next_note:
                say(f"still waiting for devpi-server ({now - start:.0f} s; it derives the "
                    "server secret's key first)")  # fmt: skip
                next_note += PROGRESS_SECONDS
            time.sleep(0.2)
        else:
            return now - start
    proc.terminate()
    sys.exit(f"devpi-server did not answer on {url} within {timeout} s")


def server_command(args: argparse.Namespace, data: Path, secret: Path) -> list[str]:
    cmd = [str(BINDIR / "devpi-server"), "-c", str(args.config), "--serverdir", str(data)]
    cmd += ["--secretfile", str(secret), "--host", args.host, "--port", str(args.port)]
    if shutil.which("bwrap") is None:
        # a demo must build on a fresh machine; a production server installs bubblewrap
        say("bubblewrap (bwrap) is not installed, so the demo allows unisolated local "
            "builds (--buildfarm-allow-unisolated): package code then runs without a sandbox. "
            "Install bubblewrap to isolate builds.")  # fmt: skip
        cmd.append("--buildfarm-allow-unisolated")
    return [*cmd, *args.server_args]


def setup_examples(url: str, args: argparse.Namespace) -> str:
    """Apply the examples on the first start (or with --reapply-examples); what it did."""
    serverdir: Path = args.serverdir
    record = serve_examples.read_record(serverdir)
    if record is not None and not args.reapply_examples:
        if args.mirror_url:
            say("--mirror-url is not applied on a later start: root/pypi exists (use "
                "--reapply-examples, or devpi index root/pypi mirror_url=...)")  # fmt: skip
        return serve_examples.later_start_note(record, args.setup)
    setup = tomllib.loads(args.setup.read_text())
    say(f"applying {args.setup.name}")
    done = serve_examples.apply(url, setup, args.mirror_url, update=args.reapply_examples)
    if record is None:
        serve_examples.write_record(serverdir, args.setup, done)
    parts = [f"{what}: {', '.join(names)}" for what, names in (
        ("created", done.created), ("updated", done.updated), ("left as they were", done.kept))
        if names]  # fmt: skip
    return f"{args.setup.name} applied ({'; '.join(parts) or 'nothing to do'})."


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
    url = f"http://{args.host}:{args.port}"
    say(f"starting devpi-server on {url} (data in {serverdir})")
    proc = subprocess.Popen(server_command(args, data, secret))
    # Ctrl-C or a SIGTERM stop devpi-server, and then this script (explicit handlers: a
    # shell that starts us in the background ignores SIGINT, which Python would inherit)
    stopping = []

    def stop(*_: object) -> None:
        stopping.append(True)
        proc.terminate()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    seconds = wait_ready(url, proc)
    say(f"devpi-server answers after {seconds:.1f} s")
    examples = setup_examples(url, args)
    api = serve_examples.request(f"{url}/+api")
    features = sorted(f for f in api["features"] if f.startswith("devpi-"))
    print(banner(url, serverdir, features, examples), flush=True)
    returncode = proc.wait()
    return 0 if stopping else returncode


def banner(url: str, serverdir: Path, features: list[str], examples: str) -> str:
    devpi = BINDIR / "devpi"
    demo = ROOT / "examples" / "demo-project"
    return f"""
devpi-foundry demo server is ready at {url}  (data in {serverdir})
  plugins:  {", ".join(features)}
  indexes:  root/pypi (mirror of PyPI), demo/dev (user demo, password demo, bases root/pypi)
  {examples}
  The devpi client with the plugin commands (devpi policy|build|license) is {devpi}
  Try the demo (README.md, "Try the demo"):
    devpi={devpi}
    $devpi use {url}/demo/dev
    $devpi login demo --password demo
    $devpi policy check pycrypto
    (cd {demo} && $devpi upload --no-vcs --no-isolation --sdist)
    $devpi build request foundry-demo --wait
    $devpi license report foundry-demo
    pip install --index-url {url}/demo/dev/+simple/ foundry-demo
  In a browser: {url}/demo/dev/+buildfarm/builds (the builds), {url}/demo/dev (the index)
  root has an empty password: set one (devpi user -m root password=...) before sharing this.
Press Ctrl-C to stop."""


if __name__ == "__main__":
    sys.exit(main())
