"""Scenario 2: iterate 100,000 SAT invoices in pages of 100, per peer, interleaved by round.

Peak RSS growth of gigstack_async while streaming is measured by `benchmarks.memory` in fresh
subprocesses (see there)."""

from __future__ import annotations

from benchmarks import memory
from benchmarks.clients import GIGSTACK, HTTP_PEERS, OPC, RAW, HttpPeer, make_peer
from benchmarks.harness import Context, timed
from benchmarks.payloads import PAGE_SIZE
from benchmarks.stats import Figure, Ratio, ScenarioResult, Target, pairwise, rotated

KEY = "pagination"
TITLE = "2. Pagination: 100,000 SAT invoices in pages of 100"
RSS_LIMIT_MB = 10.0


async def run(ctx: Context) -> ScenarioResult:
    sizes = ctx.sizes
    items = ctx.server.items
    clients: dict[str, HttpPeer] = {
        name: make_peer(name, ctx.peers, ctx.server.base_url) for name in HTTP_PEERS
    }
    rate: dict[str, list[float]] = {name: [] for name in HTTP_PEERS}
    cpu_us: dict[str, list[float]] = {name: [] for name in HTTP_PEERS}
    try:
        for round_index in range(sizes.pagination_rounds):
            for name in rotated(HTTP_PEERS, round_index):
                wall0, cpu0 = timed()
                seen = await clients[name].walk()
                wall1, cpu1 = timed()
                if seen != items:
                    raise RuntimeError(f"{name} saw {seen} invoices, expected {items}")
                rate[name].append(seen / (wall1 - wall0))
                cpu_us[name].append((cpu1 - cpu0) / seen * 1e6)
    finally:
        for client in clients.values():
            await client.aclose()

    probes = await memory.measure_all(ctx)
    result = ScenarioResult(
        key=KEY,
        title=TITLE,
        setup=(
            f"{items:,} invoices ({items // PAGE_SIZE:,} pages of {PAGE_SIZE}, ~76 KB each, "
            f"`has_more` + `next` cursors) walked by each peer, {sizes.pagination_rounds} rounds, "
            "peers in rotated order each round. gigstack_async: `async for invoice in "
            "client.sat_invoices.list(limit=100)`; raw aiohttp follows the cursor with "
            "`json.loads`; openapi-python-client calls `list_sat_invoices.asyncio(...)` per page. "
            "Memory: each probe is a fresh subprocess; baseline = peak RSS (`ru_maxrss`) after "
            "imports, client construction and one 1-item request; growth = peak RSS after the "
            "walk − baseline. tracemalloc's peak is measured in a separate fresh process (its own "
            "bookkeeping would inflate RSS)."
        ),
        peers=list(HTTP_PEERS),
    )
    for name in HTTP_PEERS:
        result.figures.append(Figure(name, "throughput", "items/s", rate[name]))
        result.figures.append(Figure(name, "client CPU per item", "µs", cpu_us[name], digits=1))
    for probe in probes:
        result.figures.append(
            Figure(probe.label, "peak RSS growth", "MB", [probe.rss_growth_mb], digits=1)
        )
        result.figures.append(
            Figure(probe.label, "sampled RSS growth", "MB", [probe.sampled_growth_mb], digits=1)
        )
        if probe.traced_peak_mb is not None:
            result.figures.append(
                Figure(probe.label, "tracemalloc peak", "MB", [probe.traced_peak_mb], digits=1)
            )
    result.ratios += [
        Ratio("gigstack_async ÷ raw aiohttp, items/s", pairwise(rate[GIGSTACK], rate[RAW])),
        Ratio(
            "gigstack_async ÷ openapi-python-client, items/s", pairwise(rate[GIGSTACK], rate[OPC])
        ),
    ]
    streaming = next(p for p in probes if p.peer == GIGSTACK and not p.hold)
    growth = max(streaming.rss_growth_mb, streaming.sampled_growth_mb)
    result.targets.append(
        Target(
            f"gigstack_async peak RSS growth ≤ {RSS_LIMIT_MB:.0f} MB while streaming",
            f"{growth:.1f} MB (larger of peak-RSS and sampled-RSS growth)",
            growth <= RSS_LIMIT_MB,
        )
    )
    result.notes.append(
        "The `holding every item` probe keeps all models in a list: it shows what a non-streaming "
        "walk costs, and that the probe does detect growth."
    )
    return result
