"""Filter patterns, table-driven: every acceptance vector of cloudwatch-logs-api.md §3, the errors
(exact text and caret column), the token query's soundness, and fuzzing for "only ever
FilterPatternError, matches never raises".
"""

from __future__ import annotations

import gc
import json
import random
import re
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logsvc.errors import InvalidParameter
from logsvc.filterpattern import MAX_PATTERN_LENGTH, FilterPatternError, compile_pattern
from logsvc.filterpattern.query import evaluate
from logsvc.filterpattern.regex import compile_regex
from logsvc.filterpattern.scanner import Scanner
from logsvc.tokens import index_tokens

U = {
    1: "[ERROR 400] BAD REQUEST",
    2: "[ERROR 401] UNAUTHORIZED REQUEST",
    3: "[ERROR 419] MISSING ARGUMENTS",
    4: "[ERROR 420] INVALID ARGUMENTS",
    5: "[ERROR 500] INTERNAL SERVER ERROR",
    6: "[SUCCESS 200] AUTHORIZED REQUEST",
    7: "[INFO] REQUEST FAILED",
    8: "[WARN] UNAUTHORIZED REQUEST",
    9: "[ERROR] 400 BAD REQUEST",
}

J1 = (
    '{"eventType":"UpdateTrail","sourceIPAddress":"111.111.111.111","arrayKey":["value","another value"],'
    '"objectList":[{"name":"a","id":1},{"name":"b","id":2}],"SomeObject":null,"cluster.name":"c"}'
)
J2 = (
    '{"user":{"id":1,"email":"John.Stiles@example.com"},"users":[{"id":2,"email":"John.Doe@example.com"},'
    '{"id":3,"email":"Jane.Doe@example.com"}],"actions":["GET","PUT","DELETE"],'
    '"coordinates":[[0,1,2],[4,5,6],[7,8,9]]}'
)

D1 = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
L = {
    1: "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200",
    2: "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310",
    3: "WARNING 09/25/2014 12:00:02 Invalid user request",
    4: "ERROR 09/25/2014 12:00:02 Failed to process request",
}


def _rows(
    table: list[tuple[str, dict[int, str], list[int], list[int]]],
) -> list[tuple[str, str, bool]]:
    """Expand (pattern, messages, match ids, no-match ids) into (pattern, message, expected) rows."""
    out = []
    for pattern, messages, yes, no in table:
        out += [(pattern, messages[i], True) for i in yes]
        out += [(pattern, messages[i], False) for i in no]
    return out


# -- unstructured -----------------------------------------------------------------------------

UNSTRUCTURED_VECTORS = _rows(
    [
        ("ERROR", U, [1, 2, 3, 4, 5, 9], [6, 7, 8]),  # doc
        ("ERROR ARGUMENTS", U, [3, 4], [1, 2, 5, 6, 7, 8, 9]),  # doc
        ("?ERROR ?ARGUMENTS", U, [1, 2, 3, 4, 5, 9], [6, 7, 8]),  # doc / inf
        (
            "?ERROR ?ARGUMENTS REQUEST",
            U,
            [1, 2, 6, 7, 8, 9],
            [3, 4, 5],
        ),  # `?` ignored when mixed (doc)
        ('"INTERNAL SERVER ERROR"', U, [5], [1, 2, 3, 4, 6, 7, 8, 9]),  # doc / inf
        ("ERROR -ARGUMENTS", U, [1, 2, 5, 9], [3, 4, 6, 7, 8]),  # doc
        ('" "', U, list(U), []),  # doc
        ("", U, list(U), []),  # doc
        ("error", U, [], list(U)),  # case-sensitive (doc rule)
        ("%AUTHORIZED%", U, [2, 6, 8], [1, 3, 4, 5, 7, 9]),  # doc: in-word regex hit
    ]
)

# Decisions the reference leaves open ("?" rows), and the token rule they follow.
UNSTRUCTURED_DECISIONS = [
    ("ERROR", "ERRORS happen", False),  # bare words are token-aligned (moto: match)
    ("ERROR", "[ERROR 400]", True),
    ("ERROR", "ERROR: disk full", True),
    ("ERROR", "x_ERROR", True),  # `_` is a token boundary (logsvc.tokens)
    ("ERROR", "ERROR_CODE=5", True),
    ("ERROR", "xERROR", False),
    ("ERROR", "ERROR42", False),
    ("ERROR", "", False),
    ("order-42", "placed order-42 today", True),  # bare non-word chars accepted, exact sequence
    ("order-42", "border-42", False),
    ("order-42", "order-421", False),
    ("order-42", "order 42", False),
    (":42", "id:42", True),  # edges that are not word chars need no boundary
    ("ok [ERROR", "ok x[ERROR 1]", True),  # a later term may start with `[`
    ('"der-12"', "order-123", True),  # quoted = plain substring
    ('"ERROR"', "ERRORS happen", True),
    ('"a \\"quoted\\" word"', 'say a "quoted" word', True),
    ('"C:\\temp"', "dir C:\\temp", True),  # unknown escapes stay as written
    ("?ERROR ?WARN", "WARN low disk", True),
    ("?ERROR ?WARN", "INFO ok", False),
    ("?ERROR -WARN", "ERROR x", True),  # `?` ignored next to a `-` term: only "not WARN" remains
    ("?ERROR -WARN", "INFO x", True),
    ("?ERROR -WARN", "WARN x", False),
    ('?ERROR " "', "INFO x", True),  # `?` ignored next to `" "`, which matches everything
    ('?" " ?ERROR', "INFO x", True),
    ('-" "', "anything", False),
    ("-ERROR", "INFO ok", True),
    ("-ERROR", "ERROR ok", False),
    ("-%ERR%", "ERRx", False),
    ("?%^a% ?%b$%", "ab", True),
    ("?%^a% ?%b$%", "ba", False),
    ("ERROR %\\d{3}%", "ERROR 404", True),  # regex terms mix with words
    ("ERROR %\\d{3}%", "ERROR 4x4", False),
    ("--verbose", "ran with -verbose", False),  # `-` then the word `-verbose`
    ("--verbose", "ran quietly", True),
    ("évènement", "un évènement rare", True),  # non-ASCII words are fine outside regexes
    ("évènement", "unévènement", False),
    ("ERROR", "ERRORé", False),  # non-ASCII characters are token characters
    ("ERROR", "ERROR\u00a0x", False),
    ("ERROR", "ERROR\u2028x", False),
    ("ERROR", "line one\nERROR line two", True),
    ("  ERROR\t ", "ERROR", True),
]

