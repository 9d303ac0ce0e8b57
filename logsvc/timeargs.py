"""Time and yes/no arguments as users type them on every surface: REST query strings, Insights'
`start`/`end`, the Lambda emulation's record filters and the CLI's `--since`/`--until` (which pass
their text through to the server, so one parser decides).

Why one module: three parsers had drifted (one took ages like `15m`, one did not; one read ISO with
the log-line timestamp parser, which also accepts syslog forms no one types in a URL). Pure: no
Flask, no clock unless `now_ms` is left out.

    epoch ms      1733130000000
    ISO-8601      2026-12-02T10:00:00Z, 2026-12-02 10:00:00.250+01:00, 2026-12-02 (no zone = UTC)
    age           30s, 15m, 2h, 1d, 1w — that long before now
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from logsvc.errors import InvalidParameter

MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
_AGE_UNITS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


def _digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also says yes to "¹" and "²", which int() refuses."""
    return text.isascii() and text.isdigit()


def parse_time(raw: str, field: str, *, now_ms: int | None = None) -> int:
    """Epoch milliseconds from any form above; InvalidParameter naming `field` otherwise."""
    text = raw.strip()
    if text[-1:] in _AGE_UNITS and _digits(text[:-1]):
        now = int(time.time() * 1000) if now_ms is None else now_ms
        value = now - int(text[:-1]) * _AGE_UNITS[text[-1]]
    elif _digits(text) or (text[:1] == "-" and _digits(text[1:])):
        value = int(text)
    else:
        value = _iso_ms(text, field)
    if not 0 <= value <= MAX_MS:
        raise InvalidParameter(f"{field} is out of range", field=field, rule=f"0..{MAX_MS}")
    return value


def _iso_ms(text: str, field: str) -> int:
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" and text else text)
    except ValueError:
        raise InvalidParameter(
            f"{field} must be epoch milliseconds, an ISO-8601 time, or an age such as 15m, 2h, 1d",
            field=field,
            rule="epoch ms | ISO-8601 | <n>[smhdw]",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def parse_bool(raw: str | None, field: str, default: bool, *, empty_ok: bool = True) -> bool:
    """true/false, 1/0, yes/no (any case); absent is `default`, and so is empty unless `empty_ok` is False."""
    if raw is None or (raw == "" and empty_ok):
        return default
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidParameter(f"{field} must be true or false", field=field, rule="true|false")
