"""A done month whose folder lost files (MISSING FILES), and `journal retry-download` for them.

Newcomer 9h #1 as pure decisions: which of the month's packages held the lost files, what the
user reads (reason and hint), which GET the allowance lets the next run send (SAT serves each
package twice: a third GET is only refused with 5008), and that the unchecked refill ends as
soon as the month leaves its own packages. Direct calls, no engine or server: `make mutate`
runs this file for every mutant of `bulk/machine.py`.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import (
    KEPT,
    OWN_PART,
    AllowDownload,
    ExtractedPackage,
    FetchPackage,
    FindStaged,
    PackageFailed,
    Stage,
    Start,
    TransitionError,
)

JAN = m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")
P1 = ExtractedPackage("P1", ("a.xml", "b.xml"))
P2 = ExtractedPackage("P2", ("c.xml",))
DONE = attrs.evolve(
    JAN,
    stage=Stage.DONE,
    request_id="R1",
    known_ids=("R1",),
    package_ids=("P1", "P2"),
    extracted=(P1, P2),
    downloads=(("P1", 1), ("P2", 1)),
    reason="every package extracted",
)

RESEND = (
    "`gigstack-async journal resend 2024-01` requests the month again (a new request, possibly "
    "billed; SAT accepts two identical requests, ever)"
)
BACK = "put them back (from a backup) and run the same command again"


def done(**changes: object) -> m.MonthState:
    return attrs.evolve(DONE, **changes)  # type: ignore[arg-type]


def missing(state: m.MonthState, *lost: str) -> m.MonthState:
    """The month as a run that finds `lost` gone from its folder leaves it."""
    new, commands = m.transition(state, Start(lost=lost))
    assert commands == ()  # nothing is sent or downloaded by itself
    return new


# ------------------------------------------------------------------ which packages held them


@pytest.mark.parametrize(
    ("extracted", "package_ids", "lost", "packages"),
    [
        ((P1, P2), ("P1", "P2"), ("a.xml",), ("P1",)),
        ((P1, P2), ("P1", "P2"), ("c.xml",), ("P2",)),  # not only the first package
        ((P1, P2), ("P1", "P2"), ("c.xml", "b.xml", "a.xml"), ("P1", "P2")),
        ((P1, P2), ("P1", "P2"), ("z.xml",), ()),  # not one of its files
        ((P1, P2), ("P1", "P2"), (), ()),
        # `journal keep` files came from the request's packages, which ones unknown: all
        ((ExtractedPackage(KEPT, ("k.xml",)),), ("P1", "P2"), ("k.xml",), ("P1", "P2")),
        ((ExtractedPackage(KEPT, ("k.xml",)),), None, ("k.xml",), ()),
        # named once each, however many entries held them
        ((P2, ExtractedPackage(KEPT, ("k.xml",))), ("P1", "P2"), ("k.xml", "c.xml"), ("P2", "P1")),
        # a split's own part is no package of this request
        ((ExtractedPackage(OWN_PART, ("o.xml",)), P2), ("P2",), ("o.xml",), ()),
    ],
)
def test_the_packages_named_for_lost_files_are_those_that_held_them(
    extracted: tuple[ExtractedPackage, ...],
    package_ids: tuple[str, ...] | None,
    lost: tuple[str, ...],
    packages: tuple[str, ...],
) -> None:
    state = done(extracted=extracted, package_ids=package_ids, lost_files=lost)
    assert m.refill_packages(state) == packages


# ------------------------------------------------------------------ MISSING FILES


def test_a_done_month_missing_files_needs_attention_and_says_which_and_how_many() -> None:
    state = missing(DONE, "b.xml", "c.xml")
    assert state.stage is Stage.NEEDS_ATTENTION
    assert state.resume_to is Stage.DONE
    assert state.lost_files == ("b.xml", "c.xml")
    assert state.reason == (
        "MISSING FILES: its folder (2024-01/ in the download folder) no longer holds 2 of the 3 "
        "file(s) extracted for it intact (gone, or a CFDI damaged on disk: changed since it was "
        "extracted and no longer a complete CFDI, e.g. cut short or overwritten; e.g. b.xml): "
        "not reported done"
    )
    assert state.hint == (
        "free first: `gigstack-async journal retry-download 2024-01` allows downloading package "
        "P1, P2 once more (1 of SAT's 2 downloads left; nothing is requested again), and the "
        "next run extracts the missing files again (a damaged one is first moved to the month's "
        "`damaged/` subfolder; an intact file still there is never overwritten); "
        f"or {BACK}. SAT keeps a package 72 h: if it answers 5007 (expired), or "
        f"5008 (served twice) and they cannot be put back, only {RESEND}"
    )
    assert m.files_missing(DONE, ("b.xml", "c.xml")) == state


def test_files_missing_changes_only_a_done_month_that_lost_some() -> None:
    assert m.files_missing(DONE, ()) == DONE
    expired = done(stage=Stage.EXPIRED)
    assert m.files_missing(expired, ("a.xml",)) == expired
    assert m.files_missing(DONE, ("a.xml",)).stage is Stage.NEEDS_ATTENTION


def test_files_back_in_the_folder_make_the_month_done_again() -> None:
    state = missing(DONE, "a.xml")
    back, commands = m.transition(state, Start())
    assert (back.stage, back.lost_files, commands) == (Stage.DONE, (), ())
    assert back.reason == "every file extracted for it is in its folder again"


@pytest.mark.parametrize(
    ("changes", "lost", "budget"),
    [
        ({}, ("a.xml",), "1 of SAT's 2 downloads left"),
        ({"downloads": (("P1", 0), ("P2", 1))}, ("a.xml",), "2 of SAT's 2 downloads left"),
        # the fewest left of the packages named
        ({"downloads": (("P1", 0), ("P2", 1))}, ("a.xml", "c.xml"), "1 of SAT's 2 downloads left"),
        # both counted, one of them may not have reached SAT
        (
            {"downloads": (("P1", 2), ("P2", 1)), "unsure": (("P1", 1),)},
            ("a.xml",),
            "at most 1 of SAT's 2 downloads left: a counted download may not have reached SAT, "
            "so SAT may serve it once more",
        ),
    ],
)
def test_the_missing_files_hint_offers_the_free_download_with_what_is_left(
    changes: dict[str, object], lost: tuple[str, ...], budget: str
) -> None:
    state = missing(done(**changes), *lost)
    packages = ", ".join(m.refill_packages(state))
    assert state.hint == (
        "free first: `gigstack-async journal retry-download 2024-01` allows downloading package "
        f"{packages} once more ({budget}; nothing is requested again), and the next run "
        "extracts the missing files again (a damaged one is first moved to the month's "
        "`damaged/` subfolder; an intact file still there is never overwritten); "
        f"or {BACK}. SAT keeps a package 72 h: if it answers 5007 (expired), or 5008 (served "
        f"twice) and they cannot be put back, only {RESEND}"
    )


def test_a_package_sat_served_twice_is_never_offered_again() -> None:
    state = missing(done(downloads=(("P1", 2), ("P2", 2))), "a.xml", "c.xml")
    assert state.hint == (
        "SAT already served package P1, P2 twice (both its downloads are spent), so it cannot "
        f"be downloaded again: {BACK}; if they are gone, {RESEND}"
    )
    assert m.free_way(state) is None
    with pytest.raises(TransitionError) as err:
        m.transition(state, AllowDownload())
    assert str(err.value) == (
        "2024-01: SAT already served package P1, P2 twice (its counted downloads all surely "
        "reached SAT), so one more download would only be refused with SAT 5008: put the "
        "missing files back and run the same command again; if they are gone, `gigstack-async "
        "journal resend 2024-01` requests the month again (a new request, possibly billed)"
    )


def test_only_the_spent_package_is_named_spent() -> None:
    state = missing(done(downloads=(("P1", 1), ("P2", 2))), "a.xml", "c.xml")
    assert state.hint is not None
    assert state.hint.startswith("SAT already served package P2 twice (")


@pytest.mark.parametrize(
    "changes",
    [
        {"extracted": (ExtractedPackage(OWN_PART, ("a.xml",)),)},  # no package of its own
        {"request_id": None},  # no request to download from
    ],
)
def test_files_no_known_package_held_can_only_be_put_back_or_requested_again(
    changes: dict[str, object],
) -> None:
    state = missing(done(**changes), "a.xml")
    assert state.hint == f"{BACK}; if they are gone, {RESEND}"
    assert m.free_way(state) is None
    with pytest.raises(TransitionError) as err:
        m.transition(state, AllowDownload())
    assert str(err.value) == (
        "2024-01: its missing files were not extracted from a package this journal knows, so "
        "there is no download to allow: put them back and run the same command again; if they "
        "are gone, `gigstack-async journal resend 2024-01` requests the month again (a new "
        "request, possibly billed)"
    )


# ------------------------------------------------------------------ journal retry-download


def test_retry_download_refetches_only_the_package_that_held_the_lost_files() -> None:
    state = missing(DONE, "a.xml")
    assert m.free_way(state) == (
        "`gigstack-async journal retry-download 2024-01` downloads package P1 once more for the "
        "files missing from its folder (free: nothing is requested again), then run the same "
        "command again"
    )
    allowed, commands = m.transition(state, AllowDownload())
    assert commands == ()
    assert allowed.stage is Stage.COMPLETED
    assert allowed.resume_to is None
    assert allowed.refill is True
    assert allowed.extracted == (P2,)  # P1 is extracted again; P2's files are there
    assert allowed.granted == ()  # within SAT's two: no GET beyond them
    assert allowed.hint is None
    assert allowed.reason == (
        "the user allowed downloading package P1 once more for the 1 file(s) missing from its "
        "folder"
    )
    # The next run downloads P1 (its second SAT download) without checking the request again.
    run, commands = m.transition(allowed, Start())
    assert commands == (FetchPackage("P1", 2),)
    assert run.stage is Stage.COMPLETED
    assert m.free_way(run) is None  # waiting for its package, not needing the user


def test_retry_download_names_every_package_and_the_count_of_lost_files() -> None:
    state = missing(DONE, "a.xml", "b.xml", "c.xml")
    assert m.free_way(state) == (
        "`gigstack-async journal retry-download 2024-01` downloads package P1, P2 once more for "
        "the files missing from its folder (free: nothing is requested again), then run the "
        "same command again"
    )
    allowed, _ = m.transition(state, AllowDownload())
    assert allowed.extracted == ()
    assert allowed.reason == (
        "the user allowed downloading package P1, P2 once more for the 3 file(s) missing from "
        "its folder"
    )
    _, commands = m.transition(allowed, Start())
    assert commands == (FetchPackage("P1", 2),)


def test_retry_download_past_a_full_count_allows_exactly_one_more_get() -> None:
    # Both of P1's downloads counted, one may not have reached SAT: one more GET, the third.
    state = missing(done(downloads=(("P1", 2), ("P2", 1)), unsure=(("P1", 1),)), "a.xml")
    allowed, _ = m.transition(state, AllowDownload(package_id="P1"))
    assert allowed.granted == (("P1", 1),)
    _, commands = m.transition(allowed, Start())
    assert commands == (FetchPackage("P1", 3),)


def test_retry_download_after_an_earlier_allowance_counts_from_what_was_sent() -> None:
    state = missing(
        done(downloads=(("P1", 3), ("P2", 1)), unsure=(("P1", 2),), granted=(("P1", 1),)),
        "a.xml",
    )
    allowed, _ = m.transition(state, AllowDownload())
    assert allowed.granted == (("P1", 2),)
    _, commands = m.transition(allowed, Start())
    assert commands == (FetchPackage("P1", 4),)


def test_retry_download_of_a_package_that_did_not_hold_them_is_refused() -> None:
    state = missing(DONE, "a.xml")
    with pytest.raises(TransitionError) as err:
        m.transition(state, AllowDownload(package_id="P2"))
    assert str(err.value) == "2024-01: its missing files are in package P1, not P2"
    state = missing(DONE, "a.xml", "c.xml")
    with pytest.raises(TransitionError) as err:
        m.transition(state, AllowDownload(package_id="P9"))
    assert str(err.value) == "2024-01: its missing files are in package P1, P2, not P9"
    allowed, _ = m.transition(state, AllowDownload(package_id="P2"))
    assert allowed.stage is Stage.COMPLETED


def test_kept_files_are_downloaded_again_from_every_package_and_then_dropped() -> None:
    kept = done(extracted=(ExtractedPackage(KEPT, ("k.xml", "l.xml")),))
    allowed, _ = m.transition(missing(kept, "k.xml"), AllowDownload())
    # Every package of the request comes again: the kept record would list its files twice.
    assert allowed.extracted == ()
    _, commands = m.transition(allowed, Start())
    assert commands == (FetchPackage("P1", 2),)


def test_kept_files_stay_recorded_when_only_some_packages_come_again() -> None:
    kept = ExtractedPackage(KEPT, ("k.xml",))
    state = missing(done(extracted=(P1, kept)), "a.xml")
    allowed, _ = m.transition(state, AllowDownload())
    assert allowed.extracted == (kept,)


def test_a_blocked_month_with_files_lost_earlier_gets_its_blocked_package_not_a_refill() -> None:
    # Resent after MISSING FILES, its new request stopped at a package whose count is full.
    blocked = done(
        stage=Stage.NEEDS_ATTENTION,
        request_id="R2",
        known_ids=("R1", "R2"),
        package_ids=("P9",),
        extracted=(),
        downloads=(("P9", 2),),
        unsure=(("P9", 1),),
        blocked_package="P9",
        lost_files=("a.xml",),
        reason="downloading package P9 failed: timeout",
    )
    assert m.free_way(blocked) == (
        "`gigstack-async journal retry-download 2024-01` allows one more download of package P9 "
        "(free: SAT answers 5008 if it served it twice), then run the same command again"
    )
    allowed, commands = m.transition(blocked, AllowDownload())
    assert commands == ()
    assert allowed.stage is Stage.COMPLETED
    assert allowed.refill is False
    assert allowed.granted == (("P9", 1),)
    assert allowed.reason is not None
    assert allowed.reason.startswith("the user allowed one more download of package P9 (")


def test_only_a_month_missing_files_takes_a_refill() -> None:
    # A done month (nothing missing) has no download to allow.
    with pytest.raises(TransitionError):
        m.transition(done(lost_files=("a.xml",)), AllowDownload())
    # Needing attention for another reason, with lost files recorded: no refill either.
    other = done(stage=Stage.NEEDS_ATTENTION, resume_to=Stage.COMPLETED, lost_files=("a.xml",))
    with pytest.raises(TransitionError):
        m.transition(other, AllowDownload())


# ------------------------------------------------------------------ the refill ends


def test_a_refill_ends_when_the_package_expired() -> None:
    allowed, _ = m.transition(missing(DONE, "a.xml"), AllowDownload())
    failed, _ = m.transition(
        allowed, PackageFailed("P1", "SAT 5007", code=5007, sent=True, reached=True)
    )
    assert failed.stage is Stage.EXPIRED
    assert failed.refill is False  # a later request's packages are never fetched unchecked


def test_a_refill_ends_when_sat_says_the_package_is_spent() -> None:
    allowed, _ = m.transition(missing(DONE, "a.xml"), AllowDownload())
    failed, _ = m.transition(allowed, PackageFailed("P1", "SAT 5008", code=5008, sent=True))
    assert failed.stage is Stage.NEEDS_ATTENTION
    assert failed.refill is False


def test_a_refill_holds_while_its_package_is_looked_for_on_disk() -> None:
    state = missing(done(downloads=(("P1", 2), ("P2", 1)), unsure=(("P1", 1),)), "a.xml")
    allowed, _ = m.transition(state, AllowDownload())
    run, commands = m.transition(attrs.evolve(allowed, granted=()), Start())
    assert commands == (FindStaged("P1"),)
    assert run.refill is True


# ------------------------------------------------------------------ newcomer 10 F2

ONE = done(package_ids=("P1",), extracted=(P1,), downloads=(("P1", 1),), invoice_count=2)
"""January done from request R1's one package P1 (2 CFDIs, downloaded once)."""


