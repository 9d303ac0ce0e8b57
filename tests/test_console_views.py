"""The console's first-ten-minutes fixes (issue #15) in Debian's Chromium, against a real server.

Reuses test_browser.py's module server, console page and helpers: each test writes its own group.
Where a test checks a drawing, it measures what was drawn (canvas pixels, element boxes) against
geometry it computes itself from the request (bucket count, span), never from the chart's own code.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import boto3
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import wait_for
from tests.test_browser import Console, console, site, unique, wait_indexed, write  # noqa: F401

pytestmark = pytest.mark.browser

INTERNAL = "/logsvc/invocations"
BUCKETS = 60  # what the events view asks the histogram endpoint for

# Opaque pixels at fractions of the plot height inside one column of the histogram's canvas.
COLUMN_JS = """([frac, heights]) => {
  const root = document.querySelector('.histogram');
  const canvas = root.querySelector('canvas');
  const over = root.querySelector('.u-over').getBoundingClientRect();
  const box = canvas.getBoundingClientRect();
  const sx = canvas.width / box.width, sy = canvas.height / box.height;
  const ctx = canvas.getContext('2d');
  return heights.map((hf) => {
    const x = Math.round((over.left - box.left + over.width * frac) * sx);
    const y = Math.round((over.top - box.top + over.height * hf) * sy);
    const d = ctx.getImageData(x, y, 1, 1).data;
    return [d[0], d[1], d[2], d[3]];
  });
}"""
HEIGHTS = [0.2, 0.35, 0.5, 0.65, 0.8]


def column(page: Page, bucket: int, at: float = 0.5) -> list[list[int]]:
    """The pixels down `bucket` (0 = oldest) of the BUCKETS equal buckets of the plot, `at` of the
    way across it (0.5: its middle)."""
    return page.evaluate(COLUMN_JS, [(bucket + at) / BUCKETS, HEIGHTS])


def opaque(pixels: list[list[int]]) -> int:
    return sum(1 for p in pixels if p[3] > 100)


@pytest.mark.parametrize(
    "fragment", ["#/events?group={g}&range=1h", "#/search?group={g}&q=fresh&range=1d"]
)
def test_histogram_draws_the_newest_bucket(console: Console, site, fragment: str) -> None:  # noqa: F811
    """Every event is in the newest bucket: its column is filled, an old bucket's is not."""
    group = unique("newest")
    now = int(time.time() * 1000)
    write(site, group, "s", [f"{now - i} fresh event {i}" for i in range(5)])
    wait_indexed(site, group, 5)
    page = console.open(fragment.format(g=group))
    expect(page.locator(".histogram")).to_have_attribute("data-total", "5")
    expect(page.locator(".histogram .u-over")).to_be_visible()
    wait_for(
        lambda: opaque(column(page, BUCKETS - 1)) == len(HEIGHTS),
        timeout=5,
        what="the newest bucket's bar",
    )
    # An empty bucket: a horizontal grid line may cross one of the heights, and a vertical one (a
    # time tick, where it falls depends on the clock) one of three places across the bucket; a bar
    # would fill all three.
    assert min(opaque(column(page, BUCKETS // 2, at)) for at in (0.2, 0.5, 0.8)) <= 1


def test_internal_group_is_hidden_but_reachable_from_invocations(console: Console, site) -> None:  # noqa: F811
    token = f"needle{uuid.uuid4().hex[:8]}"
    user = unique("visible")
    now = int(time.time() * 1000)
    rec = {
        "requestId": f"req-{token}",
        "function": "fn",
        "attempt": 1,
        "status": "success",
        "start": now - 3,
        "end": now,
        "durationMs": 3,
        "logGroup": user,
        "logStream": "s",
        "note": token,
    }
    write(site, INTERNAL, "records", [f"{now} {json.dumps(rec)}"])
    write(site, user, "s", [f"{now} user line {token}"])
    wait_indexed(site, INTERNAL, 1)
    wait_indexed(site, user, 1)
    page = console.open("#/")
    expect(page.locator("table.grid a.primary-link", has_text=user)).to_be_visible()
    expect(page.locator("table.grid a.primary-link", has_text=INTERNAL)).to_have_count(0)
    page = console.open(f"#/search?q={token}&range=1d")
    expect(page.locator(".vl .row")).to_have_count(1)
    expect(page.locator(".vl .row")).to_contain_text("user line")
    page = console.open("#/invocations")
    page.locator("a.raw-records").click()
    expect(page.locator(".vl .row", has_text=f"req-{token}")).to_be_visible()


def test_groups_list_shows_new_groups_without_a_reload(console: Console, site) -> None:  # noqa: F811
    first = unique("before")
    write(site, first, "s", ["here first"])
    wait_indexed(site, first, 1)
    page = console.open("#/")
    expect(page.locator("table.grid a.primary-link", has_text=first)).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    by_file = unique("by-file")
    write(site, by_file, "s", ["written with >>"])
    by_api = unique("by-put")
    logs = boto3.client("logs", endpoint_url=site.url, region_name="us-east-1")
    logs.create_log_group(logGroupName=by_api)
    logs.create_log_stream(logGroupName=by_api, logStreamName="s")
    logs.put_log_events(
        logGroupName=by_api,
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "put"}],
    )
    expect(page.locator("table.grid a.primary-link", has_text=by_file)).to_be_visible(
        timeout=15_000
    )
    expect(page.locator("table.grid a.primary-link", has_text=by_api)).to_be_visible(timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened


FILLTEXT_SPY = """(() => {
  window.__drawnText = [];
  const orig = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    window.__drawnText.push(String(text));
    return orig.call(this, text, ...rest);
  };
})();"""


def test_header_controls_are_labelled_and_one_24_hour_clock_in_any_zone(browser, site) -> None:  # noqa: F811
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 800}, timezone_id="America/New_York"
    )
    ctx.add_init_script(FILLTEXT_SPY)
    c = Console(ctx.new_page(), site.url)
    try:
        group = unique("zone")
        t = 1714566896789  # 2024-05-01T12:34:56.789Z = 21:34:56.789 in Tokyo (UTC+9, no DST)
        write(site, group, "s", [f"{t} the zoned event"])
        wait_indexed(site, group, 1)
        start, end = 1714564800000, 1714600800000  # 12:00Z .. 22:00Z
        page = c.open(f"#/events?group={group}&stream=s&start={start}&end={end}")
        tz_select = page.get_by_label("Time zone")
        theme = page.get_by_label("Theme")
        expect(tz_select).to_be_visible()
        expect(theme).to_be_visible()
        expect(tz_select).to_have_value("local")
        expect(tz_select.locator("option[value='local']")).to_have_text("Local (America/New_York)")
        assert tz_select.locator("option").count() > 100  # the IANA zones, beyond UTC and local
        row = page.locator(".vl .row", has_text="the zoned event")
        expect(row.locator("time")).to_have_text(
            "2024-05-01 08:34:56.789"
        )  # New York, EDT, 24-hour
        tz_select.select_option("Asia/Tokyo")
        row = page.locator(".vl .row", has_text="the zoned event")
        expect(row.locator("time")).to_have_text("2024-05-01 21:34:56.789")
        expect(page.locator(".list-head .ts")).to_have_text("Time (UTC+09:00)")
        # the range inputs: the same 24-hour clock, in the same zone, as text
        expect(page.get_by_label("From")).to_have_value("2024-05-01 21:00:00")
        expect(page.get_by_label("To (empty = now)")).to_have_value("2024-05-02 07:00:00")
        # the histogram's axis: 24-hour labels in Tokyo time (drawn text, read back from the canvas calls)
        expect(page.locator(".histogram")).to_have_attribute("data-total", "1")

        def axis_labels() -> list[str]:
            return [x for x in page.evaluate("window.__drawnText") if ":" in x or "-" in x]

        labels = wait_for(axis_labels, timeout=5, what="time-axis labels")
        assert all(re.fullmatch(r"\d\d:\d\d|\d\d-\d\d", x) for x in labels), labels
        assert any(x >= "13:00" for x in labels if ":" in x), (
            labels
        )  # afternoon hours as 13..23, not 1..11 pm
        theme.select_option("dark")
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        # both choices are kept across a reload
        page.reload()
        expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
        expect(page.get_by_label("Theme")).to_have_value("dark")
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        expect(page.locator(".vl .row", has_text="the zoned event").locator("time")).to_have_text(
            "2024-05-01 21:34:56.789"
        )
        # an absolute range typed in the picker is read in the chosen zone
        page.locator("select.range-select").select_option("custom")
        page.get_by_label("From").fill("2024-05-01 21:34:00")
        page.get_by_label("To (empty = now)").fill("2024-05-01 21:35:00")
        page.get_by_role("button", name="Apply").click()
        wait_for(
            lambda: f"start={t - 56789}" in page.url and f"end={t - 56789 + 60000}" in page.url,
            timeout=5,
            what="the typed Tokyo range in the URL",
        )
        expect(page.locator(".vl .row", has_text="the zoned event")).to_be_visible()
        assert not c.errors, c.errors
    finally:
        ctx.close()


