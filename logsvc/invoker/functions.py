"""Function definitions: the `logsvc.toml` project file, parsed and checked into frozen dataclasses.

Owns the project file's schema, its defaults and every error that names the file, the key and
the rule. The schema is data: one tuple of `Key`s per table (FUNCTION_KEYS, ROUTE_KEYS, ...) giving
each key's type, default and rule; defaults are the dataclasses' own. Never starts a process,
opens a stream file or knows about HTTP.

Schema (all keys optional unless marked):

    [invoker]
    idle_timeout = 300          # seconds before an idle container is reaped
    retry_delays = [1, 2]       # default async retry delays (AWS waits ~60 s, then ~120 s)

    [functions.NAME]
    handler = "module.function" # required
    code = "."                  # code directory, relative to the project file
    memory = 128                # MB, 128..10240
    timeout = 3                 # seconds, 1..900
    concurrency = 10            # containers at most (reserved concurrency)
    environment = { KEY = "value" }   # "{project_dir}" / "{data_dir}" are substituted
    log_format = "Text"         # or "JSON"
    max_retries = 2             # async: 0..2
    max_event_age = 21600       # async: seconds, 1..21600
    retry_delays = [1, 2]       # async: seconds before retry 1 and 2
    on_failure = "other-fn"     # async: destination function for failed events
    on_success = "other-fn"

    [[functions.NAME.http]]     method = "GET", path = "/items/{id}"
    [[functions.NAME.bucket]]   bucket = "uploads", prefix = "in/", suffix = ".txt",
                                events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    [[functions.NAME.logs]]     log_group = "/app/orders", filter_pattern = '{ $.level = "ERROR" }',
                                filter_name = "errors"   # a subscription filter (default name NAME-logs-I)
    [[functions.NAME.table]]    table = "orders", batch_size = 100, batching_window = 0.5,
                                bisect_on_error = false, max_retries = -1, retry_delay = 1,
                                on_failure = "other-fn", report_batch_item_failures = false

    [buckets.NAME]  path = "buckets/NAME"   # default: <data_dir>/buckets/NAME
    [tables.NAME]   key = "id", sort_key = "ts", stream_view_type = "NEW_AND_OLD_IMAGES"
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logsvc.errors import InvalidParameter

REGION = "us-east-1"  # the one region and account every ARN and event record names
ACCOUNT = "000000000000"
NAME_RULE = "1-64 characters of [A-Za-z0-9_-]"
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HANDLER_RE = re.compile(r"[A-Za-z_][\w./-]*\.[A-Za-z_]\w*")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
S3_EVENTS = (
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Copy",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
)
VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    function: str
    public: bool = False  # reachable without the token (logsvc.auth); the console lists these


@dataclass(frozen=True)
class BucketTrigger:
    bucket: str
    function: str
    prefix: str = ""
    suffix: str = ""
    events: tuple[str, ...] = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")

    def matches(self, key: str, event_name: str) -> bool:
        """True if an S3 key and event name (`ObjectCreated:Put`) pass this notification's filters."""
        if not key.startswith(self.prefix) or not key.endswith(self.suffix):
            return False
        kind = event_name.split(":")[0]
        return f"s3:{event_name}" in self.events or f"s3:{kind}:*" in self.events


@dataclass(frozen=True)
class TableTrigger:
    table: str
    function: str
    batch_size: int = 100
    batching_window: float = 0.0
    bisect_on_error: bool = False
    max_retries: int = -1
    retry_delay: float = 1.0
    on_failure: str | None = None
    report_batch_item_failures: bool = False


@dataclass(frozen=True)
class LogsTrigger:
    """A subscription filter declared in the project file (`subscriptions.py` keeps the API's)."""

    log_group: str
    function: str
    filter_name: str
    filter_pattern: str = ""


@dataclass(frozen=True)
class Bucket:
    name: str
    path: Path


@dataclass(frozen=True)
class Table:
    name: str
    key: str = "id"
    sort_key: str | None = None
    stream_view_type: str = "NEW_AND_OLD_IMAGES"

    def key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        """The item's primary key attributes. :raises InvalidParameter: when one is missing."""
        names = [self.key] + ([self.sort_key] if self.sort_key else [])
        missing = [n for n in names if n not in item]
        if missing:
            raise InvalidParameter(
                f"item for table {self.name!r} lacks key attribute {missing[0]!r}",
                field="item",
                rule=f"items carry the key attributes {names}",
            )
        return {n: item[n] for n in names}


