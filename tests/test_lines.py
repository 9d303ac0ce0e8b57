"""lines.py: every format's own samples, then tables for timestamps, parsing and splitting, then properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logsvc import lines
from logsvc.errors import InvalidParameter
from logsvc.lines import (
    FORMATS,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    ParsedEvent,
    RawEvent,
    detect_format,
    format_line,
    format_timestamp,
    parse_event,
    parse_timestamp,
    split_events,
)

RID = "1e5c8abd-3d36-461b-8c0f-a56b952715b3"
FORMAT = {fmt.name: fmt for fmt in FORMATS}


def ms(iso: str) -> int:
    """Epoch ms by the standard library, independent of lines.py."""
    return int(datetime.fromisoformat(iso).astimezone(UTC).timestamp() * 1000 + 0.5)


# ---- every format carries samples, and every sample parses with its own format (lnav) ---------


def test_format_names_are_unique_and_every_format_has_samples() -> None:
    assert len(FORMAT) == len(FORMATS)
    assert all(fmt.samples for fmt in FORMATS), [fmt.name for fmt in FORMATS if not fmt.samples]


@pytest.mark.parametrize(
    ("name", "sample"),
    [(fmt.name, sample) for fmt in FORMATS for sample in fmt.samples],
)
def test_sample_parses_with_its_own_format(name: str, sample: str) -> None:
    fmt = detect_format(sample)
    assert fmt is not None, f"format {name!r}: sample matches no format: {sample!r}"
    assert fmt.name == name, f"format {name!r}: sample is read as {fmt.name!r}: {sample!r}"
    parsed = parse_event(sample)
    assert parsed.fields or parsed.timestamp is not None


def test_plain_text_has_no_format() -> None:
    assert detect_format("Start to sleep 4s...") is None
    assert detect_format("") is None


# ---- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T21:46:35Z", ms("2026-11-27T21:46:35+00:00")),
        ("2026-11-27T21:46:35.123Z", ms("2026-11-27T21:46:35.123+00:00")),
        ("2026-11-27T21:46:35.123456Z", ms("2026-11-27T21:46:35.123+00:00")),
        ("2026-11-27T21:46:35.1Z", ms("2026-11-27T21:46:35.100+00:00")),
        ("2026-11-27T22:46:35.123+01:00", ms("2026-11-27T21:46:35.123+00:00")),
        ("2026-11-27T22:46:35.123+0100", ms("2026-11-27T21:46:35.123+00:00")),
        ("2026-11-27T16:16:35-05:30", ms("2026-11-27T21:46:35+00:00")),
        ("2026-11-28T00:16:35.5+02:30", ms("2026-11-27T21:46:35.500+00:00")),
        ("2026-11-27 21:46:35.123Z", ms("2026-11-27T21:46:35.123+00:00")),
        (
            "2026-11-27 21:46:35,123",
            ms("2026-11-27T21:46:35.123+00:00"),
        ),  # Python asctime, naive = UTC
        ("2026-11-27T21:46:35", ms("2026-11-27T21:46:35+00:00")),
        ("1970-01-01T00:00:00Z", 0),
        ("9999-12-31T23:59:59.999Z", MAX_TIMESTAMP_MS),
        ("2024-02-29T00:00:00Z", ms("2024-02-29T00:00:00+00:00")),
        ("1764279995123", 1764279995123),
        # not timestamps
        ("1234", None),
        ("12345678901234", None),  # 14 digits
        ("1969-12-31T23:59:59Z", None),  # before 1970
        ("1970-01-01T00:30:00+01:00", None),  # before 1970 once in UTC
        ("9999-12-31T23:59:59-01:00", None),  # after 9999 once in UTC
        ("0000-01-01T00:00:00Z", None),
        ("2026-13-01T00:00:00Z", None),
        ("2025-02-29T00:00:00Z", None),
        ("2026-11-27T24:00:00Z", None),
        ("2026-11-27T21:46:35+25:00", None),
        ("2026-11-27T21:46:35Zulu", None),
        ("2026-11-27T21:46:35.123Z ", None),  # parse_timestamp wants the whole string
        ("٢٠٢٦-11-27T21:46:35Z", None),  # non-ASCII digits
        ("2026-11-27T21:46:٣٥Z", None),  # non-ASCII digits in the seconds of a known day
        ("2026-11-27T21:4x:35Z", None),
        ("2026-11-27T21:46:35Z", ms("2026-11-27T21:46:35+00:00")),  # the day is cached by now
        ("2026-11-27", None),
        ("", None),
    ],
)
def test_parse_timestamp(text: str, expected: int | None) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (ms("2026-11-27T21:46:35.123+00:00"), "2026-11-27T21:46:35.123Z"),
        (ms("2026-11-27T21:46:35+00:00"), "2026-11-27T21:46:35.000Z"),
        (MAX_TIMESTAMP_MS, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_format_timestamp(timestamp: int, expected: str) -> None:
    assert format_timestamp(timestamp) == expected
    assert parse_timestamp(expected) == timestamp


@pytest.mark.parametrize("bad", [-1, MAX_TIMESTAMP_MS + 1, 1.5, True, "0"])
def test_format_timestamp_refuses_what_it_cannot_store(bad: object) -> None:
    with pytest.raises(InvalidParameter) as info:
        format_timestamp(bad)  # type: ignore[arg-type]
    assert info.value.field == "timestamp"
    assert "1970..9999" in info.value.rule


# ---- parse_event: (text, timestamp, message, fields) --------------------------------------

T = ms("2026-11-27T21:46:35.123+00:00")
TS = "2026-11-27T21:46:35.123Z"
DEEP_JSON = '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"  # json.loads raises RecursionError

PARSE_CASES = [
    # leading timestamp + one SPACE: cut from the message
    ("format_line output", f"{TS} order 42 shipped", T, "order 42 shipped", {}),
    ("seconds only", "2026-11-27T21:46:35Z hi", T - 123, "hi", {}),
    ("microseconds", "2026-11-27T21:46:35.123456Z hi", T, "hi", {}),
    ("offset +01:00", "2026-11-27T22:46:35.123+01:00 hi", T, "hi", {}),
    ("offset +0100", "2026-11-27T22:46:35.123+0100 hi", T, "hi", {}),
    ("space for T", "2026-11-27 21:46:35.123Z hi", T, "hi", {}),
    ("epoch ms", "1795815995123 hi", 1795815995123, "hi", {}),
    ("only one space is cut", f"{TS}   indented", T, "  indented", {}),
    ("empty message", f"{TS} ", T, "", {}),
    (
        "message starting with a timestamp",
        f"{TS} 2001-01-01T00:00:00Z old",
        T,
        "2001-01-01T00:00:00Z old",
        {},
    ),
    ("timestamp alone stays", "2026-11-27T21:46:35.123Z", T, "2026-11-27T21:46:35.123Z", {}),
    ("timestamp + TAB stays verbatim", f"{TS}\tsomething", T, f"{TS}\tsomething", {}),
    (
        "python asctime then level",
        "2026-11-27 21:46:35,123 INFO worker started",
        T,
        "INFO worker started",
        {"level": "INFO"},
    ),
    # not timestamps
    ("digits are not a timestamp", "1234 items", None, "1234 items", {}),
    ("a year is not a timestamp", "2026 was a good year", None, "2026 was a good year", {}),
    (
        "before 1970 ignored",
        "1969-07-20T20:17:40Z landing",
        None,
        "1969-07-20T20:17:40Z landing",
        {},
    ),
    ("14 digits ignored", "17958159951230 x", None, "17958159951230 x", {}),
    ("plain", "Start to sleep 4s...", None, "Start to sleep 4s...", {}),
    ("empty", "", None, "", {}),
    # Lambda platform lines (reference 2.1)
    (
        "START",
        f"START RequestId: {RID} Version: $LATEST",
        None,
        f"START RequestId: {RID} Version: $LATEST",
        {"type": "START", "requestId": RID, "version": "$LATEST"},
    ),
    (
        "START via format_line",
        f"{TS} START RequestId: {RID} Version: 5",
        T,
        f"START RequestId: {RID} Version: 5",
        {"type": "START", "requestId": RID, "version": "5"},
    ),
    (
        "END",
        f"END RequestId: {RID}",
        None,
        f"END RequestId: {RID}",
        {"type": "END", "requestId": RID},
    ),
    (
        "REPORT cold timeout",
        f"REPORT RequestId: {RID}\tDuration: 3000.00 ms\tBilled Duration: 3068 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB\tInit Duration: 67.49 ms\tStatus: timeout",
        None,
        f"REPORT RequestId: {RID}\tDuration: 3000.00 ms\tBilled Duration: 3068 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB\tInit Duration: 67.49 ms\tStatus: timeout",
        {
            "type": "REPORT",
            "requestId": RID,
            "duration": 3000.0,
            "billedDuration": 3068,
            "memorySize": 128,
            "maxMemoryUsed": 35,
            "initDuration": 67.49,
            "status": "timeout",
        },
    ),
    (
        "REPORT warm, trailing TAB",
        f"REPORT RequestId: {RID}\tDuration: 2.31 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 109 MB\t",
        None,
        f"REPORT RequestId: {RID}\tDuration: 2.31 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 109 MB\t",
        {
            "type": "REPORT",
            "requestId": RID,
            "duration": 2.31,
            "billedDuration": 3,
            "memorySize": 128,
            "maxMemoryUsed": 109,
        },
    ),
    (
        "REPORT out of memory",
        f"REPORT RequestId: {RID}\tDuration: 812.43 ms\tBilled Duration: 813 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory",
        None,
        f"REPORT RequestId: {RID}\tDuration: 812.43 ms\tBilled Duration: 813 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory",
        {
            "type": "REPORT",
            "requestId": RID,
            "duration": 812.43,
            "billedDuration": 813,
            "memorySize": 128,
            "maxMemoryUsed": 128,
            "status": "error",
            "errorType": "Runtime.OutOfMemory",
        },
    ),
    (
        "REPORT as docs render it (spaces)",
        f"REPORT RequestId: {RID}  Duration: 718.65 ms Billed Duration: 800 ms Memory Size: 128 MB Max Memory Used: 56 MB",
        None,
        f"REPORT RequestId: {RID}  Duration: 718.65 ms Billed Duration: 800 ms Memory Size: 128 MB Max Memory Used: 56 MB",
        {
            "type": "REPORT",
            "requestId": RID,
            "duration": 718.65,
            "billedDuration": 800,
            "memorySize": 128,
            "maxMemoryUsed": 56,
        },
    ),
    (
        "INIT_START",
        "INIT_START Runtime Version: python:3.13.v60\tRuntime Version ARN: arn:aws:lambda:ap-east-2::runtime:6b9e…99ca",
        None,
        "INIT_START Runtime Version: python:3.13.v60\tRuntime Version ARN: arn:aws:lambda:ap-east-2::runtime:6b9e…99ca",
        {"type": "INIT_START", "runtimeVersion": "python:3.13.v60"},
    ),
    (
        "INIT_REPORT",
        "INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: timeout",
        None,
        "INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: timeout",
        {"type": "INIT_REPORT", "initDuration": 1236.04, "status": "timeout"},
    ),
    (
        "runtime crash",
        f"RequestId: {RID} Error: Runtime exited with error: signal: killed\nRuntime.ExitError",
        None,
        f"RequestId: {RID} Error: Runtime exited with error: signal: killed\nRuntime.ExitError",
        {"requestId": RID},
    ),
    (
        "task timed out (2016-2023)",
        f"2023-10-20T16:28:17.840Z {RID} Task timed out after 31.01 seconds",
        ms("2023-10-20T16:28:17.840+00:00"),
        f"{RID} Task timed out after 31.01 seconds",
        {"requestId": RID},
    ),
    # Python runtime (2.2): time from the second field, message verbatim
    (
        "python runtime",
        f"[INFO]\t2020-01-31T22:12:58.534Z\t{RID}\t## EVENT",
        ms("2020-01-31T22:12:58.534+00:00"),
        f"[INFO]\t2020-01-31T22:12:58.534Z\t{RID}\t## EVENT",
        {"level": "INFO", "requestId": RID},
    ),
    (
        "python runtime, init phase (no request id)",
        "[WARNING]\t2020-01-31T22:12:58.534Z\t\tLAMBDA_WARNING: Unhandled exception.",
        ms("2020-01-31T22:12:58.534+00:00"),
        "[WARNING]\t2020-01-31T22:12:58.534Z\t\tLAMBDA_WARNING: Unhandled exception.",
        {"level": "WARNING"},
    ),
    (
        "python runtime behind format_line keeps the outer time",
        f"{TS} [ERROR]\t2020-01-31T22:12:58.534Z\t{RID}\tboom",
        T,
        f"[ERROR]\t2020-01-31T22:12:58.534Z\t{RID}\tboom",
        {"level": "ERROR", "requestId": RID},
    ),
    (
        "python uncaught on stdout",
        "[ERROR] KeyError: 'amount'\nTraceback (most recent call last):\n\u00a0\u00a0File \"/var/task/app.py\", line 3, in handler",
        None,
        "[ERROR] KeyError: 'amount'\nTraceback (most recent call last):\n\u00a0\u00a0File \"/var/task/app.py\", line 3, in handler",
        {"level": "ERROR"},
    ),
    # Node runtime (2.3): leading time + TAB, message verbatim
    (
        "node runtime",
        f'2019-06-05T19:30:03.173Z\t{RID}\tINFO\tEVENT\n{{\n  "key": "value"\n}}',
        ms("2019-06-05T19:30:03.173+00:00"),
        f'2019-06-05T19:30:03.173Z\t{RID}\tINFO\tEVENT\n{{\n  "key": "value"\n}}',
        {"level": "INFO", "requestId": RID},
    ),
    (
        "node runtime, init phase",
        "2019-06-05T19:30:03.173Z\tundefined\tWARN\tno config",
        ms("2019-06-05T19:30:03.173+00:00"),
        "2019-06-05T19:30:03.173Z\tundefined\tWARN\tno config",
        {"level": "WARN"},
    ),
    (
        "node runtime behind format_line",
        f"{TS} 2019-06-05T19:30:03.173Z\t{RID}\tERROR\tInvoke Error \t{{}}",
        T,
        f"2019-06-05T19:30:03.173Z\t{RID}\tERROR\tInvoke Error \t{{}}",
        {"level": "ERROR", "requestId": RID},
    ),
    # JSON lines (2.4)
    (
        "json python app log",
        f'{{"timestamp": "2024-01-01T12:00:00Z", "level": "INFO", "message": "hi", "logger": "root", "requestId": "{RID}"}}',
        ms("2024-01-01T12:00:00+00:00"),
        f'{{"timestamp": "2024-01-01T12:00:00Z", "level": "INFO", "message": "hi", "logger": "root", "requestId": "{RID}"}}',
        {"json": True, "level": "INFO", "requestId": RID},
    ),
    (
        "json python uncaught (log_level, errorType)",
        f'{{"timestamp": "2024-01-01T12:00:00Z", "log_level": "ERROR", "errorMessage": "x", "errorType": "KeyError", "requestId": "{RID}", "stackTrace": []}}',
        ms("2024-01-01T12:00:00+00:00"),
        f'{{"timestamp": "2024-01-01T12:00:00Z", "log_level": "ERROR", "errorMessage": "x", "errorType": "KeyError", "requestId": "{RID}", "stackTrace": []}}',
        {"json": True, "level": "ERROR", "requestId": RID, "errorType": "KeyError"},
    ),
    (
        "json nested objects, epoch-ms time, lower-case severity",
        '{"time": 1795815995123, "severity": "warning", "request_id": "r-1", "order": {"id": 7, "items": [{"sku": "a"}, {"sku": "b"}]}}',
        1795815995123,
        '{"time": 1795815995123, "severity": "warning", "request_id": "r-1", "order": {"id": 7, "items": [{"sku": "a"}, {"sku": "b"}]}}',
        {"json": True, "level": "WARNING", "requestId": "r-1"},
    ),
    (
        "json @timestamp with offset, levelname, awsRequestId",
        '{"@timestamp": "2026-11-27T22:46:35.123+01:00", "levelname": "debug", "awsRequestId": "a-1"}',
        T,
        '{"@timestamp": "2026-11-27T22:46:35.123+01:00", "levelname": "debug", "awsRequestId": "a-1"}',
        {"json": True, "level": "DEBUG", "requestId": "a-1"},
    ),
    (
        "json implausible time ignored",
        '{"time": -5, "msg": "x"}',
        None,
        '{"time": -5, "msg": "x"}',
        {"json": True},
    ),
    ("json bool time ignored", '{"time": true}', None, '{"time": true}', {"json": True}),
    (
        "json behind format_line keeps the outer time",
        f'{TS} {{"timestamp": "2001-01-01T00:00:00Z", "level": "info"}}',
        T,
        '{"timestamp": "2001-01-01T00:00:00Z", "level": "info"}',
        {"json": True, "level": "INFO"},
    ),
    (
        "json platform.report",
        '{"time":"2024-05-20T16:29:45.012Z","type":"platform.report","record":{"requestId":"r-9","status":"success","metrics":{"durationMs":11.642,"billedDurationMs":12,"memorySizeMB":128,"maxMemoryUsedMB":67,"initDurationMs":174.055}}}',
        ms("2024-05-20T16:29:45.012+00:00"),
        '{"time":"2024-05-20T16:29:45.012Z","type":"platform.report","record":{"requestId":"r-9","status":"success","metrics":{"durationMs":11.642,"billedDurationMs":12,"memorySizeMB":128,"maxMemoryUsedMB":67,"initDurationMs":174.055}}}',
        {
            "json": True,
            "type": "REPORT",
            "requestId": "r-9",
            "duration": 11.642,
            "billedDuration": 12,
            "memorySize": 128,
            "maxMemoryUsed": 67,
            "initDuration": 174.055,
        },
    ),
    (
        "json platform.report timeout",
        '{"time":"2024-05-20T16:29:45.012Z","type":"platform.report","record":{"requestId":"r-9","status":"timeout","errorType":"Sandbox.Timedout","metrics":{"durationMs":3000.0}}}',
        ms("2024-05-20T16:29:45.012+00:00"),
        '{"time":"2024-05-20T16:29:45.012Z","type":"platform.report","record":{"requestId":"r-9","status":"timeout","errorType":"Sandbox.Timedout","metrics":{"durationMs":3000.0}}}',
        {
            "json": True,
            "type": "REPORT",
            "requestId": "r-9",
            "errorType": "Sandbox.Timedout",
            "status": "timeout",
            "duration": 3000.0,
        },
    ),
    ("not json after all", "{oops: 1}", None, "{oops: 1}", {}),
    ("json array is not a json line", "[1, 2]", None, "[1, 2]", {}),
    ("deeply nested json is not an error", DEEP_JSON, None, DEEP_JSON, {}),
    # level words at message start
    ("ERROR word", "ERROR something broke", None, "ERROR something broke", {"level": "ERROR"}),
    (
        "basicConfig WARNING:root",
        "WARNING:root:disk almost full",
        None,
        "WARNING:root:disk almost full",
        {"level": "WARNING"},
    ),
    ("[ERROR] alone", "[ERROR]", None, "[ERROR]", {"level": "ERROR"}),
    ("[WARN] bracketed", "[WARN] slow", None, "[WARN] slow", {"level": "WARN"}),
    ("CRITICAL", "CRITICAL - db down", None, "CRITICAL - db down", {"level": "CRITICAL"}),
    ("a longer word is not a level", "INFORMATION follows", None, "INFORMATION follows", {}),
    ("ERRORS is not a level", "ERRORS: 0", None, "ERRORS: 0", {}),
    ("lower case is not a level", "error: nope", None, "error: nope", {}),
    (
        "Traceback is not TRACE",
        "Traceback (most recent call last):",
        None,
        "Traceback (most recent call last):",
        {},
    ),
]


@pytest.mark.parametrize(
    ("text", "timestamp", "message", "fields"),
    [case[1:] for case in PARSE_CASES],
    ids=[case[0] for case in PARSE_CASES],
)
def test_parse_event(
    text: str, timestamp: int | None, message: str, fields: dict[str, object]
) -> None:
    assert parse_event(text) == ParsedEvent(timestamp, message, fields)


# ---- split_events: (data, flush, event texts, consumed) -----------------------------------

TB = (
    "Traceback (most recent call last):\n"
    '  File "/var/task/lambda_function.py", line 36, in lambda_handler\n'
    "    result = charge(event)\n"
    "KeyError: 'amount'"
)
CHAINED = (
    "Traceback (most recent call last):\n"
    '  File "/var/task/app.py", line 2, in handler\n'
    "    return d['a']\n"
    "KeyError: 'a'\n"
    "\n"
    "During handling of the above exception, another exception occurred:\n"
    "\n"
    "Traceback (most recent call last):\n"
    '  File "/var/task/app.py", line 4, in handler\n'
    "    raise ValueError('bad')\n"
    "ValueError: bad"
)
CAUSED = CHAINED.replace(
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
PY_ERROR = f"[ERROR]\t2026-11-27T21:46:35.123Z\t{RID}\tcharge failed"
START = f"START RequestId: {RID} Version: $LATEST"
END = f"END RequestId: {RID}"
REPORT = f"REPORT RequestId: {RID}\tDuration: 2.31 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 109 MB\t"


def lines_of(*texts: str) -> bytes:
    return "".join(t + "\n" for t in texts).encode()


SPLIT_CASES = [
    ("one event per line", b"a\nb\n", False, ["a", "b"], 4),
    ("empty data", b"", False, [], 0),
    ("no complete line", b"abc", True, [], 0),
    ("partial last line never consumed", b"a\nb", False, ["a"], 2),
    ("partial last line not even on flush", b"a\nb", True, ["a"], 2),
    ("CRLF is a line end", b"a\r\nb\r\n", False, ["a", "b"], 6),
    ("CR inside a line is a break in the event", b"a\rb\rc\n", False, ["a\nb\nc"], 6),
    ("CR before CRLF keeps one break", b"a\r\r\n", False, ["a\n"], 4),
    ("bare CR line is blank", b"\r\n", False, [""], 2),
    (
        "python uncaught on stdout: one \\r-joined line",
        b"[ERROR] ErrorType: Error message\rTraceback (most recent call last):\rline1\r\rline2\n",
        False,
        ["[ERROR] ErrorType: Error message\nTraceback (most recent call last):\nline1\n\nline2"],
        None,
    ),
    (
        "node console.log with \\r",
        b'2019-06-05T19:30:03.173Z\t4ce9340a-b765-490f-ad8a-02ab3415e2bf\tINFO\tEVENT\r{\r  "key": "value"\r}\n',
        False,
        [
            '2019-06-05T19:30:03.173Z\t4ce9340a-b765-490f-ad8a-02ab3415e2bf\tINFO\tEVENT\n{\n  "key": "value"\n}'
        ],
        None,
    ),
    (
        "invalid UTF-8 replaced, not dropped",
        b"bad \xff\xfe end\nok\n",
        False,
        ["bad \ufffd\ufffd end", "ok"],
        None,
    ),
    ("truncated UTF-8 sequence replaced", b"caf\xc3\n", False, ["caf\ufffd"], None),
    ("NUL bytes kept", b"a\x00b\n\x00\n", False, ["a\x00b", "\x00"], None),
    ("blank lines are events", b"a\n\nb\n", False, ["a", "", "b"], None),
    ("indented lines continue", b"a\n  b\n\tc\nd\n", False, ["a\n  b\n\tc", "d"], None),
    ("indented first line has nothing to join", b"  a\nb\n", False, ["  a", "b"], None),
    (
        "logging.exception: traceback joins its message line",
        lines_of(PY_ERROR, *TB.split("\n"), "next"),
        False,
        [PY_ERROR + "\n" + TB, "next"],
        None,
    ),
    (
        "bare uncaught traceback at the start",
        lines_of(*TB.split("\n"), "next"),
        False,
        [TB, "next"],
        None,
    ),
    (
        "bare uncaught traceback after a print",
        lines_of("loading", *TB.split("\n")),
        False,
        ["loading\n" + TB],
        None,
    ),
    (
        "traceback after START starts a new event",
        lines_of(START, *TB.split("\n"), END),
        False,
        [START, TB, END],
        None,
    ),
    (
        "traceback after a format_line START starts a new event",
        lines_of(f"{TS} {START}", *TB.split("\n")),
        False,
        [f"{TS} {START}", TB],
        None,
    ),
    (
        "traceback after REPORT starts a new event",
        lines_of(REPORT, *TB.split("\n")),
        False,
        [REPORT, TB],
        None,
    ),
    (
        "chained traceback is one event",
        lines_of("boom", *CHAINED.split("\n"), END),
        False,
        ["boom\n" + CHAINED, END],
        None,
    ),
    (
        "direct-cause traceback is one event",
        lines_of("boom", *CAUSED.split("\n"), END),
        False,
        ["boom\n" + CAUSED, END],
        None,
    ),
    (
        "blank line after a closed traceback is its own event",
        lines_of(*TB.split("\n"), "", "next"),
        False,
        [TB, "", "next"],
        None,
    ),
    (
        "syntax error traceback with caret",
        lines_of(
            "Traceback (most recent call last):",
            '  File "app.py", line 1',
            "    foo(",
            "       ^",
            "SyntaxError: '(' was never closed",
            "x",
        ),
        False,
        [
            "Traceback (most recent call last):\n  File \"app.py\", line 1\n    foo(\n       ^\nSyntaxError: '(' was never closed",
            "x",
        ],
        None,
    ),
    (
        "bare exception name closes a traceback",
        lines_of(
            "Traceback (most recent call last):",
            '  File "app.py", line 9, in <module>',
            "KeyboardInterrupt",
            "bye",
        ),
        False,
        [
            'Traceback (most recent call last):\n  File "app.py", line 9, in <module>\nKeyboardInterrupt',
            "bye",
        ],
        None,
    ),
    (
        "Lambda NO-BREAK SPACE frames continue",
        lines_of(
            "[ERROR] KeyError: 'amount'",
            "Traceback (most recent call last):",
            '\u00a0\u00a0File "/var/task/app.py", line 3, in handler',
            "\u00a0\u00a0\u00a0\u00a0return d['amount']",
            END,
        ),
        False,
        [
            "[ERROR] KeyError: 'amount'\nTraceback (most recent call last):\n\u00a0\u00a0File \"/var/task/app.py\", line 3, in handler\n\u00a0\u00a0\u00a0\u00a0return d['amount']",
            END,
        ],
        None,
    ),
    (
        "java stack trace",
        lines_of(
            'Exception in thread "main" java.lang.IllegalStateException: boom',
            "\tat com.example.App.main(App.java:5)",
            "Caused by: java.io.IOException: disk",
            "\tat com.example.Io.read(Io.java:9)",
            "\t... 1 more",
            "next",
        ),
        False,
        [
            'Exception in thread "main" java.lang.IllegalStateException: boom\n\tat com.example.App.main(App.java:5)\n'
            "Caused by: java.io.IOException: disk\n\tat com.example.Io.read(Io.java:9)\n\t... 1 more",
            "next",
        ],
        None,
    ),
    ("Caused by with nothing before it", b"Caused by: x\n", False, ["Caused by: x"], None),
    (
        "pretty-printed JSON keeps its closing brace",
        lines_of("## EVENT", "{", '  "key": "value"', "}", "next"),
        False,
        ["## EVENT", '{\n  "key": "value"\n}', "next"],
        None,
    ),
    ("a lone brace is its own event", lines_of("a", "}"), False, ["a", "}"], None),
    (
        "X-Ray suffix belongs to its REPORT",
        lines_of(
            REPORT,
            "XRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5xmpl2d1f6f85\tSampled: false\t",
        ),
        False,
        [
            REPORT
            + "\nXRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5xmpl2d1f6f85\tSampled: false\t"
        ],
        None,
    ),
    (
        "Runtime.ExitError belongs to its crash line",
        lines_of(
            f"RequestId: {RID} Error: Runtime exited with error: signal: killed",
            "Runtime.ExitError",
            END,
        ),
        False,
        [
            f"RequestId: {RID} Error: Runtime exited with error: signal: killed\nRuntime.ExitError",
            END,
        ],
        None,
    ),
    # hold-back: the last event may still grow unless flush
    (
        "held: last line is a traceback header",
        lines_of("a", "boom", "Traceback (most recent call last):"),
        False,
        ["a"],
        2,
    ),
    (
        "flushed: header",
        lines_of("a", "boom", "Traceback (most recent call last):"),
        True,
        ["a", "boom\nTraceback (most recent call last):"],
        None,
    ),
    (
        "held: lone header with nothing before",
        lines_of("Traceback (most recent call last):"),
        False,
        [],
        0,
    ),
    ("held: inside the frames", lines_of("a", "boom", *TB.split("\n")[:3]), False, ["a"], 2),
    (
        "flushed: inside the frames",
        lines_of("a", "boom", *TB.split("\n")[:3]),
        True,
        ["a", "boom\n" + "\n".join(TB.split("\n")[:3])],
        None,
    ),
    (
        "held: after a chaining sentence",
        lines_of(END, *CHAINED.split("\n")[:7]),
        False,
        [END],
        len(END) + 1,
    ),
    ("returned: traceback closed", lines_of("boom", *TB.split("\n")), False, ["boom\n" + TB], None),
    (
        "held: closed traceback then blank (a chain may follow)",
        lines_of(END, *TB.split("\n"), ""),
        False,
        [END],
        len(END) + 1,
    ),
    (
        "flushed: closed traceback then blank",
        lines_of(END, *TB.split("\n"), ""),
        True,
        [END, TB, ""],
        None,
    ),
    ("returned: indented line outside a traceback", b"a\n  b\n", False, ["a\n  b"], None),
    ("held: partial line will continue (indented)", b"a\nb\n  par", False, ["a"], 2),
    ("held: partial line will continue (traceback header)", b"a\nb\nTraceb", False, ["a"], 2),
    ("returned: partial line starts a new event", b"a\nb\npar", False, ["a", "b"], 4),
    ("flushed: partial continuation still not consumed", b"a\nb\n  par", True, ["a", "b"], 4),
    # One rule for every way in (issue 15): a structured logger writes each JSON event whole, so a
    # traceback after one is an uncaught error of its own and must not make the JSON line unparsable.
    (
        "traceback after a JSON line is its own event",
        lines_of('{"level": "INFO", "msg": "hi"}', *TB.split("\n")),
        False,
        ['{"level": "INFO", "msg": "hi"}', TB],
        None,
    ),
    (
        "traceback after a timestamped JSON line is its own event",
        lines_of('2026-11-27T21:46:35.123Z {"level": "ERROR"}', *TB.split("\n")),
        False,
        ['2026-11-27T21:46:35.123Z {"level": "ERROR"}', TB],
        None,
    ),
    (
        "traceback after a text line still joins it (logging.exception)",
        lines_of("[ERROR] failed", *TB.split("\n")),
        False,
        ["[ERROR] failed\n" + TB],
        None,
    ),
    (
        "traceback after an unfinished JSON line joins it",
        lines_of('{"level": "ERROR",', *TB.split("\n")),
        False,
        ['{"level": "ERROR",\n' + TB],
        None,
    ),
]


@pytest.mark.parametrize(
    ("data", "flush", "texts", "consumed"),
    [case[1:] for case in SPLIT_CASES],
    ids=[case[0] for case in SPLIT_CASES],
)
def test_split_events(data: bytes, flush: bool, texts: list[str], consumed: int | None) -> None:
    events, used = split_events(data, flush=flush)
    assert [e.text for e in events] == texts
    expected_consumed = (data.rfind(b"\n") + 1) if consumed is None else consumed
    assert used == expected_consumed
    assert (events[-1].end if events else 0) == used
    assert_contiguous(events)


def assert_contiguous(events: list[RawEvent], start: int = 0) -> None:
    for event in events:
        assert event.start == start, events
        assert event.end > event.start
        start = event.end


def test_split_events_byte_offsets() -> None:
    data = "é\r\nxyz\n  cont\nlast".encode()
    events, used = split_events(data)
    assert events == [RawEvent(0, 4, "é"), RawEvent(4, 15, "xyz\n  cont")]
    assert used == 15
    assert data[events[1].start : events[1].end] == b"xyz\n  cont\n"


def test_held_event_is_returned_whole_once_complete() -> None:
    """The ingester's loop: re-offer what was not consumed, plus what arrived since."""
    first = lines_of("a", "boom", *TB.split("\n")[:2])
    events, used = split_events(first)
    assert [e.text for e in events] == ["a"]
    rest = first[used:] + lines_of(*TB.split("\n")[2:], "b")
    events, _ = split_events(rest)
    assert [e.text for e in events] == ["boom\n" + TB, "b"]


