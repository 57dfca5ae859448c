"""Deleted indexes: devpi_buildfarm forgets their jobs, so one re-created starts clean.

The devpi call: devpi_foundry_common.lifecycle's subscription to keyfs's ``USER`` key
(devpi has no deletion hook), run by the notifier after each commit, in serial order:
an upload's jobs (queued by ``devpiserver_on_upload``, also a notifier event) are never
queued before the deletion of an earlier index of the same name is processed, and nothing
queues a job for a deleted index (a request for one is a 404; start-up planning and the
workers only see existing indexes and rows). A new index is not purged: a job requested
right after its creation, before the notifier got there, would be lost. The
cleanup: :func:`forget_index`, which every store of this plugin about an index joins (a
store added later adds its own call there).
"""

from __future__ import annotations

import logging
from typing import Any

from devpi_buildfarm.adapters import service
from devpi_buildfarm.adapters.devpi import metrics_for
from devpi_foundry_common import lifecycle

log = logging.getLogger(__name__)


def follow_index_changes(xom: Any) -> None:
    """Forget an index's jobs when it is deleted (alone or with its user)."""
    if not service.builds_here(xom):  # the queue is the primary's: replicas hold none
        return
    metrics = metrics_for(xom)
    lifecycle.follow_index_changes(
        xom, lambda index: forget_index(xom, index), plugin="devpi-buildfarm",
        failed=lambda: metrics.inc("forget_errors_total"),
    )  # fmt: skip


def forget_index(xom: Any, index: str) -> None:
    """Delete every job of ``index`` with its log and record (a server that never built
    has no queue, and none is made for this)."""
    if service.never_used(xom):
        return
    from devpi_buildfarm.adapters.queue_forget import forget_index as forget_jobs  # SQLAlchemy

    count = forget_jobs(service.farm_for(xom).queue, index)
    if count:
        log.info("devpi-buildfarm: forgot %d jobs of index %s", count, index)
