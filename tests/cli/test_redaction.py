"""The CLI never prints the API key, even where argparse echoes user input back.

Each test puts the key where it WOULD appear without masking (a stray argument argparse quotes
in its error), so turning the masking off, or forgetting one way of passing the key, fails.
"""

from __future__ import annotations

import logging

import pytest

from gigstack_async.cli import main
from gigstack_async.cli.redact import MASK, Redactor

KEY = "sk_live_AbCdEf1234567890XyZ"


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse exits on a usage error
        code = exit_.code
    assert code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--api-key", KEY, KEY],  # the key again where a command is expected
        [f"--api-key={KEY}", KEY],
        ["downloads", "history", "--api-key", KEY, "--bogus", KEY],
    ],
    ids=["--api-key KEY", "--api-key=KEY", "after a command"],
)
def test_a_key_echoed_by_argparse_is_masked(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GIGSTACK_API_KEY", raising=False)
    err = _usage_error(argv, capsys)
    assert KEY not in err
    assert f"'{MASK}'" in err or MASK in err  # the echo is there, masked


def test_the_environment_key_is_masked_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIGSTACK_API_KEY", KEY)
    err = _usage_error([KEY], capsys)
    assert KEY not in err
    assert "invalid choice: '***'" in err


def test_without_a_known_key_the_echo_is_untouched(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control: the same mistake with a word that is not a key is shown as typed.
    monkeypatch.delenv("GIGSTACK_API_KEY", raising=False)
    err = _usage_error(["--api-key", KEY, "notacommand"], capsys)
    assert "invalid choice: 'notacommand'" in err


def test_redactor_masks_longest_first_and_ignores_short_strings() -> None:
    redactor = Redactor([KEY, KEY[:10], "abc"])
    assert redactor.scrub(f"a {KEY} b {KEY[:10]} c abc") == "a *** b *** c abc"
    redactor.add(None)
    redactor.add(f"  {KEY}  ")  # whitespace around a pasted key is not part of it
    assert redactor.scrub(KEY) == MASK


def test_redactor_from_invocation_reads_both_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIGSTACK_API_KEY", "sk_env_0123456789")
    redactor = Redactor.from_invocation(
        ["--api-key", "sk_arg_0123456789", "--api-key=sk_eq_0123456789", "--api-key"]
    )
    text = "sk_env_0123456789 sk_arg_0123456789 sk_eq_0123456789"
    assert redactor.scrub(text) == "*** *** ***"


def test_debug_log_lines_are_scrubbed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gigstack_async.cli.redact import enable_debug_logging

    logger = logging.getLogger("gigstack_async")
    before = list(logger.handlers), logger.level
    try:
        enable_debug_logging(Redactor([KEY]))
        logger.debug("sending with %s", KEY)
    finally:
        logger.handlers[:], _ = before
        logger.setLevel(before[1])
    err = capsys.readouterr().err
    assert "sending with ***" in err
    assert KEY not in err


def test_a_key_given_with_whitespace_around_it_is_masked_where_it_appears_bare(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The client strips a pasted key before using it, so the bare key is what may show up
    in output: the redactor must mask it too (a review of #13 deleted the strip with no test
    failing: `GIGSTACK_API_KEY="KEY "` then printed `invalid choice: 'KEY'`)."""
    assert Redactor([f"  {KEY}\n"]).scrub(f"a {KEY} b") == f"a {MASK} b"
    monkeypatch.setenv("GIGSTACK_API_KEY", f"{KEY} ")
    err = _usage_error([KEY], capsys)
    assert KEY not in err
    assert f"invalid choice: '{MASK}'" in err
