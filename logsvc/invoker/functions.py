"""Function definitions: the `logsvc.toml` project file, parsed and checked into frozen dataclasses.

Owns the project file's schema, its defaults and every error that names the file, the key and
the rule. Never starts a process, opens a stream file or knows about HTTP.

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
    [[functions.NAME.table]]    table = "orders", batch_size = 100, batching_window = 0.5,
                                bisect_on_error = false, max_retries = -1, retry_delay = 1,
                                on_failure = "other-fn", report_batch_item_failures = false

    [buckets.NAME]  path = "buckets/NAME"   # default: <data_dir>/buckets/NAME
    [tables.NAME]   key = "id", sort_key = "ts", stream_view_type = "NEW_AND_OLD_IMAGES"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logsvc.errors import InvalidParameter

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
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.name}"

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


class _Reader:
    """Typed access to one TOML table, raising errors that name file, key and rule."""

    def __init__(self, path: Path, data: dict[str, Any], prefix: str) -> None:
        self.path, self.data, self.prefix = path, data, prefix
        self.used: set[str] = set()

    def error(self, key: str, rule: str, got: object = None) -> InvalidParameter:
        full = f"{self.prefix}.{key}" if self.prefix else key
        detail = f" (got {got!r})" if got is not None else ""
        return InvalidParameter(f"{self.path}: {full}: {rule}{detail}", field=full, rule=rule)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(key, f"must be {_kind_name(kind)}", value)
        if not isinstance(value, kind):
            raise self.error(key, f"must be {_kind_name(kind)}", value)
        return value

    def number(self, key: str, default: float, lo: float, hi: float, *, integer: bool = False) -> Any:
        value = self.get(key, int if integer else float, default)
        if not lo <= value <= hi:
            raise self.error(key, f"must be between {_fmt(lo)} and {_fmt(hi)}", value)
        return value

    def check_unknown(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown key; allowed: {', '.join(sorted(allowed))}")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "an array", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


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
        raise InvalidParameter(f"{path}: not valid TOML: {e}", field="project", rule="TOML 1.0") from None
    return parse_project(doc, path, data_dir)


def parse_project(doc: dict[str, Any], path: Path, data_dir: Path | str | None = None) -> Project:
    """Check an already-parsed TOML document (see the module docstring for the schema)."""
    base = path.parent
    data_dir = Path(data_dir) if data_dir is not None else base / ".logsvc"
    top = _Reader(path, doc, "")
    top.check_unknown({"invoker", "functions", "buckets", "tables"})
    inv = _Reader(path, top.get("invoker", dict, {}), "invoker")
    inv.check_unknown({"idle_timeout", "retry_delays"})
    idle_timeout = inv.number("idle_timeout", 300.0, 0.05, 86400.0)
    default_delays = _delays(inv, "retry_delays", (1.0, 2.0))

    subst = {"project_dir": str(base), "data_dir": str(data_dir)}
    tables: dict[str, Table] = {}
    for tname, tdoc in top.get("tables", dict, {}).items():
        r = _Reader(path, _table(top, "tables", tname, tdoc), f"tables.{tname}")
        r.check_unknown({"key", "sort_key", "stream_view_type"})
        _check_name(r, tname)
        view = r.get("stream_view_type", str, "NEW_AND_OLD_IMAGES")
        if view not in VIEW_TYPES:
            raise r.error("stream_view_type", f"must be one of {', '.join(VIEW_TYPES)}", view)
        tables[tname] = Table(tname, r.get("key", str, "id"), r.get("sort_key", str), view)

    buckets: dict[str, Bucket] = {}
    for bname, bdoc in top.get("buckets", dict, {}).items():
        r = _Reader(path, _table(top, "buckets", bname, bdoc), f"buckets.{bname}")
        r.check_unknown({"path"})
        _check_bucket_name(r, bname)
        p = r.get("path", str)
        buckets[bname] = Bucket(bname, (base / p.format(**subst)).resolve() if p else data_dir / "buckets" / bname)

    functions: dict[str, Function] = {}
    routes: list[HttpRoute] = []
    btriggers: list[BucketTrigger] = []
    ttriggers: list[TableTrigger] = []
    fdocs = top.get("functions", dict, {})
    for name, fdoc in fdocs.items():
        r = _Reader(path, _table(top, "functions", name, fdoc), f"functions.{name}")
        r.check_unknown({
            "handler", "code", "memory", "timeout", "concurrency", "environment", "log_format", "max_retries",
            "max_event_age", "retry_delays", "on_failure", "on_success", "http", "bucket", "table",
        })
        _check_name(r, name)
        handler = r.get("handler", str, required=True)
        if not _HANDLER_RE.fullmatch(handler):
            raise r.error("handler", "must look like 'module.function'", handler)
        code = (base / r.get("code", str, ".")).resolve()
        if not code.is_dir():
            raise r.error("code", f"must be a directory relative to {base}", str(code))
        env = {}
        for k, v in r.get("environment", dict, {}).items():
            if not isinstance(v, str | int | float | bool):
                raise r.error(f"environment.{k}", "must be a string, number or boolean", v)
            text = str(v).lower() if isinstance(v, bool) else str(v)
            env[k] = text.replace("{project_dir}", subst["project_dir"]).replace("{data_dir}", subst["data_dir"])
        log_format = r.get("log_format", str, "Text")
        if log_format not in ("Text", "JSON"):
            raise r.error("log_format", "must be 'Text' or 'JSON'", log_format)
        fn = Function(
            name=name,
            handler=handler,
            code=code,
            memory=r.number("memory", 128, 128, 10240, integer=True),
            timeout=r.number("timeout", 3.0, 0.01, 900.0),
            concurrency=r.number("concurrency", 10, 1, 1000, integer=True),
            environment=env,
            log_format=log_format,
            max_retries=r.number("max_retries", 2, 0, 2, integer=True),
            max_event_age=r.number("max_event_age", 21600.0, 0.01, 21600.0),
            retry_delays=_delays(r, "retry_delays", default_delays),
            on_failure=r.get("on_failure", str),
            on_success=r.get("on_success", str),
        )
        functions[name] = fn
        for i, rdoc in enumerate(_array(r, "http")):
            rr = _Reader(path, rdoc, f"functions.{name}.http[{i}]")
            rr.check_unknown({"method", "path", "public"})
            method = rr.get("method", str, "ANY").upper()
            if method not in HTTP_METHODS:
                raise rr.error("method", f"must be one of {', '.join(HTTP_METHODS)}", method)
            rpath = rr.get("path", str, required=True)
            if not rpath.startswith("/") or not re.fullmatch(r"(/([^/{}]+|\{[A-Za-z_]\w*\+?\}))*/?", rpath):
                raise rr.error("path", "must start with '/' and use {name} or a final {name+} for parameters", rpath)
            if "+}" in rpath[:-1] and not rpath.rstrip("/").endswith("+}"):
                raise rr.error("path", "a greedy {name+} parameter must be the last segment", rpath)
            routes.append(HttpRoute(method, rpath, name, rr.get("public", bool, False)))
        for i, bdoc in enumerate(_array(r, "bucket")):
            br = _Reader(path, bdoc, f"functions.{name}.bucket[{i}]")
            br.check_unknown({"bucket", "prefix", "suffix", "events"})
            bucket = br.get("bucket", str, required=True)
            _check_bucket_name(br, bucket, key="bucket")
            events = br.get("events", list, list(BucketTrigger.events))
            for ev in events:
                if ev not in S3_EVENTS:
                    raise br.error("events", f"each must be one of {', '.join(S3_EVENTS)}", ev)
            btriggers.append(BucketTrigger(bucket, name, br.get("prefix", str, ""), br.get("suffix", str, ""), tuple(events)))
            buckets.setdefault(bucket, Bucket(bucket, data_dir / "buckets" / bucket))
        for i, tdoc in enumerate(_array(r, "table")):
            tr = _Reader(path, tdoc, f"functions.{name}.table[{i}]")
            tr.check_unknown({
                "table", "batch_size", "batching_window", "bisect_on_error", "max_retries", "retry_delay",
                "on_failure", "report_batch_item_failures",
            })
            table = tr.get("table", str, required=True)
            if table not in tables:
                tables[table] = Table(table)
            ttriggers.append(TableTrigger(
                table=table,
                function=name,
                batch_size=tr.number("batch_size", 100, 1, 10000, integer=True),
                batching_window=tr.number("batching_window", 0.0, 0.0, 300.0),
                bisect_on_error=tr.get("bisect_on_error", bool, False),
                max_retries=tr.number("max_retries", -1, -1, 10000, integer=True),
                retry_delay=tr.number("retry_delay", 1.0, 0.0, 3600.0),
                on_failure=tr.get("on_failure", str),
                report_batch_item_failures=tr.get("report_batch_item_failures", bool, False),
            ))

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
    return Project(
        path=path,
        functions=functions,
        routes=tuple(routes),
        bucket_triggers=tuple(btriggers),
        table_triggers=tuple(ttriggers),
        buckets=buckets,
        tables=tables,
        idle_timeout=idle_timeout,
    )


def _table(top: _Reader, section: str, name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise top.error(f"{section}.{name}", "must be a table", value)
    return value


def _array(r: _Reader, key: str) -> list[dict[str, Any]]:
    value = r.get(key, (list, dict), [])
    items = [value] if isinstance(value, dict) else value
    for item in items:
        if not isinstance(item, dict):
            raise r.error(key, "must be a table or an array of tables", item)
    return items


def _delays(r: _Reader, key: str, default: tuple[float, ...]) -> tuple[float, ...]:
    value = r.get(key, list, None)
    if value is None:
        return default
    if len(value) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 3600 for v in value):
        raise r.error(key, "must be two numbers of seconds between 0 and 3600 (delay before retry 1 and 2)", value)
    return tuple(float(v) for v in value)


def _check_name(r: _Reader, name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        full = r.prefix
        raise InvalidParameter(f"{r.path}: {full}: name must be {NAME_RULE}", field=full, rule=NAME_RULE)


def _check_bucket_name(r: _Reader, name: str, key: str | None = None) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", name):
        rule = "3-63 characters of [a-z0-9.-], starting and ending with a letter or digit"
        if key:
            raise r.error(key, rule, name)
        raise InvalidParameter(f"{r.path}: {r.prefix}: bucket name must be {rule}", field=r.prefix, rule=rule)
