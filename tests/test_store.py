"""The store: groups and streams as files, atomic appends, nothing ever outside the data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logsvc.errors import AlreadyExists, InvalidParameter, NotFound
from logsvc.store import Store

HOSTILE = ["../x", "/../../etc", "..", ".", "#", "a", "A", "/a", "/A"]


def _all_files(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, fs in os.walk(root) for f in fs]


def test_hostile_group_names_stay_inside_and_apart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(data)
    for g in HOSTILE:
        store.ensure_stream(g, "../../s")
        store.append_events(g, "../../s", [(1_700_000_000_000, f"from {g}")])
    assert [g.name for g in store.list_groups()] == sorted(HOSTILE)
    for f in _all_files(tmp_path):
        assert data.resolve() in f.resolve().parents, f
    for g in HOSTILE:
        [info] = store.list_streams(g)
        assert info.name == "../../s"
        assert store.stream_file(g, "../../s").read_text().endswith(f"from {g}\n")


def test_long_and_unicode_names_round_trip(store: Store) -> None:
    group = "/aws/lambda/" + "g" * 500
    stream = "é" * 300 + "/[$LATEST]"
    store.ensure_stream(group, stream)
    assert [g.name for g in store.list_groups()] == [group]
    assert [s.name for s in store.list_streams(group)] == [stream]
    assert store.locate(store.stream_file(group, stream)) == (group, stream)


@pytest.mark.parametrize(
    ("group", "stream"), [("", "s"), ("g g", "s"), ("g", "a:b"), ("g", "*"), ("g", "x" * 513)]
)
def test_invalid_names_are_refused(store: Store, group: str, stream: str) -> None:
    with pytest.raises(InvalidParameter):
        store.ensure_stream(group, stream)


def test_create_twice_and_missing(store: Store) -> None:
    store.create_group("g")
    with pytest.raises(AlreadyExists):
        store.create_group("g")
    with pytest.raises(NotFound):
        store.get_stream("g", "nope")
    with pytest.raises(NotFound):
        store.create_stream("missing", "s")
    store.create_stream("g", "s")
    with pytest.raises(AlreadyExists):
        store.create_stream("g", "s")


def test_symlinked_stream_is_refused(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    store.create_group("g")
    link = store.stream_file("g", "s")
    link.symlink_to(outside)
    assert store.list_streams("g") == []
    with pytest.raises((NotFound, InvalidParameter)):
        store.append_events("g", "s", [(1, "x")])
    assert outside.read_text() == "secret\n"


def test_group_metadata(store: Store) -> None:
    store.create_group("g", tags={"team": "a"})
    store.update_group("g", retention_days=7, tags={"env": "dev"}, untag=["team"])
    info = store.get_group("g")
    assert info.retention_days == 7 and info.tags == {"env": "dev"}
    store.update_group("g", retention_days=None)
    assert store.get_group("g").retention_days is None
    store.delete_group("g")
    with pytest.raises(NotFound):
        store.get_group("g")


def test_append_is_one_line_per_event(store: Store) -> None:
    store.ensure_stream("g", "s")
    store.append_events("g", "s", [(1_700_000_000_000, "a\nb"), (1_700_000_000_001, "c")])
    text = store.stream_file("g", "s").read_bytes()
    assert text.count(b"\n") == 2
