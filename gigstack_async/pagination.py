"""Cursor pagination: one object you can `await` (first page) or `async for` (every item).

```python
async for invoice in client.sat_invoices.list(direction="received"):   # every item, lazily
    ...
page = await client.sat_invoices.list(limit=100)                       # just the first page
async for page in client.sat_invoices.list().pages():                  # page by page
    print(page.count, page.has_more, page.next)
```

The loop is driven by `has_more` and the `next` cursor, never by "the page was not empty": an
empty page with `has_more: true` is followed. A cursor that repeats raises PaginationError
instead of looping forever. Only one page is held in memory at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

from gigstack_async._operation import Pagination
from gigstack_async.errors import PaginationError

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT")


class AsyncPager(Generic[ItemT, PageT]):
    """Lazily walks a cursor-paginated list. Nothing is requested until awaited or iterated."""

    def __init__(
        self,
        fetch: Callable[[str | None], Awaitable[PageT]],
        pagination: Pagination,
        *,
        max_items: int | None = None,
        max_pages: int | None = None,
    ) -> None:
        self._fetch = fetch
        self._pagination = pagination
        self._max_items = max_items
        self._max_pages = max_pages

    def __await__(self) -> Generator[Any, None, PageT]:
        return self._fetch(None).__await__()

    async def pages(self) -> AsyncIterator[PageT]:
        """Every page, in order, following `has_more` and `next`."""
        cursor: str | None = None
        seen: set[str] = set()
        fetched = 0
        while True:
            page = await self._fetch(cursor)
            fetched += 1
            yield page
            if not getattr(page, self._pagination.has_more_field):
                return
            if self._max_pages is not None and fetched >= self._max_pages:
                return
            cursor = getattr(page, self._pagination.next_field)
            if not cursor:
                raise PaginationError(
                    f"the server said has_more=true but gave no `{self._pagination.next_field}` "
                    f"cursor after page {fetched}"
                )
            if cursor in seen:
                raise PaginationError(
                    f"the server repeated the cursor {cursor!r} (page {fetched + 1}); "
                    "stopping instead of looping forever"
                )
            seen.add(cursor)

    async def __aiter__(self) -> AsyncIterator[ItemT]:
        count = 0
        async for page in self.pages():
            items: list[ItemT] = getattr(page, self._pagination.items_field)
            for item in items:
                yield item
                count += 1
                if self._max_items is not None and count >= self._max_items:
                    return
