"""Newcomer 9c #6: a second folder silently billed the whole year again.

The same period run into another `download_to` folder (or from another working directory, or
after deleting the journal) found an empty journal and created every month again: billed, and
one of SAT's 2 requests with identical criteria spent (a third folder got 5002 for good). Now
a month whose exact request the account's history lists under an id the journal does not know
is held (not sent) unless `allow_duplicates=True` / `--allow-duplicates`; the plan names the
request and the safe route (`journal adopt`, the other folder).
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.duplicates import (
    PriorRequest,
    held_hint,
    held_reason,
    identical,
    prior_requests,
)
from gigstack_async.bulk.engine import initial_state
from gigstack_async.bulk.events import BulkEvent, Submitted
from gigstack_async.bulk.plan import plan_months
from gigstack_async.bulk.run import journal_identity
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from gigstack_async.errors import InvalidParameterError
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import PROFILES, ServerProfile
from tests.bulk._support import FAST, results, sandbox_env, world_of
from tests.bulk._support import run as bulk_run

COMMAND = re.compile(r"`(gigstack-async journal adopt [^`]+)`")

MONTH = m.MonthState(
    key="2024-01",
    start=date(2024, 1, 1),
    end=date(2024, 1, 31),
    rfc_type="received",
    request_type="cfdi",
)
SAME = m.Seen(
    "X1",
    "completed",
    "received",
    "cfdi",
    date(2024, 1, 1),
    date(2024, 1, 31),
    created_at="1700000000000",
)


# ------------------------------------------------------------------ the rule, table-driven


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        (SAME, True),
        (m.Seen("X1", None, "received", "cfdi", date(2024, 1, 1), date(2024, 1, 31)), True),
        # missing fields never count as a match (the docs do not list requestType)
        (m.Seen("X1", None, "received", None, date(2024, 1, 1), date(2024, 1, 31)), False),
        (m.Seen("X1", None, None, "cfdi", date(2024, 1, 1), date(2024, 1, 31)), False),
        (m.Seen("X1", None, "received", "cfdi", None, date(2024, 1, 31)), False),
        (m.Seen("X1", None, "received", "cfdi", date(2024, 1, 1), None), False),
        # other criteria: a new request for SAT
        (m.Seen("X1", None, "issued", "cfdi", date(2024, 1, 1), date(2024, 1, 31)), False),
        (m.Seen("X1", None, "received", "metadata", date(2024, 1, 1), date(2024, 1, 31)), False),
        (m.Seen("X1", None, "received", "cfdi", date(2024, 1, 2), date(2024, 1, 31)), False),
        (m.Seen("X1", None, "received", "cfdi", date(2024, 1, 1), date(2024, 1, 15)), False),
    ],
)
def test_identical_needs_every_field_reported_and_equal(seen: m.Seen, expected: bool) -> None:
    assert identical(MONTH, seen) is expected


def test_prior_requests_skip_only_the_months_own_ids() -> None:
    other = m.Seen("X2", "expired", "received", "cfdi", date(2024, 1, 1), date(2024, 1, 31))
    mine = attrs.evolve(MONTH, known_ids=("X1",))
    assert prior_requests(mine, (SAME, other)) == (PriorRequest("2024-01", "X2", "expired", None),)
    assert prior_requests(attrs.evolve(MONTH, known_ids=("X1", "X2")), (SAME, other)) == ()
    found = prior_requests(MONTH, (SAME,))
    assert found == (PriorRequest("2024-01", "X1", "completed", "1700000000000"),)
    assert found[0].adoptable
    assert not PriorRequest("k", "i", "failed").adoptable
    assert found[0].describe() == "request X1 (completed, created 2023-11-14 22:13:20 UTC)"


RECORD = m.KnownRequest(
    "X1",
    date(2024, 1, 1),
    date(2024, 1, 31),
    "received",
    "cfdi",
    created_at="1700000000000",
    final="completed",
)


@pytest.mark.parametrize(
    ("month", "seen", "held"),
    [
        # nothing known of X1: another folder's request
        (MONTH, SAME, True),
        # the month's own request, listed as recorded, or with nothing recorded to compare
        (attrs.evolve(MONTH, known_ids=("X1",), records=(RECORD,)), SAME, False),
        (attrs.evolve(MONTH, known_ids=("X1",)), SAME, False),
        # a candidate the month recorded (after an unknown outcome) and the user resent past
        (attrs.evolve(MONTH, records=(RECORD,)), SAME, False),
        # review 9f #1: an id the month released (a mistaken adopt, replaced) is not its own
        (
            attrs.evolve(
                MONTH, known_ids=("X1", "X2"), released=(m.ReleasedRequest("X1"),), records=()
            ),
            SAME,
            True,
        ),
        (
            attrs.evolve(
                MONTH,
                known_ids=("X1", "X2"),
                released=(m.ReleasedRequest("X1"),),
                records=(RECORD,),
            ),
            SAME,
            True,
        ),
        # review 9f #1: its id reused by another request (the server's ids restarted)
        (
            attrs.evolve(MONTH, known_ids=("X1",), records=(attrs.evolve(RECORD, created_at="1"),)),
            SAME,
            True,
        ),
        (
            attrs.evolve(MONTH, known_ids=("X1",), records=(RECORD,)),
            attrs.evolve(SAME, status="pending"),  # pending again after it had completed
            True,
        ),
        (
            attrs.evolve(
                MONTH,
                known_ids=("X1",),
                records=(attrs.evolve(RECORD, start=date(2023, 5, 1), end=date(2023, 5, 31)),),
            ),
            SAME,
            True,
        ),
    ],
    ids=[
        "unknown",
        "own-recorded",
        "own-unrecorded",
        "candidate",
        "released",
        "released-recorded",
        "reused-created-at",
        "reused-pending-again",
        "reused-dates",
    ],
)
def test_only_the_months_own_request_as_recorded_is_exempt(
    month: m.MonthState, seen: m.Seen, held: bool
) -> None:
    assert bool(prior_requests(month, (seen,))) is held
    assert m.own_request(month, seen) is not held


# ------------------------------------------------------------------ end to end


@pytest.fixture
async def world(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    profile: ServerProfile = getattr(request, "param", ServerProfile())
    async with world_of(SandboxConfig(speed=3000, seed=5, profile=profile)) as both:
        yield both


async def run(client: GigstackClient, out: Path, **kw: object) -> list[BulkEvent]:
    return await bulk_run(client, out, "2024-01", "2024-02", **kw)


def billed(sandbox: Sandbox) -> int:
    return sum(sandbox.state.billed_creates(k) for k in ("2024-01", "2024-02"))


async def test_a_second_folder_holds_the_months_the_account_already_has(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    first = results(await run(client, tmp_path / "cfdi"))
    assert all(r.stage == "done" for r in first.values())
    assert billed(sandbox) == 2

    second = tmp_path / "cfdi-b"
    bulk = client.downloads.bulk("2024-01", "2024-02", rfc_type="received", download_to=second)
    found = await bulk.identical_requests()  # before anything is sent
    assert {k: [p.request_id for p in v] for k, v in found.items()} == {
        k: [r.request_id] for k, r in first.items()
    }
    held = results(await run(client, second))
    assert billed(sandbox) == 2  # nothing new was created (was: 2 more, billed)
    for key, result in held.items():
        assert result.stage == "held"
        assert not result.ok
        assert first[key].request_id in (result.error or "")
        assert str(second.absolute()) in (result.error or "")
        assert "SAT accepts only 2" in (result.error or "")
        assert "allow_duplicates=True" in (result.hint or "")  # Python: not the CLI flag
        assert "--allow-duplicates" not in (result.hint or "")
        assert f"journal adopt {shlex.quote(str(second))} {key}" in (result.hint or "")

    # The safe route, as printed: adopt into this folder (nothing sent), run again.
    for result in held.values():
        command = COMMAND.search(result.hint or "")
        assert command is not None
        argv = shlex.split(command.group(1))[1:]
        assert await asyncio.to_thread(main, [*argv, "--yes"]) == 0
    # Newcomer 9f #1, review 9u #3: another folder downloaded those packages (twice,
    # perhaps): this journal never counted them, so one of SAT's 2 is assumed spent there and
    # the run sends ONE GET of each package by itself, never retried (as for gigstack's
    # duplicate answer naming such a request). Here the other folder spent one: that GET is
    # SAT's 2nd and gets it.
    spent = sandbox.state.downloads_per_package()
    adopted = results(await run(client, second))
    assert {
        p: n - spent[p] for p, n in sandbox.state.downloads_per_package().items()
    } == dict.fromkeys(spent, 1)
    assert all(r.stage == "done" for r in adopted.values())
    assert {k: r.request_id for k, r in adopted.items()} == {
        k: r.request_id for k, r in first.items()
    }
    assert billed(sandbox) == 2
    assert (
        await client.downloads.bulk(
            "2024-01", "2024-02", rfc_type="received", download_to=second
        ).identical_requests()
        == {}
    )


async def test_allow_duplicates_requests_them_again(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    await run(client, tmp_path / "cfdi")
    again = results(await run(client, tmp_path / "cfdi-b", allow_duplicates=True))
    assert all(r.stage == "done" for r in again.values())
    assert billed(sandbox) == 4  # the user asked for it


async def test_a_run_without_a_journal_file_is_held_too(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # Python asked for nothing: a journal-less run of the same months billed them again.
    sandbox, client = world
    await run(client, tmp_path / "cfdi")
    bulk = client.downloads.bulk("2024-01", "2024-02", rfc_type="received", poll=FAST)
    async with bulk:
        events = [event async for event in bulk]
    assert {r.stage for r in results(events).values()} == {"held"}
    assert not [e for e in events if isinstance(e, Submitted)]
    assert billed(sandbox) == 2


@pytest.mark.parametrize("world", [PROFILES["documented-fields"]], indirect=True)
async def test_without_request_type_in_the_history_nothing_counts_as_identical(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # The docs do not list requestType: a missing field never counts as a match, so a second
    # folder is not held (the README says so).
    sandbox, client = world
    first = results(await run(client, tmp_path / "cfdi"))
    bulk = client.downloads.bulk(
        "2024-01", "2024-02", rfc_type="received", download_to=tmp_path / "cfdi-b"
    )
    assert await bulk.identical_requests() == {}
    shown = await bulk.identical_requests(untyped=True)  # what the CLI's plan shows
    assert {k: [(p.request_id, p.typed) for p in v] for k, v in shown.items()} == {
        k: [(r.request_id, False)] for k, r in first.items()
    }
    again = results(await run(client, tmp_path / "cfdi-b"))
    assert "held" not in {r.stage for r in again.values()}
    assert billed(sandbox) == 4


def test_untyped_entries_are_listed_only_when_asked_and_never_as_identical() -> None:
    untyped = attrs.evolve(SAME, request_type=None)
    assert prior_requests(MONTH, (untyped,)) == ()
    (found,) = prior_requests(
        attrs.evolve(MONTH, known_ids=("X2",)),
        (untyped, attrs.evolve(SAME, id="X2")),
        untyped=True,
    )
    assert (found.request_id, found.typed) == ("X1", False)
    no_rfc = attrs.evolve(untyped, rfc_type=None)
    assert prior_requests(MONTH, (no_rfc,), untyped=True) == ()
    other_day = attrs.evolve(untyped, start=date(2024, 1, 2))
    assert prior_requests(MONTH, (other_day,), untyped=True) == ()


async def test_allow_duplicates_must_be_a_bool(world: tuple[Sandbox, GigstackClient]) -> None:
    _sandbox, client = world
    with pytest.raises(InvalidParameterError, match="allow_duplicates"):
        client.downloads.bulk("2024-01", "2024-01", rfc_type="received", allow_duplicates="no")  # type: ignore[arg-type]


def cli(sandbox: Sandbox, *argv: str) -> list[str]:
    return [
        "--api-key",
        sandbox.api_key,
        "--base-url",
        sandbox.base_url,
        "sat",
        "download",
        "--from",
        "2024-01",
        "--to",
        "2024-02",
        "--rfc-type",
        "received",
        "--poll-interval",
        "0.05",
        "--yes",
        *argv,
    ]


async def cfdi_then_cfdi_b(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int, int]:
    """`sat download` into ./cfdi, then the same months into ./cfdi-b: both exit codes (the
    second run's output is left in `capsys`)."""
    monkeypatch.chdir(tmp_path)
    first = await asyncio.to_thread(main, cli(sandbox, "--out", "cfdi"))
    capsys.readouterr()
    return first, await asyncio.to_thread(main, cli(sandbox, "--out", "cfdi-b"))


async def test_the_cli_names_the_requests_in_the_plan_and_holds_them(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, _client = world
    assert await cfdi_then_cfdi_b(sandbox, tmp_path, capsys, monkeypatch) == (0, 1)
    out = capsys.readouterr().out
    assert f"Output folder: {tmp_path / 'cfdi-b'} (new folder)" in out
    assert "The account already has an identical request for 2 months" in out
    assert "2024-01: request " in out
    assert "2024-02: request " in out
    assert "journal adopt cfdi-b 2024-01 " in out
    assert "These months are held (not sent)" in out
    assert "one month with `gigstack-async journal resend cfdi-b 2024-01`" in out  # newcomer 9g #1
    assert billed(sandbox) == 2
    code = await asyncio.to_thread(main, cli(sandbox, "--out", "cfdi-b", "--allow-duplicates"))
    assert code == 0
    assert "--allow-duplicates: they are requested again, except" in capsys.readouterr().out
    assert billed(sandbox) == 4


@pytest.mark.parametrize(
    ("prior", "says", "never"),
    [
        (
            PriorRequest("2024-01", "X1", "completed"),
            "`gigstack-async journal adopt 2024-01 X1 --rfc-type received --type cfdi`",
            "can no longer be downloaded",
        ),
        (
            PriorRequest("2024-01", "X1", None),  # status unknown: adopting may still help
            "journal adopt 2024-01 X1",
            "5003",
        ),
        (
            PriorRequest("2024-01", "X1", "expired"),
            "can no longer be downloaded (failed or expired)",
            "journal adopt",
        ),
        (
            PriorRequest("2024-01", "X1", "failed", message="SAT 5003: Tope máximo"),
            "SAT answered 5003 (too many CFDIs for one request) for these dates: do not request",
            "--allow-duplicates",
        ),
    ],
)
def test_the_held_hint_offers_the_route_that_can_work(
    prior: PriorRequest, says: str, never: str
) -> None:
    hint = held_hint(MONTH, (prior,))
    assert says in hint
    assert never not in hint


def test_a_one_day_month_held_for_a_5003_is_not_told_to_split_it() -> None:
    # Was: "split the period: run 2024-01-31..2024-01-31 as shorter ranges ... in two halves:
    # `sat download --from 2024-01-31 --to 2024-01-31 ...`": the very request SAT refused.
    day = date(2024, 1, 31)
    one_day = attrs.evolve(MONTH, start=day, end=day)
    prior = PriorRequest("2024-01", "X1", "failed", message="SAT 5003: Tope máximo")
    hint = held_hint(one_day, (prior,))
    assert hint.startswith(
        "SAT answered 5003 (too many CFDIs for one request) for 2024-01-31 to the request "
        "already in the account. SAT refuses 2024-01-31 as too large for one request"
    )
    assert "one day cannot be split by dates" in hint
    assert "--from 2024-01-31 --to 2024-01-31 --rfc-type received --type metadata" in hint
    assert "split" not in hint.replace("cannot be split", "")
    assert "--allow-duplicates" not in hint


def test_the_held_reason_counts_against_sats_limit() -> None:
    one = held_reason(MONTH, (PriorRequest("2024-01", "X1", "completed"),), Path("/abs/cfdi-b"))
    assert one.startswith(
        "not sent: the account already has request X1 (completed) for the same dates "
        "(2024-01-01..2024-01-31) and type (received cfdi), which this journal did not send "
        "(this run's folder: /abs/cfdi-b): another folder's download?"
    )
    # Newcomer 10 F4: a sentence, so `print(result.error, result.hint)` reads "ever. Free first"
    assert one.endswith("SAT accepts only 2 requests with identical criteria, ever.")
    two = held_reason(MONTH, (PriorRequest("2024-01", "X1"), PriorRequest("2024-01", "X2")), None)
    assert two.endswith("identical criteria, ever, and the account already has 2.")
    assert "this run's folder" not in two


async def test_a_candidate_the_user_was_shown_and_resent_past_is_not_held(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # After an unknown create outcome the machine lists candidates and the user chose `journal
    # resend` over adopting one: that resend was confirmed with its risk, and the candidate is
    # no other folder's request (the journal has seen it): it does not hold the month again.
    sandbox, client = world
    first = results(await run(client, tmp_path / "cfdi"))
    out = tmp_path / "cfdi-b"
    journal = out / ".gigstack-journal.sqlite3"
    out.mkdir()
    identity = journal_identity(client._pipeline, "received", "cfdi")
    with JournalStore.open(journal, identity) as store:
        store.bind_download_to(out)
        for key, result in first.items():
            slot = plan_months(key, key, rfc_type="received", request_type="cfdi").slots[0]
            seen = m.KnownRequest(result.request_id or "", slot.start_date, slot.end_date)
            state = attrs.evolve(
                initial_state(slot),
                stage=m.Stage.NEEDS_ATTENTION,
                unknown=True,
                creates=1,
                records=(seen,),
            )
            store.put(m.transition(state, m.AllowResend())[0])  # `journal resend`
    with JournalStore.open(journal, identity) as store:
        assert {r.id for s in store.states() for r in s.records} == {
            r.request_id for r in first.values()
        }
    again = results(await run(client, out))
    assert {r.stage for r in again.values()} == {"done"}
    assert billed(sandbox) == 4


@pytest.mark.parametrize("world", [PROFILES["documented-fields"]], indirect=True)
async def test_the_cli_plan_shows_untyped_look_alikes_without_holding_them(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, _client = world
    assert await cfdi_then_cfdi_b(sandbox, tmp_path, capsys, monkeypatch) == (0, 0)
    out = capsys.readouterr().out
    assert "without saying their type (cfdi or metadata)" in out
    assert "If one is a cfdi request, it is this month's: answer no, and adopt it" in out
    assert "held" not in out
    assert billed(sandbox) == 4


async def test_the_question_counts_the_held_months_and_no_terminal_sends_nothing(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, _client = world
    monkeypatch.chdir(tmp_path)
    assert await asyncio.to_thread(main, cli(sandbox, "--out", "cfdi")) == 0
    three = [a for a in cli(sandbox, "--out", "cfdi-b", "--to", "2024-03") if a != "--yes"]
    history = "GET /invoices/download/schedule/history"

    # No terminal and no --yes: refused before anything, even the free pre-flight, is sent.
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    reads = len(sandbox.state.calls_to(history))
    assert await asyncio.to_thread(main, three) == 2
    assert len(sandbox.state.calls_to(history)) == reads

    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "n"

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", answer)
    capsys.readouterr()
    assert await asyncio.to_thread(main, three) == 0
    assert asked == [
        "Submit up to 1 download request? Each new one may be billed. 2 months are held (not "
        "sent): the account already has identical requests, see above. 1 month could not be "
        "checked for an earlier identical request (the history does not reach back to them, "
        "see above). [y/N] "
    ]
    assert "Nothing was sent." in capsys.readouterr().out
    assert billed(sandbox) == 2


@pytest.mark.parametrize(
    ("priors", "adopt"),
    [
        ((PriorRequest("2024-01", "X1", "completed"),), "journal adopt cfdi-b 2024-01 X1 "),
        ((PriorRequest("2024-01", "X0", "expired"), PriorRequest("2024-01", "X1")), " X1 "),
        ((PriorRequest("2024-01", "X1", "failed", message="SAT 5003"),), None),
    ],
)
def test_the_plan_offers_to_adopt_only_a_request_that_can_still_be_downloaded(
    priors: tuple[PriorRequest, ...],
    adopt: str | None,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gigstack_async.cli.download import DownloadJob, held_months, show_identical
    from gigstack_async.cli.redact import Redactor
    from gigstack_async.cli.ui import Ui

    monkeypatch.chdir(tmp_path)
    job = DownloadJob("2024-01", "2024-01", "received", "cfdi", Path("cfdi-b"), None)
    show_identical(Ui(Redactor()), None, job, {"2024-01": priors})  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "These months are held (not sent)" in out
    if adopt is None:
        assert "journal adopt" not in out
    else:
        assert adopt in out
    assert held_months({"2024-01": priors}) == 1
    assert held_months({"2024-01": (attrs.evolve(priors[0], typed=False),)}) == 0


# ------------------------------------------------------------------ review 9f #1: ids the journal
# knows for another reason (released, another month's, reused) never exempt a month


def journal_cli(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    sandbox_env(monkeypatch, sandbox)
    return main(["journal", *argv])


async def _adopted_by_mistake_then_corrected(
    sandbox: Sandbox, client: GigstackClient, out: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """The account has January and February (made elsewhere); the user adopts February's id
    into January by mistake, then corrects it: January released February's id."""
    jan = await client.downloads.create_request(
        start_date="2024-01-01", end_date="2024-01-31", rfc_type="received"
    )
    feb = await client.downloads.create_request(
        start_date="2024-02-01", end_date="2024-02-29", rfc_type="received"
    )
    mistake = (str(out), "2024-01", feb.request_id, "--rfc-type", "received", "--yes")
    assert await asyncio.to_thread(journal_cli, sandbox, monkeypatch, "adopt", *mistake) == 0
    fixed = (str(out), "2024-01", jan.request_id, "--yes")
    assert await asyncio.to_thread(journal_cli, sandbox, monkeypatch, "adopt", *fixed) == 0
    return jan.request_id, feb.request_id


async def test_an_id_a_month_released_still_holds_the_month_it_belongs_to(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: February's id was "known" (January had it once), so February was created again.
    sandbox, client = world
    out = tmp_path / "A"
    jan, feb = await _adopted_by_mistake_then_corrected(sandbox, client, out, monkeypatch)
    assert billed(sandbox) == 2
    bulk = client.downloads.bulk("2024-01", "2024-02", rfc_type="received", download_to=out)
    found = await bulk.identical_requests()
    assert {k: [p.request_id for p in v] for k, v in found.items()} == {"2024-02": [feb]}
    got = results(await run(client, out))
    assert got["2024-01"].stage == "done"
    assert got["2024-01"].request_id == jan
    assert got["2024-02"].stage == "held"
    assert feb in (got["2024-02"].error or "")
    assert billed(sandbox) == 2  # was 3: February billed twice
    assert sandbox.state.billed_creates("2024-02") == 1


async def test_the_cli_plan_names_an_id_a_month_released_and_holds_its_month(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, client = world
    monkeypatch.chdir(tmp_path)
    _jan, feb = await _adopted_by_mistake_then_corrected(
        sandbox, client, tmp_path / "A", monkeypatch
    )
    capsys.readouterr()
    assert await asyncio.to_thread(main, cli(sandbox, "--out", "A")) == 1
    out = capsys.readouterr().out
    assert "The account already has an identical request for 1 month" in out
    assert f"2024-02: request {feb}" in out
    assert f"journal adopt A 2024-02 {feb} " in out
    assert sandbox.state.billed_creates("2024-02") == 1  # was 2


@pytest.mark.parametrize("world", [PROFILES["ids-restart"]], indirect=True)
async def test_another_folders_request_under_an_id_this_journal_reused_holds_the_month(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # Folder A downloads January as DM-000001; the server's ids restart and folder B downloads
    # February, which gets DM-000001 again. Was: A's January..February run skipped it as
    # "known" and created February again.
    sandbox, client = world
    a, b = tmp_path / "A", tmp_path / "B"
    first = results(await bulk_run(client, a, "2024-01", "2024-01"))
    sandbox.state.restart_request_ids()
    other = results(await bulk_run(client, b, "2024-02", "2024-02"))
    assert first["2024-01"].request_id == other["2024-02"].request_id == "DM-000001"

    bulk = client.downloads.bulk("2024-01", "2024-02", rfc_type="received", download_to=a)
    found = await bulk.identical_requests()
    assert {k: [p.request_id for p in v] for k, v in found.items()} == {"2024-02": ["DM-000001"]}
    again = results(await bulk_run(client, a, "2024-01", "2024-02"))
    assert again["2024-01"].stage == "done"
    assert again["2024-02"].stage == "held"
    assert sandbox.state.billed_creates("2024-01") == 1
    assert sandbox.state.billed_creates("2024-02") == 1  # was 2
    creates = sandbox.state.calls_to("createDownloadRequest")
    assert [c.criteria for c in creates] == [
        "received cfdi 2024-01-01..2024-01-31",
        "received cfdi 2024-02-01..2024-02-29",
    ]


@pytest.mark.parametrize("world", [PROFILES["ids-restart"]], indirect=True)
async def test_a_months_own_request_resent_on_purpose_is_not_held_by_its_old_id(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other side of the rule: the month's own earlier request, listed as it was recorded,
    # never holds a resend the user asked for (`journal resend`).
    sandbox, client = world
    out = tmp_path / "A"
    assert results(await bulk_run(client, out, "2024-01", "2024-01"))["2024-01"].ok
    args = ("resend", str(out), "2024-01", "--force", "--yes")
    assert await asyncio.to_thread(journal_cli, sandbox, monkeypatch, *args) == 0
    again = results(await bulk_run(client, out, "2024-01", "2024-01"))
    assert again["2024-01"].stage == "done"
    assert sandbox.state.billed_creates("2024-01") == 2
