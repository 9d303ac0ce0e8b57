"""The CloudWatch error shape: `{"__type": ..., "message": ...}` with AWS's statuses and texts.

Owns: turning any LogsvcError into the exception AWS would have answered (name, HTTP status and,
where the reference records it, AWS's exact message), and `AwsError` for errors that exist only
on this surface (SerializationException, UnknownOperationException, TooManyTagsException, ...).
The core's own messages ("no log group 'x'") never reach a CloudWatch client: AWS's do.
"""

from __future__ import annotations

from logsvc.errors import (
    AlreadyExists,
    InvalidParameter,
    LimitExceeded,
    LogsvcError,
    NotFound,
    StorageError,
    Unauthorized,
)

# botocore decides by __type, not by status; AWS's API pages give 400 for every client error
# and 500 for ServiceUnavailableException (reference §1).
STATUS = {"ServiceUnavailableException": 500, "InternalFailure": 500}

GROUP_NOT_FOUND = "The specified log group does not exist."
STREAM_NOT_FOUND = "The specified log stream does not exist."
GROUP_EXISTS = "The specified log group already exists"
STREAM_EXISTS = "The specified log stream already exists"
BAD_TOKEN = "The specified nextToken is invalid."
# subscription filters (reference subscriptions-and-metric-filters.md B.1-B.3)
SUBSCRIPTION_NOT_FOUND = "The specified subscription filter does not exist."
BAD_SUBSCRIPTION_PATTERN = "Invalid subscription filter pattern"
CANNOT_EXECUTE_FUNCTION = (
    "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission "
    "to execute your function."
)
LIMIT_EXCEEDED = "Resource limit exceeded."


class AwsError(LogsvcError):
    """An error already in AWS's vocabulary. `extra` holds modeled members (e.g. resourceName)."""

    def __init__(
        self, aws_type: str, message: str, *, status: int | None = None, extra: dict | None = None
    ) -> None:
        super().__init__(message)
        self.aws_type = aws_type
        self.status = status or STATUS.get(aws_type, 400)
        self.extra = extra or {}

    def body(self) -> dict:
        return {"__type": self.aws_type, "message": self.message, **self.extra}


def invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def not_found(what: str = "group") -> AwsError:
    return AwsError(
        "ResourceNotFoundException", STREAM_NOT_FOUND if what == "stream" else GROUP_NOT_FOUND
    )


def to_aws(e: LogsvcError) -> AwsError:
    """The AWS exception for a core error (see module docstring)."""
    if isinstance(e, AwsError):
        return e
    field = (e.field or "").lower()
    is_stream = "stream" in field
    if isinstance(e, NotFound):
        return not_found("stream" if is_stream else "group")
    if isinstance(e, AlreadyExists):
        return AwsError(
            "ResourceAlreadyExistsException", STREAM_EXISTS if is_stream else GROUP_EXISTS
        )
    if isinstance(e, LimitExceeded):
        return AwsError("LimitExceededException", e.message)
    if isinstance(e, Unauthorized):
        return AwsError("UnrecognizedClientException", e.message)
    if isinstance(e, StorageError):
        return AwsError("ServiceUnavailableException", e.message)
    if isinstance(e, InvalidParameter):
        return invalid_parameter(e.message)
    return AwsError("ServiceUnavailableException", e.message)


# ---- the CloudWatch metrics API (GraniteServiceVersion20100801, JSON 1.0, query-compatible) ------

# query error code -> the modeled shape name botocore's `client.exceptions` knows it by
METRICS_ERRORS = {
    "InvalidParameterValue": "InvalidParameterValueException",
    "MissingParameter": "MissingRequiredParameterException",
    "InvalidParameterCombination": "InvalidParameterCombinationException",
    "InvalidNextToken": "InvalidNextToken",
    "LimitExceeded": "LimitExceededFault",
    "InternalServiceError": "InternalServiceFault",
    "InvalidAction": "InvalidAction",
    "SerializationException": "SerializationException",
}


class MetricsError(AwsError):
    """An error of the metrics API: `__type` names the modeled shape and `x-amzn-query-error`
    carries the query code (`InvalidParameterValue;Sender`), which is what botocore's
    query-compatible JSON clients raise by."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(METRICS_ERRORS.get(code, code), message, status=status)
        self.query_code = code

    def body(self) -> dict:
        return {"__type": f"com.amazonaws.cloudwatch#{self.aws_type}", "message": self.message}

    def headers(self) -> dict[str, str]:
        fault = "Receiver" if self.status >= 500 else "Sender"
        return {"x-amzn-query-error": f"{self.query_code};{fault}"}


def to_metrics(e: LogsvcError) -> MetricsError:
    """The metrics API's error for any core or validation error (Coral's texts are kept)."""
    if isinstance(e, MetricsError):
        return e
    aws = to_aws(e)
    if aws.aws_type == "SerializationException":
        return MetricsError("SerializationException", aws.message)
    if aws.aws_type == "InvalidParameterException":
        missing = "must not be null" in aws.message
        return MetricsError("MissingParameter" if missing else "InvalidParameterValue", aws.message)
    if aws.status >= 500:
        return MetricsError("InternalServiceError", aws.message, status=500)
    return MetricsError("InvalidParameterValue", aws.message)