# ---- format_line and its round trip -------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "message", "line"),
    [
        (T, "hello", f"{TS} hello\n".encode()),
        (T, "", f"{TS} \n".encode()),
        (T, "a\nb\nc", f"{TS} a\rb\rc\n".encode()),
        (T, "a\nb\r\nc\rd", f"{TS} \x1ea\r b\r\r\r c\r\rd\n".encode()),
        (T, "ends with a break\n", f"{TS} ends with a break\r\r\n".encode()),
        (T, "  lead\ttab", f"{TS}   lead\ttab\n".encode()),
        (T, "ünïcode ✓", f"{TS} ünïcode ✓\n".encode()),
        (T, "lone \ud800 surrogate", f"{TS} lone ? surrogate\n".encode()),
    ],
)
def test_format_line(timestamp: int, message: str, line: bytes) -> None:
    assert format_line(timestamp, message) == line


def test_format_line_refuses_a_bad_timestamp() -> None:
    with pytest.raises(InvalidParameter):
        format_line(-1, "x")


messages = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(" \t\r\n\x00aZ9:-.{}[]\u00a0é✓\U0001f600")),
    st.builds(
        lambda t, m: format_timestamp(t) + " " + m,
        st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS),
        st.text(),
    ),
    st.builds(
        lambda t, m: format_timestamp(t) + "\t" + m,
        st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS),
        st.text(),
    ),
    st.sampled_from(
        [sample for fmt in FORMATS for sample in fmt.samples]
        + [TB, CHAINED, "Traceback (most recent call last):", "  File x", "\n", "\r\n", "\r"]
    ),
)


