"""Server profiles: each way the sandbox can disagree with the SDK's guesses does what it says.

A double that agrees with every guess proves nothing; these tests pin down that each profile
really plays its alternative (and only for what it names), so survival tests built on them can
trust that the disagreement happened.
"""

from __future__ import annotations

import argparse
from datetime import datetime

import attrs
import pytest

from gigstack_async.sandbox import (
    PROFILES,
    RefuseCreates,
    SandboxConfig,
    SatCodeRule,
    ServerProfile,
    profile,
    random_profile,
)
from gigstack_async.sandbox.__main__ import _parser, config_from_args

from .conftest import START

START_MS = int(START.timestamp() * 1000)
APRIL = ("2025-04-01", "2025-04-30")
MAY = ("2025-05-01", "2025-05-31")


def with_profile(config: SandboxConfig, *names: str, **knobs: object) -> SandboxConfig:
    chosen = profile(*names).combine(ServerProfile(**knobs))  # type: ignore[arg-type]
    return attrs.evolve(config, profile=chosen)


async def created(api, start: str = APRIL[0], end: str = APRIL[1], **extra: object) -> str:
    reply = await api.create(start, end, **extra)
    assert reply.status == 200, reply.body
    return str(reply.data["request_id"])


async def history(api) -> list[dict[str, object]]:
    reply = await api.get("invoices/download/schedule/history")
    assert reply.status == 200
    items: list[dict[str, object]] = reply.data["history"]
    return items


def finish(sandbox) -> None:
    sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)


# ---------------------------------------------------------------- clocks and createdAt units


@pytest.mark.parametrize(
    ("names", "knobs", "expected_ms"),
    [
        ((), {}, START_MS),
        (("clock-behind",), {}, START_MS - 750),
        (("clock-ahead",), {}, START_MS + 750),
        ((), {"clock_offset_seconds": -0.35}, START_MS - 350),
        ((), {"clock_offset_seconds": 3.2}, START_MS + 3200),
    ],
)
async def test_clock_offset_shifts_every_reported_instant(
    start_sandbox, config, names, knobs, expected_ms
) -> None:
    sandbox, api = await start_sandbox(with_profile(config, *names, **knobs))
    await created(api)
    finish(sandbox)

    (item,) = await history(api)

    assert item["createdAt"] == expected_ms
    completed = sandbox.state.download_requests[0].timeline.finished_ms
    assert item["completedAt"] == completed + (expected_ms - START_MS)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("agree", START_MS),
        ("created-at-seconds", START_MS // 1000),
        ("created-at-iso", "2025-06-15T12:00:00.000-06:00"),
        ("created-at-naive-mx", "2025-06-15T12:00:00.000"),
    ],
)
async def test_created_at_formats(start_sandbox, config, name: str, expected: object) -> None:
    _, api = await start_sandbox(with_profile(config, name))
    await created(api)

    (item,) = await history(api)

    assert item["createdAt"] == expected
    assert type(item["createdAt"]) is type(expected)


async def test_iso_created_at_names_the_same_instant_as_ms(start_sandbox, config) -> None:
    _, api = await start_sandbox(with_profile(config, "created-at-iso", "clock-behind"))
    await created(api)

    (item,) = await history(api)

    parsed = datetime.fromisoformat(str(item["createdAt"]))
    assert round(parsed.timestamp() * 1000) == START_MS - 750


async def test_seconds_lose_the_fraction_a_client_might_compare_against(
    start_sandbox, config
) -> None:
    # A request made at .999 s reports the whole second before: "created before I sent it".
    late = attrs.evolve(config, start=START.replace(microsecond=999_000))
    _, api = await start_sandbox(with_profile(late, "created-at-seconds"))
    await created(api)

    (item,) = await history(api)

    assert item["createdAt"] * 1000 < START_MS + 999  # type: ignore[operator]


async def test_server_today_follows_its_clock(start_sandbox, config) -> None:
    # 23:59:59.5 in Mexico City; a server 1 s ahead already lives on the next day.
    edge = datetime.fromisoformat("2025-06-16T05:59:59.500+00:00")
    sandbox, api = await start_sandbox(
        attrs.evolve(config, start=edge, profile=ServerProfile(clock_offset_seconds=1.0))
    )

    reply = await api.create("2025-06-16", "2025-06-16")

    assert reply.status == 200, reply.body
    assert sandbox.state.server_today().isoformat() == "2025-06-16"
    assert sandbox.clock.today_mx().isoformat() == "2025-06-15"


