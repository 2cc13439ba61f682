"""Newcomer walk 9d (items 1, 5, 6, 7, 8, 11): an emptied journal, the refusal without a
terminal, the texts a Python caller reads, createdAt in the plan, held months in `journal show`
and the list of journal commands."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from gigstack_async import BulkEvent, GigstackClient, MonthFailed, MonthResult, PollSchedule
from gigstack_async.bulk.created_at import created_at_text
from gigstack_async.bulk.store import JournalDamagedError, JournalStore, StoreIdentity
from gigstack_async.sandbox import Sandbox
from gigstack_async.sandbox.profiles import RefuseCreates, SatCodeRule, ServerProfile

from ._support import creates as _creates
from ._support import download_argv as _download
from .conftest import SECRET_KEY

JOURNAL = ".gigstack-journal.sqlite3"


# ------------------------------------------------------------ item 1: an emptied journal


async def test_a_journal_truncated_to_zero_bytes_is_damaged_not_resumed(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # Item 1: `truncate -s 0` on a finished run's journal printed "exists: resuming where it
    # stopped" and created (billed) every month whose folder was gone once more.
    out = tmp_path / "cfdi"
    first = await cli(*_download(out, "--yes"))
    assert first.code == 0, first.stderr
    creates = _creates(sandbox)
    (out / JOURNAL).write_bytes(b"")
    for month in ("2025-02",):  # submitted, not downloaded yet: nothing on disk tells
        for file in (out / month).iterdir():
            file.unlink()
        (out / month).rmdir()
    again = await cli(*_download(out, "--yes"))
    assert again.code == 2, again.stdout + again.stderr
    assert "it is damaged" in again.stderr
    assert "emptied or truncated" in again.stderr
    assert "resuming where it stopped" not in again.stdout
    assert _creates(sandbox) == creates  # nothing billed again
    # Its route bills nothing: `journal show` says DAMAGED and how to carry months over.
    shown = await cli("journal", "show", str(out))
    assert shown.code == 2, shown.stderr
    assert "is DAMAGED" in shown.stdout
    assert "journal adopt" in shown.stdout
    assert _creates(sandbox) == creates


async def test_a_journal_elsewhere_emptied_is_damaged_by_its_download_folder(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # Item 1, journal= elsewhere: the month folders are in --out, not next to the journal.
    out = tmp_path / "cfdi"
    journal = tmp_path / "journals" / "received.sqlite3"
    first = await cli(*_download(out, "--yes", "--journal", str(journal)))
    assert first.code == 0, first.stderr
    creates = _creates(sandbox)
    journal.write_bytes(b"")
    again = await cli(*_download(out, "--yes", "--journal", str(journal)))
    assert again.code == 2, again.stdout + again.stderr
    assert "it is damaged" in again.stderr
    assert _creates(sandbox) == creates
    # `journal show` of that file cannot see --out: it says both cases, and the way on.
    shown = await cli("journal", "show", str(journal))
    assert shown.code == 2, shown.stderr
    assert "DAMAGED" in shown.stdout + shown.stderr
    assert "journal adopt" in shown.stdout + shown.stderr


async def test_a_zero_byte_journal_in_an_otherwise_empty_folder_is_damaged_too(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # Review 9g #1 (was: "completed as half-created"): a run that only submitted months and
    # stopped on its timeout leaves just the journal and its lock. Journals are now renamed
    # into place complete, so a 0-byte one is damage, whatever else is in the folder.
    out = tmp_path / "cfdi"
    out.mkdir()
    (out / JOURNAL).write_bytes(b"")
    (out / (JOURNAL + ".lock")).write_bytes(b"")
    again = await cli(*_download(out, "--yes"))
    assert again.code == 2, again.stdout + again.stderr
    assert "it is damaged" in again.stderr
    assert "half-created" not in again.stdout + again.stderr
    assert "journal adopt" in again.stderr
    assert _creates(sandbox) == 0
    assert (out / JOURNAL).read_bytes() == b""


_IDENTITY = StoreIdentity(
    team=None,
    base_url="http://127.0.0.1:1",
    key_fingerprint="f" * 16,
    rfc=None,
    rfc_type="received",
    request_type="cfdi",
)


@pytest.mark.parametrize("trace", ["staging", "wal", "month folder", "month folder in download_to"])
def test_any_trace_of_a_run_makes_a_table_less_journal_damaged(tmp_path: Path, trace: str) -> None:
    folder = tmp_path / "cfdi"
    folder.mkdir()
    journal = folder / JOURNAL
    journal.write_bytes(b"")
    download_to = None
    if trace == "staging":
        (folder / ".gigstack-staging").mkdir()
    elif trace == "wal":
        (folder / (JOURNAL + "-wal")).write_bytes(b"\0" * 32)
    elif trace == "month folder":
        (folder / "2024-03").mkdir()
        (folder / "2024-03" / "A.xml").write_text("<cfdi/>")
    else:
        journal = tmp_path / "journal.sqlite3"
        journal.write_bytes(b"")
        download_to = folder
        (folder / "2024-03").mkdir()
        (folder / "2024-03" / "A.xml").write_text("<cfdi/>")
    with pytest.raises(JournalDamagedError) as caught:
        JournalStore.open(journal, _IDENTITY, download_to=download_to)
    assert "Nothing was sent" in str(caught.value)
    assert "journal show" in str(caught.value)
    assert journal.read_bytes() == b""  # left as found, for `journal show` to read
    if trace == "wal":  # SQLite drops the -wal of an empty file: never opened by it
        assert (folder / (JOURNAL + "-wal")).stat().st_size == 32
    if download_to is None:  # `journal show` knows only the journal's own folder
        with pytest.raises(JournalDamagedError):
            JournalStore.open_readonly(journal)


def test_a_table_less_journal_without_any_trace_is_still_damaged(tmp_path: Path) -> None:
    # Review 9g #1: the lock file, an empty -wal/-shm, an empty month folder are also all a
    # submit-only run leaves; journals are created complete, so this is damage, never new.
    folder = tmp_path / "cfdi"
    folder.mkdir()
    journal = folder / JOURNAL
    journal.write_bytes(b"")
    for name in (".lock", "-wal", "-shm"):
        (folder / (JOURNAL + name)).write_bytes(b"")
    (folder / "2024-03").mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(JournalDamagedError) as caught:
        JournalStore.open(journal, _IDENTITY, download_to=folder)
    assert "may have sent requests" in str(caught.value)
    assert journal.read_bytes() == b""
    with pytest.raises(JournalDamagedError):
        JournalStore.open_readonly(journal)


# ------------------------------------------------------------ item 5: no terminal, no --yes


async def test_the_refusal_without_a_terminal_does_not_state_an_unchecked_count(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # Item 5: "sat download may submit 2 download requests that may be billed" while, read
    # against the history (in a terminal), both months are held: nothing would be sent.
    assert (await cli(*_download(tmp_path / "cfdi", "--yes"))).code == 0
    creates = _creates(sandbox)
    reads = len(sandbox.state.calls_to("getDownloadHistory"))
    refused = await cli(*_download(tmp_path / "cfdi-b"))  # stdin is not a terminal
    assert refused.code == 2, refused.stderr
    assert "may submit up to 2 download requests that may be billed" in refused.stderr
    assert "some may be held, not sent, once the account's history is read" in refused.stderr
    assert "pass --yes" in refused.stderr
    assert "may submit 2 " not in refused.stderr
    assert _creates(sandbox) == creates
    assert len(sandbox.state.calls_to("getDownloadHistory")) == reads  # nothing sent to say it


# ------------------------------------------------------------ item 6: Python error and hint


def _poll() -> PollSchedule:
    return PollSchedule(initial=0.02, maximum=0.05)


async def _bulk(sandbox: Sandbox, folder: Path, last: str = "2025-02") -> list[BulkEvent]:
    async with GigstackClient(api_key=SECRET_KEY, base_url=sandbox.base_url) as client:
        run = client.downloads.bulk(
            "2025-01", last, rfc_type="received", download_to=folder, poll=_poll()
        )
        async with run:
            return [event async for event in run]


def _texts(events: list[BulkEvent]) -> list[tuple[str, str | None, str | None]]:
    return [(e.key, e.error, e.hint) for e in events if isinstance(e, MonthResult | MonthFailed)]


async def test_a_held_months_python_error_and_hint_do_not_repeat_each_other(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Item 6: a held month's error ended "… Next: if that request is the one you want here …"
    # and its hint said it again; the hint told Python to use --allow-duplicates.
    await _bulk(sandbox, tmp_path / "cfdi")
    creates = _creates(sandbox)
    events = await _bulk(sandbox, tmp_path / "cfdi-b")
    assert _creates(sandbox) == creates
    held = [e for e in events if isinstance(e, MonthResult)]
    assert [r.stage for r in held] == ["held", "held"]
    for result in held:
        assert result.error is not None
        assert result.hint is not None
        assert "Next:" not in result.error
        assert "journal adopt" not in result.error  # the way forward is the hint's alone
        assert "journal adopt" in result.hint
        assert "run the same bulk() call again with allow_duplicates=True" in result.hint
        assert "--allow-duplicates" not in result.hint


@pytest.mark.parametrize(
    "profile",
    [
        ServerProfile(sat_codes=(SatCodeRule(5003, month="2025-01"),)),
        ServerProfile(sat_codes=(SatCodeRule(5002, month="2025-01"),)),
        ServerProfile(sat_codes=(SatCodeRule(5007, month="2025-01"),)),
        ServerProfile(sat_codes=(SatCodeRule(5011, month="2025-01"),)),
        ServerProfile(refuse_creates=RefuseCreates(times=1)),
    ],
    ids=["5003", "5002", "5007", "5011", "refused"],
)
async def test_no_month_result_puts_its_hint_in_its_error(
    make_sandbox, tmp_path: Path, profile: ServerProfile
) -> None:
    # Item 6, every path: what happened in `error`, what to do in `hint`, never "Next:" inside.
    sandbox: Sandbox = await make_sandbox(profile=profile)
    texts = _texts(await _bulk(sandbox, tmp_path / "py", last="2025-01"))
    assert texts, "the month ended without a result"
    assert any(error for _, error, _ in texts)
    for key, error, hint in texts:
        assert "Next:" not in (error or ""), (key, error)
        assert "Next:" not in (hint or ""), (key, hint)
        if error and hint:
            assert hint not in error, (key, error)


async def test_the_cli_summary_gives_a_held_months_way_forward_once(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    assert (await cli(*_download(tmp_path / "cfdi", "--yes"))).code == 0
    held = await cli(*_download(tmp_path / "cfdi-b", "--yes"))
    progress, summary = held.stdout.split("Summary", 1)
    for key in ("2025-01", "2025-02"):
        (line,) = [ln for ln in summary.splitlines() if ln.startswith(f"{key} ")]
        assert line.count("Next:") == 1, line
        assert line.count("journal adopt") == 1, line
        assert "with --allow-duplicates" in line  # the CLI's own terms
        assert "allow_duplicates=True" not in line
        # The progress line of the month's failure shows its way forward too, once.
        (failed,) = [ln for ln in progress.splitlines() if f"] {key}  error " in ln]
        assert failed.count("Next:") == 1, failed


# ------------------------------------------------------------ item 7: createdAt for people


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1796030128158, "2026-11-30 09:15:28 UTC"),  # epoch ms (13 digits)
        ("1796030128158", "2026-11-30 09:15:28 UTC"),  # as the plan keeps it: text
        (1796030128, "2026-11-30 09:15:28 UTC"),  # epoch s (10 digits)
        ("2026-11-30T03:15:28-06:00", "2026-11-30 09:15:28 UTC"),  # ISO with an offset
        ("2026-11-30T09:15:28Z", "2026-11-30 09:15:28 UTC"),
        # No offset (Mexico City wall time is a GUESS): shown as sent, never converted.
        ("2026-11-30T03:15:28", "2026-11-30T03:15:28 (time zone not stated)"),
        # Neither s nor ms gives a plausible date: its unit cannot be told.
        (123456, "123456 (unit unknown)"),
        (17960301281580, "17960301281580 (unit unknown)"),
        ("yesterday", "yesterday (unit unknown)"),
        (None, ""),
    ],
)
def test_created_at_is_shown_in_utc_only_when_its_unit_can_be_told(
    value: int | str | None, shown: str
) -> None:
    assert created_at_text(value) == shown


@pytest.mark.parametrize("created_at_format", ["ms", "s", "iso_offset", "iso_mexico_naive"])
async def test_the_plans_held_months_show_created_at_readably(
    make_sandbox, tmp_path: Path, created_at_format: str
) -> None:
    # Item 7: the plan printed `request 44B4AF11-… (completed, created 1796030128158)`.
    sandbox: Sandbox = await make_sandbox(
        profile=ServerProfile(created_at_format=created_at_format)  # type: ignore[arg-type]
    )
    await _bulk(sandbox, tmp_path / "cfdi", last="2025-01")
    async with GigstackClient(api_key=SECRET_KEY, base_url=sandbox.base_url) as client:
        run = client.downloads.bulk(
            "2025-01", "2025-01", rfc_type="received", download_to=tmp_path / "b", poll=_poll()
        )
        (prior,) = (await run.identical_requests())["2025-01"]
    assert prior.created_at is not None
    described = prior.describe()
    if created_at_format == "iso_mexico_naive":
        assert f"created {prior.created_at} (time zone not stated)" in described
    else:
        assert re.search(r"created \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\)$", described)
        assert prior.created_at not in described


# ------------------------------------------------------------ item 8: held in `journal show`


def _show_rows(stdout: str) -> dict[str, str]:
    """Each month's table row, then its why and next step (printed below the table, from a
    line "YYYY-MM: state" to the next blank line: newcomer 9m #3)."""
    rows = {
        line.split()[0]: line for line in stdout.splitlines() if re.match(r"\d{4}-\d{2} ", line)
    }
    for block in stdout.split("\n\n"):
        found = re.match(r"(\d{4}-\d{2}): ", block)
        if found and found[1] in rows:
            rows[found[1]] += " " + " ".join(block.split())
    return rows


