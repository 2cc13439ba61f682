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


# --- page-number and single styles --------------------------------------------------------------


@attrs.frozen
class Numbered:
    data: list[int] | None
    more: bool | None = None
    total: Any = None


def numbered(pages: list[Numbered], **fields: Any) -> tuple[AsyncPager[int, Numbered], list[Any]]:
    asked: list[Any] = []

    async def fetch(number: Any) -> Numbered:
        asked.append(number)
        return pages[len(asked) - 1]

    style = {"items_field": "data", "style": "page", "page_param": "page", **fields}
    return AsyncPager(fetch, Pagination(**style)), asked


async def test_page_style_awaits_page_one() -> None:
    walker, asked = numbered([Numbered([1])])
    assert await walker == Numbered([1])
    assert asked == [1]


async def test_page_style_follows_has_more() -> None:
    pages = [Numbered([1, 2], more=True), Numbered([3], more=True), Numbered([4], more=False)]
    walker, asked = numbered(pages, has_more_field="more")
    assert [i async for i in walker] == [1, 2, 3, 4]
    assert asked == [1, 2, 3]


async def test_page_style_stops_when_total_is_reached() -> None:
    pages = [Numbered([1, 2], total=3), Numbered([3], total=3)]
    walker, asked = numbered(pages, total_field="total")
    assert [i async for i in walker] == [1, 2, 3]
    assert asked == [1, 2]
    pages = [Numbered([1, 2], total=4), Numbered([3, 4], total=4)]
    walker, asked = numbered(pages, total_field="total")
    assert [i async for i in walker] == [1, 2, 3, 4]
    assert asked == [1, 2]


async def test_page_style_has_more_wins_over_total_and_bools_are_not_totals() -> None:
    pages = [Numbered([1], more=False, total=10)]
    walker, asked = numbered(pages, has_more_field="more", total_field="total")
    assert [i async for i in walker] == [1]
    pages = [Numbered([1, 2], total=True), Numbered([3])]
    walker, asked = numbered(pages, total_field="total")
    assert [i async for i in walker] == [1, 2, 3]  # a short page ends it, not "True items"
    assert asked == [1, 2]
    pages = [Numbered([1, 2], more=None, total=2)]
    walker, _ = numbered(pages, has_more_field="more", total_field="total")
    assert [i async for i in walker] == [1, 2]


async def test_page_style_without_announcements_stops_on_a_short_or_empty_page() -> None:
    walker, asked = numbered([Numbered([1, 2]), Numbered([3, 4]), Numbered([5])])
    assert [i async for i in walker] == [1, 2, 3, 4, 5]
    assert asked == [1, 2, 3]
    walker, asked = numbered([Numbered([1, 2]), Numbered([])])
    assert [i async for i in walker] == [1, 2]
    assert asked == [1, 2]
    walker, asked = numbered([Numbered(None)])
    assert [i async for i in walker] == []
    assert asked == [1]


async def test_page_style_without_announcements_measures_short_against_the_first_page() -> None:
    # A server whose later pages grow (it changed its page size mid-walk) must not make a page
    # the size of the first one look short: that would silently drop every page after it.
    pages = [Numbered([1, 2]), Numbered([3, 4, 5]), Numbered([6, 7]), Numbered([8])]
    walker, asked = numbered(pages)
    assert [i async for i in walker] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert asked == [1, 2, 3, 4]


async def test_a_repeated_page_raises_naming_the_parameter() -> None:
    walker, _ = numbered(
        [Numbered([1, 2], more=True), Numbered([1, 2], more=True)], has_more_field="more"
    )
    with pytest.raises(PaginationError) as info:
        _ = [i async for i in walker]
    assert str(info.value) == (
        "page 2 repeats page 1: the server ignores `page`; stopping instead of looping forever"
    )


async def test_empty_pages_repeating_is_not_a_repeat_but_three_in_a_row_stall() -> None:
    pages = [Numbered([], more=True), Numbered([], more=True), Numbered([7], more=True)]
    pages += [Numbered([], more=True)] * 3
    walker, asked = numbered(pages, has_more_field="more")
    got: list[int] = []

    async def walk() -> None:
        async for item in walker:
            got.append(item)

    with pytest.raises(PaginationError) as info:
        await walk()
    assert got == [7]
    assert asked == [1, 2, 3, 4, 5, 6]
    assert str(info.value) == (
        "3 empty pages in a row (up to page 6) while the server says there are more items; "
        "stopping instead of looping forever"
    )


