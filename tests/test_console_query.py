"""The console's Logs Insights Query view (issue #11.5) in a real browser: Debian's Chromium driven
by Playwright (as in test_browser.py) against a real `logsvc serve`.

One server holds a Lambda function's logs written through PutLogEvents (START, a JSON app line
carrying hostile text, an occasional [ERROR] line, END, REPORT with cold starts) over the last 50
minutes. The view must run AWS's Lambda sample queries with the same rows the REST API gives,
draw the `stats … by bin()` chart, turn a clicked value into a filter that narrows the rows when
run again, show a malformed query's caret error at the right column, save a query that boto3's
DescribeQueryDefinitions then lists, and show hostile values as text.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Server, start_server, wait_for

pytestmark = pytest.mark.browser

INVOCATIONS = 40
STEP_MS = 75_000
BIG = 150_000
ERROR_EVERY = 7
COLD_EVERY = 10
HOSTILE_USER = "<img src=x onerror=alert(1)>"
HOSTILE_NOTE = '<script>alert(2)</script>"\u202eexe.pdf'
TERMINAL = ("Complete", "Failed", "Cancelled", "Timeout")


def _logs(url: str):
    return boto3.client(
        "logs",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("console-query") / "data"
    data.mkdir()
    s = start_server(data)
    yield s
    s.stop()


@dataclass(frozen=True)
class LambdaLogs:
    group: str
    t0: int  # the first invocation's START, epoch ms; invocation i starts at t0 + i * STEP_MS


@pytest.fixture(scope="module")
def lambda_logs(site: Server) -> LambdaLogs:
    """A Lambda log group: INVOCATIONS invocations, STEP_MS apart, ending a minute ago."""
    name = f"/aws/lambda/orders-{uuid.uuid4().hex[:6]}"
    logs = _logs(site.url)
    logs.create_log_group(logGroupName=name)
    stream = "2026/12/02/[$LATEST]0123456789abcdef"
    logs.create_log_stream(logGroupName=name, logStreamName=stream)
    t0 = (int(time.time()) - 60 - INVOCATIONS * STEP_MS // 1000) * 1000
    events = []
    for i in range(INVOCATIONS):
        t = t0 + i * STEP_MS
        rid = f"{i:08d}-1111-4222-8333-{uuid.uuid4().hex[:12]}"
        events.append({"timestamp": t, "message": f"START RequestId: {rid} Version: $LATEST"})
        app = {
            "level": "INFO",
            "msg": f"order {i} placed",
            "requestId": rid,
            "user": HOSTILE_USER,
            "note": HOSTILE_NOTE,
            "cart": {"items": [{"sku": f"sku-{i % 3}", "qty": 1 + i % 2}]},
        }
        events.append({"timestamp": t + 1, "message": json.dumps(app)})
        if i % ERROR_EVERY == 0:
            events.append(
                {
                    "timestamp": t + 2,
                    "message": f"[ERROR]\t2026-12-02T00:00:00.000Z\t{rid}\tException: payment declined {i}",
                }
            )
        events.append({"timestamp": t + 3, "message": f"END RequestId: {rid}"})
        init = f"\tInit Duration: {150 + i}.50 ms" if i % COLD_EVERY == 0 else ""
        events.append(
            {
                "timestamp": t + 4,
                "message": f"REPORT RequestId: {rid}\tDuration: {10 + 3 * i}.25 ms\t"
                f"Billed Duration: {11 + 3 * i} ms\tMemory Size: 128 MB\tMax Memory Used: {60 + i} MB{init}\t",
            }
        )
    logs.put_log_events(logGroupName=name, logStreamName=stream, logEvents=events)
    wait_for(
        lambda: rest_rows(site, name, "stats count(*) as n") == [{"n": str(len(events))}],
        timeout=15,
        what="every event to be queryable",
    )
    return LambdaLogs(name, t0)


@pytest.fixture(scope="module")
def group(lambda_logs: LambdaLogs) -> str:
    return lambda_logs.group


@pytest.fixture(scope="module")
def big_group(site: Server) -> str:
    """BIG events written straight into a stream file (as `>>` would): a scan long enough to watch and stop."""
    name = f"/big/app-{uuid.uuid4().hex[:6]}"
    path = site.store.ensure_stream(name, "app")
    t0 = int(time.time() * 1000) - 3_600_000
    with open(path, "w", encoding="utf-8") as f:
        for i in range(BIG):
            ms = t0 + i * 20
            stamp = (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
            )
            f.write(f"{stamp} INFO request {i} took {i % 97} ms path=/p/{i % 13}\n")
    return name


def rest_rows(site: Server, group: str, query: str) -> list[dict]:
    """The rows GET /api/v1/insights gives for the same query over the last 3 hours (the view's range)."""
    r = requests.get(
        site.url + "/api/v1/insights",
        params={"q": query, "group": group, "since": "3h", "wait": 10},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "Complete", body
    return [{c["field"]: c["value"] for c in row} for row in body["results"]]


class QueryPage:
    """The Query view, plus the problems the page reported (JS errors, dialogs). One page serves
    the module's tests: each test re-opens the view by its URL (a same-document hash change)."""

    def __init__(self, page: Page, site: Server) -> None:
        self.page = page
        self.site = site
        self.group = ""
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.editor = page.locator("textarea.qe-input")

    def open(self, group: str, range_: str = "3h") -> None:
        self.group = group
        if "#" in self.page.url:
            self.page.evaluate("location.hash = '#/'")
        self.page.goto(f"{self.site.url}/#/query?group={group}&range={range_}")
        expect(self.page.locator(".q-tabs")).to_be_visible()
        wait_for(
            lambda: (
                (st := self.state()).get("language")
                and st.get("fields")
                and st.get("groups") == [group]
            ),
            timeout=10,
            what="the Query view with its language table and the group's fields",
        )

    def state(self) -> dict:
        return self.page.evaluate("window.__logsvc.state()") or {}

    def set_query(self, text: str) -> None:
        self.editor.fill(text)

    def run(self) -> dict:
        """Run (Ctrl+Enter in the editor) and wait for the end; the page's state then."""
        self.editor.focus()
        self.page.keyboard.press("Control+Enter")
        return self.wait_done()

    def wait_done(self) -> dict:
        status = self.page.locator(".q-status")
        expect(status).to_have_attribute("data-status", _terminal(), timeout=20_000)
        return self.state()

    def column(self, field: str) -> list[str]:
        cols = self.state()["columns"]
        i = [c for c in cols if c != "@ptr"].index(field) + 2  # 1-based, after the expander
        return self.page.locator(
            f"table.qresults tbody tr.krow td:nth-child({i})"
        ).all_inner_texts()


def _terminal() -> re.Pattern:
    return re.compile("^(" + "|".join(TERMINAL) + ")$")


@pytest.fixture(scope="module")
def shared_page(browser: Browser, site: Server) -> Iterator[QueryPage]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="UTC")
    yield QueryPage(ctx.new_page(), site)
    ctx.close()


@pytest.fixture
def qp(shared_page: QueryPage, group: str) -> Iterator[QueryPage]:
    q = shared_page
    q.open(group)
    yield q
    if q.page.locator("dialog[open]").count():
        q.page.keyboard.press("Escape")
    errors, dialogs = list(q.errors), list(q.dialogs)
    q.errors.clear()
    q.dialogs.clear()
    assert not dialogs, f"a dialog fired: {dialogs}"
    assert not errors, f"JavaScript errors: {errors}"


# ---- tests --------------------------------------------------------------------------------------------


def test_lambda_samples_run_with_the_rest_apis_rows_and_bin_draws_a_chart(
    qp: QueryPage, site: Server, group: str
) -> None:
    page = qp.page
    page.get_by_role("tab", name="Samples").click()
    samples = page.locator('.q-samples[data-category="lambda"] button.sample')
    expect(samples.first).to_be_visible()  # the list is fetched after the click: wait for it
    names = samples.evaluate_all("els => els.map(e => e.dataset.name)")
    assert len(names) >= 6 and "Latency statistics per 5 minutes" in names
    queries = {
        s["name"]: s["query"]
        for s in requests.get(site.url + "/api/v1/insights/samples", timeout=10).json()["samples"]
    }
    for name in names:
        page.locator(
            f'.q-samples button.sample[data-name="{name}"]'
        ).click()  # one click: loaded and run
        if "REQUEST-ID" in queries[name]:
            # a sample with a placeholder waits, the placeholder selected for typing over
            assert (
                qp.editor.evaluate("t => t.value.slice(t.selectionStart, t.selectionEnd)")
                == "REQUEST-ID"
            )
            rid = rest_rows(site, group, 'filter @type = "REPORT" | fields @requestId | limit 1')[
                0
            ]["@requestId"]
            page.keyboard.type(rid)
            queries[name] = queries[name].replace("REQUEST-ID", rid)
            page.keyboard.press("Control+Enter")
        st = qp.wait_done()
        assert st["status"] == "Complete", (name, st)
        assert st["query"] == queries[name]
        expected = rest_rows(site, group, queries[name])
        assert st["rows"] == len(expected), (name, st["rows"], len(expected))
        if name == "Latency statistics per 5 minutes":
            assert st["rows"] > 3
            # the table shows the same cells, the bin column in the page's zone (UTC here)
            assert qp.column("avg(@duration)") == [r["avg(@duration)"] for r in expected]
            assert qp.column("bin(5m)") == [r["bin(5m)"] for r in expected]
            chart = st["chart"]
            assert chart and chart["series"] == 3 and chart["points"] == 3 * len(expected), chart
            expect(page.locator(".qchart canvas")).to_have_count(1)
            expect(page.locator(".qchart .u-legend")).to_contain_text("max(@duration)")
            page.get_by_role("button", name="Bar", exact=True).click()
            assert qp.state()["chart"]["kind"] == "bar"
        elif name == "Cold starts per hour":
            assert sum(int(r["coldStarts"]) for r in expected) == len(
                range(0, INVOCATIONS, COLD_EVERY)
            )
            assert qp.state()["chart"]["points"] >= 1
        elif name == "One request's lines":  # the JSON app line carries requestId, not @requestId
            assert qp.column("@type") == ["START", "END", "REPORT"]  # oldest first
        elif name == "Most expensive requests":
            assert st["rows"] == INVOCATIONS and qp.state()["chart"] is None
            assert qp.column("@requestId")[0] == expected[0]["@requestId"]
    # the status line counts what the last query read
    status = page.locator(".q-status")
    assert int(status.get_attribute("data-scanned")) >= INVOCATIONS * 4
    expect(status).to_contain_text("records matched")


def test_clicked_value_becomes_a_filter_and_running_again_narrows_the_rows(qp: QueryPage) -> None:
    page = qp.page
    qp.set_query(
        "fields @timestamp, @type, @requestId, @message\n| sort @timestamp desc\n| limit 500"
    )
    st = qp.run()
    assert st["status"] == "Complete" and st["rows"] > 3 * INVOCATIONS
    page.locator('table.qresults button.qv[data-field="@type"][data-value="REPORT"]').first.click()
    # the filter goes before the trailing sort/limit, so it narrows what they see
    assert qp.editor.input_value() == (
        'fields @timestamp, @type, @requestId, @message\n| filter @type = "REPORT"\n| sort @timestamp desc\n| limit 500'
    )
    # the editor has the focus and the addition is one edit: Ctrl+Z takes it back, Ctrl+Y restores it
    page.keyboard.press("Control+z")
    assert "filter @type" not in qp.editor.input_value()
    page.keyboard.press("Control+y")
    assert '| filter @type = "REPORT"' in qp.editor.input_value()
    st = qp.run()
    assert st["rows"] == INVOCATIONS
    assert set(qp.column("@type")) == {"REPORT"}
    # a second click narrows to one invocation
    rid = qp.column("@requestId")[0]
    page.locator(
        f'table.qresults button.qv[data-field="@requestId"][data-value="{rid}"]'
    ).first.click()
    assert f'| filter @requestId = "{rid}"' in qp.editor.input_value()
    assert qp.run()["rows"] == 1
    # sorting by a column: numbers sort as numbers
    qp.set_query('filter @type = "REPORT" | fields @requestId, @duration')
    qp.run()
    head = page.locator('table.qresults th[data-col="@duration"]')
    head.get_by_role("button").click()
    expect(head).to_have_attribute("aria-sort", "ascending")
    durations = [float(v) for v in qp.column("@duration")]
    assert durations == sorted(durations) and durations[0] == 10.25


def test_malformed_query_shows_the_caret_at_the_column(qp: QueryPage) -> None:
    page = qp.page
    text = "fields @timestamp, @message\n| filter @duration > > 5"
    qp.set_query(text)
    box = page.locator(".q-error")
    expect(box).to_be_visible()
    col = text.split("\n")[1].index("> 5") + 1  # the second '>', 1-based
    expect(box).to_have_attribute("data-line", "2")
    expect(box).to_have_attribute("data-column", str(col))
    caret = box.locator("pre.caret").inner_text().split("\n")
    assert caret[0] == "| filter @duration > > 5" and caret[1] == " " * (col - 1) + "^"
    mark = page.locator(".qe-hl .qe-err")
    expect(mark).to_have_text(">")
    assert qp.state()["error"]["start"] == text.index("> 5")
    # running it anyway answers with the same place, and no rows
    qp.editor.focus()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".q-status")).to_contain_text("did not compile")
    # fixing it clears the mark
    qp.set_query("fields @timestamp, @message\n| filter @duration > 5")
    expect(box).to_be_hidden()
    expect(page.locator(".qe-hl .qe-err")).to_have_count(0)
    # an unsupported command is an error at its name, never ignored
    qp.set_query("fields @message | anomaly")
    expect(box).to_have_attribute(
        "data-column", str("fields @message | anomaly".index("anomaly") + 1)
    )
    expect(box).to_contain_text("anomaly")


