"""Newcomer 9f #1: a month whose earlier request had left the history was billed again, silently.

The held check (`bulk.duplicates`) reads the account's history, which lists only the newest
requests (20 per the docs; the sandbox's `history_limit` plays a shorter one). A month
downloaded into another folder long ago, its request pushed out of that window, was sent again
from a new folder while the plan said only "new: no month of this plan was requested from this
folder yet". Now the plan (CLI and `bulk()`) names the months the history does not reach back
to (`bulk.reach`), before anything is sent; a month inside the window is still held.
Also: adopting another folder's request into a held month counts its downloads as unknown.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.reach import history_reach, month_ranges
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import FAST, keyed_cli, month_results, world_of

MONTHS = [(f"2023-{n:02d}", date(2023, n, 1)) for n in range(1, 13)]


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def seen(i: int, created_at: str | None) -> m.Seen:
    return m.Seen(f"R{i}", "completed", "issued", "cfdi", created_at=created_at)


NOV_15 = datetime(2023, 11, 15, 12, tzinfo=UTC)
FULL = tuple(seen(i, ms(NOV_15.replace(day=15 + i % 10))) for i in range(20))


@pytest.mark.parametrize(
    ("entries", "journal_ids", "unchecked", "why"),
    [
        # Nothing listed, nothing of the journal missing: any window would list the newest.
        ((), (), [], ""),
        # Nothing listed although the journal made requests: short or filtered; reach unknown.
        ((), ("J1",), [k for k, _ in MONTHS], "omits some this journal made"),
        # Full to the documented window: only months begun after its oldest entry are checked.
        (FULL, (), [f"2023-{n:02d}" for n in range(1, 12)], "only its 20 newest requests"),
        # Fewer than 20: all there are per the docs, but a shorter window is not ruled out.
        (FULL[:3], (), [f"2023-{n:02d}" for n in range(1, 12)], "may be all there are"),
        # The journal's request missing from a short history: short or filtered.
        (FULL[:3], ("J1",), [f"2023-{n:02d}" for n in range(1, 12)], "short or filtered"),
        # createdAt in epoch seconds, ISO with an offset: the same instant.
        ((seen(0, str(int(NOV_15.timestamp()))),), (), [k for k, _ in MONTHS[:11]], "lists 1"),
        ((seen(0, "2023-11-15T06:00:00-06:00"),), (), [k for k, _ in MONTHS[:11]], "lists 1"),
        # A wall time without an offset is read as its latest instant: 2023-11-30T20:00 may be
        # 2023-12-01 08:00 UTC, after December began somewhere: December is not checked.
        ((seen(0, "2023-11-30T20:00:00"),), (), [k for k, _ in MONTHS], "lists 1"),
        # Unknown is never "none": no createdAt readable, nothing checked.
        ((seen(0, None), seen(1, "12345")), (), [k for k, _ in MONTHS], "lists 2"),
        # One unreadable entry: the oldest readable one bounds the reach.
        ((seen(0, None), seen(1, ms(NOV_15))), (), [k for k, _ in MONTHS[:11]], "lists 2"),
    ],
    ids=[
        "empty",
        "empty-but-journal-ids",
        "full",
        "short",
        "short-missing-journal-id",
        "epoch-seconds",
        "iso-offset",
        "naive-iso-margin",
        "unreadable",
        "one-unreadable",
    ],
)
def test_which_months_the_history_could_not_check(
    entries: tuple[m.Seen, ...], journal_ids: tuple[str, ...], unchecked: list[str], why: str
) -> None:
    reach = history_reach(entries, MONTHS, journal_ids=journal_ids)
    assert list(reach.unchecked) == unchecked
    assert reach.complete is (not entries and not journal_ids)
    assert why in reach.why
    if unchecked:
        assert reach.warning is not None
        assert month_ranges(unchecked) in reach.warning
        assert "could not be checked" in reach.warning
        assert "journal adopt" in reach.warning
    else:
        assert reach.warning is None


def test_the_warning_says_how_far_back_the_history_reaches() -> None:
    reach = history_reach(FULL, MONTHS[9:])
    assert reach.warning == (
        "the account's history lists only its 20 newest requests, made since 2023-11-15 "
        "12:00:00 UTC: 2023-10..2023-11 (2 months of this plan) could not be checked for an "
        "identical request made before then, and may be requested, and billed, again. If you "
        "downloaded them elsewhere (another folder or tool), do not send them: "
        "`gigstack-async journal adopt` their requests instead (nothing is billed), or use "
        "the folder that has them."
    )
    unknown = history_reach((seen(0, None),), MONTHS[:1])
    assert unknown.since is None
    assert "how far back it reaches is unknown" in (unknown.warning or "")


def test_month_ranges() -> None:
    assert month_ranges(["2023-12", "2024-01", "2024-03"]) == "2023-12..2024-01, 2024-03"
    assert month_ranges(["2024-05"]) == "2024-05"


@pytest.mark.parametrize(
    ("state", "journal_ids", "elsewhere"),
    [
        (m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "issued", "cfdi"), (), True),
        # Another month of the journal knows the id: counted here (released with its counts).
        (
            m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "issued", "cfdi"),
            ("X1",),
            False,
        ),
        # The month sent a create whose answer was lost: the id may be that create's, or
        # another folder's that spent both downloads (review 9w #7): only one GET of it.
        (
            m.MonthState(
                "2024-01", date(2024, 1, 1), date(2024, 1, 31), "issued", "cfdi", creates=1
            ),
            (),
            True,
        ),
        # The month had X0 (its create's own answer), never X1: X1 is not proven its own.
        (
            m.MonthState(
                "2024-01",
                date(2024, 1, 1),
                date(2024, 1, 31),
                "issued",
                "cfdi",
                known_ids=("X0",),
            ),
            (),
            True,
        ),
        # The id the month's own create answered with keeps both downloads.
        (
            m.MonthState(
                "2024-01",
                date(2024, 1, 1),
                date(2024, 1, 31),
                "issued",
                "cfdi",
                creates=1,
                known_ids=("X1",),
            ),
            (),
            False,
        ),
    ],
    ids=["held", "known-to-another-month", "sent", "had-another-request", "its-own-answer"],
)
def test_a_request_made_elsewhere_is_adopted_uncounted(
    state: m.MonthState, journal_ids: tuple[str, ...], elsewhere: bool
) -> None:
    assert m.made_elsewhere(state, journal_ids, "X1") is elsewhere


# ------------------------------------------------------------------ end to end


async def test_the_plan_names_months_the_short_history_cannot_reach_and_still_holds_the_rest(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A history of 3: folder A downloads 2024-01..02, folder C 2024-03..05, pushing A's two
    # requests out. Folder B then plans 2024-01..04.
    config = SandboxConfig(speed=3000, seed=9, history_limit=3)
    async with world_of(config) as (sandbox, client):
        first = await month_results(client, tmp_path / "A", "2024-01", "2024-02", poll=FAST)
        later = await month_results(client, tmp_path / "C", "2024-03", "2024-05", poll=FAST)
        assert all(r.ok for r in {**first, **later}.values())
        creates = sum(sandbox.state.billed_creates(k) for k in ("2024-01", "2024-02"))
        assert creates == 2

        # The CLI's plan, before the question: the months out of reach, named (was: nothing).
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr("sys.stdin.isatty", lambda: True)
        asked: list[str] = []

        def answer(prompt: str) -> str:
            asked.append(prompt)
            return "n"

        monkeypatch.setattr("builtins.input", answer)
        argv = [
            "sat", "download", "--from", "2024-01", "--to", "2024-04", "--rfc-type",
            "received", "--out", "B", "--poll-interval", "0.05",
        ]  # fmt: skip
        capsys.readouterr()
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
        out = capsys.readouterr().out
        assert "Not checked: The account's history lists 3 requests" in out
        assert "2024-01..2024-02 (2 months of this plan) could not be checked" in out
        assert "journal adopt B <month> <request id> --rfc-type received --type cfdi" in out
        # Newcomer 10 F8: fewer than 20 entries, none of this journal's missing: calm, and no
        # "that folder" when no other folder is known.
        assert "per the docs there is none" in out
        assert "that folder's" not in out
        assert "in `gigstack-async journal show` of the folder that downloaded them" in out
        assert "The account already has an identical request for 2 months" in out  # 03, 04
        assert asked == [
            "Submit up to 2 download requests? Each new one may be billed. 2 months are held "
            "(not sent): the account already has identical requests, see above. 2 months could "
            "not be checked for an earlier identical request (the history does not reach back "
            "to them, see above). [y/N] "
        ]
        assert sum(sandbox.state.billed_creates(k) for k in ("2024-01", "2024-02")) == 2

        # bulk(): a WARNING and `history_reach`, before the month is sent; inside the window,
        # still held.
        bulk = client.downloads.bulk(
            "2024-01", "2024-04", rfc_type="received", download_to=tmp_path / "B", poll=FAST
        )
        await bulk.identical_requests()
        assert bulk.history_reach is not None
        assert bulk.history_reach.unchecked == ("2024-01", "2024-02")
        caplog.set_level(logging.WARNING, logger="gigstack_async")
        caplog.clear()
        async with bulk:
            results = {e.key: e for e in [e async for e in bulk] if hasattr(e, "stage")}
        assert bulk.history_reach.unchecked == ("2024-01", "2024-02")
        warned = [
            r.getMessage() for r in caplog.records if "could not be checked" in r.getMessage()
        ]
        assert len(warned) == 1
        assert "2024-01..2024-02 (2 months of this plan)" in warned[0]
        assert results["2024-03"].stage == "held"
        assert results["2024-04"].stage == "held"
        # Warned, not blocked: the SDK cannot tell those months apart from never-requested ones.
        assert results["2024-01"].stage == "done"
        assert sum(sandbox.state.billed_creates(k) for k in ("2024-01", "2024-02")) == 4


async def test_with_yes_the_plan_still_names_them_before_sending(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A history of 1: 2024-01 (folder A) is pushed out by 2024-02 (folder C).
    config = SandboxConfig(speed=3000, seed=4, history_limit=1)
    async with world_of(config) as (sandbox, client):
        assert (await month_results(client, tmp_path / "A", "2024-01", "2024-01"))["2024-01"].ok
        assert (await month_results(client, tmp_path / "C", "2024-02", "2024-02"))["2024-02"].ok
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr("sys.stdin.isatty", lambda: False)
        argv = [
            "sat", "download", "--from", "2024-01", "--to", "2024-02", "--rfc-type",
            "received", "--out", "B", "--poll-interval", "0.05", "--yes",
        ]  # fmt: skip
        capsys.readouterr()
        code = await asyncio.to_thread(keyed_cli, sandbox, *argv)
        out = capsys.readouterr().out
        assert code == 1  # 2024-02 held
        plan, _, run = out.partition("Not checked: ")
        assert run, out
        assert "2024-01 (1 month of this plan) could not be checked" in run
        assert "2024-02" not in run.split("\n")[0]  # inside the window: checked, and held
        assert "The account already has an identical request for 1 month" in plan
        assert sandbox.state.billed_creates("2024-01") == 2  # warned, then sent (--yes)
        assert sandbox.state.billed_creates("2024-02") == 1


@pytest.mark.parametrize(
    ("created_at", "checked"),
    [
        # March 1st may begin 14 h before its UTC midnight (UTC+14), so a request for March
        # may exist from 2023-02-28 10:00 UTC on: only a history reaching back before that
        # instant covers every request for March.
        ("2023-02-28T09:59:59+00:00", True),
        ("2023-02-28T10:00:00+00:00", False),
        ("2023-03-01T13:00:00+00:00", False),
        # A time without an offset is read as its latest possible moment (12 h later in UTC).
        ("2023-02-27T21:59:59", True),
        ("2023-02-27T22:00:00", False),
    ],
)
def test_a_month_counts_as_checked_only_past_its_time_zone_margin(
    created_at: str, checked: bool
) -> None:
    """The oldest createdAt bounds the history's reach: March counts as checked only when that
    bound lies before March 1st 00:00 UTC minus 14 h, in the latest reading of the time (a
    review of #13 removed either margin with no test failing; a month wrongly counted as
    checked gets no "not checked" warning before a create that may be billed again)."""
    reach = history_reach((seen(0, created_at),), [("2023-03", date(2023, 3, 1))], window=1)
    assert reach.unchecked == (() if checked else ("2023-03",))


# ------------------------------------------------------------------ newcomer 10 F3, F8

SHORT = FULL[:3]


def test_a_short_history_is_named_calmly_its_months_still_named() -> None:
    """F8: every first run of a new folder was told its whole year "may be requested, and
    billed, again ... do not send them". A history shorter than the documented 20 is all there
    is per the docs: the months stay named (a shorter window is not ruled out), calmly."""
    reach = history_reach(SHORT, MONTHS[:3])
    warning = reach.warning or ""
    assert warning.startswith(
        "the account's history lists 3 requests (the docs say it keeps the newest 20, so "
        "these may be all there are; a shorter history is not ruled out), made since "
    )
    assert "2023-01..2023-03 (3 months of this plan) could not be checked" in warning
    assert "per the docs there is none" in warning
    assert (
        "Only if you requested one of them elsewhere (another folder or tool) before then "
        "would sending it bill it again" in warning
    )
    assert "may be requested, and billed, again" not in warning
    # A full window, or one that omits this journal's own requests, keeps the plain warning.
    for alarming in (
        history_reach(FULL, MONTHS[:3]),
        history_reach(SHORT, MONTHS[:3], journal_ids=("J1",)),
    ):
        assert "may be requested, and billed, again" in (alarming.warning or "")


def test_a_month_the_user_resent_is_named_resent_by_you() -> None:
    """F3: a month allowed again with `journal resend` was listed among "its own earlier
    requests of those months, none of which it sends again" (it was sent), with the adopt
    example glued after that sentence."""
    reach = history_reach(
        SHORT,
        MONTHS[:2],
        recorded={"2023-01": ["OLD1"], "2023-02": ["OLD2"]},
        resent=["2023-02"],
    )
    assert reach.resent == ("2023-02",)
    text = reach.text(", e.g. EXAMPLE") or ""
    assert "none of which it sends again" not in text
    assert "2023-01 (1 month of this plan) could not be checked" in text
    # The example follows the sentence offering adopt, not the resent month's.
    assert (
        "`gigstack-async journal adopt` that request instead (nothing is billed), e.g. EXAMPLE"
        in text
    )
    assert text.index("EXAMPLE") < text.index("resent by you")
    assert (
        "This journal already recorded request(s) for 1 of them (2023-01: OLD1): this run sends "
        "a new request for each instead" in text
    )
    assert text.endswith(
        "2023-02 (resent by you with `gigstack-async journal resend`; earlier request(s) "
        "2023-02: OLD2) could not be checked either: sent as you allowed (a new request, may "
        "be billed)."
    )
    # Only resent months: nothing to adopt, no example.
    only = history_reach(SHORT, MONTHS[1:2], recorded={"2023-02": ["OLD2"]}, resent=["2023-02"])
    alone = only.text(", e.g. EXAMPLE") or ""
    assert "EXAMPLE" not in alone
    assert "journal adopt" not in alone
    assert ": 2023-02 (resent by you with `gigstack-async journal resend`" in alone


async def test_the_plan_names_a_month_resent_with_journal_resend(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """F3 end to end: the CLI's "Not checked:" and `bulk()`'s WARNING for a month the user
    allowed again with `journal resend`."""
    async with world_of(SandboxConfig(speed=3000, seed=9)) as (sandbox, client):
        out = tmp_path / "A"
        done = await month_results(client, out, "2024-01", "2024-02")
        assert all(r.ok for r in done.values())
        monkeypatch.chdir(tmp_path)
        capsys.readouterr()
        resend = ["journal", "resend", "A", "2024-01", "--yes", "--force"]
        assert await asyncio.to_thread(keyed_cli, sandbox, *resend) == 0
        argv = [
            "sat", "download", "--from", "2024-01", "--to", "2024-01", "--rfc-type",
            "received", "--out", "A", "--poll-interval", "0.05", "--yes",
        ]  # fmt: skip
        capsys.readouterr()
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
        said = " ".join(capsys.readouterr().out.split())
        assert "Not checked: " in said
        assert "2024-01 (resent by you with `gigstack-async journal resend`; earlier" in said
        assert "none of which it sends again" not in said
        assert "journal adopt A <month>" not in said  # nothing to adopt for a month resent

        # bulk(): the same words in its WARNING (another month: SAT allows 2 identical
        # requests).
        resend[3] = "2024-02"
        assert await asyncio.to_thread(keyed_cli, sandbox, *resend) == 0
        caplog.set_level(logging.WARNING, logger="gigstack_async")
        caplog.clear()
        assert (await month_results(client, out, "2024-02", "2024-02"))["2024-02"].ok
        warned = [r.getMessage() for r in caplog.records if "resent by you" in r.getMessage()]
        assert len(warned) == 1, [r.getMessage() for r in caplog.records]
