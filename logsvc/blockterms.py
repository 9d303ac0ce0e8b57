"""A block's index terms (its words, for whoosh's postings, and a Bloom filter of every other token),
worked out in a helper process while the ingester cuts the next blocks and writes whoosh documents.

Why: tokenising and the Bloom filter are a third of the ingester's time (1M realistic lines: 5.6 s
of 16.8 s), pure CPU on bytes the ingester already holds, and the ingesting process has one core of
Python. Helper processes (HELPERS, blocks in turn) take them to the other core; a block's bytes
cross a pipe (~0.03 ms for 300 KB) and its terms come back.

`terms` is the one definition: inline and in the helper alike. A block under INLINE_BYTES (a live
stream's trickle) is done inline, where the round trip costs more than it saves. The helper is
`python -m logsvc.blockterms <parent pid>` (a fresh interpreter, like the column builder and the
index merges: forking a process with hundreds of threads is not safe, and multiprocessing's spawn
would run the embedding program's main script again), dies with its parent
(`children.die_with_parent`), and when one fails (killed, out of memory) the blocks it had are
worked out inline and a new helper starts at its next block.

Protocol: each request is a block's bytes behind an 8-byte length, written by a thread of the
ingesting process (so neither side can block the other on a full pipe, whatever the sizes); each
answer, in request order, is the words joined by newlines (ASCII letters only) and the Bloom
filter, each behind a 4-byte length. Answers are asked for in request order: one not asked for
when a later one is (the block's step failed) is read and dropped.
"""

from __future__ import annotations

import logging
import os
import queue
import struct
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable

from logsvc.index import build_bloom, split_terms
from logsvc.tokens import index_tokens_bytes

log = logging.getLogger("logsvc.ingest")

INLINE_BYTES = 64 * 1024  # blocks smaller than this are tokenised in the ingesting thread
# Helper processes per ingester. With one, the ingester waited for its answers 22% of the time
# while the helper sat idle through the ingester's reads and commits (py-spy, 1M realistic lines);
# with two, blocks alternate between them. Server start to indexed, runs alternating one/two:
# 1M 16.2 -> 12.9 s (four pairs), 10M 127 -> 113 s (four pairs, each pair faster with two). Three
# did no better than two (1M 10.5 vs 10.7 s): the ingester's own share is then the longest part.
HELPERS = 2

Terms = tuple[list[str], bytes]  # (whoosh words, Bloom filter of the other tokens)
_REQUEST = struct.Struct("<Q")
_PART = struct.Struct("<I")


def terms(raw: bytes) -> Terms:
    """The index terms of a block's bytes."""
    words, other = split_terms(index_tokens_bytes(raw))
    return words, build_bloom(other)


class _Gone(Exception):
    """The helper process ended (or its pipe broke)."""


class _Child:
    """One helper process: requests go in through a writer thread, answers come back in order."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logsvc.blockterms", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.todo: queue.SimpleQueue[bytes | memoryview | None] = queue.SimpleQueue()
        self.sent = 0  # requests handed to the writer
        self.read = 0  # answers read
        self.broken = False
        self.abandoned = False  # stopped without close(): the writer thread reaps the helper
        threading.Thread(target=self._write, name="logsvc-blockterms", daemon=True).start()

    def _write(self) -> None:
        pipe = self.proc.stdin
        assert pipe is not None
        try:
            while (raw := self.todo.get()) is not None:
                pipe.write(_REQUEST.pack(len(raw)))
                pipe.write(raw)
                pipe.flush()
        except (OSError, ValueError):
            pass  # the helper is gone: its reader finds out
        finally:
            try:
                pipe.close()
            except OSError:
                pass
            if self.abandoned:  # nobody reads its answers: drop them so it reaches EOF and exits
                out = self.proc.stdout
                assert out is not None
                with out:
                    while out.read(1 << 16):
                        pass
                self.proc.wait()

    def submit(self, raw: bytes | memoryview) -> int:
        n, self.sent = self.sent, self.sent + 1
        self.todo.put(raw)
        return n

    def answer(self, n: int) -> Terms:
        """The answer to request `n` (earlier ones not asked for are dropped). Raises _Gone."""
        if self.broken or n < self.read:
            raise _Gone()
        try:
            while True:
                words = self._part()
                bloom = self._part()
                self.read += 1
                if self.read > n:
                    return (words.decode("ascii").split("\n") if words else []), bloom
        except (OSError, ValueError, _Gone):
            self.broken = True
            raise _Gone() from None

    def _part(self) -> bytes:
        out = self.proc.stdout
        assert out is not None
        head = out.read(_PART.size)
        if len(head) < _PART.size:
            raise _Gone()
        (size,) = _PART.unpack(head)
        data = out.read(size)
        if len(data) < size:
            raise _Gone()
        return data

    def stop(self) -> None:
        """Let the helper exit and be reaped by the writer thread; never waits (a finalizer)."""
        self.abandoned = True
        self.todo.put(None)

    def close(self) -> None:
        self.todo.put(None)  # the writer closes stdin: the helper exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Helper:
    """The ingester's helper processes; `submit` returns a function that gives the terms when asked.

    Blocks go to the HELPERS processes in turn, so a step's blocks are tokenised HELPERS at a time."""

    def __init__(self, processes: int = HELPERS) -> None:
        self._children: list[_Child | None] = [None] * processes
        self._forget: list[weakref.finalize | None] = [None] * processes
        self._turn = 0

    def submit(self, raw: bytes | memoryview) -> Callable[[], Terms]:
        """`raw` may be a view of the step's bytes: a helper's block goes down the pipe from it,
        never copied (a step's blocks as `bytes` slices held a second copy of the step's 16 MB)."""
        if len(raw) < INLINE_BYTES:
            got = terms(bytes(raw))
            return lambda: got
        slot = self._turn
        self._turn = (slot + 1) % len(self._children)
        try:
            child = self._children[slot] or self._start(slot)
        except OSError as e:
            log.warning("could not start a tokenising helper (%s); tokenising inline", e)
            got = terms(bytes(raw))
            return lambda: got
        n = child.submit(raw)

        def result() -> Terms:
            try:
                return child.answer(n)
            except _Gone:
                if child is self._children[slot]:
                    log.warning(
                        "a tokenising helper ended; its blocks are done inline, a new one follows"
                    )
                    self._close(slot)
                return terms(bytes(raw))

        return result

    def _start(self, slot: int) -> _Child:
        child = self._children[slot] = _Child()
        # an ingester dropped without close() (a test, an embedding program) lets its helpers go
        self._forget[slot] = weakref.finalize(self, child.stop)
        return child

    def _close(self, slot: int) -> None:
        child, self._children[slot] = self._children[slot], None
        forget, self._forget[slot] = self._forget[slot], None
        if child is not None:
            assert forget is not None
            forget.detach()
            child.close()

    def close(self) -> None:
        for slot in range(len(self._children)):
            self._close(slot)


def main(argv: list[str]) -> int:
    """The helper: answer requests on stdin until it closes."""
    from logsvc.children import die_with_parent

    die_with_parent(int(argv[0]))
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = inp.read(_REQUEST.size)
        if len(head) < _REQUEST.size:
            return 0
        (size,) = _REQUEST.unpack(head)
        raw = inp.read(size)
        if len(raw) < size:
            return 0
        words, bloom = terms(raw)
        blob = "\n".join(words).encode("ascii")
        out.write(_PART.pack(len(blob)) + blob + _PART.pack(len(bloom)) + bloom)
        out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
