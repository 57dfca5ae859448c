"""Who may push a release out of this server to an external repository URL, and where.

devpi lets anyone who may read an index push its releases to any URL the caller names
(``devpi push NAME==VER pypi:REPO``, a JSON POST with ``posturl``): the server uploads the
files there itself. ``--policy-push-out`` narrows who (``readers``: devpi's behaviour,
``owners``: users who may modify the source index, ``nobody``) and
``--policy-push-out-url`` where (URL prefixes, compared on path segment boundaries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from devpi_policy.config import PushOut


def _parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url.strip())
    return split.scheme.lower(), split.netloc.lower(), split.path or "/"


def url_allowed(url: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``url`` is one of ``prefixes`` or below one (no prefixes: any URL).

    >>> url_allowed("https://upload.example/legacy/", ("https://UPLOAD.example/legacy",))
    True
    >>> url_allowed("https://upload.example/legacy-evil/", ("https://upload.example/legacy",))
    False
    >>> url_allowed("https://upload.example.evil/", ("https://upload.example",))
    False
    """
    if not prefixes:
        return True
    scheme, netloc, path = _parts(url)
    for prefix in prefixes:
        p_scheme, p_netloc, p_path = _parts(prefix)
        if (scheme, netloc) != (p_scheme, p_netloc):
            continue
        base = p_path.rstrip("/")
        if path.rstrip("/") == base or path.startswith(base + "/"):
            return True
    return False


@dataclass(frozen=True, kw_only=True, slots=True)
class PushOutRequest:
    """A push of a release of ``index`` to ``url`` by ``user`` (``None``: anonymous)."""

    index: str
    url: str
    user: str | None
    is_owner: bool


def push_out_problem(mode: PushOut, prefixes: tuple[str, ...], asked: PushOutRequest) -> str | None:
    """Why the push ``asked`` is refused by the server's push-out options (``None``: allowed).

    >>> asked = PushOutRequest(index="team/prod", url="https://x/", user=None, is_owner=False)
    >>> print(push_out_problem("owners", (), asked))
    anonymous may not push releases of team/prod out to 'https://x/': this server lets only the index's owners push out (--policy-push-out owners)
    """  # noqa: E501 - a doctest line
    who = asked.user or "anonymous"
    where = f"push releases of {asked.index} out to {asked.url!r}"
    if mode == "nobody":
        return f"{who} may not {where}: this server lets nobody push out (--policy-push-out nobody)"
    if mode == "owners" and not asked.is_owner:
        return (
            f"{who} may not {where}: this server lets only the index's owners push out "
            "(--policy-push-out owners)"
        )
    if not url_allowed(asked.url, prefixes):
        allowed = ", ".join(prefixes)
        return f"{who} may not {where}: this server pushes out only to {allowed}"
    return None
