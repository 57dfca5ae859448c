"""The limits README and docs/ state are the code's: each statement (whitespace folded)
is in its document, and the value it names is the one the code applies. The behaviour
behind each limit is tested where its code is (named in each row's comment)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devpi_buildfarm.adapters import fetching
from devpi_buildfarm.config import SERVER_OPTIONS as BUILDFARM_OPTIONS
from devpi_buildfarm.core import builders, buildreqs, framing
from devpi_foundry_common.archive import MAX_METADATA_BYTES, Limits
from devpi_license import config as license_config

ROOT = Path(__file__).parents[2]
MIB = 1024**2
GIB = 1024**3


def _option_default(options: tuple[tuple[str, dict[str, object]], ...], flag: str) -> object:
    return next(kwargs["default"] for name, kwargs in options if name == flag)


#: (document, statement, value in the code, value the statement names)
STATEMENTS = [
    # tests/unit/buildfarm/test_fetching.py::test_an_sdist_over_the_cap_is_refused
    ("docs/security.md", "the sdist download 1 GiB", fetching.MAX_SDIST_BYTES, GIB),
    # tests/unit/common/test_archive.py (members, member size, total, ratio refusals)
    (
        "docs/security.md",
        "archives read with the bounded reader at most 20,000 members",
        Limits().max_members,
        20_000,
    ),
    (
        "docs/security.md",
        "256 MiB per member, 1 GiB in all and a compression ratio of 200",
        (Limits().max_member_bytes, Limits().max_total_bytes, Limits().max_ratio),
        (256 * MIB, GIB, 200.0),
    ),
    # tests/unit/buildfarm/test_buildreqs_and_framing.py
    (
        "docs/security.md",
        "at most 200 requirement strings per list, each at most 500 characters",
        (buildreqs.MAX_REQUIREMENTS, buildreqs.MAX_LENGTH),
        (200, 500),
    ),
    ("docs/security.md", "the answer's header 1 MiB", framing.MAX_HEADER_BYTES, MIB),
    # tests/unit/test_upload_reads.py::test_metadata_over_its_cap_is_not_read
    (
        "docs/security.md",
        "The worker reads at most 1 MiB of a built wheel's `METADATA`",
        MAX_METADATA_BYTES,
        MIB,
    ),
    # tests/unit/buildfarm/test_builders.py, tests/unit/buildfarm/test_worker_log.py,
    # and, for output_bytes, tests/integration/test_buildfarm_hostile.py
    (
        "docs/security.md",
        "| `output_bytes` | 512 MiB |",
        builders.DEFAULT_LIMITS["output_bytes"],
        512 * MIB,
    ),
    ("docs/security.md", "| `log_bytes` | 4 MiB |", builders.DEFAULT_LIMITS["log_bytes"], 4 * MIB),
    ("docs/security.md", "| `memory` | 4 GiB |", builders.DEFAULT_LIMITS["memory"], 4 * GIB),
    ("docs/security.md", "| `disk` | 4 GiB |", builders.DEFAULT_LIMITS["disk"], 4 * GIB),
    ("docs/security.md", "| `timeout` | 1800 |", builders.DEFAULT_TIMEOUT, 1800),
    # tests/unit/buildfarm/test_queue_sql.py::test_logs_are_compressed_capped_and_pruned
    (
        "docs/buildfarm.md",
        "| `--buildfarm-log-max-bytes B` | 4 MiB |",
        _option_default(BUILDFARM_OPTIONS, "--buildfarm-log-max-bytes"),
        4 * MIB,
    ),
    # tests/unit/license/test_release_and_store.py (files over the cap: "not read")
    ("docs/license.md", "| `--license-fetch-max-mb` | 200 |", license_config.FETCH_MAX_MB, 200),
    ("docs/license.md", "| `--license-wait-seconds` | 10 |", license_config.WAIT_SECONDS, 10),
    ("docs/license.md", "| `--license-extract-workers` | 4 |", license_config.EXTRACT_WORKERS, 4),
]


def _folded(path: str) -> str:
    return re.sub(r"\s+", " ", (ROOT / path).read_text())


@pytest.mark.parametrize(
    ("document", "statement", "in_code", "stated"), STATEMENTS, ids=[s[1] for s in STATEMENTS]
)
def test_a_documented_limit_is_the_codes(
    document: str, statement: str, in_code: object, stated: object
) -> None:
    assert statement in _folded(document)
    assert in_code == stated
