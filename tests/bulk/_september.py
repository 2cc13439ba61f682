"""September 2024 for the pure machine tests of how a month takes a request: its dates, the
history's entry for a request with its dates, and the month after a create whose outcome is
unknown (shared by test_machine_released_counts, test_machine_foreign_request and
test_machine_unproven_origin)."""

from __future__ import annotations

from datetime import date

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage

SEP = ("2024-09", date(2024, 9, 1), date(2024, 9, 30))
RELEASED = m.ReleasedRequest("X", (("X_01", 1),), (("X_01", 0),))
"""Request X, released by another month after SAT's 1st download of its package X_01."""


def seen(status: str = "completed", request_id: str = "X") -> m.Seen:
    """The history's entry for `request_id` with September's exact dates and type (its package
    `<id>_01` and 3 CFDIs once completed)."""
    done = status == "completed"
    return m.Seen(
        id=request_id,
        status=status,
        rfc_type="received",
        request_type="cfdi",
        start=SEP[1],
        end=SEP[2],
        package_ids=(f"{request_id}_01",) if done else None,
        invoice_count=3 if done else None,
    )


def lost(**changes: object) -> m.MonthState:
    """September after a create whose outcome is unknown; "h1" was listed before it."""
    state = m.MonthState(
        *SEP,
        "received",
        "cfdi",
        stage=Stage.SUBMITTING,
        unknown=True,
        history_before=("h1",),
        need_generation=1,
        creates=1,
        resend_allowed=False,
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]