# ---------------------------------------------------------------- fields left out


async def test_documented_fields_only(start_sandbox, config) -> None:
    sandbox, api = await start_sandbox(with_profile(config, "documented-fields"))
    request_id = await created(api)
    finish(sandbox)

    (item,) = await history(api)
    status = (await api.get(f"invoices/download/status/{request_id}")).data

    assert "requestType" not in item
    assert "packageIds" not in item
    assert item["invoiceCount"] == len(sandbox.state.ground_truth[request_id])  # documented
    assert "invoice_count" not in status
    assert status["package_ids"] == [f"{request_id}_01"]  # the only source of package ids


async def test_no_counts_leaves_completed_without_anything_to_count(start_sandbox, config) -> None:
    sandbox, api = await start_sandbox(with_profile(config, "no-counts"))
    request_id = await created(api)
    finish(sandbox)

    (item,) = await history(api)
    status = (await api.get(f"invoices/download/status/{request_id}")).data

    assert item["status"] == "completed"
    assert not {"invoiceCount", "processedCount", "packageIds"} & item.keys()
    assert "invoice_count" not in status
    assert sandbox.state.ground_truth[request_id]  # yet SAT delivered CFDIs


async def test_no_package_ids_anywhere(start_sandbox, config) -> None:
    sandbox, api = await start_sandbox(with_profile(config, "no-package-ids"))
    request_id = await created(api)
    finish(sandbox)

    (item,) = await history(api)
    status = (await api.get(f"invoices/download/status/{request_id}")).data

    assert "packageIds" not in item
    assert "package_ids" not in status
    assert status["status"] == "completed"


def test_only_fields_a_server_may_leave_out_can_be_omitted() -> None:
    with pytest.raises(ValueError, match=r"history\.id"):
        ServerProfile(omit_fields={"history.id"})
    with pytest.raises(ValueError, match=r"status\.status"):
        ServerProfile(omit_fields={"status.status"})


# ---------------------------------------------------------------- request ids that restart


async def test_sequential_ids_restart_with_every_server_whatever_the_seed(
    start_sandbox, config
) -> None:
    _, first = await start_sandbox(with_profile(config, "ids-restart"))
    _, second = await start_sandbox(with_profile(attrs.evolve(config, seed=99), "ids-restart"))

    one = await created(first, *APRIL)
    other = await created(second, *MAY, rfc_type="received")

    assert one == other == "DM-000001"


async def test_restart_reuses_an_old_id_for_a_different_request(start_sandbox, config) -> None:
    sandbox, api = await start_sandbox(config)
    old = await created(api, *APRIL)
    sandbox.state.restart_request_ids()

    new = await created(api, *MAY, rfc_type="received")
    status = await api.get(f"invoices/download/status/{new}")

    assert new == old
    (item,) = await history(api)
    assert (item["startDate"], item["rfcType"]) == (MAY[0], "received")
    assert status.status == 200
    assert len(sandbox.state.charges) == 2  # both were billed


async def test_billing_view_counts_a_reused_id_for_the_month_it_was_made_for(
    start_sandbox, config
) -> None:
    # Review 9f #6: the billing view looked each charge's id up again, and a reused id then
    # counted every create made under it for its newest request's month.
    sandbox, api = await start_sandbox(config)
    await created(api, *APRIL)
    sandbox.state.restart_request_ids()
    await created(api, *MAY)
    sandbox.state.restart_request_ids()
    await created(api, *MAY)

    counts = sandbox.state.creates_per_month()

    assert counts == {
        ("team_sandbox", "2025-04", "issued", "cfdi"): 1,
        ("team_sandbox", "2025-05", "issued", "cfdi"): 2,
    }
    assert sandbox.state.billed_creates("2025-04") == 1
    assert sandbox.state.billed_creates("2025-05") == 2


# ---------------------------------------------------------------- filtered or short history


