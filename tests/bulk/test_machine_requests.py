"""The request side of the month state machine, one transition at a time.

Direct calls of `transition(state, observation)`: the stage a month ends in, the reason and hint
a user reads (`gigstack-async journal show`, the CLI table and the journal print them), the
commands the engine performs (a create that may be billed, a status call, a package download)
and the request ids the journal records. Pure and fast: `make mutate` runs this file for every
mutant of `gigstack_async/bulk/machine.py` (the slow model and scenario tests stay out of it).
"""

from __future__ import annotations

import re
from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import decode_state, encode_state

KEY = "2024-01"

JAN = (date(2024, 1, 1), date(2024, 1, 31))
FEB = (date(2024, 2, 1), date(2024, 2, 29))

KIND = "received cfdi request for 2024-01-01..2024-01-31"
RESEND_TAIL = (
    "; if there is none, `gigstack-async journal resend 2024-01` sends it again: a new request, "
    "which may be billed twice if the first request exists after all (the dashboard, like the "
    "history, may show it late). Until then nothing is sent for this month"
)
LATE = (
    "run the same command again later: a request the history lists late is adopted by itself "
    "(nothing is sent). If it stays unlisted, "
)
"""Newcomer 10 F1: the free step leads the hint of a lost create no candidate fits."""
CREATED_AT = "--created-at <time the dashboard shows it was made>"
"""Newcomer 9m #1: the dashboard's createdAt offered in the first hint, as optional."""
OPTIONAL = (
    "; --created-at is optional: without it, a request the history never lists may leave the "
    "month's last day in doubt, MISSING DAYS)"
)


def candidates_hint(*ids: str) -> str:
    """r2 N4: the step names each candidate and its own adopt command (was "look each of them
    up (`journal show` lists what is known); `journal adopt 2024-01 <request id>` ...")."""
    adopts = " or ".join(f"`gigstack-async journal adopt 2024-01 {i}`" for i in ids)
    first = (
        f"candidate {ids[0]}: if gigstack's dashboard (Descarga Masiva) shows it as a {KIND}, "
        f"{adopts}"
        if len(ids) == 1
        else f"candidates {', '.join(ids)}: if gigstack's dashboard (Descarga Masiva) shows one "
        f"of them as a {KIND}, adopt that one: {adopts}"
    )
    return (
        first + " (it is checked against the history, or by its CFDIs before anything is "
        "extracted)" + RESEND_TAIL
    )


DASHBOARD_HINT = (
    LATE
    + "open gigstack's dashboard (Descarga Masiva) and look for a "
    + KIND
    + ". If there is one, "
    "`gigstack-async journal adopt 2024-01 <request id> " + CREATED_AT + "` (it is checked "
    "against the history, or by its CFDIs before anything is extracted" + OPTIONAL + RESEND_TAIL
)
"""Newcomer 9l #6a: nothing seen says the server's ids restarted, so the hint says nothing of
it (before: every lost create's hint led with the rare restart and --ids-restarted)."""
RESTARTED_HINT = (
    LATE + "open gigstack's dashboard (Descarga Masiva) and look for a " + KIND + ", by its dates "
    "and type, not its id: after the server's request ids restarted it may carry an id this "
    "journal already knows (`gigstack-async journal show 2024-01`). If there is one, "
    "`gigstack-async journal adopt 2024-01 <request id> " + CREATED_AT + "` (add "
    "--ids-restarted if another month had that id; it is checked against the history, or by "
    "its CFDIs before anything is extracted" + OPTIONAL + RESEND_TAIL
)
"""The same once a request of the journal was listed with other attributes (ids restarted)."""
NOT_LISTED = (
    "the history ({n} entries) does not list it, and that proves nothing: gigstack may still "
    'be writing it, and the docs do not say which requests the history keeps ("last 20, newest '
    'first", newest by what is not said), so it may be listed late, below others, or not at all'
)
"""Why a history that does not list the lost create leaves it to the user: never proof that
it is absent (reviews 9l #1, 9p #1, 9q #1: each "proof" billed a month twice)."""


def unproven_reason(gap: str, cause: str = "") -> str:
    """What `journal show` says of an unknown create the history could not settle."""
    prefix = f"{cause}; " if cause else ""
    return (
        f"{prefix}a create request may have been billed but the history cannot tell whether it "
        f"arrived ({gap})"
    )


def month(**changes: object) -> m.MonthState:
    """January 2024, received CFDIs, planned; `changes` set any journaled field."""
    state = m.MonthState(
        key=KEY, start=JAN[0], end=JAN[1], rfc_type="received", request_type="cfdi"
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def ours(request_id: str, **fields: object) -> m.Seen:
    """A history entry or status for January's request, every field reported."""
    seen = m.Seen(
        id=request_id,
        status="pending",
        rfc_type="received",
        request_type="cfdi",
        start=JAN[0],
        end=JAN[1],
    )
    return attrs.evolve(seen, **fields)  # type: ignore[arg-type]


def other(request_id: str) -> m.Seen:
    """Another month's request (created by this run for February)."""
    return m.Seen(
        id=request_id,
        status="pending",
        rfc_type="received",
        request_type="cfdi",
        start=FEB[0],
        end=FEB[1],
    )


def run(state: m.MonthState, *observations: m.Observation) -> m.Result:
    """Feed observations in order; the last state and the commands of the last transition."""
    commands: tuple[m.Command, ...] = ()
    for obs in observations:
        state, commands = m.transition(state, obs)
    return state, commands


SPLIT_HINT = (
    "split the period: run 2024-01-01..2024-01-31 as shorter ranges, each into its own --out "
    "folder (a journal holds one request per month), e.g. in two halves: `gigstack-async sat "
    "download --from 2024-01-01 --to 2024-01-15 --rfc-type received --out <out>-2024-01a` and "
    "`gigstack-async sat download --from 2024-01-16 --to 2024-01-31 --rfc-type received --out "
    "<out>-2024-01b` (with the other options you ran with, e.g. --team); once each is done, "
    "`gigstack-async journal split 2024-01 <out>-2024-01a <out>-2024-01b` checks that they "
    "cover the month and records where its CFDIs are (runs of this folder then end ok)"
)

# ------------------------------------------------------------------ sat_code


@pytest.mark.parametrize(
    ("texts", "code"),
    [
        (("SAT 5004: no se encontró información",), 5004),
        ((None, "error 5002"), 5002),  # None is skipped, the next text is still read
        (("no code here", 5011), 5011),  # an error code given as an int
        (("5003 then 5002",), 5003),  # the first code wins
        (("first", "5005", "5008"), 5005),
        (("5019",), 5019),
        (("5000",), 5000),
        (("5020", "15004", "50041"), None),  # not SAT's codes, and not inside a number
        ((), None),
        ((None,), None),
    ],
)
def test_sat_code_finds_the_first_sat_code(texts: tuple[str | int | None, ...], code: int) -> None:
    assert m.sat_code(*texts) == code


# ------------------------------------------------------------------ MonthState properties


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("want_files", [True, False])
def test_settled_and_ok_for_every_stage(stage: Stage, want_files: bool) -> None:
    state = month(stage=stage, want_files=want_files)
    metadata_done = stage is Stage.COMPLETED and not want_files
    settled = {
        Stage.DONE,
        Stage.EMPTY,
        Stage.SAT_FAILED,
        Stage.EXPIRED,
        Stage.NEEDS_ATTENTION,
        Stage.REFUSED,
        Stage.SPLIT,
    }
    assert state.settled is (stage in settled or metadata_done)
    assert state.ok is (stage in (Stage.DONE, Stage.EMPTY, Stage.SPLIT) or metadata_done)


def test_downloads_of_counts_per_package() -> None:
    state = month(downloads=(("p1", 1), ("p2", 2), ("p1", 2)))
    assert state.downloads_of("p1") == 2  # an older journal's duplicate entry: the larger
    assert state.downloads_of("p2") == 2
    assert state.downloads_of("p3") == 0
    assert month().downloads_of("p1") == 0


def test_files_and_pending_packages() -> None:
    state = month(
        package_ids=("p1", "p2", "p3", "p4"),
        extracted=(
            m.ExtractedPackage("p1", ("a.xml", "b.xml")),
            m.ExtractedPackage("p4", ("c.xml",)),
        ),
        staged=(m.StagedFile("p2", "/staging/p2.zip", "0" * 64, 10),),
    )
    assert state.files == ("a.xml", "b.xml", "c.xml")
    assert state.pending_packages == ("p3",)
    assert month(package_ids=("p1", "p2")).pending_packages == ("p1", "p2")
    assert month(package_ids=None).pending_packages == ()
    assert month().files == ()


# ------------------------------------------------------------------ dispatch


def test_an_unknown_observation_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^unknown observation 'nonsense'$"):
        m.transition(month(), "nonsense")  # type: ignore[arg-type]


def test_every_observation_reaches_its_transition() -> None:
    completed = month(stage=Stage.COMPLETED, request_id="r1", checked=True, package_ids=("p1",))
    staged_file = m.StagedFile("p1", "/staging/p1.zip", "0" * 64, 10)
    staged = attrs.evolve(completed, stage=Stage.STAGED, staged=(staged_file,))
    submitted = month(stage=Stage.SUBMITTED, request_id="r1", checked=True)
    cases: list[tuple[m.MonthState, m.Observation, Stage, tuple[m.Command, ...]]] = [
        (month(stage=Stage.REFUSED), m.Start(), Stage.PLANNED, ()),
        (month(), m.Send(("h1",)), Stage.SUBMITTING, (m.SendCreate(KEY),)),
        (month(stage=Stage.SUBMITTING), m.Created("r1"), Stage.SUBMITTED, ()),
        (month(stage=Stage.SUBMITTING), m.CreateRefused("no"), Stage.REFUSED, ()),
        (submitted, m.HistorySeen((ours("r1", status="processing"),)), Stage.PROCESSING, ()),
        (submitted, m.StatusSeen(ours("r1", status="processing")), Stage.PROCESSING, ()),
        (completed, m.PackageSending("p1"), Stage.COMPLETED, ()),
        (
            completed,
            m.PackageStaged(staged_file),
            Stage.STAGED,
            (m.ExtractPackage("p1", "/staging/p1.zip"),),
        ),
        (completed, m.PackageFailed("p1", "boom", code=5007), Stage.EXPIRED, ()),
        (staged, m.Extracted("p1", ("a.xml",)), Stage.DONE, (m.DeleteStaged("/staging/p1.zip"),)),
        (
            attrs.evolve(completed, downloads=(("p1", 2),)),
            m.StagedMissing("p1"),
            Stage.NEEDS_ATTENTION,
            (),
        ),
        (
            staged,
            m.StagedLost("p1", "gone"),
            Stage.COMPLETED,
            (m.DeleteStaged("/staging/p1.zip"), m.FetchPackage("p1", 1)),
        ),
        (month(stage=Stage.EXPIRED), m.AllowResend(), Stage.PLANNED, ()),
        (month(stage=Stage.EXPIRED), m.Adopt("r7"), Stage.SUBMITTED, ()),
    ]
    for state, obs, stage, commands in cases:
        new, sent = m.transition(state, obs)
        assert (new.stage, sent) == (stage, commands), obs
    rejected, sent = m.transition(staged, m.ContentRejected("p1", "metadata, not CFDI XML"))
    assert rejected.stage is Stage.NEEDS_ATTENTION
    assert sent[0] == m.DeleteStaged("/staging/p1.zip")
    polled = submitted
    for _ in range(m.POLL_WARN_AFTER):
        polled, sent = m.transition(polled, m.PollFailed("HTTP 503"))
    assert polled.poll_failures == m.POLL_WARN_AFTER
    assert sent == (
        m.Warn(
            "2024-01: polling request r1 failed 3 times in a row (HTTP 503); the other months go on"
        ),
    )


def test_create_unknown_records_the_unknown_outcome() -> None:
    submitting = month(stage=Stage.SUBMITTING, need_generation=1, history_before=())
    state, commands = m.transition(submitting, m.CreateUnknown("HTTP 502", generation=4))
    assert commands == ()
    assert state.stage is Stage.SUBMITTING
    assert state.unknown is True
    assert state.exists is False
    assert state.need_generation == 4
    assert state.reason == "outcome of the create request is unknown (HTTP 502)"
    # only a history started after the failure may settle it
    assert m.transition(state, m.HistorySeen((ours("r5"),), generation=4)) == (state, ())
    adopted, _ = m.transition(state, m.HistorySeen((ours("r5"),), generation=5))
    assert (adopted.stage, adopted.request_id) == (Stage.SUBMITTED, "r5")


def test_create_answered_2xx_but_unreadable_exists_and_needs_the_user() -> None:
    state, commands = m.transition(
        month(stage=Stage.SUBMITTING, history_before=("h1",), resend_allowed=False),
        m.CreateUnknown("the body is not JSON", generation=2, exists=True),
    )
    assert commands == ()
    assert state.unknown is True
    assert state.exists is True
    assert state.reason == (
        "the create request was accepted but its answer is unreadable (the body is not JSON)"
    )
    # a history that does not list it: the create surely exists, and that is what it says
    after, commands = m.transition(
        state,
        m.HistorySeen((m.Seen("h1"), other("r9")), generation=3),
    )
    assert commands == ()
    assert after.stage is Stage.NEEDS_ATTENTION
    assert after.reason == unproven_reason(
        "the create was answered 2xx, so it exists",
        "the create request was accepted but its answer is unreadable (the body is not JSON)",
    )
    assert m.transition(after, m.Send(("h1",)))[1] == ()


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.SUBMITTING])
def test_create_unknown_outside_submitting_changes_nothing(stage: Stage) -> None:
    state = month(stage=stage, request_id="r1")
    assert m.transition(state, m.CreateUnknown("late failure", generation=3)) == (state, ())


# ------------------------------------------------------------------ status answers


def test_a_status_answer_is_used_only_for_the_months_own_checked_request() -> None:
    waiting = month(stage=Stage.SUBMITTED, request_id="r1", checked=True, poll_failures=2)
    state, commands = m.transition(waiting, m.StatusSeen(ours("r1", status="processing")))
    assert (state.stage, commands) == (Stage.PROCESSING, ())
    assert state.poll_failures == 0  # an answer ends a run of polling failures
    assert state.status_asked is True
    assert state.sat_state == "processing"
    # another request's status, an unchecked request's answer without its criteria (missing
    # never counts as a match: `test_a_status_answer_checks_*`), or a month not waiting: ignored
    for ignored, seen in [
        (waiting, ours("r2", status="completed", package_ids=("p1",))),
        (attrs.evolve(waiting, checked=False), m.Seen("r1", status="completed")),
        (attrs.evolve(waiting, stage=Stage.PLANNED), ours("r1", status="completed")),
        (attrs.evolve(waiting, stage=Stage.NEEDS_ATTENTION), ours("r1", status="completed")),
    ]:
        assert m.transition(ignored, m.StatusSeen(seen)) == (ignored, ())


def test_an_asked_status_of_a_completed_month_fetches_its_package() -> None:
    # asked=True (a status answer) may start the download; a history poll (asked=False) may not
    completed = month(stage=Stage.COMPLETED, request_id="r1", checked=True, status_asked=False)
    state, commands = m.transition(
        completed, m.StatusSeen(ours("r1", status="completed", package_ids=("p1",)))
    )
    assert state.package_ids == ("p1",)
    assert commands == (m.FetchPackage("p1", 1),)
    polled, commands = m.transition(
        completed, m.HistorySeen((ours("r1", status="completed", package_ids=("p1",)),))
    )
    assert polled.package_ids == ("p1",)
    assert commands == ()


# ------------------------------------------------------------------ _start


def test_start_resets_what_counts_per_run() -> None:
    state = month(
        stage=Stage.SUBMITTED,
        request_id="r1",
        failed_this_run=("p1",),
        poll_failures=2,
        free_failures=3,
        status_asked=True,
        misses=2,
        checked=True,
    )
    new, commands = m.transition(state, m.Start(want_files=False))
    assert commands == ()
    assert new.stage is Stage.SUBMITTED
    assert new.want_files is False
    assert new.failed_this_run == ()
    assert new.poll_failures == 0
    assert new.free_failures == 0
    assert new.status_asked is False
    assert new.misses == 0
    assert new.checked is False  # request ids may restart between runs: checked again
    assert m.transition(month(want_files=False), m.Start())[0].want_files is True


@pytest.mark.parametrize(
    ("request_id", "confirmed_id", "checked"),
    [
        ("r1", "r1", True),  # the user confirmed this id with `journal adopt`
        ("r1", "r2", False),
        ("r1", None, False),
        (None, None, False),
    ],
)
def test_start_trusts_only_an_id_the_user_confirmed(
    request_id: str | None, confirmed_id: str | None, checked: bool
) -> None:
    state = month(
        stage=Stage.SUBMITTED, request_id=request_id, confirmed_id=confirmed_id, checked=True
    )
    assert m.transition(state, m.Start())[0].checked is checked


def test_start_after_a_crash_in_submitting_reconciles_with_this_runs_history() -> None:
    # The run that sent the create died: the create may or may not have arrived.
    crashed = month(
        stage=Stage.SUBMITTING,
        history_before=("h1",),
        need_generation=7,
        creates=1,
        resend_allowed=False,
    )
    state, commands = m.transition(crashed, m.Start())
    assert (state.stage, commands) == (Stage.SUBMITTING, ())
    assert state.unknown is True
    # the first history of the new run (generation 1) may settle it ...
    adopted, _ = m.transition(state, m.HistorySeen((other("h1"), ours("r5")), generation=1))
    assert (adopted.stage, adopted.request_id) == (Stage.SUBMITTED, "r5")
    # ... but one that does not list it (even with a create of this run listed after it)
    # proves nothing: the user decides, nothing is sent (review 9p #1, 9q #1: billed twice)
    unlisted, commands = m.transition(
        state,
        m.HistorySeen((other("h1"), other("r9")), generation=1),
    )
    assert (unlisted.stage, commands) == (Stage.NEEDS_ATTENTION, ())
    assert unlisted.reason == unproven_reason(
        NOT_LISTED.format(n=2), "a run stopped while the create request was in flight"
    )
    assert (unlisted.unknown, unlisted.resend_allowed) == (True, False)
    assert m.transition(unlisted, m.Send(("h1", "r9")))[1] == ()


