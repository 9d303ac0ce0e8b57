"""logsvc's internal `/logsvc/invocations` group is left out of group lists and "every group" reads
(issue #15): AWS has no such group. Asked for by its exact name it is there, and its records stay
readable through /api/v1/invocations (the console's Invocations view).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from tests.conftest import Server, start_server, wait_for

INTERNAL = "/logsvc/invocations"
USER = "/aws/lambda/orders"


def record_line(ts: int, request_id: str) -> str:
    rec = {
        "requestId": request_id,
        "function": "orders",
        "attempt": 1,
        "status": "success",
        "start": ts - 5,
        "end": ts,
        "durationMs": 5,
        "logGroup": USER,
        "logStream": "s",
        "marker": "needle",
    }
    return f"{ts} {json.dumps(rec)}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("internal") / "data"
    data.mkdir()
    s = start_server(data)
    now = int(time.time() * 1000)
    for group, stream, line in [
        (INTERNAL, "records", record_line(now, "req-1")),
        (USER, "s", f"{now} user needle"),
    ]:
        path = s.store.ensure_stream(group, stream)
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    wait_for(
        lambda: len(s.json("/api/v1/events", group=INTERNAL)["events"]) == 1,
        what="the record indexed",
    )
    wait_for(
        lambda: len(s.json("/api/v1/events", group=USER)["events"]) == 1,
        what="the user event indexed",
    )
    yield s
    s.stop()


@pytest.fixture(scope="module")
def logs(site: Server):
    return boto3.client(
        "logs",
        endpoint_url=site.url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def rest_groups(site: Server, **params: str) -> list[str]:
    return [g["name"] for g in site.json("/api/v1/groups", **params)["groups"]]


def test_rest_group_list_leaves_it_out_unless_asked(site: Server) -> None:
    assert rest_groups(site) == [USER]
    assert rest_groups(site, prefix="/logsvc/") == []
    assert rest_groups(site, prefix=INTERNAL) == [INTERNAL]
    assert rest_groups(site, internal="true") == [USER, INTERNAL]
    for bad in ("", "maybe"):
        r = site.get("/api/v1/groups", internal=bad)
        assert r.status_code == 400 and r.json()["error"]["field"] == "internal", r.text


def test_search_of_every_group_leaves_it_out_but_naming_it_reads_it(site: Server) -> None:
    everywhere = site.json("/api/v1/search", q="needle")["events"]
    assert [e["group"] for e in everywhere] == [USER]
    named = site.json("/api/v1/search", q="needle", group=INTERNAL)["events"]
    assert [e["group"] for e in named] == [INTERNAL]


def test_invocations_api_still_reads_the_records(site: Server) -> None:
    recs = site.json("/api/v1/invocations")["invocations"]
    assert [r["requestId"] for r in recs] == ["req-1"]


def test_describe_log_groups_lists_it_only_by_exact_name(site: Server, logs) -> None:
    def names(**kw: object) -> list[str]:
        return [g["logGroupName"] for g in logs.describe_log_groups(**kw)["logGroups"]]

    assert names() == [USER]
    assert names(logGroupNamePrefix="/logsvc") == []
    assert names(logGroupNamePattern="invocations") == []
    assert names(logGroupNamePrefix=INTERNAL) == [INTERNAL]
    assert names(logGroupIdentifiers=[INTERNAL, USER]) == [USER, INTERNAL]
    # and the group itself answers the CloudWatch reads by name
    got = logs.filter_log_events(logGroupName=INTERNAL)["events"]
    assert len(got) == 1 and "req-1" in got[0]["message"]
