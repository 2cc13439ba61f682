"""Regression tests for the hostile re-review 9c of issue 9 (integ 802ad06): findings 1-6 and
the suspicions confirmed (staged sha256, orphan staged ZIPs, adopt's staged copy, the old
journal's ancestor check). Each failed on the code it reviewed.

End to end against the sandbox over 127.0.0.1, like tests/bulk/test_review_9b_y.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import shlex
import zipfile
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import engine, repair
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import (
    JournalCorruptError,
    JournalMismatchError,
    JournalStateError,
    JournalStore,
    StoreIdentity,
    mismatch_message,
)
from gigstack_async.bulk.taxpayer import package_rfc
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import CREATE, JOURNAL, PACKAGE, results, run, run_child

# 6 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("journal", "argument"),
    [
        ("my cfdi/.gigstack-journal.sqlite3", "my cfdi"),
        ("/tmp/x/my journal.sqlite3", "/tmp/x/my journal.sqlite3"),
    ],
)
def test_the_rebind_command_in_the_refusal_runs_as_printed(journal: str, argument: str) -> None:
    text = mismatch_message(Path(journal), ["a different API key"])
    command = text.split("`gigstack-async ", 1)[1].split("`", 1)[0]
    assert shlex.split(command) == ["journal", "rebind", argument]


# 2 ------------------------------------------------------------------------------------------


async def test_adopt_refuses_a_request_id_another_month_of_the_journal_knows(
    tmp_path: Path,
) -> None:
    # 2024-01 fails SAT 5011; the user slips and adopts 2024-02's id for it. On the reviewed
    # code it was accepted: 2024-01 downloaded 2024-02's package (3 GETs of one package).
    out = tmp_path / "cfdi"
    profile = ServerProfile(sat_codes=(SatCodeRule(5011, month="2024-01", times=1),))
    config = SandboxConfig(speed=3000, seed=5, history_limit=1, profile=profile)
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        first = results(await run(client, out, "2024-01", "2024-02", concurrency=1))
        assert first["2024-01"].stage == "sat-failed"
        assert first["2024-02"].ok
        with JournalStore.open_existing(out / JOURNAL) as store:
            before = store.get("2024-01")
            february = store.get("2024-02").request_id
            assert february is not None
            with pytest.raises(JournalStateError, match="2024-02's in this journal"):
                repair.adopt(store, "2024-01", february)  # the Python path

        argv = ["journal", "adopt", str(out), "2024-01", february, "--yes"]
        assert await asyncio.to_thread(main, argv) == 2
        with JournalStore.open_existing(out / JOURNAL) as store:
            assert store.get("2024-01") == before
        gets = len(sandbox.state.calls_to(PACKAGE))
        again = results(await run(client, out, "2024-01", "2024-02", concurrency=1))
        assert again["2024-01"].stage == "sat-failed"
        assert not (out / "2024-01").exists()
        assert len(sandbox.state.calls_to(PACKAGE)) == gets


# suspicion: adopt dropped a staged package from the journal and left its ZIP forever --------


async def test_adopting_another_request_removes_the_left_requests_staged_package(
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

    argv = ["journal", "adopt", str(out), "2024-01", "SOME-OTHER-REQUEST", "--yes"]
    assert await asyncio.to_thread(main, argv) == 0
    assert not any(path.exists() for path in staged)
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-01").staged == ()
        assert store.get("2024-01").request_id == "SOME-OTHER-REQUEST"


# 4 ------------------------------------------------------------------------------------------


async def test_the_old_json_journals_advice_runs_and_bills_nothing(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refusal said "move it aside and attach the requests with `journal adopt`", but adopt
    # needed a journal that only a billing `sat download` could create.
    sandbox, client = world
    old = await client.downloads.create_request(
        start_date="2024-01-01", end_date="2024-01-31", rfc_type="received"
    )  # the request the old version made (and billed)
    out = tmp_path / "my cfdi"
    out.mkdir()
    legacy = out / ".gigstack-journal.json"
    legacy.write_text(json.dumps({"months": {"2024-01": {"request_id": old.request_id}}}))
    with pytest.raises(JournalCorruptError) as caught:
        await run(client, out)
    command = str(caught.value).split("`gigstack-async ", 1)[1].split("`", 1)[0]
    argv = [
        old.request_id if word == "REQUEST_ID" else "2024-01" if word == "YYYY-MM" else word
        for word in shlex.split(command)
    ]
    legacy.rename(tmp_path / "old.json")
    monkeypatch.setenv("GIGSTACK_API_KEY", sandbox.api_key)
    monkeypatch.setenv("GIGSTACK_BASE_URL", sandbox.base_url)
    assert await asyncio.to_thread(main, [*argv, "--yes"]) == 0
    assert len(sandbox.state.calls_to(CREATE)) == 1  # only the old version's
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-01").request_id == old.request_id

    # The old version may have downloaded its package: this journal cannot know, so the
    # month asks for the user's word before a GET that could be SAT's third (free either way).
    waiting = results(await run(client, out))["2024-01"]
    assert waiting.stage == "needs-attention"
    assert "assumed spent" in (waiting.error or "")
    retry = f"gigstack-async journal retry-download {shlex.quote(str(out))} 2024-01"
    assert retry in (waiting.hint or "")
    assert await asyncio.to_thread(main, [*shlex.split(retry)[1:], "--yes"]) == 0
    done = results(await run(client, out))["2024-01"]
    assert done.ok, done.error
    assert done.files
    assert len(sandbox.state.calls_to(CREATE)) == 1


async def test_journal_adopt_without_a_journal_says_how_to_start_one(tmp_path: Path) -> None:
    argv = ["journal", "adopt", str(tmp_path / "cfdi"), "2024-01", "REQ-1", "--yes"]
    assert await asyncio.to_thread(main, argv) == 2
    assert not (tmp_path / "cfdi" / JOURNAL).exists()


# 1 ------------------------------------------------------------------------------------------


def _disk_full(*_args: object, **_kw: object) -> None:
    raise OSError(28, "No space left on device")


async def _staged_not_extracted(client: GigstackClient, out: Path) -> list[Path]:
    """Run 2024-01 with extraction failing (disk full): its package stays staged, recorded."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "extract_staged", _disk_full)
        stuck = results(await run(client, out))["2024-01"]
    assert stuck.stage == "needs-attention"
    staged = list((out / ".gigstack-staging").glob("*.zip"))
    assert staged
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-01").staged
    return staged


