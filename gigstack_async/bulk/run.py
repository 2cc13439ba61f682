"""`client.downloads.bulk(...)`: the handle a caller iterates, inspects and closes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import tempfile
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.duplicates import PriorRequest, holding, prior_requests
from gigstack_async.bulk.engine import (
    BulkOptions,
    hold_unrecorded,
    initial_state,
    run_bulk,
    seen_from_history,
)
from gigstack_async.bulk.events import BulkEvent, MonthFailed, MonthResult
from gigstack_async.bulk.hints import shell_quote, with_journal
from gigstack_async.bulk.plan import DownloadPlan, MonthSlot
from gigstack_async.bulk.reach import HistoryReach, history_reach
from gigstack_async.bulk.store import (
    JournalCorruptError,
    JournalMismatchError,
    JournalStore,
    StoreIdentity,
    canonical_base_url,
    holds_no_journal,
    refuse_emptied,
)
from gigstack_async.errors import GigstackError

DEFAULT_JOURNAL = ".gigstack-journal.sqlite3"
LEGACY_JOURNAL = ".gigstack-journal.json"

if TYPE_CHECKING:
    from gigstack_async._pipeline import Pipeline
    from gigstack_async.resources.downloads import Downloads


def _untouched(store: JournalStore) -> bool:
    """Every month of the journal still planned, with no request id and no hold: nothing a
    later run could miss if the journal were gone."""
    return all(
        state.stage is m.Stage.PLANNED and not state.known_ids and not state.held_for
        for state in store.states()
    )


def journal_identity(pipeline: Pipeline, rfc_type: str, request_type: str) -> StoreIdentity:
    """The identity a client's runs record in (and check against) a journal."""
    return StoreIdentity(
        team=pipeline.team,
        base_url=canonical_base_url(pipeline.base_url),
        key_fingerprint=pipeline.key_fingerprint(),
        rfc=None,
        rfc_type=rfc_type,
        request_type=request_type,
        home_team=pipeline.key_home_team(),
    )