async def test_filtered_history_lists_only_some_request_types(start_sandbox, config) -> None:
    _, api = await start_sandbox(with_profile(config, "cfdi-only-history"))
    metadata = await created(api, *APRIL, request_type="metadata")
    cfdi = await created(api, *APRIL, request_type="cfdi")

    listed = [item["id"] for item in await history(api)]

    assert listed == [cfdi]
    assert (await api.get(f"invoices/download/status/{metadata}")).status == 200


async def test_rfc_type_filter(start_sandbox, config) -> None:
    _, api = await start_sandbox(with_profile(config, history_rfc_types=frozenset({"received"})))
    await created(api, *APRIL, rfc_type="issued")
    received = await created(api, *APRIL, rfc_type="received")

    assert [item["id"] for item in await history(api)] == [received]


async def test_short_history(start_sandbox, config) -> None:
    _, api = await start_sandbox(attrs.evolve(config, history_limit=2))
    ids = [await created(api, f"2025-0{m}-01", f"2025-0{m}-28") for m in (1, 2, 3)]

    assert [item["id"] for item in await history(api)] == ids[:0:-1]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ((), ["feb", "jan"]),  # newest by creation: the last two created
        (("history-by-period",), ["mar", "feb"]),  # newest by startDate, whenever created
    ],
)
async def test_history_order_by_period(start_sandbox, config, names, expected) -> None:
    _, api = await start_sandbox(attrs.evolve(with_profile(config, *names), history_limit=2))
    ids = {
        name: await created(api, f"2025-0{m}-01", f"2025-0{m}-28")
        for name, m in (("mar", 3), ("jan", 1), ("feb", 2))
    }

    assert [item["id"] for item in await history(api)] == [ids[n] for n in expected]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ((), ["b", "a"]),  # by creation: b (pending) was created last
        (("history-by-update",), ["a", "b"]),  # a completed after b was created
    ],
)
async def test_history_order_by_last_status_change(start_sandbox, config, names, expected) -> None:
    sandbox, api = await start_sandbox(with_profile(config, *names))
    ids = {"a": await created(api, *APRIL), "b": await created(api, *MAY)}
    now = sandbox.clock.now_ms()
    a, b = sandbox.state.download_requests
    a.timeline = attrs.evolve(
        a.timeline, accepted_ms=now + 1000, processing_ms=now + 2000, finished_ms=now + 3000
    )
    b.timeline = attrs.evolve(b.timeline, accepted_ms=now + 10**9)  # stays pending
    sandbox.clock.advance(5)

    items = await history(api)

    assert [item["id"] for item in items] == [ids[n] for n in expected]
    assert [item["status"] for item in items if item["id"] == ids["a"]] == ["completed"]


def test_history_order_profiles_combine_and_describe() -> None:
    both = profile("cfdi-only-history", "history-by-period")
    assert both.history_order == "period"
    assert both.history_request_types == frozenset({"cfdi"})
    assert profile("history-by-update").describe() == (
        "history keeps the newest by last status change"
    )
    assert profile("history-by-period").describe() == (
        "history keeps the newest by period (startDate)"
    )
    with pytest.raises(ValueError, match="history_order must be one of"):
        ServerProfile(history_order="id")  # type: ignore[arg-type]


# ---------------------------------------------------------------- SAT codes on chosen months


@pytest.mark.parametrize("code", [5002, 5005])
async def test_create_phase_codes_refuse_without_billing(start_sandbox, config, code) -> None:
    rule = SatCodeRule(code, "2025-04")
    sandbox, api = await start_sandbox(with_profile(config, sat_codes=(rule,)))

    refused = await api.create(*APRIL)
    other = await api.create(*MAY)

    assert refused.status == 400
    assert f"SAT {code}" in refused.body["message"]
    assert other.status == 200  # only the chosen month
    assert sandbox.state.billed_creates("2025-04") == 0
    assert sandbox.state.billed_creates("2025-05") == 1
    assert [r.criteria.start_date.isoformat() for r in sandbox.state.refused_creates] == [APRIL[0]]


async def test_5005_answers_the_earlier_request_as_a_duplicate(start_sandbox, config) -> None:
    sandbox, api = await start_sandbox(config)
    first = await created(api, *APRIL)
    finish(sandbox)  # terminal: without the rule a second create would be a new, billed request
    sandbox.state.profile = ServerProfile(sat_codes=(SatCodeRule(5005, "2025-04", times=1),))

    again = await api.create(*APRIL)
    later = await api.create(*APRIL)

    assert again.data == {"request_id": first, "duplicate": True, "status": "completed"}
    assert later.data["duplicate"] is False  # the rule fired once
    assert sandbox.state.billed_creates("2025-04") == 2


