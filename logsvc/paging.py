"""Paging tokens and cursors: the one codec every surface uses to hand a position to a client.

Owns the wire form of every opaque position logsvc gives out (REST groups/streams/events/search
`nextToken`, SSE tail cursors, CloudWatch DescribeLogGroups/DescribeLogStreams/FilterLogEvents
`nextToken`, GetLogEvents' `f/`/`b/` tokens, invocation-record tokens) and the key that signs them.
Never knows what a position means: callers pass a kind and a JSON value, and check its shape.

Form: `v1.<payload>.<signature>` (itsdangerous' URL-safe serializer, HMAC-SHA256, salted with the
kind, so a groups token is no streams token). GetLogEvents keeps AWS's look (`f/` + 56 digits), its
last 16 digits an HMAC of the rest under the same key. Anything this server did not issue, for this
kind, is refused with the surface's own 400 (`InvalidParameter` → REST 400 or CloudWatch
`InvalidParameterException`), never decoded leniently into the first page.

The key is per data directory: `<data>/paging.key`, 32 random bytes, mode 0600, published atomically
(written to a private temp file opened O_CREAT|O_EXCL|O_NOFOLLOW, then `link`ed into place: the first
process wins, the others read the winner's whole file). So tokens stay valid across gunicorn workers
and restarts over the same data dir, and a client cannot forge positions (offsets into files it never
was handed). If the key cannot be created (a read-only data directory), a fixed key is used with a
warning: tokens are then still checked for damage but can be forged. A key file that is there but
unusable (symlink, wrong size) is a StorageError, never silently replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
import threading
from pathlib import Path
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from logsvc.errors import InvalidParameter, StorageError

log = logging.getLogger(__name__)

VERSION = "v1"
KEY_FILE = "paging.key"
KEY_BYTES = 32
MAX_TOKEN = 65_536  # tail cursors grow with the streams followed; longer input is refused unread
BAD_TOKEN = (
    "The specified nextToken is invalid."  # AWS's text (reference §1), used on every surface
)
RULE = "a token from this server's previous response"
_FALLBACK_KEY = b"logsvc paging: data directory without a key file"


class Codec:
    """Signs and checks tokens under one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._serializers: dict[str, URLSafeSerializer] = {}

    def _serializer(self, kind: str) -> URLSafeSerializer:
        s = self._serializers.get(kind)
        if s is None:
            s = URLSafeSerializer(
                self._key,
                salt=f"logsvc.paging.{VERSION}.{kind}",
                signer_kwargs={"digest_method": hashlib.sha256},
            )
            self._serializers[kind] = s
        return s

    def encode(self, kind: str, value: Any) -> str:
        """An opaque token carrying `value` (JSON-serialisable) for positions of `kind`."""
        return f"{VERSION}.{self._serializer(kind).dumps(value)}"

    def decode(
        self, kind: str, token: object, *, field: str = "nextToken", message: str = BAD_TOKEN
    ) -> Any:
        """The value `encode(kind, value)` carried.

        :raises InvalidParameter: (with `field`) for anything else: garbage, a damaged or forged
            token, one of another kind or version.
        """
        if isinstance(token, str) and len(token) <= MAX_TOKEN and token.startswith(VERSION + "."):
            try:
                return self._serializer(kind).loads(token[len(VERSION) + 1 :])
            except (BadData, ValueError, UnicodeError):
                pass
        raise InvalidParameter(message, field=field, rule=RULE)

    def check_digits(self, kind: str, text: str, n: int = 16) -> str:
        """`n` decimal digits authenticating `text` (for tokens whose form is fixed, like AWS's `f/…`)."""
        mac = hmac.new(self._key, f"{VERSION}\0{kind}\0{text}".encode(), hashlib.sha256).digest()
        return f"{int.from_bytes(mac, 'big') % 10**n:0{n}d}"


_codecs: dict[Path, Codec] = {}
_lock = threading.Lock()


def codec(data_dir: Path | str) -> Codec:
    """The codec of a data directory (its key is read or created once per process)."""
    root = Path(data_dir)
    c = _codecs.get(root)
    if c is None:
        with _lock:
            c = _codecs.get(root)
            if c is None:
                c = _codecs[root] = Codec(_load_key(root))
    return c


def _load_key(root: Path) -> bytes:
    """The data directory's key, created on first use. A key that is there but unusable (a symlink,
    not a regular file, the wrong size) is an error, never silently replaced: workers would disagree."""
    path = root / KEY_FILE
    key = _read_key(path)
    if key is None:
        try:
            _create_key(root, path)
        except OSError as e:
            log.warning(
                "cannot keep a paging key in %s (%s): paging tokens are checked but not secret",
                root,
                e,
            )
            return _FALLBACK_KEY
        key = _read_key(path)
    if key is None or len(key) != KEY_BYTES:
        raise StorageError(
            f"{path} is not a {KEY_BYTES}-byte paging key",
            hint="delete it; open paging tokens become invalid",
        )
    return key


def _read_key(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StorageError(
            f"cannot read the paging key {path}: {e.strerror} (a symlink is refused)"
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StorageError(f"{path} is not a regular file")
        return os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)


def _create_key(root: Path, path: Path) -> None:
    """Publish a new key unless another process already did (the first `link` wins)."""
    tmp = root / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
