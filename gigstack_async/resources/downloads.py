"""`client.downloads`: Descarga Masiva SAT — setup, download requests and their packages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from gigstack_async import _validation as check
from gigstack_async._atomic import fsync_dir, temp_name
from gigstack_async._convert import unstructure
from gigstack_async._generated import operations as ops
from gigstack_async._generated.models import (
    ActivateEnvelope,
    ActivationStatus,
    ActivationStatusEnvelope,
    DownloadRequest,
    DownloadRequestCreated,
    DownloadRequestCreatedEnvelope,
    DownloadRequestInput,
    DownloadRequestStatus,
    DownloadRequestStatusEnvelope,
    Fiel,
    FielEnvelope,
    HistoryEnvelope,
    MessageEnvelope,
    ObjectEnvelope,
    Package,
    PackageEnvelope,
    RegisterInput,
    RequestType,
    RfcType,
    Schedule,
    ScheduleEnvelope,
    ScheduleInput,
    ScheduleSettings,
)
from gigstack_async._generated.resources.downloads import Downloads as GeneratedDownloads
from gigstack_async._package_stream import EnvelopeError, EnvelopeScanner
from gigstack_async._pipeline import MAX_RESPONSE_BYTES, Pipeline
from gigstack_async.bulk import watch as _watch
from gigstack_async.bulk.engine import BulkOptions
from gigstack_async.bulk.plan import DownloadPlan, plan_months
from gigstack_async.bulk.run import BulkDownload
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.errors import (
    APIResponseValidationError,
    DownloadInterruptedError,
    InvalidParameterError,
    status_error,
)
from gigstack_async.packages import (
    DEFAULT_LIMITS,
    ExtractResult,
    MemberInspector,
    PackageDecodeError,
    PackageLimits,
    PackageManifest,
    StagedPackage,
    decode_package,
    extract_package,
    verify_package,
    verify_staged,
)
from gigstack_async.transports.base import MultipartField

DEFAULT_JOURNAL = ".gigstack-journal.sqlite3"

# A FIEL .cer or .key is 1–2 KB; anything near this is not a FIEL file.
MAX_FIEL_FILE_BYTES = 64 * 1024

FileInput = bytes | bytearray | str | os.PathLike[str]


def _read_fiel_file(field: str, value: FileInput) -> bytes:
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            size = path.stat().st_size
            if size > MAX_FIEL_FILE_BYTES:
                raise InvalidParameterError(
                    field, f"{path} is {size} bytes; a FIEL file is at most a few KB", str(path)
                )
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidParameterError(
                field, f"cannot read {path}: {exc.strerror or exc}", str(path)
            ) from exc
    else:
        raise TypeError(f"{field}: expected bytes or a file path, got {type(value).__name__}")
    if not data:
        raise InvalidParameterError(field, "the file is empty")
    if len(data) > MAX_FIEL_FILE_BYTES:
        raise InvalidParameterError(field, f"{len(data)} bytes; a FIEL file is at most a few KB")
    if data.lstrip().startswith(b"-----BEGIN"):
        raise InvalidParameterError(field, "PEM text given; SAT's FIEL files are binary DER")
    if data[0] != 0x30:  # every DER certificate and PKCS#8 key is an ASN.1 SEQUENCE
        raise InvalidParameterError(field, "not a DER file (SAT .cer/.key)")
    return data


T = TypeVar("T")


def _current(field: str, value: T | None) -> T:
    """The value to send for a schedule field: the caller's, else the saved one, else an error."""
    if value is None:
        raise InvalidParameterError(
            field, "the current schedule has no value for it, so it must be given"
        )
    return value


def _open_staging(target: Path) -> tuple[Path, BinaryIO]:
    """Check `target` can take a file and make its folder; create the temp file beside it
    (its path, open for writing)."""
    if target.is_dir():
        raise InvalidParameterError("dest", f"{target} is a folder; give the ZIP's file path")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(temp_name(target.name))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    return tmp, open(fd, "wb")


def _seal(
    fh: BinaryIO,
    tmp: Path,
    target: Path,
    limits: PackageLimits,
    inspect: MemberInspector | None = None,
) -> tuple[PackageManifest, int]:
    """Make the streamed ZIP durable, verify it and rename it to `target` (durably): its
    manifest and size. Raises what `verify_staged` raises; the caller removes `tmp`."""
    with fh:
        fh.flush()
        os.fsync(fh.fileno())
    return verify_staged(tmp, limits, inspect=inspect), _promote(tmp, target)


