"""Newcomer 9h #6: the journal's requests had simply left the history's newest-20 window
(another download in between), and every month's hint opened with "this may be another account
... resend nothing until then". A full history now leads with the common cause and the adopt
that fixes it; the other-account warning comes second. A history shorter than its window, which
a rollover explains less well, still leads with the warning (a wrong `journal rebind`)."""

from __future__ import annotations

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from tests.bulk.test_machine_requests import ANOTHER_ACCOUNT, other, unchecked_hint, waiting


def _unchecked(entries: int) -> m.MonthState:
    state = waiting(checked=False, misses=m.CHECK_MISSES - 1)
    listed = tuple(other(f"x{i}") for i in range(entries))
    new, _ = m.transition(state, m.HistorySeen(listed, lists_journal=False))
    assert new.stage is Stage.NEEDS_ATTENTION
    return new


def test_a_full_history_leads_with_the_rollover_and_warns_second() -> None:
    hint = _unchecked(m.HISTORY_WINDOW).hint or ""
    assert hint.startswith(
        "the server's history lists none of this journal's requests: most often they have "
        "simply left its newest-20 window (other downloads since). " + unchecked_hint()
    )
    assert hint.index("journal adopt 2024-01 r1") < hint.index("may be another account")
    assert "resend nothing until then" not in hint
    assert hint.endswith("(`gigstack-async journal show`) before any resend")


def test_a_short_history_still_leads_with_the_other_account() -> None:
    hint = _unchecked(3).hint or ""
    assert hint == ANOTHER_ACCOUNT + unchecked_hint()
