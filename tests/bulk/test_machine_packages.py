"""The package side and the user commands of the bulk state machine, one transition at a time.

Direct calls of `transition(state, observation)`: no engine, no journal, no server, so every
mutant of `gigstack_async/bulk/machine.py` runs them in milliseconds (`make mutate`). Each test
checks what a user reads or pays for: the stage and the reason and hint that `gigstack-async
journal show` and a failed `MonthResult` print, the SAT downloads spent per package (SAT serves
a package twice), the commands the engine performs (which package GET is sent and as which of
SAT's two downloads, what is extracted or deleted, the warnings printed), and the whole journal
record a transition writes (every field of `MonthState` feeds a later decision of the run or of
the next one, so a transition that changes a field it should not is a bug too).

The request side (creates, history reconciliation, status answers) is
tests/bulk/test_machine_requests.py.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import (
    Adopt,
    AllowResend,
    DeleteStaged,
    Extracted,
    ExtractedPackage,
    ExtractPackage,
    FetchPackage,
    FetchStatus,
    MonthState,
    PackageFailed,
    PackageSending,
    PackageStaged,
    PollFailed,
    Send,
    Stage,
    StagedFile,
    Start,
    StatusSeen,
    TransitionError,
    Warn,
    transition,
)

KEY = "2024-01"
PLANNED = MonthState(KEY, date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")
SUBMITTED = attrs.evolve(
    PLANNED,
    stage=Stage.SUBMITTED,
    request_id="R1",
    known_ids=("R1",),
    creates=1,
    resend_allowed=False,
    checked=True,
    sat_state="pending",
)
COMPLETED = attrs.evolve(
    SUBMITTED,
    stage=Stage.COMPLETED,
    sat_state="completed",
    invoice_count=5,
    package_ids=("P1", "P2"),
    reason="SAT completed the request",
)
F1 = StagedFile("P1", "/out/.staging/P1.zip", "a1" * 32, 100)
F2 = StagedFile("P2", "/out/.staging/P2.zip", "b2" * 32, 200)
RESEND_HINT = (
    "request the month again with `gigstack-async journal resend 2024-01` "
    "(a new request may be billed)"
)


def evolve(state: MonthState, **changes: object) -> MonthState:
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


# ------------------------------------------------------------------ choosing the next package


def test_a_completed_month_downloads_its_first_pending_package_as_first_sat_download() -> None:
    state = evolve(COMPLETED, confirmed_id="R1")  # checked again at every Start
    after, commands = transition(state, Start())
    assert after == state
    assert commands == (FetchPackage("P1", 1),)


def test_a_package_downloaded_once_before_is_fetched_as_sats_second_download() -> None:
    state = evolve(COMPLETED, confirmed_id="R1", downloads=(("P1", 1),))
    assert transition(state, Start()) == (state, (FetchPackage("P1", 2),))


def test_packages_already_staged_or_extracted_are_not_downloaded_again() -> None:
    state = evolve(
        COMPLETED,
        confirmed_id="R1",
        package_ids=("P1", "P2", "P3"),
        extracted=(ExtractedPackage("P1", ("A.xml",)),),
        staged=(F2,),
    )
    assert transition(state, Start()) == (state, (FetchPackage("P3", 1),))


@pytest.mark.parametrize(
    ("confirmed_id", "want_files", "why"),
    [
        (None, True, "an unchecked request's packages may be another request's CFDIs"),
        ("R1", False, "status only (no download_to)"),
    ],
)
def test_no_package_is_fetched_without_a_check_or_without_wanting_files(
    confirmed_id: str | None, want_files: bool, why: str
) -> None:
    state = evolve(COMPLETED, confirmed_id=confirmed_id)
    after, commands = transition(state, Start(want_files=want_files))
    assert commands == (), why
    assert after.stage is Stage.COMPLETED
    assert after.downloads == ()


def test_a_third_download_of_a_package_is_refused_before_it_is_sent() -> None:
    state = evolve(COMPLETED, confirmed_id="R1", downloads=(("P1", 2),))
    looked, commands = transition(state, Start())
    # First a look on disk: the last download may be staged by a run killed before the
    # journal heard (review 9b #3).
    assert commands == (m.FindStaged("P1"),)
    assert looked == evolve(state, checked=True)
    after, commands = transition(looked, m.StagedMissing("P1"))
    assert commands == ()
    assert after == evolve(
        looked,
        stage=Stage.NEEDS_ATTENTION,
        reason="package P1 was already downloaded 2 times and no complete copy is staged on "
        "disk; SAT serves a package at most twice, so a third download was not sent",
        hint=RESEND_HINT,
        resume_to=None,
    )


def test_a_package_staged_by_its_last_download_is_adopted_not_refused() -> None:
    state = evolve(COMPLETED, confirmed_id="R1", package_ids=("P1",), downloads=(("P1", 2),))
    looked, commands = transition(state, Start())
    assert commands == (m.FindStaged("P1"),)
    after, commands = transition(looked, PackageStaged(F1))
    assert after.stage is Stage.STAGED
    assert commands == (ExtractPackage("P1", F1.path),)


def test_a_package_that_failed_in_this_run_is_not_retried_before_the_next_run() -> None:
    state = evolve(COMPLETED, failed_this_run=("P2",), downloads=(("P1", 1), ("P2", 1)))
    after, commands = transition(state, PackageStaged(F1))
    assert commands == ()  # P2 waits for the next run's Start
    assert after == evolve(state, staged=(F1,))


def test_every_package_staged_moves_to_staged_and_extracts_one_at_a_time() -> None:
    state = evolve(COMPLETED, confirmed_id="R1", staged=(F1, F2))
    after, commands = transition(state, Start())
    assert after == evolve(state, stage=Stage.STAGED)
    assert commands == (ExtractPackage("P1", F1.path),)


def test_every_package_extracted_is_done() -> None:
    state = evolve(
        COMPLETED,
        confirmed_id="R1",
        extracted=(ExtractedPackage("P1", ("A.xml",)), ExtractedPackage("P2", ("B.xml",))),
    )
    after, commands = transition(state, Start())
    assert commands == ()
    assert after == evolve(state, stage=Stage.DONE, reason="every package extracted")
    assert after.ok
    assert after.files == ("A.xml", "B.xml")


def test_a_count_of_zero_with_no_package_ids_is_an_empty_month() -> None:
    # `vouched`: the user's `journal adopt` before this run; Start makes it `typed`.
    state = evolve(COMPLETED, confirmed_id="R1", invoice_count=0, package_ids=(), vouched=True)
    after, commands = transition(state, Start())
    assert commands == ()
    assert after == evolve(
        state, stage=Stage.EMPTY, reason="SAT found no CFDIs", typed=True, vouched=False
    )
    assert after.ok


def test_a_count_of_zero_for_a_request_not_confirmed_as_the_months_kind_is_never_empty() -> None:
    # Unknown is not zero: a request id may name another request (restarted ids, a history
    # without requestType), so "no CFDIs" is not trusted unless this run saw its kind.
    state = evolve(COMPLETED, confirmed_id="R1", invoice_count=0, package_ids=())
    after, commands = transition(state, Start())
    assert commands == ()
    assert after == evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        reason="request R1 reports no CFDIs, but this run could not confirm it is the month's "
        "received cfdi request for 2024-01-01..2024-01-31 (the history does not show its "
        "requestType, or not at all, and request ids may restart): a month is never reported "
        "empty on a guess",
        hint="open request R1 in gigstack's dashboard: if it is the received cfdi request for "
        "2024-01-01..2024-01-31, `gigstack-async journal adopt 2024-01 R1` and run the same "
        "command again; if not, `gigstack-async journal resend 2024-01` (a new request may be "
        "billed)",
        resume_to=Stage.COMPLETED,
    )
    assert not after.ok
    # The user's adopt is the confirmation: the next run concludes the month empty.
    vouched, _ = transition(after, Adopt("R1"))
    final, commands = transition(vouched, Start())
    assert commands == ()
    assert (final.stage, final.reason) == (Stage.EMPTY, "SAT found no CFDIs")


@pytest.mark.parametrize("package_ids", [None, ()])
def test_no_package_ids_and_a_count_asks_the_status_once(
    package_ids: tuple[str, ...] | None,
) -> None:
    state = evolve(COMPLETED, confirmed_id="R1", invoice_count=1, package_ids=package_ids)
    after, commands = transition(state, Start())
    assert commands == (FetchStatus("R1"),)
    assert after == evolve(state, status_asked=True)


@pytest.mark.parametrize(
    ("count", "said"),
    [(None, "an unknown number of"), (7, "7")],
)
def test_no_package_ids_after_the_status_answer_needs_attention_never_zero(
    count: int | None, said: str
) -> None:
    # Unknown is not zero: the status was asked and still names no package.
    state = evolve(COMPLETED, invoice_count=count, package_ids=None, status_asked=True)
    seen = m.Seen("R1", status="completed", invoice_count=count)
    after, commands = transition(state, StatusSeen(seen))
    assert commands == ()
    assert after == evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        reason=f"SAT completed the request with {said} CFDIs but the server gave no package ids",
        hint="run the same command again later; if it persists, contact gigstack support "
        "with request R1 for its package ids, then `gigstack-async downloads package <package "
        f"id> --out <out>/{state.key}` fetches each into the month's folder (one of SAT's 2 "
        "downloads of it; the journal does not record it)"
        # Newcomer 9i F2: the way out once the folder holds them (SAT's count known).
        + (
            f"; once that folder holds all 7 CFDIs, `gigstack-async journal keep {state.key}` "
            "checks them against SAT's count and records the month done (nothing is sent)"
            if count is not None
            else ""
        )
        # Review 9p #3: an unknown count may be an empty month; the user's confirmed way out.
        + (
            ". If gigstack's dashboard (Descarga Masiva) or support says the request found no "
            f"CFDIs, `gigstack-async journal keep {state.key} --empty` records the month empty "
            "(nothing is sent)"
            if count is None
            else ""
        ),
        resume_to=Stage.COMPLETED,
    )


# ------------------------------------------------------------------ counting SAT's downloads


@pytest.mark.parametrize(
    ("downloads", "unsure", "package_id", "counted", "unsure_after"),
    [
        ((), (), "P1", (("P1", 1),), (("P1", 1),)),
        # an older journal lists no unsure download: its first one surely reached SAT
        ((("P1", 1),), (), "P1", (("P1", 2),), (("P1", 1),)),
        ((("P1", 1),), (("P1", 1),), "P1", (("P1", 2),), (("P1", 2),)),
        ((("P2", 1),), (), "P1", (("P2", 1), ("P1", 1)), (("P1", 1),)),
        # a download given back (429, connect failure) is counted 0, not dropped
        ((("P1", 0),), (("P1", 0),), "P2", (("P1", 0), ("P2", 1)), (("P1", 0), ("P2", 1))),
        # older journals may hold several entries of one package: the highest count holds
        ((("P1", 1), ("P1", 0), ("P2", 1)), (), "P2", (("P1", 1), ("P2", 2)), (("P2", 1),)),
        # never more unsure than counted (a damaged record is capped, not trusted)
        ((("P1", 1),), (("P1", 5),), "P1", (("P1", 2),), (("P1", 2),)),
    ],
)
def test_a_package_download_is_counted_unsure_before_the_get_leaves(
    downloads: tuple[tuple[str, int], ...],
    unsure: tuple[tuple[str, int], ...],
    package_id: str,
    counted: tuple[tuple[str, int], ...],
    unsure_after: tuple[tuple[str, int], ...],
) -> None:
    # Unsure until its outcome shows it reached SAT: a run killed while the GET is in flight
    # leaves a count that may not have reached SAT (journal retry-download, not only resend).
    state = evolve(COMPLETED, downloads=downloads, unsure=unsure)
    assert transition(state, PackageSending(package_id)) == (
        evolve(state, downloads=counted, unsure=unsure_after),
        (),
    )


@pytest.mark.parametrize(
    "state",
    [
        evolve(COMPLETED, downloads=(("P1", 2),)),  # SAT's budget is spent
        evolve(COMPLETED, downloads=(("P1", 1), ("P1", 2))),
        evolve(COMPLETED, stage=Stage.NEEDS_ATTENTION),  # the month moved on meanwhile
        evolve(COMPLETED, stage=Stage.STAGED, staged=(F1,)),
    ],
)
def test_a_download_that_must_not_be_sent_is_not_counted(state: MonthState) -> None:
    # The engine sends the GET only when the count went up.
    assert transition(state, PackageSending("P1")) == (state, ())


# ------------------------------------------------------------------ staging and extracting


def test_staging_one_package_fetches_the_next_and_the_last_one_extracts_the_first() -> None:
    state = evolve(COMPLETED, downloads=(("P1", 1),))
    after, commands = transition(state, PackageStaged(F1))
    assert after == evolve(state, staged=(F1,))
    assert commands == (FetchPackage("P2", 1),)

    counted, _ = transition(after, PackageSending("P2"))
    final, commands = transition(counted, PackageStaged(F2))
    # Staged: its bytes arrived, so that download surely reached SAT.
    assert final == evolve(counted, stage=Stage.STAGED, staged=(F1, F2), unsure=(("P2", 0),))
    assert commands == (ExtractPackage("P1", F1.path),)  # one at a time


def test_a_package_staged_again_replaces_its_older_copy() -> None:
    newer = attrs.evolve(F1, sha256="c3" * 32, size=101)
    state = evolve(COMPLETED, package_ids=("P1",), staged=(F1,))
    after, commands = transition(state, PackageStaged(newer))
    assert after == evolve(state, stage=Stage.STAGED, staged=(newer,))
    assert commands == (ExtractPackage("P1", newer.path),)


@pytest.mark.parametrize("stage", [Stage.NEEDS_ATTENTION, Stage.STAGED, Stage.EXPIRED])
def test_a_package_staged_outside_completed_changes_nothing(stage: Stage) -> None:
    state = evolve(COMPLETED, stage=stage)
    assert transition(state, PackageStaged(F1)) == (state, ())


def test_extracting_a_package_deletes_its_staged_copy_and_extracts_the_next() -> None:
    state = evolve(COMPLETED, stage=Stage.STAGED, staged=(F1, F2))
    after, commands = transition(state, Extracted("P1", ("A.xml", "B.xml")))
    assert after == evolve(
        state, staged=(F2,), extracted=(ExtractedPackage("P1", ("A.xml", "B.xml")),)
    )
    assert commands == (DeleteStaged(F1.path), ExtractPackage("P2", F2.path))


def test_extracting_the_last_package_is_done_with_every_file() -> None:
    state = evolve(
        COMPLETED,
        stage=Stage.STAGED,
        staged=(F2,),
        extracted=(ExtractedPackage("P1", ("A.xml",)),),
    )
    after, commands = transition(state, Extracted("P2", ("C.xml",)))
    assert after == evolve(
        state,
        stage=Stage.DONE,
        staged=(),
        extracted=(ExtractedPackage("P1", ("A.xml",)), ExtractedPackage("P2", ("C.xml",))),
        reason="every package extracted",
        hint=None,
    )
    assert commands == (DeleteStaged(F2.path),)
    assert after.files == ("A.xml", "C.xml")


def test_a_package_extracted_again_replaces_its_older_file_list() -> None:
    state = evolve(
        COMPLETED,
        stage=Stage.STAGED,
        package_ids=("P1",),
        staged=(F1,),
        extracted=(ExtractedPackage("P1", ("OLD.xml",)),),
    )
    after, _ = transition(state, Extracted("P1", ("A.xml",)))
    assert after.extracted == (ExtractedPackage("P1", ("A.xml",)),)
    assert after.files == ("A.xml",)


@pytest.mark.parametrize(
    ("state", "package_id"),
    [
        (evolve(COMPLETED, staged=(F1,)), "P1"),  # not staged yet as a month
        (evolve(COMPLETED, stage=Stage.STAGED, staged=(F2,)), "P1"),  # P1 is not staged
        (evolve(COMPLETED, stage=Stage.DONE), "P1"),
    ],
)
def test_an_extraction_that_does_not_fit_the_month_changes_nothing(
    state: MonthState, package_id: str
) -> None:
    assert transition(state, Extracted(package_id, ("A.xml",))) == (state, ())


# ------------------------------------------------------------------ failed package downloads


def test_a_failed_download_waits_for_the_next_run_and_says_how_many_downloads_are_left() -> None:
    state = evolve(COMPLETED, confirmed_id="R1", downloads=(("P1", 1),), failed_this_run=("P0",))
    after, commands = transition(state, PackageFailed("P1", "truncated body"))
    assert commands == ()
    assert after == evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        failed_this_run=("P0", "P1"),
        reason="downloading package P1 failed: truncated body",
        hint="run the same command again to download it once more (1 of 2 SAT downloads left)",
        resume_to=Stage.COMPLETED,
    )
    # The next run resumes the month and spends SAT's second download, not a third.
    assert transition(after, Start())[1] == (FetchPackage("P1", 2),)


def test_a_failed_second_download_says_only_a_resend_is_left() -> None:
    state = evolve(COMPLETED, downloads=(("P1", 2),))
    after, commands = transition(state, PackageFailed("P1", "503 from the gateway", code=503))
    assert commands == ()
    assert after == evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        failed_this_run=("P1",),
        reason="downloading package P1 failed: 503 from the gateway",
        hint="no SAT download left: `gigstack-async journal resend 2024-01` requests the month "
        "again (a new request may be billed)",
        resume_to=None,
    )


@pytest.mark.parametrize("sent", [True, False])
def test_sat_5007_means_the_package_expired(sent: bool) -> None:
    # A SAT code proves the server answered: nothing is given back, whatever `sent` says.
    state = evolve(COMPLETED, downloads=(("P1", 1),))
    after, commands = transition(state, PackageFailed("P1", "gone", code=5007, sent=sent))
    assert commands == ()
    assert after == evolve(
        state,
        stage=Stage.EXPIRED,
        expired=("R1",),  # gone: never offered for adopt again (review h1 #1)
        reason="SAT 5007: package P1 no longer exists",
        hint="SAT keeps packages 72 h; request the month again with `gigstack-async journal "
        "resend 2024-01` (a new request may be billed)",
    )


@pytest.mark.parametrize("sent", [True, False])
def test_sat_5008_means_the_package_was_downloaded_the_maximum_times(sent: bool) -> None:
    state = evolve(COMPLETED, downloads=(("P1", 1),))
    after, commands = transition(state, PackageFailed("P1", "5008", code=5008, sent=sent))
    assert commands == ()
    assert after == evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        reason="SAT 5008: package P1 was already downloaded the maximum times",
        hint=RESEND_HINT,
        resume_to=None,
    )


@pytest.mark.parametrize("stage", [Stage.NEEDS_ATTENTION, Stage.STAGED, Stage.EXPIRED])
def test_a_package_failure_outside_completed_changes_nothing(stage: Stage) -> None:
    state = evolve(COMPLETED, stage=stage, downloads=(("P1", 1),))
    assert transition(state, PackageFailed("P1", "late", sent=False)) == (state, ())


def test_a_package_get_that_never_left_gives_the_download_back() -> None:
    """A GET that never left (`PackageFailed.sent=False`: a connect failure): the download is
    given back and tried again at once, up to FREE_RETRIES_PER_RUN times per run; then the
    month waits for the next run with the download still unspent. (A 429 is not one of them:
    see the table below.)"""
    state = evolve(COMPLETED, downloads=(("P2", 1), ("P1", 1)))
    after, commands = transition(state, PackageFailed("P1", "connect refused", sent=False))
    assert after == evolve(state, downloads=(("P2", 1), ("P1", 0)), free_failures=1)
    assert commands == (FetchPackage("P1", 1),)  # still SAT's first download

    # SAT's second download given back is still the second, never counted as the first.
    second = evolve(state, downloads=(("P1", 2),))
    after, commands = transition(second, PackageFailed("P1", "connect refused", sent=False))
    assert after == evolve(second, downloads=(("P1", 1),), free_failures=1)
    assert commands == (FetchPackage("P1", 2),)

    # The last free retry of the run.
    last = evolve(state, free_failures=m.FREE_RETRIES_PER_RUN - 1)
    after, commands = transition(last, PackageFailed("P1", "connect refused", sent=False))
    assert after.free_failures == m.FREE_RETRIES_PER_RUN
    assert commands == (FetchPackage("P1", 1),)

    # Out of free retries: given back all the same, and the month waits for the next run.
    spent = evolve(state, free_failures=m.FREE_RETRIES_PER_RUN)
    after, commands = transition(spent, PackageFailed("P1", "connect refused", sent=False))
    assert commands == ()
    assert after == evolve(
        spent,
        stage=Stage.NEEDS_ATTENTION,
        downloads=(("P2", 1), ("P1", 0)),
        failed_this_run=("P1",),
        reason="downloading package P1 failed: connect refused",
        hint="run the same command again to download it once more (2 of 2 SAT downloads left)",
        resume_to=Stage.COMPLETED,
    )


# ------------------------------------------------------------------ downloads not surely spent
# Newcomer 9c #1: a package GET answered 500 by a fault BEFORE the server acted was counted as a
# spent SAT download; after two, "no SAT download left" was stated as a fact and the user paid
# for a resend while SAT still served the package. A count is unsure until something shows the
# GET reached SAT; a full count not surely spent offers one user-confirmed GET first.


def counted(used: int, unsure: int) -> str:
    return (
        f"{used} downloads counted, {unsure} of them may not have reached SAT (no byte of the "
        "package arrived: an error, a lost answer or a stopped run)"
    )


RETRY_HINT = (
    "SAT may serve package P1 once more: first `gigstack-async journal retry-download "
    "2024-01` (it allows one more download, then run the same command again; if SAT already "
    "served it twice it answers 5008, which bills nothing); only if that fails, "
    "`gigstack-async journal resend 2024-01` requests the month again (a new request may be "
    "billed)"
)
# Newcomer 9j F6: once a GET beyond SAT's two was sent and failed too, the texts say that
# another may be SAT's third (5008, unbilled) and that a new request is then the way on.
RETRY_AGAIN_HINT = (
    "one more download of package P1 bills nothing but may be SAT's third, which SAT refuses "
    "with 5008: `gigstack-async journal retry-download 2024-01` allows it (then run the same "
    "command again); once SAT answers 5008, or to stop trying, the way on is a new request: "
    "`gigstack-async journal resend 2024-01` requests the month again (it may be billed)"
)


def counted_again(used: int, unsure: int) -> str:
    sure = "none surely reached SAT" if used == unsure else f"{used - unsure} surely reached SAT"
    return (
        f"{used} downloads counted ({used - 2} more than SAT's 2, allowed with `journal "
        f"retry-download`), {sure}: for {unsure} no byte of the package arrived (an error, a "
        "lost answer or a stopped run), which may come before SAT serves a package or after "
        "it, so SAT may already have served it twice"
    )


ONE_PACKAGE = evolve(COMPLETED, package_ids=("P1",))
IN_FLIGHT = evolve(ONE_PACKAGE, downloads=(("P1", 1),), unsure=(("P1", 1),))
"""SAT's first download of P1 has left; nothing is known of it yet."""


