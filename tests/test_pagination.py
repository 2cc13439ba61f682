"""Cursor pagination of `client.sat_invoices.list()`: order, laziness and loop safety."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gigstack_async import AsyncPager, PaginationError
from gigstack_async._generated.models import SatInvoiceList
from gigstack_async.transports import Request, Response


def invoice(n: int) -> dict[str, Any]:
    return {
        "id": f"inv_{n}",
        "uuid": f"6741A863-04BE-49FE-BB76-{n:012X}",
        "direction": "received",
        "issuer": {"rfc": "EKU9003173C9", "name": "ESCUELA KEMPER URGATE"},
        "receiver": {"rfc": "XAXX010101000", "name": "PUBLICO EN GENERAL"},
        "invoice_type": "I",
        "total": 1160.0 + n,
        "currency": "MXN",
        "status": "Vigente",
    }


def page(numbers: range | list[int], *, has_more: bool, next: str | None) -> Response:
    body = {
        "success": True,
        "data": [invoice(n) for n in numbers],
        "has_more": has_more,
        "next": next,
        "count": len(numbers),
    }
    return Response(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def cursor_of(request: Request) -> str | None:
    return dict(request.params).get("starting_after")


async def collect(pager: AsyncPager[Any, Any], into: list[Any]) -> None:
    async for item in pager:
        into.append(item)


def numbers_of(items: list[Any]) -> list[int]:
    return [int(item.uuid.rsplit("-", 1)[1], 16) for item in items]


async def test_items_across_pages_in_order(mock_client) -> None:
    client, transport = mock_client(
        [
            page(range(0, 3), has_more=True, next="cur_1"),
            page(range(3, 6), has_more=True, next="cur_2"),
            page(range(6, 8), has_more=False, next=None),
        ]
    )
    items = [item async for item in client.sat_invoices.list(direction="received", limit=3)]
    assert numbers_of(items) == list(range(8))
    assert [cursor_of(r) for r in transport.requests] == [None, "cur_1", "cur_2"]
    for request in transport.requests:  # the filters ride along on every page
        assert request.url == "https://api.gigstack.io/v2/invoices/sat"
        filters = [(k, v) for k, v in request.params if k != "starting_after"]
        assert filters == [("direction", "received"), ("limit", "3")]


async def test_await_gives_only_the_first_page(mock_client) -> None:
    client, transport = mock_client([page(range(3), has_more=True, next="cur_1")])
    first = await client.sat_invoices.list()
    assert isinstance(first, SatInvoiceList)
    assert numbers_of(first.data) == [0, 1, 2]
    assert (first.has_more, first.next, first.count) == (True, "cur_1", 3)
    assert len(transport.requests) == 1


async def test_pages(mock_client) -> None:
    client, transport = mock_client(
        [page(range(2), has_more=True, next="c1"), page(range(2, 3), has_more=False, next=None)]
    )
    pages = [p async for p in client.sat_invoices.list().pages()]
    assert [numbers_of(p.data) for p in pages] == [[0, 1], [2]]
    assert [p.has_more for p in pages] == [True, False]
    assert len(transport.requests) == 2


async def test_empty_page_with_has_more_is_followed(mock_client) -> None:
    client, transport = mock_client(
        [
            page([], has_more=True, next="c1"),
            page([], has_more=True, next="c2"),
            page([7], has_more=False, next=None),
        ]
    )
    items = [item async for item in client.sat_invoices.list()]
    assert numbers_of(items) == [7]
    assert len(transport.requests) == 3


async def test_has_more_false_stops_even_with_a_cursor(mock_client) -> None:
    client, transport = mock_client([page(range(2), has_more=False, next="dangling")])
    items = [item async for item in client.sat_invoices.list()]
    assert len(items) == 2
    assert len(transport.requests) == 1


async def test_repeated_cursor_raises_instead_of_looping(mock_client) -> None:
    def handler(request: Request) -> Response:
        assert len(transport.requests) <= 5, "the pager kept looping"
        return page(range(1), has_more=True, next="same")

    client, transport = mock_client(handler)
    seen: list[Any] = []
    with pytest.raises(PaginationError, match="same"):
        await collect(client.sat_invoices.list(), seen)
    assert len(transport.requests) == 2
    assert len(seen) == 2


async def test_cursor_cycle_raises(mock_client) -> None:
    cursors = iter(["a", "b", "a"])

    def handler(request: Request) -> Response:
        assert len(transport.requests) <= 5, "the pager kept looping"
        return page(range(1), has_more=True, next=next(cursors))

    client, transport = mock_client(handler)
    with pytest.raises(PaginationError):
        await collect(client.sat_invoices.list(), [])
    assert len(transport.requests) == 3


@pytest.mark.parametrize("missing", [None, ""])
async def test_has_more_without_next_raises(mock_client, missing: str | None) -> None:
    client, transport = mock_client([page(range(2), has_more=True, next=missing)])
    seen: list[Any] = []
    with pytest.raises(PaginationError, match="next"):
        await collect(client.sat_invoices.list(), seen)
    assert len(seen) == 2  # what did arrive was handed over first
    assert len(transport.requests) == 1


async def test_max_items_stops_without_fetching_more(mock_client) -> None:
    client, transport = mock_client(
        [page(range(3), has_more=True, next="c1"), page(range(3, 6), has_more=True, next="c2")]
    )
    items = [item async for item in client.sat_invoices.list(max_items=4)]
    assert numbers_of(items) == [0, 1, 2, 3]
    assert len(transport.requests) == 2


async def test_max_items_at_a_page_boundary_fetches_no_further_page(mock_client) -> None:
    client, transport = mock_client([page(range(3), has_more=True, next="c1")])
    items = [item async for item in client.sat_invoices.list(max_items=3)]
    assert len(items) == 3
    assert len(transport.requests) == 1


@pytest.mark.parametrize("bad", [0, -1])
async def test_max_items_must_be_positive(mock_client, bad: int) -> None:
    client, transport = mock_client([])
    with pytest.raises(ValueError, match="max_items"):
        client.sat_invoices.list(max_items=bad)
    assert transport.requests == []


async def test_iteration_is_lazy(mock_client) -> None:
    client, transport = mock_client([page(range(2), has_more=False, next=None)])
    pager = client.sat_invoices.list(direction="issued")
    assert isinstance(pager, AsyncPager)
    iterator = aiter(pager)
    assert transport.requests == []
    first = await anext(iterator)
    assert numbers_of([first]) == [0]
    assert len(transport.requests) == 1
    await iterator.aclose()


async def test_breaking_out_early_stops_fetching(mock_client) -> None:
    client, transport = mock_client(
        [page(range(3), has_more=True, next="c1"), page(range(3, 6), has_more=True, next="c2")]
    )
    async for item in client.sat_invoices.list():
        if numbers_of([item]) == [4]:
            break
    assert len(transport.requests) == 2


async def test_each_iteration_starts_over(mock_client) -> None:
    client, transport = mock_client(
        [page(range(2), has_more=False, next=None), page(range(2), has_more=False, next=None)]
    )
    pager = client.sat_invoices.list()
    assert len([i async for i in pager]) == 2
    assert len([i async for i in pager]) == 2
    assert [cursor_of(r) for r in transport.requests] == [None, None]


# ---------------------------------------------------------------- page numbers and single lists


def _page_pager(pages: dict[int, dict[str, object]], **fields: str):  # type: ignore[no-untyped-def]
    import types as _types

    from gigstack_async._operation import Pagination
    from gigstack_async.pagination import AsyncPager

    asked: list[object] = []

    async def fetch(position: object) -> object:
        asked.append(position)
        return _types.SimpleNamespace(**pages[position])  # type: ignore[index]

    style = fields.pop("style", "page")
    pagination = Pagination(items_field="data", style=style, page_param="page", **fields)  # type: ignore[arg-type]
    return AsyncPager(fetch, pagination), asked


async def test_page_numbers_follow_has_more_over_total() -> None:
    pages = {
        1: {"data": [1, 2], "has_more": True, "total": 2},  # total is stale; has_more wins
        2: {"data": [3], "has_more": False, "total": 3},
    }
    pager, asked = _page_pager(pages, has_more_field="has_more", total_field="total")
    assert [i async for i in pager] == [1, 2, 3]
    assert asked == [1, 2]


async def test_page_numbers_without_counts_stop_at_a_short_page() -> None:
    pages = {1: {"data": [1, 2]}, 2: {"data": [3, 4]}, 3: {"data": [5]}}
    pager, asked = _page_pager(pages)
    assert [i async for i in pager] == [1, 2, 3, 4, 5]
    assert asked == [1, 2, 3]


async def test_a_server_that_ignores_the_page_number_is_caught() -> None:
    from gigstack_async.errors import PaginationError

    pages = {n: {"data": [1, 2], "total": 100} for n in range(1, 5)}
    pager, asked = _page_pager(pages, total_field="total")
    with pytest.raises(PaginationError, match="repeats page 1"):
        [i async for i in pager]
    assert asked == [1, 2]


async def test_endless_empty_pages_that_announce_more_are_caught() -> None:
    from gigstack_async.errors import PaginationError

    pages = {n: {"data": [], "has_more": True} for n in range(1, 10)}
    pager, asked = _page_pager(pages, has_more_field="has_more")
    with pytest.raises(PaginationError, match="empty pages in a row"):
        [i async for i in pager]
    assert len(asked) == 3


async def test_a_single_page_list_is_one_request() -> None:
    pager, asked = _page_pager({None: {"data": [1, 2]}}, style="single")  # type: ignore[dict-item]
    assert [i async for i in pager] == [1, 2]
    assert (await pager).data == [1, 2]
    assert asked == [None, None]


async def test_a_plain_for_loop_says_to_use_async_for_and_sends_nothing(mock_client) -> None:
    client, transport = mock_client([])

    # Before: "'AsyncPager' object is not iterable", with no word on what to write.
    with pytest.raises(TypeError, match="async for item in"):
        for _ in client.clients.list():  # the mistake under test
            pass
    with pytest.raises(TypeError, match="not `for`"):
        list(client.sat_invoices.list())
    assert transport.requests == []
