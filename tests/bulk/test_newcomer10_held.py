"""Newcomer 10 F4: a held month's texts, as `bulk()` and the CLI show them.

From Python, with two identical requests in the account, the texts read "...identical criteria,
ever if that request is the one you want here" and "...already has 2: a third is refused with
SAT 5002 if that request..." (error and hint printed side by side: no sentence break), "that
request" with two named, and "Run `sat download` for this month with other dates instead, each
range into another --out folder (e.g. `client.downloads.bulk(...)`": CLI words in a `bulk()`
text. The free way (adopt) came buried in a 1,300-character hint. Rendered here exactly as
each surface renders them (`hints.with_journal`, then `run._for_python` for `bulk()`)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.duplicates import PriorRequest, held_hint, held_reason
from gigstack_async.bulk.hints import with_journal
from gigstack_async.bulk.run import _for_python

JUNE = m.MonthState("2025-06", date(2025, 6, 1), date(2025, 6, 30), "received", "cfdi")
ONE = (PriorRequest("2025-06", "BF842163", "completed", "2026-12-01T03:15:41Z"),)
TWO = (*ONE, PriorRequest("2025-06", "867F3BDC", "completed", "2026-12-01T03:16:41Z"))


def shown(priors: tuple[PriorRequest, ...], surface: str) -> tuple[str, str]:
    """(error, hint) of June held for `priors`, as `surface` ("cli" or "python") shows them."""
    held = m.hold(JUNE, [p.request_id for p in priors])
    texts = (held_reason(held, priors, Path("/abs/cfdi-py")), held_hint(held, priors))
    rendered = [with_journal(t, "2025-06", "cfdi-py", out="cfdi-py") or "" for t in texts]
    if surface == "python":
        rendered = [_for_python(t) or "" for t in rendered]
    return rendered[0], rendered[1]


@pytest.mark.parametrize("surface", ["cli", "python"])
@pytest.mark.parametrize("priors", [ONE, TWO], ids=["one", "two"])
def test_error_then_hint_read_as_sentences(priors: tuple[PriorRequest, ...], surface: str) -> None:
    error, hint = shown(priors, surface)
    assert error.endswith("."), error  # `print(result.error, result.hint)` reads right
    assert hint[:1].isupper(), hint
    assert not re.search(r"\b(ever|5002) if\b", f"{error} {hint}")


@pytest.mark.parametrize("surface", ["cli", "python"])
@pytest.mark.parametrize("priors", [ONE, TWO], ids=["one", "two"])
def test_adopt_leads_and_each_request_is_named_once(
    priors: tuple[PriorRequest, ...], surface: str
) -> None:
    error, hint = shown(priors, surface)
    assert hint.startswith("Free first: "), hint
    first_paid = min(i for i in (hint.find("journal resend"), hint.find("other dates")) if i >= 0)
    for prior in priors:
        assert error.count(prior.request_id) == 1, error
        assert hint.count(prior.request_id) == 1, hint  # in its adopt command only
        assert hint.index(f"journal adopt cfdi-py 2025-06 {prior.request_id}") < first_paid
    if len(priors) > 1:
        assert "that request" not in hint  # which one?


def test_bulk_texts_say_bulk_and_download_to() -> None:
    error, hint = shown(TWO, "python")
    text = f"{error} {hint}"
    assert "--out" not in text, text
    assert "`sat download`" not in text
    assert "sat download" not in text
    assert "client.downloads.bulk(" in hint
    assert "download_to=" in hint
    cli_error, cli_hint = shown(TWO, "cli")
    assert "--out cfdi-py-2025-06a" in cli_hint
    assert "`gigstack-async sat download --from 2025-06-01" in cli_hint
    assert "bulk(" not in cli_error + cli_hint


def test_a_single_request_offers_the_same_call_again_with_allow_duplicates() -> None:
    _, python = shown(ONE, "python")
    assert "run the same bulk() call again with allow_duplicates=True" in python
    assert "--allow-duplicates" not in python
    _, cli = shown(ONE, "cli")
    assert "run the same command again with --allow-duplicates" in cli