@pytest.mark.parametrize(
    ("obs", "after", "commands"),
    [
        (  # its bytes arrived: surely reached SAT
            PackageStaged(F1),
            evolve(IN_FLIGHT, stage=Stage.STAGED, staged=(F1,), unsure=(("P1", 0),)),
            (ExtractPackage("P1", F1.path),),
        ),
        (  # a 200 that broke off: SAT served it, one download is surely spent
            PackageFailed("P1", "truncated body", reached=True),
            evolve(
                IN_FLIGHT,
                stage=Stage.NEEDS_ATTENTION,
                unsure=(("P1", 0),),
                failed_this_run=("P1",),
                reason="downloading package P1 failed: truncated body",
                hint="run the same command again to download it once more (1 of 2 SAT "
                "downloads left)",
                resume_to=Stage.COMPLETED,
            ),
            (),
        ),
        (  # a 500 before any byte: counted, still unsure, and the hint says "at least"
            PackageFailed("P1", "HTTP 500"),
            evolve(
                IN_FLIGHT,
                stage=Stage.NEEDS_ATTENTION,
                failed_this_run=("P1",),
                reason="downloading package P1 failed: HTTP 500",
                hint="run the same command again to download it once more (at least 1 of 2 SAT "
                "downloads left)",
                resume_to=Stage.COMPLETED,
            ),
            (),
        ),
        (  # SAT's own word: the downloads are spent, none is unsure any more
            PackageFailed("P1", "5008", code=5008),
            evolve(
                IN_FLIGHT,
                stage=Stage.NEEDS_ATTENTION,
                unsure=(),
                reason="SAT 5008: package P1 was already downloaded the maximum times",
                hint=RESEND_HINT,
                resume_to=None,
            ),
            (),
        ),
        (
            PackageFailed("P1", "gone", code=5007),
            evolve(
                IN_FLIGHT,
                stage=Stage.EXPIRED,
                expired=("R1",),
                unsure=(("P1", 0),),
                reason="SAT 5007: package P1 no longer exists",
                hint="SAT keeps packages 72 h; request the month again with `gigstack-async "
                "journal resend 2024-01` (a new request may be billed)",
            ),
            (),
        ),
        (  # never sent (a connect failure): given back, count and unsure alike
            PackageFailed("P1", "connect refused", sent=False),
            evolve(IN_FLIGHT, downloads=(("P1", 0),), unsure=(("P1", 0),), free_failures=1),
            (FetchPackage("P1", 1),),
        ),
    ],
)
def test_a_download_outcome_settles_whether_it_reached_sat(
    obs: m.Observation, after: MonthState, commands: tuple[m.Command, ...]
) -> None:
    assert transition(IN_FLIGHT, obs) == (after, commands)


