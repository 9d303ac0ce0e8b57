"""The block index: which blocks of which stream files may hold a token, and where each block's
events lie in time. With segments.py (which merges its segments), the only module that imports
whoosh.

Owns: the whoosh schema, writing block documents, deleting them, committing, and a read-side
`Snapshot` that answers "candidate blocks for this token query / time range". Never reads stream
files (ingest hands it text; query reads the candidates) and holds nothing that cannot be rebuilt
from the files, except ingestion times of lines that carry no timestamp (see `Chunk`).

Design (ARCHITECTURE.md has the measurements behind it):
- One whoosh document per *block* of a stream (up to `block_lines` lines), not per line.
- Words (ASCII letters only, <= 24 chars) are whoosh terms: a small vocabulary, so postings are few.
- Every other token (ids, numbers, hex, IPs, non-ASCII words) goes into a per-block Bloom filter
  stored with the block: high-cardinality tokens would otherwise dominate whoosh's cost.
- A block is divided into *chunks* of ~64 lines, each with its start offset, time bounds, event
  count and ingestion time, so time-ordered reads touch only the chunks they need.
- A chunk's events that carry no timestamp all take its ingestion time; the others keep their own.
  A stream mixing both (`sam local`: START/END/REPORT bare, the runtime's lines stamped) would give
  every chunk bounds from an old stamped time to "now", and every newest-first page would read every
  chunk. So each chunk also keeps a *time sketch*: the bounds of its stamped events alone, whether
  it has bare events, and a 128-bit signature of the words of its bare events (see `Block.parts`).
- The per-stream checkpoint is simply the end offset of the stream's last block, so it is committed
  atomically with the index itself: a crash loses nothing and duplicates nothing.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
import zlib
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import fields, index
from whoosh.filedb.filestore import FileStorage

from logsvc.model import stream_key
from logsvc.segments import Merges, segments_of
from logsvc.tokens import TokenQuery, fold

log = logging.getLogger("logsvc.index")
# as whoosh: a reader racing a merge's swap sees a deleted segment file at most a few times
_OPEN_RETRIES = 10

# 3: its words include the letter runs that open its other tokens (`split_terms`); 2: chunks carry
# their time sketch; 1 (no sketch). All are read; a block of 1 or 2 is a candidate for any prefix.
SCHEMA_VERSION = 3
CANDIDATE_CACHE_BYTES = 3 * 1024 * 1024  # what a snapshot keeps of recent candidate sets
CANDIDATE_BYTES = 64  # a docnum in a set, as that bound counts it (int object + set slot)
# what a reading process keeps of the blocks' Bloom filters in its heap; the rest wait in a spill
# file (`_BloomFile`) and a token test reads the bytes it needs: 51 MB a worker at 10M lines else
BLOOM_HEAP_BYTES = 8 * 1024 * 1024
SPILL_GROUP = 256  # filters a spill file slices together (what one load holds of them at a time)
SIG_BYTES = 16  # a chunk's bare-word signature: 128 bits, 2 per word
SIG_ALL = b"\xff" * SIG_BYTES  # "may hold any word": a chunk of bare events only
SIG_NONE = bytes(SIG_BYTES)  # a chunk without bare events
# a chunk's stamped bounds when it has no stamped event (min > max: the part is empty)
NO_STAMP_MIN = 2**62
NO_STAMP_MAX = -(2**62)
MAX_WORD = 24  # longer alphabetic tokens are usually random (base64-ish): Bloom them
# the shortest opening letter run of a Bloom token kept as a word (and prefix looked up)
MIN_RUN = 3
# the most words a prefix lookup lists (~0.15 ms each from a many-segment index): `con` has 88 at 1M
# realistic lines and listing them took 8 ms to rule out one block of 537
PREFIX_WORDS = 8
_RUN = re.compile(rb"[a-z]{%d,%d}" % (MIN_RUN, MAX_WORD))  # an opening run (tokens are folded)
BLOOM_BITS_PER_TOKEN = 16
BLOOM_K = 3


@dataclass(slots=True)
class Block:
    """A contiguous run of complete events in one stream file, as indexed."""

    group: str
    stream: str
    skey: str
    start: int
    end: int
    ino: int
    head: str  # hash of the file's first bytes: tells a rewritten file from an appended one
    # per chunk: start offset, min/max event time, ingestion time, event count
    c_start: array
    c_min: array
    c_max: array
    c_ing: array
    c_count: array
    # None: not loaded in this process (a writer that serves no reads): every Bloom token may be here
    bloom: bytes | None = b""
    # a filter past the heap's budget: kept in this spill file (bloom is b""), which answers for it
    bloom_file: _BloomFile | None = None
    docnum: int = -1
    lines: int = 0
    # the chunks' time sketch (module docstring): stamped events' bounds (min > max: none), has bare
    # events (one byte each), bare words' signature (SIG_BYTES each). None: a schema-1 block, whose
    # chunks are read as "bare events may be at c_ing and stamped ones anywhere in [c_min, c_max]".
    # A block without bare events (most) keeps none of it: c_smin/c_smax are c_min/c_max, c_bare
    # and c_sig b"", c_lines () (`compact`), so the sketch costs memory only where it tells apart.
    c_smin: array | None = None
    c_smax: array | None = None
    c_bare: bytes | None = None
    c_sig: bytes | None = None
    # per chunk holding both kinds, a bit per line (little-endian bytes): is it a line of a bare
    # event? b"" for the other chunks. Tells a search's literal hit in a bare event from one in a
    # stamped event without splitting the chunk into events (`query._chunks_holding`).
    c_lines: tuple[bytes, ...] | None = None
    min_ts: int = 0
    max_ts: int = 0
    # the block's sketch, from its chunks': stamped bounds, bare times' bounds, OR of bare signatures
    s_min: int = 0
    s_max: int = -1
    u_min: int = 0
    u_max: int = -1
    u_sig: int = 0
    chunks_ordered: bool = False  # no chunk newer than the next one's oldest event (`bounds`)
    # its words include the letter runs opening its other tokens (schema 3), so a prefix lookup
    # (`Snapshot`'s "pre") can rule it out; False for a block stored before (always a candidate)
    runs: bool = True

    def __post_init__(self) -> None:
        self.bounds()

    def bounds(self) -> None:
        """Recompute the block's bounds and sketch from the chunks (after they change)."""
        self.min_ts = min(self.c_min) if self.c_min else 0
        self.max_ts = max(self.c_max) if self.c_max else 0
        c_min, c_max = self.c_min, self.c_max
        self.chunks_ordered = all(c_max[k] <= c_min[k + 1] for k in range(len(c_min) - 1))
        if self.c_smin is None:  # schema 1: every chunk may hold both kinds anywhere in its bounds
            self.s_min, self.s_max = self.min_ts, self.max_ts
            self.u_min, self.u_max = self.min_ts, self.max_ts
            self.u_sig = -1
            return
        self.s_min = min(self.c_smin) if self.c_smin else 0
        self.s_max = max(self.c_smax) if self.c_smax else -1
        bare = [i for i, flag in enumerate(self.c_bare or b"") if flag]
        self.u_min = min(self.c_ing[i] for i in bare) if bare else 0
        self.u_max = max(self.c_ing[i] for i in bare) if bare else -1
        sig = 0
        for i in bare:
            sig |= self.sig(i)
        self.u_sig = sig

    def sig(self, i: int) -> int:
        """Chunk i's bare-word signature as an int (-1: may hold any word)."""
        if self.c_sig is None:
            return -1
        if not self.c_sig:
            return 0
        return int.from_bytes(self.c_sig[i * SIG_BYTES : (i + 1) * SIG_BYTES], "little")

    def parts(self, i: int) -> tuple[int | None, int, int]:
        """Where chunk i's events lie in time: (the bare events' time or None, the stamped events'
        min and max, min > max when there are none)."""
        if self.c_smin is None:
            return self.c_ing[i], self.c_min[i], self.c_max[i]
        ing = self.c_ing[i] if self.c_bare and self.c_bare[i] else None
        return ing, self.c_smin[i], self.c_smax[i]  # type: ignore[index]

    def compact(self) -> None:
        """Drop the sketch's per-chunk data when no chunk has bare events (see the fields)."""
        if self.c_smin is not None and not any(self.c_bare or b""):
            self.c_smin, self.c_smax = self.c_min, self.c_max
            self.c_bare, self.c_sig, self.c_lines = b"", b"", ()

    def sketch(self) -> tuple[array, array, bytes, bytes, tuple[bytes, ...]]:
        """The sketch's per-chunk data at full length, compact or not (to concatenate blocks)."""
        n = len(self.c_start)
        if self.c_smin is None:
            raise ValueError("a schema-1 block has no sketch")
        if self.c_bare:
            return self.c_smin, self.c_smax, self.c_bare, self.c_sig, self.c_lines  # type: ignore[return-value]
        return array("q", self.c_min), array("q", self.c_max), bytes(n), SIG_NONE * n, (b"",) * n

    @property
    def bid(self) -> str:
        return f"{self.skey}:{self.start}"

    @property
    def count(self) -> int:
        return sum(self.c_count)

    def chunk_end(self, i: int) -> int:
        return self.c_start[i + 1] if i + 1 < len(self.c_start) else self.end

    def to_stored(self) -> tuple:
        if self.bloom is None or self.bloom_file is not None:
            raise ValueError("a block whose Bloom filter is not in memory cannot be stored again")
        base = (
            (SCHEMA_VERSION if self.runs else 2) if self.c_smin is not None else 1,
            self.group,
            self.stream,
            self.start,
            self.end,
            self.ino,
            self.head,
            self.c_start.tobytes(),
            self.c_min.tobytes(),
            self.c_max.tobytes(),
            self.c_ing.tobytes(),
            self.c_count.tobytes(),
            self.bloom,
            self.lines,
        )
        if self.c_smin is None:  # a block without a sketch (schema 1) stays one
            return base
        if not self.c_bare:  # compact: read back as aliases of c_min/c_max
            return base + (b"", b"", b"", b"", ())
        sketch = (
            self.c_smin.tobytes(),
            self.c_smax.tobytes(),
            self.c_bare,
            self.c_sig,
            self.c_lines,
        )  # type: ignore[union-attr]
        return base + sketch

    @classmethod
    def from_stored(cls, t: tuple, docnum: int) -> Block:
        if t[0] not in (1, 2, SCHEMA_VERSION):
            raise IndexCorrupt(f"block stored with schema {t[0]}, expected 1 to {SCHEMA_VERSION}")
        arrays = []
        compact = t[0] >= 2 and not t[16]
        for raw in t[7:12] + (t[14:16] if t[0] >= 2 and not compact else ()):
            a = array("q")
            a.frombytes(raw)
            arrays.append(a)
        sketch = {}
        if compact:
            sketch = dict(c_smin=arrays[1], c_smax=arrays[2], c_bare=b"", c_sig=b"", c_lines=())
        elif t[0] >= 2:
            sketch = dict(
                c_smin=arrays[5], c_smax=arrays[6], c_bare=t[16], c_sig=t[17], c_lines=t[18]
            )
        return cls(
            t[1],
            t[2],
            stream_key(t[1], t[2]),
            t[3],
            t[4],
            t[5],
            t[6],
            *arrays[:5],
            bloom=t[12],
            docnum=docnum,
            lines=t[13],
            runs=t[0] >= 3,
            **sketch,
        )


