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

from devpi_policy.adapters.plugins import NO_FACTS
from devpi_policy.adapters.policy import MEMO_SIZE, IndexPolicy, PolicyCache, decide_path
from devpi_policy.adapters.policy import index_reasons as _index_reasons
from devpi_policy.core.evaluate import Decision, decide, split_filename
from devpi_policy.core.subject import Subject

if TYPE_CHECKING:
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
    entry = xom.filestore.get_file_entry(relpath)
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


def memoised(xom: Any, policies: PolicyCache, relpath: str) -> Any:
    """The memoised decision for ``relpath`` at this serial, else ``NOT_MEMOISED``."""
    memo = policies.memo(xom)
    return NOT_MEMOISED if memo is None else memo.get(relpath, NOT_MEMOISED)


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
    if policy is None or not policy.active:
        decision = None
    elif policy.plugin_rules:  # plugins may answer from more than the options: not memoised
        if not plugins:
            return NEEDS_PLUGINS
        return decide_path(xom, [policy], _subject(served))
    else:
        decision = _own_rules_decision(policy.index, policy.rules, policy.problems, served)
    memo = policies.memo(xom)
    if memo is not None and len(memo) < MEMO_SIZE:
        memo[relpath] = decision
    return decision


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
