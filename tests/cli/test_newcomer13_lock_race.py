"""Newcomer 13 #7: two `sat download` runs on one folder at once. Both passed the plan's journal
check; the one that lost the race for the journal's lock then printed a summary ("Total: 3
months, 0 ok, 3 not ok", read from the other run's journal) before its error. Refused as it
opens the journal, a run did nothing: it prints no summary, only the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from gigstack_async.bulk.store import JournalLockedError
from gigstack_async.cli.download import DownloadJob, default_journal, execute, plan_run
from gigstack_async.cli.redact import Redactor
from gigstack_async.cli.ui import Ui
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import CREATE, calls, world_of


async def test_the_run_that_loses_the_journal_prints_no_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    job = DownloadJob("2024-01", "2024-03", "received", "cfdi", out, default_journal(out))
    async with world_of(SandboxConfig(speed=0, seed=3)) as (sandbox, client):
        winner = plan_run(client, job)
        loser = plan_run(client, job)
        loser.check_journal()  # the plan's check passes: nobody holds the journal yet
        async with winner:
            events = aiter(winner)
            await anext(events)  # the winner holds the journal now
            capsys.readouterr()
            with pytest.raises(JournalLockedError):
                await execute(client, loser, job, Ui(Redactor()), checked=True)
            said = capsys.readouterr()
            creates = calls(sandbox, CREATE)
    assert "Total:" not in said.out + said.err  # before: the winner's months, as this run's
    assert "planned" not in said.out + said.err
    assert creates <= 3  # the winner's own, none from the loser


# ------------------------------------------------- newcomer 13 #9: a folder that is a file


@pytest.mark.parametrize(
    ("field", "given", "says"),
    [
        ("download_to", "afile", "afile is a file, not a folder"),
        ("download_to", "afile/cfdi", "is a file, not a folder"),
        ("journal", "adir", "adir is a folder; give a file path"),
        ("journal", "afile/j.sqlite3", "is a file, not a folder"),
    ],
)
async def test_a_path_that_cannot_be_used_is_refused_before_anything_is_sent(
    tmp_path: Path, field: str, given: str, says: str
) -> None:
    from gigstack_async import InvalidParameterError

    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir").mkdir()
    paths = {"download_to": tmp_path / "cfdi", field: tmp_path / given}
    async with world_of(SandboxConfig(speed=0, seed=3)) as (sandbox, client):
        with pytest.raises(InvalidParameterError) as caught:
            client.downloads.bulk("2024-01", "2024-02", rfc_type="received", **paths)
        assert sandbox.state.calls == []  # nothing sent: before, a bare FileExistsError later
    assert caught.value.field == field
    assert says in str(caught.value)
    assert not (tmp_path / "cfdi").exists()


# ------------------------------------------- review 13b #5: Ctrl-C at the plan's question


async def test_ctrl_c_at_the_question_says_nothing_was_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from gigstack_async.cli.commands import sat_download
    from tests.bulk._support import keyed_cli

    def ctrl_c(*args: object, **kwargs: object) -> bool:
        raise KeyboardInterrupt  # the user's answer to "[y/N]"

    monkeypatch.setattr(sat_download, "check_can_confirm", lambda *a, **k: None)
    monkeypatch.setattr(sat_download, "confirmed", ctrl_c)
    out = tmp_path / "cfdi"
    argv = ["sat", "download", "--from", "2024-01", "--to", "2024-02", "--rfc-type", "received"]
    argv += ["--out", out]
    async with world_of(SandboxConfig(speed=0, seed=3)) as (sandbox, _client):
        code = await asyncio.to_thread(keyed_cli, sandbox, *argv)
        creates = calls(sandbox, CREATE)
    assert code == 130
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "interrupted: stopped before any request was sent (no journal was made); run the "
            "same command again to start"
        )
    )  # before: a bare "interrupted"
    assert creates == 0
