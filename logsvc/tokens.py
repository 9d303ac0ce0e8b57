"""What a "word" is, for the block index and for filter patterns alike. Pure.

A token is a maximal run of Unicode letters and digits (`[^\\W_]+`): `order_id=42` has the tokens
`order`, `id` and `42`. The index stores tokens lower-cased (a superset), and every candidate is
then matched exactly, so case-sensitive filter terms stay exact.
"""

from __future__ import annotations

import re

TOKEN_RE = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Tokens of `text` in order, case preserved."""
    return TOKEN_RE.findall(text)


def index_tokens(text: str) -> set[str]:
    """The distinct lower-cased tokens of `text`: what the index records for a block."""
    return set(TOKEN_RE.findall(text.lower()))


def is_word_char(ch: str) -> bool:
    return ch.isalnum()


# A query over tokens, used to pick candidate blocks before exact matching:
#   ("tok", "abc") | ("and", [q, ...]) | ("or", [q, ...]); None means "cannot narrow: scan everything".
TokenQuery = tuple
