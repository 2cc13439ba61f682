"""Scenario 3: structure one 100-item SatInvoiceList page into models, no network.

- gigstack_async: `gigstack_async._convert.structure(dict, SatInvoiceList)` (cattrs + attrs)
- pydantic v2: `SatInvoiceList.model_validate(dict)` on models from datamodel-code-generator;
  `model_validate_json(bytes)` is noted too (it parses JSON in Rust, without building dicts)
- openapi-python-client: `SatInvoiceList.from_dict(dict)`

Money is exact (`total`, `subtotal`, `exchange_rate` are `Decimal`): the dict every decoder gets is
parsed the way the pipeline parses it, numbers with a fraction as `Decimal`
(`gigstack_async._json.loads(raw, exact=True)`). The cost of that parse against a float parse is
reported beside the decoders.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from benchmarks import profiling
from benchmarks.harness import Context
from benchmarks.payloads import PAGE_SIZE, page_body
from benchmarks.stats import Figure, Ratio, ScenarioResult, Target, pairwise, rotated
from gigstack_async import _json
from gigstack_async._convert import structure
from gigstack_async._generated.models import SatInvoiceList

KEY = "decode"
TITLE = "3. Decode: one 100-item page into models"
CATTRS = "gigstack_async (cattrs `structure`, dict)"
PYDANTIC = "pydantic v2 `model_validate` (dict)"
OPC = "openapi-python-client `from_dict` (dict)"
CATTRS_BYTES = "gigstack_async (exact `loads` + `structure`, bytes)"
PYDANTIC_JSON = "pydantic v2 `model_validate_json` (bytes)"
DECODERS = (CATTRS, PYDANTIC, OPC, CATTRS_BYTES, PYDANTIC_JSON)
VS_PYDANTIC = 1.2
BLOCK = 3


def _decoders(ctx: Context, raw: bytes, data: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    pydantic_page = ctx.peers.pydantic().SatInvoiceList
    opc_page = ctx.peers.opc("models").SatInvoiceList
    return {
        CATTRS: lambda: structure(data, SatInvoiceList),
        PYDANTIC: lambda: pydantic_page.model_validate(data),
        OPC: lambda: opc_page.from_dict(data),
        CATTRS_BYTES: lambda: structure(_json.loads(raw, exact=True), SatInvoiceList),
        PYDANTIC_JSON: lambda: pydantic_page.model_validate_json(raw),
    }


def _check_same_content(decoded: dict[str, Any]) -> None:
    """Every decoder must have read the same invoices (else the comparison means nothing)."""
    seen = {
        name: [
            # openapi-python-client reads amounts as float: compare them as the decimals they are.
            (item.uuid, _decimal(item.total), str(getattr(item.status, "value", item.status)))
            for item in page.data
        ]
        for name, page in decoded.items()
    }
    reference = seen[CATTRS]
    for name, rows in seen.items():
        if rows != reference:
            raise RuntimeError(f"{name} decoded different data than {CATTRS}")


def _decimal(value: Any) -> Any:
    return Decimal(repr(value)) if isinstance(value, float) else value


def _parse_cost(raw: bytes, repeats: int) -> tuple[list[float], list[float]]:
    """µs per page for `json.loads` (floats) and the exact parse (Decimal), alternated."""
    floats: list[float] = []
    exact: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        json.loads(raw)
        floats.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        _json.loads(raw, exact=True)
        exact.append((time.perf_counter() - started) * 1e6)
    return floats, exact


async def run(ctx: Context) -> ScenarioResult:
    sizes = ctx.sizes
    raw = page_body()
    data = _json.loads(raw, exact=True)
    decoders = _decoders(ctx, raw, data)
    _check_same_content({name: decode() for name, decode in decoders.items()})
    for decode in decoders.values():  # warm: hooks, validators, caches
        for _ in range(3):
            decode()
    per_page: dict[str, list[float]] = {name: [] for name in DECODERS}
    blocks = max(1, sizes.decode_repeats // BLOCK)
    for _round in range(sizes.decode_rounds):
        spent = dict.fromkeys(DECODERS, 0.0)
        gc.collect()
        gc.disable()
        try:
            for block_index in range(blocks):
                for name in rotated(DECODERS, block_index):
                    decode = decoders[name]
                    started = time.perf_counter()
                    for _ in range(BLOCK):
                        decode()
                    spent[name] += time.perf_counter() - started
        finally:
            gc.enable()
        for name in DECODERS:
            per_page[name].append(spent[name] / (blocks * BLOCK) * 1e6)

    result = ScenarioResult(
        key=KEY,
        title=TITLE,
        setup=(
            f"One SatInvoiceList page of {PAGE_SIZE} invoices ({len(raw):,} bytes of JSON, 25 "
            "keys per invoice, 2 nested parties, 4 enums, nulls). Same data for every decoder, "
            "checked equal after decoding. "
            f"{sizes.decode_rounds} rounds × {blocks * BLOCK} decodes per decoder, alternating "
            f"decoders every {BLOCK} decodes; GC collected before and disabled during each round "
            "(as in codegen-notes §8). Wall time (`perf_counter`); nothing else runs."
        ),
        peers=list(DECODERS),
    )
    for name in DECODERS:
        result.figures.append(Figure(name, "µs per page", "µs", per_page[name]))
        result.figures.append(
            Figure(name, "µs per invoice", "µs", [v / PAGE_SIZE for v in per_page[name]], digits=2)
        )
    vs_pydantic = Ratio(
        "gigstack_async ÷ pydantic `model_validate`, time (dict → models)",
        pairwise(per_page[CATTRS], per_page[PYDANTIC]),
        target=f"≤ {VS_PYDANTIC}",
    )
    vs_pydantic.met = vs_pydantic.series.median <= VS_PYDANTIC
    vs_opc = Ratio(
        "gigstack_async ÷ openapi-python-client `from_dict`, time",
        pairwise(per_page[CATTRS], per_page[OPC]),
        target="< 1.0",
    )
    vs_opc.met = vs_opc.series.median < 1.0
    result.ratios += [
        vs_pydantic,
        vs_opc,
        Ratio(
            "gigstack_async from bytes ÷ pydantic `model_validate_json`, time",
            pairwise(per_page[CATTRS_BYTES], per_page[PYDANTIC_JSON]),
        ),
    ]
    result.targets += [
        Target(
            f"within {VS_PYDANTIC}× of pydantic (dict → models)",
            f"{vs_pydantic.series.median:.2f}×",
            bool(vs_pydantic.met),
            ratio=True,
        ),
        Target(
            "faster than openapi-python-client",
            f"{vs_opc.series.median:.2f}× its time",
            bool(vs_opc.met),
            ratio=True,
        ),
    ]
    float_parse, exact_parse = _parse_cost(raw, max(30, sizes.decode_rounds * 10))
    result.figures.append(Figure("`json.loads`, floats", "µs per page", "µs", float_parse))
    result.figures.append(Figure("exact parse, Decimal", "µs per page", "µs", exact_parse))
    result.ratios.append(
        Ratio(
            "Decimal cost: exact parse ÷ float parse, time (bytes → dict)",
            pairwise(exact_parse, float_parse),
        )
    )
    result.notes.append(
        "Money is Decimal. Two ways were measured on this page: parsing every fractional "
        "number as Decimal then converting the few non-money floats, and parsing as Decimal "
        "only for models that hold money (`_convert.needs_exact`). Both cost the same here "
        "because every float in a SAT invoice is money; the SDK does the second, so models "
        "without money pay nothing. A float parse followed by `Decimal(repr(x))` per amount "
        "was ~60 % slower end to end and not digit-exact (`1160.10` would become `1160.1`)."
    )
    result.notes.append(
        'pydantic runs in lax mode here (it would turn `"12"` into `12`); gigstack_async\'s '
        'hooks are strict (`None` never becomes `"None"`, `"12"` never `12`) and keep '
        "unknown enum values instead of failing; openapi-python-client raises on an unknown enum."
    )
    if not vs_pydantic.met:
        result.details = explain(data, sizes.profile_pages)
    return result


def explain(data: dict[str, Any], pages: int) -> str:
    """The profile of gigstack_async's decode, per invoice."""
    structure(data, SatInvoiceList)
    stats = profiling.profile(lambda: structure(data, SatInvoiceList), pages)
    items = pages * PAGE_SIZE
    calls = profiling.total_calls(stats) / items
    entries = stats.stats  # type: ignore[attr-defined]
    optional_calls = (
        sum(value[1] for key, value in entries.items() if key[2] == "structure_optional") / items
    )
    lines = [
        "#### Why: profile of `structure(page, SatInvoiceList)`",
        "",
        f"cProfile over {pages} pages ({items:,} invoices); times are inflated by the profiler, "
        "compare them with each other, not with the table above. pydantic-core validates in "
        "Rust: it makes no Python function call per field.",
        "",
        f"- **{calls:,.0f} Python function calls per invoice** for 25 fields (+ 2 nested "
        "parties × 2 fields).",
    ]
    if optional_calls:
        lines.append(
            f"- {optional_calls:,.1f} of them are `structure_optional` (the `X | None` hook): "
            "every nullable field costs two calls, the optional wrapper and then the strict "
            "primitive or enum hook (`_structure_str`, `open_enum`, ...)."
        )
    lines += [
        "- The cattrs-generated function then stores each value in a dict and calls "
        "`SatInvoice(**res)`.",
        "- Not the cause: the model class options (`attrs.define` already makes slotted, "
        "non-frozen classes, the fast choice), `from __future__ import annotations` (resolved "
        "once, when the hook is built) and detailed validation (try blocks cost nothing in "
        "3.11 until they catch). What is ours to fix is the per-field call chain in "
        "`gigstack_async/_convert.py`: one hook per `X | None` field instead of two, or a "
        "generated hook with the strict type checks inline that falls back to the detailed "
        "cattrs hook (same results and error messages) only when a check fails.",
        "",
        profiling.layer_table(stats, per=items, unit="invoice"),
        "",
        "```text",
        profiling.top_functions(stats, per=items, unit="invoice"),
        "```",
    ]
    return "\n".join(lines)