def test_trace_waterfall_is_on_one_time_axis(console: Console, site) -> None:  # noqa: F811
    """A child starting 10 ms after its parent is drawn 10 ms to the right, whatever its depth, and
    each bar is as long as the duration shown beside it."""
    t = int(time.time() * 1000) - 5000
    ids = {k: f"{k}-{uuid.uuid4().hex[:8]}" for k in ("root", "child", "grandchild")}
    spans = {"root": (0, 100, None), "child": (10, 60, "root"), "grandchild": (20, 40, "child")}
    lines = []
    for k, (a, b, parent) in spans.items():
        rec = {
            "requestId": ids[k],
            "function": f"fn-{k}",
            "attempt": 1,
            "status": "success",
            "start": t + a,
            "end": t + b,
            "durationMs": b - a - 1,
            "logGroup": "/aws/lambda/x",
            "logStream": "s",
        }
        if parent:
            rec["parentRequestId"] = ids[parent]
        lines.append(f"{t + b} {json.dumps(rec)}")
    write(site, INTERNAL, "records", lines)
    wait_for(
        lambda: len(site.json("/api/v1/invocations", parent=ids["child"])["invocations"]) == 1,
        what="records",
    )
    page = console.open(f"#/trace?requestId={ids['grandchild']}")

    def row(k: str):
        return page.locator(f'.trace-attempt[data-request-id="{ids[k]}"]')

    for k in spans:
        expect(row(k).locator(".bar")).to_be_visible()
    box = {k: row(k).locator(".bar").bounding_box() for k in spans}
    track = {k: row(k).locator(".bar-track").bounding_box() for k in spans}
    assert (
        track["root"]["x"] == track["child"]["x"] == track["grandchild"]["x"]
    )  # one axis for every depth
    px = box["root"]["width"] / 100  # px per ms, from the 100 ms root
    assert px > 2
    for k, (a, b, _) in spans.items():
        assert abs(box[k]["x"] - box["root"]["x"] - a * px) <= 1.5, (k, box)
        assert abs(box[k]["width"] - (b - a) * px) <= 1.5, (k, box)
        expect(row(k).locator(".wf-duration")).to_have_text(f"{b - a} ms")
    # the axis ticks sit at their times on the same scale
    for ms in (20, 40):
        tick = page.locator(f'.wf-tick[data-ms="{ms}"]')
        expect(tick).to_have_text(f"+{ms} ms")
        assert abs(tick.bounding_box()["x"] - box["root"]["x"] - ms * px) <= 1.5


