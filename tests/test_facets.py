"""GET /api/v1/facets (issue #15): the top values of level, group, stream and the JSON keys of the
newest events of a view, with counts, a bounded sample that says so, and clauses that are valid
filter patterns selecting exactly what they count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, wait_for

G = "/aws/lambda/facets"
OTHER = "/aws/lambda/facets-other"
ID = "1e5c8abd-3d36-461b-8c0f-a56b952715b3"
T0 = 1_714_564_800_000


def facet(body: dict, field: str) -> dict[str, dict]:
    return {v["value"]: v for f in body["facets"] if f["field"] == field for v in f["values"]}


def count(server: Server, q: str, **params: object) -> int:
    return len(
        server.json("/api/v1/events", q=q, limit=10000, start=T0, end=T0 + 3_600_000, **params)[
            "events"
        ]
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("facets") / "data"
    data.mkdir()
    s = start_server(data)
    lines_a = [
        f"{T0 + i} "
        + json.dumps(
            {
                "level": "error" if i % 4 == 0 else "info",
                "user": f"u{i % 3}",
                "order": {"id": i % 2, "paid": i % 5 == 0},
            }
        )[:-1]
        + ', "ratio": 1.50}'
        for i in range(12)
    ]
    lines_b = [
        f"{T0 + 100 + i} [ERROR]\t2024-05-01T12:00:00.100Z\t{ID}\tpython failure {i}"
        for i in range(3)
    ]
    lines_b += [f"{T0 + 200} plain text, no level"]
    for group, stream, lines in [
        (G, "a", lines_a),
        (G, "b", lines_b),
        (OTHER, "c", [f"{T0 + 300} " + json.dumps({"user": "u9"})]),
    ]:
        path = s.store.ensure_stream(group, stream)
        with open(path, "a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
    wait_for(
        lambda: len(s.json("/api/v1/events", group=G, limit=100)["events"]) == 16, what="indexed"
    )
    wait_for(
        lambda: len(s.json("/api/v1/events", group=OTHER, limit=100)["events"]) == 1, what="indexed"
    )
    yield s
    s.stop()


def test_facets_count_levels_groups_streams_and_json_keys(site: Server) -> None:
    body = site.json("/api/v1/facets", group=G, start=T0, end=T0 + 3_600_000)
    assert body["sampled"] == 16 and body["complete"] is True
    lv = facet(body, "level")
    assert {k: v["count"] for k, v in lv.items()} == {"error": 3, "info": 9, "ERROR": 3}
    assert (
        lv["error"]["keep"] == '$.level = "error"'
        and lv["error"]["leaveOut"] == '$.level != "error"'
    )
    assert (
        lv["ERROR"]["match"] == "term"
        and lv["ERROR"]["keep"] == "ERROR"
        and lv["ERROR"]["leaveOut"] == "-ERROR"
    )
    assert {k: v["count"] for k, v in facet(body, "@logStream").items()} == {"a": 12, "b": 4}
    assert {k: v["count"] for k, v in facet(body, "@logGroup").items()} == {G: 16}
    assert {k: v["count"] for k, v in facet(body, "$.user").items()} == {"u0": 4, "u1": 4, "u2": 4}
    assert {k: v["count"] for k, v in facet(body, "$.order.id").items()} == {"0": 6, "1": 6}
    paid = facet(body, "$.order.paid")
    assert {k: v["count"] for k, v in paid.items()} == {"true": 3, "false": 9}
    assert paid["true"]["keep"] == "$.order.paid IS TRUE"
    assert facet(body, "$.ratio")["1.50"]["keep"] == "$.ratio = 1.50"  # as written
    # search of every group: both groups
    every = site.json("/api/v1/facets", start=T0, end=T0 + 3_600_000)
    assert {k: v["count"] for k, v in facet(every, "@logGroup").items()} == {G: 16, OTHER: 1}


def test_every_clause_is_a_valid_pattern_selecting_what_it_counts(site: Server) -> None:
    body = site.json("/api/v1/facets", group=G, start=T0, end=T0 + 3_600_000)
    checked = 0
    for f in body["facets"]:
        for v in f["values"]:
            if v["match"] == "json":
                keep, drop = f"{{ {v['keep']} }}", f"{{ {v['leaveOut']} }}"
            elif v["match"] == "term":
                keep, drop = v["keep"], v["leaveOut"]
            else:
                continue
            kept = count(site, keep, group=G)
            assert kept == v["count"], (f["field"], v, kept)
            if v["match"] == "json":  # events lacking the key match neither side of a JSON clause
                assert count(site, drop, group=G) + kept == f.get("events", 12), (f["field"], v)
            else:
                assert count(site, drop, group=G) == 16 - kept, (f["field"], v)
            checked += 1
    assert checked >= 10


def test_the_sample_is_bounded_and_says_so(site: Server) -> None:
    body = site.json("/api/v1/facets", group=G, start=T0, end=T0 + 3_600_000, sample=5)
    assert body["sampled"] == 5 and body["complete"] is False and body["sampleLimit"] == 5
    assert sum(v["count"] for v in facet(body, "@logStream").values()) == 5
    # with a filter pattern, only the matches are counted
    body = site.json("/api/v1/facets", group=G, start=T0, end=T0 + 3_600_000, q='{ $.user = "u1" }')
    assert body["sampled"] == 4 and {k: v["count"] for k, v in facet(body, "$.user").items()} == {
        "u1": 4
    }
    r = site.get("/api/v1/facets", group=G, sample=0)
    assert r.status_code == 400 and r.json()["error"]["field"] == "sample"