SECOND_FAILED = evolve(ONE_PACKAGE, downloads=(("P1", 2),), failed_this_run=("P1",))


@pytest.mark.parametrize(
    ("unsure", "obs", "unsure_after", "reason"),
    [
        # first download truncated (sure), the second answered 500 before any byte
        ((("P1", 1),), PackageFailed("P1", "HTTP 500"), (("P1", 1),), counted(2, 1)),
        # both answered 5xx: neither surely reached SAT
        ((("P1", 2),), PackageFailed("P1", "HTTP 502"), (("P1", 2),), counted(2, 2)),
        # the first answered 500, the second broke off after SAT served it
        (
            (("P1", 2),),
            PackageFailed("P1", "truncated body", reached=True),
            (("P1", 1),),
            counted(2, 1),
        ),
    ],
)
def test_a_full_count_not_surely_spent_says_so_and_offers_one_more_get_before_a_resend(
    unsure: tuple[tuple[str, int], ...],
    obs: PackageFailed,
    unsure_after: tuple[tuple[str, int], ...],
    reason: str,
) -> None:
    state = evolve(SECOND_FAILED, failed_this_run=(), unsure=unsure)
    after, commands = transition(state, obs)
    assert commands == ()
    assert after == evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        unsure=unsure_after,
        failed_this_run=("P1",),
        reason=f"downloading package P1 failed: {obs.message}; {reason}",
        hint=RETRY_HINT,
        resume_to=None,
        blocked_package="P1",
    )
    assert "no SAT download left" not in f"{after.reason} {after.hint}"
    # No third GET on the next run without the user's word.
    assert transition(after, Start())[1] == ()


def test_two_downloads_that_surely_reached_sat_keep_the_resend_hint() -> None:
    state = evolve(ONE_PACKAGE, downloads=(("P1", 2),), unsure=(("P1", 1),))
    after, _ = transition(state, PackageFailed("P1", "truncated body", reached=True))
    assert after == evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        unsure=(("P1", 0),),
        failed_this_run=("P1",),
        reason="downloading package P1 failed: truncated body",
        hint="no SAT download left: `gigstack-async journal resend 2024-01` requests the month "
        "again (a new request may be billed)",
        resume_to=None,
    )
    with pytest.raises(TransitionError):
        transition(after, m.AllowDownload())


def test_a_full_count_without_a_staged_copy_offers_one_more_get_when_unsure() -> None:
    # A run killed while its second GET was in flight: counted, never heard of.
    state = evolve(ONE_PACKAGE, confirmed_id="R1", downloads=(("P1", 2),), unsure=(("P1", 1),))
    looked, commands = transition(state, Start())
    assert commands == (m.FindStaged("P1"),)
    after, commands = transition(looked, m.StagedMissing("P1"))
    assert commands == ()
    assert after == evolve(
        looked,
        stage=Stage.NEEDS_ATTENTION,
        reason=f"package P1: {counted(2, 1)}, and no complete copy is staged on disk; SAT "
        "serves a package at most twice, so no more download is sent without your word",
        hint=RETRY_HINT,
        resume_to=None,
        blocked_package="P1",
    )


BLOCKED = evolve(
    SECOND_FAILED,
    stage=Stage.NEEDS_ATTENTION,
    unsure=(("P1", 1),),
    reason=f"downloading package P1 failed: HTTP 500; {counted(2, 1)}",
    hint=RETRY_HINT,
    blocked_package="P1",
)


def test_the_user_allows_exactly_one_more_get_of_the_package_it_stopped_at() -> None:
    allowed, commands = transition(BLOCKED, m.AllowDownload())
    assert commands == ()
    assert allowed == evolve(
        BLOCKED,
        stage=Stage.COMPLETED,
        granted=(("P1", 1),),
        blocked_package=None,
        failed_this_run=(),
        reason=f"the user allowed one more download of package P1 ({counted(2, 1)})",
        hint=None,
    )
    assert transition(BLOCKED, m.AllowDownload("P1")) == (allowed, ())
    # A second word before the allowed GET was sent allows nothing more.
    with pytest.raises(TransitionError):
        transition(allowed, m.AllowDownload())

    # The next run sends it, as the package's third GET, once.
    state = evolve(allowed, confirmed_id="R1")
    assert transition(state, Start())[1] == (FetchPackage("P1", 3),)
    sent, _ = transition(state, PackageSending("P1"))
    assert (sent.downloads, sent.unsure) == ((("P1", 3),), (("P1", 2),))
    assert transition(sent, PackageSending("P1")) == (sent, ())  # no fourth

    # SAT had served it twice: 5008, nothing billed, the resend hint stated as a fact.
    refused, _ = transition(sent, PackageFailed("P1", "5008", code=5008))
    assert refused == evolve(
        sent,
        stage=Stage.NEEDS_ATTENTION,
        unsure=(),
        reason="SAT 5008: package P1 was already downloaded the maximum times",
        hint=RESEND_HINT,
        resume_to=None,
    )
    with pytest.raises(TransitionError, match="it did not stop at a package"):
        transition(refused, m.AllowDownload())

    # It fails before any byte again: still unsure, the user may allow one more.
    again, _ = transition(sent, PackageFailed("P1", "HTTP 500"))
    assert (again.stage, again.blocked_package, again.hint) == (
        Stage.NEEDS_ATTENTION,
        "P1",
        RETRY_AGAIN_HINT,  # was: "SAT may serve package P1 once more", as before the 3rd GET
    )
    # was: "3 downloads counted, 2 of them may not have reached SAT"
    assert again.reason == f"downloading package P1 failed: HTTP 500; {counted_again(3, 2)}"
    assert "may be SAT's third" in (again.hint or "")


NOT_STOPPED = (
    "is {stage}{why}: it did not stop at a package SAT may still serve, so there is no download "
    "to allow (see `gigstack-async journal show 2024-01`)"
)


@pytest.mark.parametrize(
    ("state", "obs", "message"),
    [
        (  # still running: the machine asks for the user only once it stopped
            evolve(BLOCKED, stage=Stage.COMPLETED, reason=None),
            m.AllowDownload(),
            "2024-01 " + NOT_STOPPED.format(stage="completed", why=""),
        ),
        (  # needs attention for another reason (its content is not the month's)
            evolve(BLOCKED, blocked_package=None, reason="not this month's CFDIs"),
            m.AllowDownload(),
            "2024-01 "
            + NOT_STOPPED.format(stage="needs-attention", why=" (not this month's CFDIs)"),
        ),
        (  # the package was extracted since
            evolve(BLOCKED, extracted=(ExtractedPackage("P1", ("A.xml",)),), reason=None),
            m.AllowDownload(),
            "2024-01 " + NOT_STOPPED.format(stage="needs-attention", why=""),
        ),
        (  # the user's extra GET is still unsent
            evolve(BLOCKED, granted=(("P1", 1),), reason=None),
            m.AllowDownload(),
            "2024-01 " + NOT_STOPPED.format(stage="needs-attention", why=""),
        ),
        (  # another package than the one it stopped at
            evolve(BLOCKED, reason=None),
            m.AllowDownload("P2"),
            "2024-01 " + NOT_STOPPED.format(stage="needs-attention", why=""),
        ),
        (  # resent meanwhile: the old package is not the month's any more
            transition(BLOCKED, AllowResend(force=True))[0],
            m.AllowDownload(),
            "2024-01 "
            + NOT_STOPPED.format(stage="planned", why=" (the user allowed a new create request)"),
        ),
        (  # both downloads surely reached SAT: only a resend helps
            evolve(BLOCKED, unsure=(("P1", 0),)),
            m.AllowDownload(),
            "2024-01: package P1 was downloaded 2 times and SAT surely served it twice (it sent "
            "bytes, or answered 5008), so one more download would only be refused with SAT "
            "5008. `gigstack-async journal resend 2024-01` requests the month again (a new "
            "request may be billed)",
        ),
        (  # an older journal lists no unsure download: every counted one is sure
            evolve(BLOCKED, unsure=()),
            m.AllowDownload(),
            "2024-01: package P1 was downloaded 2 times and SAT surely served it twice",
        ),
    ],
)
def test_one_more_get_is_refused_where_it_cannot_help(
    state: MonthState, obs: m.AllowDownload, message: str
) -> None:
    with pytest.raises(TransitionError) as refused:
        transition(state, obs)
    assert str(refused.value).startswith(message)


def test_counts_tell_sure_from_unsure_downloads() -> None:
    state = evolve(
        COMPLETED,
        downloads=(("P1", 2), ("P2", 1), ("P3", 2)),
        unsure=(("P1", 1), ("P2", 4)),  # P2's damaged record is capped at its count
        granted=(("P3", 1),),
    )
    assert [
        (state.sure_of(p), state.unsure_of(p), state.allowed_of(p)) for p in ("P1", "P2", "P3")
    ] == [
        (1, 1, 2),
        (0, 1, 2),
        (2, 0, 3),
    ]
    assert m.counted_downloads(state, "P1") == counted(2, 1)
    assert m.counted_downloads(evolve(state, downloads=(("P1", 1),)), "P1") == (
        "1 download counted, 1 of them may not have reached SAT (no byte of the package "
        "arrived: an error, a lost answer or a stopped run)"
    )


# ------------------------------------------------------------------ polling failures


@pytest.mark.parametrize(
    ("state", "failures", "commands"),
    [
        (SUBMITTED, 1, ()),
        (evolve(SUBMITTED, poll_failures=1), 2, ()),
        (
            evolve(SUBMITTED, poll_failures=2),
            3,
            (
                Warn(
                    "2024-01: polling request R1 failed 3 times in a row (timeout); the other "
                    "months go on"
                ),
            ),
        ),
        (evolve(SUBMITTED, poll_failures=3), 4, ()),  # warned once, not at every failure
        (evolve(SUBMITTED, poll_failures=4), 5, ()),  # not a 'not found': keep waiting
        # a waiting month that asked the status is still polled, not asked again
        (evolve(SUBMITTED, stage=Stage.PROCESSING, status_asked=True), 1, ()),
        # a completed month with package ids waits on nothing: counted only
        (evolve(COMPLETED, poll_failures=1), 2, ()),
    ],
)
def test_polling_failures_are_counted_and_warned_about_once(
    state: MonthState, failures: int, commands: tuple[m.Command, ...]
) -> None:
    assert transition(state, PollFailed("timeout")) == (
        evolve(state, poll_failures=failures),
        commands,
    )


