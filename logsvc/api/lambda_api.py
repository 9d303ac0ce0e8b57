"""The Lambda Invoke API and HTTP triggers. Placeholder until the invoker work lands."""

from flask import Blueprint

bp = Blueprint("lambda_api", __name__)
