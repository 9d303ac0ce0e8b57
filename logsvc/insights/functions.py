"""Logs Insights scalar functions: the registry the parser checks and the engine calls. Pure.

Owns every non-aggregate function of reference §4 (numeric, conversion, general, string, datetime,
IP, JSON): its canonical name, arity, compile-time argument check and run-time implementation.
Never parses queries and never reads rows: the engine evaluates the arguments and calls
`FUNCTIONS[name.lower()].impl(*values)` (with the EvalContext first when `needs` is not empty).
Lookups are case-insensitive (`isPresent` = `ispresent`, `FROMMILLIS` = `fromMillis`).

Run time never raises: bad data gives None (an empty cell). Compile time: `check(args)` returns a
message such as "pct's second argument must be a number from 0 to 100" (the engine turns it into
a QueryError at the call's column), or None. Every function also gets a generic check: a regex
(`/.../`), a period (`5m`), `*` or an array literal is refused where the function does not take one.

Decisions (AWS's documentation is terse; each is the most plausible reading, verify when possible):

* **Missing and structured inputs.** A missing argument (None) gives None, except for the type
  tests that answer for it: `ispresent` (false), `isempty`/`isblank` (true), `isNumeric`,
  `isValidIp*` (false), `coalesce`, `case`, `if`, `concat`. Lists and maps are null for string,
  number and date functions (AWS documents this). Numbers and timestamps given to a string function
  are used in their rendered form (`strlen(@timestamp)` is 23).
* **Predicates** (`isempty`, `strcontains`, `startsWith`, `isIpInSubnet`, `jsonArrayContains`, ...)
  return booleans, which render `1`/`0` as AWS documents; a present but malformed input (an invalid
  IP, a non-array) is false, not None.
* **Numbers** follow values.py's long/double model (a long renders `891`, a double `891.0`).
  `abs`, `ceil`, `floor` keep their argument's type: a long stays a long, a double gives a double
  (`ceil(890.75)` = `891.0`, as Java's Math.ceil); numeric text counts as the long or double it
  spells. `log` (natural, of a positive number), `sqrt` (of a non-negative one) and `haversine`
  give doubles (`sqrt(16)` = `4.0`). `greatest`/`least` ignore non-numeric arguments; the result is
  a double when any numeric argument is a double, else a long (Java's Math.max promotes), and a
  winning Timestamp stays a Timestamp. `round(a[, d])` rounds half away from zero on the decimal
  digits as written (`round(2.675, 2)` = 2.68), `d` from -15 to 15: without `d` (or `d` = 0) it
  gives a long (Java's Math.round), with another `d` it keeps a's type (`round(2.5, 1)` = `2.5`,
  `round(1250, -2)` = `1300`, `round(1250.0, -2)` = `1300.0`). `haversine(lat1, lon1, lat2, lon2)`
  is the great-circle distance in km on a sphere of radius 6371 km. `toInt`/`toLong` truncate
  toward zero (Java's cast) and give a long, None outside 32/64 bits; `toDouble` gives a double;
  `toNumber` gives the long or double the text spells (`"5"` -> `5`, `"5.0"` -> `5.0`).
* **Strings.** `concat` skips missing arguments (None only when all are missing). `trim`s with a
  second argument strip any of its characters (the reference's examples). `substr(s, start[, len])`
  is 0-based; a negative start counts as 0, a negative length gives "". `replace` replaces every
  occurrence (an empty search string changes nothing). `regexReplace(s, re, repl)` is RE2, every
  match; in `repl`, `$1`/`${1}`/`${name}` and `\\1` insert groups and `$$` is a dollar.
  `strcontains(s, sub, ci)` is case-insensitive when `ci` is true. `urlencode` percent-encodes
  everything but `A-Za-z0-9-_.~` (RFC 3986, space -> `%20`); `urldecode` decodes `%XX` and `+` as a
  space, None for invalid UTF-8. `base64encode`/`base64decode` use the standard alphabet with
  padding (decoding also accepts missing padding and the URL-safe alphabet; the bytes must be
  UTF-8). `split(s, delim)` gives a list (an empty delimiter gives None). `hexToAscii` takes an
  even number of hex digits (optional `0x`) spelling UTF-8 text; `hexToDec` takes `[-][0x]hex`;
  `decToHex` truncates to an integer and writes `0xff` / `-0xff`. No string result may exceed
  values.MAX_STRING characters (None instead): `concat`/`replace` nesting cannot double without
  bound.
* **Datetime.** `bin`, `datefloor`, `dateceil` and `fromMillis` give Timestamps (flooring rules in
  values.py); `datefloor`/`dateceil`/`toMillis` accept a Timestamp, epoch ms or an ISO-8601 string
  (`2024-05-19T06:10:16.682Z`, no zone = UTC). `now()` is the query's start in epoch **seconds**;
  `queryStartTime()`/`queryEndTime()` are the window's bounds in epoch ms and `queryTimeRange()`
  their difference. `parseDate(s, pattern[, tz])` gives epoch ms (a number); `formatDate`/`strftime`
  give a string. Both take an optional time zone (IANA name such as `America/New_York`, `UTC`, or an
  offset `+05:30`), used when the text carries none; default UTC.
  `parseDate` patterns (Java DateTimeFormatter, a subset): `y`/`u` year (`yy` = 2000-2099), `M`/`L`
  month (`M`, `MM`, `MMM` Jan, `MMMM` January; names in English, any case), `d` day, `D` day of
  year, `H` 0-23, `k` 1-24, `h` 1-12, `K` 0-11, `a` AM/PM, `m` minute, `s` second, `S`...
  fraction (as many digits as letters, kept to ms), `E` day name (read, ignored), `X`/`x`/`Z`
  offsets (`Z`, `+05`, `+0530`, `+05:30`), `z`/`VV` zone (`UTC`, `GMT`, an IANA name),
  `'literal'`, `''` a quote, `[...]` an optional section; other letters are refused at compile
  time. The whole text must match. Missing fields default to 1970-01-01 00:00:00.000.
  `formatDate` directives (strftime): `%Y %y %m %d %e %j %H %I %M %S %L`(ms) `%f`(us) `%p %a %A %b
  %h %B %u %w %Z %z %s %F %T %D %R %c %n %t %%`; others are refused at compile time.
* **IP.** Python's `ipaddress`: IPv4 dotted quads without leading zeros, IPv6 any textual form.
  `isIpInSubnet` is true when both parse, have the same version and the network contains the
  address (host bits in the CIDR are ignored). `isPrivateIP`: RFC 1918 (10/8, 172.16/12,
  192.168/16) and IPv6 unique-local fc00::/7. `isPublicIP`: globally routable per IANA's
  special-purpose registries (Python's `is_global`). `isReservedIP`: valid and neither private nor
  public (loopback, link-local, multicast, documentation, 100.64/10, 240/4, ...); multicast is never public.
  `ipv4ToNumber("1.2.3.4")` = 16909060.
* **JSON.** `jsonParse(s)` gives a map or list, None when `s` is not a JSON object/array (NaN and
  Infinity are not JSON); `jsonStringify(v)` writes compact JSON of any value; `jsonArraySize(f)`
  counts a list or JSON-array string; `jsonArrayContains(f, v)` is `=` against each element,
  false when `f` is not an array.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import math
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import re2

from . import values as V
from .values import EvalContext, Period, Timestamp, Value


@dataclass(frozen=True)
class Arg:
    """What `check` knows of one argument at compile time.

    const: the argument is a literal; value: its value then (a compiled RE2 regex for kind "regex",
    a values.Period for "period", a list for "list"), else None; kind: one of "string", "number",
    "period", "regex", "field", "expr", "star", "list".
    """

    const: bool
    value: Value | Any
    kind: str


@dataclass(frozen=True)
class Function:
    name: str  # canonical spelling, e.g. "fromMillis"
    min_args: int
    max_args: int | None  # None = variadic
    impl: Callable[..., Value]  # impl(*evaluated_args) -> Value; impl(ctx, *args) when `needs`
    check: Callable[[list[Arg]], str | None] | None = (
        None  # compile time: a message, or None if fine
    )
    needs: frozenset[str] = field(
        default_factory=frozenset
    )  # {"timestamp"} for bin, {"query"} for now()


FUNCTIONS: dict[str, Function] = {}

_SPECIAL_KINDS = ("regex", "period", "star", "list")
_KIND_WORDS = {
    "regex": "a regex (/.../)",
    "period": "a time period (such as 5m)",
    "star": "*",
    "list": "an array ([...])",
}
_ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
]


def ordinal(i: int) -> str:
    """'first', 'second', ... for argument position i (0-based), as used in check messages."""
    return _ORDINALS[i] if i < len(_ORDINALS) else f"#{i + 1}"


def lookup_function(name: str) -> Function | None:
    """The function called `name` (any case), or None."""
    return FUNCTIONS.get(name.lower())


def _safe(fn: Callable[..., Value]) -> Callable[..., Value]:
    """Run-time guard: whatever the data, a function returns a value or None, never raises."""

    @functools.wraps(fn)
    def guarded(*args: Any) -> Value:
        try:
            return fn(*args)
        except (
            ArithmeticError,
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            AttributeError,
            UnicodeError,
            RecursionError,
            re2.error,
        ):
            return None

    return guarded


def _register(
    name: str,
    min_args: int,
    max_args: int | None,
    *,
    check: Callable[[list[Arg]], str | None] | None = None,
    needs: frozenset[str] = frozenset(),
    accepts: dict[int, tuple[str, ...]] | None = None,
    aliases: tuple[str, ...] = (),
) -> Callable[[Callable[..., Value]], Callable[..., Value]]:
    """Decorator: register `fn` as the function `name` (and `aliases`).

    accepts: argument position -> the special kinds ("regex", "period", ...) allowed there.
    """
    allowed = accepts or {}

    def combined(args: list[Arg]) -> str | None:
        for i, a in enumerate(args):
            if a.kind in _SPECIAL_KINDS and a.kind not in allowed.get(i, ()):
                return f"{name}'s {ordinal(i)} argument cannot be {_KIND_WORDS[a.kind]}"
        return check(args) if check else None

    def deco(fn: Callable[..., Value]) -> Callable[..., Value]:
        for spelling in (name, *aliases):
            FUNCTIONS[spelling.lower()] = Function(
                spelling, min_args, max_args, _safe(fn), combined, needs
            )
        return fn

    return deco


# ---------------------------------------------------------------------------------------------
# helpers


def _num(v: Value) -> int | float | None:
    return V.to_number(v)


def _int(v: Value) -> int | None:
    """`v` as an integer, truncated toward zero; None if not numeric."""
    n = V.to_number(v)
    if n is None:
        return None
    return int(n)


def _text(v: Value) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, int, float)):
        return V.render(v)
    return None


def _check_const_number(
    args: list[Arg],
    i: int,
    fname: str,
    what: str,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
) -> str | None:
    if i >= len(args):
        return None
    a = args[i]
    if not a.const:
        return None
    n = V.to_number(a.value) if a.kind in ("number", "string") else None
    if (
        n is None
        or isinstance(a.value, bool)
        or (integer and n != int(n))
        or (lo is not None and n < lo)
        or (hi is not None and n > hi)
    ):
        return f"{fname}'s {ordinal(i)} argument must be {what}"
    return None


def _period_arg(args: list[Arg], i: int, fname: str) -> str | None:
    if i < len(args) and args[i].kind != "period":
        return f"{fname}'s {ordinal(i)} argument must be a time period such as 5m or 1h"
    return None


# ---------------------------------------------------------------------------------------------
# numeric


@_register("abs", 1, 1)
def _abs(a: Value) -> Value:
    n = _num(a)
    return None if n is None else V.bounded(abs(n))


@_register("ceil", 1, 1)
def _ceil(a: Value) -> Value:
    n = _num(a)
    if n is None:
        return None
    return V.bounded(math.ceil(n)) if isinstance(n, int) else V.bounded(float(math.ceil(n)))


@_register("floor", 1, 1)
def _floor(a: Value) -> Value:
    n = _num(a)
    if n is None:
        return None
    return V.bounded(math.floor(n)) if isinstance(n, int) else V.bounded(float(math.floor(n)))


def _extreme(args: tuple[Value, ...], pick: Callable[[float, float], bool]) -> Value:
    best: Value = None
    best_n: int | float | None = None
    doubles = False
    for a in args:
        n = _num(a)
        if n is None:
            continue
        doubles = doubles or isinstance(n, float)
        if best_n is None or pick(n, best_n):
            best, best_n = a, n
    if best is None or isinstance(best, Timestamp):
        return best
    return V.bounded(float(best_n)) if doubles else best_n


@_register("greatest", 1, None)
def _greatest(*args: Value) -> Value:
    return _extreme(args, lambda n, b: n > b)


@_register("least", 1, None)
def _least(*args: Value) -> Value:
    return _extreme(args, lambda n, b: n < b)


@_register("log", 1, 1)
def _log(a: Value) -> Value:
    n = _num(a)
    return math.log(n) if n is not None and n > 0 else None


@_register("sqrt", 1, 1)
def _sqrt(a: Value) -> Value:
    n = _num(a)
    return math.sqrt(n) if n is not None and n >= 0 else None


def _check_round(args: list[Arg]) -> str | None:
    return _check_const_number(args, 1, "round", "an integer from -15 to 15", -15, 15, integer=True)


@_register("round", 1, 2, check=_check_round)
def _round(a: Value, digits: Value = 0) -> Value:
    n = _num(a)
    d = _int(digits)
    if n is None or d is None or not -15 <= d <= 15:
        return None
    with localcontext() as dc:
        dc.prec = 400  # enough digits for any bounded number at 15 decimals (1e308 has 309)
        q = Decimal(repr(n) if isinstance(n, float) else n).quantize(
            Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP
        )
    if d == 0 or isinstance(n, int):
        return V.bounded(int(q))  # Math.round gives a long; a long rounded to d digits stays a long
    return V.bounded(float(q))


EARTH_RADIUS_KM = 6371.0


@_register("haversine", 4, 4)
def _haversine(lat1: Value, lon1: Value, lat2: Value, lon2: Value) -> Value:
    nums = [_num(x) for x in (lat1, lon1, lat2, lon2)]
    if any(x is None for x in nums):
        return None
    p1, l1, p2, l2 = (math.radians(float(x)) for x in nums)  # type: ignore[arg-type]
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# ---------------------------------------------------------------------------------------------
# conversion


@_register("toNumber", 1, 1)
def _to_number(a: Value) -> Value:
    return _num(a)


def _to_bits(a: Value, bits: int) -> Value:
    n = _num(a)
    if n is None:
        return None
    i = int(n)
    lim = 1 << (bits - 1)
    return i if -lim <= i < lim else None


@_register("toInt", 1, 1)
def _to_int(a: Value) -> Value:
    return _to_bits(a, 32)


@_register("toLong", 1, 1)
def _to_long(a: Value) -> Value:
    return _to_bits(a, 64)


@_register("toDouble", 1, 1)
def _to_double(a: Value) -> Value:
    n = _num(a)
    return None if n is None else float(n)


# ---------------------------------------------------------------------------------------------
# general


@_register("ispresent", 1, 1, aliases=())
def _ispresent(a: Value) -> Value:
    return a is not None


@_register("coalesce", 1, None)
def _coalesce(*args: Value) -> Value:
    for a in args:
        if a is not None:
            return a
    return None


MAX_CASE_BRANCHES = 10


def _check_case(args: list[Arg]) -> str | None:
    if len(args) < 2:
        return "case needs at least one condition and its value"
    if len(args) // 2 > MAX_CASE_BRANCHES:
        return f"case takes at most {MAX_CASE_BRANCHES} condition/value pairs"
    return None


@_register("case", 2, 2 * MAX_CASE_BRANCHES + 1, check=_check_case)
def _case(*args: Value) -> Value:
    for i in range(0, len(args) - 1, 2):
        if V.truthy(args[i]):
            return args[i + 1]
    return args[-1] if len(args) % 2 else None


@_register("if", 3, 3)
def _if(cond: Value, a: Value, b: Value) -> Value:
    return a if V.truthy(cond) else b


@_register("isNumeric", 1, 1)
def _is_numeric(a: Value) -> Value:
    if isinstance(a, bool):
        return False
    if isinstance(a, (int, float)):
        return True
    return isinstance(a, str) and V.parse_number(a) is not None


@_register("messageSize", 1, 1)
def _message_size(a: Value) -> Value:
    s = _text(a)
    return None if s is None else len(s.encode("utf-8", "surrogatepass"))


@_register("queryStartTime", 0, 0, needs=frozenset({"query"}))
def _query_start(ctx: EvalContext) -> Value:
    return int(ctx.query_start_ms)


@_register("queryEndTime", 0, 0, needs=frozenset({"query"}))
def _query_end(ctx: EvalContext) -> Value:
    return int(ctx.query_end_ms)


@_register("queryTimeRange", 0, 0, needs=frozenset({"query"}))
def _query_range(ctx: EvalContext) -> Value:
    return int(ctx.query_end_ms) - int(ctx.query_start_ms)


# ---------------------------------------------------------------------------------------------
# string


@_register("isempty", 1, 1)
def _isempty(a: Value) -> Value:
    return a is None or (isinstance(a, str) and a == "")


@_register("isblank", 1, 1)
def _isblank(a: Value) -> Value:
    return a is None or (isinstance(a, str) and a.strip() == "")


@_register("concat", 1, None)
def _concat(*args: Value) -> Value:
    parts = [t for t in (_text(a) for a in args) if t is not None]
    if not parts and all(a is None for a in args):
        return None
    if sum(len(p) for p in parts) > V.MAX_STRING:
        return None
    return "".join(parts)


def _trim(kind: str) -> Callable[..., Value]:
    def trim(s: Value, chars: Value = None) -> Value:
        t = _text(s)
        if t is None:
            return None
        c = None if chars is None else _text(chars)
        if chars is not None and c is None:
            return None
        return {"l": t.lstrip, "r": t.rstrip, "b": t.strip}[kind](c)

    return trim


_register("ltrim", 1, 2)(_trim("l"))
_register("rtrim", 1, 2)(_trim("r"))
_register("trim", 1, 2)(_trim("b"))


@_register("strlen", 1, 1)
def _strlen(s: Value) -> Value:
    t = _text(s)
    return None if t is None else len(t)


@_register("toupper", 1, 1)
def _toupper(s: Value) -> Value:
    t = _text(s)
    return None if t is None else V.cap_string(t.upper())


@_register("tolower", 1, 1)
def _tolower(s: Value) -> Value:
    t = _text(s)
    return None if t is None else V.cap_string(t.lower())


@_register("substr", 2, 3)
def _substr(s: Value, start: Value, length: Value = None) -> Value:
    t = _text(s)
    b = _int(start)
    if t is None or b is None:
        return None
    b = min(max(b, 0), len(t))
    if length is None:
        return t[b:]
    n = _int(length)
    if n is None:
        return None
    if n <= 0:
        return ""
    return t[b : b + min(n, len(t))]


@_register("replace", 3, 3)
def _replace(s: Value, search: Value, repl: Value) -> Value:
    t, a, b = _text(s), _text(search), _text(repl)
    if t is None or a is None or b is None:
        return None
    if a == "":
        return t
    count = t.count(a)
    if len(t) + count * (len(b) - len(a)) > V.MAX_STRING:
        return None
    return t.replace(a, b)


def _re2_options() -> Any:
    opts = re2.Options()
    opts.log_errors = False
    opts.max_mem = 32 << 20
    return opts


_RE2_OPTIONS = _re2_options()


@functools.lru_cache(maxsize=256)
def compile_regex(source: str) -> Any:
    """An RE2 regex for a pattern given as a string (`(?<name>...)` accepted); raises re2.error."""
    return re2.compile(source, _RE2_OPTIONS)


def re2_message(e: Exception) -> str:
    """The text of an re2.error (google-re2 carries it as bytes)."""
    msg = e.args[0] if e.args else str(e)
    return msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)


class _TooLong(Exception):
    pass


def _expand(template: str, match: Any, groupindex: dict[str, int], groups: int) -> str:
    """`repl` with `$1`, `${1}`, `${name}`, `\\1` replaced by the match's groups; `$$` is `$`."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c in "$\\" and i + 1 < n:
            nxt = template[i + 1]
            if c == "$" and nxt == "$":
                out.append("$")
                i += 2
                continue
            if c == "\\" and nxt == "\\":
                out.append("\\")
                i += 2
                continue
            if nxt in "0123456789":
                out.append((match.group(int(nxt)) or "") if int(nxt) <= groups else "")
                i += 2
                continue
            if c == "$" and nxt == "{":
                end = template.find("}", i + 2)
                if end > 0:
                    ref = template[i + 2 : end]
                    idx = (
                        int(ref)
                        if ref.isascii() and ref.isdigit() and len(ref) < 10
                        else groupindex.get(ref)
                    )
                    if idx is not None and idx <= groups:
                        out.append(match.group(idx) or "")
                    i = end + 1
                    continue
        out.append(c)
        i += 1
    return "".join(out)


