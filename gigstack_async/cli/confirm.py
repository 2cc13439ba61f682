"""Ask before submitting requests that may be billed."""

from __future__ import annotations

import sys

from gigstack_async.bulk.run import BulkDownload
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.ui import Ui


def check_can_confirm(run: BulkDownload, *, yes: bool) -> None:
    """Raise `UsageError` when nobody can be asked (no terminal), --yes was not given and the
    journal says a month of the plan may be sent: a script must not spend money because nobody
    was there to say no; months the journal records held (`BulkDownload.journal_holds`) are
    not counted. Reads the journal only: checked before anything, even the free pre-flight
    read, is sent."""
    if yes or sys.stdin.isatty():
        return
    # Months the journal records held are never sent by this run (newcomer 9i F10: a cron
    # job's resumed run whose only unsent months were held was refused "may submit up to 3").
    held = set(run.journal_holds())
    count = sum(key not in held for key in run.may_create())
    if count:
        # Only the journal was read: the account's history (which holds months whose exact
        # request it already has) is not, so the count is an upper bound, said as one. A
        # month allowed again with `journal resend` is one (newcomer 10 F9: "the months this
        # journal has not sent" for a resend).
        raise UsageError(
            f"sat download may submit up to {count} download "
            f"request{'s' if count != 1 else ''} that may be billed (months not yet sent, "
            "refused before billing, or allowed again with `gigstack-async journal resend`; "
            "some may be held, not sent, once the account's history is read: run it in a "
            "terminal to see which before answering); pass --yes to confirm when not running "
            "in a terminal"
        )


def confirmed(
    run: BulkDownload, *, yes: bool, held: int = 0, unchecked: int = 0, ui: Ui | None = None
) -> bool:
    """True to go ahead. Without a terminal to ask on, only --yes goes ahead. Nothing to ask
    when the journal says no month of the plan can be sent (a resumed run only polls and
    downloads). `held`: months the plan showed as held (the account already has their exact
    request): not sent, so not counted. `unchecked`: months to send the plan showed the
    history could not be checked for (`HistoryReach.unchecked`): named in the question."""
    if yes:
        return True
    may = len(run.may_create())
    count = max(may - held, 0)
    resumed = len(run.plan) - may
    if count == 0:
        if ui is not None:
            ui.out(f"No new download request to submit: {_nothing_new(held, resumed)}.")
        return True
    check_can_confirm(run, yes=yes)
    already = (
        f" ({resumed} month{'s' if resumed != 1 else ''} already in the journal: not sent again)"
        if resumed
        else ""
    )
    also = (
        f" {held} month{'s are' if held != 1 else ' is'} held (not sent): the account already "
        "has identical requests, see above."
        if held
        else ""
    )
    if unchecked:
        also += (
            f" {unchecked} month{'s' if unchecked != 1 else ''} could not be checked for an "
            "earlier identical request (the history does not reach back to them, see above)."
        )
    try:
        answer = input(
            f"Submit up to {count} download request{'s' if count != 1 else ''}{already}? Each "
            f"new one may be billed.{also} [y/N] "
        )
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _nothing_new(held: int, resumed: int) -> str:
    """Why no month is sent, truthfully: held months are the account's, not the journal's
    (newcomer 9f #7a: a new folder whose months were all held was told "the journal has every
    month's request")."""
    reasons = []
    if held:
        reasons.append(
            f"{held} month{'s' if held != 1 else ''} held (the account already has "
            f"{'their' if held != 1 else 'its'} request, not sent from this folder; see above)"
        )
    if resumed:
        reasons.append(
            f"{resumed} month{'s' if resumed != 1 else ''} already requested from this "
            "folder's journal (not sent again)"
        )
    return ", ".join(reasons) or "every month of the plan is already requested"
