"""CloudWatch Logs' PutLogEvents limits: the numbers AWS enforces on a batch and on one event.

One owner for both sides of the wire: the CloudWatch API (`cloudwatch/operations.py`, `otlp.py`)
refuses what breaks them, and the senders (`ship.py` forwarding to AWS, subscription batches in
`invoker/subscribe.py`) keep within them; a read's page (`query.py`) ends at 1 MiB counted the same
way. Pure numbers and `event_bytes`, in the base layer so every layer may read them.
"""

from __future__ import annotations

MAX_BATCH_EVENTS = 10_000  # events in one PutLogEvents call
MAX_BATCH_BYTES = 1_048_576  # sum of event sizes in one call
EVENT_OVERHEAD = 26  # bytes AWS counts per event on top of its UTF-8 message
MAX_EVENT_BYTES = 1_048_576  # one event's size (message bytes + EVENT_OVERHEAD)
MAX_SPAN_MS = 24 * 3_600_000  # oldest to newest event of one call
TOO_NEW_MS = 2 * 3_600_000  # an event more than this ahead of now is refused
TOO_OLD_MS = 14 * 86_400_000  # an event more than this behind now is refused


def event_bytes(message: str) -> int:
    """An event's size as AWS counts it: its message's UTF-8 bytes (not characters) plus
    EVENT_OVERHEAD. A lone surrogate (JSON's "\\ud800" decodes to one) counts as the 3 bytes it
    would take, never raises; an ASCII message is not encoded to be counted."""
    n = len(message) if message.isascii() else len(message.encode("utf-8", "surrogatepass"))
    return n + EVENT_OVERHEAD
