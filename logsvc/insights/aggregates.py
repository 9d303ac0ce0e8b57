"""Logs Insights aggregation functions (`stats`): the registry and one accumulator per group. Pure.

Owns `count`, `count_distinct`, `sum`, `avg`, `min`, `max`, `pct`/`percentile`, `stddev`,
`earliest`, `latest`, `sortsFirst`, `sortsLast` (reference §4.8). Never evaluates expressions:
the engine evaluates each aggregate's argument per row and calls `acc.add(row_time, value)`
(`acc.add(row_time)` for `count(*)`/`count()`), then `acc.result()` once per group. The constant
trailing arguments (pct's percentile) are given to `make` once. Lookups are case-insensitive.

Decisions (AWS documents these loosely; verify when possible):

* Missing values (None) are skipped by every aggregate; `count(f)` counts rows where `f` is present,
  `count(*)`/`count()` counts rows. Lists and maps are skipped everywhere (AWS: structures cannot be
  used in `stats`) except by `count(f)`, which counts them as present.
* `sum`, `avg`, `stddev`, `pct` read numbers (numeric strings count, as everywhere in values.py) and
  skip anything else; over no numbers they give None (an empty cell), not 0. `count` and
  `count_distinct` of nothing are 0.
* Result types follow values.py's long/double model (a long renders `6`, a double `6.0`):
  `count`, `count_distinct` -> long; `sum` -> a long when every input is a long (or integer text),
  a double as soon as one is a double (`sum(@billedDuration)` = `165.0`); `avg` and `stddev` ->
  always a double (`avg` of 2 and 4 is `3.0`); `min`/`max` -> the winning value itself, made a
  double when it is a plain long and the group also saw a double; `pct`/`percentile`, `earliest`,
  `latest`, `sortsFirst`, `sortsLast` -> the value seen, as it was (a string from `parse` stays that
  string: `305.50`).
* `stddev` is the **sample** standard deviation (divides by n - 1; Welford's algorithm); one value
  gives 0.0.
* `pct(f, p)` / `percentile(f, p)`: **nearest rank**, no interpolation: the value at 1-based rank
  ceil(p / 100 * n) of the sorted numbers (p = 0 gives the minimum, 100 the maximum). The result is
  always one of the observed values, matching AWS's wording "the value at which p percent of the
  values are lower". `p` must be a constant from 0 to 100. Numbers are kept exactly (9 bytes each in
  two arrays: the value and its type), so memory grows with the group's size; text values (from
  `parse`) are also kept as they were, to return the one seen. Equal numbers order longs, then
  doubles, then text, so the result does not depend on the order rows arrive in (except between
  texts spelling the same number).
* `count_distinct(f)` is exact (AWS approximates at very high cardinality): values are distinct by
  their rendered text, so `1` and `"1"` are one value, `1.0` (a double) and `"1.0"` another.
* `min`/`max` take any comparable values in values.sort_key order: numbers (and numeric strings)
  numerically, below other strings, which compare by code point. They return the winning value
  itself: `max(@timestamp)` is a Timestamp (a later `dateceil` can use it), `max` of parsed strings
  the string; only a plain long winner is widened to a double when the group saw a double (Java
  compares a long and a double as doubles).
* `sortsFirst(f)` / `sortsLast(f)` are the values that sort first / last in that same order: the
  same as `min` / `max` for one field.
* `earliest(f)` / `latest(f)`: the value of `f` from the row with the smallest / largest
  `@timestamp` among rows where `f` is present; ties go to the value that sorts first (earliest) or
  last (latest), so the result does not depend on the order rows arrive in.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import values as V
from .functions import Arg, ordinal
from .values import Value


class Accumulator(Protocol):
    def add(self, row_time: int, *values: Value) -> None: ...

    def result(self) -> Value: ...


@dataclass(frozen=True)
class Aggregate:
    name: str
    min_args: int
    max_args: int | None
    make: Callable[
        [tuple[Value, ...]], Accumulator
    ]  # the constant trailing args (pct's p) are passed here
    const_args: int = 0  # how many trailing args are constants (pct: 1)
    star: bool = False  # accepts count(*)/count()
    check: Callable[[list[Arg]], str | None] | None = None


AGGREGATES: dict[str, Aggregate] = {}


def lookup_aggregate(name: str) -> Aggregate | None:
    """The aggregate called `name` (any case), or None."""
    return AGGREGATES.get(name.lower())


def _first_value(values: tuple[Value, ...]) -> Value:
    return values[0] if values else None


def _usable(v: Value) -> bool:
    return v is not None and not isinstance(v, (list, dict))


# ---------------------------------------------------------------------------------------------
# accumulators


class Count:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def add(self, row_time: int, *values: Value) -> None:
        if not values or values[0] is not None:
            self.n += 1

    def result(self) -> Value:
        return self.n


class CountDistinct:
    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def add(self, row_time: int, *values: Value) -> None:
        v = _first_value(values)
        if _usable(v):
            key = V.render(v)
            if key is not None:
                self.seen.add(key)

    def result(self) -> Value:
        return len(self.seen)


def _exact_fold(floats: list[float]) -> list[float]:
    """A few doubles whose exact sum is the exact sum of `floats` (s1 = fsum, s2 = fsum of what s1
    left out, ...): memory stays flat and `fsum` over the result is still the correctly rounded
    total, so the answer does not depend on where the folds fell (the columnar path sums exactly).

    :raises OverflowError: an intermediate sum leaves the double range."""
    out: list[float] = []
    while True:
        s = math.fsum(floats + [-x for x in out])
        if s == 0.0:
            return out
        out.append(s)


class Sum:
    """`math.fsum` of every double (exact, rounded once) plus the long total; see _exact_fold."""

    __slots__ = ("ints", "floats", "any", "overflow")

    def __init__(self) -> None:
        self.ints = 0
        self.floats: list[float] = []
        self.any = False
        self.overflow = False

    def add(self, row_time: int, *values: Value) -> None:
        n = V.to_number(_first_value(values))
        if n is None:
            return
        self.any = True
        if isinstance(n, int):
            self.ints += n
        else:
            self.floats.append(n)
            if len(self.floats) >= 4096 and not self.overflow:  # keep memory flat, exactly
                try:
                    self.floats = _exact_fold(self.floats)
                except OverflowError:
                    self.overflow, self.floats = True, [0.0]

    def result(self) -> Value:
        if not self.any:
            return None
        if not self.floats:
            return V.bounded(self.ints)
        if self.overflow:
            return None
        try:
            return V.bounded(math.fsum([*self.floats, float(self.ints)]))
        except OverflowError:
            return None


class Avg:
    __slots__ = ("total", "n")

    def __init__(self) -> None:
        self.total = Sum()
        self.n = 0

    def add(self, row_time: int, *values: Value) -> None:
        n = V.to_number(_first_value(values))
        if n is None:
            return
        self.total.add(row_time, n)
        self.n += 1

    def result(self) -> Value:
        if not self.n:
            return None
        s = self.total.result()
        return None if s is None else V.bounded(float(s / self.n))


class StdDev:
    """Sample standard deviation by Welford's online algorithm (numerically stable)."""

    __slots__ = ("n", "mean", "m2")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, row_time: int, *values: Value) -> None:
        x = V.to_number(_first_value(values))
        if x is None:
            return
        x = float(x)
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def result(self) -> Value:
        if self.n == 0:
            return None
        if self.n == 1:
            return 0.0
        return V.bounded(math.sqrt(max(self.m2, 0.0) / (self.n - 1)))


