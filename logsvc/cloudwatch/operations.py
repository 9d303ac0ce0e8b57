"""CloudWatch Logs operations: each takes the request's members and returns the response members.

Owns: the translation between AWS's camelCase members and calls on the store, reader and tailer
(`PutLogEvents` writes through `Store.append_events`, the one write path; reads go through
`Reader.read`), AWS's rules that are not plain shape constraints (PutLogEvents batch limits and
rejected-event indexes, mutually exclusive members, GetLogEvents' `f/`/`b/` tokens), and ARNs.
Never parses HTTP: `api/cloudwatch.py` hands it a `Context` and a dict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from logsvc import limits, listing, paging, stamps, subscriptions, visibility
from logsvc.cloudwatch import eventstream
from logsvc.cloudwatch import validate as v
from logsvc.cloudwatch.errors import (
    BAD_SUBSCRIPTION_PATTERN,
    BAD_TOKEN,
    CANNOT_EXECUTE_FUNCTION,
    LIMIT_EXCEEDED,
    SUBSCRIPTION_NOT_FOUND,
    AwsError,
    invalid_parameter,
    not_found,
    to_aws,
)
from logsvc.errors import InvalidParameter, LimitExceeded, LogsvcError, NotFound
from logsvc.filterpattern import compile_pattern
from logsvc.model import GroupInfo, LogEvent, stream_key
from logsvc.names import hidden as hidden_group
from logsvc.query import NEG_INF, POS_INF, Source

ACCOUNT_ID = "000000000000"
FILTER_DEADLINE_S = 5.0  # a long scan answers with a partial page and a nextToken, as AWS does
LIVE_TAIL_MAX_S = 3 * 3600
LIVE_TAIL_MAX_EVENTS = 500
START_FROM_HEAD_FALSE_MIN = (
    1_704_067_200_000  # 2024-01-01: FilterLogEvents' startFromHead=false floor
)


@dataclass(frozen=True)
class Context:
    """What an operation needs besides its members."""

    service: Any
    region: str = "us-east-1"
    account_id: str = ACCOUNT_ID
    request_id: str = ""


# ---- names, identifiers and ARNs ---------------------------------------------------------------


def group_arn(ctx: Context, group: str) -> str:
    """`logGroupArn`: the form tagging and identifiers use (no trailing `:*`)."""
    return f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{group}"


def stream_arn(ctx: Context, group: str, stream: str) -> str:
    return f"{group_arn(ctx, group)}:log-stream:{stream}"


_ARN_RE = re.compile(r"arn:aws[\w-]*:logs:[^:]*:[^:]*:log-group:([^:]+)")


def group_from_identifier(identifier: str) -> str:
    """A log group name from a name or a log group ARN (without `:*`)."""
    if identifier.startswith("arn:"):
        m = _ARN_RE.fullmatch(identifier)
        if not m:
            raise invalid_parameter(
                f"The specified log group identifier is not a log group ARN: {identifier}"
            )
        return m.group(1)
    return identifier


def resolve_group(p: dict, *, required: bool = True) -> str | None:
    """The group named by logGroupName or logGroupIdentifier (exactly one)."""
    name, ident = p.get("logGroupName"), p.get("logGroupIdentifier")
    if name is not None and ident is not None:
        raise AwsError(
            "ValidationException",
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )
    if name is None and ident is None:
        if not required:
            return None
        raise invalid_parameter("Should provide either logGroupName or logGroupIdentifier.")
    return name if name is not None else group_from_identifier(ident)


def existing_group(ctx: Context, group: str) -> GroupInfo:
    """The group, or AWS's ResourceNotFoundException (also for a name the store refuses)."""
    try:
        return ctx.service.store.get_group(group)
    except (NotFound, InvalidParameter):
        raise not_found("group") from None


def _codec(ctx: Context) -> paging.Codec:
    return paging.codec(ctx.service.store.root)


def page_token(ctx: Context, kind: str, data: Any) -> str:
    """A signed paging token of `kind` (paging.py) for `data`."""
    return _codec(ctx).encode(kind, data)


def read_page_token(ctx: Context, kind: str, token: str) -> Any:
    """:raises AwsError: InvalidParameterException, AWS's text, for any token we did not issue."""
    try:
        return _codec(ctx).decode(kind, token)
    except InvalidParameter:
        raise invalid_parameter(BAD_TOKEN) from None


def group_sources(
    ctx: Context, group: str, names: list[str] | None = None, prefix: str | None = None
) -> list[Source]:
    """The streams of `group` to read, with what is visible of them (`Reader.sources`, every read's).

    :raises NotFound: for an unknown group or a named stream that does not exist.
    """
    return ctx.service.reader.sources([group], names or (), prefix)


