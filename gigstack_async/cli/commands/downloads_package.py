"""`gigstack-async downloads package PACKAGE_ID --out DIR`: fetch one package by its id and
extract it, the way `sat download` does (staged durably first, then extracted atomically).

For a month `sat download` cannot finish by itself because the server gave no package ids
(newcomer 9g #7): the user learns the ids from `downloads status` or from gigstack. The journal
is not touched: this command does not know which month, if any, the package belongs to.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from gigstack_async._atomic import fsync_dir
from gigstack_async.bulk.engine import error_sat_code
from gigstack_async.cli import exitcodes
from gigstack_async.cli.context import Context
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.parser import PROG, command_parser
from gigstack_async.cli.runner import run_command
from gigstack_async.errors import (
    APIConnectionError,
    AuthenticationError,
    DownloadInterruptedError,
    GigstackError,
    IncompleteResponseError,
    NotFoundError,
    OutcomeUnknownError,
)
from gigstack_async.packages import ExtractResult, PackageError, extract_staged, verify_staged

# Its own staging folder, never the bulk's (`STAGING_DIR`): a `sat download --out DIR` starting
# while this command streams clears stale temp files in its staging folder, and would delete
# this in-flight download (review 9p finding 2). No bulk run reads or clears this folder.
PACKAGE_STAGING_DIR = ".gigstack-package"

EPILOG = f"""\
examples:
  {PROG} downloads status 3F2A9C1B-0C4D-4E8F-9A1B-2C3D4E5F6A7B   # its package ids, if given
  {PROG} downloads package 3F2A9C1B-0C4D-4E8F-9A1B-2C3D4E5F6A7B_01 --out ./cfdi/2024-03

Where the package id comes from: the "packages" row of `{PROG} downloads status REQUEST_ID`
(or its "message", when it names them). When gigstack gives no package ids for a completed
request, gigstack support (or its dashboard, Descarga Masiva) can tell them: ask with the
request id.

SAT serves each package at most twice (then SAT 5008), and only for 72 h after the request
completed (then 5007). Each download this command sends spends one of those two, also those of
a package `sat download` already fetched (`{PROG} journal show DIR MONTH` says how many it
counted). A run that stops after the package arrived keeps it staged in
DIR/{PACKAGE_STAGING_DIR} (its own folder, never that of a `sat download`):
the same command then extracts it again without downloading.

