"""Pagination: one object you can `await` (first page) or `async for` (every item).

```python
async for invoice in client.sat_invoices.list(direction="received"):   # every item, lazily
    ...
page = await client.sat_invoices.list(limit=100)                       # just the first page
async for page in client.sat_invoices.list().pages():                  # page by page
    print(page.count, page.has_more, page.next)
```

Two styles, both declared per operation in the spec (`x-gigstack-pagination`):

- cursor (core lists, SAT invoices): the loop is driven by `has_more` and the `next` cursor,
  never by "the page was not empty": an empty page with `has_more: true` is followed. A cursor
  that repeats raises PaginationError instead of looping forever.
- single: a list the API returns whole; one request, same interface.
- page numbers (search `page`/`per_page`, the CFDI errors catalog `page`/`limit`): pages 1, 2, …
  until `has_more` is false (when the response carries it), else until `total` items were seen,
  else until a short or empty page. A page that repeats the previous one, or empty pages while
  the server still announces more, raise PaginationError.

Only one page is held in memory at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from gigstack_async._operation import Operation, Pagination
from gigstack_async.errors import PaginationError

if TYPE_CHECKING:
    from gigstack_async._pipeline import Pipeline

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT")

MAX_EMPTY_PAGES = 3
"""Page-number style: this many empty pages in a row while the server says there are more is a
stall, not a list."""


class AsyncPager(Generic[ItemT, PageT]):
    """Lazily walks a paginated list. Nothing is requested until awaited or iterated.

    `fetch` takes the cursor (cursor style; None for the first page) or the page number
    (page style; 1 for the first page).
    """

    def __init__(
        self,
        fetch: Callable[[Any], Awaitable[PageT]],
        pagination: Pagination,
        *,
        max_items: int | None = None,
        max_pages: int | None = None,
    ) -> None:
        self._fetch = fetch
        self._pagination = pagination
        self._max_items = max_items
        self._max_pages = max_pages

    def __iter__(self) -> NoReturn:
        # Without this, `for x in client.clients.list()` fails with a bare "'AsyncPager' object
        # is not iterable", which does not say what to write instead.
        raise TypeError(
            "a list() result is walked with `async for item in client....list()` (inside an "
            "async function), not `for`; `page = await client....list()` gives the first page"
        )

    def __await__(self) -> Generator[Any, None, PageT]:
        first = 1 if self._pagination.style == "page" else None
        return self._fetch(first).__await__()

    def pages(self) -> AsyncIterator[PageT]:
        """Every page, in order."""
        if self._pagination.style == "page":
            return self._numbered_pages()
        if self._pagination.style == "single":
            return self._single_page()
        return self._cursor_pages()

    async def _single_page(self) -> AsyncIterator[PageT]:
        yield await self._fetch(None)

    async def _cursor_pages(self) -> AsyncIterator[PageT]:
        pagination = self._pagination
        has_more_field = pagination.has_more_field or "has_more"
        next_field = pagination.next_field or "next"
        cursor: str | None = None
        seen: set[str] = set()
        fetched = 0
        while True:
            page = await self._fetch(cursor)
            fetched += 1
            yield page
            if not getattr(page, has_more_field):
                return
            if self._max_pages is not None and fetched >= self._max_pages:
                return
            cursor = getattr(page, next_field)
            if not cursor:
                raise PaginationError(
                    f"the server said has_more=true but gave no `{next_field}` "
                    f"cursor after page {fetched}"
                )
            if cursor in seen:
                raise PaginationError(
                    f"the server repeated the cursor {cursor!r} (page {fetched + 1}); "
                    "stopping instead of looping forever"
                )
            seen.add(cursor)

    async def _numbered_pages(self) -> AsyncIterator[PageT]:
        pagination = self._pagination
        number = 1
        seen_items = 0
        empty_run = 0
        page_size: int | None = None
        previous: list[Any] | None = None
        while True:
            page = await self._fetch(number)
            items: list[Any] = list(getattr(page, pagination.items_field) or [])
            if items and previous is not None and items == previous:
                raise PaginationError(
                    f"page {number} repeats page {number - 1}: the server ignores "
                    f"`{pagination.page_param}`; stopping instead of looping forever"
                )
            yield page
            seen_items += len(items)
            if self._max_pages is not None and number >= self._max_pages:
                return
            more = _announced_more(page, pagination, seen_items)
            if more is None:  # nothing announced: a short or empty page is the last one
                if not items or (page_size is not None and len(items) < page_size):
                    return
            elif not more:
                return
            if items:
                empty_run = 0
                page_size = page_size or len(items)
            else:
                empty_run += 1
                if empty_run >= MAX_EMPTY_PAGES:
                    raise PaginationError(
                        f"{empty_run} empty pages in a row (up to page {number}) while the "
                        "server says there are more items; stopping instead of looping forever"
                    )
            previous = items
            number += 1

    async def __aiter__(self) -> AsyncIterator[ItemT]:
        count = 0
        items_field = self._pagination.items_field
        async for page in self.pages():
            items: list[ItemT] = getattr(page, items_field) or []
            for item in items:
                yield item
                count += 1
                if self._max_items is not None and count >= self._max_items:
                    return


def _announced_more(page: object, pagination: Pagination, seen_items: int) -> bool | None:
    """Whether the page says more follow: `has_more`, else `total`; None when it says nothing."""
    if pagination.has_more_field is not None:
        has_more = getattr(page, pagination.has_more_field, None)
        if has_more is not None:
            return bool(has_more)
    if pagination.total_field is not None:
        total = getattr(page, pagination.total_field, None)
        if isinstance(total, int) and not isinstance(total, bool):
            return seen_items < total
    return None


def paged(
    pipeline: Pipeline,
    op: Operation,
    *,
    query: Mapping[str, Any],
    path_params: Mapping[str, str] | None = None,
    max_items: int | None = None,
) -> AsyncPager[Any, Any]:
    """An AsyncPager over `op` (used by the generated resources): the pager drives the cursor
    or the page number; every other query argument is sent unchanged on every page."""
    pagination = op.pagination
    assert pagination is not None  # codegen only emits paged() for paginated operations
    if pagination.style == "single":
        # The API returns the whole list in one answer: nothing to drive, one request.
        async def fetch_whole(_position: Any) -> Any:
            return await pipeline.call(op, path_params=path_params, query=dict(query))

        return AsyncPager(fetch_whole, pagination, max_items=max_items)
    param = pagination.page_param if pagination.style == "page" else pagination.cursor_param
    if param is None:
        raise TypeError(
            f"{op.operation_id}: x-gigstack-pagination style {pagination.style!r} names no "
            "cursor/page parameter"
        )

    async def fetch(position: Any) -> Any:
        return await pipeline.call(op, path_params=path_params, query={**query, param: position})

    return AsyncPager(fetch, pagination, max_items=max_items)
