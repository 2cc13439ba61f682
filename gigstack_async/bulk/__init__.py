"""Bulk SAT downloads: plan a long period as monthly requests, drive each month's state machine.

`plan_months` splits a period into validated calendar-month requests; `machine` is each month's
life as pure transitions; `JournalStore` records every month's state on disk (SQLite, one
transaction per transition), so a crashed or cancelled run resumes without submitting (and
paying for) the same month twice.
"""

from gigstack_async.bulk.machine import MonthState, Stage
from gigstack_async.bulk.plan import DownloadPlan, MonthSlot, PlanCriteria, plan_months
from gigstack_async.bulk.store import (
    JournalCorruptError,
    JournalDamagedError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalStateError,
    JournalStore,
    StoreIdentity,
)

__all__ = [
    "DownloadPlan",
    "JournalCorruptError",
    "JournalDamagedError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalStateError",
    "JournalStore",
    "MonthSlot",
    "MonthState",
    "PlanCriteria",
    "Stage",
    "StoreIdentity",
    "plan_months",
]
