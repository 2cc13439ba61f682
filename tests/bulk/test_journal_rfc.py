"""The journal's RFC (review 9e #1): learnt only from a request the server vouched for, said
where it came from when it refuses a package, and shown, forgotten or corrected with
`gigstack-async journal rfc`.

End to end against the sandbox over 127.0.0.1: creates and package downloads are counted in the
sandbox's own call log, not from the SDK's report.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk.events import BulkEvent, MonthResult
from gigstack_async.bulk.hints import with_journal
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.bulk.taxpayer import RfcSource, mismatch
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import STATUS_CRITERIA_FIELDS, ServerProfile

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)
CREATE = "createDownloadRequest"
PACKAGE = "downloadPackage"
JOURNAL = ".gigstack-journal.sqlite3"
TAXPAYER = "EKU9003173C9"  # the sandbox's taxpayer: the receptor of its received CFDIs


async def run(client: GigstackClient, out: Path, rfc_type: str = "received") -> list[BulkEvent]:
    bulk = client.downloads.bulk(
        "2024-01", "2024-03", rfc_type=rfc_type, download_to=out, poll=FAST, timeout=60
    )
    async with bulk:
        return [event async for event in bulk]


def results(events: list[BulkEvent]) -> dict[str, MonthResult]:
    return {e.key: e for e in events if isinstance(e, MonthResult)}


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    config = SandboxConfig(speed=3000, seed=5, preloaded_months=0)
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        yield sandbox, client


async def _wrong_request(sandbox: Sandbox, client: GigstackClient, rfc_type: str) -> str:
    """A request of the OTHER direction for one day of January whose CFDIs name a single
    taxpayer on this direction's side (so it passes the content check of a `rfc_type` month),
    pushed out of the 20-entry history by later requests."""
    other = "issued" if rfc_type == "received" else "received"
    wrong = None
    for day in range(2, 29):
        await client.downloads.create_request(
            start_date=f"2024-01-{day:02d}",
            end_date=f"2024-01-{day:02d}",
            rfc_type=other,
            request_type="cfdi",
        )
        request = sandbox.state.download_requests[-1]
        side = {
            (i.receiver.rfc if rfc_type == "received" else i.issuer.rfc) for i in request.invoices
        }
        if len(side) == 1 and TAXPAYER not in side:
            wrong = request.request_id
            break
    assert wrong is not None
    for n in range(21):
        await client.downloads.create_request(
            start_date=f"2023-{n % 12 + 1:02d}-01",
            end_date=f"2023-{n % 12 + 1:02d}-05",
            rfc_type="issued" if n % 2 else "received",
            request_type="metadata" if n >= 12 else "cfdi",
        )
    sandbox.clock.advance(3600)
    return wrong


def _cli(sandbox: Sandbox, *argv: str) -> list[str]:
    return [*argv, "--api-key", sandbox.api_key, "--base-url", sandbox.base_url]


async def _adopt_wrong(sandbox: Sandbox, client: GigstackClient, out: Path, rfc_type: str) -> None:
    # A status answer without the request's criteria (a GUESS): the wrong request is caught
    # by its package. With them, the status does before any GET (newcomer 9g #2).
    sandbox.state.profile = ServerProfile(omit_fields=STATUS_CRITERIA_FIELDS)
    wrong = await _wrong_request(sandbox, client, rfc_type)
    argv = _cli(sandbox, "journal", "adopt", str(out), "2024-01", wrong)
    assert await asyncio.to_thread(main, [*argv, "--rfc-type", rfc_type, "--yes"]) == 0


@pytest.mark.parametrize("rfc_type", ["received", "issued"])
async def test_an_adopted_request_of_the_other_direction_does_not_set_the_journals_rfc(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient], rfc_type: str
) -> None:
    # Review 9e #1: the adopted (wrong) January taught the journal its receiver's RFC; February
    # and March, the right requests, then needed attention as "another taxpayer's".
    sandbox, client = world
    out = tmp_path / rfc_type
    await _adopt_wrong(sandbox, client, out, rfc_type)
    creates = len(sandbox.state.calls_to(CREATE))

    done = results(await run(client, out, rfc_type))
    # Adopted into a new journal: its downloads were never counted here, so January waits for
    # the user's word (free) before a GET; then it is extracted.
    assert f"journal retry-download {out} 2024-01" in (done["2024-01"].hint or "")
    allow = ["journal", "retry-download", str(out), "2024-01", "--yes"]
    assert await asyncio.to_thread(main, allow) == 0
    january = results(await run(client, out, rfc_type))["2024-01"]

    # By now February's server-vouched package taught the journal its RFC: the wrong request's
    # CFDIs (another taxpayer on the request's side) are refused, not extracted.
    assert january.stage == "needs-attention"
    assert not list((out / "2024-01").glob("*.xml"))
    assert done["2024-02"].ok, done["2024-02"].error
    assert done["2024-03"].ok, done["2024-03"].error
    assert len(sandbox.state.calls_to(CREATE)) == creates + 2  # February and March, once each
    assert max(sandbox.state.downloads_per_package().values()) == 1
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity.rfc == TAXPAYER
        source = store.rfc_source
    assert source is not None
    assert source.how == "server"
    assert source.month in ("2024-02", "2024-03")


async def test_a_journal_poisoned_by_an_older_version_recovers_without_a_new_download(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient], capsys: pytest.CaptureFixture[str]
) -> None:
    # A journal an older gigstack-async poisoned: the wrong RFC recorded, and no source.
    sandbox, client = world
    out = tmp_path / "received"
    await _adopt_wrong(sandbox, client, out, "received")
    wrong_rfc = "GORS86080398V"
    with JournalStore.open_existing(out / JOURNAL) as store:
        store.set_rfc(wrong_rfc, None)

    first = results(await run(client, out))

    for key in ("2024-02", "2024-03"):
        month = first[key]
        assert month.stage == "needs-attention"
        error = f"{month.error} Next: {month.hint}"  # what happened, then what to do
        assert f"RFC {TAXPAYER}" in error
        assert f"records RFC {wrong_rfc}" in error
        assert "did not record which request it came from" in error
        assert "may be wrong" in error
        # No false claim of fact, and the free way out comes before the billed one.
        assert "this run's API key or team is another taxpayer's:" not in error
        free = error.index(f"journal rfc {out} --set {TAXPAYER}")
        assert free < error.index(f"journal resend {out} {key}")
    assert list((out / ".gigstack-staging").glob("2024-0[23]-*.zip"))
    creates = len(sandbox.state.calls_to(CREATE))
    downloads = len(sandbox.state.calls_to(PACKAGE))
    capsys.readouterr()

    assert await asyncio.to_thread(main, ["journal", "rfc", str(out), "--forget", "--yes"]) == 0
    said = capsys.readouterr().out
    assert f"records RFC {wrong_rfc}" in said
    assert "may be wrong" in said
    assert "2024-02, 2024-03: stopped before extraction with the package staged" in said

    second = results(await run(client, out))

    assert all(second[k].ok for k in ("2024-02", "2024-03"))
    assert len(sandbox.state.calls_to(CREATE)) == creates  # nothing billed again
    assert len(sandbox.state.calls_to(PACKAGE)) == downloads  # extracted from the staged copies
    assert list((out / "2024-02").glob("*.xml"))
    assert list((out / "2024-03").glob("*.xml"))
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity.rfc == TAXPAYER
        assert store.rfc_source is not None
        assert store.rfc_source.how == "server"


# ------------------------------------------------------------------ the command


def _journal(tmp_path: Path, rfc: str | None) -> Path:
    identity = StoreIdentity("team_a", "http://127.0.0.1/v2", "k1", None, "received", "cfdi")
    with JournalStore.open(tmp_path / JOURNAL, identity) as store:
        if rfc is not None:
            store.learn_rfc(rfc, RfcSource("server", "2024-02", "DM-7"))
    return tmp_path


def _recorded(folder: Path) -> tuple[str | None, RfcSource | None]:
    with JournalStore.open_existing(folder / JOURNAL) as store:
        return store.identity.rfc, store.rfc_source


def test_journal_rfc_shows_where_the_rfc_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _journal(tmp_path, TAXPAYER)
    assert main(["journal", "rfc", str(folder)]) == 0
    said = capsys.readouterr().out
    assert f"records RFC {TAXPAYER}" in said
    assert "learnt from 2024-02's request DM-7, which the server vouched for" in said
    assert main(["journal", "show", str(folder)]) == 0
    assert "2024-02's request DM-7" in capsys.readouterr().out
    assert _recorded(folder) == (TAXPAYER, RfcSource("server", "2024-02", "DM-7"))  # unchanged


@pytest.mark.parametrize(
    ("argv", "rfc", "source"),
    [
        (["--forget"], None, None),
        (["--set", "iia040805dz4"], "IIA040805DZ4", RfcSource("user")),  # as SAT writes it
        (["--set", " XAXX010101000 "], "XAXX010101000", RfcSource("user")),
    ],
)
def test_journal_rfc_forgets_or_sets_it_once_confirmed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    rfc: str | None,
    source: RfcSource | None,
) -> None:
    folder = _journal(tmp_path, TAXPAYER)
    # Without a terminal and without --yes nothing is written.
    assert main(["journal", "rfc", str(folder), *argv]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert _recorded(folder)[0] == TAXPAYER
    assert main(["journal", "rfc", str(folder), *argv, "--yes"]) == 0
    assert _recorded(folder) == (rfc, source)
    said = capsys.readouterr().out
    assert ("now records no RFC" if rfc is None else f"now records RFC {rfc}") in said
    if rfc is not None:
        assert main(["journal", "rfc", str(folder)]) == 0
        assert "set by you with `gigstack-async journal rfc --set`" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["EKU9003173C", "EKU9013173C9", "EKU-9003173C9", ""])
def test_journal_rfc_refuses_an_invalid_rfc_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    folder = _journal(tmp_path, TAXPAYER)
    assert main(["journal", "rfc", str(folder), "--set", bad, "--yes"]) == 2
    assert "must be an RFC" in capsys.readouterr().err
    assert _recorded(folder) == (TAXPAYER, RfcSource("server", "2024-02", "DM-7"))


def test_journal_rfc_forget_and_set_exclude_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _journal(tmp_path, None)
    assert main(["journal", "rfc", str(folder), "--forget", "--set", TAXPAYER, "--yes"]) == 2
    assert "not allowed with" in capsys.readouterr().err
    assert main(["journal", "rfc", str(folder), "--forget", "--yes"]) == 0
    assert "Nothing to forget" in capsys.readouterr().out
    assert _recorded(folder) == (None, None)


# ------------------------------------------------------------------ the refusal's words

SERVER = RfcSource("server", "2024-02", "DM-7")


@pytest.mark.parametrize(
    ("source", "vouched", "origin", "first_way"),
    [
        # This month's request only on the user's word: most likely the wrong request.
        (SERVER, False, "learnt from 2024-02's request DM-7", "journal adopt 2024-03 <request id>"),
        # Both vouched for by the server: rebound to another team is likely, never a fact.
        (SERVER, True, "learnt from 2024-02's request DM-7", "journal rfc --set IIA040805DZ4"),
        (RfcSource("user"), True, "set by you", "journal rfc --set IIA040805DZ4"),
        (None, True, "it may be wrong", "journal rfc --set IIA040805DZ4"),
    ],
)
def test_a_refused_package_says_where_the_rfc_came_from_and_the_free_way_out_first(
    source: RfcSource | None, vouched: bool, origin: str, first_way: str
) -> None:
    reason, hint = mismatch(
        "2024-03",
        "received",
        "IIA040805DZ4",
        TAXPAYER,
        source,
        server_vouched=vouched,
        request_id="DM-9",
    )
    assert f"received by RFC IIA040805DZ4, but this journal records RFC {TAXPAYER}" in reason
    assert origin in reason
    assert "is another taxpayer's" not in reason  # never stated as a fact
    assert ("adopted on your word" in reason) is not vouched
    assert "the package stays staged" in reason
    billed = hint.index("journal resend 2024-03")
    assert hint.index(first_way) < billed
    assert "may be billed" in hint[billed:]
    assert "extracted without downloading it again" in hint
    assert with_journal(hint, "2024-03", "./cfdi") == hint.replace(
        "gigstack-async journal rfc", "gigstack-async journal rfc ./cfdi"
    ).replace("journal adopt 2024-03", "journal adopt ./cfdi 2024-03").replace(
        "journal resend 2024-03", "journal resend ./cfdi 2024-03"
    ).replace("journal rebind", "journal rebind ./cfdi")
