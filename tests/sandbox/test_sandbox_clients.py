"""Clients and services: CRUD, find-or-create, search, validation, CSF, Connect scoping and the
core list pagination (`limit`/`next` → `next`, `has_more`, `total_results`)."""

from __future__ import annotations

from decimal import Decimal

import aiohttp

from gigstack_async.sandbox import Sandbox

CLIENT = {
    "name": "Juan Pérez García",
    "legal_name": "JUAN PEREZ GARCIA",
    "email": "juan@example.com",
    "tax_id": "PEGJ800101ABC",
    "tax_system": "612",
    "use": "G03",
    "address": {"zip": "03100", "country": "Mexico", "street": "Insurgentes"},
}


async def test_create_get_update_delete_a_client(api, sandbox: Sandbox) -> None:
    created = await api.post("clients", json=CLIENT)
    assert created.status == 201
    client = created.data
    assert client["id"].startswith("client_")
    assert client["address"]["country"] == "MEX"  # input "Mexico", output ISO-3
    assert client["is_valid"] is True

    assert (await api.get(f"clients/{client['id']}")).data == client
    updated = await api.put(f"clients/{client['id']}", json={"phone": "+52 55 1", "email": None})
    assert updated.data["phone"] == "+52 55 1"
    assert "email" not in updated.data  # null clears the field
    assert updated.data["address"]["street"] == "Insurgentes"  # untouched fields stay

    deleted = await api.call("DELETE", f"clients/{client['id']}")
    assert deleted.status == 200
    gone = await api.get(f"clients/{client['id']}")
    assert (gone.status, gone.error_code) == (404, "resource_not_found")
    kinds = [event.type for event in sandbox.state.event_hook.emitted]
    assert kinds == ["customer.created", "customer.updated", "customer.deleted"]


async def test_find_or_create_with_search(api) -> None:
    search = {"on_key": "tax_id", "on_value": CLIENT["tax_id"], "update": False}
    first = await api.post("clients", json={**CLIENT, "search": search})
    again = await api.post("clients", json={**CLIENT, "name": "Otro", "search": search})
    assert (first.status, again.status) == (201, 200)
    assert again.data["id"] == first.data["id"]
    assert again.data["name"] == CLIENT["name"]  # update: false leaves it as it was

    updated = await api.post(
        "clients", json={"name": "Nuevo", "search": {**search, "update": True}}
    )
    assert (updated.status, updated.data["name"]) == (200, "Nuevo")

    await api.post("clients", json={**CLIENT, "email": "other@example.com"})  # same RFC twice
    ambiguous = await api.post("clients", json={**CLIENT, "search": search})
    assert (ambiguous.status, ambiguous.error_code) == (409, "resource_conflict")


async def test_bad_fiscal_fields_are_refused_with_the_field_named(api) -> None:
    cases = {
        "tax_id": {**CLIENT, "tax_id": "NOT-AN-RFC"},
        "tax_system": {**CLIENT, "tax_system": "999"},
        "use": {**CLIENT, "use": "X99"},
        "address.zip": {**CLIENT, "address": {"zip": 3100}},
        "name": {"email": "nobody@example.com"},
    }
    for field, body in cases.items():
        reply = await api.post("clients", json=body)
        assert (reply.status, reply.error_code) == (400, "validation_failed"), field
        assert reply.body["error"]["details"] == [field]


async def test_validate_names_what_a_cfdi_receiver_lacks(api) -> None:
    client = (await api.post("clients", json={"name": "Sin RFC"})).data
    assert client["is_valid"] is False
    reply = await api.post(f"clients/validate/{client['id']}")
    assert reply.data["is_valid"] is False
    assert reply.data["missing"] == ["tax_id", "tax_system", "address.zip"]


async def test_list_pages_with_the_next_cursor(api) -> None:
    ids = [(await api.post("clients", json={"name": f"Cliente {n}"})).data["id"] for n in range(7)]

    seen: list[str] = []
    params: dict[str, str] = {"limit": "3"}
    pages = 0
    while True:
        page = await api.get("clients", params=params)
        pages += 1
        assert page.body["total_results"] == 7
        seen += [client["id"] for client in page.data]
        if not page.body["has_more"]:
            assert "next" not in page.body
            break
        params = {"limit": "3", "next": page.body["next"]}
    assert pages == 3
    assert seen == ids[::-1]  # newest first, nothing repeated or skipped

    oldest = await api.get("clients", params={"limit": "2", "sort": "asc"})
    assert [c["id"] for c in oldest.data] == ids[:2]
    for bad in ({"limit": "0"}, {"limit": "101"}, {"next": "bogus"}):
        reply = await api.get("clients", params=bad)
        assert (reply.status, reply.error_code) == (400, "validation_failed"), bad


