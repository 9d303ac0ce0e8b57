"""Single-holder elections over `flock`: which process ingests, owns the invoker, or reindexes.

Owns: opening a lock file (through safeio: no link followed, a regular file of ours, never
truncated before the checks), the non-blocking try, and recording who holds it (the holder's
pid, written into the lock file). The kernel drops an flock when its descriptor closes or its
process dies, so a crashed holder never leaves a stale lock behind; the next try wins.
Never blocks and never retries (callers decide how often to try again), except `exclusive`: a
short mutex around a read-modify-write of a small shared file (the subscription filters), and a
`wait` a caller asks for (a reindex waits a while for the column builder to let its lock go).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from logsvc import safeio

# The lock files, relative to the data directory
INDEX = (
    "index.lock",
)  # the one process writing the index: the ingesting worker, or `logsvc reindex`
INVOKER = (
    "invoker",
    ".lock",
)  # the one process running simulated functions (owner.json says where)
COLUMNS = ("columns.lock",)  # the one process writing the columnar copy (columns/builder.py)

RETRY_EVERY = 0.05  # seconds between tries while a caller's `wait` lasts


def try_hold(root: Path | str, *path: str, wait: float = 0.0) -> int | None:
    """Take the exclusive lock on `root/path...`; record this process as holder. With `wait`, try
    again every RETRY_EVERY seconds for that long while another holds it (never blocks in flock).

    Returns the descriptor that holds it (give it to `release`), or None if another holds it.

    :raises OSError: if the lock file cannot be opened (safeio.Refused for a link or foreign file).
    """
    *folders, name = path
    with safeio.under(root, *folders) as dfd:
        fd = safeio.open_file(dfd, name, os.O_CREAT | os.O_RDWR)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return None
                time.sleep(RETRY_EVERY)
    except BaseException:
        os.close(fd)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
    except OSError:  # a full disk: the flock is held all the same; only `holder` cannot name us
        pass
    return fd


def release(fd: int) -> None:
    """Give the lock up: forget the recorded holder, then close (which drops the flock)."""
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)


@contextlib.contextmanager
def held(root: Path | str, *path: str, wait: float = 0.0) -> Iterator[bool]:
    """`try_hold` for one block: yields True while this process holds it, False if another does."""
    fd = try_hold(root, *path, wait=wait)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            release(fd)


def holder(root: Path | str, *path: str) -> int | None:
    """The pid of the process holding `root/path...` (as it recorded itself), None if none or it died.

    A holder killed without `release` leaves its pid behind: the liveness check covers that.
    """
    *folders, name = path
    try:
        with safeio.under(root, *folders) as dfd:
            pid = int(safeio.read_bytes(dfd, name, 32) or 0)
    except (OSError, ValueError):
        return None
    return pid if pid and os.path.exists(f"/proc/{pid}") else None


@contextlib.contextmanager
def exclusive(root: Path | str, *path: str) -> Iterator[None]:
    """Hold the exclusive lock on `root/path...` for one block, waiting for it (a mutex between
    processes for a read-modify-write that takes microseconds; never held across I/O that waits)."""
    *folders, name = path
    with safeio.under(root, *folders, create=True) as dfd:
        fd = safeio.open_file(dfd, name, os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
