"""``devpi-foundry-recover SERVERDIR``: make devpi-server's own SQLite database startable
again after the server was killed in the middle of a write.

devpi-server 6.20's SQLite storage opens its first connection read-only (``mode=ro``, in
``keyfs_sqlite.BaseStorage.ensure_tables_exist``). Killed during a write transaction, it
leaves a *hot* rollback journal (``.sqlite-journal``), which only a read-write connection
may roll back: the read-only one fails with "attempt to write a readonly database" and
devpi-server exits at every start until someone opens the database read-write
(tests/integration/test_crash_uploads.py found it). :func:`recover` does that once:
SQLite rolls the unfinished transaction back, so nothing committed (nothing acknowledged)
is lost. A journal of a running server is not hot (its writer holds a lock), so running
this while the server runs changes nothing; run it before every start (systemd
``ExecStartPre``, see docs/deploy.md).
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
from pathlib import Path

DATABASE = ".sqlite"


def recover(serverdir: Path) -> bool:
    """Roll back the hot journal of ``serverdir``'s database, if there is one; whether
    there was a journal to look at."""
    database = serverdir / DATABASE
    journal = serverdir / f"{DATABASE}-journal"
    if not database.exists() or not journal.exists() or journal.stat().st_size == 0:
        return False
    with contextlib.closing(sqlite3.connect(database, timeout=60)) as conn:
        conn.execute("PRAGMA schema_version").fetchone()  # a read rolls a hot journal back
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devpi-foundry-recover",
        description="roll back an unfinished write of a killed devpi-server (SQLite storage)",
    )
    parser.add_argument("serverdir", type=Path, help="devpi-server's --serverdir")
    args = parser.parse_args(argv)
    if recover(args.serverdir):
        sys.stdout.write(f"{args.serverdir}: checked the journal of an interrupted write\n")
    return 0
