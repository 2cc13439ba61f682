"""A month whose record was lost, rebuilt or adopted: what the machine keeps, offers and sends.

Review 9i #2-#4 as pure decisions, one table each: whether a logged month left a package staged
and never extracted (so `journal keep` is not offered for its folder), whether a staged ZIP
under the month's name is kept or deleted as an orphan (deleting the only copy spends SAT's
second download), and whether an adopted month whose folder already holds SAT's count of CFDIs
stops with the checked `journal keep` instead of sending a package GET. Direct calls, no
engine or server: `make mutate` runs this file for every mutant of `bulk/machine.py`.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import FetchPackage, Stage, Start

S = Stage
JAN = m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")


def month(**changes: object) -> m.MonthState:
    return attrs.evolve(JAN, **changes)  # type: ignore[arg-type]


# ---------------------------------------------------------- a package staged, never extracted


@pytest.mark.parametrize(
    ("stages", "pending"),
    [
        ((), False),  # nothing logged
        ((S.SUBMITTED, S.COMPLETED), False),  # never staged
        ((S.STAGED,), True),
        ((S.SUBMITTED, S.COMPLETED, S.STAGED), True),  # killed while extracting
        ((S.COMPLETED, S.STAGED, S.NEEDS_ATTENTION), True),  # stopped before extracting
        ((S.COMPLETED, S.STAGED, S.COMPLETED), True),  # its other package was next
        ((S.STAGED, S.EXPIRED), True),  # the request expired: the copy is still the month's
        ((S.STAGED, S.DONE), False),  # extracted
        ((S.STAGED, S.EMPTY), False),
        ((S.STAGED, S.SPLIT), False),
        # a new request: the staged package was the request the month gave up
        ((S.STAGED, S.NEEDS_ATTENTION, S.PLANNED), False),
        ((S.STAGED, S.SUBMITTING), False),
        ((S.STAGED, S.SUBMITTED), False),
        ((S.STAGED, S.DONE, S.SUBMITTED, S.COMPLETED, S.STAGED), True),  # staged again since
    ],
)
def test_a_log_ending_with_a_package_staged_and_not_extracted_withholds_keep(
    stages: tuple[Stage, ...], pending: bool
) -> None:
    assert m.staged_not_extracted(list(stages)) is pending


# ------------------------------------------------------------------ a staged ZIP: kept or an orphan

F1 = m.StagedFile("P1", "/out/.gigstack-staging/2024-01-P1.zip", "a1" * 32, 100)
DONE_P1 = (m.ExtractedPackage("P1", ("a.xml",)),)
# A request's packages are unknown (`package_ids` None): rebuilt by `journal repair`, held
# without a record, or adopted and not asked yet. Kept unless finished or about to resend.
UNKNOWN_PACKAGES = [
    (S.PLANNED, False),
    (S.SUBMITTING, False),
    (S.REFUSED, False),
    (S.DONE, False),
    (S.EMPTY, False),
    (S.SPLIT, False),
    (S.SUBMITTED, True),
    (S.PROCESSING, True),
    (S.COMPLETED, True),
    (S.NEEDS_ATTENTION, True),
    (S.SAT_FAILED, True),
    (S.EXPIRED, True),
    (S.DUPLICATE, True),
]


@pytest.mark.parametrize(("stage", "kept"), UNKNOWN_PACKAGES)
def test_a_staged_copy_is_kept_while_the_months_packages_are_unknown_and_it_may_go_on(
    stage: Stage, kept: bool
) -> None:
    assert m.may_need_staged(month(stage=stage, downloads=(("P1", 1),)), "P1") is kept


@pytest.mark.parametrize(
    ("changes", "package_id", "kept"),
    [
        # a recorded staged file is the month's, whatever else the record says
        ({"stage": S.STAGED, "staged": (F1,), "package_ids": ("P1",)}, "P1", True),
        ({"stage": S.PLANNED, "staged": (F1,)}, "P1", True),
        (
            {"stage": S.DONE, "staged": (F1,), "package_ids": ("P1",), "extracted": DONE_P1},
            "P1",
            True,
        ),
        # the request's packages known: one not extracted yet is kept, the others are orphans
        ({"stage": S.COMPLETED, "package_ids": ("P1", "P2")}, "P2", True),
        ({"stage": S.COMPLETED, "package_ids": ("P1", "P2"), "extracted": DONE_P1}, "P1", False),
        ({"stage": S.COMPLETED, "package_ids": ("P1", "P2"), "extracted": DONE_P1}, "P2", True),
        ({"stage": S.COMPLETED, "package_ids": ("S1",)}, "P1", False),  # a request it left
        # another package staged does not keep an extracted one's leftover copy
        (
            {
                "stage": S.STAGED,
                "package_ids": ("P1", "P2"),
                "extracted": DONE_P1,
                "staged": (attrs.evolve(F1, package_id="P2"),),
            },
            "P1",
            False,
        ),
    ],
)
def test_a_staged_copy_is_kept_only_while_the_month_may_still_extract_it(
    changes: dict[str, object], package_id: str, kept: bool
) -> None:
    assert m.may_need_staged(month(**changes), package_id) is kept


# ------------------------------------------------------------------ adopted into a full folder

ADOPTED = month(
    stage=S.COMPLETED,
    request_id="R1",
    confirmed_id="R1",
    known_ids=("R1",),
    creates=1,
    resend_allowed=False,
    sat_state="completed",
    invoice_count=3,
    package_ids=("P1",),
    reason="SAT completed the request",
)
FULL_REASON = (
    "the month's folder already holds {cfdis} distinct CFDI(s), at least the {count} SAT reports "
    "for request R1: nothing was downloaded (that would spend one of SAT's 2 downloads of each "
    "of its packages to extract them again)"
)
KEEP_HINT = (
    "`gigstack-async journal keep 2024-01` records the month done with them (it checks them "
    "first: their number and their content; nothing is sent); if it refuses them, it says the "
    "way on"
)


@pytest.mark.parametrize(
    ("changes", "start"),
    [
        ({}, Start(on_disk=3, cfdis=3)),  # exactly SAT's count
        ({}, Start(on_disk=5, cfdis=4)),  # more (an XML copy under another name counts once)
        ({"invoice_count": 1}, Start(on_disk=1, cfdis=1)),
        # metadata: one file holds a row per CFDI
        ({"request_type": "metadata"}, Start(on_disk=1, cfdis=3)),
    ],
)
def test_an_adopted_request_whose_cfdis_are_on_disk_stops_with_keep_and_sends_no_get(
    changes: dict[str, object], start: Start
) -> None:
    state = attrs.evolve(ADOPTED, **changes)  # type: ignore[arg-type]
    new, commands = m.transition(state, start)
    assert commands == ()  # no FetchPackage: no SAT download spent
    assert (new.stage, new.resume_to, new.downloads) == (S.NEEDS_ATTENTION, S.COMPLETED, ())
    assert new.reason == FULL_REASON.format(cfdis=start.cfdis, count=state.invoice_count)
    assert new.hint == KEEP_HINT


@pytest.mark.parametrize(
    ("changes", "start"),
    [
        ({}, Start(on_disk=3, cfdis=2)),  # fewer CFDIs than SAT's count
        ({}, Start()),  # an empty folder
        ({"invoice_count": None}, Start(on_disk=3, cfdis=3)),  # no count to check them against
        ({"invoice_count": 0}, Start(on_disk=3, cfdis=3)),  # a count of 0 proves nothing here
        ({}, Start(on_disk=3, cfdis=3, staged_copies=1)),  # its staged copy: extracted for free
        ({}, Start(on_disk=3, cfdis=3, staged_copies=2)),
        (
            {"own_part": m.OwnPart(date(2024, 1, 1), date(2024, 1, 9), ("a.xml",))},
            Start(on_disk=3, cfdis=3),
        ),
    ],
)
def test_an_adopted_request_downloads_its_package_unless_the_folder_holds_its_count(
    changes: dict[str, object], start: Start
) -> None:
    state = attrs.evolve(ADOPTED, **changes)  # type: ignore[arg-type]
    new, commands = m.transition(state, start)
    assert commands == (FetchPackage("P1", 1),)
    assert new.stage is S.COMPLETED


def test_a_month_that_extracted_some_of_its_packages_downloads_the_rest() -> None:
    # Its own files are no earlier run's: the folder holding the count is its own doing.
    state = attrs.evolve(ADOPTED, package_ids=("P1", "P2"), extracted=DONE_P1)
    new, commands = m.transition(state, Start(on_disk=4, cfdis=4))
    assert (new.stage, commands) == (S.COMPLETED, (FetchPackage("P2", 1),))


def test_a_request_the_journal_created_itself_downloads_its_package() -> None:
    # Not adopted (`confirmed_id` unset): once the history checks it, its package is downloaded.
    state = attrs.evolve(ADOPTED, confirmed_id=None)
    listed = m.Seen(
        id="R1",
        status="completed",
        rfc_type="received",
        request_type="cfdi",
        start=JAN.start,
        end=JAN.end,
        invoice_count=3,
        package_ids=("P1",),
    )
    began, commands = m.transition(state, Start(on_disk=3, cfdis=3))
    assert (began.checked, commands) == (False, ())
    new, commands = m.transition(began, m.HistorySeen((listed,)))
    assert (new.stage, commands) == (S.COMPLETED, (FetchPackage("P1", 1),))


# ------------------------------------------------------------------ a month rebuilt from its log

HELD = (
    "the month's folder already holds 4 file(s) extracted by an earlier run (before this "
    "journal lost the month's record"
)
NOT_EXTRACTED = (
    HELD + "), but that run staged the month's package and never recorded it extracted{copy}: "
    "they may be only part of its CFDIs, so do not keep them; adopt"
)
COPY = "; its staged copy is still on disk and is extracted again without downloading"


def rebuilt(**kw: object) -> m.MonthState:
    """January as `journal repair` rebuilds it from a log listing requests R1 then R2."""
    return m.unrecorded(
        JAN,
        known_ids=("R1", "R2"),
        creates=1,
        reason="lost",
        hint="adopt",
        counts=m.Counts(1),
        **kw,  # type: ignore[arg-type]
    )


def test_a_rebuilt_month_takes_the_dates_and_count_its_log_kept() -> None:
    asked = m.Asked(date(2024, 1, 15), date(2024, 1, 30), 4)
    held = rebuilt(asked=asked, on_disk=4)
    assert (held.start, held.end, held.invoice_count) == (asked.start, asked.end, 4)
    assert not held.dates_unproven  # its log proves them
    assert (held.stage, held.known_ids, held.unextracted) == (
        S.NEEDS_ATTENTION,
        ("R1", "R2"),
        False,
    )
    # Keep is offered checked against that count, naming the last request logged.
    assert held.hint == (
        HELD + "; the journal's log last recorded 4 CFDIs for 2024-01 (SAT's count for the month, "
        "or the total of its split parts; no request of it is recorded now, so it is not one "
        "request's count)): if they are all there, `gigstack-async "
        "journal keep 2024-01` records the month done with them (it checks them against that "
        "count first; nothing is sent). Only if some are missing, adopt"
    )


@pytest.mark.parametrize(
    "asked",
    [
        None,  # an older log kept none
        m.Asked(),
        m.Asked(None, date(2024, 1, 30), 4),  # half the dates: neither is taken
        m.Asked(date(2024, 1, 15), None, 4),
    ],
)
def test_a_rebuilt_month_without_both_logged_dates_keeps_the_plans(asked: m.Asked | None) -> None:
    held = rebuilt(asked=asked)
    assert (held.start, held.end, held.invoice_count) == (JAN.start, JAN.end, None)
    assert held.dates_unproven  # the plan's dates are a guess: `journal keep` checks them


@pytest.mark.parametrize(
    ("kw", "copy"),
    [
        ({"unextracted": True}, ""),  # its log: staged, never extracted
        ({"staged_copies": 1}, COPY),  # a staged ZIP named for it on disk
        ({"unextracted": True, "staged_copies": 2}, COPY),
    ],
)
def test_a_rebuilt_month_that_may_hold_part_of_a_package_never_offers_keep(
    kw: dict[str, object], copy: str
) -> None:
    held = rebuilt(asked=m.Asked(JAN.start, JAN.end, 4), on_disk=4, **kw)
    assert held.hint == NOT_EXTRACTED.format(copy=copy)
    assert "journal keep" not in held.hint
    # Still withheld on the next run, once the staged copy is gone (extracted or deleted).
    began, _ = m.transition(held, Start(on_disk=4, cfdis=4))
    assert (began.unextracted, began.staged_copies) == (True, 0)
    assert m.files_notice(began) == NOT_EXTRACTED.format(copy="").removesuffix("adopt")


def test_a_rebuilt_month_whose_log_kept_no_request_id_never_names_request_none() -> None:
    held = m.unrecorded(
        JAN,
        known_ids=(),
        creates=1,
        reason="lost",
        hint="adopt",
        on_disk=4,
        asked=m.Asked(JAN.start, JAN.end, 4),
    )
    assert held.hint == (
        HELD + "; the journal's log last recorded 4 CFDIs for 2024-01 (SAT's count for the month, "
        "or the total of its split parts; no request of it is recorded now, so it is not one "
        "request's count)): if they are all there, `gigstack-async "
        "journal keep 2024-01` records the month done with them (it checks them against that "
        "count first; nothing is sent). Only if some are missing, adopt"
    )


UNCHECKED_REASON = (
    "the month's folder already holds 3 distinct CFDI(s), at least the 3 SAT reports for request "
    "R1: nothing was downloaded; but the dates of request R1 cannot be checked (the account's "
    "history does not list it and the journal's log kept none): the folder's files may cover "
    "only part of 2024-01-01..2024-01-31, so `journal keep` records the month with them only "
    "once their CFDIs' own dates prove the request's (some issued on its first and on its last "
    "day), or on your word (--force)"
)
UNCHECKED_HINT = (
    "`gigstack-async journal keep 2024-01` checks the request's dates from the files themselves "
    "(their CFDIs' issue dates, their kind and number) and records the month with them if they "
    "prove it (nothing is sent or downloaded); if they cannot, it says how to record them once "
    "you have checked the dates in gigstack's dashboard (Descarga Masiva). A run that finds the "
    "request in the account's history checks its dates itself"
)


def test_an_adopted_request_of_unchecked_dates_on_disk_offers_the_checked_keep_and_no_get() -> None:
    state = attrs.evolve(ADOPTED, dates_unproven=True)
    asked, commands = m.transition(state, Start(on_disk=3, cfdis=3))
    assert commands == (m.FetchStatus("R1"),)  # its dates may be in its status (newcomer 9g #3)
    # ... an answer without them: no FetchPackage, no SAT download spent
    new, commands = m.transition(asked, m.StatusSeen(m.Seen("R1", status="completed")))
    assert commands == ()
    assert (new.stage, new.resume_to) == (S.NEEDS_ATTENTION, S.COMPLETED)
    assert new.reason == UNCHECKED_REASON
    assert new.hint == UNCHECKED_HINT