async def test_a_staged_package_is_found_after_the_whole_folder_moved(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient]
) -> None:
    # The staged path was recorded absolute: after the move, extraction looked in the old
    # folder (ENOENT) and the month needed attention on every run, its good ZIP stranded.
    sandbox, client = world
    await _staged_not_extracted(client, tmp_path / "cfdi")
    (tmp_path / "cfdi").rename(tmp_path / "moved")

    done = results(await run(client, tmp_path / "moved"))["2024-01"]

    assert done.ok, done.error
    assert done.files
    assert all(f.exists() and tmp_path / "moved" in f.parents for f in done.files)
    assert len(sandbox.state.calls_to(PACKAGE)) == 1  # extracted from the staged copy
    assert not list((tmp_path / "moved" / ".gigstack-staging").glob("*.zip"))


# suspicion: the recorded sha256 of a staged package was never compared ----------------------


async def test_a_staged_package_whose_bytes_changed_is_not_extracted(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient]
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    (staged,) = await _staged_not_extracted(client, out)
    foreign = io.BytesIO()
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("FOREIGN-0000.xml", "<cfdi:Comprobante/>")
    staged.write_bytes(foreign.getvalue())  # a valid ZIP, not the package that was staged

    done = results(await run(client, out))["2024-01"]

    assert done.ok, done.error
    assert done.files
    assert not (out / "2024-01" / "FOREIGN-0000.xml").exists()
    assert len(sandbox.state.calls_to(PACKAGE)) == 2  # downloaded again (1 of 2 was left)


# suspicion: a damaged, unrecorded staged ZIP stayed in .gigstack-staging forever -------------


