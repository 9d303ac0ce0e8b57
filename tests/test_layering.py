"""The import graph drawn from the code matches the layers drawn in ARCHITECTURE.md (issue #14).

`scripts/import_graph.py` is run as a program, on this repository and on small planted packages,
so the checker is shown to fail on each kind of finding it exists for.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "import_graph.py"

DRAWING = """\
# Planted

```layers
top     high · pkg/*
middle  left | side  right · other
bottom  low
```
"""


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_logsvc_imports_match_the_drawing() -> None:
    r = run(ROOT)
    assert (r.returncode, r.stderr) == (0, "")
    lines = r.stdout.splitlines()
    assert lines[0] == "[surfaces]" and "[base]" in lines  # drawn top to bottom
    assert "  model -> -" in lines  # model imports nothing of logsvc
    assert "index" in next(x for x in lines if x.startswith("  query -> ")).split()


def test_dot_output_draws_every_edge_once() -> None:
    r = run(ROOT, "--dot")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("digraph logsvc {")
    assert '  "query" -> "index";' in r.stdout.splitlines()


def plant(tmp_path: Path, modules: dict[str, str], drawing: str = DRAWING) -> Path:
    pkg = tmp_path / "logsvc"
    (pkg / "pkg").mkdir(parents=True)
    base = {
        "__init__.py": "",
        "pkg/__init__.py": "",
        "high.py": "",
        "left.py": "",
        "right.py": "",
        "other.py": "",
        "low.py": "def _hidden():\n    pass\n\n\nclass Thing:\n    def _secret(self):\n        pass\n",
    }
    base.update(modules)
    for name, text in base.items():
        (pkg / name).write_text(textwrap.dedent(text))
    (tmp_path / "ARCHITECTURE.md").write_text(drawing.replace("pkg/*", "pkg/* · __init__"))
    return tmp_path


CASES = [
    (
        "clean: downward imports only",
        {"high.py": "from logsvc import left, low\n", "left.py": "import logsvc.low\n"},
        None,
    ),
    (
        "upward import",
        {"low.py": "from logsvc.high import x\n"},
        "upward: low (bottom) imports high (top)",
    ),
    (
        "upward import inside a function",
        {"low.py": "def f():\n    from logsvc import left\n    return left\n"},
        "upward: low (bottom) imports left (middle)",
    ),
    (
        "relative upward import",
        {"pkg/deep.py": "", "low.py": "from .pkg import deep\n"},
        "upward: low (bottom) imports pkg.deep (top)",
    ),
    (
        "independent neighbours",
        {"left.py": "from logsvc import right\n"},
        "sideways: left (middle) imports right (side), an independent neighbour",
    ),
    (
        "cycle",
        {
            "right.py": "from logsvc import other\n",
            "other.py": "def f():\n    from logsvc import right\n",
        },
        "cycle: other -> right -> other",
    ),
    (
        "private import",
        {"high.py": "from logsvc.low import _hidden\n"},
        "private: high imports _hidden from low",
    ),
    (
        "private module attribute",
        {"high.py": "from logsvc import low\nlow._hidden()\n"},
        "private: high uses low._hidden",
    ),
    (
        "private attribute of another module's object",
        {"high.py": "def f(thing):\n    return thing._secret()\n"},
        "private: high uses _secret (defined in low)",
    ),
    (
        "private attribute set on a library object",
        {"high.py": "def f(request):\n    request._mine = 1\n"},
        "private: high uses _mine of an object no logsvc module owns",
    ),
    (
        "a module the drawing does not place",
        {"stray.py": ""},
        "unplaced: stray is in no layer of the drawing",
    ),
]


@pytest.mark.parametrize(("modules", "finding"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_checker_flags_what_it_exists_for(
    tmp_path: Path, modules: dict[str, str], finding: str | None
) -> None:
    r = run(plant(tmp_path, modules), "--strict")
    if finding is None:
        assert (r.returncode, r.stderr) == (0, "")
    else:
        assert r.returncode == 1
        assert finding in r.stderr.splitlines(), r.stderr