REGEX_VECTORS = [
    ("%^[hc]at%", "hat x", True),  # doc
    ("%^[hc]at%", "cat x", True),
    ("%^[hc]at%", "that", False),  # anchor
    ("%colou?r%", "color", True),
    ("%colou?r%", "colour", True),
    ("%colou?r%", "colr", False),
    ("%ab+c%", "abc", True),
    ("%ab+c%", "abbc", True),
    ("%ab+c%", "ac", False),
    ("%\\x3A%", "a:b", True),
    ("%\\x3A%", "ab", False),
    ("%10\\.10\\.0\\.1%", "10.10.0.1", True),
    ("%10\\.10\\.0\\.1%", "10010,051", False),
    ("%10.10.0.1%", "10010,051", True),  # the doc's contrast: unescaped `.` is any char
    # Our choices: `.` crosses newlines, `$` is the end of the message, classes are ASCII.
    ("%a.b%", "a\nb", True),
    ("%done$%", "done\n", False),
    ("%done$%", "done", True),
    ("%^x%", "a\nx", False),
    ("%\\d%", "\u0663", False),
    ("%\\w+@\\w+%", "mail bob@example now", True),
    ("%ERROR 5\\d\\d%", "ERROR 503", True),
    ("%[^a-z]x%", "ax", False),
    ("%[^a-z]x%", "Ax", True),
    ("%a{2,3}b%", "aab", True),
    ("%a{2,3}b%", "ab", False),
    ("%a{2,}b%", "aaaab", True),
    ("%x|y$%", "y", True),
    ("%x|^y%", "zy", False),
    ("%[.]%", "a", False),
    ("%[.]%", "a.b", True),
    ("%[a-]%", "-", True),
    ("%\\.*%", "", True),  # matches the empty string, like `re`
    ("%.*a.*b%", "xxaxxbxx", True),  # two variable pieces: the bit-parallel engine
    ("%.*a.*b%", "b" + "a" * 50, False),
]


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    UNSTRUCTURED_VECTORS + UNSTRUCTURED_DECISIONS + REGEX_VECTORS,
)
def test_unstructured(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(message) is expected


# -- JSON -------------------------------------------------------------------------------------

JSON_VECTORS = [
    ('{ $.eventType = "UpdateTrail" }', J1, True),  # doc
    ('{ $.eventType = "DeleteTrail" }', J1, False),  # inf
    ("{ $.sourceIPAddress != 123.123.* }", J1, True),  # doc
    ('{ $.arrayKey[0] = "value" }', J1, True),  # doc
    ("{ $.objectList[1].id = 2 }", J1, True),  # doc (2022)
    ("{ $.eventType = %Trail% }", J1, True),  # doc
    ("{ $.arrayKey[*] = %val.{2}% }", J1, True),  # doc
    ("{ $.* = %111\\.111\\.111\\.1[0-9]{1,2}% }", J1, True),  # doc
    ("{ $.['cluster.name'] = \"c\" }", J1, True),  # doc
    ("{ $.SomeObject IS NULL }", J1, True),  # doc
    ("{ $.SomeOtherObject NOT EXISTS }", J1, True),  # doc
    ("{ $.SomeObject NOT EXISTS }", J1, False),  # inf: key present
    ('{ $.arrayKey = "value" }', J1, False),  # doc rule: selector hits an array
    ('{ $.objectList[0] = "a" }', J1, False),  # doc rule: selector hits an object
    ('{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }', J1, True),  # doc (2022)
    ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', J2, True),  # doc
    (
        '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch"'
        ' && $.actions[2] = "nonmatch" }',
        J2,
        True,
    ),  # doc: && binds tighter
    (
        '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch")'
        ' && $.actions[2] = "nonmatch" }',
        J2,
        False,
    ),  # doc
    (
        '{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }',
        J2,
        False,
    ),  # doc
    ("{ $.latency = * }", '{"latency":50}', True),  # doc (2022)
    ("{ $.latency < 50 }", '{"latency":50}', False),  # inf
    ("{ $.latency <= 50 }", '{"latency":50}', True),  # inf
    ("{ $.number[0] = 1e+3 }", '{"number":[1000]}', True),  # inf from doc
    ("{ $.flag IS TRUE }", '{"flag":true}', True),  # inf
    ("{ $.flag IS FALSE }", '{"flag":true}', False),  # inf
    ('{ $.a = "x" }', "hello world", False),  # inf: not JSON (moto: match)
    ("{ $.a NOT EXISTS }", "hello world", False),
    # Our decisions beyond the vectors.
    ("{ $.coordinates[0][1] = 1 }", J2, True),
    ("{ $.coordinates[2][2] >= 9 }", J2, True),
    ("{ $.coordinates[3][0] NOT EXISTS }", J2, True),  # index out of range reaches nothing
    ("{ $.users[*].email = Jane* }", J2, True),
    ("{ $.users[*].id > 2 }", J2, True),
    ("{ $.users[*].id > 3 }", J2, False),
    ("{ $.actions[*] = DELETE }", J2, True),
    ("{ $.user.* = 1 }", J2, True),
    ("{ $.user.id.deeper NOT EXISTS }", J2, True),  # through a scalar: reaches nothing
    ("{ $.user NOT EXISTS }", J2, False),  # an object counts as present
    ("{ $.user IS NULL }", J2, False),
    ("{ $.missing IS NULL }", J2, False),  # IS NULL needs the key
    ("{ $.SomeObject = * }", J1, False),  # null never compares...
    ("{ $.SomeObject != x }", J1, False),  # ...not even with !=
    ("{ $.missing != x }", J1, False),  # != means "present, comparable and different"
    ('{ $.latency = "50" }', '{"latency":50}', True),  # text comparison sees numbers as written
    ("{ $.latency = 5* }", '{"latency":50}', True),
    ("{ $.latency > 49.5 }", '{"latency":"50"}', True),  # strings that are wholly numbers compare
    ("{ $.latency > 1 }", '{"latency":"fast"}', False),
    ("{ $.latency != 50 }", '{"latency":"fast"}', True),
    ("{ $.latency = 50.0 }", '{"latency":50}', True),
    ("{ $.latency = 5e1 }", '{"latency":50.0}', True),
    ("{ $.price = 1.50 }", '{"price":1.5}', True),
    ('{ $.price = "1.50" }', '{"price":1.50}', True),  # floats keep their written text
    ('{ $.price = "1.5" }', '{"price":1.50}', False),
    ("{ $.flag = true }", '{"flag":true}', True),
    ("{ $.flag = 1 }", '{"flag":true}', False),  # booleans are not numbers
    ("{ $.flag != 1 }", '{"flag":true}', True),
    ("{ $.n > -1e-3 }", '{"n":0}', True),
    ("{ $.n < +2 }", '{"n":1.999}', True),
    ("{ $.big = 12345678901234567891 }", '{"big":12345678901234567891}', True),  # no float rounding
    ("{ $.big = 12345678901234567890 }", '{"big":12345678901234567891}', False),
    ('{ $.msg = "a*b" }', '{"msg":"a long b"}', True),
    ('{ $.msg = "a\\*b" }', '{"msg":"a long b"}', False),  # \\* is a literal star
    ('{ $.msg = "a\\*b" }', '{"msg":"a*b"}', True),
    ('{ $.msg = "" }', '{"msg":""}', True),
    ('{ $.msg = "say \\"hi\\"" }', '{"msg":"say \\"hi\\""}', True),
    ("{ $.msg = %^a.c$% }", '{"msg":"a\\nc"}', True),
    ('{ $["odd key"] = 1 }', '{"odd key":1}', True),
    ("{ $.a-b = 1 }", '{"a-b":1}', True),
    ("{ $.level = ERROR }", '  \t{"level":"ERROR"}', True),  # leading blanks before `{`
    ("{ $.level = ERROR }", '{"level":"ERROR"} trailing', False),
    ("{ $.level = ERROR }", '["level", "ERROR"]', False),  # arrays are not events
    ("{ $.level = ERROR }", '{"level":"ERROR"', False),
    ("{ $.x is null }", '{"x":null}', True),  # keywords in any case
    ("{ $.x not exists }", "{}", True),
    ("{ $.* = 1 }", '{"a":[1],"b":{"c":1}}', False),  # one level only
    ("{ $.a = 1 || $.b = 2 && $.c = 3 }", '{"a":1}', True),
    ("{ ($.a = 1 || $.b = 2) && $.c = 3 }", '{"a":1}', False),
    ("{ ((($.a = 1))) }", '{"a":1}', True),
    ("{ $.a = 1 }", '{"a":1,"a":2}', False),  # duplicate keys: the last one wins, as json.loads
    ("{ $.a = 1 }", '{"a":NaN}', False),
]


# A JSON value spelled other than as the pattern writes it: each must be decided by the JSON, never
# lost to the cheap text test a reader asks first (`FilterPattern.need`). Expectations were checked
# against the code before that test existed.
JSON_SPELLINGS = [
    ("{ $.a = 503 }", '{"a": 503}', True),
    ("{ $.a = 503 }", '{"a": 503.0}', True),
    ("{ $.a = 503 }", '{"a": 5.03e2}', True),
    ("{ $.a = 503 }", '{"a": 5.03E+2}', True),
    ("{ $.a = 503 }", '{"a": 50300e-2}', True),
    ("{ $.a = 503 }", '{"a": "5.03e2"}', True),  # a string wholly a number compares as one
    ("{ $.a = 503 }", '{"a": ".503e3"}', True),
    ("{ $.a = 503 }", '{"a": "+0503"}', True),
    ("{ $.a = 503 }", '{"a": "503."}', True),
    ("{ $.a = 503 }", '{"a": "\\u0035\\u0030\\u0033"}', True),  # escapes of "503"
    ("{ $.a = 503 }", '{"a": 502.99999999999999}', True),  # rounds onto 503.0
    ("{ $.a[1] = 503 }", '{"a":[1,\n5.03e2]}', True),  # a line break before the number
    ("{ $.a = 503 }", '{"a": -503}', False),
    ("{ $.a = 503 }", '{"a": 5030, "b": "1e5c8abd"}', False),
    ("{ $.a = 0.5 }", '{"a": ".5"}', True),
    ("{ $.a = 0.5 }", '{"a": 5e-1}', True),
    ("{ $.a = 0.5 }", '{"a": 0.50}', True),
    ("{ $.a = 5e2 }", '{"a": 500}', True),
    ("{ $.a = 1e-7 }", '{"a": 0.0000001}', True),
    ('{ $.a = 1 || $.b = "x" }', '{"a": 2, "b": "x"}', True),
    ('{ $.a = 1 && $.b = "x" }', '{"a": 1e0, "b": "x"}', True),
    ("{ $.a IS TRUE }", '{"a": true}', True),
    ("{ $.a IS NULL }", '{"a": null}', True),
    ('{ $.level = "ERR*" }', '{"level": "ERRNO"}', True),
    ('{ $.level = "ERROR" }', '{"level": "error", "msg": "ERROR"}', False),
    # escaped strings: the token query (`token_query`) already asks for the value's words as written
    ('{ $.level = "ERROR" }', '{"level": "\\u0045RROR"}', False),
]


def test_a_readers_need_passes_every_matching_event_as_the_stream_file_holds_it() -> None:
    """`need.within(data)` is asked of a read's bytes; its test of each event's text and the bytes
    it says every passing event holds must keep every match, also behind a timestamp and for a
    message the stream file writes escaped (line breaks)."""
    from logsvc.lines import format_line, split_events

    matching = [(p, m) for p, m, ok in JSON_VECTORS + JSON_SPELLINGS if ok]
    assert len(matching) > 40
    tried = 0
    for pattern, message in matching:
        fp = compile_pattern(pattern)
        if fp.need is None:
            continue
        for filler in ("", '{"other": "1e5c8abd \\u0041", "n": 7.5e3}\n'):
            data = filler.encode() + format_line(1_764_279_995_123, message)
            events = split_events(data, flush=True)[0]
            test, held = fp.need.within(data)
            text = events[-1].text
            assert fp.matches(text.split(" ", 1)[1]), (pattern, message)
            assert test(text), (pattern, message, filler)
            assert all(b in data for b in held), (pattern, message, held)
            tried += 1
    assert tried > 40


@pytest.mark.parametrize(("pattern", "message", "expected"), JSON_VECTORS + JSON_SPELLINGS)
def test_json(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(message) is expected


# -- space-delimited --------------------------------------------------------------------------

DELIMITED_VECTORS = [
    ("[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]", D1, True),  # doc
    (
        "[ip=%127\\.0\\.0\\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        D1,
        True,
    ),
    ("[..., request =*.html*, status_code = 4*, bytes]", D1, True),  # doc
    (
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
        D1,
        True,
    ),
    ("[ip, server, username, timestamp, request, status_code, bytes > 1000]", D1, True),  # doc
    ("[ip, server, username, timestamp, request, status_code, bytes > 2000]", D1, False),  # inf
    ("[..., status_code = 5*, bytes]", D1, False),  # inf
    # Our decisions beyond the vectors.
    ("[ip, user, ...]", D1, True),
    ("[ip = 127.0.0.1, ...]", D1, True),
    ("[ip = 127.0.0.2, ...]", D1, False),
    ("[..., bytes = 1534]", D1, True),
    ("[ip, ..., status_code = 404, bytes]", D1, True),
    ("[ip, ..., bytes = 404]", D1, False),
    ("[...]", D1, True),
    ("[...]", "", True),
    ("[a]", "", False),
    ("[a, b, c, d, e, f, g, h]", D1, False),  # more names than fields
    ("[ip, rest = Prod*]", D1, True),  # the last named field absorbs the rest of the line
    (
        '[ip, rest = "Prod frank [10/Oct/2000:13:25:15 -0700] \\"GET /index.html HTTP/1.0\\" 404 1534"]',
        D1,
        True,
    ),
    ("[a = x, b = y]", "x y", True),
    ("[a = x, b = y]", "x\ty", True),  # ASCII whitespace separates fields
    ("[a = x, b = y]", "x\u00a0y z", False),  # a non-ASCII space is part of the field
    ("[a = x\u00a0y, b = z]", "x\u00a0y z", True),
    ("[a = x, b = y]", "  x    y  ", True),
    ('[a = "", b]', '"" y', True),  # an empty quoted field
    ("[a, b = 0x1F]", "x 0x1F", True),  # not a number: compared as text
    ("[a, b = 7]", "x 007", True),  # numbers compare as numbers
    ('[a, b = "7"]', "x 007", False),  # quoted values compare as text
    ("[a, b < 1e3]", "x 999.5", True),
    ("[a, b < 1e3]", "x many", False),
    ("[a, b != 1]", "x many", True),
    ("[a = x && b = y, b]", "x y", True),  # a condition may name another field
    ("[a = x && b = z, b]", "x y", False),
    ("[a = x || a = y && a = z, b]", "x q", True),  # && binds tighter than ||
    ("[a = %^[0-9]+$%, b]", "123 q", True),
    ("[a = %^[0-9]+$%, b]", "12a q", False),
]

DELIMITED_VECTORS += _rows(
    [
        ("[w1=ERROR, w2]", L, [4], [1, 2, 3]),  # doc
        ("[w1=ERROR || w1=WARNING, w2]", L, [3, 4], [1, 2]),  # doc
        ("[w1!=ERROR && w1!=WARNING, w2]", L, [1, 2], [3, 4]),  # doc
        (
            "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
            L,
            [1],
            [2],
        ),  # doc
        (
            "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
            L,
            [2],
            [1],
        ),
    ]
)


@pytest.mark.parametrize(("pattern", "message", "expected"), DELIMITED_VECTORS)
def test_delimited(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(message) is expected


def test_delimited_extracts_the_documented_fields() -> None:
    p = compile_pattern(
        "[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]"
    )
    assert p.extract(D1) == {
        "ip": "127.0.0.1",
        "user": "Prod",
        "username": "frank",
        "timestamp": "10/Oct/2000:13:25:15 -0700",
        "request": "GET /index.html HTTP/1.0",
        "status_code": "404",
        "bytes": "1534",
    }
    assert compile_pattern("[w1, w2]").extract(L[4]) == {
        "w1": "ERROR",
        "w2": "09/25/2014 12:00:02 Failed to process request",
    }
    assert compile_pattern("[..., last]").extract("a b c") == {"last": "c"}
    assert compile_pattern("[a, b]").extract("one") is None
    assert compile_pattern("ERROR").extract("ERROR") is None


# -- errors -----------------------------------------------------------------------------------

# (pattern, str(error), 0-based caret position). Columns in messages are 1-based.
ERRORS = [
    ('{ $.level = "ERROR"', "expected '}' to close the JSON filter at column 20", 19),
    ("%something!%", "character '!' is not supported in a regex at column 11", 10),  # doc: rejected
    (
        "%(a)%",
        "'(' is not supported in a regex: groups are not allowed at column 2",
        1,
    ),  # doc: rejected
    ("%a)%", "')' is not supported in a regex: groups are not allowed at column 3", 2),
    ("%é%", "non-ASCII character 'é' is not supported in a regex at column 2", 1),
    ("%\\t%", "unsupported escape '\\t' in regex at column 2", 1),
    ("%a**%", "'*' cannot follow another quantifier in regex at column 4", 3),
    ("%*a%", "nothing to repeat before '*' in regex at column 2", 1),
    ("%a{2%", "expected a repetition count like {2}, {2,} or {1,3} after '{' at column 3", 2),
    ("%a{3,1}%", "repetition range {3,1} is backwards in regex at column 3", 2),
    ("%a{1001}%", "repetition count above 1000 in regex at column 3", 2),
    ("%[z-a]%", "range 'z-a' is backwards in regex at column 4", 3),
    ("%[]%", "empty character class in regex at column 2", 1),
    ("%[ab%", "expected ']' to close the character class in regex at column 5", 4),
    ("%a]%", "unmatched ']' in regex at column 3", 2),
    ("%a^b%", "'^' is only supported at the start of the regex or right after '|' at column 3", 2),
    ("%a$b%", "'$' is only supported at the end of the regex or right before '|' at column 3", 2),
    ("%a|%", "empty alternative after '|' in regex at column 3", 2),
    ("%\\x4%", "expected two hex digits after '\\x' in regex at column 2", 1),
    ("%a\\%", "'\\' at the end of the regex escapes nothing at column 3", 2),
    ("%%", "empty regex '%%' at column 1", 0),
    ("%abc", "expected '%' to close the regex at column 5", 4),
    ("%a% %b% %c%", "a filter pattern may contain at most 2 regular expressions at column 9", 8),
    ('"unterminated', "expected '\"' to close the quoted phrase at column 14", 13),
    ('"a"b', "expected a space after the closing '\"' at column 4", 3),
    ('key="v"', "'\"' inside a term at column 5", 4),
    ("ERROR -", "expected a term right after '-' at column 8", 7),
    ("? x", "expected a term right after '?' at column 2", 1),
    ("{ $.a = 1 } x", "unexpected text after the JSON filter's closing '}' at column 13", 12),
    ("{ $.a = 1 $.b = 2 }", "expected '&&', '||' or '}' but found '$' at column 11", 10),
    ("{ }", "expected a selector like $.level but found '}' at column 3", 2),
    ("{ a = 1 }", "expected a selector like $.level but found 'a' at column 3", 2),
    ("{", "expected a selector like $.level but found end of pattern at column 2", 1),
    ("{ $.a == 1 }", "'==' is not an operator at column 7", 6),
    (
        "{ $.a ~ 1 }",
        "expected an operator (= != < <= > >=), IS or NOT EXISTS after the selector at column 7",
        6,
    ),
    ("{ $.a = }", "expected a value after '=' at column 9", 8),
    ("{ $.a = && $.b = 1 }", "expected a value after '=' at column 9", 8),
    (
        '{ $.a < "5" }',
        "'<' compares numbers: expected a number like 50, -1.5 or 1e+3 at column 9",
        8,
    ),
    (
        "{ $.a >= 5* }",
        "'>=' compares numbers: expected a number like 50, -1.5 or 1e+3 at column 10",
        9,
    ),
    ("{ $.a IS NOT NULL }", "'IS NOT' is not supported at column 10", 9),
    ("{ $.a IS EMPTY }", "expected NULL, TRUE or FALSE after IS at column 10", 9),
    ("{ $.a EXISTS }", "'EXISTS' is not supported at column 7", 6),
    ("{ $.a NOT THERE }", "expected EXISTS after NOT at column 11", 10),
    ("{ $. = 1 }", "expected a key name, '*' or ['quoted key'] after '.' at column 5", 4),
    ("{ $.a[-1] = 1 }", "array indexes start at 0 and cannot be negative at column 7", 6),
    ("{ $.a[x] = 1 }", "expected an array index, '*' or a quoted key inside '[ ]' at column 7", 6),
    ("{ $.['k = 1 }", "expected ' to close the quoted key at column 14", 13),
    ("{ $.a[*].b[*] = 1 }", "a selector may contain only one wildcard '*' at column 11", 10),
    (
        "{ $.* = 1 || $.* = 2 || $.* = 3 || $.* = 4 }",
        "a JSON filter may contain at most 3 wildcard selectors at column 37",
        36,
    ),
    ("{ ($.a = 1 }", "expected ')' to close the parenthesis at column 12", 11),
    ("{ ($.a = 1 $.b }", "expected '&&', '||' or ')' but found '$' at column 12", 11),
    (
        "{ " + "(" * 17 + "$.a = 1" + ")" * 17 + " }",
        "parentheses nested deeper than 16 at column 19",
        18,
    ),
    ('{ $.a = x"y }', "'\"' inside a bare value at column 10", 9),
    ('{ $.a = "x"y }', "unexpected 'y' after the value at column 12", 11),
    ("[a, b", "expected ']' to close the space-delimited filter at column 6", 5),
    ("[a b]", "expected ',', ']' or an operator (= != < <= > >=) after field 'a' at column 4", 3),
    ("[]", "expected a field name or '...' but found ']' at column 2", 1),
    ("[a, a]", "field name 'a' is used twice at column 5", 4),
    ("[..., a, ...]", "only one '...' is allowed in a space-delimited filter at column 10", 9),
    (
        "[a = 1 || zz = 2]",
        "unknown field 'zz': a condition can only name a field of this filter at column 11",
        10,
    ),
    ("[a = 1 && ]", "expected a field name after '&&' or '||' at column 11", 10),
    ("[a] x", "unexpected text after the space-delimited filter's closing ']' at column 5", 4),
    ("[a, b > x]", "'>' compares numbers: expected a number like 50, -1.5 or 1e+3 at column 9", 8),
    ("[a == 1]", "'==' is not an operator at column 4", 3),
    ("x" * 1025, "filter pattern is longer than 1024 characters at column 1025", 1024),
]


@pytest.mark.parametrize(("pattern", "message", "position"), ERRORS)
def test_errors_name_the_rule_and_column(pattern: str, message: str, position: int) -> None:
    with pytest.raises(FilterPatternError) as info:
        compile_pattern(pattern)
    e = info.value
    assert (str(e), e.position, e.pattern) == (message, position, pattern)
    assert e.field == "filterPattern" and e.rule
    assert isinstance(e, InvalidParameter)


def test_caret_points_at_the_column() -> None:
    with pytest.raises(FilterPatternError) as info:
        compile_pattern('{ $.level = "ERROR"')
    assert info.value.caret() == '{ $.level = "ERROR"\n                   ^'
    with pytest.raises(FilterPatternError) as info:
        compile_pattern("a\tb\t%(%")
    assert info.value.caret() == "a b %(%\n     ^"  # tabs shown as spaces so the caret lines up


def test_hints_say_what_to_do() -> None:
    with pytest.raises(FilterPatternError) as info:
        compile_pattern("{ $.a IS NOT NULL }")
    assert info.value.hint == "use '$.x NOT EXISTS' for a missing key or '!=' to compare"
    with pytest.raises(FilterPatternError) as info:
        compile_pattern("%a!%")
    assert "allowed: letters, digits" in (info.value.hint or "")


def test_length_limit_is_exactly_1024() -> None:
    assert MAX_PATTERN_LENGTH == 1024
    assert compile_pattern("x" * 1024).matches("x" * 1024)


@pytest.mark.parametrize(
    "pattern",
    [
        " ".join(["ERROR"] * 10_000),
        "{ " + " && ".join(["$.a = 1"] * 10_000) + " }",
        "{ " + "(" * 10_000 + "$.a = 1" + ")" * 10_000 + " }",
        "[" + ", ".join(f"f{i}" for i in range(10_000)) + "]",
        "%" + "a*" * 5_000 + "%",
    ],
)
def test_huge_patterns_are_rejected_quickly(pattern: str) -> None:
    """Rejected before any parsing: the work (counted in calls, not timed) does not grow with the pattern."""

    def reject(p: str) -> None:
        with pytest.raises(FilterPatternError, match="longer than 1024"):
            compile_pattern(p)

    reject(pattern)  # warm-up: caches (pytest's match regex) fill once
    bigger = pattern * 10  # made outside the count
    work = _calls(lambda: reject(pattern))
    assert work == _calls(lambda: reject(bigger)) and work < 100, work


def _calls(fn) -> int:
    """Python and C function calls made by fn(): a measure of work that a loaded CI machine cannot skew."""
    count = 0

    def profile(frame, event: str, arg) -> None:
        nonlocal count
        count += event in ("call", "c_call")

    gc.collect()  # no collection (and no finalizer of an earlier test's garbage) inside the count
    gc.disable()
    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
        gc.enable()
    return count


def test_deep_nesting_within_the_length_limit_is_rejected() -> None:
    pattern = "{ " + "(" * 500 + "$.a = 1" + ")" * 500 + " }"
    with pytest.raises(FilterPatternError, match="parentheses nested deeper than 16"):
        compile_pattern(pattern)


# -- match_all, caching, highlights -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "match_all"),
    [
        (None, True),
        ("", True),
        ("   ", True),
        ('" "', True),
        ('""', True),
        ('" " " "', True),
        ('?" " ?x', True),
        ("x", False),
        ('-" "', False),
        ("?x ?y", False),
        ("[...]", False),
        ("{ $.a = * }", False),
    ],
)
def test_match_all(pattern: str | None, match_all: bool) -> None:
    p = compile_pattern(pattern)
    assert p.match_all is match_all
    if match_all:
        assert p.matches("anything") and p.token_query() is None and p.highlights("anything") == []


def test_compile_is_cached() -> None:
    assert compile_pattern("ERROR -x") is compile_pattern("ERROR -x")
    assert compile_pattern("ERROR -x").text == "ERROR -x"


HIGHLIGHTS = [
    ("ERROR", "[ERROR 500] INTERNAL SERVER ERROR", [(1, 6), (28, 33)]),
    ("ERROR", "ERRORS happen", []),  # no match, no spans
    ("ERROR -x", "ERROR ERROR", [(0, 5), (6, 11)]),
    ('"SERVER ERROR"', "[ERROR 500] INTERNAL SERVER ERROR", [(21, 33)]),
    ('"aa"', "aaa", [(0, 3)]),  # overlapping hits merge
    ("?ERROR ?WARN", "WARN then ERROR", [(0, 4), (10, 15)]),
    ("%\\d+%", "a 12 b 345", [(2, 4), (7, 10)]),
    ('"INTERNAL " SERVER', "INTERNAL SERVER ERROR", [(0, 15)]),  # adjacent spans merge
    ('{ $.eventType = "UpdateTrail" }', J1, [(14, 25)]),
    ("{ $.objectList[1].id = 2 }", J1, [(151, 152)]),  # the id after its own key, not the other one
    ("{ $.SomeObject IS NULL }", J1, [(168, 172)]),
    ('{ $.eventType != "x" }', J1, []),
    ('{ $.a = "é" }', '{"a": "\\u00e9"}', [(7, 13)]),  # an escaped value is still found
    ('{ $.a = "é" }', '{"a": "é"}', [(7, 8)]),
    ("[ip, ..., status_code = 404, bytes]", D1, [(77, 80)]),
    ("[..., request = *.html*, status_code = 4*, bytes]", D1, [(51, 75), (77, 80)]),
    ("[w1=ERROR, w2]", L[4], [(0, 5)]),
]


@pytest.mark.parametrize(("pattern", "message", "spans"), HIGHLIGHTS)
def test_highlights(pattern: str, message: str, spans: list[tuple[int, int]]) -> None:
    p = compile_pattern(pattern)
    assert p.highlights(message) == spans
    if p.matches(message):  # what a read's events take: the same spans without matching again
        assert p.highlights(message, matched=True) == spans


def _word_spans(word: str, s: str) -> list[tuple[int, int]]:
    """The definition: every occurrence of `word`, left to right and not overlapping the one
    before, whose letter-or-digit ends do not run into a letter, digit or non-ASCII character."""

    def inside(c: str) -> bool:
        return c > "\x7f" or c.isalnum()

    out, i, n = [], 0, len(word)
    while (i := s.find(word, i)) >= 0:
        left = not inside(word[0]) or i == 0 or not inside(s[i - 1])
        right = not inside(word[-1]) or i + n == len(s) or not inside(s[i + n])
        if left and right:
            out.append((i, i + n))
            i += n
        else:
            i += 1
    merged: list[tuple[int, int]] = []
    for a, b in out:  # highlights() merges touching spans
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def test_bare_word_highlights_are_every_aligned_occurrence() -> None:
    """Random texts over an alphabet of word and edge characters, including runs long enough that
    the str.find path hands over to RE2 (Term._aligned_spans)."""
    rng = random.Random(11)
    for word in ("ab", "a", "a-b", "a_", "é", "aa", "b."):
        p = compile_pattern(word)
        for _ in range(400):
            s = "".join(rng.choice("aab -_é.x") for _ in range(rng.randint(0, 60)))
            if rng.random() < 0.2:
                s = "a" * rng.randint(10, 30) + " " + s
            want = _word_spans(word, s)
            assert p.highlights(s) == want, (word, s)


# -- token queries ----------------------------------------------------------------------------

TOKEN_QUERIES = [
    ("ERROR", ("tok", "error")),
    ("ERROR ARGUMENTS", ("and", [("tok", "error"), ("tok", "arguments")])),
    ("?ERROR ?ARGUMENTS", ("or", [("tok", "error"), ("tok", "arguments")])),
    ("?ERROR ?ARGUMENTS REQUEST", ("tok", "request")),
    ("?ERROR ?%x%", None),  # a branch that narrows nothing
    ("ERROR -ARGUMENTS", ("tok", "error")),
    ("-ERROR", None),
    ("order-42", ("and", [("tok", "order"), ("tok", "42")])),
    ("x_ERROR", ("and", [("tok", "x"), ("tok", "error")])),
    # edge words may be partial: the first may start inside a token, the last may go on past it
    ('"a server error"', ("and", [("tok", "server"), ("pre", "error")])),
    ('"card declined" -retry', ("pre", "declined")),
    ('"der-12"', ("pre", "12")),
    ('" a server error "', ("and", [("tok", "a"), ("tok", "server"), ("tok", "error")])),
    ("%AUTHORIZED%", None),
    ("ERROR %x%", ("tok", "error")),
    ("İstanbul", ("tok", "İstanbul")),  # only ASCII letters fold (logsvc.tokens)
    ("Café-OK", ("and", [("tok", "café"), ("tok", "ok")])),
    ("a\u00a0b", ("tok", "a\u00a0b")),  # non-ASCII spaces are token characters
    ('{ $.eventType = "UpdateTrail" }', ("and", [("tok", "eventtype"), ("tok", "updatetrail")])),
    ('{ $.a = "x y*" }', ("and", [("tok", "a"), ("tok", "x"), ("pre", "y")])),
    ('{ $.a = "*y" }', ("tok", "a")),
    ('{ $.a = "a<b c" }', ("and", [("tok", "a"), ("tok", "c")])),  # `<b` may be written `\u003cb`
    ('{ $.a = "é x" }', ("and", [("tok", "a"), ("tok", "x")])),  # non-ASCII may be \u-escaped
    ("{ $.a > 5 }", ("tok", "a")),
    ("{ $.a = 5 }", ("tok", "a")),  # 5 may be written 5.0 or 5e0
    ("{ $.a IS NULL }", ("and", [("tok", "a"), ("tok", "null")])),
    ("{ $.a NOT EXISTS }", None),
    ("{ $.a = x || $.b NOT EXISTS }", None),
    (
        "{ $.a = x || $.b = y }",
        ("or", [("and", [("tok", "a"), ("tok", "x")]), ("and", [("tok", "b"), ("tok", "y")])]),
    ),
    ("{ $.a = x && $.b NOT EXISTS }", ("and", [("tok", "a"), ("tok", "x")])),
    ("{ $.* = x }", ("tok", "x")),
    ("[w1=ERROR, w2]", ("tok", "error")),
    ("[w1=ERROR || w1=WARNING, w2]", ("or", [("tok", "error"), ("tok", "warning")])),
    ("[w1!=ERROR && w1!=WARNING, w2]", None),
    ("[a = *.html*, b]", ("pre", "html")),  # `.` ends a token: one starts with html
    ("[a = GET*, b = 404]", ("pre", "get")),  # GET* may be GETTY
    ('[a = "GET /x*", b]', ("and", [("tok", "get"), ("pre", "x")])),
]


@pytest.mark.parametrize(("pattern", "query"), TOKEN_QUERIES)
def test_token_query(pattern: str, query: tuple | None) -> None:
    assert compile_pattern(pattern).token_query() == query


WORDS = [
    "ERROR",
    "error",
    "Error",
    "ERRORS",
    "x_y",
    "order-42",
    "42",
    "a",
    "b",
    "ab",
    "İx",
    "ΟΔΟΣ",
    "οδος",
    "é",
    "a.b",
    "a<b",
    "NULL",
    "true",
    "-",
    "_",
    "a\u00a0b",
]
SEPARATORS = [" ", "", "-", "_", ".", ":", "\t", "\n", "[", "]", '"', "<", "Σ", "\u00a0", "\x1c"]
words = st.sampled_from(WORDS)
messages = st.lists(st.tuples(words, st.sampled_from(SEPARATORS)), max_size=8).map(
    lambda parts: "".join(w + s for w, s in parts)
)


def _term(word: str, quoted: bool, prefix: str) -> str:
    body = '"' + word.replace('"', '\\"') + '"' if quoted or word in ("-", "_") else word
    return prefix + body


terms_patterns = st.lists(
    st.builds(_term, words, st.booleans(), st.sampled_from(["", "", "?", "-"])),
    min_size=1,
    max_size=4,
).map(" ".join)


def _json_message(pairs: list[tuple[str, str]], ensure_ascii: bool, go_style: bool) -> str:
    text = json.dumps(dict(pairs), ensure_ascii=ensure_ascii)
    return text.replace("<", "\\u003c") if go_style else text  # as Go's encoder writes it


json_messages = st.builds(
    _json_message, st.lists(st.tuples(words, words), max_size=4), st.booleans(), st.booleans()
)
json_patterns = st.builds(
    lambda k, op, v, quoted: (
        f"{{ $.{k if k.isalnum() else 'x'} {op} "
        f"{json.dumps(v, ensure_ascii=False) if quoted else (v if v.isalnum() else 'z')} }}"
    ),
    words,
    st.sampled_from(["=", "!="]),
    words,
    st.booleans(),
)
delimited_patterns = st.builds(
    lambda n, i, v: (
        "["
        + ", ".join(
            f"f{j} = {json.dumps(v, ensure_ascii=False)}" if j == i else f"f{j}" for j in range(n)
        )
        + "]"
    ),
    st.integers(1, 3),
    st.integers(0, 2),
    words,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(terms_patterns, json_patterns, delimited_patterns), st.one_of(messages, json_messages)
)
def test_token_query_never_excludes_a_match(pattern: str, message: str) -> None:
    try:
        p = compile_pattern(pattern)
    except FilterPatternError:
        return
    if p.matches(message):
        assert evaluate(p.token_query(), index_tokens(message)), (pattern, message, p.token_query())


def test_token_query_soundness_on_the_vectors() -> None:
    rows = (
        UNSTRUCTURED_VECTORS
        + UNSTRUCTURED_DECISIONS
        + REGEX_VECTORS
        + JSON_VECTORS
        + DELIMITED_VECTORS
    )
    for pattern, message, expected in rows:
        p = compile_pattern(pattern)
        if expected:
            assert evaluate(p.token_query(), index_tokens(message)), pattern


# -- fuzzing ----------------------------------------------------------------------------------

PATTERN_PIECES = list("{}[]()$.*\"%\\?-=!<>&|,_ \t\nabcAZ019é^+'") + [
    "&&",
    "||",
    "$.a",
    "$.*",
    "...",
    " IS NULL",
    " NOT EXISTS",
    " IS ",
    '"x"',
    "%a%",
    "[0]",
    "[*]",
    "$.['k']",
    "= ",
    "!= ",
    ">= 1e3",
    "ERROR",
    "\\x41",
    "{2,3}",
    "[a-z]",
    "\\d",
]


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.text(max_size=60), st.lists(st.sampled_from(PATTERN_PIECES), max_size=25).map("".join)
    ),
    st.one_of(st.text(max_size=60), json_messages, messages),
)
def test_only_filter_pattern_errors_and_matching_never_raises(pattern: str, message: str) -> None:
    try:
        p = compile_pattern(pattern)
    except FilterPatternError as e:
        assert 0 <= e.position <= len(pattern)
        assert e.caret().split("\n")[1] == " " * e.position + "^"
        return
    assert isinstance(p.matches(message), bool)
    spans = p.highlights(message)
    assert spans == sorted(spans) and all(0 <= a < b <= len(message) for a, b in spans)
    assert all(spans[i][1] < spans[i + 1][0] for i in range(len(spans) - 1))
    doc = '{"a": [1, {"b": null}], "k": "a b", "x": 1.5e3}'
    assert isinstance(p.matches(doc), bool)
    p.highlights(doc)