class BulkDownload:
    """A planned bulk download. Nothing is sent until you iterate it.

    ```python
    run = client.downloads.bulk("2024-01", "2024-12", rfc_type="received", download_to="cfdi")
    print(run.plan)                      # one line per month, before anything is submitted
    async with run:                      # breaking out of the loop cancels cleanly
        async for event in run:
            print(event)
    ```

    Events: `Submitted`, `StateChanged`, `PackageDownloaded`, `MonthWarning`, `MonthFailed` and,
    once per month, `MonthResult`. With `journal=` a crashed or interrupted run continues where
    it stopped when started again with the same arguments, and never submits a month twice.
    Only the months of `plan` are driven, even if the journal holds others. A month whose
    exact request the account already has (another folder's run: `await
    run.identical_requests()` lists them) is held, not sent, unless `allow_duplicates=True`.
    """

    def __init__(
        self,
        downloads: Downloads,
        plan: DownloadPlan,
        *,
        journal: str | os.PathLike[str] | None,
        options: BulkOptions,
    ) -> None:
        self._downloads = downloads
        self.plan = plan
        self.journal_path = None if journal is None else Path(journal)
        self._options = options
        self._iterated = False
        self._iterator: weakref.ref[_Events] | None = None
        self._held: _Held | None = None
        self.history_reach: HistoryReach | None = None
        """How far back the account's history reached when last read (by
        `identical_requests()`, or by the run before its first create): `unchecked` names the
        months to send that an identical request made before that could still exist for (a
        WARNING is logged when the run sends one); None until read. See `bulk.reach`."""
        self.texts_for = "python"
        """Who reads the errors and hints: "python" (`download_to=` and "the same `bulk()`
        call") or "cli" (the CLI sets it: `--out` and "the same command")."""

    def __repr__(self) -> str:
        # What tells runs apart in a log (newcomer 9j F5); never the API key, nor anything of
        # the client it came from.
        criteria = self.plan.criteria
        return (
            f"<BulkDownload {self.plan.start_date}..{self.plan.end_date} "
            f"rfc_type={criteria.rfc_type.value!r} request_type={criteria.request_type.value!r} "
            f"months={len(self.plan.slots)} download_to={_shown(self._options.download_to)} "
            f"journal={_shown(self.journal_path)}>"
        )

    @property
    def identity(self) -> StoreIdentity:
        """Who the journal belongs to: team, base URL, key fingerprint (never the key), kind."""
        return journal_identity(
            self._downloads._pipeline,
            self.plan.criteria.rfc_type.value,
            self.plan.criteria.request_type.value,
        )

    @property
    def journal_argument(self) -> str | None:
        """What `gigstack-async journal ...` takes to open this run's journal: the download
        folder when the journal is its default file, else the journal's path; None without a
        journal file."""
        if self.journal_path is None:
            return None
        folder = self._options.download_to
        if folder is not None and self.journal_path == folder / DEFAULT_JOURNAL:
            return str(folder)
        return str(self.journal_path)

    def _rendered(self, event: BulkEvent) -> BulkEvent:
        # The machine's hints name no folder; the user types what is shown (see bulk.hints).
        journal = self.journal_argument
        folder = self._options.download_to
        out = None if folder is None else str(folder)

        def render(text: str | None) -> str | None:
            shown = with_journal(text, event.key, journal, out=out)
            if self.texts_for == "cli":
                return shown
            return _for_python(shown, self._downloads._pipeline.team)

        if isinstance(event, MonthResult):
            return attrs.evolve(event, error=render(event.error), hint=render(event.hint))
        if isinstance(event, MonthFailed):
            return attrs.evolve(event, error=render(event.error) or "", hint=render(event.hint))
        return event

    @contextlib.contextmanager
    def _error_texts(self) -> Iterator[None]:
        """A JournalMismatchError's text names `download_to=` for a Python caller, `--out` for
        the CLI's (newcomer 9h #9: Python read "Use another --out folder")."""
        try:
            yield
        except JournalMismatchError as error:
            if self.texts_for != "cli":
                error.args = tuple(
                    _journal_for_python(a) if isinstance(a, str) else a for a in error.args
                )
            raise

    def check_journal(self) -> None:
        """Open the journal now and release it: a corrupt file, another run's journal or one in
        use by another process raises its JournalError here, before anything is sent."""
        with self._error_texts():
            self._check_journal()

    def _check_journal(self) -> None:
        if self.journal_path is None:
            return
        legacy = self.journal_path.with_name(LEGACY_JOURNAL)
        if self.journal_path.name == DEFAULT_JOURNAL and legacy.exists():
            raise JournalCorruptError(
                f"{legacy} is the JSON journal of an older gigstack-async; this version keeps "
                f"its journal in {self.journal_path.name}. Move the old file aside and attach "
                'each request it lists (its "request_id" fields, by month) without sending '
                "anything: `gigstack-async journal adopt "
                f"{shell_quote(str(self.journal_path.parent))} YYYY-MM REQUEST_ID --rfc-type "
                f"{self.plan.criteria.rfc_type.value} --type "
                f"{self.plan.criteria.request_type.value}` (the first one creates the new "
                "journal); then run the same command again. Or start over, knowing that months "
                "it recorded as submitted may be requested, and billed, again."
            )
        if self._has_journal():
            with JournalStore.open(
                self.journal_path, self.identity, download_to=self._options.download_to
            ) as store:
                store.bind_download_to(self._options.download_to, record=False)

    def _recorded(self) -> dict[str, m.MonthState]:
        """Every month the journal records, by key (empty without a journal); reads only.
        Raises the journal's `JournalError`s, worded for this caller (`_error_texts`)."""
        if self.journal_path is None or not self._has_journal():
            return {}
        with (
            self._error_texts(),
            JournalStore.open(
                self.journal_path, self.identity, download_to=self._options.download_to
            ) as store,
        ):
            return {state.key: state for state in store.states()}

    def _has_journal(self) -> bool:
        """Whether `journal_path` holds a journal to read. A file there without the journal's
        tables (0 bytes, say) was emptied after a run created it (journals are renamed into
        place complete): it raises JournalDamagedError (see `store.refuse_emptied`)."""
        if self.journal_path is None or not self.journal_path.exists():
            return False
        if holds_no_journal(self.journal_path):
            refuse_emptied(self.journal_path, self.identity, self._options.download_to)
        return True

    def may_create(self) -> list[str]:
        """The months of `plan` this run may send a create request for (each may be billed):
        every month without a journal, else those the journal has sent nothing for yet,
        refused before billing, allowed a resend (never one whose last create's outcome is
        unknown: the user decides, `journal resend`), or that SAT refused with 5002/5003
        and the plan now asks with other dates; never dates SAT refused with 5002, nor days
        the month's folder already holds (`machine.plan_decision`, the rule the run follows).
        Reads the journal (raises its JournalError like `check_journal`); sends nothing."""
        recorded = self._recorded()
        return [
            slot.key
            for slot in self.plan
            if slot.key not in recorded
            or m.plan_decision(recorded[slot.key], slot.start_date, slot.end_date).create
            is not m.PlanCreate.NO
        ]

    def journal_holds(self) -> list[str]:
        """The months of `may_create` the journal records held for an identical request the
        account already has (`machine.hold`): a run without `allow_duplicates` never sends
        them, listed in the history or not (`duplicates.holding`, the engine's rule), so they
        are never billed by it (newcomer 9i F10: a cron run whose only unsent months were held
        was refused "may submit up to 3 ... billed"). Empty with `allow_duplicates=True` (it
        may send them). Reads the journal only; sends nothing."""
        if self._options.allow_duplicates:
            return []
        recorded = self._recorded()
        found = []
        for slot in self.plan:
            state = recorded.get(slot.key)
            if state is None:
                continue
            decided = m.plan_decision(state, slot.start_date, slot.end_date).create
            if decided is m.PlanCreate.YES and holding(_probe(slot, state), ()):
                found.append(slot.key)
        return found

    async def identical_requests(
        self, *, untyped: bool = False
    ) -> dict[str, tuple[PriorRequest, ...]]:
        """The plan's months still to be sent whose exact request (dates, `rfc_type`,
        `request_type`, each reported) the account's history already lists under an id that
        is not the month's own request (another month's id, one the month released, or an id
        the server reused count): most likely another folder's download of the same period. One
        history call (`GET /schedule/history`, free); nothing is sent or recorded.

        Returns {month: requests}, only months with at least one. Unless the run was made with
        `allow_duplicates=True`, these months are held when the run reaches them (their
        `MonthResult.stage` is `held`). Only the requests the history lists are seen (the
        newest 20, per the docs): `history_reach` is set to what this read could check, its
        `unchecked` the months to send an earlier request of may have left the history.
        `untyped`: also list entries with the month's dates and `rfc_type` that do not report
        their `requestType` (`PriorRequest.typed` False: perhaps another kind of request;
        never held for). Raises what `downloads.history()` raises,
        and the journal's `JournalError`s.
        """
        history = await self._downloads.history()
        entries = tuple(seen_from_history(entry) for entry in history)
        recorded = self._recorded()
        found: dict[str, tuple[PriorRequest, ...]] = {}
        to_send: list[tuple[str, date]] = []
        for slot in self.plan:
            state = recorded.get(slot.key)
            if (
                state is not None
                and m.plan_decision(state, slot.start_date, slot.end_date).create
                is not m.PlanCreate.YES
            ):
                # Not sent by this plan (an unknown create's month waits for the user: the
                # history may list that very create, never called another folder's request).
                continue
            probe = initial_state(slot) if state is None else _probe(slot, state)
            # The engine's rule (`holding`): a month it holds is not sent.
            held = holding(probe, entries)
            priors = prior_requests(probe, entries, untyped=untyped)
            if probe.identical_allowed:
                priors = tuple(p for p in priors if not p.typed)  # the user allowed it
            if priors:
                found[slot.key] = priors
            if not held:
                to_send.append((slot.key, slot.start_date))
        journal_ids = (i for state in recorded.values() for i in state.known_ids)
        known = {key: state.known_ids for key, state in recorded.items()}
        resent = (key for key, state in recorded.items() if state.resend_for is not None)
        self.history_reach = history_reach(
            entries, to_send, journal_ids=journal_ids, recorded=known, resent=resent
        )
        return found

    def __aiter__(self) -> AsyncIterator[BulkEvent]:
        if self._iterated:
            raise RuntimeError("a BulkDownload can be iterated once")
        self._iterated = True
        held = None if self.journal_path is None else _Held(str(self.journal_path.resolve()))
        self._held = held
        iterator = _Events(self._events(held), held)
        # Only a weak reference: when the consumer leaves `async for` (break, exception) the
        # iterator is dropped at once and stops the run (see `_Events.__del__`).
        self._iterator = weakref.ref(iterator)
        return iterator

    async def _events(self, held: _Held | None) -> AsyncGenerator[BulkEvent, None]:
        if held is not None:
            previous = _HELD.get(held.path)
            if previous is not None and previous.abandoned:
                # A run of this process whose consumer left is still stopping: wait for it to
                # release the journal instead of reporting the journal as locked.
                await previous.released.wait()
        self.check_journal()
        with tempfile.TemporaryDirectory(prefix="gigstack-bulk-") as scratch:
            # Without a journal file the run still keeps one, in a scratch folder, so that both
            # paths share one well-tested implementation.
            path = self.journal_path or Path(scratch) / DEFAULT_JOURNAL
            fresh = not path.exists()
            with JournalStore.open(
                path, self.identity, download_to=self._options.download_to
            ) as store:
                store.bind_download_to(self._options.download_to)
                if self.journal_path is not None:
                    # Without a journal file (journal=False) nothing was recorded to lose. The
                    # folder's files tell only for the folder's own journal: a journal kept
                    # elsewhere (journal=) may share its folder with another journal's months.
                    folder = self._options.download_to
                    own = folder is not None and self.journal_path == folder / DEFAULT_JOURNAL
                    hold_unrecorded(store, self.plan, folder if own else None)
                if held is not None:
                    _HELD[held.path] = held
                try:
                    # aclosing: the engine must finish cancelling before the journal closes.
                    events = run_bulk(
                        self._downloads, store, self.plan, self._options, self._heard_reach
                    )
                    async with contextlib.aclosing(events):
                        async for event in events:
                            yield self._rendered(event)
                except GigstackError:
                    # Stopped by a refused key or an unreachable server (`bulk.stops`) before
                    # anything was recorded: a journal this run created keeps nothing of value,
                    # and kept, it would bind the folder to the wrong key.
                    if fresh and _untouched(store):
                        store.forget()
                    raise
                finally:
                    if held is not None:
                        store.close()
                        held.released.set()
                        if _HELD.get(held.path) is held:
                            del _HELD[held.path]

    def _heard_reach(self, reach: HistoryReach) -> None:
        self.history_reach = reach

    async def aclose(self) -> None:
        """Stop the run: cancel in-flight work, release the journal. Safe to call twice."""
        iterator = None if self._iterator is None else self._iterator()
        if iterator is not None:
            await iterator.aclose()
        elif self._held is not None and self._held.path in _HELD:
            await self._held.released.wait()  # stopping after its consumer left

    async def __aenter__(self) -> BulkDownload:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


