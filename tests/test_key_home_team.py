"""A key's home team, read from the key itself (FACT-CLI: gigstack keys are JWTs whose `team`
claim names their home team). The bulk journal uses it to accept `team=` equal to the key's
own team; any other key's home team is unknown (None), never guessed."""

from __future__ import annotations

import base64
import json

import pytest

from gigstack_async._pipeline import home_team_of


def part(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def jwt(claims: object) -> str:
    return f"{part({'alg': 'HS256'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "team", ["t", "te", "tea", "team_abc", "equipo-ñ", "team_9", "team_abcd", "team_abcde"]
)
def test_the_team_claim_of_a_jwt_key_is_its_home_team(team: str) -> None:
    # Payload lengths that need 0, 1 and 2 '=' of padding once the JSON is base64url'd, among
    # them 50, 54 and 55 characters ("team_9", "team_abcd", "team_abcde"): padded to a multiple
    # of 5 instead of 4 they get too few '=' and would not decode at all.
    assert home_team_of(jwt({"team": team, "livemode": False})) == team


def test_blanks_around_the_key_are_ignored() -> None:
    assert home_team_of(f"  {jwt({'team': 'team_abc'})}\n") == "team_abc"


@pytest.mark.parametrize(
    "key",
    [
        "sk_test_NotAJwtAtAll",
        "a.b",
        "a.b.c.d",
        ".payload.signature",
        "header..signature",
        "header.payload.",
        "header.!!!not-base64!!!.signature",
        f"h.{base64.urlsafe_b64encode(b'not json').decode()}.s",
        jwt(["team", "team_abc"]),
        jwt({"team": 42}),
        jwt({"team": "   "}),
        jwt({"team": None}),
        jwt({"owner": "team_abc"}),
    ],
)
def test_any_other_key_has_no_known_home_team(key: str) -> None:
    assert home_team_of(key) is None


def test_the_pipeline_answers_for_its_own_key_without_showing_it() -> None:
    from gigstack_async import GigstackClient

    client = GigstackClient(jwt({"team": "team_home"}), base_url="http://127.0.0.1:9/v2")
    assert client._pipeline.key_home_team() == "team_home"
    other = GigstackClient("sk_test_plainkey0000", base_url="http://127.0.0.1:9/v2")
    assert other._pipeline.key_home_team() is None


def test_a_key_with_a_character_outside_base64url_has_no_known_home_team() -> None:
    # The decoder drops the '!' but the padding is counted on the 19 characters as given: the
    # payload does not decode, so the key's team is unknown, never read from the rest of it.
    payload = base64.urlsafe_b64encode(b'{"team":"xy"}').decode().rstrip("=")
    assert home_team_of(f"h.{payload}.s") == "xy"
    assert home_team_of(f"h.{payload}!.s") is None
