"""The one auth gate. Every request to the public server (`gate`) and to the invoker owner's internal
loopback server (`internal_gate`) passes through here before any view runs; no view checks
credentials itself.

Why one place: the issues this closes (#10, #17) were each a door that had its own lock or none
(`/http/*` open beside a token, a constant header skipping SigV4, any Host accepted). Here every
surface is named by its path and gets its rule:

    Host        every request: the Host header's name is localhost / *.localhost, an IP literal,
                the name --host binds, or one in --allowed-hosts; anything else is 403. DNS
                rebinding needs an attacker's *name* resolving to us, so names are what is checked
                (the rule Vite and Jupyter use); IP literals cannot be rebound.
    public      `/`, `/static/*`, `/healthz`, `/api/v1/openapi.json`: hold no data, always open.
    rest        `/api/*`: `Authorization: Bearer <token>` (or `?token=` for EventSource) when --token.
    cloudwatch  `POST /`: SigV4 scoped to `logs` (`monitoring` for the metrics API's
                GraniteServiceVersion20100801 targets) when keys or a token are configured (the
                token as the secret when no keys are), or the bearer token itself.
    lambda      `/2015-03-31/*`, `/_container/*`: SigV4 scoped to `lambda`, same credentials.
    http        `/http/*`: when --token, the bearer token or SigV4 scoped to `execute-api`; routes
                declared `public = true` in logsvc.toml pass.
    otlp        `POST /v1/logs` (OpenTelemetry logs): as `cloudwatch`, the bearer token or SigV4
                scoped to `logs` (AWS's OTLP endpoint takes both); refusals are OTLP Status bodies.

The internal server trusts two things only, both minted per run by the owner and stored in the 0600
`<data>/invoker/owner.json`: the forward secret (a worker relaying a request it already passed
through `gate`), and SigV4 with the functions' own credentials, which open nothing but Invoke on
the internal server (so a function can fan out, yet cannot read logs or administer the server).

Credentials a request used to pass the gate are marked consumed (`CONSUMED` in the environ): the
forwarder does not relay them and the HTTP event a function gets does not carry them.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from flask import Request, Response

CONSUMED = (
    "logsvc.auth.consumed"  # environ key: the Authorization header was logsvc's own credential
)
FORWARDED_OK = (
    "logsvc.auth.forwarded"  # environ key: relayed by a worker holding the forward secret
)
FORWARDED = "X-Logsvc-Forwarded"
FORWARDED_HOST = "X-Logsvc-Forwarded-Host"
PUBLIC_PATHS = ("/", "/healthz", "/api/v1/openapi.json")


# ---- Host ----------------------------------------------------------------------------------------


def host_name(host: str) -> str:
    """The name part of a Host header (`[::1]:80` -> `::1`, `Example.COM.:8` -> `example.com`)."""
    host = host.strip()
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    name, sep, port = host.rpartition(":")
    if not sep or not port.isdigit() or ":" in name:
        name = host
    return name.lower().rstrip(".")


def allowed_host_names(settings: Any) -> tuple[str, ...]:
    """Names from --allowed-hosts plus the name --host binds (when it is a name, not an address)."""
    extra = [
        h.strip().lower().rstrip(".")
        for h in (getattr(settings, "allowed_hosts", "") or "").split(",")
        if h.strip()
    ]
    bound = host_name(getattr(settings, "host", "") or "")
    if bound and not _is_ip(bound):
        extra.append(bound)
    return tuple(extra)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str | None, extra: tuple[str, ...]) -> bool:
    """True for localhost, *.localhost, any IP literal and the configured names ('.x' = x and its subdomains)."""
    if host is None:
        return True  # no browser sends a request without Host; rebinding needs one
    name = host_name(host)
    if name == "localhost" or name.endswith(".localhost") or _is_ip(name):
        return True
    for allowed in extra:
        if (
            allowed == "*"
            or name == allowed
            or (allowed.startswith(".") and (name == allowed[1:] or name.endswith(allowed)))
        ):
            return True
    return False


def is_loopback_bind(host: str) -> bool:
    """True when binding `host` listens on this machine only: a loopback address, `localhost`, or a
    name every address of which is loopback. `0.0.0.0`, `::`, a LAN address or a name that does not
    resolve are beyond loopback."""
    name = host_name(host) if host.startswith("[") else host.strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    import socket

    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(
        ipaddress.ip_address(info[4][0].partition("%")[0]).is_loopback for info in infos
    )


def check_exposure(settings: Any) -> None:
    """Refuse to serve beyond loopback with no token, unless --insecure says so (issue #16).

    Why the token and not SigV4 keys alone: the keys guard the AWS APIs only, so without a token
    the console and `/api/*` would be open to anyone who reaches the port.

    :raises ConfigError: saying how to set a token, or how to accept the risk.
    """
    from logsvc.errors import ConfigError

    host = getattr(settings, "host", "") or ""
    if getattr(settings, "token", None) or getattr(settings, "insecure", False):
        return
    if is_loopback_bind(host):
        return
    keys = (
        " (SigV4 keys alone leave the console and /api/* open)"
        if getattr(settings, "aws_access_key_id", None)
        else ""
    )
    raise ConfigError(
        f"--host {host} listens beyond this machine and no token is set{keys}, so anyone who "
        f"reaches port {settings.port} could read and write every log. Set one: "
        "--token \"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\" "
        "(or LOGSVC_TOKEN=<secret>); clients send 'Authorization: Bearer <secret>' and AWS SDKs "
        "sign with the token as their secret key (docs/team-server.md). To serve without "
        "credentials anyway, add --insecure (LOGSVC_INSECURE=true)",
        field="token",
        rule="required when --host is not a loopback address",
    )


# ---- surfaces ------------------------------------------------------------------------------------


def surface(path: str, method: str) -> str:
    """Which door a path is: public | rest | cloudwatch | lambda | http | otlp."""
    if (
        path in PUBLIC_PATHS
        and not (path == "/" and method == "POST")
        or path.startswith("/static/")
    ):
        return "public"
    if path.startswith("/api/"):
        return "rest"
    if path.startswith(("/2015-03-31/", "/_container/")) or path == "/2015-03-31":
        return "lambda"
    if path == "/http" or path.startswith("/http/"):
        return "http"
    from logsvc.cloudwatch.otlp import PATH as OTLP_PATH

    if path == OTLP_PATH:
        return "otlp"
    return "cloudwatch" if path == "/" else "public"  # anything else is a 404 with no data


def deny(kind: str, status: int, code: str, message: str) -> Response:
    """The refusal in the surface's own error shape (REST, AWS JSON, Lambda, API Gateway)."""
    if kind == "cloudwatch":
        from logsvc.api.cloudwatch import error_response_for
        from logsvc.cloudwatch.errors import AwsError

        return error_response_for(AwsError(code, message, status=status))
    if kind == "metrics":  # the CloudWatch metrics API's targets on the same `POST /`
        from logsvc.api.cloudwatch import metrics_error_response
        from logsvc.cloudwatch.errors import MetricsError

        return metrics_error_response(MetricsError(code, message, status=status))
    if kind == "lambda":
        from logsvc.api.errors import LambdaError

        return LambdaError(status, code, message).response()
    if kind == "otlp":
        from logsvc.api.otlp import status_response

        resp = status_response(status, message)
    elif kind == "http":
        from flask import jsonify

        resp = jsonify({"message": "Forbidden" if status == 403 else "Unauthorized"})
        resp.status_code = status
    else:
        from logsvc.api.errors import rest_error

        resp = rest_error(status, code, message, "token" if status == 401 else "Host")
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="logsvc"'
    return resp


def _bearer(req: Request, allow_query: bool) -> str | None:
    header = req.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:]
    if allow_query and "token" in req.args:  # EventSource cannot set headers
        return req.args["token"]
    return None