HOSTILE_MESSAGES = [
    '{"a": ' * 5000 + "1" + "}" * 5000,  # deeper than json's recursion limit
    '{"n": ' + "9" * 5000 + "}",  # past Python's int-string digit limit
    "[" * 100_000,
    '"' * 10_001,
    "lone surrogate \ud800",
    "\x00\x00",
    "",
    "{",
]


@pytest.mark.parametrize(
    "pattern",
    [
        "ERROR",
        '"a b"',
        "%a.*b%",
        "{ $.a = 1 }",
        "{ $.* = * }",
        "{ $.n > 1 }",
        "{ $.a NOT EXISTS }",
        "[a, b]",
        "[..., a = *]",
        "[a = %x%, ...]",
    ],
)
def test_hostile_messages_never_raise(pattern: str) -> None:
    p = compile_pattern(pattern)
    for message in HOSTILE_MESSAGES:
        assert isinstance(p.matches(message), bool)
        p.highlights(message)


# -- RE2 means what Python's `re` (ASCII, DOTALL) means for every regex AWS allows --------------

REGEX_ATOMS = [
    "a",
    "b",
    ".",
    "[ab]",
    "[^a]",
    "\\d",
    "1",
    "\\s",
    " ",
    "\\x61",
    "\\w",
    "\\W",
    "\\S",
    "\\D",
    "[\\s\\d]",
    "[^\\W]",
    "[^\\s_]",
    "_",
    "[a-b_]",
]
REGEX_QUANTS = ["", "", "*", "+", "?", "{2}", "{0,2}", "{1,3}", "{2,}"]