def _bloom_positions(token: bytes, nbits: int) -> list[int]:
    mask = nbits - 1
    h1 = zlib.crc32(token)
    h2 = zlib.crc32(token[::-1]) | 1
    return [(h1 + i * h2) & mask for i in range(BLOOM_K)]


def build_bloom(tokens: list[bytes]) -> bytes:
    """A Bloom filter over `tokens`, sized to a power of two >= 16 bits a token (~0.5% false positives)."""
    nbits = 1 << max(10, (len(tokens) * BLOOM_BITS_PER_TOKEN - 1).bit_length())
    mask = nbits - 1
    positions = set()
    crc = zlib.crc32
    for t in tokens:
        h1 = crc(t)
        h2 = crc(t[::-1]) | 1
        positions.add(h1 & mask)
        positions.add((h1 + h2) & mask)
        positions.add((h1 + 2 * h2) & mask)
    bloom = bytearray(nbits >> 3)
    for p in positions:
        bloom[p >> 3] |= 1 << (p & 7)
    return bytes(bloom)


def word_mask(word: bytes) -> int:
    """A folded word's two bits in a chunk's bare-word signature."""
    h = zlib.crc32(word)
    return (1 << (h & 127)) | (1 << ((h >> 7) & 127))


def word_sig(tokens: set[bytes]) -> bytes:
    """The bare-word signature of a chunk's bare events' tokens (only words count: numbers and ids
    would fill 128 bits; a query token that is not a word is never ruled out by it)."""
    sig = 0
    for t in tokens:
        if t.isalpha() and len(t) <= MAX_WORD:
            sig |= word_mask(t)
    return sig.to_bytes(SIG_BYTES, "little")


