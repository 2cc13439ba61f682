"""Which failed call ends a whole bulk run instead of one month's try: the rule `bulk()` and the
CLI's pre-flight share (newcomer 9h #2: a wrong key polled forever, "still trying").

- A 401 (`AuthenticationError`) on any call, or a 403 (`PermissionDeniedError`) on a call about
  the account (the history, a create): the key or the team is refused for every call, so no
  retry can succeed; the run stops and raises it. A 403 on a call about ONE request (its status,
  a package) may concern only that request (another team's id after the server's ids
  restarted, an expired signed package link: a GUESS either way), so it fails only that month
  (review 9n #1); the others go on.
- No usable answer at all (`APIConnectionError`: refused, DNS, TLS, a timeout; the client's
  retry policy already spent its budget) before the server has answered any call of the run:
  most often a wrong base URL. The run stops and raises it; nothing was created (no create is
  sent before the history has been read).
- Anything else, and a connection failure once the server has answered: transient. The month
  keeps its journaled state, the run keeps polling and says so (warnings), and a re-run resumes.
"""

from __future__ import annotations

from gigstack_async.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    DownloadInterruptedError,
    IncompleteResponseError,
    OutcomeUnknownError,
    PermissionDeniedError,
)


def server_answered(error: BaseException) -> bool:
    """Whether a failed call still proves the server answered (an HTTP status came back)."""
    if isinstance(error, APIStatusError | APIResponseValidationError | IncompleteResponseError):
        return True
    if isinstance(error, OutcomeUnknownError):
        return error.status is not None
    if isinstance(error, DownloadInterruptedError):
        return error.served
    return False


def ends_run(error: BaseException, *, answered: bool, one_request: bool = False) -> bool:
    """Whether `error` stops the whole run (module docstring); `answered`: the server has
    answered at least one call of this run (or `error` itself is an answer); `one_request`:
    the call was about one request (its status or a package), not the account."""
    if isinstance(error, AuthenticationError):
        return True
    if isinstance(error, PermissionDeniedError):
        return not one_request
    if answered or server_answered(error):
        return False
    # A package GET or create that may have reached the server (no answer seen) proves
    # nothing about the base URL: only a call that surely never got an answer does.
    if isinstance(error, DownloadInterruptedError | OutcomeUnknownError):
        return False
    return isinstance(error, APIConnectionError)
