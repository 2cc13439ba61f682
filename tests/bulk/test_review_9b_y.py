"""Regression tests for the second hostile review of issue 9 (review-9b): findings 3, 6, 7, 8
and 10, and the staging / lock-file suspicions. Each failed on the code it reviewed.

End to end against the sandbox over 127.0.0.1, like tests/bulk/test_review_fixes.py; the kill
case runs a child process that dies with `os._exit` at the exact moment the review named.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import engine
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import merge_plan
from gigstack_async.bulk.store import (
    JournalLockedError,
    JournalMismatchError,
    JournalStore,
    StoreIdentity,
)
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.config import DEFAULT_API_KEY, ApiKeyConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile, profile
from tests.bulk._support import JOURNAL, PACKAGE, results, run, run_child

# 3 ------------------------------------------------------------------------------------------


async def test_a_package_staged_by_its_last_download_survives_a_kill(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient]
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    sandbox.state.force_fault(PACKAGE, "after_truncate", times=1)
    await run_child(tmp_path, sandbox, out, "normal")  # the 1st download is spent (truncated)
    code = await run_child(tmp_path, sandbox, out, "die-after-staging")  # the 2nd, then killed
    assert code == 9
    assert list((out / ".gigstack-staging").glob("*.zip"))
    with JournalStore.open_existing(out / JOURNAL) as store:
        killed = store.get("2024-01")
    assert killed.stage is m.Stage.COMPLETED
    assert not killed.staged
    assert all(n == m.DOWNLOAD_BUDGET for _, n in killed.downloads)

    result = results(await run(client, out))["2024-01"]

    assert result.ok, result.error
    assert result.stage == "done"
    assert result.files
    assert all(f.exists() for f in result.files)
    assert len(sandbox.state.calls_to(PACKAGE)) == 2  # no third GET, no new request
    assert len(sandbox.state.calls_to("createDownloadRequest")) == 1
    assert not list((out / ".gigstack-staging").glob("*.zip"))


# The record of a staged package is not fsynced on its own (12 fsyncs in the fan-out's tail):
# losing it to a power cut is the same as a kill right before it, which costs no download
# because the staged file is found by name on disk (the test above).


# 10 -----------------------------------------------------------------------------------------


def _jwt(team: str) -> str:
    """A key shaped like gigstack's (a JWT whose `team` claim is its home team)."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part({'team': team, 'livemode': False})}.c2lnbmF0dXJl"


async def test_the_same_server_written_otherwise_resumes_the_journal(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient]
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    assert results(await run(client, out))["2024-01"].ok
    shouted = sandbox.base_url.replace("http://127.0.0.1", "HTTP://127.0.0.1")
    async with GigstackClient(sandbox.api_key, base_url=shouted + "/") as again:
        result = results(await run(again, out))["2024-01"]
    assert result.ok
    assert result.resumed
    assert len(sandbox.state.calls_to("createDownloadRequest")) == 1


async def test_localhost_is_refused_with_a_way_that_does_not_bill_again(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient]
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    assert results(await run(client, out))["2024-01"].ok
    local = sandbox.base_url.replace("127.0.0.1", "localhost")
    async with GigstackClient(sandbox.api_key, base_url=local) as other:
        with pytest.raises(JournalMismatchError) as caught:
            await run(other, out)
    text = str(caught.value)
    assert "localhost and 127.0.0.1 count as different servers" in text
    assert f"journal rebind {out}" in text
    assert "every month is requested, and may be billed, again" in text
    assert len(sandbox.state.calls_to("createDownloadRequest")) == 1


