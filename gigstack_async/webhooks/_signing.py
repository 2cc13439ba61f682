"""Signature verification for webhook deliveries.

UNCONFIRMED SCHEME. gigstack does not document how it signs webhooks. Its official CLI says the
new signing uses `Webhook-*` headers, which matches the Standard Webhooks scheme
(https://www.standardwebhooks.com), so that is what `StandardWebhooksVerifier` checks:

- headers `webhook-id` (message id, stable across retries), `webhook-timestamp` (integer unix
  **seconds**), `webhook-signature` (space-separated `v1,<base64>` entries);
- `<base64>` = base64(HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.".encode() + body));
- the secret is `whsec_<base64 of the key>`.

The HMAC is computed here rather than with the `standardwebhooks` package: that package (1.1.0)
decodes the body as UTF-8 before signing, raises bare `ValueError`/`binascii.Error` on a
malformed header instead of its own error, has a fixed 5-minute tolerance read from the wall
clock, takes one secret at a time and has one error type for every failure. Receivers need typed,
fail-closed errors, several secrets during a rotation and a testable clock. The tests check the
two implementations against each other (tests/webhooks/test_signing.py).

Legacy endpoints send `X-Gigstack-Signature`, whose scheme is NOT FOUND. It is refused with
`UnsupportedSignatureSchemeError` unless you opt in to `LegacySignatureGuess` (a GUESS: hex
HMAC-SHA256 of the raw body, from a low-trust blog post; no timestamp, so no replay protection).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

import attrs

from gigstack_async.errors import InvalidParameterError
from gigstack_async.webhooks._errors import (
    InvalidSignatureError,
    MissingSignatureHeadersError,
    StaleTimestampError,
    UnsupportedSignatureSchemeError,
    WebhookVerificationError,
)

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300.0
"""Seconds a `webhook-timestamp` may be off, either way (Standard Webhooks' default, 5 min)."""

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
LEGACY_HEADER = "x-gigstack-signature"

_MAX_SIGNATURES = 32  # a header with more entries than this is refused, not looped over


def decode_secret(secret: str | bytes) -> bytes:
    """The HMAC key of `whsec_<base64>` (or of bare base64, or raw key bytes).

    Raises `InvalidParameterError` (a ValueError) for an empty or non-base64 secret; the message
    never repeats the secret.
    """
    if isinstance(secret, bytes):
        key = secret
    elif isinstance(secret, str):
        text = secret.strip()
        text = text.removeprefix(SECRET_PREFIX).rstrip("=")
        try:
            # Secrets are often stored without their base64 padding: restore it.
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterError(
                "secret", "must be 'whsec_' followed by base64 (as the dashboard shows it)"
            ) from None
    else:
        raise TypeError(f"a webhook secret is str or bytes, not {type(secret).__name__}")
    if not key:
        raise InvalidParameterError("secret", "must not be empty")
    return key


def sign(secret: str | bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one delivery (what a sender puts in webhook-signature)."""
    return (
        "v1," + base64.b64encode(_mac(decode_secret(secret), message_id, timestamp, body)).decode()
    )


def signature_headers(
    secrets: str | bytes | Sequence[str | bytes], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret (a rotation sends several)."""
    listed = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
    return {
        HEADER_ID: message_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: " ".join(sign(s, message_id, timestamp, body) for s in listed),
    }


def _mac(key: bytes, message_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of header `name`, matched case-insensitively, stripped, empty ones dropped.

    One lookup for verification and dedupe alike: a plain dict with both `webhook-id` and
    `Webhook-Id`, or a multidict with the header twice, yields two values (the callers refuse
    that as ambiguous rather than pick one).
    """
    lowered = name.lower()
    found: list[str] = []
    for key, value in headers.items():
        if key.lower() == lowered and value.strip():
            found.append(value.strip())
    return found


def _header(headers: Mapping[str, str], name: str) -> str | None:
    values = header_values(headers, name)
    if len(values) > 1:
        raise InvalidSignatureError(f"the {name} header is sent more than once (ambiguous)")
    return values[0] if values else None


@attrs.frozen
class VerifiedDelivery:
    """What a successful verification vouches for.

    `message_id` is the `webhook-id` header (stable across retries of one message, so it also
    serves to deduplicate); `timestamp` is `webhook-timestamp` decoded from unix **seconds**
    (UTC). Both are None for a legacy-guess or unverified delivery.
    """

    scheme: str
    message_id: str | None = None
    timestamp: datetime | None = None


class StandardWebhooksVerifier:
    """Verify Standard Webhooks signatures (UNCONFIRMED as gigstack's scheme; see the module).

    `secrets`: one `whsec_…` secret, or several while a secret is being rotated (any one
    matching is enough). `tolerance`: seconds the timestamp may be off either way (default 300).
    `clock`: returns unix seconds (for tests).

    `verify()` checks the signature first, then the timestamp, so `StaleTimestampError` always
    means a genuine but old (or future) delivery, and a forged one is `InvalidSignatureError`.
    Signatures are compared in constant time (`hmac.compare_digest`).
    """

    def __init__(
        self,
        secrets: str | bytes | Iterable[str | bytes],
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        listed = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
        if not listed:
            raise InvalidParameterError("secrets", "needs at least one secret")
        if not tolerance > 0:
            raise InvalidParameterError("tolerance", "must be a positive number of seconds")
        self._keys = tuple(decode_secret(secret) for secret in listed)
        self.tolerance = float(tolerance)
        self._clock = clock

    def __repr__(self) -> str:
        hidden = f"<{len(self._keys)} hidden>"
        return f"StandardWebhooksVerifier(secrets={hidden}, tolerance={self.tolerance})"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedDelivery:
        """Check one delivery; raises a `WebhookVerificationError` subclass, else returns."""
        message_id = _header(headers, HEADER_ID)
        raw_timestamp = _header(headers, HEADER_TIMESTAMP)
        raw_signature = _header(headers, HEADER_SIGNATURE)
        missing = tuple(
            name
            for name, value in (
                (HEADER_ID, message_id),
                (HEADER_TIMESTAMP, raw_timestamp),
                (HEADER_SIGNATURE, raw_signature),
            )
            if value is None
        )
        if missing:
            raise MissingSignatureHeadersError(missing)
        if message_id is None or raw_timestamp is None or raw_signature is None:  # for mypy
            raise MissingSignatureHeadersError((HEADER_ID,))
        if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
            raise InvalidSignatureError("webhook-timestamp is not an integer number of seconds")
        timestamp = int(raw_timestamp)
        try:
            message_id.encode()
        except UnicodeEncodeError:  # aiohttp keeps undecodable header bytes as surrogates
            raise InvalidSignatureError("webhook-id is not valid UTF-8") from None
        candidates = _v1_signatures(raw_signature)
        expected = [_mac(key, message_id, timestamp, body) for key in self._keys]
        matched = False
        for candidate in candidates:
            for digest in expected:
                # Every pair is compared: how long this takes does not depend on which matched.
                matched |= hmac.compare_digest(candidate, digest)
        if not matched:
            raise InvalidSignatureError(
                "no webhook signature matches the body under the configured secret(s): "
                "a tampered body, a wrong or rotated secret, or not signed by gigstack"
            )
        skew = timestamp - self._clock()
        if abs(skew) > self.tolerance:
            raise StaleTimestampError(skew, self.tolerance)
        return VerifiedDelivery(
            "standard-webhooks", message_id, datetime.fromtimestamp(timestamp, UTC)
        )


def _v1_signatures(header: str) -> list[bytes]:
    entries = header.split()
    if len(entries) > _MAX_SIGNATURES:
        raise InvalidSignatureError("webhook-signature has too many entries")
    found: list[bytes] = []
    for entry in entries:
        version, comma, encoded = entry.partition(",")
        if version != "v1" or not comma:
            continue  # other versions (v1a: asymmetric) and junk are not ours to check
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


class LegacySignatureGuess:
    """OPT-IN, a GUESS: `X-Gigstack-Signature` = hex HMAC-SHA256(secret, raw body).

    gigstack's legacy signature scheme is NOT FOUND in its docs or clients; this variant comes
    from a low-trust blog post. It has no timestamp, so it gives no replay protection (dedupe by
    event id). `secret` is used as UTF-8 bytes as given (no base64 decoding: also a guess). If
    real deliveries fail with `InvalidSignatureError` under it, the guess is wrong: switch the
    endpoint to the `Webhook-*` signing instead.
    """

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if not key:
            raise InvalidParameterError("secret", "must not be empty")
        self._key = key

    def __repr__(self) -> str:
        return "LegacySignatureGuess(secret=<hidden>)"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedDelivery:
        """Check `X-Gigstack-Signature` under the guessed scheme."""
        given = _header(headers, LEGACY_HEADER)
        if given is None:
            raise MissingSignatureHeadersError((LEGACY_HEADER,))
        expected = hmac.new(self._key, body, hashlib.sha256).hexdigest()
        candidate = given.removeprefix("sha256=").lower()
        if not hmac.compare_digest(candidate.encode(), expected.encode()):
            raise InvalidSignatureError(
                "X-Gigstack-Signature does not match under the GUESSED legacy scheme"
            )
        return VerifiedDelivery("legacy-guess")


class WebhookVerifier:
    """Verify a delivery under whichever scheme it carries. Fails closed.

    - `webhook-*` headers present → `StandardWebhooksVerifier(secrets, tolerance=…)`.
    - only `X-Gigstack-Signature` → `UnsupportedSignatureSchemeError`, unless `legacy` is a
      `LegacySignatureGuess` you opted into.
    - neither → `MissingSignatureHeadersError`.
    """

    def __init__(
        self,
        secrets: str | bytes | Iterable[str | bytes],
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        legacy: LegacySignatureGuess | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.standard = StandardWebhooksVerifier(secrets, tolerance=tolerance, clock=clock)
        self.legacy = legacy

    def __repr__(self) -> str:
        return f"WebhookVerifier({self.standard!r}, legacy={self.legacy!r})"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedDelivery:
        """Raise a `WebhookVerificationError` subclass, or return what was verified."""
        standard = any(
            _header(headers, name) for name in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
        )
        if not standard and _header(headers, LEGACY_HEADER) is not None:
            if self.legacy is None:
                raise UnsupportedSignatureSchemeError(
                    "only X-Gigstack-Signature was sent: its scheme is undocumented, so it is "
                    "refused; enable Webhook-* signing on the endpoint, or opt in to "
                    "LegacySignatureGuess (a GUESS)"
                )
            return self.legacy.verify(body, headers)
        return self.standard.verify(body, headers)


__all__ = [
    "DEFAULT_TOLERANCE",
    "LegacySignatureGuess",
    "StandardWebhooksVerifier",
    "VerifiedDelivery",
    "WebhookVerificationError",
    "WebhookVerifier",
    "decode_secret",
    "header_values",
    "sign",
    "signature_headers",
]
