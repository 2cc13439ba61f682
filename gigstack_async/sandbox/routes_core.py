"""The core API of issue 11 in one table: clients, services, invoices, receipts, payments,
teams, users and retentions, plus the public (unauthenticated, signed) file links."""

from __future__ import annotations

from aiohttp import web

from gigstack_async.sandbox import (
    routes_clients,
    routes_invoices,
    routes_payments,
    routes_receipts,
    routes_retentions,
    routes_teams,
)
from gigstack_async.sandbox.routing import Route

PUBLIC_PREFIX = routes_invoices.FILES_PREFIX

ROUTES: tuple[Route, ...] = (
    routes_clients.ROUTES
    + routes_invoices.ROUTES
    + routes_receipts.ROUTES
    + routes_payments.ROUTES
    + routes_teams.ROUTES
    + routes_retentions.ROUTES
)


def add_public_routes(app: web.Application) -> None:
    """Invoice and retention PDF/XML downloads at `/files/{invoices|retentions}/{id}.{pdf|xml}
    ?token=…` (outside `/v2`)."""
    app.router.add_get(
        PUBLIC_PREFIX + r"/invoices/{id}.{kind:pdf|xml}", routes_invoices.download_file
    )
    app.router.add_get(
        PUBLIC_PREFIX + r"/retentions/{id}.{kind:pdf|xml}",
        routes_retentions.download_retention_file,
    )