def test_start_after_an_unknown_outcome_needing_attention_reconciles_again() -> None:
    stuck = month(
        stage=Stage.NEEDS_ATTENTION,
        unknown=True,
        history_before=("h1",),
        creates=1,
        resend_allowed=False,
        need_generation=9,
        reason="a create request may have been billed",
        hint="adopt or resend",
    )
    state, commands = m.transition(stuck, m.Start())
    assert (state.stage, commands) == (Stage.NEEDS_ATTENTION, ())
    assert (state.reason, state.hint) == (
        "a create request may have been billed",
        "adopt or resend",
    )
    adopted, _ = m.transition(state, m.HistorySeen((ours("r5"),), generation=1))
    assert (adopted.stage, adopted.request_id) == (Stage.SUBMITTED, "r5")
    unlisted, commands = m.transition(
        state, m.HistorySeen((other("h1"), other("r9")), generation=1)
    )
    assert (unlisted.stage, commands) == (Stage.NEEDS_ATTENTION, ())
    assert unlisted.reason == unproven_reason(NOT_LISTED.format(n=2))
    assert (unlisted.unknown, unlisted.resend_allowed) == (True, False)
    # only the user's word sends it again
    allowed, _ = m.transition(unlisted, m.AllowResend())
    _, commands = m.transition(allowed, m.Send(("h1", "r9")))
    assert commands == (m.SendCreate(KEY),)


def test_start_sends_a_refused_month_again() -> None:
    refused = month(stage=Stage.REFUSED, resend_allowed=False, reason="refused: deactivated")
    state, commands = m.transition(refused, m.Start())
    assert (state.stage, commands) == (Stage.PLANNED, ())
    assert state.resend_allowed is True
    state, commands = m.transition(state, m.Send(("h1",)))
    assert commands == (m.SendCreate(KEY),)


@pytest.mark.parametrize("resume_to", [Stage.SUBMITTED, Stage.PROCESSING])
def test_start_resumes_a_month_that_can_continue_by_itself(resume_to: Stage) -> None:
    state = month(
        stage=Stage.NEEDS_ATTENTION,
        resume_to=resume_to,
        request_id="r1",
        reason="polling failed",
        hint="run the same command again later",
    )
    new, commands = m.transition(state, m.Start())
    assert (new.stage, commands) == (resume_to, ())
    assert new.resume_to is None
    assert new.hint is None


def test_start_resumes_a_completed_month_with_its_next_package() -> None:
    state = month(
        stage=Stage.NEEDS_ATTENTION,
        resume_to=Stage.COMPLETED,
        request_id="r1",
        confirmed_id="r1",
        package_ids=("p1",),
        downloads=(("p1", 1),),
        hint="run the same command again to download it once more",
    )
    new, commands = m.transition(state, m.Start())
    assert new.stage is Stage.COMPLETED
    assert commands == (m.FetchPackage("p1", 2),)
    # without resume_to a month needing attention stays as it is
    stuck = attrs.evolve(state, resume_to=None)
    new, commands = m.transition(stuck, m.Start())
    assert (new.stage, new.hint, commands) == (
        Stage.NEEDS_ATTENTION,
        "run the same command again to download it once more",
        (),
    )


def test_start_extracts_a_staged_package_again() -> None:
    staged = m.StagedFile("p1", "/staging/p1.zip", "0" * 64, 10)
    state = month(stage=Stage.STAGED, request_id="r1", package_ids=("p1",), staged=(staged,))
    assert m.transition(state, m.Start()) == (
        attrs.evolve(state, status_asked=False),
        (m.ExtractPackage("p1", "/staging/p1.zip"),),
    )
    attention = attrs.evolve(state, stage=Stage.NEEDS_ATTENTION, resume_to=Stage.STAGED)
    new, commands = m.transition(attention, m.Start())
    assert new.stage is Stage.STAGED
    assert commands == (m.ExtractPackage("p1", "/staging/p1.zip"),)


@pytest.mark.parametrize(
    "stage",
    [Stage.PLANNED, Stage.SUBMITTED, Stage.PROCESSING, Stage.DONE, Stage.EMPTY, Stage.EXPIRED],
)
def test_start_keeps_other_stages(stage: Stage) -> None:
    state, commands = m.transition(month(stage=stage, request_id="r1"), m.Start())
    assert (state.stage, commands) == (stage, ())


# ------------------------------------------------------------------ _send


def test_send_records_the_intent_before_the_create() -> None:
    state = month(
        creates=2,
        reason="resend allowed by the user",
        hint="something",
        exists=True,
        unknown=True,
    )
    new, commands = m.transition(state, m.Send(("h1", "h2"), generation=3))
    assert commands == (m.SendCreate("2024-01"),)
    assert new.stage is Stage.SUBMITTING
    assert new.creates == 3
    assert new.history_before == ("h1", "h2")
    assert new.need_generation == 3
    assert new.exists is False
    assert new.unknown is False
    assert (new.reason, new.hint) == (None, None)


def test_send_with_an_empty_history_snapshot_still_sends() -> None:
    new, commands = m.transition(month(), m.Send(()))
    assert (new.stage, new.history_before, commands) == (Stage.SUBMITTING, (), (m.SendCreate(KEY),))


@pytest.mark.parametrize(
    "state",
    [
        month(resend_allowed=False),  # a create may be billed, no resend allowed
        *[month(stage=s) for s in Stage if s is not Stage.PLANNED],
    ],
)
def test_send_sends_nothing_unless_planned_and_allowed(state: m.MonthState) -> None:
    assert m.transition(state, m.Send(("h1",))) == (state, ())


def test_send_without_a_history_snapshot_waits() -> None:
    state = month()
    assert m.transition(state, m.Send(None)) == (state, ())


def test_an_in_flight_create_is_not_reconciled_by_a_history() -> None:
    # the create has not answered yet: a history listing a fitting request proves nothing
    state, _ = m.transition(month(unknown=True), m.Send(("h1",), generation=1))
    assert m.transition(state, m.HistorySeen((ours("r5"),), generation=5)) == (state, ())


def test_the_history_before_the_create_is_never_adopted() -> None:
    # "h1" fits January but was listed before our create: it is not ours
    state = run(month(), m.Send(("h1",), generation=1), m.CreateUnknown("HTTP 502", generation=1))[
        0
    ]
    new, commands = m.transition(state, m.HistorySeen((ours("h1"),), generation=2))
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.request_id is None
    assert new.reason == unproven_reason(
        NOT_LISTED.format(n=1), "outcome of the create request is unknown (HTTP 502)"
    )
    # The dashboard shows h1 with the month's dates: named as not the create (review 9r #2).
    assert new.hint == DASHBOARD_HINT.replace(
        "MISSING DAYS); if there is none,",
        "MISSING DAYS). Not h1: listed before this create was sent, so it is another request "
        "(another folder's or tool's), not that create; adopting it downloads that request's "
        "package(s) and spends SAT's downloads of them (2 per package, shared with whoever "
        "made it); if there is no other,",
    )


def test_a_stale_exists_flag_does_not_survive_a_new_send() -> None:
    # the previous create existed (2xx unreadable), the user allowed a resend; the new create is
    # lost by a crash: the history that does not list it says so, not "answered 2xx"
    state = run(month(exists=True), m.Send(("h1",)), m.Start())[0]
    assert state.exists is False
    unlisted, _ = m.transition(state, m.HistorySeen((other("h1"), other("r9")), generation=1))
    assert unlisted.stage is Stage.NEEDS_ATTENTION
    assert unlisted.reason == unproven_reason(
        NOT_LISTED.format(n=2), "a run stopped while the create request was in flight"
    )


def test_a_create_sent_after_the_lost_one_proves_nothing() -> None:
    # Formerly "proven absent" (a request made before it and one made after it listed, the lost
    # one not between them) and sent again: gigstack may list a 502'd create late (review 9l
    # #1), below others or not at all (9p #1, 9q #1), and the month was billed twice.
    state = run(month(), m.Send(("h1",), generation=1), m.CreateUnknown("timeout", generation=1))[0]
    after, commands = m.transition(
        state, m.HistorySeen((other("r9"), other("h1")), generation=2, expected=("r9",))
    )
    assert commands == ()
    assert (after.stage, after.unknown, after.resend_allowed) == (
        Stage.NEEDS_ATTENTION,
        True,
        False,
    )
    assert after.reason == unproven_reason(
        NOT_LISTED.format(n=2), "outcome of the create request is unknown (timeout)"
    )
    assert after.hint == DASHBOARD_HINT
    assert after.creates == 1
    assert m.transition(after, m.Send(("r9", "h1"), generation=3))[1] == ()
    # the record shows up late: adopted, never sent again
    late = (ours("r5"), other("r9"), other("h1"))
    adopted, commands = m.transition(after, m.HistorySeen(late, generation=3))
    assert (adopted.stage, adopted.request_id, adopted.creates) == (Stage.SUBMITTED, "r5", 1)
    assert commands == ()
    # or the user, having found nothing in the dashboard, allows exactly one more
    allowed, _ = m.transition(after, m.AllowResend())
    resent, commands = m.transition(allowed, m.Send(("r9", "h1"), generation=3))
    assert commands == (m.SendCreate(KEY),)
    assert resent.creates == 2
    assert m.transition(resent, m.Send(("r9", "h1"), generation=4))[1] == ()


CAUSE_429 = "outcome of the create request is unknown (HTTP 429)"


def rate_limited(**changes: object) -> m.MonthState:
    """January's create answered 429 after "h1" (February's) was listed before it."""
    state = run(month(), m.Send(("h1",), generation=1), m.CreateUnknown("HTTP 429", generation=1))[
        0
    ]
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "entries", "reason"),
    [
        (rate_limited(), (other("h1"),), unproven_reason(NOT_LISTED.format(n=1), CAUSE_429)),
        (rate_limited(), (), unproven_reason(NOT_LISTED.format(n=0), CAUSE_429)),
        (
            rate_limited(exists=True),
            (other("h1"),),
            unproven_reason("the create was answered 2xx, so it exists", CAUSE_429),
        ),
        # Already the user's (a run before said so): it stays theirs, with this history's gap.
        (
            rate_limited(stage=Stage.NEEDS_ATTENTION),
            (other("h1"),),
            unproven_reason(NOT_LISTED.format(n=1), CAUSE_429),
        ),
    ],
)
def test_a_history_that_does_not_list_a_rate_limited_create_needs_the_user(
    state: m.MonthState, entries: tuple[m.Seen, ...], reason: str
) -> None:
    # review 9b money: concurrency 1 on a slow network, January's create answered 429 and a
    # history landed before February's create. Nothing is sent meanwhile; a later history of
    # the same run that lists January's request adopts it (the user is needed only while none
    # does).
    new, commands = m.transition(state, m.HistorySeen(entries, generation=2))
    assert commands == ()
    assert (new.stage, new.reason, new.unknown) == (Stage.NEEDS_ATTENTION, reason, True)
    assert new.resend_allowed is False
    assert m.transition(new, m.Send(("h1",), generation=3))[1] == ()
    adopted, _ = m.transition(new, m.HistorySeen((ours("r5"), *entries), generation=3))
    assert (adopted.stage, adopted.request_id, adopted.unknown) == (Stage.SUBMITTED, "r5", False)


def test_a_create_listed_after_a_rate_limited_one_sends_it_only_when_the_user_allows() -> None:
    # Formerly the history listing February's later create (r9) above "h1" proved January's
    # 429'd create absent and it was sent again by itself.
    first, _ = m.transition(rate_limited(), m.HistorySeen((other("h1"),), generation=2))
    listed = (other("r9"), other("h1"))
    new, commands = m.transition(first, m.HistorySeen(listed, generation=3, expected=("r9",)))
    assert commands == ()
    assert (new.stage, new.resend_allowed, new.unknown) == (Stage.NEEDS_ATTENTION, False, True)
    assert new.reason == unproven_reason(NOT_LISTED.format(n=2), CAUSE_429)
    assert m.transition(new, m.Send(("r9", "h1"), generation=4))[1] == ()
    allowed, _ = m.transition(new, m.AllowResend())
    _, commands = m.transition(allowed, m.Send(("r9", "h1"), generation=4))
    assert commands == (m.SendCreate(KEY),)


# ------------------------------------------------------------------ _created


def test_created_records_the_request() -> None:
    state = month(
        stage=Stage.SUBMITTING,
        known_ids=("r0",),
        unknown=True,
        checked=False,
        misses=2,
        reason="outcome of the create request is unknown (HTTP 502)",
        hint="wait",
    )
    new, commands = m.transition(state, m.Created("r1"))
    assert commands == ()
    assert new.stage is Stage.SUBMITTED
    assert new.request_id == "r1"
    assert new.known_ids == ("r0", "r1")
    assert new.duplicate is False
    assert new.unknown is False
    assert new.checked is True  # our own create answer fits the month
    assert (new.reason, new.hint) == ("gigstack accepted the create request", None)


def test_created_as_a_duplicate_says_gigstack_matched_it() -> None:
    new, _ = m.transition(month(stage=Stage.SUBMITTING), m.Created("r1", duplicate=True))
    assert (new.stage, new.request_id, new.duplicate) == (Stage.SUBMITTED, "r1", True)
    assert new.reason == "gigstack matched an identical request"
    assert new.known_ids == ("r1",)


def test_created_with_its_own_request_id_again_is_accepted() -> None:
    state = month(stage=Stage.SUBMITTING, request_id="r1", known_ids=("r1",))
    new, _ = m.transition(state, m.Created("r1", duplicate=True))
    assert (new.stage, new.request_id, new.known_ids) == (Stage.SUBMITTED, "r1", ("r1",))


def test_created_never_adopts_a_request_the_month_already_left() -> None:
    state = month(stage=Stage.SUBMITTING, request_id=None, known_ids=("r0",), reason="resend")
    new, commands = m.transition(state, m.Created("r0", duplicate=True))
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.request_id is None
    assert new.reason == (
        "the server answered with request r0, which this month already had and left"
    )
    assert new.hint == (
        "check it with `gigstack-async journal show`; adopt it explicitly with "
        "`gigstack-async journal adopt 2024-01 r0` if it is right"
    )


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.SUBMITTING])
def test_created_outside_submitting_changes_nothing(stage: Stage) -> None:
    state = month(stage=stage, request_id="r0")
    assert m.transition(state, m.Created("r1")) == (state, ())


# ------------------------------------------------------------------ _refused


REFUSED_HINT = (
    "fix the cause (for example activate Descarga Masiva: `gigstack-async downloads activate`) "
    "and run the same command again: refused months are sent again"
)


# After SAT 5002 the hint names the way to the whole month: parts with other dates, each in
# its own folder, then `journal split` (newcomer 9d, item 2: "other dates" into the same folder
# lost a day silently).
LIMIT_HINT = (
    "SAT's limit of requests for 2024-01-01..2024-01-31 is exhausted: these dates are never sent "
    "again. To download the month anyway, run it as shorter ranges (other dates are new criteria "
    "for SAT: new requests, possibly billed), each into its own --out folder, e.g. `gigstack-async "
    "sat download --from 2024-01-01 --to 2024-01-16 --rfc-type received --out <out>-2024-01a` and "
    "`gigstack-async sat download --from 2024-01-17 --to 2024-01-31 --rfc-type received --out "
    "<out>-2024-01b` (with the other options you ran with, e.g. --team); once both are done, "
    "`gigstack-async journal split 2024-01 <out>-2024-01a <out>-2024-01b` records where its CFDIs "
    "are (runs of this folder then end ok). Other dates run into this folder download only those "
    "days: the month then says MISSING DAYS"
)


@pytest.mark.parametrize(
    ("code", "stage", "sat", "reason", "hint"),
    [
        (
            None,
            Stage.REFUSED,
            None,
            "the server refused the create, nothing was billed: Descarga Masiva is not active",
            REFUSED_HINT,
        ),
        (
            403,
            Stage.REFUSED,
            None,
            "the server refused the create, nothing was billed: Descarga Masiva is not active",
            REFUSED_HINT,
        ),
        (
            5002,
            Stage.SAT_FAILED,
            5002,
            "SAT 5002: the limit of requests for these dates is exhausted "
            "(Descarga Masiva is not active)",
            LIMIT_HINT,
        ),
        (
            5003,
            Stage.SAT_FAILED,
            5003,
            "SAT 5003: too many CFDIs for one request (Descarga Masiva is not active)",
            SPLIT_HINT,
        ),
    ],
)
def test_a_refused_create(
    code: int | None, stage: Stage, sat: int | None, reason: str, hint: str
) -> None:
    state = month(stage=Stage.SUBMITTING, unknown=True, resend_allowed=False)
    new, commands = m.transition(state, m.CreateRefused("Descarga Masiva is not active", code))
    assert commands == ()
    assert (new.stage, new.sat_code, new.reason, new.hint) == (stage, sat, reason, hint)
    assert new.unknown is False
    # SAT's 5002 dates are remembered: never sent again, not even by a later resend.
    exhausted = ((state.start, state.end),) if code == 5002 else ()
    assert new.exhausted == exhausted
    # only a plain refusal is sent again by the next run


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.SUBMITTING])
def test_refused_outside_submitting_changes_nothing(stage: Stage) -> None:
    state = month(stage=stage, request_id="r1")
    assert m.transition(state, m.CreateRefused("late", 5002)) == (state, ())


# ------------------------------------------------------------------ reconciling an unknown outcome