def _pattern(text: str | None):
    try:
        return compile_pattern(text or "")
    except InvalidParameter as e:
        raise invalid_parameter(str(e)) from None


# ---- log groups --------------------------------------------------------------------------------

CREATE_LOG_GROUP = (
    v.group_name(),
    v.S("kmsKeyId", max_len=256),
    v.TAGS,
    v.S("logGroupClass", enum=("STANDARD", "INFREQUENT_ACCESS", "DELIVERY")),
    v.B("deletionProtectionEnabled"),
)


def create_log_group(ctx: Context, p: dict) -> None:
    group = p["logGroupName"]
    if group.startswith("aws/"):
        raise invalid_parameter("Log group names cannot start with 'aws/'.")
    ctx.service.store.create_group(group, tags=p.get("tags"))


def delete_log_group(ctx: Context, p: dict) -> None:
    existing_group(ctx, p["logGroupName"])
    ctx.service.store.delete_group(p["logGroupName"])
    subscriptions.SubscriptionBook(ctx.service.store.root).delete_group(p["logGroupName"])
    stamps.forget(ctx.service.store, p["logGroupName"])


DESCRIBE_LOG_GROUPS = (
    v.S("logGroupNamePrefix", min_len=1, max_len=512, pattern=v.GROUP_NAME_RE),
    v.S("logGroupNamePattern", min_len=0, max_len=512, pattern=r"[\.\-_/#A-Za-z0-9]*"),
    v.next_token(),
    v.I("limit", lo=1, hi=50),
    v.B("includeLinkedAccounts"),
    v.L(
        "accountIdentifiers",
        v.S("member", min_len=12, max_len=12, pattern=r"^\d{12}$"),
        min_len=0,
        max_len=20,
    ),
    v.S("logGroupClass", enum=("STANDARD", "INFREQUENT_ACCESS", "DELIVERY")),
    v.L("logGroupIdentifiers", v.group_identifier("member"), min_len=1, max_len=50),
)


def describe_log_groups(ctx: Context, p: dict) -> dict:
    prefix, pattern = p.get("logGroupNamePrefix"), p.get("logGroupNamePattern")
    if prefix is not None and pattern is not None:
        raise invalid_parameter(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
        )
    wanted = (
        {group_from_identifier(i) for i in p["logGroupIdentifiers"]}
        if p.get("logGroupIdentifiers")
        else None
    )
    after = None
    if p.get("nextToken"):
        after = read_page_token(ctx, "cw-groups", p["nextToken"])
        if not isinstance(after, str):
            raise invalid_parameter(BAD_TOKEN)
    limit = p.get("limit") or 50
    if p.get("logGroupClass") not in (None, "STANDARD"):
        return {"logGroups": []}

    asked = {
        prefix,
        pattern,
        *(wanted or ()),
    }  # an internal group is listed only when named exactly

    def accept(name: str) -> bool:
        return (
            (not prefix or name.startswith(prefix))
            and (not pattern or pattern in name)
            and (wanted is None or name in wanted)
            and not hidden_group(name, asked)
        )

    matched, more = listing.group_page(ctx.service.store, after, limit, accept)
    out: dict[str, Any] = {"logGroups": [_group_json(ctx, g) for g in matched]}
    if more:
        out["nextToken"] = page_token(ctx, "cw-groups", matched[-1].name)
    return out


def _group_json(ctx: Context, g) -> dict:
    try:
        stored = sum(s.size for s in ctx.service.store.list_streams(g.name))
    except LogsvcError:
        stored = 0
    out: dict[str, Any] = {"logGroupName": g.name, "creationTime": g.creation_time}
    if g.retention_days:
        out["retentionInDays"] = g.retention_days
    out.update(
        {
            "metricFilterCount": 0,
            "arn": group_arn(ctx, g.name) + ":*",
            "storedBytes": stored,
            "logGroupClass": "STANDARD",
            "logGroupArn": group_arn(ctx, g.name),
            "deletionProtectionEnabled": False,
        }
    )
    return out


RETENTION = (v.group_name(), v.I("retentionInDays", required=True, enum=v.RETENTION_DAYS))


def put_retention_policy(ctx: Context, p: dict) -> None:
    existing_group(ctx, p["logGroupName"])
    ctx.service.store.update_group(p["logGroupName"], retention_days=int(p["retentionInDays"]))


def delete_retention_policy(ctx: Context, p: dict) -> None:
    existing_group(ctx, p["logGroupName"])
    ctx.service.store.update_group(p["logGroupName"], retention_days=None)


