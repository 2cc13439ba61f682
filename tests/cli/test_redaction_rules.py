"""The CLI's `Redactor`, rule by rule (issue 13: mutation survivors of test_redaction.py)."""

from __future__ import annotations

import logging

import pytest

from gigstack_async.cli.redact import MASK, Redactor, enable_debug_logging


def test_six_characters_are_a_secret_and_five_are_not() -> None:
    redactor = Redactor(["abcdef", "vwxyz"])
    assert redactor.scrub("abcdef vwxyz") == "*** vwxyz"
    assert MASK == "***"


def test_blanks_around_a_secret_do_not_count_towards_its_length() -> None:
    redactor = Redactor(["  abcde  "])
    assert redactor.scrub("abcde") == "abcde"


def test_a_secret_inside_another_is_masked_whole() -> None:
    redactor = Redactor(["secret", "secret_longer_key"])
    assert redactor.scrub("x secret_longer_key y secret") == "x *** y ***"
    redactor = Redactor(["secret_longer_key", "secret"])
    assert redactor.scrub("x secret_longer_key y secret") == "x *** y ***"


def test_adding_the_same_secret_twice_keeps_one() -> None:
    redactor = Redactor()
    redactor.add("secret1")
    redactor.add("secret1")
    redactor.add(None)
    assert redactor._secrets == ["secret1"]


def test_from_invocation_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIGSTACK_API_KEY", raising=False)
    redactor = Redactor.from_invocation(["list", "--api-key"])
    assert redactor._secrets == []
    redactor = Redactor.from_invocation(["--api-key", "sk_only_123456"])
    assert redactor.scrub("sk_only_123456") == MASK
    redactor = Redactor.from_invocation(["--api-key=sk_a=b_123456"])
    assert redactor.scrub("sk_a=b_123456") == MASK  # only the first '=' splits
    redactor = Redactor.from_invocation(["--api-keys", "sk_not_a_key_1"])
    assert redactor.scrub("sk_not_a_key_1") == "sk_not_a_key_1"


def test_debug_logging_format_and_level(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("gigstack_async")
    before = list(logger.handlers), logger.level
    try:
        logger.setLevel(logging.WARNING)
        enable_debug_logging(Redactor(["sk_live_12345678"]))
        assert logger.level == logging.DEBUG
        logger.debug("GET /x -> 200 key=%s", "sk_live_12345678")
    finally:
        logger.handlers[:], _ = before
        logger.setLevel(before[1])
    line = capsys.readouterr().err.strip()
    assert line.endswith(" DEBUG gigstack_async: GET /x -> 200 key=***")
    assert line[:4].isdigit()  # the timestamp comes first


def test_the_longer_secret_wins_whatever_the_alphabet_says() -> None:
    # "secret" sorts after "key_secret_123"; masked first it would leave "key_***_123".
    redactor = Redactor(["secret", "key_secret_123"])
    assert redactor.scrub("x key_secret_123 y secret") == "x *** y ***"