@dataclass(frozen=True)
class Function:
    name: str
    handler: str
    code: Path
    memory: int = 128
    timeout: float = 3.0
    concurrency: int = 10
    environment: dict[str, str] = field(default_factory=dict)
    log_format: str = "Text"
    max_retries: int = 2
    max_event_age: float = 21600.0
    retry_delays: tuple[float, ...] = (1.0, 2.0)
    on_failure: str | None = None
    on_success: str | None = None

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"

    def to_json(self) -> dict[str, Any]:
        """The function as ListFunctions/GetFunction describe it (a useful subset)."""
        return {
            "FunctionName": self.name,
            "FunctionArn": self.arn,
            "Runtime": "python3.11",
            "Handler": self.handler,
            "CodeSize": 0,
            "Timeout": int(self.timeout) if float(self.timeout).is_integer() else self.timeout,
            "MemorySize": self.memory,
            "Version": "$LATEST",
            "Environment": {"Variables": dict(self.environment)},
            "LoggingConfig": {"LogFormat": self.log_format, "LogGroup": self.log_group},
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
        }


@dataclass(frozen=True)
class Project:
    path: Path
    functions: dict[str, Function]
    routes: tuple[HttpRoute, ...] = ()
    bucket_triggers: tuple[BucketTrigger, ...] = ()
    table_triggers: tuple[TableTrigger, ...] = ()
    logs_triggers: tuple[LogsTrigger, ...] = ()
    buckets: dict[str, Bucket] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    idle_timeout: float = 300.0

    def function(self, name: str) -> Function:
        """:raises NotFound: naming the function and how to list them."""
        from logsvc.errors import NotFound

        try:
            return self.functions[name]
        except KeyError:
            raise NotFound(
                f"Function not found: {name!r} is not defined in {self.path}",
                field="function",
                hint="Run 'logsvc functions' to list functions.",
            ) from None

    def table(self, name: str) -> Table:
        """:raises NotFound:"""
        from logsvc.errors import NotFound

        try:
            return self.tables[name]
        except KeyError:
            raise NotFound(f"no table {name!r} in {self.path}", field="table") from None


@dataclass(frozen=True)
class Key:
    """One key of a project-file table: its type, default and the rule its value must pass.

    `between` bounds a number (inclusive); `one_of` lists the allowed strings (`rule` rewords the
    error); `check(reader, key, value)` is any other rule and returns the value to keep. The
    default goes through the same rules (a default `code = "."` must be a directory too).
    """

    name: str
    kind: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    between: tuple[float, float] | None = None
    one_of: tuple[str, ...] = ()
    rule: str = ""
    check: Callable[[_Reader, str, Any], Any] | None = None


class _Reader:
    """Typed access to one TOML table, raising errors that name file, key and rule."""

    def __init__(
        self, path: Path, data: dict[str, Any], prefix: str, subst: dict[str, str] | None = None
    ) -> None:
        self.path, self.data, self.prefix = path, data, prefix
        self.subst = subst or {}  # {project_dir} and {data_dir}, for values that may name them

    def child(self, data: dict[str, Any], prefix: str) -> _Reader:
        return _Reader(self.path, data, prefix, self.subst)

    def error(self, key: str, rule: str, got: object = None) -> InvalidParameter:
        full = f"{self.prefix}.{key}" if self.prefix else key
        detail = f" (got {got!r})" if got is not None else ""
        return InvalidParameter(f"{self.path}: {full}: {rule}{detail}", field=full, rule=rule)

    def read(self, keys: tuple[Key, ...]) -> dict[str, Any]:
        """Every key of the table, in the order given: unknown keys first, then each key's rules."""
        allowed = {k.name for k in keys}
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown key; allowed: {', '.join(sorted(allowed))}")
        return {k.name: self._value(k) for k in keys}

    def _value(self, k: Key) -> Any:
        value = self.get(k.name, k.kind, k.default, required=k.required)
        if k.between is not None and not k.between[0] <= value <= k.between[1]:
            raise self.error(
                k.name, f"must be between {_fmt(k.between[0])} and {_fmt(k.between[1])}", value
            )
        if k.one_of and value not in k.one_of:
            raise self.error(k.name, k.rule or f"must be one of {', '.join(k.one_of)}", value)
        return k.check(self, k.name, value) if k.check is not None and value is not None else value

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        if key not in self.data:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise self.error(key, f"must be {_kind_name(kind)}", value)
        return value


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "an array",
        dict: "a table",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


# ---- the rules a single value must pass (Key.check) ------------------------------------------


