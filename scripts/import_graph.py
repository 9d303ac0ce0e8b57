#!/usr/bin/env python3
"""The import graph of logsvc, drawn from the code and checked against the layers in ARCHITECTURE.md.

Why: the drawing is what a reader trusts to know where code belongs and what it may use; it stays
true only if something fails when the imports stop matching it. This reads every `import` (function
-local ones too, since they are how cycles used to hide) with `ast`, places each module in the layer
the ```layers block of ARCHITECTURE.md names for it, and reports:

- an import of a layer above the importer's, or of an independent neighbour in the same layer
  (groups separated by `|` on one line of the drawing);
- a module the drawing does not place;
- an import cycle (function-local imports included);
- a private name (`_x`) of one logsvc module used by another: `from m import _x`, `m._x` on an
  imported module, `obj._x` / `getattr(obj, "_x")` where only another logsvc module defines `_x`,
  and private attributes set on or read from objects no logsvc module owns (`request._x`).

Usage: python3 scripts/import_graph.py [--root DIR] [--dot] [--strict]
Prints the graph by layer (or Graphviz with --dot) and the findings; exit status 1 if any.
`ALLOWED` names findings another change in flight removes; --strict ignores it.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "logsvc"

# Findings another change removes: each entry is an exact finding text, kept short and named.
# The refusal auth.deny writes for the Lambda API is lambda_api.LambdaError, and the Lambda API
ALLOWED: set[str] = set()

# Underscore names the standard library documents as public API.
PUBLIC_UNDERSCORE = {
    "_exit",
    "_replace",
    "_asdict",
    "_fields",
    "_make",
    "_field_defaults",
    "_current_frames",
}


@dataclass
class Module:
    name: str  # dotted, without the package prefix ("api.rest"; the package itself is "__init__")
    path: Path
    tree: ast.Module
    imports: dict[str, int] = field(default_factory=dict)  # module -> first line importing it
    owns: set[str] = field(default_factory=set)  # private names this module defines


@dataclass(frozen=True)
class Layer:
    rank: int  # 0 is the bottom
    name: str
    group: int  # independent groups of one layer may not import each other


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


# ---- reading the code ------------------------------------------------------------------------


def load(root: Path) -> dict[str, Module]:
    pkg = root / PACKAGE
    mods: dict[str, Module] = {}
    for path in sorted(pkg.rglob("*.py")):
        parts = list(path.relative_to(pkg).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        name = ".".join(parts)
        mods[name] = Module(name, path, ast.parse(path.read_text(), str(path)))
    for m in mods.values():
        m.owns = owned_private_names(m.tree)
    for m in mods.values():
        m.imports = imports_of(m, mods)
    return mods


def _absolute(m: Module, node: ast.ImportFrom) -> str | None:
    """The dotted module an ImportFrom reads from, without the package prefix, or None if outside."""
    if node.level == 0:
        mod = node.module or ""
        if mod != PACKAGE and not mod.startswith(PACKAGE + "."):
            return None
        return mod[len(PACKAGE) + 1 :] or "__init__"
    here = [] if m.name == "__init__" else m.name.split(".")
    if m.path.name != "__init__.py":
        here = here[:-1]
    base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
    parts = base + (node.module.split(".") if node.module else [])
    return ".".join(parts) or "__init__"


def imports_of(m: Module, mods: dict[str, Module]) -> dict[str, int]:
    out: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        if target != m.name and target in mods:
            out.setdefault(target, line)

    for node in ast.walk(m.tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == PACKAGE or a.name.startswith(PACKAGE + "."):
                    add(a.name[len(PACKAGE) + 1 :] or "__init__", node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(m, node)
            if base is None:
                continue
            for a in node.names:
                sub = a.name if base == "__init__" else f"{base}.{a.name}"
                add(sub if sub in mods else base, node.lineno)
    return out


def owned_private_names(tree: ast.Module) -> set[str]:
    """Private names a module defines: defs, classes, module/class-level names, `self._x = ...`,
    `__slots__` entries, dataclass fields and `setattr(self, "_x", ...)`."""
    owns: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            owns.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            owns.add(node.id)
        elif isinstance(node, ast.alias):
            owns.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                owns.add(node.attr)
        elif isinstance(node, ast.Call) and _setattr_name(node, on_self=True):
            owns.add(_setattr_name(node, on_self=True))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            owns.update(
                c.value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
    return {n for n in owns if is_private(n)}


def _setattr_name(node: ast.Call, on_self: bool) -> str:
    """The private attribute name of getattr/setattr/hasattr/object.__setattr__ calls, or ''."""
    f = node.func
    fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    if (
        fname not in ("getattr", "setattr", "hasattr", "__setattr__", "delattr")
        or len(node.args) < 2
    ):
        return ""
    target, attr = node.args[0], node.args[1]
    if not (
        isinstance(attr, ast.Constant) and isinstance(attr.value, str) and is_private(attr.value)
    ):
        return ""
    self_target = isinstance(target, ast.Name) and target.id in ("self", "cls")
    return attr.value if self_target == on_self else ""


# ---- the drawing -----------------------------------------------------------------------------


def read_layers(doc: Path) -> list[tuple[int, str, int, list[str]]]:
    """(rank, layer name, group, patterns) from the ```layers block, drawn top to bottom."""
    m = re.search(r"^```layers\n(.*?)^```", doc.read_text(), re.M | re.S)
    if not m:
        raise SystemExit(f"{doc}: no ```layers block")
    rows = [
        line
        for line in m.group(1).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    out = []
    for i, line in enumerate(rows):
        rank = len(rows) - 1 - i
        for g, part in enumerate(line.split("|")):
            words = part.replace("·", " ").split()
            out.append((rank, words[0], g, words[1:]))
    return out


def place(
    mods: dict[str, Module], layers: list[tuple[int, str, int, list[str]]]
) -> dict[str, Layer]:
    """Each module's layer: an exact name wins over `pkg/*`, a longer prefix over a shorter one."""
    placed: dict[str, tuple[int, Layer]] = {}
    for rank, name, group, patterns in layers:
        for pat in patterns:
            dotted = pat.replace("/", ".")
            for mod in mods:
                exact = mod == dotted
                if exact or (
                    dotted.endswith(".*") and (mod == dotted[:-2] or fnmatch.fnmatch(mod, dotted))
                ):
                    weight = 10_000 if exact else len(dotted)
                    if mod not in placed or placed[mod][0] < weight:
                        placed[mod] = (weight, Layer(rank, name, group))
    return {mod: layer for mod, (_, layer) in placed.items()}


# ---- the checks ------------------------------------------------------------------------------


def layer_findings(mods: dict[str, Module], where: dict[str, Layer]) -> list[str]:
    out = [f"unplaced: {name} is in no layer of the drawing" for name in mods if name not in where]
    for m in mods.values():
        a = where.get(m.name)
        for dep in m.imports:
            b = where.get(dep)
            if a is None or b is None:
                continue
            if b.rank > a.rank:
                out.append(f"upward: {m.name} ({a.name}) imports {dep} ({b.name})")
            elif b.rank == a.rank and b.group != a.group:
                out.append(
                    f"sideways: {m.name} ({a.name}) imports {dep} ({b.name}), an independent neighbour"
                )
    return out


def cycles(mods: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(mods[v].imports):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(mods):
        if v not in index:
            visit(v)
    return [_closed_path(mods, c) for c in comps]


def _closed_path(mods: dict[str, Module], comp: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, for a readable finding."""
    start, inside = comp[0], set(comp)
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(mods[v].imports):
                if w not in inside or w in prev:
                    continue
                prev[w] = v
                if w == start:
                    path = [start]
                    while path[-1] != start or len(path) == 1:
                        path.append(prev[path[-1]])
                    return path[::-1]
                nxt.append(w)
        frontier = nxt
    return comp


def private_findings(mods: dict[str, Module]) -> list[str]:
    owners: dict[str, list[str]] = {}
    for m in mods.values():
        for n in m.owns:
            owners.setdefault(n, []).append(m.name)
    out: set[str] = set()
    for m in mods.values():
        module_names = _module_aliases(m, mods)
        typing_only = _annotation_nodes(m.tree)
        for node in ast.walk(m.tree):
            if isinstance(node, ast.ImportFrom) and _absolute(m, node) is not None:
                base = _absolute(m, node)
                for a in node.names:
                    if is_private(a.name):
                        out.add(f"private: {m.name} imports {a.name} from {base}")
            elif isinstance(node, ast.Attribute) and is_private(node.attr):
                v = node.value
                if isinstance(v, ast.Name) and v.id in module_names:
                    out.add(f"private: {m.name} uses {module_names[v.id]}.{node.attr}")
                else:
                    _foreign(m, node.attr, owners, out, id(node) in typing_only)
            elif isinstance(node, ast.Call) and _setattr_name(node, on_self=False):
                _foreign(m, _setattr_name(node, on_self=False), owners, out, False)
    return sorted(out)


def _foreign(
    m: Module, attr: str, owners: dict[str, list[str]], out: set[str], annotation: bool
) -> None:
    """`attr` used in `m` but defined only elsewhere. A library's private type named in an annotation
    is left alone (logsvc's modules use `from __future__ import annotations`: it is never evaluated)."""
    if attr in m.owns or attr in PUBLIC_UNDERSCORE:
        return
    if attr in owners:
        out.add(f"private: {m.name} uses {attr} (defined in {', '.join(sorted(owners[attr]))})")
    elif not annotation:
        out.add(f"private: {m.name} uses {attr} of an object no logsvc module owns")


def _annotation_nodes(tree: ast.Module) -> set[int]:
    """ids of every node inside an annotation (arguments, returns, annotated assignments)."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            roots.append(node.returns)
    return {id(n) for r in roots for n in ast.walk(r)}


def _module_aliases(m: Module, mods: dict[str, Module]) -> dict[str, str]:
    """Local names bound to logsvc modules by imports: `import logsvc.x as y`, `from logsvc import x`."""
    out: dict[str, str] = {}
    for node in ast.walk(m.tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PACKAGE + ".") and a.asname:
                    out[a.asname] = a.name[len(PACKAGE) + 1 :]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(m, node)
            if base is None:
                continue
            for a in node.names:
                sub = a.name if base == "__init__" else f"{base}.{a.name}"
                if sub in mods:
                    out[a.asname or a.name] = sub
    return out


def check(
    root: Path, doc: Path, allowed: set[str] = ALLOWED
) -> tuple[dict[str, Module], dict[str, Layer], list[str]]:
    """The graph, each module's layer and every finding not allowed, then allow-list entries that no
    longer match anything (so the list shrinks as the code is fixed)."""
    mods = load(root)
    where = place(mods, read_layers(doc))
    found = layer_findings(mods, where)
    found += ["cycle: " + " -> ".join(c) for c in cycles(mods)]
    found += private_findings(mods)
    stale = [f"stale allow-list entry, remove it from ALLOWED: {a}" for a in allowed - set(found)]
    return mods, where, sorted(set(found) - allowed) + sorted(stale)


# ---- output ----------------------------------------------------------------------------------


def text(mods: dict[str, Module], where: dict[str, Layer]) -> str:
    lines = []
    order = sorted(
        mods,
        key=lambda n: (
            -where[n].rank if n in where else 1,
            where.get(n, Layer(0, "?", 0)).group,
            n,
        ),
    )
    current = None
    for n in order:
        lay = where.get(n)
        key = (lay.rank, lay.name) if lay else None
        if key != current:
            current = key
            lines.append(f"[{lay.name if lay else 'unplaced'}]")
        lines.append(f"  {n} -> {' '.join(sorted(mods[n].imports)) or '-'}")
    return "\n".join(lines)


def dot(mods: dict[str, Module], where: dict[str, Layer]) -> str:
    lines = ["digraph logsvc {", "  rankdir=BT; node [shape=box, fontsize=10];"]
    by_layer: dict[str, list[str]] = {}
    for n in mods:
        by_layer.setdefault(where[n].name if n in where else "unplaced", []).append(n)
    for i, (name, members) in enumerate(sorted(by_layer.items())):
        lines.append(
            f'  subgraph cluster_{i} {{ label="{name}"; '
            + " ".join(f'"{n}";' for n in sorted(members))
            + " }"
        )
    for m in sorted(mods):
        for d in sorted(mods[m].imports):
            lines.append(f'  "{m}" -> "{d}";')
    lines.append("}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parents[1], help="the repository"
    )
    ap.add_argument("--dot", action="store_true", help="print Graphviz instead of text")
    ap.add_argument(
        "--strict", action="store_true", help="ignore the allow-list: everything left to fix"
    )
    args = ap.parse_args(argv)
    mods, where, found = check(
        args.root, args.root / "ARCHITECTURE.md", set() if args.strict else ALLOWED
    )
    print(dot(mods, where) if args.dot else text(mods, where))
    for f in found:
        print(f, file=sys.stderr)
    if found:
        print(f"{len(found)} finding(s)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
