"""A function that always fails, so async retries (1 + 2) and the on-failure destination show."""

import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    logger.info("charging order %s", event.get("order"))
    raise RuntimeError("payment provider unavailable")


def dead_letter(event, context):
    ctx = event["requestContext"]
    logger.error(
        "gave up on %s after %d attempts (%s): %s",
        ctx["requestId"],
        ctx["approximateInvokeCount"],
        ctx["condition"],
        json.dumps(event.get("responsePayload", {}).get("errorMessage")),
    )
