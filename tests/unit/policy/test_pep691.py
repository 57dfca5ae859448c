"""PEP 691 pages completed to api-version 1.1 (devpi_policy.core.pep691): the splice into
devpi's own form gives the same page as decoding and encoding it."""

from __future__ import annotations

import json
from typing import Any

from devpi_policy.core.pep691 import complete_page

TIMES = {
    "demo-1.0.tar.gz": (10, "2026-01-02T03:04:05.000000Z"),
    "demo-1.10-py3-none-any.whl": (11, None),
    "démo-2.0.tar.gz": (None, "2026-02-03T04:05:06.000000Z"),
}


def devpi_page(files: list[dict[str, Any]], name: str = "demo") -> bytes:
    """The page as devpi-server 6.20 writes it (views.py _simple_list_project_json_v1)."""
    head = f'{{"meta":{{"api-version":"1.0"}},"name":"{name}","files":['.encode()
    entries = b",".join(json.dumps(f, indent=None, sort_keys=False).encode() for f in files)
    return head + entries + b"]}"


def fields(filename: str, url: str) -> tuple[int | None, str | None]:
    assert url.endswith(filename.replace('"', "%22"))
    return TIMES.get(filename, (None, None))


def entry(filename: str, **more: Any) -> dict[str, Any]:
    return {"filename": filename, "url": f"../../root/pypi/+f/ab/cd/{filename}",
            "hashes": {"sha256": "00" * 32}, **more}  # fmt: skip


def expected(files: list[dict[str, Any]]) -> dict[str, Any]:
    done = []
    for item in files:
        size, uploaded = TIMES.get(item["filename"], (None, None))
        extra = {"size": size} if size is not None else {}
        if uploaded is not None:
            extra["upload-time"] = uploaded
        done.append({**item, **extra})
    return {"meta": {"api-version": "1.1"}, "name": "demo", "files": done}


def test_splice_adds_the_fields_and_versions() -> None:
    files = [
        entry("demo-1.0.tar.gz"),
        entry("demo-1.10-py3-none-any.whl", **{"requires-python": ">=3.8", "core-metadata": True}),
        entry("démo-2.0.tar.gz", yanked="broken {}"),
        entry("README"),
    ]
    page = complete_page(devpi_page(files), fields)
    assert page.startswith(b'{"meta":{"api-version":"1.1"},')  # spliced, not re-encoded
    assert json.loads(page) == {**expected(files), "versions": ["1.0", "1.10", "2.0"]}


def test_an_empty_page() -> None:
    page = complete_page(devpi_page([]), fields)
    assert json.loads(page) == {"meta": {"api-version": "1.1"}, "name": "demo", "files": [],
                                "versions": []}  # fmt: skip


def test_a_page_in_another_form_is_decoded_and_encoded() -> None:
    files = [entry("demo-1.0.tar.gz")]
    other = json.dumps({"meta": {"api-version": "1.0", "x": 1}, "name": "demo", "files": files})
    data = json.loads(complete_page(other.encode(), fields))
    assert data == {**expected(files), "meta": {"api-version": "1.1", "x": 1},
                    "versions": ["1.0"]}  # fmt: skip


def test_entries_the_splice_does_not_recognise_are_not_missed() -> None:
    files = [entry("demo-1.0.tar.gz"), {"url": "x/demo-1.10-py3-none-any.whl",
                                        "filename": "demo-1.10-py3-none-any.whl"}]  # fmt: skip
    data = json.loads(complete_page(devpi_page(files), fields))
    assert data["files"][1]["size"] == 11
    assert data["versions"] == ["1.0", "1.10"]
