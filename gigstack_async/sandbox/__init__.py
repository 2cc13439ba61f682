"""A stateful, in-memory gigstack API v2 simulator that knows SAT's bulk-download flow.

It serves every operation of `openapi/*.yaml` under `/v2` on 127.0.0.1:
the SAT flows below, and the core API (clients, services, invoices, receipts, payments, teams,
users, retentions) with stamping, folios, cancellation and payment rules, and an event hook
(`state.event_hook`, see `events.py`) that webhooks registered with `POST /v2/webhooks` are
delivered from (signed POSTs, retried; see `webhook_delivery.py`). For Descarga Masiva it has seeded
invoices, real ZIP packages, a controllable clock and reproducible fault injection. Requests move
pending → accepted → processing → completed (or failed, later expired) as simulated time passes.

Example (runs as is)::

    import asyncio
    from datetime import UTC, datetime

    import aiohttp

    from gigstack_async.sandbox import Sandbox, SandboxConfig


    async def main() -> None:
        config = SandboxConfig(seed=7, speed=0, start=datetime(2025, 3, 1, 18, tzinfo=UTC))
        async with Sandbox(config) as sandbox:
            api, headers = sandbox.base_url, {"Authorization": f"Bearer {sandbox.api_key}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                body = {"start_date": "2024-01-01", "end_date": "2024-01-31", "rfc_type": "issued"}
                async with http.post(f"{api}/invoices/download/request", json=body) as response:
                    request_id = (await response.json())["data"]["request_id"]
                sandbox.clock.advance(3600)  # simulated: SAT finishes in a few minutes
                async with http.get(f"{api}/invoices/download/status/{request_id}") as response:
                    status = (await response.json())["data"]
                print(status["status"], status["invoice_count"], status["package_ids"])
                print(len(sandbox.state.ground_truth[request_id]), "CFDIs expected")


    asyncio.run(main())

From a shell: `python -m gigstack_async.sandbox --port 8765` (the same as `gigstack-async sandbox`).
"""

from gigstack_async.sandbox.app import ROUTES, create_app, get_state
from gigstack_async.sandbox.clock import MEXICO_CITY, SimClock, add_months
from gigstack_async.sandbox.config import (
    DEFAULT_API_KEY,
    ApiKeyConfig,
    FaultConfig,
    LifecycleConfig,
    SandboxConfig,
    TeamConfig,
)
from gigstack_async.sandbox.core import ALTERNATIVE_VARIANTS, CoreVariants
from gigstack_async.sandbox.events import EventHook, SandboxEvent
from gigstack_async.sandbox.lifecycle import Criteria, DownloadRequest
from gigstack_async.sandbox.profiles import (
    PROFILES,
    RefuseCreates,
    SatCodeRule,
    ServerProfile,
    profile,
    random_profile,
)
from gigstack_async.sandbox.server import Sandbox
from gigstack_async.sandbox.state import (
    FAULT_KINDS,
    CallRecord,
    Charge,
    InjectedFault,
    RefusedCreate,
    SandboxState,
    TeamState,
)
from gigstack_async.sandbox.webhook_registry import WebhookSandboxConfig

__all__ = [
    "ALTERNATIVE_VARIANTS",
    "DEFAULT_API_KEY",
    "FAULT_KINDS",
    "MEXICO_CITY",
    "PROFILES",
    "ROUTES",
    "ApiKeyConfig",
    "CallRecord",
    "Charge",
    "CoreVariants",
    "Criteria",
    "DownloadRequest",
    "EventHook",
    "FaultConfig",
    "InjectedFault",
    "LifecycleConfig",
    "RefuseCreates",
    "RefusedCreate",
    "Sandbox",
    "SandboxConfig",
    "SandboxEvent",
    "SandboxState",
    "SatCodeRule",
    "ServerProfile",
    "SimClock",
    "TeamConfig",
    "TeamState",
    "WebhookSandboxConfig",
    "add_months",
    "create_app",
    "get_state",
    "profile",
    "random_profile",
]
