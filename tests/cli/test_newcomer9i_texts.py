"""Newcomer walk 9i (F10): a resumed run without a terminal whose only unsent months the
journal records `held` is not asked to confirm billing it never does."""

from __future__ import annotations

from pathlib import Path

from gigstack_async.sandbox import Sandbox

from ._support import creates as _creates
from ._support import download_argv as _download


async def test_months_the_journal_holds_are_not_counted_as_may_be_billed(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # F10: "sat download may submit up to 3 download requests that may be billed ... pass
    # --yes" (exit 2) for a folder whose only unsent months are journaled `held`, which a
    # plain run never sends: a nightly cron job broke on it.
    assert (await cli(*_download(tmp_path / "cfdi", "--yes"))).code == 0
    second = tmp_path / "cfdi-b"
    assert (await cli(*_download(second, "--yes"))).code == 1  # 2 held, 0 ok
    creates = _creates(sandbox)
    again = await cli(*_download(second))  # stdin is not a terminal, no --yes
    assert "may submit" not in again.stderr
    assert again.code == 1, again.stdout + again.stderr  # held again, not a usage error
    assert "No new download request to submit" in again.stdout
    assert _creates(sandbox) == creates
    # A month never sent is still counted, the held ones are not.
    more = await cli(*_download(second, last="2025-03"))
    assert more.code == 2, more.stdout + more.stderr
    assert "may submit up to 1 download request that may be billed" in more.stderr
    assert _creates(sandbox) == creates
    # --allow-duplicates may send the held months: counted again.
    allowed = await cli(*_download(second, "--allow-duplicates"))
    assert allowed.code == 2, allowed.stdout + allowed.stderr
    assert "may submit up to 2 download requests" in allowed.stderr
    assert _creates(sandbox) == creates
