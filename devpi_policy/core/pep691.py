"""PEP 691 project pages as api-version 1.1: ``versions``, and ``size``/``upload-time``.

devpi-server 6.20 writes its PEP 691 page in a fixed form: a head
``{"meta":{"api-version":"1.0"},"name":...,"files":[``, one ``json.dumps`` object per file
that starts with its ``filename`` and ``url``, and ``]}``. :func:`complete_page` splices
the new fields into that form without decoding the page (a page of 1000 files is served
many times); a page in any other form is decoded and encoded again.

>>> page = (b'{"meta":{"api-version":"1.0"},"name":"p","files":['
...         b'{"filename": "p-1.0.zip", "url": "u"}]}')
>>> done = complete_page(page, lambda filename, url: (3, "2026-01-02T03:04:05Z"))
>>> done[:30]
b'{"meta":{"api-version":"1.1"},'
>>> done[50:]
b'{"filename": "p-1.0.zip", "url": "u", "size": 3, "upload-time": "2026-01-02T03:04:05Z"}],\
"versions":["1.0"]}'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

from packaging.version import InvalidVersion, Version

from devpi_policy.core.evaluate import split_filename

#: ``fields(filename, url)``: the file's size and PEP 700 upload time (``None``: unknown)
Fields = Callable[[str, str], tuple[int | None, str | None]]

_HEAD: Final = b'{"meta":{"api-version":"1.0"},'
_NEW_HEAD: Final = b'{"meta":{"api-version":"1.1"},'
_TAIL: Final = b"]}"
_STRING: Final = rb'"(?:[^"\\]|\\.)*"'
_ENTRY: Final = re.compile(rb'\{"filename": (' + _STRING + rb'), "url": (' + _STRING + rb")")


def _text(literal: bytes) -> str:
    if b"\\" in literal:
        found = json.loads(literal)
        return found if isinstance(found, str) else ""
    return literal[1:-1].decode()


def complete_page(body: bytes, fields: Fields) -> bytes:
    """devpi's PEP 691 project page with PEP 700's fields."""
    if not (body.startswith(_HEAD) and body.endswith(_TAIL)):
        return _recoded(body, fields)
    pieces: list[bytes] = [_NEW_HEAD]
    versions: set[str] = set()
    start = len(_HEAD)
    entries = 0
    for match in _ENTRY.finditer(body, start):
        filename, url = _text(match.group(1)), _text(match.group(2))
        version = split_filename(filename)[1]
        if version:
            versions.add(version)
        pieces.append(body[start : match.end()])
        size, uploaded = fields(filename, url)
        if size is not None:
            pieces.append(b', "size": %d' % size)
        if uploaded is not None:
            pieces.append(b', "upload-time": ' + json.dumps(uploaded).encode())
        start = match.end()
        entries += 1
    if entries != body.count(b'"filename"'):  # not devpi's form after all
        return _recoded(body, fields)
    pieces.append(body[start : -len(_TAIL)])
    pieces.append(b'],"versions":' + json.dumps(sorted_versions(versions)).encode() + b"}")
    return b"".join(pieces)


def _recoded(body: bytes, fields: Fields) -> bytes:
    data = json.loads(body)
    versions = set()
    for item in data.get("files", ()):
        version = split_filename(item["filename"])[1]
        if version:
            versions.add(version)
        size, uploaded = fields(item["filename"], item["url"])
        if size is not None:
            item["size"] = size
        if uploaded is not None:
            item["upload-time"] = uploaded
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    data["meta"] = {**meta, "api-version": "1.1"}
    data["versions"] = sorted_versions(versions)
    return json.dumps(data, separators=(",", ":")).encode()


def sorted_versions(versions: set[str]) -> list[str]:
    """PEP 440 order; versions that do not parse first, as text.

    >>> sorted_versions({"1.10", "1.9", "nightly"})
    ['nightly', '1.9', '1.10']
    """
    return sorted(versions, key=_version_key)


def _version_key(text: str) -> tuple[int, Any]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)
