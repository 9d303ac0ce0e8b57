"""The binary `application/vnd.amazon.eventstream` framing StartLiveTail answers with. Pure.

Frame (big-endian), as botocore's `eventstream.py` parses it:

    u32 total_length | u32 headers_length | u32 CRC32(first 8 bytes)
    headers: u8 name_length | name | u8 type | value     (type 7 = string: u16 length | UTF-8)
    payload
    u32 CRC32(every preceding byte of the frame)

Only string headers are written: every header StartLiveTail sends (`:message-type`,
`:event-type`, `:exception-type`, `:content-type`) is a string.
"""

from __future__ import annotations

import json
import struct
import zlib

_STRING = 7


def encode_headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        n = name.encode("utf-8")
        v = value.encode("utf-8")
        out += struct.pack(">B", len(n)) + n + struct.pack(">BH", _STRING, len(v)) + v
    return bytes(out)


def encode_frame(headers: dict[str, str], payload: bytes = b"") -> bytes:
    """One complete frame with both CRCs."""
    h = encode_headers(headers)
    total = 12 + len(h) + len(payload) + 4
    prelude = struct.pack(">II", total, len(h))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + h + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(event_type: str, payload: dict | None = None) -> bytes:
    """An `:message-type: event` frame; a dict payload is sent as JSON."""
    if payload is None:
        return encode_frame({":message-type": "event", ":event-type": event_type})
    data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return encode_frame(
        {":message-type": "event", ":event-type": event_type, ":content-type": "application/json"},
        data,
    )


def exception(exception_type: str, message: str) -> bytes:
    """A modeled in-stream exception (SessionTimeoutException, SessionStreamingException)."""
    data = json.dumps({"message": message}).encode("utf-8")
    return encode_frame(
        {
            ":message-type": "exception",
            ":exception-type": exception_type,
            ":content-type": "application/json",
        },
        data,
    )


def decode_frames(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Split a byte string into (headers, payload) frames, checking both CRCs (for tests and tools).

    :raises ValueError: on a short or corrupt frame.
    """
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 16:
            raise ValueError("truncated frame")
        total, hlen, pcrc = struct.unpack_from(">III", data, pos)
        if zlib.crc32(data[pos : pos + 8]) != pcrc:
            raise ValueError("prelude CRC mismatch")
        frame = data[pos : pos + total]
        if len(frame) < total or zlib.crc32(frame[:-4]) != struct.unpack(">I", frame[-4:])[0]:
            raise ValueError("message CRC mismatch")
        headers: dict[str, str] = {}
        i = 12
        while i < 12 + hlen:
            n = frame[i]
            name = frame[i + 1 : i + 1 + n].decode()
            i += 1 + n
            kind = frame[i]
            i += 1
            if kind != _STRING:
                raise ValueError(f"header type {kind} not supported")
            (vlen,) = struct.unpack_from(">H", frame, i)
            headers[name] = frame[i + 2 : i + 2 + vlen].decode()
            i += 2 + vlen
        out.append((headers, frame[12 + hlen : -4]))
        pos += total
    return out