@given(timestamp=st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS), message=messages)
def test_format_line_round_trip(timestamp: int, message: str) -> None:
    line = format_line(timestamp, message)
    events, used = split_events(line)
    assert used == len(line)
    assert len(events) == 1
    parsed = parse_event(events[0].text)
    assert parsed.timestamp == timestamp
    assert parsed.message == message


@given(
    data=st.lists(
        st.sampled_from(
            [
                b"a",
                b"",
                b"\r",
                b"  x",
                b"\tat y",
                b"\xc2\xa0\xc2\xa0f",
                b"}",
                b"Caused by: z",
                b"ValueError: v",
                b"Traceback (most recent call last):",
                b"During handling of the above exception, another exception occurred:",
                START.encode(),
                REPORT.encode(),
                b"XRAY TraceId: 1",
                b"\xff\xfe",
                "é✓".encode(),
                b"a\rb",
                b"{",
            ]
        ),
        max_size=30,
    ).map(lambda parts: b"\n".join(parts)),
    cuts=st.lists(st.integers(0, 2000), max_size=6),
)
def test_split_events_in_pieces_loses_and_duplicates_nothing(data: bytes, cuts: list[int]) -> None:
    """Fed in arbitrary pieces, re-offering what was not consumed, every complete byte lands in exactly one event."""
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {len(data)})
    got: list[RawEvent] = []
    offset, seen = 0, 0
    for bound in bounds:
        events, used = split_events(data[offset:bound], flush=bound == len(data))
        got += [RawEvent(offset + e.start, offset + e.end, e.text) for e in events]
        offset += used
        seen = bound
    assert seen == len(data)
    assert_contiguous(got)
    assert (got[-1].end if got else 0) == data.rfind(b"\n") + 1
    for event in got:
        whole, _ = split_events(data[event.start : event.end], flush=True)
        assert "\n".join(e.text for e in whole) == event.text


