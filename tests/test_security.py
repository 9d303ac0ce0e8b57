"""Security: SigV4, token auth, bind address, path traversal, CORS, body limits, slow clients, tail cap, hostile text.

Every server here is the real `logsvc serve` (gunicorn) from tests/conftest.py; the SigV4 unit
tests sign with botocore itself, so the verifier is checked against AWS's own client.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from logsvc import sigv4
from tests.conftest import Server, start_server, wait_for
from tests.helpers_sigv4 import CREDS, KEY_ID, SECRET, signed, verify_signed, verifying_server

LOGS_URL = "https://logs.us-east-1.amazonaws.com/"
LOGS_HEADERS = {
    "X-Amz-Target": "Logs_20140328.PutLogEvents",
    "Content-Type": "application/x-amz-json-1.1",
}
BODY = json.dumps(
    {
        "logGroupName": "/aws/lambda/x",
        "logStreamName": "s",
        "logEvents": [{"timestamp": 1, "message": "hi"}],
    }
).encode()


# ---- SigV4: unit tests against botocore-signed requests ----------------------------------------


def _err(fn) -> sigv4.SigV4Error:
    with pytest.raises(sigv4.SigV4Error) as info:
        fn()
    return info.value


def test_sigv4_accepts_botocore_post_with_target_header() -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    assert verify_signed(req) == KEY_ID


@pytest.mark.parametrize(
    "url",
    [
        "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/my-fn/invocations?Qualifier=%24LATEST",
        "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/configuration",
        "http://127.0.0.1:4588/2015-03-31/functions/?Marker=a%20b&MaxItems=10&FunctionVersion=ALL",
        "http://127.0.0.1:4588/a/./b/../c//d/?z=1&a=2&a=1&empty=&k=%E2%9C%93",
        "http://127.0.0.1:4588/",
    ],
)
def test_sigv4_accepts_paths_and_query_params(url: str) -> None:
    req = signed("GET", url, service="lambda")
    assert verify_signed(req) == KEY_ID


def test_sigv4_session_token_is_signed_and_accepted() -> None:
    req = signed(
        "POST", LOGS_URL, BODY, LOGS_HEADERS, token="FQoGZXIvYXdzEJr//////////wEaDOTOKEN=="
    )
    assert "X-Amz-Security-Token" in req.headers
    assert verify_signed(req) == KEY_ID
    # the token is covered by the signature: changing it breaks the request
    req.headers.replace_header("X-Amz-Security-Token", "other")
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException"


def test_sigv4_presigned_url() -> None:
    req = signed(
        "GET",
        "http://127.0.0.1:4588/2015-03-31/functions/?MaxItems=3",
        service="lambda",
        presign=True,
    )
    assert "X-Amz-Signature=" in req.url and "Authorization" not in req.headers
    assert verify_signed(req) == KEY_ID
    late = datetime.now(UTC) + timedelta(minutes=6)
    assert _err(lambda: verify_signed(req, now=late)).code == "InvalidSignatureException"


def test_sigv4_wrong_secret_is_invalid_signature_with_aws_text() -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS, secret="not-the-secret")
    e = _err(lambda: verify_signed(req))
    assert (e.code, e.message, e.status) == (
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
        "Access Key and signing method. Consult the service documentation for details.",
        400,
    )


def test_sigv4_unknown_key_is_unrecognized_client() -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS, key_id="AKIDUNKNOWN")
    e = _err(lambda: verify_signed(req))
    assert (e.code, e.message) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_sigv4_no_credentials_configured_rejects_everyone() -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    assert _err(lambda: verify_signed(req, credentials={})).code == "UnrecognizedClientException"


@pytest.mark.parametrize(
    ("part", "change"),
    [
        ("body", lambda r: setattr(r, "data", BODY.replace(b"hi", b"ho"))),
        (
            "target",
            lambda r: r.headers.replace_header("X-Amz-Target", "Logs_20140328.DeleteLogGroup"),
        ),
        ("host", lambda r: r.headers.__setitem__("Host", "evil.example")),
        ("path", lambda r: setattr(r, "url", LOGS_URL + "x")),
        ("query", lambda r: setattr(r, "url", LOGS_URL + "?a=1")),
        ("method", lambda r: setattr(r, "method", "PUT")),
    ],
)
def test_sigv4_any_tampering_is_invalid_signature(part: str, change) -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    change(req)
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException", part


def test_sigv4_content_sha256_header_must_match_the_body() -> None:
    req = signed(
        "POST", LOGS_URL, BODY, {**LOGS_HEADERS, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    )
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException"


@pytest.mark.parametrize(
    ("minutes", "ok"), [(-14, True), (14, True), (-16, False), (16, False), (-24 * 60, False)]
)
def test_sigv4_clock_skew_window_is_15_minutes(minutes: int, ok: bool) -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    now = datetime.now(UTC) - timedelta(
        minutes=minutes
    )  # the server's clock, relative to the client
    if ok:
        assert verify_signed(req, now=now) == KEY_ID
        return
    e = _err(lambda: verify_signed(req, now=now))
    assert e.code == "InvalidSignatureException"
    assert e.message.startswith(
        "Signature expired: " if minutes < 0 else "Signature not yet current: "
    )
    assert e.message.endswith(" - 15 min.)" if minutes < 0 else " + 15 min.)")


def test_sigv4_missing_and_malformed_authorization() -> None:
    headers = {"Host": "logs.us-east-1.amazonaws.com", **LOGS_HEADERS}
    e = _err(lambda: sigv4.verify("POST", "/", "", headers, BODY, CREDS))
    assert (e.code, e.message) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )
    for bad in (
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request",
        "AWS4-HMAC-SHA256 ,,,",
    ):
        e = _err(
            lambda bad=bad: sigv4.verify(
                "POST", "/", "", {**headers, "Authorization": bad}, BODY, CREDS
            )
        )
        assert e.code == "IncompleteSignatureException", bad
    good = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    unsigned_host = (
        good.headers["Authorization"]
        .replace("SignedHeaders=", "SignedHeaders=x-amz-target;")
        .replace("host;", "")
    )
    e = _err(
        lambda: sigv4.verify(
            "POST",
            "/",
            "",
            {
                **dict(good.headers.items()),
                "Authorization": unsigned_host,
                "Host": "logs.us-east-1.amazonaws.com",
            },
            BODY,
            CREDS,
        )
    )
    assert e.code == "IncompleteSignatureException"


def test_sigv4_scope_must_match_service_and_date() -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS, service="lambda")
    assert _err(lambda: verify_signed(req, service="logs")).code == "IncompleteSignatureException"
    assert verify_signed(req, service="lambda") == KEY_ID
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    req.headers.replace_header("X-Amz-Date", "20200101T000000Z")
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException"


@pytest.mark.parametrize("where", [0, 31, 63])
def test_sigv4_signature_of_the_right_length_but_one_digit_off_is_refused(where: int) -> None:
    """The comparison is of whole signatures: a same-length signature differing in one hex digit anywhere is refused."""
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    assert verify_signed(req) == KEY_ID
    auth = req.headers["Authorization"]
    sig = auth.rsplit("Signature=", 1)[1]
    assert len(sig) == 64
    bad = sig[:where] + ("0" if sig[where] != "0" else "1") + sig[where + 1 :]
    req.headers.replace_header("Authorization", auth[: -len(sig)] + bad)
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException"
    req.headers.replace_header(
        "Authorization", auth[: -len(sig)] + sig.upper()
    )  # hex case is not equality
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException"


def test_sigv4_with_real_boto3_clients_over_http() -> None:
    """boto3's own wire format (headers as a server receives them, encoded paths) verifies."""
    cfg = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10)
    with verifying_server() as (url, app):
        good = {
            "aws_access_key_id": KEY_ID,
            "aws_secret_access_key": SECRET,
            "region_name": "us-east-1",
            "config": cfg,
        }
        logs = boto3.client("logs", endpoint_url=url, **good)
        assert logs.describe_log_groups(logGroupNamePrefix="/aws/ läuft")["logGroups"] == []
        logs_tok = boto3.client("logs", endpoint_url=url, aws_session_token="tok/en+=", **good)
        assert logs_tok.describe_log_groups()["logGroups"] == []
        lam = boto3.client("lambda", endpoint_url=url, **good)
        lam.invoke(FunctionName="my-fn:live", Payload=b'{"a": "b c"}')
        lam.get_function(
            FunctionName="arn:aws:lambda:us-east-1:123456789012:function:my-fn", Qualifier="$LATEST"
        )
        assert any("%3A" in s["path"] for s in app.seen), app.seen
        bad = boto3.client(
            "logs",
            endpoint_url=url,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key="wrong",
            region_name="us-east-1",
            config=cfg,
        )
        with pytest.raises(ClientError) as info:
            bad.describe_log_groups()
        assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
        unknown = boto3.client(
            "logs",
            endpoint_url=url,
            aws_access_key_id="AKIDNOPE",
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
            config=cfg,
        )
        with pytest.raises(ClientError) as info:
            unknown.describe_log_groups()
        assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
        assert (
            info.value.response["Error"]["Message"]
            == "The security token included in the request is invalid."
        )
        lam_bad = boto3.client(
            "lambda",
            endpoint_url=url,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key="wrong",
            region_name="us-east-1",
            config=cfg,
        )
        with pytest.raises(ClientError) as info:
            lam_bad.invoke(FunctionName="my-fn")
        assert info.value.response["Error"]["Code"] == "InvalidSignatureException"


