"""Checkout: charges a card and logs structured JSON (log_format = "JSON" in logsvc.toml).

Each `logger.*(..., extra={...})` call becomes one JSON event whose `extra` keys are top-level
fields, as Lambda's JSON log format writes them, so filter patterns such as
`{ $.level = "ERROR" && $.latency > 100 }` and Insights' `stats count(*) by level` work on them.
Cards ending in 0002 are declined (Stripe's test numbers); a declined card is retried once first.
"""

import logging
import random
import time

logger = logging.getLogger()
logger.setLevel(logging.INFO)

DECLINED = "0002"


def handler(event, context):
    order, card, total = event["order"], str(event["card"]), float(event["total"])
    logger.info(
        "checkout started", extra={"order": order, "total": total, "card": f"**** {card[-4:]}"}
    )
    for attempt in (1, 2):
        started = time.monotonic()
        time.sleep(random.uniform(0.02, 0.25))  # the payment provider's round trip
        latency = round((time.monotonic() - started) * 1000)
        if not card.endswith(DECLINED):
            logger.info(
                "payment captured", extra={"order": order, "amount": total, "latency": latency}
            )
            return {"order": order, "status": "paid"}
        if attempt == 1:
            logger.warning(
                "card declined by issuer, retry 1 of 1 in 0 s",
                extra={"order": order, "latency": latency},
            )
    logger.error(
        "card declined", extra={"order": order, "latency": latency, "reason": "do_not_honor"}
    )
    return {"order": order, "status": "declined"}