async def test_5005_as_a_refusal_refuses_even_with_the_active_request_listed(
    start_sandbox, config
) -> None:
    # How gigstack reports SAT 5005 is a GUESS: here it passes SAT's refusal on instead of
    # answering the active identical request as a duplicate.
    sandbox, api = await start_sandbox(config)
    first = await created(api, *APRIL)  # active, in the history
    sandbox.state.profile = ServerProfile(
        sat_codes=(SatCodeRule(5005, "2025-04", times=1, duplicate_as="refused"),)
    )

    refused = await api.create(*APRIL)
    later = await api.create(*APRIL)

    assert refused.status == 400
    assert "SAT 5005: Solicitud duplicada" in refused.body["message"]
    assert later.data == {"request_id": first, "duplicate": True, "status": "pending"}
    assert sandbox.state.billed_creates("2025-04") == 1
    assert len(sandbox.state.refused_creates) == 1


async def test_5005_as_a_failed_request_creates_one_that_fails(start_sandbox, config) -> None:
    sandbox, api = await start_sandbox(config)
    first = await created(api, *APRIL)
    sandbox.state.profile = ServerProfile(
        sat_codes=(SatCodeRule(5005, "2025-04", times=1, duplicate_as="failed"),)
    )

    second = await created(api, *APRIL)
    finish(sandbox)

    assert second != first
    status = (await api.get(f"invoices/download/status/{second}")).data
    assert status["status"] == "failed"
    assert "SAT 5005: Solicitud duplicada" in status["status_message"]
    assert (await api.get(f"invoices/download/status/{first}")).data["status"] == "completed"
    assert sandbox.state.billed_creates("2025-04") == 2  # gigstack created it: billed (GUESS)


def test_duplicate_as_is_checked() -> None:
    with pytest.raises(ValueError, match="duplicate_as is for SAT 5005 only"):
        SatCodeRule(5002, duplicate_as="refused")
    with pytest.raises(ValueError, match="duplicate_as must be one of"):
        SatCodeRule(5005, duplicate_as="ignored")  # type: ignore[arg-type]
    assert SatCodeRule(5005).phase == "create"
    assert SatCodeRule(5005, duplicate_as="refused").phase == "submit"
    assert SatCodeRule(5005, duplicate_as="failed").phase == "submit"


@pytest.mark.parametrize("code", [5003, 5004, 5011, 305])
async def test_verify_phase_codes_fail_the_request(start_sandbox, config, code) -> None:
    rule = SatCodeRule(code, "2025-04")
    sandbox, api = await start_sandbox(with_profile(config, sat_codes=(rule,)))
    april = await created(api, *APRIL)
    may = await created(api, *MAY)
    finish(sandbox)

    status = (await api.get(f"invoices/download/status/{april}")).data
    normal = (await api.get(f"invoices/download/status/{may}")).data

    assert status["status"] == "failed"
    assert f"SAT {code}" in status["status_message"]
    assert status["package_ids"] == []
    assert normal["status"] == "completed"
    assert sandbox.state.billed_creates("2025-04") == 1  # SAT accepted it: it was billed
    if code == 5004:
        assert sandbox.state.ground_truth[april] == frozenset()  # the period is truly empty


@pytest.mark.parametrize(("code", "http"), [(5007, 404), (5008, 400)])
async def test_download_phase_codes(start_sandbox, config, code, http) -> None:
    rule = SatCodeRule(code, "2025-04", rfc_type="issued")
    sandbox, api = await start_sandbox(with_profile(config, sat_codes=(rule,)))
    april = await created(api, *APRIL)
    may = await created(api, *MAY)
    finish(sandbox)

    gone = await api.get(f"invoices/download/package/{april}_01")
    fine = await api.get(f"invoices/download/package/{may}_01")

    assert gone.status == http
    assert f"SAT {code}" in gone.body["message"]
    assert fine.status == 200
    assert sandbox.state.downloads_per_package()[f"{april}_01"] == 0  # nothing was served


