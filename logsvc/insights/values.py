"""Logs Insights values: what a field or an expression holds, how it compares, sorts and renders. Pure.

Owns the value model of the query language (issue #11) and every rule that says how two values
relate: equality, ordering, truth, arithmetic, `like`, `in`, and the string AWS puts in a result
cell. Never imports the parser, the engine or anything that does I/O; `functions.py` and
`aggregates.py` build on it, the engine calls it.

The model::

    Value = None | str | int | float | bool | Timestamp | list | dict
    None       absent / null: the field is left out of the result row
    Timestamp  epoch milliseconds (an int) that renders as a date; arithmetic on one gives an int
    Period     a time-span literal (`5m`); only ever a function argument, never a field value

Run time never raises for bad data: anything that cannot be computed is None (AWS shows an empty
cell). Every number is bounded: ints beyond 2**63 become floats, non-finite floats become None, so
`x ^ 1000000` or a chain of multiplications cannot allocate huge integers or hang.

Decisions where AWS's documentation is silent or vague (reference §3-§4; verify against AWS when
possible):

* **Numbers: longs and doubles (AWS's engine is Java).** Every number is either a *long* (a Python
  `int`: a 64-bit integer) or a *double* (a Python `float`); the type decides how a cell renders:
  a long as plain digits (`6`), a double as Java's `Double.toString` (`java_double_text`: `15.0`,
  `382.5`, `1.28E8`, `5.0E-4`: at least one decimal, scientific notation below 1e-3 and from 1e7,
  the shortest round-trip digits, as JDK 19+ prints them; older JDKs could print a few values
  with more digits than needed). Evidence: real GetQueryResults rows (oslabs-beta/Embr, see
  fields.py) show Lambda's `Billed Duration: 15 ms` as `15.0`, `128 MB` as `1.28E8` and a count as `6`.
  Which values are which:
  - **longs**: counts (`count`, `count_distinct`), integer literals (`42`), JSON integers (`120`),
    lengths and sizes (`strlen`, `jsonArraySize`, `messageSize`), epoch milliseconds (`toMillis`,
    `@timestamp` in arithmetic, `parseDate`, `queryStartTime()`...), `now()`, `toInt`/`toLong`,
    `ipv4ToNumber`, `hexToDec`, booleans used as numbers (1/0).
  - **doubles**: Lambda's metrics (`fields.aws_double`), JSON numbers with a fraction or an exponent
    (`19.99`, `1.50` -> `1.5`, `1e3` -> `1000.0`: the value, not the text as written), float
    literals (`1.5`, `2.0`), `toDouble`, `sqrt`, `log`, `haversine`, `avg`, `stddev`.
  - **text that is a number** (a `parse` result, a JSON string) stays a string in its cell (shown
    exactly as extracted); where a number is needed it is a long if it is an integer (`503`, ` -7 `)
    and a double if it has a fraction or an exponent (`0.012`, `5.0`, `1e3`).
  - **arithmetic** `+ - * % ^` and unary minus: long op long is a long; a double on either side
    gives a double. `/` ALWAYS gives a double, even between two longs that divide evenly
    (`7 / 2` = `3.5`, `6 / 2` = `3.0`): AWS documents `/` only as "Division", and Java's truncating
    long division would silently turn ratio queries (`errors / total * 100`) into 0; so the
    division is the real one (assumed, unverified). `^` of two longs with a non-negative exponent is
    a long when it fits (`2 ^ 3` = `8`, as AWS documents), else a double; `10 % 3` = `1` (documented).
    A long result beyond 2^63 becomes a double (Java would wrap around; we never give a wrong sign).
  - **aggregates**: `count`, `count_distinct` -> long; `sum` -> long over longs only, a double as
    soon as one input is a double; `min`/`max` -> the winning value, made a double when it is a long
    and the group also saw a double; `avg`, `stddev` -> always a double; `pct`/`percentile`,
    `earliest`, `latest`, `sortsFirst`, `sortsLast` -> the value seen (its own type).
  - **numeric functions**: `abs`, `ceil`, `floor` keep the type (a long stays a long; `ceil` and
    `floor` of a double give an integral double, `ceil(890.75)` = `891.0`, as Java's Math.ceil
    does); `round(a)` / `round(a, 0)` give a long (Java's Math.round); `round(a, d)` with d != 0
    keeps a's type; `greatest`/`least` give a double when any numeric argument is a double, else a
    long (a winning Timestamp stays a Timestamp); `toNumber` gives the long or double the text
    spells.
  Rendering, the rest: Timestamps `YYYY-MM-DD HH:MM:SS.mmm` UTC (outside years 1-9999: the
  epoch-ms number). Booleans as `1` / `0`: the reference documents `isempty`, `strcontains`,
  `startsWith`... as returning 1/0 and `ispresent(x) as isRes` as "1/0 style", so every boolean
  renders that way. Lists and maps as compact JSON (numbers in them as JSON writes them). Periods as
  written (`5m`). A number given to a string function or to `like` is its rendered text
  (`concat("x", 3.0)` = `x3.0`, `strlen(@billedDuration)` of 15.0 is 4).
* **Numbers from text.** A string that looks like a decimal number (`503`, `-1.5e3`, ` 42 `) is
  that number wherever a number is needed (`filter status >= 500` when `status` came from
  `parse`); `nan`, `inf`, `0x1f`, `1_000` are not numbers. Booleans count as 1 / 0.
* **Comparison** (`= != < <= > >=`): a missing value, a list or a map makes every comparison false,
  `!=` included (AWS drops rows whose field is absent for `!=` too; maps/lists "compare false to
  anything"). Number vs number (or numeric string) compares numerically; two strings that are both
  numeric compare numerically for `< <= > >=` but `=`/`!=` between two strings is exact text
  equality (`"007" != "7"`); other strings compare by code point. A number and a non-numeric
  string are not comparable (false). Timestamps are numbers (epoch ms).
* **Truth** (`filter expr`, `and`/`or`/`not`, `if`, `case`): booleans as themselves, numbers
  non-zero, strings `"true"`/`"false"` (any case) or a numeric string; anything else is false.
* **Arithmetic** `+ - * / ^ %`: numeric operands only (numeric strings count); `+` does not
  concatenate. Types as in **Numbers** above. `/` is true division (`7 / 2` = 3.5, always a double)
  and by zero is None; `%` takes the dividend's sign as Java/C do (`-7 % 3` = -1) and by zero is None; `^` is a power whose result must be finite
  (overflow, `0 ^ -1` and a negative base with a fractional exponent are None). Arithmetic on a
  Timestamp gives a plain number (epoch ms).
* **Sorting** (`sort_key`): numbers (and numeric strings) first in numeric order, then other strings
  by code point, then lists/maps by their JSON text, missing values last.
* **`like`**: a string operand is a case-sensitive substring test, a regex (RE2) is an unanchored
  search; numbers and timestamps are matched in their rendered form; missing values, lists and maps
  never match (for `not like` too). **`in`** is `=` against each element (a missing value is in
  nothing and not-in nothing).
* **Periods** (reference §4.5): units `ms`/`msec`/`millisecond`, `s`/`sec`/`second`,
  `m`/`min`/`minute`, `h`/`hr`/`hour`, `d`/`day`, `w`/`week`, `mo`/`mon`/`month`,
  `q`/`qtr`/`quarter`, `y`/`yr`/`year`; a multi-letter unit may take a plural `s` (`hrs`, `mins`);
  units are case-insensitive. Counts above a unit's natural size are clamped: ms <= 1000, s <= 60,
  m <= 60, h <= 24 (so `bin(300s)` is `bin(60s)`). Days, weeks, months, quarters and years are not
  clamped but a count must be 1..100000. A count of 0 is not a period.
* **Flooring to a period** (`bin`, `datefloor`, `dateceil`): fixed units (ms..d) floor to multiples
  of the span since the epoch, UTC (`bin(5m)` -> :00, :05, ...; `bin(2d)` -> even days since
  1970-01-01). Weeks start on Monday 00:00 UTC (ISO weeks), `Nw` counted from Monday 1970-01-05.
  Months, quarters and years are calendar units in UTC: `1mo` -> the 1st of the month, `1q` ->
  Jan/Apr/Jul/Oct 1st, `1y` -> Jan 1st; `Nmo` groups months since January 1970 in runs of N,
  `Ny` groups years that are multiples of N. `dateceil` is the next boundary, or the value itself
  when it is already on one. `Period.ms` of a calendar unit is nominal (30 d, 91 d, 365 d).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# Values beyond these become floats / None (see module docstring).
MAX_INT = 2**63
MAX_STRING = (
    1 << 20
)  # characters: a result string longer than this is None (concat/replace doubling)
# Epoch ms of 0001-01-01 and 9999-12-31T23:59:59.999: what a Timestamp may hold and render as a date.
MIN_MS = -62135596800000
MAX_MS = 253402300799999
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Timestamp(int):
    """Epoch milliseconds that render as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).

    An int subclass: arithmetic on one gives a plain int (`@timestamp - 1000` is a number), which is
    what AWS does (`toMillis(@timestamp)` and arithmetic are numbers).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Timestamp({int(self)})"