@pytest.mark.parametrize("stage", [Stage.PLANNED, Stage.SUBMITTING, Stage.DONE, Stage.STAGED])
def test_a_polling_failure_outside_waiting_stages_changes_nothing(stage: Stage) -> None:
    state = evolve(SUBMITTED, stage=stage)
    assert transition(state, PollFailed("timeout", not_found=True)) == (state, ())


def test_a_request_not_found_five_times_in_a_row_needs_attention() -> None:
    almost = evolve(SUBMITTED, poll_failures=3)
    assert transition(almost, PollFailed("404", not_found=True)) == (
        evolve(almost, poll_failures=4),
        (),
    )
    state = evolve(SUBMITTED, poll_failures=4)
    after, commands = transition(state, PollFailed("404 not found", not_found=True))
    assert after == evolve(
        state,
        poll_failures=5,
        stage=Stage.NEEDS_ATTENTION,
        reason="the server answered 'not found' for request R1 5 times in a row (404 not found)",
        hint="if you find the month's request in gigstack's dashboard, `gigstack-async journal "
        "adopt 2024-01 <request id>`; else `gigstack-async journal resend 2024-01` (a new "
        "request may be billed)",
        resume_to=None,
    )
    assert commands == (Warn("2024-01: request R1 not found; the month needs attention"),)


def test_a_failed_status_call_of_a_completed_month_is_asked_again_then_needs_attention() -> None:
    state = evolve(COMPLETED, package_ids=None, status_asked=True)
    first, commands = transition(state, PollFailed("503"))
    assert (first, commands) == (evolve(state, poll_failures=1), (FetchStatus("R1"),))
    second, commands = transition(first, PollFailed("503"))
    assert (second, commands) == (evolve(state, poll_failures=2), (FetchStatus("R1"),))
    third, commands = transition(second, PollFailed("503 again"))
    assert commands == ()
    assert third == evolve(
        state,
        poll_failures=3,
        stage=Stage.NEEDS_ATTENTION,
        reason="SAT completed the request but asking its status failed 3 times (503 again)",
        hint="run the same command again later: the status is asked again",
        resume_to=Stage.COMPLETED,
    )


# ------------------------------------------------------------------ journal adopt


@pytest.mark.parametrize("stage", [Stage.DONE, Stage.EMPTY, Stage.STAGED])
def test_adopt_refuses_a_month_that_has_its_files(stage: Stage) -> None:
    with pytest.raises(TransitionError) as raised:
        transition(evolve(COMPLETED, stage=stage), Adopt("R9"))
    assert str(raised.value) == f"2024-01 is {stage.value}: nothing to adopt"


def test_adopt_refuses_a_month_whose_create_is_in_flight() -> None:
    in_flight = evolve(PLANNED, stage=Stage.SUBMITTING, creates=1, unknown=False)
    with pytest.raises(TransitionError) as raised:
        transition(in_flight, Adopt("R9"))
    assert str(raised.value) == "2024-01 has a create request in flight"


def adopted(state: MonthState, request_id: str, known_ids: tuple[str, ...]) -> MonthState:
    """What `journal adopt` makes of a month: the request starts over from submitted, with
    nothing of the old request's packages, and the user's word counts as the check and as
    the request's kind (`typed`; `vouched` carries it over the next run's `Start`).

    Asserted as the whole journal record. `checked`, `status_asked` and `resume_to` written
    here are recomputed or ignored by the next run's `Start` today, so the record, not a
    behaviour, is what pins them. The open day: the month's last request's own when it adopts
    that one back, else another request's whose createdAt is unknown, so the month's last day,
    unproven (review 9n #4: unknown never means "after")."""
    back = bool(state.known_ids) and state.known_ids[-1] == request_id
    day, unproven = (
        (state.open_day, state.open_day_unproven)
        if back
        else m.taken_open_day(state.start, state.end, None, None)
    )
    return evolve(
        state,
        open_day=day,
        open_day_unproven=unproven,
        stage=Stage.SUBMITTED,
        confirmed_id=request_id,
        checked=True,
        typed=True,
        vouched=True,
        request_id=request_id,
        known_ids=known_ids,
        unknown=False,
        resume_to=None,
        sat_state=None,
        invoice_count=None,
        package_ids=None,
        status_asked=False,
        staged=(),
        extracted=(),
        reason=f"request {request_id} adopted by the user",
        hint=None,
    )


UNKNOWN_OUTCOME = evolve(
    PLANNED,
    stage=Stage.NEEDS_ATTENTION,
    known_ids=("R0",),
    creates=2,
    resend_allowed=False,
    unknown=True,
    reason="a create request may have been billed but the history cannot tell which",
    hint="journal adopt or journal resend",
)


@pytest.mark.parametrize(
    ("state", "request_id", "known_ids", "released"),
    [
        (UNKNOWN_OUTCOME, "R5", ("R0", "R5"), ()),
        (evolve(UNKNOWN_OUTCOME, stage=Stage.SUBMITTING), "R5", ("R0", "R5"), ()),
        # an id it knew already (the user found the old request after all): listed once
        (UNKNOWN_OUTCOME, "R0", ("R0",), ()),
        # another request than the one the month follows: its packages are not this one's
        # ... and the one it leaves is released, with the SAT download spent on its package
        (
            evolve(COMPLETED, downloads=(("P1", 1), ("P9", 2))),
            "R2",
            ("R1", "R2"),
            (m.ReleasedRequest("R1", (("P1", 1),)),),
        ),
        # extraction failed (disk full), the user follows another request: nothing of the
        # old request's packages is extracted or kept staged for the new one
        (
            evolve(
                COMPLETED,
                stage=Stage.NEEDS_ATTENTION,
                resume_to=Stage.STAGED,
                staged=(F2,),
                extracted=(ExtractedPackage("P1", ("A.xml",)),),
            ),
            "R2",
            ("R1", "R2"),
            (m.ReleasedRequest("R1"),),
        ),
        # 'not found' five times (nothing to resume): the same id starts over as submitted
        (
            evolve(SUBMITTED, stage=Stage.NEEDS_ATTENTION, reason="not found", hint="adopt"),
            "R1",
            ("R1",),
            (),
        ),
        (evolve(COMPLETED, stage=Stage.EXPIRED, hint="resend"), "R1", ("R1",), ()),
        # a failed download the next run would resume: the user follows another request
        (
            evolve(COMPLETED, stage=Stage.NEEDS_ATTENTION, resume_to=Stage.COMPLETED),
            "R2",
            ("R1", "R2"),
            (m.ReleasedRequest("R1"),),
        ),
        (
            evolve(SUBMITTED, stage=Stage.SAT_FAILED, sat_code=5002, status_asked=True),
            "R3",
            ("R1", "R3"),
            (m.ReleasedRequest("R1"),),
        ),
    ],
)
def test_adopt_follows_the_request_the_user_names(
    state: MonthState,
    request_id: str,
    known_ids: tuple[str, ...],
    released: tuple[m.ReleasedRequest, ...],
) -> None:
    after, commands = transition(state, Adopt(request_id))
    # The left request's staged packages are never extracted: their ZIPs go (review 9c).
    assert commands == tuple(DeleteStaged(s.path) for s in state.staged)
    assert after == evolve(adopted(state, request_id, known_ids), released=released)


@pytest.mark.parametrize(
    ("state", "stage"),
    [
        (COMPLETED, Stage.COMPLETED),
        (evolve(SUBMITTED, stage=Stage.PROCESSING, checked=False), Stage.PROCESSING),
        (
            evolve(
                COMPLETED,
                stage=Stage.NEEDS_ATTENTION,
                resume_to=Stage.COMPLETED,
                checked=False,
                downloads=(("P1", 1),),
                hint="confirm it with journal adopt",
            ),
            Stage.COMPLETED,
        ),
    ],
)
def test_adopt_of_the_months_own_request_confirms_it_and_keeps_its_progress(
    state: MonthState, stage: Stage
) -> None:
    after, commands = transition(state, Adopt("R1"))
    assert commands == ()
    assert after == evolve(
        state,
        stage=stage,
        resume_to=None,
        confirmed_id="R1",
        checked=True,
        typed=True,
        vouched=True,
        reason="request R1 confirmed by the user",
        hint=None,
    )
    # Confirmed at every Start from now on: its packages are downloaded.
    if stage is Stage.COMPLETED:
        assert transition(after, Start())[1] == (FetchPackage("P1", after.downloads_of("P1") + 1),)


# ------------------------------------------------------------------ journal resend


def resent(state: MonthState) -> MonthState:
    # A month done (or empty) for its dates keeps them as its own part: a 5002 for wider dates
    # must not ask for them again.
    kept = state.stage in (Stage.DONE, Stage.EMPTY)
    return evolve(
        state,
        own_part=m.OwnPart(state.start, state.end, state.files, state.invoice_count)
        if kept
        else state.own_part,
        stage=Stage.PLANNED,
        request_id=None,
        duplicate=False,
        resend_allowed=True,
        resend_for=(state.start, state.end),
        unknown=False,
        resume_to=None,
        sat_state=None,
        invoice_count=None,
        package_ids=None,
        status_asked=False,
        staged=(),
        extracted=(),
        sat_code=None,
        reason="the user allowed a new create request",
        hint=None,
    )


@pytest.mark.parametrize(
    "state",
    [
        evolve(
            COMPLETED, stage=Stage.EXPIRED, duplicate=True, hint="resend", downloads=(("P1", 1),)
        ),
        evolve(SUBMITTED, stage=Stage.SAT_FAILED, sat_code=5011, status_asked=True),
        evolve(SUBMITTED, stage=Stage.SAT_FAILED, sat_code=5003),
        evolve(COMPLETED, stage=Stage.NEEDS_ATTENTION, resume_to=Stage.COMPLETED, staged=(F1,)),
        UNKNOWN_OUTCOME,
        evolve(UNKNOWN_OUTCOME, stage=Stage.SUBMITTING),
        evolve(PLANNED, stage=Stage.REFUSED, resend_allowed=False, creates=1),
        # a month asked for fewer days than the plan's: the user may ask the plan's dates
        evolve(COMPLETED, stage=Stage.DONE, extracted=(ExtractedPackage("P1", ("A.xml",)),)),
        evolve(COMPLETED, stage=Stage.EMPTY, invoice_count=0, sat_code=5004),
        # adopted after a 5002 on another request, then expired: the old code does not count
        evolve(COMPLETED, stage=Stage.EXPIRED, sat_code=5002),
    ],
)
def test_resend_plans_the_month_again_and_the_next_send_creates_it(state: MonthState) -> None:
    # A month a re-run could still finish is resent only with force (see test_machine_requests).
    force = state.stage is Stage.NEEDS_ATTENTION
    after, commands = transition(state, AllowResend(force=force))
    # A staged package of the dropped request is deleted, not left behind (review 9b).
    assert commands == tuple(DeleteStaged(f.path) for f in state.staged)
    assert after == resent(state)
    assert after.known_ids == state.known_ids  # never adopted again
    created, commands = transition(after, Send(history_ids=()))
    assert commands == (m.SendCreate(KEY),)
    assert created.creates == state.creates + 1


@pytest.mark.parametrize(
    "state",
    [
        PLANNED,
        evolve(PLANNED, stage=Stage.SUBMITTING, creates=1, unknown=False),
        SUBMITTED,
        evolve(SUBMITTED, stage=Stage.PROCESSING),
        COMPLETED,
        evolve(COMPLETED, stage=Stage.STAGED, staged=(F1,)),
    ],
)
def test_resend_refuses_a_month_that_is_still_on_its_way(state: MonthState) -> None:
    with pytest.raises(TransitionError) as raised:
        transition(state, AllowResend())
    assert str(raised.value) == (
        f"2024-01 is {state.stage.value}: only expired, failed, refused or needs-attention "
        "months can be sent again"
    )


def test_resend_refuses_a_month_whose_sat_limit_is_exhausted() -> None:
    state = evolve(SUBMITTED, stage=Stage.SAT_FAILED, sat_code=5002)
    with pytest.raises(TransitionError) as raised:
        transition(state, AllowResend())
    assert str(raised.value) == (
        "2024-01: SAT 5002 says its limit of requests for 2024-01-01..2024-01-31 is exhausted, so "
        "a resend with these dates would be refused. Run `sat download` for this month with other "
        "dates instead, each range into another --out folder (e.g. `gigstack-async sat download "
        "--from 2024-01-01 --to 2024-01-16 --rfc-type received --out <out>-2024-01a` and "
        "`gigstack-async sat download --from 2024-01-17 --to 2024-01-31 --rfc-type received --out "
        "<out>-2024-01b`, with the other options you ran with, e.g. --team), then `gigstack-async "
        "journal split 2024-01 <out>-2024-01a <out>-2024-01b`: a plan with different dates is a "
        "new request for SAT (it may be billed)"
    )


