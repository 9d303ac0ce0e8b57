"""`pattern` and `diff`: cluster messages into templates, locally and deterministically. Pure.

AWS clusters with a trained model we do not have; this is a small, explainable stand-in in the
spirit of Drain (He et al., 2017), documented so results can be predicted:

1. **Words.** A message is split on runs of whitespace into words (leading/trailing whitespace
   ignored); templates join words with one space.
2. **Typed variables.** Inside each word, these spans become placeholders, first match wins, left
   to right: ISO/`YYYY-MM-DD`/`HH:MM:SS` date-times -> `Time`; UUIDs -> `UUID`; IPv4 addresses
   (optionally `:port`) -> `IP`; `0x`-prefixed or 16+ hex-digit runs -> `Hex`; decimal numbers not
   glued to letters -> `Number`. `id=42,` is the word `id=<Number>,`.
3. **Exact templates.** Messages with the same typed words are counted together (memory grows with
   distinct templates, not with messages). Beyond `MAX_TEMPLATES`, a new one is counted in the
   template of its first word and word count with every other word a `Token` (at most
   `MAX_OVERFLOW` of those), then in the all-`Token` template of its word count: a flood of one-off
   messages costs a dict lookup each and a bounded number of templates.
4. **Merging.** At the end, exact templates are taken by count (then text) and each joins the first
   cluster with the same word count, the same first word, and at least half of its words equal
   (among the first `MAX_COMPARE` such clusters); positions that differ become `Token` placeholders. Taking templates in a fixed order makes the
   result independent of the order rows arrived in.
5. **Rendering.** Placeholders are numbered left to right: `<Time-1> user <Number-2> <Token-3>`.
   `@severityLabel` is `Error`, `Warning`, `Info` or `Debug` from the first level-like word of
   a sample (error/fatal/critical/exception/fail…, warn…, info/notice, debug/trace), left out when
   there is none. `@ratio` is the cluster's share of the rows that reached `pattern`.

`diff` clusters the queried period and the previous one together, so both sides share templates,
and reports per template `@sampleCount` (now), `@previousSampleCount`, `@change` (now − before)
and `@changeDescription` (`new`, `gone`, `increased`, `decreased`, `unchanged`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_TEMPLATES = 10_000
MAX_OVERFLOW = 1_000  # first-word templates made once MAX_TEMPLATES is reached
MAX_COMPARE = 16  # clusters of one shape a template is compared with: keeps merging near-linear
SIMILARITY = 0.5

_VARIABLE_RE = re.compile(
    r"(?P<Time>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)"
    r"|(?P<UUID>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"
    r"|(?P<IP>(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.]))"
    r"|(?P<Hex>(?<![\w])(?:0x[0-9A-Fa-f]+|[0-9a-f]{16,})(?![\w]))"
    r"|(?P<Number>(?<![A-Za-z0-9_.])-?\d+(?:\.\d+)?(?![A-Za-z0-9_]))"
)
_TOKEN = "\x00Token\x00"
_PLACEHOLDER_RE = re.compile(r"\x00(\w+)\x00")
_SEVERITY_RE = re.compile(
    r"(?<![A-Za-z])(?:(?P<Error>err(?:or)?s?|fatal|crit(?:ical)?|severe|exception|fail(?:ed|ure)?|panic)"
    r"|(?P<Warning>warn(?:ing)?s?)|(?P<Info>info|notice)|(?P<Debug>debug|trace))(?![A-Za-z])",
    re.IGNORECASE,
)


def typed_words(text: str) -> tuple[str, ...]:
    """The message's words with typed variables replaced by `\\0Type\\0` markers."""
    return tuple(_VARIABLE_RE.sub(lambda m: f"\x00{m.lastgroup}\x00", w) for w in text.split())


def severity(text: str) -> str | None:
    m = _SEVERITY_RE.search(text)
    return m.lastgroup if m else None


@dataclass
class _Template:
    words: tuple[str, ...]
    counts: list[int]  # [now, previous]
    sample: str