def token_ok(supplied: str | None, token: str) -> bool:
    """Constant-time comparison of a supplied token with the configured one."""
    return supplied is not None and hmac.compare_digest(supplied.encode(), token.encode())


def _sigv4(req: Request, credentials: dict[str, str], service: str) -> Any:
    """None when the signature verifies; else the SigV4Error."""
    from logsvc import sigv4

    try:
        sigv4.verify(
            req.method,
            sigv4.raw_path(req.environ),
            req.query_string.decode("latin-1"),
            req.headers,
            req.get_data(cache=True),
            credentials,
            service=service,
        )
    except sigv4.SigV4Error as e:
        return e
    return None


def _lambda_denial(e: Any) -> Response:
    # The REST-JSON Lambda API answers 403 where the JSON 1.1 services answer 400.
    forbidden = e.code in (
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
    )
    return deny("lambda", 403 if forbidden else e.status, e.code, e.message)


def _otlp_denial(req: Request, error: Any) -> Response:
    """401 when no credential or a wrong token came (say how to send one), 403 for a bad signature."""
    header = req.headers.get("Authorization", "")
    if not header or header.startswith("Bearer "):
        return deny(
            "otlp",
            401,
            "Unauthorized",
            "a valid token is required: send 'Authorization: Bearer <token>' (for an OpenTelemetry "
            "SDK: OTEL_EXPORTER_OTLP_LOGS_HEADERS=Authorization=Bearer%20<token>) or sign the "
            "request with SigV4 for the service 'logs'",
        )
    return deny("otlp", 403, error.code, error.message)