async def test_naming_the_keys_home_team_is_the_same_owner(tmp_path: Path) -> None:
    key = _jwt("team_sandbox")
    config = SandboxConfig(speed=3000, seed=11, api_keys=(ApiKeyConfig(key, "team_sandbox"),))
    async with Sandbox(config) as sandbox:
        async with GigstackClient(key, base_url=sandbox.base_url) as client:
            assert results(await run(client, tmp_path / "cfdi"))["2024-01"].ok
        async with GigstackClient(key, base_url=sandbox.base_url, team="team_sandbox") as named:
            result = results(await run(named, tmp_path / "cfdi"))["2024-01"]
        assert result.ok
        assert result.resumed
        assert len(sandbox.state.calls_to("createDownloadRequest")) == 1


async def test_a_team_the_key_does_not_name_is_refused_and_says_why(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient]
) -> None:
    sandbox, client = world
    assert results(await run(client, tmp_path / "cfdi"))["2024-01"].ok
    async with GigstackClient(
        sandbox.api_key, base_url=sandbox.base_url, team="team_sandbox"
    ) as named:
        with pytest.raises(JournalMismatchError, match="does not say which team") as caught:
            await run(named, tmp_path / "cfdi")
    assert "journal rebind" in str(caught.value)


async def test_a_rotated_key_is_rebound_without_billing_again(tmp_path: Path) -> None:
    old, new = DEFAULT_API_KEY, "sk_test_rotated_key_000000000000"
    keys = (ApiKeyConfig(old, "team_sandbox"), ApiKeyConfig(new, "team_sandbox"))
    out = tmp_path / "cfdi"
    async with Sandbox(SandboxConfig(speed=3000, seed=11, api_keys=keys)) as sandbox:
        async with GigstackClient(old, base_url=sandbox.base_url) as client:
            assert all(r.ok for r in results(await run(client, out, "2024-01", "2024-02")).values())
        async with GigstackClient(new, base_url=sandbox.base_url) as client:
            with pytest.raises(JournalMismatchError, match="the API key differs") as caught:
                await run(client, out, "2024-01", "2024-02")
            assert f"journal rebind {out}" in str(caught.value)

            argv = ["journal", "rebind", str(out), "--api-key", new, "--base-url", sandbox.base_url]
            assert await asyncio.to_thread(main, argv) == 2  # no terminal, no --yes: refused
            with pytest.raises(JournalMismatchError):
                await run(client, out, "2024-01", "2024-02")
            assert await asyncio.to_thread(main, [*argv, "--yes"]) == 0

            done = results(await run(client, out, "2024-01", "2024-02"))
        assert all(r.ok and r.resumed for r in done.values())
        assert sandbox.state.billed_creates("2024-01") == 1
        assert sandbox.state.billed_creates("2024-02") == 1
        assert len(sandbox.state.calls_to("createDownloadRequest")) == 2


# 6 ------------------------------------------------------------------------------------------


async def test_a_journal_refuses_another_download_folder_without_its_files(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient]
) -> None:
    sandbox, client = world
    journal = tmp_path / "j.sqlite3"
    first = results(await run(client, tmp_path / "A", journal=journal))["2024-01"]
    assert first.ok
    assert first.files
    with pytest.raises(JournalMismatchError, match="records its months' files in") as caught:
        await run(client, tmp_path / "B", journal=journal)
    text = str(caught.value)
    assert str((tmp_path / "A").resolve()) in text
    assert "may be billed" in text
    assert not (tmp_path / "B" / "2024-01").exists()
    assert len(sandbox.state.calls_to("createDownloadRequest")) == 1


async def test_a_moved_download_folder_resumes_with_its_journal(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient]
) -> None:
    sandbox, client = world
    assert results(await run(client, tmp_path / "cfdi"))["2024-01"].ok  # journal inside
    (tmp_path / "cfdi").rename(tmp_path / "moved")
    again = results(await run(client, tmp_path / "moved"))["2024-01"]
    assert again.ok
    assert again.files
    assert all(f.exists() and tmp_path / "moved" in f.parents for f in again.files)

    journal = tmp_path / "outside.sqlite3"  # a journal outside: the files prove the move
    assert results(await run(client, tmp_path / "A", "2024-02", "2024-02", journal=journal))[
        "2024-02"
    ].ok
    (tmp_path / "A").rename(tmp_path / "B")
    moved = results(await run(client, tmp_path / "B", "2024-02", "2024-02", journal=journal))
    assert moved["2024-02"].ok
    assert all(f.exists() for f in moved["2024-02"].files)
    assert len(sandbox.state.calls_to("createDownloadRequest")) == 2


