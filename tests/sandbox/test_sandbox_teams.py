"""Teams and users: Connect visibility, series counters, settings merge, members, delete-team
rules (docs), CSD/manifest, users scoped by membership."""

from __future__ import annotations

import aiohttp

from gigstack_async.sandbox import Sandbox


async def test_a_key_sees_its_own_and_connected_teams(api) -> None:
    listed = await api.get("teams")
    assert {t["id"] for t in listed.data} == {"team_sandbox", "team_connected"}
    assert listed.body["total_results"] == 2
    home = await api.get("teams/team_sandbox")
    assert (home.data["tax_id"], home.data["address"]["zip"]) == ("EKU9003173C9", "42501")
    assert (await api.get("teams/team_foreign")).status == 404

    created = await api.post(
        "teams",
        json={
            "brand": {"alias": "Sucursal"},
            "tax_id": "XIA190128J61",
            "generate_onboarding_url": True,
        },
    )
    assert created.status == 201
    assert created.data["onboarding_url"].startswith("https://")
    assert len((await api.get("teams")).data) == 3
    no_alias = await api.post("teams", json={"brand": {"primary_color": "#000"}})
    assert no_alias.body["error"]["details"] == ["brand.alias"]


async def test_series_counters_drive_folios(api) -> None:
    series = {s["series"]: s for s in (await api.get("teams/team_sandbox/series")).data}
    assert series["A"] == {"series": "A", "live": 0, "test": 0}
    assert (await api.post("teams/team_sandbox/series", json={"series": "A"})).status == 409
    moved = await api.put("teams/team_sandbox/series/A", json={"test": 499})
    assert moved.data["test"] == 499
    assert (await api.put("teams/team_sandbox/series/Q", json={"test": 1})).status == 404
    client = {
        "name": "X",
        "legal_name": "X SA",
        "tax_id": "PEGJ800101ABC",
        "tax_system": "601",
        "address": {"zip": "01000"},
    }
    client_id = (await api.post("clients", json=client)).data["id"]
    item = {"description": "a", "unit_price": 1}
    invoice = await api.post("invoices/income", json={"client": {"id": client_id}, "items": [item]})
    assert invoice.data["folio_number"] == 500
    after = {s["series"]: s for s in (await api.get("teams/team_sandbox/series")).data}
    assert after["A"]["test"] == 500


async def test_settings_merge_and_clear(api) -> None:
    first = await api.put(
        "teams/team_sandbox/settings",
        json={"emails": {"avoid_invoice_emails": True, "invoices_bcc": ["a@x.mx"]}, "use": "G03"},
    )
    assert first.data["use"] == "G03"
    merged = await api.put("teams/team_sandbox/settings", json={"emails": {"invoices_bcc": []}})
    assert merged.data["emails"] == {"avoid_invoice_emails": True, "invoices_bcc": []}
    cleared = await api.put("teams/team_sandbox/settings", json={"use": None})
    assert "use" not in cleared.data


async def test_delete_team_follows_the_docs(api) -> None:
    empty = (await api.post("teams", json={"brand": {"alias": "Vacío"}})).data
    deleted = await api.call("DELETE", f"teams/{empty['id']}")
    assert deleted.data["status"] == "pending_deletion"
    scheduled = deleted.data["scheduled_deletion"]
    assert scheduled["date"] - scheduled["flagged_at"] == 30 * 86_400_000  # ms
    again = await api.call("DELETE", f"teams/{empty['id']}")
    assert (again.status, again.error_code) == (409, "resource_conflict")

    await api.post("receipts", json={"items": [{"description": "x", "unit_price": 1}]})
    busy = await api.call("DELETE", "teams/team_sandbox")
    assert (busy.status, busy.error_code) == (400, "business_rule_violation")


async def test_members_and_users(api) -> None:
    user = await api.post("users", json={"email": "ana@example.com", "first_name": "Ana"})
    assert (user.status, user.data["invitation_sent"]) == (201, True)
    assert (await api.post("users", json={"email": "ana@example.com"})).status == 409
    assert [u["id"] for u in (await api.get("users")).data] == ["user_sandbox"]

    await api.post("teams/team_sandbox/add-member", json={"id": user.data["id"], "role": "editor"})
    members = {u["id"]: u["role"] for u in (await api.get("users")).data}
    assert members[user.data["id"]] == "editor"
    bad_role = await api.post(
        "teams/team_sandbox/add-member", json={"id": "user_sandbox", "role": "owner"}
    )
    assert bad_role.body["error"]["details"] == ["role"]
    removed = await api.post("teams/team_sandbox/remove-member", json={"id": user.data["id"]})
    assert removed.status == 200
    last_admin = await api.post("teams/team_sandbox/remove-member", json={"id": "user_sandbox"})
    assert last_admin.status == 400

    joined = await api.post(
        "users", json={"email": "leo@example.com", "auto_join": True, "role": "viewer"}
    )
    assert joined.data["id"] in {u["id"] for u in (await api.get("users")).data}
    renamed = await api.put(f"users/{joined.data['id']}", json={"first_name": "Leo"})
    assert renamed.data["name"] == "Leo"
    assert (await api.put(f"users/{joined.data['id']}", json={"email": "x@y.z"})).status == 400
    reset = await api.post("users/reset-password", json={"email": "leo@example.com"})
    assert reset.data["sent"] is True
    link = await api.post("users/login-link", json={"user_id": joined.data["id"]})
    assert link.data["url"].startswith("https://")


async def test_csd_and_manifest(api, sandbox: Sandbox) -> None:
    form = aiohttp.FormData()
    form.add_field("cert", b"\x30\x82cer", filename="csd.cer")
    form.add_field("key", b"\x30\x82key", filename="csd.key")
    missing = await api.post("teams/team_sandbox/sat-connection", data=form)
    assert missing.body["error"]["details"] == ["keyPass"]
    form = aiohttp.FormData()
    form.add_field("cert", b"\x30\x82cer", filename="csd.cer")
    form.add_field("key", b"\x30\x82key", filename="csd.key")
    form.add_field("keyPass", "s3cret")
    assert (await api.post("teams/team_sandbox/sat-connection", data=form)).status == 200
    assert (await api.get("teams/integrations")).data["sat"]["completed"] is True
    not_b64 = await api.post(
        "teams/team_sandbox/manifest/sign", json={"key": "***", "cert": "AA==", "password": "x"}
    )
    assert not_b64.body["error"]["details"] == ["key"]
    signed = await api.post(
        "teams/team_sandbox/manifest/sign", json={"key": "AA==", "cert": "AA==", "password": "x"}
    )
    assert signed.data["signed"] is True
    assert [e.type for e in sandbox.state.event_hook.emitted] == [
        "teams.sat.completed",
        "teams.sat.manifest.signed",
    ]
