"""The one flock election (logsvc/locks.py), exercised across real processes: the ingester, the
invoker's owner and `logsvc reindex` all rely on exactly one winner that the kernel frees when
the holder releases or dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from logsvc import locks, safeio

HOLDER = """
import sys
from logsvc import locks
fd = locks.try_hold(sys.argv[1], *sys.argv[2:])
print("held" if fd is not None else "refused", flush=True)
if fd is not None:
    sys.stdin.readline()          # parent says: release
    locks.release(fd)
    print("released", flush=True)
sys.stdin.readline()              # parent says: exit (or kills us)
"""


class Child:
    """A separate process that tries to hold a lock and releases it when told."""

    def __init__(self, root: Path, *path: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(root), *path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.said = self.read()

    def read(self) -> str:
        line = self.proc.stdout.readline().strip()  # the child answers at once; EOF means it died
        assert line, f"the holder process said nothing (exit {self.proc.poll()})"
        return line

    def tell(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdin.close()
        self.proc.stdout.close()


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Child]:
    c = Child(tmp_path, *locks.INDEX)
    yield c
    c.stop()


def test_a_held_lock_refuses_everyone_else_and_names_its_holder(
    tmp_path: Path, child: Child
) -> None:
    assert child.said == "held"
    assert locks.holder(tmp_path, *locks.INDEX) == child.proc.pid
    assert locks.try_hold(tmp_path, *locks.INDEX) is None
    with locks.held(tmp_path, *locks.INDEX) as ok:
        assert ok is False
    other = Child(tmp_path, *locks.INDEX)
    try:
        assert other.said == "refused"
    finally:
        other.stop()


def test_a_released_lock_is_free_and_names_no_holder(tmp_path: Path, child: Child) -> None:
    assert child.said == "held"
    child.tell()
    assert child.read() == "released"
    assert child.proc.poll() is None  # still alive: released, not died
    assert locks.holder(tmp_path, *locks.INDEX) is None
    with locks.held(tmp_path, *locks.INDEX) as ok:
        assert ok is True
        assert locks.holder(tmp_path, *locks.INDEX) == os.getpid()
    assert locks.holder(tmp_path, *locks.INDEX) is None


def test_the_lock_of_a_killed_holder_goes_to_the_next_try(tmp_path: Path, child: Child) -> None:
    assert child.said == "held"
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait(timeout=10)
    assert locks.holder(tmp_path, *locks.INDEX) is None  # its pid is still written, but it is dead
    fd = locks.try_hold(tmp_path, *locks.INDEX)
    assert fd is not None
    try:
        assert locks.holder(tmp_path, *locks.INDEX) == os.getpid()
    finally:
        locks.release(fd)


def test_a_wait_gives_up_at_its_deadline_or_takes_the_lock_once_released(
    tmp_path: Path, child: Child
) -> None:
    """`wait` (reindex waiting for the column builder) retries until its deadline, no longer."""
    assert child.said == "held"
    t0 = time.monotonic()
    assert locks.try_hold(tmp_path, *locks.INDEX, wait=0.3) is None
    assert 0.3 <= time.monotonic() - t0 < 5
    timer = threading.Timer(0.2, child.tell)  # the holder lets go while we wait
    timer.start()
    try:
        with locks.held(tmp_path, *locks.INDEX, wait=10.0) as ok:
            assert ok is True
            assert locks.holder(tmp_path, *locks.INDEX) == os.getpid()
    finally:
        timer.join()
    assert child.read() == "released"


def test_a_lock_in_a_subfolder_is_independent_of_another(tmp_path: Path, child: Child) -> None:
    (tmp_path / "invoker").mkdir()
    assert child.said == "held"  # index.lock
    with locks.held(tmp_path, *locks.INVOKER) as ok:
        assert ok is True


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("keep me")
    os.symlink(secret, tmp_path / "index.lock")
    with pytest.raises(safeio.Refused):
        locks.try_hold(tmp_path, *locks.INDEX)
    assert secret.read_text() == "keep me"
