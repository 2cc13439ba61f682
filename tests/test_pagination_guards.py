"""`AsyncPager`'s guards, rule by rule, on a fake fetch (issue 13: mutation survivors).

What a user sees: how many pages and items come out, which cursor each request carries, and
the exact `PaginationError` when the server's cursors would loop or stop making sense.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from gigstack_async import AsyncPager, PaginationError
from gigstack_async._operation import Pagination

PAGINATION = Pagination(
    cursor_param="starting_after", items_field="rows", next_field="cursor", has_more_field="more"
)


@attrs.frozen
class Page:
    rows: list[int]
    more: bool
    cursor: str | None


def pager(pages: list[Page], **kwargs: Any) -> tuple[AsyncPager[int, Page], list[str | None]]:
    asked: list[str | None] = []

    async def fetch(cursor: str | None) -> Page:
        asked.append(cursor)
        return pages[len(asked) - 1]

    return AsyncPager(fetch, PAGINATION, **kwargs), asked


THREE = [
    Page([1, 2], more=True, cursor="c1"),
    Page([3, 4], more=True, cursor="c2"),
    Page([5], more=False, cursor=None),
]


async def test_pages_follow_the_named_fields_and_cursors() -> None:
    walker, asked = pager(THREE)
    assert [p async for p in walker.pages()] == THREE
    assert asked == [None, "c1", "c2"]
    walker, asked = pager(THREE)
    assert [i async for i in walker] == [1, 2, 3, 4, 5]
    assert asked == [None, "c1", "c2"]


async def test_await_fetches_the_first_page_only() -> None:
    walker, asked = pager(THREE)
    assert await walker == THREE[0]
    assert asked == [None]


@pytest.mark.parametrize(("max_pages", "fetched"), [(1, 1), (2, 2), (3, 3), (4, 3)])
async def test_max_pages_is_exact(max_pages: int, fetched: int) -> None:
    walker, asked = pager(THREE, max_pages=max_pages)
    assert len([p async for p in walker.pages()]) == fetched
    assert len(asked) == fetched


@pytest.mark.parametrize(
    ("max_items", "items", "fetched"),
    [(1, [1], 1), (2, [1, 2], 1), (3, [1, 2, 3], 2), (9, [1, 2, 3, 4, 5], 3)],
)
async def test_max_items_is_exact(max_items: int, items: list[int], fetched: int) -> None:
    walker, asked = pager(THREE, max_items=max_items)
    assert [i async for i in walker] == items
    assert len(asked) == fetched


async def test_max_items_and_max_pages_together() -> None:
    walker, asked = pager(THREE, max_items=4, max_pages=1)
    assert [i async for i in walker] == [1, 2]
    assert asked == [None]


@pytest.mark.parametrize("cursor", [None, ""])
async def test_has_more_without_a_cursor_names_the_field_and_page(cursor: str | None) -> None:
    walker, _ = pager([Page([1], more=True, cursor="c1"), Page([2], more=True, cursor=cursor)])
    with pytest.raises(PaginationError) as info:
        _ = [p async for p in walker.pages()]
    assert (
        str(info.value) == "the server said has_more=true but gave no `cursor` cursor after page 2"
    )


async def test_a_repeated_cursor_names_it_and_the_page() -> None:
    pages = [
        Page([1], more=True, cursor="c1"),
        Page([2], more=True, cursor="c2"),
        Page([3], more=True, cursor="c1"),
    ]
    walker, asked = pager(pages)
    got: list[int] = []

    async def walk() -> None:
        async for item in walker:
            got.append(item)

    with pytest.raises(PaginationError) as info:
        await walk()
    assert str(info.value) == (
        "the server repeated the cursor 'c1' (page 4); stopping instead of looping forever"
    )
    assert got == [1, 2, 3]
    assert asked == [None, "c1", "c2"]


async def test_a_cursor_equal_to_the_first_request_is_not_a_repeat() -> None:
    # The first request carries no cursor; a server cursor is only "seen" once it was sent.
    pages = [Page([1], more=True, cursor="c1"), Page([2], more=False, cursor="c1")]
    walker, asked = pager(pages)
    assert [i async for i in walker] == [1, 2]
    assert asked == [None, "c1"]


async def test_has_more_false_ends_even_with_a_repeated_cursor() -> None:
    pages = [Page([1], more=True, cursor="c1"), Page([], more=False, cursor="c1")]
    walker, _ = pager(pages, max_pages=5)
    assert [p.rows async for p in walker.pages()] == [[1], []]
