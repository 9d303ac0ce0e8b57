"""`logsvc reindex`: rebuild the index from the stream files, then swap it in.

Builds into `index.new` beside the live index and renames it into place only when complete, so
an interrupted reindex leaves the old index untouched; what it leaves behind (`index.new`, or
`index.old` when killed between the renames) is cleaned up by the next reindex or server start. Ingestion times the old index recorded
are carried over (they are the one thing the files do not hold), so the rebuilt index answers
exactly as the old one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from logsvc import locks, safeio
from logsvc.columns import store as columns_store
from logsvc.config import Settings
from logsvc.errors import LogsvcError
from logsvc.index import LIVE, REBUILT, BlockIndex, IndexCorrupt, install_rebuilt, settle_dirs
from logsvc.ingest import Ingester
from logsvc.store import Store

log = logging.getLogger("logsvc.reindex")


def reindex(settings: Settings, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild; returns the number of events indexed.

    :raises LogsvcError: if a server is ingesting this data directory right now.
    """
    store = Store(settings.data_dir)
    root = store.root
    with locks.held(root, *locks.INDEX) as ok:
        if not ok:
            raise LogsvcError(
                "a logsvc server is ingesting this data directory right now",
                hint="Stop it (or run reindex against a copy), then run 'logsvc reindex' again.",
            ) from None
        settle_dirs(root)  # a reindex killed earlier left index.new (and maybe index.old) behind
        # Insights' columns derive from the index (its ingestion times) and the files: drop them and
        # let the builder rebuild them from the new index when a server starts (columns/store.py)
        columns_store.discard(root)
        live = root / LIVE
        old = None
        old_snap = None
        if live.exists():
            try:
                safeio.refuse_links_under(live)
                old = BlockIndex(live)
                old_snap = old.snapshot()
            except (IndexCorrupt, safeio.Refused) as e:
                log.warning("old index unreadable (%s): ingestion times fall back to file times", e)
        fresh_dir = root / REBUILT
        with safeio.folder(None, root) as rfd:
            os.close(safeio.open_dir(rfd, REBUILT, create=True))
        fresh = BlockIndex(fresh_dir)
        try:
            count = Ingester(store, fresh, block_lines=settings.block_lines).rebuild(
                old_snap, progress
            )
        finally:
            fresh.close()
            if old_snap is not None:
                old_snap.release()
            if old is not None:
                old.close()
        install_rebuilt(root)
        return count
