"""Subscription filters: which log groups feed which project functions, kept in the data directory.

Owns the definitions (`<data>/subscriptions/filters.json`, replaced whole with `safeio.write_atomic`
under `subscriptions/.lock`, so every gunicorn worker and the delivering invoker read one truth),
AWS's limit of two filters per group, the destination ARN form and the loop rule. Each filter
records where delivery starts in every stream that existed when it was created (the end of the last
whole line then), because AWS subscriptions are not retroactive. Delivery is the invoker's
(`invoker/subscribe.py`); this module never invokes and reads stream bytes only to find a line end.

Loops are refused, not de-looped: a function's invocations always write START/END/REPORT lines in
its own group `/aws/lambda/NAME`, so a subscription whose chain of groups and functions leads back
to the group it reads (F subscribed to `/aws/lambda/F`, or F and G subscribed to each other's
groups) would invoke forever whatever its pattern; no pattern can prove a function never logs a
matching line. Refusing at PutSubscriptionFilter (and when the project file is read) names the
cycle, where a runtime de-loop would silently drop events. The internal groups (`/logsvc/...`)
cannot be subscribed: every invocation writes a record there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from logsvc import locks, safeio
from logsvc.errors import InvalidParameter, LimitExceeded

FOLDER = "subscriptions"
FILE = "filters.json"
LOCK = ".lock"
MAX_PER_GROUP = 2  # AWS's fixed quota of subscription filters per log group
INTERNAL_PREFIX = "/logsvc/"

_FUNCTION_ARN_RE = re.compile(
    r"arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]{1,64})(?::[A-Za-z0-9_$-]+)?"
)


def function_name(arn: str) -> str | None:
    """The function a Lambda function ARN names (a qualifier such as `:$LATEST` is allowed)."""
    m = _FUNCTION_ARN_RE.fullmatch(arn)
    return m.group(1) if m else None


def own_group(function: str) -> str:
    """The group every invocation of `function` writes (its START/END/REPORT lines at least)."""
    return f"/aws/lambda/{function}"


@dataclass(frozen=True)
class SubscriptionFilter:
    """One filter. `starts`: stream -> byte offset where delivery begins (None: the ends of the
    streams when delivery first sees the filter, for filters declared in the project file).
    `declared`: the project file that declares it (the API cannot replace or delete those)."""

    id: str
    group: str
    name: str
    pattern: str
    destination_arn: str
    creation_time: int
    role_arn: str | None = None
    distribution: str = "ByLogStream"
    starts: dict[str, int] | None = field(default=None, compare=False)
    declared: str | None = None

    @property
    def function(self) -> str:
        return function_name(self.destination_arn) or ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SubscriptionFilter:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def find_loop(edges: list[tuple[str, str]]) -> list[str] | None:
    """A cycle among (group -> function) subscriptions, as [group, function, group, ...], or None.

    Function F writes into `own_group(F)`, so an edge G -> F leads from G to `own_group(F)`.
    """
    nxt: dict[str, list[tuple[str, str]]] = {}
    for group, fn in edges:
        nxt.setdefault(group, []).append((fn, own_group(fn)))
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(group: str, path: list[str]) -> list[str] | None:
        state[group] = 1
        for fn, target in nxt.get(group, ()):
            if state.get(target) == 1:
                return [*path, group, fn, target]
            if target not in state:
                found = visit(target, [*path, group, fn])
                if found:
                    return found
        state[group] = 2
        return None

    for group in list(nxt):
        if group not in state:
            found = visit(group, [])
            if found:
                return found
    return None


def check_no_loop(edges: list[tuple[str, str]]) -> None:
    """:raises InvalidParameter: naming the cycle (see the module docstring for why refused)."""
    for group, _ in edges:
        if group.startswith(INTERNAL_PREFIX):
            raise InvalidParameter(
                f"log group {group} is logsvc's own and cannot be subscribed (every invocation "
                "writes there, so delivery would feed itself)",
                field="logGroupName",
                rule="no subscription on /logsvc/ groups",
            )
    cycle = find_loop(edges)
    if cycle:
        raise InvalidParameter(
            "this subscription would feed itself: "
            + " -> ".join(cycle)
            + " (a function writes its own log group /aws/lambda/NAME on every invocation)",
            field="destinationArn",
            rule="no cycle of log groups and subscribed functions",
        )


def line_start_at_end(path: str | Path, size: int) -> int:
    """Where the next whole line of a stream file begins (one past its last newline, at most
    `size`): a filter created now starts there, not inside a line being written."""
    if size <= 0:
        return 0
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return size
    try:
        pos = size
        while pos > 0:
            n = min(65536, pos)
            chunk = os.pread(fd, n, pos - n)
            i = chunk.rfind(b"\n")
            if i >= 0:
                return pos - n + i + 1
            pos -= n
        return 0
    finally:
        os.close(fd)


def declared_filters(project: Any) -> list[SubscriptionFilter]:
    """The project file's `logs` triggers as filters (ids stable across restarts)."""
    try:
        created = int(os.stat(project.path).st_mtime * 1000)
    except OSError:
        created = 0
    out = []
    for t in project.logs_triggers:
        key = f"{t.log_group}\0{t.filter_name}\0{t.function}".encode()
        out.append(
            SubscriptionFilter(
                id="p-" + hashlib.blake2b(key, digest_size=8).hexdigest(),
                group=t.log_group,
                name=t.filter_name,
                pattern=t.filter_pattern,
                destination_arn=project.function(t.function).arn,
                creation_time=created,
                declared=str(project.path),
            )
        )
    return out