@dataclass(frozen=True, slots=True)
class Period:
    """A time span literal: `5m` is Period(ms=300000, unit="m", count=5).

    `unit` is the canonical unit: one of ms, s, m, h, d, w, mo, q, y. `ms` is exact for ms..w and
    nominal for mo (30 d), q (91 d) and y (365 d); flooring uses the calendar for those.
    """

    ms: int
    unit: str
    count: int

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


Value = None | str | int | float | bool | Timestamp | list | dict

_UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "mo": 30 * 86_400_000,
    "q": 91 * 86_400_000,
    "y": 365 * 86_400_000,
}
_UNIT_CLAMP = {"ms": 1000, "s": 60, "m": 60, "h": 24}
_MAX_CALENDAR_COUNT = 100_000
_UNIT_NAMES = {
    "ms": ("ms", "msec", "millisecond"),
    "s": ("s", "sec", "second"),
    "m": ("m", "min", "minute"),
    "h": ("h", "hr", "hour"),
    "d": ("d", "day"),
    "w": ("w", "week"),
    "mo": ("mo", "mon", "month"),
    "q": ("q", "qtr", "quarter"),
    "y": ("y", "yr", "year"),
}
UNITS: dict[str, str] = {}
for _canon, _names in _UNIT_NAMES.items():
    for _name in _names:
        UNITS[_name] = _canon
        if len(_name) > 1:
            UNITS[_name + "s"] = _canon