async def test_search_finds_what_was_created_and_pages(api) -> None:
    for n in range(5):
        await api.post("clients", json={"name": f"Ferretería {n}", "tax_id": f"FER0101{n}1AB2"})
    await api.post("clients", json=CLIENT)

    by_rfc = await api.get("clients/search", params={"q": "pegj800101abc"})
    assert [c["tax_id"] for c in by_rfc.data] == ["PEGJ800101ABC"]
    page = await api.get("clients/search", params={"q": "ferretería", "per_page": "2", "page": "3"})
    assert (page.body["found"], page.body["page"], page.body["per_page"]) == (5, 3, 2)
    assert len(page.data) == 1
    assert page.body["has_more"] is False
    assert (await api.get("clients/search", params={"q": "nadie"})).body["found"] == 0
    missing_q = await api.get("clients/search")
    assert (missing_q.status, missing_q.error_code) == (400, "validation_failed")


async def test_team_parameter_scopes_clients(api) -> None:
    mine = (await api.post("clients", json=CLIENT)).data
    theirs = (await api.post("clients", json=CLIENT, params={"team": "team_connected"})).data

    home = await api.get("clients")
    connected = await api.get("clients", params={"team": "team_connected"})
    assert [c["id"] for c in home.data] == [mine["id"]]
    assert [c["id"] for c in connected.data] == [theirs["id"]]
    assert theirs["team"] == "team_connected"
    cross = await api.get(f"clients/{theirs['id']}")
    assert cross.status == 404  # another team's client is invisible without `team`
    foreign = await api.get("clients", params={"team": "team_foreign"})
    assert (foreign.status, foreign.error_code) == (403, "forbidden")


async def test_csf_upload_creates_then_updates_a_client(api) -> None:
    def csf(text: bytes) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.4\n" + text, filename="csf.pdf")
        return form

    lines = b"RFC: EKU9003173C9\nNombre: ESCUELA KEMPER URGATE\nRegimen: 603\nCP: 42501\n"
    created = await api.post("clients/csf", data=csf(lines))
    assert created.data["tax_id"] == "EKU9003173C9"
    assert (created.data["tax_system"], created.data["address"]["zip"]) == ("603", "42501")
    updated = await api.post(
        "clients/csf", data=csf(lines.replace(b"42501", b"01000")),
        params={"client_id": created.data["id"]},
    )  # fmt: skip
    assert (updated.data["id"], updated.data["address"]["zip"]) == (created.data["id"], "01000")
    not_pdf = await api.post("clients/csf", data=aiohttp.FormData({"file": "plain text"}))
    assert not_pdf.status == 400


async def test_services_crud_keeps_prices_exact(api, sandbox: Sandbox) -> None:
    body = {
        "description": "Consultoría",
        "unit_price": 1500.10,
        "product_key": "80141503",
        "unit_key": "E48",
        "taxes": [{"type": "IVA", "rate": 0.16}],
    }
    async with api.session.post("services", json=body) as response:
        raw = await response.text()
    assert '"unit_price":1500.1' in raw  # an exact decimal literal, never 1500.0999…
    service_id = next(e.data for e in sandbox.state.event_hook.of_type("service.created"))["id"]
    assert sandbox.state.event_hook.emitted[-1].data["unit_price"] == Decimal("1500.1")

    missing = await api.post("services", json={"description": "x"})
    assert (missing.status, missing.body["error"]["details"]) == (400, ["unit_price"])
    bad_key = await api.post("services", json={**body, "product_key": "123"})
    assert bad_key.body["error"]["details"] == ["product_key"]

    updated = await api.put(f"services/{service_id}", json={"unit_price": 99})
    assert updated.data["unit_price"] == 99
    assert (await api.call("DELETE", f"services/{service_id}")).status == 200
    assert (await api.get(f"services/{service_id}")).status == 404
