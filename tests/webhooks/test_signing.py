"""Standard Webhooks verification (the UNCONFIRMED scheme) and the legacy-header refusal."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
import standardwebhooks

from gigstack_async.errors import GigstackError, InvalidParameterError
from gigstack_async.webhooks import (
    InvalidSignatureError,
    LegacySignatureGuess,
    MissingSignatureHeadersError,
    StaleTimestampError,
    StandardWebhooksVerifier,
    UnsupportedSignatureSchemeError,
    WebhookVerificationError,
    WebhookVerifier,
    sign,
    signature_headers,
)

SECRET = "whsec_" + base64.b64encode(b"gigstack-test-secret-key-32bytes").decode()
OTHER = "whsec_" + base64.b64encode(b"another-secret-key-also-32-bytes").decode()
NOW = 1_764_460_800  # 2025-11-30T00:00:00Z
BODY = b'{"id":"evt_1","type":"payment.succeeded","data":{"object":{"total":1160.10}}}'


@pytest.fixture(autouse=True)
def _secrets_never_leak(register_secret: Callable[[str], None]) -> None:
    register_secret(SECRET)
    register_secret(OTHER)


def verifier(*secrets: str, tolerance: float = 300) -> StandardWebhooksVerifier:
    return StandardWebhooksVerifier(
        list(secrets) or [SECRET], tolerance=tolerance, clock=lambda: NOW
    )


def test_the_reference_test_vector() -> None:
    # The Standard Webhooks / Svix published example: same secret, id, timestamp and payload.
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_interoperates_with_the_standardwebhooks_package_both_ways() -> None:
    from datetime import UTC, datetime

    reference = standardwebhooks.Webhook(SECRET)
    moment = datetime.now(UTC)
    theirs = reference.sign("msg_1", moment, BODY.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": theirs,
    }
    ours = StandardWebhooksVerifier(SECRET).verify(BODY, headers)
    assert ours.message_id == "msg_1"
    assert (
        reference.verify(
            BODY,
            signature_headers(SECRET, "msg_2", int(moment.timestamp()), BODY),
            json_parse=False,
        )
        is None
    )


def test_a_genuine_delivery_verifies_and_says_what_it_vouches_for() -> None:
    verified = verifier().verify(BODY, signature_headers(SECRET, "msg_1", NOW - 10, BODY))
    assert verified.message_id == "msg_1"
    assert int(verified.timestamp.timestamp()) == NOW - 10  # type: ignore[union-attr]
    assert verified.scheme == "standard-webhooks"


def test_header_names_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in signature_headers(SECRET, "m", NOW, BODY).items()}
    verifier().verify(BODY, headers)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body: body.replace(b"1160.10", b"9160.10"),
        lambda body: body + b" ",
        lambda body: body[:-1],
    ],
)
def test_a_tampered_body_is_refused(tamper: Callable[[bytes], bytes]) -> None:
    headers = signature_headers(SECRET, "msg_1", NOW, BODY)
    with pytest.raises(InvalidSignatureError):
        verifier().verify(tamper(BODY), headers)


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(InvalidSignatureError):
        verifier(OTHER).verify(BODY, signature_headers(SECRET, "msg_1", NOW, BODY))


def test_a_signature_for_another_message_id_or_timestamp_is_refused() -> None:
    headers = signature_headers(SECRET, "msg_1", NOW, BODY)
    with pytest.raises(InvalidSignatureError):
        verifier().verify(BODY, {**headers, "webhook-id": "msg_2"})
    with pytest.raises(InvalidSignatureError):
        verifier().verify(BODY, {**headers, "webhook-timestamp": str(NOW - 1)})


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_stale_or_future_timestamp_is_refused(offset: int) -> None:
    headers = signature_headers(SECRET, "msg_1", NOW + offset, BODY)
    with pytest.raises(StaleTimestampError) as caught:
        verifier().verify(BODY, headers)
    assert caught.value.skew == offset
    assert caught.value.tolerance == 300


def test_the_tolerance_is_configurable_and_inclusive() -> None:
    verifier().verify(BODY, signature_headers(SECRET, "m", NOW - 300, BODY))
    with pytest.raises(StaleTimestampError):
        verifier(tolerance=30).verify(BODY, signature_headers(SECRET, "m", NOW - 31, BODY))


@pytest.mark.parametrize(
    "drop",
    [
        ("webhook-id",),
        ("webhook-timestamp",),
        ("webhook-signature",),
        ("webhook-id", "webhook-signature"),
    ],
)
def test_missing_headers_are_named(drop: tuple[str, ...]) -> None:
    headers = {k: v for k, v in signature_headers(SECRET, "m", NOW, BODY).items() if k not in drop}
    with pytest.raises(MissingSignatureHeadersError) as caught:
        verifier().verify(BODY, headers)
    assert caught.value.missing == drop


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "garbage",
        "v1,",
        "v1,!!!notbase64",
        "v2,abc",
        "v1a,abc",
        "v1 ,x",
        ",,,",
        "v1," + "A" * 10_000,
    ],
)
def test_malformed_signature_headers_fail_closed_with_a_typed_error(signature: str) -> None:
    headers = {**signature_headers(SECRET, "m", NOW, BODY), "webhook-signature": signature}
    with pytest.raises(WebhookVerificationError):
        verifier().verify(BODY, headers)


@pytest.mark.parametrize("timestamp", ["abc", "1.5", "-5", "1e9", "99999999999999999999", " "])
def test_malformed_timestamps_fail_closed(timestamp: str) -> None:
    headers = {**signature_headers(SECRET, "m", NOW, BODY), "webhook-timestamp": timestamp}
    with pytest.raises(WebhookVerificationError):
        verifier().verify(BODY, headers)


def test_several_signatures_in_the_header_any_one_matching_is_enough() -> None:
    good = sign(SECRET, "m", NOW, BODY)
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": str(NOW),
        "webhook-signature": f"v1,{base64.b64encode(b'x' * 32).decode()} v1a,ignored {good}",
    }
    verifier().verify(BODY, headers)


def test_secret_rotation_old_and_new_secrets_both_verify() -> None:
    rotating = verifier(OTHER, SECRET)
    rotating.verify(BODY, signature_headers(SECRET, "m", NOW, BODY))
    rotating.verify(BODY, signature_headers(OTHER, "m", NOW, BODY))
    # A sender that signs with both (during its rotation) passes a verifier that knows only one.
    both = signature_headers([OTHER, SECRET], "m", NOW, BODY)
    verifier(SECRET).verify(BODY, both)


def test_a_non_utf8_body_is_verified_byte_for_byte() -> None:
    body = b"\xff\xfe" + BODY
    verifier().verify(body, signature_headers(SECRET, "m", NOW, body))


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_***", "not base64 at all"])
def test_bad_secrets_are_refused_at_construction(secret: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        StandardWebhooksVerifier(secret)
    assert secret not in str(caught.value) or not secret


def test_secrets_never_appear_in_reprs_or_errors() -> None:
    v = WebhookVerifier([SECRET, OTHER], legacy=LegacySignatureGuess(SECRET))
    assert SECRET not in repr(v)
    assert OTHER not in repr(v)
    assert SECRET.removeprefix("whsec_") not in repr(v)
    with pytest.raises(InvalidSignatureError) as caught:
        v.verify(BODY, signature_headers(OTHER, "m", NOW, BODY[:-1]))
    assert "whsec" not in str(caught.value)


def test_errors_are_gigstack_errors() -> None:
    assert issubclass(WebhookVerificationError, GigstackError)


# -- the legacy header --------------------------------------------------------------------


def legacy_headers(secret: str, body: bytes) -> dict[str, str]:
    import hashlib
    import hmac

    return {"X-Gigstack-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def test_the_legacy_header_alone_is_refused_unless_opted_in() -> None:
    with pytest.raises(UnsupportedSignatureSchemeError) as caught:
        WebhookVerifier(SECRET).verify(BODY, legacy_headers(SECRET, BODY))
    assert "GUESS" in str(caught.value)


def test_the_opted_in_legacy_guess_checks_the_hex_hmac() -> None:
    opted = WebhookVerifier(SECRET, legacy=LegacySignatureGuess(SECRET))
    assert opted.verify(BODY, legacy_headers(SECRET, BODY)).scheme == "legacy-guess"
    with pytest.raises(InvalidSignatureError):
        opted.verify(BODY + b"x", legacy_headers(SECRET, BODY))
    with pytest.raises(InvalidSignatureError):
        opted.verify(BODY, legacy_headers(OTHER, BODY))


def test_standard_headers_win_over_the_legacy_one() -> None:
    opted = WebhookVerifier(SECRET, legacy=LegacySignatureGuess(SECRET))
    headers = {**legacy_headers(SECRET, BODY), **signature_headers(OTHER, "m", NOW, BODY)}
    with pytest.raises(InvalidSignatureError):
        # A forged standard signature is not rescued by a matching legacy one.
        opted.verify(BODY, headers)


def test_no_signature_at_all_is_missing_headers() -> None:
    with pytest.raises(MissingSignatureHeadersError):
        WebhookVerifier(SECRET).verify(BODY, {})
