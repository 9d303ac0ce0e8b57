"""Load, short form: bench/load.py for ~10 s, 25 tails, 1,000 lines/s in CI (60 s with LOGSVC_FULL_TESTS=1, or run bench/load.py).

50 SSE tail clients + ~2,000 lines/s appended to 10 stream files + PutLogEvents batches (boto3)
+ searches, against a real server. Zero errors; every client receives every line exactly once;
server RSS does not keep growing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import start_server
from tests.helpers_faults import FULL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load import run


def test_tails_appends_puts_and_searches_under_load(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = start_server(data_dir, env={"LOGSVC_THREADS": "128"})
    try:
        res = run(
            server.url,
            data_dir,
            server.proc.pid,
            seconds=60 if FULL else 10,
            clients=50 if FULL else 25,
            rate=2000 if FULL else 1000,
            searches=5,
            settle=60,
        )
    finally:
        server.stop()
    assert res["errors"] == 0, res["error_sample"]
    assert res["lines_lost_per_client_max"] == 0 and res["duplicates_per_client_max"] == 0, res
    assert res["clients_complete"] == (50 if FULL else 25)
    assert res["search_misses"] == 0
    assert res["put_log_events"], (
        "the CloudWatch API is there: PutLogEvents must be part of the load"
    )
    curve = res["rss_mb_curve"]
    # flat: the second half does not grow by more than 25% over the first half's peak (warm-up allowed)
    half = curve[len(curve) // 2 :]
    assert max(half) <= max(curve[: len(curve) // 2]) * 1.25 + 20, f"RSS keeps growing: {curve}"