def test_other_dates_after_sat_5002_are_new_criteria() -> None:
    state = evolve(SUBMITTED, stage=Stage.SAT_FAILED, sat_code=5002)
    after, commands = transition(state, AllowResend(date(2024, 1, 1), date(2024, 1, 30)))
    assert commands == ()
    assert (after.stage, after.start, after.end) == (
        Stage.PLANNED,
        date(2024, 1, 1),
        date(2024, 1, 30),
    )
    assert after.reason == "the plan asks for new dates 2024-01-01..2024-01-30: a new request"


# ------------------------------------------------------------------ a staged copy that is unusable


def test_an_unusable_staged_copy_is_dropped_and_downloaded_again_while_budget_is_left() -> None:
    # Review 9c: a staged ZIP that is gone or not the recorded bytes was "extracted again"
    # forever (needs-attention, same hint every run).
    state = evolve(COMPLETED, stage=Stage.STAGED, staged=(F1, F2), downloads=(("P1", 1),))
    after, commands = transition(state, m.StagedLost("P1", "sha256 differs"))
    assert after.stage is Stage.COMPLETED
    assert after.staged == (F2,)
    assert "unusable" in (after.reason or "")
    assert commands == (DeleteStaged(F1.path), FetchPackage("P1", 2))


def test_an_unusable_last_copy_is_looked_for_then_needs_attention() -> None:
    state = evolve(COMPLETED, stage=Stage.STAGED, staged=(F1,), downloads=(("P1", 2),))
    after, commands = transition(state, m.StagedLost("P1", "gone"))
    assert commands == (DeleteStaged(F1.path), m.FindStaged("P1"))
    final, _ = transition(after, m.StagedMissing("P1"))
    assert final.stage is Stage.NEEDS_ATTENTION
    assert "journal resend" in (final.hint or "")


def test_staged_lost_outside_staged_changes_nothing() -> None:
    assert transition(COMPLETED, m.StagedLost("P1", "gone")) == (COMPLETED, ())


def test_an_unusable_staged_copy_is_recorded_with_the_reason_and_nothing_else_changes() -> None:
    state = evolve(
        COMPLETED,
        stage=Stage.STAGED,
        staged=(F1, F2),
        downloads=(("P1", 1), ("P2", 1)),
        confirmed_id="R1",
    )
    after, commands = transition(state, m.StagedLost("P2", "/out/.staging/P2.zip: gone"))
    assert after == evolve(
        state,
        stage=Stage.COMPLETED,
        staged=(F1,),
        reason="the staged copy of package P2 is unusable: /out/.staging/P2.zip: gone",
    )
    assert commands == (DeleteStaged(F2.path), FetchPackage("P2", 2))


def test_an_unusable_copy_of_an_unchecked_request_is_not_downloaded_again_yet() -> None:
    # After a restart only a history that lists the request (or the user's adopt) checks it:
    # no package of an unchecked request is fetched, not even the one it had.
    state = evolve(
        COMPLETED, stage=Stage.STAGED, staged=(F1,), downloads=(("P1", 1),), checked=False
    )
    after, commands = transition(state, m.StagedLost("P1", "gone"))
    assert (after.stage, after.staged) == (Stage.COMPLETED, ())
    assert commands == (DeleteStaged(F1.path),)


@pytest.mark.parametrize(
    "state",
    [
        evolve(COMPLETED, stage=Stage.STAGED, staged=(F2,)),  # P1 is not staged
        evolve(COMPLETED, stage=Stage.NEEDS_ATTENTION, resume_to=Stage.STAGED, staged=(F1,)),
        evolve(COMPLETED, stage=Stage.DONE, staged=(F1,)),
    ],
)
def test_staged_lost_that_does_not_fit_the_month_changes_nothing(state: MonthState) -> None:
    assert transition(state, m.StagedLost("P1", "gone")) == (state, ())


@pytest.mark.parametrize(
    "state",
    [
        evolve(COMPLETED, downloads=(("P1", 1),)),  # a download is left: the GET is sent
        evolve(COMPLETED, downloads=()),
        evolve(COMPLETED, stage=Stage.STAGED, downloads=(("P1", 2),)),
        evolve(COMPLETED, stage=Stage.NEEDS_ATTENTION, downloads=(("P1", 2),)),
    ],
)
def test_staged_missing_needs_attention_only_for_a_spent_package_of_a_completed_month(
    state: MonthState,
) -> None:
    assert transition(state, m.StagedMissing("P1")) == (state, ())


def test_staged_missing_says_how_many_downloads_were_spent() -> None:
    state = evolve(COMPLETED, downloads=(("P2", 3),))  # an older journal may hold more
    after, _ = transition(state, m.StagedMissing("P2"))
    assert after.reason == (
        "package P2 was already downloaded 3 times and no complete copy is staged on disk; SAT "
        "serves a package at most twice, so a third download was not sent"
    )


# ------------------------------------------------------------------ a package of another request

CONTENT_REASON = (
    "package P1 of request R1 does not hold this month's CFDIs (3 CFDIs issued 2023-05-02.."
    "2023-05-30), so request R1 is not the month's received cfdi request for "
    "2024-01-01..2024-01-31 (the server's request ids may have restarted, or another request's "
    "id was adopted); nothing was extracted"
)


def test_a_package_of_another_request_is_not_extracted_and_the_month_needs_the_user() -> None:
    # Review 9b #4/#5: a reused or mistyped request id put another request's CFDIs in the month.
    state = evolve(
        COMPLETED,
        stage=Stage.STAGED,
        staged=(F1, F2),
        downloads=(("P1", 1), ("P2", 1)),
        confirmed_id="R1",
        typed=True,
    )
    after, commands = transition(
        state, m.ContentRejected("P1", "3 CFDIs issued 2023-05-02..2023-05-30")
    )
    assert after == evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        reason=CONTENT_REASON,
        hint="find the month's request in gigstack's dashboard (Descarga Masiva, by its dates "
        "and type) and `gigstack-async journal adopt 2024-01 <request id>`; if it is not there, "
        "`gigstack-async journal resend 2024-01` (a new request may be billed). Request R1 is "
        "released from 2024-01: if its CFDIs are another month's of this journal, adopt it "
        "there (`journal adopt` with that month and R1)",
        resume_to=None,
        staged=(),
        checked=False,
        confirmed_id=None,
        # R1 is not the month's: another month may adopt it, with the downloads it spent.
        released=(m.ReleasedRequest("R1", (("P1", 1), ("P2", 1))),),
    )
    # Every package of that request goes, none is extracted; the user is told.
    assert commands == (
        DeleteStaged(F1.path),
        DeleteStaged(F2.path),
        Warn(f"2024-01: {CONTENT_REASON}"),
    )
    assert after.downloads == state.downloads  # SAT's downloads stay spent
    # Nothing more for this month in the next run until the user acts.
    assert transition(after, Start()) == (evolve(after, typed=False), ())


def test_a_rejected_package_names_the_files_its_request_already_put_in_the_folder() -> None:
    # P0 and P1 passed their check and were extracted; P2 of the same request does not hold
    # the month's CFDIs. The reason must not say "nothing was extracted", and the user learns
    # what to check.
    state = evolve(
        COMPLETED,
        stage=Stage.STAGED,
        staged=(F2,),
        package_ids=("P0", "P1", "P2"),
        extracted=(ExtractedPackage("P0", ("A.xml", "B.xml")), ExtractedPackage("P1", ("C.xml",))),
        downloads=(("P0", 1), ("P1", 1), ("P2", 1)),
    )
    after, commands = transition(state, m.ContentRejected("P2", "metadata TXT"))
    reason = (
        "package P2 of request R1 does not hold this month's CFDIs (metadata TXT), so request R1 "
        "is not the month's received cfdi request for 2024-01-01..2024-01-31 (the server's "
        "request ids may have restarted, or another request's id was adopted); nothing was "
        "extracted from it, but the 3 files of its package(s) P0, P1, extracted earlier, are in "
        "the month's folder"
    )
    assert after.reason == reason
    assert after.hint == (
        "check the files of package(s) P0, P1 in the month's folder and remove those that are "
        "not the month's; then find the month's request in gigstack's dashboard (Descarga Masiva, "
        "by its dates and type) and `gigstack-async journal adopt 2024-01 <request id>`; if it "
        "is not there, `gigstack-async journal resend 2024-01` (a new request may be billed). "
        "Request R1 is released from 2024-01: if its CFDIs are another month's of this "
        "journal, adopt it there (`journal adopt` with that month and R1)"
    )
    assert after.extracted == state.extracted  # the journal still lists them
    assert commands == (DeleteStaged(F2.path), Warn(f"2024-01: {reason}"))


@pytest.mark.parametrize(
    "state",
    [
        evolve(COMPLETED, stage=Stage.STAGED, staged=(F2,)),  # P1 is not staged
        evolve(COMPLETED, staged=(F1,)),  # completed, still downloading
        evolve(COMPLETED, stage=Stage.NEEDS_ATTENTION, resume_to=Stage.STAGED, staged=(F1,)),
    ],
)
def test_a_content_verdict_that_does_not_fit_the_month_changes_nothing(
    state: MonthState,
) -> None:
    assert transition(state, m.ContentRejected("P1", "metadata")) == (state, ())


# ------------------------------------------------------------------ 5002: dates never sent again


def test_dates_sat_refused_with_5002_are_never_resent_whatever_the_stage() -> None:
    # Review 9c #5: A refused, then B refused, then back to A: A was sent a third time.
    a = (date(2024, 1, 1), date(2024, 1, 31))
    b = (date(2024, 1, 1), date(2024, 1, 15))
    state = evolve(
        SUBMITTED,
        start=b[0],
        end=b[1],
        stage=Stage.EXPIRED,
        sat_code=None,
        exhausted=(a, b),
    )
    for dates in (a, b):
        with pytest.raises(TransitionError) as raised:
            transition(state, AllowResend(*dates))
        assert str(raised.value).startswith(
            f"2024-01: SAT 5002 says its limit of requests for {dates[0]}..{dates[1]} is "
            "exhausted, so a resend with these dates would be refused. Run `sat download` for "
            "this month with other dates instead, each range into another --out folder"
        )
    other = transition(state, AllowResend(date(2024, 1, 1), date(2024, 1, 20)))[0]
    assert (other.stage, other.start, other.end, other.exhausted) == (
        Stage.PLANNED,
        date(2024, 1, 1),
        date(2024, 1, 20),
        (a, b),  # still remembered
    )


def test_resend_of_the_plans_own_dates_after_a_5002_on_other_dates_is_allowed() -> None:
    # The month's dates were never refused: only the exhausted ranges are.
    state = evolve(
        SUBMITTED, stage=Stage.EXPIRED, exhausted=((date(2024, 1, 1), date(2024, 1, 15)),)
    )
    after, commands = transition(state, AllowResend())
    assert commands == ()
    assert after == evolve(resent(state))


def test_resend_of_a_staged_month_that_needs_the_user_deletes_the_old_requests_zips() -> None:
    state = evolve(COMPLETED, stage=Stage.NEEDS_ATTENTION, resume_to=Stage.STAGED, staged=(F1, F2))
    after, commands = transition(
        state, AllowResend(date(2024, 1, 2), date(2024, 1, 31), force=True)
    )
    assert commands == (DeleteStaged(F1.path), DeleteStaged(F2.path))
    assert after == evolve(
        resent(state),
        start=date(2024, 1, 2),
        resend_for=(date(2024, 1, 2), date(2024, 1, 31)),
        reason="the plan asks for new dates 2024-01-02..2024-01-31: a new request",
    )


