"""PostgreSQL for tests: a database of our own per test session, created and dropped.

The machines (and CI) run PostgreSQL on 127.0.0.1:5432 with trust authentication; other
projects share it, so tests never touch a database they did not create.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

PG_HOST = os.environ.get("FOUNDRY_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("FOUNDRY_PG_PORT", "5432")
PG_USER = os.environ.get("FOUNDRY_PG_USER", "postgres")


def _psql(sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
    psql = shutil.which("psql")
    if psql is None:
        msg = "psql is not installed"
        raise FileNotFoundError(msg)
    cmd = [psql, "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", database, "-v",
           "ON_ERROR_STOP=1", "-Atc", sql]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


def available() -> str | None:
    """``None`` when PostgreSQL answers, else the reason it does not."""
    try:
        res = _psql("select 1")
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if res.returncode == 0 else res.stderr.strip()


def create_database(prefix: str = "devpi_foundry_test") -> str:
    """Create a fresh, uniquely named database and return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    res = _psql(f'CREATE DATABASE "{name}"')
    if res.returncode != 0:
        msg = f"cannot create database {name!r}: {res.stderr.strip()}"
        raise RuntimeError(msg)
    return name


def drop_database(name: str) -> None:
    """Drop a database this session created (closing its connections first)."""
    _psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    _psql(f'DROP DATABASE IF EXISTS "{name}"')


def url(name: str, driver: str = "postgresql") -> str:
    """An SQLAlchemy-style URL of database ``name``."""
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
