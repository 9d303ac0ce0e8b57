"""Serves the web console: the HTML shell at `/` and the files under web/ at `/static/`.

Owns: locating web/ and sending its files with a safe path join. Never reads the data directory
or renders log data: the console fetches everything from the public REST API (/api/v1), so every
view has a JSON twin. Deep links use hash routing (`/#/events?group=...`), so no SPA routes are
needed here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Blueprint, abort, send_from_directory

bp = Blueprint("console", __name__)

# web/ sits beside the package in a checkout; an installed package carries it as share/logsvc/web
# (data_files in setup.cfg). The first that holds index.html wins.
_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "web",
    Path(__file__).resolve().parents[1] / "web",
)


def web_dir() -> Path:
    """The directory holding index.html and the console's modules.

    :raises NotFound: (as a 404) if the console files are not installed.
    """
    candidates = [*_CANDIDATES, Path(sys.prefix) / "share" / "logsvc" / "web"]
    for cand in candidates:
        if (cand / "index.html").is_file():
            return cand
    abort(404, description="the web console files are not installed (web/index.html not found)")


@bp.get("/")
def index():
    resp = send_from_directory(web_dir(), "index.html", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/static/<path:filename>")
def static(filename: str):
    # send_from_directory uses werkzeug.safe_join: '..', absolute paths and NUL bytes give a 404.
    resp = send_from_directory(web_dir(), filename, max_age=0)
    resp.headers["Cache-Control"] = (
        "no-cache"  # revalidate by ETag: no stale modules after an upgrade
    )
    return resp