def unknown(**changes: object) -> m.MonthState:
    """January after a create whose outcome is unknown; "h1" was listed before it."""
    state = month(
        stage=Stage.SUBMITTING,
        unknown=True,
        history_before=("h1",),
        need_generation=1,
        creates=1,
        resend_allowed=False,
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def candidates_reason(candidates: str, cause: str = "") -> str:
    prefix = f"{cause}; " if cause else ""
    return (
        f"{prefix}a create request may have been billed but the history cannot tell which "
        f"request it is (candidate{'s' if ',' in candidates else ''}: {candidates}; "
        f"{'each' if ',' in candidates else 'it'} could be the create)"
    )


@pytest.mark.parametrize(
    ("fields", "verdict"),
    [
        ({}, "adopted"),
        ({"request_type": "metadata"}, "not ours"),  # another request: not ours
        ({"rfc_type": "issued"}, "not ours"),
        ({"start": date(2024, 1, 2)}, "not ours"),
        ({"end": date(2024, 1, 30)}, "not ours"),
        ({"request_type": None}, "maybe"),  # a missing field never counts as a match
        ({"rfc_type": None}, "maybe"),
        ({"start": None}, "maybe"),
        ({"end": None}, "maybe"),
        ({"request_type": None, "rfc_type": "issued"}, "not ours"),  # a present field differs
    ],
)
def test_a_new_history_entry_is_ours_not_ours_or_maybe(
    fields: dict[str, object], verdict: str
) -> None:
    history = m.HistorySeen(
        (other("h1"), other("r9"), ours("r5", **fields)), generation=2, expected=("r9",)
    )
    state, commands = m.transition(unknown(), history)
    assert commands == ()
    if verdict == "adopted":
        assert (state.stage, state.request_id) == (Stage.SUBMITTED, "r5")
    elif verdict == "not ours":
        # another request, so the create is not listed: that proves nothing (never resent)
        assert (state.stage, state.request_id) == (Stage.NEEDS_ATTENTION, None)
        assert state.reason == unproven_reason(NOT_LISTED.format(n=3))
        assert state.hint == DASHBOARD_HINT
        assert state.resend_allowed is False
    else:
        assert (state.stage, state.request_id) == (Stage.NEEDS_ATTENTION, None)
        assert state.reason == candidates_reason("r5")
        assert state.hint == candidates_hint("r5")
        # r2 N4: `journal show` prints this hint as its own Next: it never says "journal show".
        assert "journal show" not in state.hint
        assert "`gigstack-async journal adopt 2024-01 r5`" in state.hint


def test_the_one_new_fitting_request_is_adopted() -> None:
    state = unknown(
        stage=Stage.NEEDS_ATTENTION,
        known_ids=("r0",),
        misses=2,
        hint="adopt or resend",
        resume_to=Stage.SUBMITTED,
    )
    new, commands = m.transition(
        state,
        m.HistorySeen(
            (m.Seen("h1"), ours("r5", status="processing", invoice_count=12)), generation=2
        ),
    )
    assert commands == ()
    assert new.stage is Stage.PROCESSING  # the entry's own status is taken at once
    assert new.request_id == "r5"
    assert new.known_ids == ("r0", "r5")
    assert new.unknown is False
    assert new.checked is True
    assert new.invoice_count == 12
    assert new.reason == "adopted from the history after an unknown outcome"
    assert new.hint is None
    assert new.resume_to is None


def test_an_adopted_completed_request_downloads_its_package() -> None:
    new, commands = m.transition(
        unknown(),
        m.HistorySeen((ours("r5", status="completed", package_ids=("p1",)),), generation=2),
    )
    assert new.stage is Stage.COMPLETED
    # Not proven the lost create (review 9w #12): one download counted unsure, one GET left.
    assert commands == (m.FetchPackage("p1", 2),)
    assert (new.foreign, new.unproven) == (("r5",), ("r5",))


def test_a_known_request_id_is_never_adopted_silently() -> None:
    # r0 was this month's request before a reset: it fits, but the month left it. It was not
    # in the snapshot before the attempt and nothing recorded shows it is the old request: it
    # may be the lost create under a reused id, so the user decides (never adopted silently).
    state = unknown(known_ids=("r0",))
    new, commands = m.transition(state, m.HistorySeen((m.Seen("h1"), ours("r0")), generation=2))
    assert commands == ()
    assert (new.stage, new.request_id) == (Stage.NEEDS_ATTENTION, None)
    assert new.reason == candidates_reason("r0")
    assert new.hint == candidates_hint("r0")
    # Listed in the snapshot before the attempt, r0 is the old request: no candidate.
    new, _ = m.transition(
        attrs.evolve(state, history_before=("h1", "r0")),
        m.HistorySeen((m.Seen("h1"), ours("r0")), generation=2),
    )
    assert new.reason == unproven_reason(NOT_LISTED.format(n=2))
    assert new.hint == DASHBOARD_HINT


def test_two_candidates_need_the_user() -> None:
    state = unknown(unknown_cause="outcome of the create request is unknown (HTTP 502)")
    new, commands = m.transition(
        state,
        m.HistorySeen((m.Seen("h1"), ours("r5"), ours("r6", start=None), ours("r7")), generation=2),
    )
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    # matches first, then the maybes; the cause of the unknown outcome comes first
    assert new.reason == candidates_reason(
        "r5, r7, r6", "outcome of the create request is unknown (HTTP 502)"
    )
    assert new.hint == candidates_hint("r5", "r7", "r6")
    assert new.unknown is True  # the next history may still settle it
    assert new.resume_to is None
    assert new.request_id is None


def test_one_match_and_one_maybe_need_the_user() -> None:
    new, _ = m.transition(
        unknown(), m.HistorySeen((ours("r5"), ours("r6", request_type=None)), generation=2)
    )
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == candidates_reason("r5, r6")
    assert new.hint == candidates_hint("r5", "r6")


def complete_history(**changes: object) -> m.HistorySeen:
    """A history that once "proved" January's create absent: not full, still lists "h1"
    (listed before the create) and February's r9 (created by this run after January's
    attempt), and not January's create. It proves nothing (reviews 9l #1, 9p #1, 9q #1)."""
    history = m.HistorySeen((other("h1"), other("r9")), generation=2, expected=("r9",))
    return attrs.evolve(history, **changes)  # type: ignore[arg-type]


def test_a_history_that_once_proved_the_create_absent_needs_the_user() -> None:
    state = unknown(
        stage=Stage.NEEDS_ATTENTION,
        resume_to=Stage.SUBMITTED,
        hint="adopt or resend",
    )
    new, commands = m.transition(state, complete_history())
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.unknown is True
    assert new.resend_allowed is False
    assert new.resume_to is None
    assert new.reason == unproven_reason(NOT_LISTED.format(n=2))
    assert new.hint == DASHBOARD_HINT
    assert new.creates == 1
    assert m.transition(new, m.Send(("h1", "r9"), generation=3))[1] == ()  # nothing sent
    # `journal resend`: sent exactly once more
    allowed, commands = m.transition(new, m.AllowResend())
    assert (allowed.stage, allowed.resend_allowed, commands) == (Stage.PLANNED, True, ())
    resent, commands = m.transition(allowed, m.Send(("h1", "r9"), generation=3))
    assert commands == (m.SendCreate(KEY),)
    assert resent.creates == 2
    assert m.transition(resent, m.Send(("h1", "r9"), generation=4))[1] == ()


@pytest.mark.parametrize(
    ("state", "history", "gap"),
    [
        (unknown(exists=True), complete_history(), "the create was answered 2xx, so it exists"),
        pytest.param(
            unknown(),
            complete_history(
                entries=(
                    other("h1"),
                    other("r9"),
                    *(other(f"x{i}") for i in range(m.HISTORY_WINDOW - 2)),
                ),
                expected=("r9", *(f"x{i}" for i in range(m.HISTORY_WINDOW - 2))),
            ),
            NOT_LISTED.format(n=20),
            id="a full 20-entry history may have pushed ours out",
        ),
        pytest.param(
            unknown(),
            complete_history(window=2),
            NOT_LISTED.format(n=2),
            id="a short window that is full",
        ),
        pytest.param(
            unknown(history_before=None),
            complete_history(),
            NOT_LISTED.format(n=2),
            id="no snapshot before the create",
        ),
        pytest.param(
            unknown(history_before=("h1", "h2")),
            complete_history(),
            NOT_LISTED.format(n=2),
            id="a request listed before is missing (filtered or pushed out)",
        ),
        pytest.param(
            unknown(),
            complete_history(expected=("r9", "r8")),
            NOT_LISTED.format(n=2),
            id="a request created in this run is missing",
        ),
        pytest.param(
            unknown(history_before=()),
            complete_history(expected=()),
            NOT_LISTED.format(n=2),
            id="nothing listed before the create anchors the history (review 9b #1)",
        ),
        pytest.param(
            unknown(),
            complete_history(entries=(m.Seen("h1"), other("r9"))),
            NOT_LISTED.format(n=2),
            id="the request listed before has no reported kind (a filtered history)",
        ),
        pytest.param(
            unknown(),
            complete_history(entries=(attrs.evolve(other("h1"), rfc_type="issued"), other("r9"))),
            NOT_LISTED.format(n=2),
            id="the request listed before is of another kind",
        ),
    ],
)
def test_a_history_that_does_not_list_the_create_never_proves_it_absent(
    state: m.MonthState, history: m.HistorySeen, gap: str
) -> None:
    new, commands = m.transition(state, history)
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == unproven_reason(gap)
    assert new.hint == DASHBOARD_HINT
    assert new.unknown is True
    assert new.resend_allowed is False  # nothing is sent for the month until the user says so
    assert m.transition(new, m.Send(("h1",)))[1] == ()


def test_an_empty_snapshot_and_a_later_create_prove_nothing() -> None:
    # review 9b #1: the history was empty before the create; r9 (created later in this run) is
    # the only entry. A history that keeps fewer entries than we think may have pushed the lost
    # create out behind r9
    new, _ = m.transition(unknown(history_before=()), complete_history(entries=(other("r9"),)))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == unproven_reason(NOT_LISTED.format(n=1))
    assert new.hint == DASHBOARD_HINT


def test_a_request_the_month_knows_is_a_candidate_unless_listed_before_the_attempt() -> None:
    # r0 is the month's old request, r9 a later create of this run; nothing new is listed, but
    # the snapshot before the attempt was empty
    state = unknown(history_before=(), known_ids=("r0", "r9"))
    history = complete_history(entries=(m.Seen("r0"), other("r9")), expected=())
    new, _ = m.transition(state, history)
    assert new.stage is Stage.NEEDS_ATTENTION
    # r0, known but not in the (empty) snapshot, may even be the lost create under a reused id
    assert new.reason == candidates_reason("r0")
    # listed before the attempt, r0 is the old request: no candidate, and the create is not
    # listed, which proves nothing (formerly r0 anchored an absence proof: sent again)
    new, commands = m.transition(attrs.evolve(state, history_before=("r0",)), history)
    assert (new.stage, new.reason, commands) == (
        Stage.NEEDS_ATTENTION,
        unproven_reason(NOT_LISTED.format(n=2)),
        (),
    )


@pytest.mark.parametrize("stage", [Stage.SUBMITTING, Stage.NEEDS_ATTENTION])
def test_a_history_older_than_the_failure_is_waited_out(stage: Stage) -> None:
    state = unknown(stage=stage, need_generation=3)
    listing = complete_history(entries=(ours("r5"), other("h1"), other("r9")))
    for generation in (1, 2, 3):
        assert m.transition(state, complete_history(generation=generation)) == (state, ())
        assert m.transition(state, attrs.evolve(listing, generation=generation)) == (state, ())
    assert m.transition(state, complete_history(generation=4))[0].stage is Stage.NEEDS_ATTENTION
    adopted = m.transition(state, attrs.evolve(listing, generation=4))[0]
    assert (adopted.stage, adopted.request_id) == (Stage.SUBMITTED, "r5")


# ------------------------------------------------------------------ polling with the history


def waiting(**changes: object) -> m.MonthState:
    state = month(stage=Stage.SUBMITTED, request_id="r1", known_ids=("r1",), checked=True)
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        ("pending", Stage.SUBMITTED),
        ("accepted", Stage.SUBMITTED),
        ("processing", Stage.PROCESSING),
        (None, Stage.PROCESSING),  # not reported: nothing changes
        ("on-hold", Stage.PROCESSING),  # a status this SDK does not know: keep watching
    ],
)
def test_the_history_moves_a_waiting_month(status: str | None, stage: Stage) -> None:
    state = waiting(stage=Stage.PROCESSING, sat_state="processing")
    new, commands = m.transition(state, m.HistorySeen((other("r9"), ours("r1", status=status))))
    assert (new.stage, commands) == (stage, ())
    assert new.sat_state == (status or "processing")
    assert new.status_asked is False  # a history poll is not the status call


def test_pending_takes_a_processing_month_back_to_submitted() -> None:
    new, _ = m.transition(waiting(stage=Stage.PROCESSING), m.HistorySeen((ours("r1"),)))
    assert new.stage is Stage.SUBMITTED


def test_completed_in_the_history_starts_the_download() -> None:
    new, commands = m.transition(
        waiting(),
        m.HistorySeen((ours("r1", status="completed", invoice_count=3, package_ids=("p1", "p2")),)),
    )
    assert new.stage is Stage.COMPLETED
    assert new.reason == "SAT completed the request"
    assert (new.invoice_count, new.package_ids) == (3, ("p1", "p2"))
    assert commands == (m.FetchPackage("p1", 1),)


def test_completed_without_package_ids_asks_the_status() -> None:
    new, commands = m.transition(
        waiting(), m.HistorySeen((ours("r1", status="completed", invoice_count=3),))
    )
    assert new.stage is Stage.COMPLETED
    assert new.status_asked is True
    assert commands == (m.FetchStatus("r1"),)


def test_what_the_server_did_not_say_is_kept() -> None:
    state = waiting(stage=Stage.PROCESSING, invoice_count=4, package_ids=("p1",), sat_state="x")
    new, _ = m.transition(
        state, m.HistorySeen((ours("r1", status=None, invoice_count=None, package_ids=None),))
    )
    assert (new.invoice_count, new.package_ids, new.sat_state) == (4, ("p1",), "x")
    # an empty list does not erase ids the server gave before ...
    new, _ = m.transition(state, m.HistorySeen((ours("r1", status=None, package_ids=()),)))
    assert new.package_ids == ("p1",)
    # ... but is recorded when nothing was known (an explicit empty list is not "unknown")
    new, _ = m.transition(
        waiting(stage=Stage.PROCESSING), m.HistorySeen((ours("r1", status=None, package_ids=()),))
    )
    assert new.package_ids == ()
    # a new list and a count of 0 are recorded
    new, _ = m.transition(
        state,
        m.HistorySeen((ours("r1", status=None, invoice_count=0, package_ids=("p2",)),)),
    )
    assert (new.invoice_count, new.package_ids) == (0, ("p2",))


def test_status_asked_stays_set_through_a_history_poll() -> None:
    state = waiting(status_asked=True)
    new, _ = m.transition(state, m.HistorySeen((ours("r1", status="processing"),)))
    assert new.status_asked is True


def test_a_completed_month_ignores_routine_polls() -> None:
    # a second download of the same package must never start from a poll
    state = waiting(stage=Stage.COMPLETED, package_ids=("p1",), downloads=(("p1", 1),))
    for status in ("completed", None, "processing"):
        new, commands = m.transition(state, m.HistorySeen((ours("r1", status=status),)))
        assert (new.stage, commands) == (Stage.COMPLETED, ())


@pytest.mark.parametrize(
    ("status", "fetch"), [("completed", True), (None, True), ("processing", False)]
)
def test_a_completed_month_acts_on_the_status_it_asked(status: str | None, fetch: bool) -> None:
    state = waiting(stage=Stage.COMPLETED, status_asked=True)
    new, commands = m.transition(
        state, m.StatusSeen(ours("r1", status=status, package_ids=("p1",)))
    )
    assert new.stage is Stage.COMPLETED
    assert commands == ((m.FetchPackage("p1", 1),) if fetch else ())


def test_expired_in_the_history() -> None:
    new, commands = m.transition(
        waiting(), m.HistorySeen((ours("r1", status="expired", message="vencida"),))
    )
    assert commands == ()
    assert new.stage is Stage.EXPIRED
    assert new.reason == "SAT reports the request expired (vencida)"
    new, _ = m.transition(waiting(), m.HistorySeen((ours("r1", status="expired"),)))
    assert new.reason == "SAT reports the request expired (no reason)"
    assert new.hint == (
        "SAT keeps packages 72 h; request the month again with `gigstack-async journal resend "
        "2024-01` (a new request may be billed)"
    )


SAT_RESEND_HINT = (
    "SAT refused the request; see the reason. `gigstack-async journal resend` sends it again"
)


@pytest.mark.parametrize(
    ("message", "stage", "code", "reason", "hint"),
    [
        (
            "5004: No se encontró la información",
            Stage.EMPTY,
            5004,
            "SAT 5004: no CFDIs in the period (5004: No se encontró la información)",
            None,
        ),
        (
            "5003: Tope máximo",
            Stage.SAT_FAILED,
            5003,
            "SAT request failed: 5003: Tope máximo",
            SPLIT_HINT,
        ),
        (
            "5002: se agotaron las solicitudes",
            Stage.SAT_FAILED,
            5002,
            "SAT request failed: 5002: se agotaron las solicitudes",
            LIMIT_HINT,
        ),
        (
            "5011: límite de descargas",
            Stage.SAT_FAILED,
            5011,
            "SAT request failed: 5011: límite de descargas",
            "SAT's daily download limit was reached: `gigstack-async journal resend` tomorrow",
        ),
        (
            # Not a failure to resend: an identical request is active (see the SAT 5005 tests).
            "5005: solicitud duplicada",
            Stage.DUPLICATE,
            5005,
            "SAT 5005 (Solicitud duplicada): an identical request is already active, so SAT "
            "made no new one (5005: solicitud duplicada); looking for it in the history",
            None,
        ),
        (None, Stage.SAT_FAILED, None, "SAT request failed: no reason given", SAT_RESEND_HINT),
        (
            # SAT's code alone, without its words, is SAT 5005 too.
            "SAT 5005",
            Stage.DUPLICATE,
            5005,
            "SAT 5005 (Solicitud duplicada): an identical request is already active, so SAT "
            "made no new one (SAT 5005); looking for it in the history",
            None,
        ),
        (
            # A SAT code other than the FIEL's: its own way, not the FIEL hint.
            "5010: certificado revocado",
            Stage.SAT_FAILED,
            5010,
            "SAT request failed: 5010: certificado revocado",
            SAT_RESEND_HINT,
        ),
    ],
)
def test_a_failed_sat_request(
    message: str | None, stage: Stage, code: int | None, reason: str, hint: str | None
) -> None:
    state = waiting(stage=Stage.PROCESSING, hint="old hint", invoice_count=None)
    new, commands = m.transition(
        state, m.HistorySeen((ours("r1", status="failed", message=message),))
    )
    assert commands == ()
    assert (new.stage, new.sat_code, new.reason, new.hint) == (stage, code, reason, hint)
    assert new.invoice_count == (0 if stage is Stage.EMPTY else None)


def test_a_listed_request_ends_a_run_of_polling_failures() -> None:
    new, _ = m.transition(waiting(poll_failures=2), m.HistorySeen((ours("r1"),)))
    assert new.poll_failures == 0
    new, _ = m.transition(waiting(poll_failures=0), m.HistorySeen((ours("r1"),)))
    assert new.poll_failures == 0


@pytest.mark.parametrize(
    ("fields", "described"),
    [
        ({"rfc_type": "issued"}, "issued cfdi 2024-01-01..2024-01-31"),
        ({"request_type": "metadata"}, "received metadata 2024-01-01..2024-01-31"),
        (
            {"request_type": None, "start": FEB[0], "end": FEB[1]},
            "received (request type not reported) 2024-02-01..2024-02-29",
        ),
        # one date not reported: no part of the month can be shown, the id is not trusted
        (
            {"start": None, "end": date(2024, 1, 20)},
            "received cfdi (start not reported)..2024-01-20",
        ),
        ({"start": date(2024, 1, 5), "end": None}, "received cfdi 2024-01-05..(end not reported)"),
    ],
)
def test_a_reused_request_id_for_another_period_is_not_trusted(
    fields: dict[str, object], described: str
) -> None:
    for checked in (True, False):
        state = waiting(checked=checked)
        seen = ours("r1", status="completed", package_ids=("p1",), **fields)
        new, commands = m.transition(state, m.HistorySeen((seen,)))
        assert commands == ()
        assert new.stage is Stage.NEEDS_ATTENTION
        assert new.reason == (
            f"the server's request r1 is for {described}, not this month "
            "(request ids may have been reused)"
        )
        assert new.hint == (
            "nothing was downloaded; find the right request with `gigstack-async downloads "
            "history` or gigstack's dashboard, then `gigstack-async journal adopt 2024-01 <id>` "
            "or `gigstack-async journal resend 2024-01`. Request r1 is released from 2024-01: "
            "if it is another month's of this journal, adopt it there (`journal adopt` with "
            "that month and r1)"
        )
        # Known not to be the month's request (newcomer 9j F0): another month may adopt it.
        assert new.released_ids() == ("r1",)