@pytest.mark.parametrize(
    ("exhausted", "remembered"),
    [
        ((), ((date(2024, 1, 1), date(2024, 1, 31)),)),
        (
            ((date(2024, 1, 1), date(2024, 1, 15)),),
            ((date(2024, 1, 1), date(2024, 1, 15)), (date(2024, 1, 1), date(2024, 1, 31))),
        ),
        # the same range twice is remembered once
        (((date(2024, 1, 1), date(2024, 1, 31)),), ((date(2024, 1, 1), date(2024, 1, 31)),)),
    ],
)
def test_a_5002_remembers_the_months_dates_once(
    exhausted: tuple[tuple[date, date], ...], remembered: tuple[tuple[date, date], ...]
) -> None:
    state = evolve(SUBMITTED, exhausted=exhausted)
    seen = m.Seen("R1", status="failed", message="5002 límite de solicitudes agotado")
    after, _ = transition(state, StatusSeen(seen))
    assert after.stage is Stage.SAT_FAILED
    assert after.exhausted == remembered
    assert m._add_dates(remembered, date(2024, 1, 1), date(2024, 1, 31)) == remembered


# ------------------------------------------------------------------ journal adopt (edges)


def test_adopt_of_another_request_drops_the_left_requests_staged_zips() -> None:
    # Review 9c suspicion: adopting a new id left the old request's ZIP staged forever.
    state = evolve(COMPLETED, stage=Stage.NEEDS_ATTENTION, resume_to=Stage.STAGED, staged=(F1, F2))
    after, commands = transition(state, Adopt("R7"))
    assert commands == (DeleteStaged(F1.path), DeleteStaged(F2.path))
    assert (after.stage, after.staged, after.request_id) == (Stage.SUBMITTED, (), "R7")


def test_adopt_of_the_months_own_request_after_a_failed_extraction_keeps_its_staged_zip() -> None:
    state = evolve(
        COMPLETED,
        stage=Stage.NEEDS_ATTENTION,
        resume_to=Stage.STAGED,
        staged=(F1,),
        hint="free space",
    )
    after, commands = transition(state, Adopt("R1"))
    assert commands == ()
    assert (after.stage, after.staged, after.confirmed_id) == (Stage.STAGED, (F1,), "R1")


def test_adopt_of_the_same_id_with_nothing_to_resume_starts_it_over() -> None:
    # needs-attention without resume_to (e.g. its package was another request's): the same id
    # is followed from submitted again, and its spent SAT downloads stay counted.
    state = evolve(
        COMPLETED,
        stage=Stage.NEEDS_ATTENTION,
        resume_to=None,
        downloads=(("P1", 1),),
        checked=False,
        confirmed_id=None,
    )
    after, commands = transition(state, Adopt("R1"))
    assert commands == ()
    assert after.stage is Stage.SUBMITTED
    assert after.package_ids is None
    assert after.downloads == (("P1", 1),)


@pytest.mark.parametrize("adopted", ["R1", "R7"])  # the month's own request, or another one
def test_adopt_replaces_what_the_journal_saw_of_the_months_own_id(adopted: str) -> None:
    # Review 9d #1: after the server's ids restart the stored record of an id is the old
    # request's; the user's confirmation must clear it, or the id is flagged forever.
    old = m.KnownRequest(adopted, date(2023, 5, 1), date(2023, 5, 31), "issued", "cfdi", "1")
    other = m.KnownRequest("R9", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi", "2")
    state = attrs.evolve(
        SUBMITTED,
        stage=Stage.NEEDS_ATTENTION,
        resume_to=Stage.SUBMITTED,
        records=(old, other),
        reason="request now names another request",
    )
    new, _ = m.transition(state, m.Adopt(adopted))
    if adopted in state.known_ids:  # the month's own id: the pre-restart record goes
        assert new.records == (other,)
    else:  # a candidate's record, seen while the month needed the user: kept (i9-restart)
        assert new.records == (old, other)
    assert new.confirmed_id == adopted


def test_adopting_an_older_known_id_of_the_month_drops_its_stored_record() -> None:
    old = m.KnownRequest("R0", date(2023, 5, 1), date(2023, 5, 31), "issued", "cfdi", "1")
    keep = m.KnownRequest("R1", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi", "2")
    state = attrs.evolve(
        SUBMITTED,
        stage=Stage.NEEDS_ATTENTION,
        known_ids=("R0", "R1"),
        records=(old, keep),
        reason="request now names another request",
    )
    new, _ = m.transition(state, m.Adopt("R0"))
    assert (new.request_id, new.records) == ("R0", (keep,))


# ---------------------------------------------------------- the user's word is not the server's


VOUCHED = evolve(COMPLETED, server_vouched="R1")


@pytest.mark.parametrize(
    ("state", "obs"),
    [
        (VOUCHED, Adopt("R2")),  # another request: the user's word only
        (VOUCHED, Adopt("R1")),  # the same one confirmed by the user: the user's word replaces
        (evolve(VOUCHED, stage=Stage.NEEDS_ATTENTION), AllowResend()),
        (evolve(VOUCHED, stage=Stage.STAGED, staged=(F1,)), m.ContentRejected("P1", "issued")),
    ],
)
def test_adopt_resend_and_a_rejected_package_drop_the_servers_word(
    state: MonthState, obs: m.Observation
) -> None:
    new, _ = transition(state, obs)
    assert new.server_vouched is None
    assert not m.teaches_rfc(new)


@pytest.mark.parametrize(
    "obs",
    [
        PackageSending("P1"),
        PackageStaged(F1),
        Extracted("P1", ("a.xml",)),
        m.ExtractFailed("P1", "another RFC"),
        m.ContentRejected("P9", "not staged"),  # no such staged package: nothing changes
    ],
)
def test_the_package_side_keeps_the_servers_word(obs: m.Observation) -> None:
    staged = evolve(VOUCHED, stage=Stage.STAGED, staged=(F1,))
    state = staged if not isinstance(obs, PackageSending | PackageStaged) else VOUCHED
    new, _ = transition(state, obs)
    assert new.server_vouched == "R1"
    assert m.teaches_rfc(new)


def test_a_package_refused_for_its_rfc_stays_staged_and_is_extracted_by_the_next_run() -> None:
    # What `journal rfc --forget` relies on: no download, the staged copy is extracted again.
    staged = evolve(VOUCHED, stage=Stage.STAGED, staged=(F1,), extracted=())
    hint = "`gigstack-async journal rfc --set EKU9003173C9`, or adopt; resend last"
    refused, commands = transition(staged, m.ExtractFailed("P1", "another RFC", hint=hint))
    assert commands == ()
    assert (refused.stage, refused.resume_to, refused.staged) == (
        Stage.NEEDS_ATTENTION,
        Stage.STAGED,
        (F1,),
    )
    assert refused.hint == hint
    new, commands = transition(refused, Start())
    assert new.stage is Stage.STAGED
    assert commands == (ExtractPackage("P1", F1.path),)
    assert new.downloads == refused.downloads  # nothing downloaded again


# ------------------------------------------------------------------ counts this journal lost
# Review 9f #2: a month rebuilt from a log without counts, or adopted into a new journal after
# a damaged one, took SAT's spent downloads for zero, sent an unconfirmed third GET (5008) and
# then steered to a billed resend while its folder held every file.

UNCOUNTED = evolve(ONE_PACKAGE, confirmed_id="R1", uncounted=("R1",), package_ids=("P1",))
"""A month following R1, whose package downloads this journal never counted."""


def uncounted_reason(more: str = "") -> str:
    # Newcomer 9e #6: was "2 downloads counted, 2 of them may not have reached SAT (this journal
    # did not count ...)", although this journal sent none of them.
    return (
        f"both of SAT's downloads assumed spent{more}: this journal did not count the request's "
        "downloads (the month's record was lost or rebuilt, or the request was made elsewhere "
        "and adopted: into a new journal, or a held month), so it cannot tell how many SAT "
        "served; `gigstack-async journal "
        "retry-download 2024-01` checks it for free (one more download: if SAT already served "
        "the package twice it answers 5008, which bills nothing)"
    )


def test_an_uncounted_package_says_this_journal_sent_none_and_the_free_check() -> None:
    state = evolve(UNCOUNTED, downloads=(("P1", 2),), unsure=(("P1", 2),))
    assert m.counted_downloads(state, "P1") == uncounted_reason()
    assert "may not have reached SAT" not in m.counted_downloads(state, "P1")
    after = evolve(state, downloads=(("P1", 3),), unsure=(("P1", 3),))
    # Newcomer 9j F6: not "checks it for free" again once that check told nothing.
    assert m.counted_downloads(after, "P1") == (
        "both of SAT's downloads assumed spent, and 1 more sent after `journal retry-download`: "
        "this journal did not count the request's downloads (the month's record was lost or "
        "rebuilt, or the request was made elsewhere and adopted), and no byte of the package "
        "arrived since (an error, a lost answer or a stopped run, which may come before SAT "
        "serves a package or after it), so whether SAT already served it twice is still unknown"
    )
    counted = evolve(state, uncounted=())
    assert m.counted_downloads(counted, "P1") == (
        "2 downloads counted, 2 of them may not have reached SAT (no byte of the package "
        "arrived: an error, a lost answer or a stopped run)"
    )


def files_there(found: int, count: int | None, *, request: bool = True) -> str:
    """`files_notice` of request R1's month: the checked `journal keep` (never --force ready-made:
    review 9i #3) when SAT's count is known, else the dashboard and what keep cannot check."""
    held = (
        f"the month's folder already holds {found} file(s) extracted by an earlier run (before "
        "this journal lost the month's record"
    )
    if count is not None:
        return (
            f"{held}; SAT reported {count} CFDIs for request R1): if they are all there, "
            "`gigstack-async journal keep 2024-01` records the month done with them (it checks "
            "them against that count first; nothing is sent). Only if some are missing, "
        )
    if not request:  # a month rebuilt without its request: adopt leads to a checked keep
        return (
            f"{held}; SAT's count of its CFDIs is unknown here, so nothing can check them yet): "
            "adopting its request may download its packages again (each download spends one of "
            "SAT's 2): the next run asks the request's status first (free) and, only if SAT "
            "reports a count and the folder holds at least that many CFDIs, stops and offers the "
            "checked `journal keep` instead. First, "
        )
    return (
        f"{held}; SAT reported no count for request R1, so nothing can check them): compare "
        "them with the request in gigstack's dashboard (Descarga Masiva); `gigstack-async "
        "journal keep 2024-01` says what it cannot check. Only if some are missing, "
    )


@pytest.mark.parametrize(
    ("on_disk", "hint"),
    [
        (0, RETRY_HINT),
        (52, files_there(52, 5) + RETRY_HINT),
    ],
)
def test_unknown_downloads_count_as_two_unsure_and_no_get_leaves_without_the_user(
    on_disk: int, hint: str
) -> None:
    started, commands = transition(UNCOUNTED, Start(on_disk=on_disk))
    # Not a GET: SAT's two are assumed spent, so the engine looks for a staged copy first.
    assert commands == (m.FindStaged("P1"),)
    assert started == evolve(
        UNCOUNTED, on_disk=on_disk, checked=True, downloads=(("P1", 2),), unsure=(("P1", 2),)
    )
    after, commands = transition(started, m.StagedMissing("P1"))
    assert commands == ()
    assert after == evolve(
        started,
        stage=Stage.NEEDS_ATTENTION,
        reason=f"package P1: {uncounted_reason()}, and no complete copy is staged on disk; "
        "SAT serves a package at most twice, so no more download is sent without your word",
        hint=hint,
        blocked_package="P1",
    )
    # `journal retry-download` first (free: SAT answers 5008 if spent), never resend first.
    assert hint.index("retry-download") < hint.index("journal resend")
    allowed, _ = transition(after, m.AllowDownload())
    assert transition(allowed, Start(on_disk=on_disk))[1] == (FetchPackage("P1", 3),)


@pytest.mark.parametrize(
    ("state", "commands"),
    [
        # counted by this journal: a first download as usual
        (evolve(UNCOUNTED, uncounted=()), (FetchPackage("P1", 1),)),
        # another request of the month was uncounted, not this one
        (evolve(UNCOUNTED, uncounted=("R0",)), (FetchPackage("P1", 1),)),
        # a count the journal kept after the request became uncounted holds
        (evolve(UNCOUNTED, downloads=(("P1", 1),), unsure=()), (FetchPackage("P1", 2),)),
        # uncounted, package ids not known yet: nothing to count, the status is asked
        (evolve(UNCOUNTED, package_ids=None), (FetchStatus("R1"),)),
    ],
)
def test_only_packages_of_an_uncounted_request_without_a_count_are_assumed_spent(
    state: MonthState, commands: tuple[m.Command, ...]
) -> None:
    assert transition(state, Start())[1] == commands


@pytest.mark.parametrize(
    ("state", "uncounted"),
    [
        # a month this journal counted: a request adopted for it is counted from zero ...
        (evolve(SUBMITTED, stage=Stage.NEEDS_ATTENTION), ()),
        # ... one whose record was lost with its counts: not
        (evolve(SUBMITTED, stage=Stage.NEEDS_ATTENTION, counts_lost=True), ("R9",)),
        # an earlier uncounted request stays uncounted
        (evolve(SUBMITTED, stage=Stage.NEEDS_ATTENTION, uncounted=("R1",)), ("R1",)),
    ],
)
def test_an_adopted_request_is_uncounted_when_the_month_lost_its_counts(
    state: MonthState, uncounted: tuple[str, ...]
) -> None:
    assert transition(state, Adopt("R9"))[0].uncounted == uncounted
    # The journal did not have the month (`repair.adopt` says so): uncounted whatever the state.
    assert transition(state, Adopt("R9", uncounted=True))[0].uncounted == (
        *[i for i in uncounted if i != "R9"],
        "R9",
    )


@pytest.mark.parametrize(
    ("obs", "resend"),
    [
        (
            PackageFailed("P1", "5008", code=5008),
            RESEND_HINT,
        ),
        (
            PackageFailed("P1", "truncated body", reached=True),
            "no SAT download left: `gigstack-async journal resend 2024-01` requests the month "
            "again (a new request may be billed)",
        ),
    ],
)
@pytest.mark.parametrize(("on_disk", "extracted"), [(0, 0), (3, 3), (52, 0), (52, 2)])
def test_a_spent_package_says_the_folder_holds_files_before_any_resend(
    obs: PackageFailed, resend: str, on_disk: int, extracted: int
) -> None:
    files = (ExtractedPackage("P0", tuple(f"{i}.xml" for i in range(extracted))),)
    state = evolve(
        ONE_PACKAGE,
        downloads=(("P1", 2),),
        unsure=(("P1", 1),),
        on_disk=on_disk,
        extracted=files if extracted else (),
    )
    after, _ = transition(state, obs)
    earlier = on_disk - extracted
    assert after.hint == (files_there(earlier, 5) + resend if earlier else resend)
    assert m.earlier_files(after) == earlier


def test_the_files_notice_says_nothing_of_a_count_sat_did_not_give() -> None:
    state = evolve(ONE_PACKAGE, invoice_count=None, on_disk=7)
    assert m.files_notice(state) == files_there(7, None)
    assert m.files_notice(evolve(state, on_disk=0)) == ""


@pytest.mark.parametrize("known_ids", [(), ("R0",), ("R1", "R0")])
def test_the_files_notice_names_the_months_own_request_whatever_the_log_listed(
    known_ids: tuple[str, ...],
) -> None:
    state = evolve(ONE_PACKAGE, invoice_count=None, on_disk=7, known_ids=known_ids)
    assert m.files_notice(state) == files_there(7, None)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        (  # the log kept them: restored exactly
            m.Counts(2, (("P1", 2),), (("P1", 0),), (("P1", 1),)),
            {
                "creates": 2,
                "downloads": (("P1", 2),),
                "unsure": (("P1", 0),),
                "granted": (("P1", 1),),
                "uncounted": (),
                "counts_lost": False,
            },
        ),
        (  # the log kept a request whose downloads it never counted: still not counted
            m.Counts(1, uncounted=("R1",)),
            {
                "creates": 1,
                "downloads": (),
                "unsure": (),
                "granted": (),
                "uncounted": ("R1",),
                "counts_lost": False,
            },
        ),
        (  # an older log kept none: unknown, never zero
            None,
            {
                "creates": 1,
                "downloads": (),
                "unsure": (),
                "granted": (),
                "uncounted": ("R1", "R2"),
                "counts_lost": True,
            },
        ),
    ],
)
def test_a_month_rebuilt_from_its_log_keeps_its_counts_or_says_they_are_unknown(
    counts: m.Counts | None, expected: dict[str, object]
) -> None:
    held = m.unrecorded(
        PLANNED, known_ids=("R1", "R2"), creates=1, reason="lost", hint="adopt", counts=counts
    )
    assert {name: getattr(held, name) for name in expected} == expected
    assert (held.stage, held.known_ids, held.resend_allowed) == (
        Stage.NEEDS_ATTENTION,
        ("R1", "R2"),
        False,
    )
    assert (held.reason, held.hint) == ("lost", "adopt")  # what `journal show` prints
    assert held.creates_known is (counts is not None and not counts.uncounted)
    assert m.Counts.of(held) == (counts or m.Counts(1, uncounted=("R1", "R2")))


