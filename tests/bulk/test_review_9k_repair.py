"""Review 9k: `journal repair` rebuilds a month from its WHOLE log, not only from how it ends.

#1 a request done after SAT's 5002/5003 (the missing days re-planned into the same folder)
   counts: the repaired month never asks for days a logged done request downloaded, and a
   month split and ok before the damage is split and ok after it;
#2 the own part keeps the count its log kept: files lost before the repair are never taken
   for the part's (`journal split` and the run refuse it, as without a repair).
Refusals are read from the log's SAT code field; a line without one falls back to the reason,
read by the very parser that wrote it."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import held_month
from gigstack_async.bulk.store import LogLine

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