def test_editor_colours_and_completes_commands_functions_and_fields(qp: QueryPage) -> None:
    page = qp.page
    qp.set_query('# memory\nfilter @message like /REPORT/ or level = "INFO"\n| st')
    hl = page.locator(".qe-hl")
    expect(hl.locator(".tok-comment")).to_have_text("# memory")
    expect(hl.locator(".tok-command")).to_have_text("filter")
    expect(hl.locator(".tok-unknown-command")).to_have_text("st")
    expect(hl.locator(".tok-regex")).to_have_text("/REPORT/")
    expect(hl.locator(".tok-string")).to_have_text('"INFO"')
    expect(hl.locator(".tok-sysfield")).to_have_text("@message")
    expect(hl.locator(".tok-field")).to_have_text("level")
    # completion: a command where a command starts ...
    qp.editor.press("End")
    qp.editor.press("Control+End")
    page.keyboard.type("a")
    options = page.locator(".qe-complete li[role=option]")
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("data-label", "stats")
    page.keyboard.press("Enter")
    assert qp.editor.input_value().endswith("| stats ")
    # ... aggregates inside stats, then the fields seen in the group (from /api/v1/insights/fields)
    page.keyboard.type("pc")
    expect(page.locator('.qe-complete li[data-label="pct"]')).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.type("@maxM")
    expect(page.locator('.qe-complete li[data-label="@maxMemoryUsed"]')).to_be_visible()
    page.keyboard.press("Enter")
    page.keyboard.type(", 90) by bin(1h)")
    assert qp.editor.input_value().endswith("| stats pct(@maxMemoryUsed, 90) by bin(1h)")
    expect(hl.locator(".tok-aggregate")).to_have_text("pct")
    expect(hl.locator(".tok-function")).to_have_text("bin")
    expect(hl.locator(".tok-period")).to_have_text("1h")
    # an alias the query made completes in the commands after it
    page.keyboard.type(" as p90\n| sort p")
    expect(page.locator('.qe-complete li[data-label="p90"]')).to_be_visible()
    page.keyboard.press("Enter")
    assert qp.editor.input_value().endswith("| sort p90")
    page.keyboard.press("Escape")
    st = qp.run()
    assert st["status"] == "Complete" and st["chart"]["points"] >= 1, st
    # the helpers behind the click-to-filter, table-driven in the page's own module
    cases = page.evaluate("""async () => {
      const m = await import('/static/insights-lang.js');
      return [
        m.addFilter('fields a', 'b', 'x'),
        m.addFilter('fields a | sort a | limit 5', 'x-y.z', 'q"\\\\'),
        m.addFilter('stats count(*) by k\\n| sort k', 'k', 'v'),
        m.hasBinStats('stats count(*) by bin(5m) | sort x'),
        m.hasBinStats('fields bin | stats count(*) by k'),
      ];
    }""")
    assert cases == [
        'fields a\n| filter b = "x"',
        'fields a | filter `x-y`.z = "q\\"\\\\" | sort a | limit 5',
        'stats count(*) by k\n| filter k = "v"\n| sort k',
        True,
        False,
    ]


