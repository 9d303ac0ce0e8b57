"""model.py: event ids as their docstring defines them (oracle: hashlib here, not model.py), with
the per-file memo of their hash half churned; events built by slots equal the dataclass's own."""

from __future__ import annotations

import hashlib
import random

from logsvc import model
from logsvc.model import LogEvent, make_event_id, new_event


def _id(group: str, stream: str, offset: int, ident: bytes, end: int) -> str:
    h = hashlib.blake2b(f"{group}\0{stream}".encode(), digest_size=8)
    h.update(b"\0" + ident[: 8 + min(64, max(end, 0))])
    return f"{offset:016d}{h.hexdigest()}"


def test_event_ids_follow_their_definition_through_the_memo() -> None:
    rnd = random.Random(7)
    files = [
        (
            f"/aws/lambda/f{i % 5}",
            f"s{i}",
            rnd.randbytes(8) + rnd.randbytes(rnd.choice((0, 10, 64))),
        )
        for i in range(40)
    ]
    # the same bytes in a new object (another read of the same file) must give the same id
    copies = [(g, s, bytes(bytearray(ident))) for g, s, ident in files]
    for _ in range(
        3 * model.ID_TAILS_MAX
    ):  # more keys than the memo holds: it is cleared under way
        g, s, ident = rnd.choice(files + copies)
        end = rnd.choice((0, 1, 5, 63, 64, 65, 10_000, rnd.randrange(1 << 40)))
        off = rnd.randrange(max(end, 1))
        assert make_event_id(g, s, off, ident, end) == _id(g, s, off, ident, end)
        if rnd.random() < 0.3:
            ident2 = ident[:8] + rnd.randbytes(64)  # a different file: never the cached half
            assert make_event_id(g, s, off, ident2, end) == _id(g, s, off, ident2, end)


def test_an_id_differs_by_each_part_it_covers() -> None:
    ident = b"\x01" * 8 + b"head" * 16
    base = make_event_id("g", "s", 100, ident, 200)
    assert make_event_id("g", "s2", 100, ident, 200) != base
    assert make_event_id("g2", "s", 100, ident, 200) != base
    assert make_event_id("g", "s", 101, ident, 200) != base
    assert make_event_id("g", "s", 100, b"\x02" + ident[1:], 200) != base
    assert make_event_id("g", "s", 100, ident[:-1] + b"x", 200) != base
    # head bytes past the event's end do not count: the id is fixed once the event exists
    assert make_event_id("g", "s", 0, ident[:20] + b"x" * 52, 12) == make_event_id(
        "g", "s", 0, ident, 12
    )


def test_new_event_is_the_dataclass_event() -> None:
    args = ("g", "s", 3, 1_700_000_000_000, 1_700_000_000_500, "msg", {"level": "INFO"}, 9, b"i")
    ev = new_event(*args)
    assert ev == LogEvent(*args)
    assert type(ev) is LogEvent
    assert ev.event_id == make_event_id("g", "s", 3, b"i", 9)
    assert [getattr(ev, f) for f in LogEvent.__slots__] == list(args)


def test_stream_keys_are_lower_case_hex_of_one_length() -> None:
    """Newest-first reads order streams by the complement of each hex digit of their key
    (query._desc): that reverses the order only for keys of one length over that alphabet."""
    import re

    from logsvc.model import stream_key

    names = [("g", "s"), ("/aws/lambda/f", "2026/11/27/[$LATEST]abc"), ("é", "ü" * 300), ("", "")]
    for group, stream in names:
        assert re.fullmatch(r"[0-9a-f]{16}", stream_key(group, stream)), (group, stream)
