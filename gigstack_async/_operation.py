"""What the runtime knows about one API operation. The table itself is generated from the spec."""

from __future__ import annotations

from typing import Literal

import attrs

BodyKind = Literal["json", "multipart"]

SideEffect = Literal[
    "none", "creates", "charges", "fiscal-document", "moves-money", "limited-download"
]
"""`x-gigstack-side-effect`: what a call does beyond reading. Anything but `none` is never sent
twice once it may have reached the server, unless the operation takes an idempotency key."""

SIDE_EFFECTS: tuple[SideEffect, ...] = (
    "none",
    "creates",
    "charges",
    "fiscal-document",
    "moves-money",
    "limited-download",
)

PagingStyle = Literal["cursor", "page", "single"]


@attrs.frozen
class Pagination:
    """How a list operation pages (`x-gigstack-pagination`).

    - `cursor`: the request's `cursor_param` takes the response's `next_field`; the loop follows
      `has_more_field`.
    - `page`: the request's `page_param` counts 1, 2, …; the loop stops on `has_more_field` when
      the response has it, else when `total_field` items were seen, else on a short/empty page.
    """

    items_field: str
    style: PagingStyle = "cursor"
    cursor_param: str | None = None
    next_field: str | None = None
    has_more_field: str | None = None
    total_field: str | None = None
    limit_param: str | None = None
    page_param: str | None = None
    per_page_param: str | None = None
    query_param: str | None = None


@attrs.frozen
class Idempotency:
    """`x-gigstack-idempotency`: where the API reads an idempotency key (`body` field or header)."""

    field: str
    location: Literal["body", "header"] = "body"


@attrs.frozen
class FieldLimits:
    """A body field's limits from the spec (minimum, maxItems, pattern, …), checked before
    sending by `_params.json_body`; `model` / `items_model` name the component a nested object
    (or each array item) is checked against. Generated into `_generated.operations.LIMITS`."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    min_items: int | None = None
    max_items: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    model: str | None = None
    items_model: str | None = None


@attrs.frozen
class Upload:
    """`x-gigstack-upload`: what a multipart file part may be, checked before sending."""

    max_bytes: int
    content_types: tuple[str, ...] = ()


def _no_resend(op: Operation) -> bool:
    return op.side_effect != "none" and op.idempotency is None


@attrs.frozen
class Operation:
    """One operation of openapi/, as data: the retry policy reads `no_resend` from here."""

    operation_id: str
    method: str
    path: str
    resource: str
    response_model: type
    path_params: tuple[str, ...] = ()
    query_params: tuple[str, ...] = ()
    body: BodyKind | None = None
    request_model: type | None = None
    side_effect: SideEffect = "none"
    idempotency: Idempotency | None = None
    pagination: Pagination | None = None
    upload: Upload | None = None
    unwrap: str | None = None
    """The response field holding the data (`x-gigstack-unwrap`), as a Python attribute name."""
    no_resend: bool = attrs.field(init=False, default=attrs.Factory(_no_resend, takes_self=True))
    """Never sent twice once it may have reached the server: a side effect and no idempotency
    key. Computed once here so the request path reads one attribute."""

    @property
    def billed(self) -> bool:
        """May charge money (`side_effect == "charges"`; `x-gigstack-billed: true` in the spec)."""
        return self.side_effect == "charges"
