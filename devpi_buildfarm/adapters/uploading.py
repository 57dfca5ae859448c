"""Publishing a built wheel as an upload: an HTTP ``file_upload`` to this server, made
with the job credential, so devpi, devpi_policy and devpi_license judge it like any other
upload by that identity. httpx streams the multipart body from the file (a wheel is never
whole in memory).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

import httpx

from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

#: the most of devpi's answer kept (its JSON message, or the body returned)
MAX_ANSWER_BYTES: Final = 65536


def _read_capped(response: httpx.Response) -> bytes:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk[: MAX_ANSWER_BYTES - len(data)]
        if len(data) >= MAX_ANSWER_BYTES:
            break
    return data


def _message(body: bytes) -> str | None:
    """devpi's JSON ``message`` of a refusal, if it sent one."""
    try:
        found = json.loads(body or b"{}").get("message")
    except (ValueError, AttributeError):
        return None
    return str(found)[:2000] if found else None


def upload(  # noqa: PLR0913 - the target, the credential, the file and its form
    url: str, *, username: str, password: str, wheel: Path,
           fields: Sequence[tuple[str, str]], timeout: float = 300.0) -> str:  # fmt: skip
    """POST ``wheel`` to ``url`` (an index); the response body. :class:`BuildError` with
    devpi's reason when it refuses."""
    data: dict[str, list[str]] = {":action": ["file_upload"]}
    for key, value in fields:
        data.setdefault(key, []).append(value)
    try:
        with (
            httpx.Client(auth=(username, password), timeout=timeout, trust_env=False) as client,
            wheel.open("rb") as stream,
        ):
            files = {"content": (wheel.name, stream, "application/octet-stream")}
            headers = {"Accept": "application/json"}
            with client.stream("POST", url, data=data, files=files, headers=headers) as response:
                body = _read_capped(response)
                status, reason = response.status_code, response.reason_phrase
    except (httpx.HTTPError, OSError) as exc:
        msg = f"could not reach {url} to publish {wheel.name}: {exc}"
        raise BuildError(msg, stage="publish") from None
    if status >= 400:  # noqa: PLR2004
        reason = _message(body) or reason
        msg = f"{username} may not publish {wheel.name} to {url}: {status} {reason}"
        raise BuildError(msg, stage="publish", permanent=status < 500)  # noqa: PLR2004
    return body.decode("utf-8", "replace")