# ---- tags --------------------------------------------------------------------------------------

MAX_TAGS = 50


def _arn_group(ctx: Context, arn: str) -> str:
    m = _ARN_RE.fullmatch(arn)
    if not m:
        if ":destination:" in arn:
            raise AwsError("ResourceNotFoundException", "The specified resource does not exist.")
        raise invalid_parameter(
            f"The specified resource ARN is not a log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME): {arn}"
        )
    existing_group(ctx, m.group(1))
    return m.group(1)


def _tag(ctx: Context, group: str, tags: dict, resource: str) -> None:
    current = ctx.service.store.get_group(group).tags
    if len(set(current) | set(tags)) > MAX_TAGS:
        raise AwsError(
            "TooManyTagsException",
            f"A resource can have no more than {MAX_TAGS} tags.",
            extra={"resourceName": resource},
        )
    ctx.service.store.update_group(group, tags=tags)


TAG_RESOURCE = (
    v.S("resourceArn", required=True, min_len=1, max_len=1011, pattern=r"[\w+=/:,.@\-*]*"),
    replace(v.TAGS, required=True),
)
UNTAG_RESOURCE = (TAG_RESOURCE[0], v.TAG_KEYS)
LIST_TAGS_FOR_RESOURCE = (TAG_RESOURCE[0],)


def tag_resource(ctx: Context, p: dict) -> None:
    _tag(ctx, _arn_group(ctx, p["resourceArn"]), p["tags"], p["resourceArn"])


def untag_resource(ctx: Context, p: dict) -> None:
    ctx.service.store.update_group(_arn_group(ctx, p["resourceArn"]), untag=p["tagKeys"])


def list_tags_for_resource(ctx: Context, p: dict) -> dict:
    return {"tags": ctx.service.store.get_group(_arn_group(ctx, p["resourceArn"])).tags}


TAG_LOG_GROUP = (v.group_name(), replace(v.TAGS, required=True))
UNTAG_LOG_GROUP = (
    v.group_name(),
    v.L("tags", v.TAG_KEYS.item, min_len=1, max_len=50, required=True),
)
LIST_TAGS_LOG_GROUP = (v.group_name(),)


def tag_log_group(ctx: Context, p: dict) -> None:
    existing_group(ctx, p["logGroupName"])
    _tag(ctx, p["logGroupName"], p["tags"], p["logGroupName"])


def untag_log_group(ctx: Context, p: dict) -> None:
    existing_group(ctx, p["logGroupName"])
    ctx.service.store.update_group(p["logGroupName"], untag=p["tags"])


def list_tags_log_group(ctx: Context, p: dict) -> dict:
    return {"tags": existing_group(ctx, p["logGroupName"]).tags}


# ---- log streams -------------------------------------------------------------------------------

STREAM_IN_GROUP = (v.group_name(), v.stream_name())


def create_log_stream(ctx: Context, p: dict) -> None:
    existing_group(ctx, p["logGroupName"])
    ctx.service.store.create_stream(p["logGroupName"], p["logStreamName"])


def delete_log_stream(ctx: Context, p: dict) -> None:
    existing_group(ctx, p["logGroupName"])
    ctx.service.store.delete_stream(p["logGroupName"], p["logStreamName"])
    stamps.forget(ctx.service.store, p["logGroupName"], p["logStreamName"])


DESCRIBE_LOG_STREAMS = (
    v.group_name(required=False),
    v.group_identifier(),
    v.S("logStreamNamePrefix", min_len=1, max_len=512, pattern=v.STREAM_NAME_RE),
    v.S("orderBy", enum=("LogStreamName", "LastEventTime")),
    v.B("descending"),
    v.next_token(),
    v.I("limit", lo=1, hi=50),
)


