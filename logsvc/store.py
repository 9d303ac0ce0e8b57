"""The data directory: log groups, log streams, their files and their metadata.

Owns: turning names into paths (the only module that does), creating/deleting groups and
streams, appending whole lines atomically, reading bytes back. Everything it opens goes through
`safeio` (relative to a folder descriptor, O_NOFOLLOW, only regular files/folders of this user),
so it never follows a symlink out of the data directory. Listings skip an entry they cannot
use and report it (a warning once per entry, and a count for the caller). Never imports
whoosh, watchdog or flask.

Layout (every name tilde-encoded by `names.encode_segment`, so it is one safe segment):

    <data>/groups/<group>/group.json      name, creation time, retention, tags, stream creation times
    <data>/groups/<group>/<stream>.log    the stream: append-only UTF-8, one event per line
    <data>/groups/<group>/<stream>.name   full stream name, only for shortened (hashed) segments
    <data>/groups/<group>/.lock           flock serialising metadata updates
    <data>/index/                         derived: the block index (see index.py)
    <data>/trash/                         deleted stream files and group folders, until the
                                          derived data describing them is gone (`to_trash`)

Folders are created 0700 and files 0600.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from logsvc import lines, names, safeio
from logsvc.errors import AlreadyExists, InvalidParameter, NotFound, StorageError
from logsvc.model import GroupInfo, StreamInfo, retention_cutoff

STREAM_SUFFIX = ".log"
TRASH = "trash"  # under the data directory: see Store.to_trash
NAME_SUFFIX = ".name"
GROUP_META = "group.json"

log = logging.getLogger("logsvc.store")


def _rel(store: Store, path: Path) -> str:
    """A path as shown in messages: relative to the data directory, never the absolute path."""
    try:
        return str(path.relative_to(store.root))
    except ValueError:
        return path.name


def now_ms() -> int:
    return int(time.time() * 1000)


class Store:
    """The data directory. Thread-safe; several processes may share one directory.

    Every file and folder under the data directory is opened through `safeio` (relative to a
    folder descriptor, never following a symlink, only regular files/folders of this user).
    Listings skip an entry they cannot read or that is not a valid name (a symlink, a foreign
    file, a name that is not valid Unicode, a hashed folder whose group.json names another group),
    log one warning per such entry and count it in the caller's `skipped` list.
    """

    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir).resolve()
        self.groups_dir = self.root / "groups"
        try:
            self.root.mkdir(mode=safeio.DIR_MODE, parents=True, exist_ok=True)
            with self._groups_fd(create=True):
                pass
        except safeio.Refused as e:
            raise StorageError(
                f"the data directory's {e.what!r} is a symlink or not ours; refusing it"
            ) from None
        self._append_locks: dict[tuple[str, str], threading.Lock] = {}
        self._listings: dict[str, tuple[int, list[tuple[str, str, Path]], list[str]]] = {}
        self._meta_cache: dict[str, tuple[tuple[int, int], dict]] = {}
        self._locks_guard = threading.Lock()
        self._warned: set[str] = set()

    # ---- paths ---------------------------------------------------------------------------

    def group_dir(self, group: str) -> Path:
        names.validate_group(group)
        return self._inside(self.groups_dir / names.encode_segment(group))

    def stream_file(self, group: str, stream: str) -> Path:
        """The stream's file path (it may not exist yet)."""
        names.validate_stream(stream)
        return self._inside(self.group_dir(group) / (names.encode_segment(stream) + STREAM_SUFFIX))

    def _inside(self, path: Path) -> Path:
        # Encoded segments cannot escape; a group folder replaced by a symlink could, so refuse those.
        # (Everything the store opens goes through safeio as well; this catches callers that only
        # take the path, such as `logsvc path`.)
        gdir = path if path.parent == self.groups_dir else path.parent
        for d in (self.groups_dir, gdir):
            if safeio.is_link_or_foreign(None, d):
                raise InvalidParameter(
                    f"{_rel(self, d)} in the data directory is a symlink or not ours; refusing it"
                )
        return path

    @contextmanager
    def _groups_fd(self, create: bool = False) -> Iterator[int]:
        with (
            safeio.folder(None, self.root, create=create) as root,
            safeio.folder(root, "groups", create=create) as g,
        ):
            yield g

    @contextmanager
    def _group_fd(self, seg: str, create: bool = False) -> Iterator[int]:
        """The group folder's descriptor. :raises InvalidParameter: for a symlink; FileNotFoundError."""
        try:
            with self._groups_fd(create=create) as groups:
                gfd = safeio.open_dir(groups, seg, create=create)
        except safeio.Refused as e:
            raise InvalidParameter(
                f"{e.what!r} in the data directory is a symlink or not ours; refusing it"
            ) from None
        try:
            yield gfd
        finally:
            os.close(gfd)

    def _skip(self, what: str, why: object, skipped: list[str] | None) -> None:
        """Report an entry a listing cannot use: one warning per entry per process, and the caller's count."""
        if skipped is not None:
            skipped.append(what)
        if what not in self._warned:
            self._warned.add(what)
            log.warning("skipping %s in the data directory: %s", what, why)

    def locate(self, path: Path | str) -> tuple[str, str] | None:
        """Map a file under the data directory back to (group, stream), or None if it is not a stream."""
        path = Path(path)
        if path.suffix != STREAM_SUFFIX or path.parent.parent != self.groups_dir:
            return None
        try:
            with self._group_fd(path.parent.name) as gfd:
                group = self._group_name(gfd, path.parent.name)
                stream = self._stream_name(gfd, path.name[: -len(STREAM_SUFFIX)])
        except (InvalidParameter, OSError, ValueError):
            return None
        return group, stream

    def _group_name(self, gfd: int, seg: str) -> str:
        """The group a folder holds. :raises InvalidParameter, OSError, ValueError: if it is not a valid one."""
        if names.is_hashed(seg):
            meta = json.loads(safeio.read_bytes(gfd, GROUP_META).decode("utf-8"))
            name = meta.get("name") if isinstance(meta, dict) else None
            names.validate_group(name)
            if names.encode_segment(name) != seg:
                raise InvalidParameter(f"its {GROUP_META} names another group")
            return name
        return names.validate_group(names.decode_segment(seg))

    def _stream_name(self, gfd: int, seg: str) -> str:
        """The stream a `<seg>.log` file holds. :raises InvalidParameter, OSError, ValueError:"""
        if names.is_hashed(seg):
            name = safeio.read_bytes(gfd, seg + NAME_SUFFIX, names.MAX_NAME * 4 + 1).decode("utf-8")
            names.validate_stream(name)
            if names.encode_segment(name) != seg:
                raise InvalidParameter(f"its {NAME_SUFFIX} file names another stream")
            return name
        return names.validate_stream(names.decode_segment(seg))

    # ---- groups ----------------------------------------------------------------------------

    @contextmanager
    def _meta_lock(self, gfd: int) -> Iterator[None]:
        try:
            fd = safeio.open_file(gfd, ".lock", os.O_CREAT | os.O_RDWR)
        except OSError as e:
            raise _storage_error(e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _meta_for_update(self, gfd: int, seg: str) -> dict:
        """A private copy of the metadata to change and write back (the cached one is shared)."""
        return json.loads(json.dumps(self._read_meta(gfd, seg)))

    def _read_meta(self, gfd: int, seg: str) -> dict:
        """The group's metadata, read-only: cached until group.json is replaced (always atomically)."""
        try:
            fd = safeio.open_file(gfd, GROUP_META)
        except FileNotFoundError:
            return {}
        except OSError as e:
            self._skip(f"groups/{seg}/{GROUP_META}", e, None)
            return {}  # a damaged metadata file must not hide the group's streams
        try:
            st = os.fstat(fd)
            key = (st.st_mtime_ns, st.st_ino)
            cached = self._meta_cache.get(seg)
            if cached is not None and cached[0] == key:
                return cached[1]
            meta = json.loads(safeio.read_fd(fd, 64 << 20).decode("utf-8"))
        except (ValueError, OSError):
            return {}
        finally:
            os.close(fd)
        if not isinstance(meta, dict):
            return {}
        self._meta_cache[seg] = (key, meta)
        return meta

    def _write_meta(self, gfd: int, meta: dict) -> None:
        try:
            safeio.write_atomic(gfd, GROUP_META, json.dumps(meta, sort_keys=True).encode("utf-8"))
        except OSError as e:
            raise _storage_error(e) from None

    def create_group(
        self, group: str, *, tags: dict[str, str] | None = None, exist_ok: bool = False
    ) -> GroupInfo:
        """:raises AlreadyExists: unless exist_ok."""
        seg = self.group_dir(group).name
        try:
            with self._group_fd(seg) as gfd:
                existed = bool(self._read_meta(gfd, seg))
        except FileNotFoundError:
            existed = False
        if existed and not exist_ok:
            raise AlreadyExists(f"log group {group!r} already exists", field="group")
        try:
            with self._group_fd(seg, create=True) as gfd, self._meta_lock(gfd):
                meta = self._meta_for_update(gfd, seg)
                if not meta:
                    meta = {
                        "name": group,
                        "creationTime": now_ms(),
                        "tags": dict(tags or {}),
                        "streams": {},
                    }
                    self._write_meta(gfd, meta)
        except OSError as e:
            raise _storage_error(e) from None
        return self._group_info(group, meta)

    def get_group(self, group: str) -> GroupInfo:
        """:raises NotFound:"""
        seg = self.group_dir(group).name
        try:
            with self._group_fd(seg) as gfd:
                meta = self._read_meta(gfd, seg)
                mtime = os.fstat(gfd).st_mtime
        except FileNotFoundError:
            raise NotFound(
                f"no log group {group!r}",
                field="group",
                hint="Run 'logsvc groups' to list groups, or write to it first.",
            ) from None
        return self._group_info(group, meta, mtime)

    def _group_info(self, group: str, meta: dict, mtime: float | None = None) -> GroupInfo:
        created = meta.get("creationTime")
        if created is None and mtime is not None:
            created = int(mtime * 1000)
        return GroupInfo(
            name=group,
            creation_time=int(created or 0),
            retention_days=meta.get("retentionInDays"),
            tags=dict(meta.get("tags") or {}),
        )

    def _group_folders(self, skipped: list[str] | None) -> Iterator[tuple[int, str, str]]:
        """(folder descriptor, segment, name) of every valid group folder, open while the caller looks.

        A folder that is not a readable, valid group is left out and appended to `skipped`.
        """
        with self._groups_fd() as groups:
            for entry in os.scandir(groups):
                seg = entry.name
                try:
                    gfd = safeio.open_dir(groups, seg)
                except FileNotFoundError:
                    continue  # deleted while we listed
                except OSError as e:
                    self._skip(f"groups/{seg}", e, skipped)
                    continue
                try:
                    try:
                        name = self._group_name(gfd, seg)
                    except (InvalidParameter, OSError, ValueError, UnicodeError) as e:
                        self._skip(f"groups/{seg}", e, skipped)
                        continue
                    yield gfd, seg, name
                finally:
                    os.close(gfd)

    def group_names(self, skipped: list[str] | None = None) -> list[str]:
        """Every valid group's name, sorted, reading metadata only where a shortened name needs it."""
        return sorted(name for _gfd, _seg, name in self._group_folders(skipped))

    def list_groups(self, skipped: list[str] | None = None) -> list[GroupInfo]:
        """Every group, sorted by name (ASCII order, as DescribeLogGroups); bad folders are skipped."""
        out = []
        for gfd, seg, name in self._group_folders(skipped):
            try:
                out.append(
                    self._group_info(name, self._read_meta(gfd, seg), os.fstat(gfd).st_mtime)
                )
            except (InvalidParameter, OSError, ValueError, UnicodeError) as e:
                self._skip(f"groups/{seg}", e, skipped)
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
        seg = self.group_dir(group).name
        with self._group_fd(seg) as gfd, self._meta_lock(gfd):
            meta = self._meta_for_update(gfd, seg) or {
                "name": group,
                "creationTime": now_ms(),
                "streams": {},
            }
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
            self._write_meta(gfd, meta)
        return self._group_info(group, meta)

    def retention(self, group: str) -> tuple[int | None, dict[str, int]]:
        """(oldest event time still kept or None, {stream: offset before which bytes are expired}).

        Retention is enforced in two steps: reads never return events older than the cutoff, and
        the retention job (retention.py) punches the expired bytes out of the files, recording the
        offset here so nobody reads the hole.
        """
        return self.retentions([group])[group]

    def retentions(self, groups: Iterable[str]) -> dict[str, tuple[int | None, dict[str, int]]]:
        """`retention` of each group, the data directory's folders opened once for all of them (a
        search over every stream asks for every group's, on every request)."""
        groups = list(groups)
        out: dict[str, tuple[int | None, dict[str, int]]] = {}
        now = now_ms()
        try:
            with self._groups_fd() as groups_fd:
                for group in groups:
                    meta: dict = {}
                    try:
                        names.validate_group(group)
                        seg = names.encode_segment(group)
                        gfd = safeio.open_dir(groups_fd, seg)  # refuses a symlink, not ours
                        try:
                            meta = self._read_meta(gfd, seg)
                        finally:
                            os.close(gfd)
                    except (InvalidParameter, safeio.Refused, OSError):
                        pass
                    days = meta.get("retentionInDays")
                    cutoff = retention_cutoff(days, now)
                    out[group] = (cutoff, dict(meta.get("expired") or {}))
        except (safeio.Refused, OSError):
            pass
        for group in groups:
            out.setdefault(group, (None, {}))
        return out

    def set_expired_offset(self, group: str, stream: str, offset: int) -> None:
        seg = self.group_dir(group).name
        with self._group_fd(seg) as gfd, self._meta_lock(gfd):
            meta = self._meta_for_update(gfd, seg)
            if not meta:
                return
            meta.setdefault("expired", {})[stream] = offset
            self._write_meta(gfd, meta)

    def delete_group(self, group: str) -> None:
        """Remove the group, its streams and metadata at once: its folder goes to the trash
        (`to_trash`), nothing in it followed. :raises NotFound:"""
        self.get_group(group)
        seg = self.group_dir(group).name
        with self._groups_fd() as groups:
            self.to_trash(groups, seg)

    # ---- streams ---------------------------------------------------------------------------

    def create_stream(self, group: str, stream: str, *, exist_ok: bool = False) -> StreamInfo:
        """Create the stream's (empty) file. The group must exist. :raises NotFound, AlreadyExists:"""
        self.get_group(group)
        path = self.stream_file(group, stream)
        gseg = path.parent.name
        seg = path.name[: -len(STREAM_SUFFIX)]
        with self._group_fd(gseg) as gfd, self._meta_lock(gfd):
            try:
                os.stat(path.name, dir_fd=gfd, follow_symlinks=False)
                exists = True
            except FileNotFoundError:
                exists = False
            if exists:
                if not exist_ok:
                    raise AlreadyExists(f"log stream {stream!r} already exists", field="stream")
            else:
                try:
                    if names.is_hashed(seg):
                        safeio.write_atomic(gfd, seg + NAME_SUFFIX, stream.encode("utf-8"))
                    fd = safeio.open_file(
                        gfd, path.name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_APPEND
                    )
                    os.close(fd)
                except safeio.Refused as e:
                    raise InvalidParameter(
                        f"{e.what!r} in the data directory is a symlink or not ours; refusing it"
                    ) from None
                except OSError as e:
                    raise _storage_error(e) from None
                meta = self._meta_for_update(gfd, gseg) or {
                    "name": group,
                    "creationTime": now_ms(),
                    "tags": {},
                }
                meta.setdefault("streams", {})[stream] = now_ms()
                self._write_meta(gfd, meta)
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
            with self._group_fd(path.parent.name) as gfd:
                try:
                    st = os.stat(path.name, dir_fd=gfd, follow_symlinks=False)
                except FileNotFoundError:
                    st = None
                meta = self._read_meta(gfd, path.parent.name)
        except FileNotFoundError:
            st = None
        if st is None:
            self.get_group(group)
            raise NotFound(
                f"no log stream {stream!r} in log group {group!r}", field="stream"
            ) from None
        if not _is_regular(st):
            raise NotFound(
                f"log stream {stream!r} is not a regular file; refusing it", field="stream"
            )
        created = meta.get("streams", {}).get(stream)
        return StreamInfo(
            group=group,
            name=stream,
            creation_time=int(created or st.st_mtime * 1000),
            size=st.st_size,
            mtime_ms=int(st.st_mtime * 1000),
            ino=st.st_ino,
        )

    def list_streams(self, group: str, skipped: list[str] | None = None) -> list[StreamInfo]:
        """Every stream of the group, sorted by name. :raises NotFound:

        A `.log` entry that is not a regular file of ours with a valid name is left out and
        appended to `skipped`.
        """
        gdir = self.group_dir(group)
        gseg, gpath = gdir.name, str(gdir)
        try:
            with self._group_fd(gseg) as gfd:
                created = self._read_meta(gfd, gseg).get("streams", {})
                out = []
                for entry in os.scandir(gfd):
                    if not entry.name.endswith(STREAM_SUFFIX):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                        if not _is_regular(st):
                            raise safeio.Refused(entry.name, "is a symlink or not a regular file")
                        name = self._stream_name(gfd, entry.name[: -len(STREAM_SUFFIX)])
                    except FileNotFoundError:
                        continue
                    except (InvalidParameter, OSError, ValueError) as e:
                        self._skip(f"groups/{gseg}/{entry.name}", e, skipped)
                        continue
                    out.append(
                        StreamInfo(
                            group,
                            name,
                            int(created.get(name) or st.st_mtime * 1000),
                            st.st_size,
                            int(st.st_mtime * 1000),
                            f"{gpath}/{entry.name}",  # a Path per stream was 20% of a listing
                            st.st_ino,
                        )
                    )
        except FileNotFoundError:
            # the folder went away while we read it (deleted, perhaps made again since): the group
            # we were listing is gone either way, never a 500
            raise NotFound(
                f"no log group {group!r}",
                field="group",
                hint="Run 'logsvc groups' to list groups, or write to it first.",
            ) from None
        out.sort(key=lambda s: s.name)
        return out

    def delete_stream(self, group: str, stream: str) -> None:
        """:raises NotFound:"""
        self.get_stream(group, stream)
        path = self.stream_file(group, stream)
        gseg = path.parent.name
        seg = path.name[: -len(STREAM_SUFFIX)]
        with self._group_fd(gseg) as gfd:
            self.to_trash(gfd, path.name)
            try:
                os.unlink(seg + NAME_SUFFIX, dir_fd=gfd)
            except FileNotFoundError:
                pass
            with self._meta_lock(gfd):
                meta = self._meta_for_update(gfd, gseg)
                if meta.get("streams", {}).pop(stream, None) is not None:
                    self._write_meta(gfd, meta)

    # ---- the trash ---------------------------------------------------------------------------

    def to_trash(self, parent_fd: int, name: str) -> None:
        """Move a deleted stream file or group folder out of `groups/` instead of unlinking it.

        Everything derived from a stream file (index blocks, stamps, columns, event ids) knows it by
        inode and first bytes. Unlinked, its inode is free at once, and a stream created again under
        the name with the same first line could get it and pass for the deleted file before the
        ingester dropped what described it: old times, old event ids, even its first events taken
        for ones already read. Held in the trash, the inode stays taken until the ingester has
        dropped all of that (`Ingester`'s trash sweep empties it).
        """
        target = f"{time.time_ns():020d}-{os.urandom(4).hex()}"
        try:
            with safeio.under(self.root, TRASH, create=True) as tfd:
                os.rename(name, target, src_dir_fd=parent_fd, dst_dir_fd=tfd)
        except FileNotFoundError:
            pass
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
            safeio.remove(parent_fd, name)  # groups/ on another file system: unlink as before

    def trash(self) -> list[tuple[str, frozenset[int]]]:
        """What waits in the trash, oldest first: each entry's name and the inodes it holds."""
        try:
            with safeio.under(self.root, TRASH) as tfd:
                out = []
                for name in sorted(os.listdir(tfd)):
                    inos: set[int] = set()
                    try:
                        st = os.stat(name, dir_fd=tfd, follow_symlinks=False)
                        inos.add(st.st_ino)
                        if stat.S_ISDIR(st.st_mode):
                            with safeio.folder(tfd, name) as dfd, os.scandir(dfd) as it:
                                inos.update(entry.inode() for entry in it)
                    except (OSError, safeio.Refused):
                        pass  # removed meanwhile, or not ours: emptying removes it all the same
                    out.append((name, frozenset(inos)))
                return out
        except (FileNotFoundError, safeio.Refused):
            return []

    def empty_trash(self, entries: Iterable[str]) -> None:
        """Remove these trash entries (never following a link). One that cannot be removed stays
        for the next sweep and is reported once: it only costs disk space."""
        try:
            with safeio.under(self.root, TRASH) as tfd:
                for name in entries:
                    try:
                        safeio.remove(tfd, name)
                    except FileNotFoundError:
                        pass
                    except OSError as e:
                        self._skip(f"{TRASH}/{name}", f"cannot be removed ({e})", None)
        except (FileNotFoundError, safeio.Refused):
            pass

    def _open_stream_fd(self, group: str, stream: str, flags: int) -> int:
        """The stream file's descriptor, opened by safeio relative to its group folder.

        Writing needs a file of this user; reading also takes one another program wrote.
        :raises FileNotFoundError: :raises InvalidParameter: for a symlink or foreign file.
        """
        path = self.stream_file(group, stream)
        with self._group_fd(path.parent.name) as gfd:
            try:
                return safeio.open_file(
                    gfd, path.name, flags, owned=flags & os.O_ACCMODE != os.O_RDONLY
                )
            except safeio.Refused:
                raise InvalidParameter(
                    f"log stream {stream!r} is a symlink or not a regular file; refusing it"
                ) from None

    # ---- writing and reading -----------------------------------------------------------------

    def append_events(
        self,
        group: str,
        stream: str,
        events: Iterable[tuple[int, str] | tuple[int, str, str | None]],
    ) -> int:
        """Append (timestamp_ms, message) events as whole lines, in one write. Returns bytes written.

        Lines are `lines.format_line`'s: every message reads back byte for byte (escaped if need be).
        An event may carry a third item, the pipe it was written to (`logsvc run`: "stdout"/"stderr").

        One `write` on an O_APPEND descriptor, so concurrent writers never interleave inside a batch;
        if the disk fills mid-write the partial tail is cut off again, so no half line is left behind.
        :raises NotFound: if the stream does not exist. :raises StorageError: on a full disk.
        """
        data = b"".join(lines.format_line(*event) for event in events)
        self.stream_file(group, stream)  # validates both names
        with self._append_lock(group, stream):
            try:
                fd = self._open_stream_fd(group, stream, os.O_WRONLY | os.O_APPEND)
            except FileNotFoundError:
                self.get_stream(group, stream)
                raise
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise InvalidParameter(
                        f"log stream {stream!r} is a symlink; refusing it"
                    ) from None
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
        with self._append_lock(group, stream):
            try:
                fd = self._open_stream_fd(group, stream, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            except OSError as e:
                raise _storage_error(e) from None
            try:
                view = memoryview(data)
                written = 0
                while written < len(data):
                    written += os.write(fd, view[written:])
            except OSError as e:
                raise _storage_error(e) from None
            finally:
                os.close(fd)

    def punch_hole(self, group: str, stream: str, start: int, end: int, ino: int) -> int:
        """Deallocate [start, end) of the stream file, keeping its size, offsets and first bytes
        (retention's one write to a stream, see retention.py); returns the bytes freed (by st_blocks).

        Only if the file is still inode `ino` (the one whose bytes expired); 0 otherwise.
        :raises OSError: EOPNOTSUPP or ENOSYS on file systems without hole punching.
        """
        if end <= start:
            return 0
        try:
            fd = self._open_stream_fd(group, stream, os.O_WRONLY)
        except (FileNotFoundError, InvalidParameter):
            return 0
        try:
            before = os.fstat(fd)
            if before.st_ino != ino:
                return 0
            if (
                _fallocate()(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, start, end - start)
                != 0
            ):
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), f"{group}/{stream}")
            return max(0, before.st_blocks - os.fstat(fd).st_blocks) * 512
        finally:
            os.close(fd)

    def _append_lock(self, group: str, stream: str) -> threading.Lock:
        with self._locks_guard:
            return self._append_locks.setdefault((group, stream), threading.Lock())

    def open_stream(self, group: str, stream: str):
        """Open a stream file for reading (binary), refusing symlinks. :raises NotFound:"""
        try:
            fd = self._open_stream_fd(group, stream, os.O_RDONLY)
        except FileNotFoundError:
            self.get_stream(group, stream)
            raise NotFound(
                f"no log stream {stream!r} in log group {group!r}", field="stream"
            ) from None
        except InvalidParameter as e:
            raise NotFound(str(e), field="stream") from None
        return os.fdopen(fd, "rb")

    def iter_stream_files(
        self, skipped: list[str] | None = None
    ) -> Iterator[tuple[str, str, Path]]:
        """(group, stream, path) for every regular stream file with a valid name in the data directory.

        A group folder's listing is cached until its modification time changes (creating, deleting
        or renaming a file changes it), so a query over every stream costs one stat per group.
        Entries that cannot be used are skipped and reported (see the class docstring).
        """
        with (
            self._groups_fd() as groups,
            os.scandir(groups) as listing,
        ):  # closed even if a stat raises
            gentries = []
            for gentry in listing:
                try:
                    gentries.append((gentry.name, gentry.stat(follow_symlinks=False)))
                except OSError:
                    continue
        for gseg, st in gentries:
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
                self._skip(f"groups/{gseg}", "a symlink, not a folder, or not ours", skipped)
                continue
            cached = self._listings.get(gseg)
            if cached is None or cached[0] != st.st_mtime_ns:
                bad: list[str] = []
                cached = (st.st_mtime_ns, self._list_group_dir(gseg, bad), bad)
                self._listings[gseg] = cached
            if skipped is not None:
                skipped.extend(cached[2])
            yield from cached[1]

    def _list_group_dir(self, gseg: str, skipped: list[str]) -> list[tuple[str, str, Path]]:
        gdir = self.groups_dir / gseg
        out = []
        try:
            with self._group_fd(gseg) as gfd:
                try:
                    group = self._group_name(gfd, gseg)
                except (InvalidParameter, OSError, ValueError) as e:
                    self._skip(f"groups/{gseg}", e, skipped)
                    return []
                with os.scandir(gfd) as listing:
                    entries = list(listing)  # closed before anything below can raise
                for entry in entries:
                    name = entry.name
                    if not name.endswith(STREAM_SUFFIX):
                        continue
                    try:
                        if not entry.is_file(follow_symlinks=False):
                            raise safeio.Refused(name, "is a symlink or not a regular file")
                        stream = self._stream_name(gfd, name[: -len(STREAM_SUFFIX)])
                    except FileNotFoundError:
                        continue
                    except (InvalidParameter, OSError, ValueError) as e:
                        self._skip(f"groups/{gseg}/{name}", e, skipped)
                        continue
                    out.append((group, stream, gdir / name))
        except FileNotFoundError:
            return []
        except InvalidParameter as e:
            self._skip(f"groups/{gseg}", e, skipped)
            return []
        return out


FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
_libc = None


def _fallocate():
    """libc's fallocate(2), loaded once (the os module has no hole punching)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        _libc.fallocate.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_longlong,
            ctypes.c_longlong,
        )
        _libc.fallocate.restype = ctypes.c_int
    return _libc.fallocate


def _is_regular(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode)


def _storage_error(e: OSError) -> StorageError:
    if e.errno == errno.ENOSPC:
        return StorageError("the disk holding the data directory is full; free space and retry")
    if e.errno == errno.EFBIG:
        return StorageError("the stream file is at the file-size limit")
    return StorageError(f"could not write to the data directory: {e.strerror}")