def _random_regex(rnd: random.Random) -> str:
    alts = []
    for _ in range(rnd.choice([1, 1, 2])):
        body = "".join(
            rnd.choice(REGEX_ATOMS) + rnd.choice(REGEX_QUANTS) for _ in range(rnd.randint(1, 5))
        )
        alts.append(
            ("^" if rnd.random() < 0.2 else "") + body + ("$" if rnd.random() < 0.2 else "")
        )
    return "|".join(alts)


def test_re2_translation_agrees_with_python_re() -> None:
    """The reference is the raw AWS regex, untouched, read by Python `re` (ASCII classes, `.` takes
    newlines). Python's `$` also matches before a final newline, AWS's only at the end: texts for a
    regex with `$` never end in a newline, and the test below pins that case on its own."""
    rnd = random.Random(7)
    for _ in range(2000):
        body = _random_regex(rnd)
        regex = compile_regex(body, 1, Scanner(f"%{body}%"))
        reference = re.compile(body, re.ASCII | re.DOTALL)
        for _ in range(10):
            text = "".join(rnd.choice("ab1 _\n\v\té") for _ in range(rnd.randint(0, 10)))
            if "$" in body:
                text = text.rstrip("\n")
            assert regex.search(text) == (reference.search(text) is not None), (body, text)
            spans = regex.spans(text)
            assert all(0 <= a < b <= len(text) for a, b in spans), (body, text, spans)
            if (
                "|" not in body
            ):  # one alternative: leftmost-longest (RE2) and greedy (re) hits agree
                want = [m.span() for m in reference.finditer(text) if m.end() > m.start()]
                assert spans == want, (body, text)


