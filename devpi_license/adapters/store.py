"""The plugin's own store of extracted release licenses (SQLite in the server directory).

Mirrored releases have no writable versiondata in devpi, and a replica cannot write
devpi's database: licenses devpi_license extracts itself live here, keyed by the index
that holds the release. It is a cache of facts that can always be extracted again:
it is neither replicated nor exported (each server extracts its own), and a damaged file
is replaced by an empty one.

Python's ``sqlite3`` serves: a single keyed table needs no ORM, and importing SQLAlchemy
into every devpi-server that has this plugin would cost memory on every request path.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from devpi_foundry_common.failures import log_failure
from devpi_license.core.release import ReleaseLicense, from_json

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)
CACHE_SIZE: Final = 50_000
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS release_license (
    idx TEXT NOT NULL, project TEXT NOT NULL, version TEXT NOT NULL,
    data TEXT NOT NULL, extracted_at REAL NOT NULL,
    PRIMARY KEY (idx, project, version)
)
"""
Key = tuple[str, str, str]


class LicenseStore:
    """Release licenses by ``(index, project, version)``, with a bounded memory cache."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._cache: OrderedDict[Key, ReleaseLicense] = OrderedDict()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            log_failure(log, exc, f"license store {path} is damaged; starting a new one")
            path.unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(SCHEMA)
        return db

    def get(self, index: str, project: str, version: str) -> ReleaseLicense | None:
        key = (index, project, version)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
            row = self._db.execute(
                "SELECT data FROM release_license WHERE idx=? AND project=? AND version=?", key
            ).fetchone()
            if row is None:
                return None
            found = from_json(json.loads(row[0]))
            self._remember(key, found)
            return found

    def known_versions(self, index: str, project: str) -> set[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT version FROM release_license WHERE idx=? AND project=?", (index, project)
            ).fetchall()
        return {row[0] for row in rows}

    def put(self, index: str, project: str, version: str, license_: ReleaseLicense) -> None:
        key = (index, project, version)
        data = json.dumps(license_.as_json(), sort_keys=True)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO release_license VALUES (?, ?, ?, ?, ?)",
                (*key, data, time.time()),
            )
            self._remember(key, license_)

    def forget_index(self, index: str) -> None:
        """Drop what is known about an index (it was deleted or re-created)."""
        with self._lock:
            self._db.execute("DELETE FROM release_license WHERE idx=?", (index,))
            for key in [k for k in self._cache if k[0] == index]:
                del self._cache[key]

    def _remember(self, key: Key, value: ReleaseLicense) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            self._db.close()
