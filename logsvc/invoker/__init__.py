"""Simulated functions: a local Lambda-like invoker whose containers each write a log stream.

Owns the producer side of issue 4: function definitions (functions.py), container processes
(containers.py, bootstrap.py), invocations (invoke.py), triggers (triggers.py wires apigw.py,
buckets.py, tables.py and streams.py), invocation records (records.py) and the CLI commands
(commands.py). Every line reaches the data directory through a stream file; nothing here touches
the index, and nothing here imports the HTTP layer (`logsvc.api`): the owner's loopback server is
injected (`invoke.LoopbackServer`).
"""

from __future__ import annotations

from logsvc.invoker.invoke import Invoker, create_invoker

__all__ = ["Invoker", "create_invoker"]