@given(
    st.binary(max_size=300)
    | st.lists(
        st.sampled_from(
            [
                b"\n",
                b"\r",
                b" ",
                b"\t",
                b"Traceback (most recent call last):",
                b"KeyError: k",
                b"{",
                b"}",
                b"\xc2\xa0",
                b"x",
            ]
        ),
        max_size=40,
    ).map(b"".join),
    st.booleans(),
)
def test_split_events_takes_any_bytes(data: bytes, flush: bool) -> None:
    events, used = split_events(data, flush=flush)
    assert 0 <= used <= data.rfind(b"\n") + 1
    assert_contiguous(events)
    assert (events[-1].end if events else 0) == used


@given(
    st.text()
    | st.sampled_from([sample for fmt in FORMATS for sample in fmt.samples]).flatmap(
        lambda s: st.integers(0, len(s)).map(lambda n: s[:n])
    )
)
def test_parse_event_takes_any_text(text: str) -> None:
    parsed = parse_event(text)
    assert text.endswith(parsed.message)
    assert parsed.timestamp is None or MIN_TIMESTAMP_MS <= parsed.timestamp <= MAX_TIMESTAMP_MS


# ---- a tiny benchmark that only checks behaviour (timings: see the commit message) ---------


def realistic_lines(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        rid = f"{rnd.getrandbits(32):08x}-3d36-461b-8c0f-{rnd.getrandbits(48):012x}"
        out.append(f"START RequestId: {rid} Version: $LATEST")
        out.append(f"[INFO]\t{TS}\t{rid}\tprocessed order {rnd.randrange(10**6)}")
        out.append(f"{TS}\t{rid}\tINFO\tfetched {rnd.randrange(99)} items")
        out.append(
            f'{{"timestamp":"{TS}","level":"INFO","requestId":"{rid}","message":"cache miss"}}'
        )
        out.append(f"{TS} GET /orders/{rnd.randrange(999)} 200")
        out.append("Start to sleep 4s...")
        if rnd.random() < 0.1:
            out.extend([PY_ERROR, *TB.split("\n")])
        out.append(f"END RequestId: {rid}")
        out.append(
            f"REPORT RequestId: {rid}\tDuration: 12.31 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB\t"
        )
    return out


def test_benchmark_mixed_lambda_lines_behave() -> None:
    lines = realistic_lines(3000)
    data = lines_of(*lines)
    events, used = split_events(data, flush=True)
    assert used == len(data)
    tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
    assert len(events) == len(lines) - 4 * tracebacks
    parsed = [parse_event(e.text) for e in events]
    types = [p.fields.get("type") for p in parsed]
    assert (
        types.count("START")
        == types.count("END")
        == types.count("REPORT")
        == lines.count("Start to sleep 4s...")
    )
    assert all(p.timestamp == T for p in parsed if p.fields.get("level") or p.fields.get("json"))
    assert sum(1 for p in parsed if p.fields.get("level") == "ERROR") == tracebacks


def test_event_time_agrees_with_parse_event() -> None:
    from logsvc.lines import FORMATS, event_time

    texts = [sample for fmt in FORMATS for sample in fmt.samples]
    texts += [
        format_line(1_700_000_000_123 + i, t).decode().rstrip("\n")
        for i, t in enumerate(list(texts))
    ]
    texts += [
        "1234 items",
        "2026-13-01T00:00:00Z x",
        "\t2026",
        '{"time": 5}',
        "",
        "[INFO]\t2026-01-01T00:00:00.000Z\tid\tm",
    ]
    assert len(texts) > 30
    for t in texts:
        assert event_time(t) == parse_event(t).timestamp, t


# ---- escaped lines: every message a writer gives comes back byte for byte (issue #10.5) -----------

# (why, message, what the line holds after "<timestamp> "): the escape is written out by hand here,
# from the README's line-format paragraph, not computed by lines.py.
ESCAPES = [
    ("plain text is unchanged", "hello", b"hello"),
    ("a newline keeps Lambda's \\r", "a\nb", b"a\rb"),
    ("a trailing newline gets the extra \\r", "a\n", b"a\r\r"),
    ("a lone CR is escaped", "carriage\rreturn", b"\x1ecarriage\r\rreturn"),
    ("CRLF is escaped", "a\r\nb", b"\x1ea\r\r\r b"),
    ("a trailing CR", "end\r", b"\x1eend\r\r"),
    ("only a CR", "\r", b"\x1e\r\r"),
    ("CR then space", "a\r b", b"\x1ea\r\r b"),
    ("newline then space", "a\n b\r", b"\x1ea\r  b\r\r"),
    ("a lone backslash is not special", "C:\\dir\\", b"C:\\dir\\"),
    ("text that looks like an escape", "\\r\\n and \\\\", b"\\r\\n and \\\\"),
    ("a message starting with the marker", "\x1eRS", b"\x1e\x1eRS"),
    ("the marker later is plain", "a\x1eb", b"a\x1eb"),
    ("unicode around a CR", "é\r✓", "\x1eé\r\r✓".encode()),
]


@pytest.mark.parametrize(("why", "message", "body"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_escaped_line_is_written_and_read_back_exactly(why: str, message: str, body: bytes) -> None:
    line = format_line(T, message)
    assert line == TS.encode() + b" " + body + b"\n", why
    events, used = split_events(line + line)
    assert used == 2 * len(line)
    assert [parse_event(e.text).message for e in events] == [message, message], why


# Lines written by other programs (`>>`, Lambda itself): \r keeps meaning a line break.
PLAIN = [
    ("Lambda's \\r is a line break", b"a\rb\n", "a\nb"),
    ("CRLF line end", b"a\r\n", "a"),
    ("timestamped, \\r inside", f"{TS} x\ry\n".encode(), "x\ny"),
    ("no timestamp, marker first: not escaped", b"\x1ea\rb\n", "\x1ea\nb"),
    (
        "another timestamp form before the marker: not escaped",
        b"2026-11-27T21:46:35Z \x1ea\rb\n",
        "\x1ea\nb",
    ),
    ("tab after the timestamp: not escaped", f"{TS}\t\x1ea\rb\n".encode(), f"{TS}\t\x1ea\nb"),
]


@pytest.mark.parametrize(("why", "data", "message"), PLAIN, ids=[p[0] for p in PLAIN])
def test_plain_lines_keep_lambdas_convention(why: str, data: bytes, message: str) -> None:
    events, _ = split_events(data, flush=True)
    assert [parse_event(e.text).message for e in events] == [message], why


def test_escaped_line_then_continuation_lines() -> None:
    """An escaped first line is unescaped; indented lines appended after it by `>>` join as usual."""
    data = format_line(T, "a\rb") + b"  more\rlines\n"
    events, _ = split_events(data, flush=True)
    assert [parse_event(e.text).message for e in events] == ["a\rb\n  more\nlines"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", ""),
        ("x", "x"),
        ("\r\r", "\r"),
        ("\r ", "\n"),
        ("\r\r\r ", "\r\n"),
        ("\r\r ", "\r "),
        ("\rx", "\nx"),
        ("\r", "\n"),
    ],
)
def test_unescape_message(body: str, message: str) -> None:
    """Pairs decode left to right; a CR not in a pair (a hand edit) is Lambda's line break."""
    from logsvc.lines import unescape_message

    assert unescape_message(body) == message


@given(message=st.text() | st.text(alphabet=st.sampled_from("\r\n \x1e\\ab")))
def test_every_message_round_trips(message: str) -> None:
    line = format_line(T, message)
    assert line.count(b"\n") == 1
    events, _ = split_events(line)
    assert [parse_event(e.text).message for e in events] == [message]


# ---- pipes: `logsvc run` keeps which pipe an event came from (issue 15) ------------------------

# (why, message, pipe, the line's bytes after the timestamp): written out by hand from the README's
# line-format paragraph. stderr: U+001F then a space, or U+001F then U+001E for an escaped message.
PIPE_LINES = [
    ("stdout is written as before", "hello", "stdout", b" hello"),
    ("no pipe is stdout's form", "hello", None, b" hello"),
    ("stderr gets the mark", "hello", "stderr", b"\x1f hello"),
    ("empty message on stderr", "", "stderr", b"\x1f "),
    ("leading space kept on stderr", "  indented", "stderr", b"\x1f   indented"),
    ("stdout message starting with U+001F is not escaped", "\x1fUS", "stdout", b" \x1fUS"),
    ("stderr message starting with U+001F", "\x1fUS", "stderr", b"\x1f \x1fUS"),
    ("stdout message starting with U+001E is escaped", "\x1eRS", "stdout", b" \x1e\x1eRS"),
    ("stderr message starting with U+001E is escaped", "\x1eRS", "stderr", b"\x1f\x1e\x1eRS"),
    ("stderr multi-line in Lambda's convention", "a\nb", "stderr", b"\x1f a\rb"),
    ("stderr CRLF is escaped", "a\r\nb", "stderr", b"\x1f\x1ea\r\r\r b"),
    (
        "stderr message that looks like a marked line",
        f"{TS}\x1f x",
        "stderr",
        f"\x1f {TS}\x1f x".encode(),
    ),
    ("stderr traceback is one line", TB, "stderr", b"\x1f " + TB.replace("\n", "\r").encode()),
    (
        "stderr chained traceback",
        CHAINED,
        "stderr",
        b"\x1f " + CHAINED.replace("\n", "\r").encode(),
    ),
    (
        "stderr JSON keeps its fields",
        '{"level": "error", "n": 1}',
        "stderr",
        b'\x1f {"level": "error", "n": 1}',
    ),
]


@pytest.mark.parametrize(
    ("why", "message", "pipe", "body"), PIPE_LINES, ids=[p[0] for p in PIPE_LINES]
)
def test_pipe_is_written_and_read_back_with_the_message_unchanged(
    why: str, message: str, pipe: str | None, body: bytes
) -> None:
    from logsvc.lines import time_and_message

    line = format_line(T, message, pipe)
    assert line == TS.encode() + body + b"\n", why
    events, used = split_events(line + format_line(T + 1, "next"))
    assert used == len(line) + len(format_line(T + 1, "next")), why
    assert [time_and_message(e.text) for e in events] == [(T, message), (T + 1, "next")], why
    parsed = [parse_event(e.text) for e in events]
    assert [(p.timestamp, p.message, p.fields.get("pipe")) for p in parsed] == [
        (T, message, "stderr" if pipe == "stderr" else None),
        (T + 1, "next", None),
    ], why


def test_stderr_json_line_keeps_its_parsed_fields() -> None:
    p = parse_event(
        split_events(format_line(T, '{"level": "error", "requestId": "r1"}', "stderr"), flush=True)[
            0
        ][0].text
    )
    assert p.fields == {"json": True, "level": "ERROR", "requestId": "r1", "pipe": "stderr"}


# Lines a `>>` writer (or an old file) holds: only format_timestamp's form + U+001F + space is stderr.
FOREIGN_MARKS = [
    ("U+001F mid-message is plain text", f"{TS} a\x1fb\n".encode(), "a\x1fb", None),
    (
        "U+001F right after the time without a space: verbatim",
        f"{TS}\x1fab\n".encode(),
        f"{TS}\x1fab",
        None,
    ),
    (
        "another timestamp form before the mark: verbatim",
        b"2026-11-27T21:46:35Z\x1f ab\n",
        "2026-11-27T21:46:35Z\x1f ab",
        None,
    ),
    ("no timestamp: verbatim", b"\x1f ab\n", "\x1f ab", None),
    ("hand-written stderr line", f"{TS}\x1f ab\n".encode(), "ab", "stderr"),
]


@pytest.mark.parametrize(
    ("why", "data", "message", "pipe"), FOREIGN_MARKS, ids=[f[0] for f in FOREIGN_MARKS]
)
def test_foreign_lines_with_the_mark(why: str, data: bytes, message: str, pipe: str | None) -> None:
    events, _ = split_events(data, flush=True)
    p = parse_event(events[0].text)
    assert (p.message, p.fields.get("pipe")) == (message, pipe), why


def test_traceback_after_a_stderr_json_or_platform_line_is_its_own_event() -> None:
    """The multi-line rule sees through the mark: a `>>` traceback after a marked JSON line starts an event."""
    tb = lines_of(*TB.split("\n"))
    for first in (
        format_line(T, '{"a": 1}', "stderr"),
        format_line(T, f"END RequestId: {RID}", "stderr"),
    ):
        events, _ = split_events(first + tb, flush=True)
        assert len(events) == 2, first
    events, _ = split_events(format_line(T, "payment failed", "stderr") + tb, flush=True)
    assert [parse_event(e.text).message for e in events] == ["payment failed\n" + TB]


def test_format_line_refuses_an_unknown_pipe() -> None:
    with pytest.raises(InvalidParameter, match="pipe"):
        format_line(T, "x", "stdin")


def test_the_mark_is_a_word_break_for_the_index_and_filter_patterns() -> None:
    from logsvc.tokens import TOKEN_RE, index_tokens_bytes

    assert TOKEN_RE.findall("a\x1fb") == ["a", "b"]
    assert {b"hello", b"world"} <= index_tokens_bytes(format_line(T, "hello world", "stderr"))


@given(
    message=st.text() | st.text(alphabet=st.sampled_from("\r\n \x1e\x1f\\ab")), stderr=st.booleans()
)
def test_every_message_round_trips_on_both_pipes(message: str, stderr: bool) -> None:
    line = format_line(T, message, "stderr" if stderr else "stdout")
    assert line.count(b"\n") == 1
    events, _ = split_events(line)
    p = parse_event(events[0].text)
    assert (p.message, p.fields.get("pipe")) == (message, "stderr" if stderr else None)


# -- the read path's cheap look agrees with the full parse, for every format's samples ----------------


def _agreement_texts() -> list[str]:
    """Every registered sample as written, after a stream-file timestamp, and on stderr; plus edges."""
    from logsvc.lines import FORMATS, format_line

    out = [
        "",
        "x",
        "2026-11-27T10:00:00.000Z",
        "2026-11-27T10:00:00.000Z ",
        "20261127",
        "2026-13-45T99:00:00Z oops",
        "12345678-1234-1234-1234-123456789012 Task timed out after 3.00 seconds",
    ]
    for fmt in FORMATS:
        for sample in fmt.samples:
            out.append(sample)
            for pipe in (None, "stderr"):
                out.append(format_line(1_700_000_000_123, sample, pipe=pipe).decode().rstrip("\n"))
    return out


@pytest.mark.parametrize("text", _agreement_texts())
def test_time_and_message_agrees_with_parse_event(text: str) -> None:
    """time_and_message and event_time are parse_event's timestamp and message, computed cheaply: they must
    never disagree (a read would show one time and filter on another)."""
    from logsvc.lines import event_time, parse_event, time_and_message

    full = parse_event(text)
    assert time_and_message(text) == (full.timestamp, full.message)
    assert event_time(text) == full.timestamp


def test_split_events_with_need_keeps_exactly_the_events_holding_every_needle() -> None:
    """`need` filters events after they are split: the boundaries and bytes consumed never change,
    so a search that asks for its literals sees the same events, offsets and texts as one that
    does not, minus the events that lack a literal."""
    data = (
        b"2025-01-01T00:00:00.000Z ERROR first\n"
        b"Traceback (most recent call last):\n"
        b'  File "x.py", line 1, in <module>\n'
        b"ValueError: boom retry\n"
        b"2025-01-01T00:00:01.000Z INFO second retry\n"
        b"2025-01-01T00:00:02.000Z ERROR third\r\n"
        b"2025-01-01T00:00:03.000Z ERROR tail without newline"
    )
    for flush in (False, True):
        plain, used = split_events(data, flush=flush)
        for need in ((b"ERROR",), (b"retry",), (b"ERROR", b"retry"), (b"absent",)):
            got, got_used = split_events(data, flush=flush, need=need)
            assert got_used == used
            want = [
                e for e in plain if all(n in data[e.start : e.end] for n in need)
            ]  # by bytes: the same test the filter makes, on the plain split's ranges
            assert got == want, (flush, need)
    assert [e.start for e in split_events(data, flush=True, need=(b"retry",))[0]] == [0, 130]


LINES_HOLDING_CASES = [
    # (data: one event per line, needed strings)
    (b"a needle\nb hay\nc needle needle\n", (b"needle",)),
    (b"needle first\nlast needle\n", (b"needle",)),
    (b"x\r\ny needle\r\nz\n", (b"needle",)),  # CRLF ends kept out of the text, as split_events does
    (b"one two\ntwo one\ntwo\n", (b"two", b"one")),  # every string, in any order
    (b"2024-05-01T00:00:00.000Z \x1eescaped needle\\nline\nplain\n", (b"needle",)),
    (b"no hit\nat all\n", (b"needle",)),
    (b"needle", (b"needle",)),  # an unterminated last line is not a complete event
]


def test_lines_holding_returns_what_split_events_returns_for_one_line_events() -> None:
    for data, need in LINES_HOLDING_CASES:
        want = lines.split_events(data, flush=True, need=need)[0] if data.endswith(b"\n") else []
        got = lines.lines_holding(data, need)
        assert [(e.start, e.end, e.text) for e in got] == [
            (e.start, e.end, e.text) for e in want
        ], data


# ---- complete(): the full parse after the read path's cheap first look ------------------------------


def _complete_texts() -> list[str]:
    texts = [case[1] for case in PARSE_CASES]
    texts += [sample for fmt in FORMATS for sample in fmt.samples]
    texts += [
        e.text
        for t in list(texts)
        for pipe in (None, "stderr")
        for e in split_events(format_line(T, t, pipe), flush=True)[0]
    ]
    texts += [
        "2026-11-27T21:46:35.1234Z x",  # a 25-character stamp: its cut is 26, as the stderr form's
        '2026-11-27T22:46:35+01:00 {"level": "WARN"}',
        '2026-11-27T21:46:35.123Z\u001f {"a": 1}',
        "2026-11-27T21:46:35.123Z\u001fx",  # the mark without its space: not the stderr form
        "1764279995123 [ERROR]\t2026-11-27T21:46:35.123Z\tid\tboom",
        "2026-11-27T21:46:35.123Z ",
        "2026-13-01T00:00:00Z x",
        "\t2026",
        "",
    ]
    return texts


def test_complete_is_parse_event_given_the_first_look() -> None:
    texts = _complete_texts()
    assert len(texts) > 150
    assert any(parse_event(t).fields.get("pipe") == "stderr" for t in texts)
    for t in texts:
        assert lines.complete(t, *lines.time_and_message(t)) == parse_event(t), repr(t)


@given(
    st.text()
    | st.sampled_from(_complete_texts()).flatmap(
        lambda s: st.integers(0, len(s)).map(lambda n: s[:n])
    )
)
def test_complete_agrees_with_parse_event_on_any_text(text: str) -> None:
    assert lines.complete(text, *lines.time_and_message(text)) == parse_event(text)
