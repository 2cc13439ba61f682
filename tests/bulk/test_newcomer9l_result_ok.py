"""Newcomer 9l #4: `MonthResult.ok` is what tells a month complete (a `done` month may carry
MISSING DAYS in `error`), but `to_dict(result)` left it out, so a JSON client (a web backend
passing results on) had to rebuild it from `stage` and got it wrong."""

from __future__ import annotations

import json
from pathlib import Path

from gigstack_async import MonthResult, to_dict, to_json


def test_to_dict_carries_ok_for_every_result() -> None:
    done = MonthResult("2024-05", "R1", "completed", 3, (Path("cfdi/2024-05/a.xml"),))
    assert to_dict(done)["ok"] is True
    missing = MonthResult(
        "2024-05", "R1", "completed", error="MISSING DAYS: ...", stage="done", hint="download"
    )
    data = to_dict(missing)
    assert (data["stage"], data["ok"], data["hint"]) == ("done", False, "download")
    unfinished = MonthResult("2024-06", None, None, stage="needs-attention")
    assert to_dict([done, unfinished])[1]["ok"] is False  # in a list too
    assert json.loads(to_json(missing))["ok"] is False
    # The fields stay as they were.
    assert {k: v for k, v in data.items() if k != "ok"} == {
        "key": "2024-05",
        "request_id": "R1",
        "state": "completed",
        "error": "MISSING DAYS: ...",
        "stage": "done",
        "hint": "download",
    }
