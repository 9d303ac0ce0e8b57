"""bench/corpus_real.py: the realistic corpus is the same bytes every time, and its event map (the
count check's notion of a multi-line event) agrees with how logsvc splits the files into events.

The benchmark's count check turns rg's matching lines into events with the generator's own map
(`events.json`), not with logsvc's splitter; if the two disagreed, a correct logsvc would fail the
check (or a wrong one pass it), so this pins that they agree on the corpus the benchmark uses.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import corpus_real
from logsvc import lines

N = 6000


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "groups").rglob("*.log"))
    }


def test_same_seed_same_bytes_and_facts(tmp_path: Path) -> None:
    a = corpus_real.generate(tmp_path / "a", N, procs=1)
    b = corpus_real.generate(tmp_path / "b", N, procs=1)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert (
        len(digest(tmp_path / "a"))
        == a["streams"]
        == sum(v[2] for v in corpus_real.GROUPS.values())
    )
    for k in (
        "lines",
        "bytes",
        "request_id",
        "mid_word",
        "absent_word",
        "vocabulary",
        "events_multiline",
    ):
        assert a[k] == b[k], k
    assert a["vocabulary"]["words"] > 3000  # a natural vocabulary, not 64 words


def test_event_map_matches_logsvc_splitting(tmp_path: Path) -> None:
    info = corpus_real.generate(tmp_path, N, procs=1)
    event_map = json.loads((tmp_path / "events.json").read_text())
    assert info["events_multiline"] > 0 and event_map  # the sam streams do hold tracebacks
    for path in sorted((tmp_path / "groups").rglob("*.log")):
        rel = str(path.relative_to(tmp_path))
        data = path.read_bytes()
        line_starts = {0: 1}
        pos = 0
        for i, line in enumerate(data.split(b"\n")[:-1], start=1):
            line_starts[pos] = i
            pos += len(line) + 1
        events, used = lines.split_events(data, flush=True)
        assert used == len(data)
        multi = []
        for ev in events:
            first = line_starts[ev.start]
            n = data.count(b"\n", ev.start, ev.end)
            if n > 1:
                multi.append([first, n])
        assert multi == event_map.get(rel, []), rel


def test_chosen_queries_are_what_they_claim(tmp_path: Path) -> None:
    info = corpus_real.generate(tmp_path, N, procs=1)
    text = b"".join(p.read_bytes() for p in sorted((tmp_path / "groups").rglob("*.log"))).decode()
    words = set(text.replace("\t", " ").replace("\r", " ").replace("\n", " ").split(" "))
    assert not re.search(rf"\b{info['absent_word']}\b", text)
    assert 3 <= text.count(info["request_id"]) <= 12  # START, the runtime's lines, END, REPORT
    assert info["mid_word"] in words