def test_saved_query_is_a_cloudwatch_query_definition(
    qp: QueryPage, site: Server, group: str
) -> None:
    page = qp.page
    logs = _logs(site.url)
    name = f"p99 <b>by</b> hour {uuid.uuid4().hex[:6]}"
    query = 'filter @type = "REPORT"\n| stats pct(@duration, 99) as p99 by bin(1h)'
    qp.set_query(query)
    page.locator("button.q-save").click()
    dialog = page.locator("dialog.q-save-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    found = [
        d
        for d in logs.describe_query_definitions(queryDefinitionNamePrefix=name)["queryDefinitions"]
    ]
    assert len(found) == 1, found
    assert found[0]["queryString"] == query and found[0]["logGroupNames"] == [group]
    # the Saved tab lists it (the name as text), and one put by boto3 as well
    other = f"from boto3 {uuid.uuid4().hex[:6]}"
    logs.put_query_definition(
        name=other, queryString="fields @message | limit 3", logGroupNames=[group]
    )
    page.get_by_role("tab", name="Saved").click()
    saved = page.locator(f'li.q-saved[data-name="{name}"]')
    expect(saved.locator(".q-item-name")).to_have_text(name)
    expect(page.locator(f'li.q-saved[data-name="{other}"]')).to_be_visible()
    # loading a saved query puts it in the editor; deleting takes two clicks and reaches CloudWatch
    page.locator(f'li.q-saved[data-name="{other}"] button.q-item').click()
    assert qp.editor.input_value() == "fields @message | limit 3"
    expect(page.locator(".q-def")).to_have_text(f"Saved query: {other}")
    delete = saved.locator("button.q-del")
    delete.click()
    expect(delete).to_have_text("Really delete?")
    delete.click()
    expect(saved).to_have_count(0)
    assert logs.describe_query_definitions(queryDefinitionNamePrefix=name)["queryDefinitions"] == []
    # recent queries come from the server's list
    page.get_by_role("tab", name="Recent").click()
    expect(page.locator("li.q-recent").first).to_be_visible()


