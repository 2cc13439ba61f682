"""The payment status machine: pure transitions, no I/O.

    requires_payment_method --paid--> succeeded --refund (partial)--> succeeded
            |                                   --refund (rest)-----> refunded
            +--cancel--> canceled

Status spellings: `requires_payment_method`, `succeeded` (FACT-docs), `canceled` (n8n and the
docs' `payment.canceled` event; the CLI writes `cancelled`), `refunded` (FACT-CLI context).
Which transitions the real API refuses is NOT FOUND; these are the ones a payment processor
allows (GUESS): no refund before the money arrived, no cancel after it did (refund instead),
nothing after `canceled` or a full refund.
"""

from __future__ import annotations

from decimal import Decimal

REQUIRES_PAYMENT_METHOD = "requires_payment_method"
SUCCEEDED = "succeeded"
CANCELED = "canceled"
REFUNDED = "refunded"
CANCELED_SPELLINGS = frozenset({CANCELED, "cancelled"})
"""A server may spell it either way (see `core.CoreVariants`); both mean canceled."""


class Refused(Exception):
    """A transition the current status does not allow; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def mark_paid(status: str) -> str:
    """A requested payment whose money arrived."""
    if status == SUCCEEDED:
        raise Refused("The payment is already paid (succeeded)", 409)
    if status != REQUIRES_PAYMENT_METHOD:
        raise Refused(f"A {status} payment cannot be marked as paid")
    return SUCCEEDED


def cancel(status: str) -> str:
    """Cancel a payment that has not been paid."""
    if status in CANCELED_SPELLINGS:
        raise Refused("The payment is already canceled", 409)
    if status != REQUIRES_PAYMENT_METHOD:
        raise Refused(f"A {status} payment cannot be canceled: refund it instead")
    return CANCELED


def refund(status: str, paid: Decimal, refunded: Decimal, amount: Decimal) -> str:
    """Refund `amount` of a succeeded payment; `paid − refunded` is what may still go back."""
    if status != SUCCEEDED:
        raise Refused(f"Only a succeeded payment can be refunded; this one is {status}")
    if amount <= 0:
        raise Refused("amount: must be > 0")
    if amount > paid - refunded:
        raise Refused(f"amount: {amount} exceeds the refundable {paid - refunded} of {paid}")
    return REFUNDED if refunded + amount == paid else SUCCEEDED