async def test_journal_show_names_a_held_month_held_with_its_request(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # Item 8: `journal show` listed held months as `planned` / "run the same command again",
    # while the README says it uses the same stage names, `held` included.
    first = tmp_path / "cfdi"
    assert (await cli(*_download(first, "--yes"))).code == 0
    with JournalStore.open_readonly(first / JOURNAL) as store:
        theirs = {state.key: state.request_id for state in store.states()}
    second = tmp_path / "cfdi-b"
    assert (await cli(*_download(second, "--yes"))).code == 1  # 2 held, 0 ok
    shown = await cli("journal", "show", str(second))
    assert shown.code == 0, shown.stderr
    rows = _show_rows(shown.stdout)
    for key in ("2025-01", "2025-02"):
        assert rows[key].split()[1] == "held", rows[key]
        assert theirs[key] in rows[key]
        assert "planned" not in rows[key]
        assert "run the same command again" not in rows[key].replace(
            "run the same command again with --allow-duplicates", ""
        )
    # Adopting it (nothing sent) ends the hold: the month follows that request.
    creates = _creates(sandbox)
    adopt = await cli(
        "journal", "adopt", str(second), "2025-01", str(theirs["2025-01"]),
        "--rfc-type", "received", "--type", "cfdi", "--yes",
    )  # fmt: skip
    assert adopt.code == 0, adopt.stderr
    # Newcomer 9f #1, review 9u #3: another folder's request: one of its 2 SAT downloads is
    # assumed spent, said before the yes; the run sends one GET of each package by itself.
    assert "one of SAT's 2 is assumed spent" in adopt.stdout
    assert f"journal retry-download {second} 2025-01" in adopt.stdout
    rows = _show_rows((await cli("journal", "show", str(second))).stdout)
    assert rows["2025-01"].split()[1] != "held"
    assert rows["2025-02"].split()[1] == "held"
    creates = _creates(sandbox)
    # A run with --allow-duplicates sends the other one: no longer held either.
    again = await cli(*_download(second, "--yes", "--allow-duplicates"))
    assert again.code == 0, again.stdout + again.stderr
    assert _creates(sandbox) == creates + 1  # 2025-02 only; the adopted month was not sent
    rows = _show_rows((await cli("journal", "show", str(second))).stdout)
    assert [rows[k].split()[1] for k in ("2025-01", "2025-02")] == ["done", "done"]
    with JournalStore.open_readonly(second / JOURNAL) as store:
        assert store.holds() == {}


# ------------------------------------------------------------ item 11: every journal command


def _journal_commands() -> list[str]:
    from gigstack_async.cli.app import build_parser

    root = build_parser()
    (groups,) = [a for a in root._actions if isinstance(a, argparse._SubParsersAction)]
    journal = groups.choices["journal"]
    (subs,) = [a for a in journal._actions if isinstance(a, argparse._SubParsersAction)]
    return list(subs.choices)


def test_the_readme_and_journal_help_list_every_journal_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Item 11: the README's block of journal commands left out `journal rebind`, and the
    # `journal --help` examples left out `journal split`.
    from gigstack_async.cli.app import main

    commands = _journal_commands()
    assert set(commands) == {
        "show", "adopt", "resend", "retry-download", "keep", "rebind", "rfc", "repair", "split",
    }  # fmt: skip
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### When a month needs attention", 1)[1]
    block = section.split("```console", 1)[1].split("```", 1)[0]
    with pytest.raises(SystemExit):
        main(["journal", "--help"])
    shown = capsys.readouterr().out
    examples = shown.split("examples:", 1)[1]
    for command in commands:
        assert f"gigstack-async journal {command} ./cfdi" in block, command
        assert f"gigstack-async journal {command} " in examples, command
        assert re.search(rf"^\s+{re.escape(command)}\s+\S", shown, re.M), command
    # The README's one-line list names them all too.
    assert f"`journal {'|'.join(commands)}`" in readme