def unchecked_hint(stage_request: str = "r1") -> str:
    return (
        f"open the request {stage_request} in gigstack's dashboard: if it is for received cfdi "
        "2024-01-01..2024-01-31, confirm it with `gigstack-async journal adopt 2024-01 "
        f"{stage_request}` and run the same command again; if not, `gigstack-async journal "
        "resend 2024-01` (a new request may be billed)"
    )


@pytest.mark.parametrize(
    ("fields", "checks"),
    [
        ({}, True),
        ({"request_type": None}, True),  # documented histories omit requestType (GUESS: ours)
        ({"start": None}, False),
        ({"end": None}, False),
        ({"rfc_type": None}, False),
    ],
)
def test_a_journaled_request_is_checked_against_the_month(
    fields: dict[str, object], checks: bool
) -> None:
    state = waiting(checked=False, misses=2)
    new, commands = m.transition(state, m.HistorySeen((ours("r1", status="processing", **fields),)))
    if checks:
        assert (new.stage, new.checked, commands) == (Stage.PROCESSING, True, ())
        return
    reason = (
        "the history lists request r1 without the dates and types needed to check it against "
        "this month"
    )
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.checked is False
    assert new.resume_to is Stage.SUBMITTED  # adopting it lets the next run go on
    assert new.reason == f"{reason}; nothing was downloaded"
    assert new.hint == unchecked_hint()
    assert commands == (m.Warn(f"2024-01: {reason}"),)


def test_a_checked_completed_month_downloads_at_once() -> None:
    # resumed from the journal as completed: once the history checks the id, download
    state = waiting(stage=Stage.COMPLETED, checked=False, package_ids=("p1",), misses=1)
    new, commands = m.transition(state, m.HistorySeen((ours("r1", status="completed"),)))
    assert (new.stage, new.checked) == (Stage.COMPLETED, True)
    assert commands == (m.FetchPackage("p1", 1),)
    # the ids it lists now are used
    new, commands = m.transition(
        attrs.evolve(state, package_ids=None),
        m.HistorySeen((ours("r1", status="completed", package_ids=("p7",)),)),
    )
    assert commands == (m.FetchPackage("p7", 1),)


def test_an_unlisted_unchecked_request_needs_attention_after_three_histories() -> None:
    state = waiting(checked=False)
    history = m.HistorySeen((other("r9"),))
    for misses in range(1, m.CHECK_MISSES):
        state, commands = m.transition(state, history)
        # its status is asked once (newcomer 9g #2): an answer without criteria changes nothing
        asked = (m.FetchStatus("r1"),) if misses == 1 else ()
        assert (state.stage, state.misses, commands) == (Stage.SUBMITTED, misses, asked)
        assert m.transition(state, m.StatusSeen(m.Seen("r1", status="completed"))) == (state, ())
    state, commands = m.transition(state, history)
    reason = (
        "request r1 is not in the server's history (it lists only the newest requests: an "
        "older one has left it, or the server's ids restarted), so its dates and type cannot "
        "be checked against this month, as every new run does before downloading"
    )
    assert state.misses == m.CHECK_MISSES
    assert state.stage is Stage.NEEDS_ATTENTION
    assert state.resume_to is Stage.SUBMITTED
    assert state.reason == f"{reason}; nothing was downloaded"
    assert state.hint == unchecked_hint()
    assert commands == (m.Warn(f"2024-01: {reason}"),)


def test_a_checked_request_out_of_the_window_is_asked_by_status() -> None:
    for stage in (Stage.SUBMITTED, Stage.PROCESSING):
        state = waiting(stage=stage)
        assert m.transition(state, m.HistorySeen((other("r9"),))) == (
            state,
            (m.FetchStatus("r1"),),
        )
    completed = waiting(stage=Stage.COMPLETED)
    assert m.transition(completed, m.HistorySeen((other("r9"),))) == (completed, ())


@pytest.mark.parametrize(
    "state",
    [
        month(stage=Stage.PLANNED, request_id="r1", checked=True),
        month(stage=Stage.SUBMITTING, request_id="r1", checked=True),  # not unknown: in flight
        month(stage=Stage.DONE, request_id="r1", checked=True),
        month(stage=Stage.NEEDS_ATTENTION, request_id="r1", checked=False),  # not unknown
        month(stage=Stage.SUBMITTED, request_id=None, checked=True),
        month(stage=Stage.SUBMITTED, request_id=None, checked=False),
    ],
)
def test_the_history_is_ignored_by_months_not_waiting(state: m.MonthState) -> None:
    history = m.HistorySeen((ours("r1", status="completed", package_ids=("p1",)), other("r9")))
    assert m.transition(state, history) == (state, ())


def test_a_history_check_of_a_completed_month_without_package_ids_asks_the_status() -> None:
    # the history poll is not the status call: the status is still asked once
    state = waiting(stage=Stage.COMPLETED, checked=False, package_ids=None)
    new, commands = m.transition(
        state, m.HistorySeen((ours("r1", status="completed", invoice_count=3),))
    )
    assert (new.stage, new.checked) == (Stage.COMPLETED, True)
    assert commands == (m.FetchStatus("r1"),)
    # with package ids the download starts, and the status counts as not asked
    new, commands = m.transition(
        state, m.HistorySeen((ours("r1", status="completed", package_ids=("p1",)),))
    )
    assert commands == (m.FetchPackage("p1", 1),)
    assert new.status_asked is False


def test_an_adopted_completed_request_without_package_ids_asks_the_status() -> None:
    new, commands = m.transition(
        unknown(), m.HistorySeen((ours("r5", status="completed", invoice_count=3),), generation=2)
    )
    assert (new.stage, new.request_id) == (Stage.COMPLETED, "r5")
    assert commands == (m.FetchStatus("r5"),)


@pytest.mark.parametrize("status", [None, "on-hold"])
@pytest.mark.parametrize("stage", [Stage.SUBMITTING, Stage.NEEDS_ATTENTION])
def test_an_adopted_request_without_a_known_status_is_submitted(
    stage: Stage, status: str | None
) -> None:
    new, commands = m.transition(
        unknown(stage=stage), m.HistorySeen((ours("r5", status=status),), generation=2)
    )
    assert (new.stage, new.request_id, commands) == (Stage.SUBMITTED, "r5", ())
    assert new.status_asked is False


def test_a_request_created_later_under_an_id_listed_before_proves_nothing() -> None:
    # the server's ids restarted: February's new request got the id "h1" that the history
    # already listed before January's create
    state = unknown(history_before=("h1",))
    new, _ = m.transition(
        state,
        complete_history(entries=(other("h1"),), expected=("h1",)),
    )
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == unproven_reason(NOT_LISTED.format(n=1))
    assert new.hint == DASHBOARD_HINT


# ------------------------------------------------------------------ extraction failures


def test_a_failed_extraction_keeps_the_staged_package() -> None:
    staged_file = m.StagedFile("p1", "/staging/p1.zip", "0" * 64, 10)
    state = month(stage=Stage.STAGED, request_id="r1", package_ids=("p1",), staged=(staged_file,))
    new, commands = m.transition(state, m.ExtractFailed("p1", "No space left on device"))
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == "cannot extract package p1: No space left on device"
    assert new.hint == (
        "free space or fix the folder, then run the same command again: the package is staged "
        "on disk and is extracted again without downloading it"
    )
    assert new.resume_to is Stage.STAGED
    assert new.staged == (staged_file,)
    # the next run extracts it again
    _, commands = m.transition(new, m.Start())
    assert commands == (m.ExtractPackage("p1", "/staging/p1.zip"),)


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.STAGED])
def test_an_extraction_failure_outside_staged_changes_nothing(stage: Stage) -> None:
    state = month(stage=stage, request_id="r1")
    assert m.transition(state, m.ExtractFailed("p1", "late")) == (state, ())


# ------------------------------------------------------------------ per-run counters


WARN_3_FAILURES = m.Warn(
    "2024-01: polling request r1 failed 3 times in a row (HTTP 503); the other months go on"
)


def test_a_status_answer_restarts_the_count_of_polling_failures() -> None:
    # the warning comes after POLL_WARN_AFTER failures in a row, not in total
    state = run(
        waiting(),
        m.PollFailed("HTTP 503"),
        m.PollFailed("HTTP 503"),
        m.StatusSeen(ours("r1", status="processing")),
        m.PollFailed("HTTP 503"),
    )[0]
    state, commands = m.transition(state, m.PollFailed("HTTP 503"))
    assert commands == ()
    _, commands = m.transition(state, m.PollFailed("HTTP 504"))
    assert commands == (
        m.Warn(
            "2024-01: polling request r1 failed 3 times in a row (HTTP 504); the other months go on"
        ),
    )


def test_a_listed_request_restarts_the_count_of_polling_failures() -> None:
    state = run(
        waiting(),
        m.PollFailed("HTTP 503"),
        m.PollFailed("HTTP 503"),
        m.HistorySeen((ours("r1", status="processing"),)),
        m.PollFailed("HTTP 503"),
    )[0]
    state, commands = m.transition(state, m.PollFailed("HTTP 503"))
    assert commands == ()
    _, commands = m.transition(state, m.PollFailed("HTTP 503"))
    assert commands == (WARN_3_FAILURES,)


def test_a_new_run_warns_only_after_its_own_polling_failures() -> None:
    state = run(
        waiting(poll_failures=2), m.Start(), m.PollFailed("HTTP 503"), m.PollFailed("HTTP 503")
    )[0]
    assert m.transition(state, m.PollFailed("HTTP 503"))[1] == (WARN_3_FAILURES,)
    state = run(waiting(poll_failures=2), m.Start(), m.PollFailed("HTTP 503"))[0]
    assert m.transition(state, m.PollFailed("HTTP 503"))[1] == ()


def completed(**changes: object) -> m.MonthState:
    """A completed month whose request the user confirmed (checked at every Start)."""
    state = waiting(stage=Stage.COMPLETED, confirmed_id="r1", package_ids=("p1",))
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def test_a_new_run_downloads_again_a_package_that_failed_in_the_last_run() -> None:
    state = completed(failed_this_run=("p1",), downloads=(("p1", 1),))
    assert m.transition(state, m.Start())[1] == (m.FetchPackage("p1", 2),)


def test_a_new_run_has_its_own_free_retries() -> None:
    # a download that never left (a connect failure) is tried again, a few times per run
    state = run(completed(free_failures=m.FREE_RETRIES_PER_RUN), m.Start(), m.PackageSending("p1"))[
        0
    ]
    new, commands = m.transition(state, m.PackageFailed("p1", "connect refused", sent=False))
    assert (new.stage, commands) == (Stage.COMPLETED, (m.FetchPackage("p1", 1),))


def test_a_new_run_asks_the_status_again() -> None:
    state = completed(package_ids=None, status_asked=True, invoice_count=3)
    assert m.transition(state, m.Start())[1] == (m.FetchStatus("r1"),)


def test_a_new_run_gives_an_unlisted_request_its_own_histories() -> None:
    state = run(waiting(checked=False, misses=2), m.Start())[0]
    new, commands = m.transition(state, m.HistorySeen((other("r9"),)))
    assert (new.stage, new.misses, commands) == (Stage.SUBMITTED, 1, (m.FetchStatus("r1"),))


def test_our_own_create_answer_lets_the_status_start_the_download() -> None:
    state = run(month(), m.Send(("h1",)), m.Created("r1"))[0]
    new, commands = m.transition(
        state, m.StatusSeen(ours("r1", status="completed", package_ids=("p1",)))
    )
    assert (new.stage, commands) == (Stage.COMPLETED, (m.FetchPackage("p1", 1),))


def test_a_history_poll_does_not_forget_that_the_status_was_asked() -> None:
    # completed without package ids: the status is asked once; a poll in between must not make
    # the status answer ask it again for ever
    state, commands = m.transition(
        waiting(), m.HistorySeen((ours("r1", status="completed", invoice_count=3),))
    )
    assert commands == (m.FetchStatus("r1"),)
    state = run(state, m.HistorySeen((ours("r1", status="completed", invoice_count=3),)))[0]
    new, commands = m.transition(state, m.StatusSeen(ours("r1", status="completed")))
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == "SAT completed the request with 3 CFDIs but the server gave no package ids"


# ------------------------------------------------------------------ the journal


def reloaded(state: m.MonthState) -> m.MonthState:
    return decode_state(encode_state(state))


@pytest.mark.parametrize(
    ("state", "observations"),
    [
        (month(), [m.Send(("h1",), generation=2), m.Created("r1"), m.Start()]),
        (month(), [m.Send(("h1",)), m.CreateRefused("deactivated"), m.Start()]),
        (month(), [m.Send(("h1",)), m.CreateRefused("SAT 5002", 5002)]),
        (month(), [m.Send(("h1",)), m.Created("r1"), m.HistorySeen((ours("r1"),))]),
        (
            month(),
            [
                m.Send(("h1",), generation=1),
                m.CreateUnknown("HTTP 502", generation=1),
                m.HistorySeen((other("h1"), ours("r5", status="processing")), generation=2),
                m.StatusSeen(ours("r5", status="completed", package_ids=("p1",))),
            ],
        ),
        (
            month(),
            [
                m.Send(("h1",), generation=1),
                m.CreateUnknown("HTTP 502", generation=1),
                complete_history(generation=2),
            ],
        ),
        (
            waiting(checked=False),
            [m.HistorySeen((other("r9"),)) for _ in range(m.CHECK_MISSES)],
        ),
        (
            waiting(stage=Stage.COMPLETED, checked=False, package_ids=("p1",)),
            [m.HistorySeen((ours("r1", status="completed"),))],
        ),
        (
            waiting(poll_failures=2),
            [m.HistorySeen((ours("r1", status="failed", message="5003"),))],
        ),
    ],
)
def test_every_state_reloads_from_the_journal_as_it_was(
    state: m.MonthState, observations: list[m.Observation]
) -> None:
    # the engine stores each new state before it acts: a crash resumes from exactly that state
    for obs in observations:
        state, _ = m.transition(state, obs)
        assert reloaded(state) == state, obs


# ------------------------------------------------------------------ no anchor proves absence


def jan_record(request_id: str, **fields: object) -> m.KnownRequest:
    """What the journal saw of a January request (as our own create answer records it)."""
    record = m.KnownRequest(
        request_id, start=JAN[0], end=JAN[1], rfc_type="received", request_type="cfdi"
    )
    return attrs.evolve(record, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("anchor", "journal", "later"),
    [
        ({}, "", {}),  # February's received cfdi request: the month's kind
        ({"request_type": None}, "known", {}),  # this journal created it: its kind is known
        ({"request_type": None}, "expected", {}),
        ({}, "", {"rfc_type": "issued", "request_type": "metadata"}),  # a later one of any kind
    ],
)
def test_an_older_request_of_the_months_kind_and_a_later_create_prove_nothing(
    anchor: dict[str, object], journal: str, later: dict[str, object]
) -> None:
    # Each of these histories once proved January's lost create absent (an older request of
    # its kind and a later create listed, January's not between them) and it was sent again;
    # a history kept by period or last change, or one listing a 502'd create late, hid it and
    # the month was billed twice (reviews 9l #1, 9p #1, 9q #1).
    older = attrs.evolve(other("h1"), **anchor)  # type: ignore[arg-type]
    newer = attrs.evolve(other("r9"), **later)  # type: ignore[arg-type]
    state = unknown(known_ids=("h1",) if journal == "known" else ())
    history = complete_history(
        entries=(newer, older), expected=("r9", "h1") if journal == "expected" else ("r9",)
    )
    new, commands = m.transition(state, history)
    assert commands == ()
    assert (new.stage, new.unknown, new.resend_allowed) == (Stage.NEEDS_ATTENTION, True, False)
    assert new.reason == unproven_reason(NOT_LISTED.format(n=2))
    assert new.hint == DASHBOARD_HINT


# ------------------------------------------------------------------ restarted request ids


@pytest.mark.parametrize(
    ("fields", "record", "text"),
    [
        ({"start": date(2024, 1, 2)}, {}, "start 2024-01-02, not 2024-01-01"),
        ({"end": date(2024, 1, 30)}, {}, "end 2024-01-30, not 2024-01-31"),
        ({"rfc_type": "issued"}, {}, "rfcType issued, not received"),
        ({"request_type": "metadata"}, {}, "requestType metadata, not cfdi"),
        (
            {"created_at": "1704153600000"},
            {"created_at": "1704067200000"},
            "createdAt 1704153600000, not 1704067200000",
        ),
        ({"status": "pending"}, {"final": "completed"}, "status pending after it was completed"),
        ({"status": "accepted"}, {"final": "failed"}, "status accepted after it was failed"),
        ({"status": "processing"}, {"final": "expired"}, "status processing after it was expired"),
    ],
)
def test_a_known_request_listed_with_other_attributes_is_another_request(
    fields: dict[str, object], record: dict[str, object], text: str
) -> None:
    seen = ours("r1", **{"status": None, **fields})
    assert m._differs(jan_record("r1", **record), seen) == text
    # the month that knows r1 says so, and downloads nothing
    state = waiting(records=(jan_record("r1", **record),))
    new, commands = m.transition(state, m.HistorySeen((seen,)))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == (
        f"the server's request r1 is listed with {text}: it is another request under the same "
        "id (the server's request ids restarted)"
    )
    assert new.hint == (
        "nothing was downloaded; find the month's request in gigstack's dashboard, then "
        "`gigstack-async journal adopt 2024-01 <id>`, or `gigstack-async journal resend "
        "2024-01` if it is not there (a new request may be billed)"
    )
    assert commands == (m.Warn("2024-01: request r1 now names another request"),)


NOT_THIS_MONTH = (
    "MISSING DAYS: request r1 is 2024-01's received cfdi request for 2024-01-02..2024-01-31 "
    "only; the month is 2024-01-01..2024-01-31, so it leaves out 2024-01-01. Nothing was "
    "downloaded"
)


