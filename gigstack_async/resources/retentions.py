"""`client.retentions`: the generated retention operations plus their files."""

from __future__ import annotations

from pathlib import Path
from typing import overload

from gigstack_async._generated.models import InvoiceFileType
from gigstack_async._generated.resources.retentions import Retentions as GeneratedRetentions
from gigstack_async._validation import enum_value
from gigstack_async.files import PathLike, fetch_file
from gigstack_async.resources.invoices import FileType


class Retentions(GeneratedRetentions):
    """CFDI de retenciones: list, create (stamps), get, cancel, and their files."""

    @overload
    async def download(self, id: str, file_type: FileType = ..., *, to: None = None) -> bytes: ...

    @overload
    async def download(self, id: str, file_type: FileType = ..., *, to: PathLike) -> Path: ...

    async def download(
        self, id: str, file_type: FileType = "pdf", *, to: PathLike | None = None
    ) -> bytes | Path:
        """The retention's PDF or XML as bytes, or written to `to`. The files answer is a GUESS
        (URL or base64: both handled, as is inline XML). Side effect: none."""
        kind = enum_value("file_type", file_type, InvoiceFileType)
        files = await self.get_files(id, file_type=kind)
        value = None if files is None else getattr(files, kind.value, None)
        return await fetch_file(self._pipeline, value, what=f"retention {kind.value}", to=to)
