"""A table-stream consumer: receives DynamoDB-Streams-shaped batches of order changes, in order."""

import logging
from collections import Counter

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    records = event["Records"]
    kinds = Counter(r["eventName"] for r in records)
    first = records[0]["dynamodb"]["SequenceNumber"]
    last = records[-1]["dynamodb"]["SequenceNumber"]
    logger.info("batch of %d records (%s), sequence %s..%s", len(records), dict(kinds), first, last)
    for r in records:
        image = r["dynamodb"].get("NewImage") or {}
        if image.get("status", {}).get("S") == "poison":
            raise ValueError(f"cannot process order {r['dynamodb']['Keys']['id']}")
    return {"processed": len(records)}