_PERIOD_RE = re.compile(r"([0-9]{1,12})([A-Za-z]{1,12})")


def parse_period(text: str) -> Period | None:
    """The period a literal such as `5m`, `1h`, `300s`, `2hrs` denotes, or None if it is not one.

    Clamps per reference §4.5 (`300s` -> 60 s). The scanner calls this on a number immediately
    followed by letters.
    """
    m = _PERIOD_RE.fullmatch(text.strip())
    if not m:
        return None
    unit = UNITS.get(m.group(2).lower())
    if unit is None:
        return None
    count = int(m.group(1))
    if count <= 0:
        return None
    if unit in _UNIT_CLAMP:
        count = min(count, _UNIT_CLAMP[unit])
    elif count > _MAX_CALENDAR_COUNT:
        return None
    return Period(ms=count * _UNIT_MS[unit], unit=unit, count=count)


@dataclass(slots=True)
class EvalContext:
    """What context-reading functions see. The engine may reuse one and set `timestamp` per row.

    timestamp: the row's `@timestamp` in epoch ms (None once a `stats` dropped it), for `bin()`;
    query_start_ms / query_end_ms: the query's window (inclusive); now_ms: when the query started.
    """

    timestamp: int | None
    query_start_ms: int
    query_end_ms: int
    now_ms: int


# ---------------------------------------------------------------------------------------------
# numbers

_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NUMBER_STARTS = frozenset(
    "+-.0123456789"
)  # what both patterns can begin with: the rest fails fast
_MAX_NUMERIC_TEXT = 400  # characters; longer text is not a number (and never parsed)


def bounded(n: int | float) -> int | float | None:
    """`n` kept within the value model's bounds: big ints become floats, non-finite floats None."""
    if isinstance(n, bool):
        return int(n)
    if isinstance(n, int):
        if -MAX_INT <= n <= MAX_INT:
            return n
        try:
            n = float(n)
        except OverflowError:
            return None
    if isinstance(n, float) and not math.isfinite(n):
        return None
    return n


def parse_number(text: str) -> int | float | None:
    """The number a string spells (decimal, optional sign, fraction, exponent), else None."""
    if (
        text.isdigit() and text.isascii() and len(text) <= 18
    ):  # the common case: a plain count or status
        return int(text)
    s = text.strip()
    if not s or len(s) > _MAX_NUMERIC_TEXT or s[0] not in _NUMBER_STARTS:
        return None
    if _INT_RE.fullmatch(s):
        return bounded(int(s))
    if _FLOAT_RE.fullmatch(s):
        return bounded(float(s))
    return None