@pytest.mark.parametrize("counts", [None, m.Counts(1)])
@pytest.mark.parametrize(
    ("on_disk", "hint"),
    [
        (0, "adopt"),
        # newcomer 9e #1: files already there come first, before any way that spends downloads
        (4, files_there(4, None, request=False) + "adopt"),
    ],
)
def test_a_rebuilt_month_whose_folder_holds_files_leads_with_journal_keep(
    counts: m.Counts | None, on_disk: int, hint: str
) -> None:
    held = m.unrecorded(
        PLANNED,
        known_ids=("R1",),
        creates=1,
        reason="lost",
        hint="adopt",
        counts=counts,
        on_disk=on_disk,
    )
    assert (held.stage, held.reason, held.hint, held.on_disk) == (
        Stage.NEEDS_ATTENTION,
        "lost",
        hint,
        on_disk,
    )


SPENT = evolve(
    ONE_PACKAGE,
    stage=Stage.NEEDS_ATTENTION,
    downloads=(("P1", 2),),
    reason="SAT 5008: package P1 was already downloaded the maximum times",
    hint=files_there(3, 5) + RESEND_HINT,
    blocked_package="P1",
    resume_to=Stage.COMPLETED,
    unknown=True,
    on_disk=3,
)


@pytest.mark.parametrize("stage", [Stage.NEEDS_ATTENTION, Stage.EXPIRED])
def test_the_user_keeps_the_files_an_earlier_run_extracted_and_the_month_is_done(
    stage: Stage,
) -> None:
    mine = ExtractedPackage("P0", ("a.xml",))
    state = evolve(SPENT, stage=stage, extracted=(mine,))
    after, commands = transition(state, m.KeepFiles(("a.xml", "b.xml", "c.xml")))
    assert commands == ()
    assert after == evolve(
        state,
        stage=Stage.DONE,
        extracted=(mine, ExtractedPackage(m.KEPT, ("b.xml", "c.xml"))),
        unknown=False,
        resume_to=None,
        blocked_package=None,
        reason="the user kept the 2 file(s) an earlier run extracted into its folder as the "
        "month's CFDIs (nothing was downloaded or sent for them)",
        hint=None,
    )
    assert after.ok
    resumed, commands = transition(after, Start(on_disk=3))
    assert (resumed.stage, resumed.files, commands) == (Stage.DONE, after.files, ())


@pytest.mark.parametrize(
    ("state", "files", "message"),
    [
        (evolve(SPENT, stage=Stage.COMPLETED), ("a.xml",), "2024-01 is completed: only"),
        (evolve(SPENT, stage=Stage.DONE), ("a.xml",), "2024-01 is done: only"),
        (
            evolve(SPENT, staged=(F1,)),
            ("a.xml",),
            "2024-01 is needs-attention with a package staged on disk",
        ),
        (SPENT, (), "nothing to keep"),
        (
            evolve(SPENT, extracted=(ExtractedPackage("P1", ("a.xml",)),)),
            ("a.xml",),
            "holds no file it did not extract itself",
        ),
    ],
)
def test_keeping_files_is_refused_where_nothing_earlier_is_there_to_keep(
    state: MonthState, files: tuple[str, ...], message: str
) -> None:
    with pytest.raises(TransitionError, match=message):
        transition(state, m.KeepFiles(files))


@pytest.mark.parametrize(
    ("uncounted", "downloads", "unsure", "allowed"),
    [
        # a request this journal counted: only the package it stopped at
        ((), (("P1", 2), ("P2", 2)), (("P1", 2), ("P2", 2)), ("P1",)),
        # never counted: every package assumed spent, one GET each, in one confirmation
        (("R1",), (("P1", 2), ("P2", 2)), (("P1", 2), ("P2", 2)), ("P1", "P2")),
        # ... but not one SAT surely served twice, nor one with a download left
        (("R1",), (("P1", 2), ("P2", 2)), (("P1", 2), ("P2", 0)), ("P1",)),
        (("R1",), (("P1", 2), ("P2", 1)), (("P1", 2), ("P2", 1)), ("P1",)),
    ],
)
def test_one_retry_download_covers_every_package_assumed_spent_of_an_uncounted_request(
    uncounted: tuple[str, ...],
    downloads: tuple[tuple[str, int], ...],
    unsure: tuple[tuple[str, int], ...],
    allowed: tuple[str, ...],
) -> None:
    state = evolve(
        COMPLETED,
        stage=Stage.NEEDS_ATTENTION,
        uncounted=uncounted,
        downloads=downloads,
        unsure=unsure,
        blocked_package="P1",
    )
    assert m.allowed_packages(state) == allowed
    after, commands = transition(state, m.AllowDownload())
    assert commands == ()
    assert after.granted == tuple((p, 1) for p in allowed)
    assert after.stage is Stage.COMPLETED
    assert m.allowed_packages(evolve(state, blocked_package=None)) == ()


# ------------------------------------------------------ words given twice, counts carried


def test_keeping_files_of_a_month_that_is_not_stuck_says_which_months_may() -> None:
    with pytest.raises(TransitionError) as info:
        transition(evolve(SPENT, stage=Stage.COMPLETED), m.KeepFiles(("a.xml",)))
    assert str(info.value) == (
        "2024-01 is completed: only a month that needs attention or expired, with no package "
        "staged, keeps the files already in its folder"
    )


def test_a_second_retry_download_allows_exactly_one_get_past_the_first() -> None:
    # The GET the first word allowed failed before any byte: one more word, one more GET.
    again = evolve(BLOCKED, downloads=(("P1", 3),), unsure=(("P1", 2),), granted=(("P1", 1),))
    allowed, _ = transition(again, m.AllowDownload())
    assert allowed.granted == (("P1", 2),)
    state = evolve(allowed, confirmed_id="R1")
    assert transition(state, Start())[1] == (FetchPackage("P1", 4),)
    sent, _ = transition(state, PackageSending("P1"))
    assert sent.downloads == (("P1", 4),)
    assert transition(sent, PackageSending("P1")) == (sent, ())  # no fifth


def test_a_package_whose_allowed_get_is_still_to_go_is_not_allowed_another() -> None:
    # P2's earlier word (one GET) was not used yet: one `retry-download` at P1 adds none to it.
    state = evolve(
        COMPLETED,
        stage=Stage.NEEDS_ATTENTION,
        uncounted=("R1",),
        downloads=(("P1", 2), ("P2", 2)),
        unsure=(("P1", 2), ("P2", 2)),
        granted=(("P2", 1),),
        blocked_package="P1",
    )
    assert m.allowed_packages(state) == ("P1",)
    after, _ = transition(state, m.AllowDownload())
    assert after.granted == (("P2", 1), ("P1", 1))


def test_no_staged_copy_of_a_package_with_an_allowed_get_left_changes_nothing() -> None:
    # The user's word left P1 a third GET: it is sent as usual, the month is not stopped.
    state = evolve(ONE_PACKAGE, downloads=(("P1", 2),), unsure=(("P1", 1),), granted=(("P1", 1),))
    assert transition(state, m.StagedMissing("P1")) == (state, ())


