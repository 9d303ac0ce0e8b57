"""The exception tree every module raises. Owns messages, fields and rules; never HTTP statuses.

`api/errors.py` maps these to the REST shape and `api/cloudwatch.py` to AWS's `__type` shape;
the CLI prints them as `logsvc: error: ...`.
"""

from __future__ import annotations


class LogsvcError(Exception):
    """Base class. `field` names the input at fault, `rule` the constraint, `hint` what to do next."""

    code = "Error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidParameter(LogsvcError):
    """A name, parameter or pattern breaks a documented rule."""

    code = "InvalidParameter"


class ConfigError(InvalidParameter):
    """A setting or the project file is wrong, so nothing can start: the CLI prints one line and exits 2."""

    code = "ConfigError"


class NotFound(LogsvcError):
    """A log group, stream, function or other resource does not exist."""

    code = "NotFound"


class AlreadyExists(LogsvcError):
    """Creating something that is already there."""

    code = "AlreadyExists"


class LimitExceeded(LogsvcError):
    """Too many of something (connections, events in a batch, bytes)."""

    code = "LimitExceeded"


class Unauthorized(LogsvcError):
    """Missing or wrong API token or signature."""

    code = "Unauthorized"


class StorageError(LogsvcError):
    """The data directory could not be written (disk full, permissions)."""

    code = "StorageError"
