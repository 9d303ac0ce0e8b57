"""CloudWatch's rules for log group and stream names, and their safe encoding as path segments.

Owns: validating names and the reversible "tilde encoding" of a name into one file-name segment.
Never touches the filesystem (that is `store.py`).

Encoding: ASCII letters, digits, `_` and `-` stand for themselves; every other UTF-8 byte becomes
`~XX` (upper-case hex). So `/aws/lambda/fn` is `~2Faws~2Flambda~2Ffn`, `..` is `~2E~2E` and `a`
and `/a` stay apart. An encoded segment can never be `.`, `..` or contain `/`, so it can never
leave its directory. Segments longer than `MAX_SEGMENT` keep a readable prefix and end in
`~~<hash>`; the store keeps the full name beside such files.
"""

from __future__ import annotations

import functools
import hashlib
import re

from logsvc.errors import InvalidParameter

MAX_NAME = 512
MAX_SEGMENT = 200  # stays well under NAME_MAX (255 bytes) with a ".log"/".name" suffix

GROUP_RULE = "1-512 characters of [.-_/#A-Za-z0-9]"
STREAM_RULE = "1-512 characters, not ':' or '*'"

# The group logsvc's invoker keeps its invocation records in (invoker/records.py). AWS has no such
# group, so group listings and reads of "every group" leave it out unless a request names it exactly;
# the console reaches it through the Invocations view (ARCHITECTURE.md, "Internal groups").
INVOCATIONS_GROUP = "/logsvc/invocations"
HIDDEN_GROUPS = frozenset({INVOCATIONS_GROUP})


def hidden(name: str, asked: object = ()) -> bool:
    """Is `name` an internal group that a listing should leave out, given the exact names `asked`?"""
    return name in HIDDEN_GROUPS and name not in asked


_GROUP_RE = re.compile(r"[.\-_/#A-Za-z0-9]+")
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TILDE_RE = re.compile(r"~([0-9A-F]{2})")


def validate_group(name: object, field: str = "group") -> str:
    """Return `name` if it is a valid log group name.

    :raises InvalidParameter: naming the field and the rule.
    """
    if not isinstance(name, str) or not name:
        raise InvalidParameter(
            f"{field} must not be empty ({GROUP_RULE})", field=field, rule=GROUP_RULE
        )
    if len(name) > MAX_NAME:
        raise InvalidParameter(
            f"{field} is {len(name)} characters; the limit is {MAX_NAME} ({GROUP_RULE})",
            field=field,
            rule=GROUP_RULE,
        )
    if not _GROUP_RE.fullmatch(name):
        bad = next(c for c in name if not _GROUP_RE.fullmatch(c))
        raise InvalidParameter(
            f"{field} contains {bad!r}; log group names allow {GROUP_RULE}",
            field=field,
            rule=GROUP_RULE,
        )
    return name


def validate_stream(name: object, field: str = "stream") -> str:
    """Return `name` if it is a valid log stream name.

    :raises InvalidParameter: naming the field and the rule.
    """
    if not isinstance(name, str) or not name:
        raise InvalidParameter(
            f"{field} must not be empty ({STREAM_RULE})", field=field, rule=STREAM_RULE
        )
    if len(name) > MAX_NAME:
        raise InvalidParameter(
            f"{field} is {len(name)} characters; the limit is {MAX_NAME} ({STREAM_RULE})",
            field=field,
            rule=STREAM_RULE,
        )
    for bad in (":", "*"):
        if bad in name:
            raise InvalidParameter(
                f"{field} contains {bad!r}; log stream names allow {STREAM_RULE}",
                field=field,
                rule=STREAM_RULE,
            )
    if "\x00" in name:
        raise InvalidParameter(f"{field} contains a NUL character", field=field, rule=STREAM_RULE)
    if not is_valid_unicode(name):
        raise InvalidParameter(
            f"{field} is not valid Unicode (it holds a lone surrogate); log stream names allow {STREAM_RULE}",
            field=field,
            rule=STREAM_RULE,
        )
    return name


def is_valid_unicode(name: str) -> bool:
    """True if `name` is encodable as UTF-8 (no lone surrogates), as every name on disk and on the wire must be."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@functools.lru_cache(maxsize=65536)
def encode_segment(name: str) -> str:
    """Encode a (validated) name as one safe path segment. See the module docstring.

    :raises UnicodeEncodeError: for a name that is not valid Unicode (validation refuses those).
    """
    raw = name.encode("utf-8")
    out = "".join(chr(b) if b in _SAFE else f"~{b:02X}" for b in raw)
    if len(out) <= MAX_SEGMENT:
        return out
    digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
    prefix = out[: MAX_SEGMENT - 40]
    cut = prefix.rfind("~", len(prefix) - 2)
    if cut != -1:  # never split a ~XX escape
        prefix = prefix[:cut]
    return f"{prefix}~~{digest}"


def is_hashed(segment: str) -> bool:
    """True if `segment` is the shortened form whose full name is stored beside it."""
    return "~~" in segment


@functools.lru_cache(maxsize=65536)
def decode_segment(segment: str) -> str:
    """Invert `encode_segment` for segments that are not hashed.

    :raises InvalidParameter: if the segment is not a valid encoding.
    """
    if is_hashed(segment):
        raise InvalidParameter(f"{segment!r} is a shortened name; read the full name beside it")
    data = bytearray()
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "~":
            m = _TILDE_RE.match(segment, i)
            if not m:
                raise InvalidParameter(f"bad escape in {segment!r} at {i}")
            data.append(int(m.group(1), 16))
            i += 3
        elif ord(c) in _SAFE:
            data.append(ord(c))
            i += 1
        else:
            raise InvalidParameter(f"{segment!r} is not an encoded name")
    try:
        name = data.decode("utf-8")  # strict: a lone surrogate (~ED~A0~80) is not a name
    except UnicodeDecodeError:
        raise InvalidParameter(f"{segment!r} does not encode valid UTF-8") from None
    if encode_segment(name) != segment:  # reject non-canonical spellings such as ~61 for 'a'
        raise InvalidParameter(f"{segment!r} is not a canonical encoded name")
    return name
