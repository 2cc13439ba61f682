"""`journal adopt ... --created-at` (review 9n #4 follow-up): a month adopted once its request's
createdAt was never shown (pushed out of the history, a status without it) ended done, not ok,
with MISSING DAYS "it may have been made on <last day>", and its only way out was a new,
possibly billed, one-day download and `journal split`. A user who sees the request's creation
time in gigstack's dashboard now vouches for it: the open day comes from it, until a listing
of the request with a readable createdAt says otherwise (the server is the better witness)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk import repair
from gigstack_async.bulk.store import JournalStateError, JournalStore, StoreIdentity
from gigstack_async.errors import InvalidParameterError
from tests.bulk._support import (
    CREATE,
    PACKAGE,
    calls,
    download_argv,
    said_cli,
    short_history,
    world_of,
    xml_names,
)
from tests.bulk.test_review_9n_adopt_open_day import _today

NOV = m.MonthState("2026-11", date(2026, 11, 1), date(2026, 11, 30), "received", "cfdi")
LAST, NEXT = date(2026, 11, 30), date(2026, 12, 1)
# 2026-11-30 18:00 in Mexico City (UTC-6) = 2026-12-01 00:00 UTC: a UTC reading says 12-01.
EVENING_MS = str(int(datetime(2026, 12, 1, 0, 0, tzinfo=UTC).timestamp() * 1000))
IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)
JOURNAL = ".gigstack-journal.sqlite3"


def _held() -> m.MonthState:
    return m.hold(NOV, ["B1"], {"B1": ("completed", None)})


def _done(state: m.MonthState) -> m.MonthState:
    extracted = (m.ExtractedPackage("P1", ("a.xml", "b.xml")),)
    return attrs.evolve(
        state,
        stage=m.Stage.DONE,
        reason="every package extracted",
        extracted=extracted,
        downloads=(("P1", 1),),
    )


def _note(state: m.MonthState) -> str:
    return m.plan_decision(state, NOV.start, NOV.end, today=NEXT).note or ""


def _unproven_done() -> m.MonthState:
    adopted, _ = m.transition(_held(), m.Adopt("B1", uncounted=True, today=NEXT))
    assert (adopted.open_day, adopted.open_day_unproven) == (LAST, True)
    return _done(adopted)


def test_vouch_created_at_reads_mexico_city_time_and_honours_an_offset() -> None:
    assert m.vouch_created_at("2024-09-02T10:15") == "2024-09-02T10:15:00-06:00"
    assert m.vouch_created_at(" 2024-09-02 16:15Z ") == "2024-09-02T16:15:00+00:00"
    assert m.vouch_created_at("2024-09-02T10:15-05:00") == "2024-09-02T10:15:00-05:00"
    assert m.vouch_created_at("2024-09-02") == "2024-09-02T00:00:00-06:00"
    for text in ("", "yesterday", "2024-13-01", "02/09/2024", "1725290100000"):
        with pytest.raises(ValueError, match="ISO 8601"):
            m.vouch_created_at(text)


@pytest.mark.parametrize(
    ("vouched", "day"),
    [
        ("2026-12-01T09:00", None),  # made after the last day: complete
        ("2026-11-30T20:00", LAST),  # Mexico City's 11-30 (12-01 in UTC): open
        ("2026-12-01T01:00:00+00:00", LAST),  # the offset honoured: 11-30 19:00 in CDMX
        ("2026-11-20T12:00", date(2026, 11, 20)),
    ],
)
def test_an_adopt_with_created_at_takes_its_open_day(vouched: str, day: date | None) -> None:
    observed = m.Adopt(
        "B1", uncounted=True, today=NEXT, vouched_created_at=m.vouch_created_at(vouched)
    )
    adopted, _ = m.transition(_held(), observed)
    assert (adopted.open_day, adopted.open_day_unproven) == (day, False)
    assert m.vouched_created_at(adopted) == m.vouch_created_at(vouched)
    note = _note(_done(adopted))
    assert ("MISSING DAYS" in note) is (day is not None)  # before: always "may have been made"


def test_the_missing_days_text_names_the_vouch_before_the_billed_route() -> None:
    note = " ".join(_note(_unproven_done()).split())
    route = "`gigstack-async journal adopt 2026-11 B1 --created-at <time shown in the dashboard>`"
    assert route in note
    assert note.index(route) < note.index("--from 2026-11-30 --to 2026-11-30")
    assert note.index(route) < note.index("journal split")
    # A month whose own create proved its open day: no vouch offered.
    sent, _ = m.transition(NOV, m.Send((), today=LAST))
    own, _ = m.transition(sent, m.Created("r1"))
    assert "--created-at" not in _note(_done(own))


def test_the_done_months_request_adopted_again_with_created_at_keeps_everything_else() -> None:
    done = _unproven_done()
    with pytest.raises(m.TransitionError, match="nothing to adopt"):
        m.transition(done, m.Adopt("B1", today=NEXT))  # without --created-at: as before
    after = m.vouch_created_at("2026-12-01T09:00")
    with pytest.raises(m.TransitionError, match="vouches only for the request"):
        m.transition(done, m.Adopt("X9", today=NEXT, vouched_created_at=after))
    vouched, commands = m.transition(done, m.Adopt("B1", today=NEXT, vouched_created_at=after))
    assert commands == ()
    assert (vouched.open_day, vouched.open_day_unproven) == (None, False)
    assert vouched.created_vouched == ("B1", after)
    # Nothing else: stage, files, SAT downloads counted, uncounted ids, confirmed id, reason.
    assert (
        attrs.evolve(vouched, open_day=LAST, open_day_unproven=True, created_vouched=None) == done
    )
    assert "MISSING DAYS" not in _note(vouched)
    # Vouched again (a typo fixed): on the last day this time.
    evening = m.vouch_created_at("2026-11-30T18:00")
    again, _ = m.transition(vouched, m.Adopt("B1", today=NEXT, vouched_created_at=evening))
    assert (again.open_day, again.open_day_unproven) == (LAST, False)
    assert "MISSING DAYS: requested for 2026-11-01..2026-11-30 on 2026-11-30" in _note(again)
    assert "--created-at" not in _note(again)


@pytest.mark.parametrize("stage", [m.Stage.STAGED, m.Stage.COMPLETED, m.Stage.PROCESSING])
def test_a_month_still_following_the_request_keeps_its_packages(stage: m.Stage) -> None:
    """The MISSING DAYS note is shown from these stages on too: the vouch keeps what the
    month has (staged copy, package ids, downloads counted, files)."""
    following = attrs.evolve(
        _unproven_done(),
        stage=stage,
        package_ids=("P1", "P2"),
        staged=(m.StagedFile("P2", "/tmp/x.zip", "ab" * 32, 10),),
    )
    after = m.vouch_created_at("2026-12-01T09:00")
    vouched, commands = m.transition(following, m.Adopt("B1", today=NEXT, vouched_created_at=after))
    assert commands == ()
    assert (vouched.open_day, vouched.open_day_unproven) == (None, False)
    kept = ("stage", "package_ids", "staged", "extracted", "downloads", "unsure", "uncounted")
    assert [getattr(vouched, name) for name in kept] == [getattr(following, name) for name in kept]


@pytest.mark.parametrize(
    ("vouched", "why"),
    [
        ("2026-12-03T00:30", "in the future"),  # today (12-01) + 1 day of clock skew is 12-02
        ("2026-10-31T23:59", "before 2026-11's first day"),
    ],
)
def test_nonsense_is_refused(vouched: str, why: str) -> None:
    for state in (_held(), _unproven_done()):
        observed = m.Adopt("B1", today=NEXT, vouched_created_at=m.vouch_created_at(vouched))
        with pytest.raises(m.TransitionError, match=why):
            m.transition(state, observed)
    skew = m.Adopt("B1", today=NEXT, vouched_created_at=m.vouch_created_at("2026-12-02T23:00"))
    assert m.transition(_unproven_done(), skew)[0].open_day is None


def test_the_server_wins_over_the_vouch() -> None:
    after = m.vouch_created_at("2026-12-01T09:00")
    # Adopted with it, the run still following the request (a done month is listed no more).
    observed = m.Adopt("B1", uncounted=True, today=NEXT, vouched_created_at=after)
    vouched, _ = m.transition(_held(), observed)
    assert (vouched.stage, vouched.open_day) == (m.Stage.SUBMITTED, None)
    entry = m.Seen("B1", "completed", "received", "cfdi", NOV.start, NOV.end)
    # A listing whose createdAt cannot be read leaves the vouch.
    unreadable = attrs.evolve(entry, created_at="123456")
    assert m.transition(vouched, m.HistorySeen((unreadable,)))[0].open_day is None
    # One that shows it was made on the last day: the server is the better witness.
    listed, _ = m.transition(vouched, m.HistorySeen((attrs.evolve(entry, created_at=EVENING_MS),)))
    assert (listed.open_day, listed.open_day_unproven, listed.created_vouched) == (
        LAST,
        False,
        None,
    )
    assert "MISSING DAYS" in _note(_done(listed))
    # Once the server showed it, a vouch that disagrees is refused.
    with pytest.raises(m.TransitionError, match="server is the better witness"):
        m.transition(listed, m.Adopt("B1", vouched_created_at=after))
    # An adopt of an id whose createdAt the history showed: the same.
    held = _held()
    with pytest.raises(m.TransitionError, match="server is the better witness"):
        m.transition(held, m.Adopt("B1", created_at=EVENING_MS, vouched_created_at=after))
    agrees = m.vouch_created_at("2026-11-30T17:00")
    ok, _ = m.transition(held, m.Adopt("B1", created_at=EVENING_MS, vouched_created_at=agrees))
    assert ok.open_day == LAST


def test_a_proven_open_day_is_not_vouched_over() -> None:
    sent, _ = m.transition(NOV, m.Send((), today=LAST))
    own, _ = m.transition(sent, m.Created("r1"))
    after = m.vouch_created_at("2026-12-01T09:00")
    with pytest.raises(m.TransitionError, match="already goes by a proven day"):
        m.transition(_done(own), m.Adopt("r1", today=NEXT, vouched_created_at=after))


def test_keep_after_a_vouch_keeps_its_day() -> None:
    after = m.vouch_created_at("2026-12-01T09:00")
    adopted, _ = m.transition(
        _held(), m.Adopt("B1", uncounted=True, today=NEXT, vouched_created_at=after)
    )
    stopped = attrs.evolve(adopted, stage=m.Stage.NEEDS_ATTENTION)
    kept, _ = m.transition(stopped, m.KeepFiles(("a.xml",), vouched=True, today=NEXT))
    assert (kept.stage, kept.open_day, kept.open_day_unproven) == (m.Stage.DONE, None, False)


def test_the_python_adopt_vouches_logs_it_and_refuses_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "cfdi" / JOURNAL
    with JournalStore.open(path, IDENTITY) as store:
        store.ensure([_unproven_done()])
        before = store.get("2026-11")
        lines = len(store.log("2026-11"))
        bad: list[tuple[object, type[Exception], str]] = [
            ("soon", InvalidParameterError, "created_at"),
            (datetime.now(UTC) + timedelta(days=3), JournalStateError, "in the future"),
            ("2026-10-31", JournalStateError, "first day"),
        ]
        for created_at, error, text in bad:
            with pytest.raises(error, match=text):
                repair.adopt(store, "2026-11", "B1", today=NEXT, created_at=created_at)  # type: ignore[arg-type]
        assert store.get("2026-11") == before
        assert len(store.log("2026-11")) == lines
        # A datetime with its offset: 2026-12-01 09:00 in Mexico City.
        made = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
        new, commands = repair.adopt(store, "2026-11", "B1", today=NEXT, created_at=made)
        repair.record(store, new, commands)
        after = store.get("2026-11")
        assert (after.open_day, after.stage, after.extracted) == (
            None,
            m.Stage.DONE,
            before.extracted,
        )
        assert (after.downloads, after.uncounted) == (before.downloads, before.uncounted)
        assert after.created_vouched == ("B1", "2026-12-01T15:00:00+00:00")  # stored as is
        # Logged, so `journal repair` (which rebuilds from the log) keeps the day.
        last = store.log("2026-11")[-1]
        assert (last.open_day_logged, last.open_day) == (True, None)


async def test_the_cli_vouch_ends_a_month_adopted_out_of_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 9n #4's two folders, B's request out of a one-entry history when A adopts it the
    next day: A ends done, not ok, its last day "may have been made" and the vouch named first;
    `journal adopt ... --created-at` (nonsense refused, nothing written) ends it ok with nothing
    downloaded or created again, and a vouch on the last day names that day MISSING DAYS."""
    async with world_of(short_history(1)) as (sandbox, client):
        _today(monkeypatch, LAST)
        cli = said_cli(sandbox, capsys)

        def download(folder: str) -> tuple[int, str]:
            return cli(*download_argv("2026-11", tmp_path / folder))

        ran = asyncio.to_thread
        assert (await ran(download, "B"))[0] == 0
        (request,) = sandbox.state.download_requests
        rid = request.request_id
        _today(monkeypatch, NEXT)
        await client.downloads.create_request(
            start_date="2026-10-01", end_date="2026-10-28", rfc_type="issued",
            request_type="metadata",
        )  # fmt: skip
        adopt = ("journal", "adopt", tmp_path / "A", "2026-11", rid)
        assert (await ran(cli, *adopt, "--rfc-type", "received", "--yes"))[0] == 0
        await ran(download, "A")  # stops: the adopted request's downloads were not counted
        retry = ("journal", "retry-download", tmp_path / "A", "2026-11", "--yes")
        assert (await ran(cli, *retry))[0] == 0
        code, open_ = await ran(download, "A")
        assert code != 0
        assert "may have been made on 2026-11-30" in open_
        route = f"journal adopt {tmp_path / 'A'} 2026-11 {rid} --created-at <time shown in the"
        assert route in open_  # before: only the billed one-day download and `journal split`
        assert open_.index(route) < open_.index("--from 2026-11-30 --to 2026-11-30")
        files = xml_names(tmp_path / "A" / "2026-11")
        packages, creates = calls(sandbox, PACKAGE), calls(sandbox, CREATE)
        assert files
        assert creates == 2  # B's and the push-out

        def month() -> tuple[m.MonthState, int]:
            with JournalStore.open_existing(tmp_path / "A" / JOURNAL) as store:
                return store.get("2026-11"), len(store.log("2026-11"))

        before = month()
        for nonsense in ("soon", "2026-10-31T23:00", "2026-12-05T10:00"):
            assert (await ran(cli, *adopt, "--created-at", nonsense, "--yes"))[0] != 0
        assert month() == before  # refused before anything was written

        code, said = await ran(cli, *adopt, "--created-at", "2026-12-01T09:00", "--yes")
        assert code == 0, said
        assert "only its createdAt was recorded" in said
        shown = (await ran(cli, "journal", "show", tmp_path / "A", "2026-11"))[1]
        assert "createdAt 2026-12-01T09:00:00-06:00 is your word" in shown
        state, _ = month()
        assert (state.stage, state.extracted, state.downloads) == (
            m.Stage.DONE,
            before[0].extracted,
            before[0].downloads,
        )
        code, complete = await ran(download, "A")
        assert code == 0, complete
        assert "MISSING DAYS" not in complete
        assert xml_names(tmp_path / "A" / "2026-11") == files
        assert (calls(sandbox, PACKAGE), calls(sandbox, CREATE)) == (packages, creates)

        # Vouched again, on the last day (Mexico City's 11-30, 12-01 in UTC): named, proven.
        assert (await ran(cli, *adopt, "--created-at", "2026-11-30T20:00", "--yes"))[0] == 0
        code, named = await ran(download, "A")
        assert code != 0
        assert "MISSING DAYS: requested for 2026-11-01..2026-11-30 on 2026-11-30" in named
        assert "--created-at" not in named
        assert (calls(sandbox, PACKAGE), calls(sandbox, CREATE)) == (packages, creates)

        # Vouched again, after the last day (a typo fixed): complete again.
        assert (await ran(cli, *adopt, "--created-at", "2026-12-01T09:00", "--yes"))[0] == 0
        code, complete = await ran(download, "A")
        assert code == 0, complete
        assert "MISSING DAYS" not in complete

        # `journal repair` of a damaged record keeps the vouched day (the log kept it).
        db = sqlite3.connect(tmp_path / "A" / JOURNAL)
        db.execute("UPDATE months SET state = '{\"garbage' WHERE key = '2026-11'")
        db.commit()
        db.close()
        assert (await ran(cli, "journal", "repair", tmp_path / "A", "--yes"))[0] == 0
        await ran(download, "A")  # the rebuilt month stops: keep its files
        keep = ("journal", "keep", tmp_path / "A", "2026-11", "--yes")
        assert (await ran(cli, *keep))[0] == 0
        code, repaired = await ran(download, "A")
        assert code == 0, repaired
        assert "MISSING DAYS" not in repaired
        # A repair keeps the day, not the vouch: no later vouch changes it.
        before = month()
        code, refused = await ran(cli, *adopt, "--created-at", "2026-11-30T20:00", "--yes")
        assert code != 0
        assert "Nothing changed" in refused
        assert month() == before
        assert (calls(sandbox, PACKAGE), calls(sandbox, CREATE)) == (packages, creates)
