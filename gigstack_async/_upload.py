"""Files for multipart uploads: read from bytes or a path, checked for size and type first.

The limits come from the spec (`x-gigstack-upload: {max_bytes, content_types}`), so a support
document, a CSF PDF or a CSD certificate is refused here, with a clear error, instead of after a
long upload. The type is sniffed from the file's first bytes (a `.pdf` name on a PNG does not
pass as a PDF); formats without a signature (DER certificates and keys) are recognised by their
ASN.1 header or accepted as `application/octet-stream` when the spec allows it.
"""

from __future__ import annotations

import os
from pathlib import Path

from gigstack_async._operation import Upload
from gigstack_async.errors import InvalidParameterError
from gigstack_async.transports.base import MultipartField

FileInput = bytes | bytearray | str | os.PathLike[str]
"""File content as bytes, or the path of a file to read."""

_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "application/xml": ".xml",
    "application/pkix-cert": ".cer",
    "application/x-x509-ca-cert": ".cer",
    "application/pkcs8": ".key",
    "application/octet-stream": ".bin",
}
_DER = {"application/pkix-cert", "application/x-x509-ca-cert", "application/pkcs8"}


def sniff(data: bytes) -> str | None:
    """The content type the first bytes prove, or None when they prove nothing."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.lstrip().startswith(b"<?xml"):
        return "application/xml"
    return None


def _content_type(field: str, data: bytes, allowed: tuple[str, ...], name: str | None) -> str:
    found = sniff(data)
    if not allowed:
        return found or "application/octet-stream"
    if found is not None and found in allowed:
        return found
    if found is None:
        # No signature: a DER certificate/key (an ASN.1 SEQUENCE) or opaque bytes.
        der = [t for t in allowed if t in _DER]
        if der and data[:1] == b"\x30":
            # A CSD/FIEL private key (.key, PKCS#8) and its certificate (.cer) are both DER.
            hint = (name or field).lower()
            is_key = hint.endswith(".key") or (not hint.endswith(".cer") and "key" in hint)
            preferred = [t for t in der if (t == "application/pkcs8") == is_key]
            return (preferred or der)[0]
        if "application/octet-stream" in allowed:
            return "application/octet-stream"
    shown = ", ".join(allowed)
    what = found or "an unrecognised format"
    raise InvalidParameterError(field, f"must be one of {shown}; the file is {what}")


def read_file(field: str, value: FileInput, max_bytes: int | None) -> tuple[bytes, str | None]:
    """(content, file name or None) from bytes or a path; a too large file is not read at all."""
    if isinstance(value, bytes | bytearray):
        data, name = bytes(value), None
    elif isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            size = path.stat().st_size
            if max_bytes is not None and size > max_bytes:
                raise InvalidParameterError(
                    field, f"{path.name} is {size} bytes; at most {max_bytes} bytes", str(path)
                )
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidParameterError(
                field, f"cannot read {path}: {exc.strerror or exc}", str(path)
            ) from exc
        name = path.name
    else:
        raise TypeError(f"{field}: expected bytes or a file path, got {type(value).__name__}")
    if not data:
        raise InvalidParameterError(field, "the file is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise InvalidParameterError(field, f"{len(data)} bytes; at most {max_bytes} bytes")
    return data, name


def file_part(field: str, value: FileInput, upload: Upload | None) -> MultipartField:
    """One checked file part of a multipart body."""
    data, name = read_file(field, value, None if upload is None else upload.max_bytes)
    allowed = () if upload is None else upload.content_types
    content_type = _content_type(field, data, allowed, name)
    filename = name or f"{field}{_EXTENSIONS.get(content_type, '.bin')}"
    return MultipartField(field, data, filename=filename, content_type=content_type)