def test_a_get_that_never_left_is_given_back_within_what_the_user_allowed() -> None:
    # The third GET (allowed by `retry-download`) never left, and this run's free retries are
    # used up: it is given back, and one GET is still left for the next run.
    state = evolve(
        ONE_PACKAGE,
        downloads=(("P1", 3),),
        unsure=(("P1", 3),),
        granted=(("P1", 1),),
        free_failures=m.FREE_RETRIES_PER_RUN,
    )
    after, commands = transition(state, PackageFailed("P1", "connection refused", sent=False))
    assert commands == ()
    assert after == evolve(
        state,
        downloads=(("P1", 2),),
        unsure=(("P1", 2),),
        stage=Stage.NEEDS_ATTENTION,
        failed_this_run=("P1",),
        reason="downloading package P1 failed: connection refused",
        hint="run the same command again to download it once more (at least 1 of 2 SAT "
        "downloads left)",
        resume_to=Stage.COMPLETED,
    )


# `journal adopt` of the month's own request (it needed the user, and resumes): the SAT
# downloads other months of the journal spent on its packages come along, as sure as they were.
STUCK = evolve(
    ONE_PACKAGE,
    stage=Stage.NEEDS_ATTENTION,
    resume_to=Stage.COMPLETED,
    checked=False,
    reason="request R1 is not in the server's history",
    hint="adopt it",
)


@pytest.mark.parametrize(
    ("obs", "downloads", "unsure", "commands", "retry"),
    [
        # two spent elsewhere, one of them unsure: SAT may serve it once more, for free
        (Adopt("R1", (("P1", 2),), (("P1", 1),)), (("P1", 2),), (("P1", 1),), "P1", "P1"),
        # two surely spent elsewhere: only a resend is left
        (Adopt("R1", (("P1", 2),)), (("P1", 2),), (), "P1", None),
        # one spent elsewhere: its second download is sent as SAT's second
        (Adopt("R1", (("P1", 1),)), (("P1", 1),), (), FetchPackage("P1", 2), None),
        # never counted by this journal: SAT's two assumed spent, both unsure
        (Adopt("R1", uncounted=True), (("P1", 2),), (("P1", 2),), "P1", "P1"),
    ],
)
def test_confirming_the_months_request_counts_the_downloads_spent_elsewhere(
    obs: Adopt,
    downloads: tuple[tuple[str, int], ...],
    unsure: tuple[tuple[str, int], ...],
    commands: m.Command | str,
    retry: str | None,
) -> None:
    confirmed, _ = transition(STUCK, obs)
    assert (confirmed.stage, confirmed.reason) == (
        Stage.COMPLETED,
        "request R1 confirmed by the user",
    )
    started, sent = transition(confirmed, Start())
    assert (started.downloads, started.unsure) == (downloads, unsure)
    if isinstance(commands, str):  # its count is full: looked for on disk, then stopped
        assert sent == (m.FindStaged(commands),)
        stopped, _ = transition(started, m.StagedMissing(commands))
        assert (stopped.stage, stopped.blocked_package) == (Stage.NEEDS_ATTENTION, retry)
    else:
        assert sent == (commands,)


def test_a_rejected_package_offers_no_retry_download_of_a_package_it_stopped_at_before() -> None:
    # The month stopped at P1 (its count full, not surely spent), the user adopted its request
    # again, and its packages were staged; P1 then held another month's CFDIs. The month needs
    # a resend: SAT's spare GET of P1 is no way forward for a request that is not the month's.
    stopped, _ = transition(
        evolve(COMPLETED, downloads=(("P1", 2),), unsure=(("P1", 2),)), m.StagedMissing("P1")
    )
    assert stopped.blocked_package == "P1"
    state, _ = transition(stopped, Adopt("R1"))
    state, _ = transition(state, Start())
    completed = m.Seen("R1", "completed", package_ids=("P1", "P2"))
    state, commands = transition(state, StatusSeen(completed))
    assert commands == (m.FindStaged("P1"),)
    state, commands = transition(state, PackageStaged(F1))
    assert commands == (FetchPackage("P2", 1),)
    state, _ = transition(state, PackageSending("P2"))
    state, commands = transition(state, PackageStaged(F2))
    assert commands == (ExtractPackage("P1", F1.path),)
    rejected, _ = transition(state, m.ContentRejected("P1", "CFDIs of March"))
    assert (rejected.stage, rejected.blocked_package) == (Stage.NEEDS_ATTENTION, None)
    assert m.free_way(rejected) is None
    with pytest.raises(TransitionError, match="it did not stop at a package"):
        transition(rejected, m.AllowDownload())


# ------------------------------------------------------------------ counts carried past two


def test_one_more_get_is_one_past_a_count_carried_beyond_sats_two() -> None:
    # A released request's package came with 3 counted downloads (2 of them unsure): one word
    # of the user allows exactly one GET past them, not a GET the count already used up.
    carried = evolve(BLOCKED, downloads=(("P1", 3),), unsure=(("P1", 2),))
    allowed, _ = transition(carried, m.AllowDownload())
    assert allowed.granted == (("P1", 2),)
    assert allowed.allowed_of("P1") == 4
    state = evolve(allowed, confirmed_id="R1")
    assert transition(state, Start())[1] == (FetchPackage("P1", 4),)
    sent, _ = transition(state, PackageSending("P1"))
    assert transition(sent, PackageSending("P1")) == (sent, ())  # still one GET per word


def test_a_released_request_carries_how_unsure_its_downloads_are() -> None:
    # The month leaves its request (the user adopted another): its counts go along, doubt
    # included, so the month adopting it still asks SAT once more instead of a billed resend.
    leaving = evolve(
        COMPLETED,
        package_ids=("P1", "P2"),
        downloads=(("P0", 1), ("P1", 2), ("P2", 1)),
        unsure=(("P0", 1), ("P1", 1)),
    )
    left, _ = transition(leaving, m.Adopt("R9"))
    assert left.released == (m.ReleasedRequest("R1", (("P1", 2), ("P2", 1)), (("P1", 1),)),)
    taker = m.MonthState(
        key="2024-02",
        start=date(2024, 2, 1),
        end=date(2024, 2, 29),
        rfc_type="received",
        request_type="cfdi",
        downloads=(("P2", 1),),
    )
    took, _ = transition(taker, m.Adopt("R1", (("P1", 2), ("P2", 1)), (("P1", 1), ("P2", 1))))
    assert took.downloads == (("P2", 1), ("P1", 2))
    # P1's two, one of them unsure; P2 added nothing, so none of its doubt comes along.
    assert took.unsure == (("P1", 1),)
    assert (took.sure_of("P1"), took.unsure_of("P2")) == (1, 0)


def test_a_request_two_months_released_is_counted_once_and_as_unsure_as_either_said() -> None:
    # `journal adopt` carries what every month that released the request spent (bulk.repair
    # joins their lists): the same package twice is the same SAT downloads, not twice as many,
    # and the doubt does not depend on which month the journal lists first.
    for order in (1, -1):
        # One month spent both of P1's downloads, both unsure; the other counted one of them.
        downloads = ((("P1", 2), ("P2", 1)), (("P1", 1),))[::order]
        unsure = ((("P1", 2),), (("P1", 1),))[::order]
        took, _ = transition(
            PLANNED,
            m.Adopt("R1", downloads[0] + downloads[1], unsure[0] + unsure[1]),
        )
        assert took.downloads_of("P1") == 2
        assert took.unsure_of("P1") == 2  # never surer than one of them said
        assert m.counted_downloads(took, "P1").startswith(
            "2 downloads counted, 2 of them may not have reached SAT"
        )


# ------------------------------------------------------------------ a 429 to a package GET
# Review 9g #2: a package GET answered 429 was given back as if it had spent nothing (a GUESS
# that gigstack's limiter answers before SAT). With a limiter behind the API (the sandbox's
# `after_429`) SAT served the package each time, and a third GET left without the user's word.
# A 429 now counts as an unsure download, like a 5xx; the next GET goes in this run only while
# it is within SAT's two (the engine waits the 429's Retry-After), never past them.

LIMITED = "HTTP 429 rate limited"
SECOND_IN_FLIGHT = evolve(ONE_PACKAGE, downloads=(("P1", 2),), unsure=(("P1", 2),))


def blocked_by_429(state: MonthState, unsure: int) -> MonthState:
    return evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        failed_this_run=("P1",),
        reason=f"downloading package P1 failed: {LIMITED}; {counted(2, unsure)}",
        hint=RETRY_HINT,
        resume_to=None,
        blocked_package="P1",
    )


@pytest.mark.parametrize(
    ("state", "after", "commands"),
    [
        (  # the first GET answered 429: counted, unsure; the second GET goes after Retry-After
            IN_FLIGHT,
            evolve(IN_FLIGHT, free_failures=1),
            (FetchPackage("P1", 2),),
        ),
        (  # the second GET answered 429 too: both unsure, no third GET without the user
            SECOND_IN_FLIGHT,
            blocked_by_429(SECOND_IN_FLIGHT, 2),
            (),
        ),
        (  # the first was served (truncated: sure), the second answered 429
            evolve(SECOND_IN_FLIGHT, unsure=(("P1", 1),)),
            blocked_by_429(evolve(SECOND_IN_FLIGHT, unsure=(("P1", 1),)), 1),
            (),
        ),
        (  # the one GET a `journal retry-download` allowed answered 429: blocked again
            evolve(ONE_PACKAGE, downloads=(("P1", 3),), unsure=(("P1", 2),), granted=(("P1", 1),)),
            evolve(
                ONE_PACKAGE,
                downloads=(("P1", 3),),
                unsure=(("P1", 2),),
                granted=(("P1", 1),),
                stage=Stage.NEEDS_ATTENTION,
                failed_this_run=("P1",),
                reason=f"downloading package P1 failed: {LIMITED}; {counted_again(3, 2)}",
                hint=RETRY_AGAIN_HINT,
                resume_to=None,
                blocked_package="P1",
            ),
            (),
        ),
        (  # out of this run's retries: the month waits for the next run, the 429 still counted
            evolve(IN_FLIGHT, free_failures=m.FREE_RETRIES_PER_RUN),
            evolve(
                IN_FLIGHT,
                free_failures=m.FREE_RETRIES_PER_RUN,
                stage=Stage.NEEDS_ATTENTION,
                failed_this_run=("P1",),
                reason=f"downloading package P1 failed: {LIMITED}",
                hint="run the same command again to download it once more (at least 1 of 2 SAT "
                "downloads left)",
                resume_to=Stage.COMPLETED,
            ),
            (),
        ),
    ],
)
def test_a_429_to_a_package_get_is_an_unsure_download_never_a_third_get(
    state: MonthState, after: MonthState, commands: tuple[m.Command, ...]
) -> None:
    assert transition(state, PackageFailed("P1", LIMITED, rate_limited=True)) == (after, commands)
    if after.blocked_package:  # the next run sends nothing either, only `retry-download` does
        checked = evolve(after, confirmed_id="R1")
        assert transition(checked, Start())[1] == ()
        allowed, _ = transition(checked, m.AllowDownload())
        used = allowed.downloads_of("P1")
        assert transition(allowed, Start())[1] == (FetchPackage("P1", used + 1),)


def test_a_429_carrying_a_sat_code_is_read_by_the_code() -> None:
    after, commands = transition(
        IN_FLIGHT, PackageFailed("P1", "5008", code=5008, rate_limited=True)
    )
    assert commands == ()
    assert after.stage is Stage.NEEDS_ATTENTION
    assert after.unsure == ()


def test_a_429_with_no_sat_download_left_needs_attention_at_once() -> None:
    # A journal whose package has SAT's two downloads counted and sure: a 429 then is not a
    # "try again in this run" (no download is left for it); the month stops with the resend hint.
    state = evolve(COMPLETED, confirmed_id="R1", downloads=(("P1", 2),))
    after, commands = transition(state, PackageFailed("P1", "HTTP 429", rate_limited=True))
    assert commands == ()
    assert after == evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        failed_this_run=("P1",),
        reason="downloading package P1 failed: HTTP 429",
        hint=(
            "no SAT download left: `gigstack-async journal resend 2024-01` requests the month "
            "again (a new request may be billed)"
        ),
    )
