"""Deleted and re-created indexes: devpi_license forgets what its store holds about them.

A new index is purged too: the store is a cache (what it forgets is extracted again when
asked), and an extraction pass that was running when its index was deleted may write its
rows after the deletion was processed.

The devpi call: devpi_foundry_common.lifecycle's subscription to keyfs's ``USER`` key
(devpi has no deletion hook), run by the notifier after each commit. The cleanup:
:func:`forget_index`, which every store of this plugin about an index joins (a store added
later adds its own ``forget_index`` call there).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from devpi_foundry_common import lifecycle
from devpi_license.adapters.devpi import metrics_for
from devpi_license.adapters.lookup import STORE_FILE, store_for

log = logging.getLogger(__name__)


def follow_index_changes(xom: Any) -> None:
    """Forget an index's data when it is deleted (alone or with its user) or created."""
    metrics = metrics_for(xom)
    lifecycle.follow_index_changes(
        xom, lambda index: forget_index(xom, index), plugin="devpi-license", new_indexes=True,
        failed=lambda: metrics.inc("forget_errors_total"),
    )  # fmt: skip


def forget_index(xom: Any, index: str) -> None:
    """Drop every license row of ``index`` (a store never made holds nothing: it is not
    made for this). A queued extraction pass of a deleted index reads nothing (its plan
    finds no index); one running may still write its rows, which the index's re-creation
    forgets."""
    if (Path(str(xom.config.server_path)) / STORE_FILE).exists():
        store_for(xom).forget_index(index)
        log.info("devpi-license: forgot the licenses of index %s", index)