class Extreme:
    """min / max / sortsFirst / sortsLast: the value that sorts first (lowest) or last (highest).

    widen (min/max): a plain long winner becomes a double when the group also saw a double."""

    __slots__ = ("last", "best", "key", "widen", "doubles")

    def __init__(self, last: bool, widen: bool = False) -> None:
        self.last = last
        self.best: Value = None
        self.key: tuple | None = None
        self.widen = widen
        self.doubles = False

    def add(self, row_time: int, *values: Value) -> None:
        v = _first_value(values)
        if not _usable(v):
            return
        if isinstance(v, float):
            self.doubles = True
        k = V.sort_key(v)
        if self.key is None or (k > self.key if self.last else k < self.key):
            self.best, self.key = v, k

    def result(self) -> Value:
        if self.widen and self.doubles and type(self.best) is int:
            return V.bounded(float(self.best))
        return self.best


class ByTime:
    """earliest / latest: the value from the row with the smallest / largest @timestamp."""

    __slots__ = ("last", "best", "key")

    def __init__(self, last: bool) -> None:
        self.last = last
        self.best: Value = None
        self.key: tuple | None = None

    def add(self, row_time: int, *values: Value) -> None:
        v = _first_value(values)
        if not _usable(v) or row_time is None:
            return
        k = (int(row_time), V.sort_key(v))
        if self.key is None or (k > self.key if self.last else k < self.key):
            self.best, self.key = v, k

    def result(self) -> Value:
        return self.best


