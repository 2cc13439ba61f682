"""What the CLI tests share: the argv of a `sat download` of received CFDIs, and the count of
create requests the sandbox was sent."""

from __future__ import annotations

from pathlib import Path

from gigstack_async.sandbox import Sandbox


def download_argv(
    out: Path, *extra: str, first: str = "2025-01", last: str = "2025-02"
) -> list[str]:
    """`sat download` of received CFDIs FIRST..LAST into OUT (poll 0.02 s), then `extra`."""
    return [
        "sat", "download", "--from", first, "--to", last, "--rfc-type", "received",
        "--out", str(out), "--poll-interval", "0.02", *extra,
    ]  # fmt: skip


def creates(sandbox: Sandbox) -> int:
    """Create requests the sandbox's own log recorded (refused ones too)."""
    return len(sandbox.state.calls_to("createDownloadRequest"))