async def test_a_damaged_staged_zip_nothing_refers_to_is_removed(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient]
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    sandbox.state.force_fault(PACKAGE, "after_truncate", times=1)
    assert await run_child(tmp_path, sandbox, out, "normal") == 0  # 1st download spent
    assert await run_child(tmp_path, sandbox, out, "die-after-staging") == 9  # 2nd, unrecorded
    (damaged,) = (out / ".gigstack-staging").glob("*.zip")
    damaged.write_bytes(damaged.read_bytes()[:5000])

    stuck = results(await run(client, out))["2024-01"]
    assert stuck.stage == "needs-attention"  # no download left, no usable copy
    # The 2nd GET's run died: it may not have reached SAT, so the free way comes first and a
    # billed resend is refused until it was tried.
    resend = ["journal", "resend", str(out), "2024-01", "--yes"]
    assert await asyncio.to_thread(main, resend) == 2
    allow = ["journal", "retry-download", str(out), "2024-01", "--yes"]
    assert await asyncio.to_thread(main, allow) == 0
    spent = results(await run(client, out))["2024-01"]  # SAT served it twice: 5008, free
    assert spent.stage == "needs-attention"
    assert "SAT 5008" in (spent.error or "")
    assert len(sandbox.state.calls_to(CREATE)) == 1
    assert await asyncio.to_thread(main, resend) == 0

    done = results(await run(client, out))["2024-01"]  # a new request

    assert done.ok, done.error
    assert not damaged.exists()
    assert not list((out / ".gigstack-staging").glob("*.zip"))


# 5 ------------------------------------------------------------------------------------------


async def test_dates_sat_refused_with_5002_are_never_sent_again(tmp_path: Path) -> None:
    # A (the whole month) got 5002, then B (other dates) got 5002 too; back to A, the reviewed
    # code sent A again: the machine remembered only the latest refused dates.
    out = tmp_path / "cfdi"
    rule = SatCodeRule(5002, month="2024-03", times=2)
    config = SandboxConfig(speed=3000, seed=3, profile=ServerProfile(sat_codes=(rule,)))
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        plans = [("2024-03", "2024-03"), ("2024-03-01", "2024-03-15"), ("2024-03", "2024-03")]
        outcomes = [results(await run(client, out, a, b))["2024-03"] for a, b in plans]
        assert [r.stage for r in outcomes] == ["sat-failed"] * 3
        assert len(sandbox.state.calls_to(CREATE)) == 2  # A once, B once; A never again
        assert "never sent again" in (outcomes[2].error or "")
        with JournalStore.open_existing(out / JOURNAL) as store:
            state = store.get("2024-03")
        assert (date(2024, 3, 1), date(2024, 3, 31)) in state.exhausted
        assert (date(2024, 3, 1), date(2024, 3, 15)) in state.exhausted
        # journal resend refuses the month's own exhausted dates too (nothing changes)
        argv = ["journal", "resend", str(out), "2024-03", "--yes"]
        assert await asyncio.to_thread(main, argv) == 2
        assert len(sandbox.state.calls_to(CREATE)) == 2


# 3 ------------------------------------------------------------------------------------------


async def test_a_rebound_journal_refuses_another_taxpayers_cfdis(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient], capsys: pytest.CaptureFixture[str]
) -> None:
    # The RFC was never recorded: after `journal rebind --team team_connected` the run put
    # IIA040805DZ4's CFDIs into a folder of EKU9003173C9's, and exited 0.
    sandbox, client = world
    out = tmp_path / "cfdi"
    assert results(await run(client, out))["2024-01"].ok
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity.rfc == "EKU9003173C9"  # the receptor of its received CFDIs
    assert await asyncio.to_thread(main, ["journal", "show", str(out)]) == 0
    assert "RFC EKU9003173C9" in capsys.readouterr().out

    async with GigstackClient(
        sandbox.api_key, base_url=sandbox.base_url, team="team_connected"
    ) as other:
        with pytest.raises(JournalMismatchError, match="team"):
            await run(other, out, "2024-01", "2024-02")
        argv = ["journal", "rebind", str(out), "--team", "team_connected", "--yes"]
        argv += ["--api-key", sandbox.api_key, "--base-url", sandbox.base_url]
        # `journal rebind` now checks the account first (newcomer 9c #2): refused.
        assert await asyncio.to_thread(main, argv) == 2
        assert "belongs to another account" in capsys.readouterr().err
        # A rebind that slipped through (an older version, or Python): the RFC still guards.
        with JournalStore.open_existing(out / JOURNAL) as store:
            store.rebind(other.downloads.bulk("2024-01", "2024-01", rfc_type="received").identity)

        after = results(await run(other, out, "2024-01", "2024-02"))

    assert after["2024-01"].ok
    refused = after["2024-02"]
    assert refused.stage == "needs-attention"
    assert "IIA040805DZ4" in (refused.error or "")
    assert "another taxpayer" in (refused.error or "")
    assert f"journal rebind {out}" in (refused.hint or "")
    # Rebinding back alone cannot help: the month's request is the other team's (newcomer 9b).
    assert f"journal resend {out} 2024-02" in (refused.hint or "")
    assert not list((out / "2024-02").glob("*.xml"))
    assert list((out / ".gigstack-staging").glob("2024-02-*.zip"))  # kept, not lost
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity.rfc == "EKU9003173C9"


