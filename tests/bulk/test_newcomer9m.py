"""Newcomer 9m: texts and fields a first-time user met in the bulk download.

#2: `MonthResult.resumed` was False for a month an interrupted run created and the next run
finished, though the README defines it as "an earlier run's request continued" and the CLI
printed "resumed from the journal" for the same month.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient, InvalidParameterError
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import Submitted
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.config import FaultConfig
from tests.bulk._support import (
    CREATE,
    FAST,
    JOURNAL,
    NEVER_LISTED,
    calls,
    download_argv,
    keyed_cli,
    results,
    run,
    said_cli,
    world_of,
)

# ------------------------------------------------------------------ #2: resumed


async def test_a_month_an_interrupted_run_created_is_resumed_when_the_next_run_finishes_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "cfdi"
    async with world_of(SandboxConfig(speed=300, seed=7)) as (sandbox, client):
        bulk = client.downloads.bulk(
            "2024-01", "2024-02", rfc_type="received", download_to=out, poll=FAST
        )
        async with bulk:
            async for event in bulk:
                if isinstance(event, Submitted):
                    break  # interrupted once its first request is made
        created = calls(sandbox, CREATE)
        assert created >= 1
        sandbox.clock.speed = 3000
        events = await run(client, out, "2024-01", "2024-02")
        done = results(events)
        continued = {e.key for e in events if isinstance(e, Submitted) and e.resumed}
        assert continued  # the CLI prints "resumed from the journal" for these
        assert all(done[k].ok for k in done)
        # Every month whose request an earlier run made says so; one made now does not.
        assert {k for k, r in done.items() if r.resumed} == continued  # was: set()
        assert calls(sandbox, CREATE) == 2


async def test_a_lost_create_found_in_the_same_run_stays_not_resumed(tmp_path: Path) -> None:
    faults = FaultConfig(after_502_rate=1.0, operations=frozenset({CREATE}))
    async with world_of(SandboxConfig(speed=3000, seed=5, faults=faults)) as (sandbox, client):
        events = await run(client, tmp_path / "cfdi", "2024-01", "2024-01")
        result = results(events)["2024-01"]
        assert result.ok
        assert not result.resumed
        assert calls(sandbox, CREATE) == 1


# ------------------------------------------------------------------ #4: journal errors


def test_the_journal_errors_are_importable_from_the_top_level_and_in_the_readme_tree() -> None:
    import gigstack_async
    from gigstack_async.bulk import store

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    tree = readme.split("## Errors", 1)[1].split("```", 2)[1]
    names = (
        "JournalError",
        "JournalMismatchError",
        "JournalLockedError",
        "JournalStateError",
        "JournalCorruptError",
        "JournalDamagedError",
    )
    for name in names:
        cls = getattr(gigstack_async, name, None)  # was: None
        assert cls is getattr(store, name)
        assert name in gigstack_async.__all__
        assert issubclass(cls, gigstack_async.JournalError)
        assert issubclass(cls, gigstack_async.GigstackError)
        assert f"── {name} " in tree, name


# ------------------------------------------------------------------ #9: a day that does not exist


@pytest.mark.parametrize(
    ("start", "said"),
    [
        ("2025-02-30", "day 30 does not exist in 2025-02, which has 28 days"),
        ("2024-02-30", "day 30 does not exist in 2024-02, which has 29 days"),
        ("2025-13", "month 13 does not exist"),
        ("2025-13-01", "month 13 does not exist"),
        ("2025/02/01", "must be a date written YYYY-MM-DD"),
    ],
)
async def test_a_date_that_does_not_exist_says_so_and_python_quotes_what_it_got(
    start: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with GigstackClient("sk_test_x", base_url="http://127.0.0.1:9/v2") as client:
        with pytest.raises(InvalidParameterError) as caught:
            client.downloads.bulk(start, "2025-03", rfc_type="received")
    # was: "start: must be a date written YYYY-MM-DD, or YYYY-MM for a whole month"
    text = str(caught.value)
    assert text.startswith(f"start: {said}")
    assert text.endswith(f" (got {start!r})")
    code = main(["--api-key", "sk_test_x", "--base-url", "http://127.0.0.1:9/v2", "sat",
                 "download", "--from", start, "--to", "2025-03", "--rfc-type", "received",
                 "--out", "unused", "--yes"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert said in err
    assert f"(got {start!r})" in err
    assert err.count("(got ") == 1


def test_python_errors_never_quote_a_secret() -> None:
    assert "(got" not in str(InvalidParameterError("api_key", "bad", "sk_live_x", quote=True))
    assert "(got" not in str(InvalidParameterError("secret", "bad", "whsec_x", quote=True))
    assert str(
        InvalidParameterError("end", "must be on or after start", "2024-01", quote=True)
    ) == ("end: must be on or after start (got '2024-01')")


# ------------------------------------------------------------------ #10: shortened at a word


@pytest.mark.parametrize("limit", [30, 47, 60, 75, 90, 120])
def test_a_shortened_summary_reason_ends_at_a_whole_word(limit: int) -> None:
    from gigstack_async.cli.summary import concise_reason

    text = (
        "done but the request's createdAt was never shown and unknown never counts as "
        "after the month, so `gigstack-async journal adopt att1 2025-01 R1` may help "
        "(it was made " + "very " * 20
    )
    short = concise_reason(text, limit)
    assert short.endswith(" …")
    kept = short.removesuffix(" …")
    assert len(kept) <= limit
    assert text.startswith(kept)
    assert text[len(kept)] in " ;.,:("  # was: "... unknown never counts as aft …"
    assert kept.count("`") % 2 == 0  # a command goes whole or not at all


# ------------------------------------------------------------------ #5: a mistyped API key


async def test_a_mistyped_api_key_on_an_existing_folder_says_check_the_key_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    async with world_of(SandboxConfig(speed=3000, seed=3)) as (sandbox, _client):
        argv = download_argv("2024-01", out)
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
        capsys.readouterr()
        wrong = ["--api-key", "sk_test_typo", "--base-url", sandbox.base_url, *map(str, argv)]
        code = await asyncio.to_thread(main, wrong)
        err = " ".join(capsys.readouterr().err.split())
        assert code == 2
        assert calls(sandbox, CREATE) == 1
        # First the likely cause, then the rebind (was: "belongs to another run" first).
        check = err.index("the API key differs from the one")
        # r2 N10: "error: " as every other error, and the key's difference said once.
        assert err.startswith("error: the API key differs from the one")
        assert "a different API key" not in err
        assert "belongs to another run" not in err
        assert "mistyped" in err
        assert "check --api-key / GIGSTACK_API_KEY" in err
        assert check < err.index("journal rebind")
        assert "sk_test_typo" not in err


# ------------------------------------------------------------------ #3: journal show


def test_journal_show_prints_each_command_whole_on_its_own_line_and_pads_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "att1"
    rid = "08830481-A946-4DD0-B9D6-AF4A2811DA96"
    adopt = f"gigstack-async journal adopt {out} 2025-01 {rid} --created-at 2025-02-01T09:30"
    identity = StoreIdentity(
        None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
    )
    jan = m.MonthState("2025-01", date(2025, 1, 1), date(2025, 1, 31), "received", "cfdi")
    feb = m.MonthState("2025-02", date(2025, 2, 1), date(2025, 2, 28), "received", "cfdi")
    with JournalStore.open(out / JOURNAL, identity) as store:
        store.ensure(
            [
                attrs.evolve(
                    jan,
                    stage=m.Stage.NEEDS_ATTENTION,
                    unknown=True,
                    creates=1,
                    reason="a create request may have been billed; " + "the history " * 60 + "says",
                    hint=f"Find it in gigstack's dashboard, then `{adopt}` (free).",
                ),
                attrs.evolve(feb, stage=m.Stage.DONE, reason="every package extracted"),
            ]
        )
    for argv in (["journal", "show", str(out)], ["journal", "show", str(out), "2025-01"]):
        assert main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        # The command, whole, on a line of its own (was: folded into a 45-character column).
        assert adopt in [line.strip() for line in lines]
        # The table's rows are short: no row padded to the longest reason (was: ~900 wide).
        rows = [line for line in lines if line.startswith(("2025-01 ", "2025-02 "))]
        assert rows
        assert all(len(line) < 100 for line in rows), rows
        assert not any(line != line.rstrip() for line in lines)


# ------------------------------------------------------------------ #1: --created-at up front


async def test_a_lost_creates_first_hint_offers_created_at_and_following_it_ends_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    async with world_of(NEVER_LISTED) as (sandbox, _client):
        cli = said_cli(sandbox, capsys)

        def download() -> tuple[int, str]:
            return cli(*download_argv("2024-02", out, "received", "--timeout", "60"))

        sandbox.state.force_fault(CREATE, "after_502", times=1)
        code, said = await asyncio.to_thread(download)
        assert code != 0
        assert "cannot tell whether it arrived" in said
        # was: only `journal adopt <folder> 2024-02 <request id>`, and MISSING DAYS after it
        offered = f"gigstack-async journal adopt {out} 2024-02 <request id> --created-at <"
        assert offered in said
        (request,) = sandbox.state.download_requests
        # What the dashboard shows: the server's own instant it made the request.
        made = datetime.fromtimestamp(request.timeline.created_ms / 1000, tz=UTC)
        adopt = ("journal", "adopt", out, "2024-02", request.request_id)
        vouch = ("--created-at", made.isoformat(timespec="seconds"))
        assert (await asyncio.to_thread(cli, *adopt, *vouch, "--yes"))[0] == 0
        code, said = await asyncio.to_thread(download)
        assert code == 0, said  # one adopt, one run: ok
        assert "MISSING DAYS" not in said
        assert calls(sandbox, CREATE) == 1
