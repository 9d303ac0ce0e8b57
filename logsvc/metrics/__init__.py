"""Metrics: what metric filters, embedded metrics (EMF), the invoker's records and PutMetricData
make of the logs, and the arithmetic CloudWatch's metrics API answers with.

Layout: `points` (per-minute cells, statistics, periods; pure), `emf` (the Embedded Metric
Format; pure), `filters` (a metric filter's transformation of one event; pure), `expr` (metric
math; pure), `store` (PutMetricData's minute cells and the metric filter definitions under
`<data>/metrics/`), `read` (every source joined, computed at query time from the logs).
"""