def indexable(t: bytes) -> bool:
    """False for tokens too common to be worth a Bloom entry: 1-2 digit numbers and the pieces an
    ISO timestamp splits into (`27t21`, `123z`). Queries for them scan instead of narrowing."""
    n = len(t)
    if n <= 2:
        return not t.isdigit()
    if n == 4 and t[3] == 122 and t[:3].isdigit():  # 122 = "z"
        return False
    if n == 5 and t[2] == 116 and t[:2].isdigit() and t[3:].isdigit():  # 116 = "t"
        return False
    return True


def split_terms(tokens: set[bytes]) -> tuple[list[str], list[bytes]]:
    """Partition folded tokens into whoosh words and Bloom tokens (dropping unindexable ones).

    A Bloom token that opens with MIN_RUN or more ASCII letters (`declined2`, `declinedé`, a
    30-letter run) also gives that run, cut at MAX_WORD, as a word: then every token that starts
    with a given word of MIN_RUN to MAX_WORD letters has a word starting with it, and a quoted
    phrase's last word (`"card declined"`: the token may go on past the quote) is found by prefix.
    Runs of the letters a-f only are left out: half of them came from hex ids (1M realistic lines:
    48,871 postings added, 23,581 of them such runs), and a prefix of only those letters is then
    not looked up (`Snapshot._prefix`)."""
    words: set[str] = set()
    other: list[bytes] = []
    for t in tokens:
        if t.isalpha() and len(t) <= MAX_WORD:
            words.add(t.decode("ascii"))
            continue
        if indexable(t):
            other.append(t)
        if 97 <= t[0] <= 122 and (m := _RUN.match(t)) and (run := m.group()).strip(b"abcdef"):
            words.add(run.decode("ascii"))
    return list(words), other


def is_word(token: str) -> bool:
    return token.isascii() and token.isalpha() and len(token) <= MAX_WORD


def index_exists(path: Path | str) -> bool:
    """Is there an index (possibly damaged) at `path`? Never raises."""
    try:
        return any(name.endswith(".toc") for name in os.listdir(path))
    except OSError:
        return False


class IndexCorrupt(Exception):
    """The index directory cannot be read; it must be rebuilt from the stream files."""


def _schema() -> fields.Schema:
    return fields.Schema(
        bid=fields.ID(unique=True),
        skey=fields.ID(),
        w=fields.KEYWORD(scorable=False),
        meta=fields.STORED(),
    )


