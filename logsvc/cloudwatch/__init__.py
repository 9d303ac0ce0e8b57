"""CloudWatch Logs compatibility: AWS's JSON protocol over logsvc's store, reader and tailer.

Owns everything CloudWatch-shaped: camelCase members, `__type` errors with AWS's texts, Coral
validation (`validate.py`), the operations (`operations.py`), the event-stream framing of
StartLiveTail (`eventstream.py`). `api/cloudwatch.py` is the thin HTTP edge in front of it.
It is a translation at the edge, never a second data path: PutLogEvents writes through the store.
"""
