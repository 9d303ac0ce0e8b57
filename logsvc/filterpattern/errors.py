"""The one exception the filter-pattern language raises, with a caret under the column at fault."""

from __future__ import annotations

from ..errors import InvalidParameter

# Characters that would break the caret's alignment when the pattern is echoed on one line.
_UNPRINTABLE = {ord(c): " " for c in "\t\n\r\f\v"}


class FilterPatternError(InvalidParameter):
    """A filter pattern breaks a grammar rule; `position` is the 0-based index of the offending char.

    `str(e)` is one line ("expected '}' to close the JSON filter at column 20"; columns are 1-based,
    as editors count them) and `e.caret()` echoes the pattern with a `^` under `position`.
    """

    def __init__(
        self, reason: str, pattern: str, position: int, *, rule: str, hint: str | None = None
    ) -> None:
        position = max(0, min(position, len(pattern)))
        super().__init__(
            f"{reason} at column {position + 1}",
            field="filterPattern",
            rule=rule,
            hint=hint,
        )
        self.reason = reason
        self.pattern = pattern
        self.position = position

    def caret(self) -> str:
        """The pattern on one line and a `^` under the offending column on the next."""
        return self.pattern.translate(_UNPRINTABLE) + "\n" + " " * self.position + "^"