class BlockIndex:
    """The whoosh index directory. One process writes (see ingest.py's writer lock); all may read."""

    def __init__(
        self,
        path: Path | str,
        *,
        blooms: bool = True,
        bloom_heap: int | None = None,
        keep_snapshots: bool = True,
    ) -> None:
        """`blooms=False`: snapshots leave the blocks' Bloom filters on disk (a writer that serves no
        reads needs the blocks' places and times, not their tokens: 51 MB of its heap at 10M lines);
        a search through such a snapshot still finds everything, testing no Bloom token.
        `bloom_heap`: how many bytes of filters snapshots keep in the heap (`Snapshot.load`;
        BLOOM_HEAP_BYTES when None).
        `keep_snapshots=False`: every `snapshot()` loads the blocks afresh and nothing is kept once
        its caller releases it (that writer again: it reads the blocks once a retention pass, and
        keeping them between passes held 20 MB of its heap at 10M lines)."""
        self.path = Path(path)
        self._blooms = blooms
        self._keep = keep_snapshots
        self._bloom_heap = BLOOM_HEAP_BYTES if bloom_heap is None else bloom_heap
        self.path.mkdir(parents=True, exist_ok=True)
        # Not mmap: whoosh3's BufferFile copies a mapped file into a BytesIO, so every process
        # held the whole index in its heap (and its mapped pages resident besides): 96 MB a
        # process at 10M lines. Files read with seek + read share one handle per segment, which
        # Snapshot's _reader_lock already serializes (a whoosh reader is not thread-safe either way).
        storage = FileStorage(str(self.path), supports_mmap=False)
        try:
            if index.exists_in(str(self.path)):
                self._ix = storage.open_index()
                if "skey" not in self._ix.schema or "meta" not in self._ix.schema:
                    raise IndexCorrupt("index has an unknown schema")
            else:
                self._ix = storage.create_index(_schema())
        except IndexCorrupt:
            raise
        except Exception as e:  # whoosh raises many types for damaged files
            raise IndexCorrupt(f"cannot open the index at {self.path}: {e}") from e
        self._snapshot: Snapshot | None = None
        self._seg_cache: dict[str, _Segment] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._writer = None
        self._merges: Merges | None = None  # the writer's; made at its first write

    # ---- writing (the ingesting process only) ------------------------------------------------

    def _w(self):
        if self._writer is None:
            if self._merges is None:
                self._merges = Merges(self.path)
            self._writer = self._ix.writer()
            self._writer.pool = PostingArrays()  # whoosh's SegmentWriter reads `pool` only
        return self._writer

    def merge_ready(self) -> bool:
        """Has a background merge finished (segments.py)? The next commit swaps it in."""
        return self._merges is not None and self._merges.ready()

    def add_block(self, block: Block, words: list[str]) -> None:
        self._w().add_document(
            bid=block.bid, skey=block.skey, w=" ".join(words), meta=block.to_stored()
        )

    def delete_block(self, block: Block) -> None:
        self._w().delete_by_term("bid", block.bid)

    def delete_stream(self, skey: str) -> None:
        self._w().delete_by_term("skey", skey)

    def commit(self) -> None:
        """Make everything written since the last commit durable and visible, atomically.

        whoosh's own merging would run here and hold the ingester for up to half a minute at 10M
        lines: instead a finished background merge is swapped in, and the next one is started
        (segments.py)."""
        if self._writer is None and not self.merge_ready():
            return
        w = self._w()
        self._writer = None
        w.commit(mergetype=self._merges.policy)
        self._merges.start(self.segments())

    def segments(self) -> list:
        """whoosh's segments of the latest commit (what a search looks a term up in, each)."""
        return segments_of(self._ix.storage, self._ix.indexname)

    @property
    def merges(self) -> Merges | None:
        """The writer's background merges (segments.py); None before its first write."""
        return self._merges

    def cancel(self) -> None:
        """Drop uncommitted work. Never raises: it runs when something already went wrong (disk full)."""
        if self._writer is not None:
            w, self._writer = self._writer, None
            try:
                w.cancel()
            except Exception:
                log.warning("could not cancel the index writer cleanly; releasing its lock")
                try:
                    w.writelock.release()
                except Exception:
                    pass

    # ---- reading -------------------------------------------------------------------------------

    def generation(self) -> int:
        """The latest commit's generation (the label a snapshot taken now gets), read without
        loading any block: for a writer that keeps no snapshot, a snapshot is a load of them all."""
        try:
            return self._ix.latest_generation()
        except Exception as e:  # whoosh raises many types for damaged files
            raise IndexCorrupt(f"cannot read the index at {self.path}: {e}") from e

    def snapshot(self) -> Snapshot:
        """The latest committed state, cached until the index changes on disk.

        The caller owns one reference and must `release()` it (or use `with`): the reference is
        taken under the lock that a refresh takes to release the cached one, so no refresh can
        close the reader between handing the snapshot out and the caller using it. The label is
        the generation the reader actually opened, never a later one: a commit racing the open at
        worst causes one extra refresh, never a stale view kept until the next commit.
        """
        with self._lock:
            snap = self._snapshot
            try:
                latest = self._ix.latest_generation()
                if snap is not None and snap.generation == latest and not self._closed:
                    return snap.acquire()
                reader = self._open_reader()
            except Exception as e:
                raise IndexCorrupt(f"cannot read the index at {self.path}: {e}") from e
            gen = reader.generation()
            if (
                gen is None
            ):  # an index without segments: label it with the generation read before opening
                gen = latest
            try:
                fresh = Snapshot.load(
                    reader,
                    self._seg_cache if self._keep else {},
                    gen,
                    blooms=self._blooms,
                    bloom_heap=self._bloom_heap,
                    spill_dir=self.path,
                )
            except Exception as e:
                reader.close()
                if isinstance(e, IndexCorrupt):
                    raise
                raise IndexCorrupt(
                    f"cannot read the blocks of the index at {self.path}: {e}"
                ) from e
            if (
                self._closed or not self._keep
            ):  # nothing caches it: the caller's reference is the one
                return fresh
            self._snapshot = fresh
            if snap is not None:
                snap.release()
            return fresh.acquire()

    def _open_reader(self):
        """whoosh's `FileIndex.reader()` without its leak.

        A merge swapped in while a reader opens deletes a segment between reading the TOC and
        opening its file; whoosh retries then, but leaves the segments it had already opened to the
        garbage collector (open files: one per segment, and under a steady stream of commits, many).
        Here the partial set is closed before the retry."""
        from whoosh.index import TOC
        from whoosh.reading import EmptyReader, MultiReader, SegmentReader

        storage, name = self._ix.storage, self._ix.indexname
        for attempt in range(_OPEN_RETRIES):
            opened = []
            try:
                toc = TOC.read(storage, name)
                for seg in toc.segments:
                    opened.append(
                        SegmentReader(storage, toc.schema, seg, generation=toc.generation)
                    )
                break
            except OSError:
                for r in opened:
                    r.close()
                if attempt == _OPEN_RETRIES - 1:
                    raise
                time.sleep(0.05)
        if not opened:
            return EmptyReader(toc.schema)
        if len(opened) == 1:
            return opened[0]
        return MultiReader(opened, generation=toc.generation)

    def close(self) -> None:
        self.cancel()
        if self._merges is not None:
            self._merges.close()
        with self._lock:
            self._closed = True
            if self._snapshot is not None:
                self._snapshot.release()
                self._snapshot = None
        self._ix.close()

    @staticmethod
    def destroy(path: Path | str) -> None:
        shutil.rmtree(path, ignore_errors=True)