def to_number(v: Value) -> int | float | None:
    """`v` as a number: numbers (Timestamps as epoch ms, booleans 1/0), numeric strings; else None."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return int(v) if type(v) is not int else v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, str):
        return parse_number(v)
    return None


def is_number(v: Value) -> bool:
    """True for int/float/Timestamp/bool values (not for numeric strings)."""
    return isinstance(v, (int, float))


# ---------------------------------------------------------------------------------------------
# rendering


def format_timestamp(ms: int) -> str:
    """`YYYY-MM-DD HH:MM:SS.mmm` in UTC; the bare number outside years 1-9999."""
    ms = int(ms)
    if not MIN_MS <= ms <= MAX_MS:
        return str(ms)
    secs, milli = divmod(ms, 1000)
    if 0 <= secs < 32503680000:  # 1970..2999: time.gmtime is several times faster than datetime
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + f".{milli:03d}"
    dt = _datetime(ms)
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d} {dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{milli:03d}"


def java_double_text(x: float) -> str:
    """Java's `Double.toString(x)`, how AWS writes a double in a result cell: `15.0`, `40.5`,
    `1.28E8`, `5.0E-4` (fixed notation for 1e-3 <= |x| < 1e7, else `d.dddE±n`; shortest digits)."""
    if x != x or x in (math.inf, -math.inf):
        return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    r = repr(float(x))  # the shortest round-trip digits, as Java's (JDK 19+) Double.toString picks
    if 1e-3 <= abs(x) < 1e7:
        return r  # Python's repr is fixed-point with a "." in this range
    sign = "-" if r[0] == "-" else ""
    r = r.lstrip("-")
    if "e" in r:  # repr's own scientific form: one digit before the "."
        mant, _, e = r.partition("e")
        digits, e10 = mant.replace(".", ""), int(e)
    else:  # fixed form: 128000000.0 or 0.00099
        ip, _, fp = r.partition(".")
        if ip.strip("0"):
            digits, e10 = ip.lstrip("0") + fp, len(ip.lstrip("0")) - 1
        else:
            lead = len(fp) - len(fp.lstrip("0"))
            digits, e10 = fp[lead:], -(lead + 1)
    digits = digits.rstrip("0") or "0"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{e10}"


def format_number(n: int | float) -> str | None:
    """A long as plain digits, a double as Java's Double.toString (`3.0`, `1.28E8`); booleans 1/0;
    a non-finite double -> None (never a value: `bounded` turns them into None)."""
    if isinstance(n, bool):
        return "1" if n else "0"
    if isinstance(n, int):
        return str(int(n))
    if not math.isfinite(n):
        return None
    return java_double_text(n)


def _json_default(o: Any) -> Any:
    if isinstance(o, Period):
        return str(o)
    return str(o)


def to_json(v: Value) -> str | None:
    """Compact JSON text for a list or map (or any value); None if it cannot be written."""
    try:
        return json.dumps(
            v, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
        )
    except (ValueError, TypeError, RecursionError):
        return None


def render(v: Value) -> str | None:
    """The string AWS puts in a result cell for `v`; None means leave the field out of the row."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, Timestamp):
        return format_timestamp(v)
    if isinstance(
        v, (int, float)
    ):  # a double (even a JSON number written `1.50`) renders as Java does
        return format_number(v)
    if isinstance(v, (list, dict)):
        return to_json(v)
    if isinstance(v, Period):
        return str(v)
    return str(v)


def text_of(v: Value) -> str | None:
    """`v` as text for string functions: strings as they are, numbers/timestamps rendered; lists,
    maps and missing values are None (AWS: structures are null for string functions)."""
    if isinstance(v, str):
        return v
    if v is None or isinstance(v, (list, dict, Period)):
        return None
    return render(v)


# ---------------------------------------------------------------------------------------------
# truth, equality, ordering


def truthy(v: Value) -> bool:
    """Whether `v` counts as true in `filter`, `and`/`or`/`not`, `if` and `case`."""
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, str):
        low = v.strip().lower()
        if low == "true":
            return True
        if low == "false":
            return False
        n = parse_number(v)
        return n is not None and n != 0
    return False


