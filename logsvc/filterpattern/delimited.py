"""Space-delimited patterns: `[ip, user, ..., status = 4* || status = 5*, bytes > 1000]`.

Owns how a message is cut into fields and how named fields line up with them; never parses JSON.
"""

from __future__ import annotations

import re

from .query import TokenQuery, q_and, q_or
from .scanner import Scanner, parse_number
from .values import Comparison, read_operator, read_value

# A field is a "quoted run", a [bracketed run] (delimiters stripped) or a run of non-blanks. Blanks
# are the ASCII whitespace `str.split` cuts on (so the fast path in `texts` agrees); non-ASCII
# spaces are token characters in logsvc.tokens, so they stay inside fields. An unclosed quote or
# bracket is just part of a plain field. Every field value is therefore bounded by blanks, quotes
# or brackets, which never belong to a token: the token query relies on that.
_BLANKS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_FIELD_START = re.compile(f"[^{_BLANKS}]")
_RUN_END = re.compile(f"[{_BLANKS}]")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VALUE_STOPS = ",]"
Span = tuple[int, int]


class FieldCondition:
    """`name op value` on one field's text."""

    def __init__(self, name: str, position: int, comparison: Comparison) -> None:
        self.name = name
        self.position = position
        self.comparison = comparison
        self.needs_number = comparison.op not in ("=", "!=") or comparison.value.kind == "number"

    def test(self, text: str) -> bool:
        return self.comparison.test(text, parse_number(text) if self.needs_number else None)


class DelimitedMatcher:
    """Named slots (None for `...`), and per slot an OR of ANDs of conditions (`&&` binds tighter)."""

    def __init__(self, slots: list[str | None], exprs: list[list[list[FieldCondition]]]) -> None:
        self.slots = slots
        self.exprs = [e for e in exprs if e]
        self.ellipsis = slots.index(None) if None in slots else None
        self.index = {name: i for i, name in enumerate(slots) if name is not None}
        self.used = sorted({self.index[c.name] for e in self.exprs for conj in e for c in conj})

    def texts(self, message: str) -> dict[int, str] | None:
        """Slot index -> field text, or None when the message has too few fields.

        ASCII messages without quotes or brackets (most plain log lines) take `str.split`, which
        cuts on the same blanks as `_FIELD_RE` there, at a tenth of the cost; with `...`, a line
        the one-regex cut may take (an access log line) takes `findall` for the texts alone.
        """
        want = len(self.slots)
        if '"' in message or "[" in message or not message.isascii():  # isascii() is O(1)
            if self.ellipsis is None or not _regex_cuts(message):
                got = self.fields(message)
                return None if got is None else {i: text for i, (text, _) in got.items()}
            # with `...` no field absorbs the rest of the line: the fields' texts are enough
            parts = [q or b or p for q, b, p in _FIELD_TEXTS_RE.findall(message)]
        else:
            parts = message.split()
        n = len(parts)
        if self.ellipsis is None:
            if n < want:
                return None
            out = dict(enumerate(parts[: want - 1]))
            out[want - 1] = (
                parts[-1] if n == want else message.split(None, want - 1)[-1].rstrip(_BLANKS)
            )
            return out
        if n < want - 1:
            return None
        return {
            i: parts[i] if i < self.ellipsis else parts[n - (want - i)]
            for i in range(want)
            if i != self.ellipsis
        }

    def fields(self, message: str) -> dict[int, tuple[str, Span]] | None:
        """Slot index -> (text, span in the message), or None when the message has too few fields."""
        want = len(self.slots)
        # Without `...` only the first want + 1 fields matter (and where the line's text ends).
        found = split_fields(message, None if self.ellipsis is not None else want + 1)
        n = len(found)
        out: dict[int, tuple[str, Span]] = {}
        if self.ellipsis is None:
            if n < want:
                return None
            for i in range(want):
                if i == want - 1 and n > want:
                    # The last named field absorbs the rest: `[w1=ERROR, w2]` matches a 6-field line.
                    a, b = found[i][0], len(message.rstrip(_BLANKS))
                    out[i] = (message[a:b], (a, b))
                else:
                    a, b = found[i][1]
                    out[i] = (message[a:b], (a, b))
            return out
        if n < want - 1:
            return None
        for i in range(want):
            if i == self.ellipsis:
                continue
            a, b = (found[i] if i < self.ellipsis else found[n - (want - i)])[1]
            out[i] = (message[a:b], (a, b))
        return out

    def extract(self, message: str) -> dict[str, str] | None:
        """Named field values (`$ip`-style extraction for metric filters), or None if they don't line up."""
        got = self.texts(message)
        if got is None:
            return None
        return {self.slots[i]: text for i, text in got.items()}  # type: ignore[misc]

    def matches(self, message: str) -> bool:
        got = self.texts(message)
        if got is None:
            return False
        index = self.index
        for expr in self.exprs:
            for conj in expr:
                for c in conj:
                    if not c.test(got[index[c.name]]):
                        break
                else:
                    break  # this && group holds, so the slot's || holds
            else:
                return False
        return True

    def highlights(self, message: str) -> list[Span]:
        """Spans of the fields whose `=`-style conditions hold (`!=` highlights nothing)."""
        got = self.fields(message)
        if got is None:
            return []
        index, spans = self.index, []
        for expr in self.exprs:
            for conj in expr:
                if all(c.test(got[index[c.name]][0]) for c in conj):
                    spans += [got[index[c.name]][1] for c in conj if c.comparison.op != "!="]
        return spans

    def query(self) -> TokenQuery | None:
        return q_and(
            q_or(q_and(c.comparison.query(json=False) for c in conj) for conj in expr)
            for expr in self.exprs
        )


