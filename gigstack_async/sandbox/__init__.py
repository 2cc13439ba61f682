"""A stateful, in-memory gigstack API v2 simulator that knows SAT's bulk-download flow.

It serves every operation of `openapi/gigstack.yaml` under `/v2` on 127.0.0.1, with seeded
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
            headers = {"Authorization": f"Bearer {sandbox.api_key}"}
            async with aiohttp.ClientSession(sandbox.base_url + "/", headers=headers) as http:
                body = {"start_date": "2024-01-01", "end_date": "2024-01-31", "rfc_type": "issued"}
                async with http.post("invoices/download/request", json=body) as response:
                    request_id = (await response.json())["data"]["request_id"]
                sandbox.clock.advance(3600)  # simulated: SAT finishes in a few minutes
                async with http.get(f"invoices/download/status/{request_id}") as response:
                    status = (await response.json())["data"]
                print(status["status"], status["invoice_count"], status["package_ids"])
                print(len(sandbox.state.ground_truth[request_id]), "CFDIs expected")


    asyncio.run(main())

From a shell: `python -m gigstack_async.sandbox --port 8765 --speed 60`.
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

__all__ = [
    "DEFAULT_API_KEY",
    "FAULT_KINDS",
    "MEXICO_CITY",
    "PROFILES",
    "ROUTES",
    "ApiKeyConfig",
    "CallRecord",
    "Charge",
    "Criteria",
    "DownloadRequest",
    "FaultConfig",
    "InjectedFault",
    "LifecycleConfig",
    "RefuseCreates",
    "RefusedCreate",
    "Sandbox",
    "SandboxConfig",
    "SandboxState",
    "SatCodeRule",
    "ServerProfile",
    "SimClock",
    "TeamConfig",
    "TeamState",
    "add_months",
    "create_app",
    "get_state",
    "profile",
    "random_profile",
]