def _refill_refused(state: m.MonthState, *lost: str) -> m.MonthState:
    """`state` missing `lost`, allowed once more (`journal retry-download`), and the next
    run's GET answered SAT 5008 (the package served twice, e.g. by the folder that made it)."""
    allowed, _ = m.transition(missing(state, *lost), AllowDownload())
    begun, commands = m.transition(allowed, Start(on_disk=len(state.files) - len(lost)))
    assert commands == (FetchPackage("P1", 2),)
    sending, _ = m.transition(begun, m.PackageSending("P1"))
    failed, commands = m.transition(
        sending, PackageFailed("P1", "SAT 5008", code=5008, sent=True, reached=True)
    )
    assert commands == ()
    return failed


def test_files_put_back_after_a_refill_refused_with_5008_finish_the_month() -> None:
    # Newcomer 10 F2 (d): the month stayed needs-attention after the file was put back (the
    # next run did not look at the folder again) and `journal show` said "files 0"; only
    # `journal keep` finished it, although the hint said keep "would refuse them".
    failed = _refill_refused(ONE, "a.xml")
    assert failed.stage is Stage.NEEDS_ATTENTION
    assert failed.refill is False  # never an unchecked GET again
    assert failed.files == ("a.xml", "b.xml")  # what was extracted for it is still recorded
    assert (failed.reason or "").startswith(f"{m.MISSING_FILES}: ")
    assert "SAT 5008" in (failed.reason or "")
    hint = failed.hint or ""
    assert "lost the month's record" not in hint  # the journal lost nothing
    assert "would refuse" not in hint
    assert "retry-download" not in hint  # SAT served it twice: no free GET is left
    assert hint.startswith("put them back (from a backup) and run the same command again"), hint
    assert hint.index("put them back") < hint.index("journal resend 2024-01")
    # Still missing: the same, nothing sent or downloaded.
    again, commands = m.transition(failed, Start(on_disk=1, lost=("a.xml",)))
    assert (again.stage, commands) == (Stage.NEEDS_ATTENTION, ())
    assert m.MISSING_FILES in (again.reason or "")
    # Put back: the next run finds them, done as it was, nothing sent or downloaded.
    back, commands = m.transition(failed, Start(on_disk=2))
    assert (back.stage, commands) == (Stage.DONE, ())
    assert back.ok
    assert back.files == ("a.xml", "b.xml")


