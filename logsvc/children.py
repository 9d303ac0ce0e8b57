"""Child processes logsvc starts (the column builder, index merges) die with the process that
started them: an orphan would go on writing into a data directory another writer now owns."""

from __future__ import annotations

import ctypes
import os
import signal
import sys


def die_with_parent(parent: int) -> None:
    """Linux: SIGTERM when the process that started us dies (even by kill -9); exit now if it
    already has. Elsewhere, callers poll os.getppid()."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        sys.exit(0)
