"""``tox -e serve`` (tools/serve.py) with the examples/ configuration, against a test upstream."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import serverlog
from harness.clients import Venv, assert_all_from, pip_install
from harness.env import isolated_env
from harness.server import DevpiServer, free_port, get_json

SERVE = Path(__file__).parents[2] / "tools" / "serve.py"


def test_serve_brings_up_the_demo(upstream: DevpiServer, tmp_path: Path, home: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, str(SERVE), "--serverdir", str(tmp_path / "serverdir"), "--port", str(port),
        "--mirror-url", f"{upstream.url}/root/up/+simple/",
    ]  # fmt: skip
    serverlog.watch(tmp_path / "serve.log")
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=isolated_env(home))
    try:
        deadline = time.monotonic() + 120
        while b"Press Ctrl-C to stop." not in (tmp_path / "serve.log").read_bytes():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        api = get_json(f"{url}/+api")
        assert {"devpi-policy", "devpi-buildfarm", "devpi-license"} <= set(api["features"])
        metrics = {m[0] for m in get_json(f"{url}/+status")["metrics"]}
        assert {"devpi_policy_checks_total", "devpi_buildfarm_jobs_queued"} <= metrics
        demo = get_json(f"{url}/demo/dev?no_projects=")
        assert demo["bases"] == ["root/pypi"]
        mirror = get_json(f"{url}/root/pypi?no_projects=")
        # no promise of .metadata files the upstream may not have; no full name list
        assert not mirror.get("mirror_provides_core_metadata")
        assert mirror["mirror_no_project_list"] is True
        venv = Venv.create(tmp_path / "venv")
        _, report = pip_install(venv, home, f"{url}/demo/dev/+simple/", "up-app")
        assert_all_from(report, url)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        log.close()