# A later start for the range (`machine._window_hint`), as the CLI writes it.
_NEXT_START = re.compile(r"\(`--from (\d{4}-\d{2}(?:-\d{2})?)` in the same command\)")
_SAME_COMMAND = re.compile(r"\b([Rr])un the same command again")
# A part of a month to download (`machine.split_commands`), as the CLI writes it.
_SAT_DOWNLOAD = re.compile(
    r"`gigstack-async sat download --from (?P<start>\S+) --to (?P<end>\S+) --rfc-type "
    r"(?P<rfc>\S+)(?: --type (?P<type>\S+))? --out (?P<out>[^`]+?)(?P<dup> --allow-duplicates)?`"
)


def _shown(path: Path | None) -> str:
    return "None" if path is None else repr(str(path))


def _probe(slot: MonthSlot, state: m.MonthState) -> m.MonthState:
    """Month `slot` as a plan sending it takes it up, for the identical-request rule
    (`duplicates.holding`): the plan's dates (a month to send takes them), what the journal
    recorded of the month's own requests (only those are not counted, `own_request`) and its
    holds (`held_for`, `holds`) for the dates they were recorded with: an earlier run held it
    for them, listed in this history or not (newcomer 9g #1), kept while a plan asked for other
    dates (review 9m #2)."""
    same = (state.start, state.end) == (slot.start_date, slot.end_date)
    return attrs.evolve(
        initial_state(slot),
        known_ids=state.known_ids,
        records=state.records,
        released=state.released,
        held_for=state.held_for if same else (),
        holds=tuple(dict.fromkeys(m.held_records(state) + state.holds)),
        identical_allowed=state.identical_allowed and same,
    )


