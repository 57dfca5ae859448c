"""devpi-server side of the refusal audit: requests to events, the writer of each server,
request ids, and the rows of deleted indexes and users.

The audit holds what this plugin refuses (and would refuse in ``dry-run``): each event
names the index of the request's URL, the file or project asked for, the rule, the
requester (user or ``anonymous``, client address, User-Agent, any ``X-Forwarded-For``)
and the node (``primary``/``replica`` and devpi's node uuid).
"""

from __future__ import annotations

import json
import logging
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from devpi_foundry_common.singletons import per_server
from devpi_policy.adapters.audit_writer import AuditWriter
from devpi_policy.adapters.devpi import metrics_for
from devpi_policy.config import AuditOptions
from devpi_policy.core.audit import AuditEvent, AuditMode, Requester, clip, events_of
from devpi_policy.errors import InvalidServerOptionsError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from devpi_policy.core.audit import AuditStore

log = logging.getLogger(__name__)
#: registry key of this server's writer (looked up once per refusal)
AUDIT: Final = "devpi_policy.audit"
_NODE: Final = "devpi_policy.audit_node"
_REQUEST_ID: Final = "devpi_policy.request_id"


def writer_for(xom: Any) -> AuditWriter:
    """The audit writer of this server, made once (its thread is devpi's to start)."""

    metrics = metrics_for(xom)  # not inside make: devpi's singleton lock is not reentrant

    def make() -> AuditWriter:
        options = AuditOptions.from_args(xom.config.args, str(xom.config.server_path))
        problems = options.problems()
        if problems:
            raise InvalidServerOptionsError(problems)  # devpi-server does not start: it says why
        return AuditWriter(
            lambda create: open_store(options.db, create=create),
            metrics,
            capacity=options.queue,
            retention=options.retention_days * 86400,
        )

    return per_server(xom, "devpi-policy", "audit", make)


def open_store(url: str, *, create: bool) -> AuditStore | None:
    """The store at ``url``; ``None`` for an SQLite file that does not exist unless
    ``create``. SQLAlchemy is imported here, on the audit thread's first write."""
    from devpi_policy.adapters.audit_sql import SqlAuditStore

    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not create and not path.exists():
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
    return SqlAuditStore.from_url(url)


def node_of(xom: Any) -> str:
    """``primary <uuid>`` or ``replica <uuid>``: which server refused."""
    config = xom.config
    role = "replica" if xom.is_replica() else "primary"
    return f"{role} {config.nodeinfo.get('uuid', '?')}"


def request_id(request: Any) -> str:
    """This request's audit id (made on first use; one per request)."""
    environ = request.environ
    found = environ.get(_REQUEST_ID)
    if found is None:
        found = environ[_REQUEST_ID] = secrets.token_hex(8)
    return str(found)


def _subject(request: Any) -> str:
    """The file or project a request asks for (or stores)."""
    match = request.matchdict or {}
    relpath = match.get("relpath")
    if relpath:
        return str(relpath).rsplit("/", 1)[-1].split("#", 1)[0]
    if request.method in ("POST", "PUSH"):
        content = request.POST.get("content") if request.POST.get(":action") else None
        filename = getattr(content, "filename", None)
        if filename:
            return str(filename)
        form = request.POST if request.POST.get(":action") else _push_body(request)
        name, version = form.get("name"), form.get("version")
        if isinstance(name, str):
            return f"{name} {version}" if isinstance(version, str) and version else name
    project = match.get("project")
    if project:
        version = match.get("version")
        return f"{project} {version}" if version else str(project)
    return str(request.path)


def _push_body(request: Any) -> dict[str, Any]:
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _index(request: Any) -> str:
    match = request.matchdict or {}
    if "user" in match and "index" in match:
        return f"{match['user']}/{match['index']}"
    stage = getattr(request.context, "stage", None)
    return str(getattr(stage, "name", "?"))


def record(request: Any, reasons: Iterable[str], mode: AuditMode) -> str:
    """Queue one audit event per rule among ``reasons``; the request id they carry."""
    rid = request_id(request)
    writer: AuditWriter = request.registry[AUDIT]
    headers = request.headers
    template = AuditEvent(
        index=_index(request),
        subject=clip(_subject(request)),
        rule="",
        mode=mode,
        reason="",
        at=time.time(),
        requester=Requester(
            user=request.authenticated_userid or "anonymous",
            address=request.remote_addr or "",
            user_agent=clip(headers.get("User-Agent", "")),
            forwarded_for=clip(headers.get("X-Forwarded-For", ""), 200),
        ),
        node=request.registry[_NODE],
        request_id=rid,
    )
    writer.record(events_of(reasons, mode, template=template))
    return rid


def setup(registry: Any, xom: Any) -> None:
    """Make this server's writer (its thread joins devpi's thread pool at the first
    refusal: a server that refuses nothing runs no audit thread), and follow index and
    user deletions (keyfs ``USER`` changes, handled by devpi's notifier thread)."""
    writer = writer_for(xom)
    registry[AUDIT] = writer
    registry[_NODE] = node_of(xom)
    if getattr(writer, "thread", None) is None and writer.start_thread is None:
        if writer.reading_store() is not None:  # rows of an earlier run: prune from the start
            writer.start_thread = lambda: None
            writer.ensure_thread()
            xom.thread_pool.register(writer)  # devpi's pool starts it with the server
        else:

            def start() -> None:  # on the first refusal: devpi's pool is running by then
                xom.thread_pool.register(writer)
                xom.thread_pool.start_one(writer)

            writer.start_thread = start
        _shutdown_on_sigterm()
    xom.keyfs.notifier.on_key_change("USER", lambda ev: on_user_change(xom, writer, ev))


def _shutdown_on_sigterm() -> None:
    """Let SIGTERM (systemd's and docker's stop) end devpi-server as Ctrl-C does: devpi's
    thread pool then shuts down, and the audit thread writes what is queued. Python's
    default for SIGTERM ends the process at once; a handler someone else installed stays."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: Any) -> None:  # noqa: ARG001 - a signal handler's signature
    raise KeyboardInterrupt


def on_user_change(xom: Any, writer: AuditWriter, event: Any) -> None:
    """A user record changed: forget the audit of its deleted indexes (or of all its
    indexes, when the user is gone)."""
    try:
        user = event.typedkey.params["user"]
        new = event.value
        if new is None:
            writer.forget("user", user)
            return
        if event.back_serial < 0:
            return
        with xom.keyfs.read_transaction(at_serial=event.at_serial) as tx:
            try:
                old = tx.get_value_at(event.typedkey, event.back_serial) or {}
            except KeyError:
                return
        for name in set(old.get("indexes", {})) - set(new.get("indexes", {})):
            writer.forget("index", f"{user}/{name}")
    except Exception:  # notifier callbacks must not raise: devpi would not retry the event
        log.exception("policy audit: could not follow the change of %r", event)
