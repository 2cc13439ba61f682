"""`machine.sat_refuses`: the one rule that `journal resend` of a held month (`AllowResend`)
and `allow_duplicates` (`engine._duplicate_refused`) both read, so the two never disagree on
which held month SAT itself would refuse (review 9n #2: --allow-duplicates sent a third
identical request that `journal resend` refused)."""

from __future__ import annotations

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import _duplicate_refused
from tests.bulk._support import SAT_5003, received_month

MONTH = received_month("2024-08")

HELD = {
    "one identical request": (m.hold(MONTH, ["R"]), None),
    "SAT's 2 identical requests": (m.hold(MONTH, ["R", "S"]), (5002, ("R", "S"))),
    "a request SAT answered 5003": (
        m.hold(MONTH, ["R", "S"], {"S": ("failed", SAT_5003)}),
        (5003, ("S",)),
    ),
}


@pytest.mark.parametrize("name", HELD)
def test_resend_and_allow_duplicates_refuse_the_same_held_months(name: str) -> None:
    held, expected = HELD[name]
    refuses = m.sat_refuses(held)
    assert (None if refuses is None else (refuses.code, refuses.request_ids)) == expected
    engine_says = _duplicate_refused(held)
    if expected is None:
        assert engine_says is None
        allowed, _ = m.transition(held, m.AllowResend())
        assert allowed.identical_allowed
        return
    assert engine_says is not None
    assert str(expected[0]) in engine_says
    with pytest.raises(m.TransitionError, match=f"{expected[0]}.*{expected[1][-1]}"):
        m.transition(held, m.AllowResend())
    forced, _ = m.transition(held, m.AllowResend(force=True))  # the user's word lifts both
    assert forced.identical_allowed