# The same cut as `split_fields`'s loop, as one alternation: at a field's first character a closed
# quote or bracket run wins, else the run of non-blanks; blanks match nothing, so finditer skips them.
_FIELD_RE = re.compile(f'"([^"]*)"|\\[([^\\]]*)\\]|[^{_BLANKS}]+')
_FIELD_TEXTS_RE = re.compile(f'"([^"]*)"|\\[([^\\]]*)\\]|([^{_BLANKS}]+)')  # findall: the texts


def _regex_cuts(message: str) -> bool:
    """May the one-regex cut (`_FIELD_RE`) take this line: is every `[` closed after it?"""
    return "[" not in message or message.rfind("[") < message.rfind("]")


def split_fields(message: str, limit: int | None = None) -> list[tuple[int, Span]]:
    """(start, inner span) of each field, up to `limit` fields, in one linear pass.

    A field is a "quoted run" or a [bracketed run] (the inner span leaves the delimiters out) when
    its closing character follows, else a run of non-blanks. `_FIELD_RE` cuts a line the same way
    at a fifth of the cost (an nginx access line: ~12 fields) when every `[` has a `]` after it; an
    unclosed `"` can fail only once (no `"` follows it), but each unclosed `[` at a field's start
    would send the alternation to the end of the line: quadratic on 80 KB of `[ [ [`. Those lines
    take the loop, which looks the next `"` and `]` up once and remembers them until passed.
    """
    if _regex_cuts(message):
        out = []
        for m in _FIELD_RE.finditer(message):
            if limit is not None and len(out) >= limit:
                break
            g = m.lastindex
            out.append((m.start(), m.span(g) if g else m.span()))
        return out
    return _split_fields_loop(message, limit)


