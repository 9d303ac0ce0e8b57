"""A small web service behind API Gateway HTTP API routes (payload format 2.0).

Items live in the container's memory, so they survive warm invocations and vanish when the
container is reaped: a handy way to see which container served a request. Every request also
prints an access-log line (`ip user [time] "METHOD path HTTP/1.1" status bytes`), the shape
space-delimited filter patterns such as `[ip, user, ..., status=4*, bytes>100]` read.
"""

import json
import logging
import time
import uuid

logger = logging.getLogger()
logger.setLevel(logging.INFO)
ITEMS: dict[str, dict] = {}


def _json(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event, context):
    response = _route(event, context)
    status = response.get("statusCode", 200)
    size = len(response["body"] if "body" in response else json.dumps(response))
    http = event["requestContext"]["http"]
    user = (event.get("queryStringParameters") or {}).get("name", "-")
    when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    print(
        f'{http.get("sourceIp", "127.0.0.1")} {user} [{when}] "{http["method"]} {event["rawPath"]} HTTP/1.1" {status} {size}'
    )
    return response


def _route(event, context):
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
        return _json(
            404,
            {
                "message": f"no item {item_id}",
                "requestId": context.aws_request_id,
                "hint": "items live in one container's memory; GET /items lists this one's",
            },
        )
    if route == "DELETE /items/{id}":
        return _json(200, ITEMS.pop(item_id))
    return _json(200, ITEMS[item_id])
