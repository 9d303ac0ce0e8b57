"""The table the CloudWatch edge dispatches on: every operation by name, and running one.

Why a module of its own: the classic operations (`operations.py`) and the Insights ones
(`queries.py`, built on operations' helpers) are joined here, above both, so neither imports the
other back (they used to: a cycle resolved by an import at the bottom of operations.py).
"""

from __future__ import annotations

from typing import Any

from logsvc.cloudwatch import metric_filters, operations, queries
from logsvc.cloudwatch import validate as v
from logsvc.cloudwatch.errors import AwsError, invalid_parameter, to_aws
from logsvc.cloudwatch.operations import Context, Operation
from logsvc.errors import LogsvcError

OPERATIONS: dict[str, Operation] = {
    op.name: op for op in (*operations.OPERATIONS, *queries.OPERATIONS, *metric_filters.OPERATIONS)
}


def run(ctx: Context, name: str, params: object) -> Any:
    """Validate `params` for operation `name` and run it.

    :raises AwsError: for an unknown operation, a wrong type or a broken constraint; any
        LogsvcError the core raises is translated by `errors.to_aws`.
    """
    op = OPERATIONS.get(name)
    if op is None:
        raise AwsError(
            "UnknownOperationException",
            f"Operation {name!r} is not supported by logsvc. Supported operations: {', '.join(sorted(OPERATIONS))}.",
        )
    if isinstance(params, dict):
        for key in ("logGroupName", "logStreamName"):
            if isinstance(params.get(key), str) and len(params[key]) > v.NAME_MAX:
                # AWS answers this before its generic length check (recorded text, reference §1)
                raise invalid_parameter(
                    "Invalid LogGroup or LogStream, both must have length less than or equal to 512."
                )
    p = v.check(params, op.members)
    try:
        return op.run(ctx, p)
    except AwsError:
        raise
    except LogsvcError as e:
        raise to_aws(e) from None