def _split_fields_loop(message: str, limit: int | None) -> list[tuple[int, Span]]:
    out: list[tuple[int, Span]] = []
    closers: dict[str, tuple[int, int]] = {}  # char -> (searched from, found at or -1)

    def close(ch: str, start: int) -> int:
        got = closers.get(ch)
        if got is not None and got[0] <= start and (got[1] < 0 or got[1] >= start):
            return got[1]
        j = message.find(ch, start)
        closers[ch] = (start, j)
        return j

    pos = 0
    while limit is None or len(out) < limit:
        m = _FIELD_START.search(message, pos)
        if m is None:
            break
        i = m.start()
        ch = message[i]
        if ch == '"' or ch == "[":
            j = close('"' if ch == '"' else "]", i + 1)
            if j >= 0:
                out.append((i, (i + 1, j)))
                pos = j + 1
                continue
        e = _RUN_END.search(message, i)
        end = len(message) if e is None else e.start()
        out.append((i, (i, end)))
        pos = end
    return out


def parse_delimited(sc: Scanner) -> DelimitedMatcher:
    """`[ slot, slot, ... ]` starting at the cursor (which is on the `[`)."""
    sc.pos += 1
    slots: list[str | None] = []
    exprs: list[list[list[FieldCondition]]] = []
    conditions: list[FieldCondition] = []
    while True:
        sc.skip_blanks()
        at = sc.pos
        if sc.eat("..."):
            if None in slots:
                sc.fail(
                    "only one '...' is allowed in a space-delimited filter", at, rule="delimited"
                )
            slots.append(None)
            exprs.append([])
        else:
            m = _NAME_RE.match(sc.text, at)
            if not m:
                what = "end of pattern" if sc.at_end() else repr(sc.peek())
                sc.fail(
                    f"expected a field name or '...' but found {what}",
                    rule="delimited",
                    hint="a space-delimited filter looks like [ip, user, ..., status = 404]",
                )
            name = m.group()
            if name in slots:
                sc.fail(f"field name '{name}' is used twice", at, rule="delimited")
            slots.append(name)
            sc.pos = m.end()
            sc.skip_blanks()
            expr: list[list[FieldCondition]] = []
            if not sc.at_end() and sc.peek() not in ",]":
                expr = _parse_chain(sc, name, at, conditions)
            exprs.append(expr)
        sc.skip_blanks()
        if sc.eat(","):
            continue
        if sc.eat("]"):
            break
        if sc.at_end():
            sc.fail("expected ']' to close the space-delimited filter", rule="delimited")
        sc.fail(f"expected ',' or ']' but found {sc.peek()!r}", rule="delimited")
    sc.skip_blanks()
    if not sc.at_end():
        sc.fail("unexpected text after the space-delimited filter's closing ']'", rule="delimited")
    for c in conditions:
        if c.name not in slots:
            sc.fail(
                f"unknown field '{c.name}': a condition can only name a field of this filter",
                c.position,
                rule="delimited",
            )
    return DelimitedMatcher(slots, exprs)


def _parse_chain(
    sc: Scanner, name: str, at: int, conditions: list[FieldCondition]
) -> list[list[FieldCondition]]:
    ors = [[_parse_condition(sc, name, at, conditions)]]
    while True:
        sc.skip_blanks()
        if sc.eat("&&"):
            target = ors[-1]
        elif sc.eat("||"):
            target = []
            ors.append(target)
        else:
            return ors
        sc.skip_blanks()
        m = _NAME_RE.match(sc.text, sc.pos)
        if not m:
            sc.fail("expected a field name after '&&' or '||'", rule="delimited")
        sc.pos = m.end()
        sc.skip_blanks()
        target.append(_parse_condition(sc, m.group(), m.start(), conditions))


def _parse_condition(
    sc: Scanner, name: str, at: int, conditions: list[FieldCondition]
) -> FieldCondition:
    op = read_operator(sc)
    if op is None:
        sc.fail(
            f"expected ',', ']' or an operator (= != < <= > >=) after field '{name}'",
            rule="delimited",
        )
    cond = FieldCondition(name, at, Comparison(op, read_value(sc, op, _VALUE_STOPS)))
    conditions.append(cond)
    return cond