def _comparable_numbers(a: Value, b: Value) -> tuple[int | float, int | float] | None:
    if isinstance(a, str) and isinstance(b, str):
        return None
    x, y = to_number(a), to_number(b)
    if x is None or y is None:
        return None
    return x, y


def compare(a: Value, b: Value) -> int | None:
    """-1, 0 or 1 as a < b, a == b, a > b; None when not comparable (then every comparison is false)."""
    if a is None or b is None or isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return None
    if isinstance(a, Period) or isinstance(b, Period):
        return None
    if isinstance(a, str) and isinstance(b, str):
        x, y = parse_number(a), parse_number(b)
        if x is not None and y is not None:
            return (x > y) - (x < y)
        return (a > b) - (a < b)
    nums = _comparable_numbers(a, b)
    if nums is None:
        return None
    x, y = nums
    return (x > y) - (x < y)


def equal(a: Value, b: Value) -> bool:
    """`a = b`: exact text for two strings, numeric otherwise; False if either is missing/structure."""
    if a is None or b is None or isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return compare(a, b) == 0


_OPS = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def compare_op(op: str, a: Value, b: Value) -> bool:
    """The comparison operator `op` (`= != < <= > >=`) applied to a and b.

    A missing value, a list or a map on either side makes every operator false, `!=` included.
    """
    if a is None or b is None or isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    if op == "=":
        return equal(a, b)
    if op == "!=":
        if isinstance(a, str) and isinstance(b, str):
            return a != b
        c = compare(a, b)
        return c is not None and c != 0
    c = compare(a, b)
    if c is None:
        return False
    try:
        return _OPS[op](c)
    except KeyError:
        raise ValueError(f"unknown comparison operator {op!r}") from None


def sort_key(v: Value) -> tuple:
    """A key that totally orders any values (never raises): numbers (and numeric strings) in numeric
    order, then other strings by code point, then lists/maps by JSON text, then missing values."""
    if v is None:
        return (3,)
    if isinstance(v, (int, float)):
        n = to_number(v)
        return (0, n) if n is not None else (3,)
    if isinstance(v, str):
        n = parse_number(v)
        if n is not None:
            return (0, n, v)
        return (1, v)
    if isinstance(v, (list, dict)):
        return (2, to_json(v) or "")
    return (1, render(v) or "")


# ---------------------------------------------------------------------------------------------
# arithmetic


def _power(x: int | float, y: int | float) -> int | float | None:
    if isinstance(x, int) and isinstance(y, int) and y >= 0:
        # Exact integer power only when the result is small; estimate its size first.
        if x in (0, 1) or y == 0:
            return x**y
        if x == -1:
            return 1 if y % 2 == 0 else -1
        if y * math.log2(abs(x)) <= 62:
            return x**y
    try:
        r = math.pow(float(x), float(y))
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    return bounded(r)


def _remainder(x: int | float, y: int | float) -> int | float | None:
    if y == 0:
        return None
    if isinstance(x, int) and isinstance(y, int):
        r = abs(x) % abs(y)
        return -r if x < 0 else r
    return bounded(math.fmod(x, y))


def arith(op: str, a: Value, b: Value) -> int | float | None:
    """`a op b` for op in `+ - * / ^ %`; None for missing/non-numeric operands or no finite result."""
    x, y = to_number(a), to_number(b)
    if x is None or y is None:
        return None
    try:
        if op == "+":
            return bounded(x + y)
        if op == "-":
            return bounded(x - y)
        if op == "*":
            return bounded(x * y)
        if op == "/":
            if y == 0:
                return None
            return bounded(x / y)
        if op == "^":
            return _power(x, y)
        if op == "%":
            return _remainder(x, y)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    raise ValueError(f"unknown arithmetic operator {op!r}")


def negate(a: Value) -> int | float | None:
    """Unary minus: `-a` (a plain number even for a Timestamp); None if `a` is not numeric."""
    x = to_number(a)
    return None if x is None else bounded(-x)


# ---------------------------------------------------------------------------------------------
# like / in

SURROGATE = re.compile(
    "[\ud800-\udfff]"
)  # lone surrogates: RE2 reads UTF-8, so they become U+FFFD first


def regex_search(rx: Any, text: str) -> Any:
    """`rx.search(text)` for an RE2 regex, also when text holds lone surrogates (RE2 reads UTF-8)."""
    try:
        return rx.search(text)
    except UnicodeEncodeError:
        return rx.search(SURROGATE.sub("\ufffd", text))