def test_hostile_field_values_render_as_text(qp: QueryPage) -> None:
    page = qp.page
    qp.set_query("filter ispresent(user)\n| fields user, note, @message\n| limit 3")
    st = qp.run()
    assert st["rows"] == 3
    assert qp.column("user") == [HOSTILE_USER] * 3
    assert qp.column("note") == [HOSTILE_NOTE] * 3
    page.locator("table.qresults button.expander").first.click()
    tree = page.locator("tr.q-detail .jtree")
    expect(tree).to_contain_text(json.dumps(HOSTILE_USER))
    # a JSON leaf of @message filters on its flattened field name
    page.locator('tr.q-detail .jtree button.jv[data-field="cart.items.0.sku"]').click()
    assert '| filter cart.items.0.sku = "sku-' in qp.editor.input_value()
    assert page.locator("main img, main script, main iframe").count() == 0
    # the value clicked into a filter round-trips its quotes, escapes and the RTL override
    page.locator('table.qresults button.qv[data-field="note"]').first.click()
    assert (
        f"| filter note = {json.dumps(HOSTILE_NOTE, ensure_ascii=False)}" in qp.editor.input_value()
    )
    st = qp.run()
    assert st["status"] == "Complete" and st["rows"] == 3
    assert qp.column("note") == [HOSTILE_NOTE] * 3
    assert len(rest_rows(qp.site, qp.group, qp.editor.input_value())) == 3
    # a hostile group key names a chart series: the legend shows it as text
    qp.set_query("filter ispresent(user) | stats count(*) as n by user, bin(1h)")
    st = qp.run()
    assert st["chart"] and st["chart"]["series"] == 1
    expect(page.locator(".qchart .u-legend")).to_contain_text(HOSTILE_USER)
    assert page.locator("main img, main script, main iframe").count() == 0
    page.wait_for_timeout(
        100
    )  # give any injected handler a chance to fire (the fixture checks dialogs)


