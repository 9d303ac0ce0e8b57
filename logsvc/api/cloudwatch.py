"""CloudWatch Logs JSON protocol (X-Amz-Target dispatch). Placeholder until the CloudWatch work lands."""

from flask import Blueprint, jsonify

bp = Blueprint("cloudwatch", __name__)


def error_response_for(e):  # noqa: ANN001, ANN201
    resp = jsonify({"__type": "InvalidParameterException", "message": str(e)})
    resp.status_code = 400
    return resp


def http_error_response(e):  # noqa: ANN001, ANN201
    resp = jsonify({"__type": "InvalidParameterException", "message": e.description or e.name})
    resp.status_code = e.code or 400
    return resp
