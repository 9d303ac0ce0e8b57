"""What a "word" is, for the block index and for filter patterns alike. Pure.

A token is a maximal run of ASCII letters and digits and non-ASCII characters: `order_id=42`
has the tokens `order`, `id` and `42`; `café` is one token. This definition is chosen so the
ingester can tokenise raw UTF-8 bytes with one `bytes.translate` + `split` (C speed, ~3 µs a
line) and still agree exactly with the query side, which uses `TOKEN_RE` on text.

The index stores tokens with ASCII letters lower-cased (a superset), and every candidate is then
matched exactly, so case-sensitive filter terms stay exact.
"""

from __future__ import annotations

import re

TOKEN_RE = re.compile(r"[A-Za-z0-9\u0080-\U0010FFFF]+")

# bytes -> bytes table: ASCII letters lower-cased, digits and bytes >= 0x80 kept, all else a space.
_BYTE_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c)
    if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c >= 128)
    else 32
    for c in range(256)
)
_ASCII_LOWER = str.maketrans({chr(c): chr(c + 32) for c in range(65, 91)})


def fold(token: str) -> str:
    """Lower-case ASCII letters only, exactly as the index does."""
    return token.translate(_ASCII_LOWER)


def index_tokens(text: str) -> set[str]:
    """The distinct folded tokens of `text`: what the index records for it."""
    return set(TOKEN_RE.findall(fold(text)))


def index_tokens_bytes(data: bytes) -> set[bytes]:
    """`index_tokens` over raw UTF-8 bytes, as the ingester calls it (same tokens, as bytes)."""
    return set(data.translate(_BYTE_TABLE).split())


# A query over folded tokens, used to pick candidate blocks before exact matching:
#   ("tok", "abc") | ("pre", "abc") (a token starting with it) | ("and", [q, ...]) | ("or", [q, ...]);
#   None means "cannot narrow: scan everything".
TokenQuery = tuple
