"""logsvc: a local, CloudWatch-Logs-compatible log service for serverless development."""

__version__ = "0.1.0"
