"""The console's Functions panel (issue #10.7): which HTTP routes are public, in a real browser.

A server with a token and a project holding one public and two guarded routes; Debian's Chromium
(driven by Playwright, as in test_browser.py) opens the Invocations view, is asked for the token and
must then show the public route with a "public" badge (and its tooltip) and the guarded ones without.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.conftest import start_server, wait_for

pytestmark = pytest.mark.browser

TOKEN = "console-fn-token"
HOSTILE_PATH = "/<img src=x onerror=alert(7)>"

HANDLERS = textwrap.dedent(
    """
    def hello(event, context):
        return {"statusCode": 200, "body": "hi"}
    """
)
PROJECT = textwrap.dedent(
    f"""
    [functions.site]
    handler = "handlers.hello"
    http = [
      {{ method = "GET", path = "/open", public = true }},
      {{ method = "POST", path = "/guarded" }},
      {{ method = "GET", path = "{HOSTILE_PATH}" }},
    ]

    [functions.worker]
    handler = "handlers.hello"
    """
)


def test_functions_panel_marks_public_routes_only(browser: Browser, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "handlers.py").write_text(HANDLERS)
    (project / "logsvc.toml").write_text(PROJECT)
    data = tmp_path / "data"
    data.mkdir()
    s = start_server(data, "--project", str(project / "logsvc.toml"), env={"LOGSVC_TOKEN": TOKEN})
    try:
        wait_for(lambda: (data / "invoker" / "owner.json").exists(), what="an invoker owner")
        # what the badge claims is what the server does
        assert requests.get(s.url + "/http/open", timeout=30).status_code == 200
        assert requests.post(s.url + "/http/guarded", timeout=30).status_code == 401

        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(s.url + "/#/invocations")
        token_dialog = page.locator("#token-dialog")
        expect(token_dialog).to_be_visible()
        token_dialog.locator("input").fill(TOKEN)
        token_dialog.locator("button[type=submit]").click()

        panel = page.locator("details.fn-panel")
        expect(panel).to_be_visible()
        site = panel.locator('tr.fn[data-function="site"]')
        expect(site.locator("li.route")).to_have_count(3)

        public = site.locator('li.route[data-route="GET /open"]')
        expect(public).to_be_visible()
        badge = public.locator(".badge.public")
        expect(badge).to_be_visible()
        expect(badge).to_have_text("public")
        expect(badge).to_have_attribute(
            "title", re.compile("anyone who can reach this server may call it")
        )

        guarded = site.locator('li.route[data-route="POST /guarded"]')
        expect(guarded).to_be_visible()
        expect(guarded.locator(".badge")).to_have_count(0)
        hostile = site.locator("li.route").filter(has_text="onerror")
        expect(hostile.locator("code")).to_have_text(
            f"GET {HOSTILE_PATH}"
        )  # shown as text, not markup
        expect(hostile.locator(".badge")).to_have_count(0)
        assert page.locator("main img, main script").count() == 0

        # the summary counts the public routes; a function without routes says so
        expect(panel.locator("summary .badge.public")).to_have_text("1 public route")
        expect(panel.locator('tr.fn[data-function="worker"]')).to_contain_text("none")
        expect(panel.locator('tr.fn[data-function="worker"] .badge')).to_have_count(0)

        page.wait_for_timeout(200)  # give any injected handler a chance to fire
        ctx.close()
        assert not errors, errors
        assert not dialogs, dialogs
    finally:
        s.stop()
