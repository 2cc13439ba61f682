"""Newcomer walk 9c, item 11e: the hints' grammar and what a metadata month is checked by."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.content import scan_package
from gigstack_async.bulk.machine import Stage


def _unknown_outcome(rfc_type: str, request_type: str) -> m.MonthState:
    state = m.MonthState(
        key="2024-01",
        start=date(2024, 1, 1),
        end=date(2024, 1, 31),
        rfc_type=rfc_type,
        request_type=request_type,
    )
    for obs in (
        m.Send(("h1",), generation=1),
        m.CreateUnknown("HTTP 502", generation=1),
        m.HistorySeen((m.Seen("h1"),), generation=2),  # lists nothing newer: cannot tell
    ):
        state, _ = m.transition(state, obs)
    assert state.stage is Stage.NEEDS_ATTENTION
    return state


def test_an_issued_metadata_month_is_looked_for_and_checked_in_its_own_terms() -> None:
    hint = _unknown_outcome("issued", "metadata").hint or ""
    assert "look for an issued metadata request for 2024-01-01..2024-01-31" in hint
    assert "a issued" not in hint
    assert "or by its metadata before anything is extracted" in hint
    assert "CFDIs" not in hint


def test_a_received_cfdi_month_keeps_its_wording() -> None:
    hint = _unknown_outcome("received", "cfdi").hint or ""
    assert "look for a received cfdi request for 2024-01-01..2024-01-31" in hint
    assert "or by its CFDIs before anything is extracted" in hint


def _cfdi(emisor: str, receptor: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<cfdi:Comprobante '
        'xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0" Fecha="2024-01-10T10:00:00">'
        f'<cfdi:Emisor Rfc="{emisor}"/><cfdi:Receptor Rfc="{receptor}"/></cfdi:Comprobante>'
    ).encode()


def test_the_package_check_says_an_issued_request(tmp_path: Path) -> None:
    # A received package (several issuers, one receiver) in an issued month.
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(3):
            zf.writestr(f"{i}.xml", _cfdi(f"PRO01010{i}AA{i}", "EKU9003173C9"))
    found = scan_package(
        path,
        request_type="cfdi",
        rfc_type="issued",
        start=date(2024, 1, 1),
        end=date(2024, 1, 31),
    )
    assert found.mismatch is not None
    assert "every CFDI of an issued request names the taxpayer there" in found.mismatch
