"""Fan-out/fan-in: the splitter invokes one worker per chunk asynchronously, each worker hands its
result to the aggregator, and the aggregator logs the total when the last part arrives.

The boto3 client needs no endpoint here: logsvc sets AWS_ENDPOINT_URL_LAMBDA in every container,
and the server records which invocation made each call, so the causal tree is in
/api/v1/invocations without passing ids around by hand.
"""

import json
import logging
import os
from pathlib import Path

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
_lambda = None


def client():
    global _lambda
    if _lambda is None:  # created once per container: warm invocations reuse it
        _lambda = boto3.client("lambda")
    return _lambda


def splitter(event, context):
    numbers = event.get("numbers") or list(range(1, 101))
    parts = max(1, min(int(event.get("parts", 4)), len(numbers)))
    chunks = [numbers[i::parts] for i in range(parts)]
    logger.info(
        "job %s: splitting %d numbers into %d parts", context.aws_request_id, len(numbers), parts
    )
    for i, chunk in enumerate(chunks):
        msg = {"job": context.aws_request_id, "part": i, "parts": parts, "numbers": chunk}
        client().invoke(FunctionName="worker", InvocationType="Event", Payload=json.dumps(msg))
    return {"job": context.aws_request_id, "parts": parts}


def worker(event, context):
    total = sum(n * n for n in event["numbers"])
    print(f"part {event['part']}/{event['parts']} of job {event['job']}: sum of squares = {total}")
    msg = {"job": event["job"], "part": event["part"], "parts": event["parts"], "result": total}
    client().invoke(FunctionName="aggregator", InvocationType="Event", Payload=json.dumps(msg))
    return {"part": event["part"], "result": total}


def aggregator(event, context):
    job_dir = Path(os.environ["FANOUT_DIR"]) / event["job"]
    job_dir.mkdir(parents=True, exist_ok=True)
    tmp = job_dir / f".part-{event['part']}.tmp"
    tmp.write_text(json.dumps(event["result"]))
    os.replace(
        tmp, job_dir / f"part-{event['part']}.json"
    )  # atomic: aggregators may run in parallel
    done = sorted(job_dir.glob("part-*.json"))
    logger.info("job %s: %d of %d parts in", event["job"], len(done), event["parts"])
    if len(done) == event["parts"] and not (job_dir / "result.json").exists():
        total = sum(json.loads(p.read_text()) for p in done)
        (job_dir / "result.json").write_text(json.dumps({"total": total}))
        logger.info("job %s complete: total = %d", event["job"], total)
        return {"job": event["job"], "total": total}
    return {"job": event["job"], "waiting": event["parts"] - len(done)}
