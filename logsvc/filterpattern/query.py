"""Token queries: what every matching message is guaranteed to contain, for the index to pre-filter.

Patterns build queries in the pattern's own case over tokens that a match guarantees as *whole*
tokens of the message, or as the start of one ("pre": a quoted phrase's last word, which the
message's token may go on past); the same query then serves twice:

* `substring_filter(q)`: a case-sensitive `in` check run before the exact matcher (whole tokens are
  substrings), which rejects most lines of a JSON or delimited scan without parsing them;
* `lower_query(q)`: the index's folded form, as `FilterPattern.token_query()` returns it.

Shape: ("tok", t) | ("pre", t) | ("and", [q, ...]) | ("or", [q, ...]); None = "cannot narrow". A
None child makes an "or" None (that branch could match anything) and is dropped from an "and".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..tokens import TOKEN_RE, fold

TokenQuery = tuple

# ASCII characters that no mainstream JSON encoder writes as `\uXXXX` or `\n`-style escapes, so a
# token right after one of them survives in the raw message text. Go escapes `<>&`, .NET also `'+` and
# backquote, and every encoder escapes control characters: a token after those could be glued to
# the escape's hex digits (`a\u003cb` has the token `u003cb`, not `b`).
_JSON_SAFE_BEFORE = frozenset(' -.,:;/()[]{}@#$%*!?|~^_"\\')


def q_tok(token: str) -> TokenQuery:
    return ("tok", token)


def q_pre(token: str) -> TokenQuery:
    """A token of the message starts with `token` (the index answers it for words; else "any")."""
    return ("pre", token)


def q_and(children: Iterable[TokenQuery | None]) -> TokenQuery | None:
    out: list[TokenQuery] = []
    for c in children:
        if c is None:
            continue
        for part in c[1] if c[0] == "and" else [c]:
            if part not in out:
                out.append(part)
    if not out:
        return None
    return out[0] if len(out) == 1 else ("and", out)


def q_or(children: Iterable[TokenQuery | None]) -> TokenQuery | None:
    out: list[TokenQuery] = []
    for c in children:
        if c is None:
            return None
        for part in c[1] if c[0] == "or" else [c]:
            if part not in out:
                out.append(part)
    if not out:
        return None
    return out[0] if len(out) == 1 else ("or", out)


def literal_tokens(
    text: str, *, firm_start: bool, firm_end: bool, json: bool = False
) -> TokenQuery | None:
    """The tokens of `text` that are whole tokens of any message containing it where it matched.

    A match of `text` whose edge is not "firm" (a substring match may start or end inside a word)
    guarantees nothing about a token touching its start, and of one touching its end only that a
    token of the message starts with it (`q_pre`). With `json`, `text` is a decoded JSON string, so
    tokens that an encoder could have escaped, or glued to an escape, are left out.
    """
    out = []
    for m in TOKEN_RE.finditer(text):
        a, b = m.span()
        if a == 0 and not firm_start:
            continue
        if json and (not m.group().isascii() or (a > 0 and text[a - 1] not in _JSON_SAFE_BEFORE)):
            continue
        out.append(q_pre(m.group()) if b == len(text) and not firm_end else q_tok(m.group()))
    return q_and(out)


def glob_tokens(pieces: list[str], *, json: bool = False) -> TokenQuery | None:
    """Guaranteed tokens of a value that must equal `*`.join(pieces) with `*` as a wildcard."""
    last = len(pieces) - 1
    return q_and(
        literal_tokens(p, firm_start=i == 0, firm_end=i == last, json=json)
        for i, p in enumerate(pieces)
    )


def lower_query(q: TokenQuery | None) -> TokenQuery | None:
    """The same guarantee over folded tokens (ASCII letters lower-cased), as the index records them.

    Folding maps each ASCII letter to a letter and leaves everything else alone, so a whole token
    of the message folds to a whole token of the folded message.
    """
    if q is None:
        return None
    if q[0] in ("tok", "pre"):
        return (q[0], fold(q[1]))
    children = [lower_query(c) for c in q[1]]
    return q_and(children) if q[0] == "and" else q_or(children)


def evaluate(q: TokenQuery | None, tokens: set[str]) -> bool:
    """Whether a message (block) with these tokens could satisfy `q`; None accepts everything."""
    if q is None:
        return True
    if q[0] == "tok":
        return q[1] in tokens
    if q[0] == "pre":
        return any(t.startswith(q[1]) for t in tokens)
    if q[0] == "and":
        return all(evaluate(c, tokens) for c in q[1])
    return any(evaluate(c, tokens) for c in q[1])


def substring_filter(q: TokenQuery | None) -> Callable[[str], bool] | None:
    """A fast case-sensitive pre-check for `q` (in the pattern's case), or None when it cannot narrow."""
    if q is None:
        return None
    if q[0] in ("tok", "pre"):  # a token, or the start of one, is a substring either way
        tok = q[1]
        return lambda s: tok in s
    if q[0] == "and" and all(c[0] in ("tok", "pre") for c in q[1]):
        # Longest first: a long token is the likeliest to be absent.
        toks = tuple(sorted((c[1] for c in q[1]), key=len, reverse=True))
        if len(toks) == 2:
            t1, t2 = toks
            return lambda s: t1 in s and t2 in s

        def all_in(s: str) -> bool:
            for t in toks:
                if t not in s:
                    return False
            return True

        return all_in
    subs = [substring_filter(c) for c in q[1]]
    checks = tuple(f for f in subs if f is not None)
    if q[0] == "and":
        return lambda s: all(f(s) for f in checks)
    return lambda s: any(f(s) for f in checks)