def _host_denial(kind: str, host: str) -> Response:
    return deny(
        kind,
        403,
        "ForbiddenHost",
        f"Host {host_name(host)[:100]!r} is not one this logsvc answers to (localhost, IP addresses and "
        "--allowed-hosts / LOGSVC_ALLOWED_HOSTS names); add the name there if you reach logsvc by it",
    )


def aws_scope(req: Request, kind: str) -> str:
    """The SigV4 service a request must be signed for: `lambda`, `logs`, or `monitoring` for the
    CloudWatch metrics API (same `POST /`, told apart by its X-Amz-Target)."""
    if kind == "otlp":
        return "logs"  # AWS's OTLP endpoint is CloudWatch Logs'
    if kind != "cloudwatch":
        return "lambda"
    target = req.headers.get("X-Amz-Target", "")
    return "monitoring" if target.startswith("GraniteServiceVersion20100801.") else "logs"


def gate(req: Request, service: Any, public_route: Any = None) -> Response | None:
    """The public server's check for one request: None to proceed, or the refusal.

    `public_route(method, path)` says whether an `/http/*` path is a route declared public.
    """
    from logsvc import sigv4

    settings = service.settings
    kind = surface(req.path, req.method)
    host = req.environ.get("HTTP_HOST")
    if not host_allowed(host, allowed_host_names(settings)):
        return _host_denial(kind, host or "")
    token = settings.token
    if kind == "public":
        return None
    if kind == "rest":
        if not token or req.path == "/api/v1/openapi.json":
            return None
        if token_ok(_bearer(req, allow_query=True), token):
            req.environ[CONSUMED] = True
            return None
        return deny(
            "rest",
            401,
            "Unauthorized",
            "a valid API token is required: send 'Authorization: Bearer <token>'",
        )
    credentials = sigv4.credentials_for(settings, req.headers)
    if kind == "http":
        if not token:
            return None
        if public_route is not None and public_route(
            req.method, "/" + req.path[len("/http") :].lstrip("/")
        ):
            return None
        if token_ok(_bearer(req, allow_query=False), token):
            req.environ[CONSUMED] = True
            return None
        if (
            req.headers.get("Authorization", "").startswith(sigv4.ALGORITHM)
            and credentials is not None
        ):
            if _sigv4(req, credentials, "execute-api") is None:
                req.environ[CONSUMED] = True
                return None
        return deny("http", 401, "Unauthorized", "Unauthorized")
    if credentials is None:
        return None  # the AWS APIs are open when neither keys nor a token are configured
    if token and token_ok(_bearer(req, allow_query=False), token):
        req.environ[CONSUMED] = (
            True  # the token opens every door (the CLI's `logsvc invoke` sends it)
        )
        return None
    error = _sigv4(req, credentials, aws_scope(req, kind))
    if error is None:
        req.environ[CONSUMED] = True
        return None
    if kind == "cloudwatch":
        shape = "metrics" if aws_scope(req, kind) == "monitoring" else "cloudwatch"
        return deny(shape, error.status, error.code, error.message)
    if kind == "otlp":
        return _otlp_denial(req, error)
    return _lambda_denial(error)


def internal_gate(
    req: Request, forward_secret: str, function_credentials: tuple[str, str]
) -> Response | None:
    """The owner's loopback server: a worker with the forward secret, or a function invoking.

    A verified forward restores the client's Host and address, so the function and its record see
    the request as the client sent it (not the internal address).
    """
    kind = surface(req.path, req.method)
    if not host_allowed(req.environ.get("HTTP_HOST"), ()):
        return _host_denial(kind, req.environ.get("HTTP_HOST") or "")
    supplied = req.headers.get(FORWARDED)
    if supplied is not None:
        if not hmac.compare_digest(supplied.encode("utf-8", "replace"), forward_secret.encode()):
            return deny(
                kind,
                403,
                "Forbidden",
                "this internal endpoint only takes requests from logsvc's own workers",
            )
        req.environ[FORWARDED_OK] = True
        original = req.headers.get(FORWARDED_HOST)
        if original:
            req.environ["HTTP_HOST"] = original
        client = req.headers.get("X-Forwarded-For")
        if client:
            req.environ["REMOTE_ADDR"] = client
        return None
    if (
        req.path.startswith("/_container/")
        and req.method == "POST"
        and req.path.endswith("/invocations")
    ):
        error = _sigv4(req, {function_credentials[0]: function_credentials[1]}, "lambda")
        if error is None:
            req.environ[CONSUMED] = True
            return None
        return _lambda_denial(error)
    return deny(
        kind,
        403,
        "Forbidden",
        "this internal endpoint only takes Invoke calls from functions and logsvc's own workers",
    )
