"""Scenario 1: N sequential `GET /invoices/sat/{uuid}` per peer, interleaved round by round."""

from __future__ import annotations

import cProfile
import pstats

from benchmarks import profiling
from benchmarks.clients import GIGSTACK, HTTP_PEERS, OPC, RAW, HttpPeer, make_peer
from benchmarks.harness import Context, timed
from benchmarks.stats import Figure, Ratio, ScenarioResult, Target, fmt_number, pairwise, rotated

KEY = "per_request"
TITLE = "1. Per request: sequential GET /invoices/sat/{uuid}"
THROUGHPUT_VS_RAW = 0.85
THROUGHPUT_VS_OPC = 1.5
BLOCK = 25
"""Requests per peer before switching to the next peer."""


async def run(ctx: Context) -> ScenarioResult:
    sizes = ctx.sizes
    uuids = ctx.uuids(sizes.request_count)
    clients: dict[str, HttpPeer] = {
        name: make_peer(name, ctx.peers, ctx.server.base_url) for name in HTTP_PEERS
    }
    rps: dict[str, list[float]] = {name: [] for name in HTTP_PEERS}
    cpu_us: dict[str, list[float]] = {name: [] for name in HTTP_PEERS}
    try:
        for client in clients.values():  # connections, hooks, imports: not measured
            for uuid in uuids[: sizes.request_warmup]:
                await client.get(uuid)
        blocks = [uuids[i : i + BLOCK] for i in range(0, len(uuids), BLOCK)]
        for _round in range(sizes.request_rounds):
            wall = dict.fromkeys(HTTP_PEERS, 0.0)
            cpu = dict.fromkeys(HTTP_PEERS, 0.0)
            # Fine-grained interleaving: a burst of noise on this shared 2-core VM lands on
            # every peer of the round, not on whichever happened to be running.
            for block_index, block in enumerate(blocks):
                for name in rotated(HTTP_PEERS, block_index):
                    client = clients[name]
                    wall0, cpu0 = timed()
                    for uuid in block:
                        await client.get(uuid)
                    wall1, cpu1 = timed()
                    wall[name] += wall1 - wall0
                    cpu[name] += cpu1 - cpu0
            for name in HTTP_PEERS:
                rps[name].append(len(uuids) / wall[name])
                cpu_us[name].append(cpu[name] / len(uuids) * 1e6)
    finally:
        for client in clients.values():
            await client.aclose()

    vs_raw = pairwise(rps[GIGSTACK], rps[RAW])
    vs_opc = pairwise(rps[GIGSTACK], rps[OPC])
    cpu_vs_raw = pairwise(cpu_us[GIGSTACK], cpu_us[RAW])
    result = ScenarioResult(
        key=KEY,
        title=TITLE,
        setup=(
            f"{len(uuids):,} sequential requests per peer per round, {sizes.request_rounds} "
            f"rounds. Within a round the peers alternate every {BLOCK} requests (order rotated "
            f"each time), after {sizes.request_warmup} warm-up requests each. Each response is "
            "a SatInvoiceEnvelope (~0.8 KB) served from precomputed bytes by the canned server "
            "in its own process. Client CPU is "
            "`time.process_time()` of the client process only."
        ),
        peers=list(HTTP_PEERS),
    )
    for name in HTTP_PEERS:
        result.figures.append(Figure(name, "throughput", "req/s", rps[name]))
        result.figures.append(Figure(name, "client CPU per request", "µs", cpu_us[name]))
    ratio_raw = Ratio(
        "gigstack_async ÷ raw aiohttp, throughput",
        vs_raw,
        target=f"≥ {THROUGHPUT_VS_RAW}",
    )
    ratio_opc = Ratio(
        "gigstack_async ÷ openapi-python-client, throughput",
        vs_opc,
        target=f"≥ {THROUGHPUT_VS_OPC}",
    )
    ratio_raw.met = ratio_raw.series.median >= THROUGHPUT_VS_RAW
    ratio_opc.met = ratio_opc.series.median >= THROUGHPUT_VS_OPC
    result.ratios += [
        ratio_raw,
        ratio_opc,
        Ratio("gigstack_async ÷ raw aiohttp, client CPU per request", cpu_vs_raw),
    ]
    result.targets += [
        Target(
            f"throughput ≥ {THROUGHPUT_VS_RAW}× raw aiohttp",
            f"{ratio_raw.series.median:.2f}×",
            bool(ratio_raw.met),
            ratio=True,
        ),
        Target(
            f"throughput ≥ {THROUGHPUT_VS_OPC}× openapi-python-client",
            f"{ratio_opc.series.median:.2f}×",
            bool(ratio_opc.met),
            ratio=True,
        ),
    ]
    if not (ratio_raw.met and ratio_opc.met):
        result.details = await explain(ctx, uuids[: max(10, sizes.request_count // 2)])
    overhead = statistic_overhead(cpu_us)
    result.notes.append(
        f"gigstack_async spends {fmt_number(overhead, 0)} µs of client CPU per request more than "
        "raw aiohttp (medians): request building, retries/deadline bookkeeping, the response "
        "copy and decoding into attrs models."
    )
    return result


async def explain(ctx: Context, uuids: list[str]) -> str:
    """Where gigstack_async's extra client CPU goes: cProfile of both loops, by layer."""
    stats: dict[str, pstats.Stats] = {}
    for name in (RAW, GIGSTACK):
        client = make_peer(name, ctx.peers, ctx.server.base_url)
        try:
            for uuid in uuids[:10]:
                await client.get(uuid)
            profiler = cProfile.Profile()
            profiler.enable()
            for uuid in uuids:
                await client.get(uuid)
            profiler.disable()
        finally:
            await client.aclose()
        stats[name] = pstats.Stats(profiler)
    return "\n".join(
        [
            "#### Why: profile of the request loop, raw aiohttp vs gigstack_async",
            "",
            f"cProfile over {len(uuids):,} sequential requests each (the profiler inflates "
            "Python-heavy layers; read the differences, not the absolute values). The socket "
            "`send`/`recv` and the event loop cost both peers the same; the difference is "
            "gigstack_async's own layers (request building, retry/deadline bookkeeping, "
            "copying the response, checking the envelope) and decoding into models (cattrs "
            "hooks, see scenario 3).",
            "",
            profiling.compare_layers(stats, per=len(uuids), unit="request"),
            "",
            "```text",
            profiling.top_functions(stats[GIGSTACK], per=len(uuids), unit="request", limit=15),
            "```",
        ]
    )


def statistic_overhead(cpu_us: dict[str, list[float]]) -> float:
    from statistics import median

    return median(cpu_us[GIGSTACK]) - median(cpu_us[RAW])
