"""TEMPORARY stand-in for logsvc.insights.values (owned by the funcs helper, branch insights-funcs)
until that branch's values.py is merged; remove this file then. Only `Timestamp` is stubbed."""

from __future__ import annotations

import sys
import types


def install() -> None:
    try:
        import logsvc.insights.values  # noqa: F401
        return
    except ImportError:
        pass

    class Timestamp(int):
        """Epoch milliseconds that render as a date (stub)."""

        __slots__ = ()

    mod = types.ModuleType("logsvc.insights.values")
    mod.Timestamp = Timestamp  # type: ignore[attr-defined]
    sys.modules["logsvc.insights.values"] = mod
