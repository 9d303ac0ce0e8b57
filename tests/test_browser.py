"""The web console in a real browser: Debian's Chromium driven by Playwright, against a real server.

One server (and one browser) is shared by the tests of this module; each test writes to its own
log group, so they stay independent. The token and invoker tests start their own servers.
"""

from __future__ import annotations

import json
import re
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from logsvc.store import Store
from tests.conftest import start_server, wait_for

pytestmark = pytest.mark.browser

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "invoice\u202eexe.pdf",  # RTL override: shown as a visible marker, not reordering the row
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    data = tmp_path_factory.mktemp("browser") / "data"
    data.mkdir()
    s = start_server(data)
    yield s
    s.stop()


class Console:
    """A page on the console plus the problems it reported (JS errors, dialogs)."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, fragment: str = "") -> Page:
        self.page.goto(f"{self.url}/{fragment}")
        return self.page

    def state(self) -> dict:
        return self.page.evaluate("window.__logsvc.state()") or {}

    def messages(self) -> list[str]:
        return self.page.evaluate("window.__logsvc.messages()")

    def wait_live(self) -> None:
        wait_for(
            lambda: self.state().get("tail") == "live", timeout=10, what="the live tail to connect"
        )


@pytest.fixture
def console(browser: Browser, site) -> Iterator[Console]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    c = Console(ctx.new_page(), site.url)
    yield c
    ctx.close()
    assert not c.dialogs, f"a dialog fired: {c.dialogs}"
    assert not c.errors, f"JavaScript errors: {c.errors}"


def write(site, group: str, stream: str, lines: list[str]) -> Path:
    path = Store(site.data_dir).ensure_stream(group, stream)
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def wait_indexed(site, group: str, count: int) -> None:
    def n() -> int:
        r = requests.get(
            site.url + "/api/v1/events", params={"group": group, "limit": 10000}, timeout=10
        )
        return len(r.json().get("events", [])) if r.status_code == 200 else 0

    wait_for(lambda: n() >= count, timeout=10, what=f"{count} events in {group}")


def unique(prefix: str) -> str:
    return f"/test/{prefix}-{uuid.uuid4().hex[:6]}"


# ---- navigation ------------------------------------------------------------------------------------------


def test_groups_streams_events_and_merged_view(console: Console, site) -> None:
    group = unique("nav")
    write(site, group, "alpha", ["alpha line one", "alpha line two"])
    write(site, group, "beta", ["beta line one"])
    wait_indexed(site, group, 3)
    page = console.open()
    page.get_by_role("link", name=group, exact=True).click()
    expect(page).to_have_url(re.compile(r"#/streams\?group="))
    expect(page.get_by_role("link", name="alpha", exact=True)).to_be_visible()
    page.get_by_role("link", name="alpha", exact=True).click()
    expect(page.locator(".vl .row", has_text="alpha line two")).to_be_visible()
    expect(page.locator(".vl .row", has_text="beta line one")).to_have_count(0)
    page.go_back()
    page.get_by_role("link", name=re.compile("All streams, merged")).click()
    expect(page.locator(".vl .row", has_text="beta line one")).to_be_visible()
    # each line of a merged view says where it came from
    expect(page.locator(".vl .row", has_text="beta line one").locator(".src")).to_have_text("beta")
    expect(page.locator(".vl .row", has_text="alpha line one").locator(".src")).to_have_text(
        "alpha"
    )


# ---- search ----------------------------------------------------------------------------------------------


def test_search_highlights_matches_and_points_at_errors(console: Console, site) -> None:
    group = unique("search")
    write(site, group, "s", ["nothing here", "found the needle in the haystack", "more hay"])
    wait_indexed(site, group, 3)
    page = console.open(f"#/search?q=needle&group={group}")
    row = page.locator(".vl .row", has_text="haystack")
    expect(row).to_have_count(1)
    expect(row.locator("mark")).to_have_text("needle")
    expect(page.locator(".vl .row")).to_have_count(1)
    # a malformed pattern: the error says where, with a caret under the column
    page.locator("input.query").fill('{ $.level = "x"')
    page.locator("input.query").press("Enter")
    err = page.locator(".qerror")
    expect(err).to_be_visible()
    expect(err.locator("pre.caret")).to_contain_text("^")
    expect(page.locator("input.query")).to_have_attribute("aria-invalid", "true")


# ---- live tail -------------------------------------------------------------------------------------------


def test_tail_shows_an_appended_line_within_a_second(console: Console, site) -> None:
    group = unique("tail")
    path = write(site, group, "s", ["first"])
    wait_indexed(site, group, 1)
    page = console.open(f"#/events?group={group}&stream=s")
    expect(page.locator(".vl .row", has_text="first")).to_be_visible()
    console.wait_live()
    token = f"fresh-{uuid.uuid4().hex}"
    t0 = time.monotonic()
    with open(path, "a", encoding="utf-8") as f:
        f.write(token + "\n")
    expect(page.locator(".vl .row", has_text=token)).to_be_visible(timeout=1000)
    assert time.monotonic() - t0 <= 1.0


def test_pause_counts_new_lines_and_resume_loses_nothing(console: Console, site) -> None:
    group = unique("pause")
    path = write(site, group, "s", [f"old line {i}" for i in range(300)])
    wait_indexed(site, group, 300)
    page = console.open(f"#/events?group={group}&stream=s")
    expect(page.locator(".vl .row", has_text="old line 299")).to_be_visible()
    console.wait_live()
    # scrolling up pauses following, without moving what the reader looks at
    page.locator(".vl").hover()
    page.mouse.wheel(0, -1500)
    expect(page.locator("button.follow")).to_have_text("Paused")
    top_before = page.locator(".vl").evaluate("el => el.scrollTop")
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(f"new line {i}\n" for i in range(25)))
    pill = page.locator(".newpill")
    expect(pill).to_have_text(re.compile(r"\+25 new"), timeout=5000)
    assert page.locator(".vl").evaluate("el => el.scrollTop") == top_before, (
        "the view jumped while paused"
    )
    pill.click()
    expect(page.locator("button.follow")).to_have_text("Following")
    expect(page.locator(".vl .row", has_text="new line 24")).to_be_visible()
    msgs = console.messages()
    assert [m for m in msgs if m.startswith("new line")] == [f"new line {i}" for i in range(25)]
    assert len(msgs) == len(set(msgs)) == 325


# ---- permalinks ------------------------------------------------------------------------------------------


def test_permalinks_restore_the_view_and_back_works(console: Console, site) -> None:
    group = unique("link")
    write(site, group, "s", [f"row {i} {'ERROR boom' if i % 10 == 3 else 'ok'}" for i in range(40)])
    wait_indexed(site, group, 40)
    page = console.open(f"#/events?group={group}&stream=s")
    expect(page.locator(".vl .row", has_text="row 39")).to_be_visible()
    page.locator("input.query").fill("ERROR")
    page.locator("input.query").press("Enter")
    page.locator("select.range-select").select_option("1d")
    expect(page).to_have_url(re.compile(r"q=ERROR.*range=1d|range=1d.*q=ERROR"))
    expect(page.locator(".vl .row")).to_have_count(4)
    page.reload()
    expect(page.locator("input.query")).to_have_value("ERROR")
    expect(page.locator("select.range-select")).to_have_value("1d")
    expect(page.locator(".vl .row")).to_have_count(4)
    # one event: its permalink opens it in context, highlighted, and survives a reload
    page.locator(".vl .row", has_text="row 13").click()
    page.get_by_role("link", name="Show in context").click()
    expect(page).to_have_url(re.compile(r"#/event\?"))
    expect(page.locator(".vl .row.target")).to_contain_text("row 13")
    page.reload()
    expect(page.locator(".vl .row.target")).to_contain_text("row 13")
    expect(page.locator(".vl .row", has_text="row 12 ok")).to_be_visible()
    page.go_back()
    expect(page.locator("input.query")).to_have_value("ERROR")
    expect(page.locator(".vl .row")).to_have_count(4)


# ---- keyboard ------------------------------------------------------------------------------------------


def test_keyboard_shortcuts(console: Console, site) -> None:
    group = unique("keys")
    write(site, group, "s", [f"key line {i}" for i in range(5)])
    wait_indexed(site, group, 5)
    page = console.open(f"#/events?group={group}&stream=s")
    expect(page.locator(".vl .row", has_text="key line 4")).to_be_visible()
    console.wait_live()
    page.keyboard.press("k")  # moving up selects the last line and pauses following
    expect(page.locator(".vl .row.selected")).to_contain_text("key line 4")
    expect(page.locator("button.follow")).to_have_text("Paused")
    page.keyboard.press("k")
    expect(page.locator(".vl .row.selected")).to_contain_text("key line 3")
    page.keyboard.press("Enter")
    expect(page.locator(".detail")).to_contain_text("key line 3")
    page.keyboard.press("Escape")
    expect(page.locator(".detail")).to_have_count(0)
    page.keyboard.press("f")
    expect(page.locator("button.follow")).to_have_text("Following")
    page.keyboard.press("/")
    expect(page.locator("input.query")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#help-dialog")).to_be_visible()


# ---- JSON ------------------------------------------------------------------------------------------------


def test_json_field_click_adds_a_filter(console: Console, site) -> None:
    group = unique("json")
    write(
        site,
        group,
        "s",
        [
            json.dumps({"level": "info", "msg": "all good", "order": {"id": 1}}),
            json.dumps({"level": "error", "msg": "payment failed", "order": {"id": 2}}),
            json.dumps({"level": "info", "msg": "still fine", "order": {"id": 3}}),
        ],
    )
    wait_indexed(site, group, 3)
    page = console.open(f"#/events?group={group}&stream=s")
    page.locator(".vl .row", has_text="payment failed").click()
    detail = page.locator(".detail")
    expect(detail.locator("pre.json")).to_contain_text('"order": {')  # pretty-printed
    detail.locator('.jv[data-path="$.level"]').click()
    expect(page).to_have_url(re.compile(r"q="))
    expect(page.locator("input.query")).to_have_value('{ $.level = "error" }')
    expect(page.locator(".vl .row")).to_have_count(1)
    expect(page.locator(".vl .row")).to_contain_text("payment failed")


# ---- hostile text ----------------------------------------------------------------------------------------


def test_hostile_messages_are_shown_literally(console: Console, site) -> None:
    group = unique("xss")
    big = json.dumps({"blob": "x" * 100_000, "note": "<img src=x onerror=alert(3)>"})
    write(site, group, "s", [*HOSTILE, "\x1b[31mred\x1b[0m plain", big])
    wait_indexed(site, group, 5)
    page = console.open(f"#/events?group={group}&stream=s")
    rows = page.locator(".vl .row")
    expect(rows).to_have_count(5)
    for text in HOSTILE[:2]:
        expect(page.locator(".vl .row", has_text=text)).to_have_count(1)
    expect(page.locator(".vl .row .ctl")).to_have_text("<U+202E>")
    expect(page.locator(".vl .row .a-fg1")).to_have_text("red")
    assert page.locator(".vl img, .vl script, .detail img").count() == 0
    page.locator(".vl .row", has_text='"blob"').click()
    expect(page.locator(".detail pre.json")).to_contain_text("<img src=x onerror=alert(3)>")
    assert page.locator("main img, main script").count() == 0
    # the same text through search, highlighted
    page = console.open(f"#/search?q=onerror&group={group}")
    expect(page.locator(".vl .row mark").first).to_have_text("onerror")
    assert page.locator("main img, main script").count() == 0
    page.wait_for_timeout(
        200
    )  # give any injected handler a chance to fire (the fixture checks dialogs)


# ---- token -----------------------------------------------------------------------------------------------


def test_token_is_asked_for_and_kept_for_the_session(browser: Browser, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    Store(data).ensure_stream("/secured", "s").write_text("hello\n")
    s = start_server(data, env={"LOGSVC_TOKEN": "s3cret-token"})
    try:
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(s.url + "/")
        dialog = page.locator("#token-dialog")
        expect(dialog).to_be_visible()
        dialog.locator("input").fill("wrong")
        dialog.locator("button[type=submit]").click()
        expect(dialog.locator(".token-msg")).to_contain_text("not accepted")
        dialog.locator("input").fill("s3cret-token")
        dialog.locator("button[type=submit]").click()
        expect(page.get_by_role("link", name="/secured", exact=True)).to_be_visible()
        page.reload()
        expect(page.get_by_role("link", name="/secured", exact=True)).to_be_visible()
        expect(dialog).to_be_hidden()
        ctx.close()
    finally:
        s.stop()


def test_a_401_that_arrives_after_the_token_was_entered_is_retried_with_it(
    browser: Browser, tmp_path: Path
) -> None:
    """Two requests leave without a token; one 401 opens the prompt, the other's comes back after the
    user answered it. The late one must be sent again with the new token, not reopen the prompt
    saying a token nobody has tried yet "was not accepted" (a CI flake in the Functions panel)."""
    data = tmp_path / "data"
    data.mkdir()
    s = start_server(data, env={"LOGSVC_TOKEN": "s3cret-token"})
    try:
        ctx = browser.new_context()
        page = ctx.new_page()
        held = []

        def hold_the_first_tokenless(route) -> None:
            if "authorization" in route.request.headers or held:
                route.continue_()
            else:
                held.append(route)  # answered (by the real server) once the token is in

        page.route("**/api/v1/functions*", hold_the_first_tokenless)
        page.goto(s.url + "/#/invocations")  # asks /invocations and /functions at once
        dialog = page.locator("#token-dialog")
        expect(dialog).to_be_visible()
        wait_for(lambda: held, what="the held /functions request")
        dialog.locator("input").fill("s3cret-token")
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_be_hidden()
        with page.expect_response(
            lambda r: "/api/v1/functions" in r.url
            and r.status == 200
            and r.request.headers.get("authorization") == "Bearer s3cret-token",
            timeout=10_000,
        ):
            held[0].continue_()  # the server answers it 401: it carried no token
        page.wait_for_timeout(200)
        expect(dialog).to_be_hidden()
        ctx.close()
    finally:
        s.stop()


# ---- invocations -----------------------------------------------------------------------------------------

FAILING_HANDLER = textwrap.dedent(
    """
    def handler(event, context):
        print("charging order", event.get("order"))
        raise RuntimeError("card declined")
    """
)


def test_failed_async_invocation_shows_its_three_attempts(browser: Browser, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    project = tmp_path / "proj"
    project.mkdir()
    (project / "app.py").write_text(FAILING_HANDLER)
    (project / "logsvc.toml").write_text(
        textwrap.dedent(
            """
        [functions.charge]
        handler = "app.handler"
        max_retries = 2
        retry_delays = [0, 0]
        """
        )
    )
    s = start_server(data, "--project", str(project / "logsvc.toml"))
    try:
        r = requests.post(
            s.url + "/2015-03-31/functions/charge/invocations",
            data=json.dumps({"order": 7}),
            headers={"X-Amz-Invocation-Type": "Event"},
            timeout=30,
        )
        assert r.status_code == 202, r.text

        def attempts() -> list:
            return s.json("/api/v1/invocations", function="charge").get("invocations", [])

        wait_for(
            lambda: len(attempts()) >= 3, timeout=30, what="3 attempts of the async invocation"
        )
        request_id = attempts()[0]["requestId"]
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(s.url + "/#/invocations?function=charge")
        rows = page.locator(f'tr.inv[data-request-id="{request_id}"]')
        expect(rows).to_have_count(3)
        expect(rows.locator(".attempt")).to_have_text(["#3", "#2", "#1"])
        expect(rows.locator(".badge[data-status=error]")).to_have_count(3)
        # expanding one shows exactly its lines
        rows.first.locator("button.expander").click()
        expect(page.locator(".inv-lines").first).to_contain_text("card declined")
        # the trace links the retries of the one request
        rows.first.get_by_role("link", name=request_id).click()
        expect(page.locator(".trace-head .badge.retries")).to_have_text("3 attempts")
        expect(page.locator(".trace-attempt .attempt-label")).to_have_text(
            ["attempt 1", "attempt 2", "attempt 3"]
        )
        ctx.close()
        assert not errors, errors
    finally:
        s.stop()