def test_group_picker_and_absolute_time_range(qp: QueryPage, lambda_logs: LambdaLogs) -> None:
    page = qp.page
    # from the groups list, a group's "Query" link opens this view on it
    page.goto(f"{qp.site.url}/#/")
    page.get_by_role("row").filter(has_text=lambda_logs.group).get_by_role(
        "link", name="Query", exact=True
    ).click()
    expect(page.locator(".gp-chips .chip")).to_have_text([lambda_logs.group + "×"])
    picker = page.locator("details.gpicker")
    picker.locator("summary").click()
    box = picker.get_by_role("checkbox", name=lambda_logs.group)
    expect(box).to_be_checked()
    box.uncheck()
    expect(page.locator(".gp-chips .chip")).to_have_count(0)
    expect(picker.locator("summary")).to_have_text(re.compile("Pick log groups"))
    page.keyboard.press("Escape")
    qp.set_query('filter @type = "REPORT" | stats count(*) as n')
    qp.editor.focus()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".q-status")).to_contain_text("Pick at least one log group")
    expect(picker).to_have_attribute("open", "")  # opened for the user
    picker.get_by_role("checkbox", name=lambda_logs.group).check()
    expect(page.locator(".gp-chips .chip")).to_have_text([lambda_logs.group + "×"])
    page.keyboard.press("Escape")
    assert qp.run()["rows"] == 1 and qp.column("n") == [str(INVOCATIONS)]
    # an absolute range (in the page's zone, UTC here) holding invocations 10..19 only
    page.locator("select.range-select").select_option("custom")

    def local(ms: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000))

    page.get_by_label("From").fill(local(lambda_logs.t0 + 10 * STEP_MS - 30_000))
    page.get_by_label("To (empty = now)").fill(local(lambda_logs.t0 + 20 * STEP_MS - 30_000))
    page.get_by_role("button", name="Apply").click()
    assert qp.run()["rows"] == 1 and qp.column("n") == ["10"]
    assert "start=" in page.url and "end=" in page.url  # the range is in the permalink
    # "Copy as CLI" is the same query from a shell: `logsvc query` over the same REST API
    cli = shlex.split(qp.state()["cli"])
    assert cli[:3] == ["logsvc", "--url", qp.site.url] and "--until" in cli
    out = subprocess.run(
        [sys.executable, "-m", "logsvc", *cli[1:], "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert out.returncode == 0, out.stderr
    assert '"10"' in out.stdout or ": 10" in out.stdout, out.stdout


def test_running_query_shows_progress_and_stop_keeps_its_rows(
    qp: QueryPage, big_group: str
) -> None:
    page = qp.page
    qp.open(big_group)
    # a regex filter and a regex parse: the row engine (DuckDB over the columns answers a glob parse
    # at once, with no partial statistics), whose scan lasts seconds even on an idle machine
    qp.set_query(
        "filter @message like /(?i)request \\d+ took/\n"
        '| parse @message /(?<a>\\S+) (?<b>\\S+) (?<c>.*)/\n| stats count(*) as n by b'
    )
    qp.editor.focus()
    page.keyboard.press("Control+Enter")
    status = page.locator(".q-status")
    expect(status).to_have_attribute("data-status", "Running", timeout=10_000)
    expect(page.locator("button.q-stop")).to_be_enabled()
    # records scanned grow while it runs (partial statistics, polled)
    first = wait_for(
        lambda: int(status.get_attribute("data-scanned") or 0) or None,
        timeout=10,
        what="records scanned",
    )
    wait_for(
        lambda: int(status.get_attribute("data-scanned") or 0) > first,
        timeout=10,
        what="records scanned to grow",
    )
    assert 0 < first < BIG
    page.locator("button.q-stop").click()
    expect(status).to_have_attribute("data-status", "Cancelled", timeout=10_000)
    expect(status).to_contain_text("Stopped")
    scanned = int(status.get_attribute("data-scanned"))
    assert first < scanned < BIG
    st = qp.state()
    assert not st["running"] and st["rows"] >= 1  # the groups found until the stop
    expect(page.locator("button.q-run")).to_be_enabled()
