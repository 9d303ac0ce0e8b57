"""The data directory: log groups, log streams, their files and their metadata.

Owns: turning names into paths (the only module that does), creating/deleting groups and
streams, appending whole lines atomically, reading bytes back. Refuses any path that would
resolve outside the data directory and never follows a symlink. Never imports whoosh,
watchdog or flask.

Layout (every name tilde-encoded by `names.encode_segment`, so it is one safe segment):

    <data>/groups/<group>/group.json      name, creation time, retention, tags, stream creation times
    <data>/groups/<group>/<stream>.log    the stream: append-only UTF-8, one event per line
    <data>/groups/<group>/<stream>.name   full stream name, only for shortened (hashed) segments
    <data>/index/                         derived: the block index (see index.py)
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from logsvc import lines, names
from logsvc.errors import AlreadyExists, InvalidParameter, NotFound, StorageError
from logsvc.model import GroupInfo, StreamInfo

STREAM_SUFFIX = ".log"
NAME_SUFFIX = ".name"
GROUP_META = "group.json"


def now_ms() -> int:
    return int(time.time() * 1000)


class Store:
    """The data directory. Thread-safe; several processes may share one directory."""

    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir).resolve()
        self.groups_dir = self.root / "groups"
        self.groups_dir.mkdir(parents=True, exist_ok=True)
        self._append_locks: dict[tuple[str, str], threading.Lock] = {}
        self._listings: dict[str, tuple[int, list[tuple[str, str, Path]]]] = {}
        self._meta_cache: dict[str, tuple[int, dict]] = {}
        self._locks_guard = threading.Lock()

    # ---- paths ---------------------------------------------------------------------------

    def group_dir(self, group: str) -> Path:
        names.validate_group(group)
        return self._inside(self.groups_dir / names.encode_segment(group))

    def stream_file(self, group: str, stream: str) -> Path:
        """The stream's file path (it may not exist yet)."""
        names.validate_stream(stream)
        return self._inside(self.group_dir(group) / (names.encode_segment(stream) + STREAM_SUFFIX))

    def _inside(self, path: Path) -> Path:
        # Encoded segments cannot escape; a group folder replaced by a symlink could, so refuse those
        # (stream files themselves are always opened with O_NOFOLLOW).
        gdir = path if path.parent == self.groups_dir else path.parent
        if os.path.islink(gdir):
            raise InvalidParameter(f"{gdir} is a symlink; refusing to follow it out of the data directory")
        return path

    def locate(self, path: Path | str) -> tuple[str, str] | None:
        """Map a file under the data directory back to (group, stream), or None if it is not a stream."""
        path = Path(path)
        if path.suffix != STREAM_SUFFIX or path.parent.parent != self.groups_dir:
            return None
        try:
            group = self._group_name(path.parent)
            stream = self._stream_name(path)
        except (InvalidParameter, OSError, ValueError):
            return None
        return group, stream

    def _group_name(self, gdir: Path) -> str:
        seg = gdir.name
        if names.is_hashed(seg):
            return json.loads((gdir / GROUP_META).read_text("utf-8"))["name"]
        return names.decode_segment(seg)

    def _stream_name(self, file: Path) -> str:
        seg = file.name[: -len(STREAM_SUFFIX)]
        if names.is_hashed(seg):
            return (file.parent / (seg + NAME_SUFFIX)).read_text("utf-8")
        return names.decode_segment(seg)

    # ---- groups ----------------------------------------------------------------------------

    @contextmanager
    def _meta_lock(self, gdir: Path) -> Iterator[None]:
        fd = os.open(gdir / ".lock", os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _meta_for_update(self, gdir: Path) -> dict:
        """A private copy of the metadata to change and write back (the cached one is shared)."""
        return json.loads(json.dumps(self._read_meta(gdir)))

    def _read_meta(self, gdir: Path) -> dict:
        """The group's metadata, read-only: cached until group.json is replaced (always atomically)."""
        path = gdir / GROUP_META
        try:
            st = os.stat(path)
            key = st.st_mtime_ns ^ st.st_ino
            cached = self._meta_cache.get(str(path))
            if cached is not None and cached[0] == key:
                return cached[1]
            meta = json.loads(path.read_text("utf-8"))
            self._meta_cache[str(path)] = (key, meta)
            return meta
        except FileNotFoundError:
            return {}
        except (ValueError, OSError):
            return {}  # a damaged metadata file must not hide the group's streams

    def _write_meta(self, gdir: Path, meta: dict) -> None:
        tmp = gdir / f".{GROUP_META}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            tmp.write_text(json.dumps(meta, sort_keys=True), "utf-8")
            os.replace(tmp, gdir / GROUP_META)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise _storage_error(e) from None

    def create_group(
        self, group: str, *, tags: dict[str, str] | None = None, exist_ok: bool = False
    ) -> GroupInfo:
        """:raises AlreadyExists: unless exist_ok."""
        gdir = self.group_dir(group)
        existed = gdir.is_dir() and (gdir / GROUP_META).exists()
        if existed and not exist_ok:
            raise AlreadyExists(f"log group {group!r} already exists", field="group")
        try:
            gdir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _storage_error(e) from None
        with self._meta_lock(gdir):
            meta = self._meta_for_update(gdir)
            if not meta:
                meta = {"name": group, "creationTime": now_ms(), "tags": dict(tags or {}), "streams": {}}
                self._write_meta(gdir, meta)
            elif not existed or not exist_ok:
                pass
        return self._group_info(group, meta)

    def get_group(self, group: str) -> GroupInfo:
        """:raises NotFound:"""
        gdir = self.group_dir(group)
        if not gdir.is_dir() or gdir.is_symlink():
            raise NotFound(
                f"no log group {group!r}",
                field="group",
                hint="Run 'logsvc groups' to list groups, or write to it first.",
            )
        meta = self._read_meta(gdir)
        return self._group_info(group, meta, gdir)

    def _group_info(self, group: str, meta: dict, gdir: Path | None = None) -> GroupInfo:
        created = meta.get("creationTime")
        if created is None and gdir is not None:
            created = int(gdir.stat().st_mtime * 1000)
        return GroupInfo(
            name=group,
            creation_time=int(created or 0),
            retention_days=meta.get("retentionInDays"),
            tags=dict(meta.get("tags") or {}),
        )

    def list_groups(self) -> list[GroupInfo]:
        """Every group, sorted by name (ASCII order, as DescribeLogGroups)."""
        out = []
        for gdir in self.groups_dir.iterdir():
            if not gdir.is_dir() or gdir.is_symlink():
                continue
            try:
                name = self._group_name(gdir)
                names.validate_group(name)
            except (InvalidParameter, OSError, ValueError, KeyError):
                continue
            out.append(self._group_info(name, self._read_meta(gdir), gdir))
        out.sort(key=lambda g: g.name)
        return out

    def update_group(
        self,
        group: str,
        *,
        retention_days: int | None | type[...] = ...,
        tags: dict[str, str] | None = None,
        untag: Iterable[str] = (),
    ) -> GroupInfo:
        """Change retention (None removes it) and tags. :raises NotFound:"""
        self.get_group(group)
        gdir = self.group_dir(group)
        with self._meta_lock(gdir):
            meta = self._meta_for_update(gdir) or {"name": group, "creationTime": now_ms(), "streams": {}}
            if retention_days is not ...:
                if retention_days is None:
                    meta.pop("retentionInDays", None)
                else:
                    meta["retentionInDays"] = retention_days
            t = dict(meta.get("tags") or {})
            t.update(tags or {})
            for key in untag:
                t.pop(key, None)
            meta["tags"] = t
            self._write_meta(gdir, meta)
        return self._group_info(group, meta)

    def retention(self, group: str) -> tuple[int | None, dict[str, int]]:
        """(oldest event time still kept or None, {stream: offset before which bytes are expired}).

        Retention is enforced in two steps: reads never return events older than the cutoff, and
        the retention job (retention.py) punches the expired bytes out of the files, recording the
        offset here so nobody reads the hole.
        """
        try:
            meta = self._read_meta(self.group_dir(group))
        except InvalidParameter:
            return None, {}
        days = meta.get("retentionInDays")
        cutoff = now_ms() - int(days) * 86_400_000 if days else None
        return cutoff, dict(meta.get("expired") or {})

    def set_expired_offset(self, group: str, stream: str, offset: int) -> None:
        gdir = self.group_dir(group)
        with self._meta_lock(gdir):
            meta = self._meta_for_update(gdir)
            if not meta:
                return
            meta.setdefault("expired", {})[stream] = offset
            self._write_meta(gdir, meta)

    def delete_group(self, group: str) -> None:
        """Remove the group, its streams and metadata. :raises NotFound:"""
        self.get_group(group)
        gdir = self.group_dir(group)
        for entry in list(gdir.iterdir()):
            entry.unlink(missing_ok=True)
        try:
            gdir.rmdir()
        except OSError:
            pass

    # ---- streams ---------------------------------------------------------------------------

    def create_stream(self, group: str, stream: str, *, exist_ok: bool = False) -> StreamInfo:
        """Create the stream's (empty) file. The group must exist. :raises NotFound, AlreadyExists:"""
        self.get_group(group)
        path = self.stream_file(group, stream)
        gdir = path.parent
        with self._meta_lock(gdir):
            if os.path.lexists(path):
                if not exist_ok:
                    raise AlreadyExists(f"log stream {stream!r} already exists", field="stream")
            else:
                seg = path.name[: -len(STREAM_SUFFIX)]
                try:
                    if names.is_hashed(seg):
                        (gdir / (seg + NAME_SUFFIX)).write_text(stream, "utf-8")
                    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_APPEND, 0o644)
                    os.close(fd)
                except OSError as e:
                    raise _storage_error(e) from None
                meta = self._meta_for_update(gdir) or {"name": group, "creationTime": now_ms(), "tags": {}}
                meta.setdefault("streams", {})[stream] = now_ms()
                self._write_meta(gdir, meta)
        return self.get_stream(group, stream)

    def ensure_stream(self, group: str, stream: str) -> Path:
        """Create group and stream if needed and return the stream file's path (`logsvc path`)."""
        self.create_group(group, exist_ok=True)
        self.create_stream(group, stream, exist_ok=True)
        return self.stream_file(group, stream)

    def get_stream(self, group: str, stream: str) -> StreamInfo:
        """:raises NotFound:"""
        path = self.stream_file(group, stream)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.get_group(group)
            raise NotFound(f"no log stream {stream!r} in log group {group!r}", field="stream") from None
        if not _is_regular(st):
            raise NotFound(f"log stream {stream!r} is not a regular file; refusing it", field="stream")
        created = self._read_meta(path.parent).get("streams", {}).get(stream)
        return StreamInfo(
            group=group,
            name=stream,
            creation_time=int(created or st.st_mtime * 1000),
            size=st.st_size,
            mtime_ms=int(st.st_mtime * 1000),
        )

    def list_streams(self, group: str) -> list[StreamInfo]:
        """Every stream of the group, sorted by name. :raises NotFound:"""
        self.get_group(group)
        gdir = self.group_dir(group)
        created = self._read_meta(gdir).get("streams", {})
        out = []
        for entry in os.scandir(gdir):
            if not entry.name.endswith(STREAM_SUFFIX):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                if not _is_regular(st):
                    continue
                name = self._stream_name(Path(entry.path))
            except (InvalidParameter, OSError, ValueError):
                continue
            out.append(
                StreamInfo(
                    group, name, int(created.get(name) or st.st_mtime * 1000), st.st_size, int(st.st_mtime * 1000),
                    entry.path,
                )
            )
        out.sort(key=lambda s: s.name)
        return out

    def delete_stream(self, group: str, stream: str) -> None:
        """:raises NotFound:"""
        self.get_stream(group, stream)
        path = self.stream_file(group, stream)
        path.unlink(missing_ok=True)
        seg = path.name[: -len(STREAM_SUFFIX)]
        (path.parent / (seg + NAME_SUFFIX)).unlink(missing_ok=True)
        with self._meta_lock(path.parent):
            meta = self._meta_for_update(path.parent)
            if meta.get("streams", {}).pop(stream, None) is not None:
                self._write_meta(path.parent, meta)

    # ---- writing and reading -----------------------------------------------------------------

    def append_events(self, group: str, stream: str, events: Iterable[tuple[int, str]]) -> int:
        """Append (timestamp_ms, message) events as whole lines, in one write. Returns bytes written.

        Lines are `lines.format_line`'s: every message reads back byte for byte (escaped if need be).

        One `write` on an O_APPEND descriptor, so concurrent writers never interleave inside a batch;
        if the disk fills mid-write the partial tail is cut off again, so no half line is left behind.
        :raises NotFound: if the stream does not exist. :raises StorageError: on a full disk.
        """
        data = b"".join(lines.format_line(ts, msg) for ts, msg in events)
        path = self.stream_file(group, stream)
        with self._append_lock(group, stream):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
            except FileNotFoundError:
                self.get_stream(group, stream)
                raise
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise InvalidParameter(f"log stream {stream!r} is a symlink; refusing it") from None
                raise _storage_error(e) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                before = os.fstat(fd).st_size
                view = memoryview(data)
                written = 0
                try:
                    while written < len(data):
                        written += os.write(fd, view[written:])
                except OSError as e:
                    if written and os.fstat(fd).st_size == before + written:
                        os.ftruncate(fd, before)
                    raise _storage_error(e) from None
            finally:
                os.close(fd)
        return len(data)

    def append_raw(self, group: str, stream: str, data: bytes) -> None:
        """Append bytes that already end in complete lines (used by `logsvc run` and the invoker)."""
        path = self.stream_file(group, stream)
        with self._append_lock(group, stream):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                view = memoryview(data)
                written = 0
                while written < len(data):
                    written += os.write(fd, view[written:])
            except OSError as e:
                raise _storage_error(e) from None
            finally:
                os.close(fd)

    def _append_lock(self, group: str, stream: str) -> threading.Lock:
        with self._locks_guard:
            return self._append_locks.setdefault((group, stream), threading.Lock())

    def open_stream(self, group: str, stream: str):
        """Open a stream file for reading (binary), refusing symlinks. :raises NotFound:"""
        path = self.stream_file(group, stream)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            self.get_stream(group, stream)
            raise NotFound(f"no log stream {stream!r} in log group {group!r}", field="stream") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise NotFound(f"log stream {stream!r} is a symlink; refusing it", field="stream") from None
            raise
        return os.fdopen(fd, "rb")

    def iter_stream_files(self) -> Iterator[tuple[str, str, Path]]:
        """(group, stream, path) for every regular stream file in the data directory.

        A group folder's listing is cached until its modification time changes (creating, deleting
        or renaming a file changes it), so a query over every stream costs one stat per group.
        """
        for gentry in os.scandir(self.groups_dir):
            if not gentry.is_dir(follow_symlinks=False):
                continue
            try:
                mtime = gentry.stat(follow_symlinks=False).st_mtime_ns
            except OSError:
                continue
            cached = self._listings.get(gentry.path)
            if cached is None or cached[0] != mtime:
                cached = (mtime, self._list_group_dir(Path(gentry.path)))
                self._listings[gentry.path] = cached
            yield from cached[1]

    def _list_group_dir(self, gdir: Path) -> list[tuple[str, str, Path]]:
        try:
            group = self._group_name(gdir)
        except (InvalidParameter, OSError, ValueError, KeyError):
            return []
        out = []
        for entry in os.scandir(gdir):
            name = entry.name
            if not name.endswith(STREAM_SUFFIX) or not entry.is_file(follow_symlinks=False):
                continue
            seg = name[: -len(STREAM_SUFFIX)]
            try:
                if names.is_hashed(seg):
                    stream = (gdir / (seg + NAME_SUFFIX)).read_text("utf-8")
                else:
                    stream = names.decode_segment(seg)
            except (InvalidParameter, OSError, ValueError):
                continue
            out.append((group, stream, Path(entry.path)))
        return out


def _is_regular(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(st.st_mode)


def _storage_error(e: OSError) -> StorageError:
    if e.errno == errno.ENOSPC:
        return StorageError("the disk holding the data directory is full; free space and retry")
    if e.errno == errno.EFBIG:
        return StorageError("the stream file is at the file-size limit")
    return StorageError(f"could not write to the data directory: {e.strerror}")
