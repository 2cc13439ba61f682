"""Ask before submitting requests that may be billed."""

from __future__ import annotations

import sys

from gigstack_async.bulk.run import BulkDownload
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.ui import Ui


def confirmed(run: BulkDownload, *, yes: bool, ui: Ui | None = None) -> bool:
    """True to go ahead. Without a terminal to ask on, only --yes goes ahead: a script must not
    spend money because nobody was there to say no. Nothing to ask when the journal says no
    month of the plan can be sent (a resumed run only polls and downloads)."""
    if yes:
        return True
    count = len(run.may_create())
    if count == 0:
        if ui is not None:
            ui.out("No new download request to submit: the journal has every month's request.")
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            f"sat download may submit {count} download request{'s' if count != 1 else ''} that "
            "may be billed; pass --yes to confirm when not running in a terminal"
        )
    resumed = len(run.plan) - count
    already = (
        f" ({resumed} month{'s' if resumed != 1 else ''} already in the journal: not sent again)"
        if resumed
        else ""
    )
    try:
        answer = input(
            f"Submit up to {count} download request{'s' if count != 1 else ''}{already}? Each "
            "new one may be billed. [y/N] "
        )
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
