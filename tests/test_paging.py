"""The one token codec (logsvc/paging.py): what it refuses, and its per-data-dir key."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from logsvc import paging
from logsvc.errors import InvalidParameter, StorageError

KEY = b"k" * 32


def test_round_trip_per_kind() -> None:
    c = paging.Codec(KEY)
    for value in ("name", 42, ["fp", 1, "skey", 2], {"a": 1}):
        assert c.decode("kind", c.encode("kind", value)) == value


def _flip(token: str, i: int) -> str:
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


GOOD = paging.Codec(KEY).encode("kind", ["fp", 1, "skey", 2])
REFUSED = [
    ("empty", ""),
    ("NUL bytes", "\x00\x01"),
    ("a number", "-1"),
    ("old base64 JSON", base64.urlsafe_b64encode(b'"a"').decode()),
    ("no version", GOOD[3:]),
    ("another version", "v2" + GOOD[2:]),
    ("payload edited", _flip(GOOD, 5)),
    ("signature edited", _flip(GOOD, len(GOOD) - 3)),
    ("truncated", GOOD[:-1]),
    ("extended", GOOD + "A"),
    ("another kind", paging.Codec(KEY).encode("other", ["fp", 1, "skey", 2])),
    ("another key", paging.Codec(b"x" * 32).encode("kind", ["fp", 1, "skey", 2])),
    ("too long", "v1." + "A" * paging.MAX_TOKEN),
    ("not a string", None),
]


@pytest.mark.parametrize(("why", "token"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refuses_what_it_did_not_issue(why: str, token: str) -> None:
    with pytest.raises(InvalidParameter) as exc:
        paging.Codec(KEY).decode("kind", token, field="cursor")
    assert exc.value.field == "cursor", why
    assert exc.value.rule


def test_check_digits_depend_on_key_kind_and_text() -> None:
    a, b = paging.Codec(KEY), paging.Codec(b"x" * 32)
    d = a.check_digits("gle", "f/1")
    assert len(d) == 16 and d.isdigit()
    assert d == a.check_digits("gle", "f/1")
    assert (
        len(
            {
                d,
                b.check_digits("gle", "f/1"),
                a.check_digits("other", "f/1"),
                a.check_digits("gle", "f/2"),
            }
        )
        == 4
    )


def test_processes_racing_for_a_new_data_dir_agree_on_one_key(tmp_path: Path) -> None:
    """Workers start together: the first `link` wins and every process reads that whole key."""
    code = (
        "import hashlib, sys; from logsvc import paging; "
        "print(hashlib.sha256(paging.codec(sys.argv[1]).encode('k', 1).encode()).hexdigest())"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(6)
    ]
    outs = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(outs) == 1 and all(outs)
    key = tmp_path / paging.KEY_FILE
    st = os.lstat(key)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == [paging.KEY_FILE]
    expected = hashlib.sha256(paging.Codec(key.read_bytes()).encode("k", 1).encode()).hexdigest()
    assert outs == {expected}


def test_a_symlinked_key_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(KEY)
    data = tmp_path / "data"
    data.mkdir()
    (data / paging.KEY_FILE).symlink_to(outside)
    with pytest.raises(StorageError):
        paging.codec(data)


def test_a_damaged_key_is_an_error_not_a_silent_new_key(tmp_path: Path) -> None:
    (tmp_path / paging.KEY_FILE).write_bytes(b"short")
    with pytest.raises(StorageError):
        paging.codec(tmp_path)
    assert (tmp_path / paging.KEY_FILE).read_bytes() == b"short"
