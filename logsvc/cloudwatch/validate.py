"""AWS's request validation for the CloudWatch Logs JSON protocol: shapes, limits and Coral texts.

Owns: the per-operation input shapes (type, required, length, range, pattern, enum) and the exact
error texts AWS's Coral framework writes for them, e.g.

    1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint:
    Member must have value less than or equal to 10000

Why here and not in botocore's hands: botocore checks only required members, types and *minimum*
lengths/values client-side; maxima, patterns and enums are the server's job (reference §1).
A wrong JSON type is a SerializationException, as AWS answers a raw client that sends one.
Never touches the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from logsvc.cloudwatch.errors import AwsError, invalid_parameter

GROUP_NAME_RE = r"[\.\-_/#A-Za-z0-9]+"
STREAM_NAME_RE = r"[^:*]*"
IDENTIFIER_RE = r"[\w#+=/:,.@-]*"
TAG_KEY_RE = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$"
TAG_VALUE_RE = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
# Python's `re` has no \p{..}: the same classes written out (letters and numbers, space separators).
# A Python str can hold a lone surrogate (JSON "\ud800") that Java's UTF-16 strings would not carry as
# valid Unicode: stream names must be valid Unicode, so `[^:*]` leaves surrogates out.
_PY_EQUIVALENT = {
    STREAM_NAME_RE: r"[^:*\ud800-\udfff]*",
    TAG_KEY_RE: r"(?:[^\W_]|[ \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000_.:/=+\-@])+",
    TAG_VALUE_RE: r"(?:[^\W_]|[ \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000_.:/=+\-@])*",
}

RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


@dataclass(frozen=True)
class Member:
    """One input member. `kind`: string, integer, boolean, list, map, structure."""

    name: str
    kind: str = "string"
    required: bool = False
    min_len: int | None = None
    max_len: int | None = None
    lo: int | None = None
    hi: int | None = None
    pattern: str | None = None
    enum: tuple | None = None
    item: Member | None = None  # list items / map values
    key: Member | None = None  # map keys
    members: tuple[Member, ...] = field(default=())  # structure members
    regex: re.Pattern | None = field(
        default=None, init=False, repr=False, compare=False
    )  # `pattern`, compiled

    def __post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "regex", _compile(self.pattern))


def _compile(pattern: str) -> re.Pattern:
    return re.compile(_PY_EQUIVALENT.get(pattern, pattern))


def S(name: str, **kw: Any) -> Member:
    return Member(name, "string", **kw)


def I(name: str, **kw: Any) -> Member:  # noqa: E743
    return Member(name, "integer", **kw)


def B(name: str, **kw: Any) -> Member:
    return Member(name, "boolean", **kw)


def D(name: str, **kw: Any) -> Member:
    """A JSON number that may have a fraction (a double, or a timestamp in epoch seconds)."""
    return Member(name, "double", **kw)


def L(name: str, item: Member, **kw: Any) -> Member:
    return Member(name, "list", item=item, **kw)


def M(name: str, key: Member, value: Member, **kw: Any) -> Member:
    return Member(name, "map", key=key, item=value, **kw)


def St(name: str, *members: Member, **kw: Any) -> Member:
    return Member(name, "structure", members=members, **kw)


_JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "double": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "map": (dict,),
    "structure": (dict,),
}


def check(params: object, members: Iterable[Member]) -> dict:
    """Validate a request body against its members; return it (a dict) if valid.

    :raises AwsError: SerializationException for a wrong JSON type, InvalidParameterException
        with Coral's "N validation error(s) detected: ..." text for any broken constraint.
    """
    if not isinstance(params, dict):
        raise AwsError(
            "SerializationException", "Start of structure or map found where not expected."
        )
    errors: list[str] = []
    for m in members:
        _check_member(m, params.get(m.name), m.name, errors)
    if errors:
        n = len(errors)
        raise invalid_parameter(
            f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errors)
        )
    return params


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_member(
    m: Member, value: object, path: str, errors: list[str], *, in_collection: bool = False
) -> None:
    """`in_collection`: a list item or map value, which can never be null (`[null]` is no event)."""
    if value is None:
        if m.required or in_collection:
            errors.append(
                f"Value null at '{path}' failed to satisfy constraint: Member must not be null"
            )
        return
    types = _JSON_TYPES[m.kind]
    ok = isinstance(value, types) and not (
        m.kind in ("integer", "double") and isinstance(value, bool)
    )
    if m.kind == "integer" and isinstance(value, float) and value.is_integer():
        ok = True  # 5.0 is a JSON number like 5
    if not ok:
        raise AwsError(
            "SerializationException", f"Unexpected value type for '{path}': expected a {m.kind}"
        )
    shown = (
        f"Value '{_value_text(value)}' at '{path}'"
        if m.kind in ("string", "integer", "double", "boolean")
        else f"Value at '{path}'"
    )

    def fail(constraint: str) -> None:
        errors.append(f"{shown} failed to satisfy constraint: Member must {constraint}")

    if m.kind in ("string", "list", "map"):
        n = len(value)  # type: ignore[arg-type]
        if m.max_len is not None and n > m.max_len:
            fail(f"have length less than or equal to {m.max_len}")
        if m.min_len is not None and n < m.min_len:
            fail(f"have length greater than or equal to {m.min_len}")
    if m.kind == "integer":
        if m.hi is not None and value > m.hi:  # type: ignore[operator]
            fail(f"have value less than or equal to {m.hi}")
        if m.lo is not None and value < m.lo:  # type: ignore[operator]
            fail(f"have value greater than or equal to {m.lo}")
    if m.kind == "string" and m.regex is not None and not m.regex.fullmatch(value):  # type: ignore[arg-type]
        fail(f"satisfy regular expression pattern: {m.pattern}")
    if m.enum is not None and value not in m.enum:
        fail(f"satisfy enum value set: [{', '.join(str(v) for v in m.enum)}]")
    if m.kind == "list" and m.item is not None:
        for i, item in enumerate(value, 1):  # type: ignore[arg-type]
            _check_member(m.item, item, f"{path}.{i}.member", errors, in_collection=True)
    if m.kind == "map":
        for k, v in value.items():  # type: ignore[union-attr]
            if m.key is not None:
                _check_key(m.key, k, path, errors)
            if m.item is not None:
                _check_member(m.item, v, f"{path}.{k}", errors, in_collection=True)
    if m.kind == "structure":
        for sub in m.members:
            _check_member(sub, value.get(sub.name), f"{path}.{sub.name}", errors)  # type: ignore[union-attr]


def _check_key(m: Member, key: str, path: str, errors: list[str]) -> None:
    shown = f"Value '{key}' at '{path}' failed to satisfy constraint: Member must "
    if m.max_len is not None and len(key) > m.max_len:
        errors.append(shown + f"have length less than or equal to {m.max_len}")
    if m.min_len is not None and len(key) < m.min_len:
        errors.append(shown + f"have length greater than or equal to {m.min_len}")
    if m.regex is not None and not m.regex.fullmatch(key):
        errors.append(shown + f"satisfy regular expression pattern: {m.pattern}")


# ---- the shapes, as the botocore model (S2) writes them ----------------------------------------

NAME_MAX = 512


def group_name(name: str = "logGroupName", required: bool = True) -> Member:
    return S(name, required=required, min_len=1, max_len=NAME_MAX, pattern=GROUP_NAME_RE)


def group_identifier(name: str = "logGroupIdentifier", required: bool = False) -> Member:
    return S(name, required=required, min_len=1, max_len=2048, pattern=IDENTIFIER_RE)


def stream_name(name: str = "logStreamName", required: bool = True) -> Member:
    return S(name, required=required, min_len=1, max_len=NAME_MAX, pattern=STREAM_NAME_RE)


def next_token(name: str = "nextToken") -> Member:
    return S(name, min_len=1)


TAGS = M(
    "tags",
    S("key", min_len=1, max_len=128, pattern=TAG_KEY_RE),
    S("value", max_len=256, pattern=TAG_VALUE_RE),
    min_len=1,
    max_len=50,
)
TAG_KEYS = L(
    "tagKeys",
    S("member", min_len=1, max_len=128, pattern=TAG_KEY_RE),
    min_len=0,
    max_len=50,
    required=True,
)