exit codes: 0 ok; 2 invalid input or not confirmed (nothing sent); 3 key refused; 4 API error
(e.g. 404 unknown package, SAT 5007/5008) or a package that fails verification or extraction;
5 unreachable."""

RISK = (
    "Downloading package {package} spends one of SAT's 2 downloads of it (SAT answers 5008 "
    "after two, however they were sent: by `sat download`, by this command or elsewhere; "
    "packages expire 72 h after the request completed). It is extracted into {folder}. The "
    "bulk journal is not changed."
)


def register(downloads: Any) -> None:
    """Add `downloads package` to the `downloads` group."""
    parser = command_parser(
        downloads,
        "package",
        help="download one package by its id and extract it (spends one of SAT's 2 downloads)",
        description="Download one package of a completed request by its id and extract its "
        "files into --out: for a request whose package ids `sat download` cannot learn (the "
        "server gave none) or that was made elsewhere. The package is streamed to a staging "
        f"file in DIR/{PACKAGE_STAGING_DIR}, verified (names, sizes, every CRC), then "
        "extracted (each file written under a temporary name and renamed, so no partial file "
        "is ever seen), then the staged copy is deleted. Each run that sends the GET spends "
        "one of SAT's 2 downloads of the package, so it asks first (--yes: do not ask; "
        "required without a terminal); a failure once the GET left says the download may "
        "have been spent. A staged copy left by an earlier run is extracted without downloading. "
        "A file already in --out with other content is never replaced: the command stops "
        "before writing anything and keeps the package staged. The bulk journal is not "
        "changed.",
        epilog=EPILOG,
    )
    parser.add_argument("package_id", metavar="PACKAGE_ID", help="the package's id")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="folder to extract the files into (created if missing), e.g. the month's folder "
        "of a `sat download` (./cfdi/2024-03)",
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask before spending one of SAT's 2 downloads of the package",
    )
    parser.set_defaults(func=run_package)


def _safe(package_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in package_id)[:120]


def staged_path(folder: Path, package_id: str) -> Path:
    """Where the package is staged: in DIR/.gigstack-package, a folder no `sat download` uses
    or clears (its start clears stale temp files in its own staging folder). An id the name
    cannot hold as is gets a digest too: two ids never share a staged copy."""
    name = _safe(package_id)
    if name != package_id:
        name += "-" + hashlib.sha256(package_id.encode()).hexdigest()[:16]
    return folder / PACKAGE_STAGING_DIR / f"package-{name}.zip"


def _usable(path: Path) -> bool:
    """A complete, verified staged copy is there (an earlier run stopped after it arrived)."""
    if not path.is_file():
        return False
    try:
        verify_staged(path)
    except (PackageError, OSError):
        return False
    return True


def _confirm(ctx: Context, question: str, *, yes: bool) -> bool:
    if yes:
        return True
    if ctx.ui.stdout_closed:
        raise UsageError("stdout was closed before the risk could be shown; nothing was sent")
    if not sys.stdin.isatty():
        raise UsageError(
            "without a terminal nothing can be confirmed, so nothing was sent. Having read the "
            f"above, pass --yes (-y) to confirm: {ctx.again_with('--yes')}"
        )
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def _may_have_spent(error: BaseException) -> bool:
    """Whether a failed GET may have spent one of SAT's downloads (as `sat download` counts:
    only a GET that never left, or a 401, surely did not)."""
    if isinstance(error, AuthenticationError):
        return False
    return not (
        isinstance(error, APIConnectionError)
        and not isinstance(
            error, DownloadInterruptedError | OutcomeUnknownError | IncompleteResponseError
        )
    )


def _make_durable(result: ExtractResult) -> None:
    """`extract_staged` does not fsync the files (the staged copy is the durable one): they
    are, before the staged copy is deleted, so a crash cannot leave torn files and no copy."""
    folders = set()
    for extracted in result.files:
        if extracted.written:
            with open(extracted.path, "rb+") as fh:
                os.fsync(fh.fileno())
            folders.add(extracted.path.parent)
    for folder in sorted(folders):
        fsync_dir(folder)


def run_package(args: argparse.Namespace, ctx: Context) -> int:
    package_id: str = args.package_id
    if not package_id.strip() or package_id in (".", ".."):
        raise UsageError(f"PACKAGE_ID must be a package id, got {package_id!r}")
    folder: Path = args.out
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder}: not a folder")
    staged = staged_path(folder, package_id)
    if _usable(staged):
        ctx.ui.out(
            f"Package {package_id} is already staged at {staged} (an earlier run stopped after "
            "it arrived): extracting it; nothing is downloaded."
        )
    else:
        ctx.ui.out(RISK.format(package=package_id, folder=folder))
        if not _confirm(ctx, f"Download package {package_id}?", yes=args.yes):
            ctx.ui.out("Not confirmed: nothing was sent.")
            return exitcodes.USAGE
        # A closed stdout (`... -y | head -1`) must not stop it once the GET may leave: a
        # spent download is staged and extracted.
        with ctx.ui.changing_state():
            _download(ctx, args, package_id, staged)
    with ctx.ui.changing_state():
        result = _extract(ctx, staged, folder)
    new = sum(f.written for f in result.files)
    ctx.ui.out(
        f"Package {package_id}: {len(result.files)} file{'s' if len(result.files) != 1 else ''}"
        f" in {result.dest_dir} ({new} new, {len(result.files) - new} already there)."
    )
    return exitcodes.OK


def _extract(ctx: Context, staged: Path, folder: Path) -> ExtractResult:
    """Extract the staged copy into `folder`, make the files durable, then delete the copy."""
    try:
        result = extract_staged(staged, folder, overwrite=False)
        _make_durable(result)
    except (PackageError, OSError):
        ctx.ui.err(
            f"The package stays staged at {staged}: once the cause below is fixed, the same "
            "command extracts it without downloading again."
        )
        raise
    with contextlib.suppress(FileNotFoundError):
        staged.unlink()
    with contextlib.suppress(OSError):
        staged.parent.rmdir()  # only when empty (another package may be staged there)
    return result


def _download(ctx: Context, args: argparse.Namespace, package_id: str, staged: Path) -> None:
    async def fetch() -> None:
        async with ctx.client(args) as client:
            await client.downloads.fetch_package_to(package_id, staged)

    # Made before the GET: a folder that cannot be made fails here, with nothing sent.
    staged.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_command(fetch())
    except GigstackError as error:
        code = error_sat_code(error)
        if code == 5008:
            ctx.ui.err(
                f"SAT 5008: package {package_id} was already downloaded twice (SAT's limit): "
                "no download of it is left. A new request for the period gives new packages "
                "(may be billed)."
            )
        elif code == 5007:
            ctx.ui.err(
                f"SAT 5007: package {package_id} no longer exists (SAT keeps packages 72 h). A "
                "new request for the period gives new packages (may be billed)."
            )
        elif isinstance(error, NotFoundError):
            # An answer that no such package exists: nothing was served.
            ctx.ui.err(
                f"No package {package_id} is known to gigstack (404): check the id (`{PROG} "
                "downloads status REQUEST_ID` lists a request's package ids)."
            )
        elif _may_have_spent(error):
            ctx.ui.err(_SPENT.format(package=package_id))
        raise
    except OSError:
        # The folder was made above: the failure came once the GET may have left (a disk
        # full while streaming, a temp file deleted by someone else).
        ctx.ui.err(_SPENT.format(package=package_id))
        raise
    finally:
        with contextlib.suppress(OSError):
            staged.parent.rmdir()  # only when empty: a failed GET leaves no empty folder


_SPENT = (
    "The download of package {package} may have been spent (it may have counted as one of "
    "SAT's 2: the request may have reached SAT); a second attempt may spend the last one."
)
