"""`paged()` for lists the API returns whole (style `single`), and the plain-`for` mistake
(issue 13: mutation survivors in pagination.py).

What a user sees: the requests that go out (path, query, how many), the items that come back,
and the exact message when a list is walked the wrong way. A real Pipeline over a
MockTransport, so the assertions are on the request the transport was handed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import attrs
import pytest

from gigstack_async import GigstackClient, _config
from gigstack_async._generated import models
from gigstack_async._generated import operations as ops
from gigstack_async._operation import Pagination
from gigstack_async._pipeline import Pipeline
from gigstack_async.pagination import AsyncPager, paged
from gigstack_async.transports.base import Request, Response
from gigstack_async.transports.mock import MockTransport

BASE = "http://127.0.0.1:9/v2"
DOCS = {"success": True, "data": [{"id": "doc_1"}, {"id": "doc_2"}, {"id": "doc_3"}]}
WALK_WITH_ASYNC_FOR = (
    "a list() result is walked with `async for item in client....list()` (inside an async "
    "function), not `for`; `page = await client....list()` gives the first page"
)


def _answer(request: Request) -> Response:
    return Response(200, {"content-type": "application/json"}, json.dumps(DOCS).encode())


def _sent(transport: MockTransport) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    return [(r.method, r.url, r.params) for r in transport.requests]


def _pipeline(transport: MockTransport) -> Pipeline:
    return Pipeline(
        transport=transport,
        api_key="sk_test_styles",
        base_url=BASE,
        team="team_1",
        timeout=_config.Timeout(),
        retry=_config.RetryPolicy(max_retries=0),
        semaphore=asyncio.Semaphore(1),
    )


async def test_a_whole_list_is_one_request_and_every_item(api_key: str) -> None:
    transport = MockTransport(_answer)
    async with GigstackClient(api_key, base_url=BASE, team="team_1", transport=transport) as c:
        listed = [doc.id async for doc in c.clients.support_documents.list("client_7")]
        first = await c.clients.support_documents.list("client_7")
        capped = [doc.id async for doc in c.clients.support_documents.list("client_7", max_items=2)]
    assert listed == ["doc_1", "doc_2", "doc_3"]
    assert isinstance(first, models.SupportDocumentList)
    assert [doc.id for doc in first.data or []] == ["doc_1", "doc_2", "doc_3"]
    assert capped == ["doc_1", "doc_2"]
    request = ("GET", f"{BASE}/clients/client_7/support-documents", (("team", "team_1"),))
    assert _sent(transport) == [request] * 3  # one request per walk, none per item


async def test_a_whole_list_sends_every_query_argument_unchanged() -> None:
    transport = MockTransport(_answer)
    op = attrs.evolve(
        ops.LIST_CLIENT_SUPPORT_DOCUMENTS, query_params=("team", "document_type", "q")
    )
    query = {"document_type": "csf", "q": None}
    pager = paged(_pipeline(transport), op, query=query, path_params={"id": "c/1"})
    assert [doc.id async for doc in pager] == ["doc_1", "doc_2", "doc_3"]
    pages = [page async for page in pager.pages()]
    assert [[doc.id for doc in page.data] for page in pages] == [["doc_1", "doc_2", "doc_3"]]
    params = (("document_type", "csf"), ("team", "team_1"))  # None is left out, as on every call
    sent = ("GET", f"{BASE}/clients/c%2F1/support-documents", params)
    assert _sent(transport) == [sent, sent]
    assert query == {"document_type": "csf", "q": None}  # the caller's mapping is untouched


@pytest.mark.parametrize(
    ("pagination", "style"),
    [
        (Pagination(items_field="data", style="page"), "'page'"),
        (Pagination(items_field="data", style="cursor"), "'cursor'"),
    ],
)
def test_a_paged_operation_without_its_parameter_is_refused_at_once(
    pagination: Pagination, style: str
) -> None:
    transport = MockTransport(_answer)
    op = attrs.evolve(ops.LIST_CLIENT_SUPPORT_DOCUMENTS, pagination=pagination)
    with pytest.raises(TypeError) as caught:
        paged(_pipeline(transport), op, query={}, path_params={"id": "c1"})
    assert str(caught.value) == (
        f"listClientSupportDocuments: x-gigstack-pagination style {style} names no "
        "cursor/page parameter"
    )
    assert transport.requests == []


async def test_a_plain_for_loop_says_what_to_write_and_sends_nothing(api_key: str) -> None:
    transport = MockTransport(_answer)
    async with GigstackClient(api_key, base_url=BASE, transport=transport) as client:
        pager: AsyncPager[Any, Any] = client.clients.support_documents.list("client_7")
        with pytest.raises(TypeError) as caught:
            for _ in pager:  # the mistake under test
                pass
    assert str(caught.value) == WALK_WITH_ASYNC_FOR
    assert transport.requests == []