def _requested(sandbox: Sandbox) -> list[tuple[str, str]]:
    return [
        (str(r.criteria.start_date), str(r.criteria.end_date))
        for r in sandbox.state.download_requests
    ]


# 7 ------------------------------------------------------------------------------------------


async def test_a_refused_month_is_sent_with_the_dates_of_the_plan_shown(tmp_path: Path) -> None:
    out = tmp_path / "cfdi"
    config = SandboxConfig(speed=3000, seed=3, profile=profile("refused-create"))
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        assert results(await run(client, out, "2024-03", "2024-03"))["2024-03"].stage == "refused"
        assert _requested(sandbox) == []  # nothing billed
        again = results(await run(client, out, "2024-03-01", "2024-03-15"))["2024-03"]
        assert again.ok, again.error
        assert again.error is None
        assert _requested(sandbox) == [("2024-03-01", "2024-03-15")]


# 8 ------------------------------------------------------------------------------------------


async def test_after_sat_5002_other_dates_are_sent_and_resend_is_not_promised(
    tmp_path: Path,
) -> None:
    out = tmp_path / "cfdi"
    rule = SatCodeRule(5002, month="2024-03", times=1)
    config = SandboxConfig(speed=3000, seed=3, profile=ServerProfile(sat_codes=(rule,)))
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        limit = results(await run(client, out, "2024-03", "2024-03"))["2024-03"]
        assert limit.stage == "sat-failed"
        assert "journal resend" not in (limit.hint or "")
        assert "other dates" in (limit.hint or "")
        # `journal resend` refuses the same dates, and says what works instead.
        argv = ["journal", "resend", str(out), "2024-03", "--yes"]
        assert await asyncio.to_thread(main, argv) == 2
        with JournalStore.open_existing(out / JOURNAL) as store:
            state = store.get("2024-03")
        with pytest.raises(m.TransitionError, match="other dates"):
            m.transition(state, m.AllowResend())

        other = results(await run(client, out, "2024-03-01", "2024-03-30"))["2024-03"]
        assert other.ok, other.error
        assert _requested(sandbox) == [("2024-03-01", "2024-03-30")]