def test_rebind_refuses_a_known_different_rfc(tmp_path: Path) -> None:
    identity = StoreIdentity(
        "team_a", "http://127.0.0.1/v2", "k1", "EKU9003173C9", "received", "cfdi"
    )
    with JournalStore.open(tmp_path / JOURNAL, identity) as store:
        with pytest.raises(JournalMismatchError, match="another taxpayer"):
            store.rebind(attrs.evolve(identity, team="team_b", rfc="IIA040805DZ4"))
        store.rebind(attrs.evolve(identity, team="team_b", rfc=None))
        assert store.identity.rfc == "EKU9003173C9"


def _zip(tmp_path: Path, members: dict[str, str]) -> Path:
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def _cfdi(emisor: str, receptor: str) -> str:
    return (
        '<?xml version="1.0"?><cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4">'
        f'<cfdi:Emisor Rfc="{emisor}" Nombre="E"/><cfdi:Receptor Nombre="R" Rfc="{receptor}"/>'
        "</cfdi:Comprobante>"
    )


def test_the_taxpayer_is_the_side_of_the_rfc_type_and_never_guessed(tmp_path: Path) -> None:
    members = {
        "a.xml": _cfdi("AAA010101AAA", "EKU9003173C9"),
        "b.xml": _cfdi("BBB010101BBB", "EKU9003173C9"),
    }
    same = _zip(tmp_path, members)
    assert package_rfc(same, "received") == "EKU9003173C9"
    assert package_rfc(same, "issued") is None  # two emisores: not guessed
    header = "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor"
    rows = [
        f"6F0A1B2C-3D4E-5F60-7A8B-9C0D1E2F3A4{i}~EKU9003173C9~E~XAXX010101000~R" for i in range(3)
    ]
    metadata = _zip(tmp_path, {"m.txt": "\n".join([header, *rows, ""])})
    assert package_rfc(metadata, "issued") == "EKU9003173C9"
    assert package_rfc(_zip(tmp_path, {"x.xml": "<nothing/>"}), "received") is None


# suspicion: an old journal accepted any ancestor of its folder as --out ----------------------


def test_an_old_journal_refuses_an_ancestor_of_its_folder(tmp_path: Path) -> None:
    identity = StoreIdentity(None, "http://127.0.0.1:9/v2", "k", None, "received", "cfdi")
    done = m.MonthState(
        "2024-01",
        date(2024, 1, 1),
        date(2024, 1, 31),
        "received",
        "cfdi",
        stage=m.Stage.DONE,
        extracted=(m.ExtractedPackage("P1", ("A.xml",)),),
    )
    inside = tmp_path / "cfdi"
    with JournalStore.open(inside / JOURNAL, identity) as store:  # no folder recorded yet
        store.ensure([done])
        for ancestor in (tmp_path, Path(tmp_path.anchor)):
            with pytest.raises(JournalMismatchError, match="1 of them"):
                store.bind_download_to(ancestor)
        assert store.download_to is None
        store.bind_download_to(inside)
        assert store.download_to == inside.resolve()


def test_an_unreadable_package_is_not_guessed_from(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.xml", _cfdi("AAA010101AAA", "EKU9003173C9") * 50)
    data = bytearray(path.read_bytes())
    middle = data.index(b"a.xml") + 40  # inside the deflated member
    data[middle : middle + 20] = b"\xff" * 20
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match="cannot read"):
        package_rfc(path, "received")