def _check_regex_replace(args: list[Arg]) -> str | None:
    if len(args) > 1 and args[1].const and args[1].kind == "string":
        try:
            compile_regex(str(args[1].value))
        except re2.error as e:
            return f"regexReplace's second argument is not a valid regular expression: {re2_message(e)}"
    return None


@_register("regexReplace", 3, 3, check=_check_regex_replace, accepts={1: ("regex",)})
def _regex_replace(s: Value, pattern: Value, repl: Value) -> Value:
    t, r = _text(s), _text(repl)
    if t is None or r is None or pattern is None:
        return None
    rx = compile_regex(pattern) if isinstance(pattern, str) else pattern
    if not hasattr(rx, "sub"):
        return None
    t = V.SURROGATE.sub("\ufffd", t)
    groupindex, groups = dict(rx.groupindex), rx.groups
    budget = [V.MAX_STRING - len(t)]

    def sub(m: Any) -> str:
        piece = _expand(r, m, groupindex, groups)
        budget[0] -= len(piece)
        if budget[0] < 0:
            raise _TooLong
        return piece

    try:
        return V.cap_string(rx.sub(sub, t))
    except _TooLong:
        return None


@_register("strcontains", 2, 3)
def _strcontains(s: Value, sub: Value, ci: Value = False) -> Value:
    t, u = _text(s), _text(sub)
    if t is None or u is None:
        return None
    if V.truthy(ci):
        return u.casefold() in t.casefold()
    return u in t


