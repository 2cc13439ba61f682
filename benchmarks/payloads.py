"""Canned, realistic SAT invoices shaped exactly like the spec's SatInvoice / SatInvoiceList.

Deterministic: the same seed gives the same bytes, so every run decodes the same data.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

PAGE_SIZE = 100
API_KEY = "sk_test_bench_8c1f0e5a2d7b4c39"

# SAT's CFDI 4.0 test taxpayers and plausible counterparties (accents, Ñ and & on purpose).
_TEAM = ("EKU9003173C9", "ESCUELA KEMPER URGATE")
_COUNTERPARTIES = (
    ("CACX7605101P8", "XOCHILT CASAS CHAVEZ"),
    ("IIA040805DZ4", "INDISTRIA ILUMINADORA DE ALMACENES"),
    ("XIA190128J61", "XENON INDUSTRIAL ARTICLES"),
    ("CPE850101AB3", "COMERCIALIZADORA PEÑA & ASOCIADOS SA DE CV"),
    ("SBA930215KR7", "SERVICIOS DEL BAJÍO S DE RL DE CV"),
    ("TNO011120QW2", "TRANSPORTES NORTEÑA SAPI DE CV"),
    ("GALM8207143N5", "MARÍA GUADALUPE GARCÍA LÓPEZ"),
    ("DPA120630HJ9", "DISTRIBUIDORA DEL PACÍFICO SA DE CV"),
)
_TYPES = (("I", 84), ("E", 6), ("P", 8), ("T", 2))
_SERIES = {"I": "F", "E": "NC", "P": "CP", "T": "T"}
_PACS = ("SAT970701NN3", "AAA010101AAA", "SPR190613I52")


def sat_invoice(rng: random.Random, index: int, *, direction: str = "received") -> dict[str, Any]:
    """One SatInvoice as the API sends it (every documented key present, some of them null)."""
    folio_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
    counterparty = rng.choice(_COUNTERPARTIES)
    issuer, receiver = (counterparty, _TEAM) if direction == "received" else (_TEAM, counterparty)
    kind = rng.choices([t for t, _ in _TYPES], weights=[w for _, w in _TYPES])[0]
    subtotal = 0.0 if kind in ("P", "T") else round(rng.uniform(150, 250_000), 2)
    usd = kind == "I" and rng.random() < 0.08
    issued = datetime(2024, 1, 1, 8) + timedelta(seconds=rng.randrange(366 * 24 * 3600))
    stamped = issued + timedelta(seconds=rng.randrange(5, 600))
    cancelled = rng.random() < 0.04
    resource_status = rng.choices(["ready", "building", "error"], weights=[94, 4, 2])[0]
    created_ms = int((stamped + timedelta(days=rng.randrange(1, 20))).timestamp() * 1000)
    return {
        "id": "satinv_" + folio_uuid.replace("-", "").lower()[:24],
        "uuid": folio_uuid,
        "direction": direction,
        "issuer": {"rfc": issuer[0], "name": issuer[1]},
        "receiver": {"rfc": receiver[0], "name": receiver[1]},
        "invoice_type": kind,
        "series": _SERIES[kind],
        "folio": str(10_000 + index),
        "subtotal": subtotal,
        "total": round(subtotal * 1.16, 2),
        "currency": "USD" if usd else "MXN",
        "exchange_rate": round(rng.uniform(16.5, 20.5), 4) if usd else None,
        "issue_date": issued.strftime("%Y-%m-%dT%H:%M:%S"),
        "stamp_date": stamped.strftime("%Y-%m-%dT%H:%M:%S"),
        "cancellation_date": (
            (stamped + timedelta(days=rng.randrange(1, 60))).strftime("%Y-%m-%dT%H:%M:%S")
            if cancelled
            else None
        ),
        "status": "Cancelado" if cancelled else "Vigente",
        "resource_status": resource_status,
        "pac_rfc": rng.choice(_PACS),
        "version": "4.0",
        "certificate_number": f"{rng.randrange(10**19, 10**20)}",
        "download_request_id": f"dlr_{rng.randrange(16**12):012x}",
        "has_xml": resource_status == "ready",
        "created_at": created_ms,
        "updated_at": created_ms + rng.randrange(0, 3_600_000),
    }


def invoices(count: int, seed: int = 2024, *, distinct: int = 2_000) -> list[dict[str, Any]]:
    """`count` invoices. The first `distinct` are drawn field by field; the rest reuse one of
    them with a fresh UUID, id and folio (drawing 100,000 from scratch takes seconds)."""
    rng = random.Random(seed)
    drawn = [sat_invoice(rng, i) for i in range(min(count, distinct))]
    result = list(drawn)
    for i in range(len(drawn), count):
        folio_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
        result.append(
            {
                **drawn[i % len(drawn)],
                "id": "satinv_" + folio_uuid.replace("-", "").lower()[:24],
                "uuid": folio_uuid,
                "folio": str(10_000 + i),
            }
        )
    return result


def list_page(items: list[dict[str, Any]], *, has_more: bool, total: int) -> dict[str, Any]:
    """A SatInvoiceList page: `next` is the last item's UUID while there is more."""
    return {
        "success": True,
        "data": items,
        "has_more": has_more,
        "next": items[-1]["uuid"] if has_more and items else None,
        "count": total,
    }


def page_body(count: int = PAGE_SIZE, seed: int = 7) -> bytes:
    """The bytes of one full page, as the decode scenario feeds it to every decoder."""
    return encode(list_page(invoices(count, seed), has_more=True, total=100_000))


def encode(document: Any) -> bytes:
    """JSON as the API sends it: UTF-8, non-ASCII characters unescaped, no extra spaces."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