@dataclass
class Cluster:
    words: list[str]
    counts: list[int] = field(default_factory=lambda: [0, 0])
    sample: str = ""

    def render(self) -> str:
        n = 0

        def number(m: re.Match[str]) -> str:
            nonlocal n
            n += 1
            return f"<{m.group(1)}-{n}>"

        return _PLACEHOLDER_RE.sub(number, " ".join(self.words))


class Clusterer:
    """Counts templates as rows arrive; `clusters()` merges them (see the module docstring)."""

    def __init__(self) -> None:
        self.templates: dict[tuple[str, ...], _Template] = {}
        self.total = [0, 0]

    def add(self, text: str, previous: bool = False) -> None:
        side = 1 if previous else 0
        self.total[side] += 1
        words = typed_words(text)
        t = self.templates.get(words)
        if t is None:
            if len(self.templates) >= MAX_TEMPLATES and words:
                words = words[:1] + (_TOKEN,) * (len(words) - 1)
                t = self.templates.get(words)
                if t is None and len(self.templates) >= MAX_TEMPLATES + MAX_OVERFLOW:
                    words = (_TOKEN,) * len(words)
                    t = self.templates.get(words)
            if t is None:
                t = self.templates[words] = _Template(words, [0, 0], text)
        t.counts[side] += 1

    def clusters(self) -> list[Cluster]:
        out: list[Cluster] = []
        by_shape: dict[tuple[int, str], list[Cluster]] = {}
        for t in sorted(
            self.templates.values(), key=lambda t: (-(t.counts[0] + t.counts[1]), t.words)
        ):
            shape = _shape(t.words)
            for c in by_shape.get(shape, ())[:MAX_COMPARE]:
                if _similarity(c.words, t.words) >= SIMILARITY:
                    c.words = [
                        a if a == b else _TOKEN for a, b in zip(c.words, t.words, strict=True)
                    ]
                    break
            else:
                c = Cluster(list(t.words), sample=t.sample)
                by_shape.setdefault(shape, []).append(c)
                out.append(c)
            c.counts[0] += t.counts[0]
            c.counts[1] += t.counts[1]
        return out


def _shape(words: tuple[str, ...]) -> tuple[int, str]:
    return len(words), words[0] if words else ""


def _similarity(a: tuple[str, ...] | list[str], b: tuple[str, ...]) -> float:
    if not a:
        return 1.0
    same = sum(1 for x, y in zip(a, b, strict=True) if x == y or x == _TOKEN)
    return same / len(a)


def pattern_rows(clusterer: Clusterer) -> list[dict]:
    """`pattern`'s rows: most frequent first."""
    total = clusterer.total[0]
    rows = []
    for c in clusterer.clusters():
        if not c.counts[0]:
            continue
        row = {"@pattern": c.render(), "@ratio": c.counts[0] / total, "@sampleCount": c.counts[0]}
        label = severity(c.sample)
        if label:
            row["@severityLabel"] = label
        rows.append(row)
    rows.sort(key=lambda r: (-r["@sampleCount"], r["@pattern"]))
    return rows


def diff_rows(clusterer: Clusterer) -> list[dict]:
    """`diff`'s rows: templates of both periods, most frequent now first, then most frequent before."""
    total = clusterer.total[0]
    rows = []
    for c in clusterer.clusters():
        now, before = c.counts
        if now and not before:
            what = "new"
        elif before and not now:
            what = "gone"
        else:
            what = "increased" if now > before else "decreased" if now < before else "unchanged"
        row = {
            "@pattern": c.render(),
            "@ratio": now / total if total else 0.0,
            "@sampleCount": now,
            "@previousSampleCount": before,
            "@change": now - before,
            "@changeDescription": what,
        }
        label = severity(c.sample)
        if label:
            row["@severityLabel"] = label
        rows.append(row)
    rows.sort(key=lambda r: (-r["@sampleCount"], -r["@previousSampleCount"], r["@pattern"]))
    return rows
