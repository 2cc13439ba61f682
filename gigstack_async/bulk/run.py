"""`client.downloads.bulk(...)`: the handle a caller iterates, inspects and closes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from gigstack_async.bulk.engine import BulkOptions, run_bulk
from gigstack_async.bulk.events import BulkEvent
from gigstack_async.bulk.plan import DownloadPlan
from gigstack_async.bulk.store import JournalCorruptError, JournalStore, StoreIdentity

DEFAULT_JOURNAL = ".gigstack-journal.sqlite3"
LEGACY_JOURNAL = ".gigstack-journal.json"

if TYPE_CHECKING:
    from gigstack_async.resources.downloads import Downloads


class BulkDownload:
    """A planned bulk download. Nothing is sent until you iterate it.

    ```python
    run = client.downloads.bulk("2024-01", "2024-12", rfc_type="received", download_to="cfdi")
    print(run.plan)                      # one line per month, before anything is submitted
    async with run:                      # breaking out of the loop cancels cleanly
        async for event in run:
            print(event)
    ```

    Events: `Submitted`, `StateChanged`, `PackageDownloaded`, `MonthWarning`, `MonthFailed` and,
    once per month, `MonthResult`. With `journal=` a crashed or interrupted run continues where
    it stopped when started again with the same arguments, and never submits a month twice.
    Only the months of `plan` are driven, even if the journal holds others.
    """

    def __init__(
        self,
        downloads: Downloads,
        plan: DownloadPlan,
        *,
        journal: str | os.PathLike[str] | None,
        options: BulkOptions,
    ) -> None:
        self._downloads = downloads
        self.plan = plan
        self.journal_path = None if journal is None else Path(journal)
        self._options = options
        self._iterator: AsyncGenerator[BulkEvent, None] | None = None

    @property
    def identity(self) -> StoreIdentity:
        """Who the journal belongs to: team, base URL, key fingerprint (never the key), kind."""
        pipeline = self._downloads._pipeline
        return StoreIdentity(
            team=pipeline.team,
            base_url=pipeline.base_url,
            key_fingerprint=pipeline.key_fingerprint(),
            rfc=None,
            rfc_type=self.plan.criteria.rfc_type.value,
            request_type=self.plan.criteria.request_type.value,
        )

    def check_journal(self) -> None:
        """Open the journal now and release it: a corrupt file, another run's journal or one in
        use by another process raises its JournalError here, before anything is sent."""
        if self.journal_path is None:
            return
        legacy = self.journal_path.with_name(LEGACY_JOURNAL)
        if self.journal_path.name == DEFAULT_JOURNAL and legacy.exists():
            raise JournalCorruptError(
                f"{legacy} is the JSON journal of an older gigstack-async; this version keeps "
                f"its journal in {self.journal_path.name}. Move the old file aside and attach "
                "the requests it lists with `gigstack-async journal adopt` (or start over, knowing "
                "that months it recorded as submitted may be requested, and billed, again)."
            )
        if self.journal_path.exists():
            with JournalStore.open(self.journal_path, self.identity):
                pass

    def __aiter__(self) -> AsyncIterator[BulkEvent]:
        if self._iterator is not None:
            raise RuntimeError("a BulkDownload can be iterated once")
        self._iterator = self._events()
        return self._iterator

    async def _events(self) -> AsyncGenerator[BulkEvent, None]:
        self.check_journal()
        with tempfile.TemporaryDirectory(prefix="gigstack-bulk-") as scratch:
            # Without a journal file the run still keeps one, in a scratch folder, so that both
            # paths share one well-tested implementation.
            path = self.journal_path or Path(scratch) / DEFAULT_JOURNAL
            with JournalStore.open(path, self.identity) as store:
                # aclosing: the engine must finish cancelling before the journal is closed.
                events = run_bulk(self._downloads, store, self.plan, self._options)
                async with contextlib.aclosing(events):
                    async for event in events:
                        yield event

    async def aclose(self) -> None:
        """Stop the run: cancel in-flight work, release the journal. Safe to call twice."""
        if self._iterator is not None:
            await self._iterator.aclose()

    async def __aenter__(self) -> BulkDownload:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
