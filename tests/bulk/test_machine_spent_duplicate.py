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


# Review h1 #1: a request whose package SAT answered 5007 (gone) is as unusable as one served
# twice: never adopted again, never "served twice" in the text.


def _expired_resent(**changes: object) -> m.MonthState:
    """August after S's package answered 5007 (counted once) and `journal resend`."""
    return _resent(downloads=((f"{S}_01", 1),), expired=(S,), **changes)


def test_sat_5007_marks_the_request_expired() -> None:
    completed = attrs.evolve(
        AUG, stage=m.Stage.COMPLETED, request_id=S, known_ids=(S,), package_ids=(f"{S}_01",)
    )
    state, _ = m.transition(completed, m.PackageFailed(f"{S}_01", "gone", code=5007))
    assert state.stage is m.Stage.EXPIRED
    assert state.expired == (S,)
    assert m.unusable(state, S)


def test_a_duplicate_answer_with_the_expired_own_request_needs_other_dates() -> None:
    state, _ = m.transition(_expired_resent(), m.Created(S, duplicate=True))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert state.reason == (
        f"gigstack answered the new create request with {S} (`duplicate`: an identical request "
        "exists, nothing new was made), this month's own earlier request, and its package(s) "
        "expired (SAT answered 5007 for it, or reported it expired: SAT keeps packages 72 h): "
        f"{S} cannot finish the month (adopting it again downloads nothing), and a resend of "
        "the same dates is answered with it again"
    )
    assert "journal adopt" not in _ways(state)
    assert "journal resend" not in _ways(state)
    assert "gigstack-async journal split 2024-08" in _ways(state)
    assert m.spent_requests(state) == (S,)
    split, _ = m.transition(state, m.SplitElsewhere("a"))
    assert split.stage is m.Stage.SPLIT
    assert split.reason == (
        f"its request {S} is finished with its package(s) expired (SAT keeps them 72 h), and "
        "the server answers its dates with it again: downloaded in parts elsewhere; its CFDIs "
        "are in a"
    )


def test_sat_5005_with_only_the_expired_own_request_listed_needs_other_dates() -> None:
    old = _looking(downloads=((f"{S}_01", 1),), expired=(S,))
    state, _ = m.transition(old, m.HistorySeen((_listed(),), generation=1))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert state.resume_to is m.Stage.DUPLICATE
    assert f"{S}, this month's own earlier request, finished: its package(s) expired" in (
        state.reason or ""
    )
    assert "twice" not in (state.reason or "")
    assert "journal adopt" not in _ways(state)
    assert "journal resend" not in _ways(state)
    assert "gigstack-async journal split 2024-08" in _ways(state)


def test_sat_5005_beside_the_months_own_failed_request_needs_other_dates() -> None:
    """Review h1 #4: 5005 reported as the resend's request ending `failed`: that request and
    the spent one are all the history lists. Before: `journal adopt <request id>` (none to
    adopt) and a resend SAT's limit refuses."""
    old = _looking(known_ids=(S, "NEW"), request_id="NEW")
    entries = (_listed(), _listed("failed", "NEW"))
    state, _ = m.transition(old, m.HistorySeen(entries, generation=1))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert (state.reason or "").endswith(
        "None of the identical requests the history lists can finish the month "
        f"({S}, this month's own earlier request, finished: SAT already served its "
        f"package(s) {S}_01 twice, its limit; NEW, this month's own request, failed as the "
        "history says), and a resend of the same dates may be answered 5005 again"
    )
    assert "journal adopt" not in _ways(state)
    assert "journal resend" not in _ways(state)
    assert "gigstack-async journal split 2024-08" in _ways(state)


def test_the_guard_names_a_request_taken_from_outside_for_what_it_is() -> None:
    """Review h1 #4: a request the month took through `duplicate: true` (another folder's) was
    called "this month's own earlier request"."""
    state, _ = m.transition(_resent(foreign=(S,)), m.Created(S, duplicate=True))
    assert "this month's own" not in (state.reason or "")
    assert (
        f"with {S} (`duplicate`: an identical request exists, nothing new was made), a request "
        "this month took earlier from outside this journal (made by another folder, another "
        "machine or gigstack's dashboard), and SAT already served"
    ) in (state.reason or "")
    split, _ = m.transition(state, m.SplitElsewhere("a"))
    assert (split.reason or "").startswith(f"its request {S} is finished with its package(s) spent")
    unproven, _ = m.transition(_resent(foreign=(S,), unproven=(S,)), m.Created(S, duplicate=True))
    assert "not proven to be its own create" in (unproven.reason or "")


# Review h1 #2: a month `journal repair` rebuilds from its log keeps the guard.


def _rebuilt(**changes: object) -> m.MonthState:
    kw: dict[str, object] = {
        "known_ids": (S,),
        "creates": 2,
        "reason": "no record",
        "hint": f"`gigstack-async journal adopt 2024-08 {S}`; or `gigstack-async journal resend "
        "2024-08`",
        "counts": m.Counts(2, (SPENT,)),
        "candidate": S,
        "given_back": True,
    }
    kw.update(changes)
    return m.unrecorded(AUG, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [{}, {"counts": m.Counts(2, ((f"{S}_01", 1),)), "expired": (S,)}],
)
def test_a_rebuilt_month_whose_request_cannot_finish_it_needs_other_dates(
    changes: dict[str, object],
) -> None:
    state = _rebuilt(**changes)
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert (state.reason or "").startswith(f"no record. Its request {S} cannot finish it: ")
    assert "journal adopt" not in _ways(state)
    assert "journal resend" not in _ways(state)
    assert "gigstack-async journal split 2024-08" in _ways(state)
    assert m.spent_requests(state) == (S,)
    assert m.transition(state, m.SplitElsewhere("a"))[0].stage is m.Stage.SPLIT
    assert (state.reason or "").endswith(
        "(adopting it again downloads nothing), and the log shows the server answered a new "
        "create for its dates with it"
    )


@pytest.mark.parametrize("changes", [{}, {"expired": (S,)}])
def test_a_rebuilt_month_never_offers_adopting_a_request_that_cannot_finish_it(
    changes: dict[str, object],
) -> None:
    """No create since that request (it expired, or its downloads broke off twice): a resend
    is the month's way, as before its record was lost; adopting it downloads nothing."""
    state = _rebuilt(given_back=False, **changes)
    assert (state.reason or "").startswith(f"no record. Its request {S} cannot finish it: ")
    assert "journal adopt" not in _ways(state)
    assert _ways(state) == (
        "request the month again with `gigstack-async journal resend 2024-08` (a new request "
        "may be billed)"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"counts": m.Counts(2, ((f"{S}_01", 1),))},  # SAT may serve it once more
        {"counts": None},  # counts unknown: uncounted, as before
        {"candidate": None},
    ],
)
def test_a_rebuilt_month_whose_request_may_finish_it_is_as_before(
    changes: dict[str, object],
) -> None:
    state = _rebuilt(**changes)
    assert state.reason == "no record"
    assert f"journal adopt 2024-08 {S}" in _ways(state)


def test_a_rebuilt_months_note_follows_either_hint() -> None:
    assert _ways(_rebuilt(note=". N")).endswith(". N")
    assert _ways(_rebuilt(candidate=None, note=". N")).endswith(". N")
