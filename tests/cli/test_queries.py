"""`sat invoices list` and `downloads status|history` after a real download; error exit codes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
from pathlib import Path

from gigstack_async.sandbox import Sandbox


async def test_listing_and_inspecting_after_a_download(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    download = await cli(
        "sat", "download", "--from", "2025-04", "--to", "2025-05", "--rfc-type", "received",
        "--out", str(tmp_path / "cfdi"), "--poll-interval", "0.02", "--yes",
    )  # fmt: skip
    assert download.code == 0, download.stderr
    uuids = {uuid.upper() for uuids in sandbox.state.ground_truth.values() for uuid in uuids}
    request_ids = [r.request_id for r in sandbox.state.download_requests]

    jsonl, as_csv, table, history, history_jsonl, status = await asyncio.gather(
        cli("sat", "invoices", "list", "--format", "jsonl", "--limit", "7"),
        cli("sat", "invoices", "list", "--format", "csv", "--direction", "received"),
        cli("sat", "invoices", "list", "--max-items", "5", "--limit", "3"),
        cli("downloads", "history"),
        cli("downloads", "history", "--format", "jsonl"),
        cli("downloads", "status", request_ids[0]),
    )

    # JSON Lines: every invoice, across pages of 7.
    assert jsonl.code == 0, jsonl.stderr
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(rows) == len(uuids)
    assert {row["uuid"].upper() for row in rows} == uuids
    # CSV: a header, then one row per invoice.
    assert as_csv.code == 0, as_csv.stderr
    records = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {record["uuid"].upper() for record in records} == uuids
    assert all(record["direction"] == "received" for record in records)
    # Table: a header and exactly --max-items rows, although pages hold 3.
    assert table.code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["uuid", "issued", "issuer"]
    assert len(lines) == 1 + 5
    assert all(line.split()[0].upper() in uuids for line in lines[1:])
    # History and status.
    assert history.code == history_jsonl.code == status.code == 0
    assert all(rid in history.stdout for rid in request_ids)
    entries = [json.loads(line) for line in history_jsonl.stdout.splitlines()]
    assert {entry["id"] for entry in entries} == set(request_ids)
    assert request_ids[0] in status.stdout
    assert "completed" in status.stdout


def closed_port_url() -> str:
    with socket.socket() as probe:  # a port that was free a moment ago and now is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v2"


async def test_errors_are_one_line_with_documented_exit_codes(sandbox: Sandbox, cli) -> None:
    unreachable = closed_port_url()
    cases = [
        (["downloads", "status", "F00F00F0-0000-4000-8000-000000000000"], {}, 4,
         "error: HTTP 404"),
        (["sat", "invoices", "list", "--issuer-rfc", "NOT-AN-RFC"], {}, 2,
         "error: --issuer-rfc:"),
        (["downloads", "history"], {"GIGSTACK_BASE_URL": unreachable}, 5,
         f"error: cannot reach the API at {unreachable}"),
    ]  # fmt: skip
    results = await asyncio.gather(*(cli(*args, env=env) for args, env, _, _ in cases))

    for (args, _, code, start), result in zip(cases, results, strict=True):
        assert result.code == code, (args, result.stderr)
        assert len(result.err_lines) == 1, result.stderr
        assert result.err_lines[0].startswith(start)
    assert sandbox.state.calls_to("listSatInvoices") == []  # the bad filter sent nothing


async def test_debug_logs_requests_and_tracebacks_but_never_the_key(
    sandbox: Sandbox, cli, secret_key: str, wrong_key: str
) -> None:
    ok, refused = await asyncio.gather(
        cli("--debug", "downloads", "history", "--api-key", secret_key),
        cli("downloads", "history", "--debug", "--api-key", wrong_key),
    )

    # `cli` has already checked that neither key appears anywhere in either output.
    assert ok.code == 0
    assert "DEBUG gigstack_async" in ok.stderr
    assert "/invoices/download/schedule/history -> 200" in ok.stderr
    assert refused.code == 3
    assert "Traceback (most recent call last)" in refused.stderr
    assert refused.err_lines[-1].startswith("error: HTTP 401")
