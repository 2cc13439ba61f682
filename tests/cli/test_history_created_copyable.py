"""`downloads history` shows each request's `createdAt` so that, copied into
`journal adopt --created-at`, it means the same instant (newcomer 11 #6: a UTC time without its
"Z" was read as Mexico City's wall time, six hours off, and recorded)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gigstack_async.bulk.created_at import created_at_instant
from gigstack_async.bulk.machine import vouch_created_at
from gigstack_async.cli.commands.downloads import _created

SENT = [
    1796030128158,  # epoch ms
    1796030128,  # epoch s
    "2026-11-30T03:15:28-06:00",  # ISO with an offset
    "2026-11-30T09:15:28Z",
]


@pytest.mark.parametrize("value", SENT, ids=["ms", "s", "offset", "Z"])
def test_a_shown_created_at_copied_into_created_at_is_the_same_instant(value: object) -> None:
    shown = _created(value)  # type: ignore[arg-type]
    assert shown == "2026-11-30T09:15:28Z"
    vouched = datetime.fromisoformat(vouch_created_at(shown))
    assert vouched == datetime(2026, 11, 30, 9, 15, 28, tzinfo=UTC)
    instant = created_at_instant(value)  # type: ignore[arg-type]
    assert instant is not None
    assert vouched == instant.replace(microsecond=0)  # shown to the second


def test_what_cannot_be_told_is_shown_as_sent_and_never_as_a_time() -> None:
    assert _created("2026-11-30T03:15:28") == "2026-11-30T03:15:28 (time zone not stated)"
    assert _created("soon") == "soon (unit unknown)"
    assert _created(None) == ""
