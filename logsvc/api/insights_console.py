"""What the console's Query view needs to know about the Logs Insights language, as JSON. Read-only.

    GET /api/v1/insights/samples    the sample queries (AWS's for Lambda and general logs, and a few
                                    for JSON and access logs) from `logsvc/insights/samples.py`
    GET /api/v1/insights/language   the command, function and aggregate names the engine runs, with
                                    their arities: the editor's completion and colours

Owns only turning those pure tables into JSON, so the editor offers exactly what the engine
accepts (no second list in JavaScript to drift). Never compiles or runs a query: that is
api/insights.py's, over jobs.py.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from logsvc.insights import aggregates, functions, parser, samples

bp = Blueprint("insights_console", __name__)

# The canonical spelling of the commands whose parser method is lower-case (`cmd_filterindex` does not
# exist: filterIndex shares cmd_filter). SOURCE is left out: the console picks groups itself.
_COMMAND_SPELLING = {"filterindex": "filterIndex"}
KEYWORDS = ("and", "or", "not", "like", "in", "as", "by", "asc", "desc", "into")
DIFF_MODIFIERS = ("previousDay", "previousWeek", "previousMonth")


def command_names() -> list[str]:
    names = [n[len("cmd_") :] for n in dir(parser.Parser) if n.startswith("cmd_")]
    names.append("filterindex")
    return sorted({_COMMAND_SPELLING.get(n, n) for n in names}, key=str.lower)


@bp.get("/api/v1/insights/samples")
def list_samples():
    return jsonify(
        {
            "samples": [
                {
                    "category": s.category,
                    "name": s.name,
                    "query": s.query,
                    "description": s.description,
                }
                for s in samples.SAMPLES
            ]
        }
    )


@bp.get("/api/v1/insights/language")
def language():
    def arity(f) -> dict:
        return {"name": f.name, "minArgs": f.min_args, "maxArgs": f.max_args}

    return jsonify(
        {
            "commands": command_names(),
            "functions": sorted(
                (arity(f) for f in functions.FUNCTIONS.values()), key=lambda f: f["name"].lower()
            ),
            "aggregates": sorted(
                (arity(a) for a in aggregates.AGGREGATES.values()), key=lambda a: a["name"].lower()
            ),
            "keywords": list(KEYWORDS),
            "diffModifiers": list(DIFF_MODIFIERS),
        }
    )