def _as_bulk_call(found: re.Match[str], team: str | None = None) -> str:
    """A `sat download` of a hint as the `bulk()` call that does the same, on a client of the
    run's `team` (newcomer 9k #2: the team is the client's, never a `bulk()` argument)."""
    try:  # the folder as the shell would read it (`hints.shell_quote` quoted it)
        (folder,) = shlex.split(found.group("out"))
    except ValueError:
        folder = found.group("out")
    kind = f", request_type={found.group('type')!r}" if found.group("type") else ""
    client = "client" if team is None else f"client.with_options(team={team!r})"
    return (
        f"`{client}.downloads.bulk({found.group('start')!r}, {found.group('end')!r}, "
        f"rfc_type={found.group('rfc')!r}{kind}, download_to={folder!r}"
        + (", allow_duplicates=True" if found.group("dup") else "")
        + ")`"
    )


def _journal_for_python(text: str) -> str:
    """A journal error's text (`store.mismatch_message`, which speaks to both) for a Python
    caller: the `bulk()` arguments, not the CLI options."""
    for cli, python in (
        ("another --out folder (download_to)", "another download_to= folder"),
        ("Run with download_to (--out)", "Run with download_to="),
        ("(another --journal file)", "(another journal= file)"),
        ("(or --journal file)", "(or journal= file)"),
    ):
        text = text.replace(cli, python)
    return text


