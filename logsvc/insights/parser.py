"""Logs Insights syntax: query text -> AST. Pure; knows no function, field or row.

Grammar (keywords and command names in any case; `#` comments; see scanner.py for tokens)::

    query      := [source "|"] command ("|" command)*
    source     := SOURCE logGroups "(" [option ("," option)*] ")"
    option     := (namePrefix | accountIdentifiers | class) ":" "[" string ("," string)* "]"
    command    := fields items | display items | filter expr | filterIndex expr
                | stats items [by items] | sort key ("," key)* | limit integer
                | parse [name] (string [as name ("," name)*] | regex)
                | dedup name ("," name)* | unnest name into name | unmask [name | "(" name ")"]
                | pattern expr | diff [previousDay | previousWeek | previousMonth]
    items      := expr [as name] ("," expr [as name])*
    key        := expr [asc | desc]
    expr       := and (or and)*                             one Logic node per chain
    and        := not (and not)*
    not        := not not | compare
    compare    := sum [("=" | "!=" | "<" | "<=" | ">" | ">=") sum
                       | [not] like sum | "=~" sum | [not] in list]
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/" | "%") unary)*
    unary      := "-" unary | power
    power      := postfix ["^" unary]                      right-associative
    postfix    := primary ("[" expr "]")*                   list items by index
    primary    := number | string | period | regex | list | "(" expr ")" | name | name "(" args ")"
    list       := "[" [expr ("," expr)*] "]"
    args       := [("*" | expr) ("," expr)*]

Every node carries `start`/`end` character offsets, so later stages can point at what they reject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import QueryError
from .scanner import EOF, NAME, NUMBER, PERIOD, STRING, Scanner, Token

# Commands AWS documents that logsvc does not run: named in the error instead of "unknown".
UNSUPPORTED_COMMANDS = {
    "anomaly": "anomaly detection needs AWS's trained models",
    "lookup": "lookup tables are not stored by logsvc",
    "addtotals": None,
    "appendcols": None,
    "join": None,
    "logcompare": None,
    "head": None,
    "tail": None,
}
DIFF_MODIFIERS = {"previousday": "day", "previousweek": "week", "previousmonth": "month"}
_RESERVED = {"and", "or", "not", "like", "in", "as", "by", "asc", "desc", "into"}
_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
# Expressions deeper than this are refused: evaluation recurses once per level, and no real query
# comes close (AWS caps a query at 10,000 characters, enough for thousands of levels).
MAX_DEPTH = 100
# Parentheses, calls, lists, unary operators and `^` nested inside each other: the parser recurses
# about ten Python frames per level, so this keeps it well inside the interpreter's stack.
MAX_NESTING = 40


# ---- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: object  # str, int, float, Period, or the regex body
    kind: str  # "string" | "number" | "period" | "regex"
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # dotted path as one name: what a flattened JSON field is called
    segments: tuple[str, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Star:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple
    start: int
    end: int
    name_end: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" | "not"
    operand: object
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # arithmetic or comparison
    left: object
    right: object
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Logic:
    """`and` / `or` over two or more operands, evaluated left to right, stopping early."""

    op: str
    operands: tuple
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Match:
    """`like`, `not like`, `=~`: substring for a string, search for a regex."""

    left: object
    right: object
    negate: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class In:
    left: object
    items: ListLit
    negate: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Index:
    target: object
    index: object
    start: int
    end: int


# ---- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """`expr [as alias]`; `name` is the alias, or the expression's text as written (AWS's column name)."""

    expr: object
    name: str
    aliased: bool


@dataclass(slots=True)
class Command:
    keyword: str  # canonical lower-case command name
    start: int
    end: int
    items: list[Item] = field(default_factory=list)  # fields, display, stats (aggregates), dedup
    by: list[Item] = field(default_factory=list)  # stats
    expr: object = None  # filter, pattern, parse's field, unnest's field
    keys: list[tuple[object, bool, str]] = field(
        default_factory=list
    )  # sort: (expr, descending, text)
    count: int = 0  # limit
    glob: str | None = None  # parse
    regex: Literal | None = None  # parse
    names: list[tuple[str, int, int]] = field(
        default_factory=list
    )  # parse `as` names, unnest `into`
    modifier: str | None = (
        None  # diff: None | "day" | "week" | "month"; filter: "index" for filterIndex
    )


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """`SOURCE logGroups(...)`: which groups to read when the request names none."""

    name_prefixes: tuple[str, ...] = ()
    account_identifiers: tuple[str, ...] = ()
    log_class: str | None = (
        None  # "STANDARD" | "INFREQUENT_ACCESS"; None = AWS's default (STANDARD)
    )


@dataclass(slots=True)
class Query:
    text: str
    source: SourceSpec | None
    commands: list[Command]


# ---- the parser --------------------------------------------------------------------------------


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.scanner = Scanner(text)
        self.tok = self.scanner.next()
        self.prev_end = 0
        self.depths: dict[int, int] = {}  # id(node) -> its depth, for MAX_DEPTH
        self.nesting = (
            0  # open parentheses, unary minus and `not` being parsed (the parser's own recursion)
        )

    def deep(self, node: object, *children: object) -> object:
        """`node`, after checking that it is at most MAX_DEPTH levels deep."""
        depth = 1 + max((self.depths.get(id(c), 1) for c in children), default=0)
        if depth > MAX_DEPTH:
            raise QueryError(
                f"the expression nests more than {MAX_DEPTH} levels deep", node.start, node.end
            )
        self.depths[id(node)] = depth
        return node

    def enter(self, tok: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise QueryError(
                f"the expression nests more than {MAX_NESTING} levels deep", tok.start, tok.end
            )

    # -- token plumbing

    def advance(self) -> Token:
        tok = self.tok
        self.prev_end = tok.end
        self.tok = self.scanner.next()
        return tok

    def fail(
        self, message: str, tok: Token | None = None, *, hint: str | None = None
    ) -> QueryError:
        tok = tok or self.tok
        if tok.kind == EOF:
            return QueryError(
                message + ", found the end of the query", tok.start, tok.start + 1, hint=hint
            )
        return QueryError(f"{message}, found {tok.text!r}", tok.start, tok.end, hint=hint)

    def expect_op(self, op: str, what: str) -> Token:
        if not self.tok.is_op(op):
            raise self.fail(f"expected '{op}' {what}")
        return self.advance()

    def name(self, what: str) -> Token:
        if self.tok.kind != NAME or self.tok.is_word(*_RESERVED):
            raise self.fail(f"expected {what}")
        return self.advance()

    # -- query and commands

    def query(self) -> Query:
        if self.tok.kind == EOF:
            raise QueryError("the query is empty", 0, 1, hint="try: fields @timestamp, @message")
        source = None
        if self.tok.is_word("source"):
            source = self.source()
            if self.tok.kind != EOF:
                self.expect_op("|", "after SOURCE")
        commands = []
        while True:
            commands.append(self.command())
            if self.tok.kind == EOF:
                break
            if not self.tok.is_op("|"):
                raise self.fail("expected '|' or the end of the query")
            self.advance()
        return Query(self.text, source, commands)

    def command(self) -> Command:
        tok = self.tok
        if tok.kind != NAME or len(tok.segments) != 1 or tok.text.startswith("`"):
            raise self.fail("expected a command")
        word = tok.text.lower()
        method = getattr(self, "cmd_" + word.replace("filterindex", "filter"), None)
        if method is None:
            if word in UNSUPPORTED_COMMANDS:
                reason = UNSUPPORTED_COMMANDS[word]
                raise QueryError(
                    f"the {tok.text} command is not supported by logsvc"
                    + (f" ({reason})" if reason else ""),
                    tok.start,
                    tok.end,
                )
            if word == "source":
                raise QueryError(
                    "SOURCE must be the first command of the query", tok.start, tok.end
                )
            raise QueryError(
                f"unknown command {tok.text!r}",
                tok.start,
                tok.end,
                hint="commands: fields, display, filter, stats, sort, limit, parse, dedup, unnest, unmask, pattern, diff",
            )
        self.advance()
        cmd = Command(word, tok.start, tok.end)
        method(cmd)
        cmd.end = self.prev_end
        return cmd

    def items(self, *, aliases: bool = True) -> list[Item]:
        out = [self.item(aliases)]
        while self.tok.is_op(","):
            self.advance()
            out.append(self.item(aliases))
        return out

    def item(self, aliases: bool) -> Item:
        start = self.tok.start
        expr = self.expr()
        text = self.text[start : self.prev_end]
        if aliases and self.tok.is_word("as"):
            self.advance()
            alias = self.name("a name after 'as'")
            return Item(expr, alias.value, True)
        if isinstance(expr, Field):
            return Item(expr, expr.name, False)
        return Item(expr, text, False)

    def cmd_fields(self, cmd: Command) -> None:
        cmd.items = self.items()

    def cmd_display(self, cmd: Command) -> None:
        cmd.items = self.items()

    def cmd_filter(self, cmd: Command) -> None:
        if cmd.keyword == "filterindex":
            cmd.modifier = "index"
        cmd.expr = self.expr()

    def cmd_stats(self, cmd: Command) -> None:
        cmd.items = self.items()
        if self.tok.is_word("by"):
            self.advance()
            cmd.by = self.items()

    def cmd_sort(self, cmd: Command) -> None:
        while True:
            start = self.tok.start
            expr = self.expr()
            text = self.text[start : self.prev_end]
            descending = (
                True  # AWS's examples always say; moto and the reference read a bare key as desc
            )
            if self.tok.is_word("asc", "desc"):
                descending = self.advance().text.lower() == "desc"
            cmd.keys.append((expr, descending, text))
            if not self.tok.is_op(","):
                break
            self.advance()

    def cmd_limit(self, cmd: Command) -> None:
        tok = self.tok
        if tok.kind != NUMBER or not isinstance(tok.value, int) or tok.value < 1:
            raise self.fail("expected a whole number of rows (1 or more) after limit")
        self.advance()
        cmd.count = tok.value

    def cmd_parse(self, cmd: Command) -> None:
        if self.tok.kind == NAME:
            tok = self.name("the field to parse")
            cmd.expr = Field(tok.value, tok.segments, tok.start, tok.end)
        if self.tok.kind == STRING:
            pattern = self.advance()
            cmd.glob = pattern.value
            stars = cmd.glob.count("*")
            if stars == 0:
                raise QueryError(
                    "the parse pattern has no '*' to capture", pattern.start, pattern.end
                )
            if not self.tok.is_word("as"):
                raise self.fail(f"expected 'as' and {stars} name(s) for the parse pattern's '*'")
            self.advance()
            while True:
                tok = self.name("a field name")
                cmd.names.append((tok.value, tok.start, tok.end))
                if not self.tok.is_op(","):
                    break
                self.advance()
            if len(cmd.names) != stars:
                raise QueryError(
                    f"the parse pattern has {stars} '*' but {len(cmd.names)} name(s) follow 'as'",
                    pattern.start,
                    self.prev_end,
                )
        elif self.tok.is_op("/"):
            tok = self.scanner.regex_at(self.tok.start)
            self.tok = tok
            self.advance()
            cmd.regex = Literal(tok.value, "regex", tok.start, tok.end)
        else:
            raise self.fail(
                "expected a quoted pattern with '*' or a /regex/ with (?<name>...) groups after parse"
            )

    def cmd_dedup(self, cmd: Command) -> None:
        while True:
            tok = self.name("a field name")
            cmd.items.append(
                Item(Field(tok.value, tok.segments, tok.start, tok.end), tok.value, False)
            )
            if not self.tok.is_op(","):
                break
            self.advance()

    def cmd_unnest(self, cmd: Command) -> None:
        tok = self.name("the list field to unnest")
        cmd.expr = Field(tok.value, tok.segments, tok.start, tok.end)
        if not self.tok.is_word("into"):
            raise self.fail("expected 'into' after the unnest field")
        self.advance()
        into = self.name("a field name after 'into'")
        cmd.names.append((into.value, into.start, into.end))

    def cmd_unmask(self, cmd: Command) -> None:
        # Masking is a data-protection policy logsvc has no notion of: unmask shows what is there.
        if self.tok.is_op("("):
            self.advance()
            self.name("a field name")
            self.expect_op(")", "to close unmask(")
        elif self.tok.kind == NAME:
            self.items(aliases=False)

    def cmd_pattern(self, cmd: Command) -> None:
        cmd.expr = self.expr()

    def cmd_diff(self, cmd: Command) -> None:
        if self.tok.kind == NAME:
            word = self.tok.text.lower()
            if word not in DIFF_MODIFIERS:
                raise self.fail(
                    "expected previousDay, previousWeek, previousMonth or '|' after diff"
                )
            self.advance()
            cmd.modifier = DIFF_MODIFIERS[word]

    def source(self) -> SourceSpec:
        self.advance()
        if not self.tok.is_word("loggroups"):
            raise self.fail("expected logGroups(...) after SOURCE")
        self.advance()
        self.expect_op("(", "after logGroups")
        options: dict[str, tuple[str, ...]] = {}
        limits = {"nameprefix": 5, "accountidentifiers": 20, "class": 1}
        while not self.tok.is_op(")"):
            if options:
                self.expect_op(",", "between logGroups options")
            key = self.tok
            if not key.is_word(*limits):
                raise self.fail("expected namePrefix, accountIdentifiers or class")
            self.advance()
            self.expect_op(":", f"after {key.text}")
            lst = self.list_literal()
            strings = []
            for item in lst.items:
                if not (isinstance(item, Literal) and item.kind == "string"):
                    raise QueryError(f"{key.text} takes quoted strings", item.start, item.end)
                strings.append(item.value)
            word = key.text.lower()
            if not strings or len(strings) > limits[word]:
                raise QueryError(
                    f"{key.text} takes 1 to {limits[word]} value(s)", lst.start, lst.end
                )
            if word == "class" and strings[0] not in ("STANDARD", "INFREQUENT_ACCESS"):
                raise QueryError("class is STANDARD or INFREQUENT_ACCESS", lst.start, lst.end)
            options[word] = tuple(strings)
        self.advance()
        log_class = options.get("class", (None,))[0]
        return SourceSpec(
            options.get("nameprefix", ()), options.get("accountidentifiers", ()), log_class
        )

    # -- expressions

    def expr(self) -> object:
        return self.logic("or", self.and_expr)

    def and_expr(self) -> object:
        return self.logic("and", self.not_expr)

    def logic(self, word: str, operand: Callable[[], object]) -> object:
        """`a or b or c` as one Logic node: long chains (`x = 1 or x = 2 or ...`) stay one level deep."""
        first = operand()
        if not self.tok.is_word(word):
            return first
        operands = [first]
        while self.tok.is_word(word):
            self.advance()
            operands.append(operand())
        return self.deep(Logic(word, tuple(operands), first.start, operands[-1].end), *operands)

    def not_expr(self) -> object:
        if self.tok.is_word("not"):
            tok = self.advance()
            self.enter(tok)
            operand = self.not_expr()
            self.nesting -= 1
            return self.deep(Unary("not", operand, tok.start, operand.end), operand)
        return self.compare()

    def compare(self) -> object:
        left = self.sum()
        tok = self.tok
        if tok.is_op("=="):
            raise QueryError("use '=' to compare", tok.start, tok.end)
        if tok.is_op(*_COMPARISONS):
            self.advance()
            right = self.sum()
            return self.deep(Binary(tok.value, left, right, left.start, right.end), left, right)
        negate = False
        if tok.is_word("not"):
            self.advance()
            if not self.tok.is_word("like", "in"):
                raise self.fail("expected 'like' or 'in' after 'not'")
            negate = True
        if self.tok.is_word("like") or (not negate and self.tok.is_op("=~")):
            self.advance()
            right = self.sum()
            return self.deep(Match(left, right, negate, left.start, right.end), left, right)
        if self.tok.is_word("in"):
            self.advance()
            if not self.tok.is_op("["):
                raise self.fail("expected a list such as [1, 2] after 'in'")
            items = self.list_literal()
            return self.deep(In(left, items, negate, left.start, items.end), left, items)
        return left

    def sum(self) -> object:
        left = self.product()
        while self.tok.is_op("+", "-"):
            op = self.advance().value
            right = self.product()
            left = self.deep(Binary(op, left, right, left.start, right.end), left, right)
        return left

    def product(self) -> object:
        left = self.unary()
        while self.tok.is_op("*", "/", "%"):
            op = self.advance().value
            right = self.unary()
            left = self.deep(Binary(op, left, right, left.start, right.end), left, right)
        return left

    def unary(self) -> object:
        if self.tok.is_op("-"):
            tok = self.advance()
            self.enter(tok)
            operand = self.unary()
            self.nesting -= 1
            if isinstance(operand, Literal) and operand.kind == "number":
                return Literal(-operand.value, "number", tok.start, operand.end)
            return self.deep(Unary("-", operand, tok.start, operand.end), operand)
        return self.power()

    def power(self) -> object:
        base = self.postfix()
        if self.tok.is_op("^"):
            self.enter(self.advance())
            exponent = self.unary()
            self.nesting -= 1
            return self.deep(Binary("^", base, exponent, base.start, exponent.end), base, exponent)
        return base

    def postfix(self) -> object:
        node = self.primary()
        while self.tok.is_op("["):
            self.advance()
            index = self.expr()
            close = self.expect_op("]", "to close the index")
            node = self.deep(Index(node, index, node.start, close.end), node, index)
        return node

    def primary(self) -> object:
        tok = self.tok
        if tok.kind in (NUMBER, STRING, PERIOD):
            self.advance()
            return Literal(tok.value, tok.kind, tok.start, tok.end)
        if tok.is_op("/"):
            self.tok = self.scanner.regex_at(tok.start)
            tok = self.advance()
            return Literal(tok.value, "regex", tok.start, tok.end)
        if tok.is_op("["):
            return self.list_literal()
        if tok.is_op("("):
            self.advance()
            self.enter(tok)
            inner = self.expr()
            self.nesting -= 1
            self.expect_op(")", "to close '('")
            return inner
        if tok.kind == NAME and not tok.is_word(*_RESERVED):
            self.advance()
            if self.tok.is_op("(") and len(tok.segments) == 1 and not tok.text.startswith("`"):
                return self.call(tok)
            return Field(tok.value, tok.segments, tok.start, tok.end)
        raise self.fail("expected a value, a field or a function")

    def call(self, name: Token) -> Call:
        self.enter(self.advance())  # (
        args: list = []
        if not self.tok.is_op(")"):
            while True:
                if self.tok.is_op("*"):
                    star = self.advance()
                    args.append(Star(star.start, star.end))
                else:
                    args.append(self.expr())
                if not self.tok.is_op(","):
                    break
                self.advance()
        close = self.expect_op(")", f"to close {name.text}(")
        self.nesting -= 1
        return self.deep(Call(name.text, tuple(args), name.start, close.end, name.end), *args)

    def list_literal(self) -> ListLit:
        open_ = self.expect_op("[", "to open a list")
        self.enter(open_)
        items = []
        if not self.tok.is_op("]"):
            while True:
                items.append(self.expr())
                if not self.tok.is_op(","):
                    break
                self.advance()
        close = self.expect_op("]", "to close the list")
        self.nesting -= 1
        return self.deep(ListLit(tuple(items), open_.start, close.end), *items)


def parse(text: str) -> Query:
    """The AST of `text`.

    :raises QueryError: the text breaks the grammar above.
    """
    return Parser(text).query()
