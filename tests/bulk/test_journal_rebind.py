"""Newcomer walk 9c, items 2, 4 and 5: `journal rebind` to another account, a swapped adopt
that could not be undone, and the rfc-type mismatch that sent the user to rebind in a loop.

End to end against the sandbox over 127.0.0.1 (CLI `main` and the Python bulk run); each test
failed on the code the newcomer walked (`integ` @ ac3a2fb).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk import owner
from gigstack_async.bulk.events import BulkEvent
from gigstack_async.bulk.run import journal_identity
from gigstack_async.bulk.store import JournalMismatchError, JournalStore, StoreIdentity
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.config import ApiKeyConfig
from gigstack_async.sandbox.profiles import STATUS_CRITERIA_FIELDS, ServerProfile
from tests.bulk._support import CREATE, JOURNAL, PACKAGE, STATUS, calls, results
from tests.bulk._support import run as bulk_run

OLD, NEW, FOREIGN = "sk_test_old_key_1111", "sk_test_new_key_2222", "sk_test_other_co_3333"
KEYS = (
    ApiKeyConfig(OLD, "team_sandbox"),
    ApiKeyConfig(NEW, "team_sandbox"),
    ApiKeyConfig(FOREIGN, "team_foreign"),  # another company (RFC XIA190128J61)
)


async def run(
    client: GigstackClient,
    out: Path,
    start: str = "2024-01",
    end: str = "2024-02",
    rfc_type: str = "received",
) -> list[BulkEvent]:
    return await bulk_run(client, out, start, end, rfc_type=rfc_type)


def cli(out: Path, sandbox: Sandbox, key: str, *extra: str) -> int:
    argv = ["journal", "rebind", str(out), "--api-key", key, "--base-url", sandbox.base_url]
    return main([*argv, *extra])


def jwt(team: str) -> str:
    """A key shaped like gigstack's (a JWT whose `team` claim is its home team)."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part({'team': team, 'livemode': False})}.c2lnbmF0dXJl"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(speed=3000, seed=23, api_keys=KEYS)) as running:
        yield running


async def january(sandbox: Sandbox, out: Path) -> StoreIdentity:
    """January downloaded into `out` with the OLD key: the journal's identity then."""
    async with GigstackClient(OLD, base_url=sandbox.base_url) as client:
        await run(client, out, end="2024-01")
    with JournalStore.open_existing(out / JOURNAL) as store:
        return store.identity


# Item 2: rebind to another company's key ---------------------------------------------------


async def test_rebind_to_another_companys_key_is_refused_after_a_free_read(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The newcomer's case: interrupted before anything was extracted (RFC not known yet).
    out = tmp_path / "cfdi"
    before = await january(sandbox, out)
    creates = calls(sandbox, CREATE)

    assert await asyncio.to_thread(cli, out, sandbox, FOREIGN, "--yes") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "belongs to another account" in err
    assert "cannot see the journal's requests" in err
    assert "use another --out folder" in err
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity == before  # nothing changed
    # Only GETs of a request's status were sent: nothing created, nothing billed.
    assert calls(sandbox, CREATE) == creates
    assert 1 <= len(sandbox.state.calls_to(STATUS)) <= 3
    async with GigstackClient(FOREIGN, base_url=sandbox.base_url) as foreign:
        with pytest.raises(JournalMismatchError):
            await run(foreign, out, end="2024-01")
    assert sandbox.state.billed_creates("2024-01", team_id="team_foreign") == 0

    # The company's own rotated key sees the request: rebound, resumed, billed once.
    assert await asyncio.to_thread(cli, out, sandbox, NEW, "--yes") == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "Checked: this API key, team and base URL see the journal's request" in said
    async with GigstackClient(NEW, base_url=sandbox.base_url) as client:
        done = results(await run(client, out, end="2024-01"))
    assert done["2024-01"].ok
    assert sandbox.state.billed_creates("2024-01") == 1


async def test_rebind_to_a_key_of_another_team_is_refused_without_a_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine, theirs = jwt("team_sandbox"), jwt("team_foreign")
    keys = (ApiKeyConfig(mine, "team_sandbox"), ApiKeyConfig(theirs, "team_foreign"))
    out = tmp_path / "cfdi"
    async with Sandbox(SandboxConfig(speed=3000, seed=23, api_keys=keys)) as sandbox:
        async with GigstackClient(mine, base_url=sandbox.base_url) as client:
            assert results(await run(client, out, end="2024-01"))["2024-01"].ok
        calls = len(sandbox.state.calls)
        assert await asyncio.to_thread(cli, out, sandbox, theirs, "--yes") == 2
        assert len(sandbox.state.calls) == calls  # the key's own team said it: nothing sent
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "the journal's requests belong to team 'team_sandbox', and this run acts on the API key's "
        "own team (its JWT `team` claim) 'team_foreign'"
    ) in err


