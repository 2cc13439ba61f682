"""`journal resend` refuses what SAT already said no to, before any warning is printed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main

IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)
JOURNAL = ".gigstack-journal.sqlite3"
MAR = m.MonthState("2024-03", date(2024, 3, 1), date(2024, 3, 31), "received", "cfdi")
APR = m.MonthState("2024-04", date(2024, 4, 1), date(2024, 4, 30), "received", "cfdi")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "cfdi"
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        too_many = attrs.evolve(
            MAR, stage=m.Stage.SAT_FAILED, sat_code=5003, request_id="R3", creates=1
        )
        limit = attrs.evolve(APR, stage=m.Stage.SAT_FAILED, sat_code=5002, creates=1)
        store.ensure([too_many, limit])
    return folder


def stage_of(out: Path, key: str) -> m.Stage:
    with JournalStore.open_existing(out / JOURNAL) as store:
        return store.get(key).stage


def test_a_5003_month_is_not_resent_with_the_dates_sat_found_too_big(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "resend", str(out), "2024-03", "--yes"]) == 2
    said = capsys.readouterr()
    assert "5003" in said.err
    assert "billed and refused again" in said.err
    assert "--out" in said.err  # the way out: split the period into its own folders
    assert "will be sent" not in said.out
    assert stage_of(out, "2024-03") is m.Stage.SAT_FAILED


def test_a_one_day_5003_month_is_not_told_to_split_the_day(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Was: "Split the period instead ... e.g. in two halves: `sat download --from 2024-03-31
    # --to 2024-03-31 ...`": the very request SAT refused, billed again.
    day = date(2024, 3, 31)
    with JournalStore.open_existing(out / JOURNAL) as store:
        store.put(attrs.evolve(store.get("2024-03"), start=day, end=day))
    assert main(["journal", "resend", str(out), "2024-03", "--yes"]) == 2
    said = capsys.readouterr()
    assert said.err.count("--from 2024-03-31 --to 2024-03-31") == 1
    assert "one day cannot be split by dates" in said.err
    assert f"--type metadata --out {out}-2024-03a" in said.err
    assert "journal split" not in said.err
    assert "Pass --force only if SAT's answer has changed" in said.err
    assert stage_of(out, "2024-03") is m.Stage.SAT_FAILED
    assert main(["journal", "resend", str(out), "2024-03", "--yes", "--force"]) == 0
    assert stage_of(out, "2024-03") is m.Stage.PLANNED


def test_force_resends_a_5003_month_when_the_user_insists(out: Path) -> None:
    assert main(["journal", "resend", str(out), "2024-03", "--yes", "--force"]) == 0
    assert stage_of(out, "2024-03") is m.Stage.PLANNED


def test_a_5002_refusal_comes_before_any_will_be_sent_warning(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "resend", str(out), "2024-04", "--yes"]) == 2
    said = capsys.readouterr()
    assert "5002" in said.err
    assert said.out.strip() == ""  # nothing promised that the command then refuses
    assert stage_of(out, "2024-04") is m.Stage.SAT_FAILED