def _same_client(team: str | None) -> str:
    """Which client a printed `bulk()` call runs on: the run's team is the client's
    (`GigstackClient(team=)`, `with_options(team=)`), never an argument of `bulk()` (newcomer
    9k #2: a part copied onto the base client billed the key's home team)."""
    if team is None:
        return "on a client with no team= set, as this run's (the API key's own team)"
    return f"on a client with team={team!r}, as this run's"


def _for_python(text: str | None, team: str | None = None) -> str | None:
    """A text of the machine or engine, which speak to the CLI user, for a Python caller whose
    run is for `team` (the client's; None: the API key's own)."""
    if text is None:
        return None
    text = text.replace("its own --out folder", "its own download_to= folder")
    # Newcomer 10 F4: "Run `sat download` ... each range into another --out folder (e.g.
    # `client.downloads.bulk(...)`" in a `bulk()` text (`machine._other_dates_way`).
    text = text.replace(
        "Run `sat download` for this month with other dates instead, each range into another "
        "--out folder",
        "Run `bulk()` for this month with other dates instead, each range into another "
        "download_to= folder",
    )
    text = _SAT_DOWNLOAD.sub(lambda found: _as_bulk_call(found, team), text)
    text = text.replace(
        "with the other options you ran with, e.g. --team",
        f"{_same_client(team)}, with the other arguments of your bulk() call",
    )
    text = text.replace("with --allow-duplicates", "with allow_duplicates=True")
    text = _NEXT_START.sub(r'(start="\1" in the same bulk() call)', text)
    return _SAME_COMMAND.sub(r"\1un the same bulk() call again", text)


class _Held:
    """A journal this process holds for a run (see `BulkDownload._events`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.released = asyncio.Event()
        self.abandoned = False


_HELD: dict[str, _Held] = {}
_CLOSING: set[asyncio.Task[None]] = set()


class _Events:
    """The iterator `async for event in bulk` uses. When the consumer leaves the loop without
    `async with` (break, an exception) it is dropped, and `__del__` stops the run: the engine
    is cancelled (nothing new is sent or billed) and the journal released."""

    def __init__(self, events: AsyncGenerator[BulkEvent, None], held: _Held | None) -> None:
        self._events = events
        self._held = held
        self._closed = False

    def __aiter__(self) -> _Events:
        return self

    async def __anext__(self) -> BulkEvent:
        try:
            return await self._events.__anext__()
        except StopAsyncIteration:
            self._closed = True
            raise

    async def aclose(self) -> None:
        self._closed = True
        await self._events.aclose()

    def __del__(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._held is not None:
            self._held.abandoned = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the generator's own finalizer (asyncio's asyncgen hooks) closes it
        task = loop.create_task(self._events.aclose())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)
