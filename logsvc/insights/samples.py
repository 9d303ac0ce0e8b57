"""Sample Logs Insights queries, as data: AWS's samples for Lambda and general logs (reference §7,
AWS's "Sample queries" page), plus a few for JSON logs and access logs. Pure.

For the console ("sample queries one click away"), the CLI's help and tests (every sample must
compile; the Lambda ones run over `tests/insights_cases.py`). Each `Sample` has a `category`
(`lambda`, `general`, `json`, `access`), a short `name`, the `query` text and a `description`.

Notes on AWS's own texts:
* `provisonedMemoryMB` is AWS's spelling; kept, because users paste it.
* AWS's docs divide the byte counts by `1024 / 1024` (2022-24 guide) or `1000 / 1000` (older
  console). logsvc exposes `@memorySize`/`@maxMemoryUsed` as MB x 1,000,000 bytes (as AWS does:
  `128 MB` shows as `1.28E8`), so `/ 1000 / 1000` gives whole MB; the `1024` variant is kept as AWS
  prints it, and gives AWS's (slightly odd) answer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SAMPLES", "Sample", "by_category"]


@dataclass(frozen=True, slots=True)
class Sample:
    category: str
    name: str
    query: str
    description: str


SAMPLES: tuple[Sample, ...] = (
    # ---- Lambda (AWS's samples, reference §7) -------------------------------------------------
    Sample(
        "lambda",
        "Latency statistics per 5 minutes",
        'filter @type = "REPORT"\n| stats avg(@duration), max(@duration), min(@duration) by bin(5m)',
        "Average, maximum and minimum invocation duration (ms) in 5-minute intervals (AWS sample).",
    ),
    Sample(
        "lambda",
        "Over-provisioned memory",
        'filter @type = "REPORT"\n'
        "| stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB,\n"
        "    min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB,\n"
        "    avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB,\n"
        "    max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB,\n"
        "    provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB",
        "Configured memory against what invocations used, in MB: how much memory could be given back (AWS sample).",
    ),
    Sample(
        "lambda",
        "Over-provisioned memory (AWS docs' 1024 variant)",
        'filter @type = "REPORT"\n'
        "| stats max(@memorySize / 1024 / 1024) as provisonedMemoryMB,\n"
        "    min(@maxMemoryUsed / 1024 / 1024) as smallestMemoryRequestMB,\n"
        "    avg(@maxMemoryUsed / 1024 / 1024) as avgMemoryUsedMB,\n"
        "    max(@maxMemoryUsed / 1024 / 1024) as maxMemoryUsedMB,\n"
        "    provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB",
        "The same query as AWS's user guide prints it (bytes are MB x 10^6, so these are MiB-ish figures).",
    ),
    Sample(
        "lambda",
        "Most expensive requests",
        'filter @type = "REPORT"\n| fields @requestId, @billedDuration\n| sort @billedDuration desc',
        "Invocations ordered by billed duration, longest first (AWS sample).",
    ),
    Sample(
        "lambda",
        "Cold starts per hour",
        'filter @type = "REPORT" and ispresent(@initDuration)\n'
        "| stats count(*) as coldStarts, avg(@initDuration), max(@initDuration) by bin(1h)",
        "How many invocations started a new execution environment, and how long init took (ms).",
    ),
    Sample(
        "lambda",
        "Errors with their request",
        "fields @timestamp, @requestId, @message\n| filter @message like /(?i)(error|exception)/\n"
        "| sort @timestamp desc\n| limit 50",
        "The 50 most recent lines that mention an error or exception, with the request they belong to.",
    ),
    Sample(
        "lambda",
        "One request's lines",
        'fields @timestamp, @type, @message\n| filter @requestId = "REQUEST-ID"\n| sort @timestamp asc',
        "Every line Lambda and the runtime wrote for one invocation (replace REQUEST-ID).",
    ),
    Sample(
        "lambda",
        "Timeouts",
        'filter @type = "REPORT" and @message like "Status: timeout"\n| fields @timestamp, @requestId, @duration',
        "Invocations that ran into the function's timeout.",
    ),
    # ---- General (AWS's samples) ----------------------------------------------------------------
    Sample(
        "general",
        "25 most recent events",
        "fields @timestamp, @message\n| sort @timestamp desc\n| limit 25",
        "The 25 most recently added log events (AWS sample).",
    ),
    Sample(
        "general",
        "Exceptions per hour",
        "filter @message like /Exception/\n| stats count(*) as exceptionCount by bin(1h)\n| sort exceptionCount desc",
        "Number of exceptions per hour, busiest hour first (AWS sample).",
    ),
    Sample(
        "general",
        "Events that are not exceptions",
        "fields @message\n| filter @message not like /Exception/",
        "Every event whose message does not mention Exception (AWS sample).",
    ),
    Sample(
        "general",
        "Parse level and message",
        'fields @message\n| parse @message "* [*] *" as loggingTime, loggingType, loggingMessage\n'
        '| filter loggingType in ["ERROR", "INFO"]\n| display loggingMessage, loggingType = "ERROR" as isError',
        "Glob parse into ephemeral fields, then keep ERROR and INFO lines (AWS sample).",
    ),
    Sample(
        "general",
        "Latest event per stream",
        "fields @timestamp, @logStream, @message\n| sort @timestamp desc\n| dedup @logStream",
        "The newest event of each log stream (AWS's dedup sample, by stream).",
    ),
    # ---- JSON logs -------------------------------------------------------------------------------
    Sample(
        "json",
        "Errors by type (JSON)",
        'filter level = "ERROR"\n| stats count(*) as errors by errorType\n| sort errors desc',
        "Structured logs: count ERROR lines by their errorType key.",
    ),
    Sample(
        "json",
        "Slow requests (JSON)",
        "filter ispresent(durationMs) and durationMs > 500\n"
        "| fields @timestamp, http.method, http.path, durationMs\n| sort durationMs desc\n| limit 20",
        "Structured logs with nested keys (http.path) and numbers: the 20 slowest requests.",
    ),
    Sample(
        "json",
        "p95 latency per route (JSON)",
        "filter ispresent(durationMs)\n"
        "| stats count(*) as requests, avg(durationMs) as avgMs, pct(durationMs, 95) as p95Ms by http.path\n"
        "| sort p95Ms desc",
        "Structured logs: request count, average and 95th percentile latency per route.",
    ),
    # ---- Access logs ---------------------------------------------------------------------------
    Sample(
        "access",
        "Status codes per 5 minutes (access log)",
        'parse @message /^(?<ip>\\S+) \\S+ \\S+ \\[[^\\]]+\\] "(?<method>\\S+) (?<path>\\S+) [^"]*" (?<status>\\d{3}) (?<bytes>\\d+)/\n'
        "| stats count(*) by status, bin(5m)",
        "Common-log-format lines parsed with a regex: requests per status code over time.",
    ),
    Sample(
        "access",
        "Top paths with server errors (access log)",
        "parse @message '* - - [*] \"* * *\" * * *' as ip, time, method, path, proto, status, bytes, latency\n"
        "| filter status >= 500\n| stats count(*) as errors by path\n| sort errors desc\n| limit 10",
        "Glob parse of access-log lines; the paths that answered 5xx most often.",
    ),
    Sample(
        "access",
        "Clients by traffic (access log)",
        "parse @message '* - - [*] \"* * *\" * * *' as ip, time, method, path, proto, status, bytes, latency\n"
        "| stats count(*) as requests, sum(bytes) as totalBytes by ip\n| sort totalBytes desc",
        "Requests and bytes served per client IP.",
    ),
)


def by_category(category: str) -> list[Sample]:
    return [s for s in SAMPLES if s.category == category]
