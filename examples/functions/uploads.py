"""A bucket-triggered processor: counts lines and words of each new text object."""

import logging
import os
import urllib.parse
from pathlib import Path

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    results = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])  # keys arrive URL-encoded
        if not record["eventName"].startswith("ObjectCreated"):
            logger.info("%s removed from %s", key, bucket)
            continue
        text = (Path(os.environ["BUCKET_ROOT"]) / bucket / key).read_text(errors="replace")
        lines, words = len(text.splitlines()), len(text.split())
        logger.info("processed s3://%s/%s: %d lines, %d words", bucket, key, lines, words)
        results.append({"key": key, "lines": lines, "words": words})
    return results