def describe_log_streams(ctx: Context, p: dict) -> dict:
    group = resolve_group(p)
    order = p.get("orderBy") or "LogStreamName"
    prefix = p.get("logStreamNamePrefix")
    if prefix is not None and order == "LastEventTime":
        raise invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
    existing_group(ctx, group)
    descending = bool(p.get("descending"))
    limit = p.get("limit") or 50
    rows = []
    listed = [
        s for s in ctx.service.store.list_streams(group) if not prefix or s.name.startswith(prefix)
    ]
    for s, src in zip(
        listed, visibility.listed_sources(ctx.service.store, group, listed), strict=True
    ):
        first, last, ingested, _ = ctx.service.reader.stream_summary(src)
        rows.append((s, first, last, ingested))
    if order == "LastEventTime":
        rows.sort(key=lambda r: (r[2] or 0, r[0].name), reverse=descending)
        sort_key: Callable = lambda r: [r[2] or 0, r[0].name]  # noqa: E731
    else:
        rows.sort(key=lambda r: r[0].name, reverse=descending)
        sort_key = lambda r: [r[0].name]  # noqa: E731
    if p.get("nextToken"):
        after = read_page_token(ctx, "cw-streams", p["nextToken"])
        if not isinstance(after, list) or len(after) != (2 if order == "LastEventTime" else 1):
            raise invalid_parameter(BAD_TOKEN)
        after = tuple(after)
        rows = [
            r
            for r in rows
            if (tuple(sort_key(r)) < after if descending else tuple(sort_key(r)) > after)
        ]
    out: dict[str, Any] = {"logStreams": [_stream_json(ctx, *r) for r in rows[:limit]]}
    if len(rows) > limit:
        out["nextToken"] = page_token(ctx, "cw-streams", sort_key(rows[limit - 1]))
    return out


def _stream_json(
    ctx: Context, s, first: int | None, last: int | None, ingested: int | None
) -> dict:
    out: dict[str, Any] = {"logStreamName": s.name, "creationTime": s.creation_time}
    if first is not None:
        out.update(
            {
                "firstEventTimestamp": first,
                "lastEventTimestamp": last,
                "lastIngestionTime": ingested,
                "uploadSequenceToken": _sequence_token(),
            }
        )
    out.update({"arn": stream_arn(ctx, s.group, s.name), "storedBytes": 0})
    return out


# ---- PutLogEvents ------------------------------------------------------------------------------

PUT_LOG_EVENTS = (
    v.group_name(),
    v.stream_name(),
    v.L(
        "logEvents",
        v.St("member", v.I("timestamp", required=True), v.S("message", required=True, min_len=1)),
        required=True,
        min_len=1,
        max_len=limits.MAX_BATCH_EVENTS,
    ),
    v.S("sequenceToken", min_len=1),
)


def _sequence_token() -> str:
    return f"{time.time_ns():056d}"


def put_log_events(ctx: Context, p: dict) -> dict:
    """Write the batch through the store, after every check AWS makes (reference §2)."""
    group, stream = p["logGroupName"], p["logStreamName"]
    events = [(int(e["timestamp"]), e["message"]) for e in p["logEvents"]]
    total = 0
    for _, msg in events:
        size = limits.event_bytes(msg)
        if size > limits.MAX_EVENT_BYTES:
            raise invalid_parameter(
                f"Log event too large: {size} bytes exceeds limit of {limits.MAX_EVENT_BYTES}"
            )
        total += size
    if total > limits.MAX_BATCH_BYTES:
        raise invalid_parameter(
            f"Upload too large: {total} bytes exceeds limit of {limits.MAX_BATCH_BYTES}"
        )
    if any(events[i][0] > events[i + 1][0] for i in range(len(events) - 1)):
        raise invalid_parameter(
            "Log events in a single PutLogEvents request must be in chronological order."
        )
    info = existing_group(ctx, group)
    ctx.service.store.get_stream(
        group, stream
    )  # NotFound -> "The specified log stream does not exist."

    now = int(time.time() * 1000)
    # events are sorted, so the rejected ones are a prefix (too old, expired) and a suffix (too new)
    too_old_end = sum(1 for ts, _ in events if ts < now - limits.TOO_OLD_MS)
    expired_end = 0
    if info.retention_days:
        expired_end = sum(1 for ts, _ in events if ts < now - info.retention_days * 86_400_000)
    too_new_start = next(
        (i for i, (ts, _) in enumerate(events) if ts > now + limits.TOO_NEW_MS), len(events)
    )
    keep = events[max(too_old_end, expired_end) : too_new_start]
    if keep and keep[-1][0] - keep[0][0] > limits.MAX_SPAN_MS:
        raise invalid_parameter(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
        )
    if keep:
        ctx.service.store.append_events(group, stream, keep)
        ctx.service.watcher.notify()  # wake live tails at once, not at the next inotify event
    out: dict[str, Any] = {"nextSequenceToken": _sequence_token()}
    rejected = {}
    if too_new_start < len(events):
        rejected["tooNewLogEventStartIndex"] = too_new_start
    if too_old_end:
        rejected["tooOldLogEventEndIndex"] = too_old_end
    if expired_end:
        rejected["expiredLogEventEndIndex"] = expired_end
    if rejected:
        out["rejectedLogEventsInfo"] = rejected
    return out


# ---- reading -----------------------------------------------------------------------------------


