"""Scenario 4: 1,000 concurrent GETs through an in-flight limit of 50.

gigstack_async: `GigstackClient(max_in_flight=50)` and 1,000 `asyncio.gather`ed
`sat_invoices.get(...)`; raw aiohttp and openapi-python-client: the same behind an
`asyncio.Semaphore(50)`. The canned server answers after a simulated latency and records the
peak number of requests it had in flight, which must never exceed the limit.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from benchmarks.clients import GIGSTACK, OPC, RAW, HttpPeer, make_peer
from benchmarks.harness import Context, timed
from benchmarks.stats import Figure, Ratio, ScenarioResult, Target, pairwise, rotated

KEY = "concurrency"
TITLE = "4. Concurrency: 1,000 concurrent GETs, in-flight limit 50"
PEERS = (RAW, GIGSTACK, OPC)
SLOW_PEER_ROUNDS = 3


def _is_pool_timeout(error: BaseException) -> bool:
    name = type(error).__name__
    return "Timeout" in name or isinstance(error, TimeoutError)


async def run(ctx: Context) -> ScenarioResult:
    sizes = ctx.sizes
    limit = sizes.concurrency_limit
    count = sizes.concurrency_requests
    uuids = ctx.uuids(count)
    uuids = (uuids * (count // len(uuids) + 1))[:count]
    clients: dict[str, HttpPeer] = {
        name: make_peer(name, ctx.peers, ctx.server.slow_base_url, limit=limit) for name in PEERS
    }
    wall: dict[str, list[float]] = {name: [] for name in PEERS}
    cpu_ms: dict[str, list[float]] = {name: [] for name in PEERS}
    peak: dict[str, list[float]] = {name: [] for name in PEERS}
    errors: dict[str, Counter[str]] = {name: Counter() for name in PEERS}
    timeouts: dict[str, int] = dict.fromkeys(PEERS, 0)
    try:
        for client in clients.values():  # open the connections once, unmeasured
            await asyncio.gather(*(client.get(uuid) for uuid in uuids[:limit]))
        for round_index in range(sizes.concurrency_rounds):
            # openapi-python-client takes seconds per round here: fewer rounds of it.
            playing = PEERS if round_index < SLOW_PEER_ROUNDS else (RAW, GIGSTACK)
            for name in rotated(playing, round_index):
                client = clients[name]
                await ctx.server.stats(reset=True)
                wall0, cpu0 = timed()
                outcomes = await asyncio.gather(
                    *(client.get(uuid) for uuid in uuids), return_exceptions=True
                )
                wall1, cpu1 = timed()
                stats = await ctx.server.stats()
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        errors[name][type(outcome).__name__] += 1
                        timeouts[name] += _is_pool_timeout(outcome)
                wall[name].append((wall1 - wall0) * 1000)
                cpu_ms[name].append((cpu1 - cpu0) * 1000)
                peak[name].append(float(stats["peak_in_flight"]))
    finally:
        for client in clients.values():
            await client.aclose()

    ideal_ms = count / limit * sizes.concurrency_delay_ms
    result = ScenarioResult(
        key=KEY,
        title=TITLE,
        setup=(
            f"{count:,} `GET /invoices/sat/{{uuid}}` started at once with `asyncio.gather`, at "
            f"most {limit} in flight, against the canned server answering after "
            f"{sizes.concurrency_delay_ms:g} ms (so the limit, not the CPU alone, shapes the "
            f"wall time: {count:,} / {limit} × {sizes.concurrency_delay_ms:g} ms = "
            f"{ideal_ms:,.0f} ms if the client cost nothing). {sizes.concurrency_rounds} rounds, "
            f"rotated order (openapi-python-client only in the first "
            f"{min(SLOW_PEER_ROUNDS, sizes.concurrency_rounds)}: each of its rounds takes "
            "seconds). The server counts the requests it holds at once."
        ),
        peers=list(PEERS),
    )
    for name in PEERS:
        result.figures.append(Figure(name, "wall time", "ms", wall[name]))
        result.figures.append(Figure(name, "client CPU", "ms", cpu_ms[name]))
        result.figures.append(Figure(name, "peak requests in flight (server)", "", peak[name]))
        result.figures.append(
            Figure(name, "errors (all rounds)", "", [float(sum(errors[name].values()))])
        )
        result.figures.append(Figure(name, "timeouts (all rounds)", "", [float(timeouts[name])]))
    result.ratios += [
        Ratio("gigstack_async ÷ raw aiohttp, wall time", pairwise(wall[GIGSTACK], wall[RAW])),
        Ratio(
            "openapi-python-client ÷ raw aiohttp, wall time",
            pairwise(wall[OPC], wall[RAW][: len(wall[OPC])]),
        ),
    ]
    failures = sum(errors[GIGSTACK].values())
    result.targets += [
        Target(
            "gigstack_async: zero pool timeouts and zero errors",
            f"{timeouts[GIGSTACK]} timeouts, {failures} errors",
            failures == 0,
        ),
        Target(
            f"gigstack_async: never more than {limit} requests in flight",
            f"peak {max(peak[GIGSTACK]):.0f}",
            max(peak[GIGSTACK]) <= limit,
        ),
    ]
    for name in PEERS:
        if errors[name]:
            shown = ", ".join(f"{kind} × {n}" for kind, n in errors[name].most_common())
            result.notes.append(f"{name} errors: {shown}.")
    return result
