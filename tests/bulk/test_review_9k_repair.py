"""Review 9k: `journal repair` rebuilds a month from its WHOLE log, not only from how it ends.

#1 a request done after SAT's 5002/5003 (the missing days re-planned into the same folder)
   counts: the repaired month never asks for days a logged done request downloaded, and a
   month split and ok before the damage is split and ok after it;
#2 the own part keeps the count its log kept: files lost before the repair are never taken
   for the part's (`journal split` and the run refuse it, as without a repair).
Refusals are read from the log's SAT code field; a line without one falls back to the reason,
read by the very parser that wrote it."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import date
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import content
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import held_month
from gigstack_async.bulk.store import LogLine
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import STATUS_CRITERIA_FIELDS, SatCodeRule, ServerProfile
from tests.bulk._support import calls, keyed_cli, month_results, world_of

KEY = "2024-08"
LATE = m.Asked(date(2024, 8, 15), date(2024, 8, 31), 22)
EARLY = m.Asked(date(2024, 8, 1), date(2024, 8, 14), 12)
WHOLE = m.Asked(date(2024, 8, 1), date(2024, 8, 31), None)
R1, R2, R3 = "12EEACA0", "1F7BDF3A", "15C5F0D4"
RFC = "XAXX010101000"


def _base() -> m.MonthState:
    return m.MonthState(KEY, date(2024, 8, 1), date(2024, 8, 31), "received", "cfdi")


def _cfdi(day: int) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<cfdi:Comprobante '
        'xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0" '
        f'Fecha="2024-08-{day:02d}T10:00:00"><cfdi:Emisor Rfc="AAA010101AAA"/>'
        f'<cfdi:Receptor Rfc="{RFC}"/></cfdi:Comprobante>'
    )


def _folder(tmp_path: Path, *, early: int = 12, late: int = 22) -> Path:
    """August's folder: `early` CFDIs of 08-01..14, `late` of 08-15..31 (34: the month's)."""
    folder = tmp_path / "A" / KEY
    folder.mkdir(parents=True)
    for i in range(early):
        (folder / f"{uuid.uuid4()}.xml").write_text(_cfdi(1 + i % 14))
    for i in range(late):
        (folder / f"{uuid.uuid4()}.xml").write_text(_cfdi(15 + i % 17))
    return folder


def _refused(code: int, *, field: bool = True) -> list[LogLine]:
    """08-15..31 done (22 CFDIs), then the whole month refused with `code` (`field`: the log
    kept the SAT code as a field; else only the reason's words, as an older log)."""
    c1 = m.Counts(1, ((R1 + "_01", 1),))
    c2 = m.Counts(2, ((R1 + "_01", 1),))
    reason = f"SAT request failed: SAT {code}: no" if code == 5003 else "SAT 5002: exhausted"
    return [
        LogLine(1, KEY, m.Stage.PLANNED, None, None, m.Counts(), LATE),
        LogLine(2, KEY, m.Stage.SUBMITTING, None, None, c1, LATE),
        LogLine(3, KEY, m.Stage.SUBMITTED, "created", R1, c1, LATE),
        LogLine(4, KEY, m.Stage.DONE, "every package extracted", R1, c1, LATE),
        LogLine(5, KEY, m.Stage.PLANNED, "the user allowed a new create request", None, c1, WHOLE),
        LogLine(6, KEY, m.Stage.SUBMITTING, None, None, c2, WHOLE),
        LogLine(7, KEY, m.Stage.SAT_FAILED, reason, R2, c2, WHOLE, code if field else None),
    ]


def _replanned(code: int, *, split: bool) -> list[LogLine]:
    """`_refused`, then 08-01..14 re-planned into the same folder and done (12 CFDIs), then
    (`split`) the whole month's run recording it split."""
    c3 = m.Counts(3, ((R1 + "_01", 1), (R3 + "_01", 1)))
    lines = [
        *_refused(code),
        LogLine(8, KEY, m.Stage.PLANNED, "the plan asks for new dates", None, c3, EARLY),
        LogLine(9, KEY, m.Stage.SUBMITTING, None, None, c3, EARLY),
        LogLine(10, KEY, m.Stage.SUBMITTED, "created", R3, c3, EARLY),
        LogLine(11, KEY, m.Stage.COMPLETED, "SAT completed the request", R3, c3, EARLY),
        LogLine(12, KEY, m.Stage.DONE, "every package extracted", R3, c3, EARLY),
    ]
    if split:
        both = m.Asked(WHOLE.start, WHOLE.end, 34)
        lines.append(LogLine(13, KEY, m.Stage.SPLIT, "SAT 5002 ... 2 parts", R3, c3, both))
    return lines


def _prints_billing(state: m.MonthState) -> bool:
    text = f"{state.reason} {state.hint}"
    return any(f"journal {c} " in text for c in ("adopt", "resend")) or "sat download" in text


def test_a_5002_month_split_after_a_replan_is_split_again_after_the_repair(
    tmp_path: Path,
) -> None:
    state = held_month(_base(), _replanned(5002, split=True), _folder(tmp_path))
    assert state is not None
    assert state.stage is m.Stage.SPLIT
    assert state.ok
    assert (state.start, state.end) == (WHOLE.start, WHOLE.end)
    assert state.invoice_count == 34
    assert len(state.files) == 34
    assert not _prints_billing(state)


def test_a_5002_month_done_after_a_replan_but_not_yet_split_completes_on_the_next_run(
    tmp_path: Path,
) -> None:
    state = held_month(_base(), _replanned(5002, split=False), _folder(tmp_path))
    assert state is not None
    assert state.stage is m.Stage.SPLIT  # both parts in the folder, counts held: complete
    assert not _prints_billing(state)


def test_a_5003_month_done_after_a_replan_is_done_for_its_days_with_its_own_part(
    tmp_path: Path,
) -> None:
    state = held_month(_base(), _replanned(5003, split=False), _folder(tmp_path))
    assert state is not None
    assert state.stage is m.Stage.DONE
    assert (state.start, state.end) == (EARLY.start, EARLY.end)
    assert state.request_id == R3
    assert len(state.files) == 12
    assert state.own_part is not None
    assert (state.own_part.start, state.own_part.end) == (LATE.start, LATE.end)
    assert len(state.own_part.files) == 22
    assert not _prints_billing(state)
    # A run of the whole month then sends nothing: every day is in the folder.
    decision = m.plan_decision(state, WHOLE.start, WHOLE.end)  # type: ignore[arg-type]
    assert decision.create is m.PlanCreate.NO
    assert "MISSING DAYS" not in (decision.note or "")


def test_a_refusal_is_read_from_the_log_s_sat_code_field(tmp_path: Path) -> None:
    lines = _refused(5003)
    # Reworded reason: only the structured code says 5003.
    lines[-1] = LogLine(7, KEY, m.Stage.SAT_FAILED, "too many CFDIs", R2, None, WHOLE, 5003)
    state = held_month(_base(), lines, _folder(tmp_path, early=0))
    assert state is not None
    assert state.stage is m.Stage.SAT_FAILED
    assert state.sat_code == 5003


def test_a_log_without_the_field_falls_back_to_the_parser_that_wrote_the_reason() -> None:
    """The text fallback is `machine.sat_code`, which reads the reasons the machine writes."""
    for code in (5002, 5003):
        written = m.transition(
            m.MonthState(
                KEY, date(2024, 8, 1), date(2024, 8, 31), "received", "cfdi", m.Stage.SUBMITTING
            ),
            m.CreateRefused("refused", code),
        )[0]
        line = m.Logged(written.stage, written.reason, None, None, None)
        assert m.refusal_code(line) == code
        assert written.sat_code == code
    failed = m._sat_failed(_base(), "SAT 5003: Solicitud excede el límite")
    assert m.refusal_code(m.Logged(failed.stage, failed.reason)) == 5003
    assert failed.sat_code == 5003


def test_an_own_part_that_lost_files_before_the_repair_never_completes_the_month(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path, early=0, late=12)  # 10 of the part's 22 CFDIs gone
    state = held_month(_base(), _refused(5003), folder)
    assert state is not None
    assert state.own_part is not None
    assert len(state.own_part.files) == 12
    assert state.own_part.invoice_count == 22
    assert state.own_part.missing == 10
    assert "no longer holds 10 of the 22" in (state.reason or "")
    # Done for 08-01..14 elsewhere-in-folder would not complete it either.
    done = m.MonthState(
        KEY,
        EARLY.start,  # type: ignore[arg-type]
        EARLY.end,  # type: ignore[arg-type]
        "received",
        "cfdi",
        stage=m.Stage.DONE,
        exhausted=((date(2024, 8, 1), date(2024, 8, 31)),),
        own_part=state.own_part,
    )
    assert m.own_part_completes(done, date(2024, 8, 1), date(2024, 8, 31)) is None


# ---------------------------------------------------------------- end to end, against the sandbox

FAST = ("--rfc-type", "received", "--poll-interval", "0.02")


def _damage(out: Path) -> None:
    """August's record unreadable (the log stays): what `journal repair` rewrites."""
    db = sqlite3.connect(out / ".gigstack-journal.sqlite3")
    db.execute("UPDATE months SET state = '{\"garbage' WHERE key = ?", (KEY,))
    db.commit()
    db.close()


async def _refused_with_own_part(sandbox: Sandbox, client: GigstackClient, out: Path) -> None:
    """08-15..31 done into `out`, then the whole month (`journal resend --force`) refused."""
    assert (await month_results(client, out, "2024-08-15", "2024-08-31"))[KEY].ok
    assert not (await month_results(client, out, "2024-08", "2024-08"))[KEY].ok
    resend = ("journal", "resend", out, KEY, "--force", "--yes")
    assert await asyncio.to_thread(keyed_cli, sandbox, *resend) == 0
    assert (await month_results(client, out, "2024-08", "2024-08"))[KEY].stage == "sat-failed"


def _spent(sandbox: Sandbox) -> tuple[int, int]:
    return calls(sandbox, "createDownloadRequest"), calls(sandbox, "downloadPackage")


async def test_a_replanned_5002_month_split_before_the_damage_is_split_after_the_repair(
    tmp_path: Path,
) -> None:
    """Review 9k #1 (d20_replan_repair.py, d26): the repaired month printed a download of
    08-01..14, which the folder held from the re-plan: followed, billed a second time."""
    rule = SatCodeRule(5002, month=KEY, whole_month=True)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "A"
    async with world_of(config) as (sandbox, client):
        await _refused_with_own_part(sandbox, client, out)
        assert (await month_results(client, out, "2024-08-01", "2024-08-14"))[KEY].ok
        split = (await month_results(client, out, "2024-08", "2024-08"))[KEY]
        assert (split.stage, split.ok) == ("split", True)
        spent = _spent(sandbox)
        _damage(out)
        assert await asyncio.to_thread(keyed_cli, sandbox, "journal", "repair", out, "--yes") == 0
        again = (await month_results(client, out, "2024-08", "2024-08"))[KEY]
        assert (again.stage, again.ok, again.invoice_count) == ("split", True, 34)
        assert _spent(sandbox) == spent  # nothing billed, no SAT download spent


async def test_an_own_part_that_lost_files_before_the_repair_is_refused_by_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 9k #2 (d22_repair_lost_own.py): 10 of the own part's 22 CFDIs deleted before the
    repair; `journal split` accepted the 12 left and the month ended ok with 10 CFDIs lost."""
    rule = SatCodeRule(5003, month=KEY, whole_month=True)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    out, part = tmp_path / "A", tmp_path / "A-2024-08a"
    async with world_of(config) as (sandbox, client):
        await _refused_with_own_part(sandbox, client, out)
        for name in sorted((out / KEY).glob("*.xml"))[:10]:
            name.unlink()
        _damage(out)
        assert await asyncio.to_thread(keyed_cli, sandbox, "journal", "repair", out, "--yes") == 0
        assert (await month_results(client, part, "2024-08-01", "2024-08-14"))[KEY].ok
        capsys.readouterr()
        split = ("journal", "split", out, KEY, part)
        assert await asyncio.to_thread(keyed_cli, sandbox, *split) != 0
        assert "10 fewer than the CFDIs SAT reported" in capsys.readouterr().err
        whole = (await month_results(client, out, "2024-08", "2024-08"))[KEY]
        assert not whole.ok


@pytest.mark.parametrize("criteria", [False, True], ids=["status-without-dates", "status-dates"])
async def test_a_month_whose_request_left_the_history_is_kept_from_its_files_own_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], criteria: bool
) -> None:
    """Review 9k #3 (d23_nojournal_unlisted.py): journal deleted, request adopted, the history
    no longer lists it: keep and keep --force were refused for ever, and the only printed way
    out, `journal resend`, billed August again. Whether the status answer names the request's
    dates is a GUESS: without them the files prove them; with them the status does (newcomer
    9g #3); either way keep is free."""
    config = SandboxConfig(speed=3000, seed=5, history_limit=1)
    out = tmp_path / "A"
    async with world_of(config) as (sandbox, client):
        if not criteria:
            sandbox.state.profile = ServerProfile(omit_fields=STATUS_CRITERIA_FIELDS)
        assert (await month_results(client, out, "2024-08", "2024-08"))[KEY].ok
        first = sandbox.state.calls_to("createDownloadRequest")[0].created
        assert first is not None
        assert (await month_results(client, tmp_path / "C", "2024-09", "2024-09"))["2024-09"].ok
        for journal in out.glob(".gigstack-journal*"):
            journal.unlink()
        assert not (await month_results(client, out, "2024-08", "2024-08"))[KEY].ok
        adopt = ("journal", "adopt", out, KEY, first, "--yes")
        assert await asyncio.to_thread(keyed_cli, sandbox, *adopt) == 0
        stopped = (await month_results(client, out, "2024-08", "2024-08"))[KEY]
        assert (stopped.stage, stopped.ok) == ("needs-attention", False)
        assert f"journal keep {out} {KEY}" in (stopped.hint or "")
        assert "resend" not in (stopped.hint or "")
        spent = _spent(sandbox)
        capsys.readouterr()
        resend = ("journal", "resend", out, KEY, "--yes")  # refused: a free way is there
        assert await asyncio.to_thread(keyed_cli, sandbox, *resend) != 0
        refused = capsys.readouterr().err
        assert "journal keep" in refused
        assert "downloads the request's package again" not in refused
        assert (
            await asyncio.to_thread(keyed_cli, sandbox, "journal", "keep", out, KEY, "--yes") == 0
        )
        kept = capsys.readouterr().out
        assert ("checked from the files" in kept) is not criteria
        done = (await month_results(client, out, "2024-08", "2024-08"))[KEY]
        assert (done.stage, done.invoice_count) == ("done", 34)
        # Review 9n #4: adopted, and no history listed its createdAt (history_limit=1): it may
        # have been made on the month's last day, before it was over (unknown is never "after").
        assert not done.ok
        assert "may have been made on 2024-08-31" in " ".join((done.error or "").split())
        assert _spent(sandbox) == spent  # nothing billed, no SAT download spent


def test_done_requests_covering_the_refused_dates_before_the_refusal_send_nothing(
    tmp_path: Path,
) -> None:
    """08-15..31 done, 5003, 08-01..14 re-planned and done, then the whole month asked again
    (`journal resend --force`) and refused once more: the log's last line is the refusal, but
    its done requests hold every day; the rebuilt month never asks for any of them again."""
    c4 = m.Counts(4, ((R1 + "_01", 1), (R3 + "_01", 1)))
    lines = [
        *_replanned(5003, split=False),
        LogLine(13, KEY, m.Stage.PLANNED, "the user allowed a new create request", None, c4, WHOLE),
        LogLine(14, KEY, m.Stage.SUBMITTING, None, None, c4, WHOLE),
        LogLine(15, KEY, m.Stage.SAT_FAILED, "SAT request failed: SAT 5003", "9", c4, WHOLE, 5003),
    ]
    state = held_month(_base(), lines, _folder(tmp_path))
    assert state is not None
    assert state.stage is m.Stage.DONE
    assert (state.start, state.end) == (EARLY.start, EARLY.end)
    assert state.own_part is not None
    assert (state.own_part.start, state.own_part.end) == (LATE.start, LATE.end)
    assert not _prints_billing(state)
    decision = m.plan_decision(state, WHOLE.start, WHOLE.end)  # type: ignore[arg-type]
    assert decision.create is m.PlanCreate.NO
    assert "MISSING DAYS" not in (decision.note or "")


def test_a_whole_month_run_over_a_request_and_its_own_part_reports_both() -> None:
    """Review 9k #4 (d20c before the repair): done for 08-01..14 (12 CFDIs) with 08-15..31 (22)
    as its own part, both in its folder: a whole-month run said "done, 12 invoices, 12 files"."""
    own = m.OwnPart(LATE.start, LATE.end, tuple(f"l{i}.xml" for i in range(22)), 22)  # type: ignore[arg-type]
    state = m.MonthState(
        KEY,
        EARLY.start,  # type: ignore[arg-type]
        EARLY.end,  # type: ignore[arg-type]
        "received",
        "cfdi",
        stage=m.Stage.DONE,
        request_id=R3,
        invoice_count=12,
        extracted=(m.ExtractedPackage(R3 + "_01", tuple(f"e{i}.xml" for i in range(12))),),
        own_part=own,
    )
    decision = m.plan_decision(state, WHOLE.start, WHOLE.end)  # type: ignore[arg-type]
    assert decision.create is m.PlanCreate.NO
    assert decision.state is None  # the record is kept
    assert decision.shown is not None
    assert (decision.shown.start, decision.shown.end) == (WHOLE.start, WHOLE.end)
    assert (decision.shown.invoice_count, len(decision.shown.files)) == (34, 34)
    assert decision.shown.ok
    # A file of either part gone: not shown complete.
    lost = m.plan_decision(state, WHOLE.start, WHOLE.end, lost=("l3.xml",))  # type: ignore[arg-type]
    assert lost.shown is None
    # A plan of other dates than both parts together: the record as it is.
    other = m.plan_decision(state, date(2024, 8, 5), WHOLE.end)  # type: ignore[arg-type]
    assert other.shown is None


async def test_a_plan_of_fewer_days_than_the_own_part_counts_only_its_days_cfdis(
    tmp_path: Path,
) -> None:
    """Review 9k #4 (d14_plan_noyes.py): a plan of 08-16..31 over an own part of 08-15..31
    reported "ok, 22 files", counting 08-15's CFDIs as the plan's."""
    rule = SatCodeRule(5002, month=KEY, whole_month=True)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "A"
    async with world_of(config) as (sandbox, client):
        await _refused_with_own_part(sandbox, client, out)
        heads = content.cfdi_heads(sorted((out / KEY).iterdir()))
        plan = {h.name for h in heads if h.day is not None and h.day >= date(2024, 8, 16)}
        assert 0 < len(plan) < 22  # the seed's 08-15 has CFDIs: the case is shown
        spent = _spent(sandbox)
        result = (await month_results(client, out, "2024-08-16", "2024-08-31"))[KEY]
        assert (result.ok, result.stage) == (True, "done")
        assert {p.name for p in result.files} == plan
        whole = (await month_results(client, out, "2024-08-15", "2024-08-31"))[KEY]
        assert len(whole.files) == 22
        assert _spent(sandbox) == spent