GET_LOG_EVENTS = (
    v.group_name(required=False),
    v.group_identifier(),
    v.stream_name(),
    v.I("startTime", lo=0),
    v.I("endTime", lo=0),
    v.S("nextToken", min_len=1),
    v.I("limit", lo=1, hi=10_000),
    v.B("startFromHead"),
    v.B("unmask"),
)


def encode_gle_token(
    codec: paging.Codec, direction: str, group: str, stream: str, ts: int, off: int
) -> str:
    """`f/` or `b/` + 56 digits, as AWS's tokens look: time, byte offset, then 16 digits signing them
    (and the direction, group and stream) with the data directory's paging key."""
    head = f"{direction}/{ts - NEG_INF:020d}{off:020d}"
    return head + codec.check_digits("gle", _gle_signed(head, group, stream))


def _gle_signed(head: str, group: str, stream: str) -> str:
    return "\0".join((head, group, stream))


def decode_gle_token(
    codec: paging.Codec, token: str, group: str, stream: str
) -> tuple[str, int, int]:
    """:raises AwsError: InvalidParameterException for a token not issued for this stream."""
    if not (
        isinstance(token, str)
        and len(token) == 58
        and token[:2] in ("f/", "b/")
        and token[2:].isascii()
        and token[2:].isdigit()
    ):
        raise invalid_parameter(BAD_TOKEN)
    head, check = token[:42], token[42:]
    if not hmac.compare_digest(check, codec.check_digits("gle", _gle_signed(head, group, stream))):
        raise invalid_parameter(BAD_TOKEN)
    return token[0], int(token[2:22]) + NEG_INF, int(token[22:42])