class SubscriptionBook:
    """The filters of one data directory. Reads are cached by the file's identity; writes take
    the lock, re-read and replace the file whole. Thread-safe."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._cache: tuple[tuple, list[SubscriptionFilter]] | None = None
        self._mu = threading.Lock()

    def _read(self) -> list[SubscriptionFilter]:
        try:
            with safeio.under(self.root, FOLDER) as dfd:
                fd = safeio.open_file(dfd, FILE)
                try:
                    st = os.fstat(fd)
                    key = (st.st_ino, st.st_size, st.st_mtime_ns)
                    with self._mu:
                        if self._cache is not None and self._cache[0] == key:
                            return self._cache[1]
                    doc = json.loads(safeio.read_fd(fd, 16 << 20))
                finally:
                    os.close(fd)
        except (FileNotFoundError, NotADirectoryError):
            return []
        filters = [SubscriptionFilter.from_json(d) for d in doc.get("filters", [])]
        with self._mu:
            self._cache = (key, filters)
        return filters

    def all(self) -> list[SubscriptionFilter]:
        """Every filter created through the API, in creation order."""
        return list(self._read())

    def for_group(self, group: str) -> list[SubscriptionFilter]:
        return [f for f in self._read() if f.group == group]

    def _write(self, filters: list[SubscriptionFilter]) -> None:
        data = json.dumps({"filters": [f.to_json() for f in filters]}, indent=1).encode()
        with safeio.under(self.root, FOLDER, create=True) as dfd:
            safeio.write_atomic(dfd, FILE, data)

    def put(self, new: SubscriptionFilter, declared: list[SubscriptionFilter] = ()) -> bool:
        """Create `new`, or update the filter of the same group and name (keeping its id, creation
        time and starts, so delivery goes on from where it is). True if it was created.

        :raises LimitExceeded: a third filter for the group. :raises InvalidParameter: a loop.
        """
        with locks.exclusive(self.root, FOLDER, LOCK):
            current = self._read()
            same = next((f for f in current if f.group == new.group and f.name == new.name), None)
            if same is not None:
                new = SubscriptionFilter(
                    **{
                        **new.to_json(),
                        "id": same.id,
                        "creation_time": same.creation_time,
                        "starts": same.starts,
                    }
                )
                rest = [f for f in current if f is not same]
            else:
                rest = list(current)
            in_group = [f for f in [*rest, *declared] if f.group == new.group]
            if same is None and len(in_group) >= MAX_PER_GROUP:
                raise LimitExceeded(
                    f"log group {new.group} already has {MAX_PER_GROUP} subscription filters",
                    field="filterName",
                    rule=f"at most {MAX_PER_GROUP} subscription filters per log group",
                )
            check_no_loop([(f.group, f.function) for f in [*rest, *declared, new]])
            self._write(
                [*rest, new] if same is None else [*(f if f is not same else new for f in current)]
            )
            return same is None

    def delete(self, group: str, name: str) -> bool:
        """Remove one filter; False if there is none of that name."""
        with locks.exclusive(self.root, FOLDER, LOCK):
            current = self._read()
            keep = [f for f in current if not (f.group == group and f.name == name)]
            if len(keep) == len(current):
                return False
            self._write(keep)
            return True

    def delete_group(self, group: str) -> None:
        """A deleted log group takes its subscription filters with it, as on AWS."""
        with locks.exclusive(self.root, FOLDER, LOCK):
            current = self._read()
            keep = [f for f in current if f.group != group]
            if len(keep) != len(current):
                self._write(keep)
