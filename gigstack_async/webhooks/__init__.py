"""Receive gigstack webhooks: verify, parse into typed events, process each event once.

UNCONFIRMED SIGNING SCHEME: gigstack does not document how it signs deliveries. The verifier
checks Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`),
which is what gigstack's CLI's "`Webhook-*` headers" suggests; the legacy `X-Gigstack-Signature`
is refused unless you opt in to a GUESSED variant. See docs/webhooks.md.

    from gigstack_async.webhooks import WebhookReceiver, WebhookASGIApp, aiohttp_handler

    async def on_event(event: Event) -> None: ...
    receiver = WebhookReceiver(on_event, secret="whsec_...")
    asgi_app = WebhookASGIApp(receiver)        # FastAPI/Starlette: app.mount("/hooks", asgi_app)
    handler = aiohttp_handler(receiver)        # aiohttp: app.router.add_post("/hooks", handler)

A handler that fails after the receiver answered 202 is not re-delivered by gigstack: it is kept
in `receiver.failed()` (re-run with `await receiver.retry_failed()`; `on_failure=` to persist).

Lower level: `WebhookVerifier(secret).verify(body, headers)`, `parse(body, headers)`,
`run_once(store, event.id, handler)`.
"""

from gigstack_async.webhooks._aiohttp import add_webhook_route, aiohttp_handler
from gigstack_async.webhooks._asgi import WebhookASGIApp
from gigstack_async.webhooks._errors import (
    InvalidSignatureError,
    MissingSignatureHeadersError,
    StaleTimestampError,
    UnsupportedSignatureSchemeError,
    WebhookError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from gigstack_async.webhooks._event import Event, loads, parse
from gigstack_async.webhooks._objects import (
    CustomerObject,
    EventObject,
    InvoiceBatchObject,
    InvoiceObject,
    PaymentObject,
    ReceiptObject,
    SatInvoiceSyncObject,
    ServiceObject,
    TeamObject,
)
from gigstack_async.webhooks._receiver import (
    DELIVERY_BUDGET,
    FailedEvent,
    ReceiverResponse,
    WebhookReceiver,
)
from gigstack_async.webhooks._seen import (
    InMemorySeenEventStore,
    Outcome,
    SeenEventStore,
    SqliteSeenEventStore,
    run_once,
)
from gigstack_async.webhooks._signing import (
    DEFAULT_TOLERANCE,
    LegacySignatureGuess,
    StandardWebhooksVerifier,
    VerifiedDelivery,
    WebhookVerifier,
    decode_secret,
    sign,
    signature_headers,
)
from gigstack_async.webhooks._types import EventType, decode_timestamp, is_known

__all__ = [
    "DEFAULT_TOLERANCE",
    "DELIVERY_BUDGET",
    "CustomerObject",
    "Event",
    "EventObject",
    "EventType",
    "FailedEvent",
    "InMemorySeenEventStore",
    "InvalidSignatureError",
    "InvoiceBatchObject",
    "InvoiceObject",
    "LegacySignatureGuess",
    "MissingSignatureHeadersError",
    "Outcome",
    "PaymentObject",
    "ReceiptObject",
    "ReceiverResponse",
    "SatInvoiceSyncObject",
    "SeenEventStore",
    "ServiceObject",
    "SqliteSeenEventStore",
    "StaleTimestampError",
    "StandardWebhooksVerifier",
    "TeamObject",
    "UnsupportedSignatureSchemeError",
    "VerifiedDelivery",
    "WebhookASGIApp",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookReceiver",
    "WebhookVerificationError",
    "WebhookVerifier",
    "add_webhook_route",
    "aiohttp_handler",
    "decode_secret",
    "decode_timestamp",
    "is_known",
    "loads",
    "parse",
    "run_once",
    "sign",
    "signature_headers",
]
