"""`journal keep`: a month records the files an earlier run extracted into its folder.

Review 9k #3 and 9m #10 as pure decisions: which months may keep files (needing attention or
expired, nothing staged), that damaged CFDIs are refused even with --force, that a request whose
dates nothing showed is kept only once its files' CFDIs prove them (or on the user's word),
and what the month records and says. Nothing is sent or downloaded in any case. Direct calls,
no engine or server: `make mutate` runs this file for every mutant of `bulk/machine.py`.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import (
    KEPT,
    ExtractedPackage,
    KeepFiles,
    KnownRequest,
    Stage,
    StagedFile,
    TransitionError,
)

JAN1, JAN31 = date(2024, 1, 1), date(2024, 1, 31)
JAN = m.MonthState("2024-01", JAN1, JAN31, "received", "cfdi")
STOPPED = attrs.evolve(
    JAN,
    stage=Stage.NEEDS_ATTENTION,
    request_id="R1",
    known_ids=("R1",),
    package_ids=("P1",),
    records=(KnownRequest("R1", JAN1, JAN31, "received", "cfdi"),),
    resume_to=Stage.COMPLETED,
    reason="the month's folder already holds 2 distinct CFDI(s)",
    hint="`gigstack-async journal keep 2024-01` records the month done with them",
    unknown=True,
)
# Rebuilt from a log that kept no dates for its request: nothing shows them.
UNPROVEN = attrs.evolve(STOPPED, records=(), dates_unproven=True)
FILES = ("u1.xml", "u2.xml")
KEPT_REASON = (
    "the user kept the 2 file(s) an earlier run extracted into its folder as the month's CFDIs "
    "(nothing was downloaded or sent for them)"
)


def keep(state: m.MonthState, obs: KeepFiles) -> m.MonthState:
    new, commands = m.transition(state, obs)
    assert commands == ()  # nothing is sent or downloaded
    return new


def refused(state: m.MonthState, obs: KeepFiles) -> str:
    with pytest.raises(TransitionError) as err:
        m.transition(state, obs)
    return str(err.value)


@pytest.mark.parametrize("stage", [Stage.NEEDS_ATTENTION, Stage.EXPIRED])
def test_keep_records_the_folders_files_and_ends_the_month_done(stage: Stage) -> None:
    state = keep(attrs.evolve(STOPPED, stage=stage), KeepFiles(FILES))
    assert state.stage is Stage.DONE
    assert state.extracted == (ExtractedPackage(KEPT, FILES),)
    assert state.reason == KEPT_REASON
    assert (state.hint, state.resume_to, state.unknown) == (None, None, False)
    # a run finds the month done: nothing to resume, nothing to download
    again, commands = m.transition(state, m.Start())
    assert (again.stage, commands) == (Stage.DONE, ())


def test_keep_records_only_files_the_month_did_not_extract_itself() -> None:
    own = ExtractedPackage("P1", ("a.xml",))
    state = keep(attrs.evolve(STOPPED, extracted=(own,)), KeepFiles(("a.xml", *FILES)))
    assert state.extracted == (own, ExtractedPackage(KEPT, FILES))
    assert state.reason == KEPT_REASON


def test_keep_of_a_folder_holding_only_the_months_own_files_is_refused() -> None:
    state = attrs.evolve(STOPPED, extracted=(ExtractedPackage("P1", ("a.xml",)),))
    assert refused(state, KeepFiles(("a.xml",))) == (
        "2024-01's folder holds no file it did not extract itself: nothing to keep"
    )


def test_keep_of_a_blocked_month_clears_its_blocked_package() -> None:
    blocked = attrs.evolve(STOPPED, resume_to=None, blocked_package="P1")
    state = keep(blocked, KeepFiles(FILES))
    assert (state.stage, state.blocked_package) == (Stage.DONE, None)
    assert m.free_way(state) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"stage": Stage.DONE},
            "2024-01 is done: only a month that needs attention or expired, with no package "
            "staged, keeps the files already in its folder",
        ),
        (
            {"stage": Stage.PROCESSING},
            "2024-01 is processing: only a month that needs attention or expired, with no "
            "package staged, keeps the files already in its folder",
        ),
        (
            {"staged": (StagedFile("P1", "/s/2024-01-P1.zip", "a1" * 32, 10),)},
            "2024-01 is needs-attention with a package staged on disk (the next run extracts "
            "it): only a month that needs attention or expired, with no package staged, keeps "
            "the files already in its folder",
        ),
    ],
)
def test_only_a_month_that_stopped_with_nothing_staged_keeps_files(
    changes: dict[str, object], message: str
) -> None:
    state = attrs.evolve(STOPPED, **changes)  # type: ignore[arg-type]
    assert refused(state, KeepFiles(FILES)) == message
    # Damaged files change nothing about that: the month cannot keep anything.
    assert refused(state, KeepFiles(FILES, damaged=("u1.xml",))) == message


def damaged_message(count: int, shown: str) -> str:
    return (
        f"2024-01 is not kept, nothing changed: {count} file(s) in its folder are not complete "
        f"CFDIs (truncated or damaged: {shown}); kept, they would be recorded as the month's "
        "CFDIs and never downloaded again, so they are refused even with --force"
    )


@pytest.mark.parametrize(
    ("damaged", "shown"),
    [
        (("d1.xml",), "d1.xml"),
        (tuple(f"d{i}.xml" for i in range(1, 6)), "d1.xml, d2.xml, d3.xml, d4.xml, d5.xml"),
        (
            tuple(f"d{i}.xml" for i in range(1, 7)),
            "d1.xml, d2.xml, d3.xml, d4.xml, d5.xml and 1 more",
        ),
        (
            tuple(f"d{i}.xml" for i in range(1, 10)),
            "d1.xml, d2.xml, d3.xml, d4.xml, d5.xml and 4 more",
        ),
    ],
)
def test_damaged_cfdis_are_never_kept_even_with_force(damaged: tuple[str, ...], shown: str) -> None:
    obs = KeepFiles((*FILES, *damaged), damaged=damaged, vouched=True)
    assert refused(STOPPED, obs) == damaged_message(len(damaged), shown)


def test_a_damaged_name_the_month_extracted_itself_is_not_counted_as_kept() -> None:
    state = attrs.evolve(STOPPED, extracted=(ExtractedPackage("P1", ("a.xml",)),))
    obs = KeepFiles(("a.xml", "d1.xml"), damaged=("a.xml", "d1.xml"))
    assert refused(state, obs) == damaged_message(1, "d1.xml")
    # Only its own file damaged: the others are kept (its own is re-extracted, not kept).
    kept = keep(state, KeepFiles(("a.xml", *FILES), damaged=("a.xml",)))
    assert kept.extracted[-1] == ExtractedPackage(KEPT, FILES)


# ------------------------------------------------------------------ dates nothing showed

UNPROVEN_NOTE = (
    "the dates of request R1 cannot be checked (the account's history does not list it and the "
    "journal's log kept none): the folder's files may cover only part of "
    "2024-01-01..2024-01-31, so `journal keep` records the month with them only once their "
    "CFDIs' own dates prove the request's (some issued on its first and on its last day), or "
    "on your word (--force)"
)
UNPROVEN_WAY = (
    "Nothing changed. Check request R1's dates in gigstack's dashboard (Descarga Masiva): if "
    "they are 2024-01-01..2024-01-31, `gigstack-async journal keep 2024-01 --force` records "
    "the month with these files (it asks you to confirm; nothing is sent or downloaded). If "
    "they are fewer days, keep --force is wrong: the other days' CFDIs were never requested, "
    "and `gigstack-async journal resend 2024-01 --force` requests the month again (a new "
    "request, possibly billed)"
)


def test_unproven_dates_with_unread_files_are_refused() -> None:
    assert refused(UNPROVEN, KeepFiles(FILES)) == (
        f"2024-01: {UNPROVEN_NOTE}, and its files do not prove them (each a CFDI of the month "
        f"and of its kind, at least as many as SAT reported). {UNPROVEN_WAY}"
    )


def test_unproven_dates_with_files_of_fewer_days_are_refused() -> None:
    obs = KeepFiles(FILES, dated=(date(2024, 1, 2), date(2024, 1, 30)))
    assert refused(UNPROVEN, obs) == (
        f"2024-01: {UNPROVEN_NOTE}, and its files' CFDIs were issued 2024-01-02..2024-01-30, "
        f"not on both the first and the last day. {UNPROVEN_WAY}"
    )


def test_files_issued_on_the_first_and_last_day_prove_the_dates() -> None:
    state = keep(UNPROVEN, KeepFiles(FILES, dated=(JAN1, JAN31)))
    assert state.stage is Stage.DONE
    assert state.dates_unproven is False
    assert state.reason == (
        f"{KEPT_REASON}; request R1's dates were checked from the files (their CFDIs were "
        "issued 2024-01-01..2024-01-31), not from the account's history"
    )


def test_force_records_the_users_word_for_the_dates() -> None:
    state = keep(UNPROVEN, KeepFiles(FILES, vouched=True))
    assert state.stage is Stage.DONE
    assert state.dates_unproven is False
    assert state.reason == (
        f"{KEPT_REASON}; the user vouched (--force) that request R1 was for "
        "2024-01-01..2024-01-31: neither the history nor the files could show it"
    )


def test_dates_a_history_showed_need_no_proof_from_the_files() -> None:
    shown = attrs.evolve(UNPROVEN, records=STOPPED.records)
    state = keep(shown, KeepFiles(FILES, dated=(date(2024, 1, 2), date(2024, 1, 30))))
    assert state.reason == KEPT_REASON
    # Still unproven by the log: a later `journal adopt` that drops the history's record of
    # the request must not read its dates as proven.
    assert state.dates_unproven is True


def test_a_month_adopted_into_a_folder_holding_its_cfdis_is_offered_keep() -> None:
    adopted = attrs.evolve(
        STOPPED,
        stage=Stage.COMPLETED,
        resume_to=None,
        confirmed_id="R1",
        invoice_count=2,
    )
    stopped, commands = m.transition(adopted, m.Start(on_disk=2, cfdis=2))
    assert commands == ()  # nothing downloaded: the folder holds SAT's count already
    assert (stopped.stage, stopped.resume_to) == (Stage.NEEDS_ATTENTION, Stage.COMPLETED)
    assert m.free_way(stopped) == (
        "`gigstack-async journal keep 2024-01` records it with the CFDIs its folder already "
        "holds (checked first; nothing is sent or downloaded)"
    )
    assert keep(stopped, KeepFiles(FILES)).stage is Stage.DONE