def rgb(css: str) -> list[int]:
    css = css.strip().lstrip("#")
    return [int(css[i : i + 2], 16) for i in (0, 2, 4)]


def test_histogram_is_stacked_by_level_with_errors_at_the_bottom(console: Console, site) -> None:  # noqa: F811
    group = unique("stacked")
    now = int(time.time() * 1000)
    levels = ["ERROR"] * 2 + ["INFO"] * 6
    write(
        site,
        group,
        "s",
        [f"{now - i} " + json.dumps({"level": lv, "n": i}) for i, lv in enumerate(levels)],
    )
    wait_indexed(site, group, len(levels))
    page = console.open(f"#/events?group={group}&range=1h")
    expect(page.locator(".histogram")).to_have_attribute("data-total", str(len(levels)))
    expect(page.locator(".histo-legend [data-level=error]")).to_have_text("error 2")
    expect(page.locator(".histo-legend [data-level=info]")).to_have_text("info 6")
    err, info = (
        rgb(page.evaluate(f"getComputedStyle(document.documentElement).getPropertyValue('{v}')"))
        for v in ("--err", "--info")
    )
    # y runs 0..8 events: the bottom quarter of the newest bar is error, the rest info
    heights = [0.9, 0.8, 0.5, 0.2]  # fractions of the plot height from its top
    px = wait_for(
        lambda: (
            (c := page.evaluate(COLUMN_JS, [(BUCKETS - 0.5) / BUCKETS, heights]))
            and all(p[3] > 200 for p in c)
            and c
        ),
        timeout=5,
        what="the newest bar drawn",
    )
    assert [p[:3] for p in px] == [err, err, info, info], (px, err, info)


