"""Where a simple-page link points, read from devpi's own hrefs without URL parsing."""

from __future__ import annotations


def link_basename(href: str) -> str:
    """The file name of a simple-page link, without devpi's (slower) URL parsing.

    >>> link_basename("root/pypi/+f/abc/def/x-1.0.tar.gz#sha256=00")
    'x-1.0.tar.gz'
    """
    return href.split("#", 1)[0].rsplit("/", 1)[-1]


def stored_in(href: str) -> str | None:
    """The index holding a file, from a devpi path ``user/index/+f/...`` or a file URL.

    >>> stored_in("root/pypi/+f/abc/def/x-1.0.tar.gz#sha256=00")
    'root/pypi'
    >>> stored_in("http://h:1/prefix/root/pypi/+e/https_h/x-1.0.tar.gz")
    'root/pypi'
    >>> stored_in("../../+f/x") is None
    True
    """
    parts = href.split("#", 1)[0].split("/")
    for i, part in enumerate(parts):
        if part in ("+f", "+e"):
            if i < 2 or parts[i - 2] in ("", ".", ".."):  # noqa: PLR2004
                return None
            return f"{parts[i - 2]}/{parts[i - 1]}"
    return None