@_register("startsWith", 2, 2)
def _starts_with(s: Value, p: Value) -> Value:
    t, u = _text(s), _text(p)
    return None if t is None or u is None else t.startswith(u)


@_register("endsWith", 2, 2)
def _ends_with(s: Value, p: Value) -> Value:
    t, u = _text(s), _text(p)
    return None if t is None or u is None else t.endswith(u)


@_register("urlencode", 1, 1)
def _urlencode(s: Value) -> Value:
    t = _text(s)
    return None if t is None else V.cap_string(urllib.parse.quote(t, safe="-_.~", errors="strict"))


@_register("urldecode", 1, 1)
def _urldecode(s: Value) -> Value:
    t = _text(s)
    return None if t is None else urllib.parse.unquote_plus(t, errors="strict")


@_register("base64encode", 1, 1)
def _b64encode(s: Value) -> Value:
    t = _text(s)
    return None if t is None else V.cap_string(base64.b64encode(t.encode("utf-8")).decode("ascii"))


@_register("base64decode", 1, 1)
def _b64decode(s: Value) -> Value:
    t = _text(s)
    if t is None:
        return None
    t = t.strip().replace("-", "+").replace("_", "/")
    t += "=" * (-len(t.rstrip("=")) % 4) if "=" not in t else ""
    try:
        raw = base64.b64decode(t, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return None
    return raw.decode("utf-8")


@_register("split", 2, 2)
def _split(s: Value, delim: Value) -> Value:
    t, d = _text(s), _text(delim)
    if t is None or not d:
        return None
    return t.split(d)


def _strip_hex_prefix(t: str) -> str:
    t = t.strip()
    return t[2:] if t[:2] in ("0x", "0X") else t


_HEX = frozenset("0123456789abcdefABCDEF")


@_register("hexToAscii", 1, 1)
def _hex_to_ascii(s: Value) -> Value:
    t = _text(s)
    if t is None:
        return None
    t = _strip_hex_prefix(t)
    if len(t) % 2 or not set(t) <= _HEX:
        return None
    return bytes.fromhex(t).decode("utf-8")


@_register("hexToDec", 1, 1)
def _hex_to_dec(s: Value) -> Value:
    t = _text(s)
    if t is None:
        return None
    t = t.strip()
    sign = -1 if t.startswith("-") else 1
    t = _strip_hex_prefix(t.lstrip("+-") if t[:1] in "+-" else t)
    if not t or len(t) > 64 or not set(t) <= _HEX:
        return None
    return V.bounded(sign * int(t, 16))


@_register("decToHex", 1, 1)
def _dec_to_hex(n: Value) -> Value:
    i = _int(n)
    return None if i is None else hex(i)


# ---------------------------------------------------------------------------------------------
# datetime


def _millis(v: Value) -> int | None:
    """Epoch ms from a Timestamp, a number, a numeric string or an ISO-8601 date string."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return int(v) if V.MIN_MS <= v <= V.MAX_MS else None
    if isinstance(v, str):
        n = V.parse_number(v)
        if n is not None:
            return int(n) if V.MIN_MS <= n <= V.MAX_MS else None
        return _iso_millis(v)
    return None


def _iso_millis(text: str) -> int | None:
    t = text.strip()
    if not 4 <= len(t) <= 64:
        return None
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - V.EPOCH) // timedelta(milliseconds=1)


def _check_bin(args: list[Arg]) -> str | None:
    return _period_arg(args, 0, "bin")


@_register("bin", 1, 1, check=_check_bin, needs=frozenset({"timestamp"}), accepts={0: ("period",)})
def _bin(ctx: EvalContext, period: Value) -> Value:
    if ctx.timestamp is None or not isinstance(period, Period):
        return None
    out = V.floor_to_period(ctx.timestamp, period)
    return None if out is None else Timestamp(out)


def _check_date_round(name: str) -> Callable[[list[Arg]], str | None]:
    return lambda args: _period_arg(args, 1, name)


@_register("datefloor", 2, 2, check=_check_date_round("datefloor"), accepts={1: ("period",)})
def _datefloor(ts: Value, period: Value) -> Value:
    ms = _millis(ts)
    if ms is None or not isinstance(period, Period):
        return None
    out = V.floor_to_period(ms, period)
    return None if out is None else Timestamp(out)


@_register("dateceil", 2, 2, check=_check_date_round("dateceil"), accepts={1: ("period",)})
def _dateceil(ts: Value, period: Value) -> Value:
    ms = _millis(ts)
    if ms is None or not isinstance(period, Period):
        return None
    out = V.ceil_to_period(ms, period)
    return None if out is None else Timestamp(out)


@_register("fromMillis", 1, 1)
def _from_millis(n: Value) -> Value:
    if isinstance(n, bool):
        return None
    x = _num(n)
    if x is None or not V.MIN_MS <= x <= V.MAX_MS:
        return None
    return Timestamp(int(x))


@_register("toMillis", 1, 1)
def _to_millis(ts: Value) -> Value:
    return _millis(ts)


@_register("now", 0, 0, needs=frozenset({"query"}))
def _now(ctx: EvalContext) -> Value:
    return int(ctx.now_ms) // 1000


# -- time zones


@functools.lru_cache(maxsize=128)
def parse_zone(name: str) -> Any:
    """A tzinfo for `UTC`/`GMT`/`Z`, an offset (`+05:30`, `-0800`, `+05`) or an IANA name; else None."""
    t = name.strip()
    if t.upper() in ("UTC", "GMT", "Z", "UT"):
        return UTC
    off = _parse_offset(t)
    if off is not None:
        return off
    if not t or len(t) > 64 or ".." in t or t.startswith("/"):
        return None
    try:
        import zoneinfo

        return zoneinfo.ZoneInfo(t)
    except Exception:  # any failure to find a zone (bad key, no tz database) means "no such zone"
        return None


def _parse_offset(t: str) -> timezone | None:
    for prefix in ("UTC", "GMT"):
        if t.upper().startswith(prefix) and len(t) > len(prefix):
            t = t[len(prefix) :]
    if len(t) < 2 or t[0] not in "+-":
        return None
    body = t[1:].replace(":", "")
    if not (body.isascii() and body.isdigit()) or len(body) not in (1, 2, 4):
        return None
    hours = int(body[:2]) if len(body) >= 2 else int(body)
    minutes = int(body[2:4]) if len(body) == 4 else 0
    if hours > 18 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if t[0] == "-" else delta)


def _check_zone(args: list[Arg], i: int, fname: str) -> str | None:
    if i < len(args) and args[i].const:
        if args[i].kind != "string" or parse_zone(str(args[i].value)) is None:
            return f"{fname}'s {ordinal(i)} argument must be a time zone such as UTC, +05:30 or America/New_York"
    return None


# -- parseDate: Java DateTimeFormatter patterns

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PARSE_DATE_LETTERS = "yuMLdDHkhKamsSEXxZzV"


class DatePatternError(ValueError):
    pass


@dataclass(frozen=True)
class _DateParser:
    regex: Any
    fields: tuple[tuple[str, str], ...]  # (group name, field kind)


def _java_pattern_parts(pattern: str) -> list[tuple[str, str]]:
    """Split a DateTimeFormatter pattern into ("letters", "yyyy") / ("lit", "-") / ("opt", "[") parts."""
    parts: list[tuple[str, str]] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            end = i + 1
            buf = []
            while True:
                if end >= n:
                    raise DatePatternError("an unterminated quote")
                if pattern[end] == "'":
                    if end + 1 < n and pattern[end + 1] == "'":
                        buf.append("'")
                        end += 2
                        continue
                    break
                buf.append(pattern[end])
                end += 1
            parts.append(("lit", "".join(buf) if buf or end > i + 1 else "'"))
            i = end + 1
        elif c in "[]":
            parts.append(("opt", c))
            i += 1
        elif c.isascii() and c.isalpha():
            j = i
            while j < n and pattern[j] == c:
                j += 1
            if c not in PARSE_DATE_LETTERS:
                raise DatePatternError(
                    f"the pattern letter '{c}', which is not supported (supported: {' '.join(PARSE_DATE_LETTERS)})"
                )
            parts.append(("letters", pattern[i:j]))
            i = j
        elif c in "{}#":
            raise DatePatternError(f"the reserved character '{c}'")
        else:
            parts.append(("lit", c))
            i += 1
    return parts


def _names_regex(names: list[str], short: bool) -> str:
    alts = sorted((nm[:3] if short else nm for nm in names), key=len, reverse=True)
    return "(?i:" + "|".join(alts) + ")"


@functools.lru_cache(maxsize=128)
def compile_date_pattern(pattern: str) -> _DateParser:
    """Compile a Java DateTimeFormatter pattern to an RE2 regex; raises DatePatternError."""
    if len(pattern) > 200:
        raise DatePatternError("a pattern longer than 200 characters")
    out: list[str] = []
    fields: list[tuple[str, str]] = []
    depth = 0
    for kind, text in _java_pattern_parts(pattern):
        if kind == "lit":
            out.append(re2.escape(text))
            continue
        if kind == "opt":
            if text == "[":
                depth += 1
                out.append("(?:")
            else:
                if depth == 0:
                    raise DatePatternError("a ']' without its '['")
                depth -= 1
                out.append(")?")
            continue
        c, w = text[0], len(text)
        g = f"g{len(fields)}"
        if (c in "yu" and w > 9) or (c == "D" and w > 3):
            raise DatePatternError(f"'{text}' (too many '{c}')")
        if c in "yu":
            rx, kind2 = (
                (r"\d{2}", "yy")
                if w == 2
                else ((r"[+-]?\d{" + str(w) + ",9}") if w > 2 else r"[+-]?\d{1,9}", "y")
            )
        elif c in "ML":
            if w >= 4:
                rx, kind2 = _names_regex(_MONTHS, False), "MMMM"
            elif w == 3:
                rx, kind2 = _names_regex(_MONTHS, True), "MMM"
            else:
                rx, kind2 = (r"\d{2}" if w == 2 else r"\d{1,2}"), "M"
        elif c in "dHkhKms":
            if w > 2:
                raise DatePatternError(f"'{text}' (at most two '{c}')")
            rx, kind2 = (r"\d{2}" if w == 2 else r"\d{1,2}"), c
        elif c == "D":
            rx, kind2 = r"\d{" + str(w) + ",3}", "D"
        elif c == "S":
            if w > 9:
                raise DatePatternError("more than nine 'S'")
            rx, kind2 = r"\d{" + str(w) + "}", "S"
        elif c == "a":
            rx, kind2 = "(?i:am|pm)", "a"
        elif c == "E":
            rx, kind2 = (_names_regex(_DAYS, False) if w >= 4 else _names_regex(_DAYS, True)), "E"
        elif c in "XxZ":
            rx, kind2 = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)", "offset"
        else:  # z, V
            rx, kind2 = r"(?:[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*)", "zone"
        out.append(f"(?P<{g}>{rx})")
        fields.append((g, kind2))
    if depth:
        raise DatePatternError("a '[' without its ']'")
    try:
        regex = re2.compile("".join(out), _RE2_OPTIONS)
    except re2.error as e:  # pragma: no cover - the pieces above are always valid
        raise DatePatternError(str(e)) from None
    return _DateParser(regex, tuple(fields))


def _check_parse_date(args: list[Arg]) -> str | None:
    if len(args) > 1 and args[1].const:
        if args[1].kind != "string":
            return (
                "parseDate's second argument must be a date pattern such as 'yyyy-MM-dd HH:mm:ss'"
            )
        try:
            compile_date_pattern(str(args[1].value))
        except DatePatternError as e:
            return f"parseDate's pattern has {e}"
    return _check_zone(args, 2, "parseDate")


def parse_date(text: str, pattern: str, zone: Any = UTC) -> int | None:
    """Epoch ms for `text` read with a Java DateTimeFormatter `pattern`; None if it does not match."""
    parser = compile_date_pattern(pattern)
    m = parser.regex.fullmatch(text)
    if m is None:
        return None
    year, month, day, doy = 1970, 1, 1, None
    hour = minute = second = 0
    frac_ms = 0
    pm: bool | None = None
    hour12 = False
    tz = zone
    for g, kind in parser.fields:
        s = m.group(g)
        if s is None:
            continue
        if kind == "y":
            year = int(s)
        elif kind == "yy":
            year = 2000 + int(s)
        elif kind == "M":
            month = int(s)
        elif kind in ("MMM", "MMMM"):
            low = s.lower()
            month = next(i for i, nm in enumerate(_MONTHS, 1) if nm.startswith(low[:3]))
        elif kind == "d":
            day = int(s)
        elif kind == "D":
            doy = int(s)
        elif kind == "H":
            hour = int(s)
        elif kind == "k":
            hour = int(s) % 24 if int(s) == 24 else int(s)
            if not 1 <= int(s) <= 24:
                return None
        elif kind == "h":
            if not 1 <= int(s) <= 12:
                return None
            hour, hour12 = int(s) % 12, True
        elif kind == "K":
            if int(s) > 11:
                return None
            hour, hour12 = int(s), True
        elif kind == "m":
            minute = int(s)
        elif kind == "s":
            second = int(s)
        elif kind == "S":
            frac_ms = int((s + "000")[:3])
        elif kind == "a":
            pm = s.lower() == "pm"
        elif kind in ("offset", "zone"):
            tz = parse_zone(s)
            if tz is None:
                return None
    if pm is not None and (hour12 or hour < 12):
        hour = hour % 12 + (12 if pm else 0)
    if not 1 <= year <= 9999:
        return None
    if doy is not None:
        base = datetime(year, 1, 1) + timedelta(days=doy - 1)
        if base.year != year:
            return None
        month, day = base.month, base.day
    local = datetime(year, month, day, hour, minute, second, frac_ms * 1000)
    aware = local.replace(tzinfo=tz)
    return (aware - V.EPOCH) // timedelta(milliseconds=1)


@_register("parseDate", 2, 3, check=_check_parse_date)
def _parse_date(s: Value, pattern: Value, tz: Value = None) -> Value:
    t, p = _text(s), _text(pattern)
    if t is None or p is None:
        return None
    zone = UTC
    if tz is not None:
        zone = parse_zone(_text(tz) or "")
        if zone is None:
            return None
    try:
        return parse_date(t, p, zone)
    except DatePatternError:
        return None


# -- formatDate / strftime

_ABBR_DAYS = [d[:3].title() for d in _DAYS]
STRFTIME_DIRECTIVES = "YymdejHIMSLfpaAbhBuwZzsFTDRcnt%"


def _check_format(name: str) -> Callable[[list[Arg]], str | None]:
    def check(args: list[Arg]) -> str | None:
        if len(args) > 1 and args[1].const:
            if args[1].kind != "string":
                return f"{name}'s second argument must be a format such as '%Y-%m-%d %H:%M:%S'"
            bad = _bad_directive(str(args[1].value))
            if bad is not None:
                return (
                    f"{name}'s format has the unsupported directive '%{bad}' "
                    f"(supported: {' '.join('%' + c for c in STRFTIME_DIRECTIVES)})"
                )
        return _check_zone(args, 2, name)

    return check


def _bad_directive(fmt: str) -> str | None:
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            if i + 1 >= len(fmt):
                return ""
            if fmt[i + 1] not in STRFTIME_DIRECTIVES:
                return fmt[i + 1]
            i += 2
        else:
            i += 1
    return None


def format_date(ms: int, fmt: str, zone: Any = UTC) -> str | None:
    """`fmt` (strftime directives listed in the module docstring) applied to epoch-ms `ms` in `zone`."""
    if _bad_directive(fmt) is not None or len(fmt) > 1000:
        return None
    dt = (V.EPOCH + timedelta(milliseconds=ms)).astimezone(zone)
    milli = ms % 1000
    out: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        d = fmt[i + 1]
        i += 2
        if d == "Y":
            out.append(f"{dt.year:04d}")
        elif d == "y":
            out.append(f"{dt.year % 100:02d}")
        elif d == "m":
            out.append(f"{dt.month:02d}")
        elif d == "d":
            out.append(f"{dt.day:02d}")
        elif d == "e":
            out.append(f"{dt.day:2d}")
        elif d == "j":
            out.append(f"{dt.timetuple().tm_yday:03d}")
        elif d == "H":
            out.append(f"{dt.hour:02d}")
        elif d == "I":
            out.append(f"{(dt.hour % 12) or 12:02d}")
        elif d == "M":
            out.append(f"{dt.minute:02d}")
        elif d == "S":
            out.append(f"{dt.second:02d}")
        elif d == "L":
            out.append(f"{milli:03d}")
        elif d == "f":
            out.append(f"{milli * 1000:06d}")
        elif d == "p":
            out.append("PM" if dt.hour >= 12 else "AM")
        elif d == "a":
            out.append(_ABBR_DAYS[dt.weekday()])
        elif d == "A":
            out.append(_DAYS[dt.weekday()].title())
        elif d in "bh":
            out.append(_MONTHS[dt.month - 1][:3].title())
        elif d == "B":
            out.append(_MONTHS[dt.month - 1].title())
        elif d == "u":
            out.append(str(dt.isoweekday()))
        elif d == "w":
            out.append(str(dt.isoweekday() % 7))
        elif d == "Z":
            out.append(dt.tzname() or "")
        elif d == "z":
            off = dt.utcoffset() or timedelta(0)
            mins = int(off.total_seconds() // 60)
            sign = "-" if mins < 0 else "+"
            out.append(f"{sign}{abs(mins) // 60:02d}{abs(mins) % 60:02d}")
        elif d == "s":
            out.append(str(ms // 1000))
        elif d == "F":
            out.append(f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}")
        elif d == "T":
            out.append(f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}")
        elif d == "D":
            out.append(f"{dt.month:02d}/{dt.day:02d}/{dt.year % 100:02d}")
        elif d == "R":
            out.append(f"{dt.hour:02d}:{dt.minute:02d}")
        elif d == "c":
            out.append(
                f"{_ABBR_DAYS[dt.weekday()]} {_MONTHS[dt.month - 1][:3].title()} {dt.day:2d} "
                f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} {dt.year:04d}"
            )
        elif d == "n":
            out.append("\n")
        elif d == "t":
            out.append("\t")
        else:  # "%"
            out.append("%")
    return "".join(out)


def _format_date(ts: Value, fmt: Value, tz: Value = None) -> Value:
    ms, f = _millis(ts), _text(fmt)
    if ms is None or f is None:
        return None
    zone = UTC
    if tz is not None:
        zone = parse_zone(_text(tz) or "")
        if zone is None:
            return None
    return format_date(ms, f, zone)


_register("formatDate", 2, 3, check=_check_format("formatDate"))(_format_date)
_register("strftime", 2, 3, check=_check_format("strftime"))(_format_date)


# ---------------------------------------------------------------------------------------------
# IP addresses


def _ip(v: Value) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    t = _text(v)
    if t is None or len(t) > 64:
        return None
    try:
        return ipaddress.ip_address(t.strip())
    except ValueError:
        return None


def _net(v: Value) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    t = _text(v)
    if t is None or len(t) > 64:
        return None
    try:
        return ipaddress.ip_network(t.strip(), strict=False)
    except ValueError:
        return None


@_register("isValidIp", 1, 1)
def _is_valid_ip(v: Value) -> Value:
    return _ip(v) is not None


@_register("isValidIpV4", 1, 1)
def _is_valid_ipv4(v: Value) -> Value:
    return isinstance(_ip(v), ipaddress.IPv4Address)


@_register("isValidIpV6", 1, 1)
def _is_valid_ipv6(v: Value) -> Value:
    return isinstance(_ip(v), ipaddress.IPv6Address)


def _check_subnet(name: str) -> Callable[[list[Arg]], str | None]:
    def check(args: list[Arg]) -> str | None:
        if len(args) > 1 and args[1].const and _net(args[1].value) is None:
            return f"{name}'s second argument must be a CIDR block such as 192.0.2.0/24 or 2001:db8::/32"
        return None

    return check


def _in_subnet(version: int | None) -> Callable[[Value, Value], Value]:
    def impl(ip: Value, cidr: Value) -> Value:
        if ip is None or cidr is None:
            return None
        a, n = _ip(ip), _net(cidr)
        if a is None or n is None or a.version != n.version:
            return False
        if version is not None and a.version != version:
            return False
        return a in n

    return impl


_register("isIpInSubnet", 2, 2, check=_check_subnet("isIpInSubnet"))(_in_subnet(None))
_register("isIpv4InSubnet", 2, 2, check=_check_subnet("isIpv4InSubnet"))(_in_subnet(4))
_register("isIpv6InSubnet", 2, 2, check=_check_subnet("isIpv6InSubnet"))(_in_subnet(6))


@_register("ipv4ToNumber", 1, 1)
def _ipv4_to_number(v: Value) -> Value:
    a = _ip(v)
    return int(a) if isinstance(a, ipaddress.IPv4Address) else None


_PRIVATE_NETS = [
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
]


def _private(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return any(a.version == n.version and a in n for n in _PRIVATE_NETS)


def _public(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a.is_global and not a.is_multicast and not _private(a)


@_register("isPrivateIP", 1, 1)
def _is_private_ip(v: Value) -> Value:
    if v is None:
        return None
    a = _ip(v)
    return a is not None and _private(a)


@_register("isPublicIP", 1, 1)
def _is_public_ip(v: Value) -> Value:
    if v is None:
        return None
    a = _ip(v)
    return a is not None and _public(a)


@_register("isReservedIP", 1, 1)
def _is_reserved_ip(v: Value) -> Value:
    if v is None:
        return None
    a = _ip(v)
    return a is not None and not _private(a) and not _public(a)


# ---------------------------------------------------------------------------------------------
# JSON


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_parse(text: str) -> list | dict | None:
    """The list or map a JSON text holds, or None (not JSON, not an object/array, too deep)."""
    if len(text) > V.MAX_STRING:
        return None
    try:
        out = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    return out if isinstance(out, (list, dict)) else None


@_register("jsonParse", 1, 1)
def _json_parse(s: Value) -> Value:
    if isinstance(s, (list, dict)):
        return s
    return json_parse(s) if isinstance(s, str) else None


@_register("jsonStringify", 1, 1)
def _json_stringify(v: Value) -> Value:
    if v is None:
        return None
    if isinstance(v, Timestamp):
        return json.dumps(V.render(v))
    return V.cap_string(V.to_json(v))


def _as_array(v: Value) -> list | None:
    if isinstance(v, list):
        return v
    if isinstance(v, str):
        out = json_parse(v)
        return out if isinstance(out, list) else None
    return None


@_register("jsonArraySize", 1, 1)
def _json_array_size(v: Value) -> Value:
    arr = _as_array(v)
    return None if arr is None else len(arr)


@_register("jsonArrayContains", 2, 2)
def _json_array_contains(v: Value, item: Value) -> Value:
    if v is None or item is None:
        return None
    arr = _as_array(v)
    if arr is None:
        return False
    return any(V.equal(e, item) for e in arr)


__all__ = [
    "FUNCTIONS",
    "Arg",
    "Function",
    "compile_date_pattern",
    "compile_regex",
    "format_date",
    "json_parse",
    "lookup_function",
    "parse_date",
    "parse_zone",
    "re2_message",
]
