"""Opening files and folders under the data directory without ever following a symlink out of it.

Owns: the one way logsvc opens, creates and replaces anything under the data directory. Every
step is `openat`-style: a folder is opened with O_DIRECTORY|O_NOFOLLOW relative to its parent's
descriptor, a file with O_NOFOLLOW relative to its folder's descriptor, and what was opened is
checked with fstat (a regular file or a folder, owned by this user) before it is used. So a
symlink, FIFO, device or foreign file planted anywhere under the data directory is refused
(`Refused`), never followed, read, truncated or written. Atomic replacement writes a temp file
and renames it, both relative to the folder's descriptor.

What logsvc creates is private to the user: folders 0700, files 0600.
Never knows what the files mean (that is `store.py` and the other owners).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW


class Refused(OSError):
    """An entry under the data directory is a symlink, not a regular file/folder, or not ours."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(errno.ELOOP, f"{what} {why}; refusing it")
        self.what = what


def _check(fd: int, what: str, want_dir: bool, owned: bool = True) -> None:
    st = os.fstat(fd)
    ok = stat.S_ISDIR(st.st_mode) if want_dir else stat.S_ISREG(st.st_mode)
    if not ok:
        os.close(fd)
        raise Refused(what, "is not a " + ("folder" if want_dir else "regular file"))
    if owned and st.st_uid != os.geteuid():
        os.close(fd)
        raise Refused(what, f"is owned by uid {st.st_uid}, not by this user")


def _refuse_link(e: OSError, what: str) -> None:
    # O_NOFOLLOW on a symlink: ELOOP; O_DIRECTORY on a non-folder (or a symlink to one): ENOTDIR
    if e.errno in (errno.ELOOP, errno.EMLINK):
        raise Refused(what, "is a symlink") from None
    if e.errno == errno.ENOTDIR:
        raise Refused(what, "is not a folder") from None


def open_dir(
    parent: int | None, name: str | Path, *, create: bool = False, mode: int = DIR_MODE
) -> int:
    """Open folder `name` (one segment, or an absolute path when `parent` is None) as a descriptor.

    With `parent` set, `name` is one segment opened relative to it and a symlink is refused. An
    absolute path (the configured data directory itself) may be reached through symlinks; only
    its last component must be a real folder owned by this user.
    :raises Refused: :raises FileNotFoundError: unless `create`.
    """
    what = str(name)
    for attempt in (0, 1):
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create or attempt:
                raise
            try:
                os.mkdir(name, mode, dir_fd=parent)
            except FileExistsError:
                pass
            continue
        except OSError as e:
            _refuse_link(e, what)
            raise
        _check(fd, what, want_dir=True)
        return fd
    raise FileNotFoundError(errno.ENOENT, "vanished while being created", what)


def open_path(root: int, parts: tuple[str, ...] | list[str], *, create: bool = False) -> int:
    """Open the folder `root/parts[0]/parts[1]/...`, each step refusing symlinks."""
    fd = os.dup(root)
    try:
        for part in parts:
            nxt = open_dir(fd, part, create=create)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def folder(parent: int | None, name: str | Path, *, create: bool = False) -> Iterator[int]:
    """`open_dir` as a context manager that closes the descriptor."""
    fd = open_dir(parent, name, create=create)
    try:
        yield fd
    finally:
        os.close(fd)


def open_file(
    dir_fd: int, name: str, flags: int = os.O_RDONLY, mode: int = FILE_MODE, *, owned: bool = True
) -> int:
    """Open `name` inside `dir_fd` with O_NOFOLLOW; refuse anything but a regular file of ours.

    `owned=False` (reading a stream file another program wrote) drops only the owner check.
    Opened for writing, a file with other hard links is refused too. Never pass O_TRUNC (it would
    act before the checks): truncate the checked descriptor instead.

    :raises Refused: :raises FileNotFoundError: (unless O_CREAT is in flags).
    """
    try:
        fd = os.open(name, flags | _NOFOLLOW | os.O_NONBLOCK, mode, dir_fd=dir_fd)
    except OSError as e:
        _refuse_link(e, name)
        raise
    _check(fd, name, want_dir=False, owned=owned)
    if flags & (os.O_WRONLY | os.O_RDWR) and os.fstat(fd).st_nlink > 1:
        os.close(fd)
        raise Refused(name, "has other hard links")
    if not flags & os.O_NONBLOCK:
        os.set_blocking(fd, True)
    return fd


def read_bytes(dir_fd: int, name: str, limit: int = 1 << 20) -> bytes:
    """The whole file (at most `limit` bytes), opened with `open_file`."""
    fd = open_file(dir_fd, name)
    try:
        return read_fd(fd, limit)
    finally:
        os.close(fd)


def read_fd(fd: int, limit: int = 1 << 20) -> bytes:
    """Everything left in `fd` (at most `limit` bytes)."""
    chunks = []
    total = 0
    while total < limit:
        b = os.read(fd, min(65536, limit - total))
        if not b:
            break
        chunks.append(b)
        total += len(b)
    return b"".join(chunks)


def write_atomic(
    dir_fd: int, name: str, data: bytes, mode: int = FILE_MODE, *, durable: bool = False
) -> None:
    """Replace `name` inside `dir_fd` with `data`: a fresh temp file (O_EXCL) renamed over it.

    A symlink at `name` is replaced, never written through; a folder at `name` is refused.
    `durable`: fsync the file before the rename and the folder after it, so the new content
    survives a machine crash too (checkpoints that promise exactly-once delivery need that).
    """
    tmp = f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode, dir_fd=dir_fd)
    try:
        try:
            view = memoryview(data)
            done = 0
            while done < len(data):
                done += os.write(fd, view[done:])
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        if durable:
            os.fsync(dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise


def is_link_or_foreign(dir_fd: int | None, name: str | Path) -> bool:
    """True if `name` exists and is a symlink or is not owned by this user (lstat, no following)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid()


def refuse_links_under(path: Path) -> None:
    """Refuse a folder tree (the whoosh index) if it, or anything in it, is a symlink or not ours.

    whoosh opens its files by path itself, so this is checked before it is handed the folder.
    :raises Refused:
    """
    if is_link_or_foreign(None, path):
        raise Refused(path.name, "is a symlink or not owned by this user")
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise Refused(path.name, "is not a folder") from None
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # whoosh removed it meanwhile (a temporary TOC, a merged segment): nothing to refuse
        if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid():
            raise Refused(f"{path.name}/{entry.name}", "is a symlink or not owned by this user")
        if stat.S_ISDIR(st.st_mode):
            refuse_links_under(Path(entry.path))


def remove(parent: int, name: str) -> bool:
    """Remove `name` inside `parent` whatever it is: a symlink or file is unlinked (never followed),
    a folder is removed with everything in it. Returns whether something was there."""
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=parent)
    else:
        os.unlink(name, dir_fd=parent)
    return True


@contextmanager
def under(root: Path | str, *parts: str, create: bool = False) -> Iterator[int]:
    """The folder `root/parts...` as a descriptor, every part opened without following a symlink."""
    with folder(None, root, create=create) as rfd:
        fd = open_path(rfd, parts, create=create)
    try:
        yield fd
    finally:
        os.close(fd)