@pytest.mark.parametrize(
    ("fields", "left_out"),
    [
        ({"start": date(2024, 1, 15)}, "2024-01-01..2024-01-14"),
        (
            {"start": date(2024, 1, 10), "end": date(2024, 1, 20)},
            "2024-01-01..2024-01-09 and 2024-01-21..2024-01-31",
        ),
        ({"request_type": None, "end": date(2024, 1, 30)}, "2024-01-31"),
    ],
)
def test_the_months_own_kind_of_request_for_part_of_its_days_says_missing_days(
    fields: dict[str, object], left_out: str
) -> None:
    # Review 9i #3: a request for some of the month's days (adopted after its record was lost)
    # is not a reused id: the month lacks days, and only a new request brings them.
    seen = ours("r1", status="completed", package_ids=("p1",), **fields)
    new, commands = m.transition(waiting(checked=True), m.HistorySeen((seen,)))
    assert (new.stage, commands) == (Stage.NEEDS_ATTENTION, ())
    start, end = seen.start, seen.end
    assert new.reason == (
        f"MISSING DAYS: request r1 is 2024-01's received cfdi request for {start}..{end} only; "
        f"the month is 2024-01-01..2024-01-31, so it leaves out {left_out}. Nothing was "
        "downloaded"
    )
    assert new.hint == (
        "its days' CFDIs may already be in the month's folder; the month's other days need a "
        "new request: `gigstack-async journal resend 2024-01` asks for 2024-01-01..2024-01-31 "
        "(a new request, may be billed)"
    )


@pytest.mark.parametrize(
    ("fields", "record", "stage", "reason", "remembered"),
    [
        # nothing contradicts: a field not reported (either side), or a finished status again;
        # what the listing adds is remembered, what it leaves out is kept
        (
            {"start": None, "request_type": None, "created_at": None},
            {},
            Stage.SUBMITTED,
            None,
            {},
        ),
        (
            {"created_at": "1704153600000"},
            {},
            Stage.SUBMITTED,
            None,
            {"created_at": "1704153600000"},
        ),
        (
            {"created_at": None},
            {"created_at": "1704067200000"},
            Stage.SUBMITTED,
            None,
            {"created_at": "1704067200000"},
        ),
        ({"status": "pending"}, {"final": None}, Stage.SUBMITTED, None, {}),
        ({"status": "pending"}, {"final": "pending"}, Stage.SUBMITTED, None, {"final": "pending"}),
        (
            {"status": "failed"},
            {"final": "completed"},
            Stage.SAT_FAILED,
            "SAT request failed: no reason given",
            {"final": "failed"},
        ),
        # the record knew no start, so it proves no restart; the month's own check still sees
        # that r1 is for other dates, and nothing is recorded of it
        ({"start": date(2024, 1, 2)}, {"start": None}, Stage.NEEDS_ATTENTION, NOT_THIS_MONTH, None),
    ],
)
def test_a_known_request_listed_with_nothing_contradicting_is_still_ours(
    fields: dict[str, object],
    record: dict[str, object],
    stage: Stage,
    reason: str | None,
    remembered: dict[str, object] | None,
) -> None:
    seen = ours("r1", **{"status": None, **fields})
    assert m._differs(jan_record("r1", **record), seen) is None
    state = waiting(records=(jan_record("r1", **record),))
    new, commands = m.transition(state, m.HistorySeen((seen,)))
    assert new.stage is stage
    assert new.reason == reason
    assert commands == ()  # no warning of another request, and nothing to download yet
    kept = record if remembered is None else remembered
    assert new.records == (jan_record("r1", **kept),)


def test_the_first_difference_is_named() -> None:
    seen = ours("r1", start=date(2024, 1, 2), end=date(2024, 1, 30), status="pending")
    assert m._differs(jan_record("r1", final="completed"), seen) == (
        "start 2024-01-02, not 2024-01-01"
    )


@pytest.mark.parametrize("where", ["month", "plan"])
def test_a_restarted_id_in_the_history_proves_no_absence(where: str) -> None:
    # review 9b #2: r9 (another month's request of this plan) is listed with other dates, so
    # the server's ids restarted and any id may name another request
    record = m.KnownRequest("r9", start=date(2023, 5, 1), end=date(2023, 5, 31))
    state = unknown(records=(record,) if where == "month" else ())
    history = complete_history(records=(record,) if where == "plan" else ())
    new, commands = m.transition(state, history)
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == unproven_reason(
        "the server's request ids restarted (request r9 is listed with start 2024-02-01, not "
        "2023-05-01), so the history proves nothing"
    )
    assert new.hint == RESTARTED_HINT  # the restart seen: the dashboard search says why


def test_a_record_of_a_request_not_listed_or_not_contradicted_is_no_restart() -> None:
    records = (
        m.KnownRequest("r7", start=date(2023, 5, 1)),  # not listed
        m.KnownRequest("r9", start=FEB[0], rfc_type="received"),  # listed as it was
        m.KnownRequest("h1"),  # nothing known of it
    )
    new, _ = m.transition(unknown(records=records[:1]), complete_history(records=records[1:]))
    # no talk of restarted ids: the history simply does not list the create (still no proof)
    assert (new.stage, new.reason) == (
        Stage.NEEDS_ATTENTION,
        unproven_reason(NOT_LISTED.format(n=2)),
    )
    assert new.hint == DASHBOARD_HINT  # newcomer 9l #6a: no --ids-restarted, no restart text
    assert "restarted" not in (new.hint or "")


def test_a_known_id_reused_by_the_lost_create_is_a_candidate() -> None:
    # review 9b #2: r0, the month's old failed request, is listed pending again with January's
    # dates: the server's ids restarted and the lost create may be it. Never dropped as known
    state = unknown(known_ids=("r0",), records=(jan_record("r0", final="failed"),))
    history = complete_history(entries=(other("h1"), ours("r0", status="pending"), other("r9")))
    new, commands = m.transition(state, history)
    assert commands == ()
    assert (new.stage, new.request_id) == (Stage.NEEDS_ATTENTION, None)
    assert new.reason == candidates_reason("r0")
    assert new.hint == candidates_hint("r0")
    # reused for another period, it is no candidate, but the history proves nothing either
    history = complete_history(
        entries=(other("h1"), ours("r0", status="pending", start=FEB[0]), other("r9"))
    )
    new, _ = m.transition(state, history)
    assert new.reason == unproven_reason(
        "the server's request ids restarted (request r0 is listed with start 2024-02-01, not "
        "2024-01-01), so the history proves nothing"
    )


def test_a_known_id_listed_as_it_was_is_not_adopted_again() -> None:
    state = unknown(known_ids=("r0",), records=(jan_record("r0", final="failed"),))
    history = complete_history(
        entries=(other("h1"), ours("r0", status="failed"), other("r9"), ours("r5"))
    )
    new, _ = m.transition(state, history)
    assert (new.stage, new.request_id, new.known_ids) == (Stage.SUBMITTED, "r5", ("r0", "r5"))


# ------------------------------------------------------------------ what the journal remembers


def test_remember_keeps_what_was_known_and_adds_what_is_new() -> None:
    known = m.KnownRequest("r1", start=JAN[0], created_at="1704067200000")
    other_record = m.KnownRequest("r2", start=FEB[0])
    seen = ours("r1", status="completed", start=FEB[0], created_at="1706745600000")
    records = m._remember((known, other_record), seen)
    assert records == (
        other_record,
        m.KnownRequest(
            "r1",
            start=JAN[0],  # kept: a later listing never rewrites what the journal saw
            end=JAN[1],
            rfc_type="received",
            request_type="cfdi",
            created_at="1704067200000",
            final="completed",
        ),
    )
    # whatever a later listing says, the journal's evidence of the request stays as it was seen
    contradicting = m.Seen(
        "r1", "pending", "issued", "metadata", FEB[0], FEB[1], created_at="1706745600000"
    )
    assert m._remember(records, contradicting) == records
    # a status that is not final is not recorded as final, and keeps an earlier final one
    again = m._remember(records, ours("r1", status="pending"))
    assert again == records
    # a request seen the first time
    assert m._remember((), ours("r3", status="processing", created_at="x")) == (
        jan_record("r3", created_at="x"),
    )
    for status in ("failed", "expired"):
        assert m._remember((), m.Seen("r4", status=status)) == (m.KnownRequest("r4", final=status),)


def test_our_create_answer_and_the_history_are_remembered() -> None:
    state = run(month(), m.Send(("h1",)), m.Created("r1"))[0]
    assert state.records == (jan_record("r1"),)
    assert (state.typed, state.checked) == (True, True)
    listed = ours("r1", status="completed", created_at="1704067200000", package_ids=("p1",))
    state = run(state, m.HistorySeen((listed,)))[0]
    assert state.records == (jan_record("r1", created_at="1704067200000", final="completed"),)
    # a duplicate answer names a request created earlier: nothing is recorded of it
    dup = run(month(), m.Send(("h1",)), m.Created("r1", duplicate=True))[0]
    assert dup.records == ()


def test_an_adopted_request_is_remembered() -> None:
    new, _ = m.transition(
        unknown(), m.HistorySeen((other("h1"), ours("r5", created_at="c5")), generation=2)
    )
    assert new.records == (jan_record("r5", created_at="c5"),)
    assert new.typed is True


def test_a_request_listed_for_another_month_is_not_remembered() -> None:
    # r1 is known, before an older request of the month (resent after it expired)
    state = waiting(records=(jan_record("r1"), jan_record("r0", final="expired")), typed=True)
    new, _ = m.transition(state, m.HistorySeen((ours("r1", status=None, rfc_type=None),)))
    # Nothing new is learnt: the records keep their order, so the month's state is unchanged
    # and the journal (which writes only a state that differs) has nothing to write.
    assert new.records == (jan_record("r1"), jan_record("r0", final="expired"))
    assert new == state
    unchecked = waiting(checked=False)
    new, _ = m.transition(unchecked, m.HistorySeen((ours("r1", rfc_type=None),)))
    assert new.records == ()  # it could not be checked: not the month's request


# ------------------------------------------------------------------ empty only when typed

UNTYPED_REASON = (
    "request r1 reports {what}, but this run could not confirm it is the month's received "
    "cfdi request for 2024-01-01..2024-01-31 (the history does not show its requestType, or "
    "not at all, and request ids may restart): a month is never reported empty on a guess"
)
UNTYPED_HINT = (
    "open request r1 in gigstack's dashboard: if it is the received cfdi request for "
    "2024-01-01..2024-01-31, `gigstack-async journal adopt 2024-01 r1` and run the same command "
    "again; if not, `gigstack-async journal resend 2024-01` (a new request may be billed)"
)


def test_sat_5004_for_a_request_of_unconfirmed_kind_needs_the_user() -> None:
    # review 9b #4: a documented history omits requestType; the id may name a metadata request
    state = waiting(stage=Stage.PROCESSING, typed=False)
    failed = ours("r1", status="failed", message="5004: sin información", request_type=None)
    new, commands = m.transition(state, m.HistorySeen((failed,)))
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == UNTYPED_REASON.format(what="SAT 5004 (5004: sin información)")
    assert new.hint == UNTYPED_HINT
    assert new.resume_to is Stage.SUBMITTED
    assert (new.sat_code, new.invoice_count) == (None, None)  # unknown is not zero
    # the same answer for a request listed with its requestType is an empty month
    new, _ = m.transition(state, m.HistorySeen((attrs.evolve(failed, request_type="cfdi"),)))
    assert (new.stage, new.sat_code, new.invoice_count) == (Stage.EMPTY, 5004, 0)


def test_a_count_of_zero_for_a_request_of_unconfirmed_kind_needs_the_user() -> None:
    state = waiting(typed=False)
    done = ours("r1", status="completed", invoice_count=0, request_type=None)
    new, commands = m.transition(state, m.HistorySeen((done,)))
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == UNTYPED_REASON.format(what="no CFDIs")
    assert new.hint == UNTYPED_HINT
    assert new.resume_to is Stage.COMPLETED


@pytest.mark.parametrize(
    ("record", "created_at", "typed"),
    [
        ("c1", "c1", True),  # listed with the createdAt recorded for it: the same request
        ("c1", "c2", None),  # another createdAt: another request (ids restarted)
        (None, "c1", False),  # nothing recorded to compare with
        ("", "", False),  # an empty createdAt proves nothing
    ],
)
def test_the_recorded_created_at_confirms_the_kind(
    record: str | None, created_at: str, typed: bool | None
) -> None:
    state = waiting(stage=Stage.PROCESSING, records=(jan_record("r1", created_at=record),))
    seen = ours("r1", status="failed", message="5004", request_type=None, created_at=created_at)
    new, _ = m.transition(state, m.HistorySeen((seen,)))
    if typed is None:
        assert "another request under the same id" in (new.reason or "")
    else:
        assert new.stage is (Stage.EMPTY if typed else Stage.NEEDS_ATTENTION)


def test_only_the_users_word_survives_a_new_run_as_the_kind() -> None:
    # typed is per run (ids may restart between runs); `journal adopt` vouches for the next run
    # (a status answer without requestType: one carrying the month's criteria is typed itself)
    failed = m.StatusSeen(ours("r1", status="failed", message="5004", request_type=None))
    state = waiting(typed=True, confirmed_id="r1")
    new = run(state, m.Start(), failed)[0]
    assert new.stage is Stage.NEEDS_ATTENTION
    vouched = run(attrs.evolve(state, vouched=True), m.Start())[0]
    assert (vouched.typed, vouched.vouched) == (True, False)
    assert m.transition(vouched, failed)[0].stage is Stage.EMPTY
    assert run(vouched, m.Start(), failed)[0].stage is Stage.NEEDS_ATTENTION


# What `_reconcile` recorded of a candidate the user was asked about (documented fields only).
CANDIDATE = m.KnownRequest("r1", JAN[0], JAN[1], "received", None, created_at="c1")
ZERO = ours("r1", status="completed", invoice_count=0, package_ids=(), request_type=None)
FAILED_5004 = ours("r1", status="failed", message="5004: sin información", request_type=None)


@pytest.mark.parametrize(
    ("records", "history", "answer", "stage"),
    [
        # The user adopted a candidate seen with its createdAt; the server's ids may restart
        # before the run, and the status carries no createdAt: 0 is not "empty" by their word.
        ((CANDIDATE,), None, ZERO, Stage.NEEDS_ATTENTION),
        ((CANDIDATE,), None, FAILED_5004, Stage.NEEDS_ATTENTION),
        # The history lists it with the recorded createdAt: the same request, empty.
        ((CANDIDATE,), "c1", ZERO, Stage.EMPTY),
        ((CANDIDATE,), "c1", FAILED_5004, Stage.EMPTY),
        # Nothing recorded of it (an id outside every history, or dropped by a second adopt).
        ((), None, ZERO, Stage.EMPTY),
        ((attrs.evolve(CANDIDATE, created_at=None),), None, FAILED_5004, Stage.EMPTY),
        ((attrs.evolve(CANDIDATE, created_at=""),), None, ZERO, Stage.EMPTY),  # proves nothing
        ((attrs.evolve(CANDIDATE, id="r0"),), None, ZERO, Stage.EMPTY),  # another id's record
    ],
)
def test_an_adopted_candidate_is_empty_only_if_its_created_at_is_seen_again(
    records: tuple[m.KnownRequest, ...], history: str | None, answer: m.Seen, stage: Stage
) -> None:
    # review 9 model: 2024-02 adopted its candidate 101, the server's ids restarted, and 101
    # (outside a short history) named a metadata request whose count of 0 made the month empty
    state = waiting(records=records, confirmed_id="r1", vouched=True, typed=True)
    state, commands = m.transition(state, m.Start())
    assert commands == ()
    assert (state.checked, state.typed) == (
        True,
        not any(r.id == "r1" and r.created_at for r in records),
    )
    if history is not None:
        listed = ours("r1", status="processing", request_type=None, created_at=history)
        state = m.transition(state, m.HistorySeen((listed,), generation=1))[0]
        assert state.typed is True
    new, commands = m.transition(state, m.StatusSeen(answer))
    assert commands == ()
    assert new.stage is stage
    if stage is Stage.EMPTY:
        assert (new.reason, new.hint) in (
            ("SAT found no CFDIs", None),
            ("SAT 5004: no CFDIs in the period (5004: sin información)", None),
        )
        return
    what = "no CFDIs" if answer is ZERO else "SAT 5004 (5004: sin información)"
    assert new.reason == UNTYPED_REASON.format(what=what)
    assert new.hint == UNTYPED_HINT
    assert new.resume_to is (Stage.COMPLETED if answer is ZERO else Stage.SUBMITTED)
    assert (new.sat_code, new.invoice_count) == (None, 0 if answer is ZERO else None)
    # The hint's way: a second `journal adopt` of r1 drops the candidate's record (the user's
    # word beats it), and the next run takes that word.
    adopted = m.transition(new, m.Adopt("r1"))[0]
    assert adopted.records == ()
    again = run(adopted, m.Start(), m.StatusSeen(answer))[0]
    assert again.stage is Stage.EMPTY


def test_an_adopted_candidate_listed_with_another_created_at_is_another_request() -> None:
    state = waiting(records=(CANDIDATE,), confirmed_id="r1", vouched=True, typed=True)
    listed = ours("r1", status="completed", request_type=None, created_at="c2", invoice_count=0)
    new, commands = run(state, m.Start(), m.HistorySeen((listed,), generation=1))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason == (
        "the server's request r1 is listed with createdAt c2, not c1: it is another request "
        "under the same id (the server's request ids restarted)"
    )
    assert commands == (m.Warn("2024-01: request r1 now names another request"),)


# ------------------------------------------------------------------ why the outcome is unknown


def test_the_cause_of_an_unknown_outcome_is_kept_until_the_next_create() -> None:
    state = run(month(), m.Send(("h1",)), m.CreateUnknown("HTTP 502", generation=0))[0]
    cause = "outcome of the create request is unknown (HTTP 502)"
    assert (state.unknown_cause, state.reason) == (cause, cause)
    unreadable = run(month(), m.Send(("h1",)), m.CreateUnknown("bad JSON", exists=True))[0]
    assert unreadable.unknown_cause == (
        "the create request was accepted but its answer is unreadable (bad JSON)"
    )
    # a new run keeps it and says it in the reason
    new = run(state, m.Start(), m.HistorySeen((other("h1"),), generation=1))[0]
    assert new.reason == unproven_reason(NOT_LISTED.format(n=1), cause)
    # a run that died in flight says so
    crashed = month(stage=Stage.SUBMITTING, history_before=("h1",))
    restarted = m.transition(crashed, m.Start())[0]
    assert restarted.unknown_cause == "a run stopped while the create request was in flight"
    # the next create starts without a cause
    resent = run(state, m.AllowResend(), m.Send(("h1",)))[0]
    assert resent.unknown_cause is None
    assert (resent.exists, resent.unknown) == (False, False)


