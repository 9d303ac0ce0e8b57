"""The one parser of time and yes/no arguments (`logsvc.timeargs`), table-driven."""

import pytest

from logsvc.errors import InvalidParameter
from logsvc.timeargs import parse_bool, parse_time

NOW = 1_764_669_600_000  # 2025-12-02T10:00:00Z


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("1733130000000", 1733130000000),
        ("0", 0),
        (" 42 ", 42),
        ("15m", NOW - 15 * 60_000),
        ("2h", NOW - 2 * 3_600_000),
        ("1d", NOW - 86_400_000),
        ("1w", NOW - 604_800_000),
        ("30s", NOW - 30_000),
        ("2025-12-02T10:00:00Z", NOW),
        ("2025-12-02T10:00:00z", NOW),
        ("2025-12-02T10:00:00.250Z", NOW + 250),
        ("2025-12-02 11:00:00+01:00", NOW),
        ("2025-12-02T10:00:00", NOW),  # no zone: UTC
        ("2025-12-02", NOW - 10 * 3_600_000),
    ],
)
def test_parse_time_accepts(raw: str, want: int) -> None:
    assert parse_time(raw, "start", now_ms=NOW) == want


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("yesterday", "epoch ms | ISO-8601 | <n>[smhdw]"),
        ("15x", "epoch ms | ISO-8601 | <n>[smhdw]"),
        ("", "epoch ms | ISO-8601 | <n>[smhdw]"),
        (
            "Dec 2 10:00:00",
            "epoch ms | ISO-8601 | <n>[smhdw]",
        ),  # a syslog form belongs in log lines, not URLs
        ("-5", "0..253402300799999"),
        ("253402300800000", "0..253402300799999"),
        # digits str.isdigit() takes and int() refuses (Schemathesis found the 500s)
        ("¹", "epoch ms | ISO-8601 | <n>[smhdw]"),
        ("-²", "epoch ms | ISO-8601 | <n>[smhdw]"),
        ("5¹m", "epoch ms | ISO-8601 | <n>[smhdw]"),
        ("١٧٠٠٠٠٠٠٠٠٠٠٠", "epoch ms | ISO-8601 | <n>[smhdw]"),  # Arabic-Indic: int() takes them
    ],
)
def test_parse_time_refuses_naming_field_and_rule(raw: str, rule: str) -> None:
    with pytest.raises(InvalidParameter) as e:
        parse_time(raw, "end", now_ms=NOW)
    assert (e.value.field, e.value.rule) == ("end", rule)


@pytest.mark.parametrize(
    ("raw", "default", "empty_ok", "want"),
    [
        (None, True, True, True),
        ("", False, True, False),
        ("TRUE", False, True, True),
        ("yes", False, True, True),
        ("1", False, True, True),
        ("No", True, True, False),
        ("0", True, True, False),
    ],
)
def test_parse_bool(raw, default, empty_ok, want) -> None:
    assert parse_bool(raw, "x", default, empty_ok=empty_ok) is want


@pytest.mark.parametrize("raw", ["maybe", "2", "on"])
def test_parse_bool_refuses(raw: str) -> None:
    with pytest.raises(InvalidParameter) as e:
        parse_bool(raw, "levels", False)
    assert e.value.field == "levels" and e.value.rule == "true|false"


def test_empty_is_refused_where_empty_is_not_ok() -> None:
    with pytest.raises(InvalidParameter):
        parse_bool("", "internal", False, empty_ok=False)