def _promote(tmp: Path, target: Path) -> int:
    """Rename the verified temp file to `target`, durably; its size."""
    size = tmp.stat().st_size
    os.replace(tmp, target)
    fsync_dir(target.parent)
    return size


def _check_creatable(field: str, path: Path, *, folder: bool) -> None:
    """Raise `InvalidParameterError` before anything is sent when `path` can never be what
    `field` asks for: a folder (`folder`) that is an existing file, a file path that is an
    existing folder, or either under an existing file (newcomer 13 #9: `download_to=` a file
    raised a bare `FileExistsError` once the run began)."""
    if folder and path.exists() and not path.is_dir():
        raise InvalidParameterError(
            field, f"{path} is a file, not a folder; give a folder (created if missing)"
        )
    if not folder and path.is_dir():
        raise InvalidParameterError(field, f"{path} is a folder; give a file path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InvalidParameterError(
                    field, f"{path} cannot be created: {parent} is a file, not a folder"
                )
            break  # an existing folder: everything above it is a folder too


def _finish(scanner: EnvelopeScanner, path: str, status: int, received: int) -> Any:
    try:
        return scanner.close()
    except EnvelopeError as exc:
        if "ended before" in str(exc):
            raise DownloadInterruptedError(
                f"GET {path}: the body ended after {received} bytes, before its JSON was "
                "complete; the download may already count against SAT's limit of 2 downloads "
                "per package, so it was not retried",
                method="GET",
                path=path,
                served=True,
            ) from None
        raise APIResponseValidationError(f"GET {path}: {exc}", status=status) from None


def _check_envelope(envelope: Any, scanner: EnvelopeScanner, path: str, status: int) -> None:
    if isinstance(envelope, dict) and envelope.get("success") is False:
        raw = json.dumps(envelope).encode()
        raise status_error(status, raw, envelope, request_id=None)
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(data, dict) or not scanner.content_seen:
        raise APIResponseValidationError(
            f"GET {path}: the response has no data.content string (not a package)", status=status
        )
    encoding = data.get("encoding", "base64")
    if not isinstance(encoding, str) or encoding.lower() != "base64":
        raise PackageDecodeError(f"unsupported package encoding {encoding!r}; expected 'base64'")