# ---- binding, token, CORS, body limits ----------------------------------------------------------

TOKEN = "tok-5f1e0c9a-SECRET-never-echo"


def test_binds_loopback_by_default(data_dir: Path) -> None:
    from logsvc.config import Settings, resolve

    assert Settings().host == "127.0.0.1" and resolve({}, {}).host == "127.0.0.1"
    s = start_server(data_dir)
    try:
        assert s.url.startswith("http://127.0.0.1:")
        port = int(s.url.rsplit(":", 1)[1])
        listening = []
        for line in (
            Path("/proc/net/tcp").read_text().splitlines()[1:]
            + Path("/proc/net/tcp6").read_text().splitlines()[1:]
        ):
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                listening.append(local.rsplit(":", 1)[0])
        assert listening == ["0100007F"], f"listening on {listening} (want only 127.0.0.1)"
        # a non-loopback address of this machine does not answer
        others = [a for a in _local_addresses() if not a.startswith("127.")]
        for addr in others[:2]:
            with pytest.raises(OSError):
                socket.create_connection((addr, port), timeout=2).close()
    finally:
        s.stop()


def _local_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True)
    return out.stdout.split() if out.returncode == 0 else []


@pytest.fixture(scope="module")
def token_server(tmp_path_factory) -> Server:
    data_dir = tmp_path_factory.mktemp("token") / "data"
    data_dir.mkdir()
    s = start_server(data_dir, env={"LOGSVC_TOKEN": TOKEN, "LOGSVC_LOG_LEVEL": "debug"})
    p = s.store.ensure_stream("/sec/g", "s")
    p.write_text("2026-11-27T10:00:00.000Z hello secret data\n")
    wait_for(
        lambda: (
            requests.get(
                s.url + "/api/v1/events",
                params={"group": "/sec/g"},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            .json()
            .get("events")
        ),
        what="indexed",
    )
    yield s
    s.stop()


REST_PATHS = [
    ("/api/v1/groups", {}),
    ("/api/v1/streams", {"group": "/sec/g"}),
    ("/api/v1/events", {"group": "/sec/g"}),
    ("/api/v1/search", {"q": "hello"}),
    ("/api/v1/histogram", {"group": "/sec/g"}),
    ("/api/v1/export", {"group": "/sec/g"}),
    ("/api/v1/events/context", {"group": "/sec/g", "stream": "s", "eventId": "0"}),
    ("/api/v1/tail", {"group": "/sec/g", "heartbeat": "1"}),
]


@pytest.mark.parametrize(("path", "params"), REST_PATHS)
def test_token_protects_rest_and_sse(token_server: Server, path: str, params: dict) -> None:
    url = token_server.url + path
    wrong = TOKEN[:-1] + "X"
    for headers, extra in (
        ({}, {}),
        ({"Authorization": "Bearer " + wrong}, {}),
        ({"Authorization": TOKEN}, {}),
        ({"Authorization": "Basic " + TOKEN}, {}),
        ({}, {"token": wrong}),
        ({"Authorization": "Bearer "}, {}),
    ):
        r = requests.get(url, params={**params, **extra}, headers=headers, timeout=10, stream=True)
        body = r.raw.read(4096, decode_content=True)
        assert r.status_code == 401, (path, headers, extra, r.status_code)
        assert r.headers["Content-Type"].startswith("application/json") and b"hello" not in body
        assert TOKEN.encode() not in body and wrong.encode() not in body
        assert all(TOKEN not in v and wrong not in v for v in r.headers.values())
        r.close()
    r = requests.get(
        url, params=params, headers={"Authorization": "Bearer " + TOKEN}, timeout=10, stream=True
    )
    assert r.status_code == 200, (path, r.text[:200] if path != "/api/v1/tail" else "")
    r.close()
    if path == "/api/v1/tail":  # EventSource cannot set headers: ?token= works for SSE
        r = requests.get(url, params={**params, "token": TOKEN}, timeout=10, stream=True)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        r.close()


def test_token_must_match_whole_not_by_length_or_prefix(token_server: Server) -> None:
    """Same-length tokens differing in the first, a middle or the last character, a prefix and an
    extension are all refused; only the token itself opens the API."""
    url = token_server.url + "/api/v1/groups"
    wrong = [
        "X" + TOKEN[1:],
        TOKEN[: len(TOKEN) // 2] + "X" + TOKEN[len(TOKEN) // 2 + 1 :],
        TOKEN[:-1] + "X",
        TOKEN[:-1],
        TOKEN + "X",
        TOKEN.upper(),
    ]
    for bad in wrong:
        assert bad != TOKEN
        r = requests.get(url, headers={"Authorization": f"Bearer {bad}"}, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["code"] == "Unauthorized", (
            bad,
            r.status_code,
        )
    assert (
        requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code
        == 200
    )


def test_token_never_in_the_server_log(token_server: Server) -> None:
    for params in ({"token": TOKEN}, {"token": TOKEN, "group": "/nope"}, {"token": TOKEN + "x"}):
        requests.get(token_server.url + "/api/v1/events", params=params, timeout=10)
        requests.get(token_server.url + "/api/v1/does-not-exist", params=params, timeout=10)
    requests.get(
        token_server.url + "/api/v1/groups",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    time.sleep(0.3)
    log = "".join(token_server.stderr_lines)
    assert TOKEN not in log, "the API token appears in logsvc's own log"


def test_console_shell_is_public_but_holds_no_data(token_server: Server) -> None:
    r = requests.get(token_server.url + "/", timeout=10)
    assert r.status_code == 200 and "hello secret data" not in r.text and TOKEN not in r.text


def test_token_also_guards_the_aws_apis_when_no_aws_keys_are_set(token_server: Server) -> None:
    """With --token set and no SigV4 keys, the CloudWatch and Lambda APIs must not serve data to anyone.

    (Either require the keys, or accept SigV4 signed with the token as the secret; an open door
    beside a locked one is what this test refuses.)
    """
    r = requests.post(
        token_server.url + "/",
        headers={
            "X-Amz-Target": "Logs_20140328.FilterLogEvents",
            "Content-Type": "application/x-amz-json-1.1",
        },
        data=json.dumps({"logGroupName": "/sec/g"}),
        timeout=10,
    )
    assert r.status_code == 400 and "hello secret data" not in r.text, (r.status_code, r.text[:300])
    assert r.json()["__type"] == "MissingAuthenticationTokenException"
    r = requests.get(
        token_server.url + "/2015-03-31/functions/", timeout=10
    )  # a route that exists: 403, not 404
    assert (
        r.status_code == 403
        and r.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    ), (
        r.status_code,
        r.text[:300],
    )
    r = requests.get(
        token_server.url + "/2015-03-31/functions/",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert r.status_code == 200, (
        r.status_code,
        r.text[:300],
    )  # the same request with the token passes


@pytest.fixture(scope="module")
def open_server(tmp_path_factory) -> Server:
    data_dir = tmp_path_factory.mktemp("open") / "data"
    data_dir.mkdir()
    s = start_server(
        data_dir,
        env={"LOGSVC_WORKERS": "1", "LOGSVC_MAX_TAIL_CLIENTS": "3", "LOGSVC_THREADS": "16"},
    )
    p = s.store.ensure_stream("/sec/g", "s")
    p.write_text("2026-11-27T10:00:00.000Z hello\n")
    yield s
    s.stop()


def test_cors_is_closed_by_default(open_server: Server) -> None:
    evil = {"Origin": "https://evil.example"}
    for method, path, kw in (
        ("GET", "/api/v1/groups", {}),
        ("GET", "/api/v1/tail?group=/sec/g&heartbeat=1", {"stream": True}),
        (
            "OPTIONS",
            "/api/v1/groups",
            {"headers": {**evil, "Access-Control-Request-Method": "GET"}},
        ),
        (
            "OPTIONS",
            "/",
            {
                "headers": {
                    **evil,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "x-amz-target",
                }
            },
        ),
        (
            "POST",
            "/",
            {
                "headers": {
                    **evil,
                    "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                    "Content-Type": "application/x-amz-json-1.1",
                },
                "data": "{}",
            },
        ),
        ("GET", "/", {}),
    ):
        kw.setdefault("headers", evil)
        r = requests.request(method, open_server.url + path, timeout=10, **kw)
        lower = {k.lower() for k in r.headers}
        assert not any(k.startswith("access-control-allow") for k in lower), (
            method,
            path,
            dict(r.headers),
        )
        assert r.status_code < 500
        r.close()


def test_request_body_size_limit_is_a_json_413(open_server: Server) -> None:
    big = b"x" * (9 * 1024 * 1024)
    # REST: a route that reads a JSON body (starting a Logs Insights query), over the limit: a JSON 413
    r = requests.post(
        open_server.url + "/api/v1/insights",
        data=big,
        timeout=30,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "PayloadTooLarge", (
        r.status_code,
        r.text[:200],
    )
    assert "8388608" in r.json()["error"]["message"]
    r = requests.post(
        open_server.url + "/",
        data=big,
        timeout=30,
        headers={
            "X-Amz-Target": "Logs_20140328.PutLogEvents",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException", (
        r.status_code,
        r.text[:200],
    )
    assert "too large" in r.json()["message"]

    def chunks():  # no Content-Length: the limit must hold while streaming too
        for _ in range(10):
            yield b"y" * (1024 * 1024)

    r = requests.post(
        open_server.url + "/",
        data=chunks(),
        timeout=30,
        headers={
            "X-Amz-Target": "Logs_20140328.PutLogEvents",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    # chunked, no Content-Length: refused as too large or as not JSON, in the CloudWatch shape, never a 500
    assert r.status_code == 400 and r.json()["__type"] in (
        "InvalidParameterException",
        "SerializationException",
    ), (
        r.status_code,
        r.text[:200],
    )
    assert requests.get(open_server.url + "/healthz", timeout=5).status_code == 200


# ---- tails: cap and slow clients ------------------------------------------------------------------


@pytest.fixture
def capped_server(tmp_path: Path) -> Server:
    """A server of its own with 3 tail slots: on a shared one an earlier test's tail can still hold a
    capped slot until the server notices its client left (the cap test timed out so once in CI)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    s = start_server(
        data_dir,
        env={"LOGSVC_WORKERS": "1", "LOGSVC_MAX_TAIL_CLIENTS": "3", "LOGSVC_THREADS": "16"},
    )
    s.store.ensure_stream("/sec/g", "s").write_text("2026-11-27T10:00:00.000Z hello\n")
    yield s
    s.stop()


def test_sse_connection_cap_is_a_clear_503_and_slots_come_back(capped_server: Server) -> None:
    open_server = capped_server
    url = open_server.url + "/api/v1/tail"
    held: list = []

    def three_open() -> (
        bool
    ):  # tails left by earlier tests free their slots at their next heartbeat
        for h in held:
            h.close()
        held[:] = [
            requests.get(url, params={"group": "/sec/g"}, stream=True, timeout=10) for _ in range(3)
        ]
        return [r.status_code for r in held] == [200, 200, 200]

    try:
        wait_for(three_open, timeout=15, interval=0.5, what="three tail slots")
        r = requests.get(url, params={"group": "/sec/g"}, timeout=10)
        assert r.status_code == 503, r.status_code
        err = r.json()["error"]
        assert "3" in err["message"] and "tail" in err["message"]
        assert (
            requests.get(open_server.url + "/api/v1/groups", timeout=10).status_code == 200
        )  # plain requests still served
    finally:
        for h in held:
            h.close()

    # the server notices closed clients within a second or two (not at the 15 s heartbeat) and gives
    # the slots back
    def a_slot_back() -> bool:
        with requests.get(
            url, params={"group": "/sec/g", "heartbeat": "1"}, stream=True, timeout=10
        ) as r:
            return r.status_code == 200  # closed at once: no tail of this test outlives it

    wait_for(a_slot_back, timeout=8, interval=0.5, what="a tail slot after clients left")


def test_slow_loris_does_not_hold_the_server_and_sse_is_not_cut(capped_server: Server) -> None:
    """Many clients dribbling request headers byte by byte must not starve normal requests; a long
    SSE stream stays open through it (heartbeats keep arriving)."""
    open_server = capped_server
    host, port = open_server.url.split("//")[1].split(":")
    r = requests.get(
        open_server.url + "/api/v1/tail",
        params={"group": "/sec/g", "heartbeat": "1"},
        stream=True,
        timeout=15,
    )
    assert r.status_code == 200, r.status_code
    opened = [r]
    sse = opened[0]
    beats: list[float] = []

    def read_sse() -> None:
        try:
            for line in sse.iter_lines():
                if line.startswith((b"id:", b": ping")):
                    beats.append(time.monotonic())
        except Exception:
            pass

    threading.Thread(target=read_sse, daemon=True).start()
    n_slow = 40  # > the 16 threads of this one-worker server
    socks = []
    for _ in range(n_slow):
        sk = socket.create_connection((host, int(port)), timeout=5)
        sk.sendall(b"GET /api/v1/groups HTTP/1.1\r\nHo")
        socks.append(sk)
    stop = threading.Event()

    def dribble() -> None:
        while not stop.is_set():
            for sk in socks:
                try:
                    sk.sendall(b"s")
                except OSError:
                    pass
            stop.wait(0.5)

    threading.Thread(target=dribble, daemon=True).start()
    hold = 75 if FULL_SECURITY else 6
    try:
        time.sleep(1.5)
        outcomes = []
        for _ in range(5):
            t0 = time.monotonic()
            try:
                r = requests.get(open_server.url + "/api/v1/groups", timeout=5)
                outcomes.append((r.status_code, round(time.monotonic() - t0, 2)))
            except requests.RequestException as e:
                outcomes.append((type(e).__name__, round(time.monotonic() - t0, 2)))
        assert all(o[0] == 200 and o[1] < 2.0 for o in outcomes), (
            f"{n_slow} slow-header clients starve normal requests: {outcomes}"
        )
        time.sleep(hold)
        assert beats and time.monotonic() - beats[-1] < 3, "the SSE stream went quiet (cut?)"
    finally:
        stop.set()
        for sk in socks:
            sk.close()
        sse.close()


FULL_SECURITY = os.environ.get("LOGSVC_FULL_TESTS") == "1"


# ---- path traversal on every surface that takes a name ---------------------------------------------

MARK = "pwned7c1"
HOSTILE_GROUPS = [
    "../" + MARK,
    "/../../" + MARK,
    "..",
    ".",
    "/" + "../" * 12 + "tmp/" + MARK,
    "#",
    "./../" + MARK + "/x",
    "~" + MARK,
]
HOSTILE_STREAMS = [
    "../../../" + MARK,
    "/etc/" + MARK,
    "..",
    ".",
    "a/../../../" + MARK,
    "\\..\\" + MARK,
    "%2e%2e%2f" + MARK,
    "\u2025/" + MARK,
    "x\x00y",
    "~" + MARK,
    "../" * 40 + MARK,
]


def _tree(root: Path, skip: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            try:
                st = p.lstat()
            except OSError:
                continue
            out[str(p)] = (st.st_size, st.st_mtime_ns) if not p.is_dir() else "dir"
    return out


def _marker_files() -> list[str]:
    found = []
    for base in ("/tmp", "/", "/etc", str(Path.home())):
        try:
            found += [os.path.join(base, n) for n in os.listdir(base) if MARK in n]
        except OSError:
            pass
    return found


def test_no_name_on_any_surface_writes_outside_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (tmp_path / "sibling").mkdir()
    (tmp_path / "sibling" / "keep.txt").write_text("untouched")
    server = start_server(data_dir)
    before = _tree(tmp_path, data_dir)
    assert not _marker_files()
    tried = 0
    try:
        # REST (read side: nothing may be created anywhere)
        for g in HOSTILE_GROUPS:
            for st in HOSTILE_STREAMS:
                for path in (
                    "/api/v1/events",
                    "/api/v1/streams",
                    "/api/v1/events/context",
                    "/api/v1/histogram",
                ):
                    r = requests.get(
                        server.url + path,
                        params={"group": g, "stream": st, "eventId": "0"},
                        timeout=10,
                    )
                    assert r.status_code < 500, (path, g, st, r.text[:200])
                    tried += 1
                r = requests.get(
                    server.url + "/api/v1/tail",
                    params={"group": g, "stream": st},
                    timeout=10,
                    stream=True,
                )
                assert r.status_code < 500
                r.close()
        # CloudWatch API (write side)
        import boto3

        logs = boto3.client(
            "logs",
            endpoint_url=server.url,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, read_timeout=15),
        )
        stored = 0
        for g in HOSTILE_GROUPS:
            try:
                logs.create_log_group(logGroupName=g)
            except ClientError as e:
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] < 500, e.response
                continue
            for st in HOSTILE_STREAMS:
                tried += 1
                try:
                    logs.create_log_stream(logGroupName=g, logStreamName=st)
                    logs.put_log_events(
                        logGroupName=g,
                        logStreamName=st,
                        logEvents=[
                            {"timestamp": int(time.time() * 1000), "message": f"{MARK} {g} {st}"}
                        ],
                    )
                    stored += 1
                except ClientError as e:
                    assert e.response["ResponseMetadata"]["HTTPStatusCode"] < 500, e.response
        assert stored > 10, "hostile but valid names must be stored (inside the data dir)"
        # `logsvc path`
        for g, st in zip(HOSTILE_GROUPS, HOSTILE_STREAMS[: len(HOSTILE_GROUPS)], strict=True):
            tried += 1
            out = subprocess.run(
                [sys.executable, "-m", "logsvc", "path", g, st],
                capture_output=True,
                text=True,
                timeout=30,
                env={**os.environ, "LOGSVC_DATA_DIR": str(data_dir)},
                cwd=str(tmp_path),
            )
            if out.returncode == 0:
                printed = Path(out.stdout.strip()).resolve()
                assert data_dir.resolve() in printed.parents, (g, st, printed)
            else:
                assert "Traceback" not in out.stderr, out.stderr
        # invoker surfaces: function, table and container names
        for name in ("..%2F..%2F" + MARK, "%2e%2e%2f" + MARK, "../../" + MARK, "..", MARK + "%00"):
            tried += 3
            for method, path in (
                ("POST", f"/2015-03-31/functions/{name}/invocations"),
                ("GET", f"/2015-03-31/functions/{name}"),
                ("PUT", f"/api/v1/tables/{name}/items"),
                ("POST", f"/_container/{name}/2015-03-31/functions/f/invocations"),
                ("GET", f"/static/{name}"),
                ("GET", f"/http/{name}"),
            ):
                r = requests.request(
                    method,
                    server.url + path,
                    data=json.dumps({"key": {"id": MARK}, "item": {"id": MARK}}),
                    timeout=10,
                )
                assert r.status_code < 500, (method, path, r.status_code, r.text[:200])
        lam = boto3.client(
            "lambda",
            endpoint_url=server.url,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
        )
        for name in ("../../" + MARK, "a/../../" + MARK):
            with pytest.raises(ClientError):
                lam.invoke(FunctionName=name, Payload=b"{}")
    finally:
        server.stop()
    after = _tree(tmp_path, data_dir)
    assert after == before, {
        k: (before.get(k), after.get(k))
        for k in set(before) | set(after)
        if before.get(k) != after.get(k)
    }
    assert not _marker_files()
    for p in data_dir.rglob("*"):
        assert not p.is_symlink() and data_dir.resolve() in p.resolve().parents, p
    print(f"\npath traversal: {tried} hostile name uses, nothing outside the data dir")


# ---- hostile log text in a real browser --------------------------------------------------------------

HOSTILE_TEXT = [
    "<script>window.__pwned='script'</script>",
    "<img src=x onerror=\"window.__pwned='img';alert(1)\">",
    "<svg onload=\"window.__pwned='svg'\"><iframe src=\"javascript:window.__pwned='iframe'\"></iframe>",
    "\"><img src=x onerror=alert(2)>'><b>bold?</b>",
    "<a href=\"javascript:window.__pwned='a'\">click me</a> </textarea></pre></code><style>body{display:none}</style>",
    "{{constructor.constructor('window.__pwned=1')()}} ${window.__pwned='tpl'}",
    "\x1b[31mred\x1b[0m \x1b]8;;javascript:alert(3)\x07osc8-link\x1b]8;;\x07 \x1b]0;title-change\x07 \x1b[2J\x1b[H clear \x1b[1Aup",
    "\x1b[31m<img src=x onerror=alert(4)>\x1b[0m",
    "invoice\u202eexe.pdf and \u200bzero\u200dwidth \u2066isolate\u2069",
]


def test_hostile_log_text_renders_literally_in_chromium(tmp_path: Path, browser) -> None:
    """Uses the session's one Chromium (conftest `browser`): a second Playwright session in the same
    worker failed when a console test had started the shared one."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = start_server(data_dir)
    group = "/sec/xss"
    big = json.dumps(
        {"blob": "y" * 100_000, "html": "<img src=x onerror=alert(5)>", "level": "ERROR"}
    )
    path = server.store.ensure_stream(group, "s")
    path.write_text("".join(t + "\n" for t in [*HOSTILE_TEXT, big]))
    try:
        wait_for(
            lambda: (
                len(
                    requests.get(
                        server.url + "/api/v1/events", params={"group": group}, timeout=10
                    ).json()["events"]
                )
                == len(HOSTILE_TEXT) + 1
            ),
            what="indexed",
        )
        page = browser.new_page()
        try:
            dialogs, errors, requests_out = [], [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests_out.append(r.url))
            for fragment in (
                f"#/events?group={group}&stream=s",
                f"#/search?q=onerror&group={group}",
                f"#/search?q=%22%3Cscript%3E%22&group={group}",
                f"#/events?group={group}&stream=s&q=pwned",
            ):
                page.goto(f"{server.url}/{fragment}")
                page.wait_for_timeout(1200)
                # live tail: hostile text arriving over SSE
                with open(path, "a") as f:
                    f.write("<img src=x onerror=\"window.__pwned='tail'\"> via tail\n")
                page.wait_for_timeout(1500)
                assert page.evaluate("window.__pwned") is None
                assert page.evaluate("document.title").find("title-change") < 0
                dangerous = page.evaluate(
                    "() => Array.from(document.querySelectorAll('main script, main img, main svg, main iframe, main style, "
                    'main b, a[href^="javascript"]\')).map(e => e.outerHTML.slice(0, 120))'
                )
                assert dangerous == [], (fragment, dangerous)
            body = page.evaluate("document.body.innerText")
            page.goto(f"{server.url}/#/events?group={group}&stream=s")
            page.wait_for_timeout(1500)
            body = page.evaluate("document.body.innerText")
            for literal in (
                "<script>window.__pwned='script'</script>",
                "onerror=",
                "<b>bold?</b>",
                "javascript:",
            ):
                assert literal in body, (literal, body[:2000])
            assert "\x1b" not in body, "raw ESC characters reach the page"
            assert "\u202e" not in body, (
                "an RTL override reaches the page unescaped (it reorders the row)"
            )
            assert page.evaluate("document.body.style.display") != "none"
            assert not dialogs, dialogs
            assert not errors, errors
            assert all(u.startswith(server.url) or u.startswith("data:") for u in requests_out), [
                u for u in requests_out if not u.startswith(server.url)
            ]
        finally:
            page.close()
    finally:
        server.stop()
