"""Pages of log group names without reading every group's metadata.

Paging 10,000 groups 50 at a time used to list (and stat, and read the metadata of) every group for
every page. Group names come from the folder names (tilde-decoded; a shortened name reads its
`group.json`), are cached until the groups folder changes (creating or deleting a group changes
its modification time), and only the groups on the page are read.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Callable

from logsvc.errors import LogsvcError
from logsvc.model import GroupInfo
from logsvc.store import Store

_cache: dict[str, tuple[int, list[str], list[str]]] = {}
_lock = threading.Lock()


def group_names(store: Store, skipped: list[str] | None = None) -> list[str]:
    """Every group name, sorted (ASCII order, as DescribeLogGroups); folders the store cannot use
    are appended to `skipped` (also when the answer comes from the cache)."""
    key = str(store.groups_dir)
    mtime = os.stat(store.groups_dir).st_mtime_ns
    got = _cache.get(key)
    if got is None or got[0] != mtime:
        bad: list[str] = []
        got = (mtime, store.group_names(bad), bad)
        with _lock:
            _cache[key] = got
    if skipped is not None:
        skipped.extend(got[2])
    return got[1]


def group_page(
    store: Store,
    after: str | None,
    limit: int,
    accept: Callable[[str], bool] = lambda _n: True,
    skipped: list[str] | None = None,
) -> tuple[list[GroupInfo], bool]:
    """Up to `limit` groups named after `after` that `accept` takes, and whether more follow."""
    all_names = group_names(store, skipped)
    i = bisect.bisect_right(all_names, after) if after else 0
    page: list[GroupInfo] = []
    for name in all_names[i:]:
        if not accept(name):
            continue
        if len(page) == limit:
            return page, True
        try:
            page.append(store.get_group(name))
        except LogsvcError:
            continue  # deleted since the listing
    return page, False