class Snapshot:
    """An immutable view of every block at one index generation."""

    def __init__(
        self,
        reader,
        blocks: list[Block],
        generation: int,
        spills: list[tuple[_BloomFile, int]] | None = None,
    ) -> None:
        self._reader = reader
        self.generation = generation
        self.blocks = blocks
        # Bloom filters: those in the heap are tested block by block, the spilled ones by their
        # file (with the docnum offset of their segment in this snapshot)
        self._spills = spills or []
        self._heap_blooms = [b for b in blocks if b.bloom_file is None]
        self.by_docnum: dict[int, Block] = {b.docnum: b for b in blocks}
        self._runless = frozenset(b.docnum for b in blocks if not b.runs)  # schema < 3: see _prefix
        self.by_stream: dict[str, list[Block]] = {}
        for b in blocks:
            self.by_stream.setdefault(b.skey, []).append(b)
        for lst in self.by_stream.values():
            lst.sort(key=lambda b: b.start)
        self._refs = 1
        self._refs_lock = threading.Lock()
        # a whoosh reader is not thread-safe (postings share one file object: seek, then read), and
        # request threads share the cached snapshot: one term lookup at a time
        self._reader_lock = threading.Lock()
        # the candidates of recent token queries: every page of a walk asks the same question of
        # the same snapshot (a common word's postings cost ~9 ms a page at 10M lines); bounded in
        # bytes (CANDIDATE_CACHE_BYTES)
        self._cands: OrderedDict[str, set[int] | None] = OrderedDict()
        self._cands_held = 0
        self._order: dict[str, tuple[array, array] | None] = {}  # time_order, per stream

    @classmethod
    def empty(cls) -> Snapshot:
        return cls(None, [], -1)

    @classmethod
    def load(
        cls,
        reader,
        cache: dict[str, _Segment],
        generation: int,
        blooms: bool = True,
        bloom_heap: int = BLOOM_HEAP_BYTES,
        spill_dir: Path | None = None,
    ) -> Snapshot:
        """The blocks of every segment `reader` holds; a segment read before comes from `cache`.

        Bloom filters stay in the heap while those of the cached segments total at most
        `bloom_heap` bytes; the rest go to a spill file in `spill_dir` (one per segment, unlinked:
        it lives as long as the blocks that point into it), so a worker's heap does not grow with
        the corpus (ARCHITECTURE.md, "Bloom filters past the heap's budget")."""
        leaves = []
        for leaf, offset in reader.leaf_readers():
            seg = leaf.segment()
            leaves.append((seg.segment_id() if seg is not None else str(id(leaf)), leaf, offset))
        # segments gone are dropped before loading: what they held no longer counts
        seen = {sid for sid, _, _ in leaves}
        for sid in list(cache):
            if sid not in seen:
                del cache[sid]
        held = sum(c.bloom_bytes for c in cache.values())
        blocks: list[Block] = []
        spills: list[tuple[_BloomFile, int]] = []
        for sid, leaf, offset in leaves:
            cached = cache.get(sid)
            if cached is None:
                entries = []
                kept = 0
                spill = _BloomFile(spill_dir)  # its file is made at the first filter it takes
                for docnum in leaf.all_doc_ids():
                    stored = leaf.stored_fields(docnum)
                    block = Block.from_stored(stored["meta"], -1)
                    if not blooms:
                        block.bloom = None
                    elif held + kept + len(block.bloom) <= bloom_heap:
                        kept += len(block.bloom)
                    else:
                        spill.take(docnum, block)
                    entries.append((docnum, block))
                kept += spill.finish()  # what it could not write stays in the heap
                held += kept
                cached = cache[sid] = _Segment(entries, kept, spill if spill.groups else None)
            if cached.spill is not None:
                spills.append((cached.spill, offset))
            placed = cached.placed(offset)
            has_deletions = leaf.has_deletions()
            for (docnum, _), b in zip(cached.entries, placed, strict=True):
                if has_deletions and leaf.is_deleted(docnum):
                    continue
                blocks.append(b)
        return cls(reader, blocks, generation, spills)

    def stream_blocks(self, skey: str) -> list[Block]:
        return self.by_stream.get(skey, [])

    def time_order(self, skey: str) -> tuple[array, array] | None:
        """The min_ts and max_ts of the stream's blocks in file order, when no block holds an event
        newer than the next block's oldest (both never decrease): a time-ordered read can then
        queue one block of the stream at a time and find where to start by bisection. None for a
        stream out of time order (a `sam local` one, whose bare lines are read "now")."""
        if skey in self._order:
            return self._order[skey]
        blocks = self.by_stream.get(skey, [])
        mins = array("q", (b.min_ts for b in blocks))
        maxs = array("q", (b.max_ts for b in blocks))
        ordered = all(maxs[k] <= mins[k + 1] for k in range(len(blocks) - 1))
        out = (mins, maxs) if ordered else None
        with self._refs_lock:
            self._order[skey] = out
        return out

    def checkpoint(self, skey: str) -> Block | None:
        lst = self.by_stream.get(skey)
        return lst[-1] if lst else None

    def candidates(
        self, query: TokenQuery | None, skeys: set[str] | None = None, reuse: bool = False
    ) -> set[int] | None:
        """Docnums of blocks that may satisfy `query`, or None meaning "every block" (shared with
        later calls: read it, never change it). With `reuse` (a page after the first), the answer
        an earlier call gave may be returned; without, it is computed (and kept for later pages),
        so a repeated first page costs, and is measured at, what a new search does."""
        if query is None:
            return None
        self._check_held()
        memo_key = repr(query)
        hit: set[int] | None | bool = False
        if reuse:
            with self._reader_lock:
                hit = self._cands.get(memo_key, False)
                if hit is not False:
                    self._cands.move_to_end(memo_key)
        if hit is False:
            hit = self._eval(query, {})
            self._remember(memo_key, hit)
        result = hit
        if skeys is not None and result is not None and not skeys.issuperset(self.by_stream):
            result = {d for d in result if self.by_docnum[d].skey in skeys}
        return result

    def _remember(self, key: str, result: set[int] | None) -> None:
        size = _cands_bytes(key, result)
        if size > CANDIDATE_CACHE_BYTES:
            return
        with self._reader_lock:
            if key in self._cands:
                self._cands.move_to_end(key)
                return
            self._cands[key] = result
            self._cands_held += size
            while self._cands_held > CANDIDATE_CACHE_BYTES:
                old_key, old = self._cands.popitem(last=False)
                self._cands_held -= _cands_bytes(old_key, old)

    def _eval(self, q: TokenQuery, memo: dict) -> set[int] | None:
        kind = q[0]
        if kind == "tok":
            tok = fold(q[1])
            if tok in memo:
                return memo[tok]
            memo[tok] = out = self._term(tok)
            return out
        if kind == "pre":
            pre = fold(q[1])
            if ("pre", pre) not in memo:
                memo[("pre", pre)] = self._prefix(pre)
            return memo[("pre", pre)]
        if kind == "and":
            # words (postings) and sub-queries first; then each Bloom token is tested only on the
            # blocks still in (a request id is five Bloom tokens: one pass over the blocks, not five)
            blooms = [p for p in q[1] if p[0] == "tok" and not is_word(fold(p[1]))]
            known = [r for p in q[1] if p not in blooms and (r := self._eval(p, memo)) is not None]
            known.sort(key=len)
            out = set(known[0]) if known else None
            for p in known[1:]:
                out &= p  # type: ignore[operator]
            for p in blooms:
                if out is not None and not out:
                    break
                out = self._term(fold(p[1]), within=out)
            return out
        parts = [self._eval(p, memo) for p in q[1]]
        if kind == "or":
            if any(p is None for p in parts):
                return None
            out = set()
            for p in parts:
                out |= p
            return out
        raise ValueError(f"unknown token query {kind!r}")

    def _prefix(self, pre: str) -> set[int] | None:
        """The blocks that may hold a token starting with `pre`: those with a word starting with it
        (`split_terms` keeps the letter run opening every token as a word), and every block stored
        before it did (schema < 3). None ("every block") for a prefix the words cannot answer: not
        ASCII letters, shorter than MIN_RUN or longer than MAX_WORD, or only the letters a-f; and
        for one not worth it: more than PREFIX_WORDS words, or one of them in 90% of the blocks."""
        if not (pre.isascii() and pre.isalpha() and MIN_RUN <= len(pre) <= MAX_WORD):
            return None
        if not pre.strip("abcdef"):  # a hex id's opening letters: `split_terms` keeps no such run
            return None
        out = set(self._runless)
        if self._reader is None:
            return out
        with self._reader_lock:
            words = []
            for word, info in self._reader.iter_prefix("w", pre):
                if len(words) == PREFIX_WORDS or info.doc_frequency() > 0.9 * len(self.blocks):
                    return None  # listing them costs more than the few blocks they rule out
                words.append(word)
            for word in words:
                ids = self._reader.postings("w", word).all_ids()
                out.update(d for d in ids if d in self.by_docnum)
        return out

    def _term(self, tok: str, within: set[int] | None = None) -> set[int]:
        """The blocks that may hold `tok` (of `within`, when given: a Bloom token tests only those)."""
        if is_word(tok):
            if self._reader is None:
                return set()
            # no fallback to "every block" here: an error means the snapshot is misused or the index
            # is damaged, and a silent full scan would hide both
            with self._reader_lock:
                if ("w", tok) not in self._reader:
                    return set()
                ids = self._reader.postings("w", tok).all_ids()
                return set(ids) & self.by_docnum.keys()
        raw = tok.encode("utf-8")
        if not indexable(raw):
            return set(self.by_docnum) if within is None else within
        out = set()
        cache: dict[int, list[int]] = {}
        by_docnum = self.by_docnum
        for b in self._heap_blooms if within is None else (by_docnum[d] for d in within):
            bloom = b.bloom
            if bloom is None:  # not loaded here: the block may hold it
                out.add(b.docnum)
                continue
            n = len(bloom)
            if not n:  # no Bloom tokens, or spilled (answered below)
                continue
            pos = cache.get(n)
            if pos is None:
                pos = cache[n] = _bloom_positions(raw, n * 8)
            for p in pos:
                if not bloom[p >> 3] & (1 << (p & 7)):
                    break
            else:
                out.add(b.docnum)
        for spill, offset in self._spills:
            for local in spill.holding(raw, cache):
                d = local + offset
                if d in by_docnum and (within is None or d in within):
                    out.add(d)
        return out

    def acquire(self) -> Snapshot:
        """Take one more reference. Only a holder may call it: a released snapshot's reader is closed."""
        with self._refs_lock:
            if self._refs <= 0 and self._reader is not None:
                raise RuntimeError("index snapshot acquired after its last release")
            self._refs += 1
        return self

    def release(self) -> None:
        """Drop one reference; the last one closes the whoosh reader."""
        with self._refs_lock:
            if self._reader is None:
                return
            if self._refs <= 0:
                raise RuntimeError("index snapshot released more often than acquired")
            self._refs -= 1
            if self._refs == 0:
                try:
                    self._reader.close()
                except Exception:
                    pass

    def _check_held(self) -> None:
        if self._reader is not None and self._refs <= 0:
            raise RuntimeError("index snapshot used after its last release")

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class PostingArrays:
    """The writer's postings until a commit writes them: whoosh's pool, packed into arrays.

    whoosh's `PostingPool` keeps a tuple per posting (field, term bytes, docnum, weight, value
    bytes: ~200 bytes in five small objects) and sorts them at the commit. A 2-second commit of
    the 10M corpus holds hundreds of thousands; the writer's heap grew to hold them and stayed
    there, pinned by the few objects that outlive each commit (ARCHITECTURE.md, "Memory of the
    writer"). Here a term's docnums are one growing array (8 bytes a posting), its weight and
    value kept once (a posting whose differ keeps its own), and the tuples whoosh's segment
    writer wants are made one at a time as it reads them, in the order whoosh's own pool gives:
    (field, term), then docnum."""

    def __init__(self) -> None:
        # field -> term -> [docnums, weight, value, {index: (weight, value)} of postings that differ]
        self._fields: dict[str, dict[bytes, list]] = {}
        self._unordered: set[tuple[str, bytes]] = set()

    @property
    def fieldnames(self) -> set[str]:
        return set(self._fields)

    def add(self, item: tuple) -> None:
        fieldname, text, docnum, weight, value = item
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
        got = terms.get(text)
        if got is None:
            terms[text] = [array("q", (docnum,)), weight, value, None]
            return
        docs = got[0]
        if docs[-1] >= docnum:
            self._unordered.add((fieldname, text))
        docs.append(docnum)
        if weight != got[1] or value != got[2]:
            if got[3] is None:
                got[3] = {}
            got[3][len(docs) - 1] = (weight, value)

    def iter_postings(self):
        for fieldname in sorted(self._fields):
            terms = self._fields[fieldname]
            for text in sorted(terms):
                docs, weight, value, differ = terms[text]
                if differ is None and (fieldname, text) not in self._unordered:
                    for docnum in docs:
                        yield fieldname, text, docnum, weight, value
                    continue
                rows = [(d, *(differ or {}).get(i, (weight, value))) for i, d in enumerate(docs)]
                for docnum, w, v in sorted(rows, key=lambda r: r[0]):
                    yield fieldname, text, docnum, w, v

    def cleanup(self) -> None:
        self._fields.clear()
        self._unordered.clear()