def like(v: Value, pattern: str | Any, negate: bool = False) -> bool:
    """`v like pattern` (or `not like` when negate): substring for a string, RE2 search for a regex.

    A missing value, a list or a map is false for both `like` and `not like`.
    """
    s = text_of(v)
    if s is None:
        return False
    if isinstance(pattern, str):
        hit = pattern in s
    elif pattern is None:
        return False
    else:
        hit = regex_search(pattern, s) is not None
    return hit != negate


def in_list(v: Value, items: list, negate: bool = False) -> bool:
    """`v in [items]` (or `not in` when negate): `=` against each element.

    A missing value, a list or a map is false for both `in` and `not in`.
    """
    if v is None or isinstance(v, (list, dict)):
        return False
    hit = any(equal(v, item) for item in items)
    return hit != negate


# ---------------------------------------------------------------------------------------------
# time periods


def _month_index(ms: int) -> tuple[int, int]:
    """(months since 1970-01, ms within that month), UTC."""
    dt = _datetime(ms)
    idx = (dt.year - 1970) * 12 + (dt.month - 1)
    return idx, ms - _month_start(idx)


def _month_start(idx: int) -> int:
    year, month0 = divmod(idx, 12)
    dt = datetime(1970 + year, month0 + 1, 1, tzinfo=UTC)
    return (dt - EPOCH) // timedelta(milliseconds=1)


def _datetime(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


_MONDAY_MS = 4 * 86_400_000  # 1970-01-05 is a Monday


def floor_to_period(ms: int, period: Period) -> int | None:
    """The start of the period containing epoch-ms `ms` (see the module docstring), or None."""
    try:
        ms = int(ms)
        if not MIN_MS <= ms <= MAX_MS:
            return None
        if period.unit in ("mo", "q", "y"):
            months = {"mo": 1, "q": 3, "y": 12}[period.unit] * period.count
            idx, _ = _month_index(ms)
            if period.unit == "y":
                year = 1970 + idx // 12
                start_year = year - (year % period.count)
                idx = (start_year - 1970) * 12
            else:
                idx -= idx % months
            if idx < (1 - 1970) * 12:
                return None
            return _month_start(idx)
        span = period.ms
        if period.unit == "w":
            return ms - ((ms - _MONDAY_MS) % span)
        return ms - (ms % span)
    except (OverflowError, ValueError):
        return None


def add_period(ms: int, period: Period) -> int | None:
    """`ms` plus one period (calendar months for mo/q/y), or None out of range."""
    try:
        if period.unit in ("mo", "q", "y"):
            months = {"mo": 1, "q": 3, "y": 12}[period.unit] * period.count
            idx, within = _month_index(ms)
            out = _month_start(idx + months) + within
        else:
            out = ms + period.ms
        return out if MIN_MS <= out <= MAX_MS else None
    except (OverflowError, ValueError):
        return None


def ceil_to_period(ms: int, period: Period) -> int | None:
    """The first period boundary at or after `ms`, or None."""
    floor = floor_to_period(ms, period)
    if floor is None or floor == int(ms):
        return floor
    return (
        add_period(floor, period)
        if period.unit not in ("mo", "q", "y")
        else _next_calendar_boundary(floor, period)
    )


def _next_calendar_boundary(floor: int, period: Period) -> int | None:
    months = {"mo": 1, "q": 3, "y": 12}[period.unit] * period.count
    idx, _ = _month_index(floor)
    try:
        out = _month_start(idx + months)
    except (OverflowError, ValueError):
        return None
    return out if out <= MAX_MS else None


def cap_string(s: str | None) -> str | None:
    """`s`, or None when it is longer than MAX_STRING (a result must not grow without bound)."""
    if s is None or len(s) > MAX_STRING:
        return None
    return s


__all__ = [
    "MAX_STRING",
    "EvalContext",
    "Period",
    "Timestamp",
    "Value",
    "add_period",
    "arith",
    "bounded",
    "cap_string",
    "ceil_to_period",
    "compare",
    "compare_op",
    "equal",
    "floor_to_period",
    "format_number",
    "format_timestamp",
    "in_list",
    "is_number",
    "java_double_text",
    "like",
    "negate",
    "parse_number",
    "parse_period",
    "regex_search",
    "render",
    "sort_key",
    "text_of",
    "to_json",
    "to_number",
    "truthy",
]
