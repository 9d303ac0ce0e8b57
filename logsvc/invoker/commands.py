"""CLI commands for simulated functions: `invoke`, `functions` and `table`.

Owns argument parsing and printing only. Every command talks to a running server (`--url` /
LOGSVC_URL) through the same public HTTP API boto3 and the console use, and raises LogsvcError
for the CLI shell to print. Never builds an invoker or reads the data directory.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from logsvc.errors import InvalidParameter, LogsvcError, NotFound


def _settings(ctx: click.Context) -> Any:
    from logsvc.config import resolve

    obj = ctx.find_root().obj or {}
    return resolve(
        {k: v for k, v in obj.items() if k in ("url", "token", "data_dir") and v is not None}
    )


def _call(
    ctx: click.Context,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 960.0,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to the server; errors in either shape (REST or Lambda) become LogsvcErrors."""
    from logsvc.client import ConnectionFailed

    s = _settings(ctx)
    url = s.url.rstrip("/") + path
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if s.token:
        req.add_header("Authorization", f"Bearer {s.token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        raise _error(e) from None
    except (urllib.error.URLError, OSError) as e:
        raise ConnectionFailed(
            f"cannot reach logsvc at {s.url} ({getattr(e, 'reason', e)})",
            hint="Start it with 'logsvc serve --project logsvc.toml', or point --url / LOGSVC_URL at it.",
        ) from None


def _error(e: urllib.error.HTTPError) -> LogsvcError:
    raw = e.read()
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = {}
    if isinstance(doc.get("error"), dict):
        message, field = doc["error"].get("message", str(e)), doc["error"].get("field")
    else:
        message, field = doc.get("message") or f"HTTP {e.code} {e.reason}", None
    if e.code == 404:
        return NotFound(message, field=field, hint="Run 'logsvc functions' to list functions.")
    if 400 <= e.code < 500:
        return InvalidParameter(message, field=field)
    return LogsvcError(message, field=field)


def _payload(text: str | None) -> bytes:
    if text is None:
        return b"{}"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            data = sys.stdin.buffer.read() if text == "@-" else path.read_bytes()
        except OSError as e:
            raise InvalidParameter(
                f"cannot read payload file {path}: {e.strerror}", field="payload"
            ) from None
    else:
        data = text.encode()
    try:
        json.loads(data)
    except ValueError as e:
        raise InvalidParameter(
            f"payload is not valid JSON: {e}",
            field="payload",
            rule="JSON",
            hint="Quote it for the shell: --payload '{\"key\": 1}', or use --payload @file.json",
        ) from None
    return data


@click.command()
@click.argument("name")
@click.option("--payload", "-p", help="JSON event, or @file (@- for stdin) [default: {}]")
@click.option(
    "--async", "is_async", is_flag=True, help="Invocation type Event: queue it and return at once"
)
@click.option("--tail", is_flag=True, help="Print the invocation's log (last 4 KB) to stderr")
@click.pass_context
def invoke(ctx: click.Context, name: str, payload: str | None, is_async: bool, tail: bool) -> None:
    """Invoke function NAME through the server's Lambda Invoke API and print its result.

    Exits 1 when the function fails (its error object is still printed).
    """
    headers = {
        "X-Amz-Invocation-Type": "Event" if is_async else "RequestResponse",
        "Content-Type": "application/json",
    }
    if tail and not is_async:
        headers["X-Amz-Log-Type"] = "Tail"
    quoted = urllib.parse.quote(name, safe="")
    status, resp_headers, body = _call(
        ctx, "POST", f"/2015-03-31/functions/{quoted}/invocations", _payload(payload), headers
    )
    if is_async:
        click.echo(f"queued: RequestId {resp_headers.get('x-amzn-requestid', '?')}")
        return
    if tail and "x-amz-log-result" in resp_headers:
        click.echo(
            base64.b64decode(resp_headers["x-amz-log-result"]).decode("utf-8", "replace"),
            err=True,
            nl=False,
        )
    click.echo(body.decode("utf-8", "replace"))
    if resp_headers.get("x-amz-function-error"):
        ctx.exit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON")
@click.pass_context
def functions(ctx: click.Context, as_json: bool) -> None:
    """List the functions of the server's project, with their triggers and containers."""
    _, _, body = _call(ctx, "GET", "/api/v1/functions", timeout=30)
    doc = json.loads(body)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    rows = []
    for f in doc["functions"]:
        triggers = list(f["routes"])
        triggers += [f"bucket {b['bucket']}/{b['prefix']}*{b['suffix']}" for b in f["buckets"]]
        triggers += [f"table {t['table']} (batch {t['batchSize']})" for t in f["tables"]]
        c = f.get("containers") or {}
        rows.append(
            (
                f["name"],
                f["handler"],
                f"{f['memory']} MB",
                f"{f['timeout']:g} s",
                f"{c.get('busy', 0)}/{c.get('idle', 0)}",
                ", ".join(triggers) or "-",
            )
        )
    if not rows:
        click.echo("no functions (start the server with --project logsvc.toml)", err=True)
        return
    head = ("NAME", "HANDLER", "MEMORY", "TIMEOUT", "BUSY/IDLE", "TRIGGERS")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


@click.group()
def table() -> None:
    """Write to and read the project's local tables (their changes feed table-stream triggers)."""


def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise InvalidParameter(f"{what} is not valid JSON: {e}", field=what, rule="JSON") from None


def _items_path(name: str) -> str:
    return f"/api/v1/tables/{urllib.parse.quote(name, safe='')}/items"


@table.command("put")
@click.argument("name")
@click.argument("items", nargs=-1, required=True)
@click.pass_context
def table_put(ctx: click.Context, name: str, items: tuple[str, ...]) -> None:
    """Put ITEMS (JSON objects) into table NAME in one batch, in order."""
    docs = [_json_arg(i, "item") for i in items]
    _, _, body = _call(
        ctx,
        "POST",
        _items_path(name),
        json.dumps({"items": docs}).encode(),
        {"Content-Type": "application/json"},
    )
    click.echo(f"written: {json.loads(body)['written']}")


@table.command("update")
@click.argument("name")
@click.option("--key", required=True, help="The item's key as JSON")
@click.option("--set", "set_", help="Attributes to set, as a JSON object")
@click.option("--remove", multiple=True, help="Attribute to remove (repeatable)")
@click.pass_context
def table_update(
    ctx: click.Context, name: str, key: str, set_: str | None, remove: tuple[str, ...]
) -> None:
    """Update one item of table NAME (created when missing)."""
    doc = {
        "key": _json_arg(key, "key"),
        "set": _json_arg(set_, "set") if set_ else {},
        "remove": list(remove),
    }
    _, _, body = _call(
        ctx,
        "PATCH",
        _items_path(name),
        json.dumps(doc).encode(),
        {"Content-Type": "application/json"},
    )
    click.echo(json.dumps(json.loads(body)["item"]))


@table.command("delete")
@click.argument("name")
@click.argument("key")
@click.pass_context
def table_delete(ctx: click.Context, name: str, key: str) -> None:
    """Delete the item with KEY (JSON) from table NAME."""
    doc = {"key": _json_arg(key, "key")}
    _, _, body = _call(
        ctx,
        "DELETE",
        _items_path(name),
        json.dumps(doc).encode(),
        {"Content-Type": "application/json"},
    )
    click.echo("deleted" if json.loads(body)["deleted"] else "no such item")


@table.command("scan")
@click.argument("name")
@click.pass_context
def table_scan(ctx: click.Context, name: str) -> None:
    """Print every item of table NAME as JSON lines."""
    _, _, body = _call(ctx, "GET", _items_path(name), timeout=30)
    for item in json.loads(body)["items"]:
        click.echo(json.dumps(item))
