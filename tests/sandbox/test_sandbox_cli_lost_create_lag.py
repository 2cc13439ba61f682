"""`gigstack-async sandbox --lost-create-lag S`: the profile knob `ServerProfile.lost_create_lag`
on the command line (it existed only in Python, so a CLI user could not play review 9l #1: a
lost create listed late in the history)."""

from __future__ import annotations

import pytest

from gigstack_async.cli.commands.sandbox import _profile_label
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.sandbox.__main__ import _parser, config_from_args


def test_the_option_sets_the_lag_and_combines_with_profiles() -> None:
    args = _parser().parse_args(
        ["--profile", "documented-fields", "--lost-create-lag", "120", "--clock-offset", "1"]
    )
    config = config_from_args(args)
    assert config.profile.lost_create_lag == 120.0
    assert config.profile.clock_offset_seconds == 1.0
    assert "history.requestType" in config.profile.omit_fields
    assert "a lost create listed 120 s late" in config.profile.describe()
    # The banner names it: a run meeting late records must be told why.
    assert "a lost create listed 120 s late" in _profile_label(args)


def test_without_it_the_lag_is_zero() -> None:
    args = _parser().parse_args([])
    assert config_from_args(args).profile.lost_create_lag == 0.0
    assert "lost create" not in _profile_label(args)


@pytest.mark.parametrize("bad", ["-1", "nan", "soon"])
def test_a_bad_lag_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="--lost-create-lag"):
        _parser().parse_args(["--lost-create-lag", bad])


def test_the_help_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--lost-create-lag SECONDS" in text
    assert "listed in the history only SECONDS simulated seconds later" in text
    # what the SDK does with it: no grace to outlast (there is none now), never a second create
    assert "until then the month needs attention, and a later run adopts it" in text
    assert "--absence-grace" not in text