def _handler(r: _Reader, key: str, value: str) -> str:
    if not _HANDLER_RE.fullmatch(value):
        raise r.error(key, "must look like 'module.function'", value)
    return value


def _code(r: _Reader, key: str, value: str) -> Path:
    base = r.path.parent
    code = (base / value).resolve()
    if not code.is_dir():
        raise r.error(key, f"must be a directory relative to {base}", str(code))
    return code


def _environment(r: _Reader, key: str, value: dict[str, Any]) -> dict[str, str]:
    env = {}
    for k, v in value.items():
        if not isinstance(v, str | int | float | bool):
            raise r.error(f"{key}.{k}", "must be a string, number or boolean", v)
        text = str(v).lower() if isinstance(v, bool) else str(v)
        env[k] = text.replace("{project_dir}", r.subst["project_dir"]).replace(
            "{data_dir}", r.subst["data_dir"]
        )
    return env


def _delays(r: _Reader, key: str, value: list[Any] | tuple[float, ...]) -> tuple[float, ...]:
    if len(value) != 2 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 3600 for v in value
    ):
        raise r.error(
            key,
            "must be two numbers of seconds between 0 and 3600 (delay before retry 1 and 2)",
            value,
        )
    return tuple(float(v) for v in value)


def _tables(r: _Reader, key: str, value: list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
    """`[functions.x.http]` (one table) or `[[functions.x.http]]` (an array of them), as a list."""
    items = [value] if isinstance(value, dict) else value
    for item in items:
        if not isinstance(item, dict):
            raise r.error(key, "must be a table or an array of tables", item)
    return items


def _method(r: _Reader, key: str, value: str) -> str:
    method = value.upper()
    if method not in HTTP_METHODS:
        raise r.error(key, f"must be one of {', '.join(HTTP_METHODS)}", method)
    return method


def _route_path(r: _Reader, key: str, value: str) -> str:
    if not value.startswith("/") or not re.fullmatch(r"(/([^/{}]+|\{[A-Za-z_]\w*\+?\}))*/?", value):
        raise r.error(
            key, "must start with '/' and use {name} or a final {name+} for parameters", value
        )
    if "+}" in value[:-1] and not value.rstrip("/").endswith("+}"):
        raise r.error(key, "a greedy {name+} parameter must be the last segment", value)
    return value


def _bucket_key(r: _Reader, key: str, value: str) -> str:
    _check_bucket_name(r, value, key=key)
    return value


def _log_group(r: _Reader, key: str, value: str) -> str:
    if not re.fullmatch(r"[.\-_/#A-Za-z0-9]{1,512}", value):
        raise r.error(key, "must be a log group name: 1-512 characters of [.-_/#A-Za-z0-9]", value)
    return value


def _filter_pattern(r: _Reader, key: str, value: str) -> str:
    from logsvc.filterpattern import compile_pattern

    try:
        compile_pattern(value)
    except InvalidParameter as e:
        raise r.error(key, f"must be a valid filter pattern: {e}", value) from None
    return value


def _events(r: _Reader, key: str, value: list[Any]) -> tuple[str, ...]:
    for ev in value:
        if ev not in S3_EVENTS:
            raise r.error(key, f"each must be one of {', '.join(S3_EVENTS)}", ev)
    return tuple(value)


# ---- the keys of each table (order: the order their errors are reported in) ------------------

TOP_KEYS = (
    Key("invoker", dict, {}),
    Key("tables", dict, {}),
    Key("buckets", dict, {}),
    Key("functions", dict, {}),
    Key("forward", dict, {}),  # read by `logsvc forward` (ship.section_from_project)
)
INVOKER_KEYS = (
    Key("idle_timeout", float, Project.idle_timeout, between=(0.05, 86400.0)),
    Key("retry_delays", list, Function.retry_delays, check=_delays),
)
TABLE_KEYS = (
    Key("stream_view_type", str, Table.stream_view_type, one_of=VIEW_TYPES),
    Key("key", str, Table.key),
    Key("sort_key", str),
)
BUCKET_KEYS = (Key("path", str),)
FUNCTION_KEYS = (
    Key("handler", str, required=True, check=_handler),
    Key("code", str, ".", check=_code),
    Key("environment", dict, {}, check=_environment),
    Key(
        "log_format",
        str,
        Function.log_format,
        one_of=("Text", "JSON"),
        rule="must be 'Text' or 'JSON'",
    ),
    Key("memory", int, Function.memory, between=(128, 10240)),
    Key("timeout", float, Function.timeout, between=(0.01, 900.0)),
    Key("concurrency", int, Function.concurrency, between=(1, 1000)),
    Key("max_retries", int, Function.max_retries, between=(0, 2)),
    Key("max_event_age", float, Function.max_event_age, between=(0.01, 21600.0)),
    Key("retry_delays", list, check=_delays),  # default: [invoker] retry_delays
    Key("on_failure", str),
    Key("on_success", str),
    Key("http", (list, dict), [], check=_tables),
    Key("bucket", (list, dict), [], check=_tables),
    Key("table", (list, dict), [], check=_tables),
    Key("logs", (list, dict), [], check=_tables),
)
LOGS_TRIGGER_KEYS = (
    Key("log_group", str, required=True, check=_log_group),
    Key("filter_pattern", str, "", check=_filter_pattern),
    Key("filter_name", str, ""),
)
ROUTE_KEYS = (
    Key("method", str, "ANY", check=_method),
    Key("path", str, required=True, check=_route_path),
    Key("public", bool, HttpRoute.public),
)
BUCKET_TRIGGER_KEYS = (
    Key("bucket", str, required=True, check=_bucket_key),
    Key("events", list, list(BucketTrigger.events), check=_events),
    Key("prefix", str, BucketTrigger.prefix),
    Key("suffix", str, BucketTrigger.suffix),
)
TABLE_TRIGGER_KEYS = (
    Key("table", str, required=True),
    Key("batch_size", int, TableTrigger.batch_size, between=(1, 10000)),
    Key("batching_window", float, TableTrigger.batching_window, between=(0.0, 300.0)),
    Key("bisect_on_error", bool, TableTrigger.bisect_on_error),
    Key("max_retries", int, TableTrigger.max_retries, between=(-1, 10000)),
    Key("retry_delay", float, TableTrigger.retry_delay, between=(0.0, 3600.0)),
    Key("on_failure", str),
    Key("report_batch_item_failures", bool, TableTrigger.report_batch_item_failures),
)


def load_project(path: Path | str, data_dir: Path | str | None = None) -> Project:
    """Read and check a logsvc.toml.

    :raises InvalidParameter: naming the file, the key and the rule that was broken.
    :raises NotFound: if the file does not exist.
    """
    from logsvc.errors import NotFound

    path = Path(path).resolve()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"project file {path} does not exist", field="project") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InvalidParameter(
            f"{path}: not valid TOML: {e}", field="project", rule="TOML 1.0"
        ) from None
    return parse_project(doc, path, data_dir)


