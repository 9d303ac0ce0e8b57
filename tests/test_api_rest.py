"""The REST API against a real `logsvc serve` (gunicorn, 2 workers) over a temp data directory."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from tests.conftest import Server, start_server, wait_for

G = "/aws/lambda/orders"


def write(server: Server, group: str, stream: str, lines: list[str]) -> None:
    path = server.store.ensure_stream(group, stream)
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def all_events(server: Server, **params) -> list[dict]:
    out, token = [], None
    while True:
        page = server.json(
            "/api/v1/events", startFromHead="true", limit=10000, nextToken=token, **params
        )
        out += page["events"]
        token = page["nextToken"]
        if not token:
            return out


def test_error_shape_is_pinned(server: Server) -> None:
    r = server.get("/api/v1/events", group=G, limit=0)
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": "InvalidParameter",
            "message": "limit must be between 1 and 10000",
            "field": "limit",
            "rule": "1..10000",
        }
    }


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/api/v1/events", {"group": ""}, 400, "group"),
        ("/api/v1/events", {"group": "has space"}, 400, "group"),
        ("/api/v1/events", {"group": "x" * 600}, 400, "group"),
        ("/api/v1/events", {"group": "g", "stream": "a:b"}, 400, "stream"),
        ("/api/v1/events", {"group": "g", "stream": "a*"}, 400, "stream"),
        ("/api/v1/events", {"group": "/no/such/group"}, 404, "group"),
        ("/api/v1/events", {"group": G, "start": "yesterday-ish"}, 400, "start"),
        ("/api/v1/events", {"group": G, "limit": "ten"}, 400, "limit"),
        ("/api/v1/events", {"group": G, "nextToken": "garbage!"}, 400, "nextToken"),
        ("/api/v1/events", {"group": G, "startFromHead": "maybe"}, 400, "startFromHead"),
        ("/api/v1/events", {}, 400, "group"),
        ("/api/v1/streams", {"group": G, "orderBy": "size"}, 400, "orderBy"),
        ("/api/v1/search", {"q": "%(a)%"}, 400, "q"),
        ("/api/v1/search", {"q": "x", "limit": "100000"}, 400, "limit"),
        ("/api/v1/tail", {"group": "/no/such"}, 404, "group"),
        ("/api/v1/histogram", {"group": G, "buckets": "0"}, 400, "buckets"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    server: Server, path: str, params: dict, status: int, field: str
) -> None:
    write(server, G, "s", ["x"])
    r = server.get(path, **params)
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["field"] == field and body["message"]


def test_unknown_path_is_json_404(server: Server) -> None:
    r = server.get("/api/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"


def test_groups_and_streams(server: Server) -> None:
    write(server, G, "2026/11/27/[$LATEST]aaa", ["2026-11-27T10:00:00.000Z a"])
    write(server, G, "2026/11/27/[$LATEST]bbb", ["2026-11-27T11:00:00.000Z b"])
    write(server, "/aws/lambda/other", "s", ["c"])
    wait_for(lambda: len(all_events(server, group=G)) == 2, what="indexed")
    groups = server.json("/api/v1/groups")["groups"]
    assert [g["name"] for g in groups] == ["/aws/lambda/orders", "/aws/lambda/other"]
    assert groups[0]["streamCount"] == 2 and groups[0]["storedBytes"] > 0
    streams = server.json("/api/v1/streams", group=G)["streams"]
    assert [s["name"] for s in streams] == ["2026/11/27/[$LATEST]bbb", "2026/11/27/[$LATEST]aaa"]
    assert streams[0]["lastEventTime"] == 1795777200000  # 2026-11-27T11:00:00Z
    page1 = server.json("/api/v1/groups", limit=1)
    page2 = server.json("/api/v1/groups", limit=1, nextToken=page1["nextToken"])
    assert [g["name"] for g in page1["groups"] + page2["groups"]] == [
        "/aws/lambda/orders",
        "/aws/lambda/other",
    ]
    assert page2["nextToken"] is None


def test_ten_thousand_lines_appended_with_shell_are_all_there_in_order(server: Server) -> None:
    import subprocess
    import sys

    path = subprocess.run(
        [sys.executable, "-m", "logsvc", "path", G, "bulk"],
        capture_output=True,
        text=True,
        check=True,
        env=server.env,
    ).stdout.strip()
    subprocess.run(
        ["bash", "-c", f'for i in $(seq 0 9999); do echo "event $i id-$i"; done >> "{path}"'],
        check=True,
    )
    wait_for(
        lambda: len(all_events(server, group=G, stream="bulk")) == 10000,
        timeout=20,
        what="10,000 events",
    )
    got = [e["message"] for e in all_events(server, group=G, stream="bulk")]
    assert got == [f"event {i} id-{i}" for i in range(10000)]
    hits = server.json("/api/v1/search", q="id-4321")["events"]
    assert [h["message"] for h in hits] == ["event 4321 id-4321"]


def test_events_merge_streams_by_time_and_page_both_ways(server: Server) -> None:
    write(server, G, "a", [f"2026-01-01T00:00:{i:02d}.000Z a{i}" for i in range(0, 60, 2)])
    write(server, G, "b", [f"2026-01-01T00:00:{i:02d}.000Z b{i}" for i in range(1, 60, 2)])
    wait_for(lambda: len(all_events(server, group=G)) == 60, what="60 events")
    forward = [e["message"] for e in all_events(server, group=G)]
    assert forward == [f"{'a' if i % 2 == 0 else 'b'}{i}" for i in range(60)]
    newest = server.json("/api/v1/events", group=G, limit=10)
    assert [e["message"] for e in newest["events"]] == forward[-10:]
    older = server.json("/api/v1/events", group=G, limit=10, nextToken=newest["nextToken"])
    assert [e["message"] for e in older["events"]] == forward[-20:-10]
    ranged = server.json(
        "/api/v1/events", group=G, start=1767225610000, end=1767225619000, startFromHead="true"
    )
    assert [e["message"] for e in ranged["events"]] == forward[10:20]


def test_events_sharing_a_millisecond_are_never_lost_across_pages(server: Server) -> None:
    write(server, G, "a", [f"2026-01-01T00:00:00.000Z a{i}" for i in range(25)])
    write(server, G, "b", [f"2026-01-01T00:00:00.000Z b{i}" for i in range(25)])
    wait_for(lambda: len(all_events(server, group=G)) == 50, what="50")
    seen, token = [], None
    while True:
        page = server.json(
            "/api/v1/events", group=G, limit=7, startFromHead="true", nextToken=token
        )
        seen += [e["eventId"] for e in page["events"]]
        token = page["nextToken"]
        if not token:
            break
    assert len(seen) == len(set(seen)) == 50


def test_event_shape_and_lambda_fields(server: Server) -> None:
    rid = "1e5c8abd-3d36-461b-8c0f-a56b952715b3"
    write(
        server,
        G,
        "s",
        [
            f"2026-01-01T00:00:00.000Z START RequestId: {rid} Version: $LATEST",
            f"2026-01-01T00:00:00.100Z REPORT RequestId: {rid}\tDuration: 3.50 ms\tBilled Duration: 4 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 35 MB\tInit Duration: 67.49 ms",
        ],
    )
    wait_for(lambda: len(all_events(server, group=G)) == 2, what="2")
    start, report = all_events(server, group=G)
    assert set(start) >= {
        "eventId",
        "group",
        "stream",
        "timestamp",
        "ingestionTime",
        "message",
        "fields",
    }
    assert start["fields"]["requestId"] == rid
    assert report["fields"]["duration"] == 3.5 and report["fields"]["initDuration"] == 67.49
    assert report["fields"]["maxMemoryUsed"] == 35


def test_search_across_groups_newest_first_with_highlights(server: Server) -> None:
    write(
        server,
        G,
        "s",
        ["2026-01-01T00:00:01.000Z payment failed for ord-1", "2026-01-01T00:00:02.000Z ok"],
    )
    write(server, "/aws/lambda/pay", "s", ["2026-01-01T00:00:03.000Z payment failed again"])
    wait_for(lambda: len(server.json("/api/v1/search", q="failed")["events"]) == 2, what="hits")
    hits = server.json("/api/v1/search", q="failed")["events"]
    assert [h["group"] for h in hits] == ["/aws/lambda/pay", G]
    msg = hits[0]["message"]
    assert [msg[s:e] for s, e in hits[0]["highlights"]] == ["failed"]
    only = server.json("/api/v1/search", q="failed", group=G)["events"]
    assert len(only) == 1
    phrase = server.json("/api/v1/search", q='"failed again"')["events"]
    assert len(phrase) == 1
    excl = server.json("/api/v1/search", q="failed -again")["events"]
    assert [h["group"] for h in excl] == [G]


def test_context_histogram_and_export(server: Server) -> None:
    write(server, G, "s", [f"2026-01-01T00:00:{i:02d}.000Z line {i}" for i in range(40)])
    wait_for(lambda: len(all_events(server, group=G)) == 40, what="40")
    target = all_events(server, group=G)[20]
    ctx = server.json(
        "/api/v1/events/context", group=G, stream="s", eventId=target["eventId"], before=3, after=2
    )
    assert [e["message"] for e in ctx["events"]] == [f"line {i}" for i in range(17, 23)]
    hist = server.json(
        "/api/v1/histogram", group=G, start=1767225600000, end=1767225640000, buckets=4
    )
    assert [b["count"] for b in hist["buckets"]] == [10, 10, 10, 10]
    r = server.get("/api/v1/export", group=G, format="ndjson")
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert len(rows) == 40 and rows[0]["message"] == "line 0"
    r = server.get("/api/v1/export", group=G, format="csv")
    assert (
        r.text.splitlines()[0].startswith("timestamp,group,stream")
        and len(r.text.splitlines()) == 41
    )


def test_openapi_document_lists_every_route(server: Server) -> None:
    doc = server.json("/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.")
    for p in (
        "/api/v1/groups",
        "/api/v1/streams",
        "/api/v1/events",
        "/api/v1/search",
        "/api/v1/tail",
    ):
        assert p in doc["paths"]


def test_token_protects_the_api(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    s = start_server(data, env={"LOGSVC_TOKEN": "s3cret"})
    try:
        r = s.get("/api/v1/groups")
        assert r.status_code == 401 and "s3cret" not in r.text
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        ok = requests.get(
            s.url + "/api/v1/groups", headers={"Authorization": "Bearer s3cret"}, timeout=10
        )
        assert ok.status_code == 200
        assert (
            requests.get(
                s.url + "/api/v1/groups", headers={"Authorization": "Bearer wrong"}, timeout=10
            ).status_code
            == 401
        )
        assert (
            requests.get(s.url + "/", timeout=10).status_code == 200
        )  # the console shell asks for the token
    finally:
        s.stop()


def test_default_bind_is_loopback(server: Server) -> None:
    assert server.url.startswith("http://127.0.0.1:")


class SSE:
    """A minimal SSE reader on a background thread."""

    def __init__(self, url: str, headers: dict | None = None) -> None:
        self.resp = requests.get(url, stream=True, headers=headers or {}, timeout=30)
        self.events: list[dict] = []
        self.last_id: str | None = None
        self.status = self.resp.status_code
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        data = []
        try:
            for raw in self.resp.iter_lines(decode_unicode=True):
                if raw == "":
                    if data:
                        self.events += json.loads("\n".join(data))["events"]
                    data = []
                elif raw.startswith("id:"):
                    self.last_id = raw[3:].strip()
                elif raw.startswith("data:"):
                    data.append(raw[5:].strip())
        except Exception:
            pass

    def close(self) -> None:
        self.resp.close()


def test_tail_resumes_with_no_gap_and_no_duplicate(server: Server) -> None:
    write(server, G, "s", ["old line"])
    url = f"{server.url}/api/v1/tail?group={G}&heartbeat=1"
    a = SSE(url)
    time.sleep(0.3)
    write(server, G, "s", [f"live {i}" for i in range(5)])
    wait_for(lambda: len(a.events) == 5, what="5 live events")
    assert [e["message"] for e in a.events] == [f"live {i}" for i in range(5)]
    a.close()
    write(server, G, "s", [f"while away {i}" for i in range(3)])
    b = SSE(url, headers={"Last-Event-ID": a.last_id})
    write(server, G, "s", ["after reconnect"])
    wait_for(lambda: len(b.events) == 4, what="resumed events")
    assert [e["message"] for e in b.events] == [
        "while away 0",
        "while away 1",
        "while away 2",
        "after reconnect",
    ]
    b.close()


def test_tail_with_filter_and_since(server: Server) -> None:
    now = int(time.time() * 1000)
    write(
        server,
        G,
        "s",
        [f"{_iso(now - 5000)} earlier ERROR one", f"{_iso(now - 4000)} earlier fine"],
    )
    wait_for(lambda: len(all_events(server, group=G)) == 2, what="2")
    c = SSE(f"{server.url}/api/v1/tail?group={G}&q=ERROR&since=1m&heartbeat=1")
    write(server, G, "s", ["later ERROR two", "later fine"])
    wait_for(lambda: len(c.events) == 2, what="replayed + live")
    assert [e["message"] for e in c.events] == ["earlier ERROR one", "later ERROR two"]
    c.close()


def test_tail_sees_new_streams_of_the_group(server: Server) -> None:
    write(server, G, "first", ["x"])
    c = SSE(f"{server.url}/api/v1/tail?group={G}&heartbeat=1")
    time.sleep(0.3)
    write(server, G, "second", ["from a new stream"])
    wait_for(lambda: c.events, timeout=10, what="event from new stream")
    assert c.events[0]["stream"] == "second"
    c.close()


def _iso(ms: int) -> str:
    from logsvc.lines import format_timestamp

    return format_timestamp(ms)
