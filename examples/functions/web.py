"""A small web service behind API Gateway HTTP API routes (payload format 2.0).

Items live in the container's memory, so they survive warm invocations and vanish when the
container is reaped: a handy way to see which container served a request.
"""

import json
import logging
import uuid

logger = logging.getLogger()
logger.setLevel(logging.INFO)
ITEMS: dict[str, dict] = {}


def _json(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def handler(event, context):
    route = event["routeKey"]
    logger.info("%s %s", route, event.get("rawQueryString", ""))
    if route == "GET /hello":
        name = (event.get("queryStringParameters") or {}).get("name", "world")
        return {"message": f"hello, {name}"}  # no statusCode: API Gateway makes it a 200 JSON body
    if route == "GET /items":
        return _json(200, {"items": list(ITEMS.values())})
    if route == "POST /items":
        try:
            item = json.loads(event.get("body") or "{}")
        except ValueError:
            logger.warning("rejected a body that is not JSON")
            return _json(400, {"message": "body must be JSON"})
        item["id"] = item.get("id") or uuid.uuid4().hex[:8]
        ITEMS[item["id"]] = item
        return _json(201, item)
    item_id = event["pathParameters"]["id"]
    if item_id not in ITEMS:
        return _json(404, {"message": f"no item {item_id}"})
    if route == "DELETE /items/{id}":
        return _json(200, ITEMS.pop(item_id))
    return _json(200, ITEMS[item_id])
