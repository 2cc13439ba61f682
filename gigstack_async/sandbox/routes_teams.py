"""Teams (`/teams…`) and users (`/users…`).

A key sees its home team, its connected teams (gigstack Connect) and the teams it created; any
other team id is a 404 (GUESS: the real API may answer 403). Series are the folio counters the
stamping routes use (`live`/`test`; the sandbox is test mode). Delete team follows the docs:
soft delete to `pending_deletion`, 409 when already pending, 400 when the team has invoices,
payments or receipts.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from gigstack_async.sandbox import documents
from gigstack_async.sandbox.billing import ADDRESS_FIELDS
from gigstack_async.sandbox.core import CoreTeam, Record
from gigstack_async.sandbox.envelopes import ApiError, invalid, not_found
from gigstack_async.sandbox.routes_common import (
    TAX_SYSTEMS,
    check_code,
    check_rfc,
    core_of,
    created_status,
    cursor_list,
    emit,
    json_body,
    key_of,
    now_ms,
    now_s,
    optional_str,
    owner_of,
    respond,
    team_core,
)
from gigstack_async.sandbox.routing import Route

ROLES = frozenset({"admin", "editor", "viewer"})
_INTEGRATIONS = ("stripe", "openpay", "mercadopago", "paypal", "conekta", "clip", "bank")


def _visible(request: web.Request) -> list[str]:
    key = key_of(request)
    created = [
        team_id
        for team_id, team in core_of(request).created_teams.items()
        if team.get("_creator") == key.key
    ]
    return [key.home_team, *sorted(key.connected_teams), *created]


def _team(request: web.Request) -> CoreTeam:
    team_id = request.match_info["id"]
    if team_id not in _visible(request):
        raise not_found("Team", team_id)
    return core_of(request).team(team_id)


def _wire(core: CoreTeam) -> Record:
    team = {k: v for k, v in core.profile.items() if not k.startswith("_")}
    team["settings"] = core.settings
    team["members"] = [{"id": uid, "role": role} for uid, role in core.members.items()]
    team["sat"] = {"completed": core.csd is not None, "manifest_signed": core.manifest is not None}
    return team


async def list_teams(request: web.Request) -> web.Response:
    state = core_of(request)
    teams = [_wire(state.team(team_id)) for team_id in _visible(request)]
    return cursor_list(request, teams, "Teams retrieved successfully")


async def get_team(request: web.Request) -> web.Response:
    return respond(_wire(_team(request)), "Team retrieved successfully")


def _team_fields(body: dict[str, Any]) -> Record:
    fields: Record = {}
    for name in ("support_email", "support_phone", "legal_name", "name"):
        if name in body:
            fields[name] = optional_str(body, name)
    if body.get("tax_id") is not None:
        fields["tax_id"] = check_rfc(body["tax_id"], "tax_id")
    if "tax_system" in body:
        fields["tax_system"] = check_code(body, "tax_system", TAX_SYSTEMS)
    if body.get("brand") is not None:
        brand = body["brand"]
        if not isinstance(brand, dict):
            raise invalid("brand", "must be an object")
        fields["brand"] = brand
    if body.get("address") is not None:
        address = body["address"]
        if not isinstance(address, dict):
            raise invalid("address", "must be an object")
        clean = {k: address[k] for k in ADDRESS_FIELDS if address.get(k) is not None}
        if str(clean.get("country", "")).lower() in ("mexico", "méxico", "mx"):
            clean["country"] = "MEX"
        fields["address"] = clean
    return fields


async def create_team(request: web.Request) -> web.Response:
    body = await json_body(request)
    brand = body.get("brand")
    if isinstance(brand, dict) and not brand.get("alias"):
        raise invalid("brand.alias", "is required inside brand")
    if isinstance(body.get("address"), dict) and not body["address"].get("country"):
        raise invalid("address.country", "is required inside address")
    fields = _team_fields(body)
    state = core_of(request)
    team_id = state.new_id("team")
    profile: Record = {
        "id": team_id,
        "name": (brand or {}).get("alias") if isinstance(brand, dict) else None,
        **fields,
        "owner": owner_of(request),
        "status": "active",
        "created_at": now_s(request),
        "_creator": key_of(request).key,
    }
    if body.get("generate_onboarding_url"):
        profile["onboarding_url"] = f"https://onboarding.sandbox.gigstack.test/{team_id}"
    state.created_teams[team_id] = profile
    core = state.team(team_id)
    for n, member in enumerate(body.get("add_members") or []):
        if not isinstance(member, dict) or member.get("role") not in ROLES:
            raise invalid(f"add_members[{n}].role", "must be admin, editor or viewer")
        core.members[str(member.get("id"))] = member["role"]
    state.teams[team_id] = core
    emit(request, "teams.created", _wire(core))
    return respond(_wire(core), "Team created successfully", status=created_status(request))


async def update_team(request: web.Request) -> web.Response:
    core = _team(request)
    body = await json_body(request)
    if body.get("team") is not None and body["team"] != core.team_id:
        raise invalid("team", "differs from the team in the path")
    core.profile.update(_team_fields(body))
    return respond(_wire(core), "Team updated successfully")


async def delete_team(request: web.Request) -> web.Response:
    core = _team(request)
    if core.profile.get("status") == "pending_deletion":
        raise ApiError(409, "resource_conflict", f"Team {core.team_id} is already pending deletion")
    if len(core.invoices) or len(core.payments) or len(core.receipts):
        raise ApiError(
            400,
            "business_rule_violation",
            f"Team {core.team_id} has invoices, payments or receipts and cannot be deleted",
        )
    moment = now_ms(request)
    scheduled = {
        "date": moment + 30 * 86_400_000,
        "flagged_at": moment,
        "flagged_by": owner_of(request),
    }
    core.profile.update(status="pending_deletion", scheduled_deletion=scheduled)
    data = {"id": core.team_id, "status": "pending_deletion", "scheduled_deletion": scheduled}
    return respond(data, "Team scheduled for deletion")


async def team_integrations(request: web.Request) -> web.Response:
    """Integrations of the acting team (the `team` parameter; no path id)."""
    core = team_core(request)
    data = {name: {"completed": False} for name in _INTEGRATIONS}
    data["sat"] = {"completed": core.csd is not None}
    return respond(data, "Integrations retrieved successfully")


async def list_series(request: web.Request) -> web.Response:
    core = _team(request)
    return respond(list(core.series.values()), "Series retrieved successfully")


def _counter(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(name, "must be an integer >= 0 (the last folio used)")
    return value


async def create_series(request: web.Request) -> web.Response:
    core = _team(request)
    body = await json_body(request)
    name = body.get("series")
    if not isinstance(name, str) or not name.strip():
        raise invalid("series", "is required")
    if name in core.series:
        raise ApiError(409, "resource_already_exists", f"Series {name!r} already exists")
    core.series[name] = {
        "series": name,
        "live": _counter(body, "live") or 0,
        "test": _counter(body, "test") or 0,
    }
    return respond(core.series[name], "Series created successfully")  # the spec lists 200 only


async def update_series(request: web.Request) -> web.Response:
    core = _team(request)
    name = request.match_info["seriesId"]
    series = core.series.get(name)
    if series is None:
        raise not_found("Series", name)
    body = await json_body(request)
    for counter in ("live", "test"):
        value = _counter(body, counter)
        if value is not None:
            series[counter] = value
    return respond(series, "Series updated successfully")


async def update_settings(request: web.Request) -> web.Response:
    """Merge supplied fields; `null` clears one; `{}` leaves a group; arrays replace."""
    core = _team(request)
    body = await json_body(request)
    for name, value in body.items():
        current = core.settings.get(name)
        if value is None:
            core.settings.pop(name, None)
        elif isinstance(value, dict) and isinstance(current, dict):
            merged = {**current, **value}
            core.settings[name] = {k: v for k, v in merged.items() if v is not None}
        else:
            core.settings[name] = value
    return respond(core.settings, "Settings updated successfully")


async def onboarding_url(request: web.Request) -> web.Response:
    """A fresh onboarding link; each call rotates the portal challenge (FACT-CLI)."""
    core = _team(request)
    token = core_of(request).new_id("onb")
    core.profile["_onboarding_token"] = token
    data = {
        "onboarding_url": f"https://onboarding.sandbox.gigstack.test/{core.team_id}?t={token}",
        "expires_at": now_s(request) + 86_400,
    }
    return respond(data, "Onboarding URL generated")


async def add_member(request: web.Request) -> web.Response:
    core = _team(request)
    body = await json_body(request)
    user_id = body.get("id")
    role = body.get("role", "viewer")
    if role not in ROLES:
        raise invalid("role", "must be admin, editor or viewer")
    user = core_of(request).users.get(str(user_id))
    core.members[user["id"]] = role
    return respond({}, "Operation completed successfully")


async def remove_member(request: web.Request) -> web.Response:
    core = _team(request)
    body = await json_body(request)
    user_id = str(body.get("id"))
    if user_id not in core.members:
        raise not_found("Team member", user_id)
    if core.members[user_id] == "admin" and list(core.members.values()).count("admin") == 1:
        raise ApiError(400, "business_rule_violation", "Cannot remove the team's last admin")
    del core.members[user_id]
    return respond({}, "Operation completed successfully")


async def upload_csd(request: web.Request) -> web.Response:
    """multipart `cert` (.cer), `key` (.key), `keyPass` (FACT-CLI field names)."""
    core = _team(request)
    parts = await documents.read_form(request)
    for name in ("cert", "key", "keyPass"):
        if not parts.get(name, (None, b""))[1]:
            raise invalid(name, "is required (multipart part)")
    core.csd = {"uploaded_at": now_ms(request), "cert_size": len(parts["cert"][1])}
    emit(request, "teams.sat.completed", _wire(core))
    return respond({"completed": True}, "CSD uploaded successfully")


async def sign_manifest(request: web.Request) -> web.Response:
    """JSON `{key, cert}` as base64 plus `password` (FACT-CLI README)."""
    core = _team(request)
    body = await json_body(request)
    for name in ("key", "cert"):
        value = body.get(name)
        try:
            if not isinstance(value, str) or not base64.b64decode(value, validate=True):
                raise ValueError
        except (ValueError, binascii.Error):
            raise invalid(name, "must be the base64 of the FIEL file") from None
    if not isinstance(body.get("password"), str) or not body["password"]:
        raise invalid("password", "is required")
    core.manifest = {"signed_at": now_ms(request)}
    emit(request, "teams.sat.manifest.signed", _wire(core))
    return respond({"signed": True, "signed_at": core.manifest["signed_at"]}, "Manifest signed")


# --- users -------------------------------------------------------------------------------------

USER_TEXT = ("email", "first_name", "last_name", "phone", "company_role")


def _user_fields(body: dict[str, Any]) -> Record:
    fields: Record = {}
    for name in USER_TEXT:
        if name in body:
            fields[name] = optional_str(body, name)
    if body.get("address") is not None:
        if not isinstance(body["address"], dict):
            raise invalid("address", "must be an object")
        fields["address"] = {k: v for k, v in body["address"].items() if k != "municipality"}
    return fields


def _user_wire(user: Record, core: CoreTeam) -> Record:
    wire = dict(user)
    wire["role"] = core.members.get(user["id"], user.get("role"))
    return wire


async def list_users(request: web.Request) -> web.Response:
    core = team_core(request)
    users = [
        _user_wire(user, core) for user in core_of(request).users if user["id"] in core.members
    ]
    return cursor_list(request, users, "Users retrieved successfully")


async def get_user(request: web.Request) -> web.Response:
    core = team_core(request)
    user = core_of(request).users.get(request.match_info["id"])
    return respond(_user_wire(user, core), "User retrieved successfully")


async def create_user(request: web.Request) -> web.Response:
    body = await json_body(request)
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise invalid("email", "is required: the user's email address")
    state = core_of(request)
    if any(user.get("email") == email for user in state.users):
        raise ApiError(409, "resource_already_exists", f"A user with email {email!r} exists")
    role = body.get("role", "viewer")
    if role not in ROLES:
        raise invalid("role", "must be admin, editor or viewer")
    fields = _user_fields(body)
    name = " ".join(filter(None, [fields.get("first_name"), fields.get("last_name")]))
    user: Record = {
        "id": state.new_id("user"),
        **fields,
        "name": name or email,
        "role": "member",
        "created_at": now_s(request),
        "invitation_sent": True,
    }
    state.users.add(user)
    if body.get("auto_join"):
        team_core(request).members[user["id"]] = role
    return respond(user, "User created successfully", status=created_status(request))


async def update_user(request: web.Request) -> web.Response:
    user = core_of(request).users.get(request.match_info["id"])
    body = await json_body(request)
    if "email" in body:
        raise invalid("email", "cannot be changed with update")
    user.update(_user_fields(body))
    name = " ".join(filter(None, [user.get("first_name"), user.get("last_name")]))
    user["name"] = name or user["name"]
    return respond(user, "User updated successfully")


async def reset_password(request: web.Request) -> web.Response:
    """Docs body `{email}` (the older CLI's `/users/reset-password/{id}` is not served)."""
    state = core_of(request)
    body = await json_body(request, empty_ok=True)
    user_id = request.match_info.get("id")
    if user_id is not None:
        user = state.users.get(user_id)
    else:
        email = body.get("email")
        found = [u for u in state.users if u.get("email") == email]
        if not found:
            raise not_found("User with email", str(email))
        user = found[0]
    return respond({"email": user["email"], "sent": True}, "Password reset email sent")


async def login_link(request: web.Request) -> web.Response:
    body = await json_body(request)
    user = core_of(request).users.get(str(body.get("user_id")))
    token = core_of(request).new_id("tok")
    data = {
        "url": f"https://app.sandbox.gigstack.test/login?token={token}",
        "expires_at": now_s(request) + 3600,
        "user_id": user["id"],
    }
    return respond(data, "Login link generated")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/teams/integrations", "getTeamIntegrations", team_integrations),
    Route("GET", "/teams", "listTeams", list_teams),
    Route("POST", "/teams", "createTeam", create_team),
    Route("GET", "/teams/{id}", "getTeam", get_team),
    Route("PUT", "/teams/{id}", "updateTeam", update_team),
    Route("DELETE", "/teams/{id}", "deleteTeam", delete_team),
    Route("GET", "/teams/{id}/series", "getTeamSeries", list_series),
    Route("POST", "/teams/{id}/series", "createTeamSeries", create_series),
    Route("PUT", "/teams/{id}/series/{seriesId}", "updateTeamSeries", update_series),
    Route("PUT", "/teams/{id}/settings", "updateTeamSettings", update_settings),
    Route("GET", "/teams/{id}/onboarding-url", "getTeamOnboardingUrl", onboarding_url),
    Route("POST", "/teams/{id}/add-member", "addTeamMember", add_member),
    Route("POST", "/teams/{id}/remove-member", "removeTeamMember", remove_member),
    Route("POST", "/teams/{id}/sat-connection", "uploadTeamCsd", upload_csd),
    Route("POST", "/teams/{id}/manifest/sign", "signTeamManifest", sign_manifest),
    Route("POST", "/users/login-link", "generateUserLoginLink", login_link),
    Route("POST", "/users/reset-password", "resetUserPassword", reset_password),
    Route("GET", "/users", "listUsers", list_users),
    Route("POST", "/users", "createUser", create_user),
    Route("GET", "/users/{id}", "getUser", get_user),
    Route("PUT", "/users/{id}", "updateUser", update_user),
)
