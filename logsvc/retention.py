"""Retention: events older than a group's retentionInDays are removed from storage.

Placeholder until the CloudWatch work lands: reads already hide expired events (query.py uses
`Store.retention`); this job will reclaim their bytes.
"""

from __future__ import annotations


def enforce(store, snapshot, now_ms: int) -> int:  # noqa: ANN001
    """Reclaim expired bytes; returns how many bytes were freed."""
    return 0
