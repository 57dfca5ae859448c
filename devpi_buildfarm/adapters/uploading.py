"""Publishing a built wheel as an upload: an HTTP ``file_upload`` to this server, made
with the job credential, so devpi, devpi_policy and devpi_license judge it like any other
upload by that identity. The multipart body is streamed from the file (a wheel is never
whole in memory); ``urllib`` has no multipart encoder, and a 40-line one beats a
dependency for it.
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

CHUNK = 1024 * 1024


def _parts(
    boundary: str, fields: Sequence[tuple[str, str]], wheel: Path
) -> tuple[list[bytes], bytes]:
    head = []
    for name, value in fields:
        head.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    f"{value}\r\n".encode())  # fmt: skip
    head.append(f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
                f'filename="{wheel.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                .encode())  # fmt: skip
    return head, f"\r\n--{boundary}--\r\n".encode()


def _body(head: list[bytes], wheel: Path, tail: bytes) -> Iterator[bytes]:
    yield from head
    with wheel.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk
    yield tail


def _message(exc: urllib.error.HTTPError) -> str | None:
    """devpi's JSON ``message`` of a refusal, if it sent one."""
    try:
        found = json.loads(exc.read(65536) or b"{}").get("message")
    except (ValueError, AttributeError, OSError):
        return None
    return str(found)[:2000] if found else None


def upload(  # noqa: PLR0913 - the target, the credential, the file and its form
    url: str, *, username: str, password: str, wheel: Path,
           fields: Sequence[tuple[str, str]], timeout: float = 300.0) -> str:  # fmt: skip
    """POST ``wheel`` to ``url`` (an index); the response body. :class:`BuildError` with
    devpi's reason when it refuses."""
    boundary = secrets.token_hex(16)
    head, tail = _parts(boundary, [(":action", "file_upload"), *fields], wheel)
    size = sum(map(len, head)) + wheel.stat().st_size + len(tail)
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    request = urllib.request.Request(url, data=_body(head, wheel, tail), method="POST", headers={  # noqa: S310 - this server's own URL
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(size), "Authorization": f"Basic {auth}",
        "Accept": "application/json",
    })  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return str(response.read(65536).decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        reason = _message(exc) or exc.reason
        exc.close()
        msg = f"{username} may not publish {wheel.name} to {url}: {exc.code} {reason}"
        raise BuildError(msg, stage="publish", permanent=exc.code < 500) from None  # noqa: PLR2004
    except (urllib.error.URLError, OSError) as exc:
        msg = f"could not reach {url} to publish {wheel.name}: {exc}"
        raise BuildError(msg, stage="publish") from None
