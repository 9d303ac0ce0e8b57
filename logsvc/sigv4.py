"""AWS Signature Version 4 verification for one request. Pure: no I/O, no Flask, no clock but `now`.

Owns: the canonical request, the string to sign, the signing key, the constant-time comparison, the
clock-skew window and AWS's error codes and texts for each way a signature can be wrong. Never
reads settings or the environment (the caller passes the credentials) and never sees HTTP statuses
beyond the `status` hint on the error.

How a caller uses it (the CloudWatch and Lambda dispatch, before any other work):

    try:
        sigv4.verify(request.method, sigv4.raw_path(request.environ), request.query_string.decode("latin-1"),
                     request.headers, request.get_data(cache=True), {key_id: secret})
    except sigv4.SigV4Error as e:
        return aws_error(e.code, e.message, e.status)

`path` must be the path *as sent on the wire* (still percent-encoded): the canonical URI is that
path, dot-segments removed, percent-encoded once more, exactly as botocore builds it for every
service but S3 (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html).
`raw_path` digs it out of a WSGI environ (gunicorn sets RAW_URI, werkzeug REQUEST_URI).

Accepted: the `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`
header, or a presigned URL (`X-Amz-Algorithm`, `X-Amz-Credential`, ... in the query). The request
time comes from `X-Amz-Date` (or `Date`) and must lie within +-15 minutes of `now`, as AWS requires.
A session token (`X-Amz-Security-Token`) is covered by the signature like any signed header, but
is not itself checked: logsvc has static keys only, so the token carries no authority.

Why the body hash is recomputed even when `X-Amz-Content-SHA256` is sent: a client could otherwise
sign a hash and send a different body.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from logsvc.errors import Unauthorized

__all__ = [
    "ALGORITHM",
    "MAX_SKEW",
    "SigV4Error",
    "canonical_request",
    "raw_path",
    "signing_key",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
MAX_EXPIRES = 604800  # seconds: AWS caps a presigned URL's X-Amz-Expires at 7 days
_AMZ_FORMAT = "%Y%m%dT%H%M%SZ"

# AWS's own texts (the JSON protocols return them in {"__type", "message"}).
UNRECOGNIZED = "The security token included in the request is invalid."
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
MISSING_TOKEN = "Missing Authentication Token"


class SigV4Error(Unauthorized):
    """A request that fails SigV4. `code` is AWS's error type (`__type`), `status` the HTTP status AWS uses.

    The JSON 1.1 services (CloudWatch Logs) answer 400 for all of these; the REST-JSON Lambda API
    answers 403 for UnrecognizedClientException / InvalidSignatureException / MissingAuthenticationToken.
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message, field="Authorization")
        self.code = code
        self.status = status

    def __repr__(self) -> str:
        return f"SigV4Error({self.code!r}, {self.message!r})"


def _incomplete(message: str) -> SigV4Error:
    return SigV4Error("IncompleteSignatureException", message)


# ---- pieces of the algorithm (public so tests and callers can show their work) ------------------


def raw_path(environ: Mapping[str, object]) -> str:
    """The request path as the client sent it (percent-encoded), from a WSGI environ."""
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(uri, str) and uri:
        if "://" in uri:  # absolute-form request target
            uri = "/" + uri.split("://", 1)[1].partition("/")[2]
        return uri.split("?", 1)[0] or "/"
    path = environ.get("PATH_INFO") or "/"
    # PATH_INFO is decoded (and latin-1 mangled by WSGI); re-encoding it is the best we can do.
    if isinstance(path, str):
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    return quote(str(path), safe="/~!$&'()*+,;=:@%")


def _canonical_uri(path: str) -> str:
    """RFC 3986 remove-dot-segments plus collapsing of repeated slashes (as AWS and botocore do), encoded again."""
    if not path:
        return "/"
    out: list[str] = []
    for seg in path.split("/"):
        if not seg or seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
        else:
            out.append(seg)
    normalized = (
        ("/" if path.startswith("/") else "")
        + "/".join(out)
        + ("/" if path.endswith("/") and out else "")
    )
    return quote(normalized or "/", safe="/~")


def _canonical_query(query_string: str, *, drop_signature: bool) -> str:
    pairs = []
    for part in query_string.split("&") if query_string else ():
        if not part:
            continue
        key, _, value = part.partition("=")
        key, value = unquote(key), unquote(value)
        if drop_signature and key == "X-Amz-Signature":
            continue
        pairs.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _header_values(headers: Mapping, name: str) -> list[str] | None:
    getter = getattr(headers, "getlist", None) or getattr(headers, "get_all", None)
    if getter is not None:
        values = getter(name)
        if values:
            return [str(v) for v in values]
    for key, value in headers.items():
        if key.lower() == name:
            return [str(value)]
    return None