class Percentile:
    """Nearest-rank percentile over every numeric value of the group; returns the value seen."""

    __slots__ = ("p", "data", "kinds", "texts", "longs", "_order")

    _LONG, _DOUBLE, _TEXT, _TIME = (
        0,
        1,
        2,
        3,
    )  # a Timestamp stays a Timestamp (epoch ms are exact as doubles)

    def __init__(self, p: float) -> None:
        self.p = float(p)
        self.data = array("d")  # every number, as a double (the sort key)
        self.kinds = array("b")  # per value: _LONG, _DOUBLE, _TEXT or _TIME
        self.texts: dict[
            int, str
        ] = {}  # index -> the text a _TEXT value was (numeric strings from parse)
        self.longs: dict[int, int] = {}  # index -> a long too big to be exact as a double
        self._order: list[int] | None = (
            None  # indexes sorted by value, reused while no value arrives
        )

    def add(self, row_time: int, *values: Value) -> None:
        v = _first_value(values)
        n = V.to_number(v)
        if n is None:
            return
        i = len(self.data)
        if isinstance(v, str):
            self.kinds.append(self._TEXT)
            self.texts[i] = v
        elif isinstance(v, V.Timestamp):
            self.kinds.append(self._TIME)
        elif isinstance(n, int):
            self.kinds.append(self._LONG)
            if abs(n) > 2**53:
                self.longs[i] = n
        else:
            self.kinds.append(self._DOUBLE)
        self.data.append(float(n))
        self._order = None

    def result(self) -> Value:
        size = len(self.data)
        if not size:
            return None
        rank = max(1, math.ceil(self.p / 100.0 * size))
        if self._order is None:  # partial results ask repeatedly: sort once per batch of new values
            data, kinds = self.data, self.kinds
            self._order = sorted(range(size), key=lambda j: (data[j], kinds[j]))
        i = self._order[min(rank, size) - 1]
        kind = self.kinds[i]
        if kind == self._TEXT:
            return self.texts[i]
        if kind == self._TIME:
            return V.Timestamp(int(self.data[i]))
        if kind == self._LONG:
            return self.longs.get(i, int(self.data[i]))
        return self.data[i]


# ---------------------------------------------------------------------------------------------
# registry


def _check_pct(name: str) -> Callable[[list[Arg]], str | None]:
    def check(args: list[Arg]) -> str | None:
        if len(args) < 2:
            return f"{name} needs a field and a percentile, such as {name}(@duration, 99)"
        a = args[1]
        n = V.to_number(a.value) if a.const and a.kind == "number" else None
        if n is None or not 0 <= n <= 100:
            return f"{name}'s second argument must be a number from 0 to 100"
        return _check_plain(name, args[:1])

    return check


def _check_plain(name: str, args: list[Arg]) -> str | None:
    for i, a in enumerate(args):
        if a.kind in ("regex", "period", "list"):
            return f"{name}'s {ordinal(i)} argument cannot be {'a regex' if a.kind == 'regex' else 'a ' + a.kind}"
        if a.kind == "star" and name != "count":
            return f"{name} cannot take *: only count(*) counts rows"
    return None


def _register(
    name: str,
    min_args: int,
    max_args: int | None,
    make: Callable[[tuple[Value, ...]], Any],
    *,
    const_args: int = 0,
    star: bool = False,
    check: Callable[[list[Arg]], str | None] | None = None,
) -> None:
    AGGREGATES[name.lower()] = Aggregate(
        name,
        min_args,
        max_args,
        make,
        const_args,
        star,
        check or (lambda args, _n=name: _check_plain(_n, args)),
    )


_register("count", 0, 1, lambda consts: Count(), star=True)
_register("count_distinct", 1, 1, lambda consts: CountDistinct())
_register("sum", 1, 1, lambda consts: Sum())
_register("avg", 1, 1, lambda consts: Avg())
_register("stddev", 1, 1, lambda consts: StdDev())
_register("min", 1, 1, lambda consts: Extreme(last=False, widen=True))
_register("max", 1, 1, lambda consts: Extreme(last=True, widen=True))
_register("sortsFirst", 1, 1, lambda consts: Extreme(last=False))
_register("sortsLast", 1, 1, lambda consts: Extreme(last=True))
_register("earliest", 1, 1, lambda consts: ByTime(last=False))
_register("latest", 1, 1, lambda consts: ByTime(last=True))
_register(
    "pct",
    2,
    2,
    lambda consts: Percentile(V.to_number(consts[0]) or 0),
    const_args=1,
    check=_check_pct("pct"),
)
_register(
    "percentile",
    2,
    2,
    lambda consts: Percentile(V.to_number(consts[0]) or 0),
    const_args=1,
    check=_check_pct("percentile"),
)


__all__ = ["AGGREGATES", "Accumulator", "Aggregate", "lookup_aggregate"]
