"""The one exception the Logs Insights language raises, with the character offsets at fault.

`start`/`end` are 0-based character offsets into the query text (end exclusive), which is what
`MalformedQueryException.queryCompileError.location` carries (`startCharOffset`, `endCharOffset`).
"""

from __future__ import annotations

from ..errors import InvalidParameter

# Characters that would break the caret's alignment when a query line is echoed.
_UNPRINTABLE = {ord(c): " " for c in "\t\r\f\v"}


class QueryError(InvalidParameter):
    """A query breaks a grammar rule or names something logsvc does not implement.

    `str(e)` is one line ("unknown function 'foo' at line 1, column 8"); `e.caret(text)` echoes the
    offending line with `^^^` under `start..end`, then the message.
    """

    def __init__(
        self, message: str, start: int, end: int | None = None, *, hint: str | None = None
    ) -> None:
        start = max(0, start)
        end = max(start, start + 1 if end is None else end)
        super().__init__(message, field="queryString", rule="query-syntax", hint=hint)
        self.start = start
        self.end = end

    def location(self, text: str) -> tuple[int, int]:
        """1-based (line, column) of `start` in `text`."""
        before = text[: self.start]
        line = before.count("\n") + 1
        return line, self.start - (before.rfind("\n") + 1) + 1

    def describe(self, text: str) -> str:
        """The message with its line and column: what a CLI or an editor shows."""
        line, col = self.location(text)
        return f"{self.message} at line {line}, column {col}"

    def caret(self, text: str) -> str:
        """The offending line, carets under the offending characters, and the message."""
        line_start = text.rfind("\n", 0, self.start) + 1
        line_end = text.find("\n", self.start)
        if line_end < 0:
            line_end = len(text)
        line = text[line_start:line_end].translate(_UNPRINTABLE)
        col = self.start - line_start
        width = max(1, min(self.end, line_end) - self.start)
        return f"{line}\n{' ' * col}{'^' * width}\n{self.describe(text)}"
