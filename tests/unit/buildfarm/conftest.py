"""The build queue on a real SQLite file and on the machine's PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devpi_buildfarm.adapters.queue_sql import SqlQueue
from devpi_buildfarm.core.jobs import JobSpec
from harness import postgres
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


def _spec(n: int = 0, target: str = "cp311-manylinux_x86_64", builder: str = "local") -> JobSpec:
    return JobSpec(
        project=f"p{n}",
        version="1.0",
        sdist=f"p{n}-1.0.tar.gz",
        sdist_sha256=f"{n:064x}",
        sdist_path=f"alice/dev/+f/000/p{n}-1.0.tar.gz",
        index="alice/dev",
        upload_to="alice/dev",
        target=target,
        builder=builder,
    )


@pytest.fixture
def spec() -> Callable[..., JobSpec]:
    """Makes distinct job specs: ``spec(n, target=..., builder=...)``."""
    return _spec


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    require(postgres.available(), "PostgreSQL on 127.0.0.1:5432")
    name = postgres.create_database("foundry_queue")
    yield name
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'buildfarm.sqlite'}"
        return
    name = request.getfixturevalue("pg_database")
    url = postgres.url(name, driver="postgresql+pg8000")
    engine = SqlQueue.from_url(url).engine
    with engine.begin() as conn:  # each test starts with empty tables
        conn.exec_driver_sql("TRUNCATE buildfarm_logs, buildfarm_jobs RESTART IDENTITY CASCADE")
    engine.dispose()
    yield url


@pytest.fixture
def queue(db_url: str) -> Iterator[SqlQueue]:
    q = SqlQueue.from_url(db_url, max_attempts=3, backoff_base=10)
    yield q
    q.engine.dispose()
