"""The processes logsvc runs itself: children it starts (the column builder, index merges) die
with the process that started them (an orphan would go on writing into a data directory another
writer now owns), and none of them imports pandas.

Imports nothing heavy: the gunicorn master runs `keep_pandas_out` before it forks the workers.
"""

from __future__ import annotations

import ctypes
import importlib.abc
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


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is kept out of logsvc's own processes", name=name)
        return None


def keep_pandas_out() -> None:
    """pyarrow imports pandas at its first array whenever pandas is installed (0.3-1 s of CPU per
    process, measured: the column builder, every server worker's first Insights query) and logsvc
    never uses it. The processes logsvc runs itself (server, column builder) refuse the import, so
    pyarrow takes pandas as absent. Never called in a process that may want pandas (tests, a user's
    own program importing logsvc)."""
    if "pandas" not in sys.modules and not any(isinstance(f, _NoPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _NoPandas())