@pytest.mark.parametrize(
    ("body", "text", "hit"),
    [
        ("a$", "a\n", False),
        ("a$", "a", True),
        ("a\\s$", "a\n", True),
        ("^a", "\na", False),
        ("a.b", "a\nb", True),
        ("\\s", "\v", True),
    ],
)
def test_anchors_and_dot_mean_what_aws_means(body: str, text: str, hit: bool) -> None:
    """`$` is the end of the message (not before a final newline, as in Python), `^` its start, `.` any character."""
    assert compile_pattern(f"%{body}%").matches(text) is hit


@pytest.mark.parametrize(
    "body", [".*a.*b", "a.*a.*a.*b", "\\w*\\w*\\w*x", ".*.*.*.*x", "a?" * 40 + "a" * 40 + "b"]
)
def test_backtracking_prone_regexes_run_in_linear_time(body: str) -> None:
    p = compile_pattern(f"%{body}%")
    started = time.perf_counter()
    assert not p.matches("a" * 20_000)
    assert time.perf_counter() - started < 1.0


# -- delimited splitting: the str.split fast path agrees with the field regex ------------------


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["a", "bb", " ", "\t", "  ", "\u00a0", "\x1c", "x\ny", "7", "é", '"', "[", "]", '""']
        ),
        max_size=12,
    ).map("".join),
    st.integers(1, 4),
    st.sampled_from([None, 0, 1, 3]),
)
def test_delimited_fast_split_agrees(message: str, n: int, ellipsis: int | None) -> None:
    names = [f"f{i}" for i in range(n)]
    if ellipsis is not None:
        names.insert(min(ellipsis, n), "...")
    m = compile_pattern("[" + ", ".join(names) + "]")._delimited
    assert m is not None
    slow = m.fields(message)
    assert m.texts(message) == (None if slow is None else {i: t for i, (t, _) in slow.items()})