def test_a_request_checked_by_the_history_in_this_run_is_of_the_months_kind() -> None:
    # resumed from the journal (not checked yet): the history lists it with its requestType,
    # which both checks it and confirms its kind, so SAT's 5004 is an empty month
    state = waiting(stage=Stage.PROCESSING, checked=False, typed=False)
    failed = ours("r1", status="failed", message="5004: sin información")
    new, _ = m.transition(state, m.HistorySeen((failed,)))
    assert (new.stage, new.checked, new.typed) == (Stage.EMPTY, True, True)
    assert new.records == (jan_record("r1", final="failed"),)


def test_sat_5002_from_the_status_is_never_asked_again_with_those_dates() -> None:
    failed = m.HistorySeen((ours("r1", status="failed", message="5002: agotadas"),))
    state = run(waiting(stage=Stage.PROCESSING), failed)[0]
    assert state.exhausted == (JAN,)
    # other dates are a new request for SAT; refused later, the month may not go back to them
    half = date(2024, 1, 15)
    state = run(
        state,
        m.AllowResend(start=JAN[0], end=half),
        m.Send(("h1",)),
        m.CreateRefused("Descarga Masiva is not active"),
    )[0]
    assert (state.stage, state.end) == (Stage.REFUSED, half)
    with pytest.raises(
        m.TransitionError,
        match=r"^2024-01: SAT 5002 says its limit of requests for 2024-01-01\.\.2024-01-31 is "
        r"exhausted",
    ):
        m.transition(state, m.AllowResend(start=JAN[0], end=JAN[1]))


def test_a_lost_resend_under_the_months_own_reused_id_is_never_proven_absent() -> None:
    # i13-mach-a2's case: the server said "not found" for r0 five times (its ids restarted),
    # the user resent, and the resend's answer was lost while the server gave it the id r0
    # again. r0 is known but was not in the snapshot before the resend, and nothing recorded
    # tells the old r0 from the new: it may be the create, so nothing is sent again.
    s = run(month(), m.Send(("h1",), generation=1), m.Created("r0"))[0]
    for _ in range(m.POLL_GIVE_UP):
        s, _ = m.transition(s, m.PollFailed("404", not_found=True))
    s = run(
        s,
        m.Start(),
        m.AllowResend(),
        m.Send(("h1",), generation=1),
        m.CreateUnknown("HTTP 502", generation=1),
    )[0]
    listed = (
        other("h1"),
        ours("r0", status="pending", created_at="1732950000000"),
        other("r9"),
    )
    s, commands = m.transition(s, m.HistorySeen(listed, generation=2, expected=("r9",)))
    assert commands == ()
    assert s.stage is Stage.NEEDS_ATTENTION
    assert "candidate: r0" in (s.reason or "")
    assert s.creates == 2  # nothing more will be sent without the user


def completed_month() -> m.MonthState:
    return month(
        stage=Stage.COMPLETED,
        request_id="r1",
        known_ids=("r1",),
        checked=True,
        status_asked=True,
        package_ids=("P1",),
        sat_state="completed",
    )


@pytest.mark.parametrize("message", ["SAT says no", None])
def test_a_completed_request_whose_status_now_says_failed_needs_the_user(
    message: str | None,
) -> None:
    # A completed request never fails afterwards: the id names another request now.
    state = completed_month()
    new, commands = m.transition(state, m.StatusSeen(ours("r1", status="failed", message=message)))
    assert commands == ()
    assert new.stage is Stage.NEEDS_ATTENTION
    shown = message or "no reason"
    assert new.reason == (
        f"request r1 had completed, but its status now reports failed ({shown}): the id names "
        "another request (the server's request ids may have restarted); nothing more was "
        "downloaded"
    )
    assert new.hint == (
        "find the month's request in gigstack's dashboard, then `gigstack-async journal adopt "
        "2024-01 <id>`, or `gigstack-async journal resend 2024-01` if it is not there (a new "
        "request may be billed)"
    )
    assert new.package_ids == state.package_ids


@pytest.mark.parametrize("message", ["package gone", None])
def test_a_completed_request_whose_status_says_expired_is_expired(message: str | None) -> None:
    new, commands = m.transition(
        completed_month(), m.StatusSeen(ours("r1", status="expired", message=message))
    )
    assert commands == ()
    assert new.stage is Stage.EXPIRED
    assert new.reason == f"SAT reports the request expired ({message or 'no reason'})"
    assert new.key == "2024-01"


def test_candidates_are_remembered_with_what_they_showed() -> None:
    seen = attrs.evolve(ours("r5"), created_at="1732950000000")
    new, _ = m.transition(unknown(), m.HistorySeen((m.Seen("h1"), seen, ours("r6")), 2))
    assert new.stage is Stage.NEEDS_ATTENTION
    recorded = {r.id: r.created_at for r in new.records}
    assert recorded == {"r5": "1732950000000", "r6": None}


def test_an_untyped_listing_records_no_created_at() -> None:
    # A createdAt vouches for the month's kind later: kept only when this run knew the entry
    # was the month's request; an entry without requestType is recorded without it.
    state = month(stage=Stage.SUBMITTED, request_id="r1", known_ids=("r1",), checked=False)
    untyped = attrs.evolve(ours("r1", request_type=None), created_at="1732950000000")
    new, _ = m.transition(state, m.HistorySeen((untyped,), 1))
    assert [r.created_at for r in new.records if r.id == "r1"] == [None]
    typed = attrs.evolve(ours("r1"), created_at="1732950000000")
    new, _ = m.transition(state, m.HistorySeen((typed,), 1))
    assert [r.created_at for r in new.records if r.id == "r1"] == ["1732950000000"]


# ------------------------------------------------------------------ SAT 5005 (Solicitud duplicada)

DUPLICATE_REASON = (
    "SAT 5005 (Solicitud duplicada): an identical request is already active, so SAT made no "
    "new one ({}); looking for it in the history"
)
NOT_FOUND_HINT = (
    "find the active " + KIND + " in `gigstack-async downloads history` or gigstack's "
    "dashboard (Descarga Masiva), by its dates and type, and `gigstack-async journal adopt "
    "2024-01 <request id>` (add --ids-restarted if another month had that id): the month "
    "follows it, checked against the history or by its CFDIs before anything is extracted. If "
    "gigstack does not list it (made outside gigstack with the same FIEL), it stays active "
    "until SAT has finished it (usually within hours): run the same command again later, each "
    "run looks for it in the history again and sends nothing; `gigstack-async downloads "
    "history` shows whether an identical request is still pending, and `gigstack-async "
    "downloads status <request id>` the state of one whose id you know. Once none is active, "
    "`gigstack-async journal resend 2024-01` (a new request, may be billed)"
)  # newcomer 9d, item 9: it named no way to see when "finished" is


def not_found_reason(found: str) -> str:
    return (
        "SAT 5005 (Solicitud duplicada): an identical " + KIND + " is already active, and the "
        f"history does not show which one it is ({found}); nothing was sent again"
    )


def duplicate(**changes: object) -> m.MonthState:
    """January after SAT 5005 refused its create (sent at history generation 1)."""
    state = month(
        stage=Stage.DUPLICATE,
        sat_code=5005,
        creates=1,
        resend_allowed=False,
        need_generation=1,
        reason=DUPLICATE_REASON.format("SAT 5005"),
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


MESSAGE = "HTTP 400: SAT 5005: Solicitud duplicada"


@pytest.mark.parametrize(
    ("state", "obs", "generation"),
    [
        # gigstack refuses the create with SAT's code (nothing was created): the history to
        # look in must start after that create was sent.
        (
            month(stage=Stage.SUBMITTING, creates=1, resend_allowed=False, need_generation=4),
            m.CreateRefused(MESSAGE, 5005),
            4,
        ),
        # ... or gigstack creates the request and it ends failed with 5005 (history or status):
        # how gigstack reports it is a GUESS, so both count.
        (
            waiting(stage=Stage.PROCESSING, need_generation=4),
            m.HistorySeen((ours("r1", status="failed", message=MESSAGE),), 5),
            0,
        ),
        (
            waiting(stage=Stage.PROCESSING, need_generation=4),
            m.StatusSeen(ours("r1", status="failed", message=MESSAGE)),
            0,
        ),
    ],
)
def test_sat_5005_looks_for_the_active_request_instead_of_resending(
    state: m.MonthState, obs: m.Observation, generation: int
) -> None:
    state = attrs.evolve(state, poll_failures=2, unknown=state.stage is Stage.SUBMITTING)
    new, commands = m.transition(state, obs)
    assert commands == ()
    assert (new.stage, new.sat_code, new.reason, new.hint) == (
        Stage.DUPLICATE,
        5005,
        DUPLICATE_REASON.format(MESSAGE),
        None,
    )
    assert (new.resend_allowed, new.unknown, new.poll_failures) == (False, False, 0)
    assert new.need_generation == generation
    assert not new.settled  # the run waits for a history to find it in
    assert new.creates == state.creates  # nothing new was sent


def test_a_refused_create_without_sat_5005_is_still_sent_again() -> None:
    state = month(stage=Stage.SUBMITTING)
    refused, _ = m.transition(state, m.CreateRefused("Descarga Masiva is not active", None))
    assert refused.stage is Stage.REFUSED
    assert m.transition(refused, m.Start())[0].stage is Stage.PLANNED


@pytest.mark.parametrize(
    "state",
    [
        duplicate(),
        attrs.evolve(duplicate(), stage=Stage.NEEDS_ATTENTION, resume_to=Stage.DUPLICATE),
    ],
)
def test_a_duplicate_month_is_never_sent_again_by_itself(state: m.MonthState) -> None:
    # The newcomer's finding: 5005 was a plain refusal, so every run sent the month again.
    started, commands = m.transition(state, m.Start())
    assert (started.stage, commands) == (Stage.DUPLICATE, ())
    assert started.need_generation == 0  # generations restart with each run: any history
    assert started.reason == (
        "SAT 5005 (Solicitud duplicada): an identical request is already active; looking for "
        "it in the history again"
    )
    assert m.transition(started, m.Send(("h1",), generation=1)) == (started, ())


def test_a_history_older_than_the_refused_create_is_waited_out() -> None:
    state = duplicate(need_generation=3)
    assert m.transition(state, m.HistorySeen((ours("d1"),), 3)) == (state, ())
    assert m.transition(state, m.HistorySeen((ours("d1"),), 4))[0].stage is Stage.SUBMITTED


def test_the_active_identical_request_is_followed() -> None:
    new, commands = m.transition(duplicate(), m.HistorySeen((other("f1"), ours("d1")), 2))
    assert commands == ()
    assert (new.stage, new.request_id, new.duplicate, new.known_ids) == (
        Stage.SUBMITTED,
        "d1",
        True,
        ("d1",),
    )
    assert (new.checked, new.typed, new.sat_code, new.hint) == (True, True, None, None)
    assert new.reason == "SAT 5005: following d1, the active identical request the history lists"
    assert new.creates == 1
    assert [r.id for r in new.records] == ["d1"]


def test_a_completed_duplicate_is_downloaded_without_a_new_request() -> None:
    done = ours("d1", status="completed", invoice_count=3, package_ids=("d1_01",))
    new, commands = m.transition(duplicate(), m.HistorySeen((done,), 2))
    assert (new.stage, new.request_id, new.invoice_count) == (Stage.COMPLETED, "d1", 3)
    # Made outside the journal (no month knows d1): one of SAT's 2 assumed spent where it was
    # made, so this GET may be SAT's 2nd, and the only one sent by itself (review 9u #3).
    assert new.foreign == ("d1",)
    assert commands == (m.FetchPackage("d1_01", 2),)


def test_a_failed_requests_counts_are_not_the_duplicates() -> None:
    # The month's own request failed with 5005 and reported 0 CFDIs: the request it follows
    # then says nothing of its count, which stays unknown (never zero: never "empty").
    failed = waiting(stage=Stage.PROCESSING, invoice_count=0, package_ids=())
    looking, _ = m.transition(
        failed, m.HistorySeen((ours("r1", status="failed", message=MESSAGE),), 1)
    )
    new, commands = m.transition(looking, m.HistorySeen((ours("d1", status="completed"),), 2))
    assert (new.stage, new.request_id, new.invoice_count, new.package_ids) == (
        Stage.COMPLETED,
        "d1",
        None,
        None,
    )
    assert commands == (m.FetchStatus("d1"),)
    assert new.known_ids == ("r1", "d1")


@pytest.mark.parametrize(
    ("entries", "changes", "found"),
    [
        ((), {}, "none of its 0 entries matches it"),
        ((other("f1"),), {}, "none of its 1 entries matches it"),
        # Missing fields never count as a match (a documented history has no requestType).
        (
            (ours("d1", request_type=None),),
            {},
            "d1 may (listed without its dates, rfcType or requestType, which never counts as "
            "a match)",
        ),
        (
            (ours("d1", start=None), ours("d2", rfc_type=None)),
            {},
            "d1, d2 may (listed without its dates, rfcType or requestType, which never counts "
            "as a match)",
        ),
        ((ours("d1", request_type="metadata"),), {}, "none of its 1 entries matches it"),
        ((ours("d1", rfc_type="issued"),), {}, "none of its 1 entries matches it"),
        ((ours("d1", end=date(2024, 1, 30)),), {}, "none of its 1 entries matches it"),
        # A failed or expired request is not SAT's active one.
        ((ours("d1", status="failed"),), {}, "none of its 1 entries matches it"),
        ((ours("d1", status="expired"),), {}, "none of its 1 entries matches it"),
        # Ids the journal knows are never taken by themselves.
        (
            (ours("d1"),),
            {"known_ids": ("d1",)},
            "d1 matches it, but this month had it before and left it",
        ),
        (
            (ours("d1"),),
            {"journal_ids": (("2024-02", "d1"),)},
            "d1 matches it, but it is 2024-02's in this journal",
        ),
        (
            (ours("d1"),),
            {"expected": ("d1",)},
            "d1 matches it, but it is another month's in this journal",
        ),
        # Several findings: each is named.
        (
            (ours("d1"), ours("d2", start=None)),
            {"known_ids": ("d1",)},
            "d1 matches it, but this month had it before and left it; d2 may (listed without "
            "its dates, rfcType or requestType, which never counts as a match)",
        ),
        # Several live ones: SAT has one active duplicate, the history cannot say which.
        ((ours("d1"), ours("d2", status="processing")), {}, "d1, d2 all match it"),
        (
            (ours("d1", status="completed"), ours("d2", status=None)),
            {},
            "d1, d2 all match it",
        ),
    ],
)
def test_the_user_is_needed_when_the_history_does_not_show_it(
    entries: tuple[m.Seen, ...], changes: dict[str, object], found: str
) -> None:
    changes = dict(changes)  # the parameter is shared by every run in this process (mutmut)
    known = changes.pop("known_ids", ())
    state = duplicate(known_ids=known)
    history = attrs.evolve(m.HistorySeen(entries, 2), **changes)  # type: ignore[arg-type]
    new, commands = m.transition(state, history)
    assert (new.stage, new.resume_to, new.request_id) == (
        Stage.NEEDS_ATTENTION,
        Stage.DUPLICATE,
        None,
    )
    assert (new.reason, new.hint) == (not_found_reason(found), NOT_FOUND_HINT)
    assert commands == ()  # the reason says it all (no warning repeating it)
    assert new.need_generation == 0
    assert new.creates == 1
    assert new.settled


@pytest.mark.parametrize(
    ("entries", "others", "adopted", "stage"),
    [
        # The one still pending or processing among several exact matches is SAT's active one.
        (
            (ours("d1", status="completed"), ours("d2", status="processing")),
            (),
            "d2",
            Stage.PROCESSING,
        ),
        ((ours("d1", status="failed"), ours("d2", status="accepted")), (), "d2", Stage.SUBMITTED),
        # An entry missing a field is no match, and no rival of an exact one either.
        ((ours("d1", request_type=None), ours("d2")), (), "d2", Stage.SUBMITTED),
        # Another month's id and an exact free one: the free one.
        ((ours("d1"), ours("d2")), (("2024-02", "d1"),), "d2", Stage.SUBMITTED),
    ],
)
def test_the_one_exact_live_match_is_followed(
    entries: tuple[m.Seen, ...], others: tuple[tuple[str, str], ...], adopted: str, stage: Stage
) -> None:
    new, _ = m.transition(duplicate(), m.HistorySeen(entries, 2, journal_ids=others))
    assert (new.stage, new.request_id, new.known_ids) == (stage, adopted, (adopted,))


def test_a_history_that_cannot_be_read_warns_then_needs_the_user() -> None:
    state = duplicate()
    for _ in range(m.POLL_WARN_AFTER - 1):
        state, commands = m.transition(state, m.PollFailed("HTTP 503"))
        assert commands == ()
    state, commands = m.transition(state, m.PollFailed("HTTP 503"))
    assert commands == (
        m.Warn(
            "2024-01: reading the history to find SAT's active duplicate failed 3 times in a "
            "row (HTTP 503); the other months go on"
        ),
    )
    assert state.stage is Stage.DUPLICATE
    for _ in range(m.POLL_GIVE_UP - m.POLL_WARN_AFTER - 1):
        state, commands = m.transition(state, m.PollFailed("HTTP 503"))
        assert (state.stage, commands) == (Stage.DUPLICATE, ())
    state, commands = m.transition(state, m.PollFailed("HTTP 503"))
    assert (state.stage, state.resume_to, state.need_generation, commands) == (
        Stage.NEEDS_ATTENTION,
        Stage.DUPLICATE,
        0,
        (),
    )
    assert state.reason == (
        "SAT 5005 (Solicitud duplicada): an identical request is already active, but the "
        "history could not be read to find it (5 times: HTTP 503)"
    )
    assert state.hint == (
        "run the same command again later: it looks for the request again (nothing is sent), "
        "or `gigstack-async journal adopt 2024-01 <request id>` if you know it"
    )
    assert m.transition(state, m.Start())[0].stage is Stage.DUPLICATE


@pytest.mark.parametrize(
    "state",
    [
        duplicate(),
        attrs.evolve(duplicate(), stage=Stage.NEEDS_ATTENTION, resume_to=Stage.DUPLICATE),
    ],
)
def test_the_user_adopts_the_duplicate_or_confirms_a_resend(state: m.MonthState) -> None:
    adopted, commands = m.transition(state, m.Adopt("d9"))
    assert (adopted.stage, adopted.request_id, adopted.checked, commands) == (
        Stage.SUBMITTED,
        "d9",
        True,
        (),
    )
    resent, commands = m.transition(state, m.AllowResend())
    assert (resent.stage, resent.resend_allowed, resent.sat_code, commands) == (
        Stage.PLANNED,
        True,
        None,
        (),
    )
    assert m.transition(resent, m.Send(("h1",), generation=1))[1] == (m.SendCreate(KEY),)


def test_a_duplicate_month_survives_the_journal() -> None:
    state = duplicate(known_ids=("r1",))
    assert decode_state(encode_state(state)) == state


@pytest.mark.parametrize(
    ("code", "message", "duplicate"),
    [
        (5005, "anything", True),
        (5005, None, True),
        (5002, "SAT 5002 (solicitud duplicada de más)", False),  # the code decides
        (None, "Solicitud duplicada", True),
        (None, "SAT: SOLICITUDES\tDUPLICADAS", True),
        (None, "Duplicate download request for these dates", True),
        (None, "duplicate request", True),
        (None, "Descarga Masiva is not active", False),
        (None, "duplicate idempotency key", False),
        (None, None, False),
    ],
)
def test_says_duplicate(code: int | None, message: str | None, duplicate: bool) -> None:
    assert m.says_duplicate(code, message) is duplicate


def test_sat_5005_in_words_only_is_still_a_duplicate() -> None:
    # gigstack may pass SAT's words on without the number (NOT FOUND how it words them).
    state = month(stage=Stage.SUBMITTING, need_generation=2)
    refused, _ = m.transition(state, m.CreateRefused("HTTP 409: Solicitud duplicada", None))
    assert (refused.stage, refused.sat_code) == (Stage.DUPLICATE, 5005)
    failed, _ = m.transition(
        waiting(), m.HistorySeen((ours("r1", status="failed", message="Solicitud duplicada"),))
    )
    assert (failed.stage, failed.sat_code) == (Stage.DUPLICATE, 5005)


def test_following_the_duplicate_starts_afresh() -> None:
    # What the month counted for its failed request is not the followed request's.
    state = duplicate(
        request_id="r1",
        known_ids=("r1",),
        misses=2,
        poll_failures=2,
        status_asked=True,
        sat_state="failed",
        resume_to=Stage.COMPLETED,
        hint="old hint",
    )
    new, _ = m.transition(state, m.HistorySeen((ours("d1", status=None),), 2))
    assert (new.stage, new.request_id, new.known_ids) == (Stage.SUBMITTED, "d1", ("r1", "d1"))
    assert (new.misses, new.poll_failures, new.status_asked, new.sat_state) == (0, 0, False, None)
    assert (new.resume_to, new.hint) == (None, None)


# ------------------------------------------------------------------ who vouched for the request
# Only a request the server vouched for teaches the journal its taxpayer's RFC (review 9e #1:
# an issued request the user adopted for a received month set the receiver's RFC, and every
# later month was refused as another taxpayer's).

_ADOPTED = waiting(confirmed_id="r1", vouched=True, typed=True)  # `journal adopt r1`, unlisted


@pytest.mark.parametrize(
    ("state", "obs", "vouched"),
    [
        # Our own create's answer: the server made (or matched) the month's request.
        (month(stage=Stage.SUBMITTING), m.Created("r1"), "r1"),
        (month(stage=Stage.SUBMITTING), m.Created("r1", duplicate=True), "r1"),
        (unknown(), m.Created("r1"), "r1"),  # an unknown outcome answered after all
        # ... not one the month already left (it needs the user), nor an answer out of turn.
        (month(stage=Stage.SUBMITTING, known_ids=("r0",)), m.Created("r0"), None),
        (waiting(request_id="r0", known_ids=("r0",)), m.Created("r1"), None),
        # The history lists the month's request with its dates and rfcType.
        (waiting(), m.HistorySeen((ours("r1"),)), "r1"),
        (waiting(), m.HistorySeen((ours("r1", request_type=None),)), "r1"),  # documented fields
        (waiting(checked=False), m.HistorySeen((ours("r1"),)), "r1"),  # checked by that entry
        (_ADOPTED, m.HistorySeen((ours("r1", status="processing"),)), "r1"),  # adopted, listed
        (unknown(), m.HistorySeen((m.Seen("h1"), ours("r5")), generation=2), "r5"),  # reconciled
        # Not vouched: the user's word alone, an entry without dates or with other ones, an
        # entry that contradicts what was seen of the id, a month not waiting for it.
        (_ADOPTED, m.HistorySeen((other("r9"),)), None),
        (waiting(checked=False), m.HistorySeen((m.Seen("r1", status="pending"),)), None),
        (waiting(), m.HistorySeen((ours("r1", start=date(2024, 1, 2)),)), None),
        (waiting(), m.HistorySeen((ours("r1", rfc_type="issued"),)), None),
        (waiting(), m.HistorySeen((ours("r1", rfc_type=None),)), None),
        (waiting(), m.HistorySeen((ours("r1", request_type="metadata"),)), None),
        (
            waiting(records=(m.KnownRequest("r1", created_at="1"),)),
            m.HistorySeen((ours("r1", created_at="2"),)),
            None,
        ),
        # The id listed twice (the server's ids restarted): once without dates, once with the
        # month's dates but another createdAt than recorded. Neither vouches for it.
        (
            waiting(records=(m.KnownRequest("r1", JAN[0], JAN[1], "received", created_at="1"),)),
            m.HistorySeen((m.Seen("r1", "pending", created_at="1"), ours("r1", created_at="2"))),
            None,
        ),
        (
            month(stage=Stage.DONE, request_id="r1", checked=True),
            m.HistorySeen((ours("r1"),)),
            None,
        ),
        (
            month(stage=Stage.PLANNED, request_id="r1", checked=True),
            m.HistorySeen((ours("r1"),)),
            None,
        ),
    ],
)
def test_the_server_vouches_for_a_request_only_by_its_create_answer_or_history(
    state: m.MonthState, obs: m.Observation, vouched: str | None
) -> None:
    new, _ = m.transition(state, obs)
    assert new.server_vouched == vouched
    assert m.teaches_rfc(new) is (vouched is not None)


@pytest.mark.parametrize(
    ("state", "teaches"),
    [
        (waiting(server_vouched="r1"), True),
        (waiting(server_vouched="r0"), False),  # another request of the month's
        (waiting(), False),
        (month(server_vouched="r1"), False),  # no request now
    ],
)
def test_teaches_rfc_only_for_the_request_the_server_vouched_for(
    state: m.MonthState, teaches: bool
) -> None:
    assert m.teaches_rfc(state) is teaches


def test_what_the_server_vouched_for_survives_a_new_run_and_the_journal() -> None:
    state = waiting(stage=Stage.STAGED, server_vouched="r1")
    new, _ = m.transition(state, m.Start())
    assert new.server_vouched == "r1"  # its packages were fetched while it was checked
    assert decode_state(encode_state(new)) == new
    old = encode_state(waiting()).replace(', "server_vouched": null', "")
    assert "server_vouched" not in old  # a journal written before the field existed
    assert decode_state(old).server_vouched is None


# ------------------------------------------------------------------ the FIEL, refusals, SAT 5005


@pytest.mark.parametrize(
    "message", ["SAT 305: certificado revocado", "la empresa no registrada ante el SAT"]
)
def test_a_sat_failure_for_the_fiel_sends_the_user_to_fix_it_at_gigstack(message: str) -> None:
    state = waiting(stage=Stage.PROCESSING)
    new, commands = m.transition(state, m.StatusSeen(ours("r1", status="failed", message=message)))
    assert commands == ()
    assert (new.stage, new.sat_code, new.reason) == (
        Stage.SAT_FAILED,
        None,
        f"SAT request failed: {message}",
    )
    # Only the user can fix it (upload a FIEL, register the business), not a plain resend.
    assert new.hint == FAILED_FIEL_HINT
    assert new.hint != SAT_RESEND_HINT


FAILED_FIEL_HINT = (
    "SAT refused the taxpayer's FIEL (e.firma) or its registration with SAT: upload a "
    "valid FIEL and register the business in gigstack (its dashboard, or the SDK's "
    "`client.downloads.upload_fiel()` / `register()`); then `gigstack-async journal "
    "resend` and run the same command again (a new request, which may be billed)"
)


REFUSED_FIEL_HINT = (
    "gigstack needs the taxpayer's FIEL (e.firma) and its registration with SAT: upload a valid "
    "FIEL and register the business in gigstack (its dashboard, or the SDK's "
    "`client.downloads.upload_fiel()` / `register()`), then run the same command again: "
    "refused months are sent again"
)


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        ("HTTP 400: the FIEL is missing", REFUSED_FIEL_HINT),
        ("HTTP 400: el contribuyente no registrado", REFUSED_FIEL_HINT),
        ("HTTP 400: Descarga Masiva is not active", REFUSED_HINT),
    ],
)
def test_a_create_refused_for_the_fiel_says_how_to_give_it_one(message: str, hint: str) -> None:
    new, commands = m.transition(month(stage=Stage.SUBMITTING), m.CreateRefused(message, 400))
    assert (new.stage, new.hint, commands) == (Stage.REFUSED, hint, ())
    assert new.reason == f"the server refused the create, nothing was billed: {message}"


