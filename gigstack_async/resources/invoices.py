"""`client.invoices`: the generated invoice operations plus their files as bytes or on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, overload

from gigstack_async._generated.models import InvoiceFileType
from gigstack_async._generated.resources.invoices import Invoices as GeneratedInvoices
from gigstack_async._validation import enum_value
from gigstack_async.files import PathLike, fetch_file

FileType = InvoiceFileType | Literal["pdf", "xml"]


class Invoices(GeneratedInvoices):
    """Income, egress, drafts, payment complements, cancel, search, support documents, files.

    Adds to the generated class: `download(id, "pdf" | "xml", to=...)`, the file itself rather
    than its URL.
    """

    @overload
    async def download(self, id: str, file_type: FileType = ..., *, to: None = None) -> bytes: ...

    @overload
    async def download(self, id: str, file_type: FileType = ..., *, to: PathLike) -> Path: ...

    async def download(
        self, id: str, file_type: FileType = "pdf", *, to: PathLike | None = None
    ) -> bytes | Path:
        """The invoice's PDF or XML: its bytes, or with `to` written (streamed) to that path.

        Asks `GET /invoices/{id}/files?file_type=...` for the file's URL, then downloads it
        without sending the API key (FACT-CLI: the URLs are public). Writing to `to` is atomic:
        the file is complete or absent. Side effect: none (retried on transient errors).

        Raises InvalidParameterError for a bad `file_type`, APIStatusError subclasses for the
        API's or the storage's errors, APIResponseValidationError when no file is offered.

        ```python
        pdf = await client.invoices.download(invoice.uuid)                     # bytes
        await client.invoices.download(invoice.uuid, "xml", to="factura.xml")  # on disk
        ```
        """
        kind = enum_value("file_type", file_type, InvoiceFileType)
        files = await self.get_files(id, file_type=kind)
        value = None if files is None else getattr(files, kind.value, None)
        return await fetch_file(self._pipeline, value, what=f"invoice {kind.value}", to=to)
