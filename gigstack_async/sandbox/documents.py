"""Support documents (`/{clients,invoices,payments}/{id}/support-documents`): multipart upload
and the unpaginated list, shaped like the docs' upload response (SATDocument)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from gigstack_async.sandbox.core import CoreTeam, Record
from gigstack_async.sandbox.envelopes import ApiError, invalid
from gigstack_async.sandbox.routes_common import (
    core_of,
    now_ms,
    owner_of,
    respond_standardized,
    team_core,
)

DOCUMENT_TYPES = frozenset(
    {
        "contract",
        "delivery_proof",
        "payment_proof",
        "communication",
        "payment_confirmation",
        "subscription_info",
    }
)
"""`documentType` values (FACT-docs, upload-support-document)."""
MAX_BYTES = 10 * 1024 * 1024
"""10 MiB: the CLI's limit (GUESS that the server enforces the same)."""
MIME_BY_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"RIFF", "image/webp"),
)


async def read_form(request: web.Request) -> dict[str, tuple[str | None, bytes]]:
    """Every multipart part: name → (filename, bytes); 400 when the body is not multipart."""
    if not request.content_type.startswith("multipart/"):
        raise ApiError(400, "invalid_request_body", "Send multipart/form-data")
    parts: dict[str, tuple[str | None, bytes]] = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name:
                parts[part.name] = (part.filename, bytes(await part.read()))
    except (ValueError, HttpProcessingError) as exc:  # a malformed body is the client's fault
        raise ApiError(
            400, "invalid_request_body", f"The multipart body cannot be parsed: {exc}"
        ) from exc
    return parts


def sniff(content: bytes) -> str | None:
    """The MIME type of a supported file, from its first bytes."""
    for magic, mime in MIME_BY_MAGIC:
        if content.startswith(magic):
            return mime
    return None


def upload_handler(owner: str, lookup: Callable[[CoreTeam, str], Record]) -> Handler:
    """POST /{owner}/{id}/support-documents for an owner kind (clients, invoices, payments)."""

    async def handler(request: web.Request) -> web.Response:
        core = team_core(request)
        entity_id = request.match_info["id"]
        lookup(core, entity_id)
        parts = await read_form(request)
        if "file" not in parts:
            raise invalid("file", "the document file part is required")
        filename, content = parts["file"]
        if len(content) > MAX_BYTES:
            raise ApiError(400, "file_upload_error", "file: larger than 10 MiB", details=("file",))
        mime = sniff(content)
        if mime is None:
            raise ApiError(
                400,
                "invalid_file_format",
                "file: must be a PDF, PNG, JPEG or WEBP document",
                details=("file",),
            )
        doc_type = parts.get("documentType", (None, b""))[1].decode("utf-8", "replace")
        if doc_type not in DOCUMENT_TYPES:
            raise invalid("documentType", f"must be one of {', '.join(sorted(DOCUMENT_TYPES))}")
        name = parts.get("name", (None, b""))[1].decode("utf-8", "replace") or filename or "file"
        moment = now_ms(request)
        doc_id = core_of(request).new_id("doc")
        document: Record = {
            "id": doc_id,
            "document_type": doc_type,
            "name": name,
            "description": parts.get("description", (None, b""))[1].decode("utf-8", "replace"),
            "file_url": f"https://storage.sandbox.gigstack.test/documents/{doc_id}",
            "file_name": filename or name,
            "file_size": len(content),
            "mime_type": mime,
            "compliance_status": "pending_review",
            "created_at": moment,
            "created_by": owner_of(request),
            "updated_at": moment,
            "linked_entities": [
                {"entity_type": owner.rstrip("s"), "entity_id": entity_id, "linked_at": moment}
            ],
        }
        core.documents.setdefault(f"{owner}/{entity_id}", []).append(document)
        return respond_standardized(request, document, "Support document uploaded successfully")

    return handler


def list_handler(owner: str, lookup: Callable[[CoreTeam, str], Record]) -> Handler:
    """GET /{owner}/{id}/support-documents: every document, no cursor (FACT-CLI)."""

    async def handler(request: web.Request) -> web.Response:
        core = team_core(request)
        entity_id = request.match_info["id"]
        lookup(core, entity_id)
        documents = core.documents.get(f"{owner}/{entity_id}", [])
        return respond_standardized(request, documents, "Support documents retrieved successfully")

    return handler
