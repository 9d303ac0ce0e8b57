"""DuckDB's connection in a process: shared by the queries that overlap, closed once idle.

DuckDB keeps a query's working memory in its connection after the query ends (a process stayed at
442 MB after one `parse ... | stats` over 10M lines, 216 MB once the connection closed), so
`colquery.session` closes the connection `idle_s` after its last session. What a test can see of
that from outside: a table made in the in-memory database is there for every session until the
connection closes, and gone after (a new database). Real DuckDB throughout.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from logsvc import colquery

IDLE = 1.0  # the margin a loaded 2-core CI machine gets between two sessions that must share
WAIT = IDLE * 2.5  # past it: the idle timer has fired
MEMORY = 64 * 1024 * 1024


def _has_marker(cur) -> bool:
    try:
        cur.execute("SELECT n FROM marker").fetchall()
    except duckdb.CatalogException:
        return False
    return True


def _session(tmp: Path):
    return colquery.session(tmp / "duckdb", MEMORY, idle_s=IDLE)


def test_a_connection_unused_for_idle_s_closes_and_the_next_session_connects_again(tmp_path):
    with _session(tmp_path) as cur:
        cur.execute("CREATE TABLE marker AS SELECT 1 AS n")
    with _session(tmp_path) as cur:  # within idle_s: the same database
        assert _has_marker(cur)
    time.sleep(WAIT)
    with _session(tmp_path) as cur:  # closed meanwhile: a new, empty database that works
        assert not _has_marker(cur)
        assert cur.execute("SELECT 40 + 2").fetchone() == (42,)


def test_a_session_open_past_idle_s_keeps_its_connection(tmp_path):
    """The idle clock starts when the last session ends: a long query is never closed under."""
    with _session(tmp_path) as long_running:
        long_running.execute("CREATE TABLE marker AS SELECT 1 AS n")
        with _session(tmp_path) as short:  # ends while the long one runs on
            assert _has_marker(short)
        time.sleep(WAIT)
        assert _has_marker(long_running)
        assert long_running.execute("SELECT count(*) FROM range(1000)").fetchone() == (1000,)
    with _session(tmp_path) as cur:  # right after it ended: still the same database
        assert _has_marker(cur)


def test_a_session_opened_while_the_idle_clock_runs_restarts_it(tmp_path):
    with _session(tmp_path) as cur:
        cur.execute("CREATE TABLE marker AS SELECT 1 AS n")
    deadline = time.monotonic() + IDLE * 3
    while time.monotonic() < deadline:  # sessions closer together than idle_s: never closed
        with _session(tmp_path) as cur:
            assert _has_marker(cur)
        time.sleep(0.1)
    time.sleep(WAIT)
    with _session(tmp_path) as cur:
        assert not _has_marker(cur)


def test_concurrent_sessions_share_one_connection_and_each_gets_its_answer(tmp_path):
    with _session(tmp_path) as cur:
        cur.execute("CREATE TABLE marker AS SELECT range AS n FROM range(100000)")
    answers: list[tuple] = []
    errors: list[BaseException] = []

    def query(k: int) -> None:
        try:
            with _session(tmp_path) as cur:
                got = cur.execute("SELECT count(*) FROM marker WHERE n % ? = 0", [k]).fetchone()
                answers.append((k, got[0]))
        except BaseException as e:  # reported below: a thread's failure must fail the test
            errors.append(e)

    threads = [threading.Thread(target=query, args=(k,)) for k in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(answers) == [(k, len(range(0, 100000, k))) for k in range(1, 9)]


@pytest.mark.parametrize("bad", ["SELECT * FROM no_such_table", "SELECT 1/"])
def test_a_failed_query_still_ends_its_session(tmp_path, bad):
    with _session(tmp_path) as cur:
        cur.execute("CREATE TABLE marker AS SELECT 1 AS n")
    with pytest.raises(duckdb.Error), _session(tmp_path) as cur:
        cur.execute(bad)
    time.sleep(WAIT)  # the failed session was released: the idle clock ran and closed it
    with _session(tmp_path) as cur:
        assert not _has_marker(cur)