async def test_page_style_max_pages() -> None:
    pages = [Numbered([1], more=True), Numbered([2], more=True), Numbered([3], more=True)]
    walker, asked = numbered(pages, has_more_field="more")
    walker._max_pages = 2
    assert [p.data async for p in walker.pages()] == [[1], [2]]
    assert asked == [1, 2]


async def test_single_style_is_one_request() -> None:
    asked: list[Any] = []

    async def fetch(position: Any) -> Numbered:
        asked.append(position)
        return Numbered([1, 2], more=True)

    walker: AsyncPager[int, Numbered] = AsyncPager(
        fetch, Pagination(items_field="data", style="single")
    )
    assert [i async for i in walker] == [1, 2]
    assert asked == [None]
    assert await walker == Numbered([1, 2], more=True)
    assert asked == [None, None]


async def test_cursor_style_defaults_to_has_more_and_next() -> None:
    @attrs.frozen
    class Plain:
        data: list[int]
        has_more: bool
        next: str | None

    pages = [Plain([1], True, "c"), Plain([2], False, None)]
    asked: list[Any] = []

    async def fetch(cursor: Any) -> Plain:
        asked.append(cursor)
        return pages[len(asked) - 1]

    walker: AsyncPager[int, Plain] = AsyncPager(fetch, Pagination(items_field="data"))
    assert [i async for i in walker] == [1, 2]
    assert asked == [None, "c"]


async def test_paged_sends_the_position_in_its_parameter_with_the_other_query() -> None:
    from gigstack_async._operation import Operation
    from gigstack_async.pagination import paged

    calls: list[dict[str, Any]] = []

    class FakePipeline:
        async def call(self, op: Any, **kwargs: Any) -> Numbered:
            calls.append(kwargs)
            return Numbered([1], more=False)

    for style, expected in (
        (Pagination(items_field="data", style="page", page_param="pg"), {"q": "x", "pg": 1}),
        (Pagination(items_field="data", cursor_param="after"), {"q": "x", "after": None}),
    ):
        calls.clear()
        op = Operation(
            operation_id="o",
            method="GET",
            path="/p/{id}",
            resource="r",
            response_model=Numbered,
            pagination=style,
        )
        pager = paged(FakePipeline(), op, query={"q": "x"}, path_params={"id": "1"}, max_items=5)  # type: ignore[arg-type]
        assert await pager == Numbered([1], more=False)
        assert calls == [{"path_params": {"id": "1"}, "query": expected}]


async def test_a_page_without_the_announced_fields_announces_nothing() -> None:
    @attrs.frozen
    class Bare:
        data: list[int]

    pages = [Bare([1, 2]), Bare([3])]
    asked: list[Any] = []

    async def fetch(number: Any) -> Bare:
        asked.append(number)
        return pages[len(asked) - 1]

    style = Pagination(
        items_field="data",
        style="page",
        page_param="page",
        has_more_field="more",
        total_field="total",
    )
    walker: AsyncPager[int, Bare] = AsyncPager(fetch, style)
    assert [i async for i in walker] == [1, 2, 3]  # the short page ended it
    assert asked == [1, 2]


async def test_paged_honours_max_items() -> None:
    from gigstack_async._operation import Operation
    from gigstack_async.pagination import paged

    class FakePipeline:
        async def call(self, op: Any, **kwargs: Any) -> Numbered:
            return Numbered([1, 2, 3], more=True)

    op = Operation(
        operation_id="o",
        method="GET",
        path="/p",
        resource="r",
        response_model=Numbered,
        pagination=Pagination(
            items_field="data", style="page", page_param="pg", has_more_field="more"
        ),
    )
    pager = paged(FakePipeline(), op, query={}, max_items=2)  # type: ignore[arg-type]
    assert [i async for i in pager] == [1, 2]
