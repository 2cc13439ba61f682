"""Clients and services (`/clients…`, `/services…`): CRUD, find-or-create, search, SAT
validation, the customer portal token, CSF upload and pending-receipt stamping."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from gigstack_async.sandbox import documents, money
from gigstack_async.sandbox.billing import (
    client_fields,
    find_client,
    new_client,
    parse_tax,
    refresh_validity,
)
from gigstack_async.sandbox.core import CoreTeam, Record
from gigstack_async.sandbox.envelopes import ApiError, invalid
from gigstack_async.sandbox.routes_common import (
    check_rfc,
    core_of,
    created_status,
    cursor_list,
    emit,
    equals,
    json_body,
    now_s,
    optional_str,
    resource_time,
    respond,
    search_list,
    team_core,
)
from gigstack_async.sandbox.routes_receipts import stamp_receipt_record
from gigstack_async.sandbox.routing import Route

MAX_CSF_BYTES = 5 * 1024 * 1024
PENDING_RECEIPTS_PER_CALL = 100
"""Stamp pending receipts processes at most 100 receipts per call (FACT-CLI README)."""


async def list_clients(request: web.Request) -> web.Response:
    return cursor_list(
        request,
        team_core(request).clients,
        "Clients retrieved successfully",
        filters={"email": equals("email"), "tax_id": equals("tax_id")},
    )


async def create_client(request: web.Request) -> web.Response:
    """Create, or find-or-create with `search: {on_key, on_value, update}` (200/201/409)."""
    body = await json_body(request)
    core = team_core(request)
    search = body.get("search")
    if search is not None:
        if not isinstance(search, dict):
            raise invalid("search", "must be an object {on_key, on_value, update}")
        on_key, on_value = search.get("on_key"), search.get("on_value")
        if not isinstance(on_key, str) or on_value is None:
            raise invalid("search", "needs on_key and on_value")
        matches = find_client(core, on_key, on_value)
        if len(matches) > 1:
            raise ApiError(
                409,
                "resource_conflict",
                f"{len(matches)} clients match {on_key}={on_value!r}: search is ambiguous",
            )
        if matches:
            client = matches[0]
            if search.get("update"):
                _apply(request, client, client_fields(body))
                return respond(client, "Client updated successfully")
            return respond(client, "Client found successfully")
    client = new_client(request, client_fields(body))
    return respond(client, "Client created successfully", status=created_status(request))


def _apply(request: web.Request, client: Record, fields: dict[str, Any]) -> None:
    if "address" in fields and fields["address"] is not None:
        fields["address"] = {**(client.get("address") or {}), **fields["address"]}
    for name, value in fields.items():
        client[name] = value if value is not None else _cleared(name)
    refresh_validity(client)
    emit(request, "customer.updated", client)


def _cleared(name: str) -> Any:
    return {"address": {}, "metadata": {}, "bcc": []}.get(name)


async def get_client(request: web.Request) -> web.Response:
    client = team_core(request).clients.get(request.match_info["id"])
    return respond(client, "Client retrieved successfully")


async def update_client(request: web.Request) -> web.Response:
    client = team_core(request).clients.get(request.match_info["id"])
    body = await json_body(request)
    if "id" in body and body["id"] != client["id"]:
        raise invalid("id", "is immutable")
    _apply(request, client, client_fields(body))
    return respond(client, "Client updated successfully")


async def delete_client(request: web.Request) -> web.Response:
    client = team_core(request).clients.delete(request.match_info["id"])
    emit(request, "customer.deleted", client)
    return respond({"id": client["id"], "deleted": True}, "Client deleted successfully")


async def search_clients(request: web.Request) -> web.Response:
    return search_list(
        request,
        team_core(request).clients,
        ("name", "legal_name", "company", "email", "tax_id", "id"),
    )


async def validate_client(request: web.Request) -> web.Response:
    """Checks what a CFDI receiver needs; `missing` names what is absent (GUESS shape)."""
    client = team_core(request).clients.get(request.match_info["id"])
    refresh_validity(client)
    missing = [
        field
        for field, present in (
            ("tax_id", client.get("tax_id")),
            ("legal_name", client.get("legal_name") or client.get("name")),
            ("tax_system", client.get("tax_system")),
            ("address.zip", (client.get("address") or {}).get("zip")),
        )
        if not present
    ]
    data = {
        "id": client["id"],
        "tax_id": client.get("tax_id"),
        "is_valid": client["is_valid"],
        "efos": client["efos"],
        "missing": missing,
    }
    return respond(data, "Client validated successfully")


async def customer_portal(request: web.Request) -> web.Response:
    """A portal link for a client by `id` or `email`, valid 5 days (`expires_at` in s)."""
    body = await json_body(request)
    core = team_core(request)
    if body.get("id") is not None:
        client = core.clients.get(str(body["id"]))
    elif body.get("email") is not None:
        matches = find_client(core, "email", body["email"])
        if not matches:
            raise ApiError(404, "resource_not_found", f"No client with email {body['email']!r}")
        client = matches[0]
    else:
        raise invalid("id", "give the client's id or email")
    token = core_of(request).new_id("cpt")
    data = {
        "url": f"https://portal.sandbox.gigstack.test/{client['id']}?token={token}",
        "expires_at": now_s(request) + 5 * 86_400,
    }
    return respond(data, "Customer portal access generated")


async def stamp_pending_receipts(request: web.Request) -> web.Response:
    """Stamp up to 100 pending receipts of the client (each is a CFDI)."""
    core = team_core(request)
    client = core.clients.get(request.match_info["id"])
    pending = [
        receipt
        for receipt in core.receipts
        if receipt["status"] == "pending"
        and (receipt.get("client") or {}).get("id") == client["id"]
    ]
    batch = pending[:PENDING_RECEIPTS_PER_CALL]
    results: list[Record] = []
    stamped = failed = 0
    for receipt in batch:
        try:
            invoice = stamp_receipt_record(request, receipt)
        except ApiError as error:
            failed += 1
            results.append({"id": receipt["id"], "status": "failed", "error": error.message})
        else:
            stamped += 1
            results.append({"id": receipt["id"], "status": "stamped", "invoice": invoice["id"]})
    data = {
        "stamped": stamped,
        "failed": failed,
        "remaining": len(pending) - len(batch),
        "results": results,
    }
    return respond(data, "Pending receipts processed")


_CSF_RFC = re.compile(rb"RFC[:\s]*([A-Z\xd1&]{3,4}\d{6}[A-Z0-9]{3})")
_CSF_FIELD = re.compile(rb"(Nombre|Regimen|CP)[:\s]*([^\n\r]+)")


async def upload_csf(request: web.Request) -> web.Response:
    """Create (or with `client_id`, update) a client from a CSF PDF.

    The sandbox cannot read a real CSF: it reads `RFC: …`, `Nombre: …`, `Regimen: 601`, `CP: …`
    lines from the PDF bytes (write them in a test PDF). No RFC found → 400 invalid_file_format.
    """
    parts = await documents.read_form(request)
    if "file" not in parts:
        raise invalid("file", "the CSF PDF part is required")
    _, content = parts["file"]
    if not content.startswith(b"%PDF-"):
        raise ApiError(400, "invalid_file_format", "file: a CSF must be a PDF", details=("file",))
    if len(content) > MAX_CSF_BYTES:
        raise ApiError(400, "file_upload_error", "file: larger than 5 MiB", details=("file",))
    found = _CSF_RFC.search(content)
    if found is None:
        raise ApiError(
            400, "invalid_file_format", "file: no RFC found in the CSF", details=("file",)
        )
    extracted = {
        key.decode(): value.decode("latin-1").strip() for key, value in _CSF_FIELD.findall(content)
    }
    fields: dict[str, Any] = {"tax_id": check_rfc(found.group(1).decode("latin-1"), "file")}
    if "Nombre" in extracted:
        fields["legal_name"] = fields["name"] = extracted["Nombre"]
    if "Regimen" in extracted:
        fields["tax_system"] = extracted["Regimen"][:3]
    if "CP" in extracted:
        fields["address"] = {"zip": extracted["CP"][:5], "country": "MEX"}
    client_id = request.query.get("client_id")
    if client_id:
        client = team_core(request).clients.get(client_id)
        _apply(request, client, fields)
        return respond(client, "Client updated from CSF")
    fields.setdefault("name", fields["tax_id"])
    return respond(new_client(request, fields), "Client created from CSF")


def _client(core: CoreTeam, client_id: str) -> Record:
    return core.clients.get(client_id)


# --- services ----------------------------------------------------------------------------------

SERVICE_TEXT = ("description", "sku", "product_key", "unit_key", "unit_name")
_PRODUCT_KEY = re.compile(r"\d{8}")


def _service_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in SERVICE_TEXT:
        if name in body:
            fields[name] = optional_str(body, name)
    if creating:
        for name in ("description", "unit_price", "product_key", "unit_key"):
            if body.get(name) is None:
                raise invalid(name, "is required to create a service")
    if fields.get("product_key") is not None and not _PRODUCT_KEY.fullmatch(fields["product_key"]):
        raise invalid("product_key", "must be the 8-digit SAT ClaveProdServ")
    if "unit_price" in body:
        fields["unit_price"] = money.parse_amount(body["unit_price"], "unit_price")
    if "taxes" in body:
        raw = body["taxes"] or []
        if not isinstance(raw, list):
            raise invalid("taxes", "must be a list")
        fields["taxes"] = [parse_tax(tax, f"taxes[{n}]") for n, tax in enumerate(raw)]
    return fields


async def list_services(request: web.Request) -> web.Response:
    return cursor_list(request, team_core(request).services, "Services retrieved successfully")


async def create_service(request: web.Request) -> web.Response:
    body = await json_body(request)
    fields = _service_fields(body, creating=True)
    core = team_core(request)
    service: Record = {
        "id": core_of(request).new_id("service"),
        **{name: fields.get(name) for name in SERVICE_TEXT},
        "unit_price": fields["unit_price"],
        "taxes": fields.get("taxes", []),
        "team": core.team_id,
        "created_at": resource_time(request),
    }
    core.services.add(service)
    emit(request, "service.created", service)
    return respond(service, "Service created successfully", status=created_status(request))


async def get_service(request: web.Request) -> web.Response:
    service = team_core(request).services.get(request.match_info["id"])
    return respond(service, "Service retrieved successfully")


async def update_service(request: web.Request) -> web.Response:
    service = team_core(request).services.get(request.match_info["id"])
    body = await json_body(request)
    service.update(_service_fields(body, creating=False))
    emit(request, "service.updated", service)
    return respond(service, "Service updated successfully")


async def delete_service(request: web.Request) -> web.Response:
    service = team_core(request).services.delete(request.match_info["id"])
    emit(request, "service.deleted", service)
    return respond({"id": service["id"], "deleted": True}, "Service deleted successfully")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/clients/search", "searchClients", search_clients),
    Route("POST", "/clients/customerportal", "getClientPortalToken", customer_portal),
    Route("POST", "/clients/csf", "uploadClientCsf", upload_csf),
    Route("POST", "/clients/validate/{id}", "validateClient", validate_client),
    Route("GET", "/clients", "listClients", list_clients),
    Route("POST", "/clients", "createClient", create_client),
    Route("GET", "/clients/{id}", "getClient", get_client),
    Route("PUT", "/clients/{id}", "updateClient", update_client),
    Route("DELETE", "/clients/{id}", "deleteClient", delete_client),
    Route(
        "POST",
        "/clients/{id}/stamp-pending-receipts",
        "stampClientPendingReceipts",
        stamp_pending_receipts,
    ),
    Route(
        "POST",
        "/clients/{id}/support-documents",
        "uploadClientSupportDocument",
        documents.upload_handler("clients", _client),
    ),
    Route(
        "GET",
        "/clients/{id}/support-documents",
        "listClientSupportDocuments",
        documents.list_handler("clients", _client),
    ),
    Route("GET", "/services", "listServices", list_services),
    Route("POST", "/services", "createService", create_service),
    Route("GET", "/services/{id}", "getService", get_service),
    Route("PUT", "/services/{id}", "updateService", update_service),
    Route("DELETE", "/services/{id}", "deleteService", delete_service),
)