SPLIT_FIELDS = [
    # message, the fields' inner texts
    ("", []),
    ("a b\tc", ["a", "b", "c"]),
    (
        '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 404 7',
        ["1.2.3.4", "-", "-", "10/Oct/2000:13:55:36 -0700", "GET / HTTP/1.0", "404", "7"],
    ),
    ('"a b"c', ["a b", "c"]),  # a closed run ends the field; the next starts right after it
    ('x"a b"', ['x"a', 'b"']),  # a quote inside a field is just a character
    ('"a b', ['"a', "b"]),  # an unclosed quote: plain fields
    ("[a [b] c", ["a [b", "c"]),  # a bracket run ends at the first `]`
    ("[a b", ["[a", "b"]),  # unclosed: plain fields (the loop's path)
    ("[ [ x ]", [" [ x "]),  # every `[` closed later: the first run takes it all
    ("] [", ["]", "["]),
    ('""', [""]),
    ("[]", [""]),
    ("a\u00a0b c", ["a\u00a0b", "c"]),  # a non-ASCII space is inside a field
]


@pytest.mark.parametrize(("message", "texts"), SPLIT_FIELDS)
def test_split_fields(message: str, texts: list[str]) -> None:
    from logsvc.filterpattern.delimited import split_fields

    got = split_fields(message)
    assert [message[a:b] for _, (a, b) in got] == texts
    assert [message[a:b] for _, (a, b) in split_fields(message, 2)] == texts[:2]


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.sampled_from(['"', "[", "]", " ", "\t", "a", "bb", "\u00a0", "\x1c"]), max_size=16
    ).map("".join),
    st.sampled_from([None, 1, 2, 5]),
)
def test_split_fields_regex_agrees_with_the_loop(message: str, limit: int | None) -> None:
    """The one-regex cut (every `[` closed later) and the loop (any line) are the same function."""
    from logsvc.filterpattern import delimited

    assert delimited.split_fields(message, limit) == delimited._split_fields_loop(message, limit)