async def test_a_month_still_in_flight_is_not_promised_a_resend(tmp_path: Path) -> None:
    async with (
        Sandbox(SandboxConfig(speed=1, seed=3)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        out = tmp_path / "cfdi"
        first = results(await run(client, out, "2024-03", "2024-03", timeout=0.5))["2024-03"]
        assert first.stage in ("submitted", "processing")
        bulk = client.downloads.bulk(
            "2024-03-01", "2024-03-15", rfc_type="received", download_to=out
        )
        with JournalStore.open(out / JOURNAL, bulk.identity) as store:
            notes = merge_plan(store, bulk.plan)
            with pytest.raises(m.TransitionError):
                m.transition(store.get("2024-03"), m.AllowResend())
        assert (
            "once it has finished, `gigstack-async journal resend 2024-03 --force`"
            in notes["2024-03"]
        )


# suspicion: a --journal symlink with another name ---------------------------------------------


def test_a_symlink_to_the_journal_finds_the_same_lock(tmp_path: Path) -> None:
    identity = StoreIdentity(
        None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
    )
    real, link = tmp_path / "j.sqlite3", tmp_path / "other-name.sqlite3"
    with JournalStore.open(real, identity):
        link.symlink_to(real)
        with pytest.raises(JournalLockedError):
            JournalStore.open(link, identity)
    with JournalStore.open(link, identity) as store:  # released: the link opens the same journal
        assert store.identity == identity


# suspicion: after `journal resend` drops `staged`, the staged ZIP stays forever -------------------


async def test_journal_resend_removes_the_staged_package_it_drops(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = world
    out = tmp_path / "cfdi"

    def disk_full(*_args: object, **_kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine, "extract_staged", disk_full)
    stuck = results(await run(client, out))["2024-01"]
    assert stuck.stage == "needs-attention"
    staged = list((out / ".gigstack-staging").glob("*.zip"))
    assert staged

    elsewhere = tmp_path / "elsewhere"  # the CLI may run from any folder
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    argv = ["journal", "resend", str(out), "2024-01", "--yes"]
    # A re-run would extract the staged package for free: refused without --force (9d #3).
    assert await asyncio.to_thread(main, argv) == 2
    assert all(path.exists() for path in staged)
    assert await asyncio.to_thread(main, [*argv, "--force"]) == 0
    assert not any(path.exists() for path in staged)
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-01").staged == ()


@pytest.mark.parametrize(
    ("journal", "run_", "same"),
    [
        (
            ("team_a", "https://api.gigstack.io/v2"),
            ("team_a", "HTTPS://API.gigstack.io:443/v2/"),
            True,
        ),
        ((None, "http://127.0.0.1:80/v2"), (None, "http://127.0.0.1/v2"), True),
        ((None, "http://127.0.0.1:8080/v2"), (None, "http://127.0.0.1:8081/v2"), False),
        ((None, "https://api.gigstack.io/v2"), (None, "https://api.gigstack.io/v3"), False),
        ((None, "http://localhost/v2"), (None, "http://127.0.0.1/v2"), False),
    ],
)
def test_the_base_url_is_compared_canonically(
    journal: tuple[str | None, str], run_: tuple[str | None, str], same: bool
) -> None:
    def identity(team: str | None, url: str) -> StoreIdentity:
        return StoreIdentity(team, url, "k", None, "received", "cfdi")

    assert (not identity(*journal).differences(identity(*run_))) is same


def test_a_team_is_the_keys_home_team_only_when_the_key_says_so() -> None:
    written = StoreIdentity(None, "http://x/v2", "k1", None, "received", "cfdi")
    said = attrs.evolve(written, team="T", home_team="T")
    assert not written.differences(said)  # the same key, whose JWT names T
    assert written.differences(attrs.evolve(said, team="U"))
    assert written.differences(attrs.evolve(said, key_fingerprint="k2"))  # a rotated key
    unsaid = written.differences(attrs.evolve(written, team="T"))
    assert unsaid
    assert "does not say which team" in unsaid[0]


def test_a_journal_without_a_recorded_folder_is_checked_by_its_files(tmp_path: Path) -> None:
    identity = StoreIdentity(None, "http://127.0.0.1:9/v2", "k", None, "received", "cfdi")
    done = m.MonthState(
        "2024-01",
        date(2024, 1, 1),
        date(2024, 1, 31),
        "received",
        "cfdi",
        stage=m.Stage.DONE,
        extracted=(m.ExtractedPackage("P1", ("A.xml", "B.xml")),),
    )
    inside = tmp_path / "cfdi"
    with JournalStore.open(inside / JOURNAL, identity) as store:  # as older versions left it
        store.ensure([done])
        store.bind_download_to(inside)  # its own folder, though the user moved the files away
        assert store.download_to == inside.resolve()
    outside = tmp_path / "j.sqlite3"
    with JournalStore.open(outside, identity) as store:
        store.ensure([done])
        with pytest.raises(JournalMismatchError, match="2 of them"):
            store.bind_download_to(tmp_path / "elsewhere")
        (tmp_path / "moved" / "2024-01").mkdir(parents=True)
        for name in ("A.xml", "B.xml"):
            (tmp_path / "moved" / "2024-01" / name).write_text("<cfdi/>")
        store.bind_download_to(tmp_path / "moved")  # every file is there: a moved folder
        assert store.download_to == (tmp_path / "moved").resolve()
