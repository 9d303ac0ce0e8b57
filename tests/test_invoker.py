"""The invoker against a real `logsvc serve --project` (gunicorn, 2 workers): boto3's lambda client,
containers and their streams, async retries and destinations, records, and the project file."""

from __future__ import annotations

import base64
import json
import re
import textwrap
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from logsvc.errors import InvalidParameter
from logsvc.invoker.functions import load_project
from tests.conftest import wait_for
from tests.test_invoker_support import serve_project

HANDLERS = """
import json, logging, os, time
import boto3
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def noop(event, context):
    return None

def echo(event, context):
    print("got event")
    print("two\\nlines")
    logger.info("multi-line\\nrecord %s", event.get("n"))
    if "say" in event:
        print(event["say"])
    return {"echo": event, "stream": context.log_stream_name, "requestId": context.aws_request_id}

def boom(event, context):
    raise ValueError("bad input")

def slow(event, context):
    time.sleep(10)

def sleepy(event, context):
    time.sleep(0.6)
    return context.log_stream_name

def crash(event, context):
    os._exit(3)

def caller(event, context):
    out = boto3.client("lambda").invoke(FunctionName="echo", Payload=json.dumps({"n": 7}))
    return json.loads(out["Payload"].read())
"""

PROJECT = """
[invoker]
idle_timeout = 30

[functions.noop]
handler = "handlers.noop"
code = "fns"

[functions.echo]
handler = "handlers.echo"
code = "fns"
memory = 256

[functions.boom]
handler = "handlers.boom"
code = "fns"

[functions.slow]
handler = "handlers.slow"
code = "fns"
timeout = 0.5

[functions.sleepy]
handler = "handlers.sleepy"
code = "fns"

[functions.crash]
handler = "handlers.crash"
code = "fns"

[functions.caller]
handler = "handlers.caller"
code = "fns"
timeout = 10

[functions.worker]
handler = "handlers.boom"
code = "fns"
max_retries = 2
retry_delays = [0.4, 0.8]
on_failure = "dlq"

[functions.dlq]
handler = "handlers.noop"
code = "fns"

[functions.missing]
handler = "nosuchmodule.handler"
code = "fns"
"""

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def write_project(root: Path, project: str = PROJECT, handlers: str = HANDLERS) -> Path:
    (root / "fns").mkdir(parents=True, exist_ok=True)
    (root / "fns" / "handlers.py").write_text(handlers)
    path = root / "logsvc.toml"
    path.write_text(project)
    return path


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("invoker")
    data = root / "data"
    data.mkdir()
    toml = write_project(root)
    s = serve_project(data, toml)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lam(srv):
    return boto3.client(
        "lambda",
        endpoint_url=srv.url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


def messages(srv, group: str, stream: str) -> list[str]:
    """The messages of one stream file (files are the truth), with Lambda's \\r line breaks restored."""
    raw = srv.store.stream_file(group, stream).read_bytes().decode()
    return [line.split(" ", 1)[1].replace("\r", "\n") for line in raw.split("\n") if line]


def records(srv, **params) -> list[dict]:
    r = requests.get(srv.url + "/api/v1/invocations", params={"limit": 1000, **params}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["invocations"]


def test_sync_invoke_writes_lambdas_lines_and_returns_the_result(srv, lam):
    out = lam.invoke(FunctionName="echo", Payload=json.dumps({"n": 1}), LogType="Tail")
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in out
    body = json.loads(out["Payload"].read())
    rid = body["requestId"]
    assert body["echo"] == {"n": 1}
    assert out["ResponseMetadata"]["RequestId"] == rid
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", body["stream"])

    msgs = messages(srv, "/aws/lambda/echo", body["stream"])
    assert re.fullmatch(
        r"INIT_START Runtime Version: python:3\.\d+\.v\d+\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}",
        msgs[0],
    )
    assert msgs[1] == f"START RequestId: {rid} Version: $LATEST"
    assert msgs[2:4] == ["got event", "two"] and msgs[4] == "lines"  # print: one event per line
    assert re.fullmatch(
        rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tmulti-line\nrecord 1",
        msgs[5],
    )
    assert msgs[6] == f"END RequestId: {rid}"
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB"
        rf"\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms",
        msgs[7],
    )
    used = int(re.search(r"Max Memory Used: (\d+) MB", msgs[7]).group(1))
    assert 5 < used < 256  # the child's real peak RSS

    tail = base64.b64decode(out["LogResult"]).decode()
    assert tail.startswith(f"START RequestId: {rid}") and f"REPORT RequestId: {rid}" in tail
    assert "INIT_START" not in tail


def test_log_result_shows_a_printed_carriage_return_as_printed(srv, lam):
    """LogResult reads the stream file's lines the way every other reader does (escaped lines too)."""
    out = lam.invoke(
        FunctionName="echo", Payload=json.dumps({"say": "carriage\rreturn"}), LogType="Tail"
    )
    tail = base64.b64decode(out["LogResult"]).decode()
    assert "carriage\rreturn\n" in tail and "\x1e" not in tail


def test_function_error_is_200_with_unhandled_and_the_runtimes_error_lines(srv, lam):
    out = lam.invoke(FunctionName="boom", Payload=b"{}")
    assert out["StatusCode"] == 200
    assert out["FunctionError"] == "Unhandled"
    err = json.loads(out["Payload"].read())
    rid = out["ResponseMetadata"]["RequestId"]
    assert (
        err["errorType"] == "ValueError"
        and err["errorMessage"] == "bad input"
        and err["requestId"] == rid
    )
    assert err["stackTrace"][0].startswith('  File "') and "in boom" in err["stackTrace"][0]
    rec = records(srv, requestId=rid)[0]
    msgs = messages(srv, "/aws/lambda/boom", rec["logStream"])
    error = next(m for m in msgs if m.startswith("[ERROR]"))
    lines = error.split("\n")
    assert lines[0] == "[ERROR] ValueError: bad input"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[2].startswith(
        "\u00a0\u00a0File "
    )  # indentation as NO-BREAK SPACEs, as awslambdaric writes it
    assert rec["status"] == "error" and rec["errorType"] == "ValueError"


def test_timeout_ends_the_container_and_reports_status_timeout(srv, lam):
    out = lam.invoke(FunctionName="slow", Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    err = json.loads(out["Payload"].read())
    rid = out["ResponseMetadata"]["RequestId"]
    assert err == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 0.50 seconds",
    }
    rec = records(srv, requestId=rid)[0]
    assert rec["status"] == "timeout"
    msgs = messages(srv, "/aws/lambda/slow", rec["logStream"])
    # Lambda's own line in the function's stream, before END and REPORT: `<timestamp> <requestId> Task timed out ...`
    assert msgs[-3:-1] == [f"{rid} Task timed out after 0.50 seconds", f"END RequestId: {rid}"]
    raw = srv.store.stream_file("/aws/lambda/slow", rec["logStream"]).read_text()
    assert re.search(
        rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {rid} Task timed out after 0\.50 seconds$",
        raw,
        re.M,
    )
    r = requests.get(
        srv.url + "/api/v1/events",
        params={
            "group": "/aws/lambda/slow",
            "stream": rec["logStream"],
            "start": "1h",
            "startFromHead": "true",
        },
        timeout=10,
    )
    events = r.json()["events"]
    timed_out = next(e for e in events if "Task timed out" in e["message"])
    assert timed_out["message"] == f"{rid} Task timed out after 0.50 seconds"
    report = msgs[-1]
    assert report.startswith(f"REPORT RequestId: {rid}\tDuration: 500.00 ms\t")
    assert report.endswith("\tStatus: timeout")
    # the next invocation starts cold, in a new container
    out2 = lam.invoke(FunctionName="slow", Payload=b"{}")
    rec2 = records(srv, requestId=out2["ResponseMetadata"]["RequestId"])[0]
    assert rec2["coldStart"] is True and rec2["logStream"] != rec["logStream"]


def test_crash_reports_runtime_exit_error(srv, lam):
    out = lam.invoke(FunctionName="crash", Payload=b"{}")
    rid = out["ResponseMetadata"]["RequestId"]
    err = json.loads(out["Payload"].read())
    assert err["errorType"] == "Runtime.ExitError"
    assert (
        err["errorMessage"] == f"RequestId: {rid} Error: Runtime exited with error: exit status 3"
    )
    rec = records(srv, requestId=rid)[0]
    msgs = messages(srv, "/aws/lambda/crash", rec["logStream"])
    assert (
        msgs[-3]
        == f"RequestId: {rid} Error: Runtime exited with error: exit status 3\nRuntime.ExitError"
    )
    assert msgs[-1].endswith("\tStatus: error\tError Type: Runtime.ExitError")


def test_import_error_is_reported_like_the_runtime(srv, lam):
    out = lam.invoke(FunctionName="missing", Payload=b"{}")
    err = json.loads(out["Payload"].read())
    assert out["FunctionError"] == "Unhandled"
    assert err["errorType"] == "Runtime.ImportModuleError"
    assert (
        err["errorMessage"]
        == "Unable to import module 'nosuchmodule': No module named 'nosuchmodule'"
    )


def test_two_concurrent_cold_invocations_make_two_containers_then_one_is_reused(srv, lam):
    results: list[dict] = []

    def call() -> None:
        out = lam.invoke(FunctionName="sleepy", Payload=b"{}")
        results.append(
            {
                "rid": out["ResponseMetadata"]["RequestId"],
                "stream": json.loads(out["Payload"].read()),
            }
        )

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    streams = {r["stream"] for r in results}
    assert len(streams) == 2
    for r in results:
        msgs = messages(srv, "/aws/lambda/sleepy", r["stream"])
        assert msgs[0].startswith("INIT_START ")
        assert "\tInit Duration: " in msgs[-1]
    third = lam.invoke(FunctionName="sleepy", Payload=b"{}")
    rid = third["ResponseMetadata"]["RequestId"]
    stream = json.loads(third["Payload"].read())
    assert stream in streams
    report = messages(srv, "/aws/lambda/sleepy", stream)[-1]
    assert report.startswith(f"REPORT RequestId: {rid}\t") and "Init Duration" not in report
    assert sum(m.startswith("INIT_START") for m in messages(srv, "/aws/lambda/sleepy", stream)) == 1
    assert records(srv, requestId=rid)[0]["coldStart"] is False


def test_async_failure_retries_twice_with_delays_then_the_destination_once(srv, lam):
    out = lam.invoke(
        FunctionName="worker", InvocationType="Event", Payload=json.dumps({"order": 42})
    )
    assert out["StatusCode"] == 202
    rid = out["ResponseMetadata"]["RequestId"]
    dest = wait_for(lambda: records(srv, parent=rid), timeout=15, what="the on-failure destination")
    attempts = records(srv, requestId=rid, function="worker")
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert all(a["status"] == "error" and a["invocationType"] == "Event" for a in attempts)
    gaps = [(b["start"] - a["end"]) / 1000 for a, b in zip(attempts, attempts[1:], strict=False)]
    assert 0.35 <= gaps[0] < 2.0 and 0.75 <= gaps[1] < 2.5, gaps
    # each attempt is its own START...REPORT with the same request id, as Lambda keeps it
    starts = [
        m
        for s in srv.store.list_streams("/aws/lambda/worker")
        for m in messages(srv, "/aws/lambda/worker", s.name)
        if m.startswith(f"START RequestId: {rid}")
    ]
    assert len(starts) == 3
    assert len(dest) == 1 and dest[0]["function"] == "dlq"
    assert dest[0]["trigger"] == {
        "type": "destination",
        "source": "worker",
        "condition": "RetriesExhausted",
    }
    event = dest[0]["event"]
    assert event["requestContext"]["requestId"] == rid
    assert event["requestContext"]["condition"] == "RetriesExhausted"
    assert event["requestContext"]["approximateInvokeCount"] == 3
    assert event["requestPayload"] == {"order": 42}
    assert event["responseContext"]["functionError"] == "Unhandled"
    assert event["responsePayload"]["errorType"] == "ValueError"
    time.sleep(0.5)
    assert len(records(srv, parent=rid)) == 1


def test_invoke_from_inside_a_function_records_the_parent(srv, lam):
    out = lam.invoke(FunctionName="caller", Payload=b"{}")
    body = json.loads(out["Payload"].read())
    parent = out["ResponseMetadata"]["RequestId"]
    assert body["echo"] == {"n": 7}
    child = records(srv, parent=parent)
    assert [c["requestId"] for c in child] == [body["requestId"]]
    assert child[0]["function"] == "echo"


def test_dry_run_and_errors_in_lambdas_shape(srv, lam):
    assert lam.invoke(FunctionName="noop", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert "nope" in e.value.response["Error"]["Message"]
    r = requests.post(srv.url + "/2015-03-31/functions/nope/invocations", data=b"{}", timeout=10)
    assert r.status_code == 404
    assert r.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert r.json()["Type"] == "User" and "nope" in r.json()["message"]
    r = requests.post(
        srv.url + "/2015-03-31/functions/noop/invocations", data=b"{not json", timeout=10
    )
    assert (
        r.status_code == 400 and r.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    )
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert {"noop", "echo", "worker"} <= names


def test_invocations_api_filters_pages_and_rejects_bad_input(srv, lam):
    for i in range(3):
        lam.invoke(FunctionName="noop", Payload=json.dumps({"i": i}))
    got = records(srv, function="noop", status="success")
    assert len(got) >= 3 and all(r["function"] == "noop" for r in got)
    first = requests.get(
        srv.url + "/api/v1/invocations", params={"function": "noop", "limit": 2}, timeout=10
    ).json()
    assert len(first["invocations"]) == 2 and first["nextToken"]
    second = requests.get(
        srv.url + "/api/v1/invocations",
        params={"function": "noop", "limit": 2, "nextToken": first["nextToken"]},
        timeout=10,
    ).json()
    assert second["invocations"][0]["requestId"] != first["invocations"][1]["requestId"]
    future = records(srv, start=int(time.time() * 1000) + 60_000)
    assert future == []
    r = requests.get(srv.url + "/api/v1/invocations", params={"status": "weird"}, timeout=10)
    assert r.status_code == 400
    assert (
        r.json()["error"]["field"] == "status" and r.json()["error"]["code"] == "InvalidParameter"
    )


def test_cli_invoke_and_functions(srv, tmp_path):
    import subprocess
    import sys

    env = {**srv.env, "LOGSVC_URL": srv.url}

    def run(*a: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "logsvc", *a],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    out = run("invoke", "echo", "--payload", '{"n": 5}', "--tail")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["echo"] == {"n": 5}
    assert "REPORT RequestId:" in out.stderr
    out = run("invoke", "boom")
    assert out.returncode == 1 and '"errorType": "ValueError"' in out.stdout
    out = run("invoke", "nope")
    assert out.returncode == 3 and "logsvc: error: Function not found: 'nope'" in out.stderr
    out = run("invoke", "noop", "--payload", "{bad")
    assert out.returncode == 1 and "payload is not valid JSON" in out.stderr
    out = run("invoke", "noop", "--async")
    assert out.returncode == 0 and re.fullmatch(rf"queued: RequestId {UUID}\n", out.stdout)
    out = run("functions")
    assert out.returncode == 0 and re.search(r"^echo\s+handlers\.echo\s+256 MB", out.stdout, re.M)


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[functions.a]\ncode='fns'\n", "functions.a.handler: is required"),
        (
            "[functions.a]\nhandler='h'\ncode='fns'\n",
            "functions.a.handler: must look like 'module.function' (got 'h')",
        ),
        (
            "[functions.a]\nhandler='h.f'\ncode='fns'\nmemory=64\n",
            "functions.a.memory: must be between 128 and 10240 (got 64)",
        ),
        (
            "[functions.a]\nhandler='h.f'\ncode='fns'\nmax_retries=3\n",
            "functions.a.max_retries: must be between 0 and 2 (got 3)",
        ),
        (
            "[functions.a]\nhandler='h.f'\ncode='fns'\ntimeout='3'\n",
            "functions.a.timeout: must be a number (got '3')",
        ),
        (
            "[functions.a]\nhandler='h.f'\ncode='fns'\non_failure='b'\n",
            "functions.a.on_failure: names a function that is not defined (got 'b')",
        ),
        (
            "[functions.a]\nhandler='h.f'\ncode='nowhere'\n",
            "functions.a.code: must be a directory relative to",
        ),
        (
            "[functions.a]\nhandler='h.f'\ncode='fns'\nretry_delays=[1]\n",
            "functions.a.retry_delays: must be two numbers",
        ),
        (
            "[functions.a]\nhandler='h.f'\ncode='fns'\nhttp=[{method='GET', path='items'}]\n",
            "functions.a.http[0].path: must start with '/'",
        ),
        (
            "[functions.a]\nhandler='h.f'\ncode='fns'\ntimout=3\n",
            "functions.a.timout: unknown key; allowed:",
        ),
        (
            "[functions.a]\nhandler='h.f'\ncode='fns'\nbucket=[{bucket='Up'}]\n",
            "functions.a.bucket[0].bucket: 3-63 characters",
        ),
        ("[functions.a\n", "not valid TOML"),
    ],
)
def test_project_errors_name_the_file_the_key_and_the_rule(tmp_path: Path, toml: str, message: str):
    (tmp_path / "fns").mkdir()
    path = tmp_path / "logsvc.toml"
    path.write_text(textwrap.dedent(toml))
    with pytest.raises(InvalidParameter) as e:
        load_project(path)
    assert str(e.value).startswith(f"{path}: ")
    assert message in str(e.value)


