"""Deleted and re-created indexes: devpi_license forgets what its store holds about them.

A new index is purged too: the store is a cache (what it forgets is extracted again when
asked), and an extraction pass that was running when its index was deleted may write its
rows after the deletion was processed.

The devpi call: a keyfs subscription to the ``USER`` key (devpi has no deletion hook; see
devpi_foundry_common.lifecycle), run by the notifier after each commit. The cleanup:
:func:`forget_index`, which every store of this plugin about an index joins (a store added
later adds its own ``forget_index`` call there).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from devpi_foundry_common.lifecycle import changed_indexes
from devpi_license.adapters.devpi import metrics_for
from devpi_license.adapters.lookup import STORE_FILE, store_for

log = logging.getLogger(__name__)


def follow_index_changes(xom: Any) -> None:
    """Forget an index's data when it is deleted (alone or with its user) or created."""
    xom.keyfs.notifier.on_key_change("USER", lambda event: on_user_change(xom, event))


def on_user_change(xom: Any, event: Any) -> None:
    """A user's record changed (notifier thread, after the commit): forget each index it
    gained or lost."""
    try:
        with xom.keyfs.read_transaction(at_serial=event.at_serial) as tx:
            old = None
            if event.back_serial > -1:
                try:
                    old = tx.get_value_at(event.typedkey, event.back_serial)
                except KeyError:  # the user was deleted before
                    old = None
        for index in changed_indexes(event.typedkey.params["user"], old, event.value):
            forget_index(xom, index)
    except Exception:  # notifier callbacks must not raise: devpi would not retry the event
        log.exception("could not forget the license data of deleted or new indexes")
        metrics_for(xom).inc("forget_errors_total")


def forget_index(xom: Any, index: str) -> None:
    """Drop every license row of ``index`` (a store never made holds nothing: it is not
    made for this). A queued extraction pass of a deleted index reads nothing (its plan
    finds no index); one running may still write its rows, which the index's re-creation
    forgets."""
    if (Path(str(xom.config.server_path)) / STORE_FILE).exists():
        store_for(xom).forget_index(index)
        log.info("devpi-license: forgot the licenses of index %s", index)
