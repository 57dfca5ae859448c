"""What a ``+f``/``+e`` URL serves, resolved as devpi resolves it, and the rules' decision.

devpi's file views (``devpi_server.views.PyPIView.stage_pkgserv``/``mirror_pkgserv``) do not
use the route's ``relpath``: they take the request's whole path, strip its outer slashes,
cut it at a ``#`` and a ``.metadata`` suffix, and look the rest up as a keyfs key. A check
on the route's text let spellings that this resolution still serves (a trailing ``/``, a
``%23...`` suffix, ``.metadata/``) through. Here the same steps give the file entry devpi
will serve, and the decision is made on that entry: its index, file name, project and
version. Pyramid wiring (when to ask, what to answer) is in devpi_policy/serving_views.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from devpi_server.filestore import FileEntry

from devpi_policy.adapters import quarantine, upload_times
from devpi_policy.adapters.plugins import NO_FACTS
from devpi_policy.adapters.policy import MEMO_SIZE, IndexPolicy, PolicyCache, decide_path
from devpi_policy.adapters.policy import index_reasons as _index_reasons
from devpi_policy.core.evaluate import Decision, decide, split_filename
from devpi_policy.core.subject import Subject

if TYPE_CHECKING:
    from datetime import datetime

    from devpi_policy.core.rules import Rules


class _Unresolved:
    """The URL names no file entry (yet): devpi answers 404, or fetches a mirror's page."""

    def __repr__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED: Final = _Unresolved()
#: A memo miss (distinct from a memoised ``None``: no rules on the holding index).
NOT_MEMOISED: Final = object()
#: :func:`decide_file` without plugins: the decision needs them.
NEEDS_PLUGINS: Final = object()
METADATA_SUFFIX: Final = ".metadata"


@dataclass(frozen=True, kw_only=True, slots=True)
class ServedFile:
    """The file entry a URL resolves to."""

    index: str
    filename: str
    project: str
    version: str | None


def entry_relpath(path_info: str) -> str:
    """The key devpi looks up for a file URL's path (``request.path_info``).

    >>> entry_relpath("/team/prod/+f/ab/cd/x-1.0.tar.gz/")
    'team/prod/+f/ab/cd/x-1.0.tar.gz'
    >>> entry_relpath("/team/prod/+f/ab/cd/x-1.0-py3-none-any.whl.metadata#frag")
    'team/prod/+f/ab/cd/x-1.0-py3-none-any.whl'
    """
    relpath = path_info.strip("/")
    if "#" in relpath:  # devpi cuts there too (PyPIView._relpath_from_request)
        relpath = relpath.split("#", 1)[0]
    return relpath.removesuffix(METADATA_SUFFIX)


def resolve(xom: Any, relpath: str) -> ServedFile | None:
    """The entry devpi serves for ``relpath`` (``None``: none, or deleted)."""
    entry = _file_entry(xom, relpath)
    if entry is None or not entry.meta:
        return None
    filename = str(entry.basename)
    name, version, _ = split_filename(filename)
    return ServedFile(
        index=f"{entry.user}/{entry.index}",
        filename=filename,
        project=str(entry.project or name),
        version=str(entry.version) if entry.version else version,
    )


@dataclass(frozen=True, slots=True)
class _Expiring:
    """A decision with the quarantine's verdict in it: it holds until that verdict may
    change by time alone, and while the upload time it read holds."""

    decision: Decision
    changes_at: datetime | None
    validity: upload_times.Validity


#: keyfs key names by file path: devpi asks its database which key a path is (a query per
#: lookup); a path's key never changes, only whether it exists (read from the key itself)
_KEY_NAMES: dict[str, str] = {}
_KEY_NAMES_MAX: Final = 200_000


