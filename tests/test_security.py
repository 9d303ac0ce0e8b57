"""Security: SigV4, token auth, bind address, path traversal, CORS, body limits, slow clients, tail cap, hostile text.

Every server here is the real `logsvc serve` (gunicorn) from tests/conftest.py; the SigV4 unit
tests sign with botocore itself, so the verifier is checked against AWS's own client.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from logsvc import sigv4
from tests.helpers_sigv4 import CREDS, KEY_ID, SECRET, signed, verify_signed, verifying_server

LOGS_URL = "https://logs.us-east-1.amazonaws.com/"
LOGS_HEADERS = {"X-Amz-Target": "Logs_20140328.PutLogEvents", "Content-Type": "application/x-amz-json-1.1"}
BODY = json.dumps({"logGroupName": "/aws/lambda/x", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "hi"}]}).encode()


# ---- SigV4: unit tests against botocore-signed requests ----------------------------------------


def _err(fn) -> sigv4.SigV4Error:  # noqa: ANN001
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
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS, token="FQoGZXIvYXdzEJr//////////wEaDOTOKEN==")
    assert "X-Amz-Security-Token" in req.headers
    assert verify_signed(req) == KEY_ID
    # the token is covered by the signature: changing it breaks the request
    req.headers.replace_header("X-Amz-Security-Token", "other")
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException"


def test_sigv4_presigned_url() -> None:
    req = signed("GET", "http://127.0.0.1:4588/2015-03-31/functions/?MaxItems=3", service="lambda", presign=True)
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
    assert (e.code, e.message) == ("UnrecognizedClientException", "The security token included in the request is invalid.")


def test_sigv4_no_credentials_configured_rejects_everyone() -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    assert _err(lambda: verify_signed(req, credentials={})).code == "UnrecognizedClientException"


@pytest.mark.parametrize(
    ("part", "change"),
    [
        ("body", lambda r: setattr(r, "data", BODY.replace(b"hi", b"ho"))),
        ("target", lambda r: r.headers.replace_header("X-Amz-Target", "Logs_20140328.DeleteLogGroup")),
        ("host", lambda r: r.headers.__setitem__("Host", "evil.example")),
        ("path", lambda r: setattr(r, "url", LOGS_URL + "x")),
        ("query", lambda r: setattr(r, "url", LOGS_URL + "?a=1")),
        ("method", lambda r: setattr(r, "method", "PUT")),
    ],
)
def test_sigv4_any_tampering_is_invalid_signature(part: str, change) -> None:  # noqa: ANN001
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    change(req)
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException", part


def test_sigv4_content_sha256_header_must_match_the_body() -> None:
    req = signed("POST", LOGS_URL, BODY, {**LOGS_HEADERS, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException"


@pytest.mark.parametrize(("minutes", "ok"), [(-14, True), (14, True), (-16, False), (16, False), (-24 * 60, False)])
def test_sigv4_clock_skew_window_is_15_minutes(minutes: int, ok: bool) -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    now = datetime.now(UTC) - timedelta(minutes=minutes)  # the server's clock, relative to the client
    if ok:
        assert verify_signed(req, now=now) == KEY_ID
        return
    e = _err(lambda: verify_signed(req, now=now))
    assert e.code == "InvalidSignatureException"
    assert e.message.startswith("Signature expired: " if minutes < 0 else "Signature not yet current: ")
    assert e.message.endswith(" - 15 min.)" if minutes < 0 else " + 15 min.)")


def test_sigv4_missing_and_malformed_authorization() -> None:
    headers = {"Host": "logs.us-east-1.amazonaws.com", **LOGS_HEADERS}
    e = _err(lambda: sigv4.verify("POST", "/", "", headers, BODY, CREDS))
    assert (e.code, e.message) == ("MissingAuthenticationTokenException", "Missing Authentication Token")
    for bad in ("Bearer abc", "AWS4-HMAC-SHA256 Credential", "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request", "AWS4-HMAC-SHA256 ,,,"):
        e = _err(lambda bad=bad: sigv4.verify("POST", "/", "", {**headers, "Authorization": bad}, BODY, CREDS))
        assert e.code == "IncompleteSignatureException", bad
    good = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    unsigned_host = good.headers["Authorization"].replace("SignedHeaders=", "SignedHeaders=x-amz-target;").replace("host;", "")
    e = _err(lambda: sigv4.verify("POST", "/", "", {**dict(good.headers.items()), "Authorization": unsigned_host,
                                                    "Host": "logs.us-east-1.amazonaws.com"}, BODY, CREDS))
    assert e.code == "IncompleteSignatureException"


def test_sigv4_scope_must_match_service_and_date() -> None:
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS, service="lambda")
    assert _err(lambda: verify_signed(req, service="logs")).code == "IncompleteSignatureException"
    assert verify_signed(req, service="lambda") == KEY_ID
    req = signed("POST", LOGS_URL, BODY, LOGS_HEADERS)
    req.headers.replace_header("X-Amz-Date", "20200101T000000Z")
    assert _err(lambda: verify_signed(req)).code == "InvalidSignatureException"


def test_sigv4_comparison_is_constant_time_by_construction() -> None:
    src = Path(sigv4.__file__).read_text()
    assert "hmac.compare_digest(expected" in src and "== signature" not in src


def test_sigv4_with_real_boto3_clients_over_http() -> None:
    """boto3's own wire format (headers as a server receives them, encoded paths) verifies."""
    cfg = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10)
    with verifying_server() as (url, app):
        good = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET, "region_name": "us-east-1", "config": cfg}
        logs = boto3.client("logs", endpoint_url=url, **good)
        assert logs.describe_log_groups(logGroupNamePrefix="/aws/ läuft")["logGroups"] == []
        logs_tok = boto3.client("logs", endpoint_url=url, aws_session_token="tok/en+=", **good)
        assert logs_tok.describe_log_groups()["logGroups"] == []
        lam = boto3.client("lambda", endpoint_url=url, **good)
        lam.invoke(FunctionName="my-fn:live", Payload=b'{"a": "b c"}')
        lam.get_function(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:my-fn", Qualifier="$LATEST")
        assert any("%3A" in s["path"] for s in app.seen), app.seen
        bad = boto3.client("logs", endpoint_url=url, aws_access_key_id=KEY_ID, aws_secret_access_key="wrong",
                           region_name="us-east-1", config=cfg)
        with pytest.raises(ClientError) as info:
            bad.describe_log_groups()
        assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
        unknown = boto3.client("logs", endpoint_url=url, aws_access_key_id="AKIDNOPE", aws_secret_access_key=SECRET,
                               region_name="us-east-1", config=cfg)
        with pytest.raises(ClientError) as info:
            unknown.describe_log_groups()
        assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
        assert info.value.response["Error"]["Message"] == "The security token included in the request is invalid."
        lam_bad = boto3.client("lambda", endpoint_url=url, aws_access_key_id=KEY_ID, aws_secret_access_key="wrong",
                               region_name="us-east-1", config=cfg)
        with pytest.raises(ClientError) as info:
            lam_bad.invoke(FunctionName="my-fn")
        assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
