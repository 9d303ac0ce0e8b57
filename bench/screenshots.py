"""Screenshots of the console's main views at 1280x800, light and dark, into screenshots/ (git-ignored).

Seeds a temp data directory with Lambda-style logs (several functions and containers, JSON lines,
ANSI colours, a traceback, REPORT lines) and invocation records with a retried async request, starts
a real `logsvc serve` over it (or uses --url with --data-dir), and photographs each view.

    python bench/screenshots.py [--out screenshots] [--url http://127.0.0.1:PORT --data-dir D]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from _console import ROOT, Server, launch
from playwright.sync_api import sync_playwright

from logsvc.store import Store

FUNCTIONS = ["orders", "payments", "emails"]


def iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def seed(data_dir: Path) -> None:
    rnd = random.Random(7)
    store = Store(data_dir)
    now = int(time.time() * 1000)
    records = []
    for fi, fn in enumerate(FUNCTIONS):
        for c in range(2):
            stream = f"{iso(now)[:10].replace('-', '/')}/[$LATEST]{c}{fi}c0ffee{rnd.randrange(16**8):08x}"
            lines = []
            t = now - 50 * 60_000 + c * 7000
            for i in range(120):
                t += rnd.randrange(5_000, 45_000)
                if t > now:
                    break
                rid = f"{rnd.randrange(16**8):08x}-{rnd.randrange(16**4):04x}-4{rnd.randrange(16**3):03x}-a{rnd.randrange(16**3):03x}-{rnd.randrange(16**12):012x}"
                cold = i == 0
                if cold:
                    lines.append(
                        f"{iso(t - 300)} INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0a1b"
                    )
                lines.append(f"{iso(t)} START RequestId: {rid} Version: $LATEST")
                lines.append(
                    f"{iso(t + 2)} "
                    + json.dumps(
                        {
                            "level": "info",
                            "requestId": rid,
                            "message": f"{fn} handler called",
                            "order": {
                                "id": 1000 + i,
                                "items": rnd.randrange(1, 6),
                                "currency": "EUR",
                            },
                            "user": f"u-{rnd.randrange(900)}",
                        }
                    )
                )
                lines.append(
                    f"{iso(t + 5)} [INFO]\t{iso(t + 5)}\t{rid}\tfetching \x1b[36mhttps://api.internal/{fn}/{1000 + i}\x1b[0m took \x1b[1m{rnd.randrange(3, 90)} ms\x1b[0m"
                )
                failed = fn == "payments" and i % 9 == 4
                if failed:
                    lines.append(
                        f'{iso(t + 40)} [ERROR]\t{iso(t + 40)}\t{rid}\tTraceback (most recent call last):\r  File "/var/task/app.py", line 31, in handler\r    charge(order)\r  File "/var/task/billing.py", line 12, in charge\r    raise CardDeclined("insufficient funds")\rbilling.CardDeclined: insufficient funds'
                    )
                elif i % 7 == 3:
                    lines.append(
                        f"{iso(t + 30)} "
                        + json.dumps(
                            {
                                "level": "warn",
                                "requestId": rid,
                                "message": "retrying upstream call",
                                "attempt": 2,
                            }
                        )
                    )
                dur = rnd.uniform(20, 400) + (250 if cold else 0)
                lines.append(f"{iso(t + int(dur))} END RequestId: {rid}")
                report = f"REPORT RequestId: {rid}\tDuration: {dur:.2f} ms\tBilled Duration: {int(dur) + 1} ms\tMemory Size: 256 MB\tMax Memory Used: {rnd.randrange(60, 140)} MB"
                if cold:
                    report += f"\tInit Duration: {rnd.uniform(180, 420):.2f} ms"
                lines.append(f"{iso(t + int(dur))} {report}")
                records.append(
                    {
                        "requestId": rid,
                        "function": fn,
                        "attempt": 1,
                        "invocationType": "RequestResponse",
                        "trigger": {"type": "http"},
                        "parentRequestId": None,
                        "logGroup": f"/aws/lambda/{fn}",
                        "logStream": stream,
                        "status": "error" if failed else "success",
                        "start": t,
                        "end": t + int(dur),
                        "durationMs": round(dur, 2),
                        "billedDurationMs": int(dur) + 1,
                        "initDurationMs": 250.0 if cold else None,
                        "coldStart": cold,
                        "maxMemoryUsedMB": rnd.randrange(60, 140),
                        "errorType": "CardDeclined" if failed else None,
                    }
                )
            path = store.ensure_stream(f"/aws/lambda/{fn}", stream)
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    # one async request that failed three times and fanned out to an email on the last attempt
    base = now - 4 * 60_000
    for a in (1, 2, 3):
        records.append(
            {
                "requestId": "7f3c2a10-async-demo",
                "function": "payments",
                "attempt": a,
                "invocationType": "Event",
                "trigger": {"type": "bucket"}
                if a == 1
                else {"type": "bucket", "retryOf": "7f3c2a10-async-demo"},
                "parentRequestId": None,
                "logGroup": "/aws/lambda/payments",
                "logStream": "async",
                "status": "error" if a < 3 else "timeout",
                "start": base + (a - 1) * 61_000,
                "end": base + (a - 1) * 61_000 + 900 * a,
                "durationMs": 900.0 * a,
                "billedDurationMs": 900 * a,
                "coldStart": a == 1,
                "initDurationMs": 312.4 if a == 1 else None,
                "maxMemoryUsedMB": 88,
                "errorType": "CardDeclined",
            }
        )
    records.append(
        {
            "requestId": "b21e-email-demo",
            "function": "emails",
            "attempt": 1,
            "invocationType": "Event",
            "trigger": {"type": "destination"},
            "parentRequestId": "7f3c2a10-async-demo",
            "logGroup": "/aws/lambda/emails",
            "logStream": "async",
            "status": "success",
            "start": base + 500,
            "end": base + 800,
            "durationMs": 300.0,
            "billedDurationMs": 300,
            "coldStart": False,
            "maxMemoryUsedMB": 70,
        }
    )
    try:
        from logsvc.invoker.records import RecordLog

        log = RecordLog(store)
        for r in sorted(records, key=lambda r: r["start"]):
            log.append(r)
    except ImportError:
        pass


def shoot(url: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    g = quote("/aws/lambda/payments", safe="")
    views = [
        ("01-groups", "#/", None),
        ("02-streams", f"#/streams?group={g}", None),
        (
            "03-events-merged",
            f"#/events?group={g}&group={quote('/aws/lambda/orders', safe='')}&range=1h",
            ".vl .row.lvl-error",
        ),
        (
            "04-event-json",
            f"#/events?group={quote('/aws/lambda/orders', safe='')}&range=1h",
            ".vl .row.lvl-info",
        ),
        ("05-search", "#/search?q=CardDeclined&range=1d", None),
        ("06-search-error", f"#/search?q={quote('{ $.level = ')}&range=1d", None),
        ("07-invocations", "#/invocations?function=payments", None),
        ("08-trace", "#/trace?requestId=7f3c2a10-async-demo", ".trace-attempt .expander"),
    ]
    written = []
    with sync_playwright() as p:
        browser = launch(p)
        for scheme in ("light", "dark"):
            ctx = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
            page = ctx.new_page()
            for name, fragment, click in views:
                page.goto(f"{url}/{fragment}")
                page.wait_for_load_state(
                    "networkidle"
                ) if "events" not in fragment else page.wait_for_timeout(800)
                page.wait_for_timeout(400)
                if click and page.locator(click).count():
                    page.locator(click).last.click()
                    page.wait_for_timeout(400)
                target = out / f"{name}-{scheme}.png"
                page.screenshot(path=str(target))
                written.append(target)
            page.goto(f"{url}/#/")
            page.wait_for_timeout(300)
            page.keyboard.press("?")
            page.wait_for_timeout(200)
            target = out / f"09-help-{scheme}.png"
            page.screenshot(path=str(target))
            written.append(target)
            ctx.close()
        browser.close()
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "screenshots")
    ap.add_argument("--url", help="use a running server (with --data-dir, which gets seeded)")
    ap.add_argument("--data-dir", type=Path)
    args = ap.parse_args()
    if args.url:
        if not args.data_dir:
            ap.error("--url needs --data-dir")
        seed(args.data_dir)
        time.sleep(2)
        files = shoot(args.url.rstrip("/"), args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp, Server(Path(tmp)) as server:
            seed(Path(tmp))
            time.sleep(2)  # let the ingester catch up
            files = shoot(server.url, args.out)
    for f in files:
        print(f)


if __name__ == "__main__":
    main()