def _file_entry(xom: Any, relpath: str) -> Any:
    """``xom.filestore.get_file_entry(relpath)``, without asking the database for the key
    name of a path seen before."""
    name = _KEY_NAMES.get(relpath)
    if name is None:
        entry = xom.filestore.get_file_entry(relpath)
        found = getattr(getattr(entry, "key", None), "name", None)
        if isinstance(found, str):
            if len(_KEY_NAMES) >= _KEY_NAMES_MAX:
                _KEY_NAMES.clear()
            _KEY_NAMES[relpath] = found
        return entry
    return FileEntry(xom.keyfs.get_key_instance(name, relpath))


def memoised(xom: Any, policies: PolicyCache, relpath: str) -> Any:
    """The memoised decision for ``relpath`` at this serial, else ``NOT_MEMOISED``."""
    memo = policies.memo(xom)
    found = NOT_MEMOISED if memo is None else memo.get(relpath, NOT_MEMOISED)
    if isinstance(found, _Expiring):
        expired = found.changes_at is not None and quarantine.now() >= found.changes_at
        return NOT_MEMOISED if expired or not found.validity.holds() else found.decision
    return found


def decide_file(
    xom: Any, policies: PolicyCache, relpath: str, *, plugins: bool = True
) -> Decision | _Unresolved | object | None:
    """The rules' decision about the entry ``relpath`` resolves to: ``None`` when its
    index has no rules, ``UNRESOLVED`` when it resolves to nothing. With ``plugins=False``
    a decision that needs devpi_policy plugins (which may look facts up) is not made:
    ``NEEDS_PLUGINS`` instead.

    A decision that follows from the index options alone is memoised per keyfs serial
    and entry key, so a repeated download (however spelled) costs one lookup.
    """
    served = resolve(xom, relpath)
    if served is None:
        return UNRESOLVED  # not memoised: devpi may create it (mirror) in its view
    policy = policies.get(xom, served.index)
    kept: Decision | _Expiring | None
    if policy is None or not policy.active:
        decision = kept = None
    elif policy.plugin_rules and not policy.problems:  # (invalid options refuse alone)
        if not plugins:
            return NEEDS_PLUGINS
        # the quarantine alone is memoised with its expiry; other plugins may answer from
        # more than the options: not memoised
        kept = None if policy.quarantine is None else _with_quarantine(xom, policy, served)
        if kept is None:
            return decide_path(xom, [policy], _subject(served))
        decision = kept.decision
    else:
        decision = kept = _own_rules_decision(policy.index, policy.rules, policy.problems, served)
    memo = policies.memo(xom)
    if memo is not None and len(memo) < MEMO_SIZE:
        memo[relpath] = kept
    return decision


def _with_quarantine(xom: Any, policy: IndexPolicy, served: ServedFile) -> _Expiring | None:
    """The decision of the index options and of the quarantine (``None``: the quarantine
    could not judge)."""
    own = _own_rules_decision(policy.index, policy.rules, policy.problems, served)
    if policy.quarantine is None:
        return None
    moment = quarantine.now()
    try:
        with upload_times.tracking() as validity:
            verdict = quarantine.judge(xom, policy.quarantine, _subject(served), moment)
    except Exception:  # noqa: BLE001 - the plugin path logs why, and fails closed
        return None
    reasons = [*own.denials, *own.dry_run, *verdict.reasons]
    return _Expiring(decide([(policy.mode, reasons)]), verdict.changes_at, validity)


def _subject(served: ServedFile) -> Subject:
    return Subject(
        phase="download",
        index=served.index,
        project=served.project,
        version=served.version,
        filename=served.filename,
        stored_in=served.index,
    )


@lru_cache(maxsize=8192)
def _own_rules_decision(
    index: str, rules: Rules, problems: tuple[str, ...], served: ServedFile
) -> Decision:
    """Memoised per (rules, file): without plugin rules nothing else decides a download."""
    policy = IndexPolicy(
        index=index, mode=rules.mode, rules=rules, problems=problems, options={}, plugin_rules=False
    )
    return decide([(policy.mode, _index_reasons(None, policy, _subject(served), NO_FACTS))])
