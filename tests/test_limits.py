"""`limits.event_bytes`: an event's size as AWS counts it, the one count behind PutLogEvents'
checks, the senders' batches and a read's 1 MiB page."""

from __future__ import annotations

import pytest

from logsvc.limits import event_bytes


@pytest.mark.parametrize(
    ("message", "size"),
    [
        ("", 26),
        ("hello", 31),
        ("é", 28),  # two bytes in UTF-8, one character
        ("日本", 32),  # three bytes each
        ("🙂", 30),  # four bytes, one code point
        ("a\ud800b", 31),  # a lone surrogate (JSON's "\ud800") counts as its 3 bytes, never raises
        ("x" * 1_048_550, 1_048_576),  # exactly AWS's per-event limit
    ],
)
def test_an_events_size_is_its_utf8_bytes_plus_26(message: str, size: int) -> None:
    assert event_bytes(message) == size
