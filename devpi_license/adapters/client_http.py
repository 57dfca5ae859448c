"""devpi-client's HTTP session as a :class:`~devpi_license.adapters.fetching.JsonGetter`.

Requests carry what ``devpi use``/``devpi login`` configured for the server: the login
token (``X-Devpi-Auth``), basic auth and a client certificate; all share ``hub.http``.
"""

from __future__ import annotations

from typing import Any, Final

from devpi.main import set_devpi_auth_header

from devpi_license.adapters.fetching import FetchError

TIMEOUT_SECONDS: Final = 60.0


class HubHttp:
    """GETs through devpi-client's ``hub.http`` (a ``requests`` session), thread-safe."""

    def __init__(self, hub: Any, url: str) -> None:
        current = hub.current
        self.session = hub.http
        self.headers: dict[str, str] = {}
        set_devpi_auth_header(self.headers, current.get_auth())
        self.basic_auth = current.get_basic_auth(url=url)
        self.cert = current.get_client_cert(url=url)

    def get(self, url: str, accept: str) -> tuple[int, Any]:
        """``url``'s status and JSON body (``None`` when the body is not JSON)."""
        headers = {**self.headers, "Accept": accept}
        try:
            reply = self.session.get(
                url, headers=headers, auth=self.basic_auth, cert=self.cert, timeout=TIMEOUT_SECONDS
            )
        except OSError as exc:  # requests' errors are OSErrors
            msg = f"could not reach {url}: {exc}"
            raise FetchError(msg) from exc
        try:
            body = reply.json()
        except ValueError:
            body = None
        return int(reply.status_code), body