def canonical_request(
    method: str,
    path: str,
    query_string: str,
    headers: Mapping,
    signed: list[str],
    payload_hash: str,
    *,
    presigned: bool = False,
) -> str:
    """The SigV4 canonical request. :raises SigV4Error: if a signed header is absent."""
    lines = []
    for name in signed:
        values = _header_values(headers, name)
        if values is None:
            raise SigV4Error("InvalidSignatureException", BAD_SIGNATURE)
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    return "\n".join(
        [
            method.upper(),
            _canonical_uri(path),
            _canonical_query(query_string, drop_signature=presigned),
            "\n".join(lines) + "\n",
            ";".join(signed),
            payload_hash,
        ]
    )


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


# ---- parsing the credential ---------------------------------------------------------------------


def _parse_authorization(value: str) -> tuple[str, list[str], str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(
            f"Authorization header requires the {ALGORITHM} algorithm, got {algorithm[:32]!r}."
        )
    params: dict[str, str] = {}
    missing = []
    for item in rest.split(","):
        item = item.strip()
        if not item:
            continue
        key, eq, val = item.partition("=")
        if not eq:
            raise _incomplete(
                f"'{item[:64]}' not a valid key=value pair (missing equal-sign) in Authorization header."
            )
        params[key.strip()] = val.strip()
    for need in ("Credential", "Signature", "SignedHeaders"):
        if not params.get(need):
            missing.append(f"Authorization header requires '{need}' parameter.")
    if missing:
        raise _incomplete(" ".join(missing))
    return params["Credential"], params["SignedHeaders"].split(";"), params["Signature"]


def _parse_query(query_string: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in query_string.split("&") if query_string else ():
        key, _, value = part.partition("=")
        key = unquote(key)
        if key.startswith("X-Amz-"):
            out[key] = unquote(value)
    return out


def _request_time(headers: Mapping, presigned: dict[str, str] | None) -> tuple[datetime, str]:
    raw = presigned.get("X-Amz-Date") if presigned is not None else None
    if raw is None:
        values = _header_values(headers, "x-amz-date")
        raw = values[0].strip() if values else None
    if raw is not None:
        try:
            return datetime.strptime(raw, _AMZ_FORMAT).replace(tzinfo=UTC), raw
        except ValueError:
            raise _incomplete(
                f"Date must be in ISO-8601 'basic format'. Got '{raw[:40]}'."
            ) from None
    values = _header_values(headers, "date")
    if values:
        try:
            when = parsedate_to_datetime(values[0]).astimezone(UTC)
            return when, when.strftime(_AMZ_FORMAT)
        except (TypeError, ValueError):
            pass
    raise _incomplete(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def _check_skew(when: datetime, stamp: str, now: datetime) -> None:
    fmt = _AMZ_FORMAT
    if when < now - MAX_SKEW:
        raise SigV4Error(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is now earlier than {(now - MAX_SKEW).strftime(fmt)} "
            f"({now.strftime(fmt)} - 15 min.)",
        )
    if when > now + MAX_SKEW:
        raise SigV4Error(
            "InvalidSignatureException",
            f"Signature not yet current: {stamp} is still later than {(now + MAX_SKEW).strftime(fmt)} "
            f"({now.strftime(fmt)} + 15 min.)",
        )


# ---- the entry point ------------------------------------------------------------------------------


def verify(
    method: str,
    path: str,
    query_string: str,
    headers: Mapping,
    body: bytes,
    credentials: Mapping[str, str],
    now: datetime | float | None = None,
    *,
    service: str | None = None,
    region: str | None = None,
) -> str:
    """Check one request's SigV4 signature against `credentials` ({access_key_id: secret}).

    Returns the access key id that signed it. `now` is a datetime or epoch seconds (default: the
    clock). `service`/`region`, when given, must match the credential scope.
    :raises SigV4Error: MissingAuthenticationTokenException (no signature at all),
        IncompleteSignatureException (malformed), UnrecognizedClientException (unknown key),
        InvalidSignatureException (wrong signature, or outside the 15-minute window).
    """
    if now is None:
        now_dt = datetime.now(UTC)
    elif isinstance(now, datetime):
        now_dt = now if now.tzinfo else now.replace(tzinfo=UTC)
    else:
        now_dt = datetime.fromtimestamp(float(now), UTC)

    auth = _header_values(headers, "authorization")
    query_auth = _parse_query(query_string) if "x-amz-" in query_string.lower() else {}
    presigned: dict[str, str] | None = None
    if auth and auth[0].strip():
        credential, signed, signature = _parse_authorization(auth[0])
    elif query_auth.get("X-Amz-Algorithm") or query_auth.get("X-Amz-Signature"):
        presigned = query_auth
        if presigned.get("X-Amz-Algorithm") != ALGORITHM:
            raise _incomplete(f"X-Amz-Algorithm must be {ALGORITHM}.")
        missing = [
            k
            for k in ("X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")
            if not presigned.get(k)
        ]
        if missing:
            raise _incomplete(
                " ".join(f"AWS query-string parameters must include '{k}'." for k in missing)
            )
        credential, signed, signature = (
            presigned["X-Amz-Credential"],
            presigned["X-Amz-SignedHeaders"].split(";"),
            presigned["X-Amz-Signature"],
        )
    else:
        raise SigV4Error("MissingAuthenticationTokenException", MISSING_TOKEN, 400)

    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]:
        if not scope[0]:
            raise SigV4Error("UnrecognizedClientException", UNRECOGNIZED)
        raise _incomplete(
            f"Credential should be scoped to a valid region, service and 'aws4_request', got '{credential[:128]}'."
        )
    key_id, date, scope_region, scope_service, _ = scope
    secret = credentials.get(key_id)
    if secret is None:
        # compare anyway so an unknown key costs about as much as a known one
        hmac.compare_digest(signature.encode("utf-8", "replace"), b"0" * 64)
        raise SigV4Error("UnrecognizedClientException", UNRECOGNIZED)
    signed = [h.strip().lower() for h in signed if h.strip()]
    if "host" not in signed and ":authority" not in signed:
        raise _incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    if service is not None and scope_service != service:
        raise _incomplete(f"Credential should be scoped to correct service: '{service}'.")
    if region is not None and scope_region != region:
        raise SigV4Error(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{scope_region}'. ",
        )

    when, stamp = _request_time(headers, presigned)
    if stamp[:8] != date:
        raise SigV4Error(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date[:16]}' != '{stamp[:8]}', from '{stamp}'.",
        )
    if presigned is not None:
        try:
            expires = int(presigned.get("X-Amz-Expires", str(MAX_EXPIRES)))
        except ValueError:
            raise _incomplete("X-Amz-Expires must be an integer number of seconds.") from None
        if not 1 <= expires <= MAX_EXPIRES:
            raise SigV4Error(
                "AuthorizationQueryParametersError",
                f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds (7 days); got {str(expires)[:20]}.",
            )
        if when + timedelta(seconds=expires) < now_dt:
            raise SigV4Error(
                "InvalidSignatureException", "Signature expired: the presigned URL has expired."
            )
        if when > now_dt + MAX_SKEW:
            _check_skew(when, stamp, now_dt)
    else:
        _check_skew(when, stamp, now_dt)

    body_hash = hashlib.sha256(body or b"").hexdigest()
    claimed = _header_values(headers, "x-amz-content-sha256")
    if claimed and claimed[0].strip() != body_hash:
        # UNSIGNED-PAYLOAD is an S3-only convenience; elsewhere the body must be what was signed
        raise SigV4Error("InvalidSignatureException", BAD_SIGNATURE)
    creq = canonical_request(
        method, path, query_string, headers, signed, body_hash, presigned=presigned is not None
    )
    sts = "\n".join(
        [
            ALGORITHM,
            stamp,
            f"{date}/{scope_region}/{scope_service}/aws4_request",
            hashlib.sha256(creq.encode("utf-8")).hexdigest(),
        ]
    )
    expected = hmac.new(
        signing_key(secret, date, scope_region, scope_service), sts.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        raise SigV4Error("InvalidSignatureException", BAD_SIGNATURE)
    return key_id


_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")


def credentials_for(settings, headers: Mapping) -> dict[str, str] | None:
    """Which secret a request must be signed with, or None when the AWS APIs are open.

    Configured access keys win. Otherwise, if the HTTP API has a token, the AWS APIs are not left
    open beside it: they accept any access key id signed with the token as its secret (put the
    token in `aws_secret_access_key`).
    """
    key, secret = settings.aws_access_key_id, settings.aws_secret_access_key
    if key and secret:
        return {key: secret}
    if settings.token:
        m = _CREDENTIAL_RE.search(headers.get("Authorization", "") or "")
        return {m.group(1) if m else "": settings.token}
    return None