async def test_sat_code_times_then_normal(start_sandbox, config) -> None:
    rule = SatCodeRule(5002, "2025-04", times=1)
    sandbox, api = await start_sandbox(with_profile(config, sat_codes=(rule,)))

    first = await api.create(*APRIL)
    second = await api.create(*APRIL)

    assert (first.status, second.status) == (400, 200)
    assert sandbox.state.billed_creates("2025-04") == 1


def test_unknown_sat_code_and_month_are_rejected() -> None:
    with pytest.raises(ValueError, match="5006"):
        SatCodeRule(5006)
    with pytest.raises(ValueError, match="YYYY-MM"):
        SatCodeRule(5004, "2025-13")


# ---------------------------------------------------------------- refused creates


async def test_refused_create_then_reactivated(start_sandbox, config) -> None:
    sandbox, api = await start_sandbox(with_profile(config, "refused-create"))

    refused = await api.create(*APRIL)
    accepted = await api.create(*APRIL)

    assert (refused.status, refused.error_code) == (400, "business_rule_violation")
    assert "not active" in refused.body["message"]
    assert accepted.status == 200
    assert sandbox.state.billed_creates("2025-04") == 1
    assert len(sandbox.state.refused_creates) == 1


async def test_refusals_can_target_months_and_statuses(start_sandbox, config) -> None:
    refuse = RefuseCreates(times=2, months=frozenset({"2025-05"}), status=402, code="forbidden")
    sandbox, api = await start_sandbox(with_profile(config, refuse_creates=refuse))

    statuses = [(await api.create(*APRIL)).status] + [
        (await api.create(*MAY)).status for _ in range(3)
    ]

    assert statuses == [200, 402, 402, 200]
    assert sandbox.state.billed_creates("2025-05") == 1


def test_refusal_must_be_a_4xx_that_proves_nothing_was_billed() -> None:
    for status in (408, 429, 500, 200):
        with pytest.raises(ValueError, match="4xx"):
            RefuseCreates(status=status)


async def test_deactivated_descarga_masiva_refuses_then_reactivation_accepts(sandbox, api) -> None:
    team = sandbox.state.team("team_sandbox")
    team.deactivate()
    refused = await api.create(*APRIL)
    assert (await api.post("invoices/download/activate")).status == 200
    team.register(team.registration)  # type: ignore[arg-type]  # deactivation turned sync off

    accepted = await api.create(*APRIL)

    assert refused.status == 400
    assert accepted.status == 200
    assert sandbox.state.billed_creates("2025-04") == 1


# ---------------------------------------------------------------- SAT's package limits


async def test_two_downloads_per_package_by_default(sandbox, api) -> None:
    request_id = await created(api)
    finish(sandbox)
    package = f"{request_id}_01"

    replies = [await api.get(f"invoices/download/package/{package}") for _ in range(3)]

    assert [reply.status for reply in replies] == [200, 200, 400]
    assert "SAT 5008" in replies[2].body["message"]
    assert sandbox.state.downloads_per_package() == {package: 2}
    assert sandbox.config.max_package_downloads == 2


async def test_package_lives_72_hours(sandbox, api) -> None:
    request_id = await created(api)
    finish(sandbox)
    sandbox.clock.advance(72 * 3600 - 1)
    last_moment = await api.get(f"invoices/download/package/{request_id}_01")
    sandbox.clock.advance(1)

    gone = await api.get(f"invoices/download/package/{request_id}_01")

    assert last_moment.status == 200
    assert gone.status == 404
    assert "SAT 5007" in gone.body["message"]


async def test_billing_view_counts_creates_per_month_and_type(sandbox, api) -> None:
    await created(api, *APRIL)
    await created(api, *APRIL, request_type="metadata")
    await created(api, *APRIL)  # duplicate of an active request: not billed

    counts = sandbox.state.creates_per_month()

    assert counts == {
        ("team_sandbox", "2025-04", "issued", "cfdi"): 1,
        ("team_sandbox", "2025-04", "issued", "metadata"): 1,
    }
    assert sandbox.state.billed_creates("2025-04", request_type="cfdi") == 1


# ---------------------------------------------------------------- combining and selecting