def get_log_events(ctx: Context, p: dict) -> dict:
    """One page of one stream. The end is reached when the returned token equals the one sent."""
    group = resolve_group(p)
    stream = p["logStreamName"]
    reader = ctx.service.reader
    try:
        sources = group_sources(ctx, group, [stream])
    except InvalidParameter:
        raise not_found("stream") from None
    start, end = p.get("startTime"), p.get("endTime")
    token = p.get("nextToken")
    limit = p.get("limit") or 10_000
    everything = _pattern("")
    if token:
        direction, ts, off = decode_gle_token(_codec(ctx), token, group, stream)
        forward = direction == "f"
        after = (ts, stream_key(group, stream), off)
    else:
        forward = bool(p.get("startFromHead", False))
        after = None
    page = reader.read(
        sources,
        start=start,
        end=end,
        end_exclusive=True,
        limit=limit,
        forward=forward,
        pattern=everything,
        after=after,
        fields=False,
    )
    events = page.events
    if events:
        f_pos = (events[-1].timestamp, events[-1].offset)
        b_pos = (events[0].timestamp, events[0].offset)
    elif token:
        f_pos = b_pos = (ts, off)
    else:
        f_pos, b_pos = (NEG_INF, 0), (POS_INF, 0)  # nothing yet: poll forward from the head
    return {
        "events": [
            {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
            for e in events
        ],
        "nextForwardToken": encode_gle_token(_codec(ctx), "f", group, stream, *f_pos),
        "nextBackwardToken": encode_gle_token(_codec(ctx), "b", group, stream, *b_pos),
    }


FILTER_LOG_EVENTS = (
    v.group_name(required=False),
    v.group_identifier(),
    v.L("logStreamNames", v.stream_name("member"), min_len=1, max_len=100),
    v.S("logStreamNamePrefix", min_len=1, max_len=512, pattern=v.STREAM_NAME_RE),
    v.I("startTime", lo=0),
    v.I("endTime", lo=0),
    v.S("filterPattern", min_len=0, max_len=1024),
    v.S("nextToken", min_len=1),
    v.I("limit", lo=1, hi=10_000),
    v.B("interleaved"),
    v.B("startFromHead"),
    v.B("unmask"),
)


def filter_log_events(ctx: Context, p: dict) -> dict:
    """Matching events of a group, merged by time. No `nextToken` once nothing is left, so
    `aws logs tail --follow` sleeps and polls instead of spinning."""
    group = resolve_group(p)
    names, prefix = p.get("logStreamNames"), p.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise invalid_parameter(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
        )
    start, end = p.get("startTime"), p.get("endTime")
    forward = p.get("startFromHead", True)
    if not forward and (start is None or start < START_FROM_HEAD_FALSE_MIN):
        raise invalid_parameter(
            "startFromHead=false is only supported when startTime is on or after 2024-01-01 (1704067200000)."
        )
    pattern = _pattern(p.get("filterPattern"))
    existing_group(ctx, group)
    reader = ctx.service.reader
    sources = group_sources(ctx, group, names, prefix)
    token = p.get("nextToken")
    after = None
    if token:
        data = read_page_token(ctx, "cw-filter", token)
        if not (
            isinstance(data, list)
            and len(data) == 4
            and data[0] == _filter_fp(group, names, prefix, start, end, pattern.text, forward)
            and isinstance(data[1], int)
            and isinstance(data[2], str)
            and isinstance(data[3], int)
        ):
            raise invalid_parameter(BAD_TOKEN)
        after = tuple(data[1:])
    page = reader.read(
        sources,
        start=start,
        end=end,
        limit=p.get("limit") or 10_000,
        forward=forward,
        pattern=pattern,
        after=after,
        deadline=time.monotonic() + FILTER_DEADLINE_S,
        fields=False,
    )
    out: dict[str, Any] = {
        "events": [_filtered_json(e) for e in page.events],
        "searchedLogStreams": [],
    }
    if page.next_key is not None:
        out["nextToken"] = page_token(
            ctx,
            "cw-filter",
            [_filter_fp(group, names, prefix, start, end, pattern.text, forward), *page.next_key],
        )
    return out


def _filter_fp(
    group: str,
    names: list | None,
    prefix: str | None,
    start: int | None,
    end: int | None,
    pattern: str,
    forward: bool,
) -> str:
    raw = json.dumps([group, sorted(names or []), prefix, start, end, pattern, forward])
    return hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()


def _filtered_json(e: LogEvent) -> dict:
    return {
        "logStreamName": e.stream,
        "timestamp": e.timestamp,
        "message": e.message,
        "ingestionTime": e.ingestion_time,
        "eventId": e.event_id,
    }


# ---- StartLiveTail -----------------------------------------------------------------------------

START_LIVE_TAIL = (
    v.L("logGroupIdentifiers", v.group_identifier("member"), required=True, min_len=1, max_len=10),
    v.L("logStreamNames", v.stream_name("member"), min_len=1, max_len=100),
    v.L("logStreamNamePrefixes", v.stream_name("member"), min_len=1, max_len=100),
    v.S("logEventFilterPattern", min_len=0, max_len=1024),
)


class LiveTail:
    """A started live tail: iterate it for the event-stream frames; `close()` ends it."""

    def __init__(self, frames: Iterator[bytes], close: Callable[[], None]) -> None:
        self._frames = frames
        self.close = close

    def __iter__(self) -> Iterator[bytes]:
        return self._frames


def start_live_tail(ctx: Context, p: dict, *, update_interval: float = 1.0) -> LiveTail:
    """Checks everything before the first byte is sent (errors after that are in-stream frames)."""
    idents = p["logGroupIdentifiers"]
    groups = [group_from_identifier(i) for i in idents]
    for g in groups:
        existing_group(ctx, g)
    names, prefixes = p.get("logStreamNames"), p.get("logStreamNamePrefixes")
    if names is not None and prefixes is not None:
        raise invalid_parameter(
            "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters."
        )
    if (names or prefixes) and len(groups) != 1:
        raise invalid_parameter(
            "logStreamNames or logStreamNamePrefixes can only be used with exactly one log group."
        )
    text = p.get("logEventFilterPattern") or ""
    pattern = _pattern(text)
    service = ctx.service
    ident_of = dict(zip(groups, idents, strict=True))

    def list_sources() -> list[Source]:
        out = []
        for g in groups:
            try:
                for src in group_sources(ctx, g):
                    if names and src.stream not in names:
                        continue
                    if prefixes and not any(src.stream.startswith(x) for x in prefixes):
                        continue
                    out.append(src)
            except LogsvcError:
                continue  # the group was deleted during the session
        return out

    cursor = service.tailer.end_cursor(list_sources())
    session = service.tailer.follow(
        list_sources, cursor, pattern, heartbeat=min(0.25, update_interval)
    )
    start = {
        "requestId": ctx.request_id,
        "sessionId": str(uuid.uuid4()),
        "logGroupIdentifiers": idents,
        "logStreamNames": names or [],
        "logStreamNamePrefixes": prefixes or [],
        "logEventFilterPattern": text,
    }

    def frames() -> Iterator[bytes]:
        try:
            yield eventstream.event("initial-response")
            yield eventstream.event("sessionStart", start)
            began = last = time.monotonic()
            pending: list[LogEvent] = []
            for events, _ in session:
                pending.extend(events)
                now = time.monotonic()
                if now - last < update_interval:
                    continue
                last = now
                yield eventstream.event("sessionUpdate", _session_update(pending, ident_of))
                pending = []
                if now - began > LIVE_TAIL_MAX_S:
                    yield eventstream.exception(
                        "SessionTimeoutException", "Session timed out after 3 hours."
                    )
                    return
        except LogsvcError as e:
            yield eventstream.exception("SessionStreamingException", to_aws(e).message)
        finally:
            session.close()

    return LiveTail(frames(), session.close)


def _session_update(events: list[LogEvent], ident_of: dict[str, str]) -> dict:
    sampled = len(events) > LIVE_TAIL_MAX_EVENTS
    if sampled:  # an even sample across the second, as AWS samples to 500 a second
        n = len(events)
        events = [events[i * n // LIVE_TAIL_MAX_EVENTS] for i in range(LIVE_TAIL_MAX_EVENTS)]
    return {
        "sessionMetadata": {"sampled": sampled},
        "sessionResults": [
            {
                "logStreamName": e.stream,
                "logGroupIdentifier": ident_of.get(e.group, e.group),
                "message": e.message,
                "timestamp": e.timestamp,
                "ingestionTime": e.ingestion_time,
            }
            for e in events
        ],
    }


# ---- subscription filters (delivery: invoker/subscribe.py) -------------------------------------

PUT_SUBSCRIPTION_FILTER = (
    v.group_name(),
    v.S("filterName", required=True, min_len=1, max_len=512, pattern=v.STREAM_NAME_RE),
    v.S("filterPattern", required=True, min_len=0, max_len=1024),
    v.S("destinationArn", required=True, min_len=1),
    v.S("roleArn", min_len=1),
    v.S("distribution", enum=("Random", "ByLogStream")),
    v.B("applyOnTransformedLogs"),
    v.S("fieldSelectionCriteria", max_len=2000),
    v.L("emitSystemFields", v.S("member", enum=("@aws.account", "@aws.region"))),
)
DESCRIBE_SUBSCRIPTION_FILTERS = (
    v.group_name(),
    v.S("filterNamePrefix", min_len=1, max_len=512, pattern=v.STREAM_NAME_RE),
    v.next_token(),
    v.I("limit", lo=1, hi=50),
)
DELETE_SUBSCRIPTION_FILTER = (
    v.group_name(),
    v.S("filterName", required=True, min_len=1, max_len=512, pattern=v.STREAM_NAME_RE),
)


def _subscription_book(ctx: Context) -> subscriptions.SubscriptionBook:
    return subscriptions.SubscriptionBook(ctx.service.store.root)


def _declared_subscriptions(ctx: Context) -> list[subscriptions.SubscriptionFilter]:
    """The project file's `logs` triggers, as the filters the invoker delivers for them."""
    inv = getattr(ctx.service, "invoker", None)
    return [] if inv is None else subscriptions.declared_filters(inv.project)


def put_subscription_filter(ctx: Context, p: dict) -> None:
    """Create or update by (group, name): two per group, a function of the project, no loop."""
    group, name = p["logGroupName"], p["filterName"]
    existing_group(ctx, group)
    for member, unsupported in (
        ("fieldSelectionCriteria", p.get("fieldSelectionCriteria")),
        ("emitSystemFields", p.get("emitSystemFields")),
        ("applyOnTransformedLogs", p.get("applyOnTransformedLogs")),
    ):
        if unsupported:  # each changes what is delivered: refused rather than ignored
            raise invalid_parameter(
                f"{member} is not supported by logsvc (no system fields, no log transformers)"
            )
    try:
        compile_pattern(p["filterPattern"])
    except InvalidParameter:
        raise invalid_parameter(BAD_SUBSCRIPTION_PATTERN) from None
    arn = p["destinationArn"]
    fn = subscriptions.function_name(arn)
    if fn is None:
        raise invalid_parameter(
            "logsvc delivers subscription filters to functions of its project only: destinationArn "
            f"must be arn:aws:lambda:REGION:ACCOUNT:function:NAME (got {arn})"
        )
    inv = getattr(ctx.service, "invoker", None)
    if inv is None or fn not in inv.project.functions:
        raise invalid_parameter(CANNOT_EXECUTE_FUNCTION)
    declared = _declared_subscriptions(ctx)
    if any(f.group == group and f.name == name for f in declared):
        raise AwsError(
            "InvalidOperationException",
            f"Subscription filter {name} of {group} is declared in the project file; change it there.",
        )
    starts = {}
    for s in ctx.service.store.list_streams(group):
        starts[s.name] = subscriptions.line_start_at_end(s.path, s.size)
    new = subscriptions.SubscriptionFilter(
        id=uuid.uuid4().hex,
        group=group,
        name=name,
        pattern=p["filterPattern"],
        destination_arn=arn,
        creation_time=int(time.time() * 1000),
        role_arn=p.get("roleArn"),
        distribution=p.get("distribution") or "ByLogStream",
        starts=starts,
    )
    try:
        _subscription_book(ctx).put(new, declared)
    except LimitExceeded:
        raise AwsError("LimitExceededException", LIMIT_EXCEEDED) from None


def describe_subscription_filters(ctx: Context, p: dict) -> dict:
    group = p["logGroupName"]
    existing_group(ctx, group)
    prefix = p.get("filterNamePrefix") or ""
    found = [
        f
        for f in [*_declared_subscriptions(ctx), *_subscription_book(ctx).for_group(group)]
        if f.group == group and f.name.startswith(prefix)
    ]
    found.sort(key=lambda f: f.name.encode())
    if p.get("nextToken"):
        after = read_page_token(ctx, "cw-subscriptions", p["nextToken"])
        if not isinstance(after, str):
            raise invalid_parameter(BAD_TOKEN)
        found = [f for f in found if f.name.encode() > after.encode()]
    limit = p.get("limit") or 50
    out: dict[str, Any] = {"subscriptionFilters": [_subscription_json(f) for f in found[:limit]]}
    if len(found) > limit:
        out["nextToken"] = page_token(ctx, "cw-subscriptions", found[limit - 1].name)
    return out


def _subscription_json(f: subscriptions.SubscriptionFilter) -> dict:
    out = {
        "filterName": f.name,
        "logGroupName": f.group,
        "filterPattern": f.pattern,
        "destinationArn": f.destination_arn,
        "distribution": f.distribution,
        "creationTime": f.creation_time,
    }
    if f.role_arn:
        out["roleArn"] = f.role_arn
    return out


def delete_subscription_filter(ctx: Context, p: dict) -> None:
    group, name = p["logGroupName"], p["filterName"]
    existing_group(ctx, group)
    if any(f.group == group and f.name == name for f in _declared_subscriptions(ctx)):
        raise AwsError(
            "InvalidOperationException",
            f"Subscription filter {name} of {group} is declared in the project file; remove it there.",
        )
    if not _subscription_book(ctx).delete(group, name):
        raise AwsError("ResourceNotFoundException", SUBSCRIPTION_NOT_FOUND)


# ---- these operations (dispatch.py joins them with queries.py's) ----------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    name: str
    members: tuple
    run: Callable[[Context, dict], Any]


OPERATIONS = (  # with queries.OPERATIONS, the table dispatch.py joins
    Operation("CreateLogGroup", CREATE_LOG_GROUP, create_log_group),
    Operation("DeleteLogGroup", (v.group_name(),), delete_log_group),
    Operation("DescribeLogGroups", DESCRIBE_LOG_GROUPS, describe_log_groups),
    Operation("CreateLogStream", STREAM_IN_GROUP, create_log_stream),
    Operation("DeleteLogStream", STREAM_IN_GROUP, delete_log_stream),
    Operation("DescribeLogStreams", DESCRIBE_LOG_STREAMS, describe_log_streams),
    Operation("PutLogEvents", PUT_LOG_EVENTS, put_log_events),
    Operation("GetLogEvents", GET_LOG_EVENTS, get_log_events),
    Operation("FilterLogEvents", FILTER_LOG_EVENTS, filter_log_events),
    Operation("PutRetentionPolicy", RETENTION, put_retention_policy),
    Operation("DeleteRetentionPolicy", (v.group_name(),), delete_retention_policy),
    Operation("TagResource", TAG_RESOURCE, tag_resource),
    Operation("UntagResource", UNTAG_RESOURCE, untag_resource),
    Operation("ListTagsForResource", LIST_TAGS_FOR_RESOURCE, list_tags_for_resource),
    Operation("TagLogGroup", TAG_LOG_GROUP, tag_log_group),
    Operation("UntagLogGroup", UNTAG_LOG_GROUP, untag_log_group),
    Operation("ListTagsLogGroup", LIST_TAGS_LOG_GROUP, list_tags_log_group),
    Operation("StartLiveTail", START_LIVE_TAIL, start_live_tail),
    Operation("PutSubscriptionFilter", PUT_SUBSCRIPTION_FILTER, put_subscription_filter),
    Operation(
        "DescribeSubscriptionFilters", DESCRIBE_SUBSCRIPTION_FILTERS, describe_subscription_filters
    ),
    Operation("DeleteSubscriptionFilter", DELETE_SUBSCRIPTION_FILTER, delete_subscription_filter),
)
