"""logsvc.toml errors, one case per rule: each names the file, the key and the rule, word for word.

The expected messages are written out in full (not built from the parser's tables), so a
rewording, a lost `(got ...)` or a check that stops firing fails here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from logsvc.errors import InvalidParameter
from logsvc.invoker.functions import (
    BucketTrigger,
    Function,
    HttpRoute,
    Table,
    TableTrigger,
    parse_project,
)

F = "[functions.a]\nhandler = 'h.f'\ncode = 'fns'\n"  # a valid function to add one bad key to

CASES = [
    ("foo = 1\n", "foo: unknown key; allowed: buckets, forward, functions, invoker, tables"),
    ("invoker = 1\n", "invoker: must be a table (got 1)"),
    ("[invoker]\nidle = 1\n", "invoker.idle: unknown key; allowed: idle_timeout, retry_delays"),
    (
        "[invoker]\nidle_timeout = 0\n",
        "invoker.idle_timeout: must be between 0.05 and 86400 (got 0.0)",
    ),
    ("[invoker]\nidle_timeout = 'soon'\n", "invoker.idle_timeout: must be a number (got 'soon')"),
    (
        "[invoker]\nretry_delays = [1, 5000]\n",
        "invoker.retry_delays: must be two numbers of seconds between 0 and 3600 (delay before retry 1 and 2) (got [1, 5000])",
    ),
    ("[invoker]\nretry_delays = 'x'\n", "invoker.retry_delays: must be an array (got 'x')"),
    ("tables = 1\n", "tables: must be a table (got 1)"),
    ("[tables]\nt = 1\n", "tables.t: must be a table (got 1)"),
    ("[tables.'bad name']\n", "tables.bad name: name must be 1-64 characters of [A-Za-z0-9_-]"),
    (
        "[tables.t]\nstream_view_type = 'X'\n",
        "tables.t.stream_view_type: must be one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES (got 'X')",
    ),
    ("[tables.t]\nkey = 1\n", "tables.t.key: must be a string (got 1)"),
    ("[tables.t]\nsort_key = 1\n", "tables.t.sort_key: must be a string (got 1)"),
    (
        "[tables.t]\nfoo = 1\n",
        "tables.t.foo: unknown key; allowed: key, sort_key, stream_view_type",
    ),
    ("buckets = 1\n", "buckets: must be a table (got 1)"),
    (
        "[buckets.Up]\n",
        "buckets.Up: bucket name must be 3-63 characters of [a-z0-9.-], starting and ending with a letter or digit",
    ),
    ("[buckets.up1]\npath = 1\n", "buckets.up1.path: must be a string (got 1)"),
    ("[buckets.up1]\nx = 1\n", "buckets.up1.x: unknown key; allowed: path"),
    ("functions = 1\n", "functions: must be a table (got 1)"),
    ("[functions]\na = 1\n", "functions.a: must be a table (got 1)"),
    (
        "[functions.'a b']\nhandler = 'h.f'\ncode = 'fns'\n",
        "functions.a b: name must be 1-64 characters of [A-Za-z0-9_-]",
    ),
    ("[functions.a]\ncode = 'fns'\n", "functions.a.handler: is required"),
    (
        "[functions.a]\nhandler = 'h'\ncode = 'fns'\n",
        "functions.a.handler: must look like 'module.function' (got 'h')",
    ),
    ("[functions.a]\nhandler = 1\ncode = 'fns'\n", "functions.a.handler: must be a string (got 1)"),
    (
        "[functions.a]\nhandler = 'h.f'\ncode = 'nowhere'\n",
        "functions.a.code: must be a directory relative to {base} (got '{base}/nowhere')",
    ),
    ("[functions.a]\nhandler = 'h.f'\ncode = 1\n", "functions.a.code: must be a string (got 1)"),
    (F + "environment = 1\n", "functions.a.environment: must be a table (got 1)"),
    (
        F + "environment = { K = [1] }\n",
        "functions.a.environment.K: must be a string, number or boolean (got [1])",
    ),
    (F + "log_format = 'XML'\n", "functions.a.log_format: must be 'Text' or 'JSON' (got 'XML')"),
    (F + "memory = 64\n", "functions.a.memory: must be between 128 and 10240 (got 64)"),
    (F + "memory = true\n", "functions.a.memory: must be an integer (got True)"),
    (F + "memory = 128.5\n", "functions.a.memory: must be an integer (got 128.5)"),
    (F + "timeout = 0\n", "functions.a.timeout: must be between 0.01 and 900 (got 0.0)"),
    (F + "timeout = '3'\n", "functions.a.timeout: must be a number (got '3')"),
    (F + "concurrency = 0\n", "functions.a.concurrency: must be between 1 and 1000 (got 0)"),
    (F + "max_retries = 3\n", "functions.a.max_retries: must be between 0 and 2 (got 3)"),
    (
        F + "max_event_age = 0\n",
        "functions.a.max_event_age: must be between 0.01 and 21600 (got 0.0)",
    ),
    (
        F + "retry_delays = [1]\n",
        "functions.a.retry_delays: must be two numbers of seconds between 0 and 3600 (delay before retry 1 and 2) (got [1])",
    ),
    (
        F + "retry_delays = [1, true]\n",
        "functions.a.retry_delays: must be two numbers of seconds between 0 and 3600 (delay before retry 1 and 2) (got [1, True])",
    ),
    (
        F + "on_failure = 'b'\n",
        "functions.a.on_failure: names a function that is not defined (got 'b')",
    ),
    (
        F + "on_success = 'b'\n",
        "functions.a.on_success: names a function that is not defined (got 'b')",
    ),
    (F + "on_success = 1\n", "functions.a.on_success: must be a string (got 1)"),
    (
        F + "timout = 3\n",
        "functions.a.timout: unknown key; allowed: bucket, code, concurrency, environment, handler, http, log_format, logs, max_event_age, max_retries, memory, on_failure, on_success, retry_delays, table, timeout",
    ),
    (F + "http = 1\n", "functions.a.http: must be an array or a table (got 1)"),
    (F + "http = [1]\n", "functions.a.http: must be a table or an array of tables (got 1)"),
    (
        F + "http = [{ method = 'fetch', path = '/' }]\n",
        "functions.a.http[0].method: must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY (got 'FETCH')",
    ),
    (F + "http = [{ method = 'GET' }]\n", "functions.a.http[0].path: is required"),
    (
        F + "http = [{ path = 'items' }]\n",
        "functions.a.http[0].path: must start with '/' and use {name} or a final {name+} for parameters (got 'items')",
    ),
    (
        F + "http = [{ path = '/a/{p+}/b' }]\n",
        "functions.a.http[0].path: a greedy {name+} parameter must be the last segment (got '/a/{p+}/b')",
    ),
    (
        F + "http = [{ path = '/', public = 'yes' }]\n",
        "functions.a.http[0].public: must be true or false (got 'yes')",
    ),
    (
        F + "http = [{ path = '/', verb = 'GET' }]\n",
        "functions.a.http[0].verb: unknown key; allowed: method, path, public",
    ),
    (
        F + "bucket = [{ bucket = 'Up' }]\n",
        "functions.a.bucket[0].bucket: 3-63 characters of [a-z0-9.-], starting and ending with a letter or digit (got 'Up')",
    ),
    (F + "bucket = [{ prefix = 'in/' }]\n", "functions.a.bucket[0].bucket: is required"),
    (
        F + "bucket = [{ bucket = 'up1', events = ['s3:Nope'] }]\n",
        "functions.a.bucket[0].events: each must be one of s3:ObjectCreated:*, s3:ObjectCreated:Put, s3:ObjectCreated:Copy, s3:ObjectRemoved:*, s3:ObjectRemoved:Delete (got 's3:Nope')",
    ),
    (
        F + "bucket = [{ bucket = 'up1', events = 's3:ObjectCreated:*' }]\n",
        "functions.a.bucket[0].events: must be an array (got 's3:ObjectCreated:*')",
    ),
    (
        F + "bucket = [{ bucket = 'up1', prefix = 1 }]\n",
        "functions.a.bucket[0].prefix: must be a string (got 1)",
    ),
    (
        F + "bucket = [{ bucket = 'up1', when = 1 }]\n",
        "functions.a.bucket[0].when: unknown key; allowed: bucket, events, prefix, suffix",
    ),
    (F + "table = [{ batch_size = 1 }]\n", "functions.a.table[0].table: is required"),
    (
        F + "table = [{ table = 't', batch_size = 0 }]\n",
        "functions.a.table[0].batch_size: must be between 1 and 10000 (got 0)",
    ),
    (
        F + "table = [{ table = 't', batching_window = 301 }]\n",
        "functions.a.table[0].batching_window: must be between 0 and 300 (got 301.0)",
    ),
    (
        F + "table = [{ table = 't', max_retries = -2 }]\n",
        "functions.a.table[0].max_retries: must be between -1 and 10000 (got -2)",
    ),
    (
        F + "table = [{ table = 't', retry_delay = -1 }]\n",
        "functions.a.table[0].retry_delay: must be between 0 and 3600 (got -1.0)",
    ),
    (
        F + "table = [{ table = 't', bisect_on_error = 1 }]\n",
        "functions.a.table[0].bisect_on_error: must be true or false (got 1)",
    ),
    (
        F + "table = [{ table = 't', report_batch_item_failures = 'no' }]\n",
        "functions.a.table[0].report_batch_item_failures: must be true or false (got 'no')",
    ),
    (
        F + "table = [{ table = 't', on_failure = 'zz' }]\n",
        "functions.a.table: on_failure names a function that is not defined (got 'zz')",
    ),
    (
        F + "table = [{ table = 't', size = 1 }]\n",
        "functions.a.table[0].size: unknown key; allowed: batch_size, batching_window, bisect_on_error, max_retries, on_failure, report_batch_item_failures, retry_delay, table",
    ),
    (F + "logs = [{ filter_pattern = 'x' }]\n", "functions.a.logs[0].log_group: is required"),
    (
        F + "logs = [{ log_group = 'a b' }]\n",
        "functions.a.logs[0].log_group: must be a log group name: 1-512 characters of [.-_/#A-Za-z0-9] (got 'a b')",
    ),
    (
        F + "logs = [{ log_group = '/app', filter_pattern = '{ $.x = ' }]\n",
        "functions.a.logs[0].filter_pattern: must be a valid filter pattern: expected a value after '=' at column 9 (got '{ $.x = ')",
    ),
    (
        F + "logs = [{ log_group = '/aws/lambda/a' }]\n",
        "functions.a.logs: this subscription would feed itself: /aws/lambda/a -> a -> /aws/lambda/a (a function writes its own log group /aws/lambda/NAME on every invocation)",
    ),
    (
        F + "logs = [{ log_group = '/app' }, { log_group = '/app' }, { log_group = '/app' }]\n",
        "functions.a.logs: at most 2 subscription filters per log group, each name once (got '/app')",
    ),
]


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "fns").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("toml", "message"),
    CASES,
    ids=[m.split(":")[0] + "|" + m.split(": ", 1)[1][:30] for _, m in CASES],
)
def test_each_broken_rule_is_named_exactly(project_dir: Path, toml: str, message: str) -> None:
    path = project_dir / "logsvc.toml"
    with pytest.raises(InvalidParameter) as e:
        parse_project(tomllib.loads(toml), path, project_dir / "data")
    assert e.value.message == f"{path}: " + message.replace("{base}", str(project_dir))
    assert message.split(": ", 1)[0] in (
        e.value.field,
        e.value.field.rsplit(".", 1)[0],
    )  # the key, as a field


def test_a_minimal_function_gets_the_documented_defaults(project_dir: Path) -> None:
    path = project_dir / "logsvc.toml"
    doc = tomllib.loads(
        F + "http = { path = '/a/{id}' }\nbucket = [{ bucket = 'up1' }]\ntable = { table = 't' }\n"
    )
    project = parse_project(doc, path, project_dir / "data")
    assert project.idle_timeout == 300.0
    assert project.functions == {
        "a": Function(
            name="a",
            handler="h.f",
            code=project_dir / "fns",
            memory=128,
            timeout=3.0,
            concurrency=10,
            environment={},
            log_format="Text",
            max_retries=2,
            max_event_age=21600.0,
            retry_delays=(1.0, 2.0),
            on_failure=None,
            on_success=None,
        ),
    }
    assert project.routes == (HttpRoute("ANY", "/a/{id}", "a", False),)
    assert project.bucket_triggers == (
        BucketTrigger("up1", "a", "", "", ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")),
    )
    assert project.buckets["up1"].path == project_dir / "data" / "buckets" / "up1"
    assert project.table_triggers == (
        TableTrigger(
            table="t",
            function="a",
            batch_size=100,
            batching_window=0.0,
            bisect_on_error=False,
            max_retries=-1,
            retry_delay=1.0,
            on_failure=None,
            report_batch_item_failures=False,
        ),
    )
    assert project.tables == {"t": Table("t", "id", None, "NEW_AND_OLD_IMAGES")}


def test_every_key_is_read_and_substituted(project_dir: Path) -> None:
    path = project_dir / "logsvc.toml"
    doc = tomllib.loads("""
        [invoker]
        idle_timeout = 5
        retry_delays = [0, 0.5]

        [tables.orders]
        key = "pk"
        sort_key = "sk"
        stream_view_type = "KEYS_ONLY"

        [buckets.up1]
        path = "{data_dir}/b"

        [functions.a]
        handler = "pkg/mod.fn"
        code = "fns"
        memory = 256
        timeout = 1.5
        concurrency = 2
        environment = { DIR = "{project_dir}/x", N = 3, ON = true }
        log_format = "JSON"
        max_retries = 0
        max_event_age = 60
        on_failure = "b"
        on_success = "b"
        http = [{ method = "post", path = "/p/{rest+}", public = true }]
        bucket = [{ bucket = "up1", prefix = "in/", suffix = ".txt", events = ["s3:ObjectCreated:Put"] }]

        [[functions.a.table]]
        table = "orders"
        batch_size = 10
        batching_window = 0.5
        bisect_on_error = true
        max_retries = 3
        retry_delay = 2
        on_failure = "b"
        report_batch_item_failures = true

        [functions.b]
        handler = "h.f"
        code = "fns"
        retry_delays = [3, 4]
    """)
    data = project_dir / "data"
    project = parse_project(doc, path, data)
    assert project.idle_timeout == 5.0
    a, b = project.functions["a"], project.functions["b"]
    assert a == Function(
        name="a",
        handler="pkg/mod.fn",
        code=project_dir / "fns",
        memory=256,
        timeout=1.5,
        concurrency=2,
        environment={"DIR": f"{project_dir}/x", "N": "3", "ON": "true"},
        log_format="JSON",
        max_retries=0,
        max_event_age=60.0,
        retry_delays=(0.0, 0.5),
        on_failure="b",
        on_success="b",
    )
    assert b.retry_delays == (3.0, 4.0)
    assert project.routes == (HttpRoute("POST", "/p/{rest+}", "a", True),)
    assert project.bucket_triggers == (
        BucketTrigger("up1", "a", "in/", ".txt", ("s3:ObjectCreated:Put",)),
    )
    assert project.buckets["up1"].path == data / "b"
    assert project.tables == {"orders": Table("orders", "pk", "sk", "KEYS_ONLY")}
    assert project.table_triggers == (
        TableTrigger(
            table="orders",
            function="a",
            batch_size=10,
            batching_window=0.5,
            bisect_on_error=True,
            max_retries=3,
            retry_delay=2.0,
            on_failure="b",
            report_batch_item_failures=True,
        ),
    )
