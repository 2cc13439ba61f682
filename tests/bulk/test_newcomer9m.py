"""Newcomer 9m: texts and fields a first-time user met in the bulk download.

#2: `MonthResult.resumed` was False for a month an interrupted run created and the next run
finished, though the README defines it as "an earlier run's request continued" and the CLI
printed "resumed from the journal" for the same month.
"""

from __future__ import annotations

from pathlib import Path

from gigstack_async.bulk.events import Submitted
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.config import FaultConfig
from tests.bulk._support import CREATE, FAST, calls, results, run, world_of

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
