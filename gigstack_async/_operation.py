"""What the runtime knows about one API operation. The table itself is generated from the spec."""

from __future__ import annotations

from typing import Literal

import attrs

BodyKind = Literal["json", "multipart"]


@attrs.frozen
class Pagination:
    """How a list operation pages: the cursor parameter and the response fields to read."""

    cursor_param: str
    items_field: str
    next_field: str
    has_more_field: str


@attrs.frozen
class Operation:
    """One operation of openapi/, as data: the transport's retry policy reads `billed` from here."""

    operation_id: str
    method: str
    path: str
    resource: str
    response_model: type
    path_params: tuple[str, ...] = ()
    query_params: tuple[str, ...] = ()
    body: BodyKind | None = None
    request_model: type | None = None
    billed: bool = False
    """May charge money: never retried once the request may have reached the server."""
    limited: bool = False
    """Spends a limited resource (a package's 2 SAT downloads): never retried once the request
    may have reached the server, either."""
    pagination: Pagination | None = None

    @property
    def retry_unsafe(self) -> bool:
        """Billed or limited: a second attempt could cost money or a download."""
        return self.billed or self.limited