def test_clicking_a_facet_value_filters_the_list(console: Console, site) -> None:  # noqa: F811
    group = unique("facets")
    now = int(time.time() * 1000)
    events = [
        {"level": "error" if i % 3 == 0 else "info", "user": f"u{i % 2}", "n": i} for i in range(12)
    ]
    write(site, group, "s", [f"{now - 1000 + i} {json.dumps(e)}" for i, e in enumerate(events)])
    wait_indexed(site, group, len(events))
    page = console.open(f"#/events?group={group}&range=1h")
    expect(page.locator(".vl .row")).to_have_count(12)
    panel = page.locator("aside.facets")
    expect(panel.locator(".facets-note")).to_have_text("all 12 matching events")
    user = panel.locator('.facet[data-field="$.user"] .fv[data-value="u1"]')
    expect(user.locator(".fv-count")).to_have_text("6")
    user.get_by_role("button", name="Filter for $.user u1").click()
    expect(page.locator("input.query")).to_have_value('{ $.user = "u1" }')
    expect(page.locator(".vl .row")).to_have_count(6)
    for text in page.locator(".vl .row .msg").all_inner_texts():
        assert '"user": "u1"' in text
    # leaving a level out joins the pattern with &&
    level = page.locator('aside.facets .facet[data-field="level"] .fv[data-value="error"]')
    expect(level.locator(".fv-count")).to_have_text("2")  # u1 is the odd n; errors are n = 3 and 9
    level.get_by_role("button", name="Filter out level error").click()
    expect(page.locator("input.query")).to_have_value('{ ($.user = "u1") && ($.level != "error") }')
    expect(page.locator(".vl .row")).to_have_count(4)
    assert all('"level": "info"' in t for t in page.locator(".vl .row .msg").all_inner_texts())
    # the list folds away to give the events room, and stays folded
    page.locator("aside.facets").get_by_role("button", name="Fields").click()
    expect(page.locator("aside.facets")).to_have_class(re.compile(r"\bfolded\b"))
    page.reload()
    expect(page.locator("aside.facets")).to_have_class(re.compile(r"\bfolded\b"))
    expect(page.locator("aside.facets .facet").first).to_be_hidden()
    page.locator("aside.facets").get_by_role("button", name="Fields").click()
    expect(page.locator("aside.facets .facet").first).to_be_visible()


def test_header_shows_a_running_forwarder(console: Console, site) -> None:  # noqa: F811
    """`logsvc forward` over the console's data directory shows in the header while it runs."""
    from logsvc import ship
    from logsvc.store import Store

    group = unique("fwd")
    write(site, group, "s", ["one", "two", "three"])
    wait_indexed(site, group, 3)
    cfg = ship.make_config({"endpoint": site.url, "groups": [group], "prefix": "/copy"})
    fwd = ship.Forwarder(Store(site.data_dir), cfg)  # to the same server, under another name
    try:
        while fwd.step():
            pass
        fwd.write_status()
        page = console.open()
        badge = page.locator("#forward-state")
        expect(badge).to_have_text("Forwarded 3 · caught up")
        expect(badge).to_have_attribute("data-state", "caught-up")
        assert "3 events sent, 0 rejected" in badge.get_attribute("title")
    finally:
        fwd.close()
    page = console.open()
    expect(page.locator("#forward-state")).to_be_hidden()
