"""A block's index terms (its words, for whoosh's postings, and a Bloom filter of every other token),
worked out in a helper process while the ingester cuts the next blocks and writes whoosh documents.

Why: tokenising and the Bloom filter are a third of the ingester's time (1M realistic lines: 5.6 s
of 16.8 s), pure CPU on bytes the ingester already holds, and the ingesting process has one core of
Python. One helper per ingester takes them to the other core; a block's bytes cross a pipe (~0.03
ms for 300 KB) and its terms come back.

`terms` is the one definition: inline and in the helper alike. A block under INLINE_BYTES (a live
stream's trickle) is done inline, where the round trip costs more than it saves. The helper is
spawned (a fresh interpreter: forking a process with hundreds of threads is not safe), dies with the
thread that started it (`children.die_with_parent`), and when it fails (killed, out of memory) the
terms are worked out inline and a new helper starts at the next block.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from logsvc.index import build_bloom, split_terms
from logsvc.tokens import index_tokens_bytes

log = logging.getLogger("logsvc.ingest")

INLINE_BYTES = 64 * 1024  # blocks smaller than this are tokenised in the ingesting thread

Terms = tuple[list[str], bytes]  # (whoosh words, Bloom filter of the other tokens)


def terms(raw: bytes) -> Terms:
    """The index terms of a block's bytes."""
    words, other = split_terms(index_tokens_bytes(raw))
    return words, build_bloom(other)


def _start_helper(parent: int) -> None:
    from logsvc.children import die_with_parent

    die_with_parent(parent)


class Helper:
    """The ingester's helper process; `submit` returns a function that gives the terms when asked."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, raw: bytes) -> Callable[[], Terms]:
        if len(raw) < INLINE_BYTES:
            got = terms(raw)
            return lambda: got
        try:
            future = self._helper().submit(terms, raw)
        except (BrokenProcessPool, RuntimeError, OSError) as e:
            self._lost(e)
            got = terms(raw)
            return lambda: got

        def result() -> Terms:
            try:
                return future.result()
            except (BrokenProcessPool, OSError) as e:
                self._lost(e)
                return terms(raw)

        return result

    def _helper(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_helper,
                initargs=(os.getpid(),),
            )
        return self._pool

    def _lost(self, e: BaseException) -> None:
        log.warning(
            "the tokenising helper failed (%s); this block is done inline, a new helper follows", e
        )
        self.close()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
