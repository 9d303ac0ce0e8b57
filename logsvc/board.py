"""A few hundred bytes of state the processes of one server share: the writer's ingest state.

Why not a file: the state matters most when the disk is full (`ingestError` says so), and a file
cannot be rewritten then. The board is anonymous shared memory that the gunicorn master maps before
it forks the workers, so every worker (and every worker respawned later) sees the same bytes, and
nothing outlives the server.

One process writes at a time (the one holding index.lock); readers never block it. A seqlock: the
writer makes the sequence odd, writes, makes it even; a reader retries while it is odd or changed
under it, and gives up (None) after a few tries rather than wait on a writer that died mid-write.
"""

from __future__ import annotations

import json
import mmap
import struct

SIZE = 4096
_HEAD = struct.Struct("<QI")  # sequence, length of the JSON that follows
TRIES = 100


class Board:
    def __init__(self, size: int = SIZE) -> None:
        self._mem = mmap.mmap(-1, size)  # MAP_SHARED | MAP_ANONYMOUS: shared with forked children
        self._seq = 0

    def publish(self, doc: dict) -> None:
        """Replace the board's document (one writer at a time)."""
        # UTF-8, not \u escapes: a character costs at most 6 bytes (an escaped control character)
        # instead of 12 (a surrogate pair), so a text cut to N characters fits in 6 N bytes
        data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        if len(data) > len(self._mem) - _HEAD.size:
            raise ValueError(f"board document of {len(data)} bytes does not fit")
        seq = _HEAD.unpack_from(self._mem, 0)[0]  # a writer before this one may have left it
        seq += 1 + (seq & 1)  # odd: writing
        _HEAD.pack_into(self._mem, 0, seq, 0)
        self._mem[_HEAD.size : _HEAD.size + len(data)] = data
        _HEAD.pack_into(self._mem, 0, seq + 1, len(data))

    def read(self) -> dict | None:
        """The last document published, or None (nothing yet, or no steady read)."""
        for _ in range(TRIES):
            seq, n = _HEAD.unpack_from(self._mem, 0)
            if seq & 1:
                continue
            data = self._mem[_HEAD.size : _HEAD.size + n]
            if _HEAD.unpack_from(self._mem, 0)[0] != seq:
                continue
            if not n:
                return None
            try:
                doc = json.loads(data)
            except ValueError:
                return None
            return doc if isinstance(doc, dict) else None
        return None
