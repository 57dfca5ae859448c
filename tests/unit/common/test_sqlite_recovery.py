"""devpi-foundry-recover: a database left by a process killed mid-write opens read-only
again (as devpi-server 6.20 opens it first), with the unfinished write rolled back."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from devpi_foundry_common.sqlite_recovery import main, recover

if TYPE_CHECKING:
    from pathlib import Path

KILLED_MID_WRITE = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO t VALUES ('uncommitted')")
conn.execute("PRAGMA cache_spill=ON")
conn.execute("INSERT INTO t SELECT hex(randomblob(4000)) FROM (WITH RECURSIVE n(i) AS "
             "(SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) SELECT i FROM n)")
os._exit(0)  # as SIGKILL would: no rollback, the journal stays
"""


def read_only(database: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT v FROM t WHERE v = 'committed' OR "
                                               "v = 'uncommitted'")]  # fmt: skip
    finally:
        conn.close()


def test_a_hot_journal_is_rolled_back(tmp_path: Path) -> None:
    database = tmp_path / ".sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA cache_size=10")
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("INSERT INTO t VALUES ('committed')")
    conn.close()
    subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(database)], check=True)
    assert (tmp_path / ".sqlite-journal").stat().st_size > 0
    with pytest.raises(sqlite3.OperationalError, match="readonly database"):
        read_only(database)  # what devpi-server's start meets
    assert main([str(tmp_path)]) == 0
    assert read_only(database) == ["committed"]
    assert not recover(tmp_path)  # nothing left to do


def test_a_server_directory_without_a_journal_is_left_alone(tmp_path: Path) -> None:
    assert not recover(tmp_path)
    (tmp_path / ".sqlite").write_bytes(b"")
    assert not recover(tmp_path)
