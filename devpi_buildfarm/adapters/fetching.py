"""Fetching a job's sdist from this server's own ``+f`` URL as the job's identity (devpi
checks the read permission, and fetches and caches a mirrored file on the way), streamed
to the worker's disk under a size cap, with retries for what is worth waiting out."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Final

import httpx

from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

MAX_SDIST_BYTES = 1024**3
#: HTTP statuses worth waiting out: the request that queued the job may not have committed
#: the mirror's file entry yet (404/410), devpi 6 answered a mirror file whose project page
#: was rewritten meanwhile with 500 ("file existed, deleted in later serial": seen in
#: tox -e buildcoverage), or the upstream hiccuped (502-504)
RETRY_STATUSES: Final = frozenset({404, 410, 500, 502, 503, 504})
FETCH_DELAYS: Final = (0.5, 1.0, 2.0, 4.0)
CHUNK: Final = 1024 * 1024


def fetch_to(  # noqa: PLR0913 - URL, destination, credential, log, limits
    url: str, dest: Path, *, username: str | None = None, password: str | None = None,
    log: Callable[[bytes], None] | None = None, timeout: float = 300.0,
    max_bytes: int = MAX_SDIST_BYTES,
) -> str:  # fmt: skip
    """GET ``url`` into ``dest``; its sha256. :class:`BuildError` when that fails."""
    auth = (username, password) if username and password else None
    # trust_env=False: no proxies, no netrc; this is the server's own URL
    with httpx.Client(auth=auth, timeout=timeout, trust_env=False,
                      follow_redirects=True) as client:  # fmt: skip
        for delay in (*FETCH_DELAYS, None):
            try:
                with client.stream("GET", url) as response:
                    if response.is_success:
                        return _stream(response, dest, max_bytes, url)
                    status, reason = response.status_code, response.reason_phrase
            except (httpx.HTTPError, OSError) as exc:
                msg = f"could not fetch {url}: {exc}"
                raise BuildError(msg, stage="fetch") from None
            if status not in RETRY_STATUSES or delay is None:
                who = f" as {username}" if username else ""
                msg = f"could not fetch {url}{who}: {status} {reason}"
                raise BuildError(msg, stage="fetch")
            if log is not None:
                log(f"devpi-buildfarm: {url}: {status}; trying again in {delay} s\n".encode())
            time.sleep(delay)
    raise AssertionError  # pragma: no cover - the loop returns or raises


def _stream(response: httpx.Response, dest: Path, max_bytes: int, url: str) -> str:
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as out:
        for chunk in response.iter_bytes(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                msg = f"{url} is larger than {max_bytes} bytes"
                raise BuildError(msg, stage="fetch")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
