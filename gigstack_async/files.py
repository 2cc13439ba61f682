"""Invoice and retention files (PDF/XML): as bytes, or streamed to a path.

The API answers "get files" with where the file is, not the file (FACT-docs: download URLs for
invoices; for retentions URLs or base64 is unknown). `fetch_file` accepts each form the API may
use: an http(s) URL (downloaded without the API key, streamed to disk when a path is given), XML
text, or base64 content. A file written to a path appears complete or not at all (temp file,
fsync, rename).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from gigstack_async._atomic import fsync_dir, temp_name, write_atomic
from gigstack_async._pipeline import Pipeline
from gigstack_async.errors import APIResponseValidationError

PathLike = str | os.PathLike[str]


def _inline(value: str, what: str) -> bytes:
    text = value.lstrip()
    if text.startswith("<"):
        return value.encode("utf-8")  # the XML itself
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise APIResponseValidationError(
            f"the {what} is neither a URL, XML nor base64 content", status=200
        ) from exc


async def fetch_file(
    pipeline: Pipeline, value: str | None, *, what: str, to: PathLike | None = None
) -> bytes | Path:
    """The file `value` designates: its bytes, or, with `to`, the path it was written to."""
    if not value:
        raise APIResponseValidationError(f"the response has no {what}", status=200)
    is_url = value.startswith(("https://", "http://"))
    if to is None:
        if not is_url:
            return _inline(value, what)
        body = bytearray()
        async with pipeline.download(value) as stream:
            async for chunk in stream.chunks():
                body += chunk
                if len(body) > pipeline.max_response_bytes:
                    raise APIResponseValidationError(
                        f"the {what} exceeds {pipeline.max_response_bytes} bytes; pass to= to "
                        "stream it to a file",
                        status=stream.status,
                    )
        return bytes(body)
    target = Path(to)
    if not is_url:
        await asyncio.to_thread(write_atomic, target, _inline(value, what))
        return target
    tmp = target.with_name(temp_name(target.name))
    handle = await asyncio.to_thread(open, tmp, "xb")
    try:
        try:
            async with pipeline.download(value) as stream:
                async for chunk in stream.chunks():
                    await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_sync, handle)
        finally:
            await asyncio.to_thread(handle.close)
        await asyncio.to_thread(_promote, tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return target


def _sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _promote(tmp: Path, target: Path) -> None:
    os.replace(tmp, target)
    fsync_dir(target.parent)
