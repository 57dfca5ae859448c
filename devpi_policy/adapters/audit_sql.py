"""The audit's rows in a relational database: SQLAlchemy Core, SQLite or PostgreSQL.

Only the audit writer thread writes (adapters/audit_writer.py); the audit view reads.
``policy_audit`` holds one row per (index, subject, rule, mode, hour, node);
``policy_audit_request`` the request ids counted in each row, so the id a user quotes
from a 403 finds its row. Times are seconds since the epoch, the same on both databases.
SQLAlchemy is imported only by this module, which the writer imports on its first
flush: a server that refuses nothing never opens the database.
"""

from __future__ import annotations

import contextlib
import json
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from devpi_policy.core.audit import HOUR, AuditRow, Requester, RowKey

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

SCHEMA_VERSION: Final = 1
#: rows kept in memory after a write (the keys of the last hours' refusals)
KNOWN_ROWS: Final = 4096
COUNT_COLUMNS: Final = ("count", "first_at", "last_at", "reason", "requesters", "other_requests")
metadata = sa.MetaData()
meta = sa.Table(
    "policy_audit_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
rows = sa.Table(
    "policy_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idx", sa.String(255), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("hour", sa.Integer, nullable=False),
    sa.Column("node", sa.String(128), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("first_at", sa.Float, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    #: JSON list of {user, address, user_agent, forwarded_for, count}
    sa.Column("requesters", sa.Text, nullable=False),
    sa.Column("other_requests", sa.Integer, nullable=False, default=0),
    sa.UniqueConstraint("idx", "subject", "rule", "mode", "hour", "node", name="uq_policy_audit"),
    sa.Index("ix_policy_audit_idx_hour", "idx", "hour"),
)
requests = sa.Table(
    "policy_audit_request",
    metadata,
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("audit_id", sa.Integer, sa.ForeignKey(rows.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.PrimaryKeyConstraint("request_id", "audit_id"),
    sa.Index("ix_policy_audit_request_row", "audit_id"),
)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # the view's reads do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock up front: no upgrade race


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+pg8000://...``)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)


def _requesters_json(row: AuditRow) -> str:
    return json.dumps(
        [
            {
                "user": who.user,
                "address": who.address,
                "user_agent": who.user_agent,
                "forwarded_for": who.forwarded_for,
                "count": count,
            }
            for who, count in row.requesters.items()
        ]
    )


def _stored_row(found: Any) -> AuditRow:
    m = found._mapping  # noqa: SLF001 - SQLAlchemy's documented mapping view of a row
    requesters = {
        Requester(
            user=r["user"],
            address=r["address"],
            user_agent=r["user_agent"],
            forwarded_for=r.get("forwarded_for", ""),
        ): int(r["count"])
        for r in json.loads(m["requesters"])
    }
    key = (m["idx"], m["subject"], m["rule"], m["mode"], m["hour"], m["node"])
    return AuditRow(key=key, count=m["count"], first_at=m["first_at"], last_at=m["last_at"],
                    reason=m["reason"], requesters=requesters,
                    other_requests=m["other_requests"])  # fmt: skip


def _copy(row: AuditRow) -> AuditRow:
    """The counts of ``row`` (request ids are stored apart and not kept)."""
    return AuditRow(key=row.key, count=row.count, first_at=row.first_at, last_at=row.last_at,
                    reason=row.reason, requesters=dict(row.requesters),
                    other_requests=row.other_requests)  # fmt: skip


def _key_clause(key: tuple[Any, ...]) -> Any:
    columns = (rows.c.idx, rows.c.subject, rows.c.rule, rows.c.mode, rows.c.hour, rows.c.node)
    return sa.and_(*(column == value for column, value in zip(columns, key, strict=True)))


class SqlAuditStore:
    """The audit rows of one devpi-server (or of several sharing a PostgreSQL database:
    each node's rows are its own, the node is part of the key)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        # a request counted twice in one row (two checks of one request) is kept once
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert_ids = dialect.insert(requests).on_conflict_do_nothing()
        self._update = (
            rows.update()
            .where(rows.c.id == sa.bindparam("b_id"))
            .values({name: sa.bindparam(f"b_{name}") for name in COUNT_COLUMNS})
        )
        self._known: OrderedDict[RowKey, tuple[int, AuditRow]] = OrderedDict()
        with self._begin() as conn:
            metadata.create_all(conn)
            version = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema")).scalar()
            if version is None:
                conn.execute(meta.insert().values(key="schema", value=str(SCHEMA_VERSION)))

    @classmethod
    def from_url(cls, url: str) -> SqlAuditStore:
        engine = make_engine(url)
        try:
            return cls(engine)
        except BaseException:
            engine.dispose()
            raise

    @contextlib.contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def add_rows(self, new_rows: Sequence[AuditRow]) -> None:
        """Add ``new_rows`` to the stored rows of their keys, in one transaction.

        The rows this store wrote last are kept in memory (only this node writes rows of
        its keys), so a batch costs one UPDATE for all known rows, one INSERT per new key
        and one for the request ids, instead of a read per row.
        """
        merged: dict[RowKey, tuple[int, AuditRow]] = {}
        updates, ids = [], []
        with self._begin() as conn:
            for row in new_rows:
                row_id, stored = self._current(conn, row)
                if stored is None:
                    stored = _copy(row)
                else:
                    stored.merge(row)
                    updates.append(
                        {"b_id": row_id, **{f"b_{k}": v for k, v in _counts(stored).items()}}
                    )
                merged[row.key] = (row_id, stored)
                ids += [{"request_id": rid, "audit_id": row_id, "at": at}
                        for rid, at in dict(row.request_ids).items()]  # fmt: skip
            if updates:
                conn.execute(self._update, updates)
            if ids:
                conn.execute(self._insert_ids, ids)
        for key, value in merged.items():  # committed: remember them
            self._known[key] = value
            self._known.move_to_end(key)
        while len(self._known) > KNOWN_ROWS:
            self._known.popitem(last=False)

    def _current(self, conn: sa.Connection, row: AuditRow) -> tuple[int, AuditRow | None]:
        """The id and stored counts (a copy) of ``row``'s key; a new key is inserted with
        ``row``'s counts (``None`` then)."""
        known = self._known.get(row.key)
        if known is not None:
            return known[0], _copy(known[1])
        found = conn.execute(sa.select(rows).where(_key_clause(row.key))).first()
        if found is not None:
            return found.id, _stored_row(found)
        idx, subject, rule, mode, hour, node = row.key
        key = {"idx": idx, "subject": subject, "rule": rule, "mode": mode, "hour": hour,
               "node": node}  # fmt: skip
        inserted = conn.execute(rows.insert().values(**key, **_counts(row)))
        return inserted.inserted_primary_key[0], None  # type: ignore[index]  # an insert has a key

    def _delete(self, where: Any) -> int:
        self._known.clear()
        with self._begin() as conn:
            ids = sa.select(rows.c.id).where(where).scalar_subquery()
            conn.execute(requests.delete().where(requests.c.audit_id.in_(ids)))
            return int(conn.execute(rows.delete().where(where)).rowcount)

    def delete_index(self, index: str) -> int:
        return self._delete(rows.c.idx == index)

    def delete_user(self, user: str) -> int:
        prefix = user.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        return self._delete(rows.c.idx.like(prefix, escape="\\"))

    def prune(self, before: float) -> int:
        return self._delete(rows.c.hour + HOUR <= before)

    def query(
        self, *, index: str, since: float | None = None, request_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The stored rows of ``index``, newest hour first, as the audit's JSON shows them."""
        where = [rows.c.idx == index]
        if since is not None:
            where.append(rows.c.last_at >= since)
        if request_id is not None:
            ids = sa.select(requests.c.audit_id).where(requests.c.request_id == request_id)
            where.append(rows.c.id.in_(ids.scalar_subquery()))
        order = (rows.c.hour.desc(), rows.c.count.desc(), rows.c.subject, rows.c.rule)
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(rows).where(*where).order_by(*order)).all()
            recent = _recent_ids(conn, [r.id for r in found])
        return [_as_dict(r, recent.get(r.id, [])) for r in found]


#: request ids shown per row (all are stored; ``--request`` finds any of them)
SHOWN_IDS: Final = 5


def _recent_ids(conn: sa.Connection, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[tuple[float, str]]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = sa.select(requests).where(requests.c.audit_id.in_(chunk))
        for r in conn.execute(query):
            found.setdefault(r.audit_id, []).append((r.at, r.request_id))
    return {k: [rid for _, rid in sorted(v, reverse=True)[:SHOWN_IDS]] for k, v in found.items()}


def _counts(row: AuditRow) -> dict[str, Any]:
    return {
        "count": row.count,
        "first_at": row.first_at,
        "last_at": row.last_at,
        "reason": row.reason,
        "requesters": _requesters_json(row),
        "other_requests": row.other_requests,
    }


def _as_dict(found: Any, request_ids: list[str]) -> dict[str, Any]:
    m = found._mapping  # noqa: SLF001 - SQLAlchemy's documented mapping view of a row
    return {
        "index": m["idx"],
        "subject": m["subject"],
        "rule": m["rule"],
        "mode": m["mode"],
        "hour": m["hour"],
        "node": m["node"],
        "count": m["count"],
        "first": m["first_at"],
        "last": m["last_at"],
        "reason": m["reason"],
        "requesters": json.loads(m["requesters"]),
        "other_requests": m["other_requests"],
        "request_ids": request_ids,
    }
