"""Decode a package envelope as it streams in, without ever holding its ZIP in memory.

gigstack answers a package as JSON, `{"success": true, "data": {"package_id": …, "encoding":
"base64", "content": "<the ZIP in base64>"}}`, so `json.loads` on the body would hold the
envelope, the base64 string and then the ZIP: about 4x the ZIP's size. `EnvelopeScanner` reads
the JSON incrementally instead: the bytes of `data.content` go through a streaming base64
decoder straight to a sink (a file), everything else is kept (it is small, and capped) and
parsed with `json.loads` at the end. Peak memory is one transport chunk plus the small rest.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import Any

from gigstack_async.packages import PackageDecodeError

MAX_ENVELOPE_REST = 1024 * 1024
"""The most non-content bytes an envelope may hold (ids, encoding, message)."""

_QUOTE, _BACKSLASH = 0x22, 0x5C
_OPEN_OBJECT, _CLOSE_OBJECT, _OPEN_ARRAY, _CLOSE_ARRAY, _COMMA = 0x7B, 0x7D, 0x5B, 0x5D, 0x2C
_ESCAPED_SOLIDUS = 0x2F  # '\/' is a legal JSON spelling of '/', a base64 character


class EnvelopeError(Exception):
    """The body is not a JSON package envelope (the caller turns it into the SDK's error)."""


class _Base64Sink:
    """Strict, streaming base64: decodes in 4-character groups; padding only at the very end."""

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._write = write
        self._pending = b""
        self._padded = False
        self.decoded = 0

    def feed(self, text: bytes) -> None:
        if not text:
            return
        if self._padded:
            raise PackageDecodeError("package content is not valid base64: data after padding")
        data = self._pending + text
        cut = len(data) - len(data) % 4
        self._pending = data[cut:]
        if cut:
            block = data[:cut]
            try:
                decoded = binascii.a2b_base64(block, strict_mode=True)
            except binascii.Error as exc:
                raise PackageDecodeError(f"package content is not valid base64: {exc}") from exc
            self._padded = block.endswith(b"=")
            self.decoded += len(decoded)
            self._write(decoded)

    def close(self) -> None:
        if self._pending:
            raise PackageDecodeError(
                "package content is not valid base64: its length is not a multiple of 4"
            )


class _Frame:
    __slots__ = ("expect_key", "is_object", "key")

    def __init__(self, is_object: bool) -> None:
        self.is_object = is_object
        self.expect_key = is_object
        self.key: str | None = None


class EnvelopeScanner:
    """Feed the body's bytes with `feed`, then `close()` for the envelope without `content`.

    `write` receives the decoded ZIP bytes in order. Raises `PackageDecodeError` for bad base64
    and `EnvelopeError` for JSON that is not a complete envelope (a body cut short included).
    """

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._sink = _Base64Sink(write)
        self._rest = bytearray()
        self._stack: list[_Frame] = []
        self._in_string = False
        self._string_is_key = False
        self._escape = False
        self._key = bytearray()
        self._in_content = False
        self._content_escape: bytearray | None = None
        self.content_seen = False

    @property
    def decoded_bytes(self) -> int:
        """ZIP bytes handed to `write` so far."""
        return self._sink.decoded

    def feed(self, chunk: bytes) -> None:
        at, size = 0, len(chunk)
        while at < size:
            step = self._feed_content if self._in_content else self._feed_json
            at = step(chunk, at)

    def _feed_content(self, chunk: bytes, at: int) -> int:
        """Hand base64 text to the decoder up to the closing quote; the fast path."""
        if self._content_escape is not None:
            return self._continue_escape(chunk, at)
        quote = chunk.find(b'"', at)
        backslash = chunk.find(b"\\", at, quote if quote >= 0 else len(chunk))
        end = backslash if backslash >= 0 else quote if quote >= 0 else len(chunk)
        self._sink.feed(chunk[at:end])
        if end == len(chunk):
            return end
        if chunk[end] == _QUOTE:
            self._in_content = False
            self._rest.append(_QUOTE)
            return end + 1
        self._content_escape = bytearray()
        return end + 1

    def _continue_escape(self, chunk: bytes, at: int) -> int:
        pending = self._content_escape
        assert pending is not None
        while at < len(chunk):
            pending.append(chunk[at])
            at += 1
            if pending[0] == _ESCAPED_SOLIDUS:
                self._sink.feed(b"/")
                self._content_escape = None
                return at
            if pending[0] != ord("u"):
                raise PackageDecodeError(
                    f"package content is not valid base64: it holds the escape \\{chr(pending[0])}"
                )
            if len(pending) == 5:
                char = chr(int(pending[1:].decode("ascii", "replace"), 16))
                if not (char.isascii() and (char.isalnum() or char in "+/=")):
                    raise PackageDecodeError(
                        f"package content is not valid base64: it holds {char!r}"
                    )
                self._sink.feed(char.encode("ascii"))
                self._content_escape = None
                return at
        return at

    def _feed_json(self, chunk: bytes, at: int) -> int:
        """Track the JSON structure byte by byte until the `data.content` string starts."""
        rest = self._rest
        for index in range(at, len(chunk)):
            byte = chunk[index]
            if len(rest) >= MAX_ENVELOPE_REST:
                raise EnvelopeError(
                    f"the envelope holds over {MAX_ENVELOPE_REST} bytes besides content"
                )
            rest.append(byte)
            if self._in_string:
                if self._string_is_key:
                    self._key.append(byte)
                if self._escape:
                    self._escape = False
                elif byte == _BACKSLASH:
                    self._escape = True
                elif byte == _QUOTE:
                    self._in_string = False
                    if self._string_is_key:
                        self._stack[-1].key = _decode_key(bytes(self._key[:-1]))
                continue
            if byte == _QUOTE:
                top = self._stack[-1] if self._stack else None
                if top is not None and top.is_object and top.expect_key:
                    top.expect_key = False
                    self._string_is_key = True
                    self._key.clear()
                    self._in_string = True
                elif self._at_content():
                    if self.content_seen:
                        raise EnvelopeError("the envelope has data.content twice")
                    self.content_seen = True
                    self._in_content = True
                    return index + 1
                else:
                    self._string_is_key = False
                    self._in_string = True
            elif byte == _OPEN_OBJECT:
                self._stack.append(_Frame(is_object=True))
            elif byte == _OPEN_ARRAY:
                self._stack.append(_Frame(is_object=False))
            elif byte in (_CLOSE_OBJECT, _CLOSE_ARRAY):
                if not self._stack:
                    raise EnvelopeError("unbalanced JSON")
                self._stack.pop()
            elif byte == _COMMA and self._stack and self._stack[-1].is_object:
                self._stack[-1].expect_key = True
        return len(chunk)

    def _at_content(self) -> bool:
        stack = self._stack
        return (
            len(stack) == 2
            and stack[0].is_object
            and stack[0].key == "data"
            and stack[1].is_object
            and stack[1].key == "content"
        )

    def close(self) -> Any:
        """The envelope with `content` as `""` (decoded JSON). Raises EnvelopeError if the body
        ended early (open string, object or content) or is not JSON."""
        if self._in_content or self._in_string or self._stack:
            raise EnvelopeError("the body ended before its JSON was complete")
        self._sink.close()
        try:
            return json.loads(bytes(self._rest))
        except (ValueError, RecursionError) as exc:
            raise EnvelopeError(f"the body is not JSON: {exc}") from None


def _decode_key(raw: bytes) -> str:
    try:
        key = json.loads(b'"' + raw + b'"')
    except ValueError:
        return raw.decode("utf-8", "replace")
    return str(key)
