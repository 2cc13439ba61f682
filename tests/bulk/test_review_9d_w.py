"""Review 9d (engineer w): a confirmed adopt replaces the journal's record of the id (#1), and
the cross-month refusal of adopt has a way through after the server's ids restarted; end to
end against the sandbox (127.0.0.1), the content check's findings #2 and #3."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

import gigstack_async.sandbox.cfdi as sandbox_cfdi
from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk import repair
from gigstack_async.bulk.store import JournalStateError, JournalStore, StoreIdentity
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox
from gigstack_async.sandbox.profiles import STATUS_CRITERIA_FIELDS, ServerProfile
from tests.bulk._support import results, run

JAN = (date(2024, 1, 1), date(2024, 1, 31))
OLD = m.KnownRequest(
    "DM-000001", *JAN, "received", "cfdi", created_at="1700000000000", final="completed"
)


def _seen(created_at: str) -> m.Seen:
    return m.Seen("DM-000001", "processing", "received", "cfdi", *JAN, created_at=created_at)


def _attention() -> m.MonthState:
    """2024-01 after the restart: its request DM-000001 was listed with another createdAt."""
    return m.MonthState(
        "2024-01",
        *JAN,
        "received",
        "cfdi",
        stage=m.Stage.NEEDS_ATTENTION,
        request_id="DM-000001",
        known_ids=("DM-000001",),
        records=(OLD,),
        checked=True,
        typed=True,
        reason="the server's request DM-000001 is listed with createdAt ...",
    )


@pytest.mark.parametrize("current", [True, False], ids=["own-id", "other-id"])
def test_a_confirmed_adopt_replaces_the_record_of_the_id(current: bool) -> None:
    state = _attention()
    if not current:
        state = m.MonthState(
            "2024-01",
            *JAN,
            "received",
            "cfdi",
            stage=m.Stage.NEEDS_ATTENTION,
            request_id="DM-000009",
            known_ids=("DM-000009", "DM-000001"),
            records=(OLD, m.KnownRequest("DM-000009")),
        )
    adopted, _ = m.transition(state, m.Adopt("DM-000001"))
    assert all(r.id != "DM-000001" for r in adopted.records)
    # The next history lists the id with the new server's createdAt: followed, not flagged.
    after, commands = m.transition(adopted, m.HistorySeen((_seen("1800000000000"),)))
    assert after.stage is not m.Stage.NEEDS_ATTENTION, after.reason
    assert not any(isinstance(c, m.Warn) for c in commands)
    assert next(r for r in after.records if r.id == "DM-000001").created_at == "1800000000000"


def _store(tmp_path: Path) -> JournalStore:
    identity = StoreIdentity(None, "http://127.0.0.1:9/v2", "k", None, "received", "cfdi")
    return JournalStore.open(tmp_path / "journal.sqlite3", identity)


def test_adopting_an_id_another_month_had_before_a_restart(tmp_path: Path) -> None:
    done = m.MonthState(
        "2023-12",
        date(2023, 12, 1),
        date(2023, 12, 31),
        "received",
        "cfdi",
        stage=m.Stage.DONE,
        request_id="DM-000002",
        known_ids=("DM-000002",),
        extracted=(m.ExtractedPackage("DM-000002_01", ("A.xml",)),),
    )
    with _store(tmp_path) as store:
        store.ensure([done, _attention()])
        with pytest.raises(JournalStateError, match="--ids-restarted"):
            repair.adopt(store, "2024-01", "DM-000002")
        new, commands = repair.adopt(store, "2024-01", "DM-000002", ids_restarted=True)
        assert new.request_id == "DM-000002"
        repair.record(store, new, commands)
        assert store.get("2023-12") == done  # the other month keeps its files and records


def test_a_month_still_following_the_id_is_never_shared(tmp_path: Path) -> None:
    waiting = m.MonthState(
        "2024-02",
        date(2024, 2, 1),
        date(2024, 2, 29),
        "received",
        "cfdi",
        stage=m.Stage.SUBMITTED,
        request_id="DM-000002",
        known_ids=("DM-000002",),
    )
    with _store(tmp_path) as store:
        store.ensure([waiting, _attention()])
        with pytest.raises(JournalStateError, match="its current request"):
            repair.adopt(store, "2024-01", "DM-000002", ids_restarted=True)


# end to end: the content check (#3, #2) ----------------------------------------------------


async def test_a_serie_with_gt_never_rejects_the_month(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review 9d #3: '>' is legal unescaped in an attribute (CFDI 4.0 Serie is [^|]{1,25}); the
    # old pattern found no Fecha, rejected the month and deleted the spent download.
    render = sandbox_cfdi.render_cfdi
    changed: list[str] = []

    def with_gt(invoice: sandbox_cfdi.SandboxInvoice) -> str:
        text = render(invoice)
        if not changed or int(invoice.uuid.replace("-", ""), 16) % 5 == 0:
            changed.append(invoice.uuid)
            if ' Serie="' in text:
                return re.sub(r' Serie="[^"]*"', ' Serie="F>1"', text, count=1)
            return text.replace('Version="4.0"', 'Version="4.0" Serie="F>1"', 1)
        return text

    monkeypatch.setattr(sandbox_cfdi, "render_cfdi", with_gt)
    sandbox, client = world
    found = results(await run(client, tmp_path / "cfdi", "2024-01", "2024-02"))
    assert changed
    for key in ("2024-01", "2024-02"):
        assert found[key].stage == "done", found[key].error
        assert found[key].files
    assert len(sandbox.state.calls_to("downloadPackage")) == 2  # one GET per package


async def test_an_adopted_issued_request_is_not_a_received_month(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Review 9d #2: the issued request for the same dates (one issuer, many receivers) was
    # adopted by a received month and reported ok with the issued CFDIs.
    sandbox, client = world
    # A status answer without the request's criteria (a GUESS): the package's CFDIs catch it.
    # With them, the status does before any GET (tests/bulk/test_newcomer9g_status_check.py).
    sandbox.state.profile = ServerProfile(omit_fields=STATUS_CRITERIA_FIELDS)
    out = tmp_path / "received"
    issued = await client.downloads.create_request(
        start_date="2024-01-01", end_date="2024-01-31", rfc_type="issued", request_type="cfdi"
    )
    for n in range(20):  # later requests push it out of the 20-entry history: not checkable
        await client.downloads.create_request(
            start_date=f"2023-{n % 12 + 1:02d}-01",
            end_date=f"2023-{n % 12 + 1:02d}-{10 + n // 12:02d}",
            rfc_type="issued",
            request_type="metadata",
        )
    sandbox.state.force_fault("createDownloadRequest", "502", times=1)  # nothing created
    first = results(await run(client, out, "2024-01", "2024-01"))["2024-01"]
    assert first.stage == "needs-attention"
    assert main(["journal", "adopt", str(out), "2024-01", issued.request_id, "--yes"]) == 0
    capsys.readouterr()
    sandbox.clock.advance(3600)
    found = results(await run(client, out, "2024-01", "2024-01"))["2024-01"]
    assert found.stage == "needs-attention"
    assert not found.files
    assert "RFCs as receptor" in (found.error or "")
    assert not list(out.glob("*/*.xml"))
