"""Simulated functions: a local Lambda-like invoker. Placeholder until the invoker work lands."""

from __future__ import annotations


def create_invoker(settings, store):  # noqa: ANN001, ANN201
    """Return an invoker for the project's logsvc.toml, or None when there are no functions."""
    return None