def parse_project(doc: dict[str, Any], path: Path, data_dir: Path | str | None = None) -> Project:
    """Check an already-parsed TOML document (see the module docstring for the schema)."""
    base = path.parent
    data_dir = Path(data_dir) if data_dir is not None else base / ".logsvc"
    top = _Reader(path, doc, "", {"project_dir": str(base), "data_dir": str(data_dir)})
    sections = top.read(TOP_KEYS)
    invoker = top.child(sections["invoker"], "invoker").read(INVOKER_KEYS)
    tables = {name: _parse_table(top, name, tdoc) for name, tdoc in sections["tables"].items()}
    buckets = {
        name: _parse_bucket(top, name, bdoc, data_dir) for name, bdoc in sections["buckets"].items()
    }
    functions: dict[str, Function] = {}
    routes: list[HttpRoute] = []
    btriggers: list[BucketTrigger] = []
    ttriggers: list[TableTrigger] = []
    ltriggers: list[LogsTrigger] = []
    for name, fdoc in sections["functions"].items():
        r = top.child(_table(top, "functions", name, fdoc), f"functions.{name}")
        _check_name(r, name)
        values = r.read(FUNCTION_KEYS)
        http, bucket, table = values.pop("http"), values.pop("bucket"), values.pop("table")
        logs = values.pop("logs")
        values["retry_delays"] = values["retry_delays"] or invoker["retry_delays"]
        functions[name] = Function(name=name, **values)
        for i, rdoc in enumerate(http):
            routes.append(
                HttpRoute(
                    function=name, **r.child(rdoc, f"functions.{name}.http[{i}]").read(ROUTE_KEYS)
                )
            )
        for i, bdoc in enumerate(bucket):
            trigger = BucketTrigger(
                function=name,
                **r.child(bdoc, f"functions.{name}.bucket[{i}]").read(BUCKET_TRIGGER_KEYS),
            )
            btriggers.append(trigger)
            buckets.setdefault(
                trigger.bucket, Bucket(trigger.bucket, data_dir / "buckets" / trigger.bucket)
            )
        for i, tdoc in enumerate(table):
            trigger = TableTrigger(
                function=name,
                **r.child(tdoc, f"functions.{name}.table[{i}]").read(TABLE_TRIGGER_KEYS),
            )
            ttriggers.append(trigger)
            tables.setdefault(trigger.table, Table(trigger.table))
        for i, ldoc in enumerate(logs):
            lr = r.child(ldoc, f"functions.{name}.logs[{i}]")
            lv = lr.read(LOGS_TRIGGER_KEYS)
            ltriggers.append(
                LogsTrigger(
                    log_group=lv["log_group"],
                    function=name,
                    filter_name=lv["filter_name"] or f"{name}-logs-{i}",
                    filter_pattern=lv["filter_pattern"],
                )
            )
    _check_destinations(path, functions, ttriggers)
    _check_subscriptions(path, ltriggers)
    return Project(
        path=path,
        functions=functions,
        routes=tuple(routes),
        bucket_triggers=tuple(btriggers),
        table_triggers=tuple(ttriggers),
        logs_triggers=tuple(ltriggers),
        buckets=buckets,
        tables=tables,
        idle_timeout=invoker["idle_timeout"],
    )


