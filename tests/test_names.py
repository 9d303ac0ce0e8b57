"""Names: CloudWatch's rules, and an encoding that keeps every valid name apart and inside its folder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logsvc import names
from logsvc.errors import InvalidParameter


@pytest.mark.parametrize(
    "name",
    ["/aws/lambda/fn", "a", "/a", "..", ".", "#", "a.b-c_d/e#f", "x" * 512, "/../../etc", "../x"],
)
def test_valid_groups_round_trip(name: str) -> None:
    names.validate_group(name)
    seg = names.encode_segment(name)
    assert "/" not in seg and seg not in (".", "..") and len(seg) <= names.MAX_SEGMENT
    if not names.is_hashed(seg):
        assert names.decode_segment(seg) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "group must not be empty (1-512 characters of [.-_/#A-Za-z0-9])"),
        (
            "x" * 600,
            "group is 600 characters; the limit is 512 (1-512 characters of [.-_/#A-Za-z0-9])",
        ),
        (
            "has space",
            "group contains ' '; log group names allow 1-512 characters of [.-_/#A-Za-z0-9]",
        ),
        ("a:b", "group contains ':'; log group names allow 1-512 characters of [.-_/#A-Za-z0-9]"),
        (None, "group must not be empty (1-512 characters of [.-_/#A-Za-z0-9])"),
    ],
)
def test_invalid_groups_name_the_rule(name: object, message: str) -> None:
    with pytest.raises(InvalidParameter) as e:
        names.validate_group(name)
    assert str(e.value) == message
    assert e.value.field == "group"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "stream must not be empty (1-512 characters, not ':' or '*')"),
        ("a:b", "stream contains ':'; log stream names allow 1-512 characters, not ':' or '*'"),
        ("a*", "stream contains '*'; log stream names allow 1-512 characters, not ':' or '*'"),
        (
            "y" * 513,
            "stream is 513 characters; the limit is 512 (1-512 characters, not ':' or '*')",
        ),
    ],
)
def test_invalid_streams_name_the_rule(name: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as e:
        names.validate_stream(name)
    assert str(e.value) == message


def test_names_differing_in_case_or_leading_slash_stay_apart() -> None:
    segs = {names.encode_segment(n) for n in ["a", "A", "/a", "/A", "a/", "a.", "a~2E"]}
    assert len(segs) == 7


def test_non_canonical_segments_are_rejected() -> None:
    with pytest.raises(InvalidParameter):
        names.decode_segment("~61")  # 'a' spelled as an escape


@given(
    st.text(min_size=1, max_size=512).filter(
        lambda s: ":" not in s and "*" not in s and "\x00" not in s
    )
)
def test_any_stream_name_encodes_to_one_safe_segment(name: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return
    seg = names.encode_segment(name)
    assert "/" not in seg and "\x00" not in seg and seg not in (".", "..")
    assert len(seg.encode()) <= names.MAX_SEGMENT
    if not names.is_hashed(seg):
        assert names.decode_segment(seg) == name