async def test_profiles_combine(start_sandbox, config) -> None:
    chosen = profile("documented-fields", "created-at-seconds", "clock-behind", "ids-restart")
    _, api = await start_sandbox(attrs.evolve(config, profile=chosen))
    request_id = await created(api)

    (item,) = await history(api)

    assert request_id == "DM-000001"
    assert item["createdAt"] == (START_MS - 750) // 1000
    assert "requestType" not in item


def test_combine_lets_the_later_profile_win_and_adds_rules() -> None:
    a = ServerProfile(clock_offset_seconds=1.0, sat_codes=(SatCodeRule(5004, "2024-01"),))
    b = ServerProfile(created_at_format="s", sat_codes=(SatCodeRule(5003, "2024-02"),))

    both = a.combine(b)

    assert both.clock_offset_seconds == 1.0
    assert both.created_at_format == "s"
    assert [rule.code for rule in both.sat_codes] == [5004, 5003]
    assert profile("clock-ahead", "clock-behind").clock_offset_seconds == -0.75


def test_unknown_profile_name() -> None:
    with pytest.raises(ValueError, match="unknown sandbox profile 'nope'"):
        profile("nope")


def test_random_profile_is_seeded() -> None:
    drawn = [random_profile(seed) for seed in range(40)]

    assert drawn == [random_profile(seed) for seed in range(40)]
    assert len({p.created_at_format for p in drawn}) == 4
    assert len({p.request_ids for p in drawn}) == 2
    assert {p.history_order for p in drawn} == {"created", "period", "updated"}
    assert any(p.clock_offset_seconds < 0 for p in drawn)
    assert any(p.clock_offset_seconds > 0 for p in drawn)


def test_command_line_selects_profiles() -> None:
    args = _parser().parse_args(
        [
            "--profile",
            "documented-fields",
            "--profile",
            "created-at-naive-mx",
            "--clock-offset",
            "-0.4",
            "--sat-code",
            "2024-03:5004",
            "--history-limit",
            "5",
        ]
    )

    config = config_from_args(args)

    assert config.profile.created_at_format == "iso_mexico_naive"
    assert config.profile.clock_offset_seconds == -0.4
    assert "history.requestType" in config.profile.omit_fields
    assert config.profile.sat_codes == (SatCodeRule(5004, "2024-03", whole_month=True),)
    assert config.history_limit == 5


def test_cli_lists_every_profile() -> None:
    from gigstack_async.cli.commands.sandbox import PROFILE_NAMES

    assert tuple(sorted(PROFILES)) == PROFILE_NAMES


def test_gigstack_cli_sandbox_accepts_profiles() -> None:
    from gigstack_async.cli.app import build_parser

    parsed = build_parser().parse_args(
        ["sandbox", "--profile", "no-counts", "--sat-code", "2024-01:5008"]
    )
    namespace = argparse.Namespace(**vars(parsed))
    config = config_from_args(namespace)
    assert "status.invoice_count" in config.profile.omit_fields
    assert config.profile.sat_codes[0].code == 5008


@pytest.mark.gigstack_profile("created-at-seconds", "documented-fields")
def test_pytest_marker_selects_profiles(gigstack_sandbox_config: SandboxConfig) -> None:
    assert gigstack_sandbox_config.profile == profile("created-at-seconds", "documented-fields")
    assert gigstack_sandbox_config.speed == 3000


def test_a_profile_describes_how_it_disagrees_for_the_reliability_report() -> None:
    from gigstack_async.sandbox.profiles import ServerProfile, profile

    assert ServerProfile().describe() == "agrees"
    assert profile("clock-ahead", "created-at-seconds").describe() == (
        "clock +0.75 s, createdAt as s"
    )
    assert profile("ids-restart", "cfdi-only-history", "refused-create").describe() == (
        "sequential ids restarting, history lists only cfdi, first 1 create(s) refused"
    )
    assert profile("no-package-ids").describe() == "no history.packageIds, no status.package_ids"


def test_lost_create_lag_is_a_knob_that_combines_and_describes_itself() -> None:
    lagging = ServerProfile(lost_create_lag=30)
    assert lagging.describe() == "a lost create listed 30 s late"
    assert profile("agree").combine(lagging).lost_create_lag == 30
    assert lagging.combine(profile("history-by-update")).lost_create_lag == 30
    with pytest.raises(ValueError, match="lost_create_lag"):
        ServerProfile(lost_create_lag=-1)
