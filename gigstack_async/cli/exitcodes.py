"""The CLI's exit codes, and the one-line message and code for each kind of failure."""

from __future__ import annotations

import re

from gigstack_async._config import missing_version
from gigstack_async.bulk.store import JournalError
from gigstack_async.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    GigstackError,
    IncompleteResponseError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    value_repr,
)

OK = 0
MONTHS_FAILED = 1
USAGE = 2
AUTH = 3
API_ERROR = 4
CONNECTION = 5
INTERRUPTED = 130

EPILOG = f"""\
exit codes:
  {OK:<4} success
  {MONTHS_FAILED:<4} sat download / demo: at least one month did not finish (failed, expired,
       timed out or unknown); re-run the same command to resume
  {USAGE:<4} usage error or invalid input (nothing was sent), a --journal that belongs to
       another run or is in use, or a billed run started without a terminal and without --yes
  {AUTH:<4} authentication or permission refused (HTTP 401/403): check --api-key and --team
  {API_ERROR:<4} any other API error (HTTP 4xx/5xx, unreadable or truncated response) or a
       local error
  {CONNECTION:<4} cannot reach the API: connection error or timeout (check --base-url)
  {INTERRUPTED:<4} interrupted (Ctrl-C)"""


class UsageError(Exception):
    """Bad command-line input, detected by the CLI itself (argparse or a cross-option rule)."""


# The SDK names its parameters; the user typed options. Only the CLI's own options appear here.
_FLAGS = {
    "start": "--from",
    "end": "--to",
    "from_": "--from",
    "to": "--to",
    "rfc_type": "--rfc-type",
    "request_type": "--type",
    "concurrency": "--concurrency",
    "timeout": "--timeout",
    "direction": "--direction",
    "status": "--status",
    "invoice_type": "--invoice-type",
    "issuer_rfc": "--issuer-rfc",
    "receiver_rfc": "--receiver-rfc",
    "limit": "--limit",
    "max_items": "--max-items",
    "request_id": "REQUEST_ID",
    "api_key": "--api-key (or GIGSTACK_API_KEY)",
    "base_url": "--base-url (or GIGSTACK_BASE_URL)",
    "team": "--team",
}


_OTHER_PARAMETER = re.compile(r"(on or after |on or before |not be after |not be before )(\w+)")


def _invalid_parameter(error: InvalidParameterError) -> str:
    if error.field == "api_key" and error.rule.startswith("missing"):
        return "no API key: pass --api-key or set GIGSTACK_API_KEY"
    flag = _FLAGS.get(error.field, error.field)
    # A rule that names another parameter ("must be on or after start") names its option.
    rule = _OTHER_PARAMETER.sub(lambda m: m[1] + _FLAGS.get(m[2], m[2]), error.rule)
    shown = ""
    # Never echo the key, not even a wrong one.
    if error.value is not None and error.field != "api_key":
        shown = f" (got {value_repr(error.value)})"
    return f"{flag}: {rule}{shown}"


def classify(error: BaseException, base_url: str | None = None) -> tuple[int, str]:
    """(exit code, message without the `error: ` prefix) for an error that ends a command."""
    if isinstance(error, UsageError):
        return USAGE, str(error)
    if isinstance(error, InvalidParameterError):
        return USAGE, _invalid_parameter(error)
    if isinstance(error, JournalError):
        return USAGE, str(error)
    if isinstance(error, AuthenticationError | PermissionDeniedError):
        return AUTH, f"{error} (check --api-key / GIGSTACK_API_KEY and --team)"
    if isinstance(error, IncompleteResponseError):
        # It answered: the base URL and network are fine; the reply was cut short.
        where = f" at {base_url}" if base_url else ""
        return API_ERROR, (
            f"the API{where} answered, but its reply broke off before the end (a truncated "
            f"response): {error}. Nothing is wrong with --base-url; run the command again"
        )
    if isinstance(error, APIConnectionError):
        where = f" at {base_url}" if base_url else ""
        if isinstance(error, APITimeoutError):
            return CONNECTION, (
                f"timed out talking to the API{where}: {error} "
                "(--request-timeout SECONDS sets how long to wait)"
            )
        return CONNECTION, f"cannot reach the API{where}: {error}"
    if (
        isinstance(error, NotFoundError)
        and base_url
        and (hint := missing_version(base_url))
        and hint not in str(error)  # the SDK already adds it to a 404 it answered itself
    ):
        return API_ERROR, f"{error} ({hint})"
    if isinstance(error, GigstackError):
        return API_ERROR, str(error)
    if isinstance(error, OSError):
        return API_ERROR, f"{error.strerror or error}" + (
            f": {error.filename}" if error.filename else ""
        )
    return API_ERROR, f"unexpected {type(error).__name__}: {error} (run with --debug for details)"
