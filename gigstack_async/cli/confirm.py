"""Ask before submitting requests that may be billed."""

from __future__ import annotations

import sys

from gigstack_async.bulk.run import BulkDownload
from gigstack_async.cli.exitcodes import UsageError


def confirmed(run: BulkDownload, *, yes: bool) -> bool:
    """True to go ahead. Without a terminal to ask on, only --yes goes ahead: a script must not
    spend money because nobody was there to say no."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            "sat download submits download requests that may be billed; "
            "pass --yes to confirm when not running in a terminal"
        )
    count = len(run.plan)
    try:
        answer = input(
            f"Submit up to {count} download request{'s' if count != 1 else ''}? Each new one "
            "may be billed; months already in the journal are not sent again. [y/N] "
        )
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