@pytest.mark.parametrize(
    ("code", "message", "stage"),
    [
        (5005, "HTTP 400", Stage.DUPLICATE),  # SAT's code without its words
        (5005, MESSAGE, Stage.DUPLICATE),
        (None, MESSAGE, Stage.DUPLICATE),  # its words without the code
        (400, MESSAGE, Stage.REFUSED),  # another code: its words are only quoted
    ],
)
def test_a_refused_create_is_sat_5005_by_its_code_or_else_by_its_words(
    code: int | None, message: str, stage: Stage
) -> None:
    state = month(stage=Stage.SUBMITTING, creates=1, resend_allowed=False)
    new, commands = m.transition(state, m.CreateRefused(message, code))
    assert (new.stage, commands) == (stage, ())
    # Only a plain refusal is sent again by the next run; a duplicate waits for the history.
    assert m.transition(new, m.Start())[0].stage is (
        Stage.PLANNED if stage is Stage.REFUSED else Stage.DUPLICATE
    )


# ------------------------------------------------------------------ the month's own requests
# `own_request` decides which identical requests count against SAT's two per criteria (a month
# is held rather than sent when the account already has them: bulk.duplicates): the month's own
# request never counts, any other request does.

_JAN_RECORD = m.KnownRequest("r1", JAN[0], JAN[1], "received", "cfdi", created_at="1")


@pytest.mark.parametrize(
    ("state", "seen", "own"),
    [
        # an id the month had, nothing recorded of it: its own
        (month(known_ids=("r1",)), ours("r1"), True),
        # ... a record of another id says nothing of it
        (
            month(known_ids=("r1",), records=(m.KnownRequest("r2", FEB[0], FEB[1]),)),
            ours("r1"),
            True,
        ),
        # listed as recorded: its own (a known id, or a candidate it showed the user)
        (month(known_ids=("r1",), records=(_JAN_RECORD,)), ours("r1", created_at="1"), True),
        (month(records=(_JAN_RECORD,)), ours("r1", created_at="1"), True),
        # listed with other attributes: another request under a reused id
        (month(known_ids=("r1",), records=(_JAN_RECORD,)), ours("r1", created_at="2"), False),
        (
            month(known_ids=("r1",), records=(_JAN_RECORD,)),
            ours("r1", start=date(2024, 1, 2)),
            False,
        ),
        # an id it never had, or one it released (its package held other CFDIs)
        (month(known_ids=("r1",)), ours("r2"), False),
        (
            month(known_ids=("r1",), records=(_JAN_RECORD,), released=(m.ReleasedRequest("r1"),)),
            ours("r1", created_at="1"),
            False,
        ),
    ],
)
def test_only_the_months_own_request_listed_as_recorded_is_its_own(
    state: m.MonthState, seen: m.Seen, own: bool
) -> None:
    assert m.own_request(state, seen) is own


# ------------------------------------------------------------------ an issued metadata month


def test_an_unsettled_create_of_an_issued_metadata_month_names_its_kind() -> None:
    """The dashboard search is for "an issued metadata request", checked by its metadata."""
    state = unknown(rfc_type="issued", request_type="metadata")
    new, commands = m.transition(state, m.HistorySeen((), generation=2))
    kind = "issued metadata request for 2024-01-01..2024-01-31"
    assert commands == ()
    assert (new.stage, new.unknown) == (Stage.NEEDS_ATTENTION, True)
    assert new.reason == unproven_reason(NOT_LISTED.format(n=0))
    assert new.hint == (
        LATE
        + "open gigstack's dashboard (Descarga Masiva) and look for an "
        + kind
        + ". If there is "
        "one, `gigstack-async journal adopt 2024-01 <request id> " + CREATED_AT + "` (it is "
        "checked against the history, or by its metadata before anything is extracted"
        + OPTIONAL
        + RESEND_TAIL
    )


# ------------------------------------------------------------------ newcomer 9c: rebind, swaps

UNCHECKED_REASON = (
    "request r1 is not in the server's history (it lists only the newest requests: an older "
    "one has left it, or the server's ids restarted), so its dates and type cannot be checked "
    "against this month, as every new run does before downloading"
)
ANOTHER_ACCOUNT = (
    "the server's history lists none of this journal's requests: if the API key, team or base "
    "URL changed since they were made (a new key, a `gigstack-async journal rebind`), this may "
    "be another account, and a resend would bill it and download its CFDIs here. Run with the "
    "ones that made them (`gigstack-async journal show` names the journal's team and server) "
    "and resend nothing until then. If they are the same, "
)


@pytest.mark.parametrize(
    ("lists_journal", "prefix"),
    [
        (True, ""),  # the history lists another request of the journal: the window moved on
        (False, ANOTHER_ACCOUNT),  # none of them: maybe another account (a wrong rebind)
    ],
)
def test_an_unlisted_request_warns_of_another_account_before_any_resend(
    lists_journal: bool, prefix: str
) -> None:
    state = waiting(checked=False, misses=m.CHECK_MISSES - 1)
    history = m.HistorySeen((other("r9"),), lists_journal=lists_journal)
    new, commands = m.transition(state, history)
    assert (new.stage, new.resume_to) == (Stage.NEEDS_ATTENTION, Stage.SUBMITTED)
    assert new.reason == f"{UNCHECKED_REASON}; nothing was downloaded"
    assert new.hint == prefix + unchecked_hint()
    assert commands == (m.Warn(f"2024-01: {UNCHECKED_REASON}"),)


def test_a_history_lists_the_journal_unless_told_otherwise() -> None:
    assert m.HistorySeen(()).lists_journal is True


R1_GONE = m.ReleasedRequest("r1", (("p1", 1), ("p2", 2)))


@pytest.mark.parametrize(
    ("state", "obs", "released", "downloads"),
    [
        # the month leaves r1 for r2: r1 is released with what its packages cost
        (
            waiting(package_ids=("p1", "p2"), downloads=(("p0", 1), ("p1", 1), ("p2", 2))),
            m.Adopt("r2"),
            (R1_GONE,),
            (("p0", 1), ("p1", 1), ("p2", 2)),
        ),
        # a package of the request never downloaded (0) is not carried
        (
            waiting(package_ids=("p1",), downloads=(("p1", 0),)),
            m.Adopt("r2"),
            (m.ReleasedRequest("r1"),),
            (("p1", 0),),
        ),
        # no request followed (an unknown outcome): nothing to release
        (
            month(stage=Stage.NEEDS_ATTENTION, unknown=True, known_ids=("r0",)),
            m.Adopt("r5"),
            (),
            (),
        ),
        # the user takes back the id the month released: no longer released
        (
            waiting(stage=Stage.NEEDS_ATTENTION, released=(R1_GONE,)),
            m.Adopt("r1"),
            (),
            (),
        ),
        # one released id adopted back, the followed one released in its place
        (
            waiting(known_ids=("r0", "r1"), released=(m.ReleasedRequest("r0"),)),
            m.Adopt("r0"),
            (m.ReleasedRequest("r1"),),
            (),
        ),
        # confirming the month's own request keeps what it released
        (
            waiting(released=(m.ReleasedRequest("r0"),)),
            m.Adopt("r1"),
            (m.ReleasedRequest("r0"),),
            (),
        ),
        # downloads another month spent on the adopted request's packages are counted here
        (
            month(stage=Stage.EXPIRED, downloads=(("p1", 1),)),
            m.Adopt("r2", (("q1", 1), ("q2", 2))),
            (),
            (("p1", 1), ("q1", 1), ("q2", 2)),
        ),
        # the larger count holds, never a smaller one; a 0 adds nothing
        (
            month(stage=Stage.EXPIRED, downloads=(("q1", 2), ("q2", 1))),
            m.Adopt("r2", (("q1", 1), ("q2", 2), ("q3", 0))),
            (),
            (("q1", 2), ("q2", 2)),
        ),
    ],
)
def test_adopt_releases_the_id_it_leaves_and_counts_carried_downloads(
    state: m.MonthState,
    obs: m.Adopt,
    released: tuple[m.ReleasedRequest, ...],
    downloads: tuple[tuple[str, int], ...],
) -> None:
    new, _ = m.transition(state, obs)
    assert new.request_id == obs.request_id
    assert (new.released, new.downloads) == (released, downloads)
    assert new.released_ids() == tuple(r.id for r in released)
    assert obs.request_id in new.known_ids  # never adopted again automatically


def test_a_rejected_package_releases_its_request_once() -> None:
    staged = m.StagedFile("p1", "/s/p1.zip", "a" * 64, 10)
    state = waiting(
        stage=Stage.STAGED,
        package_ids=("p1", "p2"),
        downloads=(("p0", 3), ("p1", 1), ("p2", 2)),
        staged=(staged,),
        released=(m.ReleasedRequest("r1"), m.ReleasedRequest("r0")),
    )
    new, _ = m.transition(state, m.ContentRejected("p1", "CFDIs of March"))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.request_id == "r1"  # what `journal show` names; released, not followed
    assert new.released == (m.ReleasedRequest("r0"), R1_GONE)


# ------------------------------------------------------------------ SAT 5003, split elsewhere

SPLIT_5003 = month(stage=Stage.SAT_FAILED, sat_code=5003, request_id="r1", known_ids=("r1",))
WHERE = "/a/2024-01 (2024-01-01..2024-01-15, 3 file(s)), /b/2024-01 (2024-01-16..2024-01-31, 2)"
SPLIT_REASON = (
    "SAT 5003 (too many CFDIs for one request) for 2024-01-01..2024-01-31: downloaded in parts "
    f"elsewhere; its CFDIs are in {WHERE}"
)


