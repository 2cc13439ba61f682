"""Review 9v #4, pure: a resend answered with the month's own earlier request whose package
SAT already served it twice (gigstack `duplicate: true`, or SAT 5005 with only that request
listed) needs the user with other dates, never `journal adopt` of it or the same resend (the
printed way looped). `journal split` then takes the month."""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from tests.bulk._support import received_month

S = "S-OWN"
AUG = received_month("2024-08")
SPENT = (f"{S}_01", 2)


def _resent(**changes: object) -> m.MonthState:
    """August after SAT served S_01 twice and `journal resend`: its create in flight."""
    base = attrs.evolve(
        AUG,
        stage=m.Stage.SUBMITTING,
        known_ids=(S,),
        downloads=(SPENT,),
        creates=2,
        resend_allowed=True,
    )
    return attrs.evolve(base, **changes)  # type: ignore[arg-type]


def _listed(status: str | None = "completed", rid: str = S, **changes: object) -> m.Seen:
    seen = m.Seen(rid, status, "received", "cfdi", date(2024, 8, 1), date(2024, 8, 31))
    return attrs.evolve(seen, **changes)  # type: ignore[arg-type]


def _looking(**changes: object) -> m.MonthState:
    """August after its resend was refused 5005: looking for the active request."""
    return _resent(stage=m.Stage.DUPLICATE, sat_code=5005, need_generation=0, **changes)


def _ways(state: m.MonthState) -> str:
    return state.hint or ""


def test_spent_packages_are_those_sat_surely_served_twice() -> None:
    state = _resent(downloads=((f"{S}_01", 2), (f"{S}_02", 1), ("OTHER_01", 2)))
    assert m.spent_packages(state, S) == (f"{S}_01",)
    assert m.spent_packages(attrs.evolve(state, unsure=((f"{S}_01", 1),)), S) == ()
    assert m.spent_packages(state, "S") == ()  # another id's prefix, not `<id>_`


def test_a_duplicate_answer_with_the_spent_own_request_needs_other_dates() -> None:
    state, commands = m.transition(_resent(), m.Created(S, duplicate=True))
    assert commands == ()
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert state.request_id is None
    assert state.resume_to is None
    assert not state.unknown
    assert f"{S}_01 twice" in (state.reason or "")
    assert "cannot finish the month" in (state.reason or "")
    assert "journal adopt" not in _ways(state)
    assert "journal resend" not in _ways(state)
    assert "gigstack-async journal split 2024-08" in _ways(state)
    assert "--from 2024-08-01 --to 2024-08-16" in _ways(state)
    assert m.spent_requests(state) == (S,)


@pytest.mark.parametrize(
    "changes",
    [
        {"unsure": ((f"{S}_01", 1),)},  # one download may not have reached SAT: retry-download
        {"downloads": ((f"{S}_01", 1),)},  # SAT may serve it once more
        {"known_ids": ()},  # not the month's own request
        {"released": (m.ReleasedRequest(S),)},  # known not to be its own
    ],
)
def test_a_duplicate_answer_the_month_may_still_use_goes_on_as_before(
    changes: dict[str, object],
) -> None:
    old = _resent(**changes)
    state, _ = m.transition(old, m.Created(S, duplicate=True))
    assert "cannot finish the month" not in (state.reason or "")


def test_only_a_duplicate_answer_is_taken_for_the_spent_request() -> None:
    """A fresh create answered with a known id (the server's ids may have restarted) is
    `_created`'s to judge, as before."""
    state, _ = m.transition(_resent(), m.Created(S, duplicate=False))
    assert "cannot finish the month" not in (state.reason or "")
    assert f"journal adopt 2024-08 {S}" in _ways(state)


def test_a_month_not_sending_ignores_the_answer() -> None:
    old = _resent(stage=m.Stage.NEEDS_ATTENTION)
    assert m.transition(old, m.Created(S, duplicate=True)) == (old, ())


def test_sat_5005_with_only_the_spent_own_request_listed_needs_other_dates() -> None:
    state, _ = m.transition(_looking(), m.HistorySeen((_listed(),), generation=1))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert state.resume_to is m.Stage.DUPLICATE  # a later run still looks, sending nothing
    assert "cannot finish the month" in (state.reason or "")
    assert (state.reason or "").startswith("SAT 5005")
    assert "journal resend" not in _ways(state)
    assert "gigstack-async journal split 2024-08" in _ways(state)
    assert "looks for the active request again" in _ways(state)


@pytest.mark.parametrize(
    ("entries", "changes"),
    [
        ((_listed("processing"),), {}),  # still active: it may finish the month
        ((_listed(),), {"downloads": ((f"{S}_01", 1),)}),  # SAT may serve it once more
        ((_listed(),), {"unsure": ((f"{S}_01", 1),)}),
        ((_listed(), _listed("completed", "OLD")), {"known_ids": (S, "OLD")}),  # OLD not spent
        ((_listed(status="completed", end=date(2024, 8, 30)),), {}),  # not the month's dates
        ((_listed(None),), {}),  # its status unreported: it may be the active one
        ((_listed(),), {"released": (m.ReleasedRequest(S),)}),  # known not to be its own
    ],
)
def test_sat_5005_otherwise_is_as_before(
    entries: tuple[m.Seen, ...], changes: dict[str, object]
) -> None:
    old = _looking(**changes)
    state, _ = m.transition(old, m.HistorySeen(entries, generation=1))
    assert "cannot finish the month" not in (state.reason or "")


