"""`make bench` in miniature: the same entry point with tiny sizes. No timing is asserted; only
that every scenario ran and reported every peer, its figures and its targets."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import concurrency, decode, fanout, package_memory, pagination, per_request
from benchmarks.__main__ import SCENARIOS, main
from benchmarks.clients import GIGSTACK, OPC, RAW

EXPECTED_PEERS = {
    per_request.KEY: {RAW, GIGSTACK, OPC},
    pagination.KEY: {RAW, GIGSTACK, OPC},
    decode.KEY: set(decode.DECODERS),
    concurrency.KEY: {RAW, GIGSTACK, OPC},
    fanout.KEY: {f"{fanout.PEER}, {months} months" for months in (12, 3)},
    package_memory.KEY: {package_memory.STAGED, package_memory.BYTES},
}


def test_quick_bench_produces_every_scenario_peer_and_target(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    records = tmp_path / "results.json"

    assert main(["--quick", f"--output={output}", f"--json={records}"]) == 0

    document = json.loads(records.read_text(encoding="utf-8"))
    scenarios = {scenario["key"]: scenario for scenario in document["scenarios"]}
    assert set(scenarios) == set(SCENARIOS) == set(EXPECTED_PEERS)
    for key, peers in EXPECTED_PEERS.items():
        scenario = scenarios[key]
        assert set(scenario["peers"]) == peers, key
        # Every peer has at least one figure, every figure has values, every target a verdict.
        assert peers <= {figure["peer"] for figure in scenario["figures"]}, key
        assert all(figure["values"] for figure in scenario["figures"]), key
        assert scenario["targets"], key
        assert all(isinstance(target["met"], bool) for target in scenario["targets"]), key
    # Targets that count things rather than time them cannot depend on the machine: even the
    # miniature run must meet them, or the SDK broke what they measure.
    counted = {
        (fanout.KEY, "one polling HTTP call per tick"),
        (fanout.KEY, "at the server, at most one polling call per poll interval"),
        (fanout.KEY, "every month completed and downloaded"),
    }
    verdicts = {
        (key, prefix): target["met"]
        for key, prefix in counted
        for target in scenarios[key]["targets"]
        if target["description"].startswith(prefix)
    }
    assert set(verdicts) == counted  # each counted target is reported
    assert all(verdicts.values()), {k: v for k, v in verdicts.items() if not v}
    for figure in scenarios[pagination.KEY]["figures"]:
        if figure["metric"] == "peak RSS growth":
            assert figure["values"][0] >= 0
    environment = document["environment"]
    assert environment["quick"] is True
    assert set(environment["packages"]) >= {"aiohttp", "attrs", "cattrs", "httpx", "pydantic"}

    text = output.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks")
    for scenario in scenarios.values():
        assert f"## {scenario['title']}" in text
        for peer in scenario["peers"]:
            assert peer in text
    assert "MET" in text
    assert "logical CPUs" in text
    assert "openapi-python-client" in text


def test_the_disk_floor_writes_the_same_files_again(tmp_path: Path) -> None:
    # The fan-out's "disk floor" figure: the run's files, the same sizes and month folders,
    # written plainly; a floor that wrote fewer or smaller files would flatter the SDK's share.
    from gigstack_async import MonthResult

    written = []
    for month, sizes in (("2024-01", (10, 2000)), ("2024-02", (0, 5, 7))):
        folder = tmp_path / "run" / month
        folder.mkdir(parents=True)
        files = []
        for number, size in enumerate(sizes):
            path = folder / f"{number}.xml"
            path.write_bytes(b"a" * size)
            files.append(path)
        written.append(MonthResult(month, request_id="r", state="completed", files=tuple(files)))

    seconds = fanout.file_creation_floor(written, tmp_path / "floor")

    assert seconds >= 0
    again = sorted(
        (path.parent.name, path.stat().st_size) for path in (tmp_path / "floor").rglob("*.xml")
    )
    assert again == [("00", 10), ("00", 2000), ("01", 0), ("01", 5), ("01", 7)]
