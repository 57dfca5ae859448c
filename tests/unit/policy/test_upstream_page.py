"""What is read from an upstream's PEP 691 page (adapters/upstream_times.parse_page)."""

from __future__ import annotations

from devpi_policy.adapters.upstream_times import parse_page


def test_reads_sha256_upload_time_and_size() -> None:
    page = {
        "files": [
            {
                "filename": "a-1.0.tar.gz",
                "hashes": {"sha256": "ab"},
                "upload-time": "2026-01-02T03:04:05.000000Z",
                "size": 12,
            },
            {"filename": "a-2.0.tar.gz", "hashes": {}},
        ]
    }
    assert parse_page(page) == {
        "a-1.0.tar.gz": ["ab", "2026-01-02T03:04:05.000000Z", 12],
        "a-2.0.tar.gz": [None, None, None],
    }


def test_skips_malformed_entries() -> None:
    page = {"files": [{"filename": 3}, "x", {"filename": "b-1.whl", "hashes": [], "size": True,
                                            "upload-time": 5}]}  # fmt: skip
    assert parse_page(page) == {"b-1.whl": [None, None, None]}
    assert parse_page([]) == {}
