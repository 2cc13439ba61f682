"""Review 12b #4: a SIGTERM (or Ctrl-C) while the CLI builds its parser or its output, before
a command began, printed a traceback and the process died by SIGINT. Nothing was sent: it says
"interrupted" and exits 130, as a stopped command does."""

from __future__ import annotations

import signal

import pytest

from gigstack_async.cli import app, exitcodes


def test_an_interrupt_before_the_command_began_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted_while_building() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(app, "build_parser", interrupted_while_building)
    sigint, sigterm = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        code = app.main(["downloads", "history"])
    finally:
        signal.signal(signal.SIGINT, sigint)
        signal.signal(signal.SIGTERM, sigterm)
    assert code == exitcodes.INTERRUPTED == 130
    captured = capsys.readouterr()
    assert captured.err == "interrupted\n"
    assert "Traceback" not in captured.out + captured.err