async def test_a_journal_with_no_request_id_is_rebound_only_with_unchecked(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    async with GigstackClient(OLD, base_url=sandbox.base_url) as client:
        identity = journal_identity(client._pipeline, "received", "cfdi")
    january = m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")
    with JournalStore.open(out / JOURNAL, identity) as store:
        store.ensure([january])

    assert await asyncio.to_thread(cli, out, sandbox, NEW, "--yes") == 2
    captured = capsys.readouterr()
    assert "Nothing could be checked: the journal knows no request id yet" in " ".join(
        captured.out.split()
    )
    assert "pass --unchecked to rebind anyway" in captured.err
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity == identity
    assert sandbox.state.calls_to(STATUS) == []  # no id: nothing to ask

    assert await asyncio.to_thread(cli, out, sandbox, NEW, "--yes", "--unchecked") == 0
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity.key_fingerprint != identity.key_fingerprint


async def test_after_a_wrong_rebind_the_hint_names_the_account_before_any_resend(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # A journal rebound to another company's key before rebind checked it (an older
    # version, or Python): every month is "not in the server's history".
    out = tmp_path / "cfdi"
    async with GigstackClient(OLD, base_url=sandbox.base_url) as client:
        await run(client, out)
    async with GigstackClient(FOREIGN, base_url=sandbox.base_url) as foreign:
        with JournalStore.open_existing(out / JOURNAL) as store:
            for state in store.states():  # unchecked, as after Ctrl-C before any package
                store.put(_unconfirmed(state))
            store.rebind(foreign.downloads.bulk("2024-01", "2024-02", rfc_type="received").identity)
        done = results(await run(foreign, out))
    for key in ("2024-01", "2024-02"):
        assert done[key].stage == "needs-attention"
        hint = done[key].hint or ""
        assert hint.startswith(
            "the server's history lists none of this journal's requests: if the API key, team "
            "or base URL changed since they were made"
        ), hint
        assert hint.index("resend nothing until then") < hint.index("journal resend")
    assert sandbox.state.billed_creates("2024-01", team_id="team_foreign") == 0


def _unconfirmed(state: m.MonthState) -> m.MonthState:
    return attrs.evolve(
        state,
        stage=m.Stage.SUBMITTED,
        confirmed_id=None,
        extracted=(),
        package_ids=None,
        sat_state=None,
    )


# Item 5: another rfc_type is another job ---------------------------------------------------


async def test_another_rfc_type_into_the_same_folder_says_use_another_folder_not_rebind(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    async with GigstackClient(OLD, base_url=sandbox.base_url) as client:
        assert results(await run(client, out, end="2024-01"))["2024-01"].ok
        with pytest.raises(JournalMismatchError) as caught:
            await run(client, out, end="2024-01", rfc_type="issued")
    text = " ".join(str(caught.value).split())
    assert "It holds received cfdi requests, and this run asks for issued cfdi" in text
    # A Python caller reads its own argument (newcomer 9h #9); the CLI's reads --out, below.
    assert "Use another download_to= folder for it: that bills nothing twice" in text
    assert "--out" not in text
    assert "journal rebind` cannot change a journal's kind" in text
    assert f"journal rebind {out}`" not in text  # no command sends the user there
    assert "This journal was left untouched." in text

    # The CLI says the same, and rebind indeed could not help.
    argv = ["sat", "download", "--from", "2024-01", "--to", "2024-01", "--rfc-type", "issued"]
    argv += ["--out", str(out), "--yes", "--api-key", OLD, "--base-url", sandbox.base_url]
    assert await asyncio.to_thread(main, argv) == 2
    assert "use another --out folder" in " ".join(capsys.readouterr().err.split()).lower()


# Item 4: a swapped adopt is undone by adopting each id into its month -----------------------


def adopt(out: Path, sandbox: Sandbox, key: str, request_id: str, *extra: str) -> int:
    argv = ["journal", "adopt", str(out), key, request_id, "--yes", *extra]
    return main([*argv, "--api-key", OLD, "--base-url", sandbox.base_url])


def allow_get(out: Path, key: str) -> int:
    return main(["journal", "retry-download", str(out), key, "--yes"])


def issue_months(folder: Path) -> set[str]:
    """The months (YYYY-MM) the CFDIs in `folder` were issued in (their `Fecha`)."""
    found = set()
    for path in folder.glob("*.xml"):
        text = path.read_text(encoding="utf-8")
        found.add(text.split(' Fecha="', 1)[1][:7])
    return found


async def test_a_swapped_adopt_is_undone_by_adopting_each_id_into_its_month(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    # A status answer without the request's criteria (they are a GUESS): the swap is caught by
    # the package's CFDIs. With them, the status shows it before any GET (newcomer 9g #2, in
    # tests/bulk/test_newcomer9g_status_check.py).
    config = SandboxConfig(
        speed=3000, seed=23, api_keys=KEYS, history_limit=1,
        profile=ServerProfile(omit_fields=STATUS_CRITERIA_FIELDS),
    )  # fmt: skip
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(OLD, base_url=sandbox.base_url) as client,
    ):
        create = client.downloads.create_request
        feb = await create(start_date="2024-02-01", end_date="2024-02-29", rfc_type="received")
        mar = await create(start_date="2024-03-01", end_date="2024-03-31", rfc_type="received")
        # A later request: the 1-entry history lists neither, as after they left its window.
        await create(start_date="2024-04-01", end_date="2024-04-30", rfc_type="received")
        feb_id, mar_id = feb.request_id, mar.request_id
        assert feb_id
        assert mar_id

        # The user swaps them (the newcomer guessed from the log order).
        assert (
            await asyncio.to_thread(
                adopt, out, sandbox, "2024-02", mar_id, "--rfc-type", "received"
            )
            == 0
        )
        assert await asyncio.to_thread(adopt, out, sandbox, "2024-03", feb_id) == 0
        # Adopted into a new journal: downloads this journal never counted are unknown (never
        # zero), so the first run asks for the user's word before any GET (free: 5008 if spent).
        waiting = results(await run(client, out, "2024-02", "2024-02"))
        assert f"journal retry-download {out} 2024-02" in (waiting["2024-02"].hint or "")
        assert not sandbox.state.calls_to(PACKAGE)
        assert await asyncio.to_thread(allow_get, out, "2024-02") == 0
        first = results(await run(client, out, "2024-02", "2024-02"))
        assert first["2024-02"].stage == "needs-attention"
        assert "does not hold this month's CFDIs" in (first["2024-02"].error or "")
        assert (
            f"Request {mar_id} is released from 2024-02: if its CFDIs are another month's of "
            f"this journal, adopt it there (`journal adopt` with that month and {mar_id})"
        ) in (first["2024-02"].hint or "")
        assert not list((out / "2024-02").glob("*.xml"))  # the content check caught it
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["journal", "show", str(out), "2024-02"]) == 0
        lines = capsys.readouterr().out.splitlines()
        shown = [line.split() for line in lines if line.startswith("released")]
        assert shown == [["released", "(not", "this", "month's)", mar_id]]

        # Feb's id while March still follows it: refused, and the text says the way.
        assert await asyncio.to_thread(adopt, out, sandbox, "2024-02", feb_id) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"request {feb_id} is 2024-03's in this journal (its current request;" in err
        assert "adopt 2024-03's own request for 2024-03 first" in err
        # Newcomer 9j F0: it names the id February released, the one to adopt for March.
        assert (
            f"(2024-02 released request {mar_id}, known not to be its own: if it is 2024-03's, "
            f"`journal adopt` it for 2024-03 first, then adopt {feb_id} for 2024-02 again)"
        ) in err

        # March takes its own request, which February's CFDIs proved is not February's (it
        # was refused as "2024-02's ... would download 2024-02's CFDIs into 2024-03").
        assert await asyncio.to_thread(adopt, out, sandbox, "2024-03", mar_id) == 0
        # February takes its own: March released it by the adopt (no --ids-restarted).
        assert await asyncio.to_thread(adopt, out, sandbox, "2024-02", feb_id) == 0
        with JournalStore.open_existing(out / JOURNAL) as store:
            march = store.get("2024-03")
            spent = dict(march.downloads)
        # The downloads of March's package that February counted go with it: the two it could
        # not know (unsure) and the one the user allowed.
        assert spent == {f"{mar_id}_01": 3}

        done = results(await run(client, out, "2024-02", "2024-03"))
        for key in ("2024-02", "2024-03"):  # uncounted as well: the user's word, then the GET
            if not done[key].ok:
                assert f"journal retry-download {out} {key}" in (done[key].hint or "")
                assert await asyncio.to_thread(allow_get, out, key) == 0
        done = results(await run(client, out, "2024-02", "2024-03"))
        for key, last in (("2024-02", "2024-02-29"), ("2024-03", "2024-03-31")):
            # Review 9n #4: adopted, and no history listed their createdAt (history_limit=1):
            # each may have been made on its last day, so each is done, not ok.
            assert done[key].stage == "done", done[key].error
            error = " ".join((done[key].error or "").split())
            assert f"may have been made on {last}" in error
        assert issue_months(out / "2024-02") == {"2024-02"}
        assert issue_months(out / "2024-03") == {"2024-03"}
        assert calls(sandbox, CREATE) == 3  # nothing requested again
        team = sandbox.state.teams["team_sandbox"]
        assert team.package_downloads[f"{mar_id}_01".upper()] == 2
        with JournalStore.open_existing(out / JOURNAL) as store:
            march = store.get("2024-03")
        # Counted: the two this journal could not know (unsure) and the two SAT served.
        assert dict(march.downloads) == {f"{mar_id}_01": 4}
        assert dict(march.unsure) == {f"{mar_id}_01": 2}


async def test_a_rebind_whose_check_fails_changes_nothing(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    before = await january(sandbox, out)
    # A key the server does not know: 401, not "not found": nothing can be concluded.
    assert await asyncio.to_thread(cli, out, sandbox, "sk_test_unknown_9999", "--yes") == 3
    assert "sk_test_unknown_9999" not in capsys.readouterr().err
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity == before


@pytest.mark.parametrize(
    ("journal", "run_", "conflict"),
    [
        ((None, None), (None, None), None),
        ((None, "team_a"), (None, "team_a"), None),
        (("team_a", None), (None, "team_a"), None),  # team= naming the key's home team
        ((None, None), ("team_b", None), None),  # the journal's team unknown: the read decides
        ((None, "team_a"), (None, None), None),  # the new key does not say: the read decides
        (
            (None, "team_a"),
            ("team_b", "team_a"),
            "the journal's requests belong to team 'team_a', and this run acts on team= 'team_b'",
        ),
        (
            ("team_a", None),
            (None, "team_b"),
            "the journal's requests belong to team 'team_a', and this run acts on the API "
            "key's own team (its JWT `team` claim) 'team_b'",
        ),
    ],
)
def test_team_conflict_only_when_both_teams_are_known(
    journal: tuple[str | None, str | None],
    run_: tuple[str | None, str | None],
    conflict: str | None,
) -> None:
    def identity(team: str | None, home: str | None) -> StoreIdentity:
        return StoreIdentity(team, "http://127.0.0.1/v2", "k", None, "received", "cfdi", home)

    assert owner.team_conflict(identity(*journal), identity(*run_)) == conflict


def test_the_months_current_requests_are_asked_first(tmp_path: Path) -> None:
    identity = StoreIdentity(None, "http://127.0.0.1/v2", "k", None, "received", "cfdi")
    jan = m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")
    feb = m.MonthState("2024-02", date(2024, 2, 1), date(2024, 2, 29), "received", "cfdi")
    with JournalStore.open(tmp_path / JOURNAL, identity) as store:
        store.ensure(
            [
                attrs.evolve(jan, request_id="J2", known_ids=("J1", "J2")),
                attrs.evolve(feb, request_id="F1", known_ids=("F0", "F1", "J2")),
            ]
        )
        assert owner.known_request_ids(store) == ["F1", "J2", "F0", "J1"]
