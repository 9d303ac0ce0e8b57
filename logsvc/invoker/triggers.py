"""Triggers: the project's event sources, started and stopped together by the owning invoker.

Owns the wiring only: the HTTP route table (apigw.py), the bucket observer (buckets.py), the local
tables (tables.py), one stream consumer per table trigger (streams.py) and one delivery per
subscription filter (subscribe.py). Tables persist as
JSON-lines change logs under `<data>/tables/`, next to the consumers' checkpoints. Never writes log
streams (the invoker and containers do) and never touches the index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logsvc.errors import NotFound
from logsvc.invoker.apigw import Router
from logsvc.invoker.buckets import Buckets
from logsvc.invoker.streams import StreamConsumer
from logsvc.invoker.subscribe import Deliveries
from logsvc.invoker.tables import LocalTable


class Triggers:
    """All triggers of one project, run by the owning invoker process."""

    def __init__(self, invoker: Any) -> None:
        self.invoker = invoker
        self.router = Router(invoker.project.routes)
        self.data_dir = Path(invoker.settings.data_dir).resolve()
        self.tables: dict[str, LocalTable] = {}
        self.consumers: list[StreamConsumer] = []
        self.buckets = Buckets(invoker, self.data_dir)
        self.subscriptions = Deliveries(invoker, self.data_dir)

    def start(self) -> None:
        project = self.invoker.project
        tdir = self.data_dir / "tables"
        for name, table in project.tables.items():
            self.tables[name] = LocalTable(table, tdir)
        for trig in project.table_triggers:
            lt = self.tables[trig.table]
            consumer = StreamConsumer(self.invoker, lt, trig, tdir)
            lt.consumers.append(consumer)
            self.consumers.append(consumer)
            consumer.thread.start()
        self.buckets.start()
        self.subscriptions.start()

    def close(self) -> None:
        self.subscriptions.close()
        self.buckets.close()
        for c in self.consumers:
            c.close()

    def table(self, name: str) -> LocalTable:
        """:raises NotFound:"""
        try:
            return self.tables[name]
        except KeyError:
            raise NotFound(
                f"no table {name!r} in {self.invoker.project.path}",
                field="table",
                hint="Tables are declared under [tables.NAME] or by a function's table trigger.",
            ) from None
