"""Newcomer walk 9e: the hints' commands run as printed.

#4: the SAT 5003 hint said "split the period ... `journal split cfdi 2024-03 <part folder> <part
folder>`" with no command to copy, although the README says hints give the commands written
out for your folder.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from gigstack_async.sandbox import Sandbox

from ._support import download_argv as _download
from .conftest import SECRET_KEY

COMMAND = re.compile(r"`(gigstack-async (?:sat download|journal split) [^`]+)`")


async def test_the_5003_hint_prints_the_part_downloads_and_the_split_to_copy(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    from gigstack_async.cli.app import build_parser
    from gigstack_async.cli.commands.sandbox import profile_from_args

    args = build_parser().parse_args(["sandbox", "--sat-code", "2025-03:5003"])
    sandbox: Sandbox = await make_sandbox(profile=profile_from_args(args))
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    argv = _download(Path("cfdi"), "--yes", first="2025-03", last="2025-03")
    whole = await raw_cli(*argv, env=env, cwd=tmp_path)
    assert whole.code == 1
    summary = " ".join(whole.stdout.split("Summary", 1)[1].split())
    printed = list(dict.fromkeys(COMMAND.findall(summary)))
    assert printed == [
        "gigstack-async sat download --from 2025-03-01 --to 2025-03-15 --rfc-type received "
        "--out cfdi-2025-03a",
        "gigstack-async sat download --from 2025-03-16 --to 2025-03-31 --rfc-type received "
        "--out cfdi-2025-03b",
        "gigstack-async journal split cfdi 2025-03 cfdi-2025-03a cfdi-2025-03b",
    ], summary
    # `journal show` writes the same commands for the folder it is given.
    shown = await raw_cli("journal", "show", "cfdi", env=env, cwd=tmp_path)
    assert shown.code == 0, shown.stderr
    assert printed[0] in " ".join(shown.stdout.split())
    # Copied as printed (plus --yes and a fast poll, as without a terminal), each part is done
    # and the split records the month: the folder's run then ends ok, nothing sent again.
    for command in printed[:2]:
        part = await raw_cli(
            *shlex.split(command)[1:], "--yes", "--poll-interval", "0.02", env=env, cwd=tmp_path
        )
        assert part.code == 0, part.stdout + part.stderr
    split = await raw_cli(*shlex.split(printed[2])[1:], env=env, cwd=tmp_path)
    assert split.code == 0, split.stdout + split.stderr
    assert "2025-03 is now split" in split.stdout
    creates = len(sandbox.state.calls_to("createDownloadRequest"))
    again = await raw_cli(*argv, env=env, cwd=tmp_path)
    assert again.code == 0, again.stdout
    assert len(sandbox.state.calls_to("createDownloadRequest")) == creates


async def test_a_one_day_5003_hint_prints_no_split_and_its_metadata_command_runs(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    # Was "split the period ... e.g. in two halves: `sat download --from 2025-03-31 --to
    # 2025-03-31 ... --out cfdi-2025-03a`": the very request SAT had just refused, billed again.
    from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile

    rule = SatCodeRule(5003, month="2025-03", request_type="cfdi")
    sandbox: Sandbox = await make_sandbox(profile=ServerProfile(sat_codes=(rule,)))
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    argv = _download(Path("cfdi"), "--yes", first="2025-03-31", last="2025-03-31")
    day = await raw_cli(*argv, env=env, cwd=tmp_path)
    assert day.code == 1
    summary = " ".join(day.stdout.split("Summary", 1)[1].split())
    assert "one day cannot be split by dates" in summary
    printed = list(dict.fromkeys(COMMAND.findall(summary)))
    assert printed == [
        "gigstack-async sat download --from 2025-03-31 --to 2025-03-31 --rfc-type received "
        "--type metadata --out cfdi-2025-03a",
    ], summary
    # Copied as printed, the metadata request for that day is done in its own folder.
    listed = await raw_cli(
        *shlex.split(printed[0])[1:], "--yes", "--poll-interval", "0.02", env=env, cwd=tmp_path
    )
    assert listed.code == 0, listed.stdout + listed.stderr
    assert "received metadata, 2025-03-31 to 2025-03-31" in listed.stdout
    assert "1 ok, 0 not ok" in listed.stdout


# #7: the held and adopt hints print commands without --yes (the confirmation is the point), and
# without a terminal `journal adopt` refused with "adopt trusts your word: pass --yes (-y)"
# after its whole paragraph: now the refusal prints the command to run again, --yes added.

ADOPT = re.compile(r"`(gigstack-async journal adopt [^`]+)`")


async def test_a_printed_adopt_refused_without_a_terminal_prints_itself_with_yes(
    sandbox: Sandbox, raw_cli, tmp_path: Path
) -> None:
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    first = await raw_cli(*_download(Path("cfdi"), "--yes", last="2025-01"), env=env, cwd=tmp_path)
    assert first.code == 0, first.stdout
    held = await raw_cli(*_download(Path("cfdi-b"), "--yes", last="2025-01"), env=env, cwd=tmp_path)
    printed = ADOPT.search(" ".join(held.stdout.split()))
    assert printed is not None, held.stdout
    assert "--yes" not in printed.group(1)
    refused = await raw_cli(*shlex.split(printed.group(1))[1:], env=env, cwd=tmp_path)
    assert refused.code == 2
    again = re.search(r"pass --yes \(-y\) to confirm: `([^`]+)`", refused.stderr)
    assert again is not None, refused.stderr
    assert again.group(1) == f"{printed.group(1)} --yes"
    adopted = await raw_cli(*shlex.split(again.group(1))[1:], env=env, cwd=tmp_path)
    assert adopted.code == 0, adopted.stderr
    assert "now follows request" in adopted.stdout


def test_the_command_to_run_again_never_carries_the_api_key() -> None:
    from gigstack_async.cli.context import Context
    from gigstack_async.cli.redact import Redactor
    from gigstack_async.cli.ui import Ui

    argv = ("--api-key", "sk_live_x", "journal", "adopt", "my dir", "2025-01", "--api-key=sk_y")
    ctx = Context(Ui(Redactor()), Redactor(), arguments=argv)
    assert ctx.command_with("--yes") == "gigstack-async journal adopt 'my dir' 2025-01 --yes"


def test_the_command_to_run_again_says_it_needs_the_api_key_it_dropped() -> None:
    # newcomer 9j F6: `journal rebind DIR --api-key NEW` without a terminal printed
    # `gigstack-async journal rebind DIR --yes`; copied as shown it had no key, or the old one.
    from gigstack_async.cli.context import Context
    from gigstack_async.cli.redact import Redactor
    from gigstack_async.cli.ui import Ui

    keyed = ("journal", "rebind", "./cfdiA", "--api-key", "sk_live_rotated")
    ctx = Context(Ui(Redactor()), Redactor(), arguments=keyed)
    again = ctx.again_with("--yes")
    assert again == (
        "`gigstack-async journal rebind ./cfdiA --yes` with the same API key (the --api-key "
        "value is never printed: pass it again, or set GIGSTACK_API_KEY to it)"
    )
    assert "sk_live_rotated" not in again
    plain = Context(Ui(Redactor()), Redactor(), arguments=("journal", "rebind", "./cfdiA"))
    assert plain.again_with("--yes") == "`gigstack-async journal rebind ./cfdiA --yes`"