def test_sat_5005_with_a_free_match_follows_it() -> None:
    entries = (_listed(), _listed("processing", "NEW"))
    state, _ = m.transition(_looking(), m.HistorySeen(entries, generation=1))
    assert state.stage is not m.Stage.NEEDS_ATTENTION
    assert state.request_id == "NEW"


def test_journal_split_takes_the_month_whose_own_request_is_spent() -> None:
    for attention in (
        m.transition(_resent(), m.Created(S, duplicate=True))[0],
        m.transition(_looking(), m.HistorySeen((_listed(),), generation=1))[0],
    ):
        split, _ = m.transition(attention, m.SplitElsewhere("cli-2024-08a, cli-2024-08b"))
        assert split.stage is m.Stage.SPLIT
        assert split.resume_to is None
        assert split.reason == (
            f"its own request {S} is finished with its package(s) spent (SAT serves each "
            "twice), and the server answers its dates with it again: downloaded in parts "
            "elsewhere; its CFDIs are in cli-2024-08a, cli-2024-08b"
        )
        assert split.split_own == ()
        assert split.extracted == attention.extracted
        counted, _ = m.transition(attention, m.SplitElsewhere("a", invoice_count=61))
        assert counted.invoice_count == 61


def test_spent_requests_only_for_a_month_waiting_with_no_request() -> None:
    attention = m.transition(_resent(), m.Created(S, duplicate=True))[0]
    assert m.spent_requests(attrs.evolve(attention, request_id=S)) == ()
    assert m.spent_requests(attrs.evolve(attention, unknown=True)) == ()
    assert m.spent_requests(attrs.evolve(attention, stage=m.Stage.PLANNED)) == ()
    released = attrs.evolve(attention, released=(m.ReleasedRequest(S),))
    assert m.spent_requests(released) == ()
    with pytest.raises(m.TransitionError):
        m.transition(released, m.SplitElsewhere("elsewhere"))


def test_the_duplicate_reason_says_what_was_answered_and_why_it_cannot_help() -> None:
    old = _resent(downloads=((f"{S}_01", 2), (f"{S}_02", 2)), unknown=True)
    state, _ = m.transition(old, m.Created(S, duplicate=True))
    assert state.unknown is False
    assert state.reason == (
        f"gigstack answered the new create request with {S} (`duplicate`: an identical request "
        "exists, nothing new was made), this month's own earlier request, and SAT already "
        f"served its package(s) {S}_01, {S}_02 twice, its limit: {S} cannot finish the month "
        "(adopting it again downloads nothing), and a resend of the same dates is answered "
        "with it again"
    )
    assert state.hint == m._spent_way(state)


def test_the_5005_reason_and_hint_name_the_spent_request_and_the_wait() -> None:
    state, _ = m.transition(_looking(), m.HistorySeen((_listed(),), generation=1))
    assert (state.reason or "").endswith(
        f"nothing was sent again. The only identical request the history lists, {S}, is this "
        "month's own, finished, and SAT already served its package(s) twice, its limit: it "
        "cannot finish the month, and a resend of the same dates may be answered 5005 again"
    )
    assert state.hint == (
        m._spent_way(state) + ". Meanwhile each run looks for the active request again and "
        "sends nothing"
    )


def test_only_a_5005_month_left_waiting_for_the_user_is_rewritten() -> None:
    found = m._evolve(_looking(), stage=m.Stage.NEEDS_ATTENTION, resume_to=None, reason="r")
    obs = m.HistorySeen((_listed(),), generation=1)
    assert m._spent_5005(_looking(), obs, (found, ())) == (found, ())
    waiting = m._evolve(_looking(), resume_to=m.Stage.DUPLICATE, reason="r")
    assert m._spent_5005(_looking(), obs, (waiting, ())) == (waiting, ())


def test_two_spent_own_requests_are_both_named() -> None:
    """Its two requests for these dates, both finished and spent (SAT's 2 identical requests
    made, so the split is the limit's; the 5005 reason names both)."""
    old = _looking(known_ids=(S, "T"), downloads=(SPENT, ("T_01", 2)))
    entries = (_listed(), _listed("completed", "T"))
    state, _ = m.transition(old, m.HistorySeen(entries, generation=1))
    assert f"the history lists, {S}, T, is this month's own" in (state.reason or "")
    assert m.spent_requests(state) == (S, "T")
    split, _ = m.transition(m._evolve(state, creates=1), m.SplitElsewhere("a"))
    assert split.reason is not None
    assert split.reason.startswith(f"its own request {S}, T is finished")
