"""The console shows zero-width characters as visible markers, as it does bidi controls (issue #17 item 13).

A message such as "pay\u200bpal" would otherwise look exactly like "paypal" in the console.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser import Console, console, site, unique, wait_indexed, write  # noqa: F401

pytestmark = pytest.mark.browser

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]


def test_zero_width_characters_are_visible(console: Console, site) -> None:  # noqa: F811
    group = unique("zw")
    write(site, group, "s", [f"pay{c}pal {i}" for i, c in enumerate(ZERO_WIDTH)])
    wait_indexed(site, group, len(ZERO_WIDTH))
    page = console.open(f"#/events?group={group}&stream=s")
    expect(page.locator(".vl .row")).to_have_count(len(ZERO_WIDTH))
    marks = page.locator(".vl .row .ctl")
    expect(marks).to_have_count(len(ZERO_WIDTH))
    shown = sorted(marks.all_text_contents())
    assert shown == ["<U+200B>", "<U+200C>", "<U+200D>", "<U+2060>", "<U+FEFF>"]