def _parse_table(top: _Reader, name: str, doc: object) -> Table:
    r = top.child(_table(top, "tables", name, doc), f"tables.{name}")
    _check_name(r, name)
    return Table(name, **r.read(TABLE_KEYS))


def _parse_bucket(top: _Reader, name: str, doc: object, data_dir: Path) -> Bucket:
    r = top.child(_table(top, "buckets", name, doc), f"buckets.{name}")
    _check_bucket_name(r, name)
    p = r.read(BUCKET_KEYS)["path"]
    return Bucket(
        name, (r.path.parent / p.format(**r.subst)).resolve() if p else data_dir / "buckets" / name
    )


def _check_destinations(
    path: Path, functions: dict[str, Function], ttriggers: list[TableTrigger]
) -> None:
    """Every on_failure / on_success names a function of the same file."""
    for fn in functions.values():
        for key in ("on_failure", "on_success"):
            target = getattr(fn, key)
            if target is not None and target not in functions:
                raise InvalidParameter(
                    f"{path}: functions.{fn.name}.{key}: names a function that is not defined (got {target!r})",
                    field=f"functions.{fn.name}.{key}",
                    rule="destinations are functions defined in the same file",
                )
    for t in ttriggers:
        if t.on_failure is not None and t.on_failure not in functions:
            raise InvalidParameter(
                f"{path}: functions.{t.function}.table: on_failure names a function that is not defined"
                f" (got {t.on_failure!r})",
                field=f"functions.{t.function}.table.on_failure",
                rule="destinations are functions defined in the same file",
            )


def _check_subscriptions(path: Path, ltriggers: list[LogsTrigger]) -> None:
    """AWS's two filters per group, each name once per group, and no loop (subscriptions.py says
    why); the first trigger that breaks a rule is the one named."""
    from logsvc.subscriptions import MAX_PER_GROUP, check_no_loop

    seen: dict[str, list[str]] = {}
    edges: list[tuple[str, str]] = []
    for t in ltriggers:
        key = f"functions.{t.function}.logs"
        names = seen.setdefault(t.log_group, [])
        if t.filter_name in names or len(names) >= MAX_PER_GROUP:
            rule = f"at most {MAX_PER_GROUP} subscription filters per log group, each name once"
            raise InvalidParameter(
                f"{path}: {key}: {rule} (got {t.log_group!r})", field=key, rule=rule
            )
        names.append(t.filter_name)
        edges.append((t.log_group, t.function))
        try:
            check_no_loop(edges)
        except InvalidParameter as e:
            raise InvalidParameter(f"{path}: {key}: {e.message}", field=key, rule=e.rule) from None


def _table(top: _Reader, section: str, name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise top.error(f"{section}.{name}", "must be a table", value)
    return value


def _check_name(r: _Reader, name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        full = r.prefix
        raise InvalidParameter(
            f"{r.path}: {full}: name must be {NAME_RULE}", field=full, rule=NAME_RULE
        )


def _check_bucket_name(r: _Reader, name: str, key: str | None = None) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", name):
        rule = "3-63 characters of [a-z0-9.-], starting and ending with a letter or digit"
        if key:
            raise r.error(key, rule, name)
        raise InvalidParameter(
            f"{r.path}: {r.prefix}: bucket name must be {rule}", field=r.prefix, rule=rule
        )