def _cands_bytes(key: str, result: set[int] | None) -> int:
    return 200 + len(key) + CANDIDATE_BYTES * (len(result) if result is not None else 0)


class _Segment:
    """One whoosh segment's blocks as read (docnum within the segment), and the same blocks placed
    at the segment's offset in the last snapshot: a refresh after a commit reuses them while the
    segment keeps its offset, instead of making (and re-deriving the sketch of) every block again."""

    def __init__(
        self,
        entries: list[tuple[int, Block]],
        bloom_bytes: int = 0,
        spill: _BloomFile | None = None,
    ) -> None:
        self.entries = entries
        self.bloom_bytes = bloom_bytes  # of its Bloom filters, those held in the heap
        self.spill = spill  # the others, when any
        self._offset: int | None = None
        self._placed: list[Block] = []

    def placed(self, offset: int) -> list[Block]:
        if offset != self._offset:
            self._placed = [_with_docnum(b, docnum + offset) for docnum, b in self.entries]
            self._offset = offset
        return self._placed


class _BloomFile:
    """One segment's Bloom filters past the heap's budget, in an unlinked file of their own
    (O_TMPFILE where the filesystem has it): the kernel's page cache holds them, outside any
    process's RSS, and may evict them. Closed when the last block pointing into it is gone.

    Bit-sliced by byte: filters of one size n go in groups of up to SPILL_GROUP, each stored as
    n rows, row j holding byte j of every filter of the group. A token's k bit positions are k
    rows: a test reads k x (group size) bytes per group (`os.pread`, safe from any thread) and
    answers for every block of the group at once, where a filter a block would be k reads a block.
    """

    def __init__(self, directory: Path | None) -> None:
        self._dir = directory
        self._fd = -1
        self._end = 0
        self._failed = False  # a write failed: the rest stay in the heap (one warning)
        self._pending: dict[int, list[tuple[int, Block]]] = {}  # filters by size, not yet written
        self._kept: list[Block] = []  # blocks whose filter could not be written
        # per group written: filter size, offset, in-segment docnums of its blocks (in slot order)
        self.groups: list[tuple[int, int, array]] = []

    def take(self, docnum: int, block: Block) -> None:
        """Move `block`'s filter here (the block is answered by this file from now on)."""
        n = len(block.bloom)
        if not n:
            return
        block.bloom_file = self
        waiting = self._pending.setdefault(n, [])
        waiting.append((docnum, block))
        if len(waiting) == SPILL_GROUP:
            self._write(self._pending.pop(n))

    def finish(self) -> int:
        """Write the partial groups. Returns the bytes of filters left in the heap: those a write
        failed for stay with their blocks (a full disk costs memory, not answers)."""
        for n in list(self._pending):
            self._write(self._pending.pop(n))
        return sum(len(b.bloom) for b in self._kept)

    def _write(self, group: list[tuple[int, Block]]) -> None:
        n = len(group[0][1].bloom)
        if not self._failed:
            joined = b"".join(b.bloom for _, b in group)
            sliced = b"".join(joined[j::n] for j in range(n))
            try:
                if self._fd < 0:
                    with tempfile.TemporaryFile(dir=self._dir, prefix=".blooms-") as f:
                        self._fd = os.dup(f.fileno())
                    weakref.finalize(self, os.close, self._fd)
                done = 0
                while done < len(sliced):
                    done += os.pwrite(self._fd, memoryview(sliced)[done:], self._end + done)
            except OSError as e:
                log.warning("cannot spill Bloom filters to disk (%s): keeping them in memory", e)
                self._failed = True
            else:
                self.groups.append((n, self._end, array("q", (d for d, _ in group))))
                self._end += len(sliced)
                for _, b in group:
                    b.bloom = b""
                return
        for _, b in group:  # not written: the block keeps its filter
            b.bloom_file = None
            self._kept.append(b)

    def holding(self, raw: bytes, cache: dict[int, list[int]]) -> list[int]:
        """In-segment docnums of the blocks whose filter may hold token `raw` (`cache`: its bit
        positions by filter size, shared with the caller's other tests)."""
        out = []
        pread, fd = os.pread, self._fd
        for n, at, docnums in self.groups:
            width = len(docnums)
            pos = cache.get(n)
            if pos is None:
                pos = cache[n] = _bloom_positions(raw, n * 8)
            ones = int.from_bytes(b"\x01" * width, "little")  # bit 0 of each block's byte
            hits = -1
            for p in pos:  # one bit per byte of the row: bit (p & 7) of each block's byte
                row = int.from_bytes(pread(fd, width, at + (p >> 3) * width), "little")
                hits &= (row >> (p & 7)) & ones
                if not hits:
                    break
            while hits:
                low = hits & -hits
                out.append(docnums[(low.bit_length() - 1) >> 3])
                hits ^= low
        return out