class Downloads(GeneratedDownloads):
    """Descarga Masiva SAT: activate, upload the FIEL, request SAT downloads and fetch packages.

    Subclasses the generated class: the checks that need logic (DER files, the 71-month window,
    one calendar month per request), polling, bulk runs and package extraction live here.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(pipeline)

    # ------------------------------------------------------------------ setup

    async def activation_status(self) -> ActivationStatus:
        """Whether Descarga Masiva is active for the team, and its pricing."""
        envelope: ActivationStatusEnvelope = await self._pipeline.call(
            ops.GET_DOWNLOAD_ACTIVATION_STATUS
        )
        return envelope.data

    async def activate(self) -> ActivateEnvelope:
        """Activate Descarga Masiva (no extra charge when the status is `needs_activation`)."""
        response: ActivateEnvelope = await self._pipeline.call(ops.ACTIVATE_DOWNLOADS)
        return response

    async def deactivate(self) -> MessageEnvelope:
        """Stop scheduled downloads. Succeeds also when already inactive."""
        response: MessageEnvelope = await self._pipeline.call(ops.DEACTIVATE_DOWNLOADS)
        return response

    async def upload_fiel(
        self,
        *,
        cert: FileInput,
        key: FileInput,
        password: str,
        sync_start_date: date | str | None = None,
        phone: str | None = None,
    ) -> Fiel:
        """Upload the FIEL (e.firma) `.cer` and `.key` (bytes or file paths) and its password.

        With both `sync_start_date` (up to 71 months back) and `phone`, gigstack also registers
        the business with SAT. The password is sent to gigstack and nowhere else; it is never
        logged.
        """
        cert_bytes = _read_fiel_file("cert", cert)
        key_bytes = _read_fiel_file("key", key)
        check.non_empty_str("password", password)
        start = None
        if sync_start_date is not None:
            start = check.sync_start_date("sync_start_date", sync_start_date)
        binary = "application/octet-stream"
        parts = [
            MultipartField("cert", cert_bytes, filename="fiel.cer", content_type=binary),
            MultipartField("key", key_bytes, filename="fiel.key", content_type=binary),
            MultipartField("password", password),
        ]
        if start is not None:
            parts.append(MultipartField("sync_start_date", start.isoformat()))
        if phone is not None:
            parts.append(MultipartField("phone", check.phone("phone", phone)))
        envelope: FielEnvelope = await self._pipeline.call(ops.UPLOAD_FIEL, multipart=tuple(parts))
        return envelope.data

    async def register(
        self,
        *,
        phone: str,
        sync_start_date: date | str,
        legal_name: str | None = None,
        max_monthly_invoices: int | None = None,
    ) -> dict[str, Any]:
        """Register the business with SAT by hand (only when the automatic one failed)."""
        start = check.sync_start_date("sync_start_date", sync_start_date)
        body = RegisterInput(
            phone=check.phone("phone", phone),
            sync_start_date=start,
            legal_name=None
            if legal_name is None
            else check.non_empty_str("legal_name", legal_name),
            max_monthly_invoices=None
            if max_monthly_invoices is None
            else check.limit("max_monthly_invoices", max_monthly_invoices, 1, 10_000_000),
        )
        envelope: ObjectEnvelope = await self._pipeline.call(
            ops.REGISTER_DOWNLOADS, json_body=unstructure(body)
        )
        return envelope.data or {}

    async def schedule(self) -> Schedule:
        """The setup state (FIEL, registration) and the daily download schedule."""
        envelope: ScheduleEnvelope = await self._pipeline.call(ops.GET_DOWNLOAD_SCHEDULE)
        return envelope.data

    async def save_schedule(
        self,
        *,
        enabled: bool,
        time: str | None = None,
        download_types: list[RfcType | str] | None = None,
        days_back: int | None = None,
    ) -> dict[str, Any]:
        """Run downloads daily at `time` (HH:mm, Mexico City) over the last `days_back` days.

        ``PUT /invoices/download/schedule`` always carries all four documented fields, as
        gigstack's own client sends them. A field left as None keeps its current value: the
        current schedule is read first (one GET, only when something is missing), and if it
        has no value for that field either, InvalidParameterError asks for it — nothing is
        guessed. Every argument given is checked before anything is sent.
        """
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled: expected bool, got {type(enabled).__name__}")
        types: list[RfcType] | None = None
        if download_types is not None:
            types = [check.enum_value("download_types", t, RfcType) for t in download_types]
            if not types:
                raise InvalidParameterError("download_types", "must not be empty when given")
        when = None if time is None else check.schedule_time("time", time)
        days = None if days_back is None else check.days_back("days_back", days_back)
        if when is None or types is None or days is None:
            saved = (await self.schedule()).schedule or ScheduleSettings()
            when = _current("time", when if when is not None else saved.time)
            types = _current("download_types", types or saved.download_types or None)
            days = _current("days_back", days if days is not None else saved.days_back)
        body = ScheduleInput(enabled=enabled, time=when, download_types=types, days_back=days)
        envelope: ObjectEnvelope = await self._pipeline.call(
            ops.SAVE_DOWNLOAD_SCHEDULE, json_body=unstructure(body)
        )
        return envelope.data or {}

    async def enable_sync(self) -> dict[str, Any]:
        """The lower-level sync toggle; prefer `save_schedule(enabled=True, ...)`."""
        envelope: ObjectEnvelope = await self._pipeline.call(ops.ENABLE_DOWNLOAD_SYNC, json_body={})
        return envelope.data or {}

    async def debug(self) -> dict[str, Any]:
        """gigstack's diagnostics: FIEL, registration, schedule and SAT connectivity."""
        envelope: ObjectEnvelope = await self._pipeline.call(ops.DEBUG_DOWNLOADS)
        return envelope.data or {}

    # ------------------------------------------------------------------ requests

    async def create_request(
        self,
        *,
        start_date: date | str,
        end_date: date | str,
        rfc_type: RfcType | str,
        request_type: RequestType | str | None = RequestType.CFDI,
    ) -> DownloadRequestCreated:
        """Ask SAT (through gigstack) for the CFDIs of one period of at most one month.

        May charge money, so it is never retried automatically; a failure after sending raises
        OutcomeUnknownError — look in `history()` before submitting again. `duplicate` is True
        when an identical request already exists (its id is returned; nothing new was created).
        """
        if request_type is None:  # the generated signature's "not given": SAT's default, CFDI
            request_type = RequestType.CFDI
        valid = check.download_request(start_date, end_date, rfc_type, request_type)
        body = DownloadRequestInput(
            start_date=valid.start_date,
            end_date=valid.end_date,
            rfc_type=valid.rfc_type,
            request_type=valid.request_type,
        )
        envelope: DownloadRequestCreatedEnvelope = await self._pipeline.call(
            ops.CREATE_DOWNLOAD_REQUEST, json_body=unstructure(body)
        )
        return envelope.data

    async def history(self) -> list[DownloadRequest]:
        """The most recent 20 download requests, newest first."""
        envelope: HistoryEnvelope = await self._pipeline.call(ops.GET_DOWNLOAD_HISTORY)
        return list(envelope.data.history or [])

    async def status(self, request_id: str) -> DownloadRequestStatus:
        """SAT's status of one download request.

        gigstack does not document the format of request ids (NOT FOUND), so only an empty id,
        ``.`` or ``..`` is refused before sending; anything else goes to the server as one
        percent-encoded path segment.
        """
        envelope: DownloadRequestStatusEnvelope = await self._pipeline.call(
            ops.GET_DOWNLOAD_REQUEST_STATUS,
            path_params={"requestId": check.non_empty_str("request_id", request_id)},
        )
        return envelope.data

    async def package(self, package_id: str) -> Package:
        """A package of a completed request, as sent (`content` is the base64 ZIP).

        The package id format is NOT FOUND in gigstack's docs (SAT's own is
        ``<IdSolicitud>_<NN>``), so only an empty id, ``.`` or ``..`` is refused before sending.
        Never retried automatically (SAT serves a package at most twice); a body that breaks off
        raises `DownloadInterruptedError`. For large packages prefer `fetch_package_to`.
        """
        envelope: PackageEnvelope = await self._pipeline.call(
            ops.DOWNLOAD_PACKAGE,
            path_params={"packageId": check.non_empty_str("package_id", package_id)},
        )
        return envelope.data

    async def fetch_package(self, package_id: str, *, limits: PackageLimits | None = None) -> bytes:
        """A package's ZIP, decoded and verified (names, links, sizes, ratio, every CRC).

        Iterate it in memory with `gigstack_async.packages.iter_package(data)`, or use
        `extract_package` to write it to a folder. Raises a PackageError subclass on a bad one.
        Holds about 4x the ZIP's size in memory at its peak; `fetch_package_to` streams instead.
        Never retried automatically (see `package`).
        """
        package = await self.package(package_id)
        data = decode_package(package.content, encoding=package.encoding)
        await asyncio.to_thread(verify_package, data, limits or DEFAULT_LIMITS)
        return data

    async def fetch_package_to(
        self,
        package_id: str,
        dest: str | os.PathLike[str],
        *,
        limits: PackageLimits | None = None,
        on_received: Callable[[], object] | None = None,
        inspect: MemberInspector | None = None,
    ) -> StagedPackage:
        """Stream a package's ZIP to `dest`, durably, and verify it; memory stays bounded.

        The JSON envelope is decoded as it arrives (base64 straight to disk): peak memory is a
        few 64 KiB chunks, not the package (`make bench` measures it). The ZIP goes to a hidden
        temp file beside `dest`, is fsynced, verified (every check of `verify_package`: names,
        links, sizes, ratio, every CRC) and only then renamed to `dest` (and the folder
        fsynced). So `dest` holds a complete, verified package or nothing new; an existing
        `dest` is replaced only by a good package. Extract it with `packages.extract_staged`.

        `on_received`, if given, is called once the whole response has arrived, before the
        fsyncs and the verification: the HTTP exchange is over then, so a caller bounding its
        concurrent requests can let the next one start (it is not called if the body fails).

        `inspect`, if given, reads each member in the verifying pass (`verify_staged`'s
        `inspect`: `inspect(name, chunks)`): a caller that looks inside the package (as
        `bulk()` checks the CFDIs' dates and RFCs) need not inflate it again.

        SAT serves a package at most twice (5008 after that) and for 72 h (5007). Each call may
        spend one of those downloads, so it is never retried automatically: a body that breaks
        off, even a truncated 200, raises `DownloadInterruptedError`. Other errors:
        `APIStatusError` subclasses (e.g. `NotFoundError` for 5007, `BadRequestError` for
        5008), `PackageError` subclasses for a package that fails verification,
        `APIResponseValidationError` for a body that is not a package envelope, `OSError`
        from the filesystem (disk full). In every failure no temp file is left behind.
        Docs: https://docs.gigstack.io/ (Descarga Masiva, "Download XML package").

        ```python
        staged = await client.downloads.fetch_package_to(pid, Path(f"stage/{pid}.zip"))
        print(staged.size, staged.sha256)
        ```
        """
        checked_id = check.non_empty_str("package_id", package_id)
        target = Path(dest)
        # Checked before anything is sent: a folder we cannot use must not cost a download.
        tmp, fh = await asyncio.to_thread(_open_staging, target)
        try:
            with fh:  # closed here if the body fails; `_seal` closes it once it is on disk
                await self._stream_package(checked_id, fh, on_received)
                # One trip to a worker thread for the fsync, the verification and the rename,
                # not one each: each trip waits for a free worker and then for the event loop,
                # behind the extractions of the packages that arrived first.
                manifest, size = await asyncio.to_thread(
                    _seal, fh, tmp, target, limits or DEFAULT_LIMITS, inspect
                )
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return StagedPackage(target, size, manifest.sha256)

    async def _stream_package(
        self, package_id: str, fh: BinaryIO, on_received: Callable[[], object] | None = None
    ) -> None:
        op = ops.DOWNLOAD_PACKAGE
        decoded: list[bytes] = []
        scanner = EnvelopeScanner(decoded.append)
        async with self._pipeline.stream(op, path_params={"packageId": package_id}) as body:
            received = 0
            async for chunk in body.chunks():
                received += len(chunk)
                if received > MAX_RESPONSE_BYTES:
                    raise APIResponseValidationError(
                        f"{op.method} {op.path}: the package response exceeds "
                        f"{MAX_RESPONSE_BYTES} bytes",
                        status=body.status,
                    )
                scanner.feed(chunk)
                if decoded:  # one chunk's worth at a time: memory stays bounded
                    await asyncio.to_thread(fh.writelines, decoded)
                    decoded.clear()
            envelope = _finish(scanner, op.path, body.status, received)
        _check_envelope(envelope, scanner, op.path, body.status)
        if on_received is not None:
            on_received()

    async def extract_package(
        self,
        package_id: str,
        dest_dir: str | os.PathLike[str],
        *,
        limits: PackageLimits | None = None,
    ) -> ExtractResult:
        """Download, verify and extract a package into `dest_dir`: nothing outside it, no partial
        file (each is written to a temp name and renamed), nothing at all if the package is bad.
        """
        package = await self.package(package_id)
        data = decode_package(package.content, encoding=package.encoding)
        return await asyncio.to_thread(extract_package, data, dest_dir, limits or DEFAULT_LIMITS)

    # ------------------------------------------------------------------ polling

    def watch(
        self,
        request_id: str,
        *,
        poll: PollSchedule | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[DownloadRequest]:
        """Yield the request's record now and on each state change, until completed, failed or
        expired. Past `timeout` seconds, DownloadWatchTimeout carries the last known state.

        ```python
        async for update in client.downloads.watch(created.request_id):
            print(update.status, update.invoice_count)
        ```
        """
        check.non_empty_str("request_id", request_id)
        if timeout is not None:
            timeout = check.positive_seconds("timeout", timeout)
        return _watch.watch(self, request_id, poll=poll, timeout=timeout)

    async def wait(
        self,
        request_id: str,
        *,
        poll: PollSchedule | None = None,
        timeout: float | None = None,
    ) -> DownloadRequest:
        """Poll until the request is completed, failed or expired; return its final record."""
        final: DownloadRequest | None = None
        async for update in self.watch(request_id, poll=poll, timeout=timeout):
            final = update
        assert final is not None  # watch() yields at least once before returning
        return final

    # ------------------------------------------------------------------ bulk

    def plan(
        self,
        start: date | str,
        end: date | str,
        *,
        rfc_type: RfcType | str,
        request_type: RequestType | str = RequestType.CFDI,
    ) -> DownloadPlan:
        """Split a period into the calendar-month requests SAT accepts (Mexico City dates).

        `"2024-01"` as `start` means Jan 1; as `end`, Jan 31. Validated now: a period that no
        request could cover raises InvalidParameterError before anything is sent.

        ```python
        print(client.downloads.plan("2024-01", "2024-03", rfc_type="received"))
        ```
        """
        return plan_months(start, end, rfc_type=rfc_type, request_type=request_type)

    def bulk(
        self,
        start: date | str,
        end: date | str,
        *,
        rfc_type: RfcType | str,
        request_type: RequestType | str = RequestType.CFDI,
        concurrency: int = 4,
        journal: str | os.PathLike[str] | bool | None = None,
        download_to: str | os.PathLike[str] | None = None,
        poll: PollSchedule | None = None,
        timeout: float | None = None,
        package_limits: PackageLimits | None = None,
        allow_duplicates: bool = False,
    ) -> BulkDownload:
        """Download a long period as concurrent monthly requests; see `BulkDownload`.

        - `concurrency`: create requests and package downloads in flight at once.
        - `download_to`: extract each completed month's packages into `<download_to>/<YYYY-MM>/`.
        - `journal`: the file that makes the run resumable and money-safe across crashes. By
          default `<download_to>/.gigstack-journal.sqlite3` (so running the same call again
          resumes); a path to put it elsewhere; False (or no `download_to`) keeps it only for
          this run.
        - `poll`: how often to poll (one history call per tick for all months).
        - `timeout`: stop after this many seconds: from then on nothing new is sent (no
          create, no package GET, even one queued for a `concurrency` slot or for the client's
          `max_in_flight`, and no retry of any call); calls already on their way are answered
          and journaled, and every month still gets its `MonthResult`
          (one not requested stays `planned`: nothing billed). The journal keeps the state.
        - `allow_duplicates`: also send a month whose exact request (dates, `rfc_type`,
          `request_type`) the account's history already lists under an id this journal did not
          send (another folder's run, most likely). False (the default) holds such a month: it
          is not sent, and its `MonthResult` (stage `held`) names the request and the ways
          forward (`journal adopt`, the other folder). A new request may be billed, and SAT
          accepts only 2 with identical criteria. `await run.identical_requests()` lists them
          before anything is sent. The history lists only the newest requests (20): the months
          it does not reach back to cannot be held, and are named in `run.history_reach`
          (`.unchecked`, `.warning`) and one WARNING log line before they are sent.

        A create whose answer was lost (a 5xx, a 429, a dropped connection) is never sent
        again on the SDK's own judgement: it is adopted when the history lists it, and
        otherwise the month needs attention (look it up in gigstack's dashboard, then
        `journal adopt`, or `journal resend`). A history that does not list a request never
        proves it absent.

        Raises (from the iterator, or from `async with run:`), the rule in `bulk.stops`:
        `AuthenticationError` / `PermissionDeniedError` as soon as any call of the run is
        answered 401, or the history or a create 403 (a wrong, revoked or rotated key, or a
        `team` it may not act on; a 403 on one request's status or package fails that month):
        nothing more is sent, what the months reached is journaled, and the same call with the
        right key resumes them (a journal this run created with nothing recorded in it is
        deleted, so it does not bind the folder to the wrong key). `APIConnectionError`
        (`APITimeoutError`) when the server never answered any call of the run, after the
        client's own retries (`max_retries`): a wrong base URL, most often; nothing was
        requested. Once the server has answered, failures are transient: the months keep
        their state, `MonthWarning` events say what keeps failing, and a re-run resumes. Also
        `JournalError` subclasses (locked, damaged, another identity) before anything is sent.
        The API key never appears in an error's text.
        """
        if not isinstance(allow_duplicates, bool):
            raise InvalidParameterError(
                "allow_duplicates", "must be True or False", allow_duplicates
            )
        plan = self.plan(start, end, rfc_type=rfc_type, request_type=request_type)
        check.limit("concurrency", concurrency, 1, 64)
        if timeout is not None:
            timeout = check.positive_seconds("timeout", timeout)
        if download_to is not None:
            _check_creatable("download_to", Path(download_to), folder=True)
        if journal is not None and not isinstance(journal, bool):
            _check_creatable("journal", Path(journal), folder=False)
        options = BulkOptions(
            concurrency=concurrency,
            poll=poll or PollSchedule(),
            timeout=timeout,
            download_to=None if download_to is None else Path(download_to),
            package_limits=package_limits or DEFAULT_LIMITS,
            allow_duplicates=allow_duplicates,
        )
        if journal is None and download_to is not None:
            journal_path: str | os.PathLike[str] | None = Path(download_to) / DEFAULT_JOURNAL
        elif isinstance(journal, bool):
            if journal:
                raise InvalidParameterError("journal", "True is not a path; give a file path")
            journal_path = None
        else:
            journal_path = journal
        return BulkDownload(self, plan, journal=journal_path, options=options)

    async def invoice_from_sat(self, uuid: str) -> dict[str, Any]:
        """One CFDI fetched from SAT by UUID. May charge a credit: never retried automatically."""
        envelope: ObjectEnvelope = await self._pipeline.call(
            ops.GET_SAT_INVOICE_FROM_SAT,
            path_params={"uuid": check.cfdi_uuid_as_given("uuid", uuid)},
        )
        return envelope.data or {}
