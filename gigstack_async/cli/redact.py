"""Keep the API key out of everything the CLI prints: errors, tracebacks and --debug logs.

The SDK never logs the key, but an error message or a traceback may quote user input, and a
mistyped command line may put the key where argparse echoes it back. Every line the CLI writes to
stderr goes through `Redactor.scrub`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from gigstack_async.client import API_KEY_ENV

MASK = "***"
# Shorter strings are not secrets worth masking, and masking them would garble ordinary text.
_MIN_SECRET = 6


class Redactor:
    """Replaces every known secret with `***`."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret is None:
            return
        secret = secret.strip()
        if len(secret) >= _MIN_SECRET and secret not in self._secrets:
            # Longest first, so a key that contains another is masked whole.
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    @classmethod
    def from_invocation(cls, argv: Sequence[str]) -> Redactor:
        """The key from the environment and from `--api-key` in argv, known before parsing, so
        that even argparse's own error messages are scrubbed."""
        redactor = cls()
        redactor.add(os.environ.get(API_KEY_ENV))
        for index, arg in enumerate(argv):
            if arg == "--api-key" and index + 1 < len(argv):
                redactor.add(argv[index + 1])
            elif arg.startswith("--api-key="):
                redactor.add(arg.partition("=")[2])
        return redactor


class _ScrubbingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor.scrub(super().format(record))


def enable_debug_logging(redactor: Redactor) -> None:
    """Send the SDK's DEBUG log (method, path, status, timing per attempt) to stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(_ScrubbingFormatter(redactor))
    logger = logging.getLogger("gigstack_async")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
