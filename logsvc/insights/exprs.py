"""Turns expression ASTs into closures `f(row, env) -> Value`, resolving functions at compile time.

Owns where a function may appear and how it is called: scalar functions come from
`functions.lookup_function` (arity and `check` run here, so a bad call is a QueryError at its
column), aggregates from `aggregates.lookup_aggregate` and only inside `stats`. Value semantics
(comparison, arithmetic, `like`, truth) belong to `values.py`; this module only wires them.

`env` is the query's `values.EvalContext`; functions that read context (`bin`, `now()`) get it as
their first argument after the engine has set `env.timestamp` to the row's `@timestamp`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import re2

from . import values
from .aggregates import lookup_aggregate
from .errors import QueryError
from .functions import Arg, lookup_function
from .parser import Binary, Call, Field, In, Index, ListLit, Literal, Logic, Match, Star, Unary

Closure = Callable[[Mapping[str, Any], Any], Any]

MAX_REGEX_PROGRAM = 20_000  # RE2 instructions per regex literal: bounds memory and per-row cost


def _regex_options() -> re2.Options:
    opts = re2.Options()
    opts.log_errors = False
    opts.max_mem = 32 << 20
    return opts


_RE2_OPTIONS = _regex_options()


def compile_regex(lit: Literal) -> Any:
    """An RE2 regex for a `/.../` literal; `(?<name>...)` groups are RE2 syntax as they are.

    :raises QueryError: RE2 rejects the regex, or it is too large.
    """
    try:
        rx = re2.compile(lit.value, _RE2_OPTIONS)
    except re2.error as e:
        reason = e.args[0] if e.args else "rejected by RE2"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise QueryError(f"invalid regular expression: {reason}", lit.start, lit.end) from None
    if rx.programsize > MAX_REGEX_PROGRAM:
        raise QueryError("the regular expression is too large", lit.start, lit.end)
    return rx


def lookup_path(row: Mapping[str, Any], name: str, segments: tuple[str, ...]) -> Any:
    """A field by its dotted name, else by descending a map/list (from `jsonParse`) along the path."""
    v = row.get(name)
    if v is not None or len(segments) == 1:
        return v
    for i in range(len(segments) - 1, 0, -1):
        base = row.get(".".join(segments[:i]))
        if isinstance(base, (dict, list)):
            for seg in segments[i:]:
                base = _child(base, seg)
                if base is None:
                    return None
            return base
    return None


def _child(v: Any, key: Any) -> Any:
    if isinstance(v, dict):
        return v.get(key if isinstance(key, str) else values.render(key))
    if isinstance(v, list):
        n = values.to_number(key)
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        if isinstance(n, int) and not isinstance(n, bool) and 0 <= n < len(v):
            return v[n]
    return None


@dataclass
class AggregateSlot:
    """One aggregate call inside a `stats` item: made fresh per group by `make()`."""

    aggregate: Any  # aggregates.Aggregate
    args: list[Closure]  # per-row arguments (empty for count(*))
    consts: tuple  # trailing constant arguments (pct's p)
    name: str

    def make(self) -> Any:
        return self.aggregate.make(self.consts)


@dataclass
class Scope:
    """Where an expression sits: decides what names mean and which calls are allowed.

    `aggregates` is the list a stats item appends its aggregate calls to (None outside stats);
    `post` names, when set, are the only fields a stats item may use outside an aggregate
    (earlier aliases and group keys); `known`, after a stats, the fields rows still have.
    """

    aggregates: list[AggregateSlot] | None = None
    post: set[str] | None = None
    in_aggregate: bool = False
    bin_allowed: bool = True
    known: set[str] | None = None  # after a stats/pattern/diff: the only fields that exist
    known_after: str = "stats"  # the command that made `known`

    def check_known(self, node: Field) -> None:
        if (
            self.known is not None
            and node.name not in self.known
            and node.segments[0] not in self.known
        ):
            have = ", ".join(sorted(self.known)) or "none"
            raise QueryError(
                f"{node.name} does not exist after {self.known_after} (its fields: {have})",
                node.start,
                node.end,
            )


_NOT_CONST = object()


def _arg_info(node: Any, compiled_const: Any) -> Arg:
    if isinstance(node, Literal):
        return Arg(True, compiled_const, node.kind)
    if isinstance(node, ListLit):
        return Arg(
            compiled_const is not _NOT_CONST,
            None if compiled_const is _NOT_CONST else compiled_const,
            "list",
        )
    if isinstance(node, Field):
        return Arg(False, None, "field")
    if isinstance(node, Star):
        return Arg(False, None, "star")
    return Arg(False, None, "expr")


def const_value(node: Any) -> Any:
    """The value of a literal (regexes compiled), or `_NOT_CONST`."""
    if isinstance(node, Literal):
        return compile_regex(node) if node.kind == "regex" else node.value
    if isinstance(node, ListLit):
        items = [const_value(i) for i in node.items]
        return _NOT_CONST if any(i is _NOT_CONST for i in items) else items
    return _NOT_CONST


def compile_expr(node: Any, scope: Scope) -> Closure:
    """A closure computing `node` for a row.

    :raises QueryError: an unknown function, a wrong argument, or an aggregate out of place.
    """
    if isinstance(node, (Literal, ListLit)):
        value = const_value(node)
        if value is not _NOT_CONST:
            return lambda row, env: value
        items = [compile_expr(i, scope) for i in node.items]
        return lambda row, env: [f(row, env) for f in items]
    if isinstance(node, Field):
        return _compile_field(node, scope)
    if isinstance(node, Star):
        raise QueryError("'*' is only allowed as count(*)", node.start, node.end)
    if isinstance(node, Unary):
        inner = compile_expr(node.operand, scope)
        if node.op == "not":
            truthy = values.truthy
            return lambda row, env: not truthy(inner(row, env))
        negate = values.negate
        return lambda row, env: negate(inner(row, env))
    if isinstance(node, Binary):
        return _compile_binary(node, scope)
    if isinstance(node, Logic):
        return _compile_logic(node, scope)
    if isinstance(node, Match):
        return _compile_match(node, scope)
    if isinstance(node, In):
        left = compile_expr(node.left, scope)
        items = compile_expr(node.items, scope)
        in_list, negate = values.in_list, node.negate
        return lambda row, env: in_list(left(row, env), items(row, env), negate)
    if isinstance(node, Index):
        target = compile_expr(node.target, scope)
        index = compile_expr(node.index, scope)
        return lambda row, env: _child(target(row, env), index(row, env))
    if isinstance(node, Call):
        return _compile_call(node, scope)
    raise AssertionError(f"unknown node {node!r}")


def _compile_field(node: Field, scope: Scope) -> Closure:
    name, segments = node.name, node.segments
    if scope.post is not None and not scope.in_aggregate:
        if name not in scope.post:
            raise QueryError(
                f"{name} must be inside an aggregate function such as count() or max(), "
                "or be a group key or an earlier alias of this stats",
                node.start,
                node.end,
            )
    else:
        scope.check_known(node)
    if len(segments) == 1:
        return lambda row, env: row.get(name)
    return lambda row, env: lookup_path(row, name, segments)


def _compile_binary(node: Binary, scope: Scope) -> Closure:
    left = compile_expr(node.left, scope)
    right = compile_expr(node.right, scope)
    op = node.op
    if op in ("=", "!=", "<", "<=", ">", ">="):
        compare_op = values.compare_op
        return lambda row, env: compare_op(op, left(row, env), right(row, env))
    arith = values.arith
    return lambda row, env: arith(op, left(row, env), right(row, env))


def _compile_logic(node: Logic, scope: Scope) -> Closure:
    parts = [compile_expr(x, scope) for x in node.operands]
    truthy = values.truthy
    if len(parts) == 2:
        a, b = parts
        if node.op == "and":
            return lambda row, env: truthy(a(row, env)) and truthy(b(row, env))
        return lambda row, env: truthy(a(row, env)) or truthy(b(row, env))
    want = node.op == "or"  # the value that decides the chain

    def chain(row: Mapping[str, Any], env: Any) -> bool:
        for f in parts:
            if truthy(f(row, env)) == want:
                return want
        return not want

    return chain


def _compile_match(node: Match, scope: Scope) -> Closure:
    left = compile_expr(node.left, scope)
    negate, like = node.negate, values.like
    if isinstance(node.right, Literal) and node.right.kind in ("string", "regex"):
        pattern = const_value(node.right)
        return lambda row, env: like(left(row, env), pattern, negate)
    right = compile_expr(node.right, scope)

    def dynamic(row: Mapping[str, Any], env: Any) -> bool:
        pattern = values.text_of(right(row, env))
        return like(left(row, env), pattern, negate)

    return dynamic


def _arity_message(what: str, name: str, lo: int, hi: int | None, got: int) -> str | None:
    if lo <= got and (hi is None or got <= hi):
        return None
    if hi is None:
        want = f"at least {lo}"
    elif lo == hi:
        want = str(lo)
    else:
        want = f"{lo} to {hi}"
    return f"{what} {name}() takes {want} argument{'' if want == '1' else 's'}, not {got}"


def _compile_call(node: Call, scope: Scope) -> Closure:
    agg = lookup_aggregate(node.name)
    if agg is not None:
        return _compile_aggregate(node, agg, scope)
    fn = lookup_function(node.name)
    if fn is None:
        raise QueryError(f"unknown function {node.name!r}", node.start, node.name_end)
    for a in node.args:
        if isinstance(a, Star):
            raise QueryError(f"'*' is not an argument of {fn.name}()", a.start, a.end)
    problem = _arity_message("function", fn.name, fn.min_args, fn.max_args, len(node.args))
    if problem:
        raise QueryError(problem, node.start, node.end)
    if "timestamp" in fn.needs and not scope.bin_allowed:
        raise QueryError(
            f"{fn.name}() reads @timestamp, which a second stats no longer has",
            node.start,
            node.end,
            hint="carry a time forward from the first stats, e.g. max(@timestamp) as t, then datefloor(t, 5m)",
        )
    consts = [const_value(a) for a in node.args]
    if fn.check is not None:
        problem = fn.check([_arg_info(a, c) for a, c in zip(node.args, consts, strict=True)])
        if problem:
            raise QueryError(f"{fn.name}(): {problem}", node.start, node.end)
    args = [compile_expr(a, scope) for a in node.args]
    impl = fn.impl
    if fn.needs:
        if len(args) == 1:
            a0 = args[0]
            return lambda row, env: impl(env, a0(row, env))
        return lambda row, env: impl(env, *[f(row, env) for f in args])
    if len(args) == 0:
        return lambda row, env: impl()
    if len(args) == 1:
        a0 = args[0]
        return lambda row, env: impl(a0(row, env))
    if len(args) == 2:
        a0, a1 = args
        return lambda row, env: impl(a0(row, env), a1(row, env))
    return lambda row, env: impl(*[f(row, env) for f in args])


def _compile_aggregate(node: Call, agg: Any, scope: Scope) -> Closure:
    if scope.in_aggregate:
        raise QueryError(
            f"{agg.name}() cannot be nested inside another aggregate", node.start, node.name_end
        )
    if scope.aggregates is None:
        raise QueryError(
            f"{agg.name}() is an aggregate function: use it in stats", node.start, node.name_end
        )
    args = list(node.args)
    star = len(args) == 0 or (len(args) == 1 and isinstance(args[0], Star))
    if star:
        if not agg.star:
            raise QueryError(
                f"{agg.name}() needs a field or an expression, not '*'", node.start, node.end
            )
        args = []
    else:
        for a in args:
            if isinstance(a, Star):
                raise QueryError(f"'*' is only allowed as {agg.name}(*)", a.start, a.end)
        problem = _arity_message("aggregate", agg.name, agg.min_args, agg.max_args, len(args))
        if problem:
            raise QueryError(problem, node.start, node.end)
    consts = [const_value(a) for a in args]
    if agg.check is not None:
        infos = [_arg_info(a, c) for a, c in zip(args, consts, strict=True)] or [
            _arg_info(Star(0, 0), None)
        ]
        problem = agg.check(infos)
        if problem:
            raise QueryError(f"{agg.name}(): {problem}", node.start, node.end)
    n_const = agg.const_args if not star else 0
    row_args, const_args = args[: len(args) - n_const], args[len(args) - n_const :]
    for a, c in zip(const_args, consts[len(args) - n_const :], strict=True):
        if c is _NOT_CONST:
            raise QueryError(f"this argument of {agg.name}() must be a constant", a.start, a.end)
    inner = replace(scope, in_aggregate=True, post=None)
    slot = AggregateSlot(
        agg,
        [compile_expr(a, inner) for a in row_args],
        tuple(consts[len(args) - n_const :]),
        f"\0agg{len(scope.aggregates)}",
    )
    scope.aggregates.append(slot)
    key = slot.name
    return lambda row, env: row.get(key)
