"""Fetching an sdist through this server's own ``+f`` URL (devpi fetches, checks and
caches a mirrored file on the way), with retries for what is worth waiting out."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Final

from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_SDIST_BYTES = 1024**3


#: HTTP statuses worth waiting out: the request that queued the job may not have committed
#: the mirror's file entry yet (404/410), or the upstream hiccuped (502-504)
RETRY_STATUSES: Final = frozenset({404, 410, 502, 503, 504})
FETCH_DELAYS: Final = (0.5, 1.0, 2.0, 4.0)


def fetch(url: str, *, timeout: float = 300.0, log: Callable[[bytes], None] | None = None) -> bytes:
    """GET ``url`` (this server's own ``+f`` URL); :class:`BuildError` when that fails."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxies
    for delay in (*FETCH_DELAYS, None):
        try:
            with opener.open(url, timeout=timeout) as response:
                data: bytes = response.read(MAX_SDIST_BYTES + 1)
            break
        except urllib.error.HTTPError as exc:
            exc.close()  # the error response holds the connection
            if exc.code not in RETRY_STATUSES or delay is None:
                msg = f"could not fetch {url}: {exc}"
                raise BuildError(msg, stage="fetch") from None
            if log is not None:
                log(f"devpi-buildfarm: {url}: {exc}; trying again in {delay} s\n".encode())
            time.sleep(delay)
        except (urllib.error.URLError, OSError) as exc:
            msg = f"could not fetch {url}: {exc}"
            raise BuildError(msg, stage="fetch") from None
    if len(data) > MAX_SDIST_BYTES:
        msg = f"{url} is larger than {MAX_SDIST_BYTES} bytes"
        raise BuildError(msg, stage="fetch")
    return data