# -- speed ------------------------------------------------------------------------------------


def test_misses_are_cheap() -> None:
    lines = [
        f"2024-05-01T12:00:00Z\t{i:08x}\tINFO\tprocessed order-{i} for customer {i % 97} in {i % 50} ms"
        for i in range(2000)
    ]
    for pattern in (
        "ERROR",
        "ERROR timeout",
        '"connection reset"',
        "?ERROR ?WARN",
        '{ $.level = "ERROR" }',
        "[ts, rid, level = ERROR, msg]",
    ):
        match = compile_pattern(pattern).matches
        assert not any(match(line) for line in lines), pattern  # misses, all of them
        # counted, not timed: a miss is a few C-level substring checks (2-5 calls), never work per character
        per_line = _calls(lambda match=match: [match(line) for line in lines]) / len(lines)
        assert per_line < 10, (pattern, per_line)


def _word_oracle(word: str, s: str) -> bool:
    """A bare word at token edges, spelled independently of terms.py: no ASCII letter or digit and no
    non-ASCII character may touch it on a side where the word itself starts/ends with one."""
    inside = r"[A-Za-z0-9\u0080-\U0010ffff]"
    left = f"(?<!{inside})" if re.match(inside, word[0]) else ""
    right = f"(?!{inside})" if re.match(inside, word[-1]) else ""
    return re.search(left + re.escape(word) + right, s) is not None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    word=st.text(alphabet="aA1_-.é", min_size=1, max_size=4).filter(
        lambda w: w.strip("_-.") != "" and not w.startswith("-")  # `-w` excludes w
    ),
    s=st.text(alphabet="aA1_-. é\t", max_size=40),
)
def test_bare_word_matching_agrees_with_an_independent_oracle(word: str, s: str) -> None:
    """The bare-word test tries str.find hits first and hands over to RE2 after a few (`aa` in
    `aaaa…`); both paths must answer as the token-edge rule does."""
    try:
        p = compile_pattern(word)
    except FilterPatternError:
        return
    if p.kind != "terms":
        return
    assert p.matches(s) == _word_oracle(word, s), (word, s)
    many = (word + "x") * 12 + " " + word  # more hits than the find budget, the match last
    assert p.matches(many) == _word_oracle(word, many), (word, many)
