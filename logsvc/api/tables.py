"""The project's local tables over REST: read every item, put, batch put, update and delete.

Owns request bodies of `/api/v1/tables/<table>/items` (checked, with the REST error shape naming the
field and rule) and their answers. The table itself (its change log and the stream records each
change becomes) is `invoker/tables.py`'s, in the owner process (`forward.owned`). Never opens table
files here.

Routes
    GET|PUT|POST|PATCH|DELETE /api/v1/tables/<table>/items   read / put / batch put / update / delete
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request

from logsvc.api.forward import current_invoker, owned
from logsvc.errors import InvalidParameter

bp = Blueprint("tables", __name__)


def _json_body() -> Any:
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError as e:
        raise InvalidParameter(
            f"request body is not valid JSON: {e}", field="body", rule="JSON"
        ) from None


@bp.route("/api/v1/tables/<table>/items", methods=["GET", "PUT", "POST", "PATCH", "DELETE"])
@owned()
def table_items(table: str) -> Response:
    """PUT one item, POST {"items": [...]} (one atomic batch), PATCH {"key", "set", "remove"},
    DELETE {"key"}, GET every item. Each change becomes a stream record for the table's consumers."""
    t = current_invoker().triggers.table(table)
    if request.method == "GET":
        return jsonify({"items": t.scan()})
    body = _json_body()
    if request.method == "PUT":
        if not isinstance(body, dict):
            raise InvalidParameter(
                "PUT takes one item as a JSON object", field="body", rule="JSON object"
            )
        return jsonify({"written": t.put([body])})
    if request.method == "POST":
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise InvalidParameter(
                'POST takes {"items": [...]}', field="items", rule="JSON array of objects"
            )
        return jsonify({"written": t.put(items)})
    if not isinstance(body, dict) or not isinstance(body.get("key"), dict):
        raise InvalidParameter(
            f'{request.method} takes {{"key": {{...}}}}', field="key", rule="JSON object"
        )
    if request.method == "PATCH":
        set_ = body.get("set") or {}
        remove = body.get("remove") or []
        if not isinstance(set_, dict) or not isinstance(remove, list):
            raise InvalidParameter(
                '"set" is an object and "remove" a list of attribute names', field="set"
            )
        return jsonify({"item": t.update(body["key"], set_, remove)})
    return jsonify({"deleted": t.delete(body["key"])})
