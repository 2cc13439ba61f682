"""Review 9m #9 and #10: what `journal keep` records as a month's CFDIs.

#9 (m9_keep_other_team.py): a folder holding another company's August (68 CFDIs) while SAT
counted 34 for the journal's request was kept as "done, 34 invoices, 68 files". More CFDIs than
SAT's count are foreign files: refused, naming how many, unless --force.
#10 (m15_keep_corrupt.py): a CFDI truncated to 100 bytes was counted by its name and kept, and
retry-download was then refused although SAT's remaining download would restore it for free.
Keep reads each CFDI to its end (and its stamp's UUID) and refuses damaged ones, pointing to the
free re-download.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import content
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import held_cfdis
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import calls, keyed_cli, month_results, world_of

KEY = "2024-08"
UUID = "044B8A47-14BC-456A-96D0-2383FCE3D50A"


def _cfdi(uuid: str, *, stamped: str | None = None) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" '
        'xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" Version="4.0" '
        'Fecha="2024-08-11T10:39:52"><cfdi:Emisor Rfc="CPX940417KBC"/>'
        '<cfdi:Receptor Rfc="EKU9003173C9"/><cfdi:Complemento>'
        f'<tfd:TimbreFiscalDigital Version="1.1" UUID="{stamped or uuid}"/>'
        "</cfdi:Complemento></cfdi:Comprobante>"
    )


def test_damaged_cfdis_are_the_uuid_named_files_that_are_no_complete_cfdi(
    tmp_path: Path,
) -> None:
    whole = _cfdi(UUID)
    good = tmp_path / f"{UUID}.xml"
    good.write_text(whole)
    other = "10023348-2419-4750-98E2-F7D62C7B8DEA"
    # Cut after the Receptor: the head reads fine (what `cfdi_heads` looks at), the end is gone.
    cut = tmp_path / f"{other}.xml"
    cut.write_text(whole.replace(UUID, other)[: whole.index("<cfdi:Complemento>")])
    tiny = tmp_path / "105AE6CD-F8C0-48A3-B461-7BA27A572473.xml"
    tiny.write_text(whole[:100])
    swapped = tmp_path / "29A0C4C2-0A36-4D0B-8E52-1D4A4B2E6E10.xml"
    swapped.write_text(_cfdi("29A0C4C2-0A36-4D0B-8E52-1D4A4B2E6E10", stamped=UUID))
    lower = tmp_path / f"{UUID.lower()}-copy.xml"  # not a <UUID>.xml name: not looked at
    lower.write_text("not xml")
    pdf = tmp_path / f"{UUID}.pdf"
    pdf.write_bytes(b"%PDF")
    paths = sorted(tmp_path.iterdir())
    assert content.cfdi_heads([cut])[0].cfdi  # the head alone cannot tell
    assert set(content.damaged_cfdis(paths)) == {cut.name, tiny.name, swapped.name}
    assert held_cfdis(tmp_path, "cfdi") == 4  # by name (a settled month's count)
    assert held_cfdis(tmp_path, "cfdi", whole=True) == 1


def _keepable(**changes: object) -> m.MonthState:
    state = m.MonthState(
        key=KEY,
        start=date(2024, 8, 1),
        end=date(2024, 8, 31),
        rfc_type="received",
        request_type="cfdi",
        stage=m.Stage.NEEDS_ATTENTION,
        request_id="r1",
        confirmed_id="r1",
        known_ids=("r1",),
        invoice_count=2,
        records=(m.KnownRequest("r1", date(2024, 8, 1), date(2024, 8, 31), "received"),),
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("force", [False, True])
def test_keep_refuses_damaged_cfdis_even_with_force(force: bool) -> None:
    state = _keepable()
    names = (f"{UUID}.xml", "10023348-2419-4750-98E2-F7D62C7B8DEA.xml")
    keep = m.KeepFiles(names, vouched=force, damaged=(names[1],))
    with pytest.raises(m.TransitionError, match=r"1 file\(s\) .* not complete CFDIs .*10023348"):
        m.transition(state, keep)
    new, _ = m.transition(state, attrs.evolve(keep, damaged=()))
    assert new.stage is m.Stage.DONE


def test_cfdis_beyond_sat_s_count_are_foreign() -> None:
    state = _keepable(invoice_count=34)
    assert m.beyond_count(state, 68) == 34
    assert m.beyond_count(state, 34) == 0
    assert m.beyond_count(state, 20) == 0
    assert m.beyond_count(attrs.evolve(state, invoice_count=None), 68) == 0  # unknown: no claim


async def test_a_truncated_cfdi_is_not_kept_and_the_free_download_restores_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "A"
    async with world_of(SandboxConfig(speed=3000, seed=5, history_limit=1)) as (sandbox, client):
        assert (await month_results(client, out, KEY, KEY))[KEY].ok
        request = sandbox.state.calls_to("createDownloadRequest")[0].created
        assert request is not None
        assert (await month_results(client, tmp_path / "C", "2024-09", "2024-09"))["2024-09"].ok
        for journal in out.glob(".gigstack-journal*"):
            journal.unlink()
        broken = sorted((out / KEY).glob("*.xml"))[0]
        whole = broken.read_bytes()
        broken.write_bytes(whole[:100])
        assert not (await month_results(client, out, KEY, KEY))[KEY].ok
        adopt = ("journal", "adopt", out, KEY, request, "--yes")
        assert await asyncio.to_thread(keyed_cli, sandbox, *adopt) == 0
        stopped = (await month_results(client, out, KEY, KEY))[KEY]
        assert not stopped.ok
        assert f"journal retry-download {out} {KEY}" in (stopped.hint or stopped.error or "")
        capsys.readouterr()
        keep = ("journal", "keep", out, KEY, "--yes")
        assert await asyncio.to_thread(keyed_cli, sandbox, *keep) == 2
        refused = " ".join(capsys.readouterr().err.split())
        assert "not complete CFDIs" in refused
        assert broken.name in refused
        assert f"journal retry-download {out} {KEY}" in refused
        assert await asyncio.to_thread(keyed_cli, sandbox, *keep, "--force") == 2
        retry = ("journal", "retry-download", out, KEY, "--yes")
        assert await asyncio.to_thread(keyed_cli, sandbox, *retry) == 0
        done = (await month_results(client, out, KEY, KEY))[KEY]
        assert done.invoice_count == 34
        # Review 9n #4: adopted, and no history listed its createdAt (history_limit=1): it may
        # have been made on the month's last day, before it was over (unknown is never "after").
        assert not done.ok
        assert "may have been made on 2024-08-31" in " ".join((done.error or "").split())
        assert broken.read_bytes() == whole  # restored by SAT's remaining download
        assert calls(sandbox, "createDownloadRequest") == 2  # August billed once
        assert calls(sandbox, "downloadPackage") == 3  # August's package: SAT's 2


async def test_a_folder_with_another_company_s_cfdis_is_not_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, other = tmp_path / "A", tmp_path / "B"
    async with world_of(SandboxConfig(speed=3000, seed=5, history_limit=1)) as (sandbox, client):
        download = ("sat", "download", "--from", KEY, "--to", KEY, "--rfc-type", "received")
        download += ("--poll-interval", "0.05", "--yes")
        theirs = (*download, "--out", other, "--team", "team_connected")
        assert await asyncio.to_thread(keyed_cli, sandbox, *theirs) == 0
        assert (await month_results(client, out, KEY, KEY))[KEY].ok
        request = sandbox.state.calls_to("createDownloadRequest")[-1].created
        assert request is not None
        assert (await month_results(client, tmp_path / "C", "2024-09", "2024-09"))["2024-09"].ok
        ours = len(list((out / KEY).glob("*.xml")))
        foreign = len(list((other / KEY).glob("*.xml")))
        assert foreign > ours
        for journal in out.glob(".gigstack-journal*"):
            journal.unlink()
        shutil.rmtree(out / KEY)
        shutil.copytree(other / KEY, out / KEY)  # a wrong folder restored
        assert not (await month_results(client, out, KEY, KEY))[KEY].ok
        adopt = ("journal", "adopt", out, KEY, request, "--yes")
        assert await asyncio.to_thread(keyed_cli, sandbox, *adopt) == 0
        assert not (await month_results(client, out, KEY, KEY))[KEY].ok
        capsys.readouterr()
        keep = ("journal", "keep", out, KEY, "--yes")
        assert await asyncio.to_thread(keyed_cli, sandbox, *keep) == 2
        refused = " ".join(capsys.readouterr().err.split())
        held = f"holds {foreign} distinct CFDI(s) (files named <UUID>.xml)"
        assert f"{held}, {foreign - ours} more than" in refused
        assert f"Move the files that are not {KEY}'s out of" in refused
        still = (await month_results(client, out, KEY, KEY))[KEY]
        assert not still.ok
        # --force says what it records (the foreign ones included) and whose RFC they name.
        assert await asyncio.to_thread(keyed_cli, sandbox, *keep, "--force") == 0
        forced = " ".join(capsys.readouterr().out.split())
        assert "the foreign ones included" in forced
        assert "This journal does not know its taxpayer's RFC" in forced