def test_bad_project_stops_serve_with_the_error(tmp_path: Path):
    import subprocess
    import sys

    (tmp_path / "fns").mkdir()
    toml = tmp_path / "logsvc.toml"
    toml.write_text("[functions.a]\nhandler='h.f'\ncode='fns'\nmemory=64\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "logsvc",
            "--data-dir",
            str(tmp_path / "d"),
            "serve",
            "--port",
            "0",
            "--project",
            str(toml),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert f"{toml}: functions.a.memory: must be between 128 and 10240 (got 64)" in out.stderr


def test_sigv4_is_verified_when_keys_are_set_and_functions_sign_with_them(tmp_path: Path):
    toml = write_project(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    s = serve_project(data, toml, keys=("AKIDLOCAL", "s3cret"))
    try:

        def client(key: str, secret: str):
            return boto3.client(
                "lambda",
                endpoint_url=s.url,
                region_name="us-east-1",
                aws_access_key_id=key,
                aws_secret_access_key=secret,
                config=Config(retries={"max_attempts": 1}),
            )

        good = client("AKIDLOCAL", "s3cret")
        out = good.invoke(
            FunctionName="caller", Payload=b"{}"
        )  # the function's own call is signed too
        assert "FunctionError" not in out and json.loads(out["Payload"].read())["echo"] == {"n": 7}
        with pytest.raises(good.exceptions.ClientError) as e:
            client("AKIDLOCAL", "wrong").invoke(FunctionName="noop", Payload=b"{}")
        assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        r = requests.post(s.url + "/2015-03-31/functions/noop/invocations", data=b"{}", timeout=10)
        assert (
            r.status_code == 403
            and r.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        )
    finally:
        s.stop()
