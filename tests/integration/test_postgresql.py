"""The plugins on a devpi-server whose storage is PostgreSQL (devpi-postgresql)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from harness import postgres
from harness.api import DevpiApi
from harness.clients import DevpiClient, Venv, assert_all_from, pip_install, twine_upload
from harness.dists import Project, make_wheel
from harness.server import ROOT_PASSWORD, DevpiServer
from integration.conftest import BINDIR

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.postgresql


def test_plugins_on_postgresql_storage(pg_database: str, tmp_path: Path, home: Path) -> None:
    storage = (
        f"pg8000:host={postgres.PG_HOST},port={postgres.PG_PORT},"
        f"database={pg_database},user={postgres.PG_USER}"
    )
    server = DevpiServer(
        tmp_path / "serverdir",
        BINDIR,
        args=("--storage", storage),
        init_args=("--no-root-pypi", "--storage", storage),
    ).start()
    try:
        assert {"devpi-policy", "devpi-buildfarm", "devpi-license"} <= set(server.api()["features"])
        devpi = DevpiClient(home).use_login(server.url, "root", ROOT_PASSWORD)
        devpi("index", "-c", "root/dev", "policy_exclude=evil-*", "buildfarm_targets=cp311-*")
        devpi("index", "root/dev", "policy_exclude+=worse-*")
        assert DevpiApi(server.url).index("root/dev")["policy_exclude"] == ["evil-*", "worse-*"]
        wheel = make_wheel(tmp_path / "dists", Project("pg-demo", "1.0"))
        twine_upload(home, f"{server.url}/root/dev/", "root", ROOT_PASSWORD, wheel)
        venv = Venv.create(tmp_path / "venv")
        _, report = pip_install(venv, home, f"{server.url}/root/dev/+simple/", "pg-demo")
        assert_all_from(report, server.url)
    finally:
        server.stop()