@pytest.mark.parametrize(
    ("before", "refused"),
    [
        (SPLIT_5003, None),
        (attrs.evolve(SPLIT_5003, stage=Stage.SPLIT, reason="old parts"), None),
        (attrs.evolve(SPLIT_5003, sat_code=5011), "is sat-failed (SAT 5011): only a month SAT"),
        (attrs.evolve(SPLIT_5003, sat_code=None), "is sat-failed: only a month SAT refused"),
        (attrs.evolve(SPLIT_5003, stage=Stage.DONE), "is done (SAT 5003): only a month"),
        (month(), "is planned: only a month SAT refused with 5003 (too many CFDIs for one "),
        (attrs.evolve(SPLIT_5003, stage=Stage.NEEDS_ATTENTION), "is needs-attention (SAT 5003)"),
    ],
)
def test_only_a_5003_or_5002_month_is_split_elsewhere(
    before: m.MonthState, refused: str | None
) -> None:
    if refused is not None:
        with pytest.raises(m.TransitionError, match=re.escape(refused)):
            m.transition(before, m.SplitElsewhere(WHERE))
        return
    new, commands = m.transition(before, m.SplitElsewhere(WHERE))
    assert commands == ()
    assert (new.stage, new.reason, new.hint) == (Stage.SPLIT, SPLIT_REASON, None)
    assert (new.settled, new.ok) == (True, True)  # runs of the folder end ok for it
    assert (new.request_id, new.known_ids, new.sat_code) == ("r1", ("r1",), 5003)


@pytest.mark.parametrize(
    "obs",
    [
        m.Start(),
        m.Send(("h1",)),
        m.HistorySeen((ours("r1", status="failed"),), 3),
        m.StatusSeen(ours("r1", status="completed")),
        m.CreateRefused("no", 5003),
    ],
)
def test_a_split_month_stays_split_and_sends_nothing(obs: m.Observation) -> None:
    split, _ = m.transition(SPLIT_5003, m.SplitElsewhere(WHERE))
    assert m.transition(split, obs) == (split, ())


def test_a_split_month_is_never_resent() -> None:
    # Its dates were refused with 5003 (a resend is billed and refused again): no way back
    # by `journal resend`, even --force (it asks the machine).
    split, _ = m.transition(SPLIT_5003, m.SplitElsewhere(WHERE))
    with pytest.raises(m.TransitionError, match="only expired, failed, refused"):
        m.transition(split, m.AllowResend())


def test_a_5002_month_is_split_elsewhere_and_says_why() -> None:
    # Newcomer 9d, item 2: after SAT 5002 the month is downloaded in parts (other dates) and
    # `journal split` finishes it, like a 5003 month.
    before = attrs.evolve(SPLIT_5003, sat_code=5002, exhausted=(JAN,))
    new, commands = m.transition(before, m.SplitElsewhere(WHERE))
    assert commands == ()
    assert (new.stage, new.hint, new.ok) == (Stage.SPLIT, None, True)
    assert new.reason == (
        "SAT 5002 (its limit of requests for these dates) for 2024-01-01..2024-01-31: "
        f"downloaded in parts elsewhere; its CFDIs are in {WHERE}"
    )
    assert new.exhausted == (JAN,)  # still never sent again


# ------------------------------------------------------------------ resend: the free way first

ATTENTION = month(
    stage=Stage.NEEDS_ATTENTION,
    request_id="r1",
    known_ids=("r1",),
    package_ids=("p1",),
    reason="downloading package p1 failed: HTTP 503",
)
AGAIN = "run the same command again"
RESEND_REFUSED = (
    "2024-01 can still finish without a new request: {way}. A resend sends a new create "
    "request (it may be billed) and gives up the one the month has; pass --force only if that "
    "request is wrong"
)


@pytest.mark.parametrize(
    ("state", "way"),
    [
        (  # newcomer 9d, item 3: a failed package download with SAT downloads left
            attrs.evolve(ATTENTION, resume_to=Stage.COMPLETED, downloads=(("p1", 1),)),
            f"{AGAIN}: it downloads the request's package again (1 of 2 SAT downloads left)",
        ),
        (
            attrs.evolve(ATTENTION, resume_to=Stage.COMPLETED),
            f"{AGAIN}: it downloads the request's package again (2 of 2 SAT downloads left)",
        ),
        (  # a user's extra GET counts as one left
            attrs.evolve(
                ATTENTION, resume_to=Stage.COMPLETED, downloads=(("p1", 2),), granted=(("p1", 1),)
            ),
            f"{AGAIN}: it downloads the request's package again (1 of 2 SAT downloads left)",
        ),
        (
            attrs.evolve(ATTENTION, resume_to=Stage.COMPLETED, package_ids=None),
            f"{AGAIN}: the request's status is asked again for its packages",
        ),
        (
            attrs.evolve(ATTENTION, resume_to=Stage.STAGED),
            f"{AGAIN}: its package is staged on disk and is extracted without downloading it",
        ),
        (  # both downloads counted, one unsure: `journal retry-download` is free
            attrs.evolve(
                ATTENTION, blocked_package="p1", downloads=(("p1", 2),), unsure=(("p1", 1),)
            ),
            "`gigstack-async journal retry-download 2024-01` allows one more download of "
            f"package p1 (free: SAT answers 5008 if it served it twice), then {AGAIN}",
        ),
        # no free way: spent, surely spent, in doubt, or not needing attention
        (attrs.evolve(ATTENTION, resume_to=Stage.COMPLETED, downloads=(("p1", 2),)), None),
        (attrs.evolve(ATTENTION, blocked_package="p1", downloads=(("p1", 2),)), None),
        (attrs.evolve(ATTENTION, resume_to=Stage.PROCESSING), None),
        (attrs.evolve(ATTENTION, resume_to=None), None),
        (attrs.evolve(ATTENTION, stage=Stage.EXPIRED, resume_to=Stage.COMPLETED), None),
        (month(stage=Stage.SAT_FAILED, sat_code=5011), None),
    ],
)
def test_resend_is_refused_without_force_while_a_rerun_finishes_the_month_for_free(
    state: m.MonthState, way: str | None
) -> None:
    assert m.free_way(state) == way
    forced, _ = m.transition(state, m.AllowResend(force=True))
    assert (forced.stage, forced.request_id) == (Stage.PLANNED, None)
    if way is None:
        assert m.transition(state, m.AllowResend()) == m.transition(
            state, m.AllowResend(force=True)
        )
        return
    with pytest.raises(m.TransitionError) as refused:
        m.transition(state, m.AllowResend())
    assert str(refused.value) == RESEND_REFUSED.format(way=way)


# ------------------------------------------------------------------ SAT 5002: the plan's dates

JAN_1_30 = (date(2024, 1, 1), date(2024, 1, 30))


@pytest.mark.parametrize("stage", [Stage.PLANNED, Stage.REFUSED])
def test_a_month_not_sent_whose_plan_dates_sat_refused_is_not_sent_with_other_dates(
    stage: Stage,
) -> None:
    # Newcomer 9d, item 2: a resent month recorded for 01..30 while the plan (01..31, refused
    # with 5002) was shown sent 01..30 again (billed) and said ok.
    state = month(stage=stage, start=JAN_1_30[0], end=JAN_1_30[1], exhausted=(JAN,))
    new = m.exhausted_again(state, *JAN)
    assert (new.start, new.end, new.stage, new.sat_code) == (*JAN, Stage.SAT_FAILED, 5002)
    assert new.reason == (
        "SAT 5002 refused 2024-01-01..2024-01-31 earlier (its limit of requests for these dates "
        "is exhausted): nothing was sent again"
    )
    assert new.hint == LIMIT_HINT
    assert m.transition(new, m.Send(history_ids=()))[1] == ()  # nothing is created
    with pytest.raises(m.TransitionError, match="is exhausted, so a resend with these dates"):
        m.transition(new, m.AllowResend(force=True))


@pytest.mark.parametrize(
    "state",
    [
        month(stage=Stage.DONE, exhausted=(JAN,)),  # sent: it keeps its request
        month(stage=Stage.PLANNED),  # the plan's dates were never refused
    ],
)
def test_only_a_month_not_sent_is_planned_again_for_refused_dates(state: m.MonthState) -> None:
    with pytest.raises(m.TransitionError, match="only a month not sent yet is planned again"):
        m.exhausted_again(state, *JAN)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2024, 1, 1), date(2024, 1, 30), "2024-01-31"),
        (date(2024, 1, 2), date(2024, 1, 31), "2024-01-01"),
        (date(2024, 1, 10), date(2024, 1, 20), "2024-01-01..2024-01-09 and 2024-01-21..2024-01-31"),
        (date(2024, 1, 1), date(2024, 1, 31), ""),
    ],
)
def test_missing_days_names_the_plans_days_the_request_misses(
    start: date, end: date, days: str
) -> None:
    state = month(stage=Stage.DONE, start=start, end=end)
    assert m.missing_days(state, *JAN) == days


def test_missing_days_way_names_each_range_and_the_split_that_completes_the_month() -> None:
    state = month(stage=Stage.DONE, start=date(2024, 1, 10), end=date(2024, 1, 20))
    assert m.missing_days_way(state, *JAN) == (
        "missing here: 2024-01-01..2024-01-09 and 2024-01-21..2024-01-31. Download each range into "
        "its own --out folder (`gigstack-async sat download --from 2024-01-01 --to 2024-01-09 "
        "--rfc-type received --out <out>-2024-01a` and `gigstack-async sat download --from "
        "2024-01-21 --to 2024-01-31 --rfc-type received --out <out>-2024-01b`, with the other "
        "options you ran with, e.g. --team; other dates for SAT: a new request, possibly billed); "
        "once done, `gigstack-async journal split 2024-01 <out>-2024-01a <out>-2024-01b` records "
        "the month as complete (runs of this folder then end ok)"
    )


DONE_1_30 = month(
    stage=Stage.DONE, start=JAN_1_30[0], end=JAN_1_30[1], exhausted=(JAN,), request_id="r1"
)


@pytest.mark.parametrize(
    ("before", "refused"),
    [
        (DONE_1_30, None),
        (attrs.evolve(DONE_1_30, stage=Stage.EMPTY), None),
        (attrs.evolve(DONE_1_30, exhausted=()), "is done for 2024-01-01..2024-01-30: only a"),
        (attrs.evolve(DONE_1_30, stage=Stage.NEEDS_ATTENTION), "is needs-attention for 2024"),
        (  # its own dates are not inside the month's
            attrs.evolve(DONE_1_30, start=date(2023, 12, 31)),
            "is done for 2023-12-31..2024-01-30: only a month done for fewer days",
        ),
    ],
)
def test_a_done_month_missing_days_sat_refused_is_completed_by_parts_elsewhere(
    before: m.MonthState, refused: str | None
) -> None:
    # Newcomer 9d, item 2: 01..30 done here, 01..31 refused with 5002; 01-31 downloaded elsewhere.
    obs = m.SplitElsewhere("/b/2024-01 (2024-01-31..2024-01-31, 1 file(s))", *JAN)
    if refused is not None:
        with pytest.raises(m.TransitionError, match=re.escape(refused)):
            m.transition(before, obs)
        return
    new, commands = m.transition(before, obs)
    assert commands == ()
    assert (new.stage, new.start, new.end, new.ok, new.hint) == (Stage.SPLIT, *JAN, True, None)
    assert new.reason == (
        "requested here for 2024-01-01..2024-01-30 (SAT 5002 refused 2024-01-01..2024-01-31); "
        "the other days downloaded in parts elsewhere: /b/2024-01 (2024-01-31..2024-01-31, 1 "
        "file(s))"
    )
    # Parts named again: the same split, its own request's days still named (split_own).
    again, _ = m.transition(new, m.SplitElsewhere("/c/2024-01", *JAN))
    assert (again.stage, again.start, again.end, again.split_own) == (
        Stage.SPLIT,
        *JAN,
        new.split_own,
    )
    assert again.reason == (
        "requested here for 2024-01-01..2024-01-30 (SAT 5002 refused 2024-01-01..2024-01-31); "
        "the other days downloaded in parts elsewhere: /c/2024-01"
    )


def test_dates_sat_refused_with_5002_are_never_sent_however_the_month_got_there() -> None:
    # A planned month whose own dates are exhausted (an edited journal, an older version):
    # Send creates nothing and says why.
    state = month(resend_allowed=True, exhausted=(JAN,))
    new, commands = m.transition(state, m.Send(history_ids=()))
    assert commands == ()
    assert (new.stage, new.sat_code, new.creates, new.hint) == (
        Stage.SAT_FAILED,
        5002,
        0,
        LIMIT_HINT,
    )


# ------------------------------------------------------------------ MISSING DAYS, resent, 5002
# Review 9g #4: a month done for 2024-01-16..31 only (MISSING DAYS) was resent for the whole
# month (`journal resend --force`, as its error says); SAT refused the whole month with 5002.
# The month forgot the days it had: the hint asked for 01..16 and 17..31 again (billed, the
# second an identical request), and `journal split` refused a part with 01..15 alone.

LATE_HALF = (date(2024, 1, 16), date(2024, 1, 31))
LATE_FILES = ("A.xml", "B.xml", "C.xml")
DONE_LATE = month(
    start=LATE_HALF[0],
    end=LATE_HALF[1],
    stage=Stage.DONE,
    request_id="r1",
    known_ids=("r1",),
    package_ids=("p1",),
    extracted=(m.ExtractedPackage("p1", LATE_FILES),),
    on_disk=3,
)
OWN = m.OwnPart(LATE_HALF[0], LATE_HALF[1], LATE_FILES)
HINT_MISSING_ONLY = (
    "SAT's limit of requests for 2024-01-01..2024-01-31 is exhausted: these dates are never sent "
    "again. The month's folder already holds 2024-01-16..2024-01-31 (3 file(s), from its earlier "
    "request), which counts as a part; missing here: 2024-01-01..2024-01-15. Download that range "
    "into its own --out folder (`gigstack-async sat download --from 2024-01-01 --to 2024-01-15 "
    "--rfc-type received --out <out>-2024-01a`, with the other options you ran with, e.g. --team; "
    "other dates for SAT: a new request, possibly billed); once done, `gigstack-async journal "
    "split 2024-01 <out>-2024-01a` records the month as complete (runs of this folder then end ok)"
)


def resent_whole_month(state: m.MonthState) -> m.MonthState:
    resent, _ = m.transition(state, m.AllowResend(start=JAN[0], end=JAN[1], force=True))
    return resent


@pytest.mark.parametrize(
    ("before", "own"),
    [
        (DONE_LATE, OWN),  # its days and files are kept as a part
        (attrs.evolve(DONE_LATE, stage=Stage.EMPTY, extracted=()), m.OwnPart(*LATE_HALF)),
        (  # a month that was never done keeps no part
            attrs.evolve(DONE_LATE, stage=Stage.EXPIRED, extracted=()),
            None,
        ),
        (  # resent again after the first resend failed: the part it had is carried
            attrs.evolve(DONE_LATE, stage=Stage.EXPIRED, start=JAN[0], own_part=OWN),
            OWN,
        ),
    ],
)
def test_a_resend_keeps_the_days_the_month_was_done_for_as_its_own_part(
    before: m.MonthState, own: m.OwnPart | None
) -> None:
    resent = resent_whole_month(before)
    assert (resent.stage, resent.start, resent.end) == (Stage.PLANNED, *JAN)
    assert resent.own_part == own
    assert decode_state(encode_state(resent)) == resent  # journaled as it is
    assert resent.files == ()  # the new request's files are its own
    # The kept part's files are not "extracted by an earlier run before the journal lost
    # the month's record" (that would steer to `journal keep`).
    assert m.earlier_files(attrs.evolve(resent, on_disk=len(own.files) if own else 0)) == 0


def sent(state: m.MonthState) -> m.MonthState:
    submitting, commands = m.transition(state, m.Send(("h1",)))
    assert commands == (m.SendCreate(KEY),)
    return submitting


@pytest.mark.parametrize(
    ("before", "hint"),
    [
        (DONE_LATE, HINT_MISSING_ONLY),
        (  # no part: the whole month in two halves, as before
            attrs.evolve(DONE_LATE, stage=Stage.EXPIRED, extracted=()),
            m.limit_5002_hint(month(), *JAN),
        ),
        (  # a part as wide as the refused dates leaves nothing to split: the plain hint
            attrs.evolve(DONE_LATE, own_part=m.OwnPart(*JAN), stage=Stage.EXPIRED, start=JAN[0]),
            m.limit_5002_hint(month(), *JAN),
        ),
    ],
)
def test_a_resend_refused_with_5002_names_only_the_missing_days(
    before: m.MonthState, hint: str
) -> None:
    refused, commands = m.transition(sent(resent_whole_month(before)), m.CreateRefused("x", 5002))
    assert commands == ()
    assert (refused.stage, refused.sat_code, refused.exhausted) == (Stage.SAT_FAILED, 5002, (JAN,))
    assert refused.hint == hint


def test_a_5002_status_after_the_resend_names_only_the_missing_days_too() -> None:
    submitted = attrs.evolve(
        resent_whole_month(DONE_LATE),
        stage=Stage.PROCESSING,
        request_id="r2",
        known_ids=("r2",),
        checked=True,
    )
    failed = run(
        submitted, m.HistorySeen((ours("r2", status="failed", message="5002: agotadas"),))
    )[0]
    assert (failed.stage, failed.sat_code) == (Stage.SAT_FAILED, 5002)
    assert failed.hint == HINT_MISSING_ONLY


def test_a_resend_refused_with_5002_is_split_with_its_own_days_as_a_part() -> None:
    refused = m.transition(sent(resent_whole_month(DONE_LATE)), m.CreateRefused("x", 5002))[0]
    where = "/b/2024-01 (2024-01-01..2024-01-15, 2 file(s))"
    split, commands = m.transition(refused, m.SplitElsewhere(where))
    assert commands == ()
    assert (split.stage, split.ok, split.hint, split.start, split.end) == (
        Stage.SPLIT,
        True,
        None,
        *JAN,
    )
    assert split.files == LATE_FILES  # the folder's own CFDIs are the month's again
    assert split.reason == (
        "SAT 5002 (its limit of requests for these dates) for 2024-01-01..2024-01-31: "
        "2024-01-16..2024-01-31 downloaded here by an earlier request (3 file(s)), the other "
        f"days in parts elsewhere: {where}"
    )
    assert split.exhausted == (JAN,)  # still never sent again
    # Named again: the same, never the own files twice.
    assert m.transition(split, m.SplitElsewhere(where))[0].files == LATE_FILES


def test_a_duplicate_is_looked_for_only_in_a_history_started_after_the_create() -> None:
    # A history of the create's own generation may have been read before SAT answered 5005: the
    # request it lists may predate the create, so the month keeps looking instead of adopting it.
    state, _ = m.transition(month(), m.Send(history_ids=(), generation=2))
    state, _ = m.transition(state, m.CreateRefused("Solicitud duplicada", code=5005))
    assert state.stage is Stage.DUPLICATE
    assert str(state.reason).endswith("looking for it in the history")
    assert m.transition(state, m.HistorySeen((ours("R-old"),), generation=2)) == (state, ())
    adopted, _ = m.transition(state, m.HistorySeen((ours("R-old"),), generation=3))
    assert (adopted.stage, adopted.request_id) == (Stage.SUBMITTED, "R-old")