def test_a_refill_refused_with_5008_of_a_foreign_request_names_the_folder_that_made_it() -> None:
    # Newcomer 10 F2 (c): after 5008 on a request made elsewhere, the files may be in the
    # folder where it was made: copy them from there, before any paid resend.
    failed = _refill_refused(attrs.evolve(ONE, foreign=("R1",)), "a.xml")
    hint = failed.hint or ""
    assert "copy them from the folder where request R1 was made" in hint, hint
    assert hint.index("copy them") < hint.index("journal resend 2024-01")


def test_the_refill_confirmation_says_no_failed_get_when_the_get_brought_the_package() -> None:
    # Newcomer 10 F2 (a): "that GET brought no complete package, so SAT may already have served
    # it twice" was said whenever this journal had sent one, also after it extracted the files.
    state = done(  # one assumed spent where R1 was made (unsure), one GET sent here
        package_ids=("P1",),
        extracted=(P1,),
        downloads=(("P1", 2),),
        unsure=(("P1", 1),),
        foreign=("R1",),
    )
    assert "brought no complete package" not in m.counted_downloads(state, "P1")
    refill = m.transition(missing(state, "a.xml"), AllowDownload())[0]
    assert "brought no complete package" not in m.counted_downloads(refill, "P1")
    failed = attrs.evolve(state, stage=Stage.COMPLETED, extracted=())
    assert "that GET brought no complete package" in m.counted_downloads(failed, "P1")


def test_a_5008_after_files_a_foreign_request_left_says_where_they_may_be_and_is_readable() -> None:
    # Newcomer 10 F2 (b, c): "...1 are missing or damaged, so `journal keep` would refuse
    # them). request the month again with ..." (fused, lowercase, "1 are"), and the other
    # folder named only in the error, not as the free step before the paid resend.
    state = attrs.evolve(
        JAN,
        stage=Stage.COMPLETED,
        request_id="R1",
        confirmed_id="R1",
        checked=True,
        known_ids=("R1",),
        foreign=("R1",),
        package_ids=("P1",),
        downloads=(("P1", 1),),
        invoice_count=56,
        on_disk=55,
        cfdis_on_disk=55,
    )
    failed, _ = m.transition(state, PackageFailed("P1", "SAT 5008", code=5008, reached=True))
    hint = failed.hint or ""
    assert "1 is missing or damaged" in hint, hint
    assert "1 are" not in hint
    assert ". request" not in hint, hint
    assert "Copy the month's files from the folder where request R1 was made" in hint, hint
    assert hint.index("Copy the month's files") < hint.index("journal resend 2024-01")
