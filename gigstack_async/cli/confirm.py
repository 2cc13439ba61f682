"""Ask before submitting requests that may be billed."""

from __future__ import annotations

import sys

from gigstack_async.bulk.run import BulkDownload
from gigstack_async.cli.exitcodes import UsageError


def check_can_confirm(*, yes: bool) -> None:
    """Raise `UsageError` when nobody can be asked (no terminal) and --yes was not given: a
    script must not spend money because nobody was there to say no. Checked before anything,
    even the free pre-flight read, is sent."""
    if not yes and not sys.stdin.isatty():
        raise UsageError(
            "sat download submits download requests that may be billed; "
            "pass --yes to confirm when not running in a terminal"
        )


def confirmed(run: BulkDownload, *, yes: bool, held: int = 0) -> bool:
    """True to go ahead. Without a terminal to ask on, only --yes goes ahead. `held`: months
    the plan showed as held (the account already has their exact request), not sent."""
    if yes:
        return True
    check_can_confirm(yes=yes)
    count = len(run.plan) - held
    also = (
        f" {held} month{'s are' if held != 1 else ' is'} held (not sent): the account already "
        "has identical requests, see above."
        if held
        else ""
    )
    try:
        answer = input(
            f"Submit up to {count} download request{'s' if count != 1 else ''}? Each new one "
            f"may be billed; months already in the journal are not sent again.{also} [y/N] "
        )
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