def _with_docnum(b: Block, docnum: int) -> Block:
    if b.docnum == docnum:
        return b
    return Block(
        b.group,
        b.stream,
        b.skey,
        b.start,
        b.end,
        b.ino,
        b.head,
        b.c_start,
        b.c_min,
        b.c_max,
        b.c_ing,
        b.c_count,
        bloom=b.bloom,
        bloom_file=b.bloom_file,
        docnum=docnum,
        lines=b.lines,
        c_smin=b.c_smin,
        c_smax=b.c_smax,
        c_bare=b.c_bare,
        c_sig=b.c_sig,
        c_lines=b.c_lines,
        runs=b.runs,
    )


# ---- the index directory's lifecycle ------------------------------------------------------------
#
# `<data>/index` is the live index. `logsvc reindex` builds `index.new` beside it, then swaps:
# `index` -> `index.old`, `index.new` -> `index`, remove `index.old` (see `install_rebuilt`).
# A kill can stop that anywhere; `settle_dirs` recognises every state it leaves. Both run only
# while holding `<data>/index.lock` (the writer, or reindex), so no one else changes the names.

LIVE, REBUILT, RETIRED = "index", "index.new", "index.old"


def settle_dirs(root: Path | str) -> None:
    """Finish or undo an interrupted reindex swap, then remove what is left of it.

    - no `index` but `index.old`: killed between the two renames. `index.new` (if there) was
      complete — it is renamed only after its last commit — so it goes live; otherwise `index.old`
      goes back.
    - otherwise `index.new` is a build that never went live (possibly half-written): removed.
    - `index.old` beside a live `index` is a retired index: removed.
    """
    root = Path(root)
    live, rebuilt, retired = root / LIVE, root / REBUILT, root / RETIRED
    if not live.exists() and retired.exists():
        if rebuilt.exists():
            log.warning(
                "a reindex was interrupted while swapping: putting the rebuilt index in place"
            )
            os.rename(rebuilt, live)
        else:
            log.warning("a reindex was interrupted while swapping: putting the previous index back")
            os.rename(retired, live)
    for leftover in (rebuilt, retired):
        if leftover.exists():
            log.warning("removing %s left by an interrupted reindex", leftover.name)
            shutil.rmtree(leftover, ignore_errors=True)


def install_rebuilt(root: Path | str) -> None:
    """Swap a complete `index.new` in for the live index (the order `settle_dirs` relies on)."""
    root = Path(root)
    live, rebuilt, retired = root / LIVE, root / REBUILT, root / RETIRED
    shutil.rmtree(retired, ignore_errors=True)
    if live.exists():
        os.rename(live, retired)
    os.rename(rebuilt, live)
    shutil.rmtree(retired, ignore_errors=True)


__all__ = [
    "Block",
    "BlockIndex",
    "IndexCorrupt",
    "NO_STAMP_MAX",
    "NO_STAMP_MIN",
    "SIG_ALL",
    "SIG_NONE",
    "word_mask",
    "word_sig",
    "Snapshot",
    "build_bloom",
    "install_rebuilt",
    "settle_dirs",
    "split_terms",
    "stream_key",
    "field",
]
