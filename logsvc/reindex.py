"""`logsvc reindex`: rebuild the index from the stream files, then swap it in.

Builds into `index.new` beside the live index and renames it into place only when complete, so
an interrupted reindex leaves the old index untouched. Ingestion times the old index recorded
are carried over (they are the one thing the files do not hold), so the rebuilt index answers
exactly as the old one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

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
    root = Path(settings.data_dir)
    store = Store(root)
    fd = os.open(root / "index.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LogsvcError(
                f"a logsvc server is ingesting {root} right now",
                hint="Stop it (or run reindex against a copy), then run 'logsvc reindex' again.",
            ) from None
        settle_dirs(root)  # a reindex killed earlier left index.new (and maybe index.old) behind
        live = root / LIVE
        old = None
        old_snap = None
        if live.exists():
            try:
                old = BlockIndex(live)
                old_snap = old.snapshot()
            except IndexCorrupt as e:
                log.warning("old index unreadable (%s): ingestion times fall back to file times", e)
        fresh_dir = root / REBUILT
        shutil.rmtree(fresh_dir, ignore_errors=True)
        fresh = BlockIndex(fresh_dir)
        try:
            count = Ingester(store, fresh, block_lines=settings.block_lines).rebuild(old_snap, progress)
        finally:
            fresh.close()
            if old_snap is not None:
                old_snap.release()
            if old is not None:
                old.close()
        install_rebuilt(root)
        return count
    finally:
        os.close(fd)
