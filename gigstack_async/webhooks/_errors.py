"""The webhook errors: every refusal is typed, and none of them carries a secret or the body.

```
GigstackError
└── WebhookError
    ├── WebhookVerificationError          the delivery cannot be trusted: answer 401
    │   ├── MissingSignatureHeadersError  no webhook-id / webhook-timestamp / webhook-signature
    │   ├── StaleTimestampError           genuine signature, timestamp outside the tolerance
    │   ├── InvalidSignatureError         no signature matches any secret (tampered, wrong
    │   │                                 secret, malformed header)
    │   └── UnsupportedSignatureSchemeError  only the legacy X-Gigstack-Signature was sent and
    │                                     its (undocumented) scheme was not opted into
    └── WebhookPayloadError (ValueError)  the body is not a JSON event envelope: answer 400
```
"""

from __future__ import annotations

from gigstack_async.errors import GigstackError


class WebhookError(GigstackError):
    """Base class of the webhook receiving errors."""


class WebhookVerificationError(WebhookError):
    """The delivery failed signature verification; do not act on it.

    The message says why in general terms; it never contains a secret, a signature or the body.
    """


class MissingSignatureHeadersError(WebhookVerificationError):
    """A required signature header is absent or empty (`missing` names them)."""

    def __init__(self, missing: tuple[str, ...]) -> None:
        self.missing = missing
        super().__init__(f"missing webhook signature header(s): {', '.join(missing)}")


class StaleTimestampError(WebhookVerificationError):
    """The signature is genuine but `webhook-timestamp` is outside the tolerance.

    A replay of an old delivery, or a clock skew between gigstack and this host. `skew` is
    `timestamp - now` in seconds (negative: too old), `tolerance` the allowed seconds either way.
    """

    def __init__(self, skew: float, tolerance: float) -> None:
        self.skew = skew
        self.tolerance = tolerance
        direction = "old" if skew < 0 else "far in the future"
        super().__init__(
            f"webhook timestamp is too {direction}: {abs(skew):.0f} s off, tolerance "
            f"{tolerance:.0f} s (a replayed delivery or a clock skew)"
        )


class InvalidSignatureError(WebhookVerificationError):
    """No signature in the header matches the body under any configured secret."""


class UnsupportedSignatureSchemeError(WebhookVerificationError):
    """Only `X-Gigstack-Signature` (gigstack's legacy signature) was sent.

    Its scheme is not documented anywhere public, so it is refused unless you opt in to the
    GUESSED variant (`LegacySignatureGuess`); better, enable the `Webhook-*` signing on the
    endpoint in gigstack's dashboard.
    """


class WebhookPayloadError(WebhookError, ValueError):
    """The body is not a gigstack event: not JSON, not an object, or without an event type."""
